//! `build --log` as root, against a fake syslog (a datagram socket the test binds and reads,
//! given as `--log-socket`): `mount` binds it at the jail's dev/log, an sftp-only user's
//! upload over a private sshd arrives there naming the user and the file; `check` accepts
//! exactly that bind; `umount`, `mount` again (what the boot unit does) and `destroy` leave
//! the host's socket untouched; a symlink or directory planted at dev/log, and sockets that
//! are not a syslog's, are refused; an `apply` spec declares `log`, `proc` and `devpts` as
//! `build` does.

use crate::common;
use crate::user_support;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::sshd;
use common::{Canary, TestRoot, UnmountGuard, UserGuard, require_root, run, run_ok, text};
use user_support::Setup;

/// A fake syslog: a datagram socket at `path` (0666, as syslog's), whose messages a
/// thread collects until the test ends.
struct FakeSyslog {
    path: PathBuf,
    got: Arc<Mutex<Vec<String>>>,
}

impl FakeSyslog {
    fn bind(path: &Path) -> FakeSyslog {
        let sock = UnixDatagram::bind(path).expect("bind the fake syslog");
        fs::set_permissions(path, fs::Permissions::from_mode(0o666)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&got);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 8192];
            // ends when the test's process does; a test lasts well under this
            let deadline = Instant::now() + Duration::from_secs(600);
            while Instant::now() < deadline {
                if let Ok(n) = sock.recv(&mut buf) {
                    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                    sink.lock().unwrap().push(msg);
                }
            }
        });
        FakeSyslog {
            path: path.to_path_buf(),
            got,
        }
    }

    /// Waits (up to a deadline) for a message holding every one of `needles`.
    fn wait_for(&self, needles: &[&str]) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(m) = self
                .got
                .lock()
                .unwrap()
                .iter()
                .find(|m| needles.iter().all(|n| m.contains(n)))
            {
                return Some(m.clone());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn all(&self) -> String {
        self.got.lock().unwrap().join("\n")
    }

    /// (inode, mode, uid, mtime) of the host socket.
    fn stamp(&self) -> (u64, u32, u32, i64) {
        let m = fs::symlink_metadata(&self.path).expect("the host socket is gone");
        assert!(m.file_type().is_socket());
        (m.ino(), m.mode(), m.uid(), m.mtime())
    }
}

use common::jailsmith_at as jailsmith;

use common::mount_at;

fn is_socket(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_socket())
}

