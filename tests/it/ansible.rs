//! The Ansible role, run by the real engine: ansible-core from PyPI in a virtualenv (cached
//! in target/ansible-venv), the example playbook with the example spec
//! (packaging/ansible/spec.example.toml) against localhost with `-c local`, through the
//! role's binary path, every directory pointed at the test (private sshd, drop-ins, keys,
//! state, systemd dir). Only what must differ on a test machine is rewritten: jail paths,
//! user names and key material; the rest of the example is asserted to be carried over. First
//! run changed, second run `changed=0`, check mode `changed=0`; the shell user logs in with
//! OpenSSH's `ssh` and lands in its jail, the sftp-only user uploads with the key of the
//! spec's relative key file, the shell user's limits are written where the role says, and
//! dropping the sftp user from the spec with `jailsmith_prune` deletes its account.

use crate::common;

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
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
/// None (after skip_or_fail) when venv or PyPI is not available. One test at a time makes it.
fn venv(test: &str) -> Option<PathBuf> {
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = MAKING.lock().unwrap_or_else(|p| p.into_inner());
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
        // the role reads the spec with tomllib, which Python 3.10 lacks
        "tomli; python_version < '3.11'",
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

fn example_spec() -> PathBuf {
    repo().join("packaging/ansible/spec.example.toml")
}

fn array<'a>(t: &'a toml::Table, key: &str) -> &'a Vec<toml::Value> {
    t.get(key)
        .and_then(|v| v.as_array())
        .unwrap_or_else(|| panic!("the example spec has no {key} array: {t:?}"))
}

fn tables(t: &toml::Table, key: &str) -> Vec<toml::Table> {
    array(t, key)
        .iter()
        .map(|v| v.as_table().expect("an array of tables").clone())
        .collect()
}

fn str_of<'a>(t: &'a toml::Table, key: &str) -> &'a str {
    t.get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("no string {key} in {t:?}"))
}

/// Whether a `keys` entry is a key text (jailsmith's rule: it has a space inside).
fn is_key_text(k: &str) -> bool {
    k.trim().contains(char::is_whitespace)
}

/// What the test relies on in the example: two jails (the first with `basic-shell`), a
/// shell user with memory and task limits and an inline key, an sftp-only user whose key is
/// a file relative to the spec and whose account goes with `--prune`.
fn assert_example_shape(ex: &toml::Table) {
    let jails = tables(ex, "jail");
    let users = tables(ex, "user");
    assert_eq!((jails.len(), users.len()), (2, 2), "{ex:?}");
    assert_eq!(
        jails[0].get("profiles"),
        Some(&toml::Value::Array(vec!["basic-shell".into()])),
        "{ex:?}"
    );
    let shell = &users[0];
    let limits = shell
        .get("limits")
        .and_then(|l| l.as_table())
        .expect("the shell user has [user.limits]");
    assert!(
        limits.contains_key("memory_max") && limits.contains_key("tasks_max"),
        "{limits:?}"
    );
    assert!(
        array(shell, "keys")
            .iter()
            .all(|k| is_key_text(k.as_str().unwrap())),
        "{shell:?}"
    );
    let sftp = &users[1];
    assert_eq!(sftp.get("sftp_only"), Some(&toml::Value::Boolean(true)));
    assert_eq!(
        sftp.get("delete_account"),
        Some(&toml::Value::Boolean(true))
    );
    assert_eq!(
        array(sftp, "keys"),
        &vec![toml::Value::from("keys/upload1.pub")]
    );
    for u in &users {
        assert!(
            jails.iter().any(|j| j.get("path") == u.get("jail")),
            "user {u:?} names no jail of the example"
        );
    }
    // shipped as it is named: the example works out of the box
    let shipped = example_spec().parent().unwrap().join("keys/upload1.pub");
    let mut keygen = Command::new("ssh-keygen");
    keygen.arg("-l").arg("-f").arg(&shipped);
    common::run_ok(&mut keygen);
}

/// The substitutions the test makes, and back: jail path, user name and key text.
struct Local {
    jails: HashMap<String, String>,
    users: HashMap<String, String>,
    /// user name (the example's) → (its inline key text, the test's key text)
    key_texts: HashMap<String, (String, String)>,
}

