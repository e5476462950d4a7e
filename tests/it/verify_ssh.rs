//! `jailsmith verify` against a private sshd: a jailed account passes every check, an
//! account that is not jailed fails (and says which checks), a drop-in tampered to allow
//! forwarding fails the forwarding checks, a wrong pinned host key stops before
//! authentication (exit 3), an sftp-only account passes the sftp checks with the shell
//! checks N/A, a wrong key exits 2, and RSA/ECDSA (encrypted) keys log in. Every path (sshd
//! config, drop-ins, keys, state) belongs to the test; only loopback traffic.

use crate::common;
use crate::user_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use std::time::Duration;

use common::sshd;
use common::{UserGuard, find_cmd, run, run_ok, text};
use user_support::Setup;

use common::serial;

/// A user adopted by `jailsmith user` with one fresh ed25519 key; returns (user, key).
fn jailed(s: &Setup, extra: &[&str]) -> (UserGuard, PathBuf) {
    let user = UserGuard::new();
    let (key, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let mut cmd = s.user_cmd(user.name());
    cmd.arg("--key").arg(&key_pub).args(extra);
    s.run_reloading(&mut cmd);
    (user, key)
}

/// `jailsmith verify NAME --key KEY --port P --state-dir S --json` plus `extra`.
fn verify_cmd(s: &Setup, name: &str, key: &Path, extra: &[&str]) -> Command {
    let mut c = common::bin();
    c.arg("verify")
        .arg(name)
        .arg("--key")
        .arg(key)
        .arg("--port")
        .arg(s.srv.port().to_string())
        .arg("--state-dir")
        .arg(&s.state_dir)
        .arg("--json")
        .args(extra);
    c
}

fn with_pinned_key(s: &Setup, c: &mut Command) {
    c.arg("--host-key").arg(s.srv.host_pubkey_path());
}

/// Runs verify; returns (exit code, parsed JSON or Null, the whole output for messages).
fn run_verify(c: &mut Command) -> (Option<i32>, serde_json::Value, String) {
    let out: Output = run(c);
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    let all = format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    eprintln!("{all}");
    (out.status.code(), json, all)
}

/// Status of the check named `name` (panics with the report when absent).
fn status<'a>(json: &'a serde_json::Value, name: &str, all: &str) -> &'a str {
    json["checks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .and_then(|c| c["status"].as_str())
        .unwrap_or_else(|| panic!("no check {name:?}\n{all}"))
}

