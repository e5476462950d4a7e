//! `jailsmith service NAME --jail JAIL --exec 'COMMAND ARGS'`: the options and the
//! state directory's lock; the use case is `service::install`.

use std::path::PathBuf;

use super::output;
use crate::cli::limits::LimitArgs;
use crate::exit;
pub use crate::service::install::{ServiceRequest, preflight};
use crate::service::systemctl::SYSTEM_UNIT_DIR;
use crate::state::DEFAULT_STATE_DIR;

/// Run a program as a hardened systemd service inside a jail.
///
/// The command is split like a shell would (quotes, backslashes) but no shell ever runs it;
/// its program is looked up in the fixed PATH (or given by absolute path) and copied into the
/// jail with every library it loads, plus the profiles given. The unit gets RootDirectory=,
/// a dedicated user, the resource limits and a hardening set aimed at
/// 'systemd-analyze security' ≤ 1.5; each line carries a comment that explains it. A rerun
/// with the same options changes nothing.
///
/// After the jail is built, the account, its lines in the jail's passwd/group, the
/// --read-write directories, the state record, the unit and systemctl run in that order; when
/// one fails, those done before it are undone (newest first) and the error says what was.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  jailsmith service web --jail /srv/web --profile python3 --create-user \\\n      --exec 'python3 -m http.server 8080 --bind 127.0.0.1 --directory /srv/www' \\\n      --file /srv/www --port 8080 --allow-ip localhost --memory-max 256M --cpu-quota 50%\n  jailsmith service web --jail /srv/web --exec '/usr/bin/python3 -m http.server 80' \\\n      --port 80 --dry-run\n  jailsmith service web --jail /srv/web --exec '/usr/bin/python3 -m http.server 80' \\\n      --port 80 --dry-run --json\n\nCheck a unit: systemd-analyze security --offline=yes FILE; systemd-analyze verify FILE\n\nExit codes: 0 done or up to date; 2 bad input (name, --exec, program not found, limit value, missing account without --create-user, a jail path a unit cannot hold); 4 refused (root, nobody, an account outside SYS_UID_MIN..SYS_UID_MAX, in a privileged group or used by a jailed user or another service; a system directory as jail; an --unit-dir others could write, a symlink in the jail or at the unit's path); 6 a host operation failed (useradd, systemctl, I/O)."
)]
pub struct Args {
    /// The unit's name (NAME.service).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The jail (RootDirectory=), built or updated with what the command needs.
    #[arg(long, value_name = "JAIL")]
    pub jail: PathBuf,
    /// The command line, split with shell word rules (no shell runs it).
    #[arg(long, value_name = "'COMMAND ARGS'")]
    pub exec: String,
    /// The account the service runs as (default: NAME): a system account (SYS_UID_MIN to
    /// SYS_UID_MAX of /etc/login.defs) that no jailed SSH user or other service uses, never
    /// root or nobody, in no privileged group (see `jailsmith user --help`).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Create the account when missing: a system account with no home and no login shell.
    #[arg(long)]
    pub create_user: bool,
    /// Another program to copy into the jail (repeatable), as 'build --bin'.
    #[arg(long = "bin", value_name = "NAME|PATH")]
    pub bins: Vec<PathBuf>,
    /// A data file or directory copied into the jail at the same path (repeatable).
    #[arg(long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub profile: crate::cli::profiles::ProfileArgs,
    /// A path inside the jail the service may write (ReadWritePaths=); repeatable.
    #[arg(long = "read-write", value_name = "PATH")]
    pub read_write: Vec<String>,
    /// A port the program listens on (repeatable): allows AF_INET/AF_INET6; below 1024 also
    /// CAP_NET_BIND_SERVICE. Without --port and --allow-ip the service has no network.
    #[arg(long = "port", value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub ports: Vec<u16>,
    /// A peer address or prefix the service may talk to (IPAddressAllow=, with
    /// IPAddressDeny=any); repeatable. 'localhost' allows the loopback addresses.
    #[arg(long = "allow-ip", value_name = "CIDR")]
    pub allow_ips: Vec<String>,
    /// The program needs AF_UNIX sockets.
    #[arg(long)]
    pub allow_unix: bool,
    /// The program compiles code at run time (a JIT): no MemoryDenyWriteExecute=.
    #[arg(long)]
    pub allow_jit: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Where the unit file goes.
    #[arg(long, value_name = "DIR", default_value = SYSTEM_UNIT_DIR)]
    pub unit_dir: PathBuf,
    /// Do not run 'systemctl daemon-reload' after writing the unit.
    #[arg(long)]
    pub no_reload: bool,
    /// Start (or restart, when the unit changed) the service after writing it.
    #[arg(long)]
    pub start: bool,
    /// Print the unit and the plan of host operations after the jail's build; write
    /// nothing, create no account.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report (with --dry-run: what would be done, the unit's text and the plan
    /// included) as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Where jailsmith keeps its state about jails.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
}

impl Args {
    /// The use case's request.
    pub fn request(&self) -> ServiceRequest {
        ServiceRequest {
            name: self.name.clone(),
            jail: self.jail.clone(),
            exec: self.exec.clone(),
            user: self.user.clone(),
            create_user: self.create_user,
            bins: self.bins.clone(),
            files: self.files.clone(),
            profile: self.profile.clone(),
            read_write: self.read_write.clone(),
            ports: self.ports.clone(),
            allow_ips: self.allow_ips.clone(),
            allow_unix: self.allow_unix,
            allow_jit: self.allow_jit,
            limits: self.limits.clone(),
            unit_dir: self.unit_dir.clone(),
            no_reload: self.no_reload,
            start: self.start,
            dry_run: self.dry_run,
            state_dir: self.state_dir.clone(),
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    crate::jail::refuse_jail(&args.jail, &args.state_dir)?;
    // One run at a time per state directory, as `user` does: both merge the jail's passwd.
    // (`apply` holds this lock itself around every `converge`.)
    let _lock = crate::jail::lock_state(&args.state_dir, args.dry_run)?;
    let report = crate::service::install::install(&args.request())?;
    output::report(&report, args.json, |r| r.lines())?;
    Ok(exit::OK)
}