impl Local {
    /// Rewrites `spec` (`back`: from the test's values to the example's).
    fn apply(&self, spec: &toml::Table, back: bool) -> toml::Table {
        let flip = |m: &HashMap<String, String>| -> HashMap<String, String> {
            if back {
                m.iter().map(|(a, b)| (b.clone(), a.clone())).collect()
            } else {
                m.clone()
            }
        };
        let (jails, users) = (flip(&self.jails), flip(&self.users));
        let swap = |m: &HashMap<String, String>, t: &mut toml::Table, key: &str| {
            let old = str_of(t, key).to_string();
            let new = m
                .get(&old)
                .unwrap_or_else(|| panic!("no substitute for {old}"));
            t.insert(key.into(), new.clone().into());
        };
        let mut out = spec.clone();
        let mut js = tables(spec, "jail");
        for j in &mut js {
            swap(&jails, j, "path");
        }
        let mut us = tables(spec, "user");
        for u in &mut us {
            swap(&jails, u, "jail");
            swap(&users, u, "name");
            let example_name = if back {
                str_of(u, "name").to_string()
            } else {
                self.users
                    .iter()
                    .find(|(_, v)| v.as_str() == str_of(u, "name"))
                    .map(|(k, _)| k.clone())
                    .unwrap()
            };
            let keys: Vec<toml::Value> = array(u, "keys")
                .iter()
                .map(|k| {
                    let k = k.as_str().unwrap();
                    if !is_key_text(k) {
                        return k.into(); // a file relative to the spec: kept as it is
                    }
                    let (example, test) = &self.key_texts[&example_name];
                    if back { example } else { test }.as_str().into()
                })
                .collect();
            u.insert("keys".into(), keys.into());
        }
        for (key, items) in [("jail", js), ("user", us)] {
            let items: Vec<toml::Value> = items.into_iter().map(toml::Value::from).collect();
            out.insert(key.into(), items.into());
        }
        out
    }
}

