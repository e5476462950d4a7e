//! `jailsmith build` end to end as root: real jails in root-owned test directories, entered
//! with `chroot` as root and as an unprivileged uid; idempotence measured on disk; dry-run;
//! and each bad input refused with nothing half-made.

use crate::common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TestRoot, bin, require_root, run, run_ok, run_status, text};

fn build(jail: &Path, state: &Path, extra: &[&str]) -> Command {
    let mut c = bin();
    c.arg("build")
        .arg(jail)
        .arg("--state-dir")
        .arg(state)
        .args(extra);
    c
}

/// path → (inode, mtime ns, mode, size) of everything in the tree, without following links.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u64, i64, u32, u64)> {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let m = e.path().symlink_metadata().unwrap();
            (
                e.path().to_path_buf(),
                (
                    m.ino(),
                    m.mtime() * 1_000_000_000 + m.mtime_nsec(),
                    m.mode(),
                    m.size(),
                ),
            )
        })
        .collect()
}

fn chroot(jail: &Path, userspec: Option<&str>, script: &str) -> std::process::Output {
    run(&mut common::chroot_cmd(
        jail,
        userspec,
        &["/bin/bash", "-c", script],
    ))
}

#[test]
fn bash_ls_id_jail_works_as_root_and_as_a_user() {
    if !require_root("bash_ls_id_jail_works_as_root_and_as_a_user") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    run_ok(&mut build(
        &jail,
        &state,
        &["--bin", "bash", "--bin", "ls", "--bin", "id"],
    ));

    let out = chroot(
        &jail,
        None,
        "ls / && id -u && echo ok > /dev/null && echo devnull",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let o = text(&out.stdout);
    for name in ["bin", "dev", "etc", "home", "tmp", "usr", "devnull"] {
        assert!(o.lines().any(|l| l == name), "{name} missing in {o}");
    }
    let out = chroot(
        &jail,
        Some("65534:65534"),
        "id -u; ls -d /home; echo x > /tmp/f && read l < /tmp/f && echo $l; (echo > /etc/x) 2>/dev/null || echo denied",
    );
    let o = text(&out.stdout);
    assert!(
        o.starts_with("65534\n/home\nx\n"),
        "{o}\n{}",
        text(&out.stderr)
    );
    assert!(
        o.contains("denied"),
        "an unprivileged user cannot write /etc: {o}"
    );

    // The interpreter is at exactly its PT_INTERP path, and nothing is setuid.
    assert!(
        jail.join("lib64/ld-linux-x86-64.so.2").exists()
            || !Path::new("/lib64/ld-linux-x86-64.so.2").exists()
    );
    for (p, (_, _, mode, _)) in snapshot(&jail) {
        assert_eq!(mode & 0o6000, 0, "{} is setuid/setgid", p.display());
    }
    let passwd = std::fs::read_to_string(jail.join("etc/passwd")).unwrap();
    assert_eq!(passwd.lines().count(), 1, "root only: {passwd}");
    let dev = std::fs::metadata(jail.join("dev/null")).unwrap();
    assert_eq!(
        (
            nix::sys::stat::major(dev.rdev()),
            nix::sys::stat::minor(dev.rdev())
        ),
        (1, 3)
    );
    assert_eq!(
        std::fs::metadata(jail.join("tmp")).unwrap().mode() & 0o7777,
        0o1777
    );
}

#[test]
fn second_run_changes_nothing_on_disk() {
    if !require_root("second_run_changes_nothing_on_disk") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    run_ok(&mut build(&jail, &state, &["--bin", "bash", "--bin", "ls"]));
    let before = snapshot(&jail);
    let state_before = snapshot(&state);
    let out = run_ok(&mut build(&jail, &state, &["--bin", "bash", "--bin", "ls"]));
    assert!(
        text(&out.stderr).contains("up to date"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        before,
        snapshot(&jail),
        "the jail changed on a no-op rebuild"
    );
    assert_eq!(
        state_before,
        snapshot(&state),
        "the state changed on a no-op rebuild"
    );
}

#[test]
fn a_changed_host_file_is_recopied() {
    if !require_root("a_changed_host_file_is_recopied") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let data = t.dir("data").join("motd");
    common::write_file(&data, "one\n", 0o644);
    run_ok(&mut build(
        &jail,
        &state,
        &["--file", data.to_str().unwrap()],
    ));
    let inside = jail.join(data.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read_to_string(&inside).unwrap(), "one\n");
    std::thread::sleep(std::time::Duration::from_millis(20));
    common::write_file(&data, "two, longer\n", 0o644);
    let out = run_ok(&mut build(
        &jail,
        &state,
        &["--file", data.to_str().unwrap()],
    ));
    assert!(
        text(&out.stderr).contains("1 updated"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&inside).unwrap(), "two, longer\n");
}

#[test]
fn dry_run_creates_nothing_and_lists_reasons() {
    if !require_root("dry_run_creates_nothing_and_lists_reasons") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let out = run_ok(&mut build(&jail, &state, &["--bin", "bash", "--dry-run"]));
    let plan = text(&out.stdout);
    assert!(
        plan.lines().any(|l| l.starts_with("copy")
            && l.contains("/usr/bin/bash")
            && l.contains("# --bin bash")),
        "{plan}"
    );
    assert!(
        plan.lines()
            .any(|l| l.starts_with("copy") && l.contains("libc.so.6") && l.contains("needed by")),
        "{plan}"
    );
    assert!(
        plan.lines()
            .any(|l| l.starts_with("mknod") && l.contains("/dev/null")),
        "{plan}"
    );
    assert!(!jail.exists() && !state.exists(), "dry run wrote something");
    let out = run_ok(&mut build(
        &jail,
        &state,
        &["--bin", "bash", "--dry-run", "--json"],
    ));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["op"] == "copy_file")
    );
    assert!(!jail.exists());
}

