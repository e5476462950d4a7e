//! Command-line definitions (clap derive) and dispatch. Each subcommand lives in its own
//! file with its `Args` and `run`; this file only lists them.

pub mod apply;
pub mod build;
pub mod check;
pub mod deps;
pub mod destroy;
pub mod generate;
pub mod limits;
pub mod mount;
pub mod profiles;
pub mod service;
pub mod sshd_paths;
pub mod update;
pub mod user;
pub mod users;
pub mod verify;

use clap::{Parser, Subcommand};

/// Provision chrooted SSH jails: copy programs with every library they load, create the
/// device nodes and /etc files a shell needs, jail accounts in sshd, and prove it over SSH.
#[derive(Debug, Parser)]
#[command(name = "jailsmith", version = crate::cli::version(), about, long_about = None)]
#[command(after_help = "Run 'jailsmith COMMAND --help' for the options of a command.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Resolve the shared libraries of ELF files like ldd, without running them.
    Deps(deps::Args),
    /// Build or refresh a jail: programs, their libraries, devices and base /etc files.
    Build(build::Args),
    /// Inspect jail profiles: list them, or show one resolved on this host.
    Profiles(profiles::Args),
    /// Jail an account in sshd: key-only login that lands inside a jail (or --remove it).
    User(Box<user::Args>),
    /// List the users jailed in a jail.
    Users(users::Args),
    /// Log in over SSH as a jailed user and check that the jail holds.
    ///
    /// Checks (each PASS, FAIL, WARN or N/A): the host key; key login; a shell runs in the
    /// home; / is the jail (its names equal the jail's top level, and a marker planted in the
    /// jail's parent is invisible via its host path, /.., ../ and cd ..); no /proc, /sys or host
    /// shadow; a passwd with only the jail's users; nothing setuid/setgid reachable; no file
    /// creation outside the home and /tmp; a PTY shell; refused forwarding (direct-tcpip,
    /// tcpip-forward, agent). sftp-only accounts: a refused command and an sftp listing of the
    /// jail, shell checks N/A. Outgoing TCP, which a chroot cannot stop, is a WARN. Probes use
    /// shell builtins only; verify removes its marker and probe files afterwards.
    ///
    /// Host key: --host-key pins one key; otherwise the known_hosts file (default
    /// ~/.ssh/known_hosts; hashed names work) and, for a loopback host, the local
    /// /etc/ssh/ssh_host_*_key.pub. It is checked before authentication.
    ///
    /// Exit: 0 no check failed, 1 a check failed, 2 no connection or authentication (or bad
    /// input), 3 host key mismatch or unknown host key.
    Verify(verify::Args),
    /// Audit a jail: security invariants, integrity against the manifest, staleness.
    Check(check::Args),
    /// Bring a jail up to date with the host: re-copy, add, and remove what is no longer needed.
    Update(update::Args),
    /// Mount a jail's declared bind mounts (idempotent); optionally write systemd units.
    Mount(mount::MountArgs),
    /// Unmount a jail's declared bind mounts.
    Umount(mount::UmountArgs),
    /// Take a jail down: users' sshd blocks and keys, mounts, files (homes with --purge), state.
    Destroy(destroy::Args),
    /// Run a program as a hardened systemd service inside a jail, with resource limits.
    Service(Box<service::Args>),
    /// Converge this host to a declarative SPEC.toml: jails, jailed users, services.
    Apply(Box<apply::Args>),
    /// Generate man pages or shell completions (for packaging).
    #[command(hide = true)]
    Generate(generate::Args),
}

impl Command {
    /// True for the commands that change the host: Ctrl-C stops them at a safe point
    /// instead of killing them mid-write.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Command::Build(_)
                | Command::User(_)
                | Command::Update(_)
                | Command::Mount(_)
                | Command::Umount(_)
                | Command::Destroy(_)
                | Command::Service(_)
                | Command::Apply(_)
        )
    }
}

/// The version string: package version and the git commit it was built from.
pub fn version() -> &'static str {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (",
        env!("JAILSMITH_GIT_COMMIT"),
        ")"
    )
}

pub fn parse() -> Cli {
    Cli::parse()
}

/// Runs a parsed command line; returns the exit code on success.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Deps(a) => deps::run(a),
        Command::Build(a) => build::run(a),
        Command::Profiles(a) => profiles::run(a),
        Command::User(a) => user::run(*a),
        Command::Users(a) => users::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Check(a) => check::run(a),
        Command::Update(a) => update::run(a),
        Command::Mount(a) => mount::run_mount(a),
        Command::Umount(a) => mount::run_umount(a),
        Command::Destroy(a) => destroy::run(a),
        Command::Service(a) => service::run(*a),
        Command::Apply(a) => apply::run(*a),
        Command::Generate(a) => generate::run(a),
    }
}
