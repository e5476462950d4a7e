//! Every shipped profile is built into a real jail with `jailsmith build --profile` and
//! exercised with chroot(8), as root and as an unprivileged user added to the jail's passwd.
//! Root only: skipped elsewhere, unless JAILSMITH_REQUIRE_ROOT_TESTS turns the skip into a
//! failure (tests/common). Jails live in a TestRoot under /var/lib/jailsmith-tests.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{ProcessGuard, TestRoot, make_dir, require_root, skip_or_fail, text};

fn jailsmith(args: &[&str]) -> Output {
    common::run(common::bin().args(args))
}

/// A jail built from profiles in its own TestRoot (removed on drop), with an unprivileged
/// jailed user: a real host account (a build derives the jail's passwd from the host's
/// entries of the accounts the state lists), removed on drop.
struct TestJail {
    root: TestRoot,
    jail: PathBuf,
    user: common::UserGuard,
}

impl TestJail {
    /// Builds a jail from `profiles`; None (a skip) when this host lacks something the
    /// profiles require, which is a failure when root tests are required.
    fn build(test: &str, profiles: &[&str]) -> Option<TestJail> {
        Self::build_with(test, profiles, &[])
    }

    /// Like `build`, with more `build` arguments (`--bin`, `--file`).
    fn build_with(test: &str, profiles: &[&str], more: &[&str]) -> Option<TestJail> {
        let mut args = vec!["profiles", "show"];
        args.extend_from_slice(profiles);
        let show = jailsmith(&args);
        if show.status.code() == Some(1) {
            let why = format!(
                "this host lacks entries {profiles:?} require:\n{}",
                text(&show.stderr)
            );
            skip_or_fail(test, &why);
            return None;
        }
        assert!(show.status.success(), "{}", text(&show.stderr));

        let root = TestRoot::new(test);
        let t = TestJail {
            jail: root.jail("jail"),
            root,
            user: common::UserGuard::create(&common::UserOpts {
                shell: Some("/bin/bash".into()),
                ..Default::default()
            }),
        };
        let jail = t.jail.display().to_string();
        let state = t.root.state_dir().display().to_string();
        let mut args = vec!["build", jail.as_str(), "--state-dir", state.as_str()];
        for p in profiles {
            args.extend_from_slice(&["--profile", p]);
        }
        args.extend_from_slice(more);
        let out = jailsmith(&args);
        assert!(
            out.status.success(),
            "build {profiles:?} failed:\n{}",
            text(&out.stderr)
        );
        t.check_state_records(profiles);
        t.add_user();
        Some(t)
    }

    /// The jail's state (outside the jail) records the profiles that built it, includes
    /// expanded.
    fn check_state_records(&self, profiles: &[&str]) {
        let jails = self.root.state_dir().join("jails");
        let files: Vec<PathBuf> = std::fs::read_dir(&jails)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let state: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
        let recorded: Vec<&str> = state["request"]["profiles"]
            .as_array()
            .expect("profiles recorded")
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for p in profiles {
            assert!(recorded.contains(p), "{p} not in {recorded:?}");
        }
        if profiles != ["sftp-only"] {
            assert!(
                recorded.contains(&"minimal"),
                "includes not recorded: {recorded:?}"
            );
        }
    }

