//! Installing a jailed service (`jailsmith service`, and `apply` for each `[[service]]`):
//! the use case below the command line. Builds the jail with the command's closure (and
//! profiles), then (`steps`, through the one rollback journal) makes the system account,
//! puts it into the jail's passwd/group, records the service and writes a hardened systemd
//! unit with RootDirectory= and the resource limits; the build and those steps run through
//! one journal, and a failure after the build undoes those steps and keeps the build.
//! Every check on the input runs before anything is written. Returns a `ServiceReport` (a
//! dry run: what would be done, with its plan); progress and warnings go to stderr.

use std::path::{Path, PathBuf};

use super::files::{self, Written};
use super::steps::{Steps, systemctl_argv};
use super::unit::{UnitSpec, render_unit};
use crate::account::hostdb::{HostAccount, HostDb};
use crate::account::logindefs;
use crate::account::usage::{self, Usage};
use crate::apply::LinuxHost;
use crate::plan::{HostOp, HostStep};
use serde::Serialize;

use crate::exit::{Class, Classified, Classify};
use crate::hostinfo::find_program;
use crate::hostinfo::gather::Wanted;
use crate::jail::BuildSettings;
use crate::limits::enforce::{Subject, enforcement_warnings};
use crate::limits::options::{LimitArgs, resolve_io_device};
use crate::plan::denylist::{self, AccountFacts, AccountRole};
use crate::service::{self, ServiceError};

/// What one `jailsmith service` run asks for (the command line, or a `[[service]]` of an
/// `apply` spec): plain data, no clap.
#[derive(Clone, Debug)]
pub struct ServiceRequest {
    /// The unit's name (NAME.service).
    pub name: String,
    /// The jail (RootDirectory=), built or updated with what the command needs.
    pub jail: PathBuf,
    /// The command line, split with shell word rules (no shell runs it).
    pub exec: String,
    /// The account the service runs as (default: NAME): a system account (SYS_UID_MIN to
    /// SYS_UID_MAX of /etc/login.defs) that no jailed SSH user or other service uses, never
    /// root or nobody, in no privileged group (see `jailsmith user --help`).
    pub user: Option<String>,
    /// Create the account when missing: a system account with no home and no login shell.
    pub create_user: bool,
    /// Another program to copy into the jail (repeatable), as 'build --bin'.
    pub bins: Vec<PathBuf>,
    /// A data file or directory copied into the jail at the same path (repeatable).
    pub files: Vec<PathBuf>,
    pub profile: crate::profile::request::ProfileArgs,
    /// A path inside the jail the service may write (ReadWritePaths=); repeatable.
    pub read_write: Vec<String>,
    /// A port the program listens on (repeatable): allows AF_INET/AF_INET6; below 1024 also
    /// CAP_NET_BIND_SERVICE. Without --port and --allow-ip the service has no network.
    pub ports: Vec<u16>,
    /// A peer address or prefix the service may talk to (IPAddressAllow=, with
    /// IPAddressDeny=any); repeatable. 'localhost' allows the loopback addresses.
    pub allow_ips: Vec<String>,
    /// The program needs AF_UNIX sockets.
    pub allow_unix: bool,
    /// The program compiles code at run time (a JIT): no MemoryDenyWriteExecute=.
    pub allow_jit: bool,
    pub limits: LimitArgs,
    /// Where the unit file goes.
    pub unit_dir: PathBuf,
    /// Do not run 'systemctl daemon-reload' after writing the unit.
    pub no_reload: bool,
    /// Start (or restart, when the unit changed) the service after writing it.
    pub start: bool,
    /// Work out the unit and the plan of host operations; write nothing, create no account.
    pub dry_run: bool,
    /// Where jailsmith keeps its state about jails.
    pub state_dir: PathBuf,
}

