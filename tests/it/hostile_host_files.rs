//! Issue 14 against the files jailsmith writes outside a jail and its own state: the one safe
//! writer (a symlink planted at a unit's name or at the old predictable temporary, a unit
//! directory others can write), an interrupted build (SIGINT mid-copy, then update, check
//! and destroy --purge), and the jail's passwd/group recorded in the manifest by `user` and
//! `service`, so `check` is clean right after. Host canaries are compared before and after.

use crate::common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Canary, TestRoot, bin, make_dir, require_root, run, run_ok, text};

fn jailsmith(cmd: &str, jail: &Path, state: &Path) -> Command {
    let mut c = bin();
    c.arg(cmd).arg(jail).arg("--state-dir").arg(state);
    c
}

/// A jail with bash and one read-only bind, mounted; returns (jail, state dir, unit name).
fn jail_with_bind(t: &TestRoot) -> (PathBuf, PathBuf, String) {
    let src = t.dir("data");
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let bind = format!("{}:/srv/data", src.display());
    run_ok(jailsmith("build", &jail, &state).args(["--bin", "bash", "--bind", &bind]));
    run_ok(&mut jailsmith("mount", &jail, &state));
    let unit = unit_of(&jail, "srv/data");
    (jail, state, unit)
}

use common::mount_unit_of as unit_of;

#[test]
fn mount_units_never_follow_a_planted_symlink() {
    if !require_root("mount_units_never_follow_a_planted_symlink") {
        return;
    }
    let t = TestRoot::for_current_test();
    let _guard = common::UnmountGuard(t.path().to_path_buf());
    let (jail, state, unit) = jail_with_bind(&t);
    let canary = Canary::new(&t.dir("outside").join("canary"), "host data\n");
    let units = t.dir("units");

    // a symlink at the unit's own name: refused, the canary keeps everything
    symlink(canary.path(), units.join(&unit)).unwrap();
    let out = run(jailsmith("mount", &jail, &state)
        .arg("--systemd-unit-dir")
        .arg(&units));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&unit), "{}", text(&out.stderr));
    canary.assert_unchanged("mount --systemd-unit-dir with a symlink at the unit");
    fs::remove_file(units.join(&unit)).unwrap();

    // the name the old writer used for its temporary: never opened now
    symlink(canary.path(), units.join(format!(".{unit}.jailsmith-tmp"))).unwrap();
    run_ok(
        jailsmith("mount", &jail, &state)
            .arg("--systemd-unit-dir")
            .arg(&units),
    );
    canary.assert_unchanged("mount --systemd-unit-dir with a symlink at the old temporary");
    let written = fs::read_to_string(units.join(&unit)).unwrap();
    assert!(
        written.contains("Options=bind,ro,nosuid,nodev"),
        "{written}"
    );
}

#[test]
fn a_unit_refused_midway_rolls_back_the_units_written_before_it() {
    if !require_root("a_unit_refused_midway_rolls_back_the_units_written_before_it") {
        return;
    }
    let t = TestRoot::for_current_test();
    let _guard = common::UnmountGuard(t.path().to_path_buf());
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let mut build = jailsmith("build", &jail, &state);
    build.args(["--bin", "bash"]);
    for name in ["a", "b", "c"] {
        let bind = format!("{}:/srv/{name}", t.dir(name).display());
        build.args(["--bind", &bind]);
    }
    run_ok(&mut build);
    run_ok(&mut jailsmith("mount", &jail, &state));
    let canary = Canary::new(&t.dir("outside").join("canary"), "host data\n");
    let units = t.dir("units");
    let [a, b, c] = ["srv/a", "srv/b", "srv/c"].map(|at| units.join(unit_of(&jail, at)));
    // a is new, b an older unit of the administrator's, c a symlink planted at its name
    common::write_file(&b, "[Mount]\n# the administrator's\n", 0o644);
    symlink(canary.path(), &c).unwrap();

    let out = run(jailsmith("mount", &jail, &state)
        .arg("--systemd-unit-dir")
        .arg(&units));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains(&c.display().to_string()), "{err}");
    let rolled = err
        .split_once("rolled back: ")
        .unwrap_or_else(|| panic!("no roll-back reported: {err}"))
        .1;
    for unit in [&a, &b] {
        assert!(rolled.contains(&unit.display().to_string()), "{err}");
    }
    assert!(!err.contains("could NOT roll back"), "{err}");
    assert!(!a.exists(), "the new unit {} was left", a.display());
    assert_eq!(
        fs::read_to_string(&b).unwrap(),
        "[Mount]\n# the administrator's\n",
        "the older unit was not put back"
    );
    assert!(c.is_symlink());
    canary.assert_unchanged("mount --systemd-unit-dir refused at its third unit");

    // the symlink gone, the same command writes all three
    fs::remove_file(&c).unwrap();
    run_ok(
        jailsmith("mount", &jail, &state)
            .arg("--systemd-unit-dir")
            .arg(&units),
    );
    for unit in [&a, &b, &c] {
        let written = fs::read_to_string(unit).unwrap();
        assert!(
            written.contains("Options=bind,ro,nosuid,nodev"),
            "{written}"
        );
    }
    canary.assert_unchanged("mount --systemd-unit-dir after the symlink was removed");
}

