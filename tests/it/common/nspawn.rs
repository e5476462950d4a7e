//! A real systemd for the tests: a Debian 12 root made once with debootstrap and cached, then
//! booted with `systemd-nspawn` on an overlay (upper and work dirs in the test's TestRoot), with
//! only loopback, cgroups of its own and the jailsmith binary under test bound in. Owns the
//! cache, the boot, running commands inside (nsenter) and teardown on Drop, also on panic.
//! It never touches the host's systemd, sshd or accounts: everything happens in the container.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::mount::{MntFlags, umount2};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{ProcessGuard, TestRoot, describe, find_cmd, run_timeout, skip_or_fail, text};

/// Where the cached root lives (JAILSMITH_NSPAWN_CACHE overrides it).
pub const CACHE_BASE: &str = "/var/cache/jailsmith-tests";

/// The Debian release the container runs.
const SUITE: &str = "bookworm";

/// What debootstrap adds to `minbase`: systemd as init, logind (pam_systemd) for user slices,
/// sshd and ssh for real logins, python3 for an http service, a pager and terminfo.
const INCLUDE: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "dbus",
    "libpam-systemd",
    "openssh-server",
    "openssh-client",
    "python3",
    "procps",
    "less",
    "ncurses-bin",
];

/// The v1 controllers nspawn mounts read-only; they are remounted read-write before systemd
/// starts, or systemd accepts limits and silently does not enforce them.
const V1_CONTROLLERS: &[&str] = &["memory", "pids", "cpu", "cpuacct", "cpu,cpuacct"];

/// How long a boot may take before the test gives up (measured: ≈ 1 s).
const BOOT_DEADLINE: Duration = Duration::from_secs(90);

/// PATH for commands run inside the container.
const INSIDE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Which cgroup layout the container gets. Hybrid: memory, pids and cpu limits work, IP
/// filters do not. Unified: IP filters (BPF) work, memory/pids/cpu do not (on a hybrid host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Hybrid,
    Unified,
}

fn cache_base() -> PathBuf {
    std::env::var_os("JAILSMITH_NSPAWN_CACHE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CACHE_BASE))
}

fn mirror() -> String {
    std::env::var("JAILSMITH_DEBIAN_MIRROR")
        .ok()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "http://deb.debian.org/debian".into())
}

/// What the cache was made from: a different recipe means the cache is made again.
fn recipe() -> String {
    format!("v1 {SUITE} minbase +{}\n", INCLUDE.join(","))
}

/// The cached root, made on first use: under an exclusive lock (tests and test binaries run
/// in parallel), into a temporary directory renamed into place, with a marker written last,
/// so a half-made cache is made again.
pub fn cached_root() -> Result<PathBuf, String> {
    let base = cache_base();
    fs::create_dir_all(&base).map_err(|e| format!("mkdir {}: {e}", base.display()))?;
    let root = base.join(format!("nspawn-{SUITE}"));
    let marker = base.join(format!("nspawn-{SUITE}.ok"));
    let lock_path = base.join(format!("nspawn-{SUITE}.lock"));
    let lock_file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("open {}: {e}", lock_path.display()))?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("lock {}: {e}", lock_path.display()))?;
    if fs::read_to_string(&marker).is_ok_and(|m| m == recipe()) && root.is_dir() {
        return Ok(root);
    }
    let _ = fs::remove_file(&marker);
    make_root(&base, &root)?;
    fs::write(&marker, recipe()).map_err(|e| format!("write {}: {e}", marker.display()))?;
    Ok(root)
}

/// debootstrap into `<root>.tmp`, then rename over `root`.
fn make_root(base: &Path, root: &Path) -> Result<(), String> {
    let debootstrap = find_cmd("debootstrap").ok_or("debootstrap is not installed")?;
    let tmp = base.join(format!("nspawn-{SUITE}.tmp"));
    remove_tree(&tmp)?;
    remove_tree(root)?;
    let log = base.join(format!("nspawn-{SUITE}.log"));
    let started = Instant::now();
    eprintln!(
        "nspawn: making the cached {SUITE} root at {} (once; 1–2 minutes)",
        root.display()
    );
    let mut cmd = Command::new(debootstrap);
    cmd.arg("--variant=minbase")
        .arg(format!("--include={}", INCLUDE.join(",")))
        .arg(SUITE)
        .arg(&tmp)
        .arg(mirror());
    let out = run_timeout(&mut cmd, Duration::from_secs(1200));
    let _ = fs::write(&log, [&out.stdout[..], &out.stderr[..]].concat());
    if !out.status.success() {
        let tail: String = text(&out.stdout)
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        return Err(format!(
            "debootstrap failed ({}); log at {}:\n{tail}\n{}",
            out.status,
            log.display(),
            text(&out.stderr)
        ));
    }
    prepare_root(&tmp)?;
    fs::rename(&tmp, root).map_err(|e| format!("rename {}: {e}", tmp.display()))?;
    eprintln!("nspawn: cached root made in {:.0?}", started.elapsed());
    Ok(())
}

