//! `--dry-run` and `--json` of update, destroy, service, user, mount and umount (issue 15:
//! every command's dry run prints its plan, and --json prints it as data). Each dry run
//! changes nothing (every object under the jail, the state and the host directories it would
//! write keeps its inode, mtime and ctime; no mount, account or group appears or goes), and
//! its JSON names what the real run then does, read back from the real run's own JSON. For
//! an account the run creates, the dry run's plan is the real run's step for step, its uid
//! and gid shown as `"new"`.

use crate::common;
use crate::user_support;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::sshd;
use common::{ReservedUser, TestRoot, UnmountGuard, bin, jail_cmd, run, run_ok, snapshot, text};
use serde_json::Value;

/// Runs `cmd`, which must exit with `code`, and parses its stdout as one JSON object.
fn json_of(cmd: &mut Command, code: i32) -> Value {
    let out = run(cmd);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        common::describe(cmd, &out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", common::describe(cmd, &out)))
}

/// The strings of a JSON array (of `key` of each object, when given).
fn strings(v: &Value, key: Option<&str>) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| match key {
            Some(k) => x[k]
                .as_str()
                .unwrap_or_else(|| panic!("{k} of {x}"))
                .to_string(),
            None => x
                .as_str()
                .unwrap_or_else(|| panic!("not a string: {x}"))
                .to_string(),
        })
        .collect()
}

/// The keys the JSON OUTPUT section of `man/jailsmith-COMMAND.8` documents: at the top
/// level, and (`nested`) in the subsection of that key.
fn documented_keys(command: &str, nested: Option<&str>) -> BTreeSet<String> {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("man/jailsmith-{command}.8"));
    let page = fs::read_to_string(&page).unwrap();
    let section = page
        .split("\n.SH \"JSON OUTPUT\"\n")
        .nth(1)
        .unwrap_or_else(|| panic!("jailsmith-{command}(8) has no JSON OUTPUT"))
        .split("\n.SH ")
        .next()
        .unwrap();
    let part = match nested {
        None => section.split("\n.SS ").next().unwrap().to_string(),
        Some(key) => section
            .split("\n.SS ")
            .find_map(|s| s.strip_prefix(&format!("{key}\n")))
            .unwrap_or_else(|| panic!("no subsection {key}"))
            .to_string(),
    };
    // each key is the bold word of the line after a .TP
    let lines: Vec<&str> = part.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0] == ".TP")
        .filter_map(|w| {
            w[1].strip_prefix("\\fB")?
                .split_once("\\fR (")
                .map(|(k, _)| k)
        })
        .map(|k| k.replace("\\-", "-"))
        .collect()
}

/// Every key of `report` (and of the first object of each array key in `nested`) is the
/// one the command's man page documents, no more, no fewer.
pub(crate) fn assert_documented(command: &str, report: &Value, nested: &[&str]) {
    let keys = |v: &Value| -> BTreeSet<String> {
        v.as_object()
            .unwrap_or_else(|| panic!("not an object: {v}"))
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(
        keys(report),
        documented_keys(command, None),
        "{command} --json"
    );
    for key in nested {
        let first = &report[key][0];
        assert_eq!(
            keys(first),
            documented_keys(command, Some(key)),
            "{command} --json: {key}"
        );
    }
}

/// `plan` with the ids `uid` and `gid` (those useradd allocated) as a dry run shows ids still
/// to be allocated: `"new"`.
fn with_new_ids(plan: &Value, uid: u32, gid: u32) -> Value {
    match plan {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                let v = match (k.as_str(), v.as_u64()) {
                    ("uid", Some(n)) if n == u64::from(uid) => Value::from("new"),
                    ("gid", Some(n)) if n == u64::from(gid) => Value::from("new"),
                    _ => with_new_ids(v, uid, gid),
                };
                (k.clone(), v)
            })
            .collect(),
        Value::Array(a) => a.iter().map(|v| with_new_ids(v, uid, gid)).collect(),
        other => other.clone(),
    }
}

/// (uid, gid) of the account `name`.
fn ids_of(name: &str) -> (u32, u32) {
    let u = nix::unistd::User::from_name(name)
        .unwrap()
        .unwrap_or_else(|| panic!("no account {name}"));
    (u.uid.as_raw(), u.gid.as_raw())
}

/// The JSON report of the dry run `cmd` (exit 0), which must leave every object under
/// `watched` as it was.
fn dry_run_json(cmd: &mut Command, watched: &[&Path]) -> Value {
    let before = snapshot(watched);
    let dry = json_of(cmd, 0);
    assert_eq!(snapshot(watched), before, "{cmd:?} changed the tree");
    dry
}

/// Both runs exit with `code`, the dry run as the real run.
fn refused_alike(dry: &std::process::Output, real: &std::process::Output, code: i32) {
    assert_eq!(dry.status.code(), Some(code), "{}", text(&dry.stderr));
    assert_eq!(
        real.status.code(),
        dry.status.code(),
        "{}",
        text(&real.stderr)
    );
}

