//! sshd configuration that does not grow with users (issue 18): one `Match Group` block per
//! jail and mode. A second user of a jail changes no file in the drop-in directory and runs no
//! sshd; a user moves between the modes' groups; a per-user drop-in of an earlier version is
//! moved to the group by `update`; `apply` creates several accounts and a no-op `apply` runs
//! no sshd. sshd runs are counted through `--sshd WRAPPER`, a script that logs its arguments.
//! Every path (sshd config, drop-ins, keys, state) belongs to the test.

use crate::common;
use crate::user_support;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::sshd;
use common::{ReservedUser, UserGuard, run_ok, serial, text};
use user_support::Setup;

/// A script that appends its arguments to `log` and runs the real sshd.
fn sshd_wrapper(dir: &Path) -> (PathBuf, PathBuf) {
    let log = dir.join("sshd-runs.log");
    let script = dir.join("sshd-wrapper");
    let real = common::find_cmd("sshd").expect("sshd");
    common::write_file(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" >> {}\nexec {} \"$@\"\n",
            log.display(),
            real.display()
        ),
        0o755,
    );
    (script, log)
}

fn sshd_runs(log: &Path) -> usize {
    fs::read_to_string(log).map_or(0, |t| t.lines().count())
}

/// (inode, size, mtime) of every file in `dir`.
fn dir_stamps(dir: &Path) -> BTreeMap<PathBuf, (u64, u64, i64, i64)> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let m = e.metadata().unwrap();
            (e.path(), (m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
        })
        .collect()
}

fn listening(s: &Setup) -> usize {
    s.srv.log().matches("Server listening on").count()
}

/// `id -un` and `/` as the user sees them over ssh.
fn logs_in_jailed(s: &Setup, name: &str, key: &Path) {
    let (code, out, err) = s.ssh(name, key, "id -un; echo /*");
    assert_eq!(code, Some(0), "{err}\n{}", s.srv.log());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&name), "{out}");
    let top: Vec<&str> = lines
        .get(1)
        .map(|l| l.split(' ').collect())
        .unwrap_or_default();
    assert!(
        !top.contains(&"/root") && !top.contains(&"/boot") && top.contains(&"/home"),
        "not in the jail: {out}"
    );
}

