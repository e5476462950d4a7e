//! One jail build, end to end: gather from the host, plan, and (unless dry-run) apply and
//! record the state. Shared by `build` and the commands that build on it.

pub mod destroy;
pub mod preview;
pub mod store;
pub mod update;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::apply::executor::{ApplyOptions, ApplyReport};
use crate::apply::journal::{Journal, LinuxSystem};
use crate::apply::linux::LinuxHost;
use crate::apply::{Host, HostError};
use crate::exit::{Class, Classified, Classify};
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
    /// Build into a directory that is not empty and not a jailsmith jail, recording what
    /// is there as foreign (kept by `destroy`). Without it such a directory is refused.
    pub adopt: bool,
    /// Redefine the jail's request instead of adding to it (`build --replace`).
    pub replace: bool,
    /// Programs and profiles to take out of the jail's request (`--remove-bin`,
    /// `--remove-profile`), as recorded there.
    pub remove_bins: Vec<String>,
    pub remove_profiles: Vec<String>,
    /// Where the profiles the request names are searched first (`--profile-dir`).
    pub profile_dirs: Vec<PathBuf>,
    /// Run-time libraries (`--lib`): paths or globs, expanded into `wanted.libraries`.
    pub lib_patterns: Vec<String>,
    /// Directories searched as LD_LIBRARY_PATH would be (`--ld-library-path`).
    pub ld_library_path: Vec<String>,
    /// The ELF files `--file` copies bring their libraries (`--with-libs`).
    pub with_libs: bool,
    /// The jail's time zone (`--timezone`): etc/localtime and the zone's file.
    pub timezone: Option<String>,
    /// A private procfs at /proc, mounted by `jailsmith mount` (`--proc`).
    pub proc: bool,
    /// A private devpts instance at /dev/pts, mounted by `jailsmith mount` (`--devpts`).
    pub devpts: bool,
    /// Place copies from the shared store (`--store`: Some(true)), stop doing so
    /// (`--no-store`: Some(false)), or keep what the request records (None).
    pub store: Option<bool>,
    /// The host syslog socket bound at dev/log by `jailsmith mount` (`--log`), resolved.
    pub log: Option<PathBuf>,
    /// Plan and run the removal of what earlier runs placed and the request no longer needs
    /// (`update`; `check` lists them). Without it (`build`, which only adds) they are left
    /// in place, reported as `stale`, and stay in the manifest.
    pub prune: bool,
}

impl BuildSettings {
    /// The jail's desired state: what its saved request holds (unless `replace`), less the
    /// removals, plus this run's programs, files, profiles and binds; and these settings
    /// extended with what the recorded profiles add, so the plan covers the whole request
    /// (a `build --bin rsync` on a `basic-shell` jail keeps basic-shell).
    pub fn with_request(
        &self,
        previous: Option<&JailState>,
    ) -> anyhow::Result<(BuildSettings, Request)> {
        let mut req = match previous {
            Some(p) if !self.replace => p.request.clone(),
            // how the jail stores its files is no part of what it holds: --replace keeps it
            Some(p) => Request {
                store: p.request.store,
                ..Request::default()
            },
            None => Request::default(),
        };
        req.bins.retain(|b| !self.remove_bins.contains(b));
        req.profiles.retain(|p| !self.remove_profiles.contains(p));
        let req = merged_request(Some(&req), self);
        let mut s = self.clone();
        for b in &req.bins {
            if !s.wanted.bins.contains(b) {
                s.wanted.bins.push(b.clone());
            }
        }
        for f in &req.files {
            if !s.wanted.files.contains(f) {
                s.wanted.files.push(f.clone());
            }
        }
        let missing: Vec<String> = req
            .profiles
            .iter()
            .filter(|p| !s.profiles.contains(p))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let p = crate::profile::request::to_request(&missing, &self.profile_dirs)?;
            s.extra.entries.extend(p.extra.entries);
            s.extra.dirs.extend(p.extra.dirs);
            s.extra.devices.extend(p.extra.devices);
            s.extra.contents.extend(p.extra.contents);
            s.extra.binaries.extend(p.extra.binaries);
            for n in p.names {
                if !s.profiles.contains(&n) {
                    s.profiles.push(n);
                }
            }
        }
        s.binds = req.binds.clone();
        s.lib_patterns = req.libraries.clone();
        s.ld_library_path = req.ld_library_path.clone();
        s.with_libs = req.with_libs;
        s.timezone = req.timezone.clone();
        s.proc = req.proc;
        s.devpts = req.devpts;
        s.store = Some(req.store);
        s.log = req.log.clone();
        for lib in expand_libraries(&req.libraries)? {
            if !s.wanted.libraries.contains(&lib) {
                s.wanted.libraries.push(lib);
            }
        }
        if previous.is_some_and(|p| !p.services.is_empty()) {
            // mount points the jailed services' units need (`jailsmith service`)
            s.extra
                .dirs
                .extend(crate::service::files::mount_point_dirs());
        }
        Ok((s, req))
    }
}

