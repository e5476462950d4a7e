//! The probes verify runs in the user's shell and what their output means (pure). Every probe
//! uses shell builtins only (the jail may hold bash alone) and prints `JS_KEY=value` lines;
//! each parser turns those lines into a `Check`. Nothing here runs anything.

use super::NetworkPolicy;
use std::collections::BTreeSet;

use super::Check;

/// Check names, in report order.
pub mod name {
    pub const HOST_KEY: &str = "host key";
    pub const LOGIN: &str = "login";
    pub const SHELL: &str = "shell runs";
    pub const HOME: &str = "cwd is home";
    pub const ROOT: &str = "root is the jail";
    pub const MARKER: &str = "outside invisible";
    pub const PROC: &str = "no /proc";
    /// With `build --proc`: the jail's /proc shows the user's own processes only.
    pub const OWN_PROCS: &str = "/proc shows own processes only";
    pub const SYS: &str = "no /sys";
    pub const SHADOW: &str = "no host /etc/shadow";
    pub const PASSWD: &str = "passwd is the jail's";
    pub const SETUID: &str = "no setuid/setgid";
    pub const WRITE: &str = "no writes outside home";
    pub const PTY: &str = "pty shell";
    pub const DIRECT_TCPIP: &str = "direct-tcpip refused";
    pub const REMOTE_FORWARD: &str = "remote forward refused";
    pub const AGENT: &str = "agent forwarding refused";
    pub const SFTP_EXEC: &str = "sftp-only: command refused";
    pub const SFTP_LIST: &str = "sftp lists the jail";
    pub const OUTGOING_TCP: &str = "outgoing TCP";
    pub const STARTUP: &str = "start-up files";
}

/// What sshd prints for a command on a `ForceCommand internal-sftp` account.
pub const SFTP_ONLY_MESSAGE: &str = "This service allows sftp connections only.";

pub use crate::escape::sh_quote;

/// `script` run where the user's start-up files cannot steer it: the login shell (which has
/// read them) replaces itself with bash from the jail's own root-owned path, with an empty
/// environment (`exec -c`: no BASH_ENV, no exported functions) and `--norc --noprofile`;
/// HOME comes from the jail's passwd (`~`), history is off. A shell that is not bash runs
/// the script as it is. The host view, not this, decides (see `hostview`).
pub fn clean(script: &str) -> String {
    let inner = sh_quote(&format!("HOME=~; unset HISTFILE; {script}"));
    let plain = sh_quote(script);
    format!(
        "unset HISTFILE; if [ -n \"${{BASH_VERSION-}}\" ]; then for s in /bin/bash /usr/bin/bash; do \
         if [ -x \"$s\" ]; then exec -c \"$s\" --norc --noprofile -c {inner}; fi; done; fi; eval {plain}"
    )
}

/// The values of every `PREFIX=value` line, in order.
pub fn values<'a>(out: &'a str, key: &str) -> Vec<&'a str> {
    let prefix = format!("{key}=");
    out.lines()
        .filter_map(|l| l.trim_end_matches('\r').strip_prefix(prefix.as_str()))
        .collect()
}

fn value<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    values(out, key).into_iter().next()
}

/// The first probe: does a shell run, where does it start, is this an sftp-only account.
pub const SHELL_SCRIPT: &str = "echo \"JS_SHELL=$((6*7))\"; echo \"JS_PWD=$PWD\"; \
     echo \"JS_HOME=$HOME\"; echo \"JS_BASH=${BASH_VERSION-}\"";

/// How the account answered the first probe.
#[derive(Debug, PartialEq, Eq)]
pub enum Account {
    /// A shell ran the probe.
    Shell,
    /// sshd forced internal-sftp and refused the command.
    SftpOnly,
    /// Neither: the command did not run (missing shell, broken jail).
    Broken,
}

