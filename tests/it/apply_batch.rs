//! `apply` makes the accounts it must create in one batch (newusers, chpasswd -e,
//! chgpasswd -e): the lines in passwd, shadow, group, gshadow, subuid and subgid are those
//! `user --create` (useradd) writes; no home directory appears on the host; a uid given away
//! inside the batch, a uid taken between the preflight and the batch, and a user that fails
//! after the batch all leave no account or group of the batch behind. Real accounts with the
//! tests' reserved prefix, removed on drop; a private sshd; never the machine's.

use crate::common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::sshd;
use common::{ProcessGuard, ReservedUser, UserGuard, UserOpts, run, serial, text};

use crate::user_support::Setup;

fn apply_cmd(s: &Setup, spec: &Path) -> Command {
    let mut c = common::bin();
    c.arg("apply")
        .arg(spec)
        .args(s.sshd_paths())
        .arg("--systemd-dir")
        .arg(s.root.path().join("systemd"))
        .arg("--unit-dir")
        .arg(s.root.path().join("units"))
        .arg("--no-reload");
    c
}

/// A spec of the setup's jail and one `[[user]]` per (name, uid, key) (`create = true`).
fn spec(s: &Setup, users: &[(&str, Option<u32>, &str)]) -> PathBuf {
    let mut text = format!(
        "[[jail]]\npath = \"{}\"\nbins = [\"bash\", \"id\"]\n",
        s.jail.display()
    );
    for (name, uid, key) in users {
        text.push_str(&format!(
            "\n[[user]]\nname = \"{name}\"\njail = \"{}\"\ncreate = true\nkeys = [\"{key}\"]\n",
            s.jail.display()
        ));
        if let Some(u) = uid {
            text.push_str(&format!("uid = {u}\n"));
        }
    }
    let f = s
        .root
        .path()
        .join(format!("spec-{}.toml", common::unique()));
    fs::write(&f, text).unwrap();
    f
}

fn key_text(s: &Setup) -> String {
    let (_, public) = sshd::client_keypair(&s.root.dir("client"));
    fs::read_to_string(public).unwrap().trim().to_string()
}

/// /home as the host has it: its inode, mtime and ctime, and its entries.
fn home_parent() -> (u64, i64, i64, i64, Vec<String>) {
    let m = fs::metadata("/home").expect("/home");
    let mut names: Vec<String> = fs::read_dir("/home")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    (m.ino(), m.mtime(), m.mtime_nsec(), m.ctime(), names)
}

/// The line of `name` in an account file, with its name, uid and gid written as NAME, UID
/// and GID: two accounts made the same way give the same line.
fn line_of(file: &str, name: &str) -> Option<String> {
    let text = fs::read_to_string(file).unwrap();
    let line = text
        .lines()
        .find(|l| l.split(':').next() == Some(name))?
        .to_string();
    let mut f: Vec<String> = line.split(':').map(str::to_string).collect();
    f[0] = "NAME".into();
    let ids: &[(usize, &str)] = match file {
        "/etc/passwd" => &[(2, "UID"), (3, "GID")],
        "/etc/group" => &[(2, "GID")],
        _ => &[],
    };
    for (i, id) in ids {
        if f.get(*i).is_some_and(|v| v.parse::<u32>().is_ok()) {
            f[*i] = id.to_string();
        }
    }
    Some(f.join(":").replace(&format!("/home/{name}"), "/home/NAME"))
}

fn account_lines(name: &str) -> Vec<(String, Option<String>)> {
    ["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow"]
        .iter()
        .map(|f| (f.to_string(), line_of(f, name)))
        .chain(["/etc/subuid", "/etc/subgid"].iter().map(|f| {
            // the range differs per account; whether there is one does not
            let has = fs::read_to_string(f)
                .unwrap_or_default()
                .lines()
                .any(|l| l.split(':').next() == Some(name));
            (f.to_string(), Some(has.to_string()))
        }))
        .collect()
}

/// Nothing of `name` is left: no account, no group, no line in any account file.
fn assert_gone(name: &str) {
    assert!(
        nix::unistd::User::from_name(name).unwrap().is_none(),
        "account {name} is still there"
    );
    assert!(
        nix::unistd::Group::from_name(name).unwrap().is_none(),
        "group {name} is still there"
    );
    for f in [
        "/etc/passwd",
        "/etc/shadow",
        "/etc/group",
        "/etc/gshadow",
        "/etc/subuid",
        "/etc/subgid",
    ] {
        let t = fs::read_to_string(f).unwrap_or_default();
        assert!(
            !t.lines().any(|l| l.split(':').next() == Some(name)),
            "{f} still has {name}"
        );
    }
    // nor a membership (the batch joins its accounts to their jail's group together)
    let groups = fs::read_to_string("/etc/group").unwrap();
    let member = groups.lines().find(|l| {
        l.rsplit(':')
            .next()
            .is_some_and(|m| m.split(',').any(|m| m == name))
    });
    assert!(member.is_none(), "{name} is still a member: {member:?}");
}