/// Small adjustments to the fresh root: no getty on the console; the boot script that
/// makes the v1 controllers writable before systemd starts.
fn prepare_root(root: &Path) -> Result<(), String> {
    let w = |rel: &str, body: &str, mode: u32| -> Result<(), String> {
        let p = root.join(rel);
        fs::write(&p, body).map_err(|e| format!("write {}: {e}", p.display()))?;
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", p.display()))
    };
    let remounts: String = V1_CONTROLLERS
        .iter()
        .map(|c| {
            format!(
                "[ -d /sys/fs/cgroup/{c} ] && mount -o remount,bind,rw /sys/fs/cgroup/{c} 2>/dev/null\n"
            )
        })
        .collect();
    w(
        "usr/local/sbin/jailsmith-test-init",
        &format!(
            "#!/bin/sh\n# jailsmith tests: nspawn mounts the v1 controllers read-only; limits need them\n# writable. Then systemd is PID 1.\n{remounts}exec /lib/systemd/systemd \"$@\"\n"
        ),
        0o755,
    )?;
    let _ = fs::remove_file(root.join("etc/systemd/system/getty.target.wants/getty@tty1.service"));
    Ok(())
}

fn remove_tree(p: &Path) -> Result<(), String> {
    match fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("remove {}: {e}", p.display())),
    }
}

/// Returns true when containers can run here; otherwise skips (or, under CI, fails) the
/// test with the reason. Call first in every test that boots one.
pub fn available(test: &str) -> bool {
    if !super::is_root() {
        return skip_or_fail(test, "booting a systemd container needs root");
    }
    for c in ["systemd-nspawn", "nsenter", "debootstrap"] {
        if find_cmd(c).is_none() {
            return skip_or_fail(test, &format!("program `{c}` is not installed"));
        }
    }
    if !Path::new("/sys/fs/cgroup").is_dir() {
        return skip_or_fail(test, "no /sys/fs/cgroup");
    }
    true
}

/// The cgroup directories this container lives in: one per hierarchy it writes to, made
/// below the test process's own cgroup there.
fn cgroup_dirs(name: &str, mode: Mode) -> Vec<PathBuf> {
    let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let wanted: &[&str] = match mode {
        Mode::Hybrid => &[
            "memory",
            "pids",
            "cpu",
            "cpuacct",
            "cpu,cpuacct",
            "name=systemd",
            "",
        ],
        Mode::Unified => &["name=systemd", ""],
    };
    let mut out = Vec::new();
    for line in own.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrl, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or("/"));
        if !wanted.contains(&ctrl) {
            continue;
        }
        let mount = match ctrl {
            "" if Path::new("/sys/fs/cgroup/unified").is_dir() => "unified".to_string(),
            "" => String::new(),
            "name=systemd" => "systemd".to_string(),
            c => c.to_string(),
        };
        let dir = Path::new("/sys/fs/cgroup")
            .join(mount)
            .join(path.trim_start_matches('/'))
            .join(name);
        if dir.parent().is_some_and(Path::is_dir) {
            out.push(dir);
        }
    }
    out
}