/// `--lib` paths and globs → existing host files; a pattern that names nothing is bad input.
fn expand_libraries(patterns: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in patterns {
        let before = out.len();
        if p.contains(['*', '?', '[']) {
            let paths =
                glob::glob(p).map_err(|e| input(format!("--lib {p}: not a valid glob: {e}")))?;
            out.extend(paths.filter_map(Result::ok).filter(|f| f.is_file()));
        } else if Path::new(p).is_file() {
            out.push(PathBuf::from(p));
        }
        if out.len() == before {
            return Err(input(format!(
                "--lib {p}: no such library file on this host"
            )));
        }
    }
    Ok(out)
}

/// The result of a build.
pub struct Built {
    pub plan: Plan,
    pub report: ApplyReport,
    pub warnings: Vec<String>,
    pub elapsed_ms: u128,
}

/// A failure of a jail use case (build, update, destroy): a rule of its own, with its
/// class, or the error of a lower module carried up whole.
#[derive(Debug, thiserror::Error)]
pub enum JailError {
    /// Bad input: an option, a path, a jail jailsmith has no state for.
    #[error("{0}")]
    Input(String),
    /// Refused by a safety rule.
    #[error("{0}")]
    Refused(String),
    /// A host operation failed.
    #[error("{0}")]
    Host(String),
    /// The jail's state could not be read or saved (a host failure, whatever the cause).
    #[error("{0}")]
    State(state::StateError),
    /// A lower module's error, with its own class; shown by its own message.
    #[error("{0}")]
    Lower(Box<dyn Classified>),
}

impl JailError {
    pub fn lower(e: impl Classified) -> Self {
        JailError::Lower(Box::new(e))
    }
}

impl Classify for JailError {
    fn class(&self) -> Class {
        match self {
            JailError::Input(_) => Class::BadInput,
            JailError::Refused(_) => Class::Refused,
            JailError::Host(_) | JailError::State(_) => Class::HostFailure,
            JailError::Lower(e) => e.class(),
        }
    }
}

/// A lower module's error, as a jail use case returns it.
fn lower(e: impl Classified) -> anyhow::Error {
    anyhow::Error::new(JailError::lower(e))
}

/// The jail's state could not be read or saved.
fn state_failed(e: state::StateError) -> anyhow::Error {
    anyhow::Error::new(JailError::State(e))
}

fn input(message: String) -> anyhow::Error {
    anyhow::Error::new(JailError::Input(message))
}

fn refused(message: String) -> anyhow::Error {
    anyhow::Error::new(JailError::Refused(message))
}

/// Takes the state directory's lock (none for a dry run: it changes nothing): one
/// command that writes at a time per state directory.
pub fn lock_state(
    state_dir: &Path,
    dry_run: bool,
) -> anyhow::Result<Option<nix::fcntl::Flock<std::fs::File>>> {
    if dry_run {
        return Ok(None);
    }
    crate::account::hostfs::lock_dir(state_dir)
        .map(Some)
        .map_err(lower)
}

/// Refuses a jail path that exists and is not a directory, before anything is done.
fn check_jail_path(jail: &Path) -> anyhow::Result<()> {
    if !jail.is_absolute() {
        return Err(input(format!(
            "{}: the jail path must be absolute",
            jail.display()
        )));
    }
    match std::fs::symlink_metadata(jail) {
        Ok(m) if m.file_type().is_symlink() => Err(refused(format!(
            "{}: the jail path is a symbolic link; use its real path",
            jail.display()
        ))),
        Ok(m) if !m.is_dir() => Err(input(format!(
            "{}: exists and is not a directory",
            jail.display()
        ))),
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
            let bytes = host.read_file(&p).map_err(lower)?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
        Err(e) => Err(lower(e)),
    }
}