/// Why a service could not be installed: a rule of this use case, or the error of a lower
/// module carried up whole with its class.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("--unit-dir {0}")]
    UnitDir(String),
    #[error("{}: the jail path must be absolute", .0.display())]
    RelativeJail(PathBuf),
    #[error("--exec: program {0:?} must be a name or an absolute path")]
    RelativeProgram(String),
    #[error(
        "--exec: program {0:?} not found (looked up in {path}; give an absolute path otherwise)",
        path = crate::hostinfo::programs::SECURE_PATH
    )]
    ProgramNotFound(String),
    #[error("no account {0} on this host; pass --create-user to create it")]
    NoAccount(String),
    #[error("refusing to run a jailed service as root: pass --user with an unprivileged account")]
    Root,
    #[error("refusing to run a jailed service as {user}: {why}")]
    Account { user: String, why: String },
    #[error("useradd did not create {0}")]
    NotCreated(String),
    /// A --read-write path that is not a jail path.
    #[error("{0}")]
    BadPath(String),
    /// The jail's state could not be read or saved.
    #[error("{0}")]
    State(crate::state::StateError),
    /// A lower module's error, with its own class; shown by its own message.
    #[error("{0}")]
    Lower(Box<dyn Classified>),
    /// A step after the build failed and the steps before it were undone (newest first);
    /// `rest` says that the build was kept and what could not be undone. The class is
    /// `error`'s.
    #[error("{error:#}\n  rolled back: {undone}{rest}")]
    RolledBack {
        error: anyhow::Error,
        undone: String,
        rest: String,
    },
}

impl Classify for InstallError {
    fn class(&self) -> Class {
        match self {
            InstallError::UnitDir(_) | InstallError::Root | InstallError::Account { .. } => {
                Class::Refused
            }
            InstallError::RelativeJail(_)
            | InstallError::RelativeProgram(_)
            | InstallError::ProgramNotFound(_)
            | InstallError::NoAccount(_)
            | InstallError::BadPath(_) => Class::BadInput,
            InstallError::NotCreated(_) | InstallError::State(_) => Class::HostFailure,
            InstallError::Lower(e) => e.class(),
            InstallError::RolledBack { error, .. } => Class::of_code(crate::exit::code_of(error)),
        }
    }
}

/// A lower module's error, as this use case returns it.
pub(super) fn lower(e: impl Classified) -> anyhow::Error {
    anyhow::Error::new(InstallError::Lower(Box::new(e)))
}

fn input(e: ServiceError) -> anyhow::Error {
    lower(e)
}

/// `service --json`: what one run changed (with --dry-run: what it would change). The
/// account, unit and systemctl fields of a dry run name what the real run then does.
#[derive(Debug, Serialize)]
pub struct ServiceReport {
    /// The service's name; its unit is NAME.service.
    pub service: String,
    /// The jail it runs in (RootDirectory=).
    pub jail: PathBuf,
    /// True with --dry-run: nothing was written, no account created.
    pub dry_run: bool,
    /// True when the jail, the account or the unit was created or changed; null with
    /// --dry-run.
    pub changed: Option<bool>,
    /// The account the service runs as.
    pub account: String,
    /// True when that account was created (with --dry-run: would be), a system account
    /// made by `useradd --system`.
    pub account_created: bool,
    /// The programs copied into the jail with every library they load: the command's
    /// program first, then each --bin.
    pub programs: Vec<String>,
    /// The profiles whose files were added to the jail.
    pub profiles: Vec<String>,
    /// The number of operations of the jail's plan (the build applies each, changing only
    /// what is not current).
    pub jail_operations: usize,
    /// The unit file.
    pub unit: PathBuf,
    /// What became of the unit file: `created`, `updated` or `unchanged`.
    pub unit_status: String,
    /// The unit's text, as written.
    pub unit_text: String,
    /// The --read-write directories created in the jail, owned by the account.
    pub read_write_created: Vec<String>,
    /// The systemctl commands run, each as its arguments (`daemon-reload`, `start
    /// NAME.service`); where systemd does not manage the unit directory they are printed
    /// for the administrator instead.
    pub systemctl: Vec<Vec<String>>,
    /// The host operations after the jail's build, in order, each an object with its kind
    /// `op` (`create_system_account`, `put_passwd_line`, `put_group_line`, `make_jail_dir`,
    /// `save_state`, `make_host_dir`, `write_root_file`, `reload_systemd`, `start_unit`), what
    /// it acts on (`name`, `path`, `unit`, …) and its `reason`: what was done (with --dry-run:
    /// what would be, step for step; the `uid`, `gid` and `owner` ids of an account still to
    /// be created are `"new"`, allocated by useradd in the real run). A failure undoes them,
    /// newest first.
    pub plan: Vec<HostStep>,
}

