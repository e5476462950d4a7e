//! `jailsmith apply`: converges the host to a validated `Spec` by calling the same code the
//! commands run (jail::build, user add/remove, service): the missing accounts in one batch,
//! `sshd -t` once before the first write, `sshd -T` once per block written, one reload.
//! Owns the "managed by apply" record; never shells out to jailsmith.

pub mod record;

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::account::hostfs;
use crate::account::usecase as user;
use crate::apply::journal::{Journal, LinuxSystem};
use crate::hostinfo::gather::Wanted;
use crate::jail::BuildSettings;
use crate::jail::destroy;
use crate::jail::preview::Preview;
use crate::limits::options::LimitArgs;
use crate::mounts::Bind;
use crate::profile::request::{DirArgs, ProfileArgs};
use crate::service::install as service;
use crate::service::systemctl::{self, UnitRemoval};
use crate::spec::{LimitsSpec, ServiceSpec, Spec, UserSpec, is_key_text};
use crate::sshd::{SshdError, mainconfig, reload};
use crate::state;
use record::{ManagedService, ManagedUser, Record};

/// Where things go on this host (the same options as `user`, `service` and `build`).
#[derive(Clone, Debug)]
pub struct Options {
    /// The spec's directory: relative key files are read from there.
    pub spec_dir: PathBuf,
    pub prune: bool,
    pub dry_run: bool,
    pub sshd: crate::sshd::paths::SshdPaths,
    pub state_dir: PathBuf,
    pub systemd_dir: PathBuf,
    pub unit_dir: PathBuf,
    pub profile_dirs: Vec<PathBuf>,
    pub no_reload: bool,
}

/// `actions`: one thing apply did (or, with --dry-run, would do).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Action {
    /// What it acts on: `jail`, `user`, `service` or `sshd`.
    pub kind: &'static str,
    /// The jail's path, the user's or service's name, or sshd's main configuration file.
    pub name: String,
    /// `create`, `update`, `remove` or `reload`.
    pub action: &'static str,
    /// One line per change, as the text output prints them (a user's: `ACTION OBJECT
    /// TARGET`; a jail's: its counts, `N created, N updated, N unchanged`, with --dry-run
    /// `N to add, N to update`); absent when there is nothing more to say.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// The steps the action performed, in order (with --dry-run: the ones the real run
    /// would perform), each with its `op` and `reason`. A user's or a service's are host
    /// operations, as `user --json` and `service --json` list them; a jail's are the steps
    /// of its plan that change the jail, as `update --json` lists them (`"op":
    /// "copy_file"`, …). Absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<ActionStep>,
}

/// One step of an action's plan: a host operation (a user's, a service's) or a step of a
/// jail's plan; serialised as the step itself.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum ActionStep {
    Host(crate::plan::HostStep),
    Jail(crate::plan::Step),
}

/// Host operations as an action's plan.
fn host_steps(steps: Vec<crate::plan::HostStep>) -> Vec<ActionStep> {
    steps.into_iter().map(ActionStep::Host).collect()
}

/// A jail's changing steps as an action's plan.
fn jail_steps(steps: Vec<crate::plan::Step>) -> Vec<ActionStep> {
    steps.into_iter().map(ActionStep::Jail).collect()
}

/// apply --json: what the run changed, in the order it happened; with --dry-run, what it
/// would change (each jail is planned: its action lists the steps the real run performs).
/// A jail's whole plan (every object it holds, changed or not) is `jailsmith build JAIL
/// --dry-run --json`'s.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// False when the host already was as the spec says (nothing was, or would be, done).
    pub changed: bool,
    /// True with --dry-run: nothing was changed.
    pub dry_run: bool,
    /// What was (or would be) done, in order: each with `kind`, `name`, `action`, and
    /// `details` and the `plan` of its steps.
    pub actions: Vec<Action>,
    /// Warnings, as printed on stderr; absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

struct Converger<'a> {
    o: &'a Options,
    actions: Vec<Action>,
    warnings: Vec<String>,
    dropins_changed: bool,
    /// (user, jail) of every user converged or pruned.
    user_jails: Vec<(String, PathBuf)>,
}

