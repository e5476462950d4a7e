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

/// The mount ID (first field of its mountinfo line) of the topmost mount at `point`.
fn mount_id_at(point: &Path) -> Option<String> {
    common::mount_at(point).map(|l| l.split(' ').next().unwrap().to_string())
}

/// `mount` is all or nothing (issue 15): a bind refused after an earlier one of the same run
/// was mounted (here the jailed user has planted a symlink where the last bind's target
/// goes) unmounts the one this run made, keeps the one mounted before the run, and touches
/// nothing where the symlink points.
#[test]
fn a_bind_refused_midway_unmounts_the_binds_this_run_made_and_keeps_those_before() {
    if !require_root(
        "a_bind_refused_midway_unmounts_the_binds_this_run_made_and_keeps_those_before",
    ) {
        return;
    }
    let t = TestRoot::for_current_test();
    let _guard = common::UnmountGuard(t.path().to_path_buf());
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let [pre, first, spool] = ["pre", "first", "spool"].map(|n| t.dir(n));
    let binds = [
        format!("{}:/srv/pre", pre.display()),
        format!("{}:/srv/first", first.display()),
        format!("{}:/home/u/spool:rw", spool.display()),
    ];
    let mut build = jailsmith(&["build", "--bin", "bash"], &jail, &state);
    for b in &binds {
        build.args(["--bind", b]);
    }
    run_ok(&mut build);
    // the first bind is mounted before the run (ro,nosuid,nodev, as jailsmith mounts it)
    let pre_at = jail.join("srv/pre");
    make_dir(&pre_at, 0o755);
    mount(
        Some(&pre),
        &pre_at,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    mount(
        None::<&str>,
        &pre_at,
        None::<&str>,
        ro | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .unwrap();
    let pre_id = mount_id_at(&pre_at).unwrap();
    // the jailed user's move: its spool is a symlink to a host directory
    let outside = t.dir("outside");
    let canary = common::Canary::new(&outside.join("canary"), "host data\n");
    make_dir(&jail.join("home/u"), 0o755);
    std::os::unix::fs::symlink(&outside, jail.join("home/u/spool")).unwrap();

    let out = run(&mut jailsmith(&["mount"], &jail, &state));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("symlink"), "{err}");
    let rolled = err
        .split_once("rolled back: ")
        .unwrap_or_else(|| panic!("no roll-back reported: {err}"))
        .1;
    let first_at = jail.join("srv/first");
    assert!(rolled.contains(&first_at.display().to_string()), "{err}");
    assert!(!err.contains("could NOT roll back"), "{err}");
    assert!(!first_at.exists(), "the mount point this run made was left");
    assert!(pre_at.is_dir());
    assert_eq!(
        common::mounts_under(&jail),
        std::slice::from_ref(&pre_at),
        "only the mount there before the run may be left: {err}"
    );
    assert_eq!(
        mount_id_at(&pre_at).as_deref(),
        Some(pre_id.as_str()),
        "the mount there before the run was touched"
    );
    canary.assert_unchanged("mount with a symlink planted at a bind's target");
    let names: Vec<_> = fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["canary"], "something was made through the symlink");

    // the symlink gone, the same command mounts all three (the first as it was)
    fs::remove_file(jail.join("home/u/spool")).unwrap();
    let said = mount_all_then_umount(&jail, &state, 3);
    assert!(
        said.contains(&format!("already mounted {}", binds[0])),
        "{said}"
    );
}

/// Runs `mount` (it must succeed and leave `n` mounts below the jail), then `umount` (it
/// must leave none); returns what `mount` said.
fn mount_all_then_umount(jail: &Path, state: &Path, n: usize) -> String {
    let out = run_ok(&mut jailsmith(&["mount"], jail, state));
    let said = text(&out.stdout);
    assert_eq!(common::mounts_under(jail).len(), n, "{said}");
    run_ok(&mut jailsmith(&["umount"], jail, state));
    assert!(common::mounts_under(jail).is_empty());
    said
}

