//! `jailsmith destroy`: take a jail down. Refuses while a jailed user has processes (or ends
//! them by PID with --kill-sessions); takes each user out (keys, sshd drop-in, validated and
//! reloaded, as `user --remove`); stops the jail's services and removes their units;
//! unmounts the binds; removes the jail's files by descriptor (homes only with --purge, after
//! listing them); forgets the state.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, UnlinkatFlags, unlinkat};

use crate::account::sessions;
use crate::apply::LinuxHost;
use crate::apply::tree::remove_children;
use crate::cli::mount::{coded, load_state};
use crate::cli::user;
use crate::exit::{self, Coded};
use crate::mounts::apply::{detach_all_under, umount_all};
use crate::service::systemctl::{self, UnitRemoval};
use crate::state::{self, DEFAULT_STATE_DIR, JailState};

/// Take a jail down: its users' sshd blocks and keys, its services' units, its mounts, its
/// files and its state.
///
/// Refuses while a jailed user (or any process whose root is inside the jail) is running,
/// unless --kill-sessions ends them (SIGKILL, by PID). Each user is taken out as
/// `jailsmith user NAME --jail JAIL --remove` does: key file removed, drop-in removed,
/// `sshd -t` run and sshd reloaded. Each service `jailsmith service` made for the jail is
/// stopped and disabled where systemd runs it (its processes do not count as sessions then),
/// and its unit file is removed. Bind mounts are unmounted. Without --purge the jail's
/// files are removed but the users' homes are left in place; with --purge everything goes,
/// homes included, after listing them.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  jailsmith destroy /srv/get_chrooted\n  jailsmith destroy /srv/get_chrooted --purge --kill-sessions"
)]
pub struct Args {
    /// The jail's root directory.
    #[arg(value_name = "JAIL")]
    pub jail: PathBuf,
    /// Remove the users' homes and the jail root too.
    #[arg(long)]
    pub purge: bool,
    /// End the jailed users' running processes (SIGKILL by PID) instead of refusing; with
    /// --dry-run, list the processes it would end.
    #[arg(long)]
    pub kill_sessions: bool,
    /// Print what would be removed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub sshd: crate::cli::sshd_paths::SshdPaths,
    /// Do not reload sshd after removing drop-ins, nor systemd after removing units.
    #[arg(long)]
    pub no_reload: bool,
    /// Where jailsmith keeps the state of each jail.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Report to stderr instead of stdout (set by `apply --json`, whose stdout is JSON).
    #[arg(skip)]
    pub report_to_stderr: bool,
}