/// A failure of apply's own steps, naming the spec entry it concerns; its exit class is
/// the cause's (`crate::exit`), the same as the command that entry stands for.
#[derive(Debug, thiserror::Error)]
pub enum ConvergeError {
    /// `jailsmith user`'s failure for one `[[user]]`.
    #[error("user {name}: {error}")]
    User {
        name: String,
        error: user::UserError,
    },
    #[error("user {name}: key file {}: {error}", path.display())]
    KeyFile {
        name: String,
        path: PathBuf,
        error: std::io::Error,
    },
    /// A pruned service's unit could not be removed.
    #[error("{0}")]
    Unit(String),
    /// A user failed after the account batch: the accounts the batch made for it and for
    /// the users after it (none of them jailed) were deleted. Its class is `error`'s.
    #[error("{error:#}\n  deleted the accounts made for users not jailed: {undone}{failed}")]
    AccountsTakenBack {
        error: anyhow::Error,
        undone: String,
        failed: String,
    },
}

fn user_err(u: &user::UserRequest) -> impl FnOnce(user::UserError) -> ConvergeError + '_ {
    move |error| ConvergeError::User {
        name: u.name.clone(),
        error,
    }
}

impl Converger<'_> {
    fn act(&mut self, kind: &'static str, name: impl ToString, action: &'static str) {
        self.actions.push(Action {
            kind,
            name: name.to_string(),
            action,
            details: Vec::new(),
            plan: Vec::new(),
        });
    }
}

/// Converges the host to `spec`. Host-side checks (key files, bind sources, profiles) run
/// before the first write.
pub fn converge(spec: &Spec, o: &Options) -> anyhow::Result<Outcome> {
    refuse_jails(spec, o)?;
    let jails = jail_settings(spec, o)?;
    let mut users = spec
        .user
        .iter()
        .map(|u| user_args(u, o))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // with sshd -t passed before the first write, each add checks its blocks with -T alone
    let tested = preflight_sshd(&users, o)?;
    for u in &mut users {
        u.sshd_checked = tested;
    }
    preflight_accounts(spec, &users, o)?;
    // One run at a time per state directory, as `user` (taken after every check, so an
    // invalid spec or host leaves even the state directory alone).
    let _lock = if o.dry_run {
        None
    } else {
        Some(hostfs::lock_dir(&o.state_dir).map_err(anyhow::Error::new)?)
    };
    let old = record::load(&o.state_dir).map_err(anyhow::Error::new)?;
    let mut c = Converger {
        o,
        actions: Vec::new(),
        warnings: Vec::new(),
        dropins_changed: false,
        user_jails: Vec::new(),
    };
    let mut new = Record::default();
    let mut created_jails = Vec::new();
    for s in &jails {
        if converge_jail(&mut c, s)? {
            created_jails.push(s.jail.clone());
        }
        new.jails.push(s.jail.clone());
    }
    for s in &spec.service {
        converge_service(&mut c, s)?;
        new.services.push(ManagedService {
            name: s.name.get_ref().clone(),
            jail: s.jail.get_ref().clone(),
            unit_dir: o.unit_dir.clone(),
        });
    }
    // the missing accounts in one batch; each user's run below finds its account in place.
    // The journal holds each account the batch made until its user's run succeeds: a run
    // that fails takes back its own and those of the users after it, newest first.
    let mut made = Journal::new(&LINUX, o.dry_run);
    let mut created = if o.dry_run {
        user::Created::default()
    } else {
        user::create_missing(&users, &mut made).map_err(anyhow::Error::new)?
    };
    for (i, (u, a)) in spec.user.iter().zip(&users).enumerate() {
        if o.dry_run && created_jails.contains(&a.jail) {
            c.act("user", &a.name, "create");
        } else if let Err(e) = user::join_group(&users, &mut created, i)
            .map_err(anyhow::Error::new)
            .and_then(|()| converge_user(&mut c, a))
        {
            return Err(take_back(&mut made, e));
        } else if created.names.contains(&a.name) {
            made.commit_target(&format!("account {}", a.name));
            mark_created(&mut c, &created, &a.name);
        }
        new.users.push(ManagedUser {
            name: u.name.get_ref().clone(),
            jail: u.jail.get_ref().clone(),
            delete_account: u.delete_account,
        });
    }
    prune_or_keep(&mut c, &old, &mut new)?;
    settle_manifests(&c, &jails)?;
    finish_sshd(&mut c)?;
    if !o.dry_run && new != old {
        record::save(&o.state_dir, &new).map_err(anyhow::Error::new)?;
    }
    Ok(Outcome {
        changed: !c.actions.is_empty(),
        dry_run: o.dry_run,
        actions: c.actions,
        warnings: c.warnings,
    })
}

