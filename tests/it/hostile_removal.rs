//! Issue 14, removal: jailsmith deletes only what it placed, never across a mount, at any
//! depth and for any byte name. Each case plays the careless admin or the jailed user and
//! compares host canaries (content, owner, mode, mtime, inode) before and after.

use crate::common;
use crate::user_support;

use std::ffi::OsStr;
use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TestRoot, UserGuard, bin, run, run_ok, serial, sshd, text};
use nix::fcntl::{OFlag, open, openat};
use nix::mount::{MntFlags, umount2};
use nix::sys::stat::{Mode, mkdirat};
use user_support::Setup;

/// Removes a test's deep trees with GNU rm (any depth, one filesystem) before the test root
/// goes, whatever jailsmith left.
struct RmDeep(PathBuf);

impl Drop for RmDeep {
    fn drop(&mut self) {
        let _ = Command::new("rm")
            .arg("-rf")
            .arg("--one-file-system")
            .arg(&self.0)
            .status();
    }
}

type Print = Vec<(PathBuf, Vec<u8>, u32, u32, u32, i64, i64, u64)>;

/// Content, owner, mode, mtime and inode of everything under `p` (no link followed).
fn fingerprint(p: &Path) -> Print {
    walkdir::WalkDir::new(p)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let m = e.path().symlink_metadata().unwrap();
            let content = if m.is_file() {
                fs::read(e.path()).unwrap()
            } else {
                vec![]
            };
            (
                e.path().to_path_buf(),
                content,
                m.uid(),
                m.gid(),
                m.mode(),
                m.mtime(),
                m.mtime_nsec(),
                m.ino(),
            )
        })
        .collect()
}

/// A host directory full of data an admin would miss.
fn host_data(t: &TestRoot, name: &str) -> PathBuf {
    let dir = t.dir(name);
    common::write_file(&dir.join("precious.txt"), "host data\n", 0o644);
    common::make_dir(&dir.join("sub"), 0o755);
    common::write_file(&dir.join("sub/deeper.txt"), "more host data\n", 0o600);
    dir
}

fn build(jail: &Path, state: &Path, extra: &[&str]) -> Command {
    let mut c = bin();
    c.arg("build")
        .arg(jail)
        .arg("--state-dir")
        .arg(state)
        .args(["--bin", "bash"])
        .args(extra);
    c
}

/// `jailsmith destroy` under `ulimit -n 64`: a removal that held a descriptor per level
/// would fail with EMFILE long before the bottom of a deep tree.
fn destroy(jail: &Path, state: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", "ulimit -n 64 && exec \"$@\"", "sh"])
        .arg(common::bin_path());
    c.arg("destroy")
        .arg(jail)
        .arg("--state-dir")
        .arg(state)
        .arg("--no-reload")
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

const BAD_NAME: &[u8] = b"bad\xffname";

/// A chain `depth` directories deep below `top`, made by descriptor (no path is ever that
/// long), with a file of a non-UTF-8 name every 1000 levels and at the bottom.
fn deep_chain(top: &Path, depth: usize) {
    let dir_flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut fd: OwnedFd = open(top, dir_flags, Mode::empty()).unwrap();
    for i in 0..depth {
        if i % 1000 == 0 {
            plant_bad_name(&fd);
        }
        mkdirat(fd.as_fd(), "d", Mode::from_bits_truncate(0o755)).unwrap();
        fd = openat(fd.as_fd(), "d", dir_flags, Mode::empty()).unwrap();
    }
    plant_bad_name(&fd);
}

