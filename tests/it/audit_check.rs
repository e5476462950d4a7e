//! `jailsmith check` against hostile jails, as root: a clean jail with a user exits 0; each
//! tamper listed in issue 6, made in a fresh jail, makes it exit 1 and name the path. Mounts
//! made by a test are undone by guards, also when the test fails.

use crate::common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, chown, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    TestRoot, UserGuard, bin, make_dir, require_cmd, require_root, run, run_ok, text, write_file,
};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::{Mode, SFlag, makedev, mknod};

/// A freshly built jail with bash and ls, one jailed user (passwd line, home owned by the
/// user, recorded in the state).
struct Jail {
    t: TestRoot,
    jail: PathBuf,
    state: PathBuf,
    user: UserGuard,
}

fn build(jail: &Path, state: &Path, extra: &[&str]) -> Command {
    let mut c = bin();
    c.arg("build")
        .arg(jail)
        .arg("--state-dir")
        .arg(state)
        .args(["--bin", "bash", "--bin", "ls"])
        .args(extra);
    c
}

/// Records `users` in the jail's state file, as `jailsmith user` does.
pub fn set_state_users(state: &Path, users: &[&str]) {
    common::edit_jail_state(state, |v| v["users"] = serde_json::json!(users));
}

impl Jail {
    fn new(test: &str, extra: &[&str]) -> Jail {
        let t = TestRoot::new(test);
        let (jail, state) = (t.jail("jail"), t.state_dir());
        run_ok(&mut build(&jail, &state, extra));
        let user = UserGuard::new();
        let (name, uid, gid) = (user.name().to_string(), user.uid(), user.gid());
        let mut passwd = fs::read_to_string(jail.join("etc/passwd")).unwrap();
        passwd.push_str(&format!("{name}:x:{uid}:{gid}::/home/{name}:/bin/bash\n"));
        fs::write(jail.join("etc/passwd"), passwd).unwrap();
        let mut group = fs::read_to_string(jail.join("etc/group")).unwrap();
        group.push_str(&format!("{name}:x:{gid}:\n"));
        fs::write(jail.join("etc/group"), group).unwrap();
        // the rebuild keeps the user's lines and records them in the manifest
        run_ok(&mut build(&jail, &state, extra));
        let home = jail.join("home").join(&name);
        make_dir(&home, 0o700);
        chown(&home, Some(uid), Some(gid)).unwrap();
        write_file(&home.join("notes.txt"), "mine\n", 0o644);
        chown(home.join("notes.txt"), Some(uid), Some(gid)).unwrap();
        set_state_users(&state, &[&name]);
        Jail {
            t,
            jail,
            state,
            user,
        }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.jail.join(rel)
    }

    fn home(&self) -> PathBuf {
        self.jail.join("home").join(self.user.name())
    }

    fn check_at(&self, jail: &Path) -> (Option<i32>, String, String) {
        let out = run(bin()
            .arg("check")
            .arg(jail)
            .arg("--state-dir")
            .arg(&self.state));
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    }

    fn check(&self) -> (Option<i32>, String, String) {
        self.check_at(&self.jail)
    }

    /// Asserts exit 1 with an error line about `path` (and `kind` in it).
    fn assert_error(&self, path: &Path, kind: &str) {
        let (code, out, err) = self.check();
        let want = format!("error: {}: ", path.display());
        assert!(
            out.lines()
                .any(|l| l.starts_with(&want) && l.contains(kind)),
            "no `{kind}` error naming {}\nstdout:\n{out}\nstderr:\n{err}",
            path.display()
        );
        assert_eq!(code, Some(1), "stdout:\n{out}\nstderr:\n{err}");
    }
}

/// Unmounts on drop (lazily), so a failing assertion leaves no mount behind.
struct MountGuard(PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = umount2(&self.0, MntFlags::MNT_DETACH);
    }
}

/// The directory of the jail's libc (a lib directory).
fn lib_dir(jail: &Path) -> PathBuf {
    walkdir::WalkDir::new(jail)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.file_name() == "libc.so.6" && e.file_type().is_file())
        .map(|e| e.path().parent().unwrap().to_path_buf())
        .expect("libc.so.6 in the jail")
}