/// Before the first write: when the spec jails users, sshd's main config must include their
/// jails' blocks, and pass `sshd -t` now when one of those blocks is still to be written
/// (a spec whose blocks are all in place runs no sshd). True when `sshd -t` ran and passed.
fn preflight_sshd(users: &[user::UserRequest], o: &Options) -> anyhow::Result<bool> {
    if users.is_empty() {
        return Ok(false);
    }
    let sshd = o.sshd.validator();
    let text = std::fs::read_to_string(&sshd.main).map_err(|source| SshdError::Io {
        op: "read",
        path: sshd.main.clone(),
        source,
    })?;
    let mut changes = false;
    let mut seen = std::collections::HashSet::new();
    for u in users {
        let (_, dropin) = user::sshd_block(u).map_err(user_err(u))?;
        if !seen.insert(dropin.clone()) {
            continue;
        }
        if !mainconfig::includes_file(&text, &dropin) {
            let e = SshdError::NotIncluded {
                main: sshd.main.clone(),
                dir: o.sshd.sshd_config_dir.clone(),
                dropin,
            };
            return Err(anyhow::Error::new(e));
        }
        changes = changes || user::changes_sshd(u).map_err(user_err(u))?;
    }
    if changes {
        sshd.test().map_err(anyhow::Error::new)?;
    }
    Ok(changes)
}

/// The account rules (and every other check that writes nothing) of each user and service,
/// before the first jail is built.
fn preflight_accounts(spec: &Spec, users: &[user::UserRequest], o: &Options) -> anyhow::Result<()> {
    for u in users {
        user::preflight(u).map_err(user_err(u))?;
    }
    for s in &spec.service {
        service::preflight(&service_args(s, o))
            .with_context(|| format!("service {}", s.name.get_ref()))?;
    }
    Ok(())
}

/// The jail deny-list over every jail the spec names (jails, users' and services' jails),
/// before anything else.
fn refuse_jails(spec: &Spec, o: &Options) -> anyhow::Result<()> {
    let jails = spec.jail.iter().map(|j| j.path.get_ref());
    let users = spec.user.iter().map(|u| u.jail.get_ref());
    let services = spec.service.iter().map(|s| s.jail.get_ref());
    for j in jails.chain(users).chain(services) {
        crate::jail::refuse_jail(j, &o.state_dir)?;
    }
    Ok(())
}

/// Build settings for every `[[jail]]`, profiles loaded and bind sources checked.
fn jail_settings(spec: &Spec, o: &Options) -> anyhow::Result<Vec<BuildSettings>> {
    let mut out = Vec::new();
    for j in &spec.jail {
        let path = j.path.get_ref();
        let profile = ProfileArgs {
            profiles: j.profiles.clone(),
            dirs: DirArgs {
                profile_dirs: o.profile_dirs.clone(),
            },
        };
        let crate::profile::request::ProfileExtra {
            extra,
            names: profiles,
            binds: profile_binds,
        } = crate::profile::request::to_request(&profile.profiles, &profile.dirs.profile_dirs)
            .with_context(|| format!("jail {}", path.display()))?;
        let mut binds = Vec::new();
        for b in &j.binds {
            binds.push(Bind::parse(b.get_ref())?);
        }
        let spec_targets: Vec<_> = binds.iter().map(|b: &Bind| b.dst.clone()).collect();
        binds.extend(
            profile_binds
                .into_iter()
                .filter(|b| !spec_targets.contains(&b.dst)),
        );
        let settings = BuildSettings {
            jail: path.clone(),
            wanted: Wanted {
                bins: j.bins.clone(),
                files: j.files.clone(),
                libraries: Vec::new(),
            },
            extra,
            profiles,
            binds,
            state_dir: o.state_dir.clone(),
            verify_content: false,
            jobs: 0,
            adopt: false,
            profile_dirs: o.profile_dirs.clone(),
            proc: j.proc,
            devpts: j.devpts,
            log: (j.log || j.log_socket.is_some())
                .then(|| crate::mounts::log::resolve(j.log_socket.as_deref()))
                .transpose()
                .with_context(|| format!("jail {}", path.display()))?,
            store: j.store,
            ..Default::default()
        };
        crate::jail::check_inputs(&settings).with_context(|| format!("jail {}", path.display()))?;
        out.push(settings);
    }
    Ok(out)
}