/// Classifies the first probe's result: (account kind, "shell runs" check).
pub fn check_shell(out: &str, err: &str, exit: Option<u32>) -> (Account, Check) {
    if value(out, "JS_SHELL") == Some("42") {
        let bash = value(out, "JS_BASH").unwrap_or("");
        let what = if bash.is_empty() {
            "a POSIX shell".to_string()
        } else {
            format!("bash {bash}")
        };
        return (
            Account::Shell,
            Check::pass(name::SHELL, format!("{what} ran the probe")),
        );
    }
    if out.contains(SFTP_ONLY_MESSAGE) || err.contains(SFTP_ONLY_MESSAGE) {
        return (
            Account::SftpOnly,
            Check::na(
                name::SHELL,
                "sftp-only account (ForceCommand internal-sftp)",
            ),
        );
    }
    let said = first_line(err).or_else(|| first_line(out)).unwrap_or("");
    (
        Account::Broken,
        Check::fail(
            name::SHELL,
            format!(
                "the probe did not run (exit {}){}",
                exit.map(|c| c.to_string()).unwrap_or_else(|| "none".into()),
                if said.is_empty() {
                    String::new()
                } else {
                    format!(": {said}")
                }
            ),
        ),
    )
}

fn first_line(s: &str) -> Option<&str> {
    s.lines().map(str::trim).find(|l| !l.is_empty())
}

/// cwd is the home: `$PWD` equals `$HOME` and, when the jail's passwd names the user, that
/// home too.
pub fn check_home(out: &str, jail_home: Option<&str>) -> Check {
    let pwd = value(out, "JS_PWD").unwrap_or("");
    let home = value(out, "JS_HOME").unwrap_or("");
    if pwd.is_empty() {
        return Check::fail(name::HOME, "the shell reported no working directory");
    }
    if pwd != home {
        return Check::fail(
            name::HOME,
            format!("working directory {pwd}, but HOME is {home} (sshd could not chdir there)"),
        );
    }
    match jail_home {
        Some(h) if h != pwd => Check::fail(
            name::HOME,
            format!("working directory {pwd}, but the jail's passwd says {h}"),
        ),
        _ => Check::pass(name::HOME, pwd.to_string()),
    }
}

/// Lists `/` with globs (hidden names too).
pub const TOP_LEVEL_SCRIPT: &str = "cd / && for f in * .[!.]* ..?*; do \
     if [ -e \"$f\" ] || [ -L \"$f\" ]; then printf 'JS_TOP=%s\\n' \"$f\"; fi; done";

/// `/` as the user sees it equals the jail's top level on the host.
pub fn check_top_level(label: &str, seen: &[String], jail: &[String]) -> Check {
    let seen: BTreeSet<&str> = seen.iter().map(String::as_str).collect();
    let jail: BTreeSet<&str> = jail.iter().map(String::as_str).collect();
    if seen == jail {
        return Check::pass(
            label,
            format!("/ holds exactly the jail's {} top-level names", jail.len()),
        );
    }
    let extra: Vec<&str> = seen.difference(&jail).copied().collect();
    let missing: Vec<&str> = jail.difference(&seen).copied().collect();
    let mut why = Vec::new();
    if !extra.is_empty() {
        why.push(format!("not in the jail: {}", shorten(&extra)));
    }
    if !missing.is_empty() {
        why.push(format!("missing: {}", shorten(&missing)));
    }
    Check::fail(label, format!("/ is not the jail ({})", why.join("; ")))
}

fn shorten(names: &[&str]) -> String {
    const MAX: usize = 8;
    let mut s = names
        .iter()
        .take(MAX)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > MAX {
        s.push_str(&format!(" and {} more", names.len() - MAX));
    }
    s
}

/// Looks for the marker (named `marker`, at `host_path` on the host, in the jail's parent)
/// through `/..`, relative `../` chains from the home, `cd ..` climbing and its host path.
/// `depth`: how many `..` steps to try (more than the jail is deep).
pub fn marker_script(marker: &str, host_path: &str, depth: usize) -> String {
    let m = sh_quote(marker);
    let h = sh_quote(host_path);
    format!(
        "m={m}; h={h}; \
         [ -e \"$h\" ] && echo \"JS_SEEN=$h (its host path)\"; \
         p=\"/$m\"; i=0; while [ $i -le {depth} ]; do \
           [ -e \"$p\" ] && echo \"JS_SEEN=$p\"; p=\"/..$p\"; i=$((i+1)); done; \
         cd 2>/dev/null; p=\"$m\"; i=0; while [ $i -le {depth} ]; do \
           [ -e \"$p\" ] && echo \"JS_SEEN=$p (from the home)\"; p=\"../$p\"; i=$((i+1)); done; \
         cd / && cd .. && [ -e \"$m\" ] && echo \"JS_SEEN=cd /; cd ..; $m\"; \
         cd 2>/dev/null; i=0; while [ $i -le {depth} ]; do cd .. 2>/dev/null; \
           [ -e \"$m\" ] && echo \"JS_SEEN=cd .. x$((i+1)) from the home: $PWD/$m\"; i=$((i+1)); done; \
         echo \"JS_CLIMBED=$PWD\"; echo JS_DONE=1"
    )
}

