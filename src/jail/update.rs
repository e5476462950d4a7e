//! Updating a jail (`jailsmith update`), below the command line: rebuild a jail from what
//! its state records: re-copy what changed on the host, add what the closure needs now,
//! remove what jailsmith placed and no longer needs (the plan's `remove` steps from
//! `plan::prune`, run by the executor: never in the users' homes, never through a symlink),
//! then move per-user sshd drop-ins of earlier versions to the jail's groups. Returns the
//! diff as an `UpdateReport` (a dry run: what would change); progress and warnings go to
//! stderr.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::JailError;
use crate::account::usecase as user;
use crate::exit;
use crate::hostinfo::gather::Wanted;
use crate::jail::preview::{self, Preview};
use crate::jail::{self, BuildSettings};
use crate::plan::Step;
use crate::profile::request::DirArgs;
use crate::state::{self, JailState, Request};

/// What one `jailsmith update` asks for: plain data, no clap.
#[derive(Clone, Debug)]
pub struct UpdateRequest {
    /// The jail's root directory.
    pub jail: PathBuf,
    /// Print what would change and change nothing.
    pub dry_run: bool,
    /// Where jailsmith keeps the state of each jail.
    pub state_dir: PathBuf,
    /// Copy and hash on this many threads (default: the number of CPUs).
    pub jobs: Option<u64>,
    pub dirs: DirArgs,
    /// Where sshd and the per-user drop-ins of earlier versions live.
    pub sshd: crate::sshd::paths::SshdPaths,
    /// Do not reload sshd after moving per-user drop-ins to the jail's groups.
    pub no_reload: bool,
}

/// The settings that rebuild a jail from what its state records: its programs, files and
/// profiles (expanded again on this host, searched in `dirs` first) and its binds.
pub fn settings_from_request(
    jail: &Path,
    request: &Request,
    dirs: &DirArgs,
) -> anyhow::Result<BuildSettings> {
    let crate::profile::request::ProfileExtra {
        extra,
        names: profiles,
        ..
    } = crate::profile::request::to_request(&request.profiles, &dirs.profile_dirs)?;
    Ok(BuildSettings {
        jail: jail.to_path_buf(),
        wanted: Wanted {
            bins: request.bins.clone(),
            files: request.files.clone(),
            libraries: Vec::new(),
        },
        extra,
        profiles,
        binds: request.binds.clone(),
        // what the request no longer needs is planned for removal (update runs it, check
        // lists it)
        prune: true,
        ..Default::default()
    })
}

/// `update --json`: what the update changed in the jail (with --dry-run: what it would
/// change, and the real run then does exactly that, the host unchanged meanwhile).
#[derive(Debug, Default, Serialize)]
pub struct UpdateReport {
    /// The jail's root directory.
    pub jail: PathBuf,
    /// True with --dry-run: nothing was changed.
    pub dry_run: bool,
    /// True when nothing changed (or, with --dry-run, nothing would).
    pub up_to_date: bool,
    /// The in-jail paths added: what the programs' closure needs now.
    pub added: Vec<String>,
    /// The in-jail paths copied again: their host source changed, or the copy in the jail
    /// drifted from the manifest.
    pub updated: Vec<String>,
    /// The in-jail paths jailsmith placed that are no longer needed, removed.
    pub removed: Vec<String>,
    /// The paths no longer needed but kept: a directory that holds files jailsmith did not
    /// place, or an object that is no longer what jailsmith placed there (a file replaced
    /// by a symlink is never followed, nor removed); stderr says why for each.
    pub kept: Vec<String>,
    /// The plan's steps that change the jail (with --dry-run: would change it), as
    /// `build --dry-run --json` prints steps: those of `added` and `updated`, and every
    /// removal (`"op": "remove"`, with the kind of object it expects; `removed` and `kept`
    /// say how each went).
    pub plan: Vec<Step>,
    /// The per-user sshd drop-ins of earlier versions moved to the jail's groups, as
    /// `jailsmith user --json` reports changes; null when there were none.
    pub sshd: Option<user::Report>,
}