macro_rules! root_test {
    ($name:ident, $body:expr) => {
        #[test]
        fn $name() {
            if !require_root(stringify!($name)) {
                return;
            }
            let f: fn(&str) = $body;
            f(stringify!($name));
        }
    };
}

root_test!(clean_jail_with_a_user_passes, |name| {
    let j = Jail::new(name, &[]);
    let (code, out, err) = j.check();
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert!(!out.contains("error:"), "{out}");
    assert!(err.contains("0 errors"), "{err}");
    // JSON for monitoring
    let out = run_ok(
        bin()
            .arg("check")
            .arg(&j.jail)
            .arg("--json")
            .arg("--jobs")
            .arg("2")
            .arg("--state-dir")
            .arg(&j.state),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["errors"], 0);
    assert!(v["hashed"].as_u64().unwrap() > 3);
});

root_test!(setuid_root_file, |name| {
    let j = Jail::new(name, &[]);
    let f = j.p("usr/bin/ls");
    fs::set_permissions(&f, fs::Permissions::from_mode(0o4755)).unwrap();
    j.assert_error(&f, "setuid");
});

root_test!(setuid_file_of_the_user_in_the_home, |name| {
    let j = Jail::new(name, &[]);
    let f = j.home().join("rootme");
    fs::copy(j.p("usr/bin/ls"), &f).unwrap();
    chown(&f, Some(j.user.uid()), Some(j.user.gid())).unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o4755)).unwrap();
    j.assert_error(&f, "setuid");
});

root_test!(setgid_file, |name| {
    let j = Jail::new(name, &[]);
    let f = j.p("usr/bin/bash");
    fs::set_permissions(&f, fs::Permissions::from_mode(0o2755)).unwrap();
    j.assert_error(&f, "setgid");
});

root_test!(file_capability, |name| {
    if !require_cmd("setcap") {
        return;
    }
    let j = Jail::new(name, &[]);
    let f = j.p("usr/bin/ls");
    run_ok(
        Command::new(common::find_cmd("setcap").unwrap())
            .arg("cap_net_raw+ep")
            .arg(&f),
    );
    j.assert_error(&f, "capabilit");
});

root_test!(user_owned_lib_dir, |name| {
    let j = Jail::new(name, &[]);
    let d = lib_dir(&j.jail);
    chown(&d, Some(j.user.uid()), None).unwrap();
    j.assert_error(&d, "lib directory owned by uid");
});

root_test!(user_owned_etc, |name| {
    let j = Jail::new(name, &[]);
    chown(j.p("etc"), Some(j.user.uid()), None).unwrap();
    j.assert_error(&j.p("etc"), "etc/ owned by uid");
});

root_test!(world_writable_etc, |name| {
    let j = Jail::new(name, &[]);
    fs::set_permissions(j.p("etc"), fs::Permissions::from_mode(0o777)).unwrap();
    j.assert_error(&j.p("etc"), "etc/ writable by others");
});

root_test!(ld_so_preload, |name| {
    let j = Jail::new(name, &[]);
    write_file(&j.p("etc/ld.so.preload"), "/home/x/evil.so\n", 0o644);
    j.assert_error(&j.p("etc/ld.so.preload"), "ld.so.preload");
});

root_test!(dev_kmsg_node, |name| {
    let j = Jail::new(name, &[]);
    let f = j.p("dev/kmsg");
    mknod(
        &f,
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o644),
        makedev(1, 11),
    )
    .unwrap();
    j.assert_error(&f, "character device 1:11");
});

root_test!(block_device_node, |name| {
    let j = Jail::new(name, &[]);
    let f = j.p("dev/sda");
    mknod(
        &f,
        SFlag::S_IFBLK,
        Mode::from_bits_truncate(0o600),
        makedev(8, 0),
    )
    .unwrap();
    j.assert_error(&f, "block device");
});

root_test!(socket_at_dev_log, |name| {
    let j = Jail::new(name, &[]);
    let f = j.p("dev/log");
    let _l = std::os::unix::net::UnixListener::bind(&f).unwrap();
    j.assert_error(&f, "socket");
});

