//! `destroy` as root against a private sshd: a user jailed by `jailsmith user` (checked
//! clean by `check`), a running SSH session that makes `destroy` refuse, then
//! `destroy --purge --kill-sessions`: nothing of the jail, its drop-in, its key file, its
//! mounts or its state is left. Without --purge the homes stay.

use crate::common;
use crate::user_support;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{ProcessGuard, UserGuard, bin, run, run_ok, sshd, text};
use nix::mount::{MntFlags, umount2};
use user_support::Setup;

fn destroy(s: &Setup, extra: &[&str]) -> Command {
    let mut c = bin();
    c.arg("destroy")
        .arg(&s.jail)
        .args(s.sshd_paths())
        .args(extra);
    c
}

fn state_files(state_dir: &Path) -> usize {
    fs::read_dir(state_dir.join("jails"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn destroy_refuses_sessions_then_purges_everything() {
    if !sshd::available("destroy_refuses_sessions_then_purges_everything") {
        return;
    }
    let s = Setup::new("destroy_refuses_sessions_then_purges_everything");
    let _guard = common::UnmountGuard(s.root.path().to_path_buf());
    let user = UserGuard::new();
    let name = user.name().to_string();
    let (key, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    s.run_reloading(s.user_cmd(&name).arg("--key").arg(&key_pub));
    assert!(s.dropin(&name).exists() && s.keys_dir.join(&name).exists());

    // a bind, mounted
    let src = s.root.dir("shared");
    let spec = format!("{}:/shared", src.display());
    run_ok(
        bin()
            .arg("build")
            .arg(&s.jail)
            .arg("--state-dir")
            .arg(&s.state_dir)
            .args(["--bin", "bash", "--bin", "id", "--bind", &spec]),
    );
    run_ok(
        bin()
            .arg("mount")
            .arg(&s.jail)
            .arg("--state-dir")
            .arg(&s.state_dir),
    );
    assert!(!common::mounts_under(&s.jail).is_empty());

    // a jail made by build + user passes check
    let out = run(bin()
        .arg("check")
        .arg(&s.jail)
        .arg("--state-dir")
        .arg(&s.state_dir));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // a running session: destroy refuses and changes nothing
    assert_eq!(s.ssh(&name, &key, "true").0, Some(0));
    let mut sess = s.srv.ssh_client(&name, &key);
    sess.arg("while :; do read -t 1 x; done")
        .stdout(Stdio::null());
    let mut sess = ProcessGuard::new(sess.spawn().unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    // the session's shell runs inside the jail as the user
    let shell_running = |uid: u32| {
        common::pids_of_uid(uid).iter().any(|p| {
            fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "bash")
        })
    };
    while !shell_running(user.uid()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the session did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = run(&mut destroy(&s, &["--purge"]));
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}\n{}\npids {:?}",
        text(&out.stdout),
        text(&out.stderr),
        common::pids_of_uid(user.uid())
    );
    assert!(
        text(&out.stderr).contains("sessions"),
        "{}",
        text(&out.stderr)
    );
    assert!(s.jail.join("usr/bin/bash").exists() && s.dropin(&name).exists());
    assert_eq!(state_files(&s.state_dir), 1);

    let out = s.run_reloading(&mut destroy(&s, &["--purge", "--kill-sessions"]));
    let o = text(&out.stdout);
    assert!(
        o.contains(&format!(
            "removed {}",
            s.jail.join("home").join(&name).display()
        )),
        "{o}"
    );
    assert!(
        sess.wait_timeout(Duration::from_secs(10)).is_some(),
        "the session survived destroy --kill-sessions"
    );
    assert!(!s.jail.exists(), "the jail is left");
    assert!(!s.dropin(&name).exists(), "the drop-in is left");
    assert!(!s.keys_dir.join(&name).exists(), "the key file is left");
    assert_eq!(state_files(&s.state_dir), 0, "the state is left");
    assert!(
        common::mounts_under(s.root.path()).is_empty(),
        "mounts are left"
    );
    assert!(src.exists(), "the bind source must survive");
    let (code, _, _) = s.ssh(&name, &key, "true");
    assert_ne!(code, Some(0), "still logs in after destroy");
}

#[test]
fn destroy_without_purge_keeps_the_homes() {
    if !common::require_root("destroy_without_purge_keeps_the_homes") {
        return;
    }
    let t = common::TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    run_ok(
        bin()
            .arg("build")
            .arg(&jail)
            .arg("--state-dir")
            .arg(&state)
            .args(["--bin", "bash"]),
    );
    let _guard = common::UnmountGuard(t.path().to_path_buf());
    // an undeclared mount stops destroy before it changes anything
    let stray = jail.join("mnt");
    common::make_dir(&stray, 0o755);
    nix::mount::mount(
        Some("tmpfs"),
        &stray,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    fs::write(stray.join("on-tmpfs"), "x").unwrap();
    let home = jail.join("home/nobody-here");
    common::make_dir(&home, 0o700);
    common::write_file(&home.join("keep"), "mine", 0o600);
    common::edit_jail_state(&state, |v| v["users"] = serde_json::json!([]));
    let destroy = || {
        let mut c = bin();
        c.arg("destroy")
            .arg(&jail)
            .arg("--state-dir")
            .arg(&state)
            .arg("--no-reload");
        c
    };
    let out = run(&mut destroy());
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("mnt"), "{}", text(&out.stderr));
    assert_eq!(fs::read_to_string(stray.join("on-tmpfs")).unwrap(), "x");
    assert!(jail.join("usr").exists() && jail.join("etc").exists());
    umount2(&stray, MntFlags::MNT_DETACH).unwrap();

    // the plan: the tree's removal by rules that keep the homes, then the state kept for
    // what is left; the real run performs it step for step
    let json = |out: std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&out.stdout).expect("destroy --json prints JSON")
    };
    let dry = json(run_ok(destroy().args(["--dry-run", "--json"])));
    let ops: Vec<&str> = dry["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["remove_jail_contents", "save_state"], "{dry}");
    assert_eq!(dry["plan"][0]["purge"], false);
    assert!(jail.join("usr").exists(), "the dry run removed");
    let out = run_ok(destroy().arg("--json"));
    assert!(text(&out.stderr).contains("kept"), "{}", text(&out.stderr));
    let real = json(out);
    assert_eq!(
        real["plan"], dry["plan"],
        "destroy did other than its dry run planned"
    );
    assert_eq!(real["kept"], dry["kept"]);
    assert_eq!(fs::read_to_string(home.join("keep")).unwrap(), "mine");
    assert!(!jail.join("usr").exists() && !jail.join("etc").exists());
    // the state stays for what is left, so that a purge can finish later
    assert_eq!(state_files(&state), 1);
    let out = run_ok(destroy().arg("--purge"));
    // the homes go; the admin's own mount point directory stays, listed, with the root
    assert!(!jail.join("home").exists());
    assert!(jail.join("mnt").is_dir());
    assert!(
        text(&out.stdout).contains("mnt: not made by jailsmith"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(state_files(&state), 0);
}