#[test]
fn ansible_role_converges_the_example_spec_and_is_idempotent() {
    let test = "ansible_role_converges_the_example_spec_and_is_idempotent";
    if !sshd::available(test) || !common::require_cmd("sftp") {
        return;
    }
    let Some(venv) = venv(test) else {
        return;
    };
    let example: toml::Table = toml::from_str(&fs::read_to_string(example_spec()).unwrap())
        .expect("the example spec parses");
    assert_example_shape(&example);

    let _g = common::serial();
    let root = TestRoot::new(test);
    let srv = PrivateSshd::start(None);
    let ex_users = tables(&example, "user");
    let reserved: Vec<ReservedUser> = ex_users.iter().map(|_| ReservedUser::new()).collect();
    let keypairs: Vec<(PathBuf, PathBuf)> = (0..ex_users.len())
        .map(|i| sshd::client_keypair(&root.dir(&format!("client{i}"))))
        .collect();
    let key_text = |i: usize| {
        fs::read_to_string(&keypairs[i].1)
            .unwrap()
            .trim()
            .to_string()
    };
    let local = Local {
        jails: tables(&example, "jail")
            .iter()
            .map(|j| {
                let p = str_of(j, "path");
                let name = Path::new(p).file_name().unwrap();
                (
                    p.to_string(),
                    root.jail(name.to_str().unwrap()).display().to_string(),
                )
            })
            .collect(),
        users: ex_users
            .iter()
            .zip(&reserved)
            .map(|(u, r)| (str_of(u, "name").to_string(), r.name().to_string()))
            .collect(),
        key_texts: ex_users
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let example = array(u, "keys")[0].as_str().unwrap().to_string();
                (str_of(u, "name").to_string(), (example, key_text(i)))
            })
            .collect(),
    };
    let spec_table = local.apply(&example, false);
    assert_eq!(
        local.apply(&spec_table, true),
        example,
        "the test changed more of the example than jail paths, user names and keys"
    );
    // the spec and its relative key file, laid out as in packaging/ansible
    let spec = root.path().join("spec.example.toml");
    fs::write(&spec, toml::to_string(&spec_table).unwrap()).unwrap();
    let upload_pub = fs::read_to_string(&keypairs[1].1).unwrap();
    fs::create_dir_all(root.path().join("keys")).unwrap();
    fs::write(root.path().join("keys/upload1.pub"), &upload_pub).unwrap();

    let systemd_dir = root.path().join("systemd");
    let spec_dest = root.path().join("etc/spec.toml");
    let vars = serde_json::json!({
        "jailsmith_become": false,
        "ansible_python_interpreter": venv.join("bin/python").display().to_string(),
        "jailsmith_binary": common::bin_path().display().to_string(),
        "jailsmith_binary_dest": root.path().join("bin/jailsmith").display().to_string(),
        "jailsmith_spec": spec.display().to_string(),
        "jailsmith_spec_dest": spec_dest.display().to_string(),
        "jailsmith_sshd_config": srv.config_path().display().to_string(),
        "jailsmith_sshd_config_dir": srv.dropin_dir().display().to_string(),
        "jailsmith_authorized_keys_dir": root.path().join("authorized_keys").display().to_string(),
        "jailsmith_state_dir": root.state_dir().display().to_string(),
        "jailsmith_systemd_dir": systemd_dir.display().to_string(),
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
    // the relative key file went beside the spec on the host
    let placed = spec_dest.parent().unwrap().join("keys/upload1.pub");
    assert_eq!(fs::read_to_string(&placed).unwrap(), upload_pub);
    let meta = fs::metadata(&placed).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o644));

    let (_, changed, _, out) = play.run(&[]);
    assert_eq!(changed, 0, "the second run changed something:\n{out}");
    let (_, changed, _, out) = play.run(&["--check"]);
    assert_eq!(
        changed, 0,
        "check mode after a converged run reports a change:\n{out}"
    );

    // the shell user: logs in and lands in its jail (/ lists the jail's entries)
    let shell = &reserved[0];
    let shell_jail = PathBuf::from(&local.jails[str_of(&ex_users[0], "jail")]);
    let mut ssh = srv.ssh_client(shell.name(), &keypairs[0].0);
    ssh.arg("id -un; pwd; echo /*");
    let out = run(&mut ssh);
    assert!(
        out.status.success(),
        "{}\n{}",
        common::describe(&ssh, &out),
        srv.log()
    );
    let said = text(&out.stdout);
    let mut in_jail: Vec<String> = fs::read_dir(&shell_jail)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .map(|n| format!("/{n}"))
        .collect();
    in_jail.sort();
    assert_eq!(
        said.lines().collect::<Vec<_>>(),
        [
            shell.name().to_string(),
            format!("/home/{}", shell.name()),
            in_jail.join(" ")
        ],
        "{said}"
    );

    // its limits: the slice drop-in in the directory the role passed, and their record
    let limits = ex_users[0]["limits"].as_table().unwrap();
    let uid = shell
        .lookup()
        .expect("the shell user was created")
        .uid
        .as_raw();
    let dropin = systemd_dir.join(format!("user-{uid}.slice.d/50-jailsmith.conf"));
    let conf = fs::read_to_string(&dropin).unwrap_or_else(|e| panic!("{}: {e}", dropin.display()));
    let lines: Vec<&str> = conf
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert_eq!(
        lines,
        [
            "[Slice]".to_string(),
            format!("MemoryMax={}", str_of(limits, "memory_max")),
            format!("TasksMax={}", str_of(limits, "tasks_max")),
        ],
        "{conf}"
    );
    let slices: Vec<_> = fs::read_dir(&systemd_dir).unwrap().collect();
    assert_eq!(
        slices.len(),
        1,
        "only the shell user has limits: {slices:?}"
    );
    let recorded = fs::read_dir(root.state_dir().join("jails"))
        .unwrap()
        .map(|e| fs::read_to_string(e.unwrap().path()).unwrap())
        .any(|t| t.contains("\"limits\"") && t.contains(shell.name()));
    assert!(recorded, "the limits are not recorded in the jail's state");

    // the sftp-only user: no shell, but an upload with the key of keys/upload1.pub
    let upload = &reserved[1];
    let files_jail = PathBuf::from(&local.jails[str_of(&ex_users[1], "jail")]);
    let mut ssh = srv.ssh_client(upload.name(), &keypairs[1].0);
    ssh.arg("id");
    let out = run(&mut ssh);
    assert!(
        !out.status.success()
            && format!("{}{}", text(&out.stdout), text(&out.stderr))
                .contains("This service allows sftp connections only."),
        "{}",
        common::describe(&ssh, &out)
    );
    let local_file = root.path().join("upload.txt");
    let payload = format!("uploaded by {} through the example spec\n", upload.name());
    fs::write(&local_file, &payload).unwrap();
    let batch = root.path().join("batch");
    fs::write(
        &batch,
        format!(
            "put {} /home/{}/upload.txt\n",
            local_file.display(),
            upload.name()
        ),
    )
    .unwrap();
    let mut sftp = srv.sftp_client(upload.name(), &keypairs[1].0, &batch);
    let out = run(&mut sftp);
    assert!(
        out.status.success(),
        "{}\n{}",
        common::describe(&sftp, &out),
        srv.log()
    );
    let landed = files_jail.join(format!("home/{}/upload.txt", upload.name()));
    assert_eq!(fs::read_to_string(&landed).unwrap(), payload);
    let owner = upload
        .lookup()
        .expect("the sftp user was created")
        .uid
        .as_raw();
    assert_eq!(fs::metadata(&landed).unwrap().uid(), owner);

    // delete_account: once the sftp user is dropped from the spec, a run with --prune
    // removes the account too (after its sftp session has ended: apply refuses while one runs)
    let deadline = Instant::now() + Duration::from_secs(10);
    while !common::pids_of_uid(owner).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the sftp session of {} did not end",
            upload.name()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut pruned = spec_table.clone();
    let kept: Vec<toml::Value> = array(&spec_table, "user")[..1].to_vec();
    pruned.insert("user".into(), kept.into());
    fs::write(&spec, toml::to_string(&pruned).unwrap()).unwrap();
    let (_, changed, _, out) = play.run(&["-e", "jailsmith_prune=true"]);
    assert!(changed > 0, "the prune run changed nothing:\n{out}");
    assert!(
        upload.lookup().is_none(),
        "delete_account = true, yet {} is still an account after --prune:\n{out}",
        upload.name()
    );
    // The sftp user was the last member of its jail's sftp-only group: that block went with
    // it; the shell user's block stays.
    let dropins: Vec<String> = fs::read_dir(srv.dropin_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !sshd::jail_block(srv.dropin_dir(), &files_jail, true).exists()
            && sshd::jailing_block(srv.dropin_dir(), &shell_jail, shell.name()).exists(),
        "{dropins:?}"
    );
    assert!(shell.lookup().is_some(), "the shell user was pruned too");
}

