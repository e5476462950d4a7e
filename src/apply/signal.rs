//! Signalling processes (ending a jailed user's sessions, reloading sshd): by PID, never a
//! process group, never PID 1 or jailsmith itself, never a process of uid 0 unless the
//! caller checked it is the sshd it means to reload. The only place jailsmith calls kill(2).

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Why a signal was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("refusing to signal pid {0}: not a single ordinary process")]
    Refused(i32),
    #[error("kill -{signal} {pid}: {source}")]
    Sys {
        pid: i32,
        signal: &'static str,
        #[source]
        source: nix::Error,
    },
}

fn send(pid: i32, sig: Signal) -> Result<(), SignalError> {
    if pid <= 1 || pid == std::process::id() as i32 {
        return Err(SignalError::Refused(pid));
    }
    kill(Pid::from_raw(pid), sig).map_err(|source| SignalError::Sys {
        pid,
        signal: sig.as_str(),
        source,
    })
}

/// SIGKILL to one process (a session that must end).
pub fn kill_process(pid: i32) -> Result<(), SignalError> {
    send(pid, Signal::SIGKILL)
}

/// SIGHUP to one process (sshd re-reads its configuration).
pub fn hang_up(pid: i32) -> Result<(), SignalError> {
    send(pid, Signal::SIGHUP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_groups_and_itself_are_never_signalled() {
        for pid in [-1, 0, 1, std::process::id() as i32] {
            assert!(matches!(kill_process(pid), Err(SignalError::Refused(_))));
        }
    }
}
