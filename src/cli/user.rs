//! `jailsmith user NAME --jail JAIL`: turns a host account into a key-only SSH account that
//! lands inside the jail (or takes it out again with `--remove`). This file holds the options,
//! the checks both directions share and the report; `add`, `remove` and the undo `journal`
//! live beside it.

mod add;
mod journal;
mod limits;
mod remove;

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::account::{AccountError, hostfs, logindefs, name};
use crate::apply::HostError;
use crate::audit::chroot_rule::chroot_problems;
use crate::exit;
use crate::plan::denylist::{self, AccountFacts, AccountRole};
use crate::sshd::dropin;
use crate::sshd::{SshdError, mainconfig};
use crate::state::{self, StateError};

pub use journal::Change;
use journal::Run;
pub use limits::DEFAULT_SYSTEMD_DIR;

/// Jail a host account in sshd: key-only login that lands inside JAIL.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  jailsmith user imsad --jail /srv/get_chrooted --create --key ~/.ssh/id_ed25519.pub\n  jailsmith user up1 --jail /srv/files --create --key-text 'ssh-ed25519 AAAA...' --sftp-only\n  jailsmith user imsad --jail /srv/get_chrooted --add-key laptop.pub\n  jailsmith user imsad --jail /srv/get_chrooted --dry-run\n  jailsmith user imsad --jail /srv/get_chrooted --remove --kill-sessions --delete-account\n\nThe account's password becomes '*' (no password matches; not '!', which sshd without PAM\ntreats as locked even for keys).\n\nRefused accounts: root (uid 0), nobody (uid 65534), a uid outside UID_MIN..UID_MAX of\n/etc/login.defs (system and service accounts), and an account whose primary or\nsupplementary groups include gid 0 or a privileged group: root, wheel, sudo, admin, adm,\nshadow, disk, kmem, tty, utmp, staff, sys, docker, lxd, libvirt, systemd-journal.\nRefused jails: /, system directories (/etc, /usr, /var, /home, /srv, /tmp, ...), paths\ninside /proc, /sys, /dev, /run or the state directory, and their ancestors.\n\nExit codes: 2 bad name, key or missing shell; 4 refused by a safety rule (root, system\nuid, privileged group, unsafe jail path, planted symlink); 5 sshd rejected the\nconfiguration (everything rolled back); 6 a host operation failed."
)]
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
    /// Login shell, as a path inside the jail; it must exist there (and on the host, where
    /// sshd checks it) unless --sftp-only.
    #[arg(long, default_value = "/bin/bash", value_name = "PATH")]
    pub shell: String,
    /// uid of a created account (from UID_MIN to UID_MAX of /etc/login.defs).
    #[arg(long, value_name = "UID")]
    pub uid: Option<u32>,
    /// A public key file (repeatable); every line must be a valid OpenSSH public key (the
    /// `.pub` file, never the private key). The account's keys become exactly those given
    /// with --key and --key-text, replacing every key it had; --add-key adds instead.
    #[arg(long = "key", value_name = "FILE")]
    pub keys: Vec<PathBuf>,
    /// A public key given inline ('ssh-ed25519 AAAA… comment'); repeatable. Replaces the
    /// account's keys, like --key.
    #[arg(long = "key-text", value_name = "KEY")]
    pub key_texts: Vec<String>,
    /// A public key file whose keys are added to those the account already has (repeatable;
    /// a key it has is not added twice).
    #[arg(long = "add-key", value_name = "FILE", conflicts_with_all = ["keys", "key_texts", "remove"])]
    pub add_keys: Vec<PathBuf>,
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
    /// With --remove: end the user's running sessions (SIGKILL, by PID); without it, --remove
    /// refuses while the user has processes. With --dry-run, lists the PIDs it would end.
    #[arg(long, requires = "remove")]
    pub kill_sessions: bool,
    #[command(flatten)]
    pub sshd: crate::cli::sshd_paths::SshdPaths,
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
    /// Where the user's slice drop-in with the limits goes (user-UID.slice.d/50-jailsmith.conf).
    #[arg(long, default_value = limits::DEFAULT_SYSTEMD_DIR, value_name = "DIR")]
    pub systemd_dir: PathBuf,
    /// Limits on all of the user's sessions together; given limits replace earlier ones,
    /// none leaves them as they are, --remove deletes them.
    #[command(flatten)]
    pub limits: crate::cli::limits::LimitArgs,
    /// Keep the user's sessions off the network: IPAddressDeny=any on user-UID.slice, except
    /// the --allow-ip peers. systemd enforces it only with the unified cgroup hierarchy.
    #[arg(long, help_heading = "Resource limits")]
    pub deny_network: bool,
    /// A peer the user's sessions may still reach (IPAddressAllow=): ADDR[/N] or 'localhost';
    /// repeatable; implies --deny-network.
    #[arg(
        long = "allow-ip",
        value_name = "ADDR[/N]",
        help_heading = "Resource limits"
    )]
    pub allow_ip: Vec<String>,
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

