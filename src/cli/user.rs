//! `jailsmith user NAME --jail JAIL`: turns a host account into a key-only SSH account that
//! lands inside the jail (or takes it out again with `--remove`). Every step records how to
//! undo it; a failure part-way undoes what was done, so the host is left as it was.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::account::hostdb::{HostAccount, HostDb, PasswdEntry};
use crate::account::useradd::{self, Modify, NO_PASSWORD, Wanted};
use crate::account::{AccountError, hostfs, jailside, keys, logindefs, name, sessions};
use crate::apply::{Host, HostError, LinuxHost};
use crate::exit;
use crate::plan::{JailPath, Owner};
use crate::sshd::dropin::{self, DropIn};
use crate::sshd::validate::{self, Sshd};
use crate::sshd::{SshdError, chroot, mainconfig, reload};
use crate::state::{self, JailState, StateError};

/// Jail a host account in sshd: key-only login that lands inside JAIL.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The account (existing; or missing with --create).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The jail the account lands in (sshd's ChrootDirectory).
    #[arg(long, value_name = "JAIL")]
    pub jail: PathBuf,
    /// Create the account when it does not exist (useradd; no home on the host).
    #[arg(long, conflicts_with = "remove")]
    pub create: bool,
    /// Login shell, as a path inside the jail; it must exist there.
    #[arg(long, default_value = "/bin/bash", value_name = "PATH")]
    pub shell: String,
    /// uid of a created account (at least UID_MIN of /etc/login.defs).
    #[arg(long, value_name = "UID")]
    pub uid: Option<u32>,
    /// A public key file (repeatable); every line must be a valid OpenSSH public key.
    #[arg(long = "key", value_name = "FILE")]
    pub keys: Vec<PathBuf>,
    /// A public key given inline ('ssh-ed25519 AAAA… comment'); repeatable.
    #[arg(long = "key-text", value_name = "KEY")]
    pub key_texts: Vec<String>,
    /// sftp only: ForceCommand internal-sftp, no TTY.
    #[arg(long)]
    pub sftp_only: bool,
    /// Take the user out of the jail: keys, drop-in, the jail's passwd/group lines.
    #[arg(long)]
    pub remove: bool,
    /// With --remove: delete JAIL/home/NAME too.
    #[arg(long, requires = "remove")]
    pub delete_home: bool,
    /// With --remove: delete the host account too (userdel, never its host home).
    #[arg(long, requires = "remove")]
    pub delete_account: bool,
    /// Root-owned directory of the authorized_keys files (one per user).
    #[arg(long, default_value = "/etc/ssh/authorized_keys", value_name = "DIR")]
    pub authorized_keys_dir: PathBuf,
    /// sshd's drop-in directory (the main config must Include it).
    #[arg(long, default_value = "/etc/ssh/sshd_config.d", value_name = "DIR")]
    pub sshd_config_dir: PathBuf,
    /// sshd's main config, for `sshd -t` / `sshd -T` and the Include check.
    #[arg(long, default_value = "/etc/ssh/sshd_config", value_name = "FILE")]
    pub sshd_config: PathBuf,
    /// The sshd binary used for validation.
    #[arg(long, default_value = "/usr/sbin/sshd", value_name = "PATH")]
    pub sshd: PathBuf,
    /// Where jailsmith keeps its state about jails.
    #[arg(long, default_value = state::DEFAULT_STATE_DIR, value_name = "DIR")]
    pub state_dir: PathBuf,
    /// Do not reload sshd after changing its drop-ins.
    #[arg(long)]
    pub no_reload: bool,
    /// Print what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print what changed as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Then log in as NAME with this private key and run `jailsmith verify`'s checks against
    /// this sshd (its port and HostKeys, pinned); exits with verify's code (0/1/2/3).
    #[arg(long, value_name = "PRIVATE_KEY", conflicts_with_all = ["remove", "dry_run", "no_reload"])]
    pub verify_with: Option<PathBuf>,
}

/// A failure of `jailsmith user`, carrying the module error that caused it.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Sshd(#[from] SshdError),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Refused(String),
    #[error("{error}\n  rolled back: {undone}{failed}")]
    RolledBack {
        error: Box<UserError>,
        undone: String,
        failed: String,
    },
}

