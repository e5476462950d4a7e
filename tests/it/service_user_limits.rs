//! Limits on jailed SSH users: `jailsmith user NAME ... --memory-max 150M --cpu-weight 20
//! --tasks-max 64` writes `user-UID.slice.d/50-jailsmith.conf` under the test's own
//! --systemd-dir and records the limits in the jail's state; a rerun changes nothing;
//! `--remove` deletes the drop-in; a bad value writes nothing. Uses the private sshd of the
//! user tests (never the machine's).

use crate::common;
use crate::user_support;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::sshd;
use common::{ReservedUser, run_status, text};
use user_support::Setup;

#[test]
fn user_limits_write_the_slice_dropin_and_remove_deletes_it() {
    let Some((_g, s)) =
        user_support::serial_setup("user_limits_write_the_slice_dropin_and_remove_deletes_it")
    else {
        return;
    };
    let systemd_dir = s.root.dir("systemd");
    common::make_dir(&systemd_dir, 0o755);
    let user = ReservedUser::new();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let mut add = s.user_cmd(user.name());
    add.arg("--create")
        .arg("--key")
        .arg(&key_pub)
        .arg("--systemd-dir")
        .arg(&systemd_dir)
        .args([
            "--memory-max",
            "150M",
            "--cpu-weight",
            "20",
            "--tasks-max",
            "64",
        ]);
    s.run_reloading(&mut add);

    let uid = user.lookup().expect("account created").uid.as_raw();
    let dropin = systemd_dir.join(format!("user-{uid}.slice.d/50-jailsmith.conf"));
    let conf = fs::read_to_string(&dropin).expect("the slice drop-in exists");
    let keys: Vec<&str> = conf
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert_eq!(
        keys,
        ["[Slice]", "MemoryMax=150M", "CPUWeight=20", "TasksMax=64"],
        "{conf}"
    );
    let meta = fs::metadata(&dropin).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o644));

    let state_files: Vec<_> = fs::read_dir(s.state_dir.join("jails"))
        .unwrap()
        .map(|e| fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(
        state_files
            .iter()
            .any(|t| t.contains("\"limits\"") && t.contains(user.name())),
        "the limits are not recorded in the state"
    );

    // The same command again: the drop-in is not rewritten.
    let out = common::run_ok(&mut add);
    let again = fs::metadata(&dropin).unwrap();
    assert_eq!(
        (meta.ino(), meta.mtime_nsec()),
        (again.ino(), again.mtime_nsec()),
        "{}",
        text(&out.stdout)
    );

    // Without limit options the drop-in stays as it is.
    common::run_ok(
        s.user_cmd(user.name())
            .arg("--systemd-dir")
            .arg(&systemd_dir),
    );
    assert_eq!(fs::read_to_string(&dropin).unwrap(), conf);

    // New limits replace the old ones as a whole.
    common::run_ok(
        s.user_cmd(user.name())
            .arg("--systemd-dir")
            .arg(&systemd_dir)
            .args(["--memory-max", "200M"]),
    );
    let conf = fs::read_to_string(&dropin).unwrap();
    assert!(
        conf.contains("\nMemoryMax=200M\n") && !conf.contains("CPUWeight"),
        "{conf}"
    );

    // check: clean while the drop-in matches the state, an error once it drifts.
    let check = |s: &Setup| {
        let mut c = common::bin();
        c.arg("check")
            .arg(&s.jail)
            .arg("--state-dir")
            .arg(&s.state_dir)
            .arg("--systemd-dir")
            .arg(&systemd_dir)
            .arg("--no-replan");
        common::run(&mut c)
    };
    let out = check(&s);
    assert!(
        !text(&out.stdout).contains("limits-changed")
            && !text(&out.stdout).contains("limits-missing"),
        "{}",
        text(&out.stdout)
    );
    // issue 17: where nothing enforces the limits, check says so (a warning)
    let systemd_runs = fs::read_to_string("/proc/1/comm").is_ok_and(|c| c.trim() == "systemd");
    if !systemd_runs {
        assert!(
            text(&out.stdout).contains("limits-unenforced")
                && text(&out.stdout).contains("systemd is not PID 1"),
            "{}",
            text(&out.stdout)
        );
    }
    common::write_file(&dropin, "[Slice]\nMemoryMax=infinity\n", 0o644);
    let out = check(&s);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("limits-changed"),
        "{}",
        text(&out.stdout)
    );
    fs::remove_file(&dropin).unwrap();
    let out = check(&s);
    assert!(
        text(&out.stdout).contains("limits-missing"),
        "{}",
        text(&out.stdout)
    );
    common::write_file(&dropin, &conf, 0o644);

    let mut rm = s.user_cmd(user.name());
    rm.arg("--remove").arg("--systemd-dir").arg(&systemd_dir);
    s.run_reloading(&mut rm);
    assert!(!dropin.exists(), "--remove left the slice drop-in");
    assert!(
        !dropin.parent().unwrap().exists(),
        "--remove left the .d directory"
    );
}