/// The directories the commands of a user test setup write (jail, state, keys, sshd
/// drop-ins) and `more`.
fn written_by<'a>(s: &'a user_support::Setup, more: &'a Path) -> Vec<&'a Path> {
    vec![&s.jail, &s.state_dir, &s.keys_dir, s.srv.dropin_dir(), more]
}

/// True when the host has a group `name`.
fn group_exists(name: &str) -> bool {
    nix::unistd::Group::from_name(name).unwrap().is_some()
}

#[test]
fn mount_and_umount_dry_runs_change_nothing_and_name_what_the_real_runs_do() {
    if !common::require_root(
        "mount_and_umount_dry_runs_change_nothing_and_name_what_the_real_runs_do",
    ) {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let _guard = UnmountGuard(t.path().to_path_buf());
    let src = t.dir("shared");
    common::write_file(&src.join("data"), "x", 0o644);
    let bind = format!("{}:/shared", src.display());
    run_ok(&mut jail_cmd(
        "build",
        &jail,
        &state,
        &["--bin", "bash", "--bind", &bind],
    ));
    // a directory the dry run must not create, nor write a unit into
    let units = t.path().join("units");
    let unit_dir = units.to_str().unwrap();
    let mount = |extra: &[&str]| {
        let mut args = vec!["--json", "--systemd-unit-dir", unit_dir];
        args.extend(extra);
        jail_cmd("mount", &jail, &state, &args)
    };
    let before = snapshot(&[&jail, &state, t.path()]);

    let dry = json_of(&mut mount(&["--dry-run"]), 0);
    assert_eq!(dry["dry_run"], true);
    let want = format!("{}:/shared:ro", src.display());
    assert_eq!(
        strings(&dry["mounts"], Some("mount")),
        std::slice::from_ref(&want)
    );
    assert_eq!(strings(&dry["mounts"], Some("done")), ["mounted"]);
    assert_eq!(strings(&dry["units"], Some("written")), ["created"]);
    let unit_name = dry["units"][0]["path"].as_str().unwrap().to_string();
    assert!(unit_name.starts_with(unit_dir) && unit_name.ends_with("-shared.mount"));
    assert_eq!(dry["systemctl"][0][0], "daemon-reload");
    // the plan: the bind's mount point, the bind, the directory, then the unit (systemd
    // does not manage this directory, so systemctl is only printed, not planned)
    assert_eq!(
        strings(&dry["plan"], Some("op")),
        ["make_jail_dir", "mount", "make_host_dir", "write_root_file"]
    );
    assert_eq!(
        dry["plan"][0],
        serde_json::json!({"op": "make_jail_dir", "path": "/shared", "mode": 0o755,
            "owner": {"uid": 0, "gid": 0}, "reason": "the mount point of a declared bind"})
    );
    assert_eq!(
        dry["plan"][1],
        serde_json::json!({"op": "mount", "target": "/shared", "kind": "bind",
            "source": src.to_str().unwrap(), "rw": false, "reason": "a declared bind (--bind)"})
    );
    assert_eq!(dry["plan"][3]["path"].as_str(), Some(unit_name.as_str()));
    assert_eq!(
        snapshot(&[&jail, &state, t.path()]),
        before,
        "mount --dry-run changed the tree"
    );
    assert!(
        common::mounts_under(&jail).is_empty(),
        "mount --dry-run mounted"
    );
    assert!(!units.exists(), "mount --dry-run made the unit directory");
    let text_dry = run_ok(&mut jail_cmd("mount", &jail, &state, &["--dry-run"]));
    assert!(text(&text_dry.stdout).contains(&format!("would mount {want}")));

    let real = json_of(&mut mount(&[]), 0);
    assert_eq!(real["dry_run"], false);
    assert_documented("mount", &real, &["mounts", "units"]);
    assert_eq!(
        real["mounts"], dry["mounts"],
        "mount did other than its dry run said"
    );
    assert_eq!(real["units"], dry["units"]);
    assert_eq!(real["systemctl"], dry["systemctl"]);
    assert_eq!(
        real["plan"], dry["plan"],
        "mount did other than its plan said"
    );
    assert!(
        common::mount_at(&jail.join("shared")).is_some(),
        "not mounted"
    );
    assert!(Path::new(&unit_name).is_file(), "no unit written");

    // now current: the dry run says so, and changes nothing
    let before = snapshot(&[&state, &units]);
    let again = json_of(&mut mount(&["--dry-run"]), 0);
    assert_eq!(strings(&again["mounts"], Some("done")), ["already_mounted"]);
    assert_eq!(strings(&again["units"], Some("written")), ["unchanged"]);
    assert_eq!(again["plan"], serde_json::json!([]));
    assert_eq!(snapshot(&[&state, &units]), before);

    let umount = |extra: &[&str]| {
        let mut args = vec!["--json"];
        args.extend(extra);
        jail_cmd("umount", &jail, &state, &args)
    };
    let dry = json_of(&mut umount(&["--dry-run"]), 0);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        strings(&dry["mounts"], Some("mount")),
        std::slice::from_ref(&want)
    );
    assert_eq!(strings(&dry["mounts"], Some("done")), ["unmounted"]);
    assert_eq!(strings(&dry["plan"], Some("op")), ["unmount"]);
    assert_eq!(dry["plan"][0]["target"], "/shared");
    assert_eq!(dry["plan"][0]["mount"].as_str(), Some(want.as_str()));
    assert!(
        common::mount_at(&jail.join("shared")).is_some(),
        "umount --dry-run unmounted"
    );
    let real = json_of(&mut umount(&[]), 0);
    assert_documented("umount", &real, &["mounts"]);
    assert_eq!(
        real["mounts"], dry["mounts"],
        "umount did other than its dry run said"
    );
    assert_eq!(
        real["plan"], dry["plan"],
        "umount did other than its plan said"
    );
    assert!(common::mounts_under(&jail).is_empty(), "still mounted");
    let after = json_of(&mut umount(&["--dry-run"]), 0);
    assert_eq!(strings(&after["mounts"], Some("done")), ["not_mounted"]);
}

