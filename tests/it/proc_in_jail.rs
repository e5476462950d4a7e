//! `build --proc` and `--devpts` as root: `mount` gives the jail a private procfs
//! (hidepid=invisible, subset=pid) in which an unprivileged jailed process sees its own
//! processes only, while a process of another uid runs on the host (also proved by `verify`
//! over SSH), and a private devpts instance on which `tty` prints a /dev/pts path; `check`
//! accepts exactly those mounts and still refuses ones the jail does not declare; `umount`
//! and `destroy` take them down.

use crate::common;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{ProcessGuard, TestRoot, bin, chroot_cmd, require_root, run, run_ok, text};
use nix::mount::{MsFlags, mount};

use common::mount_at;

use common::jailsmith_at as jailsmith;

/// A `sleep` running on the host as `uid` (no account needed), killed on drop.
fn sleeper(uid: u32) -> ProcessGuard {
    let child = Command::new("sleep")
        .arg("120")
        .uid(uid)
        .gid(uid)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn sleep");
    ProcessGuard::new(child)
}

#[test]
fn proc_shows_only_own_processes_and_check_accepts_only_it() {
    if !require_root("proc_shows_only_own_processes_and_check_accepts_only_it") {
        return;
    }
    let t = TestRoot::for_current_test();
    let _guard = common::UnmountGuard(t.path().to_path_buf());
    let (jail, state) = (t.jail("jail"), t.state_dir());
    run_ok(&mut jailsmith(
        &[
            "build", "--bin", "bash", "--bin", "ps", "--bin", "ls", "--proc",
        ],
        &jail,
        &state,
    ));
    let units = t.path().join("units");
    let said = common::mount_jail(&jail, &state, &units);
    assert!(said.contains("mounted proc:/proc"), "{said}");
    let line = mount_at(&jail.join("proc")).expect("proc mounted");
    assert!(
        line.contains(" - proc proc ") && line.contains("hidepid=invisible"),
        "{line}"
    );
    assert!(
        line.contains("subset=pid") && line.contains("nosuid,nodev,noexec"),
        "{line}"
    );
    let unit = fs::read_dir(&units)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-proc.mount"))
        .expect("a proc unit");
    let unit = fs::read_to_string(unit).unwrap();
    assert!(
        unit.contains("Type=proc\n") && unit.contains("hidepid=invisible,subset=pid"),
        "{unit}"
    );
    // idempotent
    let again = run_ok(&mut jailsmith(&["mount"], &jail, &state));
    assert!(text(&again.stdout).contains("already mounted proc:/proc"));

    // another uid's process on the host: root sees it, the jailed user does not
    let other = sleeper(65533);
    assert!(Path::new(&format!("/proc/{}", other.pid())).exists());
    let out = run_ok(&mut chroot_cmd(
        &jail,
        Some("65534:65534"),
        &["ps", "-e", "-o", "pid=,uid="],
    ));
    let listed: Vec<(i32, u32)> = text(&out.stdout)
        .lines()
        .map(|l| {
            let mut f = l.split_whitespace();
            (
                f.next().unwrap().parse().unwrap(),
                f.next().unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert!(!listed.is_empty(), "ps listed nothing");
    assert!(listed.iter().all(|(_, uid)| *uid == 65534), "{listed:?}");
    assert!(
        !listed.iter().any(|(pid, _)| *pid == other.pid()),
        "{listed:?}"
    );
    assert!(!listed.iter().any(|(pid, _)| *pid == 1), "{listed:?}");
    // subset=pid: nothing but PID directories (and self links)
    let out = run_ok(&mut chroot_cmd(
        &jail,
        Some("65534:65534"),
        &["ls", "/proc"],
    ));
    let names = text(&out.stdout);
    for absent in ["sys", "kallsyms", "meminfo", "mounts"] {
        assert!(
            !names.lines().any(|n| n == absent),
            "/proc shows {absent}: {names}"
        );
    }

    let check = run(&mut jailsmith(&["check"], &jail, &state));
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));

    // a proc the jail does not declare, anywhere else: an error
    let extra = jail.join("srv");
    fs::create_dir(&extra).unwrap();
    mount(
        Some("proc"),
        &extra,
        Some("proc"),
        MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    let check = run(&mut jailsmith(&["check"], &jail, &state));
    assert_ne!(check.status.code(), Some(0));
    assert!(
        text(&check.stdout).contains("forbidden-mount")
            || text(&check.stderr).contains("forbidden-mount")
    );
    // ... and destroy will not take it for the jail's own
    let refused = run(&mut jailsmith(&["destroy"], &jail, &state));
    assert_ne!(refused.status.code(), Some(0));
    assert!(mount_at(&jail.join("proc")).is_some());
    nix::mount::umount2(&extra, nix::mount::MntFlags::MNT_DETACH).unwrap();
    fs::remove_dir(&extra).unwrap();

    let out = run_ok(&mut jailsmith(&["umount"], &jail, &state));
    assert!(
        text(&out.stdout).contains("unmounted proc:/proc"),
        "{}",
        text(&out.stdout)
    );
    assert!(mount_at(&jail.join("proc")).is_none());
    run_ok(&mut jailsmith(&["mount"], &jail, &state));
    run_ok(&mut jailsmith(&["destroy", "--purge"], &jail, &state));
    assert!(mount_at(&jail.join("proc")).is_none());
    assert!(!jail.exists());
    drop(other);
}

#[test]
fn undeclared_proc_is_an_error_in_check() {
    if !require_root("undeclared_proc_is_an_error_in_check") {
        return;
    }
    let t = TestRoot::for_current_test();
    let _guard = common::UnmountGuard(t.path().to_path_buf());
    let (jail, state) = (t.jail("jail"), t.state_dir());
    run_ok(&mut jailsmith(&["build", "--bin", "bash"], &jail, &state));
    let target = jail.join("proc");
    fs::create_dir(&target).unwrap();
    // even a private one: the jail did not ask for it
    mount(
        Some("proc"),
        &target,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("hidepid=invisible,subset=pid"),
    )
    .unwrap();
    let check = run(&mut jailsmith(&["check"], &jail, &state));
    let all = format!("{}{}", text(&check.stdout), text(&check.stderr));
    assert_ne!(check.status.code(), Some(0), "{all}");
    assert!(all.contains("forbidden-mount"), "{all}");
    // umount leaves a mount it does not own; destroy refuses while it is there
    run_ok(&mut jailsmith(&["umount"], &jail, &state));
    assert!(mount_at(&target).is_some());
    let refused = run(&mut jailsmith(&["destroy"], &jail, &state));
    assert_ne!(refused.status.code(), Some(0));
    nix::mount::umount2(&target, nix::mount::MntFlags::MNT_DETACH).unwrap();
}

/// Status of the check named `name` in verify's JSON (panics with the report when absent).
fn check_status(json: &serde_json::Value, name: &str, all: &str) -> String {
    json["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .and_then(|c| c["status"].as_str())
        .unwrap_or_else(|| panic!("no check {name:?}\n{all}"))
        .to_string()
}

#[test]
fn verify_proves_other_users_processes_are_invisible_over_ssh() {
    if !common::sshd::available("verify_proves_other_users_processes_are_invisible_over_ssh") {
        return;
    }
    let _g = common::serial();
    let s = crate::user_support::Setup::new(
        "verify_proves_other_users_processes_are_invisible_over_ssh",
    );
    let _mounts = common::UnmountGuard(s.root.path().to_path_buf());
    run_ok(&mut jailsmith(
        &["build", "--bin", "ps", "--proc"],
        &s.jail,
        &s.state_dir,
    ));
    run_ok(&mut jailsmith(&["mount"], &s.jail, &s.state_dir));
    let user = common::UserGuard::new();
    let (key, key_pub) = common::sshd::client_keypair(&s.root.dir("client"));
    let mut cmd = s.user_cmd(user.name());
    cmd.arg("--key").arg(&key_pub);
    s.run_reloading(&mut cmd);
    let other = sleeper(65533);

    // over SSH, ps in the jail lists the user's own processes only
    let (code, out, err) = s.ssh(user.name(), &key, "ps -e -o pid=,uid=");
    assert_eq!(code, Some(0), "{out}{err}");
    let uids: Vec<(i32, u32)> = out
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
        })
        .collect();
    assert!(!uids.is_empty(), "{out}{err}");
    assert!(uids.iter().all(|(_, u)| *u == user.uid()), "{uids:?}");
    assert!(!uids.iter().any(|(p, _)| *p == other.pid()), "{uids:?}");

    let mut v = bin();
    v.arg("verify")
        .arg(user.name())
        .arg("--key")
        .arg(&key)
        .arg("--port")
        .arg(s.srv.port().to_string())
        .arg("--state-dir")
        .arg(&s.state_dir)
        .arg("--host-key")
        .arg(s.srv.host_pubkey_path())
        .arg("--json");
    let out = run(&mut v);
    let all = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(check_status(&json, "no /proc", &all), "PASS", "{all}");
    assert_eq!(
        check_status(&json, "/proc shows own processes only", &all),
        "PASS",
        "{all}"
    );
    assert_eq!(
        check_status(&json, "host: no /proc, /sys", &all),
        "PASS",
        "{all}"
    );
    drop(other);
}

#[test]
fn devpts_gives_tty_a_terminal_and_check_accepts_only_it() {
    if !require_root("devpts_gives_tty_a_terminal_and_check_accepts_only_it")
        || !common::require_cmd("script")
    {
        return;
    }
    let t = TestRoot::for_current_test();
    let _guard = common::UnmountGuard(t.path().to_path_buf());
    let (jail, state) = (t.jail("jail"), t.state_dir());
    run_ok(&mut jailsmith(
        &[
            "build", "--bin", "bash", "--bin", "tty", "--bin", "ps", "--bin", "script",
        ],
        &jail,
        &state,
    ));
    // without --devpts there is no terminal to be had
    let out = run(&mut chroot_cmd(&jail, Some("65534:65534"), &["tty"]));
    assert!(!text(&out.stdout).starts_with("/dev/pts/"));
    run_ok(&mut jailsmith(&["build", "--devpts"], &jail, &state));
    let units = t.path().join("units");
    let said = common::mount_jail(&jail, &state, &units);
    assert!(said.contains("mounted devpts:/dev/pts"), "{said}");
    let line = mount_at(&jail.join("dev/pts")).expect("devpts mounted");
    assert!(
        line.contains(" - devpts devpts ") && line.contains("ptmxmode=666"),
        "{line}"
    );
    assert!(
        line.contains("mode=620") && line.contains("nosuid,noexec"),
        "{line}"
    );
    assert_eq!(
        fs::read_link(jail.join("dev/ptmx")).unwrap(),
        Path::new("pts/ptmx")
    );
    let unit_names: Vec<String> = fs::read_dir(&units)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        unit_names.iter().any(|n| n.ends_with("-dev-pts.mount")),
        "{unit_names:?}"
    );

    // an unprivileged process on a pseudo-terminal of the jail's own instance
    let mut script = chroot_cmd(
        &jail,
        Some("65534:65534"),
        &["script", "-qc", "tty", "/dev/null"],
    );
    let out = run_ok(script.env("SHELL", "/bin/bash"));
    assert!(
        text(&out.stdout).trim().starts_with("/dev/pts/"),
        "{}",
        text(&out.stdout)
    );
    let check = run(&mut jailsmith(&["check"], &jail, &state));
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}{}",
        text(&check.stdout),
        text(&check.stderr)
    );

    // the host's devpts bound in instead: not the declared instance
    run_ok(&mut jailsmith(&["umount"], &jail, &state));
    assert!(mount_at(&jail.join("dev/pts")).is_none());
    mount(
        Some("/dev/pts"),
        &jail.join("dev/pts"),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    let check = run(&mut jailsmith(&["check"], &jail, &state));
    let all = format!("{}{}", text(&check.stdout), text(&check.stderr));
    assert_ne!(check.status.code(), Some(0), "{all}");
    assert!(
        run(&mut jailsmith(&["destroy"], &jail, &state))
            .status
            .code()
            != Some(0)
    );
    nix::mount::umount2(&jail.join("dev/pts"), nix::mount::MntFlags::MNT_DETACH).unwrap();

    run_ok(&mut jailsmith(&["mount"], &jail, &state));
    run_ok(&mut jailsmith(&["destroy", "--purge"], &jail, &state));
    assert!(!jail.exists());
}
