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
    crate::apply::signal::hang_up(pid).map_err(|e| SshdError::Reload {
        why: format!("kill -HUP {pid}: {e}"),
    })?;
    // sshd re-executes itself on SIGHUP; give it a moment to listen again.
    std::thread::sleep(Duration::from_millis(300));
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
        let out = systemctl(&["reload", unit])?;
        if out.status.success() {
            return Ok(format!("systemctl reload {unit}"));
        }
        last = String::from_utf8_lossy(&out.stderr).trim().to_string();
    }
    Err(SshdError::Reload {
        why: format!("systemctl reload sshd/ssh failed: {last}"),
    })
}