/// Every kind of mount is a plan operation: a bind, the jail's own proc and devpts and its
/// log socket; the real run's plan is the dry run's step for step, a second run plans
/// nothing, and umount's plan is one `unmount` each, as its real run does.
#[test]
fn mount_plans_each_bind_proc_devpts_and_log_socket_and_the_real_run_does_exactly_that() {
    let test =
        "mount_plans_each_bind_proc_devpts_and_log_socket_and_the_real_run_does_exactly_that";
    if !common::require_root(test) {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let _guard = UnmountGuard(t.path().to_path_buf());
    let src = t.dir("shared");
    let sock_path = t.path().join("syslog.sock");
    let _syslog = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    let sock = sock_path.to_str().unwrap();
    let bind = format!("{}:/home/u/shared:rw", src.display());
    run_ok(&mut jail_cmd(
        "build",
        &jail,
        &state,
        &[
            "--bin",
            "bash",
            "--bind",
            &bind,
            "--proc",
            "--devpts",
            "--log-socket",
            sock,
        ],
    ));
    let mount = |extra: &[&str]| {
        let mut args = vec!["--json"];
        args.extend(extra);
        jail_cmd("mount", &jail, &state, &args)
    };
    let dry = json_of(&mut mount(&["--dry-run"]), 0);
    // each mount after what it needs made first (the jail has /home and /dev, not the
    // rest): its mount point's directories, dev/ptmx's link, the log socket's placeholder
    let ops = strings(&dry["plan"], Some("op"));
    let paths: Vec<String> = dry["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s.get("path")
                .or(s.get("target"))
                .unwrap()
                .as_str()
                .unwrap()
                .into()
        })
        .collect();
    let steps: Vec<(&str, &str)> = ops
        .iter()
        .zip(&paths)
        .map(|(o, p)| (o.as_str(), p.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("make_jail_dir", "/home/u"),
            ("make_jail_dir", "/home/u/shared"),
            ("mount", "/home/u/shared"),
            ("make_jail_dir", "/proc"),
            ("mount", "/proc"),
            ("make_jail_dir", "/dev/pts"),
            ("make_jail_symlink", "/dev/ptmx"),
            ("mount", "/dev/pts"),
            ("make_placeholder", "/dev/log"),
            ("mount", "/dev/log"),
        ]
    );
    let mounts: Vec<&serde_json::Value> = dry["plan"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["op"] == "mount")
        .collect();
    let kinds: Vec<&str> = mounts.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["bind", "proc", "devpts", "log"]);
    assert_eq!(mounts[0]["rw"], true);
    assert_eq!(mounts[3]["source"].as_str(), Some(sock));
    assert!(mounts[2]["gid"].is_u64(), "{}", mounts[2]);
    assert_eq!(dry["plan"][3]["mode"], 0o555, "{}", dry["plan"][3]);
    assert_eq!(dry["plan"][6]["target"], "pts/ptmx", "{}", dry["plan"][6]);
    assert!(
        common::mounts_under(&jail).is_empty(),
        "the dry run mounted"
    );

    let real = json_of(&mut mount(&[]), 0);
    assert_eq!(
        real["plan"], dry["plan"],
        "mount did other than its plan said"
    );
    assert_eq!(real["mounts"], dry["mounts"]);
    assert_eq!(common::mounts_under(&jail).len(), 4);
    let again = json_of(&mut mount(&[]), 0);
    assert_eq!(
        again["plan"],
        serde_json::json!([]),
        "a second run plans nothing"
    );
    assert_eq!(
        strings(&again["mounts"], Some("done")),
        ["already_mounted"; 4]
    );

    let umount = |extra: &[&str]| {
        let mut args = vec!["--json"];
        args.extend(extra);
        jail_cmd("umount", &jail, &state, &args)
    };
    let dry = json_of(&mut umount(&["--dry-run"]), 0);
    assert_eq!(strings(&dry["plan"], Some("op")), ["unmount"; 4]);
    let mut targets = strings(&dry["plan"], Some("target"));
    targets.sort();
    assert_eq!(targets, ["/dev/log", "/dev/pts", "/home/u/shared", "/proc"]);
    let real = json_of(&mut umount(&[]), 0);
    assert_eq!(
        real["plan"], dry["plan"],
        "umount did other than its plan said"
    );
    assert!(common::mounts_under(&jail).is_empty(), "still mounted");
}