#[test]
fn second_user_changes_no_dropin_and_runs_no_sshd() {
    if !sshd::available("second_user_changes_no_dropin_and_runs_no_sshd") {
        return;
    }
    let _g = serial();
    let s = Setup::new("second_user_changes_no_dropin_and_runs_no_sshd");
    let (wrapper, log) = sshd_wrapper(&s.root.dir("wrap"));
    let (key, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let first = UserGuard::new();
    s.run_reloading(s.user_cmd(first.name()).arg("--key").arg(&key_pub));
    let block = s.dropin(first.name());
    assert!(block.exists(), "no block for the first user");
    let text_ = fs::read_to_string(&block).unwrap();
    assert!(text_.contains("Match Group jailsmith-"), "{text_}");
    assert!(text_.contains("%u"), "{text_}");

    // the second user: only membership, key file and the jail's files change
    let second = UserGuard::new();
    let before = dir_stamps(s.srv.dropin_dir());
    let reloads = listening(&s);
    let out = run_ok(
        s.user_cmd(second.name())
            .arg("--key")
            .arg(&key_pub)
            .arg("--sshd")
            .arg(&wrapper),
    );
    let said = text(&out.stdout);
    assert!(said.contains("add member jailsmith-"), "{said}");
    assert!(!said.contains("reload sshd"), "{said}");
    assert_eq!(sshd_runs(&log), 0, "sshd ran for the second user");
    assert_eq!(
        dir_stamps(s.srv.dropin_dir()),
        before,
        "the drop-in dir changed"
    );
    s.srv.wait_settled();
    assert_eq!(listening(&s), reloads, "sshd was reloaded");
    assert_eq!(s.dropin(second.name()), block);
    logs_in_jailed(&s, second.name(), &key);
    let eff = s.srv.sshd_T(second.name());
    assert!(
        eff.contains(&format!("chrootdirectory {}", s.jail.display())),
        "{eff}"
    );

    // the same user made sftp-only moves to the sftp group: a second block, one reload
    s.run_reloading(
        s.user_cmd(second.name())
            .arg("--sftp-only")
            .arg("--sshd")
            .arg(&wrapper),
    );
    let sftp_block = s.dropin(second.name());
    assert_ne!(sftp_block, block);
    assert!(sftp_block.exists());
    assert!(sshd_runs(&log) > 0);
    let eff = s.srv.sshd_T(second.name());
    assert!(eff.contains("forcecommand internal-sftp"), "{eff}");
    let (code, _, _) = s.ssh(second.name(), &key, "id -un");
    assert_ne!(code, Some(0), "an sftp-only user ran a command");
    // and back: the sftp group lost its last member, so its block and group go
    s.run_reloading(&mut s.user_cmd(second.name()));
    assert_eq!(s.dropin(second.name()), block);
    assert!(!sftp_block.exists(), "the empty sftp block stayed");
    logs_in_jailed(&s, second.name(), &key);

    // a user moved to another jail: refused until taken out of the first, then in its group
    let other_jail = user_support::make_jail(&s.root.jail("other"), &s.state_dir);
    let err = common::run_status(&mut s.user_cmd_in(second.name(), &other_jail), 4);
    assert!(
        text(&err.stderr).contains(&format!("is jailed in {}", s.jail.display())),
        "{}",
        text(&err.stderr)
    );
    run_ok(s.user_cmd(second.name()).arg("--remove"));
    s.run_reloading(
        s.user_cmd_in(second.name(), &other_jail)
            .arg("--key")
            .arg(&key_pub),
    );
    let moved = sshd::jailing_block(s.srv.dropin_dir(), &other_jail, second.name());
    assert!(moved.exists() && moved != block);
    assert!(!s.dropin(second.name()).exists());
    let eff = s.srv.sshd_T(second.name());
    assert!(
        eff.contains(&format!("chrootdirectory {}", other_jail.display())),
        "{eff}"
    );
    // the first jail still jails its first user
    assert!(block.exists());
    logs_in_jailed(&s, first.name(), &key);
}

/// The per-user drop-in the versions before groups wrote.
fn old_dropin(name: &str, jail: &Path, keys_dir: &Path) -> String {
    format!(
        "# Written by jailsmith for user {name}; do not edit: run\n# 'jailsmith user {name} --jail {j} --remove' to take it away.\nMatch User {name}\n    ChrootDirectory {j}\n    AuthorizedKeysFile {k}/{name}\n    DisableForwarding yes\n    AllowTcpForwarding no\n    AllowStreamLocalForwarding no\n    AllowAgentForwarding no\n    X11Forwarding no\n    PermitTunnel no\n    PermitOpen none\n    PermitListen none\n    PermitUserRC no\n",
        j = jail.display(),
        k = keys_dir.display()
    )
}

#[test]
fn update_moves_per_user_dropins_to_the_jails_group() {
    if !sshd::available("update_moves_per_user_dropins_to_the_jails_group") {
        return;
    }
    let _g = serial();
    let mut s = Setup::new("update_moves_per_user_dropins_to_the_jails_group");
    let (key, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let user = UserGuard::new();
    let name = user.name().to_string();
    s.run_reloading(s.user_cmd(&name).arg("--key").arg(&key_pub));
    // turn it into what an earlier version left: no group membership, no block, a
    // per-user drop-in
    let block = s.dropin(&name);
    let group = fs::read_to_string(&block)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Match Group ").map(str::to_string))
        .unwrap();
    run_ok(std::process::Command::new("gpasswd").args(["-d", &name, &group]));
    fs::remove_file(&block).unwrap();
    let old = s.srv.dropin_dir().join(format!("10-jailsmith-{name}.conf"));
    common::write_file(&old, old_dropin(&name, &s.jail, &s.keys_dir), 0o644);
    s.srv.reload();
    logs_in_jailed(&s, &name, &key);

    // a dry run says what it would do and does nothing
    let mut update = common::bin();
    update.arg("update").arg(&s.jail).args(s.sshd_paths());
    let mut dry = common::bin();
    dry.args(update.get_args()).arg("--dry-run");
    let out = common::run_status(&mut dry, 1);
    assert!(
        text(&out.stdout).contains(&format!("would remove dropin {}", old.display())),
        "{}",
        text(&out.stdout)
    );
    assert!(old.exists() && !block.exists());

    let out = s.run_reloading(&mut update);
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!("remove dropin {}", old.display())),
        "{said}"
    );
    assert!(!old.exists(), "the per-user drop-in is still there");
    assert!(block.exists(), "no group block");
    assert_eq!(s.dropin(&name), block, "{name} is not in the jail's group");
    logs_in_jailed(&s, &name, &key);
    let eff = s.srv.sshd_T(&name);
    assert!(
        eff.contains(&format!("chrootdirectory {}", s.jail.display())),
        "{eff}"
    );
    // once moved, update has nothing more to do for sshd
    let out = run_ok(&mut update);
    assert!(
        !text(&out.stdout).contains("dropin"),
        "{}",
        text(&out.stdout)
    );
}