/// Removes a cgroup directory and everything below it (deepest first), retrying while the
/// kernel still counts dying processes in it.
fn remove_cgroup(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut dirs: Vec<PathBuf> = walkdir::WalkDir::new(dir)
            .follow_links(false)
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_dir())
            .map(|e| e.into_path())
            .collect();
        dirs.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        let failed = dirs
            .iter()
            .any(|d| fs::remove_dir(d).is_err() && d.exists());
        if !failed || Instant::now() >= deadline {
            if failed {
                eprintln!("warning: cannot remove cgroup {}", dir.display());
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A booted container. Dropping it powers the container off (then kills it by PID),
/// unmounts the overlay and removes its cgroups.
pub struct Container {
    name: String,
    mode: Mode,
    merged: PathBuf,
    dir: PathBuf,
    cgroups: Vec<PathBuf>,
    nspawn: Option<ProcessGuard>,
    leader: i32,
    boots: u32,
}

impl Container {
    /// Boots a container for the test that owns `root`, or says why it cannot (the caller
    /// passes the reason to `skip_or_fail`).
    pub fn boot(root: &TestRoot, mode: Mode) -> Result<Self, String> {
        let lower = cached_root()?;
        let dir = root.dir("nspawn");
        let merged = dir.join("merged");
        for d in ["upper", "work", "merged"] {
            super::make_dir(&dir.join(d), 0o755);
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            dir.join("upper").display(),
            dir.join("work").display()
        );
        nix::mount::mount(
            Some("overlay"),
            &merged,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(opts.as_str()),
        )
        .map_err(|e| format!("mount overlay on {}: {e}", merged.display()))?;
        let name = format!("jst-{}-{}", std::process::id(), super::unique());
        let mut c = Container {
            cgroups: cgroup_dirs(&name, mode),
            name,
            mode,
            merged,
            dir,
            nspawn: None,
            leader: 0,
            boots: 0,
        };
        c.start()?;
        Ok(c)
    }

    /// `boot`, or skip/fail the test with the reason.
    pub fn boot_or_skip(root: &TestRoot, mode: Mode, test: &str) -> Option<Self> {
        match Self::boot(root, mode) {
            Ok(c) => Some(c),
            Err(why) => {
                skip_or_fail(test, &format!("cannot boot a systemd container: {why}"));
                None
            }
        }
    }

    /// Starts systemd-nspawn and waits until systemd inside says it is up.
    fn start(&mut self) -> Result<(), String> {
        for d in &self.cgroups {
            fs::create_dir_all(d).map_err(|e| format!("mkdir {}: {e}", d.display()))?;
        }
        self.boots += 1;
        let log = self.dir.join(format!("boot-{}.log", self.boots));
        let started = Instant::now();
        let guard = super::spawn_logged(&mut self.nspawn_command(), &log);
        let pid = guard.pid();
        self.nspawn = Some(guard);
        self.leader = self.wait_leader(pid, &log)?;
        self.wait_running(&log)?;
        eprintln!(
            "nspawn: {} booted ({:?} mode) in {:.1?}",
            self.name,
            self.mode,
            started.elapsed()
        );
        Ok(())
    }

    /// `sh` moves itself into the container's cgroups, then execs systemd-nspawn, so
    /// nothing of the container is ever counted in the test process's own cgroup.
    fn nspawn_command(&self) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(r#"while [ "$1" != -- ]; do echo $$ > "$1/cgroup.procs" || exit 125; shift; done; shift; exec "$@""#)
            .arg("sh")
            .args(&self.cgroups)
            .arg("--")
            .arg(find_cmd("systemd-nspawn").unwrap_or("systemd-nspawn".into()))
            .arg("--quiet")
            .arg("--register=no")
            .arg("--keep-unit")
            .arg("--private-network")
            .arg("--console=pipe")
            .arg("--kill-signal=SIGRTMIN+3")
            .arg("--timezone=off")
            .arg("--resolv-conf=off")
            .arg(format!("--machine={}", self.name))
            .arg("--directory")
            .arg(&self.merged)
            .arg(format!(
                "--bind-ro={}:/usr/local/sbin/jailsmith",
                super::bin_path().display()
            ))
            .arg(format!(
                "--bind-ro={}:/usr/share/jailsmith/profiles",
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("jail-profiles")
                    .display()
            ));
        cmd.env_clear().env("PATH", INSIDE_PATH);
        match self.mode {
            Mode::Hybrid => {
                cmd.arg("/usr/local/sbin/jailsmith-test-init");
            }
            Mode::Unified => {
                cmd.env("SYSTEMD_NSPAWN_UNIFIED_HIERARCHY", "1")
                    .arg("--capability=all")
                    .arg("--system-call-filter=bpf")
                    .arg("--boot");
            }
        }
        cmd
    }

    /// The container's PID 1 as the host sees it: the descendant of nspawn whose PID in its
    /// own namespace is 1.
    fn wait_leader(&mut self, nspawn: i32, log: &Path) -> Result<i32, String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            for pid in super::descendants(nspawn) {
                let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let ns_pid = status
                    .lines()
                    .find_map(|l| l.strip_prefix("NSpid:"))
                    .map(|v| v.split_whitespace().collect::<Vec<_>>());
                if ns_pid.is_some_and(|v| v.len() == 2 && v[1] == "1") {
                    return Ok(pid);
                }
            }
            if let Some(st) = self
                .nspawn
                .as_mut()
                .and_then(|g| g.wait_timeout(Duration::ZERO))
            {
                return Err(format!(
                    "systemd-nspawn exited ({st}) before the container started:\n{}",
                    fs::read_to_string(log).unwrap_or_default()
                ));
            }
            if Instant::now() >= deadline {
                return Err("no container PID 1 appeared within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls `systemctl is-system-running` inside until `running` or `degraded`.
    fn wait_running(&mut self, log: &Path) -> Result<(), String> {
        let deadline = Instant::now() + BOOT_DEADLINE;
        loop {
            if let Some(st) = self
                .nspawn
                .as_mut()
                .and_then(|g| g.wait_timeout(Duration::ZERO))
            {
                return Err(format!(
                    "systemd-nspawn exited ({st}) during boot:\n{}",
                    fs::read_to_string(log).unwrap_or_default()
                ));
            }
            let out =
                self.exec_timeout(&["systemctl", "is-system-running"], Duration::from_secs(20));
            let last = text(&out.stdout).trim().to_string();
            match last.as_str() {
                "running" => return Ok(()),
                "degraded" => {
                    let failed = self.exec(&["systemctl", "--failed", "--no-legend", "--plain"]);
                    eprintln!(
                        "nspawn: {} is degraded:\n{}",
                        self.name,
                        text(&failed.stdout)
                    );
                    return Ok(());
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "systemd did not come up within {BOOT_DEADLINE:?} (last state: {last:?})"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The container's PID 1 on the host.
    pub fn leader(&self) -> i32 {
        self.leader
    }

    /// The cgroup directories made for it (removed on Drop).
    pub fn cgroups(&self) -> &[PathBuf] {
        &self.cgroups
    }

    /// Where its overlay root is mounted on the host (unmounted on Drop).
    pub fn root_mount(&self) -> &Path {
        &self.merged
    }

    /// A path inside the container, as seen from the host (through the overlay).
    pub fn path(&self, inside: &str) -> PathBuf {
        self.merged.join(inside.trim_start_matches('/'))
    }

    /// Writes a file inside the container (parents made), with `mode`.
    pub fn write(&self, inside: &str, contents: impl AsRef<[u8]>, mode: u32) {
        let p = self.path(inside);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
        }
        super::write_file(&p, contents, mode);
    }

    /// `nsenter` into every namespace of the container, with a clean environment.
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut cmd = Command::new(find_cmd("nsenter").unwrap_or("nsenter".into()));
        cmd.env_clear()
            .env("PATH", INSIDE_PATH)
            .env("HOME", "/root")
            .env("LANG", "C.UTF-8")
            .arg("-t")
            .arg(self.leader.to_string())
            .arg("-a")
            .arg("--")
            .args(argv);
        cmd
    }

    /// Runs a command inside and returns its output (any exit code).
    pub fn exec(&self, argv: &[&str]) -> Output {
        self.exec_timeout(argv, Duration::from_secs(120))
    }

    pub fn exec_timeout(&self, argv: &[&str], timeout: Duration) -> Output {
        run_timeout(&mut self.command(argv), timeout)
    }

    /// Runs a command inside; panics with its output (and the container's name) unless it
    /// exits 0.
    pub fn exec_ok(&self, argv: &[&str]) -> Output {
        let mut cmd = self.command(argv);
        let out = run_timeout(&mut cmd, Duration::from_secs(120));
        assert!(
            out.status.success(),
            "in container {}:\n{}",
            self.name,
            describe(&cmd, &out)
        );
        out
    }

    /// `sh -c SCRIPT` inside.
    pub fn sh(&self, script: &str) -> Output {
        self.exec(&["/bin/sh", "-c", script])
    }

    /// `sh -c SCRIPT` inside; stdout, or a panic unless it exits 0.
    pub fn sh_ok(&self, script: &str) -> String {
        text(&self.exec_ok(&["/bin/sh", "-c", script]).stdout)
    }

    /// Powers the container off and boots it again on the same overlay (what a reboot
    /// keeps: everything written to disk).
    pub fn reboot(&mut self) -> Result<(), String> {
        self.stop();
        self.start()
    }

    /// Asks systemd to power off (SIGRTMIN+3 through nspawn's SIGTERM), waits up to 20 s,
    /// then kills the container's PID 1, which ends every process in its PID namespace.
    fn stop(&mut self) {
        let Some(mut guard) = self.nspawn.take() else {
            return;
        };
        let _ = kill(Pid::from_raw(guard.pid()), Signal::SIGTERM);
        if guard.wait_timeout(Duration::from_secs(20)).is_none() {
            eprintln!(
                "warning: {} did not power off in 20 s; killing it",
                self.name
            );
            if self.leader > 1 {
                let _ = kill(Pid::from_raw(self.leader), Signal::SIGKILL);
            }
            let _ = guard.wait_timeout(Duration::from_secs(10));
        }
        drop(guard);
        self.leader = 0;
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        self.stop();
        if let Err(e) = umount2(&self.merged, MntFlags::MNT_DETACH) {
            eprintln!("warning: cannot unmount {}: {e}", self.merged.display());
        }
        for d in &self.cgroups {
            remove_cgroup(d);
        }
        let _ = std::io::stderr().flush();
    }
}