#[test]
fn mount_dry_run_refuses_a_planted_symlink_as_mount_does() {
    if !common::require_root("mount_dry_run_refuses_a_planted_symlink_as_mount_does") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let _guard = UnmountGuard(t.path().to_path_buf());
    let src = t.dir("shared");
    let bind = format!("{}:/srv/data", src.display());
    run_ok(&mut jail_cmd(
        "build",
        &jail,
        &state,
        &["--bin", "bash", "--bind", &bind],
    ));
    // the jailed user's move: the bind's parent is a symlink to a host directory
    let outside = t.dir("outside");
    let canary = common::Canary::new(&outside.join("canary"), "host data\n");
    let _ = fs::remove_dir(jail.join("srv"));
    std::os::unix::fs::symlink(&outside, jail.join("srv")).unwrap();
    let before = snapshot(&[&jail, &state, &outside]);
    let dry = run(&mut jail_cmd(
        "mount",
        &jail,
        &state,
        &["--dry-run", "--json"],
    ));
    let real = run(&mut jail_cmd("mount", &jail, &state, &["--json"]));
    refused_alike(&dry, &real, 4);
    assert!(
        dry.stdout.is_empty() && real.stdout.is_empty(),
        "a report for a refusal"
    );
    assert!(text(&dry.stderr).contains("srv"), "{}", text(&dry.stderr));
    assert_eq!(snapshot(&[&jail, &state, &outside]), before);
    canary.assert_unchanged("mount through a planted symlink");
    assert!(
        common::mounts_under(t.path()).is_empty(),
        "something was mounted"
    );

    // the same for a jail's own proc: its mount point is a symlink out of the jail
    let jail = t.jail("proc");
    run_ok(&mut jail_cmd(
        "build",
        &jail,
        &state,
        &["--bin", "bash", "--proc"],
    ));
    let _ = fs::remove_dir(jail.join("proc"));
    std::os::unix::fs::symlink(&outside, jail.join("proc")).unwrap();
    let dry = run(&mut jail_cmd("mount", &jail, &state, &["--dry-run"]));
    let real = run(&mut jail_cmd("mount", &jail, &state, &[]));
    refused_alike(&dry, &real, 4);
    canary.assert_unchanged("mount proc through a planted symlink");
    assert!(
        common::mounts_under(t.path()).is_empty(),
        "something was mounted"
    );
}

#[test]
fn update_dry_run_json_names_what_update_then_does() {
    if !common::require_root("update_dry_run_json_names_what_update_then_does") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    run_ok(&mut jail_cmd(
        "build",
        &jail,
        &state,
        &["--bin", "bash", "--bin", "id"],
    ));
    // id leaves the request (update removes what only it needed); bash drifts in the jail
    run_ok(&mut jail_cmd(
        "build",
        &jail,
        &state,
        &["--remove-bin", "id"],
    ));
    let bash = jail.join(common::find_cmd("bash").unwrap().strip_prefix("/").unwrap());
    fs::write(&bash, "drifted").unwrap();
    let update = |extra: &[&str]| {
        let mut args = vec!["--json"];
        args.extend(extra);
        jail_cmd("update", &jail, &state, &args)
    };
    let before = snapshot(&[&jail, &state]);
    let dry = json_of(&mut update(&["--dry-run"]), 1);
    assert_eq!(
        snapshot(&[&jail, &state]),
        before,
        "update --dry-run changed the tree"
    );
    assert_eq!(
        (&dry["dry_run"], &dry["up_to_date"]),
        (&Value::Bool(true), &Value::Bool(false))
    );
    let removed = strings(&dry["removed"], None);
    assert!(removed.iter().any(|p| p.ends_with("/id")), "{dry}");
    let bash_in = format!("/{}", bash.strip_prefix(&jail).unwrap().display());
    assert!(strings(&dry["updated"], None).contains(&bash_in), "{dry}");

    let real = json_of(&mut update(&[]), 0);
    assert_eq!(real["dry_run"], false);
    assert_documented("update", &real, &[]);
    for key in ["added", "updated", "removed"] {
        let set = |v: &Value| strings(&v[key], None).into_iter().collect::<BTreeSet<_>>();
        assert_eq!(
            set(&real),
            set(&dry),
            "{key}: update did other than its dry run said"
        );
    }
    for p in &removed {
        assert!(
            fs::symlink_metadata(jail.join(&p[1..])).is_err(),
            "{p} is left"
        );
    }
    let now = json_of(&mut update(&["--dry-run"]), 0);
    assert_eq!(now["up_to_date"], true, "{now}");
}

