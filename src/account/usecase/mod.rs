//! Jailing an account (`jailsmith user`, and `apply` for each `[[user]]`): the use case below
//! the command line. `add` and `remove` check first, then change keys, account, the jail's
//! files, the sshd drop-in (validated), the state and the limits, each a typed host operation
//! run through the one rollback journal (`apply::journal`, driven from `run`); any failure
//! rolls back what was done. Printing and the command-line options stay in `cli::user`.

mod add;
mod create;
mod groups;
mod limits;
mod remove;
mod run;

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::account::{AccountError, hostfs, logindefs, name};
use crate::apply::HostError;
use crate::audit::chroot_rule::chroot_problems;
use crate::exit;
use crate::plan::denylist::{self, AccountFacts, AccountRole};
use crate::sshd::SshdError;
use crate::sshd::dropin;
use crate::state::StateError;

pub use create::{Created, create_missing, join_group};
pub use limits::DEFAULT_SYSTEMD_DIR;
use run::Run;
pub use run::{Action, Change, Object};

/// What one run of `jailsmith user` asks for (the command line of `user`, or a `[[user]]`
/// of an `apply` spec): plain data, no clap.
#[derive(Clone, Debug)]
pub struct UserRequest {
    /// The account (existing; or missing with --create).
    pub name: String,
    /// The jail the account lands in (sshd's ChrootDirectory).
    pub jail: PathBuf,
    /// Create the account when it does not exist (useradd; no home on the host).
    pub create: bool,
    /// Login shell, as a path inside the jail; it must exist there (and on the host, where
    /// sshd checks it) unless --sftp-only.
    pub shell: String,
    /// uid of a created account (from UID_MIN to UID_MAX of /etc/login.defs).
    pub uid: Option<u32>,
    /// A public key file (repeatable); every line must be a valid OpenSSH public key (the
    /// `.pub` file, never the private key). The account's keys become exactly those given
    /// with --key and --key-text, replacing every key it had; --add-key adds instead.
    pub keys: Vec<PathBuf>,
    /// A public key given inline ('ssh-ed25519 AAAA… comment'); repeatable. Replaces the
    /// account's keys, like --key.
    pub key_texts: Vec<String>,
    /// A public key file whose keys are added to those the account already has (repeatable;
    /// a key it has is not added twice).
    pub add_keys: Vec<PathBuf>,
    /// sftp only: ForceCommand internal-sftp, no TTY.
    pub sftp_only: bool,
    /// Take the user out of the jail: keys, drop-in, the jail's passwd/group lines.
    pub remove: bool,
    /// With --remove: delete JAIL/home/NAME too.
    pub delete_home: bool,
    /// With --remove: delete the host account too (userdel, never its host home).
    pub delete_account: bool,
    /// With --remove: end the user's running sessions (SIGKILL, by PID); without it, --remove
    /// refuses while the user has processes. With --dry-run, lists the PIDs it would end.
    pub kill_sessions: bool,
    /// Where jailsmith keeps its state about jails.
    pub state_dir: PathBuf,
    /// Do not reload sshd after changing its drop-ins.
    pub no_reload: bool,
    /// Print what would change; change nothing.
    pub dry_run: bool,
    /// Where the user's slice drop-in with the limits goes (user-UID.slice.d/50-jailsmith.conf).
    pub systemd_dir: PathBuf,
    /// Limits on all of the user's sessions together; given limits replace earlier ones,
    /// none leaves them as they are, --remove deletes them.
    pub limits: crate::limits::options::LimitArgs,
    /// Keep the user's sessions off the network: IPAddressDeny=any on user-UID.slice, except
    /// the --allow-ip peers. systemd enforces it only with the unified cgroup hierarchy.
    pub deny_network: bool,
    /// Peers the user's sessions may still reach (implies deny_network).
    pub allow_ip: Vec<String>,
    /// Where sshd and jailsmith's per-user sshd files live.
    pub sshd: crate::sshd::paths::SshdPaths,
    /// The caller checked sshd's configuration with `sshd -t` before its first write
    /// (`apply`, once per run): an add that changes the configuration then checks what it
    /// wrote with `sshd -T -C user=…` alone (which parses and checks the whole configuration
    /// too) instead of `sshd -t` before and after as well.
    pub sshd_checked: bool,
    /// With --remove and --dry-run (`destroy`'s and `apply --prune`'s dry runs, one user
    /// after another): the jail's users whose removal the plan already holds, taken as
    /// gone: their lines of the jail's passwd and group, their membership of the jail's
    /// groups. Empty elsewhere.
    pub left_before: Vec<String>,
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
    /// A host operation that failed for no module's reason (a program, no jail open).
    #[error(transparent)]
    Step(crate::apply::journal::OpError),
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
            UserError::State(e) => crate::exit::Classify::class(e).code(),
            UserError::Input(_) => exit::BAD_INPUT,
            UserError::Refused(_) => exit::REFUSED,
            UserError::Step(e) => e.exit_code(),
            UserError::RolledBack { error, .. } => error.code(),
        }
    }
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
    /// The host operations behind the changes, in order, each with its reason: what was
    /// done (with --dry-run: what would be, step for step; the ids of an account still to
    /// be created show as `"new"`).
    pub plan: Vec<crate::plan::HostStep>,
    pub warnings: Vec<String>,
}

