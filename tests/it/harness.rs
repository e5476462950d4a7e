//! Self-test of the test harness (tests/common): the private sshd accepts a key login of a
//! throw-away user, `sshd -T` works on its config, and the guards clean up after themselves.
//! Proves the harness before the jailsmith commands that use it exist.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::sshd::{self, PrivateSshd};
use common::{TestRoot, UserGuard, run, run_ok, text};

#[test]
fn private_sshd_accepts_key_login_of_a_normal_user() {
    if !sshd::available("private_sshd_accepts_key_login_of_a_normal_user") {
        return;
    }
    let t = TestRoot::for_current_test();
    let srv = PrivateSshd::start(None);
    let user = UserGuard::with_home(&t.path().join("home"));
    let (key, key_pub) = sshd::client_keypair(&t.dir("keys"));
    sshd::authorize_key(user.home(), user.uid(), user.gid(), &key_pub);

    let mut ssh = srv.ssh_client(user.name(), &key);
    ssh.arg("id -un");
    let out = run(&mut ssh);
    assert!(
        out.status.success(),
        "ssh login failed\n{}\n--- sshd log ---\n{}",
        common::describe(&ssh, &out),
        srv.log()
    );
    assert_eq!(text(&out.stdout).trim(), user.name());

    let batch = t.path().join("sftp-batch");
    common::write_file(&batch, "pwd\n", 0o644);
    let mut sftp = srv.sftp_client(user.name(), &key, &batch);
    let out = run(&mut sftp);
    assert!(
        out.status.success() && text(&out.stdout).contains(&user.home().display().to_string()),
        "sftp failed\n{}\n--- sshd log ---\n{}",
        common::describe(&sftp, &out),
        srv.log()
    );

    let effective = srv.sshd_T(user.name());
    assert!(
        effective.lines().any(|l| l == "chrootdirectory none"),
        "sshd -T:\n{effective}"
    );
    assert!(
        effective
            .lines()
            .any(|l| l == format!("port {}", srv.port())),
        "sshd -T:\n{effective}"
    );
}

#[test]
fn private_sshd_reads_dropins_and_reloads() {
    if !sshd::available("private_sshd_reads_dropins_and_reloads") {
        return;
    }
    let t = TestRoot::for_current_test();
    let mut srv = PrivateSshd::start(None);
    let user = UserGuard::new();
    let jail = t.dir("jail");
    let dropin = srv.dropin_dir().join("50-test.conf");
    common::write_file(
        &dropin,
        format!(
            "Match User {}\n    ChrootDirectory {}\n    X11Forwarding no\n",
            user.name(),
            jail.display()
        ),
        0o644,
    );
    let out = srv.sshd_t();
    assert!(out.status.success(), "sshd -t: {}", text(&out.stderr));
    let effective = srv.sshd_T(user.name());
    let want = format!("chrootdirectory {}", jail.display());
    assert!(
        effective.lines().any(|l| l == want),
        "sshd -T:\n{effective}"
    );
    // The Match block in the drop-in must not swallow the main config's global lines.
    assert!(
        effective
            .lines()
            .any(|l| l == format!("port {}", srv.port()))
    );
    assert!(
        srv.sshd_T("root")
            .lines()
            .any(|l| l == "chrootdirectory none"),
        "another user must not be jailed"
    );
    srv.reload();
    assert!(srv.wait_for_log("Received SIGHUP", Duration::from_secs(5)));
}

#[test]
fn user_guard_removes_its_user() {
    if !common::require_root("user_guard_removes_its_user") {
        return;
    }
    let name;
    {
        let u = UserGuard::new();
        name = u.name().to_string();
        assert!(name.starts_with("jst") && name.len() <= 32);
        run_ok(std::process::Command::new("id").arg(&name));
    }
    let out = run(std::process::Command::new("id").arg(&name));
    assert!(!out.status.success(), "user {name} still exists");
}

#[test]
fn reserved_user_is_removed_when_created_by_someone_else() {
    if !common::require_root("reserved_user_is_removed_when_created_by_someone_else") {
        return;
    }
    let name;
    {
        let r = common::ReservedUser::new();
        name = r.name().to_string();
        assert!(r.lookup().is_none());
        run_ok(std::process::Command::new("useradd").args(["-M", "-p", "*", &name]));
        assert!(r.lookup().is_some());
    }
    let out = run(std::process::Command::new("id").arg(&name));
    assert!(!out.status.success(), "user {name} still exists");
}

