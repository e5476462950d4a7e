//! A private OpenSSH server for root tests: its own config, host key, drop-in directory, pid
//! file and log, on a loopback port the test holds for it (`port::ReservedPort`); plus `ssh`/`sftp` client commands that trust only
//! its host key. Never reads or touches /etc/ssh/sshd_config or the machine's own sshd; its
//! processes are killed by PID on Drop.

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::port::ReservedPort;
use super::{TestRoot, descendants, describe, find_cmd, make_dir, run, run_ok, write_file};

/// How long sshd gets to start listening (or to come back after SIGHUP).
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Programs the harness needs; check them with `common::require_cmds(sshd::PROGRAMS)`.
pub const PROGRAMS: &[&str] = &["sshd", "ssh", "ssh-keygen"];

/// True when this machine can run a private sshd (root, OpenSSH installed); otherwise skips
/// or fails like every `require_*` helper.
pub fn available(test: &str) -> bool {
    super::require_root(test) && super::require_cmds(PROGRAMS)
}

/// A running private sshd. See the module doc.
pub struct PrivateSshd {
    root: TestRoot,
    sshd: PathBuf,
    config: PathBuf,
    dropin: PathBuf,
    host_key: PathBuf,
    known_hosts: PathBuf,
    log: PathBuf,
    /// Held from before sshd starts until it is stopped: through every reload, no one else
    /// can take it.
    port: ReservedPort,
    child: Option<std::process::Child>,
}

/// Generates an ed25519 client key pair in `dir` (`id_ed25519_N`, `.pub`), without a
/// passphrase; returns (private, public).
pub fn client_keypair(dir: &Path) -> (PathBuf, PathBuf) {
    make_dir(dir, 0o755);
    let private = dir.join(format!("id_ed25519_{}", super::unique()));
    let _ = fs::remove_file(&private);
    run_ok(
        Command::new(find_cmd("ssh-keygen").unwrap_or("ssh-keygen".into()))
            .args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "jailsmith-test",
                "-f",
            ])
            .arg(&private),
    );
    let mut public = private.clone().into_os_string();
    public.push(".pub");
    (private, PathBuf::from(public))
}

/// Installs `pubkey` as `~/.ssh/authorized_keys` of a user whose home already exists
/// (`.ssh` 0700 and the file 0600, both owned by the user), as StrictModes wants.
pub fn authorize_key(home: &Path, uid: u32, gid: u32, pubkey: &Path) {
    let ssh_dir = home.join(".ssh");
    make_dir(&ssh_dir, 0o700);
    let keys = ssh_dir.join("authorized_keys");
    let key = fs::read(pubkey).unwrap_or_else(|e| panic!("read {}: {e}", pubkey.display()));
    write_file(&keys, key, 0o600);
    for p in [&ssh_dir, &keys] {
        std::os::unix::fs::chown(p, Some(uid), Some(gid))
            .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()));
    }
}

impl PrivateSshd {
    /// Starts a private sshd. `dropin`: the directory its config includes (`Include
    /// DIR/*.conf` at the top, as Debian and RHEL have it); `None` makes `<tmp>/sshd_config.d`.
    /// Panics (with sshd's log) if it does not accept connections within 10 s.
    pub fn start(dropin: Option<&Path>) -> Self {
        assert!(
            super::is_root(),
            "PrivateSshd needs root; call sshd::available first"
        );
        let sshd = find_cmd("sshd").expect("sshd is not installed");
        ensure_privsep_dir();
        let root = TestRoot::new("sshd");
        let dir = root.path().to_path_buf();
        let dropin = match dropin {
            Some(d) => d.to_path_buf(),
            None => {
                let d = dir.join("sshd_config.d");
                make_dir(&d, 0o755);
                d
            }
        };
        let host_key = dir.join("ssh_host_ed25519_key");
        run_ok(
            Command::new(find_cmd("ssh-keygen").unwrap_or("ssh-keygen".into()))
                .args([
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    "jailsmith-test-host",
                    "-f",
                ])
                .arg(&host_key),
        );
        fs::set_permissions(&host_key, fs::Permissions::from_mode(0o600)).expect("chmod key");
        let mut s = Self {
            config: dir.join("sshd_config"),
            known_hosts: dir.join("known_hosts"),
            log: dir.join("sshd.log"),
            root,
            sshd,
            dropin,
            host_key,
            port: ReservedPort::new(),
            child: None,
        };
        s.write_config();
        s.write_known_hosts();
        s.spawn();
        if let Err(log) = s.wait_ready(0) {
            s.stop();
            panic!(
                "private sshd did not start (config {})\n--- sshd log ---\n{log}",
                s.config.display()
            );
        }
        s
    }

