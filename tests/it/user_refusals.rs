//! `jailsmith user` refusals: each bad input is refused with its exit code and leaves nothing
//! behind (no account, no drop-in, no key file, the jail's passwd unchanged).

use crate::common;
use crate::user_support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::sshd;
use common::{ReservedUser, UserGuard, run, run_ok, text};
use user_support::{Setup, serial_setup as setup};

const REFUSED: i32 = 4;
const BAD_INPUT: i32 = 2;
const SSHD_INVALID: i32 = 5;

/// Runs `cmd`, expects `code`, and checks that nothing of `name` was left behind.
fn refused(s: &Setup, name: &str, cmd: &mut std::process::Command, code: i32) -> String {
    let passwd_before = fs::read_to_string(s.jail.join("etc/passwd")).ok();
    let out = run(cmd);
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr: {err}\nstdout: {}",
        text(&out.stdout)
    );
    assert!(!s.dropin(name).exists(), "a drop-in was left behind");
    assert!(
        !s.keys_dir.join(name).exists(),
        "a key file was left behind"
    );
    assert_eq!(
        fs::read_to_string(s.jail.join("etc/passwd")).ok(),
        passwd_before,
        "the jail's passwd changed"
    );
    err
}

#[test]
fn root_is_refused() {
    let Some((_g, s)) = setup("root_is_refused") else {
        return;
    };
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let err = refused(
        &s,
        "root",
        s.user_cmd("root").arg("--key").arg(&key_pub),
        REFUSED,
    );
    assert!(err.contains("root"), "{err}");
}

#[test]
fn garbage_key_is_refused_naming_the_file() {
    let Some((_g, s)) = setup("garbage_key_is_refused_naming_the_file") else {
        return;
    };
    let user = ReservedUser::new();
    let bad = s.root.path().join("garbage.pub");
    common::write_file(&bad, "ssh-ed25519 this-is-not-base64 x\n", 0o644);
    let mut cmd = s.user_cmd(user.name());
    cmd.arg("--create").arg("--key").arg(&bad);
    let err = refused(&s, user.name(), &mut cmd, BAD_INPUT);
    assert!(err.contains(&bad.display().to_string()), "{err}");
    assert!(user.lookup().is_none(), "the account was created");
}

#[test]
fn jail_under_a_world_writable_dir_is_refused() {
    let Some((_g, s)) = setup("jail_under_a_world_writable_dir_is_refused") else {
        return;
    };
    let user = ReservedUser::new();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let ww = s.root.dir("ww");
    fs::set_permissions(&ww, fs::Permissions::from_mode(0o777)).unwrap();
    let jail = user_support::make_jail(&ww.join("jail"), &s.root.path().join("state-ww"));
    let mut cmd = s.user_cmd_in(user.name(), &jail);
    cmd.arg("--create").arg("--key").arg(&key_pub);
    let err = refused(&s, user.name(), &mut cmd, REFUSED);
    assert!(err.contains(&ww.display().to_string()), "{err}");
    assert!(err.contains("chmod go-w"), "{err}");
    assert!(user.lookup().is_none(), "the account was created");
}

#[test]
fn limits_under_a_world_writable_systemd_dir_are_refused_before_any_change() {
    let Some((_g, s)) =
        setup("limits_under_a_world_writable_systemd_dir_are_refused_before_any_change")
    else {
        return;
    };
    let user = ReservedUser::new();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let ww = s.root.dir("ww-systemd");
    fs::set_permissions(&ww, fs::Permissions::from_mode(0o777)).unwrap();
    let systemd = ww.join("system");
    let mut cmd = s.user_cmd(user.name());
    cmd.arg("--create")
        .arg("--key")
        .arg(&key_pub)
        .arg("--systemd-dir")
        .arg(&systemd)
        .args(["--memory-max", "150M"]);
    let err = refused(&s, user.name(), &mut cmd, REFUSED);
    assert!(err.contains(&ww.display().to_string()), "{err}");
    assert!(err.contains("slice drop-ins"), "{err}");
    assert!(user.lookup().is_none(), "the account was created");
    assert!(
        !systemd.exists(),
        "a directory was made under {}",
        ww.display()
    );
    assert!(
        !s.keys_dir.join(user.name()).exists(),
        "a key file was written"
    );
}

#[test]
fn missing_shell_is_refused_suggesting_build() {
    let Some((_g, s)) = setup("missing_shell_is_refused_suggesting_build") else {
        return;
    };
    let user = ReservedUser::new();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    // a shell the host has (sshd checks it there) but the jail does not
    let shell = ["/bin/dash", "/bin/sh", "/usr/bin/env"]
        .into_iter()
        .find(|p| Path::new(p).exists() && !s.jail.join(&p[1..]).exists())
        .expect("a host program that the jail lacks");
    let mut cmd = s.user_cmd(user.name());
    cmd.args(["--create", "--shell", shell, "--key"])
        .arg(&key_pub);
    let err = refused(&s, user.name(), &mut cmd, BAD_INPUT);
    assert!(err.contains("jailsmith build"), "{err}");
    assert!(user.lookup().is_none(), "the account was created");

    // a shell the host lacks: sshd would refuse the login, so jailsmith does
    let mut cmd = s.user_cmd(user.name());
    cmd.args(["--create", "--shell", "/bin/no-such-shell", "--key"])
        .arg(&key_pub);
    let err = refused(&s, user.name(), &mut cmd, BAD_INPUT);
    assert!(err.contains("on this host"), "{err}");
}

