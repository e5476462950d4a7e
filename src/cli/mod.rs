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
pub mod output;
pub mod preflight;
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
    /// The host's view decides: when the server is this machine (a loopback host) and verify
    /// runs as root, it holds a session open and reads the session's processes (the user's
    /// uid, below sshd) from /proc: root is the jail, cwd inside it, CapEff and CapPrm 0, no
    /// proc or sysfs in their mount view, and the user's slice when limits are set ("host:"
    /// checks). The in-session probes are a second view; when they contradict the host,
    /// "session agrees with host" fails (a shell start-up file may be rewriting their output).
    /// For a remote host (or without root) a WARN names what could only be seen from inside.
    /// Probes re-exec the jail's bash with an empty environment and --norc --noprofile, the
    /// user's start-up files (.bashrc, .profile, .ssh/rc …) are a WARN, and nothing verify
    /// types stays in a history file.
    ///
    /// Output: the table escapes what the session printed (control characters as \n, \x1b
    /// …); --json holds the exact strings, with bytes that are not UTF-8 as U+FFFD.
    ///
    /// Host key: --host-key pins one key; otherwise the known_hosts file (default
    /// ~/.ssh/known_hosts; hashed names work) and, for a loopback host, the local
    /// /etc/ssh/ssh_host_*_key.pub. It is checked before authentication.
    ///
    /// Exit: 0 no check failed, 1 a check failed, 2 no connection or authentication (or bad
    /// input), 3 host key mismatch or unknown host key.
    Verify(verify::Args),
    /// Audit a jail: security invariants, integrity against the manifest, staleness.
    ///
    /// Checks the jail root and its ancestors (sshd's ChrootDirectory rule); that everything
    /// outside the users' homes (and a sticky /tmp) is root-owned and not group/other-writable;
    /// no setuid/setgid file, no file capability, no refused program (su, sudo, …), no
    /// etc/ld.so.preload or etc/shadow; /dev holds only the allowed character devices with the
    /// host's numbers; no mount but the declared binds, with their flags; no world-writable
    /// directory without the sticky bit. Every file jailsmith placed is hashed whole and compared
    /// with the manifest; host sources changed since they were copied, and libraries the closure
    /// needs now, are reported as stale. Reads only (unless --fix): it walks the jail by
    /// descriptor, never follows a symlink, never crosses into another filesystem and never runs
    /// anything from the jail.
    ///
    /// Hard links: outside the homes, a file with several links is a warning (jailsmith never
    /// makes them). Inside a user's home (or a sticky /tmp) a hard-linked file is an error only
    /// when it links to a file the home's owner does not own (a root-owned jail binary), to a
    /// setuid/setgid file, or to a file with links outside that home (elsewhere in the jail or on
    /// the host); the user's own files linked among themselves (git objects after a local clone)
    /// are fine.
    ///
    /// Output: text lines `SEVERITY: PATH: WHAT [KIND]; fix: HINT`, every string from the jail
    /// escaped (control characters as \n, \t, \x1b …, C1 and bidi controls as \u{…}, a
    /// backslash doubled), so a file name cannot start a line or colour the terminal. --json
    /// prints the exact strings; a path that is not valid UTF-8 shows each invalid byte as
    /// U+FFFD in "path" and its exact bytes, in hex, in "path_hex". Every hint is safe to paste: a jailsmith command (check --fix, update, mount)
    /// or a shell-quoted command that follows no symlink a user could plant; a hint never removes
    /// anything in a user's home and never changes a host system directory.
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

/// Runs a parsed command line; returns the exit code on success. A command run without the
/// privileges it needs, or given a relative jail path, is refused first (`preflight`).
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let root = nix::unistd::geteuid().is_root();
    preflight::check(&cli.command, &argv, root, &preflight::readable)?;
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
