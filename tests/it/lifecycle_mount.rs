//! `mount`/`umount` as root: flags read back from /proc/self/mountinfo (ro or rw, always
//! nosuid,nodev, never recursive), idempotence, systemd unit names, and bind sources a
//! non-root user can write refused unless rw is explicit. Guards unmount on failure.

use crate::common;

use std::fs;
use std::os::unix::fs::chown;
use std::path::Path;
use std::process::Command;

use common::{TestRoot, UserGuard, make_dir, require_root, run, run_ok, text};
use nix::mount::{MntFlags, MsFlags, mount, umount2};

/// The per-mount options of the topmost mount at `point`, if any.
fn options_at(point: &Path) -> Option<Vec<String>> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some(point.to_str().unwrap()))
        .map(|l| {
            l.split(' ')
                .nth(5)
                .unwrap()
                .split(',')
                .map(str::to_string)
                .collect()
        })
}

use common::jailsmith_at as jailsmith;

#[test]
fn binds_are_ro_or_rw_nosuid_nodev_non_recursive_and_idempotent() {
    if !require_root("binds_are_ro_or_rw_nosuid_nodev_non_recursive_and_idempotent") {
        return;
    }
    let t = TestRoot::for_current_test();
    let _guard = common::UnmountGuard(t.path().to_path_buf());
    let ro_src = t.dir("data");
    let rw_src = t.dir("spool");
    fs::write(ro_src.join("hello"), "hi\n").unwrap();
    // a mount inside the source must not come along (no MS_REC)
    let sub = ro_src.join("sub");
    make_dir(&sub, 0o755);
    mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let ro = format!("{}:/srv/data", ro_src.display());
    // rw goes only into a home (issue 14)
    let rw = format!("{}:/home/u/spool:rw", rw_src.display());
    run_ok(&mut jailsmith(
        &["build", "--bin", "bash", "--bind", &ro, "--bind", &rw],
        &jail,
        &state,
    ));
    let units = t.path().join("units");
    let said = common::mount_jail(&jail, &state, &units);
    assert!(said.contains("mounted"), "{said}");

    let (ro_at, rw_at) = (jail.join("srv/data"), jail.join("home/u/spool"));
    let o = options_at(&ro_at).expect("ro bind mounted");
    for f in ["ro", "nosuid", "nodev"] {
        assert!(o.contains(&f.to_string()), "{o:?}");
    }
    let o = options_at(&rw_at).expect("rw bind mounted");
    for f in ["rw", "nosuid", "nodev"] {
        assert!(o.contains(&f.to_string()), "{o:?}");
    }
    assert!(
        options_at(&ro_at.join("sub")).is_none(),
        "the bind was recursive"
    );
    assert_eq!(fs::read_to_string(ro_at.join("hello")).unwrap(), "hi\n");
    assert!(
        fs::write(ro_at.join("new"), "x").is_err(),
        "ro bind is writable"
    );
    let meta = fs::symlink_metadata(jail.join("srv")).unwrap();
    assert!(meta.is_dir());

    // idempotent: a second mount changes nothing
    let before = common::mounts_under(&jail).len();
    let out = run_ok(&mut jailsmith(&["mount"], &jail, &state));
    assert!(text(&out.stdout).contains("already mounted"));
    assert_eq!(common::mounts_under(&jail).len(), before);
    // wrong flags are repaired
    mount(
        None::<&str>,
        &ro_at,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT,
        None::<&str>,
    )
    .unwrap();
    let out = run(&mut jailsmith(&["check"], &jail, &state));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("mount-flags"));
    let out = run_ok(&mut jailsmith(&["mount"], &jail, &state));
    assert!(text(&out.stdout).contains("remounted"));
    assert!(options_at(&ro_at).unwrap().contains(&"ro".to_string()));
    let out = run(&mut jailsmith(&["check"], &jail, &state));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // systemd units, named like systemd-escape --path
    let name = |p: &Path| -> String {
        match common::find_cmd("systemd-escape") {
            Some(se) => {
                text(&run_ok(Command::new(se).args(["--path", "--suffix=mount"]).arg(p)).stdout)
                    .trim()
                    .to_string()
            }
            None => format!(
                "{}.mount",
                p.to_str()
                    .unwrap()
                    .trim_start_matches('/')
                    .replace('-', "\\x2d")
                    .replace('/', "-")
            ),
        }
    };
    let unit = fs::read_to_string(units.join(name(&ro_at))).unwrap();
    assert!(
        unit.contains(&format!("Where={}\n", ro_at.display())),
        "{unit}"
    );
    assert!(unit.contains("Options=bind,ro,nosuid,nodev\n"), "{unit}");
    assert!(
        fs::read_to_string(units.join(name(&rw_at)))
            .unwrap()
            .contains("Options=bind,rw,nosuid,nodev\n")
    );

    run_ok(&mut jailsmith(&["umount"], &jail, &state));
    assert!(common::mounts_under(&jail).is_empty());
    let out = run_ok(&mut jailsmith(&["umount"], &jail, &state));
    assert!(text(&out.stdout).contains("not mounted"));
    let _ = umount2(&sub, MntFlags::MNT_DETACH);
}

