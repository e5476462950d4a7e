//! `jailsmith mount` / `umount` below the command line: mount (or unmount) the mounts a
//! jail's state declares (its binds, and its own proc, devpts and log socket), and write
//! and enable one systemd `.mount` unit for each so they come back at boot. Every change is
//! a typed `HostOp` (`Mount` after what it needs made first, `mounts::prepare`; `Unmount`;
//! the units' operations) run through the one rollback journal; `apply::binds` makes and
//! checks the mounts. With `dry_run`, every check runs and the report says what would be
//! done; nothing changes. Prints nothing but progress on stderr; `cli::mount` prints the
//! report.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::unit::{devpts_unit_text, proc_unit_text, unit_name, unit_text};
use super::{DEVPTS_DIR, LOG_PATH, Own, PROC_DIR};
use crate::apply::LinuxHost;
use crate::apply::binds::{self, Done, OwnMount};
use crate::apply::journal::{Journal, LinuxSystem, describe_mount};
use crate::apply::rootfile::{self, Written};
use crate::exit::{Class, Classified, Classify};
use crate::plan::{HostOp, HostStep, JailPath, MountKind};
use crate::service::systemctl;
use crate::state::{self, JailState};

/// What one `jailsmith mount` asks for: plain data, no clap.
#[derive(Clone, Debug)]
pub struct MountRequest {
    /// The jail's root directory.
    pub jail: PathBuf,
    /// Where jailsmith keeps the state of each jail.
    pub state_dir: PathBuf,
    /// Also write and enable one systemd .mount unit per mount in this directory.
    pub systemd_unit_dir: Option<PathBuf>,
    /// Check and report; change nothing.
    pub dry_run: bool,
}

/// What one `jailsmith umount` asks for.
#[derive(Clone, Debug)]
pub struct UmountRequest {
    /// The jail's root directory.
    pub jail: PathBuf,
    /// Where jailsmith keeps the state of each jail.
    pub state_dir: PathBuf,
    /// Report what would be unmounted; change nothing.
    pub dry_run: bool,
}

/// Why `mount` or `umount` failed: a rule of its own, or a lower module's error carried up
/// whole with its class.
#[derive(Debug, thiserror::Error)]
pub enum MountsError {
    #[error("--systemd-unit-dir {}: must be an absolute path", .0.display())]
    RelativeUnitDir(PathBuf),
    /// A unit directory on a path someone else could swap.
    #[error("--systemd-unit-dir {0}")]
    UnsafeUnitDir(String),
    /// Writing or enabling the units failed and what was done was undone (newest first);
    /// the class is `error`'s.
    #[error("{error:#}\n  rolled back: {undone}{failed}")]
    RolledBack {
        error: anyhow::Error,
        undone: String,
        failed: String,
    },
    /// A lower module's error, with its own class; shown by its own message.
    #[error("{0}")]
    Lower(Box<dyn Classified>),
}

impl Classify for MountsError {
    fn class(&self) -> Class {
        match self {
            MountsError::RelativeUnitDir(_) => Class::BadInput,
            MountsError::UnsafeUnitDir(_) => Class::Refused,
            MountsError::RolledBack { error, .. } => Class::of_code(crate::exit::code_of(error)),
            MountsError::Lower(e) => e.class(),
        }
    }
}

fn lower(e: impl Classified) -> MountsError {
    MountsError::Lower(Box::new(e))
}

