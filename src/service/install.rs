//! Installing a jailed service (`jailsmith service`, and `apply` for each `[[service]]`):
//! the use case below the command line. Builds the jail with the command's closure (and
//! profiles), puts the service account into the jail's passwd/group, and writes a hardened
//! systemd unit with RootDirectory= and the resource limits. Every check on the input runs
//! before anything is written. Returns a `ServiceReport` (a dry run: what would be done);
//! progress and warnings go to stderr.

use std::path::{Path, PathBuf};

use super::files::{self, Written, put_file};
use super::systemctl;
use super::unit::{UnitSpec, render_unit};
use crate::account::hostdb::{HostAccount, HostDb};
use crate::account::usage::{self, Usage};
use crate::account::{jailside, logindefs, useradd};
use crate::apply::{Host, LinuxHost};
use serde::Serialize;

use crate::exit::{Class, Classified, Classify};
use crate::hostinfo::find_program;
use crate::hostinfo::gather::Wanted;
use crate::jail::BuildSettings;
use crate::limits::enforce::{Subject, enforcement_warnings};
use crate::limits::options::{LimitArgs, resolve_io_device};
use crate::plan::denylist::{self, AccountFacts, AccountRole};
use crate::plan::{JailPath, Owner};
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
    /// Print the unit and the jail plan; write nothing, create no account.
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
    /// systemctl failed.
    #[error("{0}")]
    Systemctl(String),
    /// The jail's state could not be read or saved.
    #[error("{0}")]
    State(crate::state::StateError),
    /// A lower module's error, with its own class; shown by its own message.
    #[error("{0}")]
    Lower(Box<dyn Classified>),
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
            InstallError::NotCreated(_) | InstallError::Systemctl(_) | InstallError::State(_) => {
                Class::HostFailure
            }
            InstallError::Lower(e) => e.class(),
        }
    }
}

/// A lower module's error, as this use case returns it.
fn lower(e: impl Classified) -> anyhow::Error {
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
}

impl ServiceReport {
    /// The report as text: with --dry-run, the unit headed by its path (a run prints its
    /// progress on stderr only).
    pub fn lines(&self) -> Vec<String> {
        if !self.dry_run {
            return Vec::new();
        }
        vec![
            format!("# {}", self.unit.display()),
            self.unit_text.trim_end_matches('\n').to_string(),
        ]
    }
}

/// What the command line asks for, checked; nothing read from the jail yet.
struct Checked {
    name: String,
    program: PathBuf,
    user: String,
    spec: UnitSpec,
}

/// The command without its report: true when something was created or changed (the
/// jail, the account, the unit). What `apply` calls per service; the caller holds the state
/// directory's lock.
pub fn converge(args: &ServiceRequest) -> anyhow::Result<bool> {
    install(args).map(|r| r.changed.unwrap_or(false))
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
    };
    if args.dry_run {
        dry_run(args, &settings, &spec, account.as_ref(), &mut report)?;
        return Ok(report);
    }
    // The jail first: a build that fails leaves no account behind.
    eprintln!("jailsmith: building {}", settings.jail.display());
    let built = crate::jail::build(&settings)?;
    changed |= !built.report.is_unchanged();
    report.jail_operations = built.plan.steps.len();
    for w in &built.warnings {
        eprintln!("jailsmith: warning: {w}");
    }
    let account = match account {
        Some(a) => a,
        None => {
            changed = true;
            create_account(&c.user)?
        }
    };
    spec.group = account
        .group
        .clone()
        .unwrap_or_else(|| account.entry.gid.to_string());
    let lines_changed = put_jail_lines(&args.jail, &account)?;
    changed |= lines_changed;
    report.read_write_created = put_read_write_dirs(&args.jail, &spec.read_write, &account)?;
    report.unit_text = render_unit(&spec);
    let written = put_file(&unit_path, &report.unit_text).map_err(lower)?;
    let record = files::ServiceRecord {
        user: account.entry.name.clone(),
        unit: unit_path.clone(),
        read_write: spec.read_write.clone(),
    };
    files::record_service(&args.state_dir, &args.jail, &c.name, record)
        .map_err(InstallError::State)?;
    if lines_changed {
        // the manifest records the passwd and group just written, so `check` does not see
        // them as modified (and the next build keeps the service's lines: it is recorded)
        let host = LinuxHost::open(&args.jail, false).map_err(lower)?;
        let paths = [jailside::passwd_path(), jailside::group_path()];
        crate::jail::record_written(&args.state_dir, &args.jail, &host, &paths).map_err(lower)?;
    }
    let what = match written {
        Written::Unchanged => "is up to date",
        Written::Created => "written",
        Written::Updated => "updated",
    };
    eprintln!("jailsmith: {} {what}", unit_path.display());
    changed |= written != Written::Unchanged;
    report.unit_status = status_word(written).into();
    report.systemctl = systemctl_calls(args, &c.name, written);
    activate(args, &report.systemctl)?;
    report.changed = Some(changed);
    Ok(report)
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