#[test]
fn mount_units_go_only_where_nobody_but_root_can_write() {
    if !require_root("mount_units_go_only_where_nobody_but_root_can_write") {
        return;
    }
    let t = TestRoot::for_current_test();
    let _guard = common::UnmountGuard(t.path().to_path_buf());
    let (jail, state, unit) = jail_with_bind(&t);
    let open_dir = t.dir("open-units");
    fs::set_permissions(&open_dir, fs::Permissions::from_mode(0o777)).unwrap();
    let out = run(jailsmith("mount", &jail, &state)
        .arg("--systemd-unit-dir")
        .arg(&open_dir));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is writable by others (mode 0777)"),
        "{}",
        text(&out.stderr)
    );
    assert!(!open_dir.join(&unit).exists());

    // a directory owned by another user is refused the same way
    let user_dir = t.dir("user-units");
    make_dir(&user_dir, 0o755);
    std::os::unix::fs::chown(&user_dir, Some(65534), Some(65534)).unwrap();
    let out = run(jailsmith("mount", &jail, &state)
        .arg("--systemd-unit-dir")
        .arg(&user_dir));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(!user_dir.join(&unit).exists());

    // a missing directory below one others can write: whoever can write there could swap
    // it for their own later, so it is refused too, and not made
    let below = open_dir.join("etc/systemd/system");
    let out = run(jailsmith("mount", &jail, &state)
        .arg("--systemd-unit-dir")
        .arg(&below));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&open_dir.display().to_string()),
        "{}",
        text(&out.stderr)
    );
    assert!(!open_dir.join("etc").exists(), "a directory was made");
}

/// `jailsmith check JAIL` against the test's state directory; returns (exit code, stdout).
fn check(jail: &Path, state: &Path) -> (Option<i32>, String) {
    let out = run(&mut jailsmith("check", jail, state));
    (out.status.code(), text(&out.stdout) + &text(&out.stderr))
}

