//! `jailsmith verify`: log in as a jailed user over SSH (russh, ring backend) and check from
//! the user's side what DESIGN §5 promises. Expectations and probe parsing are pure
//! (`probes`, `hostkey`, `render`); `client` is the only async code in the project and
//! `hostside` the only part that touches the host (a marker file in the jail's parent, read-only
//! looks at the jail). `hostview` reads /proc for the host's view of the session, which
//! decides over what the session itself reports. Nothing here changes sshd or the jail.

pub mod client;
pub mod hostkey;
pub mod hostside;
pub mod hostview;
pub mod passphrase;
pub mod probes;
pub mod render;
mod run;

use std::path::PathBuf;

use serde::Serialize;

pub use run::run;

/// The result of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Status {
    #[serde(rename = "PASS")]
    Pass,
    #[serde(rename = "FAIL")]
    Fail,
    /// Something a chroot cannot close; not a failure.
    #[serde(rename = "WARN")]
    Warn,
    /// Does not apply to this account (e.g. shell checks for an sftp-only account).
    #[serde(rename = "N/A")]
    NotApplicable,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Warn => "WARN",
            Status::NotApplicable => "N/A",
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
}

impl Check {
    pub fn new(name: &str, status: Status, detail: impl Into<String>) -> Self {
        Self {
            name: name.to_string(),
            status,
            detail: detail.into(),
        }
    }
    pub fn pass(name: &str, detail: impl Into<String>) -> Self {
        Self::new(name, Status::Pass, detail)
    }
    pub fn fail(name: &str, detail: impl Into<String>) -> Self {
        Self::new(name, Status::Fail, detail)
    }
    pub fn warn(name: &str, detail: impl Into<String>) -> Self {
        Self::new(name, Status::Warn, detail)
    }
    pub fn na(name: &str, detail: impl Into<String>) -> Self {
        Self::new(name, Status::NotApplicable, detail)
    }
}

/// Why verify could not run its checks at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// No TCP connection, no SSH handshake, or a timeout.
    Connection,
    /// The server refused the key.
    Authentication,
    /// The server's host key is not trusted (mismatch, revoked or unknown).
    HostKey,
}

/// Everything verify found, in order.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub user: String,
    pub host: String,
    pub port: u16,
    pub jail: PathBuf,
    pub checks: Vec<Check>,
    pub passed: bool,
    #[serde(skip)]
    pub stopped: Option<Stopped>,
}

impl Report {
    pub fn new(user: &str, host: &str, port: u16, jail: PathBuf) -> Self {
        Self {
            user: user.to_string(),
            host: host.to_string(),
            port,
            jail,
            checks: Vec::new(),
            passed: false,
            stopped: None,
        }
    }

    pub fn push(&mut self, c: Check) {
        self.checks.push(c);
    }

    /// Sets `passed`: no check failed and nothing stopped the run.
    pub fn finish(&mut self) {
        self.passed =
            self.stopped.is_none() && self.checks.iter().all(|c| c.status != Status::Fail);
    }

    /// 0 nothing failed, 1 a check failed, 2 no connection or authentication, 3 host key.
    pub fn exit_code(&self) -> u8 {
        match self.stopped {
            Some(Stopped::HostKey) => crate::exit::HOST_KEY_MISMATCH,
            Some(Stopped::Connection | Stopped::Authentication) => crate::exit::BAD_INPUT,
            None if self.checks.iter().any(|c| c.status == Status::Fail) => crate::exit::FINDINGS,
            None => crate::exit::OK,
        }
    }
}

/// How verify trusts the server's host key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Only these public key files (`--host-key`, or the HostKeys of an sshd config).
    Pinned(Vec<PathBuf>),
    /// This known_hosts file (the default is `~/.ssh/known_hosts`), plus, for a loopback host,
    /// the local `/etc/ssh/ssh_host_*_key.pub` when `local_keys` is set.
    KnownHosts { file: PathBuf, local_keys: bool },
}