impl ServiceReport {
    /// The report as text: with --dry-run, the unit headed by its path, then its plan as
    /// comments (a run prints its progress on stderr only).
    pub fn lines(&self) -> Vec<String> {
        if !self.dry_run {
            return Vec::new();
        }
        let mut out = vec![
            format!("# {}", self.unit.display()),
            self.unit_text.trim_end_matches('\n').to_string(),
        ];
        if !self.plan.is_empty() {
            out.push("# plan after the jail's build:".into());
        }
        out.extend(self.plan.iter().map(|s| {
            let target = match s.op.jail_path() {
                Some(p) => format!("{}{p}", self.jail.display()),
                None => s.op.target(),
            };
            format!("#   would {} {target}: {}", s.op.verb(), s.reason)
        }));
        out
    }
}

/// What the command line asks for, checked; nothing read from the jail yet.
struct Checked {
    name: String,
    program: PathBuf,
    user: String,
    spec: UnitSpec,
}

/// Installs (or, with `dry_run`, works out) one service; progress and warnings go to
/// stderr. The caller holds the state directory's lock.
pub fn install(args: &ServiceRequest) -> anyhow::Result<ServiceReport> {
    let mut changed = false;
    let c = check(args)?;
    let account = service_account(args, &c.user)?;
    let crate::profile::request::ProfileExtra {
        mut extra,
        names: profiles,
        ..
    } = crate::profile::request::to_request(
        &args.profile.profiles,
        &args.profile.dirs.profile_dirs,
    )?;
    // PrivateTmp= mounts a private /var/tmp too: the mount point must exist in the jail, or
    // systemd would create it there itself (and fails to under a read-only jail).
    extra.dirs.extend(files::mount_point_dirs());
    let mut bins = vec![c.program.to_string_lossy().into_owned()];
    bins.extend(args.bins.iter().map(|b| b.to_string_lossy().into_owned()));
    let settings = BuildSettings {
        jail: args.jail.clone(),
        wanted: Wanted {
            bins,
            files: args.files.clone(),
            libraries: Vec::new(),
        },
        extra,
        profiles,
        state_dir: args.state_dir.clone(),
        verify_content: false,
        binds: Vec::new(),
        jobs: 0,
        adopt: false,
        profile_dirs: args.profile.dirs.profile_dirs.clone(),
        ..Default::default()
    };
    let mut spec = c.spec;
    for w in resolve_io_device(&mut spec.limits, &args.jail) {
        eprintln!("jailsmith: warning: {w}");
    }
    let facts = crate::hostinfo::limit_facts();
    for w in enforcement_warnings(&spec.limits, Subject::Service(&c.name), &facts) {
        eprintln!("jailsmith: warning: {w}");
    }
    let unit_path = args.unit_dir.join(format!("{}.service", c.name));
    let mut report = ServiceReport {
        service: c.name.clone(),
        jail: args.jail.clone(),
        dry_run: args.dry_run,
        changed: None,
        account: c.user.clone(),
        account_created: account.is_none(),
        programs: settings.wanted.bins.clone(),
        profiles: settings.profiles.clone(),
        jail_operations: 0,
        unit: unit_path.clone(),
        unit_status: String::new(),
        unit_text: String::new(),
        read_write_created: Vec::new(),
        systemctl: Vec::new(),
        plan: Vec::new(),
    };
    let mut build_plan = None;
    let mut journal = super::steps::journal(args);
    let host = if args.dry_run {
        let (plan, warnings) = crate::jail::plan(&settings)?;
        for w in warnings {
            eprintln!("jailsmith: warning: {w}");
        }
        report.jail_operations = plan.steps.len();
        build_plan = Some(plan);
        if args.jail.is_dir() {
            Some(LinuxHost::open(&args.jail, false).map_err(lower)?)
        } else {
            None
        }
    } else {
        // The jail first: a build that fails leaves no account behind.
        eprintln!("jailsmith: building {}", settings.jail.display());
        let built = crate::jail::build_in(&settings, &mut journal)?;
        changed |= !built.report.is_unchanged();
        report.jail_operations = built.plan.steps.len();
        for w in &built.warnings {
            eprintln!("jailsmith: warning: {w}");
        }
        Some(LinuxHost::open(&args.jail, true).map_err(lower)?)
    };
    let mut steps = Steps::new(args, host.as_ref(), journal);
    if let Some(plan) = &build_plan {
        steps = steps.after_build(plan);
    }
    match host_steps(&mut steps, args, &c.name, &mut spec, account, &mut report) {
        Ok(more) => changed |= more,
        Err(e) => return Err(steps.roll_back(e)),
    }
    report.plan = steps.into_plan();
    if args.dry_run {
        eprintln!(
            "jailsmith: dry run: jail {}: {} operations planned (programs: {}; profiles: {}); unit {}; nothing written",
            settings.jail.display(),
            report.jail_operations,
            settings.wanted.bins.join(", "),
            if settings.profiles.is_empty() {
                "none".to_string()
            } else {
                settings.profiles.join(", ")
            },
            unit_path.display()
        );
    } else {
        report.changed = Some(changed);
    }
    Ok(report)
}

