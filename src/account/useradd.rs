//! Account changes through shadow-utils: argument vectors for useradd/usermod/userdel are
//! built by pure functions and run without a shell. Never `userdel -r`: the host's /home/NAME
//! is not the jail's.

use std::path::{Path, PathBuf};

use super::AccountError;

/// The password field of a key-only account: no password can ever match `*`. (`!` would be
/// "locked", which sshd without PAM refuses even for key logins.)
pub const NO_PASSWORD: &str = "*";

/// What the account should look like on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub name: String,
    pub home: String,
    pub shell: String,
    pub uid: Option<u32>,
}

/// The home of a jailed account: `/home/NAME` inside its jail, never made on the host.
pub fn host_home(name: &str) -> String {
    format!("/home/{name}")
}

/// `useradd` argv: no home created on the host, password disabled, a user group (or the
/// existing group of that name when there already is one).
pub fn create_argv(w: &Wanted, group_exists: bool) -> Vec<String> {
    let mut v: Vec<String> = ["-M", "-d", &w.home, "-s", &w.shell, "-p", NO_PASSWORD]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if group_exists {
        v.extend(["-g".to_string(), w.name.clone()]);
    } else {
        v.push("-U".into());
    }
    if let Some(uid) = w.uid {
        v.extend(["-u".to_string(), uid.to_string()]);
    }
    v.push("--".into());
    v.push(w.name.clone());
    v
}

/// The home field of a service account (never made).
pub const SERVICE_HOME: &str = "/nonexistent";
/// The comment (GECOS) field of a service account.
pub const SERVICE_COMMENT: &str = "jailsmith service account";

/// `useradd --system` argv of a service account: no home (`/nonexistent`, not made), `shell`
/// (nologin) as login shell, a new group of the same name.
pub fn system_argv(user: &str, shell: &str) -> Vec<String> {
    [
        "--system",
        "--no-create-home",
        "--home-dir",
        SERVICE_HOME,
        "--shell",
        shell,
        "--user-group",
        "--comment",
        SERVICE_COMMENT,
        "--",
        user,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// What differs on an existing account (the plan's `AccountChange`).
pub use crate::plan::hostops::AccountChange as Modify;

/// `usermod` argv for the home and shell in `m`. The password field is never given here
/// (a hash on a command line is readable by every local user): `batch::set_password`.
pub fn modify_argv(name: &str, m: &Modify) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(h) = &m.home {
        v.extend(["-d".to_string(), h.clone()]);
    }
    if let Some(s) = &m.shell {
        v.extend(["-s".to_string(), s.clone()]);
    }
    v.push("--".into());
    v.push(name.to_string());
    v
}

/// `userdel` argv: the account only, never its host home.
pub fn delete_argv(name: &str) -> Vec<String> {
    vec!["--".into(), name.to_string()]
}

/// `groupadd` argv of a jail's group: a system gid (from SYS_GID_MIN to SYS_GID_MAX), or
/// `gid` when one is given (putting a removed group back).
pub fn groupadd_argv(group: &str, gid: Option<u32>) -> Vec<String> {
    let mut v = vec!["-r".to_string()];
    if let Some(g) = gid {
        v.extend(["-g".to_string(), g.to_string()]);
    }
    v.extend(["--".to_string(), group.to_string()]);
    v
}

/// `groupdel` argv.
pub fn groupdel_argv(group: &str) -> Vec<String> {
    vec!["--".into(), group.to_string()]
}

/// `gpasswd` argv that adds `user` to `group` (`-a`) or takes it out (`-d`).
pub fn gpasswd_argv(user: &str, group: &str, add: bool) -> Vec<String> {
    let op = if add { "-a" } else { "-d" };
    vec![op.into(), user.to_string(), group.to_string()]
}

/// The shadow-utils program `name` by absolute path.
pub(crate) fn tool(name: &str) -> PathBuf {
    ["/usr/sbin", "/sbin", "/usr/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("/usr/sbin").join(name))
}

/// Exit status of shadow-utils tools when the user database is locked by someone else.
const DB_LOCKED: i32 = 10;

/// Runs a shadow-utils program by absolute path with `argv`; stderr is quoted on failure.
/// A locked user database (exit 10) is retried a few times.
pub fn run(program: &str, argv: &[String]) -> Result<(), AccountError> {
    let path = tool(program);
    let mut attempt = 0;
    let out = loop {
        let out =
            crate::apply::process::run(&path, argv).map_err(AccountError::io("run", &path))?;
        attempt += 1;
        if out.status.code() != Some(DB_LOCKED) || attempt >= 8 {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(150 * attempt));
    };
    if out.status.success() {
        Ok(())
    } else {
        Err(AccountError::Command {
            program: format!("{} {}", path.display(), argv.join(" ")),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_account_is_created_without_home_or_shell() {
        let argv = system_argv("web", "/usr/sbin/nologin");
        assert!(argv.contains(&"--system".to_string()));
        assert!(argv.contains(&"--no-create-home".to_string()));
        assert_eq!(argv.last().unwrap(), "web");
        let i = argv.iter().position(|a| a == "--shell").unwrap();
        assert_eq!(argv[i + 1], "/usr/sbin/nologin");
    }

    fn w(uid: Option<u32>) -> Wanted {
        Wanted {
            name: "imsad".into(),
            home: "/home/imsad".into(),
            shell: "/bin/bash".into(),
            uid,
        }
    }

    #[test]
    fn useradd_never_makes_a_host_home() {
        let v = create_argv(&w(Some(2000)), false);
        assert_eq!(
            v.join(" "),
            "-M -d /home/imsad -s /bin/bash -p * -U -u 2000 -- imsad"
        );
        let v = create_argv(&w(None), true);
        assert_eq!(
            v.join(" "),
            "-M -d /home/imsad -s /bin/bash -p * -g imsad -- imsad"
        );
    }

    #[test]
    fn usermod_only_what_differs() {
        let m = Modify {
            shell: Some("/bin/sh".into()),
            ..Default::default()
        };
        assert_eq!(modify_argv("imsad", &m).join(" "), "-s /bin/sh -- imsad");
        assert!(Modify::default().is_empty());
        // a hash put back by a roll-back never reaches a command line
        let hash = "$6$salt$hash";
        let m = Modify {
            home: Some("/home/imsad".into()),
            password: Some(hash.into()),
            ..Default::default()
        };
        let argv = modify_argv("imsad", &m);
        assert_eq!(argv.join(" "), "-d /home/imsad -- imsad");
        assert!(!argv.iter().any(|a| a.contains(hash) || a == "-p"));
        assert_eq!(delete_argv("x"), vec!["--", "x"]);
    }
}
