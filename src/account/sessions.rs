//! Ending a user's running sessions: every process whose real, effective or saved uid is
//! the user's, found in /proc and killed by PID (SIGKILL), repeated until none is left.

use std::fs;

use super::AccountError;

/// The uids (real, effective, saved, fs) in a /proc/PID/status text.
pub fn status_uids(status: &str) -> Option<Vec<u32>> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line["Uid:".len()..]
        .split_whitespace()
        .map(|v| v.parse().ok())
        .collect()
}

/// True for a zombie (exited, waiting for its parent to reap it: nothing left to kill).
pub fn is_zombie(status: &str) -> bool {
    status
        .lines()
        .any(|l| l.starts_with("State:") && l["State:".len()..].trim_start().starts_with('Z'))
}

/// A live process (not a zombie) as /proc shows it.
pub struct Process {
    pub pid: i32,
    /// `/proc/PID`.
    pub dir: std::path::PathBuf,
    /// The text of `/proc/PID/status`.
    pub status: String,
}

/// Every live process in /proc; those that exit while it looks are left out.
pub fn live_processes() -> std::io::Result<Vec<Process>> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        let Ok(status) = fs::read_to_string(dir.join("status")) else {
            continue; // gone meanwhile
        };
        if !is_zombie(&status) {
            out.push(Process { pid, dir, status });
        }
    }
    Ok(out)
}

/// PIDs of the live processes running as `uid`.
pub fn pids_of(uid: u32) -> Result<Vec<i32>, AccountError> {
    Ok(live_processes()
        .map_err(AccountError::io("list", "/proc"))?
        .into_iter()
        .filter(|p| status_uids(&p.status).is_some_and(|u| u.contains(&uid)))
        .map(|p| p.pid)
        .collect())
}

/// Kills every process of `uid` (never uid 0); returns the PIDs signalled.
pub fn end_sessions(uid: u32) -> Result<Vec<i32>, AccountError> {
    if uid == 0 {
        return Ok(Vec::new());
    }
    let mut killed = Vec::new();
    for _ in 0..20 {
        let pids = pids_of(uid)?;
        if pids.is_empty() {
            break;
        }
        for pid in pids {
            if crate::apply::signal::kill_process(pid).is_ok() && !killed.contains(&pid) {
                killed.push(pid);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(killed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_uid_line() {
        let s = "Name:\tbash\nUid:\t1001\t1001\t1001\t1001\nGid:\t1\t1\t1\t1\n";
        assert_eq!(status_uids(s), Some(vec![1001, 1001, 1001, 1001]));
        assert_eq!(status_uids("Name: x\n"), None);
        assert!(is_zombie("Name:\tx\nState:\tZ (zombie)\n"));
        assert!(!is_zombie(s));
    }
}