impl UpdateReport {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.updated.is_empty() && self.removed.is_empty()
    }

    /// The exit code: with --dry-run, 1 when something would change.
    pub fn code(&self) -> u8 {
        if self.dry_run && !self.up_to_date {
            exit::FINDINGS
        } else {
            exit::OK
        }
    }

    /// The report as text: `[would ]add|update|remove PATH`, then the sshd changes.
    pub fn lines(&self) -> Vec<String> {
        let (a, u, r) = if self.dry_run {
            ("would add", "would update", "would remove")
        } else {
            ("added", "updated", "removed")
        };
        let mut out: Vec<String> = self.added.iter().map(|p| format!("{a} {p}")).collect();
        out.extend(self.updated.iter().map(|p| format!("{u} {p}")));
        out.extend(self.removed.iter().map(|p| format!("{r} {p}")));
        if let Some(sshd) = &self.sshd {
            out.extend(user::report_lines(sshd));
        }
        out
    }
}

fn load(args: &UpdateRequest) -> anyhow::Result<JailState> {
    state::load(&args.state_dir, &args.jail)
        .map_err(JailError::State)?
        .ok_or_else(|| {
            JailError::Input(format!(
                "{}: jailsmith has no state for this jail in {} (build it first)",
                args.jail.display(),
                args.state_dir.display()
            ))
            .into()
        })
}

/// The report's jail part from what the build changed (or would change); says on stderr
/// why each removal was kept.
fn fill(d: &mut UpdateReport, p: Preview) {
    p.warnings
        .iter()
        .for_each(|w| eprintln!("jailsmith: warning: {w}"));
    let verb = if d.dry_run { "would keep" } else { "kept" };
    for k in &p.kept {
        eprintln!("jailsmith: {verb} {}: {}", k.path, k.why);
    }
    d.added = p.added;
    d.updated = p.updated;
    d.removed = p.removed;
    d.kept = p.kept.into_iter().map(|k| k.path).collect();
    d.plan = p.plan;
}

/// Runs one update (with `dry_run`: works out what it would change, changing nothing):
/// the jail's files, then the move of per-user sshd drop-ins of earlier versions to the
/// jail's groups. Warnings and the summary go to stderr; the report is returned.
pub fn update(args: &UpdateRequest) -> anyhow::Result<UpdateReport> {
    jail::refuse_jail(&args.jail, &args.state_dir)?;
    let st = load(args)?;
    let mut settings = settings_from_request(&args.jail, &st.request, &args.dirs)?;
    settings.state_dir = args.state_dir.clone();
    settings.jobs = args.jobs.map_or(0, |n| n as usize);
    if !st.services.is_empty() {
        // mount points the jailed services' units need (`jailsmith service`)
        settings
            .extra
            .dirs
            .extend(crate::service::files::mount_point_dirs());
    }
    let mut d = UpdateReport {
        jail: args.jail.clone(),
        dry_run: args.dry_run,
        ..Default::default()
    };
    if args.dry_run {
        fill(&mut d, preview::preview(&settings)?);
    } else {
        let built = jail::build(&settings)?;
        // the build ran the plan's removals: the executor removed what is still as placed
        fill(&mut d, Preview::of_build(&built));
        if jail::store::links_any(&st.manifest) {
            jail::store::collect_garbage(&args.state_dir)?;
        }
    }
    if d.is_empty() {
        eprintln!("jailsmith: {} is up to date", args.jail.display());
    } else if !args.dry_run {
        eprintln!(
            "jailsmith: {}: {} added, {} updated, {} removed",
            args.jail.display(),
            d.added.len(),
            d.updated.len(),
            d.removed.len()
        );
    }
    let dirs = user::UserDirs {
        sshd: args.sshd.clone(),
        state_dir: args.state_dir.clone(),
        systemd_dir: user::DEFAULT_SYSTEMD_DIR.into(),
    };
    let sshd = user::migrate_jail(&args.jail, dirs, args.no_reload, args.dry_run)
        .map_err(JailError::lower)?;
    for w in &sshd.warnings {
        eprintln!("jailsmith: warning: {w}");
    }
    d.up_to_date = d.is_empty() && sshd.up_to_date;
    if !sshd.up_to_date {
        d.sshd = Some(sshd);
    }
    Ok(d)
}
