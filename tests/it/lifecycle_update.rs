//! `update` end to end as root: a private library compiled by the test changes after the
//! build; `check` reports it stale and names it; `update` refreshes it; `check` is clean.
//! Then the program's closure changes: a new library is needed, the old one is not.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{TestRoot, bin, cc, require_root, run, run_ok, text};

const LIB: &str = "int jst_value(void) { return 1; }\n";
const LIB_V2: &str = "int jst_value(void) { return 2; }\nint jst_extra(void) { return 3; }\n";
const MAIN: &str = "int jst_value(void);\nint main(void) { return jst_value(); }\n";

fn lib(src: &str, out: &Path, soname: &str) {
    cc(
        src,
        out,
        &["-shared", "-fPIC", &format!("-Wl,-soname,{soname}")],
    );
}

fn main_linked(app: &Path, lib_file: &str) -> PathBuf {
    let libdir = app.join("lib");
    cc(
        MAIN,
        &app.join("bin/jstapp"),
        &[
            &format!("-L{}", libdir.display()),
            &format!("-l:{lib_file}"),
            &format!("-Wl,-rpath,{}", libdir.display()),
        ],
    )
}

fn check(jail: &Path, state: &Path) -> (Option<i32>, String, String) {
    let out = run(bin().arg("check").arg(jail).arg("--state-dir").arg(state));
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

fn update(jail: &Path, state: &Path, extra: &[&str]) -> std::process::Output {
    run(bin()
        .arg("update")
        .arg(jail)
        .arg("--state-dir")
        .arg(state)
        .args(extra))
}

fn build(jail: &Path, state: &Path, args: &[&str]) {
    run_ok(
        bin()
            .arg("build")
            .arg(jail)
            .arg("--state-dir")
            .arg(state)
            .args(args),
    );
}

fn in_jail(jail: &Path, host: &Path) -> PathBuf {
    jail.join(host.strip_prefix("/").unwrap())
}

#[test]
fn private_library_changes_then_update_refreshes_adds_and_prunes() {
    if !require_root("private_library_changes_then_update_refreshes_adds_and_prunes") {
        return;
    }
    let t = TestRoot::for_current_test();
    let app = t.dir("app");
    let lib1 = app.join("lib/libjst.so.1");
    lib(LIB, &lib1, "libjst.so.1");
    let main = main_linked(&app, "libjst.so.1");
    let (jail, state) = (t.jail("jail"), t.state_dir());
    run_ok(
        bin()
            .arg("build")
            .arg(&jail)
            .arg("--state-dir")
            .arg(&state)
            .arg("--bin")
            .arg(&main)
            .args(["--bin", "bash"]),
    );
    let (code, out, err) = check(&jail, &state);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(!out.contains("stale"), "{out}");
    let out = update(&jail, &state, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // the package manager updates the library
    std::thread::sleep(std::time::Duration::from_millis(20));
    lib(LIB_V2, &lib1, "libjst.so.1");
    let jail_lib = in_jail(&jail, &lib1);
    let (code, out, err) = check(&jail, &state);
    let want = format!("warning: {}: ", jail_lib.display());
    assert!(
        out.lines()
            .any(|l| l.starts_with(&want) && l.contains("stale") && l.contains("jailsmith update")),
        "no stale finding for {}\n{out}\n{err}",
        jail_lib.display()
    );
    assert_eq!(code, Some(0), "staleness is a warning\n{out}");

    let dry = update(&jail, &state, &["--dry-run"]);
    assert_eq!(dry.status.code(), Some(1));
    assert!(
        text(&dry.stdout).contains(&format!("would update {}", lib1.display())),
        "{}",
        text(&dry.stdout)
    );
    assert_ne!(
        fs::read(&jail_lib).unwrap(),
        fs::read(&lib1).unwrap(),
        "dry run wrote"
    );

    let out = update(&jail, &state, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("updated {}", lib1.display())),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(fs::read(&jail_lib).unwrap(), fs::read(&lib1).unwrap());
    let (code, out, err) = check(&jail, &state);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.trim().is_empty(),
        "check is not clean after update:\n{out}"
    );
    let again = update(&jail, &state, &[]);
    assert!(
        text(&again.stderr).contains("up to date"),
        "{}",
        text(&again.stderr)
    );
    assert!(text(&again.stdout).trim().is_empty());

    // the program is rebuilt against another library: one is needed now, one no longer
    let lib2 = app.join("lib/libjst2.so.1");
    lib(LIB, &lib2, "libjst2.so.1");
    main_linked(&app, "libjst2.so.1");
    let jail_lib2 = in_jail(&jail, &lib2);
    let (_, out, _) = check(&jail, &state);
    assert!(
        out.lines().any(
            |l| l.starts_with(&format!("warning: {}: ", jail_lib2.display()))
                && l.contains("needed now")
        ),
        "{out}"
    );
    let out = update(&jail, &state, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    assert!(o.contains(&format!("added {}", lib2.display())), "{o}");
    assert!(o.contains(&format!("updated {}", main.display())), "{o}");
    assert!(o.contains(&format!("removed {}", lib1.display())), "{o}");
    assert!(!jail_lib.exists() && jail_lib2.exists());
    let (code, out, err) = check(&jail, &state);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.trim().is_empty(), "{out}");
    let ran = run(std::process::Command::new("/usr/sbin/chroot")
        .arg(&jail)
        .arg(&main));
    assert_eq!(
        ran.status.code(),
        Some(1),
        "the jailed program runs with its new library"
    );
}

#[test]
fn update_never_touches_homes_and_needs_a_state() {
    if !require_root("update_never_touches_homes_and_needs_a_state") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let out = update(&jail, &state, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no state"));
    build(&jail, &state, &["--bin", "bash", "--bin", "ls"]);
    let home = jail.join("home/someone");
    common::make_dir(&home, 0o700);
    common::write_file(&home.join("f"), "x", 0o644);
    // narrow the request to bash only: ls goes, the home stays
    common::edit_jail_state(&state, |v| {
        v["request"]["bins"] = serde_json::json!(["bash"]);
        v["users"] = serde_json::json!(["someone"]);
    });
    let out = update(&jail, &state, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("removed /usr/bin/ls"),
        "{}",
        text(&out.stdout)
    );
    assert!(!jail.join("usr/bin/ls").exists());
    assert_eq!(fs::read_to_string(home.join("f")).unwrap(), "x");
}

#[test]
fn profile_jail_checks_clean_and_is_current() {
    if !require_root("profile_jail_checks_clean_and_is_current") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    build(&jail, &state, &["--profile", "basic-shell"]);
    let (code, out, err) = check(&jail, &state);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.trim().is_empty(), "{out}");
    let dry = update(&jail, &state, &["--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stdout));
    let out = update(&jail, &state, &[]);
    assert!(
        text(&out.stderr).contains("up to date"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).trim().is_empty(), "{}", text(&out.stdout));
}

/// A file jailsmith placed is replaced by a symlink to a host file (the careless admin or a
/// jailed user with a way in), then its program leaves the request: `update` keeps the
/// link (reported, never followed) and the host file survives untouched; the rest of what
/// only that program needed is removed as planned.
#[test]
fn a_placed_file_replaced_by_a_symlink_to_a_host_canary_is_kept_never_followed() {
    if !require_root("a_placed_file_replaced_by_a_symlink_to_a_host_canary_is_kept_never_followed")
    {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let canary = common::Canary::new(&t.dir("host").join("canary"), "host data\n");
    build(&jail, &state, &["--bin", "bash", "--bin", "ls"]);
    let ls = common::find_cmd("ls").unwrap();
    let ls_in_jail = in_jail(&jail, &ls);
    assert!(ls_in_jail.is_file(), "{}", ls_in_jail.display());
    fs::remove_file(&ls_in_jail).unwrap();
    std::os::unix::fs::symlink(canary.path(), &ls_in_jail).unwrap();
    build(&jail, &state, &["--remove-bin", "ls"]);
    let shown = ls.display().to_string();

    let dry = update(&jail, &state, &["--dry-run", "--json"]);
    assert_eq!(dry.status.code(), Some(1), "{}", text(&dry.stderr));
    let dry_json: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    let paths = |v: &serde_json::Value, key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} in {v}"))
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    };
    assert!(paths(&dry_json, "kept").contains(&shown), "{dry_json}");
    assert!(!paths(&dry_json, "removed").contains(&shown), "{dry_json}");
    assert!(
        text(&dry.stderr).contains(&format!("would keep {shown}: ")),
        "{}",
        text(&dry.stderr)
    );

    let out = update(&jail, &state, &["--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let real: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    canary.assert_unchanged("update with a placed file replaced by a symlink to it");
    let link = fs::symlink_metadata(&ls_in_jail).unwrap();
    assert!(link.file_type().is_symlink(), "the link itself is kept");
    assert_eq!(fs::read_link(&ls_in_jail).unwrap(), canary.path());
    assert!(paths(&real, "kept").contains(&shown), "{real}");
    assert!(!paths(&real, "removed").contains(&shown), "{real}");
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "kept {shown}: jailsmith placed a regular file there, it is now a symlink"
        )),
        "{err}"
    );
    // the removal is a plan step, as the dry run said
    let planned_removal =
        |v: &serde_json::Value| {
            v["plan"].as_array().unwrap().iter().any(|s| {
                s["op"] == "remove" && s["path"] == shown.as_str() && s["expect"] == "file"
            })
        };
    assert!(
        planned_removal(&dry_json) && planned_removal(&real),
        "{real}"
    );
    assert_eq!(paths(&real, "removed"), paths(&dry_json, "removed"));
    // the rest of ls's closure went; bash still runs in the jail
    for p in paths(&real, "removed") {
        assert!(
            fs::symlink_metadata(jail.join(&p[1..])).is_err(),
            "{p} is left"
        );
    }
    let ran = run(std::process::Command::new("/usr/sbin/chroot")
        .arg(&jail)
        .args(["/bin/bash", "-c", "echo ok"]));
    assert_eq!(text(&ran.stdout).trim(), "ok", "{}", text(&ran.stderr));
}