/// Everything after the build, in order: the account, the jail's passwd/group lines, the
/// --read-write directories, the state record, the unit, systemctl. True when the account,
/// the jail's files or the unit changed.
fn host_steps(
    steps: &mut Steps,
    args: &ServiceRequest,
    name: &str,
    spec: &mut UnitSpec,
    account: Option<HostAccount>,
    report: &mut ServiceReport,
) -> anyhow::Result<bool> {
    let mut changed = false;
    if let Some(a) = &account {
        spec.group = a.group.clone().unwrap_or_else(|| a.entry.gid.to_string());
    }
    let account = match account {
        Some(a) => super::steps::jail_account(&a),
        None => {
            changed = true;
            let made = steps.create_account(&spec.user)?;
            spec.group = made.group.clone().unwrap_or_else(|| made.gid.to_string());
            made
        }
    };
    let lines_changed = steps.put_jail_lines(&account)?;
    changed |= lines_changed;
    report.read_write_created = steps.put_read_write_dirs(&spec.read_write, &account)?;
    report.unit_text = render_unit(spec);
    let record = files::ServiceRecord {
        user: spec.user.clone(),
        unit: report.unit.clone(),
        read_write: spec.read_write.clone(),
    };
    steps.record(name, record, lines_changed)?;
    // the unit last: systemd may load it as soon as it is there
    let written = steps.put_unit(&report.unit, &report.unit_text)?;
    changed |= written != Written::Unchanged;
    report.unit_status = status_word(written).into();
    let ops = systemctl_ops(args, name, written);
    report.systemctl = ops.iter().map(systemctl_argv).collect();
    steps.activate(ops)?;
    Ok(changed)
}

fn status_word(w: Written) -> &'static str {
    match w {
        Written::Unchanged => "unchanged",
        Written::Created => "created",
        Written::Updated => "updated",
    }
}

/// Every check on the options and the service account, writing nothing: what `apply` runs
/// for every service before its first write.
pub fn preflight(args: &ServiceRequest) -> anyhow::Result<()> {
    let c = check(args)?;
    service_account(args, &c.user).map(|_| ())
}

