//! Issue 14, the careless admin: dangerous inputs are refused wherever they come from (CLI,
//! profile, `apply` spec, the state). Jail paths that are system directories, binds of API
//! filesystems and /etc, host secrets, privileged accounts: each is refused with exit 4 and a
//! message naming the input and the reason, and host canaries (content, owner, mode, mtime,
//! inode) are unchanged. A command that would touch the real host if the refusal failed runs
//! only after its `--dry-run` was refused, and then inside a private mount namespace where
//! every mount is read-only.

use crate::common;
use crate::user_support;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TestRoot, UserGuard, UserOpts, run, run_ok, text};

const REFUSED: i32 = 4;

/// What a host file looks like: content, owner, mode, mtime, inode.
#[derive(Debug, PartialEq, Eq)]
struct Canary {
    path: PathBuf,
    content: Vec<u8>,
    owner: (u32, u32),
    mode: u32,
    mtime: (i64, i64),
    ino: u64,
}

fn canary(p: &Path) -> Canary {
    let m = fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let content = if m.is_file() {
        fs::read(p).unwrap()
    } else {
        Vec::new()
    };
    Canary {
        path: p.to_path_buf(),
        content,
        owner: (m.uid(), m.gid()),
        mode: m.mode(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ino: m.ino(),
    }
}

/// Host files `build /` rewrote or would reach (the account files change under parallel
/// tests that add users, so the files no concurrent test touches), and the host's mount
/// points outside the test directories (`destroy /` detached them).
fn host_canaries() -> (Vec<Canary>, Vec<String>) {
    let files = [
        "/etc/nsswitch.conf",
        "/etc/hosts",
        "/etc/ld.so.cache",
        "/home",
        "/usr/bin/bash",
        "/dev/null",
    ];
    let mut mounts: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| !m.starts_with(common::ROOT_TEST_BASE) && !m.starts_with("/run"))
        .collect();
    mounts.sort();
    mounts.dedup();
    (files.iter().map(|f| canary(Path::new(f))).collect(), mounts)
}

/// Expects exit 4 with every `needles` in stderr; returns stderr.
fn refused(cmd: &mut Command, needles: &[&str]) -> String {
    let out = run(cmd);
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(REFUSED),
        "{cmd:?}\nstdout: {}\nstderr: {err}",
        text(&out.stdout)
    );
    for n in needles {
        assert!(err.contains(n), "{cmd:?}: no {n:?} in: {err}");
    }
    err
}

fn jailsmith(args: &[&str]) -> Command {
    let mut c = common::bin();
    c.args(args);
    c
}

/// The same command, inside a private mount namespace whose every mount is read-only: if
/// the refusal failed, the write fails there instead of reaching the host.
fn read_only_host(cmd: &Command) -> Command {
    let mut argv = vec![cmd.get_program().to_string_lossy().into_owned()];
    argv.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    let script = "mount --make-rprivate / && \
        awk '{print $5}' /proc/self/mountinfo | sort -r | while read -r m; do \
          mount -o remount,bind,ro \"$m\" 2>/dev/null; done; \
        touch /etc/.jailsmith-ro-probe 2>/dev/null && { rm -f /etc/.jailsmith-ro-probe; echo 'host not read-only' >&2; exit 99; }; \
        exec \"$@\"";
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .args(argv);
    c
}

struct Case {
    root: TestRoot,
    jail: PathBuf,
    state: PathBuf,
}

impl Case {
    fn new(test: &str) -> Option<Case> {
        if !common::require_root(test) {
            return None;
        }
        let root = TestRoot::new(test);
        Some(Case {
            jail: root.jail("jail"),
            state: root.state_dir(),
            root,
        })
    }

    fn state(&self) -> &str {
        self.state.to_str().unwrap()
    }

    fn jail(&self) -> &str {
        self.jail.to_str().unwrap()
    }

    fn build(&self, extra: &[&str]) -> Command {
        let mut c = jailsmith(&["build", self.jail(), "--state-dir", self.state()]);
        c.args(extra);
        c
    }

    fn spec(&self, body: &str) -> PathBuf {
        let p = self.root.path().join("spec.toml");
        common::write_file(&p, body, 0o600);
        p
    }

    fn apply(&self, spec: &Path) -> Command {
        let mut c = jailsmith(&["apply"]);
        c.arg(spec)
            .args(["--state-dir", self.state()])
            .arg("--unit-dir")
            .arg(self.root.path().join("units"))
            .arg("--systemd-dir")
            .arg(self.root.path().join("systemd"));
        c
    }
}

