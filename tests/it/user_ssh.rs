//! `jailsmith user` against a private sshd, proven with OpenSSH's own `ssh` and `sftp`: the
//! jailed login, the closed forwarding channels, sftp-only users, removal, and idempotence.
//! Every path (sshd config, drop-ins, keys, state) belongs to the test.

use crate::common;
use crate::user_support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

use std::time::Duration;

use common::sshd;
use common::{ProcessGuard, ReservedUser, UserGuard, run, run_ok, text};
use user_support::Setup;

use common::serial;

/// A user adopted by `jailsmith user` with one key; returns (user, private key).
fn jailed(s: &Setup, extra: &[&str]) -> (UserGuard, std::path::PathBuf) {
    let user = UserGuard::new();
    let (key, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let mut cmd = s.user_cmd(user.name());
    cmd.arg("--key").arg(&key_pub).args(extra);
    s.run_reloading(&mut cmd);
    (user, key)
}

#[test]
fn jailed_user_logs_in_inside_the_jail() {
    if !sshd::available("jailed_user_logs_in_inside_the_jail") {
        return;
    }
    let _g = serial();
    let s = Setup::new("jailed_user_logs_in_inside_the_jail");
    let (user, key) = jailed(&s, &[]);
    let name = user.name();

    let (code, out, err) = s.ssh(
        name,
        &key,
        "pwd; echo /*; id -un; test -e /etc/shadow && echo shadow || echo no-shadow; cd /..; pwd",
    );
    assert_eq!(code, Some(0), "ssh failed: {err}\n{}", s.srv.log());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("/home/{name}"), "{out}");
    let mut top: Vec<String> = fs::read_dir(&s.jail)
        .unwrap()
        .map(|e| format!("/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    top.sort();
    assert_eq!(
        lines[1],
        top.join(" "),
        "echo /* must list exactly the jail's top level"
    );
    assert_eq!(lines[2], name);
    assert_eq!(lines[3], "no-shadow");
    assert_eq!(lines[4], "/");

    // the jail's home and passwd/group, and the root-owned key file
    let home = s.jail.join("home").join(name);
    let m = fs::symlink_metadata(&home).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777), (user.uid(), 0o700));
    let passwd = fs::read_to_string(s.jail.join("etc/passwd")).unwrap();
    assert!(
        passwd.contains(&format!("{name}:x:{}:", user.uid())),
        "{passwd}"
    );
    assert!(!s.jail.join("etc/shadow").exists());
    let k = fs::symlink_metadata(s.keys_dir.join(name)).unwrap();
    assert_eq!((k.uid(), k.mode() & 0o7777), (0, 0o644));

    // a second run changes nothing and says so
    let stamp = |p: &Path| {
        let m = fs::symlink_metadata(p).unwrap();
        (m.ino(), m.mtime(), m.mtime_nsec())
    };
    let watched = [
        s.dropin(name),
        s.keys_dir.join(name),
        s.jail.join("etc/passwd"),
        s.jail.join("etc/group"),
        home.clone(),
    ];
    let before: Vec<_> = watched.iter().map(|p| stamp(p)).collect();
    let dropin_before = fs::metadata(s.dropin(name)).unwrap().modified().unwrap();
    let mut again = s.user_cmd(name);
    again.arg("--key").arg(key.with_extension("pub"));
    let out = run_ok(&mut again);
    assert!(
        text(&out.stdout).contains("up to date"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        fs::metadata(s.dropin(name)).unwrap().modified().unwrap(),
        dropin_before
    );
    let after: Vec<_> = watched.iter().map(|p| stamp(p)).collect();
    assert_eq!(before, after, "a second run rewrote something");

    // a key file someone made writable is put back to root 0644
    let keyfile = s.keys_dir.join(name);
    fs::set_permissions(&keyfile, fs::Permissions::from_mode(0o666)).unwrap();
    let out = run_ok(s.user_cmd(name).arg("--json"));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["changes"][0]["object"], "keys", "{report}");
    assert_eq!(fs::metadata(&keyfile).unwrap().mode() & 0o7777, 0o644);

    // `jailsmith users` lists the user
    let out = run_ok(
        common::bin()
            .arg("users")
            .arg("--jail")
            .arg(&s.jail)
            .arg("--state-dir")
            .arg(&s.state_dir)
            .arg("--sshd-config-dir")
            .arg(s.srv.dropin_dir())
            .arg("--authorized-keys-dir")
            .arg(&s.keys_dir)
            .arg("--json"),
    );
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["name"], name);
    assert_eq!(listed[0]["sftp_only"], false);
}

