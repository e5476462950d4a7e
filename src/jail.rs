//! One jail build, end to end: gather from the host, plan, and (unless dry-run) apply and
//! record the state. Shared by `build` and the commands that build on it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::apply::executor::{ApplyOptions, ApplyReport, apply};
use crate::apply::linux::LinuxHost;
use crate::apply::{Host, HostError};
use crate::exit::Coded;
use crate::hostinfo::gather::{Gatherer, Wanted, base_request};
use crate::hostinfo::loader_config;
use crate::plan::build::{BuildRequest, plan_build};
use crate::plan::{JailPath, Plan};
use crate::state::{self, JailState, Request};

/// Everything one build needs.
#[derive(Clone, Debug, Default)]
pub struct BuildSettings {
    pub jail: PathBuf,
    pub wanted: Wanted,
    /// Directories, devices and written files from profiles.
    pub extra: BuildRequest,
    /// Profile names, recorded in the state.
    pub profiles: Vec<String>,
    /// Bind mounts to record in the state (`jailsmith mount` applies them).
    pub binds: Vec<crate::mounts::Bind>,
    pub state_dir: PathBuf,
    pub verify_content: bool,
    /// Threads applying the copies (0: one per CPU).
    pub jobs: usize,
    /// Build into a directory that is not empty and not a jailsmith jail, recording what
    /// is there as foreign (kept by `destroy`). Without it such a directory is refused.
    pub adopt: bool,
}

/// The result of a build.
pub struct Built {
    pub plan: Plan,
    pub report: ApplyReport,
    pub warnings: Vec<String>,
    pub elapsed_ms: u128,
}

fn coded(code: u8, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(Coded::new(code, e.to_string()))
}

/// Refuses a jail path that exists and is not a directory, before anything is done.
fn check_jail_path(jail: &Path) -> anyhow::Result<()> {
    if !jail.is_absolute() {
        return Err(coded(
            crate::exit::BAD_INPUT,
            format!("{}: the jail path must be absolute", jail.display()),
        ));
    }
    match std::fs::symlink_metadata(jail) {
        Ok(m) if m.file_type().is_symlink() => Err(coded(
            crate::exit::REFUSED,
            format!(
                "{}: the jail path is a symbolic link; use its real path",
                jail.display()
            ),
        )),
        Ok(m) if !m.is_dir() => Err(coded(
            crate::exit::BAD_INPUT,
            format!("{}: exists and is not a directory", jail.display()),
        )),
        _ => Ok(()),
    }
}