/// A unit refused after the mounts (a symlink planted at the second unit's name) unmounts
/// the binds this run mounted, and removes the unit it wrote before.
#[test]
fn a_unit_refused_midway_unmounts_the_binds_this_run_made() {
    if !require_root("a_unit_refused_midway_unmounts_the_binds_this_run_made") {
        return;
    }
    let t = TestRoot::for_current_test();
    let _guard = common::UnmountGuard(t.path().to_path_buf());
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let mut build = jailsmith(&["build", "--bin", "bash"], &jail, &state);
    for name in ["a", "b"] {
        let bind = format!("{}:/srv/{name}", t.dir(name).display());
        build.args(["--bind", &bind]);
    }
    run_ok(&mut build);
    let canary = common::Canary::new(&t.dir("outside").join("canary"), "host data\n");
    let units = t.dir("units");
    let [a, b] = ["srv/a", "srv/b"].map(|at| units.join(common::mount_unit_of(&jail, at)));
    std::os::unix::fs::symlink(canary.path(), &b).unwrap();

    let out = run(jailsmith(&["mount"], &jail, &state)
        .arg("--systemd-unit-dir")
        .arg(&units));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    let rolled = err
        .split_once("rolled back: ")
        .unwrap_or_else(|| panic!("no roll-back reported: {err}"))
        .1;
    for what in [a.clone(), jail.join("srv/a"), jail.join("srv/b")] {
        assert!(rolled.contains(&what.display().to_string()), "{err}");
    }
    assert!(!err.contains("could NOT roll back"), "{err}");
    assert!(common::mounts_under(&jail).is_empty(), "{err}");
    for made in ["srv/a", "srv/b"] {
        assert!(!jail.join(made).exists(), "the mount point {made} was left");
    }
    assert!(!a.exists(), "the unit written before was left");
    assert!(b.is_symlink());
    canary.assert_unchanged("mount --systemd-unit-dir refused at its second unit");
}

/// Every object below `root` (the root too) by path: its kind, mode, owner, size and, for a
/// symlink, where it points. Nothing excluded; a mount's contents are walked as they show.
fn tree_of(root: &Path) -> std::collections::BTreeMap<std::path::PathBuf, String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        let m = fs::symlink_metadata(&p).unwrap();
        let ft = m.file_type();
        let kind = if ft.is_symlink() {
            format!("symlink to {}", fs::read_link(&p).unwrap().display())
        } else if ft.is_dir() {
            todo.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            "dir".to_string()
        } else if ft.is_file() {
            format!("file of {} bytes", m.size())
        } else {
            format!("other {:o}", m.mode() & 0o170000)
        };
        let what = format!("{kind} {:o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid());
        out.insert(p, what);
    }
    out
}

/// `mount` is all or nothing for what it makes too (issue 15): a run refused at its last
/// mount (the administrator left a file with content at dev/log, where the log socket's
/// placeholder goes) unmounts what it mounted and takes away what it made for those mounts
/// (the bind's mount point and its parent, /proc, /dev/pts, dev/ptmx's link), leaving the
/// jail's tree exactly as before the run; a mount point directory that was there before
/// the run stays.
#[test]
fn a_run_refused_midway_leaves_the_jail_s_tree_as_it_was() {
    if !require_root("a_run_refused_midway_leaves_the_jail_s_tree_as_it_was") {
        return;
    }
    let t = TestRoot::for_current_test();
    let _guard = common::UnmountGuard(t.path().to_path_buf());
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let [keep, new] = ["keep", "new"].map(|n| t.dir(n));
    let sock_path = t.path().join("syslog.sock");
    let _syslog = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    let mut build = jailsmith(&["build", "--bin", "bash"], &jail, &state);
    build.args(["--bind", &format!("{}:/srv/keep", keep.display())]);
    build.args(["--bind", &format!("{}:/opt/new/deep", new.display())]);
    build.args([
        "--proc",
        "--devpts",
        "--log-socket",
        sock_path.to_str().unwrap(),
    ]);
    run_ok(&mut build);
    // a mount point made before the run, and the careless admin's file at dev/log
    make_dir(&jail.join("srv/keep"), 0o750);
    fs::write(jail.join("dev/log"), "not a placeholder\n").unwrap();
    let before = tree_of(&jail);
    for gone in ["opt", "proc", "dev/pts", "dev/ptmx"] {
        assert!(!jail.join(gone).exists(), "{gone} is there before the run");
    }

    let out = run(&mut jailsmith(&["mount"], &jail, &state));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("not the empty file"), "{err}");
    let rolled = err
        .split_once("rolled back: ")
        .unwrap_or_else(|| panic!("no roll-back reported: {err}"))
        .1;
    for made in [
        "opt/new/deep",
        "opt/new",
        "opt",
        "proc",
        "dev/pts",
        "dev/ptmx",
    ] {
        let at = jail.join(made).display().to_string();
        assert!(
            rolled.contains(&at),
            "{made} not named as rolled back: {err}"
        );
    }
    assert!(!err.contains("could NOT roll back"), "{err}");
    assert!(!err.contains("kept"), "{err}");
    assert!(common::mounts_under(&jail).is_empty(), "{err}");
    assert_eq!(
        tree_of(&jail),
        before,
        "the run left the jail's tree changed: {err}"
    );
    assert!(
        jail.join("srv/keep").is_dir(),
        "the mount point made before went"
    );

    // the file gone, the same command mounts all five, and umount takes them off
    fs::remove_file(jail.join("dev/log")).unwrap();
    mount_all_then_umount(&jail, &state, 5);
}

