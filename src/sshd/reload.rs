//! Reloading sshd after its drop-ins changed: the systemd unit (`sshd`, else `ssh`) where
//! systemd is PID 1 and the main config is the system's, otherwise SIGHUP to the pid in
//! sshd's PidFile, after checking that pid really is an sshd.

use std::path::Path;
use std::time::Duration;

use super::SshdError;
use super::validate::Sshd;

/// True when PID 1 is systemd (read from the host).
pub fn systemd_is_init() -> bool {
    std::fs::read_to_string("/proc/1/comm").is_ok_and(|c| c.trim() == "systemd")
}

/// Reloads sshd; returns a one-line description of what was done.
pub fn reload(sshd: &Sshd, use_systemd: bool) -> Result<String, SshdError> {
    if use_systemd {
        return reload_systemd();
    }
    let Some(pid_file) = sshd.pid_file()? else {
        return Ok("sshd has no PidFile: not reloaded (restart it yourself)".into());
    };
    let text = match std::fs::read_to_string(&pid_file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(format!(
                "sshd is not running ({} is absent): nothing to reload",
                pid_file.display()
            ));
        }
        Err(source) => {
            return Err(SshdError::Io {
                op: "read",
                path: pid_file,
                source,
            });
        }
    };
    let pid: i32 = text.trim().parse().map_err(|_| SshdError::Reload {
        why: format!("{} does not hold a pid", pid_file.display()),
    })?;
    if !is_sshd(pid) {
        return Err(SshdError::Reload {
            why: format!(
                "pid {pid} from {} is not an sshd (stale PidFile?)",
                pid_file.display()
            ),
        });
    }
    let before = listening_sockets(pid);
    crate::apply::signal::hang_up(pid).map_err(|e| SshdError::Reload {
        why: format!("kill -HUP {pid}: {e}"),
    })?;
    // sshd re-executes itself on SIGHUP: the next login needs its new listening sockets.
    if !before.is_empty() {
        wait_listening_again(pid, &before);
    }
    Ok(format!(
        "sent SIGHUP to sshd pid {pid} ({})",
        pid_file.display()
    ))
}

fn is_sshd(pid: i32) -> bool {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    exe.as_deref()
        .and_then(Path::file_name)
        .is_some_and(|n| n.to_string_lossy().starts_with("sshd"))
}

fn systemctl(args: &[&str]) -> Result<std::process::Output, SshdError> {
    let program = crate::hostinfo::find_program("systemctl").ok_or_else(|| SshdError::Io {
        op: "find",
        path: "systemctl".into(),
        source: std::io::ErrorKind::NotFound.into(),
    })?;
    crate::apply::process::run(&program, args).map_err(|source| SshdError::Io {
        op: "run",
        path: program,
        source,
    })
}

/// Reloads the active one of the `sshd` (RHEL) and `ssh` (Debian) units; when neither is
/// active there is nothing to reload (sshd reads the drop-in when it starts).
fn reload_systemd() -> Result<String, SshdError> {
    let active: Vec<&str> = ["sshd", "ssh"]
        .into_iter()
        .filter(|u| systemctl(&["is-active", "--quiet", u]).is_ok_and(|o| o.status.success()))
        .collect();
    if active.is_empty() {
        return Ok(
            "sshd is not running (neither sshd nor ssh unit is active): nothing to reload".into(),
        );
    }
    let mut last = String::new();
    for unit in active {
        let pid = main_pid(unit);
        let before = pid.map(listening_sockets).unwrap_or_default();
        let out = systemctl(&["reload", unit])?;
        if out.status.success() {
            if let Some(pid) = pid.filter(|_| !before.is_empty()) {
                wait_listening_again(pid, &before);
            }
            return Ok(format!("systemctl reload {unit}"));
        }
        last = String::from_utf8_lossy(&out.stderr).trim().to_string();
    }
    Err(SshdError::Reload {
        why: format!("systemctl reload sshd/ssh failed: {last}"),
    })
}

/// The unit's main PID, when systemd knows one (not for a socket-activated sshd).
fn main_pid(unit: &str) -> Option<i32> {
    let out = systemctl(&["show", "-p", "MainPID", "--value", unit]).ok()?;
    let pid: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    (pid > 1).then_some(pid)
}

/// sshd answers SIGHUP by closing its listening sockets and re-executing itself; a login in
/// that moment is refused. Waits (up to 5 s) until `pid` listens on sockets other than
/// `before`, so the next login, `--verify-with` included, finds it.
fn wait_listening_again(pid: i32, before: &[u64]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        let now = listening_sockets(pid);
        if !now.is_empty() && now.iter().all(|i| !before.contains(i)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Inodes of the listening TCP sockets that `pid` holds open (from /proc).
fn listening_sockets(pid: i32) -> Vec<u64> {
    let held: Vec<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|l| socket_inode(&l.to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    let mut listening = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        listening.extend(listening_inodes(&text));
    }
    held.into_iter().filter(|i| listening.contains(i)).collect()
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Inodes of the sockets in state LISTEN (0A) in a /proc/net/tcp table.
fn listening_inodes(table: &str) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(3) == Some(&"0A")).then(|| f.get(9)?.parse().ok())?
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_sockets_are_read_from_the_tcp_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 40765 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0016 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000     0        0 41234 1 0000000000000000 20 4 30 10 -1
";
        assert_eq!(listening_inodes(table), [40765]);
        assert_eq!(socket_inode("socket:[40765]"), Some(40765));
        assert_eq!(socket_inode("pipe:[1]"), None);
    }
}
