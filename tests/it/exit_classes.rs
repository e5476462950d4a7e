//! Issue 15, typed exit classes: the same failure exits with the same code whichever command
//! meets it (an unreadable state file, a path jailsmith has no state for, a jail path that
//! does not exist, a missing account, a bind source, an unreadable sshd config), and the
//! error names what failed once.

use crate::common;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use common::{TestRoot, bin, require_root, run, run_ok, text};

/// Where a test's jail, state, keys and sshd files live (nothing of the host's).
struct Site {
    t: TestRoot,
    jail: PathBuf,
    state: PathBuf,
    keys: PathBuf,
    dropins: PathBuf,
    sshd_config: PathBuf,
    /// A client key pair: `verify` takes the private half, `user` the public one.
    private: PathBuf,
    key: PathBuf,
}

impl Site {
    fn new() -> Self {
        let t = TestRoot::for_current_test();
        let (jail, state) = (t.jail("jail"), t.state_dir());
        let (keys, dropins) = (t.dir("keys"), t.dir("dropins"));
        let sshd_config = t.path().join("sshd_config");
        fs::write(
            &sshd_config,
            format!("Include {}/*.conf\n", dropins.display()),
        )
        .unwrap();
        let (private, key) = common::sshd::client_keypair(&t.path().join("client"));
        Site {
            t,
            jail,
            state,
            keys,
            dropins,
            sshd_config,
            private,
            key,
        }
    }

    fn build(&self) {
        run_ok(
            bin()
                .arg("build")
                .arg(&self.jail)
                .args(["--bin", "bash", "--state-dir"])
                .arg(&self.state),
        );
    }

    /// The one state file of the jail.
    fn state_file(&self) -> PathBuf {
        fs::read_dir(self.state.join("jails"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "json"))
            .expect("a jail state file")
    }