/// One line of the report, on stdout (or stderr when the caller owns stdout).
fn say(args: &Args, line: String) {
    if args.report_to_stderr {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

/// The jail's services whose units systemd runs here: `destroy` stops them itself, so their
/// processes are not sessions that make it refuse. None on a dry run (nothing is stopped).
fn stoppable_services(args: &Args, st: &JailState) -> Vec<String> {
    if args.dry_run {
        return Vec::new();
    }
    st.services
        .iter()
        .filter(|(_, r)| systemctl::manages(r.unit.parent().unwrap_or(Path::new("/"))))
        .map(|(name, _)| name.clone())
        .collect()
}

/// PIDs of the jail's sessions: processes of its users, and processes rooted inside it,
/// except those of the services in `stopping` (by their cgroup).
fn sessions_of(st: &JailState, stopping: &[String]) -> Vec<(i32, String)> {
    let uids: Vec<(u32, &str)> = st
        .users
        .iter()
        .filter_map(|u| {
            nix::unistd::User::from_name(u)
                .ok()
                .flatten()
                .map(|x| (x.uid.as_raw(), u.as_str()))
        })
        .filter(|(uid, _)| *uid != 0)
        .collect();
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    for p in sessions::live_processes().unwrap_or_default() {
        if p.pid == me {
            continue;
        }
        if !stopping.is_empty() {
            let cgroup = std::fs::read_to_string(p.dir.join("cgroup")).unwrap_or_default();
            if stopping.iter().any(|n| systemctl::in_unit(&cgroup, n)) {
                continue;
            }
        }
        let ids = sessions::status_uids(&p.status).unwrap_or_default();
        if let Some((_, name)) = uids.iter().find(|(uid, _)| ids.contains(uid)) {
            out.push((p.pid, format!("user {name}")));
            continue;
        }
        if let Ok(root) = std::fs::read_link(p.dir.join("root"))
            && root != Path::new("/")
            && root.starts_with(&st.jail)
        {
            out.push((p.pid, format!("rooted in {}", root.display())));
        }
    }
    out
}

fn end(pids: &[(i32, String)]) -> Vec<i32> {
    let mut killed = Vec::new();
    for (pid, _) in pids {
        if kill(Pid::from_raw(*pid), Signal::SIGKILL).is_ok() {
            killed.push(*pid);
        }
    }
    killed
}

fn check_sessions(args: &Args, st: &JailState) -> anyhow::Result<()> {
    let stopping = stoppable_services(args, st);
    for _ in 0..50 {
        let s = sessions_of(st, &stopping);
        if s.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = s.iter().map(|(p, w)| format!("{p} ({w})")).collect();
        if args.kill_sessions && args.dry_run {
            say(args, format!("would kill {}", list.join(", ")));
            return Ok(());
        }
        if !args.kill_sessions {
            return Err(Coded::new(
                exit::REFUSED,
                format!(
                    "{}: refusing while sessions run: pids {}; end them or pass --kill-sessions",
                    args.jail.display(),
                    list.join(", ")
                ),
            )
            .into());
        }
        eprintln!("jailsmith: killing {}", list.join(", "));
        end(&s);
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(Coded::new(exit::HOST_FAILURE, "sessions keep running after SIGKILL").into())
}

fn remove_user(args: &Args, name: &str) -> anyhow::Result<()> {
    let dirs = user::UserDirs {
        sshd: args.sshd.clone(),
        state_dir: args.state_dir.clone(),
        systemd_dir: user::DEFAULT_SYSTEMD_DIR.into(),
    };
    let a = user::Args::removal(name, &args.jail, dirs, false, args.no_reload, args.dry_run);
    user::run(a).map(|_| ())
}

/// Stops and removes the unit of every service recorded for the jail, then reloads systemd
/// once (unless --no-reload). A dry run only says what it would remove.
fn remove_services(args: &Args, st: &JailState) -> anyhow::Result<()> {
    let mut reload_in = None;
    for (name, rec) in &st.services {
        let unit = rec.unit.display();
        if args.dry_run {
            if rec.unit.symlink_metadata().is_ok() {
                say(
                    args,
                    format!("would stop {name} and remove its unit {unit}"),
                );
            }
            continue;
        }
        match systemctl::remove_unit(name, &rec.unit).map_err(coded_host)? {
            UnitRemoval::Removed => {
                say(args, format!("removed the unit of service {name}: {unit}"));
                reload_in = rec.unit.parent().map(Path::to_path_buf);
            }
            UnitRemoval::Missing => {}
            UnitRemoval::NotAFile => eprintln!(
                "jailsmith: warning: {unit} (service {name}) is not a regular file; left alone"
            ),
        }
    }
    if let Some(dir) = reload_in.filter(|_| !args.no_reload) {
        systemctl::run_or_tell(&[vec!["daemon-reload"]], &dir).map_err(coded_host)?;
    }
    Ok(())
}

fn coded_host(e: String) -> Coded {
    Coded::new(exit::HOST_FAILURE, e)
}

fn is_home(st: &JailState, path: &str) -> bool {
    path == "/home"
        || st.users.iter().any(|u| {
            let h = format!("/home/{u}");
            path == h || path.starts_with(&format!("{h}/"))
        })
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    crate::jail::refuse_jail(&args.jail, &args.state_dir)?;
    let st = load_state(&args.state_dir, &args.jail)?;
    check_sessions(&args, &st)?;
    for u in st.users.clone() {
        remove_user(&args, &u)?;
    }
    remove_services(&args, &st)?;
    let exists = args.jail.is_dir();
    if exists {
        let host = LinuxHost::open(&args.jail, false).map_err(|e| coded(e.into()))?;
        if !args.dry_run {
            for (b, _) in umount_all(&host, &st.request.binds).map_err(coded)? {
                say(&args, format!("unmounted {b}"));
            }
            let n = detach_all_under(&host).map_err(coded)?;
            if n > 0 {
                say(
                    &args,
                    format!(
                        "unmounted {n} undeclared mounts under {}",
                        st.jail.display()
                    ),
                );
            }
        }
        remove_files(&args, &st, &host)?;
    }
    if args.purge && exists && !args.dry_run {
        remove_root(&args.jail)?;
        say(&args, format!("removed {}", args.jail.display()));
    }
    if !args.dry_run {
        state::remove(&args.state_dir, &args.jail)
            .map_err(|e| Coded::new(exit::HOST_FAILURE, e.to_string()))?;
        say(
            &args,
            format!("forgot the state of {}", args.jail.display()),
        );
        crate::cli::labels::after_destroy(&args.jail)?;
    }
    Ok(exit::OK)
}

fn remove_files(args: &Args, st: &JailState, host: &LinuxHost) -> anyhow::Result<()> {
    let keep_homes = |p: &str| is_home(st, p) && !args.purge;
    let hoste = |e: crate::apply::HostError| Coded::new(e.exit_code(), e.to_string());
    if args.purge {
        let homes = |p: &str| is_home(st, p) && p != "/home";
        let listing =
            remove_children(&args.jail, host.root_fd(), "", &homes, true).map_err(hoste)?;
        for h in &listing.kept {
            let fd = crate::plan::JailPath::new(h)
                .ok()
                .and_then(|jp| host.open_dir(&jp, "list").ok());
            let n = fd
                .map(|fd| remove_children(&args.jail, fd.as_fd(), h, &|_| false, true))
                .transpose()
                .map_err(hoste)?
                .map(|r| r.files + r.dirs)
                .unwrap_or(0);
            say(
                args,
                format!(
                    "home {} goes, with {n} objects in it",
                    host_path(&args.jail, h)
                ),
            );
        }
    }
    let r = remove_children(&args.jail, host.root_fd(), "", &keep_homes, args.dry_run)
        .map_err(hoste)?;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    say(
        args,
        format!(
            "{verb} {} files and {} directories from {}",
            r.files,
            r.dirs,
            args.jail.display()
        ),
    );
    for k in r.kept {
        say(args, format!("kept {}", host_path(&args.jail, &k)));
    }
    Ok(())
}

fn host_path(jail: &Path, p: &str) -> String {
    jail.join(p.trim_start_matches('/')).display().to_string()
}

/// Removes the (now empty) jail root from its parent, by descriptor.
fn remove_root(jail: &Path) -> anyhow::Result<()> {
    let (Some(parent), Some(name)) = (jail.parent(), jail.file_name()) else {
        return Err(Coded::new(exit::REFUSED, "refusing to remove /").into());
    };
    let p = LinuxHost::open(parent, false).map_err(|e| coded(e.into()))?;
    unlinkat(p.root_fd(), name, UnlinkatFlags::RemoveDir).map_err(|e| {
        Coded::new(
            exit::HOST_FAILURE,
            format!("cannot remove {}: {e}", jail.display()),
        )
    })?;
    Ok(())
}