/// `mount --json` and `umount --json`: what was done to each of the jail's mounts (with
/// --dry-run: what would be; the real run then does exactly that, the host unchanged
/// meanwhile).
#[derive(Debug, Serialize)]
pub struct MountReport {
    /// The jail's root directory.
    pub jail: PathBuf,
    /// True with --dry-run: nothing was changed.
    pub dry_run: bool,
    /// Each mount the jail declares, in order: its binds, then its own proc, devpts and
    /// log socket.
    pub mounts: Vec<MountLine>,
    /// `mount --systemd-unit-dir`: each unit file.
    pub units: Vec<UnitLine>,
    /// The systemctl commands run to enable the units, each as its arguments; where
    /// systemd does not manage the directory they are printed for the administrator instead.
    pub systemctl: Vec<Vec<String>>,
    /// The host operations, in order, each an object with its kind `op` and its `reason`:
    /// for each mount not yet there, what it needs made in the jail and lacks
    /// (`make_jail_dir`: `path`, `mode`, `owner`, its mount point and missing parents;
    /// `make_jail_symlink`: `path` dev/ptmx, `target` pts/ptmx, for devpts;
    /// `make_placeholder`: `path` dev/log, for the log socket), then `mount` (`target` in
    /// the jail, `kind` `bind` with `source` and `rw`, `proc`, `devpts` with `gid`, or
    /// `log` with `source`); then with `mount --systemd-unit-dir` `make_host_dir`,
    /// `write_root_file` (`path`), `reload_systemd` and one `enable_unit` (`unit`) per
    /// unit; for `umount`, one `unmount` (`target`, `mount`, `mount_id`) per mount taken
    /// off. What was done (with --dry-run: what would be). systemctl is planned only where
    /// systemd manages the directory. A failure of `mount` undoes them, newest first: the
    /// mounts this run made are unmounted (those there before stay), what it made for them
    /// removed while still as made (anything else kept, and the error says so), the units
    /// it enabled disabled.
    pub plan: Vec<HostStep>,
}

/// `mounts`: one mount.
#[derive(Debug, Serialize)]
pub struct MountLine {
    /// `SRC:DST:ro|rw` for a bind, `proc:/proc`, `devpts:/dev/pts`, `log:SOCKET:/dev/log`
    /// (`log:/dev/log` for umount).
    pub mount: String,
    /// What was done: `mounted`, `remounted` (its flags fixed, or a stale log socket bound
    /// again), `already_mounted`, `unmounted` or `not_mounted`.
    pub done: Done,
}

/// `units`: one unit file.
#[derive(Debug, Serialize)]
pub struct UnitLine {
    /// The unit file.
    pub path: PathBuf,
    /// `created`, `updated` or `unchanged`.
    pub written: Written,
}

impl MountReport {
    fn new(jail: &Path, dry_run: bool) -> Self {
        MountReport {
            jail: jail.to_path_buf(),
            dry_run,
            mounts: Vec::new(),
            units: Vec::new(),
            systemctl: Vec::new(),
            plan: Vec::new(),
        }
    }

    fn push(&mut self, mount: String, done: Done) {
        self.mounts.push(MountLine { mount, done });
    }

    /// The report as text: `[would ]mount|remount|unmount MOUNT`, `already mounted MOUNT`,
    /// `not mounted MOUNT`, then `[would ]write UNIT` or `up to date UNIT`.
    pub fn lines(&self) -> Vec<String> {
        let dry = self.dry_run;
        let mut out: Vec<String> = self
            .mounts
            .iter()
            .map(|m| {
                let what = match (&m.done, dry) {
                    (Done::Mounted, false) => "mounted",
                    (Done::Mounted, true) => "would mount",
                    (Done::Remounted, false) => "remounted",
                    (Done::Remounted, true) => "would remount",
                    (Done::AlreadyMounted, _) => "already mounted",
                    (Done::Unmounted, false) => "unmounted",
                    (Done::Unmounted, true) => "would unmount",
                    (Done::NotMounted, _) => "not mounted",
                };
                format!("{what} {}", m.mount)
            })
            .collect();
        out.extend(self.units.iter().map(|u| {
            let what = match (u.written, dry) {
                (Written::Unchanged, _) => "up to date",
                (_, false) => "wrote",
                (_, true) => "would write",
            };
            format!("{what} {}", u.path.display())
        }));
        out
    }
}

/// The host's tty group (5 where it cannot be read).
fn tty_gid() -> u32 {
    nix::unistd::Group::from_name("tty")
        .ok()
        .flatten()
        .map_or(5, |g| g.gid.as_raw())
}

/// The deny-lists over the recorded binds (a state written before a rule existed, or by
/// hand): rw only into homes and the services' read-write paths.
fn refuse_binds(jail: &Path, state_dir: &Path, st: &JailState) -> Result<(), MountsError> {
    let rw_paths: Vec<crate::plan::JailPath> = st
        .services
        .values()
        .flat_map(|s| &s.read_write)
        .filter_map(|p| crate::plan::JailPath::new(p).ok())
        .collect();
    for b in &st.request.binds {
        crate::hostinfo::guard::bind(b, jail, state_dir, &rw_paths).map_err(lower)?;
    }
    super::nested::refuse_unmade(&st.request.binds).map_err(lower)
}