#[test]
fn run_kills_a_command_that_hangs() {
    let started = std::time::Instant::now();
    let res = std::panic::catch_unwind(|| {
        common::run_timeout(
            std::process::Command::new("sleep").arg("30"),
            Duration::from_millis(300),
        )
    });
    assert!(res.is_err(), "a hung command must make run_timeout panic");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn test_root_is_chroot_safe_and_removed() {
    let path;
    {
        let t = TestRoot::for_current_test();
        path = t.path().to_path_buf();
        assert!(path.is_dir());
        if common::is_root() {
            common::check_chroot_ancestors(t.path());
        }
        std::fs::write(t.path().join("f"), "x").unwrap();
    }
    assert!(!Path::new(&path).exists(), "{} not removed", path.display());
}

#[test]
fn cc_builds_a_fixture() {
    if !common::require_cmd("cc") {
        return;
    }
    let t = TestRoot::for_current_test();
    let exe = common::cc(
        "int main(void){return 3;}\n",
        &t.path().join("three"),
        &["-O0"],
    );
    common::run_status(&mut std::process::Command::new(&exe), 3);
}

#[test]
fn chroot_runs_a_fixture_with_its_libraries() {
    if !common::require_root("chroot_runs_a_fixture_with_its_libraries")
        || !common::require_cmds(&["cc", "ldd", "chroot"])
    {
        return;
    }
    let t = TestRoot::for_current_test();
    let jail = t.dir("jail");
    let hello = common::cc(
        "#include <stdio.h>\n#include <unistd.h>\n\
         int main(void){printf(\"uid=%d\\n\", (int)getuid());return 0;}\n",
        &t.path().join("src/hello"),
        &["-O0"],
    );
    // A hand-made jail: the program plus what ldd (on our own fixture) says it loads, each
    // at the path the loader uses, symlinks dereferenced.
    let ldd = run_ok(std::process::Command::new("ldd").arg(&hello));
    let mut files = vec![(hello.clone(), std::path::PathBuf::from("/bin/hello"))];
    for word in text(&ldd.stdout).split_whitespace() {
        if word.starts_with('/') {
            files.push((word.into(), word.into()));
        }
    }
    for (src, inside) in files {
        let dst = jail.join(inside.strip_prefix("/").unwrap());
        common::make_dir(dst.parent().unwrap(), 0o755);
        std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    }
    let out = run_ok(&mut common::chroot_cmd(&jail, None, &["/bin/hello"]));
    assert_eq!(text(&out.stdout), "uid=0\n");
    let out = run_ok(&mut common::chroot_cmd(
        &jail,
        Some("65534:65534"),
        &["/bin/hello"],
    ));
    assert_eq!(text(&out.stdout), "uid=65534\n");
}

#[test]
fn cc_shared_sets_the_soname() {
    if !common::require_cmds(&["cc", "readelf"]) {
        return;
    }
    let t = TestRoot::for_current_test();
    let lib = common::cc_shared(
        "int f(void){return 1;}\n",
        &t.path().join("libf.so.1"),
        "libf.so.1",
        &[],
    );
    let out = run_ok(std::process::Command::new("readelf").arg("-d").arg(&lib));
    assert!(
        text(&out.stdout).contains("Library soname: [libf.so.1]"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_reserved_port_goes_only_to_the_server_it_is_handed_to() {
    use socket2::{Domain, Socket, Type};
    let reserved = common::port::ReservedPort::new();
    let port = reserved.port();
    let addr: socket2::SockAddr = std::net::SocketAddr::from(([127, 0, 0, 1], port)).into();
    // while held, the port is in use for everyone who does not share it on purpose (the
    // kernel's own choice of a free port, for bind(0) or connect, skips ports in use)
    let plain = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let err = plain
        .bind(&addr)
        .expect_err("a bind without SO_REUSEADDR took the port");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    // the server it is handed to binds it (std sets SO_REUSEADDR, as sshd, ssh -L and
    // http.server do); once that one listens, a second server is refused
    let server = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the port");
    assert_eq!(server.local_addr().unwrap().port(), port);
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());
}

#[test]
fn private_sshd_listens_on_its_reserved_port_through_reloads() {
    if !sshd::available("private_sshd_listens_on_its_reserved_port_through_reloads") {
        return;
    }
    let mut srv = PrivateSshd::start(None);
    let port = srv.port();
    let listening = format!("Server listening on 127.0.0.1 port {port}.");
    for _ in 0..2 {
        srv.reload();
        srv.wait_settled();
    }
    assert_eq!(
        srv.log().matches(&listening).count(),
        3,
        "sshd did not listen on {port} at start and after each reload:\n{}",
        srv.log()
    );
    // while sshd listens there, no other server can take its port
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());
}