/// Every check on the options that needs no write: name, command, program, user, limits.
fn check(args: &ServiceRequest) -> anyhow::Result<Checked> {
    let name = service::unit_name(&args.name).map_err(input)?;
    let mut argv = service::split_exec(&args.exec).map_err(input)?;
    let limits = args.limits.parse()?;
    let allow_ips = args
        .allow_ips
        .iter()
        .map(|v| service::allow_ip(v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(input)?;
    let read_write = args
        .read_write
        .iter()
        .map(|v| service::read_write_path(v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(input)?;
    files::check_target_dir(&args.unit_dir).map_err(InstallError::UnitDir)?;
    if !args.jail.is_absolute() {
        return Err(InstallError::RelativeJail(args.jail.clone()).into());
    }
    crate::jail::refuse_jail(&args.jail, &args.state_dir)?;
    if argv[0].contains('/') && !argv[0].starts_with('/') {
        return Err(InstallError::RelativeProgram(argv[0].clone()).into());
    }
    let program =
        find_program(&argv[0]).ok_or_else(|| InstallError::ProgramNotFound(argv[0].clone()))?;
    argv[0] = program.to_string_lossy().into_owned();
    let user = args.user.clone().unwrap_or_else(|| name.clone());
    refuse_root_name(&user)?;
    let jail = crate::state::canonical_jail(&args.jail);
    let jail = service::jail_for_unit(&jail.to_string_lossy()).map_err(input)?;
    let spec = UnitSpec {
        name: name.clone(),
        jail,
        argv,
        user: user.clone(),
        group: user.clone(),
        ports: args.ports.clone(),
        allow_ips,
        read_write,
        allow_jit: args.allow_jit,
        allow_unix: args.allow_unix,
        limits,
    };
    Ok(Checked {
        name,
        program,
        user,
        spec,
    })
}

fn refuse_root_name(user: &str) -> anyhow::Result<()> {
    crate::account::name::validate(user).map_err(lower)?;
    if user == "root" {
        return Err(InstallError::Root.into());
    }
    Ok(())
}

/// The service account: found and allowed by the account rules, or None when
/// `--create-user` will create it. Missing without `--create-user` is bad input.
fn service_account(args: &ServiceRequest, user: &str) -> anyhow::Result<Option<HostAccount>> {
    let db = HostDb::default();
    let acc = db.lookup(user).map_err(lower)?;
    match acc {
        Some(a) => {
            refuse_account(args, &db, &a)?;
            Ok(Some(a))
        }
        None if args.create_user => Ok(None),
        None => Err(InstallError::NoAccount(user.to_string()).into()),
    }
}

/// The account rules of a service account (`plan::denylist`): a system account
/// (SYS_UID_MIN..SYS_UID_MAX, as `useradd --system` makes them), never root nor nobody, in
/// no privileged group, and used by no jailed SSH user nor another service.
fn refuse_account(args: &ServiceRequest, db: &HostDb, a: &HostAccount) -> anyhow::Result<()> {
    let refused = |why: String| {
        anyhow::Error::new(InstallError::Account {
            user: a.entry.name.clone(),
            why,
        })
    };
    let ranges = logindefs::read_ranges(Path::new(logindefs::PATH)).map_err(lower)?;
    let groups = db.groups(&a.entry).map_err(lower)?;
    let facts = AccountFacts {
        name: &a.entry.name,
        uid: a.entry.uid,
        groups: &groups,
    };
    if let Some(d) = denylist::refused_account(&facts, AccountRole::Service, &ranges) {
        return Err(refused(d.to_string()));
    }
    let name = service::unit_name(&args.name).map_err(input)?;
    let jail = crate::state::canonical_jail(&args.jail);
    let uses = usage::uses(&args.state_dir, &a.entry.name).map_err(lower)?;
    let other = uses.iter().find(|u| match u {
        Usage::Service { name: n, jail: j } => *n != name || *j != jail,
        Usage::Login { .. } => true,
    });
    match other {
        Some(u) => Err(refused(format!(
            "{u}; a service account serves one service only (pass --user with another, or --create-user)"
        ))),
        None => Ok(()),
    }
}

/// The systemctl operations a run makes: daemon-reload when the unit changed (unless
/// --no-reload), then start (restart, when the unit changed) with --start.
fn systemctl_ops(args: &ServiceRequest, name: &str, written: Written) -> Vec<HostOp> {
    let mut todo = Vec::new();
    if written != Written::Unchanged && !args.no_reload {
        todo.push(HostOp::ReloadSystemd);
    }
    if args.start {
        todo.push(HostOp::StartUnit {
            unit: format!("{name}.service"),
            restart: written == Written::Updated,
        });
    }
    todo
}
