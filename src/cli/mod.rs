//! Command-line definitions (clap derive) and dispatch. Each subcommand lives in its own
//! file with its `Args` and `run`; this file only lists them.

pub mod build;
pub mod check;
pub mod deps;
pub mod destroy;
pub mod generate;
pub mod mount;
pub mod profiles;
pub mod update;
pub mod user;
pub mod users;

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
    User(user::Args),
    /// List the users jailed in a jail.
    Users(users::Args),
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
    /// Generate man pages or shell completions (for packaging).
    #[command(hide = true)]
    Generate(generate::Args),
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
        Command::User(a) => user::run(a),
        Command::Users(a) => users::run(a),
        Command::Check(a) => check::run(a),
        Command::Update(a) => update::run(a),
        Command::Mount(a) => mount::run_mount(a),
        Command::Umount(a) => mount::run_umount(a),
        Command::Destroy(a) => destroy::run(a),
        Command::Generate(a) => generate::run(a),
    }
}