/// A careless admin's drop-in read before jailsmith's: `Match all` captures every user, so
/// sshd -T shows its chroot, not the jail's, and `user` fails after its first changes.
fn capture_every_user(s: &Setup) {
    common::write_file(
        &s.srv.dropin_dir().join("05-capture.conf"),
        "Match all\n    ChrootDirectory /var/empty\n",
        0o644,
    );
}

#[test]
fn earlier_match_block_is_reported_and_everything_rolled_back() {
    let Some((_g, s)) = setup("earlier_match_block_is_reported_and_everything_rolled_back") else {
        return;
    };
    let user = ReservedUser::new();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    capture_every_user(&s);
    let mut cmd = s.user_cmd(user.name());
    cmd.arg("--create").arg("--key").arg(&key_pub);
    let err = refused(&s, user.name(), &mut cmd, SSHD_INVALID);
    assert!(err.contains("05-capture.conf:1: Match all"), "{err}");
    assert!(err.contains("rolled back"), "{err}");
    assert!(user.lookup().is_none(), "the account was not rolled back");
    assert!(!s.jail.join("home").join(user.name()).exists());
}

/// An existing account with a password: `user` makes it key-only (`*`); when a later step
/// fails, the roll-back puts the hash back, through stdin (never on a command line), as it
/// was, with the rest of the shadow line.
#[test]
fn a_roll_back_puts_an_existing_accounts_password_back() {
    let Some((_g, s)) = setup("a_roll_back_puts_an_existing_accounts_password_back") else {
        return;
    };
    let user = UserGuard::new();
    let hash = "$6$jailsmithtest$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ./";
    run_ok(
        std::process::Command::new("/usr/sbin/usermod")
            .args(["-p", hash, "--"])
            .arg(user.name()),
    );
    let shadow_line = || {
        fs::read_to_string("/etc/shadow")
            .unwrap()
            .lines()
            .find(|l| l.starts_with(&format!("{}:", user.name())))
            .map(str::to_string)
            .unwrap()
    };
    let before = shadow_line();
    assert!(before.contains(hash), "{before}");
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    capture_every_user(&s);
    let mut cmd = s.user_cmd(user.name());
    cmd.arg("--key").arg(&key_pub);
    let err = refused(&s, user.name(), &mut cmd, SSHD_INVALID);
    assert!(err.contains("rolled back"), "{err}");
    assert!(!err.contains(hash), "the hash was shown: {err}");
    let account = format!("account {}", user.name());
    assert!(
        err.contains(&account),
        "the account change was not undone: {err}"
    );
    assert_eq!(shadow_line(), before, "the shadow line was not put back");
}

#[test]
fn main_config_without_include_is_explained() {
    let Some((_g, s)) = setup("main_config_without_include_is_explained") else {
        return;
    };
    let user = UserGuard::new();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let main = s.root.path().join("sshd_config-no-include");
    let conf: String = fs::read_to_string(s.srv.config_path())
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("Include"))
        .map(|l| format!("{l}\n"))
        .collect();
    common::write_file(&main, conf, 0o644);
    let mut cmd = s.user_cmd_main(user.name(), &main);
    cmd.arg("--key").arg(&key_pub);
    let err = refused(&s, user.name(), &mut cmd, SSHD_INVALID);
    assert!(
        err.contains(&format!("Include {}/*.conf", s.srv.dropin_dir().display())),
        "{err}"
    );
}

#[test]
fn sftp_only_without_subsystem_is_explained() {
    let Some((_g, s)) = setup("sftp_only_without_subsystem_is_explained") else {
        return;
    };
    let user = UserGuard::new();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let main = s.root.path().join("sshd_config-no-sftp");
    let conf: String = fs::read_to_string(s.srv.config_path())
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("Subsystem"))
        .map(|l| format!("{l}\n"))
        .collect();
    common::write_file(&main, conf, 0o644);
    let mut cmd = s.user_cmd_main(user.name(), &main);
    cmd.args(["--sftp-only", "--key"]).arg(&key_pub);
    let err = refused(&s, user.name(), &mut cmd, SSHD_INVALID);
    assert!(err.contains("Subsystem sftp internal-sftp"), "{err}");
}

