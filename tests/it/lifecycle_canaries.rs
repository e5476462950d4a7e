//! Symlink canaries and FIFOs against every command that writes into a jail (`build`,
//! `update`, `mount`, `destroy`), as root: each place jailsmith writes is replaced with a
//! symlink to a canary outside the jail; the command reports it and the canary keeps its
//! content, owner, mode and mtime. A FIFO where a file is written makes the command fail fast.

use crate::common;
use crate::user_support;

use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{TestRoot, bin, make_dir, require_root, run, run_ok, text, write_file};

fn build(jail: &Path, state: &Path, extra: &[&str]) -> std::process::Output {
    run(bin()
        .arg("build")
        .arg(jail)
        .arg("--state-dir")
        .arg(state)
        .args(["--bin", "bash"])
        .args(extra))
}

fn update(jail: &Path, state: &Path) -> std::process::Output {
    run(bin().arg("update").arg(jail).arg("--state-dir").arg(state))
}

/// Content, owner, mode and mtime of everything under `p` (a file or a directory).
fn fingerprint(p: &Path) -> Vec<(PathBuf, Vec<u8>, u32, u32, i64, i64)> {
    walkdir::WalkDir::new(p)
        .follow_links(false)
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
                m.mode(),
                m.mtime(),
                m.mtime_nsec(),
            )
        })
        .collect()
}

/// The canary: a directory outside the jail holding a file named like the target.
fn canary(t: &TestRoot, name: &str) -> PathBuf {
    let dir = t.dir("outside");
    write_file(&dir.join(name), "canary\n", 0o640);
    dir
}

fn lib_dir(jail: &Path) -> PathBuf {
    walkdir::WalkDir::new(jail)
        .follow_links(false)
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.file_name() == "libc.so.6" && e.file_type().is_file())
        .map(|e| e.path().parent().unwrap().to_path_buf())
        .expect("libc.so.6 in the jail")
}

/// Replaces `place` (in a built jail) with a symlink to the canary, runs `cmd`, and asserts
/// that it failed naming the place and that the canary did not change.
fn assert_canary(test: &str, place: &str, is_dir: bool, cmd: &str) {
    let t = TestRoot::new(&format!("{test}-{cmd}"));
    let (jail, state) = (t.jail("jail"), t.state_dir());
    assert!(build(&jail, &state, &[]).status.success());
    let place_path = if place == "LIBDIR" {
        lib_dir(&jail)
    } else {
        jail.join(place)
    };
    let target = if is_dir {
        canary(&t, "passwd")
    } else {
        canary(&t, "passwd").join("passwd")
    };
    let before = fingerprint(&target);
    if is_dir {
        fs::rename(&place_path, t.path().join("moved-away")).unwrap();
    } else {
        fs::remove_file(&place_path).unwrap();
    }
    symlink(&target, &place_path).unwrap();
    let out = match cmd {
        "build" => build(&jail, &state, &[]),
        _ => update(&jail, &state),
    };
    let err = text(&out.stderr);
    assert!(
        !out.status.success(),
        "{cmd} succeeded through a symlink at {place}\n{err}"
    );
    let rel = place_path
        .strip_prefix(&jail)
        .unwrap()
        .display()
        .to_string();
    assert!(
        err.contains("symlink") && err.contains(&rel),
        "{cmd}: the error does not name the symlink {rel}:\n{err}"
    );
    assert_eq!(
        fingerprint(&target),
        before,
        "{cmd} changed the canary through {place}"
    );
}

macro_rules! canary_test {
    ($name:ident, $place:expr, $is_dir:expr) => {
        #[test]
        fn $name() {
            if !require_root(stringify!($name)) {
                return;
            }
            for cmd in ["build", "update"] {
                assert_canary(stringify!($name), $place, $is_dir, cmd);
            }
        }
    };
}

canary_test!(etc_passwd_symlink, "etc/passwd", false);
canary_test!(etc_group_symlink, "etc/group", false);
canary_test!(etc_symlink, "etc", true);
canary_test!(lib_dir_symlink, "LIBDIR", true);

