//! `jailsmith destroy`: the options and the state directory's lock; the use case is
//! `jail::destroy`.

use std::path::PathBuf;

use super::output;
pub use crate::jail::destroy::DestroyRequest;
use crate::state::DEFAULT_STATE_DIR;

/// Take a jail down: its users' sshd blocks and keys, its services' units, its mounts, its
/// files and its state.
///
/// Refuses while a jailed user (or any process whose root is inside the jail) is running,
/// unless --kill-sessions ends them (SIGKILL, by PID). Each user is taken out as
/// `jailsmith user NAME --jail JAIL --remove` does: key file removed, drop-in removed,
/// `sshd -t` run and sshd reloaded. Each service `jailsmith service` made for the jail is
/// stopped and disabled where systemd runs it (its processes do not count as sessions then),
/// and its unit file is removed. The jail's bind mounts are unmounted, found by mount ID
/// and source identity wherever they now are; any other mount below the jail makes destroy
/// refuse before it changes anything. Only what jailsmith placed is removed (plus whatever
/// is in the jail's /tmp and /var/tmp): objects it did not make, or found there when it
/// adopted the directory, are listed and kept, with the directories holding them. Without
/// --purge the users' homes and the services' read-write data stay, and so does the
/// jail's state, so that a later `destroy --purge` finishes the job; with --purge they go
/// too, and the jail root when nothing foreign is left in it. Every path removed (or, with
/// --dry-run, that would be) is listed.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  jailsmith destroy /srv/get_chrooted --dry-run\n  jailsmith destroy /srv/get_chrooted\n  jailsmith destroy /srv/get_chrooted --purge --kill-sessions --json"
)]
pub struct Args {
    /// The jail's root directory.
    #[arg(value_name = "JAIL")]
    pub jail: PathBuf,
    /// Remove the users' homes, the services' read-write data and the jail root too (the
    /// root only when nothing foreign is left in it).
    #[arg(long)]
    pub purge: bool,
    /// End the jailed users' running processes (SIGKILL by PID) instead of refusing; with
    /// --dry-run, list the processes it would end.
    #[arg(long)]
    pub kill_sessions: bool,
    /// Print every path that would be removed or kept, every user, sshd group, service
    /// unit and mount that would go; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report (with --dry-run: the plan) as one JSON object on stdout; the text
    /// lines go to stderr as they happen.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub sshd: crate::sshd::paths::SshdPaths,
    /// Do not reload sshd after removing drop-ins, nor systemd after removing units.
    #[arg(long)]
    pub no_reload: bool,
    /// Where jailsmith keeps the state of each jail.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
}

impl Args {
    /// The use case's request.
    pub fn request(&self) -> DestroyRequest {
        DestroyRequest {
            jail: self.jail.clone(),
            purge: self.purge,
            kill_sessions: self.kill_sessions,
            dry_run: self.dry_run,
            sshd: self.sshd.clone(),
            no_reload: self.no_reload,
            state_dir: self.state_dir.clone(),
            report_to_stderr: false,
            forget_state: false,
        }
    }
}

/// Takes the state directory's lock (none for a dry run: it changes nothing) and runs the
/// use case; `apply --prune` runs `jail::destroy::run` under its own lock.
pub fn run(args: Args) -> anyhow::Result<u8> {
    // a jail path of the deny-list is refused before anything, the lock's directory included
    crate::jail::refuse_jail(&args.jail, &args.state_dir)?;
    let _lock = crate::jail::lock_state(&args.state_dir, args.dry_run)?;
    let report = crate::jail::destroy::destroy(&args.request(), &output::progress(args.json))?;
    if args.json {
        output::json(&report)?;
    }
    Ok(crate::exit::OK)
}
