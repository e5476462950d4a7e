//! `jailsmith apply SPEC.toml` against a private sshd: a dry run writes nothing; apply
//! builds the jail and jails the users (drop-in, key file, jail passwd line, ssh login); a
//! second run reports `changed: false` and writes nothing; `--prune` takes out a user the
//! spec dropped (host account kept); invalid specs are refused with file:line before any
//! write; a jail's dry run names, step by step, what its real run does, and follows no
//! planted symlink. Every path (sshd config, drop-ins, keys, state) belongs to the test.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::sshd::{self, PrivateSshd};
use common::{ReservedUser, TestRoot, run, snapshot, text};

struct Setup {
    root: TestRoot,
    srv: PrivateSshd,
    jail: PathBuf,
    keys_dir: PathBuf,
    state_dir: PathBuf,
}

impl Setup {
    fn new(test: &str) -> Self {
        let root = TestRoot::new(test);
        let srv = PrivateSshd::start(None);
        Self {
            jail: root.jail("jail"),
            keys_dir: root.path().join("authorized_keys"),
            state_dir: root.state_dir(),
            root,
            srv,
        }
    }

    fn apply(&self, spec: &Path, extra: &[&str]) -> Command {
        let mut c = common::bin();
        c.arg("apply")
            .arg(spec)
            .arg("--json")
            .args(crate::user_support::sshd_paths(
                &self.srv,
                &self.keys_dir,
                &self.state_dir,
            ))
            .arg("--systemd-dir")
            .arg(self.root.path().join("systemd"))
            .arg("--unit-dir")
            .arg(self.root.path().join("units"))
            .args(extra);
        c
    }

    /// The directories apply writes to: the jail, the drop-ins, the keys and the state.
    fn watched(&self) -> [&Path; 4] {
        [
            self.jail.as_path(),
            self.srv.dropin_dir(),
            self.keys_dir.as_path(),
            self.state_dir.as_path(),
        ]
    }