#[test]
fn forwarding_channels_reach_nothing() {
    if !sshd::available("forwarding_channels_reach_nothing") {
        return;
    }
    let _g = serial();
    let s = Setup::new("forwarding_channels_reach_nothing");
    let (user, key) = jailed(&s, &[]);
    let name = user.name();
    let target = format!("127.0.0.1:{}", s.srv.port());

    // -W: stdio forwarding to sshd's own port must not return its banner
    let mut w = s.srv.ssh_client(name, &key);
    w.arg("-W").arg(&target);
    let out = run(&mut w);
    assert!(
        !text(&out.stdout).starts_with("SSH-"),
        "-W reached {target}"
    );
    assert_ne!(out.status.code(), Some(0));

    // -L: the client listens, but the server opens nothing
    // held until the client binds it for -L: the port is handed over, not guessed
    let reserved = common::port::ReservedPort::new();
    let lport = reserved.port();
    let mut l = s.srv.ssh_client(name, &key);
    l.arg("-N")
        .arg("-L")
        .arg(format!("127.0.0.1:{lport}:{target}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _l = ProcessGuard::new(l.spawn().unwrap());
    // the client listens on lport once its session is up; the server must then open nothing
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut conn = loop {
        if let Ok(c) = std::net::TcpStream::connect(("127.0.0.1", lport)) {
            break c;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ssh -L never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(3)));
    let mut buf = [0u8; 4];
    let forwarded = std::io::Read::read_exact(&mut conn, &mut buf).is_ok() && &buf == b"SSH-";
    assert!(!forwarded, "-L forwarded to {target}");

    // -R: the server refuses to listen
    let mut r = s.srv.ssh_client(name, &key);
    r.args(["-o", "ExitOnForwardFailure=yes", "-N", "-R"])
        .arg(format!("127.0.0.1:0:{target}"));
    let out = common::run_timeout(&mut r, Duration::from_secs(30));
    assert_ne!(out.status.code(), Some(0), "-R was accepted");

    // -A: with a real agent, no socket shows up inside
    let sock = s.root.path().join("agent.sock");
    let agent = Command::new(common::find_cmd("ssh-agent").expect("ssh-agent"))
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let _agent = ProcessGuard::new(agent);
    for _ in 0..50 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut a = s.srv.ssh_client(name, &key);
    a.env("SSH_AUTH_SOCK", &sock)
        .arg("-A")
        .arg("echo \"[$SSH_AUTH_SOCK]\"");
    let out = run(&mut a);
    assert_eq!(text(&out.stdout).trim(), "[]", "{}", text(&out.stderr));
}

#[test]
fn sftp_only_user_gets_sftp_and_nothing_else() {
    if !sshd::available("sftp_only_user_gets_sftp_and_nothing_else") || !common::require_cmd("sftp")
    {
        return;
    }
    let _g = serial();
    let s = Setup::new("sftp_only_user_gets_sftp_and_nothing_else");
    let (user, key) = jailed(&s, &["--sftp-only"]);
    let name = user.name();

    let (code, out, err) = s.ssh(name, &key, "id");
    assert_ne!(code, Some(0));
    assert!(
        format!("{out}{err}").contains("This service allows sftp connections only."),
        "stdout: {out}\nstderr: {err}"
    );

    let batch = s.root.path().join("batch");
    common::write_file(&batch, "ls -1 /\n", 0o644);
    let out = run(&mut s.srv.sftp_client(name, &key, &batch));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    for entry in fs::read_dir(&s.jail).unwrap() {
        let n = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            listed.contains(&format!("/{n}")),
            "{n} missing from:\n{listed}"
        );
    }
    assert!(
        !listed.contains("/proc") && !listed.contains("/root"),
        "{listed}"
    );
}

#[test]
fn sftp_only_needs_no_shell_in_the_jail() {
    if !sshd::available("sftp_only_needs_no_shell_in_the_jail") || !common::require_cmd("sftp") {
        return;
    }
    let _g = serial();
    let s = Setup::new("sftp_only_needs_no_shell_in_the_jail");
    // a jail built from the sftp-only profile: no programs at all
    let bare = s.root.jail("sftp");
    run_ok(
        common::bin()
            .arg("build")
            .arg(&bare)
            .args(["--profile", "sftp-only", "--profile-dir"])
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("jail-profiles"))
            .arg("--state-dir")
            .arg(&s.state_dir),
    );
    assert!(!bare.join("bin/bash").exists() && !bare.join("usr/bin/bash").exists());
    let user = UserGuard::new();
    let (key, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let mut cmd = s.user_cmd_in(user.name(), &bare);
    cmd.arg("--sftp-only").arg("--key").arg(&key_pub);
    let out = s.run_reloading(&mut cmd);
    assert!(
        text(&out.stderr).contains("fine for an sftp-only user"),
        "{}",
        text(&out.stderr)
    );

    let batch = s.root.path().join("batch");
    common::write_file(&batch, "ls -1 /\npwd\n", 0o644);
    let out = run(&mut s.srv.sftp_client(user.name(), &key, &batch));
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        s.srv.log()
    );
    let listed = text(&out.stdout);
    assert!(listed.contains("/home"), "{listed}");
    assert!(
        listed.contains(&format!("/home/{}", user.name())),
        "{listed}"
    );
}

