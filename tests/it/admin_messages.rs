//! What the administrator is told when something is off: a command run without the
//! privileges it needs (as nobody, through setpriv), typos in profile, program and
//! subcommand names, a private key given as `--key`, a relative jail path, `--key` replacing
//! and `--add-key` adding keys, `destroy --kill-sessions --dry-run` listing what it would end.

use crate::common;
use crate::user_support::Setup;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::sshd::{self, client_keypair};
use common::{TestRoot, UserGuard, run, run_ok, run_status, serial, text};

/// The binary under test run as nobody (uid and gid 65534, no supplementary groups).
fn as_nobody(args: &[&str]) -> std::process::Output {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(common::bin_path())
        .args(args)
        .current_dir("/");
    run(&mut c)
}

#[test]
fn every_command_that_needs_root_says_so_and_names_the_sudo_line() {
    let test = "every_command_that_needs_root_says_so_and_names_the_sudo_line";
    if !common::require_root(test) || !common::require_cmd("setpriv") {
        return;
    }
    let root = TestRoot::new(test);
    let state = root.dir("state");
    fs::set_permissions(&state, fs::Permissions::from_mode(0o700)).unwrap();
    let st = state.display().to_string();
    let jail = root.jail("jail").display().to_string();
    let spec = root.path().join("spec.toml").display().to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec!["build", &jail, "--bin", "bash", "--state-dir", &st],
        vec![
            "build",
            &jail,
            "--bin",
            "bash",
            "--dry-run",
            "--state-dir",
            &st,
        ],
        vec!["user", "someone", "--jail", &jail, "--dry-run"],
        vec!["users", "--jail", &jail, "--state-dir", &st],
        vec!["verify", "someone", "--key", "/k", "--state-dir", &st],
        vec!["check", &jail, "--state-dir", &st],
        vec!["check", &jail, "--fix", "--state-dir", &st],
        vec!["update", &jail, "--state-dir", &st],
        vec!["mount", &jail, "--state-dir", &st],
        vec!["umount", &jail, "--state-dir", &st],
        vec!["destroy", &jail, "--dry-run", "--state-dir", &st],
        vec![
            "service",
            "web",
            "--jail",
            &jail,
            "--exec",
            "/bin/true",
            "--state-dir",
            &st,
        ],
        vec!["apply", &spec],
    ];
    for args in cases {
        let out = as_nobody(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&format!("jailsmith {} must run as root: ", args[0])),
            "{args:?}: {err}"
        );
        let sudo = format!("run: sudo {} {}", common::bin_path().display(), args[0]);
        assert!(err.contains(&sudo), "{args:?}: no `{sudo}` in {err}");
        assert_eq!(err.lines().count(), 1, "one message, no chain: {err}");
    }
    // What any user may do still works.
    let out = as_nobody(&["profiles", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn did_you_mean_for_profiles_programs_and_subcommands() {
    let out = run_status(common::bin().args(["profiles", "show", "editor"]), 2);
    let err = text(&out.stderr);
    assert!(
        err.contains("unknown profile `editor` (did you mean `editors`?)"),
        "{err}"
    );

    let work = tempfile::tempdir().unwrap();
    let jail = work.path().join("jail").display().to_string();
    let out = run_status(
        common::bin().args(["build", &jail, "--bin", "bashh", "--dry-run"]),
        2,
    );
    let err = text(&out.stderr);
    assert!(err.contains("program \"bashh\" not found"), "{err}");
    assert!(err.contains("(did you mean `bash`?)"), "{err}");

    let out = run_status(common::bin().arg("buidl"), 2);
    let err = text(&out.stderr);
    assert!(err.contains("similar subcommand exists: 'build'"), "{err}");
}

#[test]
fn a_relative_jail_path_is_refused_with_the_absolute_one() {
    let cwd = tempfile::tempdir().unwrap();
    for args in [
        &["build", "srv/j", "--bin", "bash", "--dry-run"][..],
        &["check", "srv/j"],
        &["destroy", "srv/j", "--dry-run"],
        &["user", "someone", "--jail", "srv/j", "--dry-run"],
    ] {
        let out = run_status(common::bin().args(args).current_dir(cwd.path()), 2);
        let err = text(&out.stderr);
        let want = format!(
            "srv/j: the jail path must be absolute; did you mean {}?",
            cwd.path().join("srv/j").display()
        );
        assert!(err.contains(&want), "{args:?}: {err}");
    }
}

#[test]
fn a_private_key_is_named_and_its_pub_suggested() {
    if !sshd::available("a_private_key_is_named_and_its_pub_suggested") {
        return;
    }
    let _g = serial();
    let s = Setup::new("a_private_key_is_named_and_its_pub_suggested");
    let user = UserGuard::new();
    let (key, key_pub) = client_keypair(&s.root.dir("client"));
    let out = run_status(
        s.user_cmd(user.name())
            .arg("--key")
            .arg(&key)
            .arg("--dry-run"),
        2,
    );
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{} is a private key", key.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!("pass --key {}", key_pub.display())),
        "{err}"
    );
    assert!(!err.contains("Base64"), "{err}");
    assert!(!s.keys_dir.join(user.name()).exists());
}

#[test]
fn key_replaces_and_add_key_adds() {
    if !sshd::available("key_replaces_and_add_key_adds") {
        return;
    }
    let _g = serial();
    let s = Setup::new("key_replaces_and_add_key_adds");
    let user = UserGuard::new();
    let (key_a, pub_a) = client_keypair(&s.root.dir("client"));
    let (key_b, pub_b) = client_keypair(&s.root.dir("client"));
    let key_text = |p: &Path| {
        let t = fs::read_to_string(p).unwrap();
        t.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    };
    let authorized = s.keys_dir.join(user.name());

    s.run_reloading(s.user_cmd(user.name()).arg("--key").arg(&pub_a));
    run_ok(s.user_cmd(user.name()).arg("--add-key").arg(&pub_b));
    let keys = fs::read_to_string(&authorized).unwrap();
    assert!(keys.contains(&key_text(&pub_a)), "{keys}");
    assert!(keys.contains(&key_text(&pub_b)), "{keys}");
    for key in [&key_a, &key_b] {
        let (code, out, err) = s.ssh(user.name(), key, "id -un");
        assert_eq!((code, out.trim()), (Some(0), user.name()), "{err}");
    }
    // adding a key it has changes nothing
    let out = run_ok(s.user_cmd(user.name()).arg("--add-key").arg(&pub_b));
    assert!(
        text(&out.stdout).contains("up to date"),
        "{}",
        text(&out.stdout)
    );

    // --key replaces: the dry run says how many keys would stop working
    let out = run_ok(
        s.user_cmd(user.name())
            .arg("--key")
            .arg(&pub_a)
            .arg("--dry-run"),
    );
    let said = text(&out.stdout);
    assert!(
        said.contains("replaces the account's keys: 1 key it had will no longer log in"),
        "{said}"
    );
    assert_eq!(fs::read_to_string(&authorized).unwrap(), keys);
    run_ok(s.user_cmd(user.name()).arg("--key").arg(&pub_a));
    let keys = fs::read_to_string(&authorized).unwrap();
    assert!(!keys.contains(&key_text(&pub_b)), "{keys}");

    let out = run_status(
        s.user_cmd(user.name())
            .arg("--key")
            .arg(&pub_a)
            .arg("--add-key")
            .arg(&pub_b),
        2,
    );
    assert!(
        text(&out.stderr).contains("cannot be used with"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn destroy_kill_sessions_dry_run_lists_the_sessions_it_would_end() {
    let test = "destroy_kill_sessions_dry_run_lists_the_sessions_it_would_end";
    if !common::require_root(test) {
        return;
    }
    let root = TestRoot::new(test);
    let jail = root.jail("jail");
    let state = root.state_dir();
    run_ok(
        common::bin()
            .arg("build")
            .arg(&jail)
            .args(["--bin", "sleep", "--state-dir"])
            .arg(&state),
    );
    let sleeper = Command::new("chroot")
        .arg(&jail)
        .args([common::find_cmd("sleep").unwrap().to_str().unwrap(), "120"])
        .spawn()
        .unwrap();
    let mut sleeper = common::ProcessGuard::new(sleeper);
    let pid = sleeper.pid();
    let rooted = |pid: i32| fs::read_link(format!("/proc/{pid}/root")).is_ok_and(|r| r == jail);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !rooted(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "the sleeper never entered the jail"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let destroy = |extra: &[&str]| {
        let mut c = common::bin();
        c.arg("destroy")
            .arg(&jail)
            .arg("--state-dir")
            .arg(&state)
            .args(extra);
        c
    };

    let out = run_status(&mut destroy(&["--dry-run"]), 4);
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "refusing while sessions run: pids {pid} (rooted in"
        )),
        "{err}"
    );

    let out = run_ok(&mut destroy(&["--dry-run", "--kill-sessions"]));
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!("would kill {pid} (rooted in")),
        "{said}"
    );
    assert!(
        !text(&out.stderr).contains("refusing"),
        "{}",
        text(&out.stderr)
    );
    assert!(rooted(pid), "a dry run ended the session");
    assert!(jail.join("etc").is_dir(), "a dry run removed the jail");
    assert!(sleeper.wait_timeout(Duration::from_millis(1)).is_none());

    // the plan as data: the kill is the first operation, by PID, with why it counts
    let json = |out: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&out.stdout).expect("destroy --json prints JSON")
    };
    let dry = json(&run_ok(&mut destroy(&[
        "--dry-run",
        "--kill-sessions",
        "--json",
    ])));
    let kill = &dry["plan"][0];
    assert_eq!(
        (&kill["op"], &kill["pid"]),
        (&serde_json::json!("kill_process"), &serde_json::json!(pid)),
        "{dry}"
    );
    assert!(
        kill["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("--kill-sessions: rooted in")),
        "{kill}"
    );
    assert!(rooted(pid), "a dry run ended the session");

    let real = json(&run_ok(&mut destroy(&["--kill-sessions", "--json"])));
    assert_eq!(&real["plan"][0], kill, "{real}");
    assert!(sleeper.wait_timeout(Duration::from_secs(10)).is_some());
    assert!(!jail.join("etc").exists());
}