#[test]
fn build_and_destroy_of_the_host_root_are_refused() {
    let Some(c) = Case::new("build_and_destroy_of_the_host_root_are_refused") else {
        return;
    };
    let before = host_canaries();
    let build = |extra: &[&str]| {
        let mut b = jailsmith(&["build", "/", "--bin", "bash", "--state-dir", c.state()]);
        b.args(extra);
        b
    };
    refused(
        &mut build(&["--dry-run"]),
        &["refusing / as a jail", "root directory"],
    );
    assert_eq!(host_canaries(), before);
    refused(&mut read_only_host(&build(&[])), &["refusing / as a jail"]);
    assert_eq!(host_canaries(), before);

    let destroy = |extra: &[&str]| {
        let mut d = jailsmith(&["destroy", "/", "--state-dir", c.state(), "--no-reload"]);
        d.args(extra);
        d
    };
    refused(&mut destroy(&["--dry-run"]), &["refusing / as a jail"]);
    refused(
        &mut read_only_host(&destroy(&["--purge"])),
        &["refusing / as a jail"],
    );
    assert_eq!(host_canaries(), before);
    assert!(!c.state.exists(), "a refused command wrote its state");
}

#[test]
fn system_directories_are_refused_as_jails_by_every_command() {
    let Some(c) = Case::new("system_directories_are_refused_as_jails_by_every_command") else {
        return;
    };
    let before = host_canaries();
    let st = c.state();
    let link = c.root.path().join("etc-link");
    std::os::unix::fs::symlink("/etc", &link).unwrap();
    let link = link.to_str().unwrap().to_string();
    for jail in [
        "/etc",
        "/usr",
        "/var/",
        "/srv",
        "/tmp",
        "/proc/1/root",
        "/run/x",
        "/srv/..",
        &link,
    ] {
        let why = if jail == link {
            "through a symlink"
        } else {
            "as a jail"
        };
        for args in [
            vec!["build", jail, "--bin", "bash", "--dry-run"],
            vec!["update", jail, "--dry-run"],
            vec!["check", jail],
            vec!["mount", jail],
            vec!["umount", jail],
            vec!["destroy", jail, "--dry-run"],
            vec![
                "service",
                "web",
                "--jail",
                jail,
                "--exec",
                "sleep 1",
                "--dry-run",
            ],
            vec!["user", "nosuchuserjs", "--jail", jail, "--dry-run"],
        ] {
            let mut cmd = jailsmith(&args);
            cmd.args(["--state-dir", st]);
            refused(&mut cmd, &[jail, why]);
        }
    }
    // the state directory itself, inside it, and an ancestor of it
    for jail in [
        c.state.clone(),
        c.state.join("j"),
        c.root.path().to_path_buf(),
    ] {
        let mut b = jailsmith(&["build", "--bin", "bash", "--dry-run", "--state-dir", st]);
        refused(b.arg(&jail), &["as a jail", "state directory"]);
    }
    let spec = c.spec("[[jail]]\npath = \"/usr\"\nbins = [\"bash\"]\n");
    refused(c.apply(&spec).arg("--dry-run"), &["/usr", "as a jail"]);
    refused(&mut c.apply(&spec), &["/usr", "as a jail"]);
    assert_eq!(host_canaries(), before);
    assert!(!c.state.exists(), "a refused command wrote its state");
}

#[test]
fn binds_of_system_paths_are_refused_by_build_mount_and_apply() {
    let Some(c) = Case::new("binds_of_system_paths_are_refused_by_build_mount_and_apply") else {
        return;
    };
    let before = host_canaries();
    let shared = c.root.dir("shared");
    let shared = shared.to_str().unwrap();
    let inside = format!("{}/home:/h", c.jail());
    let state_bind = format!("{}:/s", c.state.display());
    let rw_bind = format!("{shared}:/data:rw");
    for (bind, why) in [
        ("/proc:/p", "it is /proc"),
        ("/sys:/s", "it is /sys"),
        ("/run:/r", "it is /run"),
        ("/:/host", "root directory"),
        ("/etc:/home/u/etc:rw", "it is /etc"),
        ("/root:/r", "it is /root"),
        ("/var:/v", "contains /var/lib/jailsmith"),
        (inside.as_str(), "the jail itself"),
        (state_bind.as_str(), "state directory"),
        (rw_bind.as_str(), "only into a user's home"),
    ] {
        for dry in [true, false] {
            let mut b = c.build(&["--bin", "bash", "--bind", bind]);
            if dry {
                b.arg("--dry-run");
            }
            refused(&mut b, &[bind.split(':').next().unwrap(), why]);
        }
        let spec = c.spec(&format!(
            "[[jail]]\npath = \"{}\"\nbins = [\"bash\"]\nbinds = [\"{bind}\"]\n",
            c.jail()
        ));
        refused(&mut c.apply(&spec), &[why]);
    }
    assert!(
        !c.jail.exists() && !c.state.exists(),
        "a refused build wrote"
    );

    // A bind recorded before this rule existed is refused by `mount`, nothing mounted.
    run_ok(&mut c.build(&["--bin", "bash", "--bind", &format!("{shared}:/data")]));
    common::edit_jail_state(&c.state, |st| {
        st["request"]["binds"] = serde_json::json!([{"src": "/proc", "dst": "/p", "rw": false}]);
    });
    refused(
        &mut jailsmith(&["mount", c.jail(), "--state-dir", c.state()]),
        &["/proc"],
    );
    assert!(
        common::mounts_under(&c.jail).is_empty(),
        "something was mounted"
    );
    assert_eq!(host_canaries(), before);
}

