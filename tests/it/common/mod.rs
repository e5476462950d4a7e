//! Shared helpers for the integration tests (each test file says `mod common;`): the binary
//! under test, skip-or-fail rules for root tests, per-test directories, throw-away users,
//! process guards, C fixtures and command runners. Guards clean up on Drop, also on panic;
//! nothing here touches a user, process or file that a test did not create.
#![allow(dead_code)]

pub mod nspawn;
pub mod port;
pub mod sshd;

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The environment variable that turns a skipped root test into a failure (set by
/// `scripts/test` in CI and when it runs as root). "", "0" and "false" mean unset.
pub const REQUIRE_ROOT_TESTS: &str = "JAILSMITH_REQUIRE_ROOT_TESTS";

/// Set to keep every TestRoot on disk after the test, for debugging.
pub const KEEP_TEST_DIRS: &str = "JAILSMITH_KEEP_TEST_DIRS";

/// Base of the per-test directories when the tests run as root: root-owned and 0755 down
/// from `/`, as sshd's ChrootDirectory rule requires (never under the 1777 /tmp).
pub const ROOT_TEST_BASE: &str = "/var/lib/jailsmith-tests";

/// A `Command` for the jailsmith binary built by cargo for this test run.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jailsmith"))
}

/// `jailsmith apply SPEC --json --state-dir STATE EXTRA…` (a spec without users: no sshd),
/// which must succeed; its JSON report.
pub fn apply_json(spec: &Path, state: &Path, extra: &[&str]) -> serde_json::Value {
    let mut c = bin();
    c.arg("apply")
        .arg(spec)
        .arg("--json")
        .arg("--state-dir")
        .arg(state)
        .args(extra);
    let out = run_ok(&mut c);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Path of the jailsmith binary under test.
pub fn bin_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_jailsmith"))
}

fn env_flag(name: &str) -> bool {
    match std::env::var(name) {
        Ok(v) => !matches!(v.trim(), "" | "0" | "false" | "no"),
        Err(_) => false,
    }
}

/// True when a root test that cannot run must fail rather than skip.
pub fn root_tests_required() -> bool {
    env_flag(REQUIRE_ROOT_TESTS)
}

/// The running test's name (libtest names each test thread after its test).
pub fn current_test() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unknown-test")
        .to_string()
}

/// Skips (returns false, after a `SKIP` line on stderr) or, when root tests are required,
/// panics. Every `require_*` helper ends here.
pub fn skip_or_fail(test: &str, why: &str) -> bool {
    if root_tests_required() {
        panic!(
            "root test {test} cannot run: {why} ({REQUIRE_ROOT_TESTS} is set, so a skip is a failure)"
        );
    }
    eprintln!("SKIP {test}: {why}");
    // scripts/test sets JAILSMITH_SKIP_LOG and lists the skips at the end (libtest hides
    // the stderr of passing tests).
    if let Some(log) = std::env::var_os("JAILSMITH_SKIP_LOG").filter(|l| !l.is_empty()) {
        use std::io::Write;
        if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(log) {
            let _ = writeln!(f, "SKIP {test}: {why}");
        }
    }
    false
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// `if !common::require_root("name") { return; }` at the top of a root test.
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    skip_or_fail(test, "it needs root (euid 0)")
}