root_test!(proc_mounted_inside, |name| {
    let j = Jail::new(name, &[]);
    let p = j.p("proc");
    make_dir(&p, 0o555);
    mount(
        Some("proc"),
        &p,
        Some("proc"),
        MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    let _g = MountGuard(p.clone());
    j.assert_error(&p, "proc mounted");
});

root_test!(undeclared_read_write_bind_mount, |name| {
    let j = Jail::new(name, &[]);
    let src = j.t.dir("data");
    let p = j.p("mnt");
    make_dir(&p, 0o755);
    mount(Some(&src), &p, None::<&str>, MsFlags::MS_BIND, None::<&str>).unwrap();
    let _g = MountGuard(p.clone());
    j.assert_error(&p, "does not declare");
});

root_test!(declared_bind_mounted_read_write, |name| {
    let t_src = TestRoot::new(&format!("{name}-src"));
    let src = t_src.dir("data");
    let spec = format!("{}:/data", src.display());
    let j = Jail::new(name, &["--bind", &spec]);
    let p = j.p("data");
    let _g = MountGuard(p.clone());
    run_ok(
        bin()
            .arg("mount")
            .arg(&j.jail)
            .arg("--state-dir")
            .arg(&j.state),
    );
    let (code, out, _) = j.check();
    assert_eq!(code, Some(0), "{out}");
    mount(
        None::<&str>,
        &p,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .unwrap();
    j.assert_error(&p, "mounted rw");
});

root_test!(hard_link_into_the_home, |name| {
    let j = Jail::new(name, &[]);
    let f = j.home().join("bash");
    fs::hard_link(j.p("usr/bin/bash"), &f).unwrap();
    j.assert_error(&f, "hard links");
});

root_test!(world_writable_directory, |name| {
    let j = Jail::new(name, &[]);
    let d = j.p("usr/share/drop");
    make_dir(&d, 0o777);
    j.assert_error(&d, "without the sticky bit");
});

root_test!(jail_root_owned_by_the_user, |name| {
    let j = Jail::new(name, &[]);
    chown(&j.jail, Some(j.user.uid()), None).unwrap();
    j.assert_error(&j.jail, "owned by uid");
});

root_test!(binary_modified_after_the_build, |name| {
    let j = Jail::new(name, &[]);
    let f = j.p("usr/bin/ls");
    let mut bytes = fs::read(&f).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0xff; // same size: only the hash tells
    fs::write(&f, bytes).unwrap();
    j.assert_error(&f, "sha256 differs");
});

root_test!(etc_shadow, |name| {
    let j = Jail::new(name, &[]);
    write_file(&j.p("etc/shadow"), "root:*:1::::::\n", 0o600);
    j.assert_error(&j.p("etc/shadow"), "password hashes");
});

root_test!(sudo_placed_in_the_jail, |name| {
    let j = Jail::new(name, &[]);
    let f = j.p("usr/bin/sudo");
    fs::copy(j.p("usr/bin/ls"), &f).unwrap();
    j.assert_error(&f, "sudo must not be in a jail");
});

root_test!(jail_reached_through_a_symlinked_ancestor, |name| {
    let j = Jail::new(name, &[]);
    let link = j.t.path().join("link");
    symlink(j.t.path(), &link).unwrap();
    let (code, out, err) = j.check_at(&link.join("jail"));
    let want = format!("error: {}: ", link.display());
    assert!(
        out.lines()
            .any(|l| l.starts_with(&want) && l.contains("symbolic link")),
        "{out}\n{err}"
    );
    assert_eq!(code, Some(1), "{out}\n{err}");
});

root_test!(unreadable_jail_exits_2, |name| {
    let j = Jail::new(name, &[]);
    let (code, _, err) = j.check_at(&j.t.path().join("nonexistent"));
    assert_eq!(code, Some(2), "{err}");
});

root_test!(deeply_nested_home_is_reported_not_fatal, |name| {
    let j = Jail::new(name, &[]);
    let mut d = j.home();
    for _ in 0..300 {
        d.push("d");
    }
    fs::create_dir_all(&d).unwrap();
    let (code, out, err) = j.check();
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(out.contains("nested deeper than"), "{out}");
});

root_test!(check_fix_repairs_by_descriptor_and_keeps_the_home, |name| {
    let j = Jail::new(name, &[]);
    let ls = j.p("usr/bin/ls");
    fs::set_permissions(&ls, fs::Permissions::from_mode(0o4755)).unwrap();
    let drop = j.p("usr/share/drop");
    make_dir(&drop, 0o777);
    chown(j.p("etc"), Some(j.user.uid()), None).unwrap();
    write_file(&j.p("etc/ld.so.preload"), "/x.so\n", 0o644);
    let mine = j.home().join("mine");
    write_file(&mine, "x", 0o4755);
    chown(&mine, Some(j.user.uid()), Some(j.user.gid())).unwrap();
    let linked = j.home().join("linked");
    fs::hard_link(j.p("usr/bin/bash"), &linked).unwrap();
    let out = run(bin()
        .arg("check")
        .arg("--fix")
        .arg(&j.jail)
        .arg("--state-dir")
        .arg(&j.state));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let mode = |p: &Path| fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&ls), 0o755, "{stderr}");
    assert_eq!(mode(&drop), 0o755, "{stderr}");
    assert_eq!(mode(&mine), 0o755, "{stderr}");
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&fs::metadata(j.p("etc")).unwrap()),
        0
    );
    assert!(!j.p("etc/ld.so.preload").exists(), "{stderr}");
    // the home's hard link is the user's: reported, never removed
    assert!(linked.exists());
    assert!(
        stdout.contains("/linked: ") && stdout.contains("hard-link"),
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
});

