//! The verify run: load the key, decide which host keys are trusted, plant the marker, then
//! (on a current-thread tokio runtime) connect, log in and run every check in order.
//! Removes what it created (marker, probe files a broken jail let through) before returning.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use russh::keys::PrivateKey;
use russh::keys::ssh_key::PublicKey;
use russh_sftp::client::SftpSession;
use tokio::net::TcpListener;
use tokio::time::timeout;

use super::client::{self, Conn, ConnectError};
use super::hostkey::{self, Trusted, Verdict};
use super::hostside::{self, Marker};
use super::hostview::{self, hname};
use super::probes::{self, Account, name};
use super::{Check, HostKeyPolicy, Options, Report, Stopped, VerifyError, passphrase};

/// Runs verify; `Err` only for problems on this side (key, jail, marker, runtime).
pub fn run(opts: &Options) -> Result<Report, VerifyError> {
    let key = load_key(opts)?;
    let (trusted, revoked, kh_file) = trusted_keys(opts)?;
    let jail_top = hostside::jail_top_level(&opts.jail)?;
    // Without a marker (not root, read-only parent) the run goes on; that check says why.
    let marker = Marker::create(&opts.jail).map_err(|e| e.to_string());
    let probe_name = hostside::random_name();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(VerifyError::Runtime)?;
    let mut report = Report::new(&opts.user, &opts.host, opts.port, opts.jail.clone());
    let ctx = Ctx {
        opts,
        jail_top: &jail_top,
        marker: marker.as_ref(),
        probe_name: &probe_name,
        kh_file: kh_file.as_deref(),
        wrote: Mutex::new(Vec::new()),
    };
    let interrupted = rt.block_on(async {
        tokio::select! {
            () = ctx.session(&mut report, key, trusted, revoked) => None,
            sig = interrupted() => Some(sig),
        }
    });
    // What the probes reported, plus every place they may have tried (an interrupted probe
    // reports nothing): the name is random, so only our own files can match.
    let mut wrote = ctx.wrote.lock().unwrap_or_else(|p| p.into_inner()).clone();
    wrote.extend(
        probes::WRITE_DIRS
            .iter()
            .map(|d| d.to_string())
            .chain(jail_top.iter().map(|t| format!("/{t}")))
            .map(|d| format!("{}/{probe_name}", d.trim_end_matches('/'))),
    );
    let removed = hostside::remove_probe_files(&opts.jail, &wrote, &probe_name);
    if !removed.is_empty() {
        let shown: Vec<String> = removed
            .iter()
            .map(|p| crate::escape::bytes(p.as_os_str().as_encoded_bytes()))
            .collect();
        eprintln!(
            "jailsmith: removed probe files the user could create: {}",
            shown.join(", ")
        );
    }
    if let Some(sig) = interrupted {
        drop(marker);
        return Err(VerifyError::Interrupted(sig));
    }
    drop(marker);
    report.finish();
    Ok(report)
}

/// Loads the private key; an encrypted one takes the given passphrase or asks on the tty.
fn load_key(opts: &Options) -> Result<PrivateKey, VerifyError> {
    let key_err = |why: String| VerifyError::Key {
        path: opts.key.clone(),
        why,
    };
    match russh::keys::load_secret_key(&opts.key, opts.passphrase.as_deref()) {
        Ok(k) => Ok(k),
        Err(russh::keys::Error::KeyIsEncrypted) if opts.passphrase.is_none() && opts.prompt => {
            let pass = passphrase::prompt(&opts.key.display().to_string())
                .map_err(VerifyError::Passphrase)?;
            russh::keys::load_secret_key(&opts.key, Some(&pass))
                .map_err(|e| key_err(format!("{e} (wrong passphrase?)")))
        }
        Err(russh::keys::Error::KeyIsEncrypted) => Err(key_err(
            "the key is encrypted; give its passphrase with --passphrase-env VAR or run on a terminal"
                .into(),
        )),
        Err(e) => Err(key_err(e.to_string())),
    }
}