    /// Runs apply; panics unless it exits 0; returns its JSON outcome.
    fn run_json(&self, cmd: &mut Command) -> serde_json::Value {
        let out = run(cmd);
        assert!(
            out.status.success(),
            "{}\n{}",
            common::describe(cmd, &out),
            self.srv.log()
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", text(&out.stdout)))
    }

    fn listening(&self) -> usize {
        self.srv.log().matches("Server listening on").count()
    }

    fn wait_listening(&self, before: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.listening() <= before {
            assert!(
                Instant::now() < deadline,
                "sshd did not listen again after apply reloaded it\n{}",
                self.srv.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The sshd block that jails `name` here (a path that does not exist when none does).
    fn dropin(&self, name: &str) -> PathBuf {
        sshd::jailing_block(self.srv.dropin_dir(), &self.jail, name)
    }
}

fn actions(v: &serde_json::Value) -> Vec<(String, String, String)> {
    v["actions"]
        .as_array()
        .expect("actions is an array")
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_string(),
                a["name"].as_str().unwrap().to_string(),
                a["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn spec_text(jail: &Path, users: &[(&str, &str)]) -> String {
    let mut s = format!(
        "# written by the apply_spec test\n[[jail]]\npath = \"{}\"\nbins = [\"bash\", \"id\"]\n",
        jail.display()
    );
    for (name, key) in users {
        s.push_str(&format!(
            "\n[[user]]\nname = \"{name}\"\njail = \"{}\"\ncreate = true\nkeys = [\"{key}\"]\n",
            jail.display()
        ));
    }
    s
}

#[test]
fn apply_creates_is_idempotent_and_prunes() {
    if !sshd::available("apply_creates_is_idempotent_and_prunes") {
        return;
    }
    let s = Setup::new("apply_creates_is_idempotent_and_prunes");
    let alice = ReservedUser::new();
    let bob = ReservedUser::new();
    let client = s.root.dir("client");
    let (key, key_pub) = sshd::client_keypair(&client);
    let key_text = fs::read_to_string(&key_pub).unwrap().trim().to_string();
    let spec = s.root.path().join("spec.toml");
    // alice's key as a file path relative to the spec, bob's as a key text
    let rel = key_pub
        .strip_prefix(s.root.path())
        .unwrap()
        .display()
        .to_string();
    fs::write(
        &spec,
        spec_text(&s.jail, &[(alice.name(), &rel), (bob.name(), &key_text)]),
    )
    .unwrap();

    // --dry-run writes nothing, and says what it would do
    let dry = s.run_json(&mut s.apply(&spec, &["--dry-run"]));
    assert_eq!(dry["changed"], true, "{dry}");
    let acts = actions(&dry);
    assert!(
        acts.contains(&("jail".into(), s.jail.display().to_string(), "create".into())),
        "{dry}"
    );
    assert!(
        acts.contains(&("user".into(), alice.name().into(), "create".into())),
        "{dry}"
    );
    assert!(!s.jail.exists(), "a dry run created the jail");
    assert!(
        !s.state_dir.exists(),
        "a dry run created the state directory"
    );
    assert!(!s.dropin(alice.name()).exists());
    assert!(alice.lookup().is_none(), "a dry run created an account");

    // apply: jail built, users created and jailed, sshd reloaded once
    let before = s.listening();
    let first = s.run_json(&mut s.apply(&spec, &[]));
    assert_eq!(first["changed"], true, "{first}");
    let acts = actions(&first);
    assert!(
        acts.contains(&("jail".into(), s.jail.display().to_string(), "create".into())),
        "{first}"
    );
    for u in [alice.name(), bob.name()] {
        assert!(
            acts.contains(&("user".into(), u.into(), "create".into())),
            "{first}"
        );
    }
    assert_eq!(
        acts.iter().filter(|a| a.0 == "sshd").count(),
        1,
        "one reload: {first}"
    );
    s.wait_listening(before);
    assert!(s.jail.join("bin/bash").exists() || s.jail.join("usr/bin/bash").exists());
    let passwd = fs::read_to_string(s.jail.join("etc/passwd")).unwrap();
    for u in [alice.name(), bob.name()] {
        assert!(alice.lookup().is_some());
        assert!(
            passwd.lines().any(|l| l.starts_with(&format!("{u}:"))),
            "{passwd}"
        );
        let dropin = fs::read_to_string(s.dropin(u)).unwrap();
        assert!(dropin.contains(&s.jail.display().to_string()), "{dropin}");
        let keys = fs::read_to_string(s.keys_dir.join(u)).unwrap();
        assert!(
            keys.contains(key_text.split_whitespace().nth(1).unwrap()),
            "{keys}"
        );
    }
    let mut ssh = s.srv.ssh_client(alice.name(), &key);
    ssh.arg("id -un; echo /*");
    let out = run(&mut ssh);
    assert!(
        out.status.success(),
        "{}\n{}",
        common::describe(&ssh, &out),
        s.srv.log()
    );
    assert!(
        text(&out.stdout).starts_with(alice.name()),
        "{}",
        text(&out.stdout)
    );

    // second run: nothing changed, nothing written, nothing reloaded
    let watched = s.watched();
    let snap = snapshot(&watched);
    let listening = s.listening();
    let second = s.run_json(&mut s.apply(&spec, &[]));
    assert_eq!(second["changed"], false, "{second}");
    assert!(actions(&second).is_empty(), "{second}");
    let after = snapshot(&watched);
    let differs: Vec<_> = after
        .iter()
        .filter(|(p, v)| snap.get(*p) != Some(v))
        .map(|(p, _)| p.display().to_string())
        .chain(
            snap.keys()
                .filter(|p| !after.contains_key(*p))
                .map(|p| p.display().to_string()),
        )
        .collect();
    assert!(differs.is_empty(), "the second run wrote: {differs:?}");
    s.srv.wait_settled();
    assert_eq!(s.listening(), listening, "the second run reloaded sshd");
    let dry = s.run_json(&mut s.apply(&spec, &["--dry-run"]));
    assert_eq!(dry["changed"], false, "{dry}");

    // bob leaves the spec: without --prune he stays; with --prune he goes, account kept
    fs::write(&spec, spec_text(&s.jail, &[(alice.name(), &rel)])).unwrap();
    let kept = s.run_json(&mut s.apply(&spec, &[]));
    assert_eq!(kept["changed"], false, "{kept}");
    assert!(s.dropin(bob.name()).exists());
    // bob leaves the jail's group; alice still needs its block: sshd is not reloaded
    let block = s.dropin(alice.name());
    let block_before = fs::symlink_metadata(&block).unwrap().modified().unwrap();
    let pruned = s.run_json(&mut s.apply(&spec, &["--prune"]));
    assert_eq!(pruned["changed"], true, "{pruned}");
    assert!(
        actions(&pruned).contains(&("user".into(), bob.name().into(), "remove".into())),
        "{pruned}"
    );
    assert!(
        !actions(&pruned).iter().any(|a| a.0 == "sshd"),
        "pruning one of two users reloaded sshd: {pruned}"
    );
    assert_eq!(
        fs::symlink_metadata(&block).unwrap().modified().unwrap(),
        block_before
    );
    assert!(
        !s.dropin(bob.name()).exists(),
        "bob is still in the jail's group"
    );
    assert!(
        !s.keys_dir.join(bob.name()).exists(),
        "bob's key file is still there"
    );
    let passwd = fs::read_to_string(s.jail.join("etc/passwd")).unwrap();
    assert!(
        !passwd
            .lines()
            .any(|l| l.starts_with(&format!("{}:", bob.name()))),
        "{passwd}"
    );
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with(&format!("{}:", alice.name()))),
        "{passwd}"
    );
    assert!(
        bob.lookup().is_some(),
        "prune deleted a host account without delete_account"
    );
    assert!(s.dropin(alice.name()).exists());
    let again = s.run_json(&mut s.apply(&spec, &["--prune"]));
    assert_eq!(again["changed"], false, "{again}");
}

#[test]
fn a_prune_dry_run_of_every_user_of_a_jail_plans_what_the_real_prune_does() {
    if !sshd::available("a_prune_dry_run_of_every_user_of_a_jail_plans_what_the_real_prune_does") {
        return;
    }
    let s = Setup::new("a_prune_dry_run_of_every_user_of_a_jail_plans_what_the_real_prune_does");
    let (alice, bob) = (ReservedUser::new(), ReservedUser::new());
    let (_, key_pub) = sshd::client_keypair(&s.root.dir("client"));
    let key_text = fs::read_to_string(&key_pub).unwrap().trim().to_string();
    let spec = s.root.path().join("spec.toml");
    fs::write(
        &spec,
        spec_text(
            &s.jail,
            &[(alice.name(), &key_text), (bob.name(), &key_text)],
        ),
    )
    .unwrap();
    s.run_json(&mut s.apply(&spec, &[]));
    // both leave the spec: the last one out takes the jail's group and its sshd block with
    // it, so the real prune reloads sshd; the dry run must plan that too
    fs::write(&spec, spec_text(&s.jail, &[])).unwrap();
    let watched = s.watched();
    let snap = snapshot(&watched);
    let dry = s.run_json(&mut s.apply(&spec, &["--prune", "--dry-run"]));
    assert_eq!(snapshot(&watched), snap, "the dry run wrote");
    let real = s.run_json(&mut s.apply(&spec, &["--prune"]));
    assert!(
        actions(&real).iter().any(|a| a.0 == "sshd"),
        "the last user out did not reload sshd: {real}"
    );
    assert_eq!(actions(&dry), actions(&real), "dry {dry}\nreal {real}");
    // each user's host operations, as data: the dry run's are the real run's
    let plans = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "user")
            .map(|a| a["plan"].clone())
            .collect()
    };
    assert!(
        plans(&real)
            .iter()
            .all(|p| p.as_array().is_some_and(|p| !p.is_empty())),
        "{real}"
    );
    assert_eq!(plans(&dry), plans(&real));
}

#[test]
fn invalid_specs_are_refused_before_any_write() {
    let root = TestRoot::new("invalid_specs_are_refused_before_any_write");
    let state = root.state_dir();
    let jail = root.jail("jail");
    let keys = root.path().join("keys");
    let dropins = root.dir("dropins");
    let cases: &[(&str, String, &str)] = &[
        (
            "unknown field",
            format!(
                "[[jail]]\npath = \"{}\"\nbins = [\"bash\"]\ncolour = \"red\"\n",
                jail.display()
            ),
            ":4:",
        ),
        (
            "undeclared jail",
            format!(
                "[[jail]]\npath = \"{}\"\nbins = [\"bash\"]\n\n[[user]]\nname = \"jsttnope\"\njail = \"/srv/elsewhere\"\nkeys = [\"ssh-ed25519 AAAA x\"]\n",
                jail.display()
            ),
            ":7:",
        ),
        (
            "duplicate user",
            format!(
                "[[jail]]\npath = \"{0}\"\nbins = [\"bash\"]\n[[user]]\nname = \"jsttdup\"\njail = \"{0}\"\nkeys = [\"k\"]\n[[user]]\nname = \"jsttdup\"\njail = \"{0}\"\nkeys = [\"k\"]\n",
                jail.display()
            ),
            ":9:",
        ),
        ("bad toml", "[[jail]\npath = 1\n".to_string(), ":1:"),
        (
            "relative jail",
            "[[jail]]\npath = \"srv/j\"\nbins = [\"bash\"]\n".to_string(),
            ":2:",
        ),
        (
            "bad limit",
            format!(
                "[[jail]]\npath = \"{0}\"\nbins = [\"bash\"]\n[[user]]\nname = \"jsttlim\"\njail = \"{0}\"\nkeys = [\"k\"]\n[user.limits]\nmemory_max = \"lots\"\n",
                jail.display()
            ),
            ":8:",
        ),
    ];
    for (what, body, line) in cases {
        let spec = root.path().join("spec.toml");
        fs::write(&spec, body).unwrap();
        let mut c = common::bin();
        c.arg("apply")
            .arg(&spec)
            .arg("--state-dir")
            .arg(&state)
            .arg("--authorized-keys-dir")
            .arg(&keys)
            .arg("--sshd-config-dir")
            .arg(&dropins)
            .arg("--sshd-config")
            .arg(root.path().join("no_sshd_config"));
        let out = run(&mut c);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{what}: {}",
            common::describe(&c, &out)
        );
        let err = text(&out.stderr);
        let located = format!("{}{line}", spec.display());
        assert!(err.contains(&located), "{what}: wants {located} in:\n{err}");
        assert!(out.stdout.is_empty(), "{what}: {}", text(&out.stdout));
        assert!(
            !state.exists() && !jail.exists() && !keys.exists(),
            "{what}: something was written"
        );
        assert_eq!(fs::read_dir(&dropins).unwrap().count(), 0, "{what}");
    }
}