#[test]
fn rw_bind_into_a_home_is_allowed_and_its_source_checked() {
    let Some(c) = Case::new("rw_bind_into_a_home_is_allowed_and_its_source_checked") else {
        return;
    };
    let shared = c.root.dir("shared");
    let bind = format!("{}:/home/u/shared:rw", shared.display());
    run_ok(&mut c.build(&["--bin", "bash", "--bind", &bind, "--dry-run"]));
    // an ancestor others can write: the source could be swapped under the mount
    let open = c.root.dir("open");
    fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let src = open.join("src");
    common::make_dir(&src, 0o755);
    let bind = format!("{}:/home/u/shared:rw", src.display());
    refused(
        &mut c.build(&["--bin", "bash", "--bind", &bind]),
        &["writable by a non-root user"],
    );
}

#[test]
fn host_secrets_never_enter_a_jail() {
    let Some(c) = Case::new("host_secrets_never_enter_a_jail") else {
        return;
    };
    let before = host_canaries();
    for f in [
        "/etc/shadow",
        "/etc/gshadow",
        "/etc/passwd-",
        "/etc/sudoers",
        "/root",
    ] {
        if Path::new(f).exists() {
            refused(
                &mut c.build(&["--bin", "bash", "--file", f, "--dry-run"]),
                &[f, "host secrets"],
            );
            refused(
                &mut c.build(&["--bin", "bash", "--file", f]),
                &[f, "host secrets"],
            );
        }
    }
    let link = c.root.path().join("innocent");
    std::os::unix::fs::symlink("/etc/shadow", &link).unwrap();
    refused(
        &mut c.build(&["--bin", "bash", "--file", link.to_str().unwrap()]),
        &["/etc/shadow", "password hashes"],
    );
    assert!(!c.jail.exists(), "a refused build wrote the jail");

    let spec = c.spec(&format!(
        "[[jail]]\npath = \"{}\"\nbins = [\"bash\"]\nfiles = [\"/etc/shadow\"]\n",
        c.jail()
    ));
    refused(&mut c.apply(&spec), &["/etc/shadow", "host secrets"]);
    assert!(!c.jail.exists(), "a refused apply wrote the jail");

    // A directory copy skips and names each secret; the rest is copied. The host's /etc is
    // live (other tests add accounts meanwhile, and shadow-utils' lock files come and go):
    // a file that vanished between the walk and its copy fails that build, naming it, and
    // the next build completes the jail.
    let mut out = run(&mut c.build(&["--bin", "bash", "--file", "/etc"]));
    for _ in 0..3 {
        let err = text(&out.stderr);
        if out.status.success() || !err.contains("No such file or directory") {
            break;
        }
        eprintln!("retrying: a file of /etc vanished during the copy: {err}");
        out = run(&mut c.build(&["--bin", "bash", "--file", "/etc"]));
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    for skipped in ["/etc/shadow", "/etc/gshadow", "/etc/ssh"] {
        assert!(
            err.contains(&format!("skipped {skipped}")),
            "no warning naming {skipped}: {err}"
        );
    }
    for absent in [
        "etc/shadow",
        "etc/gshadow",
        "etc/shadow-",
        "etc/ssh",
        "etc/sudoers",
    ] {
        assert!(
            fs::symlink_metadata(c.jail.join(absent)).is_err(),
            "{absent} was copied"
        );
    }
    assert!(c.jail.join("etc/hostname").exists() || c.jail.join("etc/hosts").exists());
    let passwd = fs::read_to_string(c.jail.join("etc/passwd")).unwrap();
    assert_eq!(
        passwd.lines().count(),
        1,
        "host accounts in the jail: {passwd}"
    );
    assert_eq!(host_canaries(), before);
}

// ---------------------------------------------------------------------------------------
// Accounts

fn user_refused(s: &user_support::Setup, name: &str, needles: &[&str]) {
    let (_, key_pub) = common::sshd::client_keypair(&s.root.dir("client"));
    let passwd = fs::read_to_string(s.jail.join("etc/passwd")).unwrap();
    for dry in [true, false] {
        let mut cmd = s.user_cmd(name);
        cmd.arg("--key").arg(&key_pub);
        if dry {
            cmd.arg("--dry-run");
        }
        refused(&mut cmd, needles);
    }
    assert!(!s.dropin(name).exists(), "a drop-in was written for {name}");
    assert_eq!(
        fs::read_to_string(s.jail.join("etc/passwd")).unwrap(),
        passwd
    );
}

#[test]
fn privileged_accounts_are_never_jailed() {
    let Some((_g, s)) = user_support::serial_setup("privileged_accounts_are_never_jailed") else {
        return;
    };
    user_refused(&s, "nobody", &["nobody", "uid 65534"]);

    let high = UserGuard::create(&UserOpts {
        uid: Some(60000 + 1 + common::unique() % 1000),
        ..Default::default()
    });
    user_refused(&s, high.name(), &[high.name(), "UID_MAX"]);

    let g0 = UserGuard::new();
    run_ok(Command::new("usermod").args(["-g", "0", g0.name()]));
    user_refused(&s, g0.name(), &[g0.name(), "gid 0"]);

    let adm = UserGuard::new();
    run_ok(Command::new("usermod").args(["-a", "-G", "adm", adm.name()]));
    user_refused(&s, adm.name(), &[adm.name(), "privileged group adm"]);
}

#[test]
fn service_accounts_are_dedicated_system_accounts() {
    if !common::require_root("service_accounts_are_dedicated_system_accounts")
        || !common::require_cmd("useradd")
    {
        return;
    }
    let _g = common::serial();
    let c = Case::new("service_accounts_are_dedicated_system_accounts").unwrap();
    let units = c.root.dir("units");
    let service = |name: &str, user: &str, extra: &[&str]| {
        let mut s = jailsmith(&["service", name, "--jail", c.jail(), "--exec", "sleep 1000"]);
        s.args(["--user", user, "--state-dir", c.state(), "--no-reload"])
            .arg("--unit-dir")
            .arg(&units)
            .args(extra);
        s
    };
    refused(&mut service("web", "nobody", &["--dry-run"]), &["nobody"]);
    let login = UserGuard::new();
    refused(
        &mut service("web", login.name(), &[]),
        &[login.name(), "SYS_UID_MIN"],
    );
    let sys = common::ReservedUser::new();
    run_ok(&mut service("tick", sys.name(), &["--create-user"]));
    refused(
        &mut service("tock", sys.name(), &[]),
        &[sys.name(), "service tick"],
    );
    assert!(!units.join("tock.service").exists());
    // the same service again is fine
    run_ok(&mut service("tick", sys.name(), &[]));
}

#[test]
fn apply_refuses_a_privileged_account_before_building_anything() {
    let Some((_g, s)) =
        user_support::serial_setup("apply_refuses_a_privileged_account_before_building_anything")
    else {
        return;
    };
    let (_, key_pub) = common::sshd::client_keypair(&s.root.dir("client"));
    let key = fs::read_to_string(&key_pub).unwrap();
    let jail = s.root.jail("applied");
    let spec = s.root.path().join("spec.toml");
    let body = format!(
        "[[jail]]\npath = \"{j}\"\nbins = [\"bash\"]\n\n[[user]]\nname = \"nobody\"\njail = \"{j}\"\nkeys = [\"{k}\"]\n",
        j = jail.display(),
        k = key.trim()
    );
    common::write_file(&spec, body, 0o600);
    for dry in [true, false] {
        let mut cmd = common::bin();
        cmd.arg("apply")
            .arg(&spec)
            .args(s.sshd_paths())
            .arg("--systemd-dir")
            .arg(s.root.path().join("systemd"))
            .arg("--unit-dir")
            .arg(s.root.path().join("units"));
        if dry {
            cmd.arg("--dry-run");
        }
        refused(&mut cmd, &["nobody", "uid 65534"]);
    }
    assert!(
        !jail.exists(),
        "apply built the jail before refusing the account"
    );
    assert!(!s.dropin("nobody").exists());
}