/// Where `user` reads and writes outside the jail: what `destroy` and `apply --prune` pass on
/// when they take a user out.
pub struct UserDirs {
    pub sshd: crate::sshd::paths::SshdPaths,
    pub state_dir: PathBuf,
    pub systemd_dir: PathBuf,
}

impl UserRequest {
    /// `user NAME --jail JAIL --remove [--delete-account]` with the given directories,
    /// printing nothing as JSON and verifying nothing.
    pub fn removal(
        name: &str,
        jail: &Path,
        dirs: UserDirs,
        delete_account: bool,
        no_reload: bool,
        dry_run: bool,
    ) -> UserRequest {
        UserRequest {
            name: name.to_string(),
            jail: jail.to_path_buf(),
            create: false,
            shell: "/bin/bash".into(),
            uid: None,
            keys: Vec::new(),
            key_texts: Vec::new(),
            add_keys: Vec::new(),
            sftp_only: false,
            remove: true,
            delete_home: false,
            delete_account,
            // destroy has refused or ended the jail's sessions already; apply --prune ends them
            kill_sessions: true,
            sshd: dirs.sshd,
            state_dir: dirs.state_dir,
            no_reload,
            dry_run,
            systemd_dir: dirs.systemd_dir,
            limits: Default::default(),
            deny_network: false,
            allow_ip: Vec::new(),
            sshd_checked: false,
            left_before: Vec::new(),
        }
    }
}

/// One add or remove, without the root check, the state-directory lock or any printing
/// (warnings are in the report): what `user` and `apply` run per user.
pub fn converge(args: &UserRequest) -> Result<Report, UserError> {
    crate::hostinfo::guard::jail(&args.jail, &args.state_dir)
        .map_err(|e| UserError::Refused(e.to_string()))?;
    let mut r = Run::new(args);
    let result = if args.remove {
        remove::remove(&mut r)
    } else {
        add::add(&mut r)
    };
    let jail = match result {
        Ok(j) => j,
        Err(e) => {
            for w in &r.warnings {
                eprintln!("jailsmith: warning: {w}");
            }
            return Err(e);
        }
    };
    let (user, operation) = (
        args.name.clone(),
        if args.remove { "remove" } else { "add" },
    );
    Ok(r.into_report(user, jail, operation))
}

/// Moves the per-user drop-ins that earlier versions wrote for `jail` to the jail's groups
/// (`update` runs it): each user joins its mode's group, the group blocks are written, the
/// per-user files go, then `sshd -t`, `sshd -T -C user=…` for every user moved, and one
/// reload. Takes the state directory's lock (not for a dry run); any failure rolls back.
pub fn migrate_jail(
    jail: &Path,
    dirs: UserDirs,
    no_reload: bool,
    dry_run: bool,
) -> Result<Report, UserError> {
    let args = UserRequest {
        remove: false,
        ..UserRequest::removal("root", jail, dirs, false, no_reload, dry_run)
    };
    let jail = jail_path(jail)?;
    let _lock = if dry_run {
        None
    } else {
        Some(hostfs::lock_dir(&args.state_dir)?)
    };
    let mut r = Run::new(&args);
    if !groups::legacy_dropins(&args, &jail)?.is_empty() {
        let sshd = args.sshd.validator();
        let db = crate::account::hostdb::HostDb::default();
        let steps = (|| {
            let moved = groups::migrate(&mut r, &db, &jail, None)?;
            if !r.dry {
                sshd.test()?;
                for (user, block) in &moved {
                    let (_, path) = groups::block_of(&args, &jail, block.sftp_only)?;
                    add::validate_effective(&sshd, &path, user, block)?;
                }
            }
            run::reload_sshd(&mut r, &sshd)
        })();
        if let Err(e) = steps {
            return Err(r.roll_back(None, e));
        }
    }
    Ok(r.into_report(String::new(), jail, "migrate"))
}

