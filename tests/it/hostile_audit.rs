//! `check` and `verify` against a jailed user who plays against them (issue 19), with a real
//! sshd and real logins: (a) a `.bashrc` that rewrites the probes' output while /proc is
//! mounted in the jail must not make verify pass; (b) odd file names (newline, ANSI escape,
//! `;touch pwned1;`, `$(touch pwned2)`) and a setuid copy in the home are shown escaped on one
//! line each, and every fix hint, pasted into `sh` after the user swapped the files for
//! symlinks to host canaries, changes no canary and runs no payload; (c) a local `git clone`
//! in the home (hard-linked objects; run with the user's uid from the host, the jail has no
//! git) is not an error, a link to a root-owned jail binary still is; (d) after verify, no history file of
//! the user holds anything verify sent. Every path belongs to the test; only loopback.

use crate::common;
use crate::user_support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::sshd;
use common::{UserGuard, make_dir, run, run_ok, serial, text, write_file};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use user_support::Setup;

/// A user adopted by `jailsmith user` with one fresh ed25519 key; returns (user, key).
fn jailed(s: &Setup) -> (UserGuard, PathBuf) {
    let user = UserGuard::new();
    let (key, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let mut cmd = s.user_cmd(user.name());
    cmd.arg("--key").arg(&key_pub);
    s.run_reloading(&mut cmd);
    (user, key)
}

fn home(s: &Setup, user: &UserGuard) -> PathBuf {
    s.jail.join("home").join(user.name())
}

/// Unmounts on drop (lazily), so a failing assertion leaves no mount behind.
struct MountGuard(PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = umount2(&self.0, MntFlags::MNT_DETACH);
    }
}

/// Runs `jailsmith verify --json` with the private sshd's key pinned; (exit, JSON, all).
fn verify(s: &Setup, user: &UserGuard, key: &Path) -> (Option<i32>, serde_json::Value, String) {
    let out = run(common::bin()
        .arg("verify")
        .arg(user.name())
        .arg("--key")
        .arg(key)
        .arg("--port")
        .arg(s.srv.port().to_string())
        .arg("--state-dir")
        .arg(&s.state_dir)
        .arg("--host-key")
        .arg(s.srv.host_pubkey_path())
        .arg("--json"));
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    let all = format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    (out.status.code(), json, all)
}

fn status<'a>(json: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    json["checks"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)?["status"]
        .as_str()
}

/// Every line verify sent into the session that could land in a history file.
const VERIFY_WORDS: &[&str] = &["JS_", "jailsmith-verify", "6*7"];