fn failed(json: &serde_json::Value) -> Vec<String> {
    json["checks"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter(|c| c["status"] == "FAIL")
                .map(|c| c["name"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// No marker file left in the jail's parent.
fn assert_no_marker_left(s: &Setup) {
    let parent = s.jail.parent().unwrap();
    let left: Vec<String> = fs::read_dir(parent)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".jailsmith-verify-"))
        .collect();
    assert!(left.is_empty(), "markers left behind: {left:?}");
}

const SHELL_CHECKS: &[&str] = &[
    "shell runs",
    "cwd is home",
    "root is the jail",
    "outside invisible",
    "no /proc",
    "no /sys",
    "no host /etc/shadow",
    "passwd is the jail's",
    "no setuid/setgid",
    "no writes outside home",
    "pty shell",
];

const FORWARDING_CHECKS: &[&str] = &[
    "direct-tcpip refused",
    "remote forward refused",
    "agent forwarding refused",
];

#[test]
fn jailed_account_passes_every_check() {
    if !sshd::available("jailed_account_passes_every_check") {
        return;
    }
    let _g = serial();
    let s = Setup::new("jailed_account_passes_every_check");
    let (user, key) = jailed(&s, &[]);

    // Trust through a hashed known_hosts file (ssh-keygen -H), jail found from the state.
    let kh = s.root.dir("kh").join("known_hosts");
    fs::copy(s.srv.known_hosts_path(), &kh).unwrap();
    run_ok(
        Command::new(find_cmd("ssh-keygen").unwrap())
            .arg("-H")
            .arg("-f")
            .arg(&kh),
    );
    assert!(fs::read_to_string(&kh).unwrap().starts_with("|1|"));

    let mut c = verify_cmd(&s, user.name(), &key, &["--known-hosts"]);
    c.arg(&kh);
    let (code, json, all) = run_verify(&mut c);
    assert_eq!(code, Some(0), "{all}\n{}", s.srv.log());
    assert_eq!(json["passed"], true, "{all}");
    assert_eq!(json["user"], user.name());
    assert_eq!(json["host"], "127.0.0.1");
    for name in ["host key", "login"]
        .iter()
        .chain(SHELL_CHECKS)
        .chain(FORWARDING_CHECKS)
    {
        assert_eq!(status(&json, name, &all), "PASS", "{name}\n{all}");
    }
    assert_eq!(status(&json, "outgoing TCP", &all), "WARN", "{all}");
    assert_eq!(status(&json, "sftp lists the jail", &all), "N/A", "{all}");
    assert_no_marker_left(&s);

    // The table names every check too.
    let mut t = common::bin();
    t.arg("verify")
        .arg(user.name())
        .arg("--key")
        .arg(&key)
        .arg("--port")
        .arg(s.srv.port().to_string())
        .arg("--jail")
        .arg(&s.jail)
        .arg("--host-key")
        .arg(s.srv.host_pubkey_path());
    let out = run_ok(&mut t);
    let table = text(&out.stdout);
    assert!(table.contains("PASS   root is the jail"), "{table}");
    assert!(table.contains("PASSED:"), "{table}");
}

#[test]
fn account_that_is_not_jailed_fails() {
    if !sshd::available("account_that_is_not_jailed_fails") {
        return;
    }
    let _g = serial();
    let s = Setup::new("account_that_is_not_jailed_fails");
    // A normal user with a home on the host and the key in ~/.ssh: no Match block.
    let user = UserGuard::with_home(&s.root.path().join("home-normal"));
    let (key, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    sshd::authorize_key(user.home(), user.uid(), user.gid(), &key_pub);

    let mut c = verify_cmd(&s, user.name(), &key, &["--jail"]);
    c.arg(&s.jail);
    with_pinned_key(&s, &mut c);
    let (code, json, all) = run_verify(&mut c);
    assert_eq!(code, Some(1), "{all}");
    assert_eq!(json["passed"], false);
    let failed = failed(&json);
    for name in [
        "root is the jail",
        "outside invisible",
        "no /proc",
        "no /sys",
        "no host /etc/shadow",
        "passwd is the jail's",
        "direct-tcpip refused",
        "remote forward refused",
    ] {
        assert!(
            failed.iter().any(|f| f == name),
            "{name} should fail\n{all}"
        );
    }
    assert_eq!(status(&json, "login", &all), "PASS");
    assert_no_marker_left(&s);
}

#[test]
fn tampered_dropin_fails_the_forwarding_checks() {
    if !sshd::available("tampered_dropin_fails_the_forwarding_checks") {
        return;
    }
    let _g = serial();
    let mut s = Setup::new("tampered_dropin_fails_the_forwarding_checks");
    let (user, key) = jailed(&s, &[]);
    let dropin = s.dropin(user.name());
    let tampered = fs::read_to_string(&dropin)
        .unwrap()
        .replace("DisableForwarding yes", "DisableForwarding no")
        .replace("AllowTcpForwarding no", "AllowTcpForwarding yes")
        .replace("AllowAgentForwarding no", "AllowAgentForwarding yes")
        .replace("PermitOpen none", "PermitOpen any")
        .replace("PermitListen none", "PermitListen any");
    fs::write(&dropin, tampered).unwrap();
    s.srv.reload();
    assert!(s.srv.sshd_T(user.name()).contains("allowtcpforwarding yes"));

    let mut c = verify_cmd(&s, user.name(), &key, &[]);
    with_pinned_key(&s, &mut c);
    let (code, json, all) = run_verify(&mut c);
    assert_eq!(code, Some(1), "{all}");
    let failed = failed(&json);
    assert!(
        failed.iter().any(|f| f == "direct-tcpip refused")
            && failed.iter().any(|f| f == "remote forward refused")
            && failed.iter().any(|f| f == "agent forwarding refused"),
        "{all}"
    );
    // The jail itself still holds.
    for name in SHELL_CHECKS {
        assert_eq!(status(&json, name, &all), "PASS", "{name}\n{all}");
    }
    let _ = &mut s;
}

#[test]
fn wrong_pinned_host_key_stops_before_authentication() {
    if !sshd::available("wrong_pinned_host_key_stops_before_authentication") {
        return;
    }
    let _g = serial();
    let s = Setup::new("wrong_pinned_host_key_stops_before_authentication");
    let (user, key) = jailed(&s, &[]);
    let (_, other_pub) = sshd::client_keypair(&s.root.dir("other"));

    let mut c = verify_cmd(&s, user.name(), &key, &["--host-key"]);
    c.arg(&other_pub);
    let (code, json, all) = run_verify(&mut c);
    assert_eq!(code, Some(3), "{all}");
    assert_eq!(status(&json, "host key", &all), "FAIL");
    assert!(all.contains("MISMATCH"), "{all}");

    // An unknown host (empty known_hosts) is refused too, unless accepted explicitly.
    let kh = s.root.dir("kh").join("known_hosts");
    let mut c = verify_cmd(&s, user.name(), &key, &["--known-hosts"]);
    c.arg(&kh);
    let (code, _, all) = run_verify(&mut c);
    assert_eq!(code, Some(3), "{all}");

    // Default policy for a loopback host with no known_hosts: this machine's own host keys,
    // which are not the private sshd's.
    let home = s.root.dir("roothome");
    let mut c = common::bin();
    c.arg("verify")
        .arg(user.name())
        .arg("--key")
        .arg(&key)
        .arg("--port")
        .arg(s.srv.port().to_string())
        .arg("--state-dir")
        .arg(&s.state_dir)
        .arg("--json")
        .env("HOME", &home);
    let (code, json, all) = run_verify(&mut c);
    assert_eq!(code, Some(3), "{all}");
    if Path::new("/etc/ssh/ssh_host_ed25519_key.pub").exists() {
        let detail = json["checks"][0]["detail"].as_str().unwrap_or("");
        assert!(
            detail.contains("local host key /etc/ssh/ssh_host_ed25519_key.pub"),
            "{all}"
        );
    }

    // sshd never saw a user-auth request from the three refused runs (each has closed its
    // connection; once sshd serves none, their log lines are all written).
    s.srv.wait_idle();
    let request = format!("userauth-request for user {}", user.name());
    assert!(!s.srv.log().contains(&request), "{}", s.srv.log());

    let mut c = verify_cmd(
        &s,
        user.name(),
        &key,
        &["--accept-new-host-key", "--known-hosts"],
    );
    c.arg(&kh);
    let (code, json, all) = run_verify(&mut c);
    assert_eq!(code, Some(0), "{all}");
    assert_eq!(status(&json, "host key", &all), "WARN");
    assert!(fs::read_to_string(&kh).unwrap().contains("ssh-ed25519"));
    // The log shows such requests when there are some.
    assert!(
        s.srv.wait_for_log(&request, Duration::from_secs(5)),
        "{}",
        s.srv.log()
    );
    // Now recorded: a plain run trusts it.
    let mut c = verify_cmd(&s, user.name(), &key, &["--known-hosts"]);
    c.arg(&kh);
    let (code, json, all) = run_verify(&mut c);
    assert_eq!(code, Some(0), "{all}");
    assert_eq!(status(&json, "host key", &all), "PASS");
}

#[test]
fn sftp_only_account_passes_sftp_checks() {
    if !sshd::available("sftp_only_account_passes_sftp_checks") {
        return;
    }
    let _g = serial();
    let s = Setup::new("sftp_only_account_passes_sftp_checks");
    let (user, key) = jailed(&s, &["--sftp-only"]);
    let mut c = verify_cmd(&s, user.name(), &key, &[]);
    with_pinned_key(&s, &mut c);
    let (code, json, all) = run_verify(&mut c);
    assert_eq!(code, Some(0), "{all}\n{}", s.srv.log());
    assert_eq!(status(&json, "sftp-only: command refused", &all), "PASS");
    assert_eq!(status(&json, "sftp lists the jail", &all), "PASS");
    assert_eq!(status(&json, "outside invisible (sftp)", &all), "PASS");
    assert_eq!(status(&json, "no writes outside home (sftp)", &all), "PASS");
    for name in SHELL_CHECKS {
        assert_eq!(status(&json, name, &all), "N/A", "{name}\n{all}");
    }
    for name in FORWARDING_CHECKS {
        assert_eq!(status(&json, name, &all), "PASS", "{name}\n{all}");
    }
    assert_no_marker_left(&s);
}

#[test]
fn wrong_private_key_exits_2() {
    if !sshd::available("wrong_private_key_exits_2") {
        return;
    }
    let _g = serial();
    let s = Setup::new("wrong_private_key_exits_2");
    let (user, _key) = jailed(&s, &[]);
    let (other, _) = sshd::client_keypair(&s.root.dir("other"));
    let mut c = verify_cmd(&s, user.name(), &other, &[]);
    with_pinned_key(&s, &mut c);
    let (code, json, all) = run_verify(&mut c);
    assert_eq!(code, Some(2), "{all}");
    assert_eq!(status(&json, "host key", &all), "PASS");
    assert_eq!(status(&json, "login", &all), "FAIL");
    assert_no_marker_left(&s);
}

#[test]
fn rsa_and_encrypted_ecdsa_keys_log_in() {
    if !sshd::available("rsa_and_encrypted_ecdsa_keys_log_in") {
        return;
    }
    let _g = serial();
    let s = Setup::new("rsa_and_encrypted_ecdsa_keys_log_in");
    let user = UserGuard::new();
    let dir = s.root.dir("client");
    let keygen = |kind: &str, bits: &str, pass: &str| {
        let p = dir.join(format!("id_{kind}"));
        run_ok(
            Command::new(find_cmd("ssh-keygen").unwrap())
                .args(["-q", "-t", kind, "-b", bits, "-N", pass, "-f"])
                .arg(&p),
        );
        p
    };
    let rsa = keygen("rsa", "2048", "");
    let ecdsa = keygen("ecdsa", "256", "s3cret words");
    let mut cmd = s.user_cmd(user.name());
    cmd.arg("--key")
        .arg(rsa.with_extension("pub"))
        .arg("--key")
        .arg(ecdsa.with_extension("pub"));
    s.run_reloading(&mut cmd);

    let mut c = verify_cmd(&s, user.name(), &rsa, &[]);
    with_pinned_key(&s, &mut c);
    let (code, json, all) = run_verify(&mut c);
    assert_eq!(code, Some(0), "{all}\n{}", s.srv.log());
    assert!(
        s.srv.log().contains("rsa-sha2-512") || s.srv.log().contains("rsa-sha2-256"),
        "RSA must sign with SHA-2\n{}",
        s.srv.log()
    );
    assert_eq!(status(&json, "login", &all), "PASS");

    // Encrypted key: passphrase from the named variable; without it, no prompt without a tty.
    let mut c = verify_cmd(
        &s,
        user.name(),
        &ecdsa,
        &["--passphrase-env", "JS_TEST_PASS"],
    );
    with_pinned_key(&s, &mut c);
    c.env("JS_TEST_PASS", "s3cret words");
    let (code, json, all) = run_verify(&mut c);
    assert_eq!(code, Some(0), "{all}");
    assert!(
        json["checks"][1]["detail"]
            .as_str()
            .unwrap_or("")
            .contains("ecdsa"),
        "{all}"
    );
    let mut c = verify_cmd(
        &s,
        user.name(),
        &ecdsa,
        &["--passphrase-env", "JS_TEST_PASS"],
    );
    with_pinned_key(&s, &mut c);
    c.env("JS_TEST_PASS", "wrong");
    let (code, _, all) = run_verify(&mut c);
    assert_eq!(code, Some(2), "{all}");
}

#[test]
fn planted_holes_in_the_jail_fail_their_checks() {
    if !sshd::available("planted_holes_in_the_jail_fail_their_checks") {
        return;
    }
    let _g = serial();
    let s = Setup::new("planted_holes_in_the_jail_fail_their_checks");
    let (user, key) = jailed(&s, &[]);
    use std::os::unix::fs::PermissionsExt;
    // A setuid file, a world-writable /etc, a mounted /proc.
    let planted = s.jail.join("etc").join("planted-suid");
    common::write_file(&planted, b"#!/bin/false\n", 0o4755);
    fs::set_permissions(s.jail.join("etc"), fs::Permissions::from_mode(0o777)).unwrap();
    let proc_dir = s.jail.join("proc");
    common::make_dir(&proc_dir, 0o555);
    let mounted = nix::mount::mount(
        Some("proc"),
        &proc_dir,
        Some("proc"),
        nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
        None::<&str>,
    )
    .is_ok();

    let mut c = verify_cmd(&s, user.name(), &key, &[]);
    with_pinned_key(&s, &mut c);
    let (code, json, all) = run_verify(&mut c);
    if mounted {
        let _ = nix::mount::umount2(&proc_dir, nix::mount::MntFlags::MNT_DETACH);
    }
    assert_eq!(code, Some(1), "{all}");
    assert_eq!(status(&json, "no setuid/setgid", &all), "FAIL", "{all}");
    assert!(all.contains("/etc/planted-suid"), "{all}");
    assert_eq!(
        status(&json, "no writes outside home", &all),
        "FAIL",
        "{all}"
    );
    let detail = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "no writes outside home")
        .and_then(|c| c["detail"].as_str())
        .unwrap_or("");
    assert_eq!(
        detail.matches("/etc/.jailsmith-verify-").count(),
        1,
        "{all}"
    );
    if mounted {
        assert_eq!(status(&json, "no /proc", &all), "FAIL", "{all}");
    }
    assert_eq!(status(&json, "root is the jail", &all), "PASS", "{all}");
    // The probe file the user managed to create in /etc is gone again.
    let left: Vec<String> = fs::read_dir(s.jail.join("etc"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".jailsmith-verify-"))
        .collect();
    assert!(left.is_empty(), "probe files left: {left:?}");
    assert_no_marker_left(&s);
}

#[test]
fn user_verify_with_checks_right_after_provisioning() {
    if !sshd::available("user_verify_with_checks_right_after_provisioning") {
        return;
    }
    let _g = serial();
    let s = Setup::new("user_verify_with_checks_right_after_provisioning");
    let user = UserGuard::new();
    let (key, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let mut cmd = s.user_cmd(user.name());
    cmd.arg("--key")
        .arg(&key_pub)
        .arg("--verify-with")
        .arg(&key);
    let out = s.run_reloading(&mut cmd);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("PASS   root is the jail"), "{stdout}");
    assert!(stdout.contains("PASSED:"), "{stdout}");
    assert!(stdout.contains("matches pinned key"), "{stdout}");

    // A second run (nothing to change) still verifies, and a wrong key exits 2.
    let (other, _) = sshd::client_keypair(&s.root.dir("other"));
    let mut again = s.user_cmd(user.name());
    again
        .arg("--key")
        .arg(&key_pub)
        .arg("--verify-with")
        .arg(&other);
    let out = run(&mut again);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
}
