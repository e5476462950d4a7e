//! `jailsmith mount` / `jailsmith umount`: apply or remove a jail's declared binds (from the
//! state), and optionally write systemd `.mount` units for them.

use std::path::{Path, PathBuf};

use crate::apply::LinuxHost;
use crate::apply::rootfile::{self, Durability};
use crate::exit::{self, Coded};
use crate::mounts::apply::{
    Done, MountError, mount_all, mount_devpts, mount_log, mount_proc, umount_all,
};
use crate::mounts::unit::{devpts_unit_text, proc_unit_text, unit_name, unit_text};
use crate::service::systemctl;
use crate::state::{self, DEFAULT_STATE_DIR, JailState};

/// Mount a jail's declared binds (idempotent).
///
/// Each bind recorded by `build --bind SRC:DST[:ro|rw]` is bind-mounted without MS_REC and
/// then remounted nosuid,nodev and read-only unless declared rw. The target directory is
/// created root-owned 0755 inside the jail without following symlinks, and the mount is made
/// through a descriptor. A source a non-root user can write is refused unless declared rw.
/// A jail built with `--proc` also gets a private procfs at /proc
/// (hidepid=invisible,subset=pid, nosuid,nodev,noexec).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  jailsmith mount /srv/get_chrooted\n  jailsmith mount /srv/get_chrooted --systemd-unit-dir /etc/systemd/system"
)]
pub struct MountArgs {
    /// The jail's root directory.
    #[arg(value_name = "JAIL")]
    pub jail: PathBuf,
    /// Also write one systemd .mount unit per bind into DIR (named like systemd-escape
    /// --path: /srv/jail/data → srv-jail-data.mount) and enable them, so the binds come back
    /// at boot (where systemd runs and DIR is /etc/systemd/system; else the systemctl
    /// commands to run are printed).
    #[arg(long, value_name = "DIR")]
    pub systemd_unit_dir: Option<PathBuf>,
    /// Where jailsmith keeps the state of each jail.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
}

/// Unmount a jail's declared binds (and its own /proc, when built with --proc).
#[derive(Debug, clap::Args)]
pub struct UmountArgs {
    /// The jail's root directory.
    #[arg(value_name = "JAIL")]
    pub jail: PathBuf,
    /// Where jailsmith keeps the state of each jail.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
}

pub(crate) fn load_state(state_dir: &Path, jail: &Path) -> anyhow::Result<JailState> {
    state::load_existing(state_dir, jail)
}

pub(crate) fn coded(e: MountError) -> anyhow::Error {
    Coded::new(e.exit_code(), e.to_string()).into()
}

/// Writes one `.mount` unit per bind into `dir` with the one safe writer: `dir` (created
/// root 0755 when missing) must be root's alone, and a symlink planted at a unit's name or
/// at its temporary is refused, never followed. Returns the unit names and whether any
/// file changed.
fn write_units(
    dir: &Path,
    jail: &Path,
    st: &JailState,
    state_file: &Path,
) -> anyhow::Result<(Vec<String>, bool)> {
    let err = |e: rootfile::RootFileError| Coded::new(e.exit_code(), e.to_string());
    if !dir.is_absolute() {
        return Err(Coded::new(
            exit::BAD_INPUT,
            format!(
                "--systemd-unit-dir {}: must be an absolute path",
                dir.display()
            ),
        )
        .into());
    }
    rootfile::ensure_dir(dir, 0o755).map_err(err)?;
    let (mut names, mut changed) = (Vec::new(), false);
    for b in &st.request.binds {
        let name = unit_name(&b.host_target(jail));
        let path = dir.join(&name);
        let w = rootfile::write(
            &path,
            unit_text(jail, b, Some(state_file)).as_bytes(),
            0o644,
            Durability::Fsync,
        )
        .map_err(err)?;
        let verb = if w == rootfile::Written::Unchanged {
            "up to date"
        } else {
            changed = true;
            "wrote"
        };
        println!("{verb} {}", path.display());
        names.push(name);
    }
    let mut own = Vec::new();
    if let Some(b) = crate::mounts::log_bind(&st.request) {
        own.push((
            crate::mounts::LOG_PATH,
            unit_text(jail, &b, Some(state_file)),
        ));
    }
    if st.request.proc {
        own.push((
            crate::mounts::PROC_DIR,
            proc_unit_text(jail, Some(state_file)),
        ));
    }
    if st.request.devpts {
        let text = devpts_unit_text(jail, tty_gid(), Some(state_file));
        own.push((crate::mounts::DEVPTS_DIR, text));
    }
    for (at, text) in own {
        let target = jail.join(at.trim_start_matches('/'));
        let name = unit_name(&target);
        let path = dir.join(&name);
        let w = rootfile::write(&path, text.as_bytes(), 0o644, Durability::Fsync).map_err(err)?;
        changed |= w != rootfile::Written::Unchanged;
        let verb = if w == rootfile::Written::Unchanged {
            "up to date"
        } else {
            "wrote"
        };
        println!("{verb} {}", path.display());
        names.push(name);
    }
    Ok((names, changed))
}