    /// Jails the unprivileged test user as `jailsmith user` records it (the jail's recorded
    /// users), gives it a home, and rebuilds: the build writes its passwd and group lines
    /// from the host's entries.
    fn add_user(&self) {
        let (name, uid, gid) = (self.user.name(), self.user.uid(), self.user.gid());
        common::edit_jail_state(&self.root.state_dir(), |v| {
            v["users"].as_array_mut().unwrap().push(name.into())
        });
        let home = self.jail.join("home").join(name);
        make_dir(&home, 0o700);
        std::os::unix::fs::chown(&home, Some(uid), Some(gid)).unwrap();
        let jail = self.jail.display().to_string();
        let state = self.root.state_dir().display().to_string();
        let out = jailsmith(&["build", &jail, "--state-dir", &state]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let passwd = std::fs::read_to_string(self.jail.join("etc/passwd")).unwrap();
        assert!(passwd.contains(&format!("\n{name}:x:{uid}:")), "{passwd}");
    }

    /// Both identities a jail is exercised as.
    fn identities(&self) -> [(Option<&str>, &str); 2] {
        [(None, "root"), (Some(self.user.name()), self.user.name())]
    }

    /// Runs `bash -lc SCRIPT` in the jail as root (`user` None) or the test user, with a
    /// clean environment.
    fn sh(&self, user: Option<&str>, script: &str) -> Output {
        self.command(user, script).output().expect("run chroot")
    }

    fn command(&self, user: Option<&str>, script: &str) -> Command {
        let mut c = Command::new(chroot_program());
        let home = match user {
            Some(u) => {
                c.arg(format!(
                    "--userspec={}:{}",
                    self.user.uid(),
                    self.user.gid()
                ));
                format!("/home/{u}")
            }
            None => "/root".to_string(),
        };
        c.arg(&self.jail)
            .args(["/bin/bash", "-lc", script])
            .env_clear()
            .env("HOME", home)
            .env("TERM", "xterm-256color")
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null());
        c
    }

    /// Runs a script that must succeed with nothing on stderr; returns stdout.
    fn ok(&self, user: Option<&str>, script: &str) -> String {
        let out = self.sh(user, script);
        let (so, se) = (text(&out.stdout), text(&out.stderr));
        assert!(
            out.status.success() && se.is_empty(),
            "as {user:?}: `{script}` failed ({:?})\nstdout: {so}\nstderr: {se}",
            out.status
        );
        so
    }
}