#[test]
fn service_dry_run_json_names_the_account_unit_and_systemctl_of_the_real_run() {
    if !common::require_root(
        "service_dry_run_json_names_the_account_unit_and_systemctl_of_the_real_run",
    ) || !common::require_cmd("useradd")
    {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state, units) = (t.jail("svc"), t.state_dir(), t.dir("units"));
    common::make_dir(&units, 0o755);
    let user = ReservedUser::new();
    let service = |extra: &[&str]| {
        let mut c = bin();
        c.args(["service", "tick", "--jail"])
            .arg(&jail)
            .args([
                "--exec",
                "sleep 1000",
                "--user",
                user.name(),
                "--create-user",
            ])
            .args([
                "--read-write",
                "/var/lib/tick",
                "--read-write",
                "/srv/tick/spool",
            ])
            .args(["--json", "--unit-dir"])
            .arg(&units)
            .arg("--state-dir")
            .arg(&state)
            .args(extra);
        c
    };
    let before = snapshot(&[t.path()]);
    let dry = json_of(&mut service(&["--dry-run"]), 0);
    assert_eq!(
        snapshot(&[t.path()]),
        before,
        "service --dry-run changed the tree"
    );
    assert!(
        user.lookup().is_none(),
        "service --dry-run created the account"
    );
    assert!(!jail.exists());
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["changed"], Value::Null);
    assert_eq!(dry["account"], user.name());
    assert_eq!(dry["account_created"], true);
    assert_eq!(dry["unit_status"], "created");
    assert_eq!(
        dry["read_write_created"],
        serde_json::json!(["/var/lib/tick", "/srv/tick/spool"])
    );
    assert_eq!(dry["systemctl"], serde_json::json!([["daemon-reload"]]));
    assert!(
        strings(&dry["programs"], None)[0].ends_with("/sleep"),
        "{dry}"
    );
    assert!(dry["jail_operations"].as_u64().unwrap() > 0);
    let unit = units.join("tick.service");
    assert_eq!(dry["unit"], unit.to_str().unwrap());
    assert!(
        dry["unit_text"]
            .as_str()
            .unwrap()
            .contains(&format!("User={}", user.name()))
    );

    // every step of the real run, the new account's lines and directories included, with
    // the ids useradd is still to allocate
    let ops = |v: &Value| strings(&v["plan"], Some("op"));
    assert_eq!(
        ops(&dry),
        [
            "create_system_account",
            "put_passwd_line",
            "put_group_line",
            "make_jail_dir",
            "make_jail_dir",
            "make_jail_dir",
            "make_jail_dir",
            "make_jail_dir",
            "save_state",
            "write_root_file"
        ],
        "{}",
        dry["plan"]
    );
    let tick = dry["plan"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["path"] == "/var/lib/tick")
        .unwrap_or_else(|| panic!("no /var/lib/tick: {}", dry["plan"]));
    assert_eq!(
        tick["owner"],
        serde_json::json!({"uid": "new", "gid": "new"})
    );
    assert_eq!(tick["mode"], 0o700);

    let real = json_of(&mut service(&[]), 0);
    assert_eq!(real["changed"], true);
    assert_documented("service", &real, &[]);
    let (uid, gid) = ids_of(user.name());
    assert_eq!(
        with_new_ids(&real["plan"], uid, gid),
        dry["plan"],
        "service did other than its dry run's plan said"
    );
    for key in [
        "account",
        "account_created",
        "unit",
        "unit_status",
        "read_write_created",
        "systemctl",
        "programs",
        "jail_operations",
    ] {
        assert_eq!(
            real[key], dry[key],
            "{key}: service did other than its dry run said"
        );
    }
    assert!(user.lookup().is_some(), "no account");
    assert_eq!(
        fs::read_to_string(&unit).unwrap(),
        real["unit_text"].as_str().unwrap()
    );
    for dir in ["var/lib/tick", "srv/tick/spool"] {
        let m = fs::metadata(jail.join(dir)).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            (m.uid(), m.gid(), m.mode() & 0o7777),
            (uid, gid, 0o700),
            "{dir}"
        );
    }
    let passwd = fs::read_to_string(jail.join("etc/passwd")).unwrap();
    assert!(
        passwd.contains(&format!("{}:x:{uid}:{gid}:", user.name())),
        "{passwd}"
    );

    // a rerun: the dry run says nothing changes, and the run changes nothing
    let dry = json_of(&mut service(&["--dry-run"]), 0);
    assert_eq!(dry["account_created"], false);
    assert_eq!(dry["unit_status"], "unchanged");
    assert_eq!(dry["read_write_created"], serde_json::json!([]));
    assert_eq!(dry["systemctl"], serde_json::json!([]));
    assert_eq!(dry["plan"], serde_json::json!([]));
    let real = json_of(&mut service(&[]), 0);
    assert_eq!(real["changed"], false, "{real}");
    assert_eq!(real["plan"], serde_json::json!([]));

    // with the account there, the dry run's plan is the real run's, step for step
    let more = ["--read-write", "/var/lib/tock"];
    let dry = json_of(&mut service(&[&more[..], &["--dry-run"]].concat()), 0);
    let real = json_of(&mut service(&more), 0);
    assert_eq!(
        ops(&dry),
        ["make_jail_dir", "save_state", "write_root_file"],
        "{}",
        dry["plan"]
    );
    assert_eq!(dry["plan"], real["plan"]);
    run_ok(
        bin()
            .arg("destroy")
            .arg(&jail)
            .arg("--state-dir")
            .arg(&state)
            .args(["--purge", "--no-reload"]),
    );
}