fn login_defs(key: &str) -> u32 {
    fs::read_to_string("/etc/login.defs")
        .unwrap()
        .lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(key)).then(|| w.next()?.parse().ok())?
        })
        .unwrap_or_else(|| panic!("{key} is not in /etc/login.defs"))
}

fn uid_free(uid: u32) -> bool {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .unwrap()
        .is_none()
}

#[test]
fn batch_accounts_are_the_accounts_useradd_makes_and_no_host_home() {
    if !sshd::available("batch_accounts_are_the_accounts_useradd_makes_and_no_host_home") {
        return;
    }
    let _g = serial();
    let s = Setup::new("batch_accounts_are_the_accounts_useradd_makes_and_no_host_home");
    let key = key_text(&s);
    // the reference: `user --create`, one useradd
    let reference = ReservedUser::new();
    s.run_reloading(
        s.user_cmd(reference.name())
            .arg("--create")
            .arg("--key-text")
            .arg(&key),
    );
    let home_before = home_parent();
    let batch: Vec<ReservedUser> = (0..3).map(|_| ReservedUser::new()).collect();
    let users: Vec<_> = batch
        .iter()
        .map(|u| (u.name(), None, key.as_str()))
        .collect();
    let spec_file = spec(&s, &users);
    let out = run(apply_cmd(&s, &spec_file).arg("--json"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("creating 3 accounts"),
        "{}",
        text(&out.stderr)
    );
    // the report says each user was created, its account named
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for u in &batch {
        let a = v["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == "user" && a["name"] == u.name())
            .unwrap_or_else(|| panic!("no action for {}: {v}", u.name()));
        assert_eq!(a["action"], "create", "{a}");
        assert_eq!(
            a["details"][0],
            format!("create account {}", u.name()),
            "{a}"
        );
        assert!(
            a["details"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d.as_str().is_some_and(|d| d.starts_with("add member "))),
            "{a}"
        );
    }
    let want = account_lines(reference.name());
    assert!(want.iter().all(|(_, l)| l.is_some()), "{want:?}");
    for u in &batch {
        assert_eq!(account_lines(u.name()), want, "{} differs", u.name());
        let acc = u.lookup().unwrap();
        let group = nix::unistd::Group::from_gid(acc.gid).unwrap().unwrap();
        assert_eq!(group.name, u.name(), "the primary group is not its own");
        assert!(!Path::new("/home").join(u.name()).exists(), "a host home");
        assert!(
            fs::read_to_string(s.jail.join("etc/passwd"))
                .unwrap()
                .contains(&format!("{}:x:{}:", u.name(), acc.uid)),
            "{} is not in the jail's passwd",
            u.name()
        );
    }
    assert_eq!(home_parent(), home_before, "apply changed the host's /home");
    // and the next run finds every account as it should be
    let out = run(apply_cmd(&s, &spec_file).arg("--json"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["changed"], false, "{v}");
}

#[test]
fn a_uid_given_away_inside_the_batch_takes_every_account_back() {
    if !sshd::available("a_uid_given_away_inside_the_batch_takes_every_account_back") {
        return;
    }
    let _g = serial();
    let s = Setup::new("a_uid_given_away_inside_the_batch_takes_every_account_back");
    let key = key_text(&s);
    // C asks for UID_MAX-1, B for UID_MAX; A, between them and asking for none, is given the
    // next uid after the highest in use (UID_MAX-1 by then): B's, which useradd would refuse
    let max = login_defs("UID_MAX");
    if !uid_free(max) || !uid_free(max - 1) {
        panic!("uids {} and {max} must be free for this test", max - 1);
    }
    let (a, b, c) = (
        ReservedUser::new(),
        ReservedUser::new(),
        ReservedUser::new(),
    );
    let home_before = home_parent();
    let f = spec(
        &s,
        &[
            (c.name(), Some(max - 1), &key),
            (a.name(), None, &key),
            (b.name(), Some(max), &key),
        ],
    );
    let out = run(&mut apply_cmd(&s, &f));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("uid {max}")) && err.contains("rolled back"),
        "{err}"
    );
    assert!(err.contains(a.name()) || err.contains(b.name()), "{err}");
    for u in [&a, &b, &c] {
        assert_gone(u.name());
    }
    assert_eq!(home_parent(), home_before, "apply changed the host's /home");
}

#[test]
fn a_user_that_fails_after_the_batch_takes_its_account_and_the_later_ones_back() {
    if !sshd::available(
        "a_user_that_fails_after_the_batch_takes_its_account_and_the_later_ones_back",
    ) {
        return;
    }
    let _g = serial();
    let s =
        Setup::new("a_user_that_fails_after_the_batch_takes_its_account_and_the_later_ones_back");
    let key = key_text(&s);
    fs::write(s.root.path().join("bad.pub"), "not a key\n").unwrap();
    let (a, b, c) = (
        ReservedUser::new(),
        ReservedUser::new(),
        ReservedUser::new(),
    );
    let f = spec(
        &s,
        &[
            (a.name(), None, &key),
            (b.name(), None, "bad.pub"),
            (c.name(), None, &key),
        ],
    );
    let out = run(&mut apply_cmd(&s, &f));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("user {}", b.name())), "{err}");
    assert!(
        err.contains(&format!("account {}", b.name()))
            && err.contains(&format!("account {}", c.name())),
        "{err}"
    );
    // newest first, and a's account, committed when its run succeeded, is not among them
    let taken = err
        .split_once("deleted the accounts made for users not jailed: ")
        .unwrap_or_else(|| panic!("no roll-back reported: {err}"))
        .1;
    let at = |u: &ReservedUser| {
        taken
            .find(&format!("account {}", u.name()))
            .unwrap_or_else(|| panic!("{} not taken back: {err}", u.name()))
    };
    let (at_b, at_c) = (at(&b), at(&c));
    assert!(at_c < at_b, "not newest first: {err}");
    assert!(!taken.contains(a.name()), "{err}");
    assert!(!taken.contains("could NOT"), "{err}");
    // a, before the failure, is jailed as it would be without the batch
    assert!(a.lookup().is_some(), "{err}");
    assert!(s.dropin(a.name()).exists());
    for u in [&b, &c] {
        assert_gone(u.name());
    }
}

