//! Helpers for the `jailsmith user` integration tests: a jail to log into, the `jailsmith
//! user` command line pointed at the test's own sshd and directories, and waiting for the
//! private sshd after jailsmith reloads it.
//! Never touches the machine's sshd, its config or users a test did not create.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::sshd::PrivateSshd;
use crate::common::{self, TestRoot, find_cmd, make_dir, run, run_ok, text};

/// Programs copied into the test jail.
pub const JAIL_PROGRAMS: &[&str] = &["bash", "id"];

/// Makes a jail with bash and id at `jail` (root-owned 0755): `jailsmith build` when it is
/// implemented, else by hand like the seed does (the programs, their ldd libraries and the
/// loader copied at their host paths).
pub fn make_jail(jail: &Path, state_dir: &Path) -> PathBuf {
    let mut build = common::bin();
    build
        .arg("build")
        .arg(jail)
        .arg("--state-dir")
        .arg(state_dir);
    for p in JAIL_PROGRAMS {
        build.arg("--bin").arg(p);
    }
    let out = run(&mut build);
    if out.status.success() {
        return jail.to_path_buf();
    }
    assert!(
        text(&out.stderr).contains("not written yet")
            || text(&out.stderr).contains("unexpected argument"),
        "jailsmith build failed\n{}",
        common::describe(&build, &out)
    );
    make_dir(jail, 0o755);
    for prog in JAIL_PROGRAMS {
        let host = find_cmd(prog).unwrap_or_else(|| panic!("{prog} not installed"));
        copy_in(jail, &host, &Path::new("/bin").join(prog));
        let ldd = run_ok(Command::new("ldd").arg(&host));
        for lib in text(&ldd.stdout)
            .split_whitespace()
            .filter(|w| w.starts_with('/'))
        {
            copy_in(jail, Path::new(lib), Path::new(lib));
        }
    }
    jail.to_path_buf()
}

/// Copies a host file to the same in-jail path (parents 0755), mode 0755.
fn copy_in(jail: &Path, src: &Path, inside: &Path) {
    let dest = jail.join(inside.strip_prefix("/").expect("absolute path"));
    make_dir(dest.parent().expect("has a parent"), 0o755);
    fs::copy(src, &dest)
        .unwrap_or_else(|e| panic!("copy {} {}: {e}", src.display(), dest.display()));
    fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// The private sshd's main config and drop-in directory, the key and state directories, as
/// jailsmith's options: what every command that touches sshd is given in these tests.
pub fn sshd_paths(srv: &PrivateSshd, keys_dir: &Path, state_dir: &Path) -> Vec<std::ffi::OsString> {
    vec![
        "--sshd-config".into(),
        srv.config_path().into(),
        "--sshd-config-dir".into(),
        srv.dropin_dir().into(),
        "--authorized-keys-dir".into(),
        keys_dir.into(),
        "--state-dir".into(),
        state_dir.into(),
    ]
}

/// The test's own sshd, directories and jail.
/// The serial guard and a `Setup` for `test`, None (skipped) where sshd cannot run here.
pub fn serial_setup(test: &str) -> Option<(std::sync::MutexGuard<'static, ()>, Setup)> {
    if !common::sshd::available(test) {
        return None;
    }
    let g = common::serial();
    Some((g, Setup::new(test)))
}

pub struct Setup {
    pub root: TestRoot,
    pub srv: PrivateSshd,
    pub jail: PathBuf,
    pub keys_dir: PathBuf,
    pub state_dir: PathBuf,
}

impl Setup {
    pub fn new(test: &str) -> Self {
        let root = TestRoot::new(test);
        let srv = PrivateSshd::start(None);
        let state_dir = root.state_dir();
        let jail = make_jail(&root.jail("jail"), &state_dir);
        Self {
            keys_dir: root.path().join("authorized_keys"),
            state_dir,
            jail,
            root,
            srv,
        }
    }

    /// `jailsmith user NAME --jail JAIL` with every path pointed at this test.
    pub fn user_cmd(&self, name: &str) -> Command {
        self.user_cmd_in(name, &self.jail)
    }

    /// Like `user_cmd` for another jail.
    pub fn user_cmd_in(&self, name: &str, jail: &Path) -> Command {
        self.user_cmd_with(name, jail, self.srv.config_path())
    }

    /// Like `user_cmd` with another main sshd config.
    pub fn user_cmd_main(&self, name: &str, main: &Path) -> Command {
        self.user_cmd_with(name, &self.jail, main)
    }

    fn user_cmd_with(&self, name: &str, jail: &Path, main: &Path) -> Command {
        let mut c = common::bin();
        c.arg("user")
            .arg(name)
            .arg("--jail")
            .arg(jail)
            .arg("--sshd-config")
            .arg(main)
            .arg("--sshd-config-dir")
            .arg(self.srv.dropin_dir())
            .arg("--authorized-keys-dir")
            .arg(&self.keys_dir)
            .arg("--state-dir")
            .arg(&self.state_dir);
        c
    }

    /// `sshd_paths` of this setup.
    pub fn sshd_paths(&self) -> Vec<std::ffi::OsString> {
        sshd_paths(&self.srv, &self.keys_dir, &self.state_dir)
    }

    /// Runs a jailsmith command that may reload the private sshd and, when its report says it
    /// did (the first user of a jail and mode), waits until sshd listens again; panics
    /// unless it exits 0.
    pub fn run_reloading(&self, cmd: &mut Command) -> std::process::Output {
        let before = self.listening();
        let out = run_ok(cmd);
        let said = text(&out.stdout);
        if !said.contains("reload sshd") && !said.contains("\"object\": \"sshd\"") {
            return out;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.listening() <= before {
            assert!(
                Instant::now() < deadline,
                "sshd did not listen again after jailsmith reloaded it\n{}",
                self.srv.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        out
    }

    fn listening(&self) -> usize {
        self.srv.log().matches("Server listening on").count()
    }

    /// The sshd block that jails `name` here (a path that does not exist when none does).
    pub fn dropin(&self, name: &str) -> PathBuf {
        crate::common::sshd::jailing_block(self.srv.dropin_dir(), &self.jail, name)
    }

    /// ssh as `name` running `command`; returns (exit code, stdout, stderr).
    pub fn ssh(&self, name: &str, key: &Path, command: &str) -> (Option<i32>, String, String) {
        let mut c = self.srv.ssh_client(name, key);
        c.arg(command);
        let out = run(&mut c);
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    }
}