#[test]
fn bind_source_a_user_can_write_is_refused_unless_rw() {
    if !require_root("bind_source_a_user_can_write_is_refused_unless_rw") {
        return;
    }
    let t = TestRoot::for_current_test();
    let _guard = common::UnmountGuard(t.path().to_path_buf());
    let user = UserGuard::new();
    let src = t.dir("data");
    chown(&src, Some(user.uid()), Some(user.gid())).unwrap();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let ro = format!("{}:/data", src.display());
    let out = run(&mut jailsmith(
        &["build", "--bin", "bash", "--bind", &ro],
        &jail,
        &state,
    ));
    // a safety rule: exit 4 (REFUSED), like every deny-list refusal (issue 14)
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("writable by a non-root user"),
        "{}",
        text(&out.stderr)
    );
    assert!(!jail.exists(), "a refused build must not start");
    // explicitly rw, into a home: accepted, mounted rw,nosuid,nodev
    let rw = format!("{}:/home/u/data:rw", src.display());
    run_ok(&mut jailsmith(
        &["build", "--bin", "bash", "--bind", &rw],
        &jail,
        &state,
    ));
    run_ok(&mut jailsmith(&["mount"], &jail, &state));
    let o = options_at(&jail.join("home/u/data")).unwrap();
    assert!(o.contains(&"rw".to_string()) && o.contains(&"nosuid".to_string()));
    run_ok(&mut jailsmith(&["umount"], &jail, &state));
}

#[test]
fn a_profile_bind_is_recorded_and_mounted_read_only() {
    if !require_root("a_profile_bind_is_recorded_and_mounted_read_only") {
        return;
    }
    let t = TestRoot::for_current_test();
    let _guard = common::UnmountGuard(t.path().to_path_buf());
    let src = t.dir("shared");
    fs::write(src.join("readme"), "shared\n").unwrap();
    let profiles = t.dir("profiles");
    fs::write(
        profiles.join("withbind.toml"),
        format!(
            "description = \"bash and a shared directory\"\nprograms = [\"bash\"]\nbinds = [\"{}:/shared\"]\n",
            src.display()
        ),
    )
    .unwrap();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let pd = profiles.to_str().unwrap();
    run_ok(&mut jailsmith(
        &["build", "--profile", "withbind", "--profile-dir", pd],
        &jail,
        &state,
    ));
    run_ok(&mut jailsmith(&["mount"], &jail, &state));
    let point = jail.join("shared");
    let opts = options_at(&point).expect("the profile's bind is mounted");
    for flag in ["ro", "nosuid", "nodev"] {
        assert!(opts.iter().any(|o| o == flag), "{flag} missing in {opts:?}");
    }
    assert_eq!(
        fs::read_to_string(point.join("readme")).unwrap(),
        "shared\n"
    );
    run_ok(&mut jailsmith(&["umount"], &jail, &state));
    assert!(options_at(&point).is_none());

    // A malformed bind is a schema error naming the file and line, before anything is written.
    fs::write(
        profiles.join("badbind.toml"),
        "description = \"x\"\nbinds = [\"relative:/x\"]\n",
    )
    .unwrap();
    let other = t.jail("other");
    let out = run(&mut jailsmith(
        &["build", "--profile", "badbind", "--profile-dir", pd],
        &other,
        &state,
    ));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("badbind.toml:2"),
        "{}",
        text(&out.stderr)
    );
    assert!(!other.exists());
}
