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

/// mtime of `p` (not following a symlink), in nanoseconds.
fn mtime(p: &Path) -> i128 {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("lstat {}: {e}", p.display()));
    i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec())
}

#[test]
fn copies_keep_their_times_so_python_finds_its_bytecode_fresh() {
    if !common::require_root("copies_keep_their_times") || !common::require_cmds(&["chroot"]) {
        return;
    }
    if !Path::new("/usr/bin/python3").exists() {
        common::skip_or_fail("copies_keep_their_times", "python3 is not installed");
        return;
    }
    let root = TestRoot::for_current_test();
    let (jail, state) = (root.jail("jail"), root.state_dir());
    build(&jail, &state, &["--profile", "python3"]);
    let real = std::fs::canonicalize("/usr/bin/python3").unwrap();
    for host in [Path::new("/usr/bin/python3"), real.as_path()] {
        let inside = jail.join(host.strip_prefix("/").unwrap());
        assert_eq!(
            mtime(&inside),
            mtime(host),
            "{} keeps the host's mtime (file and symlink alike)",
            host.display()
        );
    }
    // json's bytecode, and C extensions (with sqlite3's library) from lib-dynload
    let code = "import json, _decimal, sqlite3; print('ok', _decimal.__file__.split('/')[-2], \
                sqlite3.connect(':memory:').execute('select 6*7').fetchone()[0])";
    let argv = ["/usr/bin/python3", "-v", "-c", code];
    let out = common::run(&mut common::chroot_cmd(&jail, Some(NOBODY), &argv));
    let err = common::text(&out.stderr);
    assert!(
        out.status.success() && common::text(&out.stdout).trim() == "ok lib-dynload 42",
        "python3 runs in the jail as nobody: {err}"
    );
    assert!(
        !err.contains("bytecode is stale"),
        "no stdlib bytecode is stale in the jail:\n{}",
        err.lines()
            .filter(|l| l.contains("stale"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        err.lines()
            .any(|l| l.contains("code object from") && l.contains("json")),
        "json is loaded from its cached bytecode"
    );
}

#[test]
fn a_changed_source_is_still_noticed_when_copies_keep_its_mtime() {
    if !common::require_root("a_changed_source_is_still_noticed") {
        return;
    }
    let root = TestRoot::for_current_test();
    let (jail, state) = (root.jail("jail"), root.state_dir());
    let data = root.dir("data").join("f.txt");
    common::write_file(&data, "one\n", 0o644);
    let arg = data.to_str().unwrap();
    build(&jail, &state, &["--file", arg]);
    let inside = jail.join(arg.trim_start_matches('/'));
    assert_eq!(mtime(&inside), mtime(&data));
    let again = common::text(&build(&jail, &state, &["--file", arg]).stderr);
    assert!(again.contains("up to date"), "{again}");
    common::write_file(&data, "two\n", 0o644);
    let changed = common::text(&build(&jail, &state, &["--file", arg]).stderr);
    assert!(changed.contains("1 updated"), "{changed}");
    assert_eq!(std::fs::read_to_string(&inside).unwrap(), "two\n");
    assert_eq!(mtime(&inside), mtime(&data));
}

/// A private directory holding `libcore.so` and `libplugin.so` (which needs libcore.so and
/// has no RUNPATH), and a program that dlopens both from there: found at run time because
/// libcore.so is already loaded when the plugin asks for it.
fn plugin_app(root: &TestRoot) -> (PathBuf, PathBuf) {
    let dir = root.dir("plugins");
    let core = common::cc_shared(
        "int core_value(void) { return 42; }\n",
        &dir.join("libcore.so"),
        "libcore.so",
        &[],
    );
    common::cc_shared(
        "#include <stdio.h>\nint core_value(void);\n\
         void plugin_run(void) { printf(\"plugin says %d\\n\", core_value()); }\n",
        &dir.join("libplugin.so"),
        "libplugin.so",
        &[&format!("-L{}", dir.display()), "-lcore"],
    );
    let src = format!(
        "#include <dlfcn.h>\n#include <stdio.h>\n\
         int main(void) {{\n\
           if (!dlopen(\"{core}\", RTLD_NOW | RTLD_GLOBAL)) {{ puts(dlerror()); return 1; }}\n\
           void *p = dlopen(\"{dir}/libplugin.so\", RTLD_NOW);\n\
           if (!p) {{ puts(dlerror()); return 1; }}\n\
           ((void (*)(void))dlsym(p, \"plugin_run\"))();\n\
           return 0;\n\
         }}\n",
        core = core.display(),
        dir = dir.display()
    );
    let app = common::cc(&src, &root.dir("bin").join("host"), &["-ldl"]);
    (app, dir)
}

#[test]
fn run_time_libraries_are_resolved_as_one_group() {
    if !common::require_root("run_time_libraries_are_one_group") || !common::require_cmds(&["cc"]) {
        return;
    }
    let root = TestRoot::for_current_test();
    let (app, dir) = plugin_app(&root);
    let (jail, state) = (root.jail("jail"), root.state_dir());
    let glob = format!("{}/lib*.so", dir.display());
    build(
        &jail,
        &state,
        &["--bin", app.to_str().unwrap(), "--lib", &glob],
    );
    let argv = [app.to_str().unwrap()];
    let out = common::run(&mut common::chroot_cmd(&jail, Some(NOBODY), &argv));
    assert_eq!(
        common::text(&out.stdout).trim(),
        "plugin says 42",
        "the plugin loads in the jail: {}",
        common::text(&out.stderr)
    );
    let st = common::text(
        &common::run_ok(
            common::bin()
                .args(["update", jail.to_str().unwrap(), "--dry-run", "--state-dir"])
                .arg(&state),
        )
        .stderr,
    );
    assert!(
        st.contains("up to date"),
        "the request recorded --lib: {st}"
    );

    // --file DIR --with-libs: the same directory, resolved as a group
    let (jail2, state2) = (root.jail("jail2"), root.dir("state2"));
    build(
        &jail2,
        &state2,
        &[
            "--bin",
            app.to_str().unwrap(),
            "--file",
            dir.to_str().unwrap(),
            "--with-libs",
        ],
    );
    let out = common::run(&mut common::chroot_cmd(&jail2, Some(NOBODY), &argv));
    assert_eq!(common::text(&out.stdout).trim(), "plugin says 42");
    // without --with-libs the same files still copy; a lone plugin is an error as before
    let lone = common::run(
        common::bin()
            .arg("build")
            .arg(root.jail("jail3"))
            .arg("--state-dir")
            .arg(root.dir("state3"))
            .args(["--lib", &format!("{}/libplugin.so", dir.display())]),
    );
    assert!(
        !lone.status.success() && common::text(&lone.stderr).contains("libcore.so"),
        "a library whose needs nothing provides is refused: {}",
        common::text(&lone.stderr)
    );
}

#[test]
fn ld_library_path_is_honoured_and_recorded() {
    if !common::require_root("ld_library_path_is_honoured") || !common::require_cmds(&["cc"]) {
        return;
    }
    let root = TestRoot::for_current_test();
    let dir = root.dir("private");
    common::cc_shared(
        "const char *hidden(void) { return \"found through --ld-library-path\"; }\n",
        &dir.join("libhidden.so"),
        "libhidden.so",
        &[],
    );
    let app = common::cc(
        "#include <stdio.h>\nconst char *hidden(void);\nint main(void) { puts(hidden()); return 0; }\n",
        &root.dir("bin").join("uses-hidden"),
        &[&format!("-L{}", dir.display()), "-lhidden"],
    );
    let (jail, state) = (root.jail("jail"), root.state_dir());
    let refused = common::run(
        common::bin()
            .arg("build")
            .arg(&jail)
            .arg("--state-dir")
            .arg(&state)
            .args(["--bin", app.to_str().unwrap()]),
    );
    assert!(
        !refused.status.success(),
        "libhidden.so is nowhere the loader looks"
    );
    build(
        &jail,
        &state,
        &[
            "--bin",
            app.to_str().unwrap(),
            "--ld-library-path",
            dir.to_str().unwrap(),
        ],
    );
    let argv = [app.to_str().unwrap()];
    let out = common::run(&mut common::chroot_cmd(&jail, Some(NOBODY), &argv));
    assert_eq!(
        common::text(&out.stdout).trim(),
        "found through --ld-library-path",
        "the jail's own cache lists it: {}",
        common::text(&out.stderr)
    );
    assert!(check(&jail, &state).status.success());
    let again = common::text(&build(&jail, &state, &[]).stderr);
    assert!(
        again.contains("up to date"),
        "the request recorded the directories: {again}"
    );
}

#[test]
fn java_runs_in_a_jail_as_nobody() {
    if !common::require_root("java_runs_in_a_jail") {
        return;
    }
    let Some(java) = std::fs::canonicalize("/usr/bin/java")
        .ok()
        .filter(|j| j.starts_with("/usr/lib/jvm"))
    else {
        common::skip_or_fail(
            "java_runs_in_a_jail",
            "no JDK (default-jre-headless) installed",
        );
        return;
    };
    let home = java.parent().and_then(Path::parent).unwrap();
    let root = TestRoot::for_current_test();
    let (jail, state) = (root.jail("jail"), root.state_dir());
    let (lib, conf) = (home.join("lib"), home.join("conf"));
    build(
        &jail,
        &state,
        &[
            "--bin",
            java.to_str().unwrap(),
            "--file",
            lib.to_str().unwrap(),
            "--file",
            conf.to_str().unwrap(),
            "--with-libs",
        ],
    );
    let out = common::run(&mut common::chroot_cmd(
        &jail,
        Some(NOBODY),
        &[java.to_str().unwrap(), "-version"],
    ));
    let err = common::text(&out.stderr);
    assert!(
        out.status.success() && err.contains("version"),
        "java -version runs in the jail as nobody: {err}"
    );
    let ok = check(&jail, &state);
    assert!(ok.status.success(), "{}", common::text(&ok.stdout));
}

const HELLO: &str = "#include <stdio.h>\nint main(void) { puts(\"hello, jail\"); return 0; }\n";

/// Builds a jail with the program `prog`, runs it inside as nobody and checks the jail.
fn runs_as_nobody_in_its_jail(root: &TestRoot, prog: &Path) -> PathBuf {
    let (jail, state) = (root.jail("jail"), root.state_dir());
    build(&jail, &state, &["--bin", prog.to_str().unwrap()]);
    let argv = [prog.to_str().unwrap()];
    let out = common::run(&mut common::chroot_cmd(&jail, Some(NOBODY), &argv));
    assert_eq!(
        common::text(&out.stdout).trim(),
        "hello, jail",
        "{} runs in its jail as nobody: {}",
        prog.display(),
        common::text(&out.stderr)
    );
    let ok = check(&jail, &state);
    assert!(ok.status.success(), "{}", common::text(&ok.stdout));
    jail
}

#[test]
fn a_musl_program_gets_its_loader_which_is_its_libc() {
    if !common::require_root("a_musl_program") || !common::require_cmds(&["musl-gcc"]) {
        return;
    }
    let root = TestRoot::for_current_test();
    let dir = root.dir("bin");
    let (prog, src) = (dir.join("hello-musl"), dir.join("hello-musl.c"));
    common::write_file(&src, HELLO, 0o644);
    let mut cc = std::process::Command::new(common::find_cmd("musl-gcc").unwrap());
    common::run_ok(cc.arg("-o").arg(&prog).arg(&src));
    let jail = runs_as_nobody_in_its_jail(&root, &prog);
    assert!(
        !jail.join("etc/ld.so.cache").exists(),
        "musl's loader reads no ld.so.cache; none is written for it"
    );
    let glibc = std::fs::read_dir(jail.join("usr/lib/x86_64-linux-gnu")).map_or(0, |d| d.count());
    assert_eq!(glibc, 0, "nothing of glibc is copied for a musl program");
    assert!(
        !jail.join("etc/ld-musl-x86_64.path").exists(),
        "a program that needs only musl's libc does not need its loader's path file"
    );
}

#[test]
fn a_musl_program_finds_its_libraries_through_its_loaders_path_file_in_the_jail() {
    if !common::require_root("a_musl_path_file") || !common::require_cmds(&["musl-gcc"]) {
        return;
    }
    let root = TestRoot::for_current_test();
    // A private musl "prefix": the loader at PREFIX/lib reads PREFIX/etc/ld-musl-ARCH.path,
    // which names a library directory outside musl's built-in /lib:/usr/local/lib:/usr/lib.
    let prefix = root.dir("musl");
    let host_loader = std::fs::canonicalize("/lib/ld-musl-x86_64.so.1")
        .expect("musl-tools installs /lib/ld-musl-x86_64.so.1");
    let loader = prefix.join("lib/ld-musl-x86_64.so.1");
    std::fs::create_dir_all(loader.parent().unwrap()).unwrap();
    std::fs::copy(&host_loader, &loader).unwrap();
    let libs = prefix.join("greet-libs");
    let path_file = prefix.join("etc/ld-musl-x86_64.path");
    std::fs::create_dir_all(path_file.parent().unwrap()).unwrap();
    common::write_file(&path_file, format!("{}\n", libs.display()), 0o644);
    let musl = |args: &[&str]| {
        let mut cc = std::process::Command::new(common::find_cmd("musl-gcc").unwrap());
        common::run_ok(cc.args(args));
    };
    std::fs::create_dir_all(&libs).unwrap();
    let src = prefix.join("greet.c");
    common::write_file(
        &src,
        "const char *greet(void) { return \"hello, jail\"; }\n",
        0o644,
    );
    let lib = libs.join("libgreet.so");
    musl(&[
        "-shared",
        "-fPIC",
        "-Wl,-soname,libgreet.so",
        "-o",
        lib.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    let main = prefix.join("main.c");
    common::write_file(
        &main,
        "#include <stdio.h>\nconst char *greet(void);\nint main(void) { puts(greet()); return 0; }\n",
        0o644,
    );
    let prog = prefix.join("greet");
    musl(&[
        "-o",
        prog.to_str().unwrap(),
        main.to_str().unwrap(),
        &format!("-L{}", libs.display()),
        "-lgreet",
        &format!("-Wl,--dynamic-linker={}", loader.display()),
    ]);
    let jail = runs_as_nobody_in_its_jail(&root, &prog);
    let in_jail = jail.join(path_file.strip_prefix("/").unwrap());
    assert!(in_jail.is_file(), "the loader's path file is copied");
    // Without it the jail's loader searches only its built-in path: check must say so.
    std::fs::remove_file(&in_jail).unwrap();
    assert_unloadable(&jail, &root.state_dir(), "libgreet.so");
}

#[test]
fn an_i386_program_gets_its_32_bit_closure() {
    if !common::require_root("an_i386_program") || !common::require_cmds(&["cc"]) {
        return;
    }
    if !Path::new("/proc/sys/abi/vsyscall32").exists() {
        common::skip_or_fail("an_i386_program", "this kernel has no IA-32 emulation");
        return;
    }
    let root = TestRoot::for_current_test();
    let dir = root.dir("bin");
    let prog = dir.join("hello32");
    let src = dir.join("hello32.c");
    common::write_file(&src, HELLO, 0o644);
    let out = common::run(
        std::process::Command::new("cc")
            .args(["-m32", "-o"])
            .arg(&prog)
            .arg(&src),
    );
    if !out.status.success() {
        common::skip_or_fail("an_i386_program", "cc -m32 does not work (gcc-multilib)");
        return;
    }
    runs_as_nobody_in_its_jail(&root, &prog);
}

/// `ssh` as git should run it against the test's private sshd.
fn git_ssh_command(srv: &common::sshd::PrivateSshd, key: &Path) -> String {
    format!(
        "ssh -p {} -F /dev/null -i {} -o IdentitiesOnly=yes -o BatchMode=yes \
         -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        srv.port(),
        key.display()
    )
}

#[test]
fn the_git_profile_serves_clone_and_push_over_ssh() {
    if !common::sshd::available("the_git_profile_serves_git") || !common::require_cmds(&["git"]) {
        return;
    }
    let _g = common::serial();
    let s = crate::user_support::Setup::new("the_git_profile_serves_git");
    build(&s.jail, &s.state_dir, &["--profile", "git"]);
    let user = common::UserGuard::new();
    let (key, key_pub) = common::sshd::client_keypair(&s.root.dir("client"));
    let mut cmd = s.user_cmd(user.name());
    cmd.arg("--key").arg(&key_pub);
    s.run_reloading(&mut cmd);

    // a bare repository in the user's home, owned by the user
    let home = s.jail.join("home").join(user.name());
    let repo = home.join("repo.git");
    common::run_ok(
        std::process::Command::new("git")
            .args(["init", "-q", "--bare"])
            .arg(&repo),
    );
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(&home).unwrap();
    common::run_ok(
        std::process::Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", owner.uid(), owner.gid()))
            .arg(&repo),
    );

    let git = |dir: &Path, args: &[&str]| {
        let mut c = std::process::Command::new("git");
        c.current_dir(dir)
            .env("GIT_SSH_COMMAND", git_ssh_command(&s.srv, &key))
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .args(args);
        common::run(&mut c)
    };
    let work = s.root.dir("work");
    let url = format!("{}@127.0.0.1:repo.git", user.name());
    let out = git(&work, &["clone", "-q", &url, "clone"]);
    assert!(
        out.status.success(),
        "git clone over ssh runs git-upload-pack in the jail: {}\n{}",
        common::text(&out.stderr),
        s.srv.log()
    );
    let clone = work.join("clone");
    std::fs::write(clone.join("README"), "pushed through the jail\n").unwrap();
    for args in [
        &["add", "README"][..],
        &["commit", "-q", "-m", "first"],
        &["push", "-q", "origin", "HEAD:refs/heads/main"],
    ] {
        let out = git(&clone, args);
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            common::text(&out.stderr)
        );
    }
    let again = work.join("again");
    let out = git(&work, &["clone", "-q", "-b", "main", &url, "again"]);
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(again.join("README")).unwrap(),
        "pushed through the jail\n",
        "the pushed commit came back through git-receive-pack and git-upload-pack"
    );
}

#[test]
fn a_basic_shell_user_can_scp_and_sftp_through_the_sftp_server_sshd_names() {
    let test = "a_basic_shell_user_can_scp_and_sftp";
    if !common::sshd::available(test) || !common::require_cmds(&["scp", "sftp"]) {
        return;
    }
    let Some(server) = [
        "/usr/lib/openssh/sftp-server",
        "/usr/libexec/openssh/sftp-server",
        "/usr/lib/ssh/sftp-server",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists()) else {
        common::skip_or_fail(test, "no sftp-server on this host");
        return;
    };
    let _g = common::serial();
    let s = crate::user_support::Setup::new(test);
    // the private sshd serves sftp with the program, as distributions configure it
    let conf = std::fs::read_to_string(s.srv.config_path()).unwrap();
    let conf = conf.replace(
        "Subsystem sftp internal-sftp",
        &format!("Subsystem sftp {server}"),
    );
    common::write_file(s.srv.config_path(), conf, 0o644);

    let user = common::UserGuard::new();
    let (key, key_pub) = common::sshd::client_keypair(&s.root.dir("client"));
    let mut cmd = s.user_cmd(user.name());
    cmd.arg("--key").arg(&key_pub);
    let out = s.run_reloading(&mut cmd);
    let said = common::text(&out.stderr);
    assert!(
        said.contains(&format!("has no {server}")) && said.contains("scp and sftp will fail"),
        "user warns that the jail lacks the sftp-server sshd names: {said}"
    );

    build(&s.jail, &s.state_dir, &["--profile", "basic-shell"]);
    let local = s.root.dir("local").join("upload.txt");
    std::fs::write(&local, "copied by scp\n").unwrap();
    let opts = [
        "-F",
        "/dev/null",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
    ];
    let port = s.srv.port().to_string();
    let mut scp = std::process::Command::new("scp");
    scp.args(["-P", &port, "-i"])
        .arg(&key)
        .args(opts)
        .arg(&local)
        .arg(format!("{}@127.0.0.1:", user.name()));
    let out = common::run(&mut scp);
    assert!(
        out.status.success(),
        "scp (SFTP protocol) into the jail: {}\n{}",
        common::text(&out.stderr),
        s.srv.log()
    );
    let home = s.jail.join("home").join(user.name());
    assert_eq!(
        std::fs::read_to_string(home.join("upload.txt")).unwrap(),
        "copied by scp\n"
    );
    let batch = s.root.dir("local").join("batch");
    std::fs::write(&batch, format!("put {} second.txt\nls\n", local.display())).unwrap();
    let mut sftp = std::process::Command::new("sftp");
    sftp.args(["-P", &port, "-i"])
        .arg(&key)
        .args(opts)
        .arg("-b")
        .arg(&batch)
        .arg(format!("{}@127.0.0.1", user.name()));
    let out = common::run(&mut sftp);
    assert!(
        out.status.success()
            && common::text(&out.stdout).contains("upload.txt")
            && home.join("second.txt").exists(),
        "sftp lists the home: {}{}",
        common::text(&out.stdout),
        common::text(&out.stderr)
    );
}

#[test]
fn a_dangling_link_in_a_profile_is_copied_and_absent_entries_are_one_line() {
    if !common::require_root("a_dangling_link_in_a_profile") {
        return;
    }
    let root = TestRoot::for_current_test();
    let data = root.dir("data");
    std::os::unix::fs::symlink("/nonexistent/src.zip", data.join("src.zip")).unwrap();
    let profiles = root.dir("profiles");
    common::write_file(
        &profiles.join("dangle.toml"),
        format!(
            "description = \"a dangling link\"\nfiles = [\"{}/src.zip\"]\n\
             optional_files = [\"/nonexistent/a\", \"/nonexistent/b\"]\n",
            data.display()
        ),
        0o644,
    );
    let (jail, state) = (root.jail("jail"), root.state_dir());
    let args = [
        "--profile-dir",
        profiles.to_str().unwrap(),
        "--profile",
        "dangle",
    ];
    let out = build(&jail, &state, &args);
    let link = jail.join(data.strip_prefix("/").unwrap()).join("src.zip");
    let target = std::fs::read_link(&link).expect("the dangling link is copied as a link");
    assert!(
        target.ends_with("nonexistent/src.zip"),
        "{}",
        target.display()
    );
    let said = common::text(&out.stderr);
    assert_eq!(
        said.matches("optional").count(),
        1,
        "absent entries are summarised in one line: {said}"
    );
    let mut verbose = args.to_vec();
    verbose.push("--verbose");
    let said = common::text(&build(&jail, &state, &verbose).stderr);
    assert!(
        said.contains("/nonexistent/a") && said.contains("/nonexistent/b"),
        "--verbose lists them: {said}"
    );
}

#[test]
fn timezone_gives_the_jail_its_zone() {
    if !common::require_root("timezone_gives_the_jail_its_zone") {
        return;
    }
    if !Path::new("/usr/share/zoneinfo/Europe/Paris").exists() {
        common::skip_or_fail(
            "timezone_gives_the_jail_its_zone",
            "tzdata is not installed",
        );
        return;
    }
    let root = TestRoot::for_current_test();
    let (jail, state) = (root.jail("jail"), root.state_dir());
    build(
        &jail,
        &state,
        &["--profile", "basic-shell", "--timezone", "Europe/Paris"],
    );
    // 1 January is winter time in Paris whatever the host's zone
    let argv = ["/usr/bin/date", "-d", "2024-01-01 12:00 UTC", "+%Z %H"];
    let out = common::run(&mut common::chroot_cmd(&jail, Some(NOBODY), &argv));
    assert_eq!(
        common::text(&out.stdout).trim(),
        "CET 13",
        "{}",
        common::text(&out.stderr)
    );
    let again = common::text(&build(&jail, &state, &["--profile", "basic-shell"]).stderr);
    assert!(
        again.contains("up to date"),
        "the request recorded the zone: {again}"
    );
    assert!(check(&jail, &state).status.success());
    let bad = common::run(
        common::bin()
            .arg("build")
            .arg(&jail)
            .arg("--state-dir")
            .arg(&state)
            .args(["--timezone", "../../etc/shadow"]),
    );
    assert_eq!(bad.status.code(), Some(2), "{}", common::text(&bad.stderr));
}

#[test]
fn check_flags_a_copied_program_that_cannot_load_but_not_one_the_kernel_cannot_run() {
    if !common::require_root("check_flags_a_copied_program") || !common::require_cmds(&["cc"]) {
        return;
    }
    let root = TestRoot::for_current_test();
    let files = root.dir("files");
    let lib = common::cc_shared(
        "int f(void) { return 1; }\n",
        &root.dir("private").join("libf.so"),
        "libf.so",
        &[],
    );
    common::cc(
        "int f(void);\nint main(void) { return f(); }\n",
        &files.join("needs-libf"),
        &[&format!("-L{}", lib.parent().unwrap().display()), "-lf"],
    );
    let mut elf = std::fs::read("/usr/bin/id").unwrap();
    elf[18] = 183; // aarch64: no x86-64 kernel runs it
    elf[19] = 0;
    common::write_file(&files.join("foreign"), elf, 0o755);
    let (jail, state) = (root.jail("jail"), root.state_dir());
    build(&jail, &state, &["--file", files.to_str().unwrap()]);
    let out = check(&jail, &state);
    let report = common::text(&out.stdout);
    let unloadable: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("[unloadable]"))
        .collect();
    assert_eq!(unloadable.len(), 1, "{report}");
    assert!(
        unloadable[0].contains("needs-libf") && unloadable[0].contains("libf.so"),
        "{report}"
    );
}

#[test]
fn profile_libraries_form_a_group_and_an_optional_one_that_cannot_load_is_skipped() {
    if !common::require_root("profile_libraries_form_a_group") || !common::require_cmds(&["cc"]) {
        return;
    }
    let root = TestRoot::for_current_test();
    let (_app, dir) = plugin_app(&root);
    let profiles = root.dir("profiles");
    let profile = |name: &str, body: String| {
        common::write_file(
            &profiles.join(format!("{name}.toml")),
            format!("description = \"{name}\"\n{body}"),
            0o644,
        )
    };
    let d = dir.display();
    profile(
        "group",
        format!("libraries = [\"{d}/libplugin.so\", \"{d}/libcore.so\"]\n"),
    );
    profile(
        "lone",
        format!("optional_libraries = [\"{d}/libplugin.so\"]\n"),
    );
    let pdir = profiles.to_str().unwrap();
    let (jail, state) = (root.jail("jail"), root.state_dir());
    build(
        &jail,
        &state,
        &["--profile-dir", pdir, "--profile", "group"],
    );
    assert!(
        jail.join(dir.strip_prefix("/").unwrap())
            .join("libplugin.so")
            .exists()
    );
    let (jail2, state2) = (root.jail("jail2"), root.dir("state2"));
    let out = build(
        &jail2,
        &state2,
        &["--profile-dir", pdir, "--profile", "lone"],
    );
    let said = common::text(&out.stderr);
    assert!(
        said.contains("libplugin.so needs libcore.so"),
        "an optional library whose needs nothing provides is a warning: {said}"
    );
}