/// Removes the groups the jail's state still records, with their blocks, when nobody is a
/// member any more (`destroy` runs it after taking the jail's users out); a group that
/// still has members is kept, with a warning. One reload when a block went.
pub fn drop_jail_groups(
    jail: &Path,
    dirs: UserDirs,
    no_reload: bool,
    dry_run: bool,
) -> Result<Report, UserError> {
    let args = UserRequest::removal("root", jail, dirs, false, no_reload, dry_run);
    let jail = jail_path(jail)?;
    let mut r = Run::new(&args);
    let (recorded, users): (Vec<String>, Vec<String>) = crate::state::load(&args.state_dir, &jail)?
        .map(|s| (s.groups.into_keys().collect(), s.users))
        .unwrap_or_default();
    let db = crate::account::hostdb::HostDb::default();
    let steps = (|| {
        let mut changed = false;
        for g in &recorded {
            // in a dry run the jail's own users are still members
            let others: Vec<String> = db
                .group_index()?
                .by_name(g)
                .map(|e| e.members.clone())
                .unwrap_or_default()
                .into_iter()
                .filter(|m| !(r.dry && users.contains(m)))
                .collect();
            if !others.is_empty() {
                r.warnings.push(format!(
                    "group {g} still has members ({}): kept with its sshd block",
                    others.join(", ")
                ));
                continue;
            }
            let sftp = g.ends_with(dropin::SFTP_SUFFIX);
            let (_, path) = groups::block_of(&args, &jail, sftp)?;
            // in a dry run the jail's users are still members: they would be gone by now
            let leaving: Vec<&str> = if r.dry {
                users.iter().map(String::as_str).collect()
            } else {
                Vec::new()
            };
            changed |= groups::drop_if_empty(&mut r, &db, &jail, g, &path, &leaving)?;
        }
        if changed {
            run::reload_sshd(&mut r, &args.sshd.validator())?;
        }
        Ok(())
    })();
    if let Err(e) = steps {
        return Err(r.roll_back(None, e));
    }
    Ok(r.into_report(String::new(), jail, "remove"))
}

/// The report as lines: `[would ]ACTION OBJECT TARGET[: DETAIL]`, or "up to date".
pub fn report_lines(r: &Report) -> Vec<String> {
    if r.up_to_date {
        return vec![format!("{} in {}: up to date", r.user, r.jail.display())];
    }
    let verb = if r.dry_run { "would " } else { "" };
    r.changes
        .iter()
        .map(|c| match &c.detail {
            Some(d) => format!("{verb}{} {} {}: {d}", c.action, c.object, c.target),
            None => format!("{verb}{} {} {}", c.action, c.object, c.target),
        })
        .collect()
}

/// The name and account rules of an add, reading only the host's account files: what
/// `apply` runs for every user before its first write.
pub fn preflight(args: &UserRequest) -> Result<(), UserError> {
    add::preflight(args)
}

/// The sshd block that jails this request's user (its jail and mode) and its file.
pub fn sshd_block(args: &UserRequest) -> Result<(dropin::DropIn, PathBuf), UserError> {
    let jail = jail_path(&args.jail)?;
    groups::block_of(args, &jail, args.sftp_only)
}

