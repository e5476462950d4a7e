//! Ctrl-C and SIGTERM during a run: the handler only raises a flag (async-signal-safe); the
//! executor looks at it before each step and the copy loop before each chunk, so a run
//! stops at the next safe point, every temporary removed by the ordinary error path, and the
//! command exits with `exit::INTERRUPTED`. Owns the signal disposition; nothing else here.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

static RAISED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    if RAISED.swap(true, Ordering::SeqCst) {
        // A second Ctrl-C: the admin insists. Temporaries this leaves are swept by the
        // next run (the state says it was in progress).
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// Installs the handler for SIGINT and SIGTERM (SA_RESTART: system calls resume, the flag
/// decides). A second signal ends the process at once.
pub fn install() {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe, and it
        // replaces the default disposition process-wide before any thread is started.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

/// True once SIGINT or SIGTERM arrived.
pub fn raised() -> bool {
    RAISED.load(Ordering::SeqCst)
}

/// The error a step returns when the run was interrupted.
pub fn error() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::Interrupted,
        "interrupted by a signal (Ctrl-C or SIGTERM)",
    )
}

/// Err when the run was interrupted: for loops between units of work.
pub fn check() -> std::io::Result<()> {
    if raised() { Err(error()) } else { Ok(()) }
}