/// `check JAIL --no-replan --json` (with `--fix`: the repairs made), its exit code and the
/// report.
fn check_json(j: &Jail, fix: bool) -> (Option<i32>, serde_json::Value, String) {
    let mut c = bin();
    c.arg("check")
        .arg(&j.jail)
        .args(["--no-replan", "--json"])
        .arg("--state-dir")
        .arg(&j.state);
    if fix {
        c.arg("--fix");
    }
    let out = run(&mut c);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", common::describe(&c, &out)));
    (out.status.code(), report, text(&out.stderr))
}

root_test!(
    check_json_plans_the_fix_step_for_step_and_changes_nothing,
    |name| {
        let j = Jail::new(name, &[]);
        let ls = j.p("usr/bin/ls");
        fs::set_permissions(&ls, fs::Permissions::from_mode(0o4755)).unwrap();
        make_dir(&j.p("usr/share/drop"), 0o777);
        chown(j.p("etc"), Some(j.user.uid()), None).unwrap();
        write_file(&j.p("etc/ld.so.preload"), "/x.so\n", 0o644);
        mknod(
            &j.p("dev/sda9"),
            SFlag::S_IFBLK,
            Mode::from_bits_truncate(0o600),
            makedev(8, 9),
        )
        .unwrap();
        let before = common::snapshot(&[&j.jail, &j.state]);
        let (code, dry, err) = check_json(&j, false);
        assert_eq!(code, Some(1), "{dry}\n{err}");
        assert_eq!(
            common::snapshot(&[&j.jail, &j.state]),
            before,
            "check without --fix changes nothing"
        );
        assert_eq!(dry["not_fixed"], serde_json::json!([]), "{dry}");
        crate::plans_as_data::assert_documented("check", &dry, &[]);
        let steps = dry["plan"].as_array().unwrap();
        let has = |op: &str, path: &str| {
            steps
                .iter()
                .any(|s| s["op"] == op && s["path"] == path && s["reason"].is_string())
        };
        assert!(has("tighten_jail_object", "/usr/bin/ls"), "{dry}");
        assert!(has("tighten_jail_object", "/usr/share/drop"), "{dry}");
        assert!(has("tighten_jail_object", "/etc"), "{dry}");
        assert!(has("remove_forbidden", "/etc/ld.so.preload"), "{dry}");
        let sda = steps.iter().find(|s| s["path"] == "/dev/sda9").unwrap();
        assert_eq!(sda["op"], "remove_forbidden");
        assert_eq!(sda["expect"], "block_device");

        let (code, real, err) = check_json(&j, true);
        assert_eq!(
            real["plan"], dry["plan"],
            "the real run's plan is the dry run's\n{err}"
        );
        assert_eq!(real["not_fixed"], serde_json::json!([]), "{real}");
        assert_eq!(real["errors"], 0, "{real}\n{err}");
        assert_eq!(code, Some(0), "{real}\n{err}");
        assert!(
            err.contains("jailsmith: fixed /usr/bin/ls: clear mode bits 4000"),
            "{err}"
        );
        assert!(err.contains("jailsmith: fixed /dev/sda9: remove"), "{err}");
        assert!(!j.p("dev/sda9").exists() && !j.p("etc/ld.so.preload").exists());
        let mode = |p: &Path| fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&ls), 0o755);
        // nothing left to repair: the next check plans nothing
        let (code, after, _) = check_json(&j, false);
        assert_eq!((code, &after["plan"]), (Some(0), &serde_json::json!([])));
    }
);