#[test]
fn check_is_clean_right_after_user_and_after_a_service_in_the_same_jail() {
    let test = "check_is_clean_right_after_user_and_after_a_service_in_the_same_jail";
    if !common::sshd::available(test) || !common::require_cmds(&["useradd", "sleep"]) {
        return;
    }
    let _g = common::serial();
    let s = crate::user_support::Setup::new(test);
    let user = common::UserGuard::new();
    let (_key, key_pub) = common::sshd::client_keypair(&s.root.dir("keys"));
    run_ok(
        s.user_cmd(user.name())
            .arg("--key")
            .arg(&key_pub)
            .arg("--no-reload"),
    );
    let (code, out) = check(&s.jail, &s.state_dir);
    assert_eq!(code, Some(0), "check right after `user`:\n{out}");

    let account = common::ReservedUser::new();
    let units = s.root.dir("units");
    run_ok(
        common::bin()
            .args(["service", "idle", "--jail"])
            .arg(&s.jail)
            .args([
                "--exec",
                "sleep infinity",
                "--user",
                account.name(),
                "--create-user",
            ])
            .arg("--unit-dir")
            .arg(&units)
            .arg("--state-dir")
            .arg(&s.state_dir)
            .arg("--no-reload"),
    );
    let (code, out) = check(&s.jail, &s.state_dir);
    assert_eq!(code, Some(0), "check right after `service`:\n{out}");
    let passwd = fs::read_to_string(s.jail.join("etc/passwd")).unwrap();
    assert!(passwd.contains(&format!("\n{}:", user.name())), "{passwd}");
    assert!(
        passwd.contains(&format!("\n{}:", account.name())),
        "{passwd}"
    );

    // a rebuild keeps both accounts and changes nothing
    let out = run_ok(jailsmith("build", &s.jail, &s.state_dir).args(["--bin", "bash"]));
    assert!(
        text(&out.stderr).contains("up to date"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn host_accounts_found_in_a_jail_are_reported_and_left_out() {
    if !require_root("host_accounts_found_in_a_jail_are_reported_and_left_out") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    run_ok(jailsmith("build", &jail, &state).args(["--bin", "bash"]));
    // an admin copies the host's account files over the jail's
    fs::copy("/etc/passwd", jail.join("etc/passwd")).unwrap();
    fs::copy("/etc/group", jail.join("etc/group")).unwrap();
    let out = run_ok(jailsmith("build", &jail, &state).args(["--bin", "bash"]));
    let err = text(&out.stderr);
    assert!(
        err.contains("held accounts jailsmith did not jail there") && err.contains("daemon"),
        "{err}"
    );
    let passwd = fs::read_to_string(jail.join("etc/passwd")).unwrap();
    assert_eq!(passwd, "root:x:0:0:root:/root:/bin/sh\n");
    let group = fs::read_to_string(jail.join("etc/group")).unwrap();
    assert_eq!(group, "root:x:0:\n");
    let (code, out) = check(&jail, &state);
    assert_eq!(code, Some(0), "{out}");
}

/// The jail's passwd and group come from the state's accounts and the host's entries for
/// them, never from the lines in the jail: a jailed user's line rewritten in the jail (uid 0)
/// is the host's again after a rebuild, a planted account goes (named in a warning), and a
/// jailed user whose host account is gone is named and left out.
#[test]
fn jail_accounts_come_from_the_state_and_the_host_never_from_the_jails_lines() {
    let test = "jail_accounts_come_from_the_state_and_the_host_never_from_the_jails_lines";
    if !require_root(test) || !common::require_cmds(&["useradd", "userdel"]) {
        return;
    }
    let _g = common::serial();
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    run_ok(jailsmith("build", &jail, &state).args(["--bin", "bash"]));
    let user = common::UserGuard::new();
    let name = user.name().to_string();
    common::edit_jail_state(&state, |v| v["users"] = serde_json::json!([name]));
    let host_line = fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find(|l| l.starts_with(&format!("{name}:")))
        .expect("the host's line")
        .to_string();
    let root = "root:x:0:0:root:/root:/bin/sh\n";
    let want_passwd = format!("{root}{host_line}\n");
    let want_group = format!("root:x:0:\n{name}:x:{}:\n", user.gid());
    let files = || {
        (
            fs::read_to_string(jail.join("etc/passwd")).unwrap(),
            fs::read_to_string(jail.join("etc/group")).unwrap(),
        )
    };
    run_ok(jailsmith("build", &jail, &state).args(["--bin", "bash"]));
    assert_eq!(files(), (want_passwd.clone(), want_group.clone()));

    fs::write(
        jail.join("etc/passwd"),
        format!("{root}{name}:x:0:0::/root:/bin/sh\nplanted:x:0:0::/:/bin/sh\n"),
    )
    .unwrap();
    fs::write(jail.join("etc/group"), "root:x:0:\nplanted:x:0:\n").unwrap();
    let out = run_ok(jailsmith("build", &jail, &state).args(["--bin", "bash"]));
    let err = text(&out.stderr);
    assert!(
        err.contains("did not jail there (planted)"),
        "the planted account is named: {err}"
    );
    assert!(!err.contains(&format!("({name}")), "{err}");
    assert_eq!(
        files(),
        (want_passwd, want_group),
        "the jail's lines were taken as input"
    );

    drop(user);
    let out = run_ok(jailsmith("build", &jail, &state).args(["--bin", "bash"]));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "{name} is jailed here but has no account on this host"
        )),
        "{err}"
    );
    assert_eq!(files(), (root.to_string(), "root:x:0:\n".to_string()));
}

/// Every `.jailsmith-tmp-*` name under `dir` (not following symlinks).
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_name().to_string_lossy().contains("jailsmith-tmp") {
                out.push(p.clone());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(p);
            }
        }
    }
    out
}