#[test]
fn fifo_where_a_file_is_written_fails_fast() {
    if !require_root("fifo_where_a_file_is_written_fails_fast") {
        return;
    }
    for (cmd, place) in [
        ("build", "etc/passwd"),
        ("update", "etc/group"),
        ("build", "usr/bin/bash"),
    ] {
        let t = TestRoot::new(&format!("fifo-{cmd}-{}", place.replace('/', "_")));
        let (jail, state) = (t.jail("jail"), t.state_dir());
        assert!(build(&jail, &state, &[]).status.success());
        let p = jail.join(place);
        fs::remove_file(&p).unwrap();
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let start = Instant::now();
        let out = if cmd == "build" {
            build(&jail, &state, &[])
        } else {
            update(&jail, &state)
        };
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{cmd} hung on a FIFO"
        );
        assert!(!out.status.success(), "{cmd} accepted a FIFO at {place}");
        assert!(text(&out.stderr).contains("FIFO"), "{}", text(&out.stderr));
    }
}

#[test]
fn mount_refuses_a_symlinked_target() {
    if !require_root("mount_refuses_a_symlinked_target") {
        return;
    }
    let t = TestRoot::for_current_test();
    let src = t.dir("src");
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let spec = format!("{}:/srv/data", src.display());
    assert!(build(&jail, &state, &["--bind", &spec]).status.success());
    let outside = canary(&t, "passwd");
    let before = fingerprint(&outside);
    make_dir(&jail.join("srv"), 0o755);
    symlink(&outside, jail.join("srv/data")).unwrap();
    let out = run(bin().arg("mount").arg(&jail).arg("--state-dir").arg(&state));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("/srv/data"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        common::mounts_under(t.path()).is_empty(),
        "something was mounted"
    );
    assert_eq!(fingerprint(&outside), before);
    // a symlinked parent of the target is refused too
    fs::remove_file(jail.join("srv/data")).unwrap();
    fs::remove_dir(jail.join("srv")).unwrap();
    symlink(&outside, jail.join("srv")).unwrap();
    let out = run(bin().arg("mount").arg(&jail).arg("--state-dir").arg(&state));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(common::mounts_under(t.path()).is_empty());
    assert_eq!(fingerprint(&outside), before);
}

#[test]
fn destroy_removes_symlinks_never_their_targets() {
    if !require_root("destroy_removes_symlinks_never_their_targets") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    assert!(build(&jail, &state, &[]).status.success());
    let outside = canary(&t, "passwd");
    let before = fingerprint(&outside);
    symlink(&outside, jail.join("tmp/escape")).unwrap();
    symlink(outside.join("passwd"), jail.join("usr/escape-file")).unwrap();
    let out = run_ok(
        bin()
            .arg("destroy")
            .arg(&jail)
            .arg("--purge")
            .arg("--no-reload")
            .arg("--state-dir")
            .arg(&state),
    );
    // the link in the scratch /tmp goes; the one jailsmith did not place in /usr is listed
    // and kept (with the directories holding it), never followed
    assert!(!jail.join("tmp").exists());
    assert!(jail.join("usr/escape-file").is_symlink());
    assert!(!jail.join("usr/bin").exists());
    assert!(
        text(&out.stdout).contains("usr/escape-file: not made by jailsmith"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(fingerprint(&outside), before);
}

#[test]
fn user_refuses_symlinks_where_it_writes() {
    if !common::sshd::available("user_refuses_symlinks_where_it_writes") {
        return;
    }
    for (place, is_dir) in [
        ("etc/passwd", false),
        ("etc/group", false),
        ("etc", true),
        ("home", true),
    ] {
        let s = user_support::Setup::new(&format!("user-canary-{}", place.replace('/', "_")));
        let user = common::UserGuard::new();
        let (_, key_pub) = common::sshd::client_keypair(&s.root.dir("client"));
        let target = if is_dir {
            canary(&s.root, "passwd")
        } else {
            canary(&s.root, "passwd").join("passwd")
        };
        let before = fingerprint(&target);
        let p = s.jail.join(place);
        if is_dir {
            if p.exists() {
                fs::rename(&p, s.root.path().join("moved-away")).unwrap();
            }
        } else {
            fs::remove_file(&p).unwrap();
        }
        symlink(&target, &p).unwrap();
        let out = run(s.user_cmd(user.name()).arg("--key").arg(&key_pub));
        let err = text(&out.stderr);
        assert!(
            !out.status.success(),
            "user wrote through a symlink at {place}\n{err}"
        );
        assert!(
            err.contains(place),
            "the error does not name {place}:\n{err}"
        );
        assert_eq!(
            fingerprint(&target),
            before,
            "user changed the canary through {place}"
        );
        assert!(
            !s.dropin(user.name()).exists(),
            "a drop-in was left for a refused user"
        );
    }
}