/// True when some process waits for the flock on the file with inode `ino` (/proc/locks
/// shows a waiter as a line with `->`).
fn lock_waited_for(ino: u64) -> bool {
    fs::read_to_string("/proc/locks").unwrap().lines().any(|l| {
        l.contains("->")
            && l.split_whitespace()
                .any(|w| w.rsplit(':').next() == Some(&ino.to_string()))
    })
}

#[test]
fn a_uid_taken_between_the_preflight_and_the_batch_creates_nothing() {
    if !sshd::available("a_uid_taken_between_the_preflight_and_the_batch_creates_nothing") {
        return;
    }
    let _g = serial();
    let s = Setup::new("a_uid_taken_between_the_preflight_and_the_batch_creates_nothing");
    let key = key_text(&s);
    let uid = (login_defs("UID_MIN")..login_defs("UID_MAX") - 2)
        .rev()
        .find(|u| uid_free(*u))
        .expect("a free uid");
    let (a, b) = (ReservedUser::new(), ReservedUser::new());
    let f = spec(&s, &[(a.name(), None, &key), (b.name(), Some(uid), &key)]);
    // hold apply's lock: it runs its preflight, then waits for the lock, then builds the jail
    // and makes the accounts
    let lock_path = s.state_dir.join(".jailsmith-user.lock");
    let lock_file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap();
    let ino = lock_file.metadata().unwrap().ino();
    let lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .unwrap();
    let mut cmd = apply_cmd(&s, &f);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut apply = ProcessGuard::new(cmd.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lock_waited_for(ino) {
        if let Some(st) = apply.wait_timeout(Duration::from_millis(20)) {
            panic!("apply ended before it waited for the lock: {st}");
        }
        assert!(Instant::now() < deadline, "apply never waited for its lock");
    }
    // the preflight saw the uid free; now someone takes it
    let taker = UserGuard::create(&UserOpts {
        uid: Some(uid),
        ..UserOpts::default()
    });
    let taker_line = line_of("/etc/passwd", taker.name());
    drop(lock);
    let out = apply.child().unwrap().wait_with_output_ref();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("uid {uid} is already taken")) && err.contains(b.name()),
        "{err}"
    );
    for u in [&a, &b] {
        assert_gone(u.name());
    }
    assert_eq!(line_of("/etc/passwd", taker.name()), taker_line);
}

/// `wait_with_output` for a child the guard keeps (stdout and stderr piped).
trait WaitRef {
    fn wait_with_output_ref(&mut self) -> std::process::Output;
}

impl WaitRef for std::process::Child {
    fn wait_with_output_ref(&mut self) -> std::process::Output {
        use std::io::Read;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        if let Some(mut o) = self.stdout.take() {
            o.read_to_end(&mut stdout).unwrap();
        }
        if let Some(mut e) = self.stderr.take() {
            e.read_to_end(&mut stderr).unwrap();
        }
        let status = self.wait().unwrap();
        std::process::Output {
            status,
            stdout,
            stderr,
        }
    }
}