root_test!(
    check_fix_refuses_a_flagged_file_swapped_for_a_symlink,
    |name| {
        use jailsmith::audit::{self, CheckSettings};
        let j = Jail::new(name, &[]);
        let uid = j.user.uid();
        // a world-writable directory outside the homes, holding a setuid file of the user's
        let drop = j.p("usr/share/drop");
        make_dir(&drop, 0o777);
        let tool = drop.join("tool");
        write_file(&tool, "#!/bin/sh\n", 0o755);
        chown(&tool, Some(uid), None).unwrap();
        fs::set_permissions(&tool, fs::Permissions::from_mode(0o4775)).unwrap();
        let canary = common::Canary::owned(&j.t.path().join("canary"), "host\n", uid, 0o4775);
        let (_, dry, _) = check_json(&j, false);
        // the check `--fix` runs, then its steps, with the user's swap in between
        let settings = CheckSettings {
            jail: j.jail.clone(),
            state: jailsmith::state::load(&j.state, &j.jail).unwrap(),
            jobs: 0,
            replan: None,
            systemd_dir: j.t.path().join("systemd"),
            state_dir: j.state.clone(),
        };
        let found = audit::check(&settings).unwrap();
        let (steps, unplanned) = audit::repair::plan(&found.repairs);
        assert!(unplanned.is_empty());
        assert_eq!(serde_json::to_value(&steps).unwrap(), dry["plan"]);
        let on_tool: Vec<_> = steps
            .iter()
            .filter(|s| s.op.target() == "/usr/share/drop/tool")
            .collect();
        assert_eq!(on_tool.len(), 3, "setuid, owner, group write: {dry}");
        fs::remove_file(&tool).unwrap();
        symlink(canary.path(), &tool).unwrap();
        std::os::unix::fs::lchown(&tool, Some(uid), None).unwrap();
        let done = audit::repair::apply(&j.jail, steps).unwrap();
        canary.assert_unchanged("check --fix's steps on a symlink swapped in");
        let refused = audit::repair::not_fixed(&done);
        assert_eq!(refused.len(), 3, "{refused:?}");
        for r in &refused {
            assert_eq!(r.path, "/usr/share/drop/tool");
            assert!(r.why.contains("symlink"), "{}", r.why);
        }
        // the other repair still ran
        let mode = fs::symlink_metadata(&drop).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o755);
        assert!(
            fs::symlink_metadata(&tool)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // the next `check --fix` finds the user's symlink and removes it, as a symlink, never
        // what it points to
        let (_, real, err) = check_json(&j, true);
        canary.assert_unchanged("check --fix with the symlink in place");
        let plan = real["plan"].as_array().unwrap();
        assert!(
            plan.iter().any(|s| s["op"] == "remove_forbidden"
                && s["path"] == "/usr/share/drop/tool"
                && s["expect"] == "symlink"),
            "{real}\n{err}"
        );
        assert!(fs::symlink_metadata(&tool).is_err(), "{err}");
    }
);
