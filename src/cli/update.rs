//! `jailsmith update`: the options; the use case is `jail::update`.

use std::path::PathBuf;

use super::output;
use crate::cli::profiles::DirArgs;
pub use crate::jail::update::{UpdateRequest, settings_from_request};
use crate::state::DEFAULT_STATE_DIR;

/// Bring a jail up to date with the host, from what built it.
///
/// Re-resolves the programs and files recorded in the state, re-copies what changed on the
/// host (a library updated by the package manager), adds what the closure needs now and
/// removes what jailsmith placed that is no longer needed. The users' homes are never
/// touched. Each file is replaced atomically. Prints the diff (added, updated, removed).
///
/// The per-user sshd drop-ins earlier versions wrote for the jail's users
/// (`10-jailsmith-USER.conf`, `Match User`) are moved to the jail's groups: each user joins
/// the group of its mode, one `Match Group` block per mode is written, the per-user files
/// go; sshd validates the result (`sshd -t`, `sshd -T -C user=…` for each) and is reloaded
/// once.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 the jail is (now) current; with --dry-run, 1 when something would change.\n\nExamples:\n  jailsmith update /srv/get_chrooted --dry-run\n  jailsmith update /srv/get_chrooted --dry-run --json\n  jailsmith update /srv/get_chrooted"
)]
pub struct Args {
    /// The jail's root directory.
    #[arg(value_name = "JAIL")]
    pub jail: PathBuf,
    /// Print what would change and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report (with --dry-run: what would change) as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Where jailsmith keeps the state of each jail.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Copy and hash on this many threads (default: the number of CPUs).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    #[command(flatten)]
    pub dirs: DirArgs,
    #[command(flatten)]
    pub sshd: crate::cli::sshd_paths::SshdPaths,
    /// Do not reload sshd after moving per-user drop-ins to the jail's groups.
    #[arg(long)]
    pub no_reload: bool,
}

impl Args {
    /// The use case's request.
    pub fn request(&self) -> UpdateRequest {
        UpdateRequest {
            jail: self.jail.clone(),
            dry_run: self.dry_run,
            state_dir: self.state_dir.clone(),
            jobs: self.jobs,
            dirs: self.dirs.clone(),
            sshd: self.sshd.clone(),
            no_reload: self.no_reload,
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let report = crate::jail::update::update(&args.request())?;
    output::report(&report, args.json, |r| r.lines())?;
    Ok(report.code())
}