type TrustedKeys = (Vec<Trusted>, Vec<(usize, PublicKey)>, Option<PathBuf>);

/// The trusted and revoked keys of the policy, and the known_hosts file new keys go to.
fn trusted_keys(opts: &Options) -> Result<TrustedKeys, VerifyError> {
    match &opts.host_key {
        HostKeyPolicy::Pinned(files) => {
            let mut trusted = Vec::new();
            for p in files {
                trusted.push(Trusted {
                    key: hostkey::read_pubkey(p)?,
                    source: hostkey::Source::Pinned(p.clone()),
                });
            }
            Ok((trusted, Vec::new(), None))
        }
        HostKeyPolicy::KnownHosts { file, local_keys } => {
            let name = hostkey::host_port_name(&opts.host, opts.port);
            let text = match std::fs::read_to_string(file) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(source) => {
                    return Err(hostkey::HostKeyError::Read {
                        path: file.clone(),
                        source,
                    }
                    .into());
                }
            };
            let (mut trusted, revoked) = hostkey::from_known_hosts(&text, file, &name);
            if *local_keys && hostkey::is_loopback(&opts.host) {
                trusted.extend(local_host_keys());
            }
            Ok((trusted, revoked, Some(file.clone())))
        }
    }
}

/// This machine's `/etc/ssh/ssh_host_*_key.pub`.
fn local_host_keys() -> Vec<Trusted> {
    let Ok(rd) = std::fs::read_dir("/etc/ssh") else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            n.starts_with("ssh_host_") && n.ends_with("_key.pub")
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| {
            let key = hostkey::read_pubkey(&p).ok()?;
            Some(Trusted {
                key,
                source: hostkey::Source::Local(p),
            })
        })
        .collect()
}

/// Appends an accepted key to the known_hosts file (creating it, and ~/.ssh 0700).
fn record_key(file: &Path, name: &str, key: &PublicKey) -> Result<(), String> {
    crate::apply::scratch::append_line(file, &hostkey::known_hosts_line(name, key))
        .map_err(|e| format!("append to {}: {e}", file.display()))
}

/// How the session is held open while the host looks at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hold {
    /// Start a waiting command in the user's shell (and wait for it to appear).
    Shell,
    /// A channel is already open (the sftp subsystem).
    Open,
}

/// The session's processes of `uid`, once they are there (bounded: 3 s). With `shell`, waits
/// until a process other than sshd's own (the shell) has started.
async fn wait_for_session(uid: u32, shell: bool) -> Vec<i32> {
    let mut pids = Vec::new();
    for _ in 0..30 {
        pids = hostview::session_pids(uid);
        if !pids.is_empty() && (!shell || hostview::shell_started(&pids)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pids
}

struct Ctx<'a> {
    opts: &'a Options,
    jail_top: &'a [String],
    marker: Result<&'a Marker, &'a String>,
    probe_name: &'a str,
    kh_file: Option<&'a Path>,
    /// Paths (as the user saw them) where a probe file could be created: removed afterwards.
    wrote: Mutex<Vec<String>>,
}

/// Resolves on SIGINT, SIGTERM or SIGHUP, naming it (the marker must not outlive the run).
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
        _ = hup.recv() => "SIGHUP",
    }
}

/// Checks that only a shell can run, reported N/A for other accounts.
const SHELL_CHECKS: &[&str] = &[
    name::HOME,
    name::ROOT,
    name::MARKER,
    name::PROC,
    name::SYS,
    name::SHADOW,
    name::PASSWD,
    name::SETUID,
    name::WRITE,
    name::PTY,
];