    fn write_config(&self) {
        let d = self.root.path();
        let conf = format!(
            "# Private sshd for a jailsmith test; not the machine's sshd.\n\
             Include {dropin}/*.conf\n\
             Port {port}\n\
             ListenAddress 127.0.0.1\n\
             HostKey {key}\n\
             PidFile {pid}\n\
             UsePAM no\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\n\
             AuthorizedKeysFile .ssh/authorized_keys\n\
             Subsystem sftp internal-sftp\n\
             LogLevel DEBUG1\n\
             StrictModes yes\n",
            dropin = self.dropin.display(),
            port = self.port(),
            key = self.host_key.display(),
            pid = d.join("sshd.pid").display(),
        );
        write_file(&self.config, conf, 0o644);
    }

    fn write_known_hosts(&self) {
        let mut pubpath = self.host_key.clone().into_os_string();
        pubpath.push(".pub");
        let pubkey = fs::read_to_string(&pubpath).expect("read host public key");
        let mut fields = pubkey.split_whitespace();
        let (kind, key) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        let line = format!("[127.0.0.1]:{} {kind} {key}\n", self.port());
        write_file(&self.known_hosts, line, 0o644);
    }

    fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open sshd log");
        let log2 = log.try_clone().expect("dup sshd log");
        // sshd must be started by absolute path: it re-executes itself (also on SIGHUP).
        let child = Command::new(&self.sshd)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.sshd.display()));
        self.child = Some(child);
    }

    fn listening_count(&self) -> usize {
        self.log().matches("Server listening on").count()
    }

    /// Waits until sshd has logged more than `listening_before` "Server listening" lines and
    /// answers with an SSH banner. Err(log) if it exited or timed out.
    fn wait_ready(&mut self, listening_before: usize) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port()));
        loop {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(st)) = c.try_wait()
            {
                self.child = None;
                return Err(format!("sshd exited ({st})\n{}", self.log()));
            }
            if self.listening_count() > listening_before && banner(addr) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "sshd not ready on port {} after {READY_TIMEOUT:?}\n{}",
                    self.port(),
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the listener's descendants (session processes) and the listener, by PID.
    fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        let pid = c.id() as i32;
        for d in descendants(pid) {
            let _ = kill(Pid::from_raw(d), Signal::SIGKILL);
        }
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = c.wait();
    }

    pub fn port(&self) -> u16 {
        self.port.port()
    }
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
    pub fn config_path(&self) -> &Path {
        &self.config
    }
    pub fn dropin_dir(&self) -> &Path {
        &self.dropin
    }
    pub fn host_key_path(&self) -> &Path {
        &self.host_key
    }
    /// The host's public key file (`HOSTKEY.pub`).
    pub fn host_pubkey_path(&self) -> PathBuf {
        let mut p = self.host_key.clone().into_os_string();
        p.push(".pub");
        PathBuf::from(p)
    }
    /// A known_hosts file that holds only this server's key for `[127.0.0.1]:PORT`.
    pub fn known_hosts_path(&self) -> &Path {
        &self.known_hosts
    }
    /// The private directory holding config, keys, pid file and log.
    pub fn dir(&self) -> &Path {
        self.root.path()
    }
    pub fn log_path(&self) -> &Path {
        &self.log
    }
    /// Waits (with a deadline) until sshd answers a new connection with its banner. A
    /// reload sent before this returns has happened by then (sshd re-creates its listening
    /// socket when it re-executes), so a negative assertion on the log can follow: no fixed
    /// sleep stands in for "long enough".
    pub fn wait_settled(&self) {
        use std::io::Read;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", self.port())) {
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 4];
                if c.read_exact(&mut buf).is_ok() && &buf == b"SSH-" {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "sshd does not answer\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (with a deadline) until no connection is being served: sshd forks a child per
    /// connection, and that child has written every log line of its connection before it
    /// exits. A negative assertion on the log of connections already closed by the client
    /// can follow: no fixed sleep stands in for "long enough".
    pub fn wait_idle(&self) {
        let pid = self.pid().expect("private sshd is not running") as i32;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !descendants(pid).is_empty() {
            assert!(
                Instant::now() < deadline,
                "sshd still serves a connection after 10 s\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// sshd's log so far (stderr with LogLevel DEBUG1), for assertion messages.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to `timeout` until the log contains `needle` (sshd logs after the client has
    /// gone); returns whether it appeared.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGHUP to our sshd (it re-executes itself and rereads the config and drop-ins); waits
    /// until it listens again. Panics with the log if it does not come back (a bad config).
    pub fn reload(&mut self) {
        let pid = self.pid().expect("private sshd is not running") as i32;
        let before = self.listening_count();
        kill(Pid::from_raw(pid), Signal::SIGHUP).expect("SIGHUP private sshd");
        if let Err(log) = self.wait_ready(before) {
            panic!("private sshd did not come back after SIGHUP\n{log}");
        }
    }

    /// `sshd -t -f CONFIG`: the config test (the drop-ins included).
    pub fn sshd_t(&self) -> Output {
        run(Command::new(&self.sshd)
            .arg("-t")
            .arg("-f")
            .arg(&self.config))
    }

    /// `sshd -T -f CONFIG -C user=USER,host=localhost,addr=127.0.0.1`: the effective settings
    /// for a connection of `user`, lower-case keywords one per line. Panics if sshd fails.
    #[allow(non_snake_case)]
    pub fn sshd_T(&self, user: &str) -> String {
        let mut cmd = Command::new(&self.sshd);
        cmd.arg("-T")
            .arg("-f")
            .arg(&self.config)
            .arg("-C")
            .arg(format!("user={user},host=localhost,addr=127.0.0.1"));
        let out = run(&mut cmd);
        assert!(
            out.status.success(),
            "sshd -T failed\n{}",
            describe(&cmd, &out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn client_opts(&self, cmd: &mut Command, identity: &Path) {
        cmd.arg("-F")
            .arg("/dev/null")
            .arg("-i")
            .arg(identity)
            .args(["-o", "IdentitiesOnly=yes"])
            .args(["-o", "BatchMode=yes"])
            .args(["-o", "StrictHostKeyChecking=yes"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args(["-o", "GlobalKnownHostsFile=/dev/null"])
            .args(["-o", "ConnectTimeout=10"])
            .args(["-o", "LogLevel=ERROR"]);
    }

    /// OpenSSH `ssh` to this server as `user` with key `identity`, trusting only its host
    /// key, never prompting. Append the remote command: `.arg("id -un")`.
    pub fn ssh_client(&self, user: &str, identity: &Path) -> Command {
        let mut cmd = Command::new(find_cmd("ssh").unwrap_or("ssh".into()));
        cmd.arg("-p").arg(self.port().to_string());
        self.client_opts(&mut cmd, identity);
        cmd.arg("-l").arg(user).arg("127.0.0.1");
        cmd.stdin(Stdio::null());
        cmd
    }

    /// OpenSSH `sftp` to this server as `user`, running the commands in `batchfile`
    /// (`sftp -b`; a failing command ends it with a non-zero status).
    pub fn sftp_client(&self, user: &str, identity: &Path, batchfile: &Path) -> Command {
        let mut cmd = Command::new(find_cmd("sftp").unwrap_or("sftp".into()));
        cmd.arg("-P").arg(self.port().to_string());
        self.client_opts(&mut cmd, identity);
        cmd.arg("-b").arg(batchfile);
        cmd.arg(format!("{user}@127.0.0.1"));
        cmd.stdin(Stdio::null());
        cmd
    }
}

impl Drop for PrivateSshd {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!(
                "--- private sshd log ({}) ---\n{}",
                self.log.display(),
                self.log()
            );
        }
        // self.root (the directory) is removed when the fields drop.
    }
}

/// True when `addr` accepts a connection and greets with an SSH banner.
fn banner(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).is_ok() && &buf == b"SSH-"
}

/// Debian's sshd needs its privilege-separation directory /run/sshd (root, 0755), normally
/// made by the service unit; create it when missing. Nothing else in /run is touched.
fn ensure_privsep_dir() {
    let dir = Path::new("/run/sshd");
    if !dir.exists() {
        make_dir(dir, 0o755);
    }
}

/// The sshd block that jails `user` in `jail`: the block file (in `dropin_dir`) of the jail's
/// group that /etc/group lists `user` in; a path that does not exist when it is in neither.
pub fn jailing_block(dropin_dir: &Path, jail: &Path, user: &str) -> PathBuf {
    use jailsmith::sshd::dropin;
    let jail = fs::canonicalize(jail).unwrap_or_else(|_| jail.to_path_buf());
    let groups = fs::read_to_string("/etc/group").unwrap_or_default();
    for sftp in [false, true] {
        let g = dropin::jail_group(&jail, sftp);
        let member = groups.lines().any(|l| {
            let f: Vec<&str> = l.split(':').collect();
            f.len() == 4 && f[0] == g && f[3].split(',').any(|m| m == user)
        });
        if member {
            return dropin_dir.join(dropin::group_file_name(&g));
        }
    }
    dropin_dir.join(format!("(no block jails {user})"))
}

/// The block file of `jail`'s group in one mode, whoever its members are.
pub fn jail_block(dropin_dir: &Path, jail: &Path, sftp: bool) -> PathBuf {
    use jailsmith::sshd::dropin;
    let jail = fs::canonicalize(jail).unwrap_or_else(|_| jail.to_path_buf());
    dropin_dir.join(dropin::group_file_name(&dropin::jail_group(&jail, sftp)))
}