/// Builds the jail (or, in a dry run, plans it and works out what the build would change);
/// true when it does not exist.
fn converge_jail(c: &mut Converger, s: &BuildSettings) -> anyhow::Result<bool> {
    let previous = state::load(&c.o.state_dir, &s.jail).map_err(anyhow::Error::new)?;
    let verb = if previous.is_some() {
        "update"
    } else {
        "create"
    };
    let missing = previous.is_none() || !s.jail.is_dir();
    if c.o.dry_run {
        let p = crate::jail::preview::preview(s)?;
        c.warnings.extend(p.warnings.iter().cloned());
        if missing || !p.is_empty() {
            let counts = format!("{} to add, {} to update", p.added.len(), p.updated.len());
            jail_act(c, s, verb, counts, p.plan);
        }
        return Ok(missing);
    }
    eprintln!("jailsmith: apply: jail {}", s.jail.display());
    let built = crate::jail::build(s)?;
    let p = Preview::of_build(&built);
    c.warnings.extend(p.warnings.iter().cloned());
    let r = &built.report;
    if !r.is_unchanged() {
        let counts = format!(
            "{} created, {} updated, {} unchanged",
            r.created, r.updated, r.unchanged
        );
        jail_act(c, s, verb, counts, p.plan);
    }
    Ok(false)
}

/// A jail's action: its counts and the steps of its plan that change it.
fn jail_act(
    c: &mut Converger,
    s: &BuildSettings,
    verb: &'static str,
    counts: String,
    plan: Vec<crate::plan::Step>,
) {
    c.act("jail", s.jail.display(), verb);
    let done = c.actions.last_mut().expect("just pushed");
    done.details = vec![counts];
    done.plan = jail_steps(plan);
}

fn limit_args(l: Option<&LimitsSpec>) -> LimitArgs {
    let l = l.cloned().unwrap_or_default();
    LimitArgs {
        memory_max: l.memory_max,
        memory_high: l.memory_high,
        cpu_quota: l.cpu_quota,
        cpu_weight: l.cpu_weight,
        tasks_max: l.tasks_max,
        io_read_max: l.io_read_max,
        io_write_max: l.io_write_max,
    }
}

/// `jailsmith user` arguments for one `[[user]]`; key files must be readable now.
fn user_args(u: &UserSpec, o: &Options) -> anyhow::Result<user::UserRequest> {
    let mut keys = Vec::new();
    let mut key_texts = Vec::new();
    for k in u.keys.get_ref() {
        if is_key_text(k) {
            key_texts.push(k.trim().to_string());
            continue;
        }
        let p = o.spec_dir.join(k);
        std::fs::metadata(&p).map_err(|error| ConvergeError::KeyFile {
            name: u.name.get_ref().clone(),
            path: p.clone(),
            error,
        })?;
        keys.push(p);
    }
    Ok(user::UserRequest {
        name: u.name.get_ref().clone(),
        jail: u.jail.get_ref().clone(),
        create: u.create,
        shell: u.shell.clone(),
        uid: u.uid,
        keys,
        key_texts,
        add_keys: Vec::new(),
        sftp_only: u.sftp_only,
        remove: false,
        delete_home: false,
        delete_account: false,
        kill_sessions: false,
        sshd: o.sshd.clone(),
        state_dir: o.state_dir.clone(),
        no_reload: true,
        dry_run: o.dry_run,
        left_before: Vec::new(),
        systemd_dir: o.systemd_dir.clone(),
        limits: limit_args(u.limits.as_ref().map(|l| l.get_ref())),
        deny_network: u.deny_network,
        allow_ip: u
            .allow_ips
            .as_ref()
            .map(|a| a.get_ref().clone())
            .unwrap_or_default(),
        // set by converge once preflight_sshd has run `sshd -t`
        sshd_checked: false,
    })
}