/// The login shell of a service account: nologin where the host has one.
fn nologin() -> &'static str {
    ["/usr/sbin/nologin", "/sbin/nologin"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("/bin/false")
}

/// `useradd --system --no-create-home --shell nologin --user-group USER`, argv only.
pub fn system_account_argv(user: &str, shell: &str) -> Vec<String> {
    [
        "--system",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        shell,
        "--user-group",
        "--comment",
        "jailsmith service account",
        "--",
        user,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn create_account(user: &str) -> anyhow::Result<HostAccount> {
    eprintln!("jailsmith: creating system account {user}");
    useradd::run("useradd", &system_account_argv(user, nologin())).map_err(lower)?;
    HostDb::default()
        .lookup(user)
        .map_err(lower)?
        .ok_or_else(|| InstallError::NotCreated(user.to_string()).into())
}

/// Adds the account's lines to the jail's etc/passwd and etc/group (through the Host API;
/// nothing in the jail is followed). Unchanged files are not rewritten. True when one was.
fn put_jail_lines(jail: &Path, account: &HostAccount) -> anyhow::Result<bool> {
    let host = LinuxHost::open(jail, true).map_err(lower)?;
    let passwd = jailside::read_text(&host, &jailside::passwd_path()).map_err(lower)?;
    let group = jailside::read_text(&host, &jailside::group_path()).map_err(lower)?;
    let group_name = account
        .group
        .clone()
        .unwrap_or_else(|| account.entry.name.clone());
    let (p, g) = jailside::with_user(
        passwd.as_deref(),
        group.as_deref(),
        &account.entry,
        &group_name,
    );
    let mut changed = false;
    for (path, before, text) in [
        (jailside::passwd_path(), passwd, p),
        (jailside::group_path(), group, g),
    ] {
        if before.as_deref() != Some(text.as_str()) {
            changed = true;
            jailside::write_etc(&host, &path, &text).map_err(lower)?;
            eprintln!(
                "jailsmith: {}{path}: added {}",
                jail.display(),
                account.entry.name
            );
        }
    }
    Ok(changed)
}

/// The `--read-write` directories missing in the jail (all of them when the jail is not
/// there yet), read through the Host API.
fn missing_dirs(host: Option<&LinuxHost>, paths: &[String]) -> anyhow::Result<Vec<JailPath>> {
    let mut out = Vec::new();
    for p in paths {
        let jp = JailPath::new(p).map_err(|e| InstallError::BadPath(e.to_string()))?;
        let there = match host {
            Some(h) => h.stat(&jp).map_err(lower)?,
            None => None,
        };
        if there.is_none() {
            out.push(jp);
        }
    }
    Ok(out)
}

/// Makes each missing `--read-write` directory inside the jail, owned by the service user,
/// 0700 (missing parents root 0755), through the Host API. An existing one is never chowned
/// (it could be /etc): a warning says when the service user cannot write it. Returns the
/// directories made.
fn put_read_write_dirs(
    jail: &Path,
    paths: &[String],
    account: &HostAccount,
) -> anyhow::Result<Vec<String>> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let host = LinuxHost::open(jail, true).map_err(lower)?;
    let owner = Owner {
        uid: account.entry.uid,
        gid: account.entry.gid,
    };
    let missing = missing_dirs(Some(&host), paths)?;
    for p in paths
        .iter()
        .filter(|p| !missing.iter().any(|m| m.to_string() == **p))
    {
        let jp = JailPath::new(p).map_err(|e| InstallError::BadPath(e.to_string()))?;
        let Some(m) = host.stat(&jp).map_err(lower)? else {
            continue;
        };
        let writable = (m.uid == owner.uid && m.mode & 0o200 != 0)
            || (m.gid == owner.gid && m.mode & 0o020 != 0)
            || m.mode & 0o002 != 0;
        if !writable {
            eprintln!(
                "jailsmith: warning: {}{p} exists and {} cannot write it; jailsmith \
                 does not change an existing object's owner",
                jail.display(),
                account.entry.name
            );
        }
    }
    let mut made = Vec::new();
    for jp in missing {
        for parent in jp.ancestors() {
            if host.stat(&parent).map_err(lower)?.is_none() {
                host.make_dir(&parent, 0o755, Owner::ROOT).map_err(lower)?;
            }
        }
        host.make_dir(&jp, 0o700, owner).map_err(lower)?;
        eprintln!(
            "jailsmith: {}{jp}: created, writable by {} only",
            jail.display(),
            account.entry.name
        );
        made.push(jp.to_string());
    }
    Ok(made)
}

fn dry_run(
    args: &ServiceRequest,
    settings: &BuildSettings,
    spec: &UnitSpec,
    account: Option<&HostAccount>,
    report: &mut ServiceReport,
) -> anyhow::Result<()> {
    let (plan, warnings) = crate::jail::plan(settings)?;
    for w in warnings {
        eprintln!("jailsmith: warning: {w}");
    }
    let mut spec = spec.clone();
    if let Some(a) = account {
        spec.group = a.group.clone().unwrap_or_else(|| a.entry.gid.to_string());
    } else {
        eprintln!(
            "jailsmith: dry run: would create the system account {} (useradd --system)",
            spec.user
        );
    }
    report.jail_operations = plan.steps.len();
    report.unit_text = render_unit(&spec);
    let host = if args.jail.is_dir() {
        Some(LinuxHost::open(&args.jail, false).map_err(lower)?)
    } else {
        None
    };
    report.read_write_created = missing_dirs(host.as_ref(), &spec.read_write)?
        .iter()
        .map(|p| p.to_string())
        .collect();
    let unit = &report.unit;
    let written = files::would_put_file(unit, &report.unit_text).map_err(lower)?;
    report.unit_status = status_word(written).into();
    report.systemctl = systemctl_calls(args, &report.service, written);
    eprintln!(
        "jailsmith: dry run: jail {}: {} operations planned (programs: {}; profiles: {}); unit {}; nothing written",
        settings.jail.display(),
        plan.steps.len(),
        settings.wanted.bins.join(", "),
        if settings.profiles.is_empty() {
            "none".to_string()
        } else {
            settings.profiles.join(", ")
        },
        unit.display()
    );
    Ok(())
}

/// The systemctl commands a run makes: daemon-reload when the unit changed (unless
/// --no-reload), then start (restart, when the unit changed) with --start.
fn systemctl_calls(args: &ServiceRequest, name: &str, written: Written) -> Vec<Vec<String>> {
    let unit = format!("{name}.service");
    let start_verb = if written == Written::Updated {
        "restart"
    } else {
        "start"
    };
    let mut todo = Vec::new();
    if written != Written::Unchanged && !args.no_reload {
        todo.push(vec!["daemon-reload".to_string()]);
    }
    if args.start {
        todo.push(vec![start_verb.to_string(), unit]);
    }
    todo
}

/// Runs the systemctl commands where systemd runs; otherwise says what to run.
fn activate(args: &ServiceRequest, calls: &[Vec<String>]) -> anyhow::Result<()> {
    let todo: Vec<Vec<&str>> = calls
        .iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    systemctl::run_or_tell(&todo, &args.unit_dir).map_err(|e| InstallError::Systemctl(e).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_account_is_created_without_home_or_shell() {
        let argv = system_account_argv("web", "/usr/sbin/nologin");
        assert!(argv.contains(&"--system".to_string()));
        assert!(argv.contains(&"--no-create-home".to_string()));
        assert_eq!(argv.last().unwrap(), "web");
        let i = argv.iter().position(|a| a == "--shell").unwrap();
        assert_eq!(argv[i + 1], "/usr/sbin/nologin");
    }
}