#[test]
fn scripts_bring_their_interpreter_and_odd_paths_work() {
    if !require_root("scripts_bring_their_interpreter_and_odd_paths_work") {
        return;
    }
    let t = TestRoot::for_current_test();
    let (jail, state) = (t.jail("jail"), t.state_dir());
    let odd = t.dir("dir with spaces & 'quotes'");
    let script = odd.join("hello world.sh");
    common::write_file(&script, "#!/bin/sh\necho hello from $0\n", 0o755);
    let data = odd.join("data file.txt");
    common::write_file(&data, "payload\n", 0o644);
    run_ok(&mut build(
        &jail,
        &state,
        &[
            "--bin",
            script.to_str().unwrap(),
            "--file",
            data.to_str().unwrap(),
            "--bin",
            "bash",
        ],
    ));
    let mut c = Command::new("/usr/sbin/chroot");
    c.arg(&jail).arg(&script);
    let out = run_ok(&mut c);
    assert!(
        text(&out.stdout).contains("hello from"),
        "{}",
        text(&out.stdout)
    );
    assert!(jail.join(data.strip_prefix("/").unwrap()).is_file());
}

/// Runs a failing build and checks the code, the message, and that nothing was made.
fn refused(t: &TestRoot, args: &[&str], code: i32, needle: &str) {
    let (jail, state) = (t.jail("refused"), t.state_dir());
    let out = run_status(&mut build(&jail, &state, args), code);
    let err = text(&out.stderr);
    assert!(err.contains(needle), "expected {needle:?} in:\n{err}");
    assert!(!jail.exists(), "a refused build created {}", jail.display());
    assert!(!state.exists(), "a refused build wrote state");
}

#[test]
fn bad_input_is_refused_with_nothing_half_made() {
    if !require_root("bad_input_is_refused_with_nothing_half_made") {
        return;
    }
    let t = TestRoot::for_current_test();
    refused(
        &t,
        &["--bin", "no-such-program-xyz"],
        2,
        "no-such-program-xyz\" not found in /usr/local/sbin",
    );
    refused(&t, &["--bin", "su"], 4, "refusing");
    refused(&t, &["--bin", "bash", "--bin", "sudo"], 4, "sudo");
    let text_file = t.dir("in").join("notes.txt");
    common::write_file(&text_file, "just text\n", 0o755);
    refused(
        &t,
        &["--bin", text_file.to_str().unwrap()],
        2,
        "neither an ELF program nor a #! script",
    );
    // An ELF for another machine: a copy of a host program with e_machine patched.
    let mut elf = std::fs::read("/usr/bin/id").unwrap();
    elf[18] = 183;
    elf[19] = 0;
    let foreign = t.dir("in").join("foreign");
    common::write_file(&foreign, elf, 0o755);
    refused(
        &t,
        &["--bin", foreign.to_str().unwrap()],
        2,
        "this host runs machine 62",
    );
    refused(
        &t,
        &["--file", "/no/such/file"],
        2,
        "/no/such/file: no such file",
    );
    let fifo = t.dir("in").join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    refused(
        &t,
        &["--bin", fifo.to_str().unwrap()],
        2,
        "neither an ELF program",
    );
    // A JAIL that exists and is a file.
    let file_jail = t.dir("in").join("jailfile");
    common::write_file(&file_jail, "x", 0o644);
    let out = run_status(
        &mut build(&file_jail, &t.state_dir(), &["--bin", "bash"]),
        2,
    );
    assert!(
        text(&out.stderr).contains("exists and is not a directory"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file_jail).unwrap(), "x");
}

#[test]
fn unreadable_file_is_bad_input_for_deps() {
    if !require_root("unreadable_file_is_bad_input_for_deps") {
        return;
    }
    let t = TestRoot::for_current_test();
    let secret = t.dir("in").join("secret");
    std::fs::copy("/usr/bin/id", &secret).unwrap();
    common::write_file(&secret, std::fs::read("/usr/bin/id").unwrap(), 0o700);
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(common::bin_path())
        .arg("deps")
        .arg(&secret);
    let out = run_status(&mut c, 2);
    assert!(
        text(&out.stderr).contains("Permission denied"),
        "{}",
        text(&out.stderr)
    );
}