/// Adds or removes one user through the user command's code; sshd is reloaded once later.
fn converge_user(c: &mut Converger, a: &user::UserRequest) -> anyhow::Result<()> {
    c.user_jails.push((a.name.clone(), a.jail.clone()));
    let report = user::converge(a).map_err(user_err(a))?;
    c.warnings.extend(
        report
            .warnings
            .into_iter()
            .filter(|w| !w.starts_with("--no-reload")),
    );
    if report.changes.is_empty() {
        return Ok(());
    }
    use user::{Action, Object};
    c.dropins_changed |= report.changes.iter().any(|ch| ch.object == Object::Dropin);
    let created = report.changes.iter().any(|ch| {
        matches!(
            (ch.action, ch.object),
            (Action::Create, Object::Account | Object::Dropin) | (Action::Add, Object::Member)
        )
    });
    let action = if a.remove {
        "remove"
    } else if created {
        "create"
    } else {
        "update"
    };
    c.act("user", &a.name, action);
    let done = c.actions.last_mut().expect("just pushed");
    done.details = report
        .changes
        .iter()
        .map(|ch| format!("{} {} {}", ch.action, ch.object, ch.target))
        .collect();
    done.plan = host_steps(report.plan);
    Ok(())
}

/// A user whose account the batch made: its action is a creation that says so (and names
/// the group the account joined with the batch).
fn mark_created(c: &mut Converger, created: &user::Created, name: &str) {
    let mut lines = vec![format!("create account {name}")];
    if let Some((_, g)) = created.joined.iter().find(|(n, _)| n == name) {
        lines.push(format!("add member {g}"));
    }
    match c.actions.last_mut() {
        Some(a) if a.kind == "user" && a.name == name => {
            a.action = "create";
            a.details.splice(0..0, lines);
        }
        _ => {
            c.act("user", name, "create");
            c.actions.last_mut().expect("just pushed").details = lines;
        }
    }
}

/// The host every run changes.
static LINUX: LinuxSystem = LinuxSystem;

/// When a user's run failed: the accounts the batch made that no successful run committed
/// (its own and those of the users after it, none of them jailed) are deleted, newest
/// first, as the failed run of a `user --create` takes its account back.
fn take_back(made: &mut Journal<'_>, error: anyhow::Error) -> anyhow::Error {
    let back = made.roll_back(None);
    if back.is_empty() {
        return error;
    }
    let (undone, failed) = back.summary();
    ConvergeError::AccountsTakenBack {
        error,
        undone,
        failed,
    }
    .into()
}

fn service_args(s: &ServiceSpec, o: &Options) -> service::ServiceRequest {
    service::ServiceRequest {
        name: s.name.get_ref().clone(),
        jail: s.jail.get_ref().clone(),
        exec: s.exec.clone(),
        user: s.user.clone(),
        create_user: s.create_user,
        bins: s.bins.clone(),
        files: s.files.clone(),
        profile: ProfileArgs {
            profiles: s.profiles.clone(),
            dirs: DirArgs {
                profile_dirs: o.profile_dirs.clone(),
            },
        },
        read_write: s.read_write.clone(),
        ports: s.ports.clone(),
        allow_ips: s.allow_ips.clone(),
        allow_unix: s.allow_unix,
        allow_jit: s.allow_jit,
        limits: limit_args(s.limits.as_ref().map(|l| l.get_ref())),
        unit_dir: o.unit_dir.clone(),
        no_reload: o.no_reload,
        start: s.start,
        dry_run: o.dry_run,
        state_dir: o.state_dir.clone(),
    }
}