/// Runs the command; prints the report; returns the exit code.
/// Where `user` reads and writes outside the jail: what `destroy` and `apply --prune` pass on
/// when they take a user out.
pub struct UserDirs {
    pub sshd: crate::cli::sshd_paths::SshdPaths,
    pub state_dir: PathBuf,
    pub systemd_dir: PathBuf,
}

impl Args {
    /// `user NAME --jail JAIL --remove [--delete-account]` with the given directories,
    /// printing nothing as JSON and verifying nothing.
    pub fn removal(
        name: &str,
        jail: &Path,
        dirs: UserDirs,
        delete_account: bool,
        no_reload: bool,
        dry_run: bool,
    ) -> Args {
        Args {
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
            json: false,
            systemd_dir: dirs.systemd_dir,
            limits: Default::default(),
            deny_network: false,
            allow_ip: Vec::new(),
            verify_with: None,
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    if !nix::unistd::geteuid().is_root() {
        return Err(exit::Coded::new(
            exit::BAD_INPUT,
            "jailsmith user must run as root: it changes accounts, sshd's configuration and files inside the jail (and reads /etc/shadow, even with --dry-run)",
        )
        .into());
    }
    crate::jail::refuse_jail(&args.jail, &args.state_dir)?;
    let _lock = if args.dry_run {
        None
    } else {
        Some(
            hostfs::lock_dir(&args.state_dir)
                .map_err(|e| exit::Coded::new(e.code(), e.to_string()))?,
        )
    };
    let result = converge(&args);
    let report =
        result.map_err(|e| anyhow::Error::new(exit::Coded::new(e.code(), e.to_string())))?;
    for w in &report.warnings {
        eprintln!("jailsmith: warning: {w}");
    }
    print_report(&report, args.json);
    if let Some(key) = &args.verify_with {
        let sshd = args.sshd.validator();
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

/// One add or remove as `run` does it, without the root check, the state-directory lock
/// or any printing (warnings are in the report): what `apply` calls per user.
pub fn converge(args: &Args) -> Result<Report, UserError> {
    crate::hostinfo::guard::jail(&args.jail, &args.state_dir)
        .map_err(|e| UserError::Refused(e.to_string()))?;
    let mut r = Run {
        args,
        dry: args.dry_run,
        changes: Vec::new(),
        undo: Vec::new(),
        warnings: Vec::new(),
    };
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
    Ok(Report {
        user: args.name.clone(),
        jail,
        operation: if args.remove { "remove" } else { "add" },
        dry_run: args.dry_run,
        up_to_date: r.changes.is_empty(),
        changes: r.changes,
        warnings: r.warnings,
    })
}

/// The name and account rules of an add, reading only the host's account files: what
/// `apply` runs for every user before its first write.
pub fn preflight(args: &Args) -> Result<(), UserError> {
    add::preflight(args)
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

    #[test]
    fn existing_dropin_names_its_jail() {
        let d = dropin::DropIn {
            user: "u".into(),
            chroot: "/srv/j".into(),
            authorized_keys: "/k/u".into(),
            sftp_only: false,
        };
        assert_eq!(dropin_jail(&d.render()), Some(PathBuf::from("/srv/j")));
    }
}
