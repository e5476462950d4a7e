//! `jailsmith profiles list|show` through the real binary, and every kind of bad profile
//! input, each written into a temporary `--profile-dir`. Reads only; needs no root.

use std::path::Path;
use std::process::{Command, Output};

const SHIPPED: &[&str] = &[
    "minimal",
    "basic-shell",
    "editors",
    "sftp-only",
    "scp",
    "rsync",
    "git",
    "python3",
];

fn jailsmith(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jailsmith"))
        .args(args)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("run jailsmith")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A temporary profile directory holding the given `NAME.toml` files.
fn profile_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, body) in files {
        std::fs::write(d.path().join(format!("{name}.toml")), body).unwrap();
    }
    d
}

fn dir_arg(d: &tempfile::TempDir) -> String {
    d.path().display().to_string()
}

/// Runs `profiles show NAME --profile-dir DIR`, expecting failure with `code`.
fn show_fails(d: &tempfile::TempDir, name: &str, code: i32) -> String {
    let out = jailsmith(&["profiles", "show", name, "--profile-dir", &dir_arg(d)]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    err
}

#[test]
fn list_shows_every_shipped_profile_with_its_description() {
    let out = jailsmith(&["profiles", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for name in SHIPPED {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} not listed:\n{stdout}"));
        assert!(
            line.len() > name.len() + 10,
            "no description for {name}: {line}"
        );
    }
}

#[test]
fn list_notes_shadowing_and_json_lists_both_files() {
    let d = profile_dir(&[("minimal", "description = \"my own minimal\"\n")]);
    let out = jailsmith(&["profiles", "list", "--profile-dir", &dir_arg(&d)]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("my own minimal"), "{stdout}");
    assert!(stdout.contains("shadowed"), "{stdout}");

    let out = jailsmith(&["profiles", "list", "--json", "--profile-dir", &dir_arg(&d)]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let minimal: Vec<&serde_json::Value> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "minimal")
        .collect();
    assert!(minimal.len() >= 2, "{v}");
    assert!(minimal[0].get("shadowed_by").is_none());
    assert_eq!(
        minimal[1]["shadowed_by"].as_str().map(Path::new),
        Some(d.path().join("minimal.toml").as_path())
    );
}

#[test]
fn show_expands_includes_and_resolves_on_this_host() {
    let out = jailsmith(&["profiles", "show", "basic-shell"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("profile minimal ("), "{stdout}");
    assert!(stdout.contains("includes: minimal"), "{stdout}");
    assert!(stdout.contains("/etc/nsswitch.conf"), "{stdout}");
    assert!(stdout.contains("devices: null zero full random urandom tty"));

    let out = jailsmith(&["profiles", "show", "basic-shell", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["names"], serde_json::json!(["minimal", "basic-shell"]));
    let libgcc = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["candidates"][0] == "libgcc_s.so.1")
        .expect("libgcc_s entry");
    let path = libgcc["matched"][0].as_str().expect("libgcc_s resolved");
    assert!(Path::new(path).is_file(), "{path}");
}

#[test]
fn show_marks_alternatives_and_missing_optional_entries() {
    let d = profile_dir(&[(
        "alt",
        r#"description = "alternatives"
optional_files = ["/nonexistent/jailsmith-test"]
[[alternatives]]
kind = "program"
paths = ["/nonexistent/sh", "/bin/sh"]
"#,
    )]);
    let out = jailsmith(&["profiles", "show", "alt", "--profile-dir", &dir_arg(&d)]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("/nonexistent/sh | /bin/sh → /bin/sh"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[alt, optional] /nonexistent/jailsmith-test  MISSING"),
        "{stdout}"
    );
}

#[test]
fn required_path_missing_on_this_host() {
    let d = profile_dir(&[(
        "needy",
        "description = \"needs things\"\nprograms = [\"jailsmith-no-such-program\"]\nfiles = [\"/nonexistent/*.conf\"]\n",
    )]);
    let err = show_fails(&d, "needy", 1);
    assert!(
        err.contains("program `jailsmith-no-such-program` is not in the secure PATH"),
        "{err}"
    );
    assert!(
        err.contains("file glob `/nonexistent/*.conf` matches nothing"),
        "{err}"
    );
}

#[test]
fn toml_syntax_error_names_file_and_line() {
    let d = profile_dir(&[(
        "broken",
        "description = \"x\"\nprograms = [\"ls\",\n\nfiles = 3\n",
    )]);
    let err = show_fails(&d, "broken", 2);
    let file = d.path().join("broken.toml");
    assert!(
        err.contains(&format!("{}:", file.display())),
        "no file in: {err}"
    );
    assert!(err.contains("TOML syntax error"), "{err}");
    // The error is on line 3 or 4, never line 1.
    assert!(!err.contains("broken.toml:1:"), "{err}");
}

#[test]
fn unknown_field_is_refused() {
    let d = profile_dir(&[("typo", "description = \"x\"\nprogams = [\"ls\"]\n")]);
    let err = show_fails(&d, "typo", 2);
    assert!(err.contains("typo.toml:2:"), "{err}");
    assert!(err.contains("unknown field `progams`"), "{err}");
}

#[test]
fn include_cycle_is_named() {
    let d = profile_dir(&[
        ("a", "description = \"a\"\ninclude = [\"b\"]\n"),
        ("b", "description = \"b\"\ninclude = [\"a\"]\n"),
    ]);
    let err = show_fails(&d, "a", 2);
    assert!(err.contains("include cycle: a → b → a"), "{err}");
}

#[test]
fn unknown_profile_lists_available_ones() {
    let out = jailsmith(&["profiles", "show", "no-such-profile"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("unknown profile `no-such-profile`"), "{err}");
    assert!(err.contains("available profiles:"), "{err}");
    assert!(err.contains("basic-shell"), "{err}");
}

#[test]
fn device_outside_the_allowed_set_is_refused() {
    let d = profile_dir(&[(
        "disk",
        "description = \"x\"\ndevices = [\"null\", \"sda\"]\n",
    )]);
    let err = show_fails(&d, "disk", 2);
    assert!(
        err.contains("device `sda` is not in the allowed set"),
        "{err}"
    );
    assert!(err.contains("disk.toml:2:"), "{err}");
}

#[test]
fn shipped_profiles_parse() {
    // Every shipped file is valid, whatever this host has installed.
    let out = jailsmith(&["profiles", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for name in SHIPPED {
        let p = v
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == *name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(p["valid"], true, "{p}");
    }
}

/// `build --profile` with a bad profile fails before the jail is created.
fn build_fails_before_writing(d: &tempfile::TempDir, profile: &str) -> String {
    let work = tempfile::tempdir().unwrap();
    let jail = work.path().join("jail");
    let state = work.path().join("state");
    let out = jailsmith(&[
        "build",
        &jail.display().to_string(),
        "--state-dir",
        &state.display().to_string(),
        "--profile",
        profile,
        "--profile-dir",
        &dir_arg(d),
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(!jail.exists(), "the jail was created: {err}");
    assert!(!state.exists(), "the state was written: {err}");
    err
}

#[test]
fn build_refuses_bad_profiles_before_writing_anything() {
    let d = profile_dir(&[
        (
            "needy",
            "description = \"x\"\nprograms = [\"jailsmith-no-such-program\"]\n",
        ),
        ("typo", "description = \"x\"\nprogams = []\n"),
        ("a", "description = \"a\"\ninclude = [\"b\"]\n"),
        ("b", "description = \"b\"\ninclude = [\"a\"]\n"),
        ("disk", "description = \"x\"\ndevices = [\"sda\"]\n"),
        ("broken", "description = \"x\n"),
    ]);
    let err = build_fails_before_writing(&d, "needy");
    assert!(err.contains("jailsmith-no-such-program"), "{err}");
    assert!(err.contains("required entries missing"), "{err}");
    let err = build_fails_before_writing(&d, "typo");
    assert!(err.contains("unknown field `progams`"), "{err}");
    let err = build_fails_before_writing(&d, "a");
    assert!(err.contains("include cycle: a → b → a"), "{err}");
    let err = build_fails_before_writing(&d, "disk");
    assert!(err.contains("device `sda`"), "{err}");
    let err = build_fails_before_writing(&d, "broken");
    assert!(err.contains("broken.toml:1:"), "{err}");
    let err = build_fails_before_writing(&d, "no-such-profile");
    assert!(err.contains("unknown profile `no-such-profile`"), "{err}");
}

#[test]
fn build_dry_run_plans_what_the_profile_names() {
    let work = tempfile::tempdir().unwrap();
    let jail = work.path().join("jail");
    let out = jailsmith(&[
        "build",
        &jail.display().to_string(),
        "--profile",
        "basic-shell",
        "--dry-run",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!jail.exists());
    for want in [
        "write    /etc/profile.d/jailsmith-shell.sh",
        "write    /etc/nsswitch.conf",
        "# program of profile basic-shell",
        "# library of profile basic-shell",
        "# file of profile basic-shell",
        "mknod    /dev/tty",
    ] {
        assert!(stdout.contains(want), "no `{want}` in the plan:\n{stdout}");
    }
}

#[test]
fn host_secrets_are_refused() {
    let d = profile_dir(&[
        (
            "leaky",
            "description = \"x\"\noptional_files = [\"/etc/ssh\", \"/etc/shadow\"]\n",
        ),
        (
            "writer",
            "description = \"x\"\n[[write]]\npath = \"/etc/passwd\"\ncontent = \"root::0:0::/:/bin/sh\\n\"\n",
        ),
    ]);
    let err = show_fails(&d, "leaky", 4);
    assert!(err.contains("refusing to copy /etc/ssh"), "{err}");
    let err = show_fails(&d, "writer", 2);
    assert!(err.contains("/etc/passwd"), "{err}");
    assert!(err.contains("jailsmith maintains it"), "{err}");
}

#[test]
fn show_files_lists_what_a_directory_expands_to() {
    let data = tempfile::tempdir().unwrap();
    for f in ["a", "sub/b", "skip/c"] {
        let p = data.path().join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, f).unwrap();
    }
    let root = data.path().display().to_string();
    let d = profile_dir(&[(
        "data",
        &format!("description = \"x\"\nfiles = [\"{root}\"]\nexclude = [\"{root}/skip\"]\n"),
    )]);
    let out = jailsmith(&[
        "profiles",
        "show",
        "data",
        "--files",
        "--profile-dir",
        &dir_arg(&d),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("1 match, 2 paths"), "{stdout}");
    assert!(stdout.contains(&format!("{root}/a\n")), "{stdout}");
    assert!(stdout.contains(&format!("{root}/sub/b\n")), "{stdout}");
    assert!(
        stdout.contains(&format!("excludes: {root}/skip\n")),
        "{stdout}"
    );
    assert!(!stdout.contains(&format!("{root}/skip/c")), "{stdout}");
}

/// The binary under test copied alone into a fresh directory, as the Ansible role or an
/// administrator's `scp` would install it: no jail-profiles/ anywhere near it.
fn copied_alone() -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let installed = d.path().join("jailsmith");
    std::fs::copy(env!("CARGO_BIN_EXE_jailsmith"), &installed).unwrap();
    // Another test thread that forked while the copy was open for writing holds it until
    // its child execs (ETXTBSY): wait, with a deadline, until the copy runs.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Command::new(&installed).arg("--version").output() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{}: {e}",
                    installed.display()
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => {
                other.expect("run the copied jailsmith");
                break;
            }
        }
    }
    (d, installed)
}

#[test]
fn a_binary_copied_alone_lists_the_shipped_profiles_as_built_in() {
    let (_d, installed) = copied_alone();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("jail-profiles");
    let out = Command::new(&installed)
        .args(["profiles", "list", "--json"])
        .output()
        .expect("run jailsmith");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for name in SHIPPED {
        let p = v
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == *name && p.get("shadowed_by").is_none())
            .unwrap_or_else(|| panic!("{name} not listed by a lone binary: {v}"));
        assert_eq!(p["valid"], true, "{p}");
        // Unless the host installed its own copy, the profile comes from the binary.
        let from = p["source"].as_str().unwrap();
        assert!(
            from == "built in" || from.starts_with("/etc/") || from.starts_with("/usr/share/"),
            "{p}"
        );
        assert!(
            !Path::new(from).starts_with(&source),
            "read from the checkout: {p}"
        );
    }
    let out = Command::new(&installed)
        .args(["profiles", "list"])
        .output()
        .expect("run jailsmith");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("[built in]"), "{stdout}");
}

#[test]
fn a_binary_copied_alone_builds_a_shipped_profile() {
    let (_d, installed) = copied_alone();
    let work = tempfile::tempdir().unwrap();
    let jail = work.path().join("jail");
    let state = work.path().join("state");
    let mut args = vec![
        "build".to_string(),
        jail.display().to_string(),
        "--profile".into(),
        "basic-shell".into(),
        "--state-dir".into(),
        state.display().to_string(),
    ];
    let real = nix::unistd::geteuid().is_root();
    if !real {
        args.push("--dry-run".into());
    }
    let out = Command::new(&installed)
        .args(&args)
        .output()
        .expect("run jailsmith");
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    if real {
        assert!(jail.join("etc/profile.d/jailsmith-shell.sh").is_file());
        assert!(jail.join("etc/nsswitch.conf").is_file());
    } else {
        let plan = text(&out.stdout);
        assert!(plan.contains("# program of profile basic-shell"), "{plan}");
    }
}