#[test]
fn user_create_dry_run_plans_every_step_of_the_real_run_with_its_ids_to_be_allocated() {
    let Some((_g, s)) = user_support::serial_setup("user_create_dry_run_plans") else {
        return;
    };
    let systemd_dir = s.root.dir("systemd");
    common::make_dir(&systemd_dir, 0o755);
    let canary = common::Canary::new(&systemd_dir.join("other.conf"), "[Slice]\n");
    let user = ReservedUser::new();
    let name = user.name().to_string();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let add = |extra: &[&str]| {
        let mut c = s.user_cmd(&name);
        c.arg("--create")
            .arg("--key")
            .arg(&key_pub)
            .arg("--systemd-dir")
            .arg(&systemd_dir)
            .args(["--memory-max", "150M", "--tasks-max", "64", "--json"])
            .args(extra);
        c
    };
    let dry = dry_run_json(&mut add(&["--dry-run"]), &written_by(&s, &systemd_dir));
    canary.assert_unchanged("user --dry-run");
    assert!(
        user.lookup().is_none(),
        "user --dry-run created the account"
    );
    assert!(!group_exists(&name), "user --dry-run created a group");
    assert_eq!(dry["dry_run"], true);
    let plan = dry["plan"]
        .as_array()
        .unwrap_or_else(|| panic!("no plan: {dry}"));
    let step = |op: &str| {
        plan.iter()
            .find(|s| s["op"] == op)
            .unwrap_or_else(|| panic!("no {op} in the plan: {dry}"))
    };
    // the home, the jail's lines and the limits are steps, their ids still to be allocated
    let home = plan
        .iter()
        .find(|s| s["op"] == "make_jail_dir" && s["path"] == format!("/home/{name}"))
        .unwrap_or_else(|| panic!("no home in the plan: {dry}"));
    assert_eq!(
        home["owner"],
        serde_json::json!({"uid": "new", "gid": "new"})
    );
    let line = step("put_passwd_line");
    assert_eq!(
        (&line["uid"], &line["gid"]),
        (&Value::from("new"), &Value::from("new"))
    );
    assert_eq!(line["home"], format!("/home/{name}"));
    assert_eq!(step("put_group_line")["gid"], "new");
    let slice = step("write_slice_drop_in");
    assert_eq!(slice["uid"], "new");
    assert_eq!(slice["systemd_dir"], systemd_dir.to_str().unwrap());
    assert_eq!(
        slice["limits"],
        serde_json::json!(["MemoryMax=150M", "TasksMax=64"]),
        "{slice}"
    );
    assert!(
        plan.iter()
            .all(|s| !s["reason"].as_str().unwrap_or("").is_empty()),
        "{dry}"
    );

    let out = s.run_reloading(&mut add(&[]));
    let real: Value = serde_json::from_slice(&out.stdout).expect("user --json prints JSON");
    assert_eq!(real["dry_run"], false);
    let (uid, gid) = ids_of(&name);
    assert_eq!(
        with_new_ids(&real["plan"], uid, gid),
        dry["plan"],
        "user --create did other than its dry run's plan said"
    );
    // and did it: the home, the lines and the drop-in, with the ids it got
    use std::os::unix::fs::MetadataExt;
    let m = fs::metadata(s.jail.join("home").join(&name)).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (uid, gid, 0o700));
    let passwd = fs::read_to_string(s.jail.join("etc/passwd")).unwrap();
    assert!(
        passwd.contains(&format!("{name}:x:{uid}:{gid}:")),
        "{passwd}"
    );
    let dropin = systemd_dir.join(format!("user-{uid}.slice.d/50-jailsmith.conf"));
    let conf = fs::read_to_string(&dropin).expect("the slice drop-in");
    assert!(conf.contains("TasksMax=64"), "{conf}");
    canary.assert_unchanged("user --create");

    // a rerun: the dry run plans nothing, as the real run then does nothing
    let again = json_of(&mut add(&["--dry-run"]), 0);
    assert_eq!(again["plan"], serde_json::json!([]), "{again}");
    let mut rm = s.user_cmd(&name);
    rm.args(["--remove", "--delete-home", "--delete-account"])
        .arg("--systemd-dir")
        .arg(&systemd_dir);
    s.run_reloading(&mut rm);
    assert!(user.lookup().is_none());
    assert!(!dropin.exists(), "the drop-in is left");
}

