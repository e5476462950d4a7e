//! `jailsmith user NAME --jail JAIL`: the options, and printing the report. The use case
//! (checks, changes, rollback) is `account::usecase`; this file turns the command line into
//! a `UserRequest`, takes the state directory's lock and prints what happened.

use std::path::PathBuf;

use crate::account::hostfs;
pub use crate::account::usecase::{
    Change, DEFAULT_SYSTEMD_DIR, Report, UserDirs, UserError, UserRequest, converge, preflight,
};
use crate::exit;
use crate::state;

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
    /// sftp only: ForceCommand internal-sftp, no TTY. In a jail built with --log,
    /// `internal-sftp -l INFO -f AUTHPRIV`: every transfer is logged with the user's name.
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
    #[arg(long, default_value = DEFAULT_SYSTEMD_DIR, value_name = "DIR")]
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

impl Args {
    /// The use case's request: everything but how to print and what to run after.
    pub fn request(&self) -> UserRequest {
        UserRequest {
            name: self.name.clone(),
            jail: self.jail.clone(),
            create: self.create,
            shell: self.shell.clone(),
            uid: self.uid,
            keys: self.keys.clone(),
            key_texts: self.key_texts.clone(),
            add_keys: self.add_keys.clone(),
            sftp_only: self.sftp_only,
            remove: self.remove,
            delete_home: self.delete_home,
            delete_account: self.delete_account,
            kill_sessions: self.kill_sessions,
            state_dir: self.state_dir.clone(),
            no_reload: self.no_reload,
            dry_run: self.dry_run,
            left_before: Vec::new(),
            systemd_dir: self.systemd_dir.clone(),
            limits: self.limits.clone(),
            deny_network: self.deny_network,
            allow_ip: self.allow_ip.clone(),
            sshd: self.sshd.clone(),
            sshd_checked: false,
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    crate::jail::refuse_jail(&args.jail, &args.state_dir)?;
    let report = run_request(&args.request(), args.json)?;
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

/// Runs one request under the state directory's lock (none for a dry run) and prints its
/// report; `destroy` takes its users out through here.
pub fn run_request(req: &UserRequest, json: bool) -> anyhow::Result<Report> {
    let _lock = if req.dry_run {
        None
    } else {
        Some(hostfs::lock_dir(&req.state_dir)?)
    };
    let report = converge(req)?;
    for w in &report.warnings {
        eprintln!("jailsmith: warning: {w}");
    }
    print_report(&report, json);
    Ok(report)
}

fn print_report(r: &Report, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(r).expect("report serialises")
        );
        return;
    }
    for line in crate::account::usecase::report_lines(r) {
        println!("{line}");
    }
}