/// Files in the home whose name says history (bash, sh, zsh, python, less …).
fn history_files(home: &Path) -> Vec<(PathBuf, String)> {
    fs::read_dir(home)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().contains("hist"))
                .map(|e| {
                    let b = fs::read(e.path()).unwrap_or_default();
                    (e.path(), String::from_utf8_lossy(&b).into_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn verify_cannot_be_fooled_by_a_bashrc_and_leaves_no_history() {
    if !sshd::available("verify_cannot_be_fooled_by_a_bashrc_and_leaves_no_history") {
        return;
    }
    let _g = serial();
    let s = Setup::new("verify_cannot_be_fooled_by_a_bashrc_and_leaves_no_history");
    let (user, key) = jailed(&s);
    let home = home(&s, &user);

    // (d) a plain account passes, and nothing verify typed is left in a history file.
    let (code, json, all) = verify(&s, &user, &key);
    assert_eq!(code, Some(0), "{all}\n{}", s.srv.log());
    assert_eq!(
        status(&json, "host: root is the jail"),
        Some("PASS"),
        "{all}"
    );
    for (path, body) in history_files(&home) {
        for w in VERIFY_WORDS {
            assert!(
                !body.contains(w),
                "{} holds {w:?} from verify:\n{body}",
                path.display()
            );
        }
    }

    // (a) the user installs a .bashrc that drops every line about /proc from whatever the
    // shell prints (a coprocess filters stdout, which survives `exec`), then /proc appears.
    let rc = [
        "exec 3>&1",
        r#"coproc JSF { while IFS= read -r l; do case "$l" in *proc*|*PROC*) ;; *) printf "%s\n" "$l" >&3;; esac; done; }"#,
        r#"exec >&"${JSF[1]}" 3>&-"#,
    ];
    let quoted: Vec<String> = rc
        .iter()
        .map(|l| format!("'{}'", l.replace('\'', r"'\''")))
        .collect();
    let install = format!("printf '%s\\n' {} > .bashrc", quoted.join(" "));
    let (code, out, err) = s.ssh(user.name(), &key, &install);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(home.join(".bashrc").exists());
    let (_, out, _) = s.ssh(user.name(), &key, "echo /proc; echo kept");
    assert_eq!(
        out.trim(),
        "kept",
        "the .bashrc filter does not work: {out:?}"
    );

    let proc_dir = s.jail.join("proc");
    make_dir(&proc_dir, 0o555);
    mount(
        Some("proc"),
        &proc_dir,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .expect("mount proc in the jail");
    let guard = MountGuard(proc_dir.clone());
    let (code, json, all) = verify(&s, &user, &key);
    drop(guard);
    eprintln!("{all}");
    assert_eq!(code, Some(1), "verify must fail with /proc mounted\n{all}");
    assert_eq!(json["passed"], false, "{all}");
    assert_eq!(status(&json, "host: no /proc, /sys"), Some("FAIL"), "{all}");
    // the filter fooled the in-session probe; the two views disagree, which fails too
    assert_eq!(status(&json, "no /proc"), Some("PASS"), "{all}");
    assert_eq!(
        status(&json, "session agrees with host"),
        Some("FAIL"),
        "{all}"
    );
    assert_eq!(
        status(&json, "start-up files"),
        Some("WARN"),
        "the user's .bashrc must be reported\n{all}"
    );
    for (path, body) in history_files(&home) {
        for w in VERIFY_WORDS {
            assert!(!body.contains(w), "{} holds {w:?}:\n{body}", path.display());
        }
    }
}

/// A host file with everything a canary asserts on.
#[derive(Debug, PartialEq, Eq)]
struct Canary {
    content: Vec<u8>,
    mode: u32,
    uid: u32,
    ino: u64,
    mtime: (i64, i64),
}

fn canary(p: &Path) -> Canary {
    let m = fs::symlink_metadata(p).unwrap();
    Canary {
        content: if m.is_file() {
            fs::read(p).unwrap()
        } else {
            Vec::new()
        },
        mode: m.mode(),
        uid: m.uid(),
        ino: m.ino(),
        mtime: (m.mtime(), m.mtime_nsec()),
    }
}

/// The odd names of (b): (name, how its text output must show it).
const ODD: &[(&str, &str)] = &[
    ("nl\nfake", "nl\\nfake"),
    ("esc\x1b[31mred", "esc\\x1b[31mred"),
    (";touch pwned1;", ";touch pwned1;"),
    ("$(touch pwned2)", "$(touch pwned2)"),
];

#[test]
fn check_output_cannot_be_forged_and_its_hints_are_safe_to_paste() {
    if !sshd::available("check_output_cannot_be_forged_and_its_hints_are_safe_to_paste") {
        return;
    }
    let _g = serial();
    let s = Setup::new("check_output_cannot_be_forged_and_its_hints_are_safe_to_paste");
    // cp, chmod and ln for the user.
    let mut b = common::bin();
    b.arg("build")
        .arg(&s.jail)
        .arg("--state-dir")
        .arg(&s.state_dir);
    for p in user_support::JAIL_PROGRAMS
        .iter()
        .chain(&["cp", "chmod", "ln"])
    {
        b.arg("--bin").arg(p);
    }
    run_ok(&mut b);
    let (user, key) = jailed(&s);
    let home = home(&s, &user);

    // (b) the user makes setuid files with odd names and a setuid copy of bash.
    let script = "cd && for n in \"$(printf 'nl\\nfake')\" \"$(printf 'esc\\033[31mred')\" \
                  ';touch pwned1;' '$(touch pwned2)' \"$(printf 'raw\\377')\"; do : > \"$n\" && chmod 4755 \"$n\"; done \
                  && cp /bin/bash rootme && chmod 4755 rootme && echo made";
    let (code, out, err) = s.ssh(user.name(), &key, script);
    assert_eq!((code, out.trim()), (Some(0), "made"), "{err}");
    for (n, _) in ODD {
        let m = fs::symlink_metadata(home.join(n)).unwrap();
        assert_eq!(m.mode() & 0o4000, 0o4000, "{n:?}");
    }

    let check = || {
        let out = run(common::bin()
            .arg("check")
            .arg(&s.jail)
            .arg("--state-dir")
            .arg(&s.state_dir)
            .arg("--no-replan"));
        (out.status.code(), out.stdout, text(&out.stderr))
    };
    let (code, stdout, err) = check();
    let shown = String::from_utf8_lossy(&stdout).into_owned();
    assert_eq!(code, Some(1), "{shown}\n{err}");
    assert!(
        !stdout.contains(&0x1b),
        "a raw escape reached the output:\n{shown}"
    );
    for l in shown.lines() {
        assert!(
            l.starts_with("error: ") || l.starts_with("warning: ") || l.starts_with("info: "),
            "a line that is not a finding (forged?): {l:?}\n{shown}"
        );
    }
    // a name that is not UTF-8 shows its bytes
    for (_, want) in ODD.iter().chain(&[("", "rootme"), ("", "raw\\xff")]) {
        let line = shown
            .lines()
            .find(|l| l.contains(&format!("/{want}: ")) && l.contains("setuid"))
            .unwrap_or_else(|| panic!("no setuid line showing {want:?}\n{shown}"));
        assert!(line.contains("fix: "), "{line}");
    }
    let json = run(common::bin()
        .arg("check")
        .arg(&s.jail)
        .arg("--state-dir")
        .arg(&s.state_dir)
        .arg("--no-replan")
        .arg("--json"));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let raw_name = format!("{}/raw", home.display());
    let hexes: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["path"].as_str().is_some_and(|p| p.starts_with(&raw_name)))
        .filter_map(|f| f["path_hex"].as_str())
        .collect();
    assert!(
        hexes.iter().any(|h| h.ends_with("2f726177ff")),
        "no exact bytes for raw\\xff: {hexes:?}"
    );
    for (n, _) in ODD {
        assert!(
            v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["path"] == format!("{}/{n}", home.display())),
            "JSON lacks the exact name {n:?}"
        );
    }
    let hints: Vec<String> = shown
        .lines()
        .filter_map(|l| l.split_once("; fix: ").map(|(_, h)| h.to_string()))
        .collect();
    assert!(!hints.is_empty());

    // The user swaps every flagged file for a symlink to a host canary: a setuid file and a
    // sticky world-writable directory, as the issue's victims were.
    let canaries = s.root.dir("canaries");
    let suid = canaries.join("suid-canary");
    write_file(&suid, b"canary\n", 0o4755);
    let tmpdir = canaries.join("tmp-canary");
    make_dir(&tmpdir, 0o1777);
    fs::set_permissions(&tmpdir, fs::Permissions::from_mode(0o1777)).unwrap();
    let before = (canary(&suid), canary(&tmpdir), canary(&canaries));
    let swap = format!(
        "cd && for n in \"$(printf 'nl\\nfake')\" \"$(printf 'esc\\033[31mred')\" \
         ';touch pwned1;' '$(touch pwned2)' \"$(printf 'raw\\377')\"; do ln -sfn {s} \"$n\"; done && ln -sfn {d} rootme && echo swapped",
        s = suid.display(),
        d = tmpdir.display()
    );
    let (code, out, err) = s.ssh(user.name(), &key, &swap);
    assert_eq!((code, out.trim()), (Some(0), "swapped"), "{err}");

    // The admin pastes every hint into sh, in a scratch directory, jailsmith on the PATH.
    let scratch = s.root.dir("scratch");
    let bin_dir = common::bin_path().parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for h in &hints {
        let out = run(Command::new("sh")
            .arg("-c")
            .arg(h)
            .current_dir(&scratch)
            .env("PATH", &path));
        eprintln!(
            "pasted {h:?}: exit {:?}\n{}{}",
            out.status.code(),
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    assert_eq!(
        (canary(&suid), canary(&tmpdir), canary(&canaries)),
        before,
        "a pasted hint changed a host canary; hints: {hints:#?}"
    );
    for dir in [&scratch, &home, &s.jail] {
        for p in ["pwned1", "pwned2"] {
            assert!(!dir.join(p).exists(), "{p} ran in {}", dir.display());
        }
    }
    // The symlinks are the user's data: still there.
    for (n, _) in ODD {
        assert!(
            fs::symlink_metadata(home.join(n))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
}

#[test]
fn a_local_git_clone_in_the_home_is_not_an_error() {
    if !sshd::available("a_local_git_clone_in_the_home_is_not_an_error") {
        return;
    }
    if !common::require_cmd("git") {
        return;
    }
    let git = common::find_cmd("git").expect("git");
    let _g = serial();
    let s = Setup::new("a_local_git_clone_in_the_home_is_not_an_error");
    let (user, _key) = jailed(&s);
    // `user` edits the jail's passwd and group; the update records them in the manifest.
    run_ok(
        common::bin()
            .arg("update")
            .arg(&s.jail)
            .arg("--state-dir")
            .arg(&s.state_dir),
    );
    let home = home(&s, &user);
    let (uid, gid) = (user.uid(), user.gid());
    // (c) as the user: a bare repository with a few commits, cloned locally (hard links).
    let as_user = |args: &[&str]| {
        let mut c = Command::new(&git);
        c.args(args)
            .current_dir(&home)
            .env_clear()
            .env("HOME", &home)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("GIT_AUTHOR_NAME", "u")
            .env("GIT_AUTHOR_EMAIL", "u@example.invalid")
            .env("GIT_COMMITTER_NAME", "u")
            .env("GIT_COMMITTER_EMAIL", "u@example.invalid")
            .uid(uid)
            .gid(gid);
        run_ok(&mut c);
    };
    as_user(&["init", "-q", "src"]);
    for i in 0..3 {
        fs::write(home.join("src/f"), format!("{i}\n")).unwrap();
        chown(home.join("src/f"), Some(uid), Some(gid)).unwrap();
        as_user(&["-C", "src", "add", "f"]);
        as_user(&["-C", "src", "commit", "-q", "-m", &format!("c{i}")]);
    }
    as_user(&["clone", "-q", "--bare", "src", "repo.git"]);
    as_user(&["clone", "-q", "repo.git", "wc"]);
    let linked = walkdir::WalkDir::new(home.join("wc/.git/objects"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .any(|e| e.metadata().map(|m| m.nlink() > 1).unwrap_or(false));
    assert!(linked, "git did not hard-link the objects");

    let out = run(common::bin()
        .arg("check")
        .arg(&s.jail)
        .arg("--state-dir")
        .arg(&s.state_dir)
        .arg("--no-replan"));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains("rm "), "{stdout}");

    // A hard link to a file the user does not own is still an error.
    fs::hard_link(
        s.jail.join("bin/bash").canonicalize().unwrap(),
        home.join("pinned"),
    )
    .or_else(|_| fs::hard_link(s.jail.join("usr/bin/bash"), home.join("pinned")))
    .unwrap();
    let out = run(common::bin()
        .arg("check")
        .arg(&s.jail)
        .arg("--state-dir")
        .arg(&s.state_dir)
        .arg("--no-replan"));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("/pinned: ") && l.contains("hard-link")),
        "{stdout}"
    );
}