fn unit_path(unit_dir: &Path, name: &str) -> PathBuf {
    let n = name.strip_suffix(".service").unwrap_or(name);
    unit_dir.join(format!("{n}.service"))
}

fn converge_service(c: &mut Converger, s: &ServiceSpec) -> anyhow::Result<()> {
    let name = s.name.get_ref();
    let existed = unit_path(&c.o.unit_dir, name).exists();
    let verb = if existed { "update" } else { "create" };
    if c.o.dry_run {
        // the service's own dry run plans its steps; one that needs what this run would
        // make first (a spec user's account) cannot, and is named by its unit alone
        match service::install(&service_args(s, c.o)) {
            // a start of the unit alone is no change: the real run starts a running unit
            // and reports nothing changed
            Ok(r)
                if r.account_created
                    || r.unit_status != "unchanged"
                    || r.plan
                        .iter()
                        .any(|st| !matches!(st.op, crate::plan::HostOp::StartUnit { .. })) =>
            {
                c.act("service", name, verb);
                c.actions.last_mut().expect("just pushed").plan = host_steps(r.plan);
            }
            Ok(_) => {}
            Err(e) if !existed => {
                c.warnings.push(format!(
                    "service {name}: its steps cannot be planned before the run: {e:#}"
                ));
                c.act("service", name, "create");
            }
            Err(e) => return Err(e.context(format!("service {name}"))),
        }
        return Ok(());
    }
    let report =
        service::install(&service_args(s, c.o)).with_context(|| format!("service {name}"))?;
    if report.changed.unwrap_or(false) {
        c.act("service", name, verb);
        c.actions.last_mut().expect("just pushed").plan = host_steps(report.plan);
    }
    Ok(())
}

/// With --prune, removes what the record holds and the spec no longer names; without it,
/// keeps those in the record so a later --prune finds them.
fn prune_or_keep(c: &mut Converger, old: &Record, new: &mut Record) -> anyhow::Result<()> {
    let gone_users: Vec<ManagedUser> = old
        .users
        .iter()
        .filter(|u| !new.users.iter().any(|n| n.name == u.name))
        .cloned()
        .collect();
    let gone_services: Vec<ManagedService> = old
        .services
        .iter()
        .filter(|s| !new.services.iter().any(|n| n.name == s.name))
        .cloned()
        .collect();
    let gone_jails: Vec<PathBuf> = old
        .jails
        .iter()
        .filter(|j| !new.jails.contains(j))
        .cloned()
        .collect();
    if !c.o.prune {
        new.users.extend(gone_users);
        new.services.extend(gone_services);
        new.jails.extend(gone_jails);
        return Ok(());
    }
    // a dry run takes no one out: the next removal from the same jail plans as if the
    // earlier ones were gone (the group goes with its last member, as in the real run)
    let mut pruned: std::collections::BTreeMap<PathBuf, Vec<String>> = Default::default();
    for u in gone_users {
        let before = pruned.entry(u.jail.clone()).or_default();
        prune_user(c, &u, before)?;
        if c.o.dry_run {
            before.push(u.name.clone());
        }
    }
    for s in gone_services {
        prune_service(c, &s)?;
    }
    for j in gone_jails {
        if !prune_jail(c, &j)? {
            new.jails.push(j);
        }
    }
    Ok(())
}

fn prune_user(c: &mut Converger, u: &ManagedUser, before: &[String]) -> anyhow::Result<()> {
    let o = c.o;
    let dirs = user::UserDirs {
        sshd: o.sshd.clone(),
        state_dir: o.state_dir.clone(),
        systemd_dir: o.systemd_dir.clone(),
    };
    let mut a =
        user::UserRequest::removal(&u.name, &u.jail, dirs, u.delete_account, true, o.dry_run);
    if o.dry_run {
        a.left_before = before.to_vec();
    }
    converge_user(c, &a)
}