/// True when adding this request's user may change sshd's configuration (its block is not
/// in place as it should be, or the jail has per-user drop-ins of an earlier version): the
/// only adds that run sshd.
pub fn changes_sshd(args: &UserRequest) -> Result<bool, UserError> {
    let jail = jail_path(&args.jail)?;
    let (block, path) = groups::block_of(args, &jail, args.sftp_only)?;
    let current = hostfs::read_optional(&path)?.as_deref() == Some(block.render().as_str());
    Ok(!current || !groups::legacy_dropins(args, &jail)?.is_empty())
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

/// `dir` (or, when it does not exist yet, its nearest existing ancestor) and everything above
/// it must be root-owned real directories nobody else can write: sshd reads the key file as
/// root before the chroot, and whoever can swap a directory on that path can add keys.
fn check_root_chain(dir: &Path, op: &'static str) -> Result<(), UserError> {
    if let Some(p) = chroot_problems(dir).into_iter().next() {
        return Err(AccountError::Unsafe {
            op,
            path: dir.to_path_buf(),
            why: format!("{} {} (fix: {})", p.path.display(), p.what, p.fix),
        }
        .into());
    }
    Ok(())
}

/// sshd's ChrootDirectory rule for the jail (DESIGN §4): it must exist, and it and every
/// ancestor be real, root-owned directories nobody else can write.
fn check_jail_path(jail: &Path) -> Result<(), UserError> {
    if let Some(p) = chroot_problems(jail).into_iter().next() {
        return Err(SshdError::ChrootPath {
            jail: jail.to_path_buf(),
            component: p.path,
            why: p.what,
            fix: p.fix,
        }
        .into());
    }
    if !jail.is_dir() {
        return Err(UserError::Input(format!(
            "the jail {} does not exist; make it first: jailsmith build {} --bin bash",
            jail.display(),
            jail.display()
        )));
    }
    Ok(())
}

/// The uid rule of a jailed SSH user: never root nor nobody, and from UID_MIN to UID_MAX of
/// /etc/login.defs (DESIGN §5.12; `plan::denylist` holds the rules).
fn check_uid(name: &str, uid: u32, ranges: &logindefs::UidRanges) -> Result<(), UserError> {
    let facts = AccountFacts {
        name,
        uid,
        groups: &[],
    };
    match denylist::refused_account(&facts, AccountRole::Login, ranges) {
        Some(d) => Err(UserError::Refused(d.to_string())),
        None => Ok(()),
    }
}

/// The whole account rule for an existing account: its uid and every group it is in (none
/// may be gid 0 or a privileged group, `plan::denylist::PRIVILEGED_GROUPS`).
fn check_account_rules(
    acc: &crate::account::hostdb::HostAccount,
    groups: &[(String, u32)],
    ranges: &logindefs::UidRanges,
) -> Result<(), UserError> {
    let facts = AccountFacts {
        name: &acc.entry.name,
        uid: acc.entry.uid,
        groups,
    };
    match denylist::refused_account(&facts, AccountRole::Login, ranges) {
        Some(d) => Err(UserError::Refused(d.to_string())),
        None => Ok(()),
    }
}

fn refuse_other_jail(dropin_path: &Path, jail: &Path, name: &str) -> Result<(), UserError> {
    if let Some(text) = hostfs::read_optional(dropin_path)?
        && let Some(other) = dropin::chroot_of(&text).filter(|j| j != jail)
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
        let r = logindefs::ranges("UID_MIN 1000\nUID_MAX 60000\n");
        assert_eq!(check_uid("x", 999, &r).unwrap_err().code(), exit::REFUSED);
        assert_eq!(check_uid("x", 60001, &r).unwrap_err().code(), exit::REFUSED);
        assert_eq!(check_uid("x", 65534, &r).unwrap_err().code(), exit::REFUSED);
        check_uid("x", 1000, &r).unwrap();
    }

    #[test]
    fn help_lists_every_privileged_group() {
        use clap::CommandFactory;
        let help = crate::cli::Cli::command()
            .find_subcommand_mut("user")
            .expect("user subcommand")
            .render_long_help()
            .to_string();
        for (g, _) in denylist::PRIVILEGED_GROUPS {
            let listed = help
                .split(|c: char| c.is_whitespace() || c == ',' || c == '.')
                .any(|w| w == *g);
            assert!(listed, "group {g} is not in the help");
        }
    }

    #[test]
    fn key_dir_under_a_shared_writable_dir_is_refused() {
        let err = check_root_chain(Path::new("/tmp/no-such-jailsmith-dir/keys"), "keep keys in")
            .unwrap_err();
        assert_eq!(err.code(), exit::REFUSED);
        assert!(err.to_string().contains("/tmp "), "{err}");
        check_root_chain(Path::new("/usr/share"), "keep keys in").unwrap();
    }
}