/// The deny-lists over everything a build is asked for (DESIGN §5.12): the jail path, each
/// bind (rw only into homes and the services' read-write paths) and each `--file`. Reads the
/// jail's state only for the services' read-write paths; writes nothing.
pub fn check_inputs(settings: &BuildSettings) -> anyhow::Result<()> {
    let denied = |e: crate::plan::denylist::Denied| lower(e);
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
            crate::apply::binds::check_source(b).map_err(lower)?;
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
    guard::jail(jail, state_dir).map_err(lower)
}

/// Gathers and plans the jail's whole request (see `BuildSettings::with_request`); opens
/// nothing for writing.
pub fn plan(settings: &BuildSettings) -> anyhow::Result<(Plan, Vec<String>)> {
    let previous = state::load(&settings.state_dir, &settings.jail).map_err(state_failed)?;
    let (plan, warnings, _) = plan_with(settings, previous.as_ref())?;
    Ok((plan, warnings))
}

/// `plan` against the jail's `previous` state, already loaded; also the merged request the
/// build would save.
fn plan_with(
    settings: &BuildSettings,
    previous: Option<&JailState>,
) -> anyhow::Result<(Plan, Vec<String>, Request)> {
    check_inputs(settings)?;
    check_jail_path(&settings.jail)?;
    let (settings, request) = settings.with_request(previous)?;
    let (mut plan, warnings) = plan_settings(&settings, previous)?;
    let removals = removals(&plan, previous);
    if settings.prune {
        plan.steps.extend(removals);
    }
    Ok((plan, warnings, request))
}

/// The removal steps for `plan` against the previous state's manifest (see
/// `plan::prune::removals`): the users' homes are the state's users'.
fn removals(plan: &Plan, previous: Option<&JailState>) -> Vec<crate::plan::Step> {
    match previous {
        Some(p) => crate::plan::prune::removals(plan, &p.manifest.recorded(), &p.users),
        None => Vec::new(),
    }
}

/// Gathers and plans exactly `settings`.
fn plan_settings(
    settings: &BuildSettings,
    previous: Option<&JailState>,
) -> anyhow::Result<(Plan, Vec<String>)> {
    let cfg = loader_config(&settings.ld_library_path);
    let mut wanted = settings.wanted.clone();
    let zone = match &settings.timezone {
        Some(z) => Some(crate::hostinfo::timezone::zone(z).map_err(lower)?),
        None => None,
    };
    wanted.files.extend(zone.iter().map(|z| z.file.clone()));
    let gathered = Gatherer::new(&cfg)
        .jobs(settings.jobs)
        .with_libs(settings.with_libs)
        .state_dir(&settings.state_dir)
        .gather_all(&wanted)
        .map_err(lower)?;
    // etc/localtime first: the first entry for a path wins over a profile's copy of the host's
    let mut entries: Vec<_> = zone.iter().map(|z| z.localtime()).collect();
    entries.extend(gathered.entries);
    let warnings = gathered.warnings;
    let existing = if settings.jail.is_dir() {
        Some(LinuxHost::open(&settings.jail, false).map_err(lower)?)
    } else {
        None
    };
    let mut warnings = warnings;
    let (accounts, gone) = match previous {
        Some(st) => jail_accounts(st, &crate::account::hostdb::HostDb::default())?,
        None => Default::default(),
    };
    for name in &gone {
        warnings.push(format!(
            "{}: {} is jailed here but has no account on this host any more: left out of \
             the jail's passwd and group (back when the account exists again; 'jailsmith \
             user {} --jail {} --remove' forgets it)",
            settings.jail.display(),
            crate::escape::text(name),
            crate::escape::text(name),
            settings.jail.display()
        ));
    }
    let (passwd, group) = crate::account::jailside::derived_files(&accounts);
    // the jail's own passwd is read only to say which of its lines go
    let there = read_existing(existing.as_ref(), "etc/passwd")?;
    let kept: Vec<&str> = accounts
        .iter()
        .map(|a| a.name.as_str())
        .chain(gone.iter().map(String::as_str))
        .collect();
    let dropped = crate::account::jaildb::left_out(&there, &kept);
    if !dropped.is_empty() {
        warnings.push(format!(
            "{}/etc/passwd held accounts jailsmith did not jail there ({}): left out of the \
             jail's passwd and group; 'jailsmith user NAME --jail {}' jails an account",
            settings.jail.display(),
            dropped
                .iter()
                .map(|n| crate::escape::text(n).into_owned())
                .collect::<Vec<_>>()
                .join(", "),
            settings.jail.display()
        ));
    }
    let mut req = base_request(entries, &passwd, &group);
    req.entries.extend(settings.extra.entries.iter().cloned());
    req.dirs.extend(settings.extra.dirs.iter().cloned());
    req.devices.extend(settings.extra.devices.iter().cloned());
    req.contents.extend(settings.extra.contents.iter().cloned());
    let caches: Vec<_> = gathered
        .ld_cache
        .into_iter()
        .chain(settings.extra.binaries.iter().cloned())
        .collect();
    let (caches, other): (Vec<_>, Vec<_>) = caches
        .into_iter()
        .partition(|b| b.path.to_string() == "/etc/ld.so.cache");
    req.binaries.extend(other);
    req.binaries
        .extend(crate::hostinfo::jailcache::merge(&caches));
    Ok((plan_build(&settings.jail, &req), warnings))
}

