//! Jails that run real software (issue 16): programs whose own RUNPATH uses `$ORIGIN`, run
//! inside the jail as an unprivileged user; `check` flags a program that cannot load.

use std::path::{Path, PathBuf};

use crate::common::{self, TestRoot};

const NOBODY: &str = "65534:65534";

/// `<root>/app/bin/app` with RUNPATH `$ORIGIN/../lib`, needing `<root>/app/lib/libapp.so`.
fn origin_app(root: &TestRoot) -> PathBuf {
    let app = root.dir("app");
    let lib = common::cc_shared(
        "const char *app_greeting(void) { return \"hello from libapp\"; }\n",
        &app.join("lib/libapp.so"),
        "libapp.so",
        &[],
    );
    common::cc(
        "#include <stdio.h>\nconst char *app_greeting(void);\n\
         int main(void) { puts(app_greeting()); return 0; }\n",
        &app.join("bin/app"),
        &[
            &format!("-L{}", lib.parent().unwrap().display()),
            "-lapp",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib",
        ],
    )
}

fn build(jail: &Path, state: &Path, args: &[&str]) -> std::process::Output {
    common::run_ok(
        common::bin()
            .arg("build")
            .arg(jail)
            .arg("--state-dir")
            .arg(state)
            .args(args),
    )
}

fn check(jail: &Path, state: &Path) -> std::process::Output {
    common::run(
        common::bin()
            .arg("check")
            .arg(jail)
            .arg("--state-dir")
            .arg(state),
    )
}

#[test]
fn an_origin_program_runs_in_its_jail_and_check_flags_a_missing_library() {
    if !common::require_root("an_origin_program_runs_in_its_jail")
        || !common::require_cmds(&["cc", "chroot"])
    {
        return;
    }
    let root = TestRoot::for_current_test();
    let app = origin_app(&root);
    let (jail, state) = (root.jail("jail"), root.state_dir());
    build(&jail, &state, &["--bin", app.to_str().unwrap()]);
    let app_s = app.to_str().unwrap();
    let out = common::run(&mut common::chroot_cmd(&jail, Some(NOBODY), &[app_s]));
    assert!(
        out.status.success() && common::text(&out.stdout).contains("hello from libapp"),
        "the $ORIGIN program runs in the jail as nobody:\n{}",
        common::describe(&common::chroot_cmd(&jail, Some(NOBODY), &[app_s]), &out)
    );
    let ok = check(&jail, &state);
    assert!(
        ok.status.success(),
        "check is clean:\n{}",
        common::text(&ok.stdout)
    );

    // Without the jail's cache the loader cannot expand the program's $ORIGIN (no /proc):
    // the program fails, and check says which library its loader cannot find.
    std::fs::remove_file(jail.join("etc/ld.so.cache")).unwrap();
    let out = common::run(&mut common::chroot_cmd(&jail, Some(NOBODY), &[app_s]));
    assert!(
        !out.status.success() && common::text(&out.stderr).contains("libapp.so"),
        "without etc/ld.so.cache the loader misses libapp.so: {}",
        common::text(&out.stderr)
    );
    assert_unloadable(&jail, &state, "libapp.so");

    build(&jail, &state, &["--bin", app_s]);
    let out = common::run(&mut common::chroot_cmd(&jail, Some(NOBODY), &[app_s]));
    assert!(out.status.success(), "a rebuild restores the cache");
    let lib_in_jail = jail
        .join(root.path().strip_prefix("/").unwrap())
        .join("app/lib/libapp.so");
    std::fs::remove_file(&lib_in_jail).unwrap();
    assert_unloadable(&jail, &state, "libapp.so");
}

/// `check` fails, naming `lib` in an "unloadable" finding.
fn assert_unloadable(jail: &Path, state: &Path, lib: &str) {
    let bad = check(jail, state);
    let report = common::text(&bad.stdout);
    assert!(!bad.status.success(), "check fails:\n{report}");
    assert!(
        report
            .lines()
            .any(|l| l.contains("[unloadable]") && l.contains(lib)),
        "check names the library the program's loader cannot find:\n{report}"
    );
}