#[test]
fn removal_unjails_and_locks_out() {
    if !sshd::available("removal_unjails_and_locks_out") {
        return;
    }
    let _g = serial();
    let s = Setup::new("removal_unjails_and_locks_out");
    let (user, key) = jailed(&s, &[]);
    let (other, other_key) = jailed(&s, &[]);
    let name = user.name();
    assert_eq!(s.ssh(name, &key, "true").0, Some(0));
    assert!(
        s.srv
            .sshd_T(name)
            .contains(&format!("chrootdirectory {}", s.jail.display()))
    );

    // a session still running is ended by the removal
    let mut sess = s.srv.ssh_client(name, &key);
    sess.arg("while :; do read -t 1 x; done")
        .stdout(Stdio::null());
    let mut sess = ProcessGuard::new(sess.spawn().unwrap());
    // the session is running once the user's shell runs its loop on the host
    let uid = nix::unistd::User::from_name(name)
        .unwrap()
        .unwrap()
        .uid
        .as_raw();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let looping = || {
        common::pids_of_uid(uid).iter().any(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("read -t 1"))
        })
    };
    while !looping() {
        assert!(
            std::time::Instant::now() < deadline,
            "the session never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // what a user may plant in their home: a link out of the jail, a FIFO, a subdirectory
    let home = s.jail.join("home").join(name);
    let outside = s.root.dir("outside");
    common::write_file(&outside.join("precious"), "keep me", 0o644);
    std::os::unix::fs::symlink(&outside, home.join("link")).unwrap();
    nix::unistd::mkfifo(
        &home.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    common::make_dir(&home.join("sub/deeper"), 0o755);
    std::os::unix::fs::symlink("/etc/passwd", home.join("sub/deeper/pw")).unwrap();

    // while the session runs, removal refuses unless told to end it (like destroy)
    let out = common::run_status(s.user_cmd(name).args(["--remove", "--delete-home"]), 4);
    let err = text(&out.stderr);
    assert!(err.contains("refusing while sessions run: pids "), "{err}");
    assert!(err.contains("pass --kill-sessions"), "{err}");
    assert!(s.dropin(name).exists() && s.keys_dir.join(name).exists());

    // a dry run of the removal says what it would do and does nothing
    let out = run_ok(s.user_cmd(name).args([
        "--remove",
        "--delete-home",
        "--kill-sessions",
        "--dry-run",
    ]));
    assert!(
        text(&out.stdout).contains("would remove member"),
        "{}",
        text(&out.stdout)
    );
    assert!(s.dropin(name).exists() && s.keys_dir.join(name).exists());

    // the jail keeps another user: its block stays as it is and sshd is not reloaded
    let block = s.dropin(name);
    let block_before = fs::symlink_metadata(&block).unwrap();
    let listening = s.srv.log().matches("Server listening on").count();
    let mut rm = s.user_cmd(name);
    rm.args(["--remove", "--delete-home", "--kill-sessions"]);
    let out = run_ok(&mut rm);
    assert!(!text(&out.stdout).contains("sshd"), "{}", text(&out.stdout));
    let block_after = fs::symlink_metadata(&block).unwrap();
    assert_eq!(
        (
            block_before.ino(),
            block_before.mtime(),
            block_before.mtime_nsec()
        ),
        (
            block_after.ino(),
            block_after.mtime(),
            block_after.mtime_nsec()
        )
    );
    s.srv.wait_settled();
    assert_eq!(
        s.srv.log().matches("Server listening on").count(),
        listening,
        "removing one of two users reloaded sshd"
    );
    assert!(
        text(&out.stdout).contains("end sessions"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        sess.wait_timeout(Duration::from_secs(10)).is_some(),
        "the running session was not ended"
    );

    assert!(
        s.srv
            .sshd_T(name)
            .lines()
            .any(|l| l == "chrootdirectory none")
    );
    let (code, _, _) = s.ssh(name, &key, "true");
    assert_ne!(code, Some(0), "still logs in after removal");
    assert!(!s.dropin(name).exists());
    assert!(!s.keys_dir.join(name).exists());
    assert!(!home.exists() && !home.is_symlink());
    assert_eq!(
        fs::read_to_string(outside.join("precious")).unwrap(),
        "keep me"
    );
    assert!(Path::new("/etc/passwd").exists());
    let passwd = fs::read_to_string(s.jail.join("etc/passwd")).unwrap();
    assert!(!passwd.contains(&format!("{name}:")), "{passwd}");
    assert!(
        user_exists(name),
        "the account stays without --delete-account"
    );
    // the other user of the jail keeps their lines and their login
    assert!(
        passwd.contains(&format!("{}:x:{}:", other.name(), other.uid())),
        "{passwd}"
    );
    let group = fs::read_to_string(s.jail.join("etc/group")).unwrap();
    assert!(group.contains(&format!(":{}:", other.gid())), "{group}");
    let (code, out, err) = s.ssh(other.name(), &other_key, "id -un");
    assert_eq!((code, out.trim()), (Some(0), other.name()), "{err}");

    // removing again: nothing to do
    let out = run_ok(s.user_cmd(name).arg("--remove"));
    assert!(
        text(&out.stdout).contains("up to date"),
        "{}",
        text(&out.stdout)
    );
}

fn user_exists(name: &str) -> bool {
    nix::unistd::User::from_name(name).ok().flatten().is_some()
}

#[test]
fn create_then_delete_account() {
    if !sshd::available("create_then_delete_account") {
        return;
    }
    let _g = serial();
    let s = Setup::new("create_then_delete_account");
    let user = ReservedUser::new();
    let (key, key_pub) = sshd::client_keypair(&s.root.dir("client"));

    // missing account without --create: refused, suggests --create
    let out = run(s.user_cmd(user.name()).arg("--key").arg(&key_pub));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--create"));

    // dry run changes nothing
    let out = run_ok(
        s.user_cmd(user.name())
            .arg("--create")
            .arg("--key")
            .arg(&key_pub)
            .arg("--dry-run"),
    );
    assert!(text(&out.stdout).contains("would create account"));
    assert!(user.lookup().is_none() && !s.dropin(user.name()).exists());
    // with --json the plan is data: typed host operations, each with its reason
    let out = run_ok(
        s.user_cmd(user.name())
            .arg("--create")
            .arg("--key")
            .arg(&key_pub)
            .args(["--dry-run", "--json"]),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let plan = report["plan"].as_array().expect("a plan");
    let ops: Vec<&str> = plan.iter().filter_map(|s| s["op"].as_str()).collect();
    for op in [
        "create_account",
        "create_group",
        "add_member",
        "write_root_file",
    ] {
        assert!(ops.contains(&op), "{op} is not in the plan: {report}");
    }
    assert!(
        plan.iter()
            .all(|s| !s["reason"].as_str().unwrap_or("").is_empty()),
        "{report}"
    );
    let keys = s.keys_dir.join(user.name());
    assert!(
        plan.iter()
            .any(|s| s["op"] == "write_root_file" && s["path"] == keys.display().to_string()),
        "{report}"
    );
    assert!(user.lookup().is_none() && !keys.exists());

    // --uid below UID_MIN is refused; a free one at or above it is honoured
    let out = run(s
        .user_cmd(user.name())
        .args(["--create", "--uid", "999", "--key"])
        .arg(&key_pub));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("UID_MIN"),
        "{}",
        text(&out.stderr)
    );
    let uid = common::free_uid();
    let mut add = s.user_cmd(user.name());
    add.arg("--create")
        .arg("--uid")
        .arg(uid.to_string())
        .arg("--key")
        .arg(&key_pub)
        .arg("--json");
    let out = s.run_reloading(&mut add);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["up_to_date"], false);
    assert!(user.lookup().is_some());
    let entry = nix::unistd::User::from_name(user.name()).unwrap().unwrap();
    assert_eq!(entry.dir, Path::new("/home").join(user.name()));
    assert_eq!(entry.uid.as_raw(), uid);
    assert!(
        !Path::new("/home").join(user.name()).exists(),
        "no home on the host"
    );
    assert_eq!(s.ssh(user.name(), &key, "id -un").1.trim(), user.name());

    let mut rm = s.user_cmd(user.name());
    rm.args(["--remove", "--delete-home", "--delete-account"]);
    s.run_reloading(&mut rm);
    assert!(user.lookup().is_none());
}

/// Parallel runs on one jail (a smoke test: the race on the jail's passwd is narrow, the lock
/// in the state directory is what makes it impossible).
#[test]
fn parallel_runs_keep_every_users_lines() {
    if !sshd::available("parallel_runs_keep_every_users_lines") {
        return;
    }
    let _g = serial();
    let s = Setup::new("parallel_runs_keep_every_users_lines");
    let users: Vec<UserGuard> = (0..3).map(|_| UserGuard::new()).collect();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let children: Vec<_> = users
        .iter()
        .map(|u| {
            let mut c = s.user_cmd(u.name());
            c.arg("--key")
                .arg(&key_pub)
                .arg("--no-reload")
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            ProcessGuard::new(c.spawn().unwrap())
        })
        .collect();
    for mut c in children {
        let st = c
            .wait_timeout(Duration::from_secs(120))
            .expect("jailsmith user hung");
        assert!(st.success());
    }
    let passwd = fs::read_to_string(s.jail.join("etc/passwd")).unwrap();
    let group = fs::read_to_string(s.jail.join("etc/group")).unwrap();
    for u in &users {
        assert!(
            passwd.contains(&format!("{}:x:{}:", u.name(), u.uid())),
            "{passwd}"
        );
        assert!(group.contains(&format!(":{}:", u.gid())), "{group}");
    }
}