/// The marker must stay invisible.
pub fn check_marker(out: &str, marker_host_path: &str) -> Check {
    let seen = values(out, "JS_SEEN");
    if !seen.is_empty() {
        return Check::fail(
            name::MARKER,
            format!(
                "marker {marker_host_path} outside the jail is visible: {}",
                seen.join("; ")
            ),
        );
    }
    if value(out, "JS_DONE").is_none() {
        return Check::fail(name::MARKER, "the probe did not finish");
    }
    Check::pass(
        name::MARKER,
        format!(
            "marker in the jail's parent not found via its host path, /.., ../ or cd .. (climbing stops at {})",
            value(out, "JS_CLIMBED").unwrap_or("/")
        ),
    )
}

/// Existence of the kernel filesystems and the host's shadow file.
pub const KERNEL_SCRIPT: &str = "for p in /proc /sys /etc/shadow /etc/gshadow; do \
     if [ -e \"$p\" ] || [ -L \"$p\" ]; then echo \"JS_EXISTS=$p\"; fi; done; \
     [ -e /proc/self/status ] && echo JS_PROC_MOUNTED=1; \
     for d in /proc/[0-9]*; do [ -d \"$d\" ] && echo \"JS_PID=${d#/proc/}\"; done; echo JS_DONE=1";

/// The no-/proc, no-/sys and no-shadow checks. With `declared_proc` (the jail was built
/// with --proc), /proc passes when it is there and mounted: `check_own_processes` judges it.
pub fn check_kernel(out: &str, declared_proc: bool) -> Vec<Check> {
    let exists = values(out, "JS_EXISTS");
    let done = value(out, "JS_DONE").is_some();
    let one = |label: &str, paths: &[&str], hint: &str| {
        if !done {
            return Check::fail(label, "the probe did not finish");
        }
        let found: Vec<&str> = paths
            .iter()
            .copied()
            .filter(|p| exists.contains(p))
            .collect();
        if found.is_empty() {
            Check::pass(label, format!("{} absent", paths.join(" and ")))
        } else {
            let verb = if found.len() == 1 { "exists" } else { "exist" };
            Check::fail(label, format!("{} {verb}{hint}", found.join(" and ")))
        }
    };
    let proc_hint = if value(out, "JS_PROC_MOUNTED").is_some() {
        " and is mounted (process list and host details are readable)"
    } else {
        ""
    };
    let proc = if declared_proc && done {
        if value(out, "JS_PROC_MOUNTED").is_some() {
            Check::pass(
                name::PROC,
                "the jail's own /proc (build --proc) is mounted, as declared",
            )
        } else {
            Check::fail(
                name::PROC,
                "the jail declares its own /proc (build --proc) but it is not mounted: run jailsmith mount",
            )
        }
    } else {
        one(name::PROC, &["/proc"], proc_hint)
    };
    vec![
        proc,
        one(name::SYS, &["/sys"], ""),
        one(name::SHADOW, &["/etc/shadow", "/etc/gshadow"], ""),
    ]
}