/// The jail (refused when on the deny-list), its state and a descriptor of its root.
fn open(jail: &Path, state_dir: &Path) -> anyhow::Result<(JailState, LinuxHost)> {
    crate::jail::refuse_jail(jail, state_dir)?;
    let st = state::load_existing(state_dir, jail)?;
    let host = LinuxHost::open(jail, false)
        .map_err(|e| lower(crate::apply::binds::MountError::from(e)))?;
    Ok((st, host))
}

/// The host every run changes.
static LINUX: LinuxSystem = LinuxSystem;

/// The mounts the jail declares, in order: its binds (an outer one before those below it),
/// then its own proc, devpts and log socket.
fn declared(st: &JailState) -> Vec<(JailPath, MountKind)> {
    let at = |p: &str| JailPath::new(p).expect("a valid jail path");
    let mut out: Vec<(JailPath, MountKind)> = super::nested::mount_order(&st.request.binds)
        .iter()
        .map(|b| {
            let kind = MountKind::Bind {
                source: b.src.clone(),
                rw: b.rw,
            };
            (b.dst.clone(), kind)
        })
        .collect();
    if st.request.proc {
        out.push((at(PROC_DIR), MountKind::Proc));
    }
    if st.request.devpts {
        out.push((at(DEVPTS_DIR), MountKind::Devpts { gid: tty_gid() }));
    }
    if let Some(src) = &st.request.log {
        let source = src.clone();
        out.push((at(LOG_PATH), MountKind::Log { source }));
    }
    out
}

/// Mounts what the jail declares (with `dry_run`: says what it would mount), each mount a
/// `HostOp::Mount` run through the one rollback journal after the steps that make what it
/// needs in the jail, then the units. A failure unmounts the mounts this run made, removes
/// what it made for them (while still as made) and undoes the units, newest first; what
/// was there before the run stays.
pub fn mount_jail(req: &MountRequest) -> anyhow::Result<MountReport> {
    let (st, host) = open(&req.jail, &req.state_dir)?;
    refuse_binds(&req.jail, &req.state_dir, &st)?;
    if let Some(dir) = &req.systemd_unit_dir {
        check_unit_dir(dir)?;
    }
    let mut report = MountReport::new(&req.jail, req.dry_run);
    let mut journal = Journal::new(&LINUX, req.dry_run);
    if let Err(error) = mount_and_put_units(req, &st, &host, &mut report, &mut journal) {
        let back = journal.roll_back(Some(&host));
        if back.is_empty() {
            return Err(error);
        }
        let (undone, failed) = back.summary();
        return Err(MountsError::RolledBack {
            error,
            undone,
            failed,
        }
        .into());
    }
    journal.commit();
    report.plan = journal.into_steps();
    Ok(report)
}

fn mount_and_put_units(
    req: &MountRequest,
    st: &JailState,
    host: &LinuxHost,
    report: &mut MountReport,
    journal: &mut Journal<'_>,
) -> anyhow::Result<()> {
    let dry = req.dry_run;
    // the directories this run makes for its mounts (a dry run: would make)
    let mut made = std::collections::BTreeSet::new();
    for (target, kind) in declared(st) {
        // every check first, changing nothing: what the operation will do (the dry run's
        // answer); the operation checks again as it acts
        let planned = binds::check_mount(host, &target, &kind).map_err(lower)?;
        let what = describe_mount(&target, &kind);
        if planned.done == Done::AlreadyMounted {
            report.push(what, Done::AlreadyMounted);
            continue;
        }
        let reason = match &kind {
            MountKind::Bind { .. } => "a declared bind (--bind)",
            MountKind::Proc => "the jail's own procfs (--proc)",
            MountKind::Devpts { .. } => "the jail's own ptys (--devpts)",
            MountKind::Log { .. } => "the host's syslog socket (--log)",
        };
        // a mount point inside another bind is in that bind's source, host data: it is
        // there already (`nested::refuse_unmade`), and nothing is made through the bind
        let inside_a_bind = matches!(kind, MountKind::Bind { .. })
            && super::nested::enclosing(&st.request.binds, &target).is_some();
        if planned.done == Done::Mounted && !inside_a_bind {
            // what the new mount needs made first, each its own step: a roll-back takes
            // away what this run made, after the mount
            for step in super::prepare::steps(host, &target, &kind, &mut made)
                .map_err(|e| lower(binds::MountError::from(e)))?
            {
                journal.execute(Some(host), step).map_err(lower)?;
            }
        }
        let op = HostOp::Mount {
            target,
            mount: kind,
        };
        let done = journal
            .execute(Some(host), HostStep::new(op, reason))
            .map_err(lower)?;
        let done = if dry || done.changed {
            planned.done
        } else {
            Done::AlreadyMounted
        };
        report.push(what, done);
    }
    if let Some(dir) = &req.systemd_unit_dir {
        let state_file = state::state_file(&req.state_dir, &st.jail);
        write_and_enable(dir, st, &state_file, dry, report, journal)?;
    }
    Ok(())
}

