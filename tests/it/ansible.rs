//! The Ansible role, run by the real engine: ansible-core from PyPI in a virtualenv (cached
//! in target/ansible-venv), the example playbook against localhost with `-c local`, every
//! path pointed at the test (private sshd, drop-ins, keys, state, spec, binary). First run
//! changed, second run `changed=0`, check mode `changed=0`, and the jailed user from the
//! spec logs in over the private sshd with OpenSSH's `ssh`.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::sshd::{self, PrivateSshd};
use common::{ReservedUser, TestRoot, run, text};

/// The ansible-core the test installs: supports Python 3.10–3.12 on the controller.
const ANSIBLE_CORE: &str = "ansible-core==2.17.7";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/ansible-venv with ansible-core, made once (a marker names the pinned version);
/// None (after skip_or_fail) when venv or PyPI is not available.
fn venv(test: &str) -> Option<PathBuf> {
    let dir = repo().join("target").join("ansible-venv");
    let marker = dir.join(".jailsmith-ready");
    if fs::read_to_string(&marker).is_ok_and(|t| t.trim() == ANSIBLE_CORE) {
        return Some(dir);
    }
    let _ = fs::remove_dir_all(&dir);
    let mut mk = Command::new("python3");
    mk.args(["-m", "venv"]).arg(&dir);
    let out = run(&mut mk);
    if !out.status.success() {
        common::skip_or_fail(
            test,
            &format!(
                "python3 -m venv failed (install python3-venv: scripts/install-deps)\n{}",
                common::describe(&mk, &out)
            ),
        );
        return None;
    }
    let mut pip = Command::new(dir.join("bin/pip"));
    pip.args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        ANSIBLE_CORE,
    ]);
    let out = common::run_timeout(&mut pip, Duration::from_secs(600));
    if !out.status.success() {
        let _ = fs::remove_dir_all(&dir);
        common::skip_or_fail(
            test,
            &format!(
                "pip install {ANSIBLE_CORE} failed (no PyPI?)\n{}",
                common::describe(&pip, &out)
            ),
        );
        return None;
    }
    fs::write(&marker, ANSIBLE_CORE).expect("write the venv marker");
    Some(dir)
}

/// (ok, changed, failed) of localhost from the PLAY RECAP.
fn recap(stdout: &str) -> (u32, u32, u32) {
    let line = stdout
        .lines()
        .skip_while(|l| !l.starts_with("PLAY RECAP"))
        .find(|l| l.starts_with("localhost"))
        .unwrap_or_else(|| panic!("no PLAY RECAP line for localhost in:\n{stdout}"));
    let field = |k: &str| -> u32 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {k}= in {line}"))
    };
    (field("ok"), field("changed"), field("failed"))
}

struct Play<'a> {
    venv: &'a Path,
    root: &'a TestRoot,
    vars: PathBuf,
}

impl Play<'_> {
    fn run(&self, extra: &[&str]) -> (u32, u32, u32, String) {
        let mut c = Command::new(self.venv.join("bin/ansible-playbook"));
        c.current_dir(repo().join("packaging/ansible"))
            .args(["-i", "localhost,", "-c", "local", "example.yml"])
            .arg("-e")
            .arg(format!("@{}", self.vars.display()))
            .args(extra)
            .env("HOME", self.root.path())
            .env("ANSIBLE_LOCAL_TEMP", self.root.path().join("ansible-tmp"))
            .env("ANSIBLE_REMOTE_TEMP", self.root.path().join("ansible-tmp"))
            .env("ANSIBLE_ROLES_PATH", repo().join("packaging/ansible/roles"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
            .env("ANSIBLE_HOST_KEY_CHECKING", "0")
            .env_remove("ANSIBLE_CONFIG");
        let out = common::run_timeout(&mut c, Duration::from_secs(600));
        let stdout = text(&out.stdout);
        let (ok, changed, failed) = recap(&stdout);
        assert!(
            out.status.success() && failed == 0,
            "ansible-playbook failed\n{}",
            common::describe(&c, &out)
        );
        (ok, changed, failed, stdout)
    }
}

#[test]
fn ansible_role_converges_and_is_idempotent() {
    let test = "ansible_role_converges_and_is_idempotent";
    if !sshd::available(test) {
        return;
    }
    let Some(venv) = venv(test) else {
        return;
    };
    let root = TestRoot::new(test);
    let srv = PrivateSshd::start(None);
    let user = ReservedUser::new();
    let jail = root.jail("jail");
    let (key, key_pub) = sshd::client_keypair(&root.dir("client"));
    let key_text = fs::read_to_string(&key_pub).unwrap().trim().to_string();
    let spec = root.path().join("spec.toml");
    fs::write(
        &spec,
        format!(
            "[[jail]]\npath = \"{j}\"\nprofiles = [\"basic-shell\"]\nbins = [\"bash\", \"id\"]\n\n[[user]]\nname = \"{u}\"\njail = \"{j}\"\ncreate = true\nkeys = [\"{key_text}\"]\n",
            j = jail.display(),
            u = user.name()
        ),
    )
    .unwrap();
    let vars = serde_json::json!({
        "jailsmith_become": false,
        "ansible_python_interpreter": venv.join("bin/python").display().to_string(),
        "jailsmith_binary": common::bin_path().display().to_string(),
        "jailsmith_binary_dest": root.path().join("bin/jailsmith").display().to_string(),
        "jailsmith_spec": spec.display().to_string(),
        "jailsmith_spec_dest": root.path().join("etc/spec.toml").display().to_string(),
        "jailsmith_sshd_config": srv.config_path().display().to_string(),
        "jailsmith_sshd_config_dir": srv.dropin_dir().display().to_string(),
        "jailsmith_authorized_keys_dir": root.path().join("authorized_keys").display().to_string(),
        "jailsmith_state_dir": root.state_dir().display().to_string(),
        "jailsmith_systemd_dir": root.path().join("systemd").display().to_string(),
        "jailsmith_unit_dir": root.path().join("units").display().to_string(),
        "jailsmith_reload": true,
    });
    fs::create_dir_all(root.path().join("bin")).unwrap();
    let vars_file = root.path().join("vars.json");
    fs::write(&vars_file, vars.to_string()).unwrap();
    let play = Play {
        venv: &venv,
        root: &root,
        vars: vars_file,
    };

    let listening = |s: &PrivateSshd| s.log().matches("Server listening on").count();
    let before = listening(&srv);
    let (_, changed, _, out) = play.run(&[]);
    assert!(changed > 0, "the first run changed nothing:\n{out}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while listening(&srv) <= before {
        assert!(
            Instant::now() < deadline,
            "sshd was not reloaded\n{}",
            srv.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let (_, changed, _, out) = play.run(&[]);
    assert_eq!(changed, 0, "the second run changed something:\n{out}");
    let (_, changed, _, out) = play.run(&["--check"]);
    assert_eq!(
        changed, 0,
        "check mode after a converged run reports a change:\n{out}"
    );

    let mut ssh = srv.ssh_client(user.name(), &key);
    ssh.arg("id -un; pwd");
    let out = run(&mut ssh);
    assert!(
        out.status.success(),
        "{}\n{}",
        common::describe(&ssh, &out),
        srv.log()
    );
    let said = text(&out.stdout);
    assert_eq!(
        said.lines().collect::<Vec<_>>(),
        [user.name().to_string(), format!("/home/{}", user.name())],
        "{said}"
    );
}