impl UserError {
    pub fn code(&self) -> u8 {
        match self {
            UserError::Account(e) => e.code(),
            UserError::Sshd(e) => e.code(),
            UserError::Host(e) => e.exit_code(),
            UserError::State(_) => exit::HOST_FAILURE,
            UserError::Input(_) => exit::BAD_INPUT,
            UserError::Refused(_) => exit::REFUSED,
            UserError::RolledBack { error, .. } => error.code(),
        }
    }
}

/// One change made (or, with --dry-run, to be made).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Change {
    /// account, keys, home, passwd, group, dropin, sshd, sessions, state
    pub object: &'static str,
    /// create, update, remove, reload, end
    pub action: &'static str,
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The report of one run, printed as text or JSON.
#[derive(Debug, Serialize)]
pub struct Report {
    pub user: String,
    pub jail: PathBuf,
    pub operation: &'static str,
    pub dry_run: bool,
    pub up_to_date: bool,
    pub changes: Vec<Change>,
    pub warnings: Vec<String>,
}

/// How to put one step back.
enum Undo {
    HostFile {
        path: PathBuf,
        before: Option<String>,
        mode: u32,
    },
    UserAdd(String),
    UserMod(String, Modify),
    HostDir(PathBuf),
    JailFile(JailPath, Option<String>),
    JailDir(JailPath),
}

/// The run in progress: what changed, and how to undo it.
struct Run<'a> {
    args: &'a Args,
    dry: bool,
    changes: Vec<Change>,
    undo: Vec<Undo>,
    warnings: Vec<String>,
}

impl Run<'_> {
    fn change(&mut self, object: &'static str, action: &'static str, target: impl ToString) {
        self.changes.push(Change {
            object,
            action,
            target: target.to_string(),
            detail: None,
        });
    }

    fn detail(&mut self, detail: impl Into<String>) {
        if let Some(c) = self.changes.last_mut() {
            c.detail = Some(detail.into());
        }
    }

    /// Undoes every recorded step, newest first; wraps `error` with what happened.
    fn roll_back(&mut self, host: Option<&dyn Host>, error: UserError) -> UserError {
        if self.undo.is_empty() {
            return error;
        }
        let mut undone = Vec::new();
        let mut failed = Vec::new();
        while let Some(u) = self.undo.pop() {
            let (what, r): (String, Result<(), UserError>) = match u {
                Undo::HostFile { path, before, mode } => (
                    path.display().to_string(),
                    hostfs::restore(&path, before.as_deref(), mode).map_err(Into::into),
                ),
                Undo::UserAdd(n) => (
                    format!("account {n}"),
                    useradd::run("userdel", &useradd::delete_argv(&n)).map_err(Into::into),
                ),
                Undo::UserMod(n, back) => (
                    format!("account {n}"),
                    useradd::run("usermod", &useradd::modify_argv(&n, &back)).map_err(Into::into),
                ),
                Undo::HostDir(p) => (
                    p.display().to_string(),
                    std::fs::remove_dir(&p).map_err(|e| AccountError::io("remove", &p)(e).into()),
                ),
                Undo::JailFile(p, before) => (in_jail(host, &p), undo_jail_file(host, &p, before)),
                Undo::JailDir(p) => (
                    in_jail(host, &p),
                    host.map_or(Ok(()), |h| h.remove_dir(&p).map(|_| ()).map_err(Into::into)),
                ),
            };
            match r {
                Ok(()) => undone.push(what),
                Err(e) => failed.push(format!("{what}: {e}")),
            }
        }
        UserError::RolledBack {
            error: Box::new(error),
            undone: undone.join(", "),
            failed: if failed.is_empty() {
                String::new()
            } else {
                format!("\n  could NOT roll back: {}", failed.join("; "))
            },
        }
    }
}

/// A jail path as the host sees it, for messages only (never used to reach the file).
fn in_jail(host: Option<&dyn Host>, p: &JailPath) -> String {
    match host {
        Some(h) => format!("{}{p}", h.root().display()),
        None => p.to_string(),
    }
}