fn plant_bad_name(dir: &OwnedFd) {
    let f = openat(
        dir.as_fd(),
        OsStr::from_bytes(BAD_NAME),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    drop(f);
}

/// A jailed user (with a key) in the setup's jail.
fn jailed(s: &Setup) -> UserGuard {
    let user = UserGuard::new();
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let mut cmd = s.user_cmd(user.name());
    cmd.arg("--key").arg(&key_pub).arg("--no-reload");
    run_ok(&mut cmd);
    user
}

fn delete_home(s: &Setup, name: &str) -> std::process::Output {
    run(s
        .user_cmd(name)
        .args(["--remove", "--delete-home", "--no-reload"]))
}

#[test]
fn delete_home_never_walks_into_a_bind_even_when_its_parent_is_renamed() {
    if !sshd::available("delete_home_never_walks_into_a_bind_even_when_its_parent_is_renamed") {
        return;
    }
    let _g = serial();
    for renamed in [false, true] {
        let s = Setup::new(&format!("hostile-bind-home-{renamed}"));
        let _u = common::UnmountGuard(s.root.path().to_path_buf());
        let user = jailed(&s);
        let name = user.name();
        let shared = host_data(&s.root, "shared");
        let before = fingerprint(&shared);
        let spec = format!("{}:/home/{name}/data/shared:rw", shared.display());
        run_ok(&mut build(&s.jail, &s.state_dir, &["--bind", &spec]));
        run_ok(
            bin()
                .arg("mount")
                .arg(&s.jail)
                .arg("--state-dir")
                .arg(&s.state_dir),
        );
        let home = s.jail.join("home").join(name);
        assert!(home.join("data/shared/precious.txt").is_file());
        if renamed {
            // the jailed user moves the directory above the bind target
            fs::rename(home.join("data"), home.join("elsewhere")).unwrap();
        }
        // the dry run plans the unmount below the home, then the home's removal, and
        // changes nothing
        let dry = run(s.user_cmd(name).args([
            "--remove",
            "--delete-home",
            "--no-reload",
            "--dry-run",
            "--json",
        ]));
        assert!(dry.status.success(), "{}", text(&dry.stderr));
        let dry: serde_json::Value = serde_json::from_slice(&dry.stdout).expect("JSON");
        let ops = plan_ops(&dry);
        let unmount = ops.iter().position(|o| o == "unmount_binds");
        let remove = ops.iter().position(|o| o == "remove_jail_tree");
        assert!(
            matches!((unmount, remove), (Some(u), Some(r)) if u < r),
            "{ops:?}"
        );
        assert!(home.is_dir() && !common::mounts_under(&s.jail).is_empty());
        let out = delete_home(&s, name);
        assert!(
            out.status.success(),
            "{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert_eq!(fingerprint(&shared), before, "the host source changed");
        assert!(!home.exists(), "the home is left");
        assert!(
            common::mounts_under(&s.jail).is_empty(),
            "the bind is still mounted: {:?}",
            common::mounts_under(&s.jail)
        );
    }
}

#[test]
fn umount_finds_a_bind_whose_parent_was_renamed() {
    if !common::require_root("umount_finds_a_bind_whose_parent_was_renamed") {
        return;
    }
    let t = TestRoot::for_current_test();
    let _u = common::UnmountGuard(t.path().to_path_buf());
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let shared = host_data(&t, "shared");
    let before = fingerprint(&shared);
    // rw binds go only into a home (issue 14 item 4): the jailed user u renames its parent
    let spec = format!("{}:/home/u/up/shared:rw", shared.display());
    run_ok(&mut build(&jail, &state, &["--bind", &spec]));
    run_ok(bin().arg("mount").arg(&jail).arg("--state-dir").arg(&state));
    fs::rename(jail.join("home/u/up"), jail.join("home/u/moved")).unwrap();
    let out = run_ok(
        bin()
            .arg("umount")
            .arg(&jail)
            .arg("--state-dir")
            .arg(&state),
    );
    assert!(
        text(&out.stdout).contains("unmounted"),
        "{}",
        text(&out.stdout)
    );
    assert!(common::mounts_under(&jail).is_empty());
    // and destroy, with the bind moved again and mounted, unmounts it before removing
    fs::rename(jail.join("home/u/moved"), jail.join("home/u/up")).unwrap();
    run_ok(bin().arg("mount").arg(&jail).arg("--state-dir").arg(&state));
    fs::rename(jail.join("home/u/up"), jail.join("home/u/moved")).unwrap();
    run_ok(&mut destroy(&jail, &state, &["--purge"]));
    assert_eq!(fingerprint(&shared), before, "the host source changed");
    assert!(!jail.exists());
}

#[test]
fn destroy_refuses_a_mount_it_did_not_make_and_touches_nothing_under_it() {
    if !common::require_root("destroy_refuses_a_mount_it_did_not_make_and_touches_nothing_under_it")
    {
        return;
    }
    let t = TestRoot::for_current_test();
    let _u = common::UnmountGuard(t.path().to_path_buf());
    let (jail, state) = (t.jail("jail"), t.state_dir());
    run_ok(&mut build(&jail, &state, &[]));
    let host = host_data(&t, "host");
    let before = fingerprint(&host);
    let stray = jail.join("tmp/stray");
    common::make_dir(&stray, 0o755);
    nix::mount::mount(
        Some(&host),
        &stray,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    let out = run(&mut destroy(&jail, &state, &["--purge"]));
    assert!(
        !out.status.success(),
        "destroy went on past a foreign mount"
    );
    assert!(
        text(&out.stderr).contains("tmp/stray"),
        "the error does not name the mount: {}",
        text(&out.stderr)
    );
    assert_eq!(fingerprint(&host), before, "the host data changed");
    assert_eq!(common::mounts_under(&jail), vec![stray.clone()]);
    umount2(&stray, MntFlags::MNT_DETACH).unwrap();
    // once the admin took it away, destroy finishes
    run_ok(&mut destroy(&jail, &state, &["--purge"]));
    assert!(!jail.exists());
    assert_eq!(fingerprint(&host), before);
}

#[test]
fn build_refuses_a_non_empty_directory_and_destroy_keeps_what_it_adopted() {
    if !common::require_root(
        "build_refuses_a_non_empty_directory_and_destroy_keeps_what_it_adopted",
    ) {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    common::make_dir(&jail.join("projects"), 0o755);
    common::write_file(&jail.join("projects/a.txt"), "data\n", 0o644);
    // a directory the jail needs too, with the admin's own file in it
    common::make_dir(&jail.join("etc"), 0o755);
    common::write_file(&jail.join("etc/motd"), "hello\n", 0o644);
    let before = fingerprint(&jail.join("projects"));
    let motd_before = fingerprint(&jail.join("etc/motd"));

    for extra in [&[][..], &["--dry-run"][..]] {
        let out = run(&mut build(&jail, &state, extra));
        assert_eq!(
            out.status.code(),
            Some(4),
            "{extra:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("projects") && text(&out.stderr).contains("--adopt"),
            "{}",
            text(&out.stderr)
        );
    }
    let out = run(&mut build(&jail, &state, &[]));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("projects") && text(&out.stderr).contains("--adopt"),
        "{}",
        text(&out.stderr)
    );
    assert!(!jail.join("usr").exists() && state_files(&state) == 0);

    run_ok(&mut build(&jail, &state, &["--adopt"]));
    // the foreign tree is listed, not counted, by a dry run; the jail's own files too
    let dry = run_ok(&mut destroy(&jail, &state, &["--dry-run"]));
    let said = text(&dry.stdout);
    assert!(
        said.contains(&format!("{}", jail.join("projects").display())),
        "{said}"
    );
    assert!(said.contains("usr/bin/bash"), "{said}");

    let out = run_ok(&mut destroy(&jail, &state, &["--purge"]));
    let said = text(&out.stdout);
    assert!(said.contains("projects"), "{said}");
    assert_eq!(fingerprint(&jail.join("projects")), before);
    // what jailsmith wrote into the found etc/ goes; etc/ and the admin's file stay
    assert_eq!(fingerprint(&jail.join("etc/motd")), motd_before);
    assert!(!jail.join("etc/passwd").exists() && !jail.join("usr").exists());
}

#[test]
fn destroy_keeps_service_data_and_homes_until_purge_which_finishes_later() {
    if !common::require_root(
        "destroy_keeps_service_data_and_homes_until_purge_which_finishes_later",
    ) {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    run_ok(&mut build(&jail, &state, &[]));
    common::make_dir(&jail.join("srv/data"), 0o750);
    common::write_file(&jail.join("srv/data/db"), "rows\n", 0o600);
    common::make_dir(&jail.join("home/someone"), 0o700);
    common::write_file(&jail.join("home/someone/notes"), "mine\n", 0o600);
    let data_before = fingerprint(&jail.join("srv/data"));
    let home_before = fingerprint(&jail.join("home/someone"));
    let unit = t.dir("units").join("svc.service");
    common::edit_jail_state(&state, |v| {
        v["services"] = serde_json::json!({
            "svc": {"user": "nobody", "unit": unit, "read_write": ["/srv/data"]}
        })
    });

    let out = run_ok(&mut destroy(&jail, &state, &[]));
    assert!(
        text(&out.stdout).contains("srv/data"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(fingerprint(&jail.join("srv/data")), data_before);
    assert_eq!(fingerprint(&jail.join("home/someone")), home_before);
    assert!(!jail.join("usr").exists());

    // a purge after the plain destroy finishes the job instead of "no state"
    run_ok(&mut destroy(&jail, &state, &["--purge"]));
    assert!(!jail.exists());
    assert_eq!(state_files(&state), 0);
}

#[test]
fn destroy_removes_30000_deep_trees_and_odd_names() {
    if !common::require_root("destroy_removes_30000_deep_trees_and_odd_names") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    run_ok(&mut build(&jail, &state, &[]));
    let _rm = RmDeep(jail.clone());
    deep_chain(&jail.join("tmp"), 30000);
    common::make_dir(&jail.join("home/someone"), 0o700);
    deep_chain(&jail.join("home/someone"), 30000);
    let outside = host_data(&t, "outside");
    let before = fingerprint(&outside);
    std::os::unix::fs::symlink(&outside, jail.join("tmp/d/d/link")).unwrap();

    // without --purge: /tmp is emptied, the home stays
    run_ok(&mut destroy(&jail, &state, &[]));
    assert!(!jail.join("tmp").exists() || fs::read_dir(jail.join("tmp")).unwrap().count() == 0);
    assert!(jail.join("home/someone/d/d").is_dir());
    // with --purge: the home goes too, completely
    run_ok(&mut destroy(&jail, &state, &["--purge"]));
    assert!(!jail.exists(), "the jail is left");
    assert_eq!(fingerprint(&outside), before);
}

#[test]
fn delete_home_removes_deep_trees_and_odd_names() {
    if !sshd::available("delete_home_removes_deep_trees_and_odd_names") {
        return;
    }
    let _g = serial();
    let s = Setup::new("delete_home_removes_deep_trees_and_odd_names");
    let user = jailed(&s);
    let home = s.jail.join("home").join(user.name());
    let _rm = RmDeep(home.clone());
    deep_chain(&home, 3000);
    let out = delete_home(&s, user.name());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!home.exists(), "the home is left");
}

#[test]
fn delete_home_refuses_a_foreign_mount_before_changing_anything() {
    if !sshd::available("delete_home_refuses_a_foreign_mount_before_changing_anything") {
        return;
    }
    let _g = serial();
    let s = Setup::new("delete_home_refuses_a_foreign_mount_before_changing_anything");
    let _u = common::UnmountGuard(s.root.path().to_path_buf());
    let user = jailed(&s);
    let home = s.jail.join("home").join(user.name());
    let host = host_data(&s.root, "host");
    let before = fingerprint(&host);
    let spot = home.join("mnt");
    common::make_dir(&spot, 0o755);
    nix::mount::mount(
        Some(&host),
        &spot,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    // the dry run finds the mount as the real run does
    let dry = run(s.user_cmd(user.name()).args([
        "--remove",
        "--delete-home",
        "--no-reload",
        "--dry-run",
    ]));
    assert_eq!(dry.status.code(), Some(4), "{}", text(&dry.stderr));
    let out = delete_home(&s, user.name());
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("mnt"), "{}", text(&out.stderr));
    let error = |o: &std::process::Output| {
        text(&o.stderr)
            .lines()
            .filter(|l| l.contains("error:"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(error(&dry), error(&out));
    assert_eq!(fingerprint(&host), before, "the host data changed");
    // refused before the user was taken out: the drop-in and the home are still there
    assert!(s.dropin(user.name()).exists());
    assert!(home.join("mnt/precious.txt").is_file());
}

/// The ops of a `destroy --json` report's `plan`, in order.
fn plan_ops(report: &serde_json::Value) -> Vec<String> {
    report["plan"]
        .as_array()
        .unwrap_or_else(|| panic!("no plan: {report}"))
        .iter()
        .map(|s| s["op"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn destroy_plans_its_unmount_and_removal_and_neither_crosses_a_bind_nor_follows_a_planted_link() {
    if !common::require_root(
        "destroy_plans_its_unmount_and_removal_and_neither_crosses_a_bind_nor_follows_a_planted_link",
    ) {
        return;
    }
    let t = TestRoot::for_current_test();
    let _u = common::UnmountGuard(t.path().to_path_buf());
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let shared = host_data(&t, "shared");
    let target = host_data(&t, "target");
    let bind = format!("{}:/shared", shared.display());
    run_ok(&mut build(&jail, &state, &["--bind", &bind]));
    run_ok(&mut common::jail_cmd("mount", &jail, &state, &[]));
    assert!(common::mount_at(&jail.join("shared")).is_some());
    // what a jailed user (uid 4242) can plant: links to host directories in the scratch
    // /tmp and in a home of their own, one absolute and one climbing out with `..`
    std::os::unix::fs::symlink(&target, jail.join("tmp/escape")).unwrap();
    let home = jail.join("home/evil");
    common::make_dir(&home, 0o700);
    std::os::unix::fs::symlink(&target, home.join("link")).unwrap();
    std::os::unix::fs::symlink("../../../../../..", home.join("up")).unwrap();
    for p in [home.join("link"), home.join("up"), home.clone()] {
        std::os::unix::fs::lchown(&p, Some(4242), Some(4242)).unwrap();
    }
    let (shared_before, target_before) = (fingerprint(&shared), fingerprint(&target));
    let json = |extra: &[&str]| {
        let mut args = vec!["--purge", "--json"];
        args.extend_from_slice(extra);
        let out = run_ok(&mut destroy(&jail, &state, &args));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("destroy --json")
    };

    let dry = json(&["--dry-run"]);
    assert!(
        common::mount_at(&jail.join("shared")).is_some(),
        "the dry run unmounted"
    );
    assert!(jail.join("tmp/escape").symlink_metadata().is_ok());
    let ops = plan_ops(&dry);
    let at = |op: &str| {
        ops.iter()
            .position(|o| o == op)
            .unwrap_or_else(|| panic!("no {op} in {ops:?}"))
    };
    assert!(
        at("unmount_binds") < at("remove_jail_contents")
            && at("remove_jail_contents") < at("remove_jail_root"),
        "{ops:?}"
    );
    let unmount = &dry["plan"][at("unmount_binds")];
    assert_eq!(unmount["jail"], jail.display().to_string());
    assert_eq!(unmount["mounts"], serde_json::json!([format!("{bind}:ro")]));
    let removal = &dry["plan"][at("remove_jail_contents")];
    assert_eq!(removal["purge"], true, "{removal}");
    assert!(removal["reason"].as_str().is_some_and(|r| !r.is_empty()));

    let real = json(&[]);
    assert_eq!(
        real["plan"], dry["plan"],
        "destroy did other than its dry run planned"
    );
    assert_eq!(real["unmounted"], dry["unmounted"]);
    assert_eq!(
        fingerprint(&shared),
        shared_before,
        "the bind's source changed"
    );
    assert_eq!(
        fingerprint(&target),
        target_before,
        "a planted link was followed"
    );
    assert!(common::mounts_under(t.path()).is_empty());
    assert!(!jail.exists(), "the jail root is left");
    assert_eq!(state_files(&state), 0);
}