/// The journal: before the first object is placed, the state records the request and, for
/// every path the plan may create that no manifest entry names yet, a placeholder (see
/// `executor::placeholder`), and says a run is in progress. An interrupted build thus leaves
/// a state that `update`, `check` and `destroy` work from. Nothing is saved when the run
/// creates nothing new and the request is unchanged (a no-op rebuild writes no state).
fn save_journal(
    settings: &BuildSettings,
    previous: Option<&JailState>,
    request: &Request,
    plan: &Plan,
    host: &LinuxHost,
    foreign: &std::collections::BTreeSet<String>,
) -> anyhow::Result<()> {
    let mut st = previous
        .cloned()
        .unwrap_or_else(|| JailState::new(&settings.jail));
    if previous.is_none() {
        st.manifest.foreign = foreign.clone();
    }
    let mut new_paths = 0;
    for step in &plan.steps {
        let path = step.op.path();
        if st.manifest.get(path).is_none() {
            let there = host.stat(path).map_err(lower)?.is_some();
            st.manifest
                .insert(path, crate::apply::executor::placeholder(&step.op, there));
            new_paths += 1;
        }
    }
    if new_paths == 0 && previous.is_some_and(|p| p.request == *request && !p.in_progress) {
        return Ok(());
    }
    st.request = request.clone();
    st.in_progress = true;
    st.updated_unix = state::now_unix();
    state::save(&settings.state_dir, &st)
        .map_err(state_failed)
        .context("saving the jail's state before the build (its journal)")?;
    Ok(())
}

/// The accounts of a jail's etc/passwd, from the host's account database (never from the
/// jail's files): its jailed users, with their primary group's line when the host has that
/// group (as `user` writes it), and its services' accounts, with a group line named after
/// their group or, without one, the account (as `service` writes it). Names whose host
/// account is gone come back apart.
fn jail_accounts(
    st: &JailState,
    db: &crate::account::hostdb::HostDb,
) -> anyhow::Result<(Vec<crate::account::jailside::JailAccount>, Vec<String>)> {
    let groups = db.group_index().map_err(lower)?;
    let services = st.services.values().map(|s| (&s.user, true));
    let mut accounts = Vec::new();
    let mut gone = Vec::new();
    for (name, service) in st.users.iter().map(|u| (u, false)).chain(services) {
        let Some(entry) = db.entry(name).map_err(lower)? else {
            gone.push(name.clone());
            continue;
        };
        let group = groups.by_gid(entry.gid).map(|g| g.name.clone());
        let group = match service {
            true => Some(group.unwrap_or_else(|| name.clone())),
            false => group,
        };
        accounts.push(crate::account::jailside::JailAccount::of(&entry, group));
    }
    Ok((accounts, gone))
}

/// Why `with_written` could not record a file.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    State(#[from] state::StateError),
}

impl RecordError {
    pub fn exit_code(&self) -> u8 {
        match self {
            RecordError::Host(e) => e.exit_code(),
            RecordError::State(_) => crate::exit::HOST_FAILURE,
        }
    }
}

/// The jail's state with what is now at `paths` in its manifest (files jailsmith itself
/// just wrote outside a build: the passwd and group `user` rewrites), so `check` finds them
/// as placed; a path that is gone leaves the manifest. Not saved; None when nothing changed
/// or there is no state.
pub fn with_written(
    state_dir: &Path,
    jail: &Path,
    host: &dyn Host,
    paths: &[JailPath],
) -> Result<Option<state::JailState>, RecordError> {
    let Some(mut st) = state::load(state_dir, jail)? else {
        return Ok(None);
    };
    if !record_entries(&mut st, host, paths)? {
        return Ok(None);
    }
    st.updated_unix = state::now_unix();
    Ok(Some(st))
}