fn undo_jail_file(
    host: Option<&dyn Host>,
    p: &JailPath,
    before: Option<String>,
) -> Result<(), UserError> {
    let Some(h) = host else { return Ok(()) };
    match before {
        Some(text) => h.write_file(p, text.as_bytes(), 0o644, Owner::ROOT)?,
        None => {
            h.remove(p)?;
        }
    }
    Ok(())
}

/// Runs the command; prints the report; returns the exit code.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let mut r = Run {
        args: &args,
        dry: args.dry_run,
        changes: Vec::new(),
        undo: Vec::new(),
        warnings: Vec::new(),
    };
    let result = if args.remove {
        remove(&mut r)
    } else {
        add(&mut r)
    };
    for w in &r.warnings {
        eprintln!("jailsmith: warning: {w}");
    }
    let jail = result.map_err(|e| anyhow::Error::new(exit::Coded::new(e.code(), e.to_string())))?;
    let report = Report {
        user: args.name.clone(),
        jail,
        operation: if args.remove { "remove" } else { "add" },
        dry_run: args.dry_run,
        up_to_date: r.changes.is_empty(),
        changes: r.changes,
        warnings: r.warnings,
    };
    print_report(&report, args.json);
    if let Some(key) = &args.verify_with {
        let sshd = Sshd {
            binary: args.sshd.clone(),
            main: args.sshd_config.clone(),
        };
        return crate::cli::verify::after_user(
            &sshd,
            &args.name,
            &report.jail,
            &args.state_dir,
            key,
            args.json,
        );
    }
    Ok(exit::OK)
}

fn print_report(r: &Report, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(r).expect("report serialises")
        );
        return;
    }
    if r.up_to_date {
        println!("{} in {}: up to date", r.user, r.jail.display());
        return;
    }
    let verb = if r.dry_run { "would " } else { "" };
    for c in &r.changes {
        match &c.detail {
            Some(d) => println!("{verb}{} {} {}: {d}", c.action, c.object, c.target),
            None => println!("{verb}{} {} {}", c.action, c.object, c.target),
        }
    }
}

/// Refuses an invalid name and root.
fn check_name(n: &str) -> Result<(), UserError> {
    name::validate(n)?;
    if n == "root" {
        return Err(UserError::Refused(
            "refusing to jail root: root must never be a jailed account".into(),
        ));
    }
    Ok(())
}

/// The jail as an absolute, lexically clean path sshd can be given.
fn jail_path(p: &Path) -> Result<PathBuf, UserError> {
    let abs =
        std::path::absolute(p).map_err(|e| UserError::Input(format!("{}: {e}", p.display())))?;
    let mut out = PathBuf::from("/");
    for c in abs.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                return Err(UserError::Input(format!(
                    "{}: give the jail without '..'",
                    p.display()
                )));
            }
            _ => {}
        }
    }
    if out == Path::new("/") {
        return Err(UserError::Refused("refusing / as a jail".into()));
    }
    dropin::check_path(&out)?;
    Ok(out)
}

/// The uid rule: never root, never below UID_MIN.
fn check_uid(name: &str, uid: u32, uid_min: u32) -> Result<(), UserError> {
    if uid < uid_min {
        return Err(UserError::Refused(format!(
            "refusing to jail {name}: uid {uid} is below UID_MIN {uid_min} of {} (a system account)",
            logindefs::PATH
        )));
    }
    Ok(())
}

/// The authorized_keys text: from --key/--key-text, or the existing file when none given.
fn gather_keys(a: &Args, key_file: &Path) -> Result<String, UserError> {
    let mut all = Vec::new();
    for f in &a.keys {
        let text = std::fs::read_to_string(f)
            .map_err(|e| UserError::Input(format!("cannot read key file {}: {e}", f.display())))?;
        all.extend(keys::parse(&f.display().to_string(), &text)?);
    }
    for (i, t) in a.key_texts.iter().enumerate() {
        all.extend(keys::parse(&format!("--key-text #{}", i + 1), t)?);
    }
    if all.is_empty() {
        return match hostfs::read_optional(key_file)? {
            Some(existing) => {
                keys::parse(&key_file.display().to_string(), &existing)?;
                Ok(existing)
            }
            None => Err(UserError::Input(format!(
                "no key for {}: pass --key FILE or --key-text 'ssh-ed25519 …'",
                a.name
            ))),
        };
    }
    Ok(keys::render(&all)?)
}