fn apply_cmd(s: &Setup, spec: &Path, wrapper: &Path) -> std::process::Command {
    let mut c = common::bin();
    c.arg("apply")
        .arg(spec)
        .arg("--json")
        .args(s.sshd_paths())
        .arg("--systemd-dir")
        .arg(s.root.path().join("systemd"))
        .arg("--unit-dir")
        .arg(s.root.path().join("units"))
        .arg("--sshd")
        .arg(wrapper);
    c
}

#[test]
fn apply_creates_accounts_and_a_noop_apply_runs_no_sshd() {
    if !sshd::available("apply_creates_accounts_and_a_noop_apply_runs_no_sshd") {
        return;
    }
    let _g = serial();
    let s = Setup::new("apply_creates_accounts_and_a_noop_apply_runs_no_sshd");
    let (wrapper, log) = sshd_wrapper(&s.root.dir("wrap"));
    let (key, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let key_text = fs::read_to_string(&key_pub).unwrap().trim().to_string();
    let users: Vec<ReservedUser> = (0..4).map(|_| ReservedUser::new()).collect();
    let mut spec = format!(
        "[[jail]]\npath = \"{}\"\nbins = [\"bash\", \"id\"]\n",
        s.jail.display()
    );
    for (i, u) in users.iter().enumerate() {
        spec.push_str(&format!(
            "\n[[user]]\nname = \"{}\"\njail = \"{}\"\ncreate = true\nsftp_only = {}\nkeys = [\"{key_text}\"]\n",
            u.name(),
            s.jail.display(),
            i == 3
        ));
    }
    let spec_file = s.root.path().join("spec.toml");
    fs::write(&spec_file, spec).unwrap();
    let before = listening(&s);
    run_ok(&mut apply_cmd(&s, &spec_file, &wrapper));
    let deadline = Instant::now() + Duration::from_secs(10);
    while listening(&s) <= before {
        assert!(Instant::now() < deadline, "no reload\n{}", s.srv.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    s.srv.wait_settled();
    // every account exists as useradd made them: shell, home in the jail, key-only, own group
    let shadow = fs::read_to_string("/etc/shadow").unwrap();
    for (i, u) in users.iter().enumerate() {
        let acc = u
            .lookup()
            .unwrap_or_else(|| panic!("{} not created", u.name()));
        assert_eq!(acc.dir, PathBuf::from(format!("/home/{}", u.name())));
        assert_eq!(acc.shell, PathBuf::from("/bin/bash"));
        let grp = nix::unistd::Group::from_gid(acc.gid).unwrap().unwrap();
        assert_eq!(grp.name, u.name());
        assert!(
            shadow
                .lines()
                .any(|l| l.starts_with(&format!("{}:*:", u.name()))),
            "{} has a password",
            u.name()
        );
        assert!(!Path::new("/home").join(u.name()).exists(), "a host home");
        let blocks = s.dropin(u.name());
        assert!(blocks.exists(), "{} is not jailed", u.name());
        assert_eq!(
            fs::read_to_string(&blocks)
                .unwrap()
                .contains("internal-sftp"),
            i == 3
        );
    }
    logs_in_jailed(&s, users[0].name(), &key);
    let runs = sshd_runs(&log);
    assert!(runs > 0);
    // sshd runs once for each block (-T after writing it) and once for the run (the
    // preflight's -t, the reload's -T), not for each user
    assert!(runs <= 4, "sshd ran {runs} times for 4 users in 2 blocks");

    // nothing to change: no sshd at all
    let out = run_ok(&mut apply_cmd(&s, &spec_file, &wrapper));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["changed"], false, "{v}");
    assert_eq!(sshd_runs(&log), runs, "a no-op apply ran sshd");
}

/// (`sshd -t` runs, `sshd -T -C user=…` runs) in the wrapper's log.
fn sshd_checks(log: &Path) -> (usize, usize) {
    let text = fs::read_to_string(log).unwrap_or_default();
    let has = |l: &str, w: &str| l.split_whitespace().any(|x| x == w);
    let t = text.lines().filter(|l| has(l, "-t")).count();
    let big_t = text
        .lines()
        .filter(|l| has(l, "-T") && l.contains("user="))
        .count();
    (t, big_t)
}

#[test]
fn apply_adding_jails_runs_sshd_t_once_and_a_user_check_per_block() {
    if !sshd::available("apply_adding_jails_runs_sshd_t_once_and_a_user_check_per_block") {
        return;
    }
    let _g = serial();
    let s = Setup::new("apply_adding_jails_runs_sshd_t_once_and_a_user_check_per_block");
    let (wrapper, log) = sshd_wrapper(&s.root.dir("wrap"));
    let (key, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let key_text = fs::read_to_string(&key_pub).unwrap().trim().to_string();
    // three new jails: the first with shell and sftp-only users (two blocks), the second
    // with two users, the third with one: four blocks, six users
    let jails: Vec<PathBuf> = (0..3).map(|i| s.root.jail(&format!("j{i}"))).collect();
    let users: Vec<ReservedUser> = (0..6).map(|_| ReservedUser::new()).collect();
    let place = [
        (0, false),
        (0, false),
        (0, true),
        (1, false),
        (1, false),
        (2, false),
    ];
    let mut spec = String::new();
    for j in &jails {
        spec.push_str(&format!(
            "[[jail]]\npath = \"{}\"\nbins = [\"bash\", \"id\"]\n\n",
            j.display()
        ));
    }
    for (u, (j, sftp)) in users.iter().zip(place) {
        spec.push_str(&format!(
            "[[user]]\nname = \"{}\"\njail = \"{}\"\ncreate = true\nsftp_only = {sftp}\nkeys = [\"{key_text}\"]\n\n",
            u.name(),
            jails[j].display()
        ));
    }
    let spec_file = s.root.path().join("spec.toml");
    fs::write(&spec_file, spec).unwrap();
    let before = listening(&s);
    run_ok(&mut apply_cmd(&s, &spec_file, &wrapper));
    let (t, big_t) = sshd_checks(&log);
    assert_eq!(t, 1, "sshd -t ran {t} times in one apply");
    assert_eq!(
        big_t, 4,
        "sshd -T -C user=… ran {big_t} times for 4 new blocks"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while listening(&s) <= before {
        assert!(Instant::now() < deadline, "no reload\n{}", s.srv.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    s.srv.wait_settled();
    // the checks that moved after the write still hold: each block jails its users
    for (u, (j, sftp)) in users.iter().zip(place) {
        let block = sshd::jail_block(s.srv.dropin_dir(), &jails[j], sftp);
        let text = fs::read_to_string(&block).unwrap();
        assert!(text.contains(&jails[j].display().to_string()), "{text}");
        let eff = s.srv.sshd_T(u.name());
        assert!(
            eff.contains(&format!("chrootdirectory {}", jails[j].display())),
            "{} is not jailed: {eff}",
            u.name()
        );
    }
    let (code, out, err) = s.ssh(users[5].name(), &key, "id -un");
    assert_eq!(code, Some(0), "{err}\n{}", s.srv.log());
    assert_eq!(out.trim(), users[5].name());
}

/// `jailsmith check JAIL` with the setup's state directory.
fn check(s: &Setup) -> std::process::Output {
    common::run(
        common::bin()
            .arg("check")
            .arg(&s.jail)
            .arg("--state-dir")
            .arg(&s.state_dir),
    )
}

#[test]
fn check_reports_a_user_taken_out_of_the_jails_group() {
    if !sshd::available("check_reports_a_user_taken_out_of_the_jails_group") {
        return;
    }
    let _g = serial();
    let s = Setup::new("check_reports_a_user_taken_out_of_the_jails_group");
    let (key, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let user = UserGuard::new();
    s.run_reloading(s.user_cmd(user.name()).arg("--key").arg(&key_pub));
    let ok = check(&s);
    assert!(ok.status.success(), "{}", text(&ok.stdout));

    // what `usermod -G other USER` (without -a) does: the user leaves the jail's group,
    // and sshd no longer jails them
    let block = s.dropin(user.name());
    let group = fs::read_to_string(&block)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Match Group ").map(str::to_string))
        .expect("a Match Group line");
    run_ok(
        std::process::Command::new("gpasswd")
            .arg("-d")
            .arg(user.name())
            .arg(&group),
    );
    let bad = check(&s);
    let report = text(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{report}");
    assert!(
        report
            .lines()
            .any(|l| l.contains("[not-jailed]") && l.contains(user.name())),
        "check names the user sshd no longer jails:\n{report}"
    );

    // the fix the finding names puts the user back
    run_ok(&mut s.user_cmd(user.name()));
    let ok = check(&s);
    assert!(ok.status.success(), "{}", text(&ok.stdout));
    logs_in_jailed(&s, user.name(), &key);
}

/// The group line of `name` in /etc/group, if any.
fn group_line(name: &str) -> Option<String> {
    fs::read_to_string("/etc/group")
        .unwrap()
        .lines()
        .find(|l| l.split(':').next() == Some(name))
        .map(str::to_string)
}

#[test]
fn a_group_of_the_jails_name_that_jailsmith_did_not_create_is_refused() {
    if !sshd::available("a_group_of_the_jails_name_that_jailsmith_did_not_create_is_refused") {
        return;
    }
    let _g = serial();
    let s = Setup::new("a_group_of_the_jails_name_that_jailsmith_did_not_create_is_refused");
    // a careless admin made a group of the very name jailsmith would use, with a member
    let jail = fs::canonicalize(&s.jail).unwrap();
    let group = jailsmith::sshd::dropin::jail_group(&jail, false);
    let bystander = UserGuard::new();
    run_ok(std::process::Command::new("groupadd").arg(&group));
    run_ok(
        std::process::Command::new("gpasswd")
            .arg("-a")
            .arg(bystander.name())
            .arg(&group),
    );
    let before = group_line(&group).expect("the group exists");

    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let user = UserGuard::new();
    let out = common::run(s.user_cmd(user.name()).arg("--key").arg(&key_pub));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains(&group) && err.contains("not jailsmith's"),
        "the refusal names the group: {err}"
    );
    assert_eq!(
        group_line(&group).as_deref(),
        Some(before.as_str()),
        "the foreign group was changed"
    );
    assert!(
        !sshd::jail_block(s.srv.dropin_dir(), &s.jail, false).exists(),
        "a block matching the foreign group was written"
    );
    assert!(
        !s.keys_dir.join(user.name()).exists(),
        "the refused user got a key file"
    );
}