/// path → (kind, mode, uid, gid, sha256 of the content or the symlink target) of every
/// object under `root`, keyed by the path inside it.
fn tree(root: &Path) -> BTreeMap<PathBuf, (String, u32, u32, u32, String)> {
    use sha2::{Digest, Sha256};
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let m = e.path().symlink_metadata().unwrap();
            let ft = m.file_type();
            let (kind, what) = if ft.is_symlink() {
                let t = std::fs::read_link(e.path()).unwrap();
                ("link", t.display().to_string())
            } else if ft.is_file() {
                let sha = Sha256::digest(std::fs::read(e.path()).unwrap());
                let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
                ("file", hex)
            } else if ft.is_dir() {
                ("dir", String::new())
            } else {
                ("other", format!("{:x}", m.rdev()))
            };
            let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
            (rel, (kind.to_string(), m.mode(), m.uid(), m.gid(), what))
        })
        .collect()
}

#[test]
fn parallel_build_makes_the_same_tree_as_one_job() {
    if !require_root("parallel_build_makes_the_same_tree_as_one_job") {
        return;
    }
    let t = TestRoot::for_current_test();
    let data = t.dir("data");
    for i in 0..40 {
        common::write_file(&data.join(format!("f{i}")), "x".repeat(i * 997), 0o640);
    }
    let data_arg = data.to_str().unwrap().to_string();
    let args: Vec<&str> = [
        "--bin", "bash", "--bin", "ls", "--bin", "id", "--bin", "grep", "--bin", "sed", "--bin",
        "tar", "--bin", "gzip", "--file",
    ]
    .into_iter()
    .chain([data_arg.as_str()])
    .collect();
    let serial = t.jail("serial");
    let parallel = t.jail("parallel");
    let with = |jobs: &'static str| {
        let mut a = args.clone();
        a.extend(["--jobs", jobs]);
        a
    };
    // The plan itself, reasons included, does not depend on the number of resolver threads.
    let planned = |jobs| {
        let mut a = with(jobs);
        a.extend(["--dry-run", "--json"]);
        text(&run_ok(&mut build(&t.jail("planned"), &t.dir("state0"), &a)).stdout)
    };
    assert_eq!(planned("1"), planned("4"), "--jobs 4 planned otherwise");
    run_ok(&mut build(&serial, &t.dir("state1"), &with("1")));
    run_ok(&mut build(&parallel, &t.dir("state2"), &with("4")));
    let (a, b) = (tree(&serial), tree(&parallel));
    assert!(
        a.len() > 60,
        "a suspiciously small jail: {} objects",
        a.len()
    );
    assert_eq!(a, b, "--jobs 4 built another tree than --jobs 1");

    // And a parallel no-op rebuild touches nothing: same inodes, same mtimes.
    let before = snapshot(&parallel);
    let out = run_ok(&mut build(&parallel, &t.dir("state2"), &with("4")));
    assert!(
        text(&out.stderr).contains("up to date"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        before,
        snapshot(&parallel),
        "a parallel no-op rebuild changed the jail"
    );
}

/// Issue 15: a jail's request is its desired state. A second `build` with only `--bin X`
/// adds X and keeps the profile that built the jail; `check` stays clean; `--remove-bin`
/// takes a program out of the request again.
#[test]
fn a_second_build_adds_to_the_request_and_keeps_its_profiles() {
    if !require_root("a_second_build_adds_to_the_request_and_keeps_its_profiles") {
        return;
    }
    let t = TestRoot::for_current_test();
    let jail = t.jail("jail");
    let state = t.state_dir();
    let build = |args: &[&str]| {
        let mut c = bin();
        c.arg("build")
            .arg(&jail)
            .arg("--state-dir")
            .arg(&state)
            .args(args);
        run(&mut c)
    };
    let out = build(&["--profile", "minimal"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = build(&["--bin", "id"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("no longer needed"),
        "the profile's files were dropped from the plan: {}",
        text(&out.stderr)
    );
    let st: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::fs::read_dir(state.join("jails"))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path(),
        )
        .unwrap(),
    )
    .unwrap();
    let profiles = st["request"]["profiles"].to_string();
    assert!(profiles.contains("minimal"), "{st}");
    assert!(st["request"]["bins"].to_string().contains("\"id\""), "{st}");
    let mut check = bin();
    check.arg("check").arg(&jail).arg("--state-dir").arg(&state);
    let out = run(&mut check);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    let out = build(&["--remove-bin", "id"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no longer needed"),
        "{}",
        text(&out.stderr)
    );
    let mut update = bin();
    update
        .arg("update")
        .arg(&jail)
        .arg("--state-dir")
        .arg(&state);
    run_ok(&mut update);
    assert!(!jail.join("usr/bin/id").exists() && !jail.join("bin/id").exists());
    let out = run(&mut check);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}