#[test]
fn user_create_and_its_dry_run_refuse_a_jail_passwd_that_is_a_symlink_alike() {
    let Some((_g, s)) = user_support::serial_setup("user_create_symlinked_passwd") else {
        return;
    };
    // the careless admin's `ln -sf /etc/passwd JAIL/etc/passwd`, with a canary for the host's
    let canary = common::Canary::new(
        &s.root.path().join("host-passwd"),
        "root:x:0:0::/:/bin/sh\n",
    );
    let passwd = s.jail.join("etc/passwd");
    fs::remove_file(&passwd).unwrap();
    std::os::unix::fs::symlink(s.root.path().join("host-passwd"), &passwd).unwrap();
    let user = ReservedUser::new();
    let name = user.name().to_string();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let add = |extra: &[&str]| {
        let mut c = s.user_cmd(&name);
        c.arg("--create").arg("--key").arg(&key_pub).args(extra);
        c
    };
    let outside = s.root.dir("outside-the-jail");
    let watched = written_by(&s, &outside);
    let before = snapshot(&watched);
    let dry = run(&mut add(&["--dry-run"]));
    assert_eq!(
        snapshot(&watched),
        before,
        "user --dry-run changed the tree"
    );
    // refused (exit 4) by both, the real run after rolling back the account it made
    let real = run(&mut add(&[]));
    refused_alike(&dry, &real, 4);
    for out in [&dry, &real] {
        let err = text(&out.stderr);
        assert!(err.contains("symlink at /etc/passwd"), "{err}");
    }
    assert!(
        text(&real.stderr).contains("rolled back"),
        "{}",
        text(&real.stderr)
    );
    canary.assert_unchanged("user --create through a symlinked jail passwd");
    assert!(user.lookup().is_none(), "the account was left behind");
    assert!(!group_exists(&name), "the account's group was left behind");
    assert!(fs::symlink_metadata(s.jail.join("home").join(&name)).is_err());
    assert!(!s.keys_dir.join(&name).exists() && !s.dropin(&name).exists());
}

/// (object, action, target) of every change of the users' and groups' reports of a destroy.
fn sshd_changes(report: &Value) -> BTreeSet<(String, String, String)> {
    let mut reports: Vec<&Value> = report["users"].as_array().unwrap().iter().collect();
    if !report["groups"].is_null() {
        reports.push(&report["groups"]);
    }
    reports
        .iter()
        .flat_map(|r| r["changes"].as_array().unwrap())
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap().to_string();
            (s("object"), s("action"), s("target"))
        })
        .collect()
}

/// `destroy JAIL --purge --json EXTRA…` against the setup's private sshd.
fn destroy_purge_json(s: &user_support::Setup, extra: &[&str]) -> Command {
    let mut c = bin();
    c.arg("destroy")
        .arg(&s.jail)
        .args(s.sshd_paths())
        .args(["--purge", "--json"])
        .args(extra);
    c
}

