//! Updating a jail (`jailsmith update`), below the command line: rebuild a jail from what its state records: re-copy what changed on
//! the host, add what the closure needs now, remove what jailsmith placed and no longer
//! needs (never in the users' homes, never through a symlink). Prints the diff on stdout.

use std::path::{Path, PathBuf};

use crate::apply::{Host, LinuxHost};
use crate::exit::{self, Coded};
use crate::hostinfo::gather::Wanted;
use crate::jail::{self, BuildSettings};
use crate::plan::{JailPath, Op, Plan};
use crate::profile::request::DirArgs;
use crate::state::{self, EntryType, JailState, Request};

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
        ..Default::default()
    })
}

/// The diff of an update.
#[derive(Debug, Default)]
struct Diff {
    added: Vec<String>,
    updated: Vec<String>,
    removed: Vec<String>,
    kept: Vec<String>,
}

impl Diff {
    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.updated.is_empty() && self.removed.is_empty()
    }

    fn print(&self, dry: bool) {
        let (a, u, r) = if dry {
            ("would add", "would update", "would remove")
        } else {
            ("added", "updated", "removed")
        };
        self.added.iter().for_each(|p| println!("{a} {p}"));
        self.updated.iter().for_each(|p| println!("{u} {p}"));
        self.removed.iter().for_each(|p| println!("{r} {p}"));
        self.kept.iter().for_each(|p| {
            eprintln!("jailsmith: kept {p}: not empty (holds files jailsmith did not place)")
        });
    }
}

fn load(args: &UpdateRequest) -> anyhow::Result<JailState> {
    state::load(&args.state_dir, &args.jail)
        .map_err(|e| Coded::new(exit::BAD_INPUT, e.to_string()))?
        .ok_or_else(|| {
            Coded::new(
                exit::BAD_INPUT,
                format!(
                    "{}: jailsmith has no state for this jail in {} (build it first)",
                    args.jail.display(),
                    args.state_dir.display()
                ),
            )
            .into()
        })
}

fn in_home(state: &JailState, path: &str) -> bool {
    path == "/home"
        || state.users.iter().any(|u| {
            let h = format!("/home/{u}");
            path == h || path.starts_with(&format!("{h}/"))
        })
}

/// What applying `plan` would change, judged from the manifest and the host sources.
fn dry_diff(plan: &Plan, st: &JailState, host: Option<&LinuxHost>) -> Diff {
    let mut d = Diff::default();
    let planned: std::collections::BTreeSet<String> =
        plan.steps.iter().map(|s| s.op.path().to_string()).collect();
    for step in &plan.steps {
        let p = step.op.path().to_string();
        let Some(e) = st.manifest.entries.get(&p) else {
            d.added.push(p);
            continue;
        };
        let changed = match &step.op {
            Op::CopyFile { src, .. } => {
                e.src.as_ref() != Some(src)
                    || crate::apply::source::source_meta(src)
                        .map(|m| Some(m.size) != e.src_size || Some(m.mtime_ns) != e.src_mtime_ns)
                        .unwrap_or(true)
            }
            Op::WriteFile { content, .. } => {
                e.sha256.as_deref()
                    != Some(crate::apply::transfer::sha256_hex(content.as_bytes()).as_str())
            }
            Op::Symlink { target, .. } => e.target.as_ref() != Some(target),
            Op::MakeDevice { major, minor, .. } => e.device != Some((*major, *minor)),
            Op::MakeDir { .. } => false,
        };
        let drifted = host.is_some_and(|h| match h.stat(step.op.path()) {
            Ok(Some(m)) => {
                e.kind != EntryType::Dir && (m.size != e.size || m.mtime_ns != e.mtime_ns)
            }
            _ => true,
        });
        if changed || drifted {
            d.updated.push(p);
        }
    }
    d.removed = st
        .manifest
        .entries
        .iter()
        .filter(|(p, e)| !planned.contains(*p) && !in_home(st, p) && !e.found)
        .map(|(p, _)| p)
        .cloned()
        .collect();
    d
}