/// The role's filter that lists the key files to copy beside the spec: relative paths only
/// (key texts and absolute host paths are not copied), each once, and `..` refused so
/// nothing is written outside the spec's directory on the host.
#[test]
fn role_lists_relative_key_files_and_refuses_dotdot() {
    let test = "role_lists_relative_key_files_and_refuses_dotdot";
    let Some(venv) = venv(test) else {
        return;
    };
    let plugins = repo().join("packaging/ansible/roles/jailsmith/filter_plugins");
    let script = r#"
import sys
sys.path.insert(0, sys.argv[1])
from jailsmith_spec import jailsmith_key_files
from ansible.errors import AnsibleFilterError
spec = '''
[[user]]
name = "a"
keys = ["ssh-ed25519 AAAA a@x", "keys/a.pub", "/etc/keys/a.pub", "keys/a.pub"]
[[user]]
name = "b"
keys = ["b.pub", "sub/dir/b.pub"]
'''
print(jailsmith_key_files(spec))
try:
    jailsmith_key_files('[[user]]\nname = "c"\nkeys = ["keys/../../etc/c.pub"]\n', "spec.toml")
    print("accepted")
except AnsibleFilterError as e:
    print("refused:", e)
"#;
    let mut py = Command::new(venv.join("bin/python"));
    py.arg("-c").arg(script).arg(&plugins);
    let out = common::run_ok(&mut py);
    let said = text(&out.stdout);
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(
        lines[0], "['keys/a.pub', 'b.pub', 'sub/dir/b.pub']",
        "{said}"
    );
    assert!(
        lines[1].starts_with("refused: spec.toml: user c: key file keys/../../etc/c.pub leaves"),
        "{said}"
    );
}