fn prune_service(c: &mut Converger, s: &ManagedService) -> anyhow::Result<()> {
    let path = unit_path(&s.unit_dir, &s.name);
    if !path.exists() {
        return Ok(());
    }
    c.act("service", &s.name, "remove");
    if c.o.dry_run {
        return Ok(());
    }
    if systemctl::remove_unit(&s.name, &path).map_err(ConvergeError::Unit)? == UnitRemoval::NotAFile
    {
        c.warnings.push(format!(
            "{} is not a regular file; left alone",
            path.display()
        ));
        return Ok(());
    }
    c.warnings.push(format!(
        "removed {}; its jail {} is left in place (jailsmith destroy takes it down); run 'systemctl daemon-reload' where systemd manages it",
        path.display(),
        s.jail.display()
    ));
    Ok(())
}

/// Takes a jail apply built down (its files, never the users' homes); false when it still
/// holds users apply does not manage (then it is left alone).
fn prune_jail(c: &mut Converger, jail: &Path) -> anyhow::Result<bool> {
    let o = c.o;
    let Some(st) = state::load(&o.state_dir, jail).map_err(anyhow::Error::new)? else {
        return Ok(true);
    };
    let others: Vec<&String> = st
        .users
        .iter()
        .filter(|u| !c.actions.iter().any(|a| a.kind == "user" && &a.name == *u))
        .collect();
    if !others.is_empty() {
        c.warnings.push(format!(
            "not pruning jail {}: it still jails users apply does not manage ({})",
            jail.display(),
            others
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return Ok(false);
    }
    c.act("jail", jail.display(), "remove");
    if o.dry_run {
        return Ok(true);
    }
    destroy::run(destroy::DestroyRequest {
        jail: jail.to_path_buf(),
        purge: false,
        kill_sessions: false,
        dry_run: false,
        sshd: o.sshd.clone(),
        no_reload: true,
        state_dir: o.state_dir.clone(),
        report_to_stderr: true,
        forget_state: true,
    })
    .with_context(|| format!("pruning jail {}", jail.display()))?;
    Ok(true)
}

/// A user added or removed rewrites the jail's etc/passwd and etc/group after the build
/// recorded them: build the touched jails again (their files are current, nothing is copied)
/// so the manifest records those files as they are now, and the next run finds the state
/// unchanged instead of rewriting it.
fn settle_manifests(c: &Converger, jails: &[BuildSettings]) -> anyhow::Result<()> {
    if c.o.dry_run {
        return Ok(());
    }
    let touched: Vec<&Path> = c
        .actions
        .iter()
        .filter(|a| a.kind == "user")
        .filter_map(|a| c.user_jails.iter().find(|(n, _)| *n == a.name))
        .map(|(_, j)| j.as_path())
        .collect();
    for s in jails.iter().filter(|s| touched.contains(&s.jail.as_path())) {
        crate::jail::build(s)?;
    }
    Ok(())
}

/// One reload, only when a drop-in changed. No `sshd -t` here: the preflight ran it before
/// the first write, and each change was checked where it was made (an add's block with
/// `sshd -T -C user=…`, which parses the whole configuration; a removal with `sshd -t`).
fn finish_sshd(c: &mut Converger) -> anyhow::Result<()> {
    if !c.dropins_changed {
        return Ok(());
    }
    let sshd = c.o.sshd.validator();
    if c.o.dry_run {
        // the reload the real run makes, named as it would be
        if !c.o.no_reload {
            c.act("sshd", sshd.main.display(), "reload");
        }
        return Ok(());
    }
    if c.o.no_reload {
        c.warnings.push(
            "--no-reload: sshd was not reloaded; new logins see the change only after a reload"
                .into(),
        );
        return Ok(());
    }
    let use_systemd = reload::systemd_is_init() && sshd.main == Path::new("/etc/ssh/sshd_config");
    let how = reload::reload(&sshd, use_systemd).map_err(anyhow::Error::new)?;
    c.act("sshd", sshd.main.display(), "reload");
    c.actions.last_mut().expect("just pushed").details = vec![how];
    Ok(())
}
