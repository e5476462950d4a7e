//! Exit codes: one per failure class, shared by every command and listed in the man page.
//! Owns the mapping from error kinds to codes; prints nothing.

/// Success: nothing missing, nothing failed.
pub const OK: u8 = 0;
/// The command ran, and found something wrong: a library is missing, a check failed.
pub const FINDINGS: u8 = 1;
/// Bad input: not ELF, unreadable, unknown name, invalid option value (clap usage errors too).
pub const BAD_INPUT: u8 = 2;
/// `verify`: the server's host key did not match.
pub const HOST_KEY_MISMATCH: u8 = 3;
/// Refused by a safety rule: a symlink where jailsmith writes, a program that hands out root,
/// a jail path sshd would reject, anything on a deny-list (`plan::denylist`).
pub const REFUSED: u8 = 4;
/// sshd rejected the configuration (`sshd -t` / `sshd -T`), nothing was reloaded.
pub const SSHD_INVALID: u8 = 5;
/// An operation on the host failed part-way (I/O error, a command that failed).
pub const HOST_FAILURE: u8 = 6;

/// Interrupted by SIGINT or SIGTERM (128 + 2, as a shell reports Ctrl-C): the run stopped at
/// a safe point, its temporaries removed; the state says what was placed.
pub const INTERRUPTED: u8 = 130;

/// Every code with a one-line meaning, for `--help` and the man page.
pub const TABLE: &[(u8, &str)] = &[
    (OK, "success; for build/update: the jail is up to date"),
    (
        FINDINGS,
        "something is missing or a check failed (deps: unresolved library; check/verify: a failed check)",
    ),
    (
        BAD_INPUT,
        "bad input: unreadable or non-ELF file, unknown program or profile, invalid option",
    ),
    (
        HOST_KEY_MISMATCH,
        "verify: the server's host key does not match",
    ),
    (
        REFUSED,
        "refused by a safety rule (symlink in the jail, setuid helper, a deny-list: system \
         directory as jail, system bind source, host secret, privileged account)",
    ),
    (
        SSHD_INVALID,
        "sshd rejected the configuration; the drop-in was rolled back",
    ),
    (HOST_FAILURE, "an operation on the host failed"),
    (
        INTERRUPTED,
        "interrupted by Ctrl-C or SIGTERM; nothing half-written, run the command again",
    ),
];

/// An error that carries its exit code through `anyhow` to `main`.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Coded {
    pub code: u8,
    pub message: String,
}

impl Coded {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Finds the exit code of an error chain: INTERRUPTED after a signal, else the first
/// `Coded` in it, else HOST_FAILURE.
pub fn code_of(err: &anyhow::Error) -> u8 {
    if crate::apply::interrupt::raised() {
        return INTERRUPTED;
    }
    for cause in err.chain() {
        if let Some(c) = cause.downcast_ref::<Coded>() {
            return c.code;
        }
    }
    HOST_FAILURE
}
