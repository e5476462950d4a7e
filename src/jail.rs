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
use crate::hostinfo::{guard, loader_config};
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

/// The deny-lists over everything a build is asked for (DESIGN §5.12): the jail path, each
/// bind (rw only into homes and the services' read-write paths) and each `--file`. Reads the
/// jail's state only for the services' read-write paths; writes nothing.
pub fn check_inputs(settings: &BuildSettings) -> anyhow::Result<()> {
    let denied = |e: crate::plan::denylist::Denied| coded(e.exit_code(), e);
    if !settings.jail.is_absolute() {
        return Ok(()); // check_jail_path says so, as bad input
    }
    guard::jail(&settings.jail, &settings.state_dir).map_err(denied)?;
    if !settings.binds.is_empty() {
        let rw_paths: Vec<JailPath> = state::load(&settings.state_dir, &settings.jail)
            .ok()
            .flatten()
            .map(|st| {
                st.services
                    .into_values()
                    .flat_map(|s| s.read_write)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .iter()
            .filter_map(|p| JailPath::new(p).ok())
            .collect();
        for b in &settings.binds {
            guard::bind(b, &settings.jail, &settings.state_dir, &rw_paths).map_err(denied)?;
            crate::mounts::apply::check_source(b).map_err(|e| coded(e.exit_code(), e))?;
        }
    }
    for f in &settings.wanted.files {
        guard::file(f, &settings.state_dir).map_err(denied)?;
    }
    Ok(())
}

/// Refuses a jail path of the jail deny-list (DESIGN §5.12) with exit 4: what every command
/// that takes a jail calls first, `--dry-run` included.
pub fn refuse_jail(jail: &Path, state_dir: &Path) -> anyhow::Result<()> {
    guard::jail(jail, state_dir).map_err(|e| coded(e.exit_code(), e))
}

/// Gathers and plans; opens nothing for writing.
pub fn plan(settings: &BuildSettings) -> anyhow::Result<(Plan, Vec<String>)> {
    check_inputs(settings)?;
    check_jail_path(&settings.jail)?;
    let cfg = loader_config(&[]);
    let (entries, warnings) = Gatherer::new(&cfg)
        .jobs(settings.jobs)
        .state_dir(&settings.state_dir)
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
    host.secure_root()
        .map_err(|e: HostError| coded(e.exit_code(), e))?;
    let empty = Default::default();
    let prev_manifest = previous.as_ref().map(|s| &s.manifest).unwrap_or(&empty);
    let opts = ApplyOptions {
        verify_content: settings.verify_content,
        jobs: settings.jobs,
    };
    let report = apply(&plan, &host, prev_manifest, &opts).map_err(|e| coded(e.exit_code(), e))?;
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