/// With `build --proc` (pure): every PID the session lists in its /proc belongs to `uid`
/// (by `owners`, the host's view of every process), while the host runs processes of other
/// uids; so another user's processes are invisible. A PID gone by the time the host looked
/// is not counted.
pub fn check_own_processes(
    out: &str,
    uid: u32,
    owners: &std::collections::BTreeMap<i32, u32>,
) -> Check {
    if value(out, "JS_DONE").is_none() {
        return Check::fail(name::OWN_PROCS, "the probe did not finish");
    }
    let listed: Vec<i32> = values(out, "JS_PID")
        .into_iter()
        .filter_map(|p| p.parse().ok())
        .collect();
    let others = owners.values().filter(|u| **u != uid).count();
    let foreign: Vec<String> = listed
        .iter()
        .filter_map(|p| {
            owners
                .get(p)
                .filter(|u| **u != uid)
                .map(|u| format!("{p} (uid {u})"))
        })
        .collect();
    if !foreign.is_empty() {
        return Check::fail(
            name::OWN_PROCS,
            format!(
                "the session sees other users' processes: {}",
                foreign.join(", ")
            ),
        );
    }
    if listed.is_empty() {
        return Check::fail(
            name::OWN_PROCS,
            "the session's /proc lists no process, not even its own",
        );
    }
    if others == 0 {
        return Check::warn(
            name::OWN_PROCS,
            "the host runs no process of another uid: nothing to hide was there",
        );
    }
    Check::pass(
        name::OWN_PROCS,
        format!(
            "the session lists {} process(es), all its own; the host's {others} process(es) of other uids are invisible",
            listed.len()
        ),
    )
}

/// The account names of `/etc/passwd` as the user sees it.
pub const PASSWD_SCRIPT: &str = "if [ -r /etc/passwd ]; then \
     while IFS=: read -r n rest; do case \"$n\" in ''|'#'*) ;; *) echo \"JS_PW=$n\";; esac; \
     done < /etc/passwd; echo JS_READ=1; \
     elif [ -e /etc/passwd ]; then echo JS_UNREADABLE=1; else echo JS_NONE=1; fi";

/// Names other than root and the jail's users mean the host's passwd (or a leak of it).
pub fn check_passwd(out: &str, allowed: &[String]) -> Check {
    if value(out, "JS_NONE").is_some() {
        return Check::pass(name::PASSWD, "no /etc/passwd in the jail");
    }
    if value(out, "JS_UNREADABLE").is_some() {
        return Check::warn(
            name::PASSWD,
            "/etc/passwd exists but is unreadable (whoami and ls -l will show numbers)",
        );
    }
    if value(out, "JS_READ").is_none() {
        return Check::fail(name::PASSWD, "the probe did not finish");
    }
    let names = values(out, "JS_PW");
    let extra: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| *n != "root" && !allowed.iter().any(|a| a == n))
        .collect();
    if extra.is_empty() {
        Check::pass(
            name::PASSWD,
            format!("{} entries, all root or the jail's users", names.len()),
        )
    } else {
        Check::fail(
            name::PASSWD,
            format!("entries that are not the jail's: {}", shorten(&extra)),
        )
    }
}

/// Walks the whole tree with a bounded recursive function (no find in a jail) and prints
/// every setuid/setgid path; skips symlinks, /proc and /sys; stops after 20 hits, 50000
/// entries or 60 s.
pub const SETUID_SCRIPT: &str = "n=0; hits=0; \
     walk() { local d=\"$1\" f; for f in \"$d\"/* \"$d\"/.[!.]* \"$d\"/..?*; do \
       [ -L \"$f\" ] && continue; [ -e \"$f\" ] || continue; n=$((n+1)); \
       if [ $n -gt 50000 ]; then echo JS_TRUNC=entries; return 1; fi; \
       if [ $SECONDS -gt 60 ]; then echo JS_TRUNC=time; return 1; fi; \
       if [ -u \"$f\" ] || [ -g \"$f\" ]; then echo \"JS_SUID=$f\"; hits=$((hits+1)); \
         [ $hits -ge 20 ] && return 1; fi; \
       if [ -d \"$f\" ] && [ -x \"$f\" ] && [ -r \"$f\" ]; then \
         case \"$f\" in /proc|/sys) continue;; esac; walk \"$f\" || return 1; fi; \
     done; }; walk ''; echo \"JS_WALKED=$n\"";

