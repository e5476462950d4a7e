//! A jail's syslog socket (`build --log`): which host socket it is (the host's /dev/log as
//! its symlinks lead, or `--log-socket PATH`), and the one narrow exception to the bind
//! deny-list (DESIGN §5.12) that lets exactly such a socket below /run or /dev into a jail.
//! Reads the host (lstat, /proc/net/unix); changes nothing.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Where a host's syslog socket is looked for, in order: rsyslog's or journald's /dev/log
/// (on systemd hosts a link to journald's), then journald's own.
pub const HOST_SOCKETS: &[&str] = &["/dev/log", "/run/systemd/journal/dev-log"];

/// Datagram sockets that are not syslog: systemd's notification socket is a control
/// channel of PID 1, not a log.
const NOT_LOGS: &[&str] = &["/run/systemd/notify"];

/// `SOCK_DGRAM` as /proc/net/unix prints it.
const DGRAM: &str = "0002";

/// Why a log socket is not used.
#[derive(Debug, thiserror::Error)]
pub enum LogSocketError {
    #[error("no syslog socket on this host (looked at {tried}); name one with --log-socket PATH")]
    NotFound { tried: String },
    #[error("refusing log socket {path}: {why}")]
    Unsafe { path: PathBuf, why: String },
    #[error("log socket {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl LogSocketError {
    pub fn exit_code(&self) -> u8 {
        match self {
            LogSocketError::Unsafe { .. } => crate::exit::REFUSED,
            _ => crate::exit::BAD_INPUT,
        }
    }
}

/// The host socket `given` names (or, when None, the host's syslog socket), with its
/// symlinks resolved, checked by `check`.
pub fn resolve(given: Option<&Path>) -> Result<PathBuf, LogSocketError> {
    let path = match given {
        Some(p) => std::fs::canonicalize(p).map_err(|source| LogSocketError::Io {
            path: p.to_path_buf(),
            source,
        })?,
        None => HOST_SOCKETS
            .iter()
            .filter_map(|p| std::fs::canonicalize(p).ok())
            .find(|p| std::fs::metadata(p).is_ok_and(|m| m.file_type().is_socket()))
            .ok_or_else(|| LogSocketError::NotFound {
                tried: HOST_SOCKETS.join(", "),
            })?,
    };
    check(
        &path,
        &std::fs::read_to_string("/proc/net/unix").unwrap_or_default(),
    )?;
    Ok(path)
}

/// The exception to the bind deny-list, for exactly a syslog socket: `path` (absolute, no
/// symlink in it) is a root-owned socket bound as a datagram socket (`net_unix`: the text
/// of /proc/net/unix), as syslog's and journald's are, and every directory above it is
/// root's and not writable by group or others, so no one else can put another object
/// there between this check and the mount. A socket holds no files: a bind of it shows a
/// jail nothing of the host but the service listening on it, and a datagram log socket
/// only receives. Stream sockets (docker, D-Bus, systemd's private socket) are refused:
/// a jailed user could drive the service behind them.
pub fn check(path: &Path, net_unix: &str) -> Result<(), LogSocketError> {
    let bad = |why: String| LogSocketError::Unsafe {
        path: path.to_path_buf(),
        why,
    };
    if !path.is_absolute() || std::fs::canonicalize(path).ok().as_deref() != Some(path) {
        return Err(bad(
            "its path goes through a symlink or is not absolute".into()
        ));
    }
    if NOT_LOGS.iter().any(|n| Path::new(n) == path) {
        return Err(bad("it is a control socket of systemd, not a log".into()));
    }
    let m = std::fs::symlink_metadata(path).map_err(|source| LogSocketError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !m.file_type().is_socket() {
        return Err(bad("it is not a socket".into()));
    }
    if m.uid() != 0 {
        return Err(bad(format!("it is owned by uid {}, not root", m.uid())));
    }
    for a in path.ancestors().skip(1) {
        let m = std::fs::symlink_metadata(a).map_err(|e| bad(e.to_string()))?;
        let writable =
            m.uid() != 0 || m.mode() & 0o002 != 0 || (m.mode() & 0o020 != 0 && m.gid() != 0);
        if writable {
            return Err(bad(format!(
                "{} is writable by a non-root user (uid {}, mode {:04o}), who could put \
                 another socket there",
                a.display(),
                m.uid(),
                m.mode() & 0o7777
            )));
        }
    }
    let types = socket_types(net_unix, path);
    if types.is_empty() {
        return Err(bad("no process listens on it".into()));
    }
    if types.iter().any(|t| t != DGRAM) {
        return Err(bad(
            "it is not a datagram socket as syslog's are: a stream socket would let a jailed \
             user drive the service behind it"
                .into(),
        ));
    }
    Ok(())
}

/// The types (`0001` stream, `0002` datagram, `0005` seqpacket) of the sockets bound at
/// `path`, from /proc/net/unix.
fn socket_types(net_unix: &str, path: &Path) -> Vec<String> {
    let want = path.to_string_lossy();
    net_unix
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 8 && f[7] == want).then(|| f[4].to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_socket_types_from_proc_net_unix() {
        let t = "Num       RefCount Protocol Flags    Type St Inode Path\n\
                 0000000000000000: 00000002 00000000 00000000 0002 01 12 /run/systemd/journal/dev-log\n\
                 0000000000000000: 00000002 00000000 00010000 0001 01 13 /run/docker.sock\n\
                 0000000000000000: 00000003 00000000 00000000 0001 03 14\n";
        assert_eq!(
            socket_types(t, Path::new("/run/systemd/journal/dev-log")),
            ["0002"]
        );
        assert_eq!(socket_types(t, Path::new("/run/docker.sock")), ["0001"]);
        assert!(socket_types(t, Path::new("/nothing")).is_empty());
    }

    #[test]
    fn a_directory_or_a_control_socket_is_refused() {
        assert!(matches!(
            check(Path::new("/run"), ""),
            Err(LogSocketError::Unsafe { .. })
        ));
        assert!(matches!(
            check(Path::new("/run/systemd/notify"), ""),
            Err(LogSocketError::Unsafe { .. })
        ));
    }
}