/// Finds an external program in PATH, then in the sbin directories a non-root PATH may lack.
pub fn find_cmd(cmd: &str) -> Option<PathBuf> {
    if cmd.contains('/') {
        let p = PathBuf::from(cmd);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(cmd))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// `if !common::require_cmd("sshd") { return; }`: skip (or fail, see `skip_or_fail`) when an
/// external program is missing. The test's name is taken from the thread.
pub fn require_cmd(cmd: &str) -> bool {
    if find_cmd(cmd).is_some() {
        return true;
    }
    skip_or_fail(
        &current_test(),
        &format!("program `{cmd}` is not installed"),
    )
}

/// `require_cmd` for several programs; reports the first missing one.
pub fn require_cmds(cmds: &[&str]) -> bool {
    cmds.iter().all(|c| require_cmd(c))
}

// ---------------------------------------------------------------------------------------
// Commands

/// Lossy UTF-8 of command output.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A readable account of a finished command, for assertion messages.
pub fn describe(cmd: &Command, out: &Output) -> String {
    format!(
        "command: {cmd:?}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// How long `run` lets a command take before killing it: JAILSMITH_TEST_CMD_TIMEOUT seconds,
/// default 300. A hung ssh session must fail the test, not stall CI.
pub fn default_timeout() -> Duration {
    std::env::var("JAILSMITH_TEST_CMD_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(300))
}

/// Runs a command with stdin closed and output captured, killed after `default_timeout()`;
/// panics only if it cannot start or times out.
pub fn run(cmd: &mut Command) -> Output {
    run_timeout(cmd, default_timeout())
}

/// `run` with an explicit time limit: on timeout the process is killed (by PID) and the
/// test panics with what it printed so far.
///
/// An executable this test process has just written may be "busy" for a moment: another
/// test thread that forked while it was open for writing holds it until its child execs
/// (ETXTBSY). A start refused so, or a `chroot`/`env` that could not exec for that reason
/// alone (exit 126, nothing else said), ran nothing: it is retried, with a deadline.
pub fn run_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match run_once(cmd, timeout) {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && Instant::now() < deadline => {}
            Err(e) => panic!("cannot run {cmd:?}: {e}"),
            Ok(out) if text_file_busy(&out) && Instant::now() < deadline => {}
            Ok(out) => return out,
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Exit 126 with one line on stderr, saying the program could not be executed because it
/// was busy.
fn text_file_busy(out: &Output) -> bool {
    let err = String::from_utf8_lossy(&out.stderr);
    out.status.code() == Some(126)
        && err.trim_end().lines().count() == 1
        && err.contains("Text file busy")
}

fn run_once(cmd: &mut Command, timeout: Duration) -> std::io::Result<Output> {
    use std::io::Read;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let mut out_pipe = child.stdout.take().expect("stdout pipe");
    let mut err_pipe = child.stderr.take().expect("stderr pipe");
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out_pipe.read_to_end(&mut b);
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err_pipe.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().expect("wait for killed child");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("wait for {cmd:?}: {e}"),
        }
    };
    // A grandchild may still hold the pipes open; do not wait for it forever.
    let collect = |t: std::thread::JoinHandle<Vec<u8>>| {
        let until = Instant::now() + Duration::from_secs(5);
        while !t.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        if t.is_finished() {
            t.join().unwrap_or_default()
        } else {
            b"<output still held open by a descendant>".to_vec()
        }
    };
    let out = Output {
        status,
        stdout: collect(out_t),
        stderr: collect(err_t),
    };
    if timed_out {
        panic!(
            "timed out after {timeout:?}, killed\n{}",
            describe(cmd, &out)
        );
    }
    Ok(out)
}

/// A uid no account has, from 42000 (inside UID_MIN..UID_MAX of a default login.defs).
pub fn free_uid() -> u32 {
    (42000..60000)
        .find(|u| {
            nix::unistd::User::from_uid((*u).into())
                .ok()
                .flatten()
                .is_none()
        })
        .expect("a free uid")
}

/// Runs a command and panics, printing its stdout and stderr, unless it exits 0.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    if !out.status.success() {
        panic!("command failed\n{}", describe(cmd, &out));
    }
    out
}

/// Runs a command and panics, printing its stdout and stderr, unless it exits with `code`.
pub fn run_status(cmd: &mut Command, code: i32) -> Output {
    let out = run(cmd);
    if out.status.code() != Some(code) {
        panic!("expected exit code {code}\n{}", describe(cmd, &out));
    }
    out
}

/// Compiles a C snippet with `cc` into `out` (the source is written beside it as `out.c`).
/// `args` come after the source, so `-shared -fPIC`, `-L DIR -lfoo`, `-Wl,-rpath,...` work.
/// Panics with the compiler's stderr. Returns `out`.
pub fn cc(fixture_src: &str, out: &Path, args: &[&str]) -> PathBuf {
    let mut name = out
        .file_name()
        .expect("cc: output has no file name")
        .to_owned();
    name.push(".c");
    let src = out.with_file_name(name);
    if let Some(dir) = out.parent() {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cc: mkdir {}: {e}", dir.display()));
    }
    fs::write(&src, fixture_src).unwrap_or_else(|e| panic!("cc: write {}: {e}", src.display()));
    let mut cmd = Command::new("cc");
    cmd.arg("-o").arg(out).arg(&src).args(args);
    let res = run(&mut cmd);
    if !res.status.success() {
        panic!("cc failed to build a fixture\n{}", describe(&cmd, &res));
    }
    out.to_path_buf()
}

/// Compiles a shared library fixture: `cc -shared -fPIC -Wl,-soname,SONAME`, then `args`
/// (e.g. `-Wl,-rpath,DIR`, `-Wl,--enable-new-dtags` for RUNPATH, `-L DIR -lfoo`).
pub fn cc_shared(fixture_src: &str, out: &Path, soname: &str, args: &[&str]) -> PathBuf {
    let soname_arg = format!("-Wl,-soname,{soname}");
    let mut all = vec!["-shared", "-fPIC", soname_arg.as_str()];
    all.extend_from_slice(args);
    cc(fixture_src, out, &all)
}

/// `chroot JAIL ARGV...` with a clean environment (PATH=/usr/bin:/bin, HOME=/, LANG=C), as
/// a jailed login would see it; `userspec` (`USER:GROUP` or `UID:GID`) drops privileges
/// via `chroot --userspec`. Only for jails a test built: it runs what is inside.
pub fn chroot_cmd(jail: &Path, userspec: Option<&str>, argv: &[&str]) -> Command {
    let mut cmd = Command::new(find_cmd("chroot").unwrap_or("chroot".into()));
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/")
        .env("LANG", "C");
    if let Some(spec) = userspec {
        cmd.arg(format!("--userspec={spec}"));
    }
    cmd.arg(jail).args(argv);
    cmd
}

/// `jailsmith SUB JAIL --state-dir STATE EXTRA...`, the command most jail tests run.
pub fn jail_cmd(sub: &str, jail: &Path, state: &Path, extra: &[&str]) -> Command {
    let mut c = bin();
    c.arg(sub)
        .arg(jail)
        .arg("--state-dir")
        .arg(state)
        .args(extra);
    c
}

/// Writes a file and sets its mode (not subject to the umask).
pub fn write_file(path: &Path, contents: impl AsRef<[u8]>, mode: u32) {
    fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// Rewrites the state file of the one jail under `state_dir` with `edit` (to stage a state
/// that jailsmith itself would not write, e.g. users it never added).
pub fn edit_jail_state(state_dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let file = fs::read_dir(state_dir.join("jails"))
        .unwrap_or_else(|e| panic!("{}/jails: {e}", state_dir.display()))
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a jail state file");
    let mut v: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
    edit(&mut v);
    fs::write(&file, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

/// Creates a directory (and missing parents, each 0755) and sets its mode exactly.
pub fn make_dir(path: &Path, mode: u32) {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
        .unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

static UNIQUE: AtomicU32 = AtomicU32::new(0);

/// A number unique within this test process.
pub fn unique() -> u32 {
    UNIQUE.fetch_add(1, Ordering::Relaxed)
}

// ---------------------------------------------------------------------------------------
// Per-test directories

/// A per-test base directory, removed recursively on Drop (set JAILSMITH_KEEP_TEST_DIRS=1 to
/// keep it). As root it lives at `/var/lib/jailsmith-tests/<test>-<pid>-<n>`, root-owned and
/// 0755 with every ancestor root-owned and not group/other-writable, so a jail under it passes
/// sshd's ChrootDirectory check. Not root: under cargo's CARGO_TARGET_TMPDIR instead.
/// JAILSMITH_TEST_BASE overrides the base. Mounts left under it are lazily unmounted before
/// the removal; if one cannot be, the directory is left in place (never deleted through it).
pub struct TestRoot {
    path: PathBuf,
}

/// Where TestRoots are made on this machine (see `TestRoot`).
pub fn test_base() -> PathBuf {
    if let Some(b) = std::env::var_os("JAILSMITH_TEST_BASE").filter(|b| !b.is_empty()) {
        return PathBuf::from(b);
    }
    if is_root() {
        PathBuf::from(ROOT_TEST_BASE)
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("jailsmith-tests")
    }
}

fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_matches('_');
    let s = if s.is_empty() { "test" } else { s };
    s.chars()
        .rev()
        .take(48)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

impl TestRoot {
    /// A fresh directory for `test` (use the test's name; `::` and the like are replaced).
    pub fn new(test: &str) -> Self {
        let base = test_base();
        make_dir(&base, 0o755);
        if is_root() {
            check_chroot_ancestors(&base);
        }
        let stem = sanitize(test);
        loop {
            let path = base.join(format!("{stem}-{}-{}", std::process::id(), unique()));
            match fs::DirBuilder::new().mode(0o755).create(&path) {
                Ok(()) => {
                    fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
                        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
                    return Self { path };
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("TestRoot: mkdir {}: {e}", path.display()),
            }
        }
    }

    /// A TestRoot named after the running test (from the thread name).
    pub fn for_current_test() -> Self {
        Self::new(&current_test())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<root>/<name>`: a path for a jail; not created (jailsmith creates it).
    pub fn jail(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// `<root>/state`: a path for `--state-dir`; not created.
    pub fn state_dir(&self) -> PathBuf {
        self.path.join("state")
    }

    /// `<root>/<name>`, created 0755: scratch space (fixtures, keys, homes).
    pub fn dir(&self, name: &str) -> PathBuf {
        let p = self.path.join(name);
        make_dir(&p, 0o755);
        p
    }
}

/// Panics unless `dir` and every ancestor is root-owned and not group/other-writable.
pub fn check_chroot_ancestors(dir: &Path) {
    for a in dir.ancestors() {
        let m = fs::symlink_metadata(a).unwrap_or_else(|e| panic!("stat {}: {e}", a.display()));
        assert!(
            m.is_dir() && m.uid() == 0 && m.mode() & 0o022 == 0,
            "{} must be a root-owned directory without group/other write for sshd's \
             ChrootDirectory rule (uid {}, mode {:o}); set JAILSMITH_TEST_BASE elsewhere",
            a.display(),
            m.uid(),
            m.mode() & 0o7777
        );
    }
}

/// Mount points at or below `dir`, deepest first (from /proc/self/mountinfo).
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape_mountinfo(m)))
        .filter(|m| m.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Removes a test directory: lazily unmounts what is mounted below it, makes directories
/// writable again where a test removed the write bit, then removes the tree (never following
/// symlinks). Leaves the tree in place, with a warning, if a mount cannot be removed.
pub fn remove_test_dir(dir: &Path) {
    for m in mounts_under(dir) {
        if let Err(e) = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH) {
            eprintln!("warning: cannot unmount {}: {e}", m.display());
        }
    }
    if !mounts_under(dir).is_empty() {
        eprintln!(
            "warning: mounts remain under {}; leaving it in place",
            dir.display()
        );
        return;
    }
    if fs::remove_dir_all(dir).is_ok() || !dir.exists() {
        return;
    }
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .flatten()
    {
        if entry.file_type().is_dir() {
            let _ = fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o700));
        }
    }
    if let Err(e) = fs::remove_dir_all(dir) {
        eprintln!("warning: cannot remove {}: {e}", dir.display());
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        remove_jail_groups(&self.path);
        if env_flag(KEEP_TEST_DIRS) {
            eprintln!("keeping test directory {}", self.path.display());
            return;
        }
        remove_test_dir(&self.path);
    }
}

/// Removes the sshd groups jailsmith made for jails under `root` (the directories up to
/// three levels down): a test's jail goes with its TestRoot, and so do the groups of its users.
fn remove_jail_groups(root: &Path) {
    use jailsmith::sshd::dropin::jail_group;
    let groups = fs::read_to_string("/etc/group").unwrap_or_default();
    let mut dirs = vec![(root.to_path_buf(), 0)];
    while let Some((d, depth)) = dirs.pop() {
        for sftp in [false, true] {
            let g = jail_group(&d, sftp);
            if groups
                .lines()
                .any(|l| l.split(':').next() == Some(g.as_str()))
            {
                let _lock = USERDB.lock().unwrap_or_else(|e| e.into_inner());
                let _ = Command::new("groupdel").arg("--").arg(&g).output();
            }
        }
        if depth < 3
            && let Ok(entries) = fs::read_dir(&d)
        {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push((e.path(), depth + 1));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Processes

/// Kills a process by PID on Drop (SIGKILL, then reaps it if it is our child).
pub struct ProcessGuard {
    pid: i32,
    child: Option<Child>,
}

impl ProcessGuard {
    pub fn new(child: Child) -> Self {
        Self {
            pid: child.id() as i32,
            child: Some(child),
        }
    }

    /// Guards a PID that is not our child (e.g. read from a pid file). Only pass a PID the
    /// test itself started.
    pub fn from_pid(pid: i32) -> Self {
        assert!(pid > 1, "refusing to guard pid {pid}");
        Self { pid, child: None }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn child(&mut self) -> Option<&mut Child> {
        self.child.as_mut()
    }

    /// Waits up to `timeout` for the child to exit by itself.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        match self.child.as_mut() {
            Some(c) => {
                if let Ok(None) = c.try_wait() {
                    let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
                    let _ = c.wait();
                }
            }
            None => {
                let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
            }
        }
    }
}

/// PIDs of processes whose real, effective, saved or fs uid is `uid` (from /proc).
pub fn pids_of_uid(uid: u32) -> Vec<i32> {
    let mut pids = Vec::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return pids;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(status) = fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let owned = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .map(|ids| ids.split_whitespace().any(|id| id == uid.to_string()))
            .unwrap_or(false);
        if owned {
            pids.push(pid);
        }
    }
    pids
}

/// PIDs of every descendant of `pid` (from the PPid lines in /proc), children first.
pub fn descendants(pid: i32) -> Vec<i32> {
    let mut parent_of = Vec::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            if let Ok(status) = fs::read_to_string(entry.path().join("status"))
                && let Some(pp) = status
                    .lines()
                    .find_map(|l| l.strip_prefix("PPid:"))
                    .and_then(|v| v.trim().parse::<i32>().ok())
            {
                parent_of.push((p, pp));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(c, pp) in &parent_of {
            if pp == p && !out.contains(&c) {
                out.push(c);
                frontier.push(c);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Users

/// Options for `UserGuard::create`. Defaults: next free uid, home `/home/NAME` not created,
/// shell `/bin/sh`.
#[derive(Debug, Clone, Default)]
pub struct UserOpts {
    pub uid: Option<u32>,
    pub home: Option<PathBuf>,
    /// `useradd -m`: create the home (and remove it again with `userdel -r`).
    pub create_home: bool,
    pub shell: Option<String>,
}

/// A real user with a unique `jst…` name, created with `useradd` (argv, no shell) and removed
/// with `userdel` on Drop after its processes are killed by PID. The account has password `*`
/// (no password, but not locked: with `UsePAM no`, as in the private sshd, sshd refuses a
/// key login to an account whose password starts with `!`). Each user gets its own group.
pub struct UserGuard {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
    remove_home: bool,
}

/// useradd/userdel take a lock on /etc/passwd; tests in one binary run in parallel threads.
static USERDB: Mutex<()> = Mutex::new(());

fn new_user_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // jst + pid + counter + a little time: unique across parallel test binaries and reruns.
    format!(
        "jst{:x}{:x}{:03x}",
        std::process::id(),
        unique(),
        nanos & 0xfff
    )
}

impl UserGuard {
    /// A user without a home directory on disk.
    pub fn new() -> Self {
        Self::create(&UserOpts::default())
    }

    /// A normal (not jailed) user with a home created by `useradd -m` at `home`.
    pub fn with_home(home: &Path) -> Self {
        Self::create(&UserOpts {
            home: Some(home.to_path_buf()),
            create_home: true,
            ..UserOpts::default()
        })
    }

    pub fn create(opts: &UserOpts) -> Self {
        assert!(is_root(), "UserGuard needs root; call require_root first");
        let _lock = USERDB.lock().unwrap_or_else(|p| p.into_inner());
        let mut last = String::new();
        for attempt in 0..8 {
            let name = new_user_name();
            assert!(name.len() <= 32);
            let mut cmd = Command::new(find_cmd("useradd").unwrap_or("useradd".into()));
            cmd.args(["-p", "*", "-U", "-c", "jailsmith test user"]);
            cmd.arg("-s")
                .arg(opts.shell.as_deref().unwrap_or("/bin/sh"));
            if let Some(uid) = opts.uid {
                cmd.arg("-u").arg(uid.to_string());
            }
            if let Some(home) = &opts.home {
                cmd.arg("-d").arg(home);
            }
            cmd.arg(if opts.create_home { "-m" } else { "-M" });
            cmd.arg(&name);
            let out = run(&mut cmd);
            match out.status.code() {
                Some(0) => {
                    let user = nix::unistd::User::from_name(&name)
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| panic!("useradd made {name} but it cannot be read"));
                    return Self {
                        name,
                        uid: user.uid.as_raw(),
                        gid: user.gid.as_raw(),
                        home: user.dir,
                        remove_home: opts.create_home,
                    };
                }
                // 9: name in use (try another), 10: cannot lock/update the user database.
                Some(9) | Some(10) | Some(1) => {
                    last = describe(&cmd, &out);
                    std::thread::sleep(Duration::from_millis(100 * (attempt + 1)));
                }
                _ => panic!("useradd failed\n{}", describe(&cmd, &out)),
            }
        }
        panic!("useradd kept failing\n{last}");
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn uid(&self) -> u32 {
        self.uid
    }
    pub fn gid(&self) -> u32 {
        self.gid
    }
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Kills every process running as this user (by PID).
    pub fn kill_processes(&self) {
        kill_uid(self.uid);
    }
}

/// Kills every process whose uid is `uid` (by PID), a few passes for late children.
fn kill_uid(uid: u32) {
    if uid == 0 {
        return;
    }
    for _ in 0..5 {
        let pids = pids_of_uid(uid);
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Removes a test user (only `jst…` names): kills its processes, then `userdel [-r]`,
/// retrying while the user database is locked. Warns instead of panicking (runs in Drop).
fn delete_user(name: &str, remove_home: bool) {
    if !name.starts_with("jst") {
        return; // never remove a user we did not name
    }
    let _lock = USERDB.lock().unwrap_or_else(|p| p.into_inner());
    for attempt in 0..8 {
        match nix::unistd::User::from_name(name) {
            Ok(Some(u)) => kill_uid(u.uid.as_raw()),
            Ok(None) => return,
            Err(_) => {}
        }
        let mut cmd = Command::new(find_cmd("userdel").unwrap_or("userdel".into()));
        if remove_home {
            cmd.arg("-r");
        }
        cmd.arg(name);
        let out = run(&mut cmd);
        match out.status.code() {
            // 6: already gone; 12 with -r: home or mail spool not removed, but the user is.
            Some(0) | Some(6) | Some(12) => return,
            _ if attempt < 7 => std::thread::sleep(Duration::from_millis(100 * (attempt + 1))),
            _ => eprintln!(
                "warning: cannot remove test user {name}\n{}",
                describe(&cmd, &out)
            ),
        }
    }
}

/// A fresh `jst…` name for a user that the code under test creates (`jailsmith user NAME`);
/// on Drop the user is removed if it exists (processes killed first), with its home only if
/// `remove_home` was set.
pub struct ReservedUser {
    name: String,
    pub remove_home: bool,
}

impl ReservedUser {
    pub fn new() -> Self {
        Self {
            name: new_user_name(),
            remove_home: false,
        }
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The account as the system sees it now (None until it is created).
    pub fn lookup(&self) -> Option<nix::unistd::User> {
        nix::unistd::User::from_name(&self.name).ok().flatten()
    }
}

impl Default for ReservedUser {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ReservedUser {
    fn drop(&mut self) {
        delete_user(&self.name, self.remove_home);
    }
}

impl Default for UserGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for UserGuard {
    fn drop(&mut self) {
        delete_user(&self.name, self.remove_home);
    }
}

/// Spawns a command with output to files in `dir` (for long-running helpers); returns the
/// guard and the log path.
pub fn spawn_logged(cmd: &mut Command, log: &Path) -> ProcessGuard {
    let f = fs::File::create(log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
    let f2 = f.try_clone().expect("dup log fd");
    cmd.stdin(Stdio::null()).stdout(f).stderr(f2);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    ProcessGuard::new(child)
}

/// Tests that change accounts (useradd/usermod lock the user database) or run a private
/// sshd with logins take this lock: one such test at a time across the whole test binary.
static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the account/sshd lock for as long as the guard lives (a panic does not poison it).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A host file that must come out of a command exactly as it went in: content, owner, mode,
/// mtime and inode are recorded when it is made and compared by `assert_unchanged`.
pub struct Canary {
    path: PathBuf,
    before: (Vec<u8>, u32, u32, u32, i64, i64, u64),
}

impl Canary {
    /// Writes `content` at `path` (mode 0640, root-owned) and records it.
    pub fn new(path: &Path, content: &str) -> Self {
        write_file(path, content, 0o640);
        let before = Self::read(path);
        Canary {
            path: path.to_path_buf(),
            before,
        }
    }

    /// Writes `content` at `path` owned by `uid` with `mode` (setuid bits included: what a
    /// repair would clear) and records it.
    pub fn owned(path: &Path, content: &str, uid: u32, mode: u32) -> Self {
        write_file(path, content, 0o600);
        std::os::unix::fs::chown(path, Some(uid), None)
            .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        // after the chown, which clears setuid
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
        Canary {
            path: path.to_path_buf(),
            before: Self::read(path),
        }
    }

    fn read(path: &Path) -> (Vec<u8>, u32, u32, u32, i64, i64, u64) {
        let m = fs::symlink_metadata(path)
            .unwrap_or_else(|e| panic!("canary {} is gone: {e}", path.display()));
        let content = fs::read(path).unwrap_or_default();
        (
            content,
            m.uid(),
            m.gid(),
            m.mode(),
            m.mtime(),
            m.mtime_nsec(),
            m.ino(),
        )
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Panics naming what changed.
    pub fn assert_unchanged(&self, after: &str) {
        let now = Self::read(&self.path);
        assert!(
            now == self.before,
            "canary {} changed after {after}: (content, uid, gid, mode, mtime, ns, ino) {:?} -> {:?}",
            self.path.display(),
            self.before,
            now
        );
    }
}

/// `jailsmith SUBCOMMAND JAIL --state-dir STATE ARGS…` (`args[0]` is the subcommand).
pub fn jailsmith_at(args: &[&str], jail: &Path, state: &Path) -> Command {
    let mut c = bin();
    c.arg(args[0])
        .arg(jail)
        .arg("--state-dir")
        .arg(state)
        .args(&args[1..]);
    c
}

/// `jailsmith mount JAIL` with its boot units written to `units`; panics unless it exits 0.
/// Returns its stdout.
pub fn mount_jail(jail: &Path, state: &Path, units: &Path) -> String {
    let unit_dir = units.to_str().expect("a UTF-8 unit directory");
    let out = run_ok(&mut jailsmith_at(
        &["mount", "--systemd-unit-dir", unit_dir],
        jail,
        state,
    ));
    text(&out.stdout)
}

/// The name of the mount unit of `at` in `jail` (as systemd-escape --path names it, for
/// the plain names of test directories).
pub fn mount_unit_of(jail: &Path, at: &str) -> String {
    format!(
        "{}.mount",
        jail.join(at)
            .to_str()
            .unwrap()
            .trim_start_matches('/')
            .replace('-', "\\x2d")
            .replace('/', "-")
    )
}

/// The mountinfo line of the topmost mount at `point`, if any.
pub fn mount_at(point: &Path) -> Option<String> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    info.lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some(point.to_str().unwrap()))
        .map(str::to_string)
}

/// (inode, mtime, ctime) of every object under each root, mounts included: a write, a
/// removal or a new object shows up as a change.
pub fn snapshot(roots: &[&Path]) -> std::collections::BTreeMap<PathBuf, (u64, i64, i64, i64, i64)> {
    fn walk(p: &Path, out: &mut std::collections::BTreeMap<PathBuf, (u64, i64, i64, i64, i64)>) {
        let Ok(m) = fs::symlink_metadata(p) else {
            return;
        };
        out.insert(
            p.to_path_buf(),
            (
                m.ino(),
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec(),
            ),
        );
        if m.is_dir() {
            for e in fs::read_dir(p).unwrap().flatten() {
                walk(&e.path(), out);
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    for r in roots {
        walk(r, &mut out);
    }
    out
}

/// Lazily unmounts everything mounted under a directory on drop (also when the test fails).
pub struct UnmountGuard(pub PathBuf);

impl Drop for UnmountGuard {
    fn drop(&mut self) {
        for m in mounts_under(&self.0) {
            let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}