/// No setuid/setgid file reachable.
pub fn check_setuid(out: &str) -> Check {
    let hits = values(out, "JS_SUID");
    if !hits.is_empty() {
        return Check::fail(
            name::SETUID,
            format!("setuid/setgid reachable: {}", shorten(&hits)),
        );
    }
    let Some(n) = value(out, "JS_WALKED") else {
        return Check::fail(name::SETUID, "the walk did not finish");
    };
    match value(out, "JS_TRUNC") {
        Some(why) => Check::warn(
            name::SETUID,
            format!("none among the first {n} entries; the walk stopped early ({why})"),
        ),
        None => Check::pass(name::SETUID, format!("none among {n} reachable entries")),
    }
}

/// System directories the write probes always try (besides every top-level directory).
pub const WRITE_DIRS: &[&str] = &["/", "/etc", "/bin", "/usr/bin", "/lib", "/dev"];

/// Tries to create `probe` in `/`, the usual system directories and every top-level
/// directory except the home's and /tmp; prints each place where that worked.
pub fn write_script(probe: &str) -> String {
    let p = sh_quote(probe);
    format!(
        "p={p}; seen=' '; for d in {dirs} /*/; do d=\"${{d%/}}\"; \
           case \"$d/\" in \"$HOME\"/*|/tmp/*) continue;; esac; \
           case \"$seen\" in *\" $d/ \"*) continue;; esac; seen=\"$seen$d/ \"; \
           [ -d \"$d/\" ] || continue; \
           if ( : > \"$d/$p\" ) 2>/dev/null; then echo \"JS_WROTE=$d/$p\"; fi; \
           echo \"JS_TRIED=$d/\"; done; echo JS_DONE=1",
        dirs = WRITE_DIRS.join(" ")
    )
}

/// The directories a write worked in (paths the user sees), and the check.
pub fn check_write(out: &str) -> (Check, Vec<String>) {
    let wrote: Vec<String> = values(out, "JS_WROTE")
        .into_iter()
        .map(String::from)
        .collect();
    let mut tried: Vec<&str> = Vec::new();
    for t in values(out, "JS_TRIED") {
        if !tried.contains(&t) {
            tried.push(t);
        }
    }
    if !wrote.is_empty() {
        let shown: Vec<&str> = wrote.iter().map(String::as_str).collect();
        return (
            Check::fail(name::WRITE, format!("created {}", shorten(&shown))),
            wrote,
        );
    }
    if value(out, "JS_DONE").is_none() {
        return (Check::fail(name::WRITE, "the probe did not finish"), wrote);
    }
    (
        Check::pass(
            name::WRITE,
            format!("creating a file failed in {}", shorten(&tried)),
        ),
        wrote,
    )
}

/// What the PTY probe sends, and the proof that it ran on a terminal. History is turned off
/// before anything else (and the leading space keeps the line out under ignorespace), so no
/// history file keeps what verify typed.
pub const PTY_INPUT: &str = " unset HISTFILE; [ -t 0 ] && echo JS_TTY_$((6*7)); exit\n";

/// What the holding session runs while the host looks at its processes: it waits for the
/// channel's end of input.
pub const HOLD_SCRIPT: &str = "read -r x; exit 0";
pub const PTY_PROOF: &str = "JS_TTY_42";

/// Opens a TCP connection with bash's /dev/tcp to 127.0.0.1:`port`.
pub fn tcp_script(port: u16) -> String {
    format!(
        "if (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; then echo JS_TCP=open; \
         else echo JS_TCP=closed; fi"
    )
}