#[test]
fn planted_symlink_home_is_refused_and_not_followed() {
    let Some((_g, s)) = setup("planted_symlink_home_is_refused_and_not_followed") else {
        return;
    };
    let user = UserGuard::new();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let outside = s.root.dir("outside");
    common::make_dir(&s.jail.join("home"), 0o755);
    std::os::unix::fs::symlink(&outside, s.jail.join("home").join(user.name())).unwrap();
    let mut cmd = s.user_cmd(user.name());
    cmd.arg("--key").arg(&key_pub);
    let err = refused(&s, user.name(), &mut cmd, REFUSED);
    assert!(err.contains("symlink"), "{err}");
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(&outside).unwrap();
    assert_eq!(
        (m.uid(), m.mode() & 0o7777),
        (0, 0o755),
        "the symlink target was changed"
    );
    assert!(Path::new(&outside).read_dir().unwrap().next().is_none());
}

#[test]
fn invalid_sshd_config_is_quoted_and_nothing_changes() {
    let Some((_g, s)) = setup("invalid_sshd_config_is_quoted_and_nothing_changes") else {
        return;
    };
    let user = ReservedUser::new();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let broken = s.srv.dropin_dir().join("05-broken.conf");
    common::write_file(&broken, "NoSuchOptionAnywhere yes\n", 0o644);
    let mut cmd = s.user_cmd(user.name());
    cmd.arg("--create").arg("--key").arg(&key_pub);
    let err = refused(&s, user.name(), &mut cmd, SSHD_INVALID);
    assert!(
        err.contains("NoSuchOptionAnywhere"),
        "sshd's words are not quoted: {err}"
    );
    assert!(user.lookup().is_none(), "the account was created");
}

#[test]
fn remove_of_a_user_not_jailed_here_touches_nothing() {
    let Some((_g, s)) = setup("remove_of_a_user_not_jailed_here_touches_nothing") else {
        return;
    };
    let user = UserGuard::new();
    use std::os::unix::process::CommandExt;
    let sleeper = std::process::Command::new("sleep")
        .arg("60")
        .uid(user.uid())
        .gid(user.gid())
        .spawn()
        .unwrap();
    let mut sleeper = common::ProcessGuard::new(sleeper);
    let out = run(s
        .user_cmd(user.name())
        .args(["--remove", "--delete-home", "--delete-account"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("not jailed in"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        sleeper
            .wait_timeout(std::time::Duration::from_millis(500))
            .is_none(),
        "a process of a user who is not jailed here was killed"
    );
    assert!(
        nix::unistd::User::from_name(user.name()).unwrap().is_some(),
        "the account of a user who is not jailed here was deleted"
    );
}

#[test]
fn a_failure_at_the_last_write_rolls_back_every_step() {
    let Some((_g, s)) = setup("a_failure_at_the_last_write_rolls_back_every_step") else {
        return;
    };
    let user = ReservedUser::new();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    // a symlink planted at the slice drop-in (written after the account, home, passwd/group,
    // group, block, key file and state) is refused: everything before it goes back
    let uid = common::free_uid();
    let systemd = s.root.dir("systemd");
    let slice = systemd.join(format!("user-{uid}.slice.d"));
    fs::create_dir(&slice).unwrap();
    let canary = s.root.path().join("canary");
    common::write_file(&canary, "canary\n", 0o644);
    std::os::unix::fs::symlink(&canary, slice.join("50-jailsmith.conf")).unwrap();
    let state = jailsmith::state::state_file(&s.state_dir, &s.jail);
    let state_before = fs::read(&state).ok();
    let group_before = fs::read_to_string(s.jail.join("etc/group")).ok();
    let jail = fs::canonicalize(&s.jail).unwrap();
    let jail_group = jailsmith::sshd::dropin::jail_group(&jail, false);
    let block = s
        .srv
        .dropin_dir()
        .join(jailsmith::sshd::dropin::group_file_name(&jail_group));
    let mut cmd = s.user_cmd(user.name());
    cmd.args(["--create", "--uid", &uid.to_string(), "--key"])
        .arg(&key_pub)
        .arg("--systemd-dir")
        .arg(&systemd)
        .args(["--memory-max", "150M"]);
    let err = refused(&s, user.name(), &mut cmd, REFUSED);
    assert!(err.contains("50-jailsmith.conf"), "{err}");
    assert!(err.contains("rolled back"), "{err}");
    for undone in [
        format!("account {}", user.name()),
        format!("group {jail_group}"),
        s.keys_dir.join(user.name()).display().to_string(),
        block.display().to_string(),
    ] {
        assert!(err.contains(&undone), "{undone} is not said undone: {err}");
    }
    assert!(!err.contains("could NOT"), "{err}");
    assert!(user.lookup().is_none(), "the account was not rolled back");
    assert!(!s.jail.join("home").join(user.name()).exists());
    assert!(!block.exists(), "the group's block was left");
    let groups = fs::read_to_string("/etc/group").unwrap();
    assert!(
        !groups
            .lines()
            .any(|l| l.split(':').next() == Some(&jail_group)),
        "the jail's group was left"
    );
    assert_eq!(fs::read(&state).ok(), state_before, "the state changed");
    assert_eq!(
        fs::read_to_string(s.jail.join("etc/group")).ok(),
        group_before,
        "the jail's group file changed"
    );
    assert_eq!(fs::read_to_string(&canary).unwrap(), "canary\n");
}