/// Hostile, between a mount step and the roll-back of a failed run (played here by the
/// test driving the journal itself): the directory made for a bind cannot be swapped while
/// it is a mount point; a made directory someone filled since is kept with what is in it;
/// and the made dev/ptmx link, replaced by a link to a host canary, is neither followed nor
/// removed. The roll-back says what it kept.
#[test]
fn a_roll_back_removes_only_what_its_run_made_as_it_made_it() {
    use jailsmith::apply::LinuxHost;
    use jailsmith::apply::journal::{Journal, LinuxSystem};
    use jailsmith::plan::{HostOp, HostStep, JailPath, MountKind, PlannedOwner};
    if !require_root("a_roll_back_removes_only_what_its_run_made_as_it_made_it") {
        return;
    }
    let t = TestRoot::for_current_test();
    let _guard = common::UnmountGuard(t.path().to_path_buf());
    let (jail, state) = (t.jail("jail"), t.state_dir());
    run_ok(&mut jailsmith(&["build", "--bin", "bash"], &jail, &state));
    let src = t.dir("src");
    let canary = common::Canary::new(&t.dir("outside").join("canary"), "host data\n");
    let host = LinuxHost::open(&jail, false).unwrap();
    let system = LinuxSystem;
    let mut journal = Journal::new(&system, false);
    let at = |p: &str| JailPath::new(p).unwrap();
    let dir = |p: &str| HostOp::MakeJailDir {
        path: at(p),
        mode: 0o755,
        owner: PlannedOwner::ROOT,
    };
    let steps = [
        dir("/srv"),
        dir("/srv/data"),
        HostOp::Mount {
            target: at("/srv/data"),
            mount: MountKind::Bind {
                source: src.clone(),
                rw: false,
            },
        },
        dir("/srv/filled"),
        HostOp::MakeJailSymlink {
            path: at("/dev/ptmx"),
            target: "pts/ptmx".into(),
        },
    ];
    for op in steps {
        journal
            .execute(Some(&host), HostStep::new(op, "test"))
            .unwrap();
    }
    // the made mount point cannot be swapped while it is one
    let data = jail.join("srv/data");
    assert_eq!(common::mounts_under(&jail), std::slice::from_ref(&data));
    let err = fs::rename(&data, jail.join("srv/moved")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc_ebusy()), "{err}");
    // the attacker's moves: a file in a made directory, the made link replaced
    fs::write(jail.join("srv/filled/mine"), "user data\n").unwrap();
    let ptmx = jail.join("dev/ptmx");
    fs::remove_file(&ptmx).unwrap();
    std::os::unix::fs::symlink(canary.path(), &ptmx).unwrap();
    // the step after them fails: /dev/pts is not there for the devpts mount
    let devpts = HostOp::Mount {
        target: at("/dev/pts"),
        mount: MountKind::Devpts { gid: 5 },
    };
    assert!(
        journal
            .execute(Some(&host), HostStep::new(devpts, "test"))
            .is_err()
    );
    let back = journal.roll_back(Some(&host));
    assert!(back.failed.is_empty(), "{back:?}");
    let kept = back.left.join("\n");
    // the link, the filled directory and (holding it) the made /srv; newest first
    let named: Vec<&str> = back
        .left
        .iter()
        .map(|k| k.split_once(": ").unwrap().0)
        .collect();
    let [link, filled, srv] = ["dev/ptmx", "srv/filled", "srv"].map(|p| jail.join(p));
    assert_eq!(
        named,
        [link, filled, srv].map(|p| p.display().to_string()),
        "{kept}"
    );
    assert!(
        kept.contains(&format!("points to {}", canary.path().display())),
        "{kept}"
    );
    assert!(kept.contains("not empty"), "{kept}");
    assert!(
        back.undone.contains(&data.display().to_string()),
        "{back:?}"
    );
    assert!(common::mounts_under(&jail).is_empty(), "{back:?}");
    assert!(!data.exists(), "the made mount point was left");
    assert_eq!(fs::read_link(&ptmx).unwrap(), canary.path());
    assert_eq!(
        fs::read_to_string(jail.join("srv/filled/mine")).unwrap(),
        "user data\n"
    );
    canary.assert_unchanged("a roll-back meeting a link planted in place of the one it made");
    let (_, said) = back.summary();
    assert!(
        said.contains("kept, no longer what this run made"),
        "{said}"
    );
}