/// The jail a user's existing drop-in chroots into, if it has one.
fn dropin_jail(text: &str) -> Option<PathBuf> {
    text.lines()
        .filter_map(mainconfig::split_line)
        .find(|(k, _)| k == "chrootdirectory")
        .and_then(|(_, v)| v.first().map(PathBuf::from))
}

fn refuse_other_jail(dropin_path: &Path, jail: &Path, name: &str) -> Result<(), UserError> {
    if let Some(text) = hostfs::read_optional(dropin_path)?
        && let Some(other) = dropin_jail(&text).filter(|j| j != jail)
    {
        return Err(UserError::Refused(format!(
            "{name} is jailed in {} ({}), not in {}; run 'jailsmith user {name} --jail {} --remove' first",
            other.display(),
            dropin_path.display(),
            jail.display(),
            other.display()
        )));
    }
    Ok(())
}

fn add(r: &mut Run) -> Result<PathBuf, UserError> {
    let a = r.args;
    let name = a.name.as_str();
    check_name(name)?;
    let jail = jail_path(&a.jail)?;
    chroot::check(&jail)?;
    let key_file = a.authorized_keys_dir.join(name);
    dropin::check_path(&key_file)?;
    let dropin_path = a.sshd_config_dir.join(dropin::file_name(name));
    if !a.shell.starts_with('/') {
        return Err(UserError::Input(format!(
            "--shell {} must be an absolute path inside the jail",
            a.shell
        )));
    }
    let key_text = gather_keys(a, &key_file)?;
    let uid_min = logindefs::read_uid_min(Path::new(logindefs::PATH))?;
    if let Some(uid) = a.uid {
        check_uid(name, uid, uid_min)?;
    }
    let db = HostDb::default();
    let existing = db.lookup(name)?;
    match &existing {
        Some(acc) => {
            check_uid(name, acc.entry.uid, uid_min)?;
            if let Some(uid) = a.uid.filter(|u| *u != acc.entry.uid) {
                return Err(UserError::Input(format!(
                    "{name} exists with uid {}, not --uid {uid}; jailsmith does not renumber accounts",
                    acc.entry.uid
                )));
            }
        }
        None if !a.create => return Err(AccountError::Missing { name: name.into() }.into()),
        None => {
            if let Some(uid) = a.uid.filter(|u| db.uid_taken(*u).unwrap_or(true)) {
                return Err(UserError::Input(format!("uid {uid} is already taken")));
            }
        }
    }
    let host = LinuxHost::open(&jail, false)?;
    if !jailside::has_program(&host, &a.shell)? {
        return Err(UserError::Input(format!(
            "the shell {} does not exist inside {} (or is not executable); put it there first: jailsmith build {} --bin {}",
            a.shell,
            jail.display(),
            jail.display(),
            Path::new(&a.shell)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "bash".into())
        )));
    }
    let sshd = Sshd {
        binary: a.sshd.clone(),
        main: a.sshd_config.clone(),
    };
    check_main_config(&sshd, &dropin_path, name, a.sftp_only)?;
    refuse_other_jail(&dropin_path, &jail, name)?;
    let block = DropIn {
        user: name.into(),
        chroot: jail.clone(),
        authorized_keys: key_file.clone(),
        sftp_only: a.sftp_only,
    };

    let steps = (|| {
        ensure_dir(r, &a.authorized_keys_dir)?;
        put_host_file(r, "keys", &key_file, &key_text)?;
        let account = put_account(r, &db, existing.as_ref())?;
        put_jail_lines(r, &host, name, account.as_ref())?;
        ensure_dir(r, &a.sshd_config_dir)?;
        let dropin_changed = put_host_file(r, "dropin", &dropin_path, &block.render())?;
        if dropin_changed && !r.dry {
            validate_effective(&sshd, &dropin_path, &block)?;
        }
        record_user(r, &jail, name, true)?;
        if dropin_changed {
            reload_sshd(r, &sshd)?;
        }
        Ok(())
    })();
    if let Err(e) = steps {
        return Err(r.roll_back(Some(&host), e));
    }
    Ok(jail)
}