/// Removes what the previous manifest held and the new plan does not: deepest first,
/// files before their directories, through the descriptor-based host.
fn prune(host: &LinuxHost, st: &JailState, stale: &[String], d: &mut Diff) -> anyhow::Result<()> {
    // an object jailsmith found there (not created) is never removed
    let found = |p: &str| st.manifest.entries.get(p).is_some_and(|e| e.found);
    let mut paths: Vec<&String> = stale
        .iter()
        .filter(|p| !in_home(st, p) && !found(p))
        .collect();
    paths.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    for p in paths {
        let jp = JailPath::new(p).map_err(|e| Coded::new(exit::REFUSED, e.to_string()))?;
        let is_dir = st
            .manifest
            .entries
            .get(p)
            .is_some_and(|e| e.kind == EntryType::Dir);
        let removed = if is_dir {
            let r = host
                .remove_dir(&jp)
                .map_err(|e| Coded::new(e.exit_code(), e.to_string()))?;
            if !r && host.stat(&jp).ok().flatten().is_some() {
                d.kept.push(p.clone());
            }
            r
        } else {
            host.remove(&jp)
                .map_err(|e| Coded::new(e.exit_code(), e.to_string()))?
        };
        if removed {
            d.removed.push(p.clone());
        }
    }
    Ok(())
}

/// Takes what the prune removed out of the manifest (the build keeps stale entries: until
/// they are gone they are still jailsmith's).
fn forget_removed(args: &UpdateRequest, removed: &[String]) -> anyhow::Result<()> {
    if removed.is_empty() {
        return Ok(());
    }
    let Some(mut st) = state::load(&args.state_dir, &args.jail)
        .map_err(|e| Coded::new(exit::HOST_FAILURE, e.to_string()))?
    else {
        return Ok(());
    };
    for p in removed {
        st.manifest.entries.remove(p);
    }
    st.updated_unix = state::now_unix();
    state::save(&args.state_dir, &st).map_err(|e| Coded::new(exit::HOST_FAILURE, e.to_string()))?;
    Ok(())
}

/// Runs one update and prints its diff; the exit code (1: a dry run found changes).
pub fn run(args: UpdateRequest) -> anyhow::Result<u8> {
    jail::refuse_jail(&args.jail, &args.state_dir)?;
    let st = load(&args)?;
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
    if args.dry_run {
        let (plan, warnings) = jail::plan(&settings)?;
        warnings
            .iter()
            .for_each(|w| eprintln!("jailsmith: warning: {w}"));
        let host = LinuxHost::open(&args.jail, false).ok();
        let d = dry_diff(&plan, &st, host.as_ref());
        d.print(true);
        return Ok(if d.is_empty() {
            eprintln!("jailsmith: {} is up to date", args.jail.display());
            exit::OK
        } else {
            exit::FINDINGS
        });
    }
    let built = jail::build(&settings)?;
    built
        .warnings
        .iter()
        .for_each(|w| eprintln!("jailsmith: warning: {w}"));
    let mut d = Diff::default();
    for (path, outcome) in &built.report.outcomes {
        match outcome {
            crate::apply::Outcome::Created => d.added.push(path.to_string()),
            crate::apply::Outcome::Updated => d.updated.push(path.to_string()),
            crate::apply::Outcome::Unchanged => {}
        }
    }
    let host =
        LinuxHost::open(&args.jail, false).map_err(|e| Coded::new(e.exit_code(), e.to_string()))?;
    prune(&host, &st, &built.report.stale, &mut d)?;
    forget_removed(&args, &d.removed)?;
    if jail::store::links_any(&st.manifest) {
        jail::store::collect_garbage(&args.state_dir)?;
    }
    d.print(false);
    if d.is_empty() {
        eprintln!("jailsmith: {} is up to date", args.jail.display());
    } else {
        eprintln!(
            "jailsmith: {}: {} added, {} updated, {} removed",
            args.jail.display(),
            d.added.len(),
            d.updated.len(),
            d.removed.len()
        );
    }
    Ok(exit::OK)
}