/// A resolved verify invocation.
#[derive(Clone, Debug)]
pub struct Options {
    pub user: String,
    pub host: String,
    pub port: u16,
    pub key: PathBuf,
    /// The passphrase of an encrypted key, when known up front.
    pub passphrase: Option<String>,
    /// Ask on /dev/tty when the key is encrypted and no passphrase was given.
    pub prompt: bool,
    pub host_key: HostKeyPolicy,
    /// Accept (and record in the known_hosts file) a host key nothing says anything about.
    pub accept_new: bool,
    /// The jail on this machine, as the host sees it.
    pub jail: PathBuf,
    /// Users the jail's state lists (allowed in the jail's passwd besides root).
    pub jail_users: Vec<String>,
    /// The state sets limits on this user's slice (the host view checks the cgroup).
    pub limited: bool,
    /// The jail declares its own private /proc (`build --proc`): the probes accept it and
    /// prove another user's processes are invisible in it.
    pub proc: bool,
    /// The network policy the state puts on this user's slice (`user --deny-network`).
    pub network: NetworkPolicy,
    /// Per-step time limit.
    pub timeout: std::time::Duration,
}

/// What the jail's state says about the user's outgoing connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NetworkPolicy {
    /// Nothing: a chroot does not restrict the network.
    #[default]
    Open,
    /// IPAddressDeny=any on the user's slice; `probe_allowed` when the loopback address the
    /// probe connects to is among the allowed peers (then the probe proves nothing).
    Denied { probe_allowed: bool },
}

impl NetworkPolicy {
    /// The policy of a user's recorded limits.
    pub fn of(limits: Option<&crate::limits::Limits>) -> Self {
        match limits {
            Some(l) if l.deny_network => NetworkPolicy::Denied {
                probe_allowed: l
                    .allow_ip
                    .iter()
                    .any(|a| a == "localhost" || a == "any" || a.starts_with("127.") || a == "::1"),
            },
            _ => NetworkPolicy::Open,
        }
    }
}

/// A failure before any check could run that is not a connection problem: an unreadable key,
/// a jail that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read private key {path}: {why}")]
    Key { path: PathBuf, why: String },
    #[error("cannot read jail {path}: {source}")]
    Jail {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    HostKey(#[from] hostkey::HostKeyError),
    #[error("cannot {op} marker {path}: {source}")]
    Marker {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot read the passphrase: {0}")]
    Passphrase(String),
    #[error("interrupted by {0}; the marker and any probe files were removed")]
    Interrupted(&'static str),
    #[error("no jail in {} lists user {user}; pass --jail", dir.display())]
    NoJail { user: String, dir: PathBuf },
    #[error("several jails list user {user} ({jails}); pass --jail")]
    SeveralJails { user: String, jails: String },
    #[error("no home directory for ~/.ssh/known_hosts; pass --known-hosts or --host-key")]
    NoHome,
    #[error(
        "no readable host public key (HostKey + .pub) in {}; run jailsmith verify with --host-key",
        main.display()
    )]
    NoHostKey { main: PathBuf },
}

impl VerifyError {
    pub fn code(&self) -> u8 {
        match self {
            VerifyError::Key { .. }
            | VerifyError::Passphrase(_)
            | VerifyError::HostKey(_)
            | VerifyError::NoJail { .. }
            | VerifyError::SeveralJails { .. }
            | VerifyError::NoHome
            | VerifyError::NoHostKey { .. } => crate::exit::BAD_INPUT,
            // The path named is not a jail, as in every command that needs one.
            VerifyError::Jail { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                crate::exit::BAD_INPUT
            }
            _ => crate::exit::HOST_FAILURE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_issue() {
        let mut r = Report::new("u", "h", 22, PathBuf::from("/j"));
        r.push(Check::pass("a", ""));
        r.push(Check::warn("b", ""));
        r.push(Check::na("c", ""));
        r.finish();
        assert!(r.passed);
        assert_eq!(r.exit_code(), 0);
        r.push(Check::fail("d", ""));
        r.finish();
        assert!(!r.passed);
        assert_eq!(r.exit_code(), 1);
        r.stopped = Some(Stopped::Authentication);
        assert_eq!(r.exit_code(), 2);
        r.stopped = Some(Stopped::HostKey);
        assert_eq!(r.exit_code(), 3);
    }

    #[test]
    fn json_shape() {
        let mut r = Report::new("u", "h", 22, PathBuf::from("/j"));
        r.push(Check::na("sftp", "shell account"));
        r.finish();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["user"], "u");
        assert_eq!(v["host"], "h");
        assert_eq!(v["passed"], true);
        assert_eq!(v["checks"][0]["status"], "N/A");
        assert_eq!(v["checks"][0]["name"], "sftp");
        assert_eq!(v["checks"][0]["detail"], "shell account");
    }
}
