//! Many host accounts in one go (`apply`): one `newusers` run for all of them, then one
//! `chpasswd -e` and one `chgpasswd -e`, so that each account ends up as `useradd` makes it
//! (`useradd::create_argv`: password `*`, a user group whose gshadow password is `!`, no
//! home on the host). shadow-utils does every write under its own locks; jailsmith never
//! edits the account files. `newusers` makes each home directory it is given, so it runs in
//! a mount namespace of its own with an empty tmpfs over /home (`apply::process`); where it
//! hands passwords to PAM, its PAM service there denies every change. The caller checks
//! names and uids first; taking accounts out again is the rollback journal's
//! (`apply::journal`: `userdel`, never `-r`, then the group).

use std::path::Path;

use super::AccountError;
use super::hostdb::HostDb;
use super::useradd::{self, NO_PASSWORD, Wanted};
use crate::apply::process::PrivateDir;

/// The parent of every home jailsmith gives an account (`/home/NAME`, made inside the jail,
/// never on the host): newusers sees an empty tmpfs there.
pub const HOME_PARENT: &str = "/home";

/// The gshadow password `useradd` gives a user group (newusers writes `*`).
const GROUP_PASSWORD: &str = "!";

/// Where PAM reads its services, and newusers' service while the batch runs.
const PAM_DIR: &str = "/etc/pam.d";
const PAM_DENY: &[u8] = b"# jailsmith: newusers sets no password here; chpasswd -e does\n\
    password requisite pam_deny.so\n";

/// How this host's newusers sets the password field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordMode {
    /// Built without PAM: `-c NONE` takes the field as it is (`*`).
    Plain,
    /// Built with PAM (Debian): newusers locks the new account (`!`) and then asks PAM to set
    /// each password. Its PAM service is replaced, for that run only, by one that denies
    /// (`PAM_DENY`): no module of the host's password stack runs for these accounts (no
    /// hashing, no `nullok`, no directory service), each stays locked (and newusers exits
    /// 1) until `chpasswd -e` sets `*`.
    Pam,
}

/// The newusers input line of one account (name:password:uid:group:gecos:home:shell). The
/// group field is the account's name: newusers makes a group of that name, as `useradd -U`.
pub fn newusers_line(w: &Wanted, mode: PasswordMode) -> Result<String, AccountError> {
    for (what, v) in [("home", &w.home), ("shell", &w.shell)] {
        if v.is_empty() || v.contains([':', '\n', '\r', '\0']) {
            return Err(AccountError::Refused {
                name: w.name.clone(),
                why: format!(
                    "its {what} {v:?} cannot be an account field (':', a newline or empty)"
                ),
            });
        }
    }
    let password = match mode {
        PasswordMode::Plain => NO_PASSWORD,
        PasswordMode::Pam => "",
    };
    let uid = w.uid.map(|u| u.to_string()).unwrap_or_default();
    Ok(format!(
        "{}:{password}:{uid}:{}::{}:{}\n",
        w.name, w.name, w.home, w.shell
    ))
}

/// `name:value` lines for `chpasswd -e` / `chgpasswd -e`.
fn password_lines(names: &[&str], value: &str) -> String {
    names.iter().map(|n| format!("{n}:{value}\n")).collect()
}

/// Reads how newusers sets passwords from its `--help` (`-c` exists only without PAM).
fn password_mode() -> Result<PasswordMode, AccountError> {
    let path = useradd::tool("newusers");
    let out =
        crate::apply::process::run(&path, &["--help"]).map_err(AccountError::io("run", &path))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(if text.contains("--crypt-method") {
        PasswordMode::Plain
    } else {
        PasswordMode::Pam
    })
}

/// Runs a shadow-utils program with `input` on stdin (and private directories).
fn run_fed(
    program: &str,
    args: &[&str],
    input: &str,
    private: &[PrivateDir],
) -> Result<std::process::Output, AccountError> {
    let path = useradd::tool(program);
    crate::apply::process::run_with_input(&path, args, input.as_bytes(), private)
        .map_err(AccountError::io("run", &path))
}

/// `chpasswd -e` or `chgpasswd -e` with `lines` (already in their stored form: no PAM, no
/// hashing).
fn set_passwords(program: &str, lines: &str) -> Result<(), AccountError> {
    let out = run_fed(program, &["-e"], lines, &[])?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failed(program, &out))
    }
}

/// Sets one account's password field to `stored` (its stored form: a hash, `*` or `!…`)
/// through `chpasswd -e` on stdin, never on a command line, where every local user could
/// read a hash in /proc while the program runs.
pub fn set_password(name: &str, stored: &str) -> Result<(), AccountError> {
    set_passwords("chpasswd", &password_lines(&[name], stored))
}

fn failed(program: &str, out: &std::process::Output) -> AccountError {
    AccountError::Command {
        program: useradd::tool(program).display().to_string(),
        status: out.status.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    }
}