    /// `jailsmith SUB ARGS… --state-dir STATE`.
    fn cmd(&self, sub: &str, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Command {
        let mut c = bin();
        c.arg(sub);
        for a in args {
            c.arg(a);
        }
        c.arg("--state-dir").arg(&self.state);
        c
    }

    /// The sshd options of `user`, `destroy` and `apply`: this test's files, no reload.
    fn sshd_opts(&self, c: &mut Command) {
        c.arg("--authorized-keys-dir")
            .arg(&self.keys)
            .arg("--sshd-config-dir")
            .arg(&self.dropins)
            .arg("--sshd-config")
            .arg(&self.sshd_config)
            .arg("--no-reload");
    }

    fn spec(&self, name: &str, body: &str) -> Command {
        let spec = self.t.path().join(name);
        fs::write(&spec, body).unwrap();
        let mut c = self.cmd("apply", &[&spec, &"--dry-run"]);
        self.sshd_opts(&mut c);
        c.arg("--systemd-dir").arg(self.t.dir("systemd"));
        c.arg("--unit-dir").arg(self.t.dir("units"));
        c
    }
}

/// Runs each command, and asserts that every one exits `code` with `needle` on stderr.
fn all_exit(cases: Vec<(&str, Command)>, code: i32, needle: &str) {
    let mut wrong = Vec::new();
    for (what, mut c) in cases {
        let out = run(&mut c);
        let err = text(&out.stderr);
        if out.status.code() != Some(code) || !err.contains(needle) {
            wrong.push(format!("{what}: exit {:?}\n{err}", out.status.code()));
        }
    }
    assert!(
        wrong.is_empty(),
        "expected exit {code} with {needle:?} from every command:\n{}",
        wrong.join("\n")
    );
}

/// Every command that reads the jail's state, pointed at `site`'s jail.
fn state_readers(s: &Site, user: &str) -> Vec<(&'static str, Command)> {
    let j = &s.jail;
    let mut remove = s.cmd("user", &[&user, &"--jail", j, &"--remove", &"--dry-run"]);
    s.sshd_opts(&mut remove);
    let mut destroy = s.cmd("destroy", &[j, &"--dry-run"]);
    s.sshd_opts(&mut destroy);
    vec![
        (
            "build",
            s.cmd("build", &[j, &"--bin", &"bash", &"--dry-run"]),
        ),
        ("user --remove", remove),
        ("users", s.cmd("users", &[&"--jail", j])),
        ("check", s.cmd("check", &[j])),
        ("destroy", destroy),
        (
            "verify",
            s.cmd("verify", &[&user, &"--key", &s.private, &"--jail", j]),
        ),
        ("mount", s.cmd("mount", &[j])),
    ]
}

#[test]
fn an_unreadable_or_corrupt_state_file_is_a_host_failure_in_every_command() {
    if !require_root("an_unreadable_or_corrupt_state_file_is_a_host_failure_in_every_command") {
        return;
    }
    let s = Site::new();
    s.build();
    let file = s.state_file();
    let shown = file.display().to_string();
    let user = common::ReservedUser::new();
    fs::write(&file, "{ not json").unwrap();
    all_exit(state_readers(&s, user.name()), 6, "is corrupt");
    fs::remove_file(&file).unwrap();
    fs::create_dir(&file).unwrap();
    all_exit(
        state_readers(&s, user.name()),
        6,
        &format!("cannot read state {shown}"),
    );
    // The io error is part of the message; it is not printed a second time as a cause.
    let out = run(&mut s.cmd("check", &[&s.jail]));
    let err = text(&out.stderr);
    assert_eq!(err.matches("Is a directory").count(), 1, "{err}");
    fs::remove_dir(&file).unwrap();
}

#[test]
fn a_path_jailsmith_has_no_state_for_is_bad_input_where_a_jail_is_needed() {
    if !require_root("a_path_jailsmith_has_no_state_for_is_bad_input_where_a_jail_is_needed") {
        return;
    }
    let s = Site::new();
    common::make_dir(&s.jail, 0o755);
    let j = &s.jail;
    let mut destroy = s.cmd("destroy", &[j, &"--dry-run"]);
    s.sshd_opts(&mut destroy);
    let cases = vec![
        ("update", s.cmd("update", &[j, &"--dry-run"])),
        ("destroy", destroy),
        ("mount", s.cmd("mount", &[j])),
    ];
    all_exit(cases, 2, "jailsmith has no state for this jail");
}

#[test]
fn a_jail_path_that_does_not_exist_is_bad_input_in_every_command() {
    if !require_root("a_jail_path_that_does_not_exist_is_bad_input_in_every_command") {
        return;
    }
    let s = Site::new();
    let user = common::ReservedUser::new();
    let name = user.name();
    let j = &s.jail;
    let mut add = s.cmd(
        "user",
        &[
            &name,
            &"--create",
            &"--jail",
            j,
            &"--key",
            &s.key,
            &"--dry-run",
        ],
    );
    s.sshd_opts(&mut add);
    let mut destroy = s.cmd("destroy", &[j, &"--dry-run"]);
    s.sshd_opts(&mut destroy);
    let cases = vec![
        ("user", add),
        ("users", s.cmd("users", &[&"--jail", j])),
        ("check", s.cmd("check", &[j])),
        ("update", s.cmd("update", &[j, &"--dry-run"])),
        ("destroy", destroy),
        ("mount", s.cmd("mount", &[j])),
        (
            "verify",
            s.cmd("verify", &[&name, &"--key", &s.private, &"--jail", j]),
        ),
    ];
    all_exit(cases, 2, &j.display().to_string());
    assert!(!j.exists(), "nothing created the jail");
    assert!(user.lookup().is_none(), "the account was not created");
}

#[test]
fn a_missing_account_is_bad_input_in_user_apply_and_verify() {
    if !require_root("a_missing_account_is_bad_input_in_user_apply_and_verify") {
        return;
    }
    let s = Site::new();
    s.build();
    let user = common::ReservedUser::new();
    let name = user.name();
    let mut add = s.cmd("user", &[&name, &"--jail", &s.jail, &"--key", &s.key]);
    s.sshd_opts(&mut add);
    let spec = format!(
        "[[jail]]\npath = \"{0}\"\nbins = [\"bash\"]\n[[user]]\nname = \"{name}\"\njail = \"{0}\"\nkeys = [\"{1}\"]\n",
        s.jail.display(),
        s.key.display()
    );
    let cases = vec![("user", add), ("apply", s.spec("missing.toml", &spec))];
    all_exit(cases, 2, &format!("no account {name} on this host"));
    assert!(user.lookup().is_none(), "the account was not created");
    let out = run(&mut s.cmd("verify", &[&name, &"--key", &s.private]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&format!("lists user {name}")));
}

#[test]
fn a_bind_source_is_judged_alike_from_the_command_line_a_profile_and_a_spec() {
    if !require_root("a_bind_source_is_judged_alike_from_the_command_line_a_profile_and_a_spec") {
        return;
    }
    let s = Site::new();
    let profiles = s.t.dir("profiles");
    let writable = s.t.dir("open");
    common::make_dir(&writable.join("src"), 0o755);
    fs::set_permissions(
        &writable,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let missing = s.t.path().join("no-such-dir");
    let unsafe_src = writable.join("src");
    for (source, code, needle) in [
        (&missing, 2, "bind source"),
        (&unsafe_src, 4, "refusing bind source"),
    ] {
        let bind = format!("{}:/mnt/data", source.display());
        fs::write(
            profiles.join("withbind.toml"),
            format!("description = \"x\"\nprograms = [\"bash\"]\nbinds = [\"{bind}\"]\n"),
        )
        .unwrap();
        let j = &s.jail;
        let from_cli = s.cmd(
            "build",
            &[j, &"--bin", &"bash", &"--bind", &bind, &"--dry-run"],
        );
        let from_profile = s.cmd(
            "build",
            &[
                j,
                &"--profile",
                &"withbind",
                &"--profile-dir",
                &profiles,
                &"--dry-run",
            ],
        );
        let jail = s.jail.display();
        let mut from_spec_profile = s.spec(
            "profile.toml",
            &format!("[[jail]]\npath = \"{jail}\"\nprofiles = [\"withbind\"]\n"),
        );
        from_spec_profile.arg("--profile-dir").arg(&profiles);
        let cases = vec![
            ("build --bind", from_cli),
            ("build --profile", from_profile),
            (
                "apply binds",
                s.spec(
                    "bind.toml",
                    &format!(
                        "[[jail]]\npath = \"{jail}\"\nbins = [\"bash\"]\nbinds = [\"{bind}\"]\n"
                    ),
                ),
            ),
            ("apply profiles", from_spec_profile),
        ];
        all_exit(cases, code, needle);
    }
    assert!(!s.jail.exists(), "nothing was built");
}

#[test]
fn an_unreadable_sshd_config_is_a_host_failure_in_user_and_apply() {
    if !require_root("an_unreadable_sshd_config_is_a_host_failure_in_user_and_apply") {
        return;
    }
    let mut s = Site::new();
    s.build();
    s.sshd_config = s.t.path().join("no_sshd_config");
    let user = common::ReservedUser::new();
    let name = user.name();
    let mut add = s.cmd(
        "user",
        &[
            &name,
            &"--create",
            &"--jail",
            &s.jail,
            &"--key",
            &s.key,
            &"--dry-run",
        ],
    );
    s.sshd_opts(&mut add);
    let spec = format!(
        "[[jail]]\npath = \"{0}\"\nbins = [\"bash\"]\n[[user]]\nname = \"{name}\"\ncreate = true\njail = \"{0}\"\nkeys = [\"{1}\"]\n",
        s.jail.display(),
        s.key.display()
    );
    let shown = format!("cannot read {}", s.sshd_config.display());
    all_exit(
        vec![("user", add), ("apply", s.spec("sshd.toml", &spec))],
        6,
        &shown,
    );
    assert!(user.lookup().is_none(), "the account was not created");
}