#[test]
fn ctrl_c_mid_build_leaves_a_state_that_update_check_and_destroy_work_from() {
    let test = "ctrl_c_mid_build_leaves_a_state_that_update_check_and_destroy_work_from";
    if !require_root(test) {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    // a big file: its copy is still running when the signal comes
    let big = t.dir("big");
    let blob = fs::File::create(big.join("blob")).unwrap();
    blob.set_len(64 << 20).unwrap();
    drop(blob);
    let mut cmd = jailsmith("build", &jail, &state);
    cmd.args(["--bin", "bash", "--file"])
        .arg(&big)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id() as i32;
    let mut guard = common::ProcessGuard::new(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while temporaries(&jail).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the build never started copying"
        );
        if guard
            .wait_timeout(std::time::Duration::from_millis(0))
            .is_some()
        {
            panic!("the build finished before it could be interrupted");
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = guard
        .wait_timeout(std::time::Duration::from_secs(60))
        .expect("the build stops after SIGINT");
    assert_eq!(
        status.code(),
        Some(130),
        "exit status after SIGINT: {status:?}"
    );
    assert_eq!(
        temporaries(&jail),
        Vec::<PathBuf>::new(),
        "temporaries left"
    );
    let st = fs::read_dir(state.join("jails")).unwrap().count();
    assert_eq!(
        st, 1,
        "the state (its journal) was written before the first object"
    );

    // check works from that state (it reports what is missing), update finishes the job
    let out = run(&mut jailsmith("check", &jail, &state));
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "check after an interrupted build: {}",
        text(&out.stderr)
    );
    let out = run(&mut jailsmith("update", &jail, &state));
    assert!(out.status.success(), "update: {}", text(&out.stderr));
    let (code, out) = check(&jail, &state);
    assert_eq!(code, Some(0), "check after update: {out}");

    // destroy --purge leaves nothing: no jail, no state
    let out = run(jailsmith("destroy", &jail, &state).arg("--purge"));
    assert!(
        out.status.success(),
        "destroy --purge: {}",
        text(&out.stderr)
    );
    assert!(!jail.exists(), "the jail is gone");
    assert_eq!(fs::read_dir(state.join("jails")).unwrap().count(), 0);
}

#[test]
fn temporaries_a_killed_build_left_are_swept_by_the_next_build() {
    if !require_root("temporaries_a_killed_build_left_are_swept_by_the_next_build") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    run_ok(jailsmith("build", &jail, &state).args(["--bin", "bash"]));
    // what a SIGKILL mid-copy leaves: a root-owned temporary, and the journal's flag
    let left = jail.join("etc/.jailsmith-tmp-dead0001");
    fs::write(&left, "half a file").unwrap();
    common::edit_jail_state(&state, |v| v["in_progress"] = true.into());
    let out = run_ok(jailsmith("build", &jail, &state).args(["--bin", "bash"]));
    assert!(!left.exists(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("removed 1 temporaries"),
        "{}",
        text(&out.stderr)
    );
    let (code, out) = check(&jail, &state);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn a_directory_holding_a_copy_of_the_hosts_etc_is_not_adopted() {
    if !require_root("a_directory_holding_a_copy_of_the_hosts_etc_is_not_adopted") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    make_dir(&jail.join("etc"), 0o755);
    for f in ["passwd", "group", "shadow"] {
        fs::copy(Path::new("/etc").join(f), jail.join("etc").join(f)).unwrap();
    }
    let out = run(jailsmith("build", &jail, &state).args(["--bin", "bash", "--adopt"]));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("/etc/shadow"),
        "{}",
        text(&out.stderr)
    );
    assert!(!state.join("jails").exists(), "nothing was recorded");
    assert!(
        !jail.join("usr").exists() && !jail.join("dev").exists(),
        "nothing was built"
    );
    // without the secret, the copy is adopted and its host accounts are left out
    fs::remove_file(jail.join("etc/shadow")).unwrap();
    let out = run_ok(jailsmith("build", &jail, &state).args(["--bin", "bash", "--adopt"]));
    assert!(
        text(&out.stderr).contains("daemon"),
        "{}",
        text(&out.stderr)
    );
    let passwd = fs::read_to_string(jail.join("etc/passwd")).unwrap();
    assert_eq!(passwd, "root:x:0:0:root:/root:/bin/sh\n");
}

#[test]
fn account_names_found_in_a_jail_are_printed_escaped() {
    if !require_root("account_names_found_in_a_jail_are_printed_escaped") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    run_ok(jailsmith("build", &jail, &state).args(["--bin", "bash"]));
    let mut passwd = fs::read_to_string(jail.join("etc/passwd")).unwrap();
    passwd.push_str("ev\x1b[2Jil:x:5000:5000::/:/bin/sh\n");
    fs::write(jail.join("etc/passwd"), passwd).unwrap();
    let out = run_ok(jailsmith("build", &jail, &state).args(["--bin", "bash"]));
    let err = text(&out.stderr);
    assert!(!err.contains('\x1b'), "raw escape printed: {err:?}");
    assert!(err.contains("ev\\x1b[2Jil"), "{err}");
}