#[test]
fn bad_limit_value_for_a_user_writes_nothing() {
    let Some((_g, s)) = user_support::serial_setup("bad_limit_value_for_a_user_writes_nothing")
    else {
        return;
    };
    let systemd_dir = s.root.dir("systemd");
    common::make_dir(&systemd_dir, 0o755);
    let user = ReservedUser::new();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let out = run_status(
        s.user_cmd(user.name())
            .arg("--create")
            .arg("--key")
            .arg(&key_pub)
            .arg("--systemd-dir")
            .arg(&systemd_dir)
            .args(["--memory-max", "150MB"]),
        2,
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("--memory-max") && err.contains("infinity"),
        "{err}"
    );
    assert!(user.lookup().is_none(), "an account was created");
    assert!(
        !s.dropin(user.name()).exists(),
        "an sshd drop-in was written"
    );
    assert_eq!(
        fs::read_dir(&systemd_dir).unwrap().count(),
        0,
        "something was written in the systemd directory"
    );
}

#[test]
fn limits_where_systemd_is_not_pid1_warn_and_a_dry_run_asks_for_no_reload() {
    let Some((_g, s)) = user_support::serial_setup(
        "limits_where_systemd_is_not_pid1_warn_and_a_dry_run_asks_for_no_reload",
    ) else {
        return;
    };
    let systemd_is_init = fs::read_to_string("/proc/1/comm").is_ok_and(|c| c.trim() == "systemd");
    let systemd_dir = s.root.dir("systemd");
    let user = ReservedUser::new();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let mut dry = s.user_cmd(user.name());
    dry.arg("--create")
        .arg("--key")
        .arg(&key_pub)
        .arg("--systemd-dir")
        .arg(&systemd_dir)
        .arg("--dry-run")
        .args(["--memory-max", "50M"]);
    let out = common::run_ok(&mut dry);
    let err = text(&out.stderr);
    assert!(
        !err.contains("daemon-reload"),
        "a dry run told the admin to reload systemd: {err}"
    );
    assert_eq!(
        err.contains("systemd is not PID 1"),
        !systemd_is_init,
        "{err}"
    );
    assert!(user.lookup().is_none(), "the dry run created the account");
}

#[test]
fn bad_allow_ip_for_a_user_writes_nothing() {
    let Some((_g, s)) = user_support::serial_setup("bad_allow_ip_for_a_user_writes_nothing") else {
        return;
    };
    let systemd_dir = s.root.dir("systemd");
    let user = ReservedUser::new();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let out = run_status(
        s.user_cmd(user.name())
            .arg("--create")
            .arg("--key")
            .arg(&key_pub)
            .arg("--systemd-dir")
            .arg(&systemd_dir)
            .args(["--allow-ip", "10.0.0.0/33"]),
        2,
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("--allow-ip") && err.contains("prefix"),
        "{err}"
    );
    assert!(user.lookup().is_none(), "an account was created");
    assert_eq!(fs::read_dir(&systemd_dir).unwrap().count(), 0);
}