/// Unmounts what the jail declares, wherever it now is below the jail (with `dry_run`:
/// says what it would unmount), each mount a `HostOp::Unmount` of exactly the mount found
/// (by its mount ID). Nothing is put back on a failure: an unmount is what was asked.
pub fn umount_jail(req: &UmountRequest) -> anyhow::Result<MountReport> {
    let (st, host) = open(&req.jail, &req.state_dir)?;
    let own = Own::of(&st.request);
    let binds = &st.request.binds;
    let mut journal = Journal::new(&LINUX, req.dry_run);
    let mut bind_done = vec![Done::NotMounted; binds.len()];
    let mut own_done = [own.proc, own.devpts, own.log].map(|d| d.then_some(Done::NotMounted));
    // stacked mounts come off one at a time; bounded, in case something remounts
    for _ in 0..16 {
        let found = binds::mounted(&host, binds, own).map_err(lower)?;
        if found.is_empty() {
            break;
        }
        for f in found {
            let op = HostOp::Unmount {
                target: f.target,
                mount: f.what,
                mount_id: f.mount_id,
            };
            journal
                .execute(Some(&host), HostStep::new(op, "umount"))
                .map_err(lower)?;
            match (f.bind, f.own) {
                (Some(i), _) => bind_done[i] = Done::Unmounted,
                (None, Some(OwnMount::Proc)) => own_done[0] = Some(Done::Unmounted),
                (None, Some(OwnMount::Devpts)) => own_done[1] = Some(Done::Unmounted),
                (None, Some(OwnMount::Log)) => own_done[2] = Some(Done::Unmounted),
                (None, None) => {}
            }
        }
        if req.dry_run {
            break;
        }
    }
    let mut report = MountReport::new(&req.jail, req.dry_run);
    for (b, d) in binds.iter().zip(bind_done) {
        report.push(b.to_string(), d);
    }
    let kinds = [
        (PROC_DIR, "proc"),
        (DEVPTS_DIR, "devpts"),
        (LOG_PATH, "log"),
    ];
    for ((at, kind), d) in kinds.into_iter().zip(own_done) {
        if let Some(d) = d {
            report.push(format!("{kind}:{at}"), d);
        }
    }
    report.plan = journal.into_steps();
    Ok(report)
}

/// The unit files of the jail's mounts: (name, text), binds first.
fn unit_files(st: &JailState, state_file: &Path) -> Vec<(String, String)> {
    let jail = &st.jail;
    let mut out: Vec<(String, String)> = st
        .request
        .binds
        .iter()
        .map(|b| {
            let name = unit_name(&b.host_target(jail));
            (name, unit_text(jail, b, Some(state_file)))
        })
        .collect();
    let mut own = Vec::new();
    if let Some(b) = super::log_bind(&st.request) {
        own.push((LOG_PATH, unit_text(jail, &b, Some(state_file))));
    }
    if st.request.proc {
        own.push((PROC_DIR, proc_unit_text(jail, Some(state_file))));
    }
    if st.request.devpts {
        own.push((
            DEVPTS_DIR,
            devpts_unit_text(jail, tty_gid(), Some(state_file)),
        ));
    }
    for (at, text) in own {
        let target = jail.join(at.trim_start_matches('/'));
        out.push((unit_name(&target), text));
    }
    out
}