/// A unit that is only written does not come back at boot: it must be enabled (linked into
/// local-fs.target.wants). Done where systemd manages `dir`; elsewhere the commands are
/// printed for the administrator.
fn enable_units(dir: &Path, names: &[String], changed: bool) -> anyhow::Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let mut calls = Vec::new();
    if changed {
        calls.push(vec!["daemon-reload"]);
    }
    let mut enable = vec!["enable", "--quiet"];
    enable.extend(names.iter().map(String::as_str));
    calls.push(enable);
    systemctl::run_or_tell(&calls, dir).map_err(|e| Coded::new(exit::HOST_FAILURE, e).into())
}

/// The deny-lists over the recorded binds (a state written before a rule existed, or by
/// hand): rw only into homes and the services' read-write paths.
fn refuse_binds(args: &MountArgs, st: &JailState) -> anyhow::Result<()> {
    let rw_paths: Vec<crate::plan::JailPath> = st
        .services
        .values()
        .flat_map(|s| &s.read_write)
        .filter_map(|p| crate::plan::JailPath::new(p).ok())
        .collect();
    for b in &st.request.binds {
        crate::hostinfo::guard::bind(b, &args.jail, &args.state_dir, &rw_paths)
            .map_err(|e| Coded::new(e.exit_code(), e.to_string()))?;
    }
    Ok(())
}

/// The host's tty group (5 where it cannot be read).
fn tty_gid() -> u32 {
    nix::unistd::Group::from_name("tty")
        .ok()
        .flatten()
        .map_or(5, |g| g.gid.as_raw())
}

pub fn run_mount(args: MountArgs) -> anyhow::Result<u8> {
    crate::jail::refuse_jail(&args.jail, &args.state_dir)?;
    let st = load_state(&args.state_dir, &args.jail)?;
    refuse_binds(&args, &st)?;
    let host = LinuxHost::open(&args.jail, false).map_err(|e| coded(e.into()))?;
    let done = mount_all(&host, &st.request.binds).map_err(coded)?;
    for (b, d) in &done {
        let what = match d {
            Done::Mounted => "mounted",
            Done::Remounted => "remounted",
            _ => "already mounted",
        };
        println!("{what} {b}");
    }
    if st.request.proc {
        let what = match mount_proc(&host).map_err(coded)? {
            Done::Mounted => "mounted",
            _ => "already mounted",
        };
        println!("{what} proc:{}", crate::mounts::PROC_DIR);
    }
    if st.request.devpts {
        let what = match mount_devpts(&host, tty_gid()).map_err(coded)? {
            Done::Mounted => "mounted",
            _ => "already mounted",
        };
        println!("{what} devpts:{}", crate::mounts::DEVPTS_DIR);
    }
    if let Some(src) = &st.request.log {
        let what = match mount_log(&host, src).map_err(coded)? {
            Done::Mounted => "mounted",
            Done::Remounted => "remounted",
            _ => "already mounted",
        };
        println!("{what} log:{}:{}", src.display(), crate::mounts::LOG_PATH);
    }
    if let Some(dir) = &args.systemd_unit_dir {
        let state_file = state::state_file(&args.state_dir, &st.jail);
        let (names, changed) = write_units(dir, &st.jail, &st, &state_file)?;
        enable_units(dir, &names, changed)?;
    }
    if done.is_empty() && crate::mounts::Own::of(&st.request) == crate::mounts::Own::default() {
        eprintln!("jailsmith: {} declares no bind mounts", args.jail.display());
    }
    Ok(exit::OK)
}

pub fn run_umount(args: UmountArgs) -> anyhow::Result<u8> {
    crate::jail::refuse_jail(&args.jail, &args.state_dir)?;
    let st = load_state(&args.state_dir, &args.jail)?;
    let host = LinuxHost::open(&args.jail, false).map_err(|e| coded(e.into()))?;
    let own = crate::mounts::Own::of(&st.request);
    let done = umount_all(&host, &st.request.binds, own).map_err(coded)?;
    let word = |d: &Done| {
        if *d == Done::Unmounted {
            "unmounted"
        } else {
            "not mounted"
        }
    };
    for (b, d) in &done.binds {
        println!("{} {b}", word(d));
    }
    if let Some(d) = &done.proc {
        println!("{} proc:{}", word(d), crate::mounts::PROC_DIR);
    }
    if let Some(d) = &done.devpts {
        println!("{} devpts:{}", word(d), crate::mounts::DEVPTS_DIR);
    }
    if let Some(d) = &done.log {
        println!("{} log:{}", word(d), crate::mounts::LOG_PATH);
    }
    Ok(exit::OK)
}