#[test]
fn sftp_upload_is_logged_with_the_user_name() {
    if !sshd::available("sftp_upload_is_logged_with_the_user_name") || !common::require_cmd("sftp")
    {
        return;
    }
    let _g = common::serial();
    let s = Setup::new("sftp_upload_is_logged_with_the_user_name");
    let _unmount = UnmountGuard(s.root.path().to_path_buf());
    // an sftp-only user of the jail before it has a log socket: no logging asked
    let user = UserGuard::new();
    let name = user.name();
    let (key, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let mut cmd = s.user_cmd(name);
    cmd.arg("--sftp-only").arg("--key").arg(&key_pub);
    s.run_reloading(&mut cmd);
    let dropin = fs::read_to_string(s.dropin(name)).unwrap();
    assert!(dropin.contains("ForceCommand internal-sftp\n"), "{dropin}");

    let log = FakeSyslog::bind(&s.root.path().join("syslog.sock"));
    let sock = log.path.to_str().unwrap();
    run_ok(&mut jailsmith(
        &["build", "--log-socket", sock],
        &s.jail,
        &s.state_dir,
    ));
    let out = run_ok(&mut jailsmith(&["mount"], &s.jail, &s.state_dir));
    assert!(
        text(&out.stdout).contains(&format!("mounted log:{sock}:/dev/log")),
        "{}",
        text(&out.stdout)
    );
    assert!(is_socket(&s.jail.join("dev/log")));

    // the user's command run again writes the drop-in that logs (sshd -T validates it)
    let mut cmd = s.user_cmd(name);
    cmd.arg("--sftp-only").arg("--key").arg(&key_pub);
    s.run_reloading(&mut cmd);
    let dropin = fs::read_to_string(s.dropin(name)).unwrap();
    assert!(
        dropin.contains("ForceCommand internal-sftp -l INFO -f AUTHPRIV\n"),
        "{dropin}"
    );

    let local = s.root.path().join("payload.txt");
    common::write_file(&local, "logged transfer\n", 0o644);
    let batch = s.root.path().join("batch");
    common::write_file(
        &batch,
        format!("put {} uploaded-by-test.txt\n", local.display()),
        0o644,
    );
    let out = run(&mut s.srv.sftp_client(name, &key, &batch));
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        s.srv.log()
    );
    let uploaded = s.jail.join("home").join(name).join("uploaded-by-test.txt");
    assert_eq!(fs::read_to_string(&uploaded).unwrap(), "logged transfer\n");

    let session = log.wait_for(&["session opened for local user", name]);
    assert!(session.is_some(), "no session line in:\n{}", log.all());
    let file = format!("/home/{name}/uploaded-by-test.txt");
    let written = log.wait_for(&["close", &file, "written 16"]);
    assert!(
        written.is_some(),
        "no close line for {file} in:\n{}",
        log.all()
    );
    let opened = log.wait_for(&["open", &file, "WRITE"]);
    assert!(opened.is_some(), "no open line in:\n{}", log.all());
    eprintln!("the fake syslog received:\n{}", log.all());
    // facility AUTHPRIV (10), level INFO (6): <86>
    assert!(written.unwrap().starts_with("<86>"), "{}", log.all());

    // check accepts the declared bind (the socket itself is the host's, 0666)
    let out = run(&mut jailsmith(&["check"], &s.jail, &s.state_dir));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

/// A root test's directory with a fake syslog and a jail built with `--log-socket` it
/// (None when the test is skipped); everything mounted below is unmounted on drop.
struct LogJail {
    t: TestRoot,
    _unmount: UnmountGuard,
    jail: PathBuf,
    state: PathBuf,
    log: FakeSyslog,
}

impl LogJail {
    fn build(test: &str) -> Option<LogJail> {
        if !require_root(test) {
            return None;
        }
        let t = TestRoot::new(test);
        let _unmount = UnmountGuard(t.path().to_path_buf());
        let (jail, state) = (t.jail("jail"), t.state_dir());
        let log = FakeSyslog::bind(&t.path().join("syslog.sock"));
        let sock = log.path.to_str().unwrap();
        run_ok(&mut jailsmith(
            &["build", "--bin", "bash", "--log-socket", sock],
            &jail,
            &state,
        ));
        Some(LogJail {
            t,
            _unmount,
            jail,
            state,
            log,
        })
    }
}

#[test]
fn log_socket_bind_survives_umount_and_mount_and_goes_with_destroy() {
    let Some(LogJail {
        t,
        _unmount,
        jail,
        state,
        log,
    }) = LogJail::build("log_socket_bind_survives_umount_and_mount_and_goes_with_destroy")
    else {
        return;
    };
    let sock = log.path.to_str().unwrap();
    let before = log.stamp();
    let canary = Canary::new(&t.path().join("canary"), "host data");
    let units = t.path().join("units");
    common::mount_jail(&jail, &state, &units);
    let target = jail.join("dev/log");
    let line = mount_at(&target).expect("dev/log mounted");
    let opts = line.split(' ').nth(5).unwrap();
    for o in ["ro", "nosuid", "nodev"] {
        assert!(opts.split(',').any(|x| x == o), "{line}");
    }
    // the boot unit binds the same socket there
    let unit = fs::read_dir(&units)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("dev-log.mount"))
        .expect("a unit for dev/log");
    let unit = fs::read_to_string(unit).unwrap();
    assert!(
        unit.contains(&format!("What={sock}\n"))
            && unit.contains(&format!("Where={}\n", target.display()))
            && unit.contains("Options=bind,ro,nosuid,nodev\n"),
        "{unit}"
    );
    // a message sent in the jail arrives at the host's socket
    let client = UnixDatagram::unbound().unwrap();
    client
        .send_to(b"<14>probe-through-the-jail", &target)
        .unwrap();
    assert!(log.wait_for(&["probe-through-the-jail"]).is_some());

    let out = run(&mut jailsmith(&["check"], &jail, &state));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // a socket bound anywhere else in the jail is a finding
    let other = jail.join("etc/other.sock");
    fs::write(&other, "").unwrap();
    nix::mount::mount(
        Some(log.path.as_path()),
        &other,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    let out = run(&mut jailsmith(&["check"], &jail, &state));
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains("other.sock") && report.contains("[unknown-mount]"),
        "{report}"
    );
    assert!(!report.contains("dev/log"), "{report}");
    nix::mount::umount2(&other, nix::mount::MntFlags::MNT_DETACH).unwrap();
    fs::remove_file(&other).unwrap();

    // umount: the placeholder stays, the host's socket is untouched
    let out = run_ok(&mut jailsmith(&["umount"], &jail, &state));
    assert!(
        text(&out.stdout).contains("unmounted log:/dev/log"),
        "{}",
        text(&out.stdout)
    );
    assert!(mount_at(&target).is_none());
    let m = fs::symlink_metadata(&target).unwrap();
    assert!(m.is_file() && m.len() == 0 && m.uid() == 0, "{m:?}");
    assert_eq!(log.stamp(), before);
    let out = run(&mut jailsmith(&["check"], &jail, &state));
    assert!(
        text(&out.stdout).contains("[not-mounted]"),
        "{}",
        text(&out.stdout)
    );

    // mount again (what the boot unit does): bound again, and it still arrives
    run_ok(&mut jailsmith(&["mount"], &jail, &state));
    assert!(is_socket(&target));
    client.send_to(b"<14>probe-after-remount", &target).unwrap();
    assert!(log.wait_for(&["probe-after-remount"]).is_some());

    // the host's syslog makes a new socket: mount binds the new one
    fs::remove_file(&log.path).unwrap();
    let log2 = FakeSyslog::bind(&log.path);
    let out = run(&mut jailsmith(&["check"], &jail, &state));
    assert!(
        text(&out.stdout).contains("[stale-log-socket]"),
        "{}",
        text(&out.stdout)
    );
    let out = run_ok(&mut jailsmith(&["mount"], &jail, &state));
    assert!(
        text(&out.stdout).contains("remounted log:"),
        "{}",
        text(&out.stdout)
    );
    client.send_to(b"<14>probe-new-socket", &target).unwrap();
    assert!(log2.wait_for(&["probe-new-socket"]).is_some());
    let after = log2.stamp();

    // destroy --purge: unmounted, placeholder removed with the jail, the host's socket and canary untouched
    let out = run(&mut jailsmith(&["destroy", "--purge"], &jail, &state));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(mount_at(&target).is_none());
    assert!(!target.exists() && !jail.exists());
    assert_eq!(log2.stamp(), after);
    canary.assert_unchanged("the log socket's mount, umount and destroy");
}

