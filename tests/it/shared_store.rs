//! `build --store` as root: jails of the same programs share one inode per copied file (the
//! store's object), run their programs as an unprivileged user, pass `check`, and keep
//! working while other jails are destroyed; unlinked objects are collected. A jail on
//! another filesystem gets copies. Hostile: a jailed user cannot change a store object, a
//! link to one in a home is flagged, a tampered object is a finding. `update` after a source
//! changes re-links every jail and the old object goes.

use crate::common;

use std::fs;
use std::os::unix::fs::{MetadataExt, chown};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    TestRoot, UnmountGuard, UserGuard, cc, chroot_cmd, jail_cmd, make_dir, require_root, run,
    run_ok, text,
};

fn build(jail: &Path, state: &Path, extra: &[&str]) -> Command {
    jail_cmd("build", jail, state, extra)
}

fn jailsmith(sub: &str, jail: &Path, state: &Path, extra: &[&str]) -> std::process::Output {
    run(&mut jail_cmd(sub, jail, state, extra))
}

/// `update --dry-run` of a jail just built finds nothing to change (its copies from the
/// store, linked or copied, judged as the build that placed them).
fn dry_update_is_up_to_date(jail: &Path, state: &Path) {
    let out = jailsmith("update", jail, state, &["--dry-run"]);
    let err = text(&out.stderr);
    assert!(
        out.status.code() == Some(0) && err.contains("is up to date"),
        "{err}{}",
        text(&out.stdout)
    );
}

/// `check` exits 1 with a line `found` accepts; returns its stdout.
fn check_finds(jail: &Path, state: &Path, found: impl Fn(&str) -> bool) -> String {
    let out = jailsmith("check", jail, state, &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.lines().any(found), "{stdout}");
    stdout
}