/// The main config must Include our drop-in and be valid now; sftp-only needs `Subsystem sftp`.
fn check_main_config(
    sshd: &Sshd,
    dropin_path: &Path,
    name: &str,
    sftp_only: bool,
) -> Result<(), UserError> {
    let main_text = std::fs::read_to_string(&sshd.main).map_err(|source| SshdError::Io {
        op: "read",
        path: sshd.main.clone(),
        source,
    })?;
    if !mainconfig::includes_file(&main_text, dropin_path) {
        return Err(SshdError::NotIncluded {
            main: sshd.main.clone(),
            dir: dropin_path.parent().unwrap_or(Path::new("/")).to_path_buf(),
            dropin: dropin_path.to_path_buf(),
        }
        .into());
    }
    sshd.test()?;
    if sftp_only && validate::sftp_subsystem(&sshd.effective(name)?).is_none() {
        return Err(SshdError::NoSftpSubsystem {
            main: sshd.main.clone(),
        }
        .into());
    }
    Ok(())
}

/// `sshd -t`, then `sshd -T -C user=…` must show every setting of the block.
fn validate_effective(sshd: &Sshd, dropin_path: &Path, block: &DropIn) -> Result<(), UserError> {
    sshd.test()?;
    let eff = sshd.effective(&block.user)?;
    let bad = validate::mismatches(&block.expected(), &eff);
    if bad.is_empty() {
        return Ok(());
    }
    let earlier = validate::earlier_matches(&sshd.main, dropin_path, &block.user);
    let hint = if earlier.is_empty() {
        String::new()
    } else {
        format!(
            ". sshd applies the first value it finds and a Match block read before {} captures the user; Match lines read earlier:\n    {}",
            dropin_path.display(),
            earlier.join("\n    ")
        )
    };
    Err(SshdError::NotEffective {
        user: block.user.clone(),
        mismatches: bad.join(", "),
        hint,
    }
    .into())
}

fn reload_sshd(r: &mut Run, sshd: &Sshd) -> Result<(), UserError> {
    if r.args.no_reload {
        r.warnings.push(
            "--no-reload: sshd was not reloaded; new logins see the change only after a reload"
                .into(),
        );
        return Ok(());
    }
    r.change("sshd", "reload", sshd.main.display());
    if r.dry {
        return Ok(());
    }
    let use_systemd = reload::systemd_is_init() && sshd.main == Path::new("/etc/ssh/sshd_config");
    let how = reload::reload(sshd, use_systemd)?;
    r.detail(how);
    Ok(())
}

/// Makes a root-owned 0755 directory (keys, drop-ins) when missing.
fn ensure_dir(r: &mut Run, dir: &Path) -> Result<(), UserError> {
    if dir.exists() && !dir.is_symlink() {
        hostfs::ensure_root_dir(dir, 0o755)?;
        return Ok(());
    }
    r.change("dir", "create", dir.display());
    if !r.dry {
        hostfs::ensure_root_dir(dir, 0o755)?;
        r.undo.push(Undo::HostDir(dir.to_path_buf()));
    }
    Ok(())
}

/// Writes a root-owned 0644 file outside the jail when its content differs.
fn put_host_file(
    r: &mut Run,
    object: &'static str,
    path: &Path,
    text: &str,
) -> Result<bool, UserError> {
    let before = hostfs::read_optional(path)?;
    if before.as_deref() == Some(text) {
        return Ok(false);
    }
    r.change(
        object,
        if before.is_some() { "update" } else { "create" },
        path.display(),
    );
    if !r.dry {
        hostfs::write_root_file(path, text, 0o644)?;
        r.undo.push(Undo::HostFile {
            path: path.to_path_buf(),
            before,
            mode: 0o644,
        });
    }
    Ok(true)
}