#[test]
fn a_symlink_or_directory_planted_at_dev_log_is_refused() {
    let Some(LogJail {
        t,
        _unmount,
        jail,
        state,
        ..
    }) = LogJail::build("a_symlink_or_directory_planted_at_dev_log_is_refused")
    else {
        return;
    };
    let canary = Canary::new(&t.path().join("canary"), "host data");
    let target = jail.join("dev/log");
    let _ = fs::remove_file(&target);
    std::os::unix::fs::symlink(canary_path(&t), &target).unwrap();
    let out = run(&mut jailsmith(&["mount"], &jail, &state));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("symlink"),
        "{}",
        text(&out.stderr)
    );
    assert!(mount_at(&target).is_none() && mount_at(&canary_path(&t)).is_none());
    assert!(fs::symlink_metadata(&target).unwrap().is_symlink());
    canary.assert_unchanged("the log socket's mount, umount and destroy");

    fs::remove_file(&target).unwrap();
    fs::create_dir(&target).unwrap();
    fs::write(target.join("keep"), "x").unwrap();
    let out = run(&mut jailsmith(&["mount"], &jail, &state));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("a directory"),
        "{}",
        text(&out.stderr)
    );
    assert!(mount_at(&target).is_none());
    assert_eq!(fs::read_to_string(target.join("keep")).unwrap(), "x");
}

fn canary_path(t: &TestRoot) -> PathBuf {
    t.path().join("canary")
}

#[test]
fn only_a_root_datagram_socket_is_a_log_socket() {
    let test = "only_a_root_datagram_socket_is_a_log_socket";
    if !require_root(test) {
        return;
    }
    let t = TestRoot::new(test);
    let (jail, state) = (t.jail("jail"), t.state_dir());
    // a stream socket (as docker's or D-Bus's): a jailed user could drive its service
    let stream = t.path().join("stream.sock");
    let _listener = UnixListener::bind(&stream).unwrap();
    // a datagram socket in a directory another user can write
    let open = t.dir("open");
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let _swappable = FakeSyslog::bind(&open.join("log.sock"));
    let file = t.path().join("plain");
    common::write_file(&file, "", 0o644);
    for (src, why) in [
        (stream.clone(), "datagram"),
        (open.join("log.sock"), "writable by a non-root user"),
        (file, "not a socket"),
    ] {
        let out = run(&mut jailsmith(
            &[
                "build",
                "--bin",
                "bash",
                "--log-socket",
                src.to_str().unwrap(),
            ],
            &jail,
            &state,
        ));
        assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains(why), "{}", text(&out.stderr));
    }
    assert!(!jail.exists(), "a refused build must change nothing");
}

#[test]
fn apply_spec_declares_log_proc_and_devpts_as_build_does() {
    let test = "apply_spec_declares_log_proc_and_devpts_as_build_does";
    if !require_root(test) {
        return;
    }
    let t = TestRoot::new(test);
    let _unmount = UnmountGuard(t.path().to_path_buf());
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let log = FakeSyslog::bind(&t.path().join("syslog.sock"));
    let spec = t.path().join("spec.toml");
    common::write_file(
        &spec,
        format!(
            "[[jail]]\npath = \"{}\"\nbins = [\"bash\"]\nproc = true\ndevpts = true\n\
             log_socket = \"{}\"\n",
            jail.display(),
            log.path.display()
        ),
        0o644,
    );
    let apply = || common::apply_json(&spec, &state, &[]);
    assert_eq!(apply()["changed"], true);
    assert_eq!(apply()["changed"], false, "a second apply changes nothing");
    let out = run_ok(&mut jailsmith(&["mount"], &jail, &state));
    let said = text(&out.stdout);
    for what in [
        "mounted proc:/proc",
        "mounted devpts:/dev/pts",
        "mounted log:",
    ] {
        assert!(said.contains(what), "{said}");
    }
    let client = UnixDatagram::unbound().unwrap();
    client
        .send_to(b"<14>probe-from-spec-jail", jail.join("dev/log"))
        .unwrap();
    assert!(log.wait_for(&["probe-from-spec-jail"]).is_some());
    run_ok(&mut jailsmith(&["umount"], &jail, &state));
}
