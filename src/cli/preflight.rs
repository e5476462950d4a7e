//! Checks made before a command runs, so the administrator gets one clear message instead of
//! a failure half-way through: a command that needs root run without it (naming the `sudo`
//! command line to run instead), and a relative jail path (naming the absolute one). Reads
//! only the state directory's permissions; changes nothing.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::exit::Precondition;

use super::Command;

/// What a command needs beyond its arguments.
#[derive(Debug, PartialEq, Eq)]
enum Need {
    /// Nothing: it reads only what any user may read.
    Nothing,
    /// Root, always: the reason, for the message.
    Root(&'static str),
    /// Read access to the state directory (root's, mode 0700, on a real host).
    State(PathBuf),
}

/// What `cmd` needs to run.
fn need(cmd: &Command) -> Need {
    use Need::*;
    let state_or = |dry_run: bool, state: &Path, why| {
        if dry_run {
            State(state.to_path_buf())
        } else {
            Root(why)
        }
    };
    match cmd {
        Command::Deps(_) | Command::Profiles(_) | Command::Generate(_) => Nothing,
        Command::Build(a) => state_or(
            a.dry_run,
            &a.state_dir,
            "it writes the jail, root-owned, and records it in the state directory",
        ),
        Command::User(_) => Root(
            "it changes accounts, sshd's configuration and files inside the jail (and reads /etc/shadow, even with --dry-run)",
        ),
        Command::Users(a) => State(a.state_dir.clone()),
        Command::Verify(a) if a.jail.is_none() => State(a.state_dir.clone()),
        Command::Verify(_) => Nothing,
        Command::Check(a) if a.fix => Root("--fix changes owners and modes inside the jail"),
        Command::Check(a) => State(a.state_dir.clone()),
        Command::Update(a) => state_or(
            a.dry_run,
            &a.state_dir,
            "it copies into the jail and updates its state",
        ),
        Command::Mount(_) | Command::Umount(_) => Root("it mounts and unmounts bind mounts"),
        Command::Destroy(a) => state_or(
            a.dry_run,
            &a.state_dir,
            "it removes users' sshd blocks, mounts and the jail's files",
        ),
        Command::Service(a) => state_or(
            a.dry_run,
            &a.state_dir,
            "it writes a systemd unit and files inside the jail",
        ),
        Command::Apply(_) => Root("it builds jails, changes accounts and sshd's configuration"),
    }
}

/// The jail paths given on the command line, with the option that gave each.
fn jail_paths(cmd: &Command) -> Vec<&Path> {
    match cmd {
        Command::Build(a) => vec![&a.jail],
        Command::User(a) => vec![&a.jail],
        Command::Users(a) => vec![&a.jail],
        Command::Verify(a) => a.jail.iter().map(PathBuf::as_path).collect(),
        Command::Check(a) => vec![&a.jail],
        Command::Update(a) => vec![&a.jail],
        Command::Mount(a) => vec![&a.jail],
        Command::Umount(a) => vec![&a.jail],
        Command::Destroy(a) => vec![&a.jail],
        Command::Service(a) => vec![&a.jail],
        Command::Deps(_) | Command::Profiles(_) | Command::Apply(_) | Command::Generate(_) => {
            vec![]
        }
    }
}

/// The subcommand's name as typed (`build`, `user`, …).
fn name(argv: &[OsString]) -> String {
    argv.get(1)
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The command line to run instead: `sudo` and this one, each word shell-quoted.
pub fn with_sudo(argv: &[OsString]) -> String {
    let words: Vec<String> = argv
        .iter()
        .map(|a| {
            let a = a.to_string_lossy();
            shlex::try_quote(&a)
                .map(|q| q.into_owned())
                .unwrap_or_else(|_| a.into_owned())
        })
        .collect();
    format!("sudo {}", words.join(" "))
}

/// Refuses `cmd` (run as `argv`) when it needs root and `root` is false, or the state
/// directory when `readable` says it cannot be read; refuses a relative jail path.
pub fn check(
    cmd: &Command,
    argv: &[OsString],
    root: bool,
    readable: &dyn Fn(&Path) -> bool,
) -> Result<(), Precondition> {
    for jail in jail_paths(cmd) {
        refuse_relative(jail)?;
    }
    if root {
        return Ok(());
    }
    let why = match need(cmd) {
        Need::Nothing => return Ok(()),
        Need::Root(why) => why.to_string(),
        Need::State(dir) if !dir.exists() || readable(&dir) => return Ok(()),
        Need::State(dir) => format!(
            "it reads the jails' state in {}, which only root can read",
            dir.display()
        ),
    };
    Err(Precondition::NotRoot {
        command: name(argv),
        why,
        sudo: with_sudo(argv),
    })
}

/// A relative jail path, refused with the absolute path it would have meant.
fn refuse_relative(jail: &Path) -> Result<(), Precondition> {
    if jail.is_absolute() {
        return Ok(());
    }
    let shown = |p: &Path| crate::escape::bytes(p.as_os_str().as_bytes());
    let meant = std::path::absolute(jail)
        .map(|p| format!("; did you mean {}?", shown(&p)))
        .unwrap_or_default();
    Err(Precondition::RelativeJail {
        shown: shown(jail),
        meant,
    })
}

/// True when this process may list and read `dir`.
pub fn readable(dir: &Path) -> bool {
    use nix::unistd::{AccessFlags, access};
    access(dir, AccessFlags::R_OK | AccessFlags::X_OK).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parsed(args: &[&str]) -> (Command, Vec<OsString>) {
        let argv: Vec<OsString> = std::iter::once("jailsmith")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        (super::super::Cli::parse_from(&argv).command, argv)
    }

    fn refused(args: &[&str], readable: bool) -> Option<String> {
        let (cmd, argv) = parsed(args);
        check(&cmd, &argv, false, &|_| readable)
            .err()
            .map(|e| e.to_string())
    }

    #[test]
    fn writing_commands_need_root_and_name_the_sudo_line() {
        let m = refused(&["build", "/srv/j", "--bin", "bash"], true).unwrap();
        assert!(m.starts_with("jailsmith build must run as root: "), "{m}");
        assert!(
            m.ends_with("run: sudo jailsmith build /srv/j --bin bash"),
            "{m}"
        );
        for args in [
            &["user", "u", "--jail", "/srv/j", "--dry-run"][..],
            &["mount", "/srv/j"],
            &["destroy", "/srv/j"],
            &["check", "/srv/j", "--fix"],
            &["update", "/srv/j"],
        ] {
            assert!(refused(args, true).is_some(), "{args:?}");
        }
    }

    #[test]
    fn readers_need_root_only_for_a_state_they_cannot_read() {
        let state = tempfile::tempdir().unwrap();
        let s = state.path().to_str().unwrap();
        for args in [
            &["check", "/srv/j", "--state-dir", s][..],
            &["users", "--jail", "/srv/j", "--state-dir", s],
            &["verify", "u", "--key", "/k", "--state-dir", s],
            &["build", "/srv/j", "--dry-run", "--state-dir", s],
        ] {
            assert_eq!(refused(args, true), None, "{args:?}");
            let m = refused(args, false).unwrap_or_else(|| panic!("{args:?}"));
            assert!(m.contains("which only root can read"), "{m}");
        }
        assert_eq!(
            refused(&["verify", "u", "--key", "/k", "--jail", "/srv/j"], false),
            None,
            "verify with --jail needs no state"
        );
        assert_eq!(refused(&["profiles", "list"], false), None);
    }

    #[test]
    fn sudo_line_quotes_what_the_shell_would_split() {
        let argv: Vec<OsString> = [
            "jailsmith",
            "user",
            "a b",
            "--key-text",
            "ssh-ed25519 AAAA x",
        ]
        .map(OsString::from)
        .into();
        assert_eq!(
            with_sudo(&argv),
            "sudo jailsmith user 'a b' --key-text 'ssh-ed25519 AAAA x'"
        );
    }

    #[test]
    fn relative_jail_paths_are_refused_with_the_absolute_one() {
        let (cmd, argv) = parsed(&["check", "srv/j"]);
        let m = check(&cmd, &argv, true, &|_| true).unwrap_err().to_string();
        let cwd = std::env::current_dir().unwrap();
        assert!(m.contains("the jail path must be absolute"), "{m}");
        assert!(
            m.contains(&format!("did you mean {}?", cwd.join("srv/j").display())),
            "{m}"
        );
    }
}