fn check_clean(jail: &Path, state: &Path) {
    let out = jailsmith("check", jail, state, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "check {}:\n{}\n{}",
        jail.display(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The jail's state, parsed.
fn state_of(state: &Path, jail: &Path) -> serde_json::Value {
    for e in fs::read_dir(state.join("jails")).unwrap() {
        let v: serde_json::Value =
            serde_json::from_slice(&fs::read(e.unwrap().path()).unwrap()).unwrap();
        if v["jail"].as_str() == Some(&fs::canonicalize(jail).unwrap().display().to_string()) {
            return v;
        }
    }
    panic!("no state for {}", jail.display());
}

/// (in-jail path, `store` record) of every copied file the manifest holds.
fn copied_files(state: &Path, jail: &Path) -> Vec<(String, serde_json::Value)> {
    let v = state_of(state, jail);
    v["manifest"]["entries"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, e)| e["kind"] == "file")
        .map(|(p, e)| (p.clone(), e["store"].clone()))
        .collect()
}

fn object_path(state: &Path, name: &str) -> PathBuf {
    state.join("store/sha256").join(&name[..2]).join(name)
}

/// Every object file in the store.
fn objects(state: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(state.join("store/sha256"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

fn at(jail: &Path, p: &str) -> PathBuf {
    jail.join(p.trim_start_matches('/'))
}

/// Bytes of disk the trees use together, hard links counted once (`du -s -B1`).
fn du(paths: &[&Path]) -> u64 {
    let out = run_ok(
        Command::new("du")
            .arg("-s")
            .arg("-c")
            .arg("-B1")
            .args(paths),
    );
    let s = text(&out.stdout);
    let total = s.lines().last().unwrap();
    total.split_whitespace().next().unwrap().parse().unwrap()
}

/// bash runs in the jail as an unprivileged user (nobody's numbers).
fn runs_bash(jail: &Path) {
    let out = run(&mut chroot_cmd(
        jail,
        Some("65534:65534"),
        &["/usr/bin/bash", "-c", "echo in-jail-$((6*7))"],
    ));
    assert!(
        out.status.success() && text(&out.stdout).contains("in-jail-42"),
        "bash in {}: {}",
        jail.display(),
        common::describe(&chroot_cmd(jail, None, &[]), &out)
    );
}

#[test]
fn store_jails_share_every_copied_file_and_objects_outlive_one_jail_only() {
    if !require_root("store_jails_share_every_copied_file_and_objects_outlive_one_jail_only") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (j1, j2, state) = (t.jail("j1"), t.jail("j2"), t.state_dir());
    for j in [&j1, &j2] {
        run_ok(&mut build(j, &state, &["--bin", "bash", "--store"]));
        dry_update_is_up_to_date(j, &state);
    }
    let files = copied_files(&state, &j1);
    assert!(
        files.len() >= 3,
        "bash, libc, the loader at least: {files:?}"
    );
    let mut names = Vec::new();
    for (p, stored) in &files {
        let name = stored["linked"]
            .as_str()
            .unwrap_or_else(|| panic!("{p} is not linked: {stored}"));
        let (a, b) = (
            fs::metadata(at(&j1, p)).unwrap(),
            fs::metadata(at(&j2, p)).unwrap(),
        );
        let o = fs::metadata(object_path(&state, name)).unwrap();
        assert_eq!((a.dev(), a.ino()), (o.dev(), o.ino()), "{p} in j1");
        assert_eq!((b.dev(), b.ino()), (o.dev(), o.ino()), "{p} in j2");
        assert_eq!((o.uid(), o.gid(), o.nlink()), (0, 0, 3), "{p}");
        assert_eq!(o.mode() & 0o7022, 0, "{p}: no setuid, no g/o write");
        names.push(name.to_string());
    }
    let (one, both) = (du(&[&j1]), du(&[&j1, &j2]));
    eprintln!("du -s -c -B1: j1 {one} bytes, j1+j2 {both} bytes");
    assert!(
        (both as f64) < 1.2 * one as f64,
        "two store jails use {both} bytes, one {one}"
    );
    // the store is root's alone, and no jail path reaches it
    let top = fs::metadata(state.join("store")).unwrap();
    assert_eq!((top.uid(), top.mode() & 0o777), (0, 0o700));
    for j in [&j1, &j2] {
        runs_bash(j);
        check_clean(j, &state);
        // hostile: the jailed user cannot write what every jail shares
        let out = run(&mut chroot_cmd(
            j,
            Some("65534:65534"),
            &["/usr/bin/bash", "-c", "echo x >> /usr/bin/bash"],
        ));
        assert!(!out.status.success(), "nobody appended to a store object");
    }
    let before = fs::read(at(&j2, "/usr/bin/bash")).unwrap();
    assert_eq!(before, fs::read("/usr/bin/bash").unwrap());

    run_ok(&mut jail_cmd("destroy", &j1, &state, &["--purge"]));
    assert!(!j1.exists());
    for n in &names {
        let o = fs::metadata(object_path(&state, n)).unwrap();
        assert_eq!(o.nlink(), 2, "{n}: the store's name and j2's link");
    }
    runs_bash(&j2);
    check_clean(&j2, &state);

    // the collection is the plan's last operation, planned by the dry run as it is run
    let plan = |out: &std::process::Output| {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        v["plan"].clone()
    };
    let held = objects(&state);
    let dry = plan(&run_ok(&mut jail_cmd(
        "destroy",
        &j2,
        &state,
        &["--purge", "--dry-run", "--json"],
    )));
    assert_eq!(objects(&state), held, "the dry run collected");
    let last = dry.as_array().and_then(|a| a.last()).cloned();
    assert_eq!(
        last.as_ref().map(|l| (&l["op"], &l["state_dir"])),
        Some((
            &serde_json::json!("collect_store_garbage"),
            &serde_json::json!(state.display().to_string())
        )),
        "{dry}"
    );
    let out = run_ok(&mut jail_cmd(
        "destroy",
        &j2,
        &state,
        &["--purge", "--json"],
    ));
    assert_eq!(
        plan(&out),
        dry,
        "destroy did other than its dry run planned"
    );
    assert!(
        text(&out.stderr).contains("store object(s) no jail links"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(objects(&state), Vec::<PathBuf>::new(), "store collected");
}

#[test]
fn a_store_jail_on_another_filesystem_gets_copies_and_works() {
    if !require_root("a_store_jail_on_another_filesystem_gets_copies_and_works") {
        return;
    }
    let t = TestRoot::for_current_test();
    let state = t.state_dir();
    let other = t.dir("other");
    let _unmount = UnmountGuard(other.clone());
    nix::mount::mount(
        Some("tmpfs"),
        &other,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=64m,mode=0755"),
    )
    .unwrap();
    let (near, far) = (t.jail("near"), other.join("far"));
    run_ok(&mut build(&near, &state, &["--bin", "bash", "--store"]));
    run_ok(&mut build(&far, &state, &["--bin", "bash", "--store"]));
    dry_update_is_up_to_date(&far, &state);
    for (p, stored) in copied_files(&state, &far) {
        assert_eq!(stored, "copied", "{p}");
        let m = fs::metadata(at(&far, &p)).unwrap();
        assert_eq!((m.nlink(), m.uid()), (1, 0), "{p}");
        assert_eq!(
            fs::read(at(&far, &p)).unwrap(),
            fs::read(at(&near, &p)).unwrap()
        );
    }
    runs_bash(&far);
    check_clean(&far, &state);
    // a rebuild changes nothing
    let out = run_ok(&mut build(&far, &state, &[]));
    assert!(
        text(&out.stderr).contains("is up to date"),
        "{}",
        text(&out.stderr)
    );
    run_ok(&mut jail_cmd("destroy", &far, &state, &["--purge"]));
    runs_bash(&near);
    check_clean(&near, &state);
}

#[test]
fn a_home_link_to_a_store_object_and_a_tampered_object_are_findings() {
    if !require_root("a_home_link_to_a_store_object_and_a_tampered_object_are_findings") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    run_ok(&mut build(&jail, &state, &["--bin", "bash", "--store"]));
    let user = UserGuard::new();
    let home = jail.join("home").join(user.name());
    make_dir(&home, 0o700);
    chown(&home, Some(user.uid()), Some(user.gid())).unwrap();
    common::edit_jail_state(&state, |v| v["users"] = serde_json::json!([user.name()]));
    check_clean(&jail, &state);

    // root plants (as a jailed user could if fs.protected_hardlinks were off) a link to the
    // store object of bash in the user's home
    let pinned = home.join("pinned");
    fs::hard_link(jail.join("usr/bin/bash"), &pinned).unwrap();
    let stdout = check_finds(&jail, &state, |l| {
        l.starts_with("error: ") && l.contains("/pinned: ") && l.contains("hard-link")
    });
    // the jail's own links stay accepted
    assert!(!stdout.contains("usr/bin/bash:"), "{stdout}");
    fs::remove_file(&pinned).unwrap();
    check_clean(&jail, &state);

    // an object whose content no longer matches its name
    let (_, stored) = copied_files(&state, &jail)
        .into_iter()
        .find(|(p, _)| p == "/usr/bin/bash")
        .unwrap();
    let object = object_path(&state, stored["linked"].as_str().unwrap());
    let mut bytes = fs::read(&object).unwrap();
    let mtime = fs::metadata(&object).unwrap().modified().unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::OpenOptions::new()
        .write(true)
        .open(&object)
        .and_then(|f| {
            std::os::unix::fs::FileExt::write_all_at(&f, &bytes[last..], last as u64).map(|_| f)
        })
        .and_then(|f| f.set_modified(mtime))
        .unwrap();
    check_finds(&jail, &state, |l| {
        l.contains("/usr/bin/bash: ")
            && l.contains("store-object")
            && l.contains("no longer matches its name")
    });
}

const LIB: &str = "int jst_value(void) { return 1; }\n";
const LIB_V2: &str = "int jst_value(void) { return 2; }\n";
const MAIN: &str = "int jst_value(void);\nint main(void) { return jst_value(); }\n";

#[test]
fn update_after_a_source_change_relinks_every_jail_and_collects_the_old_object() {
    if !require_root("update_after_a_source_change_relinks_every_jail_and_collects_the_old_object")
    {
        return;
    }
    let t = TestRoot::for_current_test();
    let app = t.dir("app");
    let lib = app.join("lib/libjst.so.1");
    let shared = ["-shared", "-fPIC", "-Wl,-soname,libjst.so.1"];
    cc(LIB, &lib, &shared);
    let main = cc(
        MAIN,
        &app.join("bin/jstapp"),
        &[
            &format!("-L{}", app.join("lib").display()),
            "-l:libjst.so.1",
            &format!("-Wl,-rpath,{}", app.join("lib").display()),
        ],
    );
    let main_s = main.display().to_string();
    let state = t.state_dir();
    let jails = [t.jail("j1"), t.jail("j2")];
    for j in &jails {
        run_ok(&mut build(j, &state, &["--store", "--bin", &main_s]));
    }
    let in_jail = lib.display().to_string();
    let linked = |j: &Path| -> String {
        copied_files(&state, j)
            .into_iter()
            .find(|(p, _)| *p == in_jail)
            .and_then(|(_, s)| s["linked"].as_str().map(str::to_string))
            .unwrap_or_else(|| panic!("{in_jail} not linked in {}", j.display()))
    };
    let old = linked(&jails[0]);
    assert_eq!(old, linked(&jails[1]));
    let runs = |j: &Path| {
        run(&mut chroot_cmd(j, Some("65534:65534"), &[&main_s]))
            .status
            .code()
    };
    assert_eq!(runs(&jails[0]), Some(1));

    // the library changes on the host (a package update: a new file renamed over the old)
    let fresh = app.join("lib/libjst.so.1.new");
    cc(LIB_V2, &fresh, &shared);
    fs::rename(&fresh, &lib).unwrap();
    let out = jailsmith("update", &jails[0], &state, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("updated {in_jail}")));
    let new = linked(&jails[0]);
    assert_ne!(new, old);
    assert!(
        object_path(&state, &old).exists(),
        "j2 still links the old object"
    );
    let out = jailsmith("update", &jails[1], &state, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(linked(&jails[1]), new);
    assert!(
        !object_path(&state, &old).exists(),
        "the old object was collected"
    );
    let o = fs::metadata(object_path(&state, &new)).unwrap();
    for j in &jails {
        let m = fs::metadata(at(j, &in_jail)).unwrap();
        assert_eq!((m.ino(), o.nlink()), (o.ino(), 3));
        assert_eq!(runs(j), Some(2), "{}", j.display());
        check_clean(j, &state);
    }
}

/// `[[jail]] store = true` in an `apply` spec does what `build --store` does, a second run
/// changes nothing, and `store = false` gives the jail its own copies back.
#[test]
fn an_apply_spec_turns_the_store_on_and_off() {
    if !require_root("an_apply_spec_turns_the_store_on_and_off") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (j1, j2, state) = (t.jail("j1"), t.jail("j2"), t.state_dir());
    let spec = t.path().join("spec.toml");
    let write_spec = |j2_store: bool| {
        let text = format!(
            "[[jail]]\npath = \"{}\"\nbins = [\"bash\"]\nstore = true\n\n\
             [[jail]]\npath = \"{}\"\nbins = [\"bash\"]\nstore = {j2_store}\n",
            j1.display(),
            j2.display()
        );
        fs::write(&spec, text).unwrap();
    };
    let apply = || common::apply_json(&spec, &state, &[]);
    write_spec(true);
    assert_eq!(apply()["changed"], true);
    assert_eq!(state_of(&state, &j1)["request"]["store"], true);
    for (p, stored) in copied_files(&state, &j1) {
        let name = stored["linked"]
            .as_str()
            .unwrap_or_else(|| panic!("{p} is not linked: {stored}"));
        let o = fs::metadata(object_path(&state, name)).unwrap();
        let b = fs::metadata(at(&j2, &p)).unwrap();
        assert_eq!(
            (b.ino(), o.nlink()),
            (o.ino(), 3),
            "{p}: one object, two jails"
        );
    }
    for j in [&j1, &j2] {
        runs_bash(j);
        check_clean(j, &state);
    }
    assert_eq!(apply()["changed"], false, "a second run changes nothing");

    write_spec(false);
    assert_eq!(apply()["changed"], true);
    let request = &state_of(&state, &j2)["request"];
    assert!(!request["store"].as_bool().unwrap_or(false), "{request}");
    for (p, stored) in copied_files(&state, &j2) {
        assert!(stored.is_null(), "{p} still linked: {stored}");
        assert_eq!(fs::metadata(at(&j2, &p)).unwrap().nlink(), 1, "{p}");
    }
    runs_bash(&j2);
    check_clean(&j2, &state);
}