#[test]
fn destroy_dry_run_json_lists_the_jails_last_sshd_block_and_group_and_changes_nothing() {
    if !sshd::available(
        "destroy_dry_run_json_lists_the_jails_last_sshd_block_and_group_and_changes_nothing",
    ) {
        return;
    }
    let s = user_support::Setup::new("destroy_dry_run_json");
    let _guard = UnmountGuard(s.root.path().to_path_buf());
    let user = common::UserGuard::new();
    let name = user.name().to_string();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    s.run_reloading(s.user_cmd(&name).arg("--key").arg(&key_pub));
    let src = s.root.dir("shared");
    let bind = format!("{}:/shared", src.display());
    run_ok(&mut jail_cmd(
        "build",
        &s.jail,
        &s.state_dir,
        &["--bind", &bind],
    ));
    run_ok(&mut jail_cmd("mount", &s.jail, &s.state_dir, &[]));
    // a service too: destroy removes its unit (outside systemd's directory: no systemctl)
    let units = s.root.dir("units");
    common::make_dir(&units, 0o755);
    let account = ReservedUser::new();
    run_ok(
        bin()
            .args(["service", "tick", "--jail"])
            .arg(&s.jail)
            .args(["--exec", "sleep 1000", "--user", account.name()])
            .args(["--create-user", "--unit-dir"])
            .arg(&units)
            .arg("--state-dir")
            .arg(&s.state_dir),
    );
    let unit = units.join("tick.service");
    assert!(unit.is_file(), "no unit {}", unit.display());
    let block = s.dropin(&name);
    assert!(block.is_file(), "no sshd block for {name}");
    let destroy = |extra: &[&str]| destroy_purge_json(&s, extra);
    let dry = dry_run_json(&mut destroy(&["--dry-run"]), &written_by(&s, &units));
    assert!(
        common::mount_at(&s.jail.join("shared")).is_some(),
        "destroy --dry-run unmounted"
    );
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        strings(&dry["users"], Some("user")),
        std::slice::from_ref(&name)
    );
    let planned = sshd_changes(&dry);
    let group = planned
        .iter()
        .find(|(object, action, _)| object == "sshd-group" && action == "remove")
        .unwrap_or_else(|| panic!("the dry run does not list the group's removal: {planned:?}"))
        .2
        .clone();
    assert!(
        nix::unistd::Group::from_name(&group).unwrap().is_some(),
        "the dry run removed {group}"
    );
    let block_str = block.display().to_string();
    assert!(
        planned
            .iter()
            .any(|(o, a, t)| o == "dropin" && a == "remove" && *t == block_str),
        "the dry run does not list the removal of {block_str}: {planned:?}"
    );
    assert_eq!(
        strings(&dry["unmounted"], None),
        [format!("{}:/shared:ro", src.display())]
    );
    assert_eq!(
        (&dry["root_removed"], &dry["state"]),
        (&Value::Bool(true), &Value::from("forgotten"))
    );
    // every operation, as data: the user's removal steps first (as its `users` entry has
    // them), then the unit, the mounts, the tree, the jail root, the state
    let plan = dry["plan"]
        .as_array()
        .unwrap_or_else(|| panic!("no plan: {dry}"));
    let user_steps = dry["users"][0]["plan"].as_array().unwrap();
    assert!(!user_steps.is_empty(), "{dry}");
    assert_eq!(
        plan[..user_steps.len()],
        user_steps[..],
        "the user's steps do not open the plan"
    );
    assert!(dry["groups"].is_null(), "{}", dry["groups"]);
    let targets: Vec<(String, String)> = plan[user_steps.len()..]
        .iter()
        .map(|step| {
            let op = step["op"].as_str().unwrap().to_string();
            assert!(
                step["reason"].as_str().is_some_and(|r| !r.is_empty()),
                "{step}"
            );
            let at = step["path"].as_str().or(step["jail"].as_str());
            (op, at.unwrap_or_default().to_string())
        })
        .collect();
    let state_file = targets.last().map(|(_, p)| p.clone()).unwrap_or_default();
    let jail = s.jail.display().to_string();
    assert_eq!(
        targets,
        [
            ("remove_root_file".into(), unit.display().to_string()),
            ("unmount_binds".into(), jail.clone()),
            ("remove_jail_contents".into(), jail.clone()),
            ("remove_jail_root".into(), jail),
            ("remove_root_file".into(), state_file.clone()),
        ],
        "{}",
        dry["plan"]
    );
    assert!(
        Path::new(&state_file).starts_with(&s.state_dir),
        "{state_file}"
    );

    let out = s.run_reloading(&mut destroy(&[]));
    let real: Value = serde_json::from_slice(&out.stdout).expect("destroy --json prints JSON");
    assert_documented("destroy", &real, &["removed"]);
    assert_documented("destroy", &dry, &["removed"]);
    assert_eq!(
        sshd_changes(&real),
        planned,
        "destroy did other than its dry run said"
    );
    for key in [
        "users",
        "unmounted",
        "files",
        "dirs",
        "root_removed",
        "state",
    ] {
        let plain = |v: &Value| match key {
            "users" => Value::from(strings(&v[key], Some("user"))),
            _ => v[key].clone(),
        };
        assert_eq!(
            plain(&real),
            plain(&dry),
            "{key}: destroy did other than its dry run said"
        );
    }
    let paths = |v: &Value| {
        strings(&v["removed"], Some("path"))
            .into_iter()
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(paths(&real), paths(&dry));
    assert_eq!(
        real["plan"], dry["plan"],
        "destroy's operations differ from its dry run's plan"
    );
    assert!(!unit.exists(), "the unit is left");
    assert!(!s.jail.exists() && !block.exists());
    assert!(
        nix::unistd::Group::from_name(&group).unwrap().is_none(),
        "{group} is left"
    );
    assert!(src.join(".").is_dir(), "the bind source must survive");
}

/// A destroy of a jail with two users in one sshd group: the dry run's plan is the real
/// run's, step for step (the group goes with the last user, the state is saved as each
/// user leaves), and every user's steps are in the top-level plan, in order.
#[test]
fn destroy_of_two_users_plans_every_users_steps_as_the_real_run_does_them() {
    if !sshd::available("destroy_of_two_users_plans_every_users_steps_as_the_real_run_does_them") {
        return;
    }
    let s = user_support::Setup::new("destroy_two_users");
    let (alice, bob) = (common::UserGuard::new(), common::UserGuard::new());
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    for u in [&alice, &bob] {
        s.run_reloading(s.user_cmd(u.name()).arg("--key").arg(&key_pub));
    }
    let destroy = |extra: &[&str]| destroy_purge_json(&s, extra);
    let dry = json_of(&mut destroy(&["--dry-run"]), 0);
    let real: Value =
        serde_json::from_slice(&s.run_reloading(&mut destroy(&[])).stdout).expect("JSON");
    let ops = |v: &Value| -> Vec<String> {
        v["plan"]
            .as_array()
            .unwrap()
            .iter()
            .map(|st| format!("{} {}", st["op"], st["reason"]))
            .collect()
    };
    assert_eq!(
        ops(&real),
        ops(&dry),
        "destroy did other than its dry run planned"
    );
    assert_eq!(real["plan"], dry["plan"]);
    // the users' own steps, in order, open the plan
    let users: Vec<Value> = real["users"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|u| u["plan"].as_array().unwrap().clone())
        .collect();
    assert_eq!(real["plan"].as_array().unwrap()[..users.len()], users[..]);
    assert!(!s.jail.exists());
}