/// Creates every account of `wanted` (none of which exists, and none of whose names is a
/// group yet). On error some of them may exist: the caller deletes those (`delete`).
pub fn create(wanted: &[Wanted], db: &HostDb) -> Result<(), AccountError> {
    if wanted.is_empty() {
        return Ok(());
    }
    let mode = password_mode()?;
    let mut input = String::new();
    for w in wanted {
        input.push_str(&newusers_line(w, mode)?);
    }
    let args: &[&str] = match mode {
        PasswordMode::Plain => &["-c", "NONE"],
        PasswordMode::Pam => &[],
    };
    let mut private = vec![PrivateDir {
        path: Path::new(HOME_PARENT),
        files: &[],
    }];
    if mode == PasswordMode::Pam && Path::new(PAM_DIR).is_dir() {
        private.push(PrivateDir {
            path: Path::new(PAM_DIR),
            files: &[("newusers", PAM_DENY)],
        });
    }
    // newusers says "cannot lock" (and changes nothing) while another tool holds the user
    // database: tried again a few times, as `useradd::run` does
    let mut attempt = 0;
    let out = loop {
        let out = run_fed("newusers", args, &input, &private)?;
        attempt += 1;
        let locked = String::from_utf8_lossy(&out.stderr).contains("cannot lock");
        if out.status.success() || !locked || attempt >= 8 {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(150 * attempt));
    };
    // With PAM every password change is denied after the accounts were written, and
    // newusers exits 1: whether the accounts are there is checked here and by `verify`.
    let pam_refused = mode == PasswordMode::Pam && out.status.code() == Some(1);
    if !(out.status.success() || pam_refused) {
        return Err(failed("newusers", &out));
    }
    let names: Vec<&str> = wanted.iter().map(|w| w.name.as_str()).collect();
    if let Some(missing) = names.iter().find(|n| db.entry(n).ok().flatten().is_none()) {
        let mut e = failed("newusers", &out);
        if let AccountError::Command { stderr, .. } = &mut e {
            *stderr = format!("{missing} was not created: {stderr}");
        }
        return Err(e);
    }
    set_passwords("chpasswd", &password_lines(&names, NO_PASSWORD))?;
    if Path::new("/etc/gshadow").exists() {
        set_passwords("chgpasswd", &password_lines(&names, GROUP_PASSWORD))?;
    }
    verify(wanted, db)
}

/// True when this host's groupmod appends members (`-a -U`, shadow-utils 4.11 and later).
pub fn can_append_members() -> bool {
    let path = useradd::tool("groupmod");
    crate::apply::process::run(&path, &["--help"])
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("--append"))
}

/// Adds `names` to the members of `group` in one `groupmod -a -U` (shadow-utils locks and
/// rewrites group and gshadow once).
pub fn append_members(group: &str, names: &[&str]) -> Result<(), AccountError> {
    if names.is_empty() {
        return Ok(());
    }
    let argv = [
        "-a".to_string(),
        "-U".to_string(),
        names.join(","),
        "--".to_string(),
        group.to_string(),
    ];
    useradd::run("groupmod", &argv)
}

/// Each account as asked: home, shell, password `*`, its uid when one was given and shared
/// with no other account, its primary group the one of its name.
pub fn verify(wanted: &[Wanted], db: &HostDb) -> Result<(), AccountError> {
    let text = std::fs::read_to_string(&db.passwd).map_err(AccountError::io("read", &db.passwd))?;
    let mut by_uid: std::collections::HashMap<u32, Vec<String>> = Default::default();
    for e in text.lines().filter_map(super::hostdb::parse_passwd_line) {
        by_uid.entry(e.uid).or_default().push(e.name);
    }
    for w in wanted {
        let not_as = |why: String| AccountError::NotAsCreated {
            name: w.name.clone(),
            why,
        };
        let acc = db
            .lookup(&w.name)?
            .ok_or_else(|| not_as("it is missing".into()))?;
        let e = &acc.entry;
        if let Some(uid) = w.uid.filter(|u| *u != e.uid) {
            return Err(not_as(format!("it has uid {}, not {uid}", e.uid)));
        }
        let others: Vec<String> = by_uid
            .get(&e.uid)
            .into_iter()
            .flatten()
            .filter(|o| **o != w.name)
            .cloned()
            .collect();
        if !others.is_empty() {
            return Err(AccountError::UidTaken {
                name: w.name.clone(),
                uid: e.uid,
                others: others.join(", "),
            });
        }
        if e.home != w.home || e.shell != w.shell {
            return Err(not_as(format!("home {} shell {}", e.home, e.shell)));
        }
        if acc.group.as_deref() != Some(w.name.as_str()) {
            return Err(not_as(format!(
                "its primary group is gid {} ({}), not its own",
                e.gid,
                acc.group.as_deref().unwrap_or("no group")
            )));
        }
        if acc.password.as_deref() != Some(NO_PASSWORD) {
            return Err(not_as("its password is not '*' (key-only)".into()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(uid: Option<u32>, shell: &str) -> Wanted {
        Wanted {
            name: "imsad".into(),
            home: "/home/imsad".into(),
            shell: shell.into(),
            uid,
        }
    }

    #[test]
    fn lines_say_what_useradd_is_told() {
        assert_eq!(
            newusers_line(&w(Some(2000), "/bin/bash"), PasswordMode::Plain).unwrap(),
            "imsad:*:2000:imsad::/home/imsad:/bin/bash\n"
        );
        assert_eq!(
            newusers_line(&w(None, "/bin/sh"), PasswordMode::Pam).unwrap(),
            "imsad:::imsad::/home/imsad:/bin/sh\n"
        );
        assert_eq!(password_lines(&["a", "b"], "*"), "a:*\nb:*\n");
    }

    #[test]
    fn a_field_cannot_add_a_line() {
        for shell in ["/bin/sh\nroot2::0:0::/:/bin/sh", "/bin:sh", ""] {
            let e = newusers_line(&w(None, shell), PasswordMode::Plain).unwrap_err();
            assert_eq!(e.code(), crate::exit::REFUSED, "{shell:?}");
        }
    }
}