/// Reads a file of an existing jail without following symlinks ("" when absent).
fn read_existing(host: Option<&LinuxHost>, path: &str) -> anyhow::Result<String> {
    let Some(host) = host else {
        return Ok(String::new());
    };
    let p = JailPath::new(path).expect("static path");
    match host.stat(&p) {
        Ok(None) => Ok(String::new()),
        Ok(Some(_)) => {
            let bytes = host.read_file(&p).map_err(|e| coded(e.exit_code(), e))?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
        Err(e) => Err(coded(e.exit_code(), e)),
    }
}

/// Gathers and plans; opens nothing for writing.
pub fn plan(settings: &BuildSettings) -> anyhow::Result<(Plan, Vec<String>)> {
    check_jail_path(&settings.jail)?;
    let cfg = loader_config(&[]);
    let (entries, warnings) = Gatherer::new(&cfg)
        .jobs(settings.jobs)
        .gather(&settings.wanted)
        .map_err(|e| coded(e.exit_code(), e))?;
    let existing = if settings.jail.is_dir() {
        Some(LinuxHost::open(&settings.jail, false).map_err(|e| coded(e.exit_code(), e))?)
    } else {
        None
    };
    let passwd = read_existing(existing.as_ref(), "etc/passwd")?;
    let group = read_existing(existing.as_ref(), "etc/group")?;
    let mut req = base_request(entries, &passwd, &group);
    req.entries.extend(settings.extra.entries.iter().cloned());
    req.dirs.extend(settings.extra.dirs.iter().cloned());
    req.devices.extend(settings.extra.devices.iter().cloned());
    req.contents.extend(settings.extra.contents.iter().cloned());
    Ok((plan_build(&settings.jail, &req), warnings))
}

/// Plans, applies, and saves the state (only when something changed).
pub fn build(settings: &BuildSettings) -> anyhow::Result<Built> {
    let start = Instant::now();
    let (plan, warnings) = plan(settings)?;
    let previous = state::load(&settings.state_dir, &settings.jail)
        .map_err(|e| coded(crate::exit::HOST_FAILURE, e))?;
    let host = LinuxHost::open(&settings.jail, true).map_err(|e| coded(e.exit_code(), e))?;
    let foreign = match &previous {
        Some(_) => Default::default(),
        None => foreign_objects(&host, settings.adopt)?,
    };
    host.secure_root()
        .map_err(|e: HostError| coded(e.exit_code(), e))?;
    let empty = Default::default();
    let prev_manifest = previous.as_ref().map(|s| &s.manifest).unwrap_or(&empty);
    let opts = ApplyOptions {
        verify_content: settings.verify_content,
        jobs: settings.jobs,
    };
    let mut report =
        apply(&plan, &host, prev_manifest, &opts).map_err(|e| coded(e.exit_code(), e))?;
    report.manifest.foreign = match &previous {
        Some(p) => p.manifest.foreign.clone(),
        None => foreign,
    };
    // No fsync per file nor syncfs: files appear atomically by rename, and a copy a crash
    // left short no longer matches the size/mtime the manifest records, so the next build
    // copies it again.
    let request = merged_request(previous.as_ref().map(|s| &s.request), settings);
    let unchanged_state = previous
        .as_ref()
        .is_some_and(|p| p.manifest == report.manifest && p.request == request);
    if !unchanged_state {
        let (users, limits, services) = previous
            .map(|p| (p.users, p.limits, p.services))
            .unwrap_or_default();
        let st = JailState {
            jail: state::canonical_jail(&settings.jail),
            request,
            manifest: report.manifest.clone(),
            users,
            limits,
            services,
            updated_unix: state::now_unix(),
        };
        state::save(&settings.state_dir, &st)
            .map_err(|e| coded(crate::exit::HOST_FAILURE, e))
            .context("saving the jail's state")?;
    }
    Ok(Built {
        plan,
        report,
        warnings,
        elapsed_ms: start.elapsed().as_millis(),
    })
}

/// For a dry run: refuses, as `build` would, a directory that is not empty and not a
/// jailsmith jail unless `settings.adopt`. Writes nothing.
pub fn refuse_unadopted(settings: &BuildSettings) -> anyhow::Result<()> {
    let known = state::load(&settings.state_dir, &settings.jail)
        .map_err(|e| coded(crate::exit::HOST_FAILURE, e))?
        .is_some();
    if known || !settings.jail.is_dir() {
        return Ok(());
    }
    let host = LinuxHost::open(&settings.jail, false).map_err(|e| coded(e.exit_code(), e))?;
    foreign_objects(&host, settings.adopt).map(|_| ())
}

/// What is in a directory jailsmith has no state for. Empty: nothing. Otherwise refused
/// (exit REFUSED) with the list of what is there, unless `adopt`: then every object in it
/// (in-jail paths, escaped) is returned, to be recorded as foreign.
fn foreign_objects(
    host: &LinuxHost,
    adopt: bool,
) -> anyhow::Result<std::collections::BTreeSet<String>> {
    use crate::apply::tree::{Decision, remove_below};
    let jail = host.root();
    let everything = |_: Option<&str>, dir: bool| {
        if dir {
            Decision::Enter {
                remove_if_empty: true,
            }
        } else {
            Decision::Remove
        }
    };
    // a dry run of a removal is a walk: iterative, bounded descriptors, never across a mount
    let walk = remove_below(jail, host.root_fd(), "", &everything, true)
        .map_err(|e| coded(e.exit_code(), e))?;
    let found: std::collections::BTreeSet<String> = walk
        .removed
        .into_iter()
        .map(|(p, _)| p)
        .chain(walk.kept)
        .collect();
    if found.is_empty() || adopt {
        return Ok(found);
    }
    let top: Vec<&String> = found
        .iter()
        .filter(|p| p.matches('/').count() == 1)
        .collect();
    let shown: Vec<String> = top.iter().take(20).map(|p| p.to_string()).collect();
    let more = top.len().saturating_sub(shown.len());
    Err(coded(
        crate::exit::REFUSED,
        format!(
            "{}: not empty and not a jailsmith jail (no state for it); it holds {}{}; \
             build elsewhere, or pass --adopt to build here and keep all of it (destroy \
             will leave it in place)",
            jail.display(),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ),
    ))
}

/// What built the jail so far plus this run's additions, without duplicates.
fn merged_request(prev: Option<&Request>, s: &BuildSettings) -> Request {
    let mut r = prev.cloned().unwrap_or_default();
    for b in &s.wanted.bins {
        if !r.bins.contains(b) {
            r.bins.push(b.clone());
        }
    }
    for f in &s.wanted.files {
        if !r.files.contains(f) {
            r.files.push(f.clone());
        }
    }
    for p in &s.profiles {
        if !r.profiles.contains(p) {
            r.profiles.push(p.clone());
        }
    }
    for b in &s.binds {
        r.binds.retain(|old| old.dst != b.dst);
        r.binds.push(b.clone());
    }
    r
}