impl Ctx<'_> {
    /// Connects and runs every check.
    async fn session(
        &self,
        report: &mut Report,
        key: PrivateKey,
        trusted: Vec<Trusted>,
        revoked: Vec<(usize, PublicKey)>,
    ) {
        let o = self.opts;
        let (conn, seen) =
            client::connect(&o.host, o.port, trusted, revoked, o.accept_new, o.timeout).await;
        if let Some(c) = self.host_key_check(&seen) {
            report.push(c);
        }
        let mut conn = match conn {
            Ok(c) => c,
            Err(ConnectError::HostKey) => {
                report.stopped = Some(Stopped::HostKey);
                report.push(Check::fail(
                    name::LOGIN,
                    "not attempted: the host key is not trusted",
                ));
                return;
            }
            Err(ConnectError::Other(why)) => {
                report.stopped = Some(Stopped::Connection);
                report.push(Check::fail(name::LOGIN, format!("no connection: {why}")));
                return;
            }
        };
        let alg = key.algorithm().as_str().to_string();
        match conn.authenticate(&o.user, key).await {
            Ok(true) => report.push(Check::pass(
                name::LOGIN,
                format!("{alg} key accepted for {}", o.user),
            )),
            Ok(false) => {
                report.stopped = Some(Stopped::Authentication);
                report.push(Check::fail(
                    name::LOGIN,
                    format!("the server refused the {alg} key for {}", o.user),
                ));
                conn.disconnect().await;
                return;
            }
            Err(why) => {
                report.stopped = Some(Stopped::Authentication);
                report.push(Check::fail(name::LOGIN, why.to_string()));
                conn.disconnect().await;
                return;
            }
        }
        self.checks(&conn, report).await;
        conn.disconnect().await;
    }

    fn note_written(&self, paths: Vec<String>) {
        self.wrote
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(paths);
    }

    fn host_key_check(&self, seen: &client::KeySeen) -> Option<Check> {
        let verdict = seen.verdict.as_ref()?;
        Some(match verdict {
            Verdict::Match(src) => Check::pass(
                name::HOST_KEY,
                format!(
                    "{} matches {src}",
                    seen.key.as_ref().map(hostkey::describe).unwrap_or_default()
                ),
            ),
            Verdict::Mismatch { presented, why } => Check::fail(
                name::HOST_KEY,
                format!("MISMATCH: the server shows {presented}; {why}"),
            ),
            Verdict::Unknown { presented } if self.opts.accept_new => {
                let recorded = match (self.kh_file, &seen.key) {
                    (Some(f), Some(k)) => {
                        let n = hostkey::host_port_name(&self.opts.host, self.opts.port);
                        match record_key(f, &n, k) {
                            Ok(()) => format!("recorded in {}", f.display()),
                            Err(e) => format!("not recorded: {e}"),
                        }
                    }
                    _ => "not recorded".into(),
                };
                Check::warn(
                    name::HOST_KEY,
                    format!("new key {presented} accepted (--accept-new-host-key), {recorded}"),
                )
            }
            Verdict::Unknown { presented } => Check::fail(
                name::HOST_KEY,
                format!(
                    "unknown: the server shows {presented}, and nothing trusted names it; pin it with --host-key, add it to known_hosts, or pass --accept-new-host-key"
                ),
            ),
        })
    }

    async fn checks(&self, conn: &Conn, report: &mut Report) {
        let first = conn.exec(&probes::clean(probes::SHELL_SCRIPT)).await;
        let (account, shell) = match &first {
            Ok(out) => probes::check_shell(&out.stdout, &out.stderr, out.exit),
            Err(why) => (Account::Broken, Check::fail(name::SHELL, why.to_string())),
        };
        report.push(shell);
        match account {
            Account::Shell => {
                let out = first.as_ref().map(|o| o.stdout.clone()).unwrap_or_default();
                self.shell_checks(conn, report, &out).await;
            }
            Account::SftpOnly => {
                for n in SHELL_CHECKS {
                    report.push(Check::na(n, "sftp-only account"));
                }
            }
            Account::Broken => {
                for n in SHELL_CHECKS {
                    report.push(Check::na(n, "skipped: no shell ran"));
                }
            }
        }
        self.forwarding_checks(conn, report, account == Account::Shell)
            .await;
        match account {
            Account::SftpOnly => {
                let out = first.unwrap_or_default();
                report.push(Check::pass(
                    name::SFTP_EXEC,
                    format!(
                        "\"{}\" (exit {})",
                        probes::SFTP_ONLY_MESSAGE,
                        out.exit.map(|c| c.to_string()).unwrap_or("none".into())
                    ),
                ));
                self.sftp_checks(conn, report).await;
                report.push(Check::na(
                    name::OUTGOING_TCP,
                    "sftp-only account: no programs run",
                ));
            }
            _ => {
                report.push(Check::na(name::SFTP_EXEC, "shell account"));
                report.push(Check::na(
                    name::SFTP_LIST,
                    "shell account (the shell checks cover the jail)",
                ));
                if account == Account::Shell {
                    report.push(self.outgoing_tcp(conn).await);
                } else {
                    report.push(Check::na(name::OUTGOING_TCP, "skipped: no shell ran"));
                }
            }
        }
    }

    async fn shell_checks(&self, conn: &Conn, report: &mut Report, first: &str) {
        let o = self.opts;
        let jail_home = hostside::jail_home(&o.jail, &o.user);
        report.push(probes::check_home(first, jail_home.as_deref()));

        let host = self.host_view(conn, report, Hold::Shell).await;

        report.push(
            match conn.exec(&probes::clean(probes::TOP_LEVEL_SCRIPT)).await {
                Ok(out) => {
                    let seen: Vec<String> = probes::values(&out.stdout, "JS_TOP")
                        .into_iter()
                        .map(String::from)
                        .collect();
                    probes::check_top_level(name::ROOT, &seen, self.jail_top)
                }
                Err(why) => Check::fail(name::ROOT, why.to_string()),
            },
        );

        report.push(match self.marker {
            Ok(marker) => {
                let depth = o.jail.components().count() + 2;
                let host_path = marker.path().display().to_string();
                let script = probes::marker_script(marker.name(), &host_path, depth);
                match conn.exec(&probes::clean(&script)).await {
                    Ok(out) => probes::check_marker(&out.stdout, &host_path),
                    Err(why) => Check::fail(name::MARKER, why.to_string()),
                }
            }
            Err(why) => Check::warn(name::MARKER, format!("not checked: {why}")),
        });

        match conn.exec(&probes::clean(probes::KERNEL_SCRIPT)).await {
            Ok(out) => {
                for c in probes::check_kernel(&out.stdout, o.proc) {
                    report.push(c);
                }
                if o.proc {
                    report.push(self.own_processes(&out.stdout));
                }
            }
            Err(why) => {
                for n in [name::PROC, name::SYS, name::SHADOW] {
                    report.push(Check::fail(n, why.to_string()));
                }
            }
        }

        let mut allowed = o.jail_users.clone();
        allowed.push(o.user.clone());
        report.push(
            match conn.exec(&probes::clean(probes::PASSWD_SCRIPT)).await {
                Ok(out) => probes::check_passwd(&out.stdout, &allowed),
                Err(why) => Check::fail(name::PASSWD, why.to_string()),
            },
        );

        let walk_limit = Duration::from_secs(90).max(o.timeout);
        report.push(
            match conn
                .exec_limit(&probes::clean(probes::SETUID_SCRIPT), walk_limit)
                .await
            {
                Ok(out) => probes::check_setuid(&out.stdout),
                Err(why) => Check::fail(name::SETUID, why.to_string()),
            },
        );

        report.push(
            match conn
                .exec(&probes::clean(&probes::write_script(self.probe_name)))
                .await
            {
                Ok(out) => {
                    let (c, w) = probes::check_write(&out.stdout);
                    self.note_written(w);
                    c
                }
                Err(why) => Check::fail(name::WRITE, why.to_string()),
            },
        );

        report.push(
            match conn.pty_shell(probes::PTY_INPUT, probes::PTY_PROOF).await {
                Ok(()) => Check::pass(name::PTY, "a shell on a PTY ran a command ([ -t 0 ] true)"),
                Err(why) => Check::fail(name::PTY, why.to_string()),
            },
        );
        if let Some(f) = host {
            report.push(hostview::agreement(
                &f,
                &report.checks,
                name::ROOT,
                name::PROC,
                name::SYS,
            ));
        }
    }

    /// The host's view of the session (issue 19): while a session is held open, reads the
    /// session's processes from /proc and pushes the host checks, and the start-up file
    /// check for a shell. Only for a server on this machine and as root; otherwise one WARN
    /// naming what could only be seen from inside. Returns the facts to compare the
    /// in-session probes with.
    async fn host_view(
        &self,
        conn: &Conn,
        report: &mut Report,
        hold: Hold,
    ) -> Option<hostview::Facts> {
        let o = self.opts;
        if hold == Hold::Shell {
            report.push(self.startup_files());
        }
        let local = hostkey::is_loopback(&o.host);
        if let Some(w) = hostview::unavailable(local, nix::unistd::geteuid().is_root()) {
            report.push(w);
            return None;
        }
        let Some(uid) = nix::unistd::User::from_name(&o.user)
            .ok()
            .flatten()
            .map(|u| u.uid.as_raw())
        else {
            report.push(Check::fail(
                hname::ROOT,
                format!("no account {} on this host", o.user),
            ));
            return None;
        };
        let held = match hold {
            Hold::Shell => conn.open_exec(probes::HOLD_SCRIPT).await.ok(),
            Hold::Open => None,
        };
        let pids = wait_for_session(uid, hold == Hold::Shell).await;
        let host_dev = hostview::host_root_device();
        let views: Vec<hostview::ProcView> = pids
            .iter()
            .filter_map(|&p| hostview::read_view(p, host_dev.as_deref(), o.proc))
            .collect();
        if let Some(ch) = held {
            Conn::release(ch).await;
        }
        let jail = std::fs::canonicalize(&o.jail).unwrap_or_else(|_| o.jail.clone());
        for c in hostview::judge(&views, &jail, uid, o.limited) {
            report.push(c);
        }
        Some(hostview::facts(&views, &jail))
    }

    /// With `build --proc`: the PIDs the session listed in its /proc, judged against the
    /// host's processes (read as root on this machine; elsewhere a WARN).
    fn own_processes(&self, out: &str) -> Check {
        let o = self.opts;
        let local = hostkey::is_loopback(&o.host);
        if !local || !nix::unistd::geteuid().is_root() {
            return Check::warn(
                name::OWN_PROCS,
                "not checked: only root on the server itself can compare the session's /proc with the host's processes",
            );
        }
        match nix::unistd::User::from_name(&o.user).ok().flatten() {
            Some(u) => {
                probes::check_own_processes(out, u.uid.as_raw(), &hostview::process_owners())
            }
            None => Check::fail(
                name::OWN_PROCS,
                format!("no account {} on this host", o.user),
            ),
        }
    }

    /// WARN for each start-up file in the user's home (the shell reads them before any
    /// command verify sends).
    fn startup_files(&self) -> Check {
        let o = self.opts;
        let home = hostside::jail_home(&o.jail, &o.user).unwrap_or(format!("/home/{}", o.user));
        if !hostkey::is_loopback(&o.host) {
            return Check::na(
                name::STARTUP,
                "remote host: the home is not readable from here",
            );
        }
        let found = hostside::startup_files(&o.jail, &home);
        if found.is_empty() {
            Check::pass(
                name::STARTUP,
                format!("none in {home} (the user may add some)"),
            )
        } else {
            Check::warn(
                name::STARTUP,
                format!(
                    "the user controls {} in {home}: the login shell reads them before any command; verify's probes run in a clean bash and the host view decides",
                    found.join(", ")
                ),
            )
        }
    }

    async fn forwarding_checks(&self, conn: &Conn, report: &mut Report, shell: bool) {
        // direct-tcpip: to a port we listen on ourselves when the server is this machine,
        // else to the server's own sshd port (only the channel answer counts then).
        let listener = if hostkey::is_loopback(&self.opts.host) {
            TcpListener::bind("127.0.0.1:0").await.ok()
        } else {
            None
        };
        let port = listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
            .unwrap_or(self.opts.port);
        report.push(match conn.direct_tcpip(port).await {
            Ok(false) => Check::pass(
                name::DIRECT_TCPIP,
                format!("channel to 127.0.0.1:{port} refused"),
            ),
            Ok(true) => {
                let arrived = match &listener {
                    Some(l) => timeout(Duration::from_secs(2), l.accept()).await.is_ok(),
                    None => true,
                };
                if arrived {
                    Check::fail(
                        name::DIRECT_TCPIP,
                        format!("the server opened a channel to 127.0.0.1:{port} (ssh -L works)"),
                    )
                } else {
                    Check::pass(
                        name::DIRECT_TCPIP,
                        format!("channel opened but no connection reached 127.0.0.1:{port}"),
                    )
                }
            }
            Err(why) => Check::fail(name::DIRECT_TCPIP, why.to_string()),
        });

        report.push(match conn.remote_forward().await {
            Ok(None) => Check::pass(name::REMOTE_FORWARD, "tcpip-forward request denied"),
            Ok(Some(p)) => Check::fail(
                name::REMOTE_FORWARD,
                format!("the server listened on port {p} for us (ssh -R works)"),
            ),
            Err(why) => Check::fail(name::REMOTE_FORWARD, why.to_string()),
        });

        let probe = if shell {
            "printf 'JS_SOCK=%s\\n' \"${SSH_AUTH_SOCK-}\""
        } else {
            "true"
        };
        report.push(match conn.agent_forward(probe).await {
            Ok((false, _)) => Check::pass(name::AGENT, "auth-agent-req refused"),
            Ok((true, out)) => {
                let sock = out
                    .as_deref()
                    .and_then(|o| probes::values(o, "JS_SOCK").first().map(|s| s.to_string()))
                    .unwrap_or_default();
                if sock.is_empty() {
                    Check::fail(name::AGENT, "auth-agent-req accepted by the server")
                } else {
                    Check::fail(
                        name::AGENT,
                        format!("agent forwarding honoured: SSH_AUTH_SOCK={sock}"),
                    )
                }
            }
            Err(why) => Check::fail(name::AGENT, why.to_string()),
        });
    }

    /// sftp-only accounts: the subsystem lists the jail, and through it the marker, /proc,
    /// /sys and shadow are invisible and nothing outside the home can be created.
    async fn sftp_checks(&self, conn: &Conn, report: &mut Report) {
        let s = match conn.sftp().await {
            Ok(s) => s,
            Err(why) => {
                report.push(Check::fail(name::SFTP_LIST, why.to_string()));
                return;
            }
        };
        let host = self.host_view(conn, report, Hold::Open).await;
        report.push(match client::sftp_list(&s, "/").await {
            Ok(seen) => {
                let mut c = probes::check_top_level(name::SFTP_LIST, &seen, self.jail_top);
                if c.status == super::Status::Pass {
                    c.detail = format!("sftp: {}", c.detail);
                }
                c
            }
            Err(why) => Check::fail(name::SFTP_LIST, why.to_string()),
        });
        self.sftp_escape_checks(&s, report).await;
        let _ = s.close().await;
        if let Some(f) = host {
            let (proc, sys) = (
                format!("{} (sftp)", name::PROC),
                format!("{} (sftp)", name::SYS),
            );
            report.push(hostview::agreement(
                &f,
                &report.checks,
                name::SFTP_LIST,
                &proc,
                &sys,
            ));
        }
    }

    async fn sftp_escape_checks(&self, s: &SftpSession, report: &mut Report) {
        match self.marker {
            Ok(marker) => report.push(self.sftp_marker_check(s, marker).await),
            Err(why) => report.push(Check::warn(
                &format!("{} (sftp)", name::MARKER),
                format!("not checked: {why}"),
            )),
        }
        self.sftp_more_checks(s, report).await;
    }

    async fn sftp_marker_check(&self, s: &SftpSession, marker: &Marker) -> Check {
        let m = marker.name();
        let host_path = marker.path().display().to_string();
        let mut out = String::new();
        let mut candidates = vec![host_path.clone()];
        let mut p = format!("/{m}");
        for _ in 0..=self.opts.jail.components().count() + 2 {
            candidates.push(p.clone());
            p = format!("/..{p}");
        }
        for c in &candidates {
            if client::sftp_exists(s, c).await {
                out.push_str(&format!("JS_SEEN={c} (sftp)\n"));
            }
        }
        out.push_str("JS_DONE=1\n");
        let mut c = probes::check_marker(&out, &host_path);
        c.name = format!("{} (sftp)", name::MARKER);
        if c.status == super::Status::Pass {
            c.detail = format!(
                "marker in the jail's parent not found over sftp via its host path or /.. ({} paths)",
                candidates.len()
            );
        }
        c
    }

    async fn sftp_more_checks(&self, s: &SftpSession, report: &mut Report) {
        let mut out = String::new();
        for p in ["/proc", "/sys", "/etc/shadow", "/etc/gshadow"] {
            if client::sftp_exists(s, p).await {
                out.push_str(&format!("JS_EXISTS={p}\n"));
            }
        }
        if client::sftp_exists(s, "/proc/self/status").await {
            out.push_str("JS_PROC_MOUNTED=1\n");
        }
        out.push_str("JS_DONE=1\n");
        for mut c in probes::check_kernel(&out, self.opts.proc) {
            c.name = format!("{} (sftp)", c.name);
            report.push(c);
        }

        let mut out = String::new();
        let mut dirs: Vec<String> = probes::WRITE_DIRS
            .iter()
            .map(|d| d.trim_end_matches('/').to_string())
            .collect();
        for t in self.jail_top {
            let d = format!("/{t}");
            if t != "home" && t != "tmp" && !dirs.contains(&d) {
                dirs.push(d);
            }
        }
        for d in &dirs {
            let p = format!("{d}/{}", self.probe_name);
            if client::sftp_can_create(s, &p).await {
                self.note_written(vec![p.clone()]);
                out.push_str(&format!("JS_WROTE={p}\n"));
            }
            out.push_str(&format!("JS_TRIED={}/\n", d));
        }
        out.push_str("JS_DONE=1\n");
        let (mut c, _) = probes::check_write(&out);
        c.name = format!("{} (sftp)", name::WRITE);
        report.push(c);
    }

    async fn outgoing_tcp(&self, conn: &Conn) -> Check {
        if !hostkey::is_loopback(&self.opts.host) {
            return probes::check_tcp(None, 0, self.opts.network);
        }
        let Ok(l) = TcpListener::bind("127.0.0.1:0").await else {
            return probes::check_tcp(None, 0, self.opts.network);
        };
        // The kernel completes the handshake from the backlog; no accept needed.
        let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
        // A denied connection is dropped, not refused: its SYN goes unanswered. Three seconds
        // without an answer count as stopped.
        let script = probes::clean(&probes::tcp_script(port));
        let out = match tokio::time::timeout(Duration::from_secs(3), conn.exec(&script)).await {
            Ok(out) => out.map(|o| o.stdout),
            Err(_) => Ok("JS_TCP=timeout\n".to_string()),
        };
        drop(l);
        probes::check_tcp(out.ok().as_deref(), port, self.opts.network)
    }
}