/// Creates or adjusts the host account; returns its passwd entry and group name (None only
/// in a dry run that would create it).
fn put_account(
    r: &mut Run,
    db: &HostDb,
    existing: Option<&HostAccount>,
) -> Result<Option<(PasswdEntry, Option<String>)>, UserError> {
    let a = r.args;
    let wanted = Wanted {
        name: a.name.clone(),
        home: format!("/home/{}", a.name),
        shell: a.shell.clone(),
        uid: a.uid,
    };
    let Some(acc) = existing else {
        r.change("account", "create", &a.name);
        r.detail(format!(
            "useradd: home {} (inside the jail), shell {}, key-only{}",
            wanted.home,
            wanted.shell,
            a.uid.map(|u| format!(", uid {u}")).unwrap_or_default()
        ));
        if r.dry {
            return Ok(None);
        }
        let group_exists = uzers::get_group_by_name(&a.name).is_some();
        useradd::run("useradd", &useradd::create_argv(&wanted, group_exists))?;
        r.undo.push(Undo::UserAdd(a.name.clone()));
        let acc = db.lookup(&a.name)?.ok_or_else(|| AccountError::Missing {
            name: a.name.clone(),
        })?;
        return Ok(Some((acc.entry, acc.group)));
    };
    let e = &acc.entry;
    let change = Modify {
        home: (e.home != wanted.home).then(|| wanted.home.clone()),
        shell: (e.shell != wanted.shell).then(|| wanted.shell.clone()),
        password: (acc.password.as_deref() != Some(NO_PASSWORD)).then(|| NO_PASSWORD.into()),
    };
    if change.is_empty() {
        return Ok(Some((e.clone(), acc.group.clone())));
    }
    r.change("account", "update", &a.name);
    r.detail(format!("usermod: {}", change.describe()));
    let back = Modify {
        home: change.home.as_ref().map(|_| e.home.clone()),
        shell: change.shell.as_ref().map(|_| e.shell.clone()),
        password: change.password.as_ref().and(acc.password.clone()),
    };
    if !r.dry {
        useradd::run("usermod", &useradd::modify_argv(&a.name, &change))?;
        r.undo.push(Undo::UserMod(a.name.clone(), back));
    }
    let mut entry = e.clone();
    entry.home = wanted.home;
    entry.shell = wanted.shell;
    Ok(Some((entry, acc.group.clone())))
}

/// JAIL/home/NAME and the user's lines in the jail's etc/passwd and etc/group.
fn put_jail_lines(
    r: &mut Run,
    host: &dyn Host,
    name: &str,
    account: Option<&(PasswdEntry, Option<String>)>,
) -> Result<(), UserError> {
    let home = jailside::home_of(name);
    let Some((entry, group)) = account else {
        // dry run of a new account: its uid is not known yet
        r.change("home", "create", in_jail(Some(host), &home));
        r.change(
            "passwd",
            "update",
            in_jail(Some(host), &jailside::passwd_path()),
        );
        r.change(
            "group",
            "update",
            in_jail(Some(host), &jailside::group_path()),
        );
        return Ok(());
    };
    let owner = Owner {
        uid: entry.uid,
        gid: entry.gid,
    };
    match jailside::home_needs(host, name, owner)? {
        jailside::Needed::Nothing => {}
        jailside::Needed::Create => {
            r.change("home", "create", in_jail(Some(host), &home));
            r.detail(format!("owner {}:{} mode 0700", owner.uid, owner.gid));
            if !r.dry {
                let home_parent_existed = host
                    .stat(&JailPath::new("home").expect("static"))?
                    .is_some();
                jailside::make_home(host, name, owner)?;
                r.undo.push(Undo::JailDir(home.clone()));
                if !home_parent_existed {
                    r.undo.insert(
                        r.undo.len() - 1,
                        Undo::JailDir(JailPath::new("home").expect("static")),
                    );
                }
            }
        }
        jailside::Needed::Fix(what) => {
            r.change("home", "update", in_jail(Some(host), &home));
            r.detail(what);
            if !r.dry {
                jailside::make_home(host, name, owner)?;
            }
        }
    }
    let passwd_before = jailside::read_text(host, &jailside::passwd_path())?;
    let group_before = jailside::read_text(host, &jailside::group_path())?;
    let group_name = match group {
        Some(g) => g.clone(),
        None => {
            r.warnings.push(format!(
                "gid {} of {name} has no group on the host: no group line written in the jail",
                entry.gid
            ));
            String::new()
        }
    };
    let (passwd, group_text) = jailside::with_user(
        passwd_before.as_deref(),
        group_before.as_deref(),
        entry,
        &group_name,
    );
    put_jail_file(
        r,
        host,
        "passwd",
        jailside::passwd_path(),
        passwd_before,
        &passwd,
    )?;
    if !group_name.is_empty() {
        put_jail_file(
            r,
            host,
            "group",
            jailside::group_path(),
            group_before,
            &group_text,
        )?;
    }
    Ok(())
}

