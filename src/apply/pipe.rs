//! Output to a closed pipe (`jailsmith profiles list | head -1`): Rust ignores SIGPIPE, so a
//! print to a closed stdout or stderr fails with EPIPE and `println!` panics. This module makes
//! that end as a Unix CLI ends on SIGPIPE: the panic prints nothing, unwinding runs every
//! guard (temporaries, mounts, the executor's error path), and then the process dies of
//! SIGPIPE (status 141 in a shell). It owns only SIGPIPE's disposition and signals only
//! jailsmith itself; every other panic is reported as before.

use std::any::Any;
use std::panic::PanicHookInfo;

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, raise, sigaction};

/// The text std's print macros panic with, e.g. "failed printing to stdout: Broken pipe
/// (os error 32)", for stdout and stderr alike.
fn is_closed_pipe_text(text: &str) -> bool {
    text.starts_with("failed printing to std")
        && text.ends_with(&format!("(os error {})", libc::EPIPE))
}

/// A command's report could not be written: stdout is a pipe whose reader has gone. main
/// ends the process as SIGPIPE would when an error chain holds it (for commands that write
/// their report with `write!` and `?` rather than `println!`).
#[derive(Debug, thiserror::Error)]
#[error("stdout is a pipe whose reader has closed it")]
pub struct ClosedStdout;

/// Maps a failed write to stdout: EPIPE becomes `ClosedStdout`, anything else stays itself.
pub fn stdout_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        ClosedStdout.into()
    } else {
        anyhow::Error::new(e).context("writing to stdout")
    }
}

/// Whether a panic payload is a print to a closed pipe.
pub fn is_closed_pipe(payload: &(dyn Any + Send)) -> bool {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .is_some_and(is_closed_pipe_text)
}

/// Keeps the panic hook quiet for prints to a closed pipe; other panics reach the previous
/// hook (message and backtrace as before). Call once, first thing in main.
pub fn quiet_closed_pipe_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
        if !is_closed_pipe(info.payload()) {
            previous(info);
        }
    }));
}

/// Ends the process as SIGPIPE would have: default disposition, unblocked, raised. Called
/// after the panic has unwound, so nothing is left half-done by an early exit; the fallback
/// exit status is the one a shell shows for a SIGPIPE death.
pub fn die_of_sigpipe() -> ! {
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: restores the default disposition of SIGPIPE; no handler runs, so nothing
    // async-signal-unsafe can happen, and the process ends right after.
    let _ = unsafe { sigaction(Signal::SIGPIPE, &default) };
    let mut only = SigSet::empty();
    only.add(Signal::SIGPIPE);
    let _ = only.thread_unblock();
    let _ = raise(Signal::SIGPIPE);
    std::process::exit(128 + libc::SIGPIPE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_print_panics_on_epipe_are_recognised() {
        let p: Box<dyn Any + Send> =
            Box::new("failed printing to stdout: Broken pipe (os error 32)".to_string());
        assert!(is_closed_pipe(&*p));
        let p: Box<dyn Any + Send> =
            Box::new("failed printing to stderr: Broken pipe (os error 32)".to_string());
        assert!(is_closed_pipe(&*p));
    }

    #[test]
    fn other_panics_are_not() {
        for text in [
            "failed printing to stdout: No space left on device (os error 28)",
            "index out of bounds: (os error 32)",
        ] {
            let p: Box<dyn Any + Send> = Box::new(text.to_string());
            assert!(!is_closed_pipe(&*p), "{text}");
        }
        let p: Box<dyn Any + Send> = Box::new(32u8);
        assert!(!is_closed_pipe(&*p));
    }
}