/// Before anything is mounted: the unit directory must be absolute, on a path only root
/// controls (`service::files::check_target_dir`).
fn check_unit_dir(dir: &Path) -> Result<(), MountsError> {
    if !dir.is_absolute() {
        return Err(MountsError::RelativeUnitDir(dir.to_path_buf()));
    }
    crate::service::files::check_target_dir(dir).map_err(MountsError::UnsafeUnitDir)
}

fn exec(journal: &mut Journal<'_>, op: HostOp, reason: &str) -> anyhow::Result<()> {
    journal
        .execute(None, HostStep::new(op, reason))
        .map(|_| ())
        .map_err(|e| lower(e).into())
}

/// Writes one `.mount` unit per mount into `dir`, then reloads systemd and enables them,
/// each a typed host operation run through the one rollback journal: `dir` is made root
/// 0755 when missing (an existing one must be root's alone), each unit goes through the
/// safe writer (a symlink planted at its name or at its temporary is refused, never
/// followed), and a unit already holding its text is not rewritten. With `dry`, only plans.
fn write_and_enable(
    dir: &Path,
    st: &JailState,
    state_file: &Path,
    dry: bool,
    report: &mut MountReport,
    journal: &mut Journal<'_>,
) -> anyhow::Result<()> {
    if std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        // there already: must be root's alone (a dry run's would_write checks the same,
        // opening it); nothing to make, nothing to undo
        if !dry {
            rootfile::ensure_dir(dir, 0o755).map_err(lower)?;
        }
    } else {
        let op = HostOp::MakeHostDir {
            path: dir.to_path_buf(),
            mode: 0o755,
        };
        exec(journal, op, "holds the mount units")?;
    }
    for (name, text) in unit_files(st, state_file) {
        let path = dir.join(&name);
        let written = rootfile::would_write(&path, text.as_bytes(), 0o644).map_err(lower)?;
        if written != Written::Unchanged {
            let op = HostOp::WriteRootFile {
                path: path.clone(),
                content: text.into(),
                mode: 0o644,
            };
            exec(journal, op, "the unit that mounts it again at boot")?;
        }
        report.units.push(UnitLine { path, written });
    }
    report.systemctl = enable_units(dir, &report.units, dry, journal)?;
    Ok(())
}

/// A unit that is only written does not come back at boot: it must be enabled (linked into
/// local-fs.target.wants). Done where systemd manages `dir`; elsewhere the commands are
/// printed for the administrator. Returns the commands (with `dry`: only that).
fn enable_units(
    dir: &Path,
    units: &[UnitLine],
    dry: bool,
    journal: &mut Journal<'_>,
) -> anyhow::Result<Vec<Vec<String>>> {
    if units.is_empty() {
        return Ok(Vec::new());
    }
    let mut ops = Vec::new();
    if units.iter().any(|u| u.written != Written::Unchanged) {
        ops.push((HostOp::ReloadSystemd, "systemd reads the units as written"));
    }
    for u in units {
        if let Some(n) = u.path.file_name() {
            let unit = n.to_string_lossy().into_owned();
            ops.push((HostOp::EnableUnit { unit }, "the mount comes back at boot"));
        }
    }
    let calls: Vec<Vec<String>> = ops.iter().map(|(op, _)| systemctl_argv(op)).collect();
    if !systemctl::manages(dir) {
        if !dry {
            systemctl::tell(&calls, dir);
        }
        return Ok(calls);
    }
    for (op, reason) in ops {
        let argv = systemctl_argv(&op).join(" ");
        exec(journal, op, reason)?;
        if !dry {
            eprintln!("jailsmith: systemctl {argv}");
        }
    }
    Ok(calls)
}

/// The arguments of `systemctl` for one of the operations above.
fn systemctl_argv(op: &HostOp) -> Vec<String> {
    match op {
        HostOp::EnableUnit { unit } => ["enable", "--quiet", unit]
            .into_iter()
            .map(String::from)
            .collect(),
        _ => vec!["daemon-reload".to_string()],
    }
}