/// Records in `st`'s manifest what is now at `paths` in the jail (`host`); true when that
/// changed it.
pub fn record_entries(
    st: &mut state::JailState,
    host: &dyn Host,
    paths: &[JailPath],
) -> Result<bool, RecordError> {
    let mut changed = false;
    for p in paths {
        let entry = crate::apply::executor::written_entry(host, p)?;
        let before = st.manifest.get(p).cloned();
        match entry {
            Some(e) if before.as_ref() != Some(&e) => {
                st.manifest.insert(p, e);
                changed = true;
            }
            None if before.is_some() => {
                st.manifest.entries.remove(&p.to_string());
                changed = true;
            }
            _ => {}
        }
    }
    Ok(changed)
}

/// Plans, applies, and saves the state (only when something changed), through a journal
/// of its own (see `build_in`).
pub fn build(settings: &BuildSettings) -> anyhow::Result<Built> {
    build_in(settings, &mut Journal::new(&LinuxSystem, false))
}

/// Plans, applies through `journal` (the one executor: `Journal::apply_plan`), and saves
/// the state (only when something changed). A command that goes on with more host steps in
/// the same journal (`service`) builds here, so a later failure's roll-back says the jail's
/// files were kept (a build is finished forward, never undone).
pub fn build_in(settings: &BuildSettings, journal: &mut Journal<'_>) -> anyhow::Result<Built> {
    let start = Instant::now();
    check_inputs(settings)?;
    check_jail_path(&settings.jail)?;
    let previous = state::load(&settings.state_dir, &settings.jail).map_err(state_failed)?;
    let (settings, request) = settings.with_request(previous.as_ref())?;
    let settings = &settings;
    let (mut plan, warnings) = plan_settings(settings, previous.as_ref())?;
    let removals = removals(&plan, previous.as_ref());
    let stale = if settings.prune {
        plan.steps.extend(removals);
        Vec::new()
    } else {
        removals.iter().map(|s| s.op.path().to_string()).collect()
    };
    let host = LinuxHost::open(&settings.jail, true).map_err(lower)?;
    let host = if request.store {
        let st = crate::apply::store::Store::open(&settings.state_dir)
            .map_err(lower)
            .context("opening the shared store (build --store)")?;
        host.with_store(st).map_err(lower)?
    } else {
        host
    };
    let foreign = match &previous {
        Some(_) => Default::default(),
        None => foreign_objects(&host, settings.adopt)?,
    };
    save_journal(
        settings,
        previous.as_ref(),
        &request,
        &plan,
        &host,
        &foreign,
    )?;
    let interrupted = previous.as_ref().is_some_and(|p| p.in_progress);
    let empty = Default::default();
    let prev_manifest = previous.as_ref().map(|s| &s.manifest).unwrap_or(&empty);
    let opts = ApplyOptions {
        verify_content: settings.verify_content,
        jobs: settings.jobs,
    };
    let mut report = journal
        .apply_plan(&host, &plan, prev_manifest, interrupted, &opts)
        .map_err(lower)?;
    if report.swept > 0 {
        eprintln!(
            "jailsmith: removed {} temporaries an interrupted run left behind",
            report.swept
        );
    }
    report.stale = stale;
    report.manifest.foreign = match &previous {
        Some(p) => p.manifest.foreign.clone(),
        None => foreign,
    };
    // No fsync per file nor syncfs: files appear atomically by rename, and a copy a crash
    // left short no longer matches the size/mtime the manifest records, so the next build
    // copies it again.
    // What earlier builds placed and this plan does not remove stays in the manifest (the
    // executor keeps it): left in place, and still jailsmith's (for `update` to remove,
    // `destroy` to take away).
    let manifest = report.manifest.clone();
    let unlinked = previous
        .as_ref()
        .is_some_and(|p| store::unlinked_any(&p.manifest, &report));
    let unchanged_state = previous
        .as_ref()
        .is_some_and(|p| p.manifest == manifest && p.request == request && !p.in_progress);
    if !unchanged_state {
        let (users, limits, services, groups) = previous
            .map(|p| (p.users, p.limits, p.services, p.groups))
            .unwrap_or_default();
        let st = JailState {
            jail: state::canonical_jail(&settings.jail),
            request,
            manifest,
            users,
            limits,
            groups,
            services,
            updated_unix: state::now_unix(),
            in_progress: false,
        };
        state::save(&settings.state_dir, &st)
            .map_err(state_failed)
            .context("saving the jail's state")?;
    }
    // the store's lock is held shared until here; collecting takes it exclusively
    drop(host);
    if unlinked {
        store::collect_garbage(&settings.state_dir)?;
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
    check_inputs(settings)?;
    check_jail_path(&settings.jail)?;
    let known = state::load(&settings.state_dir, &settings.jail)
        .map_err(state_failed)?
        .is_some();
    if known || !settings.jail.is_dir() {
        return Ok(());
    }
    let host = LinuxHost::open(&settings.jail, false).map_err(lower)?;
    foreign_objects(&host, settings.adopt).map(|_| ())
}

/// A directory holding a host secret (a copy of the host's shadow, gshadow, SSH host keys,
/// sudoers, …) is not adopted: those files would stay in the jail as foreign objects. The
/// jail's own passwd and group are rewritten by the build, so they may be there.
fn refuse_adopted_secrets(
    jail: &Path,
    found: &std::collections::BTreeSet<String>,
) -> anyhow::Result<()> {
    let secrets: Vec<String> = found
        .iter()
        .filter(|p| !matches!(p.as_str(), "/etc/passwd" | "/etc/group"))
        .filter_map(|p| {
            crate::plan::denylist::host_secret(Path::new(p), &[]).map(|why| format!("{p} ({why})"))
        })
        .collect();
    if secrets.is_empty() {
        return Ok(());
    }
    Err(refused(format!(
        "refusing to adopt {}: it holds host secrets that have no place in a jail: {}; \
             remove them first",
        jail.display(),
        secrets.join(", ")
    )))
}

/// What is in a directory jailsmith has no state for. Empty: nothing. Otherwise refused
/// (exit REFUSED) with the list of what is there, unless `adopt`: then every object in it
/// (in-jail paths, escaped) is returned, to be recorded as foreign.
fn foreign_objects(
    host: &LinuxHost,
    adopt: bool,
) -> anyhow::Result<std::collections::BTreeSet<String>> {
    use crate::apply::tree::Decision;
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
    let walk = host.remove_below(&everything, true).map_err(lower)?;
    let found: std::collections::BTreeSet<String> = walk
        .removed
        .into_iter()
        .map(|(p, _)| p)
        .chain(walk.kept)
        .collect();
    if found.is_empty() {
        return Ok(found);
    }
    if adopt {
        refuse_adopted_secrets(jail, &found)?;
        return Ok(found);
    }
    let top: Vec<&String> = found
        .iter()
        .filter(|p| p.matches('/').count() == 1)
        .collect();
    let shown: Vec<String> = top.iter().take(20).map(|p| p.to_string()).collect();
    let more = top.len().saturating_sub(shown.len());
    Err(refused(format!(
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
    )))
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
    for l in &s.lib_patterns {
        if !r.libraries.contains(l) {
            r.libraries.push(l.clone());
        }
    }
    if !s.ld_library_path.is_empty() {
        r.ld_library_path = s.ld_library_path.clone();
    }
    r.with_libs |= s.with_libs;
    if s.timezone.is_some() {
        r.timezone = s.timezone.clone();
    }
    r.proc |= s.proc;
    r.devpts |= s.devpts;
    if let Some(store) = s.store {
        r.store = store;
    }
    if s.log.is_some() {
        r.log = s.log.clone();
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit;

    #[test]
    fn a_lower_error_keeps_its_class_and_shows_its_own_message_once() {
        let io = crate::apply::rootfile::RootFileError::Io {
            op: "write",
            path: "/etc/x".into(),
            source: std::io::ErrorKind::PermissionDenied.into(),
        };
        let message = io.to_string();
        let err = lower(io);
        assert_eq!(exit::code_of(&err), exit::HOST_FAILURE);
        // flat: the message names its cause, no second "caused by" line repeats it
        assert_eq!(err.to_string(), message);
        assert_eq!(err.chain().count(), 1);
        let refused = lower(crate::apply::rootfile::RootFileError::Unsafe {
            op: "write into",
            path: "/tmp".into(),
            why: "it is writable by group or others".into(),
        });
        assert_eq!(exit::code_of(&refused), exit::REFUSED);
        assert_eq!(exit::code_of(&input("x".into())), exit::BAD_INPUT);
        let state = state_failed(crate::state::StateError::Unsafe {
            path: "/var/lib/jailsmith".into(),
            why: "writable".into(),
        });
        // a state that cannot be read or saved is a host failure here, as it always was
        assert_eq!(exit::code_of(&state), exit::HOST_FAILURE);
    }
}