#[test]
fn apply_writes_a_service_once_and_prunes_its_unit() {
    if !common::require_root("apply_writes_a_service_once_and_prunes_its_unit") {
        return;
    }
    let root = TestRoot::new("apply_writes_a_service_once_and_prunes_its_unit");
    let account = ReservedUser::new();
    let jail = root.jail("svcjail");
    let units = root.dir("units");
    let state = root.state_dir();
    let name = format!("{}-svc", account.name());
    let spec = root.path().join("spec.toml");
    fs::write(
        &spec,
        format!(
            "[[service]]\nname = \"{name}\"\njail = \"{}\"\nexec = \"sleep 1000\"\nuser = \"{}\"\ncreate_user = true\n[service.limits]\ntasks_max = \"16\"\n",
            jail.display(),
            account.name()
        ),
    )
    .unwrap();
    let apply = |extra: &[&str]| {
        let mut c = common::bin();
        c.arg("apply")
            .arg(&spec)
            .arg("--json")
            .arg("--state-dir")
            .arg(&state)
            .arg("--unit-dir")
            .arg(&units)
            .arg("--no-reload")
            .args(extra);
        let out = run(&mut c);
        assert!(out.status.success(), "{}", common::describe(&c, &out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v
    };
    let first = apply(&[]);
    assert_eq!(first["changed"], true, "{first}");
    assert!(
        actions(&first).contains(&("service".into(), name.clone(), "create".into())),
        "{first}"
    );
    let unit = units.join(format!("{name}.service"));
    let text_of_unit = fs::read_to_string(&unit).unwrap();
    assert!(
        text_of_unit.contains(&format!("RootDirectory={}", jail.display())),
        "{text_of_unit}"
    );
    assert!(text_of_unit.contains("TasksMax=16"), "{text_of_unit}");
    assert!(account.lookup().is_some());

    let watched = [jail.as_path(), units.as_path(), state.as_path()];
    let snap = snapshot(&watched);
    let second = apply(&[]);
    assert_eq!(second["changed"], false, "{second}");
    let after = snapshot(&watched);
    let differs: Vec<_> = after
        .iter()
        .filter(|(p, v)| snap.get(*p) != Some(v))
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert!(differs.is_empty(), "the second run wrote: {differs:?}");

    fs::write(&spec, "# nothing any more\n").unwrap();
    let pruned = apply(&["--prune"]);
    assert!(
        actions(&pruned).contains(&("service".into(), name.clone(), "remove".into())),
        "{pruned}"
    );
    assert!(!unit.exists(), "the unit is still there");
    assert!(
        account.lookup().is_some(),
        "prune deleted the service account"
    );
    let again = apply(&["--prune"]);
    assert_eq!(again["changed"], false, "{again}");
}

/// The dry run's outcome, then the real run's; the dry run must leave `watched` as it was.
fn dry_then_real(
    spec: &Path,
    state: &Path,
    watched: &[&Path],
) -> (serde_json::Value, serde_json::Value) {
    let before = snapshot(watched);
    let dry = common::apply_json(spec, state, &["--dry-run"]);
    assert_eq!(snapshot(watched), before, "the dry run wrote: {dry}");
    (dry, common::apply_json(spec, state, &[]))
}

/// The one action of an outcome: the jail's, with its action and its plan's steps.
fn jail_action(v: &serde_json::Value, jail: &Path) -> (String, Vec<serde_json::Value>) {
    let acts = v["actions"].as_array().expect("actions is an array");
    assert_eq!(acts.len(), 1, "{v}");
    let a = &acts[0];
    assert_eq!(a["kind"], "jail", "{v}");
    assert_eq!(a["name"], jail.display().to_string(), "{v}");
    let plan = a["plan"]
        .as_array()
        .unwrap_or_else(|| panic!("no plan: {v}"));
    (a["action"].as_str().unwrap().to_string(), plan.clone())
}

/// A spec of one jail holding `bins` and the host `files`.
fn jail_spec(jail: &Path, bins: &[&str], files: &[&Path]) -> String {
    let quoted = |items: Vec<String>| {
        let q: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
        q.join(", ")
    };
    let bins = quoted(bins.iter().map(|b| b.to_string()).collect());
    let files = quoted(files.iter().map(|f| f.display().to_string()).collect());
    format!(
        "[[jail]]\npath = \"{}\"\nbins = [{bins}]\nfiles = [{files}]\n",
        jail.display()
    )
}

/// True when `plan` copies the host file `path` to the same path in the jail.
fn copies(plan: &[serde_json::Value], path: &Path) -> bool {
    plan.iter()
        .any(|s| s["op"] == "copy_file" && s["path"] == path.display().to_string())
}

/// apply's jail action as data: the dry run plans the jail and names, step by step, what
/// the real run then does: the steps of a program the spec gained, a host source that
/// changed and a copy in the jail that drifted; once converged, neither has a jail action.
#[test]
fn a_jail_dry_run_names_the_steps_the_real_run_performs() {
    let name = "a_jail_dry_run_names_the_steps_the_real_run_performs";
    if !common::require_root(name) {
        return;
    }
    let root = TestRoot::new(name);
    let (jail, state) = (root.jail("jail"), root.state_dir());
    let data = root.dir("data");
    let (motd, issue) = (data.join("motd"), data.join("issue"));
    common::write_file(&motd, "one\n", 0o644);
    common::write_file(&issue, "hello\n", 0o644);
    let spec = root.path().join("spec.toml");
    let write_spec = |bins: &[&str]| fs::write(&spec, jail_spec(&jail, bins, &[&motd, &issue]));
    write_spec(&["id"]).unwrap();
    let first = common::apply_json(&spec, &state, &[]);
    assert_eq!(jail_action(&first, &jail).0, "create");
    let watched = [jail.as_path(), state.as_path()];

    // the spec gains a program: the dry run's steps are the real run's
    write_spec(&["id", "ls"]).unwrap();
    let (dry, real) = dry_then_real(&spec, &state, &watched);
    let (verb, plan) = jail_action(&dry, &jail);
    assert_eq!(verb, "update");
    assert!(
        plan.iter()
            .any(|s| s["op"] == "copy_file"
                && s["path"].as_str().is_some_and(|p| p.ends_with("/ls"))),
        "the dry run does not copy ls: {dry}"
    );
    assert!(
        !copies(&plan, &motd),
        "an unchanged file would be copied: {dry}"
    );
    let details = dry["actions"][0]["details"][0].as_str().unwrap();
    assert!(details.ends_with("to add, 0 to update"), "{dry}");
    assert_eq!(
        jail_action(&real, &jail),
        (verb, plan),
        "dry {dry}\nreal {real}"
    );

    // a host source changed, and the jail's copy of another file drifted
    common::write_file(&motd, "two, longer\n", 0o644);
    let inside = |p: &Path| jail.join(p.strip_prefix("/").unwrap());
    fs::write(inside(&issue), "changed in the jail\n").unwrap();
    let (dry, real) = dry_then_real(&spec, &state, &watched);
    let (verb, plan) = jail_action(&dry, &jail);
    assert!(copies(&plan, &motd) && copies(&plan, &issue), "{dry}");
    assert_eq!(plan.len(), 2, "only the two files would change: {dry}");
    assert_eq!(
        jail_action(&real, &jail),
        (verb, plan),
        "dry {dry}\nreal {real}"
    );
    assert_eq!(fs::read_to_string(inside(&motd)).unwrap(), "two, longer\n");
    assert_eq!(fs::read_to_string(inside(&issue)).unwrap(), "hello\n");

    // converged: neither run has a jail action
    let again = common::apply_json(&spec, &state, &[]);
    assert_eq!(again["changed"], false, "{again}");
    let dry = common::apply_json(&spec, &state, &["--dry-run"]);
    assert_eq!(dry["changed"], false, "{dry}");
    assert_eq!(dry["actions"], serde_json::json!([]), "{dry}");
}

#[test]
fn prune_removes_only_the_jails_apply_built() {
    if !common::require_root("prune_removes_only_the_jails_apply_built") {
        return;
    }
    let root = TestRoot::new("prune_removes_only_the_jails_apply_built");
    let state = root.state_dir();
    let mine = root.jail("mine");
    let theirs = root.jail("theirs");
    // a jail built by hand with `jailsmith build`, in the same state directory
    let mut build = common::bin();
    build
        .arg("build")
        .arg(&theirs)
        .args(["--bin", "id", "--state-dir"])
        .arg(&state);
    common::run_ok(&mut build);
    let spec = root.path().join("spec.toml");
    fs::write(
        &spec,
        format!("[[jail]]\npath = \"{}\"\nbins = [\"id\"]\n", mine.display()),
    )
    .unwrap();
    let apply = |extra: &[&str]| common::apply_json(&spec, &state, extra);
    let first = apply(&["--prune"]);
    assert_eq!(
        actions(&first),
        [(
            "jail".to_string(),
            mine.display().to_string(),
            "create".to_string()
        )],
        "{first}"
    );
    assert!(mine.join("etc/passwd").exists());

    fs::write(&spec, "# no jails\n").unwrap();
    let dry = apply(&["--prune", "--dry-run"]);
    assert!(
        actions(&dry).contains(&("jail".into(), mine.display().to_string(), "remove".into())),
        "{dry}"
    );
    assert!(
        mine.join("etc/passwd").exists(),
        "the dry run removed files"
    );
    let pruned = apply(&["--prune"]);
    assert_eq!(
        actions(&pruned),
        [(
            "jail".to_string(),
            mine.display().to_string(),
            "remove".to_string()
        )],
        "{pruned}"
    );
    assert!(
        !mine.join("etc/passwd").exists(),
        "the pruned jail still has its files"
    );
    assert!(
        theirs.join("etc/passwd").exists(),
        "prune touched a jail apply did not build"
    );
    let states: Vec<_> = fs::read_dir(state.join("jails"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(
        states.len(),
        1,
        "the hand-built jail's state must stay: {states:?}"
    );
    assert!(states[0].contains("theirs"), "{states:?}");
    let again = apply(&["--prune"]);
    assert_eq!(again["changed"], false, "{again}");
}

#[test]
fn sshd_config_without_the_dropins_is_refused_before_any_write() {
    if !common::require_root("sshd_config_without_the_dropins_is_refused_before_any_write") {
        return;
    }
    let root = TestRoot::new("sshd_config_without_the_dropins_is_refused_before_any_write");
    let jail = root.jail("jail");
    let state = root.state_dir();
    let main = root.path().join("sshd_config");
    fs::write(&main, "Port 2222\n").unwrap();
    let dropins = root.dir("dropins");
    let spec = root.path().join("spec.toml");
    fs::write(
        &spec,
        spec_text(&jail, &[("jsttnoinclude", "ssh-ed25519 AAAA x")]),
    )
    .unwrap();
    let mut c = common::bin();
    c.arg("apply")
        .arg(&spec)
        .arg("--state-dir")
        .arg(&state)
        .arg("--sshd-config")
        .arg(&main)
        .arg("--sshd-config-dir")
        .arg(&dropins)
        .arg("--authorized-keys-dir")
        .arg(root.path().join("keys"));
    let out = run(&mut c);
    assert_eq!(out.status.code(), Some(5), "{}", common::describe(&c, &out));
    assert!(
        text(&out.stderr).contains("Include"),
        "{}",
        text(&out.stderr)
    );
    assert!(!jail.exists() && !state.exists(), "something was written");
}

/// A jail holding `id` and a host file (`motd`, a file of the test's own), converged by a
/// first `apply`; `inside` is the file's copy in the jail.
struct Converged {
    root: TestRoot,
    jail: PathBuf,
    state: PathBuf,
    motd: PathBuf,
    spec: PathBuf,
    inside: PathBuf,
}

impl Converged {
    fn new(name: &str) -> Self {
        let root = TestRoot::new(name);
        let (jail, state) = (root.jail("jail"), root.state_dir());
        let motd = root.dir("data").join("motd");
        common::write_file(&motd, "one\n", 0o644);
        let spec = root.path().join("spec.toml");
        fs::write(&spec, jail_spec(&jail, &["id"], &[&motd])).unwrap();
        common::apply_json(&spec, &state, &[]);
        let inside = jail.join(motd.strip_prefix("/").unwrap());
        Converged {
            root,
            jail,
            state,
            motd,
            spec,
            inside,
        }
    }
}

/// Runs `apply SPEC --dry-run`, then `apply SPEC`; both must be refused (exit 4). Returns
/// their stderr, the dry run's first.
fn refused_dry_and_real(spec: &Path, state: &Path) -> Vec<String> {
    let mut said = Vec::new();
    for extra in [&["--dry-run"][..], &[][..]] {
        let mut c = common::bin();
        c.arg("apply")
            .arg(spec)
            .arg("--state-dir")
            .arg(state)
            .args(extra);
        let out = run(&mut c);
        assert_eq!(out.status.code(), Some(4), "{}", common::describe(&c, &out));
        said.push(text(&out.stderr));
    }
    said
}

/// A placed directory whose mode was loosened and a placed copy given to another owner (no
/// size or mtime changed): the real run puts both right, and its dry run, judging each
/// step as the executor does, names exactly those two steps.
#[test]
fn a_jail_dry_run_names_an_owner_and_a_mode_the_real_run_puts_right() {
    let name = "a_jail_dry_run_names_an_owner_and_a_mode_the_real_run_puts_right";
    if !common::require_root(name) {
        return;
    }
    let c = Converged::new(name);
    let (jail, state, spec, inside) = (&c.jail, &c.state, &c.spec, &c.inside);
    let dir = inside.parent().unwrap().to_path_buf();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    std::os::unix::fs::lchown(inside, Some(4242), Some(4242)).unwrap();

    let before = snapshot(&[jail.as_path(), state.as_path()]);
    let dry = common::apply_json(spec, state, &["--dry-run"]);
    assert_eq!(
        snapshot(&[jail.as_path(), state.as_path()]),
        before,
        "{dry}"
    );
    let (verb, dry_plan) = jail_action(&dry, jail);
    assert_eq!(verb, "update");
    let named: Vec<(String, String)> = dry_plan
        .iter()
        .map(|s| {
            (
                s["op"].as_str().unwrap().into(),
                s["path"].as_str().unwrap().into(),
            )
        })
        .collect();
    let in_jail = |p: &Path| Path::new("/").join(p.strip_prefix(jail).unwrap());
    assert_eq!(
        named,
        [
            ("make_dir".to_string(), in_jail(&dir).display().to_string()),
            (
                "copy_file".to_string(),
                in_jail(inside).display().to_string()
            ),
        ],
        "{dry}"
    );
    let real = common::apply_json(spec, state, &[]);
    let (_, real_plan) = jail_action(&real, jail);
    assert_eq!(real_plan, dry_plan, "{real}");
    let (m, f) = (fs::metadata(&dir).unwrap(), fs::metadata(inside).unwrap());
    assert_eq!((m.mode() & 0o777, f.uid()), (0o755, 0), "put right");
}

/// A placed copy replaced by a symlink to a host file: the real run refuses to replace a
/// link it did not make (exit 4, naming the path), and its dry run, judging each step as
/// the executor does, refuses with the same words; both follow nothing, write nothing, and
/// the host file is untouched.
#[test]
fn a_jail_dry_run_over_a_planted_symlink_is_refused_as_the_real_run_is() {
    let name = "a_jail_dry_run_over_a_planted_symlink_is_refused_as_the_real_run_is";
    if !common::require_root(name) {
        return;
    }
    let c = Converged::new(name);
    let (jail, state, spec, inside, motd) = (&c.jail, &c.state, &c.spec, &c.inside, &c.motd);
    let canary = common::Canary::new(&c.root.dir("host").join("canary"), "host data\n");
    fs::remove_file(inside).unwrap();
    std::os::unix::fs::symlink(canary.path(), inside).unwrap();

    let before = snapshot(&[jail.as_path(), state.as_path()]);
    let mut said = Vec::new();
    for err in refused_dry_and_real(spec, state) {
        let refusal = err
            .lines()
            .find(|l| l.contains("refusing to follow the symlink"))
            .unwrap_or_else(|| panic!("no refusal: {err}"))
            .to_string();
        assert!(refusal.contains(motd.to_str().unwrap()), "{err}");
        said.push(refusal);
        canary.assert_unchanged("apply over a planted symlink");
    }
    assert_eq!(said[0], said[1], "the dry run's refusal is the real run's");
    assert_eq!(
        snapshot(&[jail.as_path(), state.as_path()]),
        before,
        "the dry run and the refused real run wrote nothing"
    );
    assert_eq!(
        fs::read_link(inside).unwrap(),
        canary.path(),
        "the link is kept"
    );
}

/// A `[[jail]]` at a directory that is not empty and not a jailsmith jail: apply refuses it
/// (exit 4, naming what is there and `--adopt`), its dry run as its real run, and writes
/// nothing.
#[test]
fn a_jail_at_a_foreign_directory_is_refused_by_the_dry_run_too() {
    let name = "a_jail_at_a_foreign_directory_is_refused_by_the_dry_run_too";
    if !common::require_root(name) {
        return;
    }
    let root = TestRoot::new(name);
    let (jail, state) = (root.jail("jail"), root.state_dir());
    common::make_dir(&jail.join("projects"), 0o755);
    common::write_file(&jail.join("projects/a.txt"), "data\n", 0o644);
    let spec = root.path().join("spec.toml");
    fs::write(&spec, jail_spec(&jail, &["id"], &[])).unwrap();
    let before = snapshot(&[jail.as_path()]);
    for err in refused_dry_and_real(&spec, &state) {
        assert!(err.contains("projects") && err.contains("--adopt"), "{err}");
    }
    assert_eq!(
        snapshot(&[jail.as_path()]),
        before,
        "apply wrote in the jail"
    );
    assert!(!state.join("jails").exists(), "a jail state was written");
}