/// chroot(8) by absolute path: the child's PATH is the jail's, not the host's.
fn chroot_program() -> PathBuf {
    [
        "/usr/sbin/chroot",
        "/sbin/chroot",
        "/usr/bin/chroot",
        "/bin/chroot",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .expect("chroot(8) is installed")
}

/// The host's time zone abbreviation, as the jail should print it.
fn host_zone() -> String {
    let out = Command::new("date")
        .arg("+%Z")
        .env_clear()
        .output()
        .unwrap();
    text(&out.stdout)
}

/// The checks every jail with a shell passes: a silent login shell and /dev/null.
fn check_login_shell(t: &TestJail) {
    for (user, _) in t.identities() {
        t.ok(user, "true");
        // PS1 set: /etc/profile takes the interactive branch (bash.bashrc, aliases).
        t.ok(user, "PS1='$ '; . /etc/profile");
        t.ok(user, "echo hello > /dev/null");
    }
}

/// The checks of the basic-shell tool set, as root and as the unprivileged user.
fn check_basic_shell(t: &TestJail) {
    check_login_shell(t);
    for (user, name) in t.identities() {
        let home = if user.is_some() {
            format!("/home/{name}")
        } else {
            "/tmp".to_string()
        };
        assert_eq!(t.ok(user, "whoami"), format!("{name}\n"));
        assert_eq!(t.ok(user, "id -un"), format!("{name}\n"));
        assert_eq!(t.ok(user, "id -gn"), format!("{name}\n"));
        let ls = t.ok(user, &format!("cd {home} && touch owned && ls -l owned"));
        assert!(
            ls.contains(&format!(" {name} {name} ")),
            "ls -l shows no names: {ls}"
        );
        let clear = t.ok(user, "clear");
        assert!(clear.contains('\x1b'), "clear printed no escape: {clear:?}");
        assert_eq!(t.ok(user, "tput cols >/dev/null; tput colors"), "256\n");
        // UTF-8 locale: one character, two bytes.
        assert_eq!(t.ok(user, "printf 'é' | wc -m"), "1\n");
        assert_eq!(t.ok(user, "echo $LANG"), "C.UTF-8\n");
        // gconv modules: CP1252 is a loadable module, not built into glibc.
        assert_eq!(
            t.ok(user, "printf 'é' | iconv -f UTF-8 -t CP1252 | od -An -tx1"),
            " e9\n"
        );
        // zoneinfo: the jail's local time zone is the host's.
        assert_eq!(t.ok(user, "date +%Z"), host_zone());
        let tools = format!(
            "set -e; cd {home}; rm -rf work; mkdir work; cd work
             printf 'b 2\\na 1\\nb 2\\n' > f
             cat f >/dev/null; cp f g; mv g h; ln -s h l; chmod 600 h; touch t
             test \"$(pwd)\" = {home}/work
             env | grep -q '^HOME='
             date >/dev/null
             test \"$(head -n1 f)\" = 'b 2'; test \"$(tail -n1 f)\" = 'b 2'
             test \"$(wc -l < f)\" = 3
             test \"$(sort f | uniq | cut -d' ' -f1 | tr -d '\\n')\" = ab
             grep -q 'a 1' f
             test \"$(sed -n 2p f)\" = 'a 1'
             test \"$(awk '{{s+=$2}} END {{print s}}' f)\" = 5
             test \"$(find . -name h)\" = ./h
             tar -czf a.tgz f h && mkdir x && tar -xzf a.tgz -C x && test -f x/h
             gzip -k f && test -f f.gz
             less f | grep -q 'a 1'
             rm l; rm -r x; rm f.gz; mkdir d; rmdir d
             echo done"
        );
        assert_eq!(t.ok(user, &tools), "done\n");
    }
}

#[test]
fn minimal_profile() {
    if !require_root("minimal_profile") {
        return;
    }
    let Some(t) = TestJail::build(&common::current_test(), &["minimal"]) else {
        return;
    };
    check_login_shell(&t);
    for (user, _) in t.identities() {
        // `\u` in the prompt needs a passwd lookup.
        assert_eq!(
            t.ok(user, "echo \"${PATH}\""),
            "/usr/local/bin:/usr/bin:/bin\n"
        );
    }
    assert!(t.jail.join("tmp").is_dir());
}

#[test]
fn basic_shell_profile() {
    if !require_root("basic_shell_profile") {
        return;
    }
    let Some(t) = TestJail::build(&common::current_test(), &["basic-shell"]) else {
        return;
    };
    check_basic_shell(&t);
}

#[test]
fn editors_profile() {
    if !require_root("editors_profile") {
        return;
    }
    let Some(t) = TestJail::build(&common::current_test(), &["editors"]) else {
        return;
    };
    check_basic_shell(&t);
    for (user, name) in t.identities() {
        let f = if user.is_some() {
            format!("/home/{name}/edited")
        } else {
            "/tmp/edited".to_string()
        };
        let out = t.ok(
            user,
            &format!("vi -es -c 'call setline(1, \"hello\")' -c wq {f} </dev/null; cat {f}"),
        );
        assert!(out.contains("hello"), "{out}");
    }
}

#[test]
fn sftp_only_profile() {
    if !require_root("sftp_only_profile") {
        return;
    }
    let Some(t) = TestJail::build(&common::current_test(), &["sftp-only"]) else {
        return;
    };
    // No programs at all: sshd's internal-sftp serves the account.
    for p in ["bin/bash", "usr/bin/bash", "bin/sh", "usr/bin/sh"] {
        assert!(
            std::fs::symlink_metadata(t.jail.join(p)).is_err(),
            "{p} in an sftp-only jail"
        );
    }
}

#[test]
fn scp_profile() {
    if !require_root("scp_profile") {
        return;
    }
    let Some(t) = TestJail::build(&common::current_test(), &["scp"]) else {
        return;
    };
    check_login_shell(&t);
    for (user, _) in t.identities() {
        // scp with no arguments prints its usage and fails: it runs.
        let out = t.sh(user, "scp");
        assert!(text(&out.stderr).contains("usage"), "{out:?}");
        t.ok(
            user,
            "for p in /usr/lib/openssh/sftp-server /usr/libexec/openssh/sftp-server /usr/lib/ssh/sftp-server; do
               if test -x $p; then exit 0; fi
             done; exit 1",
        );
    }
}

#[test]
fn rsync_profile() {
    if !require_root("rsync_profile") {
        return;
    }
    let Some(t) = TestJail::build(&common::current_test(), &["rsync"]) else {
        return;
    };
    check_login_shell(&t);
    for (user, _) in t.identities() {
        assert!(t.ok(user, "rsync --version").contains("rsync"));
    }
}

#[test]
fn git_profile() {
    if !require_root("git_profile") {
        return;
    }
    let Some(t) = TestJail::build(&common::current_test(), &["git"]) else {
        return;
    };
    check_basic_shell(&t);
    for (user, name) in t.identities() {
        let home = if user.is_some() {
            format!("/home/{name}")
        } else {
            "/tmp".to_string()
        };
        let log = t.ok(
            user,
            &format!(
                "set -e; cd {home}; rm -rf repo; git init -q repo; cd repo
                 echo hi > f; git add f
                 git -c user.name=t -c user.email=t@example.org commit -q -m first
                 git log --format=%s; git status --short | wc -l"
            ),
        );
        assert_eq!(log, "first\n0\n");
    }
}

#[test]
fn python3_profile() {
    if !require_root("python3_profile") {
        return;
    }
    let Some(t) = TestJail::build(&common::current_test(), &["python3"]) else {
        return;
    };
    check_basic_shell(&t);
    for (user, _) in t.identities() {
        t.ok(
            user,
            "python3 -c 'import json, ssl, sqlite3, hashlib, zlib, ctypes'",
        );
    }
    serve_a_file_over_loopback(&t);
}

/// `python3 -m http.server` inside the jail serves a file to a client on the host.
fn serve_a_file_over_loopback(t: &TestJail) {
    let user = t.user.name();
    let home = t.jail.join("home").join(user);
    let body = "served from inside the jail\n";
    std::fs::write(home.join("page.txt"), body).unwrap();
    std::os::unix::fs::chown(
        home.join("page.txt"),
        Some(t.user.uid()),
        Some(t.user.gid()),
    )
    .unwrap();
    // held until http.server binds it: the port is handed over, not guessed
    let reserved = common::port::ReservedPort::new();
    let port = reserved.port();
    let child = t
        .command(
            Some(user),
            &format!("cd /home/{user} && exec python3 -m http.server --bind 127.0.0.1 {port}"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start http.server");
    let mut server = ProcessGuard::new(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    let response = loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            write!(s, "GET /page.txt HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
            let mut r = String::new();
            s.read_to_string(&mut r).unwrap();
            break r;
        }
        let child = server.child().expect("our child");
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).ok();
            panic!("http.server exited with {status}: {err}");
        }
        assert!(Instant::now() < deadline, "http.server did not listen");
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(server);
    assert!(response.starts_with("HTTP/1.0 200"), "{response}");
    assert!(response.ends_with(body), "{response}");
}

#[test]
fn profiles_combine_with_bin_and_file_and_rebuild_is_a_no_op() {
    if !require_root("profiles_combine_with_bin_and_file") {
        return;
    }
    let Some(t) = TestJail::build_with(
        &common::current_test(),
        &["minimal"],
        &["--bin", "whoami", "--file", "/etc/os-release"],
    ) else {
        return;
    };
    for (user, name) in t.identities() {
        assert_eq!(t.ok(user, "whoami"), format!("{name}\n"));
        t.ok(user, "read -r line < /etc/os-release");
    }
    let jail = t.jail.display().to_string();
    let state = t.root.state_dir().display().to_string();
    let out = jailsmith(&[
        "build",
        &jail,
        "--state-dir",
        &state,
        "--profile",
        "minimal",
        "--bin",
        "whoami",
        "--file",
        "/etc/os-release",
    ]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("up to date"),
        "second build changed something: {err}"
    );
}