fn put_jail_file(
    r: &mut Run,
    host: &dyn Host,
    object: &'static str,
    path: JailPath,
    before: Option<String>,
    text: &str,
) -> Result<(), UserError> {
    if before.as_deref() == Some(text) {
        return Ok(());
    }
    r.change(
        object,
        if before.is_some() { "update" } else { "create" },
        in_jail(Some(host), &path),
    );
    if !r.dry {
        jailside::write_etc(host, &path, text)?;
        r.undo.push(Undo::JailFile(path, before));
    }
    Ok(())
}

/// Adds (or removes) the user in the jail's state record.
fn record_user(r: &mut Run, jail: &Path, name: &str, present: bool) -> Result<(), UserError> {
    let dir = &r.args.state_dir;
    let loaded = state::load(dir, jail)?;
    let listed = loaded
        .as_ref()
        .is_some_and(|s| s.users.iter().any(|u| u == name));
    if listed == present || (loaded.is_none() && !present) {
        return Ok(());
    }
    let file = state::state_file(dir, jail);
    r.change(
        "state",
        if present { "update" } else { "remove" },
        file.display(),
    );
    if r.dry {
        return Ok(());
    }
    let before = hostfs::read_optional(&file)?;
    let mut st = loaded.unwrap_or_else(|| JailState {
        jail: state::canonical_jail(jail),
        request: Default::default(),
        manifest: Default::default(),
        users: Vec::new(),
        updated_unix: 0,
    });
    if present {
        st.users.push(name.to_string());
        st.users.sort();
    } else {
        st.users.retain(|u| u != name);
    }
    st.updated_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    state::save(dir, &st)?;
    r.undo.push(Undo::HostFile {
        path: file,
        before,
        mode: 0o600,
    });
    Ok(())
}

fn remove(r: &mut Run) -> Result<PathBuf, UserError> {
    let a = r.args;
    let name = a.name.as_str();
    check_name(name)?;
    let jail = jail_path(&a.jail)?;
    let key_file = a.authorized_keys_dir.join(name);
    let dropin_path = a.sshd_config_dir.join(dropin::file_name(name));
    let uid_min = logindefs::read_uid_min(Path::new(logindefs::PATH))?;
    let db = HostDb::default();
    let existing = db.lookup(name)?;
    if let Some(acc) = &existing {
        check_uid(name, acc.entry.uid, uid_min)?;
    }
    refuse_other_jail(&dropin_path, &jail, name)?;
    let host = if jail.is_dir() {
        Some(LinuxHost::open(&jail, false)?)
    } else {
        r.warnings.push(format!(
            "{} does not exist: nothing to remove inside it",
            jail.display()
        ));
        None
    };
    let sshd = Sshd {
        binary: a.sshd.clone(),
        main: a.sshd_config.clone(),
    };
    let host_ref: Option<&dyn Host> = host.as_ref().map(|h| h as &dyn Host);
    let steps = (|| {
        // No new logins: the key file goes first, then the running sessions.
        drop_host_file(r, "keys", &key_file)?;
        if let Some(acc) = &existing {
            end_sessions(r, acc.entry.uid)?;
        }
        if drop_host_file(r, "dropin", &dropin_path)? {
            if !r.dry {
                sshd.test()?;
            }
            reload_sshd(r, &sshd)?;
        }
        if let Some(h) = host_ref {
            drop_jail_lines(r, h, name, existing.as_ref())?;
        }
        record_user(r, &jail, name, false)?;
        Ok(())
    })();
    if let Err(e) = steps {
        return Err(r.roll_back(host_ref, e));
    }
    // Past this point nothing can be undone: the home's content and the account.
    r.undo.clear();
    let home = jailside::home_of(name);
    if a.delete_home
        && let Some(h) = host_ref
        && h.stat(&home)?.is_some()
    {
        r.change("home", "remove", in_jail(Some(h), &home));
        if !r.dry {
            jailside::remove_tree(h, &home)?;
        }
    }
    if a.delete_account && existing.is_some() {
        r.change("account", "remove", name);
        r.detail("userdel (the host's /home is not touched)");
        if !r.dry {
            useradd::run("userdel", &useradd::delete_argv(name))?;
        }
    }
    Ok(jail)
}

