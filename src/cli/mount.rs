//! `jailsmith mount` / `jailsmith umount`: the options, and printing the report; the use
//! case is `mounts::usecase`.

use std::path::PathBuf;

use super::output;
use crate::exit;
use crate::mounts::usecase::{self, MountRequest, UmountRequest};
use crate::state::DEFAULT_STATE_DIR;

/// Mount a jail's declared binds (idempotent).
///
/// Each bind recorded by `build --bind SRC:DST[:ro|rw]` is bind-mounted without MS_REC and
/// then remounted nosuid,nodev and read-only unless declared rw. The target directory is
/// created root-owned 0755 inside the jail without following symlinks, and the mount is made
/// through a descriptor. A source a non-root user can write is refused unless declared rw.
/// A jail built with `--proc` also gets a private procfs at /proc
/// (hidepid=invisible,subset=pid, nosuid,nodev,noexec).
///
/// All or nothing: when a mount, a unit or a `systemctl enable` fails, the mounts this run
/// made are unmounted again (mounts that were there before stay), the units it wrote are
/// removed or put back and those it enabled disabled, and the error says what was rolled
/// back.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  jailsmith mount /srv/get_chrooted\n  jailsmith mount /srv/get_chrooted --dry-run --json\n  jailsmith mount /srv/get_chrooted --systemd-unit-dir /etc/systemd/system"
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
    /// Run every check and print what would be mounted (and which units written); change
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report (with --dry-run: what would be done) as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Unmount a jail's declared binds (and its own /proc, /dev/pts and /dev/log, when built
/// with --proc, --devpts or --log), wherever they now are below the jail.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  jailsmith umount /srv/get_chrooted --dry-run\n  jailsmith umount /srv/get_chrooted --json"
)]
pub struct UmountArgs {
    /// The jail's root directory.
    #[arg(value_name = "JAIL")]
    pub jail: PathBuf,
    /// Where jailsmith keeps the state of each jail.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Run every check and print what would be unmounted; change
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report (with --dry-run: what would be done) as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run_mount(args: MountArgs) -> anyhow::Result<u8> {
    let report = usecase::mount_jail(&MountRequest {
        jail: args.jail.clone(),
        state_dir: args.state_dir.clone(),
        systemd_unit_dir: args.systemd_unit_dir.clone(),
        dry_run: args.dry_run,
    })?;
    output::report(&report, args.json, |r| r.lines())?;
    if report.mounts.is_empty() {
        eprintln!("jailsmith: {} declares no bind mounts", args.jail.display());
    }
    Ok(exit::OK)
}

pub fn run_umount(args: UmountArgs) -> anyhow::Result<u8> {
    let report = usecase::umount_jail(&UmountRequest {
        jail: args.jail.clone(),
        state_dir: args.state_dir.clone(),
        dry_run: args.dry_run,
    })?;
    output::report(&report, args.json, |r| r.lines())?;
    Ok(exit::OK)
}