fn libc_ebusy() -> i32 {
    nix::errno::Errno::EBUSY as i32
}

/// Binds inside binds (`/var/www` and `/var/www/uploads`, declared inner first): `mount`
/// mounts the outer one first, so the inner one shows in the jail on top of it, not hidden
/// under it; its mount point is the directory already in the outer bind's source, and
/// nothing is made there. When that directory is missing, the dry run and the real run both
/// refuse (exit 4, naming the host directory to make), mount nothing, and the outer source
/// is left exactly as it was: jailsmith never writes into a bind's source.
#[test]
fn a_bind_inside_a_bind_is_mounted_on_top_and_makes_nothing_in_the_outer_source() {
    if !require_root("a_bind_inside_a_bind_is_mounted_on_top_and_makes_nothing_in_the_outer_source")
    {
        return;
    }
    let t = TestRoot::for_current_test();
    let _guard = common::UnmountGuard(t.path().to_path_buf());
    let (www, up) = (t.dir("www"), t.dir("up"));
    fs::write(www.join("index"), "www\n").unwrap();
    fs::write(up.join("file"), "upload\n").unwrap();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let inner = format!("{}:/var/www/uploads", up.display());
    let outer = format!("{}:/var/www", www.display());
    run_ok(&mut jailsmith(
        &["build", "--bin", "bash", "--bind", &inner, "--bind", &outer],
        &jail,
        &state,
    ));

    // the inner mount point is missing in the outer source: refused both ways
    let before = tree_of(&www);
    for extra in [&["--dry-run"][..], &[][..]] {
        let mut c = jailsmith(&["mount"], &jail, &state);
        c.args(extra);
        let out = run(&mut c);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{extra:?}: {err}");
        let host_dir = www.join("uploads");
        assert!(
            err.contains(&format!("so it is {} on the host", host_dir.display()))
                && err.contains("does not exist"),
            "{err}"
        );
        assert!(common::mounts_under(&jail).is_empty(), "{err}");
    }
    assert_eq!(tree_of(&www), before, "the outer bind's source was written");

    // with the directory made on the host: mounted outer first, the inner one on top
    make_dir(&www.join("uploads"), 0o755);
    let before = tree_of(&www);
    let out = run_ok(&mut jailsmith(&["mount"], &jail, &state));
    let said = text(&out.stdout);
    assert_eq!(common::mounts_under(&jail).len(), 2, "{said}");
    let (o, i) = (said.find("/var/www:ro"), said.find("/var/www/uploads:ro"));
    assert!(o.is_some() && i.is_some() && o < i, "outer first: {said}");
    assert_eq!(
        fs::read_to_string(jail.join("var/www/index")).unwrap(),
        "www\n"
    );
    assert_eq!(
        fs::read_to_string(jail.join("var/www/uploads/file")).unwrap(),
        "upload\n",
        "the inner bind is hidden: {said}"
    );
    run_ok(&mut jailsmith(&["umount"], &jail, &state));
    assert!(common::mounts_under(&jail).is_empty());
    assert_eq!(tree_of(&www), before, "the outer bind's source was written");
}