fn drop_host_file(r: &mut Run, object: &'static str, path: &Path) -> Result<bool, UserError> {
    let Some(before) = hostfs::read_optional(path)? else {
        return Ok(false);
    };
    r.change(object, "remove", path.display());
    if !r.dry {
        hostfs::remove_file(path)?;
        r.undo.push(Undo::HostFile {
            path: path.to_path_buf(),
            before: Some(before),
            mode: 0o644,
        });
    }
    Ok(true)
}

fn end_sessions(r: &mut Run, uid: u32) -> Result<(), UserError> {
    let pids = sessions::pids_of(uid)?;
    if pids.is_empty() {
        return Ok(());
    }
    r.change("sessions", "end", format!("uid {uid}"));
    if r.dry {
        r.detail(format!("would kill pids {pids:?}"));
        return Ok(());
    }
    let killed = sessions::end_sessions(uid)?;
    r.detail(format!("killed pids {killed:?}"));
    Ok(())
}

fn drop_jail_lines(
    r: &mut Run,
    host: &dyn Host,
    name: &str,
    existing: Option<&HostAccount>,
) -> Result<(), UserError> {
    let passwd_before = jailside::read_text(host, &jailside::passwd_path())?;
    let group_before = jailside::read_text(host, &jailside::group_path())?;
    let (Some(p), Some(g)) = (passwd_before.clone(), group_before.clone()) else {
        if let Some(p) = passwd_before {
            let (passwd, _) = jailside::without_user(&p, "", name, None, None);
            put_jail_file(r, host, "passwd", jailside::passwd_path(), Some(p), &passwd)?;
        }
        return Ok(());
    };
    // the jail's own line tells the gid even when the host account is gone
    let gid = crate::account::hostdb::find_passwd(&p, name)
        .map(|e| e.gid)
        .or(existing.map(|a| a.entry.gid));
    let group_name = existing
        .and_then(|a| a.group.clone())
        .or_else(|| gid.and_then(|gid| crate::account::hostdb::group_name(&g, gid)));
    let (passwd, group) = jailside::without_user(&p, &g, name, gid, group_name.as_deref());
    put_jail_file(r, host, "passwd", jailside::passwd_path(), Some(p), &passwd)?;
    put_jail_file(r, host, "group", jailside::group_path(), Some(g), &group)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jail_paths_are_made_absolute_and_clean() {
        assert_eq!(
            jail_path(Path::new("/srv//j/./")).unwrap(),
            PathBuf::from("/srv/j")
        );
        assert!(jail_path(Path::new("/srv/../etc")).is_err());
        assert!(jail_path(Path::new("/")).is_err());
        assert!(jail_path(Path::new("/srv/a b")).is_err());
    }

    #[test]
    fn root_and_system_accounts_are_refused() {
        assert_eq!(check_name("root").unwrap_err().code(), exit::REFUSED);
        assert_eq!(check_name("Bad").unwrap_err().code(), exit::BAD_INPUT);
        assert_eq!(check_uid("x", 999, 1000).unwrap_err().code(), exit::REFUSED);
        check_uid("x", 1000, 1000).unwrap();
    }

    #[test]
    fn existing_dropin_names_its_jail() {
        let d = DropIn {
            user: "u".into(),
            chroot: "/srv/j".into(),
            authorized_keys: "/k/u".into(),
            sftp_only: false,
        };
        assert_eq!(dropin_jail(&d.render()), Some(PathBuf::from("/srv/j")));
    }
}