/// A chroot cannot close the network: always WARN, saying whether the probe got out.
pub fn check_tcp(out: Option<&str>, port: u16, policy: NetworkPolicy) -> Check {
    const HINT: &str = "a chroot does not restrict the network: run sshd's sessions in a \
                        network namespace or use IPAddressDeny= for them (user --deny-network)";
    let result = out.and_then(|o| value(o, "JS_TCP"));
    match (policy, result) {
        (
            NetworkPolicy::Denied {
                probe_allowed: false,
            },
            Some("open"),
        ) => Check::fail(
            name::OUTGOING_TCP,
            format!(
                "the user's slice denies the network (IPAddressDeny=any) but the jail connected \
                 to 127.0.0.1:{port}: the policy is not in force (systemd not PID 1, or the \
                 session outside the user's slice?)"
            ),
        ),
        (
            NetworkPolicy::Denied {
                probe_allowed: false,
            },
            Some(_),
        ) => Check::pass(
            name::OUTGOING_TCP,
            format!(
                "denied: the jail could not connect to 127.0.0.1:{port} (IPAddressDeny=any on \
                 the user's slice)"
            ),
        ),
        (
            NetworkPolicy::Denied {
                probe_allowed: true,
            },
            _,
        ) => Check::warn(
            name::OUTGOING_TCP,
            "the user's slice denies the network but allows loopback, where this probe \
             connects: not proven from here",
        ),
        (NetworkPolicy::Open, Some("open")) => Check::warn(
            name::OUTGOING_TCP,
            format!("the jail connected to 127.0.0.1:{port}; {HINT}"),
        ),
        (NetworkPolicy::Open, Some(_)) => Check::warn(
            name::OUTGOING_TCP,
            format!("this probe could not connect out, but other programs may; {HINT}"),
        ),
        (_, None) => Check::warn(name::OUTGOING_TCP, HINT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::Status;

    #[test]
    fn outgoing_tcp_passes_only_when_the_slice_denies_and_the_probe_is_stopped() {
        let denied = NetworkPolicy::Denied {
            probe_allowed: false,
        };
        let stopped = "JS_TCP=closed\n";
        let open = "JS_TCP=open\n";
        assert_eq!(check_tcp(Some(stopped), 1, denied).status, Status::Pass);
        assert_eq!(check_tcp(Some(open), 1, denied).status, Status::Fail);
        assert_eq!(
            check_tcp(Some(open), 1, NetworkPolicy::Open).status,
            Status::Warn
        );
        assert_eq!(
            check_tcp(Some(stopped), 1, NetworkPolicy::Open).status,
            Status::Warn
        );
        let allowed = NetworkPolicy::Denied {
            probe_allowed: true,
        };
        assert_eq!(check_tcp(Some(stopped), 1, allowed).status, Status::Warn);
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn clean_runs_the_script_without_start_up_files() {
        let c = clean("echo \"JS_X=$HOME\"");
        assert!(c.starts_with("unset HISTFILE;"), "{c}");
        assert!(
            c.contains("exec -c \"$s\" --norc --noprofile -c 'HOME=~;"),
            "{c}"
        );
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(clean("echo \"JS_X=${BASH_ENV-unset}:${JS_LEAK-unset}\""))
            .env("BASH_ENV", "/nonexistent/rc")
            .env("JS_LEAK", "1")
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "JS_X=unset:unset\n");
    }

    #[test]
    fn shell_kinds() {
        let (a, c) = check_shell("JS_SHELL=42\nJS_BASH=5.2.15(1)-release\n", "", Some(0));
        assert_eq!(a, Account::Shell);
        assert_eq!(c.status, Status::Pass);
        let (a, c) = check_shell(&format!("{SFTP_ONLY_MESSAGE}\n"), "", Some(1));
        assert_eq!(a, Account::SftpOnly);
        assert_eq!(c.status, Status::NotApplicable);
        let (a, c) = check_shell("", "/bin/bash: No such file or directory\n", Some(1));
        assert_eq!(a, Account::Broken);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("No such file"), "{}", c.detail);
    }

    #[test]
    fn home() {
        let out = "JS_PWD=/home/u\nJS_HOME=/home/u\n";
        assert_eq!(check_home(out, Some("/home/u")).status, Status::Pass);
        assert_eq!(check_home(out, Some("/home/x")).status, Status::Fail);
        assert_eq!(
            check_home("JS_PWD=/\nJS_HOME=/home/u\n", None).status,
            Status::Fail
        );
    }

    #[test]
    fn top_level() {
        let jail = names(&["bin", "etc", "home"]);
        assert_eq!(
            check_top_level("r", &names(&["etc", "bin", "home"]), &jail).status,
            Status::Pass
        );
        let c = check_top_level("r", &names(&["bin", "etc", "home", "proc", "boot"]), &jail);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("boot, proc"), "{}", c.detail);
    }

    #[test]
    fn marker() {
        assert_eq!(
            check_marker("JS_CLIMBED=/\nJS_DONE=1\n", "/srv/.m").status,
            Status::Pass
        );
        assert_eq!(
            check_marker("JS_SEEN=/srv/.m (its host path)\nJS_DONE=1\n", "/srv/.m").status,
            Status::Fail
        );
        assert_eq!(check_marker("", "/srv/.m").status, Status::Fail);
        let s = marker_script(".m'x", "/srv/.m'x", 3);
        assert!(s.contains(r"m='.m'\''x'"), "{s}");
    }

    #[test]
    fn kernel() {
        let c = check_kernel("JS_DONE=1\n", false);
        assert!(c.iter().all(|c| c.status == Status::Pass));
        let c = check_kernel("JS_EXISTS=/proc\nJS_EXISTS=/etc/shadow\nJS_DONE=1\n", false);
        assert_eq!(
            c.iter().map(|c| c.status).collect::<Vec<_>>(),
            vec![Status::Fail, Status::Pass, Status::Fail]
        );
        assert!(
            check_kernel("", false)
                .iter()
                .all(|c| c.status == Status::Fail)
        );
        let mounted = "JS_EXISTS=/proc\nJS_PROC_MOUNTED=1\nJS_DONE=1\n";
        assert_eq!(check_kernel(mounted, true)[0].status, Status::Pass);
        assert_eq!(check_kernel(mounted, false)[0].status, Status::Fail);
        let absent = "JS_DONE=1\n";
        assert_eq!(check_kernel(absent, true)[0].status, Status::Fail);
    }

    #[test]
    fn own_processes_only() {
        let owners: std::collections::BTreeMap<i32, u32> =
            [(1, 0), (50, 1000), (51, 1000), (60, 1001)].into();
        let c = check_own_processes(
            "JS_PID=50\nJS_PID=51\nJS_PID=99\nJS_DONE=1\n",
            1000,
            &owners,
        );
        assert_eq!(c.status, Status::Pass, "{}", c.detail);
        let c = check_own_processes("JS_PID=50\nJS_PID=60\nJS_DONE=1\n", 1000, &owners);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("60 (uid 1001)"), "{}", c.detail);
        assert_eq!(
            check_own_processes("JS_DONE=1\n", 1000, &owners).status,
            Status::Fail
        );
        assert_eq!(
            check_own_processes("JS_PID=50\n", 1000, &owners).status,
            Status::Fail
        );
    }

    #[test]
    fn passwd() {
        let allowed = names(&["imsad"]);
        assert_eq!(
            check_passwd("JS_PW=root\nJS_PW=imsad\nJS_READ=1\n", &allowed).status,
            Status::Pass
        );
        let c = check_passwd(
            "JS_PW=root\nJS_PW=daemon\nJS_PW=imsad\nJS_READ=1\n",
            &allowed,
        );
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("daemon"));
        assert_eq!(check_passwd("JS_NONE=1\n", &allowed).status, Status::Pass);
    }

    #[test]
    fn setuid() {
        assert_eq!(check_setuid("JS_WALKED=120\n").status, Status::Pass);
        assert_eq!(
            check_setuid("JS_SUID=/usr/bin/su\nJS_WALKED=9\n").status,
            Status::Fail
        );
        assert_eq!(
            check_setuid("JS_TRUNC=time\nJS_WALKED=9\n").status,
            Status::Warn
        );
        assert_eq!(check_setuid("").status, Status::Fail);
    }

    #[test]
    fn writes() {
        let (c, w) = check_write("JS_TRIED=/\nJS_TRIED=/etc/\nJS_DONE=1\n");
        assert_eq!(c.status, Status::Pass);
        assert!(w.is_empty());
        let (c, w) = check_write("JS_WROTE=/etc/.p\nJS_DONE=1\n");
        assert_eq!(c.status, Status::Fail);
        assert_eq!(w, vec!["/etc/.p".to_string()]);
    }

    #[test]
    fn tcp_is_always_a_warning() {
        assert_eq!(
            check_tcp(Some("JS_TCP=open\n"), 1, NetworkPolicy::Open).status,
            Status::Warn
        );
        assert_eq!(
            check_tcp(Some("JS_TCP=closed\n"), 1, NetworkPolicy::Open).status,
            Status::Warn
        );
        assert_eq!(check_tcp(None, 1, NetworkPolicy::Open).status, Status::Warn);
    }
}
