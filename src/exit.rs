//! Exit codes: one per failure class, shared by every command and listed in the man page
//! (`TABLE` is the EXIT STATUS of jailsmith(8)). Owns the mapping from error kinds to codes;
//! prints nothing.
//!
//! Every error type says its class (`Classify`) and `code_of` finds it in the chain, so a
//! failure exits the same way whichever command meets it (tests/it/exit_classes.rs):
//! a jail path that does not exist, or that jailsmith has no state for where a jail is
//! needed, is bad input (2); a state file that cannot be read or parsed is a host failure
//! (6); a bind source that does not exist is bad input and an unsafe one a refusal (4),
//! from `--bind`, a profile or a spec alike; a missing account is bad input (2).

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
/// An operation on the host failed part-way (I/O error, a command that failed), or jailsmith's
/// own state file of a jail cannot be read or parsed.
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
    (
        HOST_FAILURE,
        "an operation on the host failed, or jailsmith's state of the jail cannot be read",
    ),
    (
        INTERRUPTED,
        "interrupted by Ctrl-C or SIGTERM; nothing half-written, run the command again",
    ),
];

/// A failure class: what went wrong, as far as the exit status tells. Every error type of
/// the library says its class (`Classify`); `code_of` walks an error chain to the first one
/// that does, so the same failure exits the same way in every command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Findings,
    BadInput,
    HostKeyMismatch,
    Refused,
    SshdInvalid,
    HostFailure,
    Interrupted,
}

impl Class {
    pub fn code(self) -> u8 {
        match self {
            Class::Findings => FINDINGS,
            Class::BadInput => BAD_INPUT,
            Class::HostKeyMismatch => HOST_KEY_MISMATCH,
            Class::Refused => REFUSED,
            Class::SshdInvalid => SSHD_INVALID,
            Class::HostFailure => HOST_FAILURE,
            Class::Interrupted => INTERRUPTED,
        }
    }

    /// The class of a code (an unknown code is a host failure).
    pub fn of_code(code: u8) -> Class {
        match code {
            FINDINGS => Class::Findings,
            BAD_INPUT => Class::BadInput,
            HOST_KEY_MISMATCH => Class::HostKeyMismatch,
            REFUSED => Class::Refused,
            SSHD_INVALID => Class::SshdInvalid,
            INTERRUPTED => Class::Interrupted,
            _ => Class::HostFailure,
        }
    }
}

/// An error that says its failure class.
pub trait Classify {
    fn class(&self) -> Class;
}

/// A lower module's error that a use case carries up whole (its type, message and class),
/// e.g. `jail::JailError::Lower`: shown flat, by its own message, which names its cause.
pub trait Classified: std::error::Error + Classify + Send + Sync + 'static {}

impl<T: std::error::Error + Classify + Send + Sync + 'static> Classified for T {}

/// `Classify` for error types that already know their code.
macro_rules! classified_by {
    ($method:ident: $($t:ty),* $(,)?) => {
        $(impl Classify for $t {
            fn class(&self) -> Class {
                Class::of_code(self.$method())
            }
        })*
    };
}

classified_by!(exit_code:
    crate::apply::HostError,
    crate::apply::rootfile::RootFileError,
    crate::apply::binds::MountError,
    crate::mounts::log::LogSocketError,
    crate::profile::ProfileError,
    crate::plan::denylist::Denied,
    crate::hostinfo::gather::GatherError,
    crate::jail::RecordError,
    crate::hostinfo::timezone::ZoneError,
    crate::apply::journal::OpError,
);
classified_by!(code:
    crate::account::AccountError,
    crate::account::usecase::UserError,
    crate::sshd::SshdError,
    crate::verify::VerifyError,
);

/// Classes of the error types that have one class.
macro_rules! classified_as {
    ($class:expr => $($t:ty),* $(,)?) => {
        $(impl Classify for $t {
            fn class(&self) -> Class {
                $class
            }
        })*
    };
}

classified_as!(Class::BadInput =>
    Precondition,
    crate::resolve::ElfError,
    crate::service::ServiceError,
    crate::limits::LimitError,
    crate::spec::SpecError,
    crate::spec::UnreadableSpec,
    crate::mounts::BadBind,
    crate::audit::CheckError,
);
classified_as!(Class::Refused =>
    crate::mounts::nested::Unmade,
);
classified_as!(Class::HostFailure =>
    crate::apply::signal::SignalError,
    crate::converge::record::RecordError,
    crate::labels::LabelError,
);

/// The state store is jailsmith's own: a state file that cannot be read or parsed is a host
/// failure in every command (never bad input), one that is not safe to trust a refusal; a
/// jail with no state where one is needed is bad input (the path named is not a jail).
impl Classify for crate::state::StateError {
    fn class(&self) -> Class {
        use crate::state::StateError::*;
        match self {
            Unsafe { .. } => Class::Refused,
            NoState { .. } => Class::BadInput,
            Io { .. } | Parse { .. } => Class::HostFailure,
        }
    }
}

impl Classify for crate::converge::ConvergeError {
    fn class(&self) -> Class {
        use crate::converge::ConvergeError::*;
        match self {
            User { error, .. } => error.class(),
            KeyFile { .. } => Class::BadInput,
            Unit(_) => Class::HostFailure,
            AccountsTakenBack { error, .. } => Class::of_code(code_of(error)),
        }
    }
}

/// A command refused before it starts, for a reason no module owns (`cli::preflight`).
#[derive(Debug, thiserror::Error)]
pub enum Precondition {
    #[error("jailsmith {command} must run as root: {why}; run: {sudo}")]
    NotRoot {
        command: String,
        why: String,
        sudo: String,
    },
    /// `shown` is the path as given (escaped); `meant` the hint with its absolute form.
    #[error("{shown}: the jail path must be absolute{meant}")]
    RelativeJail { shown: String, meant: String },
}

/// The class of one error of a chain, when its type says one.
fn class_of(e: &(dyn std::error::Error + 'static)) -> Option<Class> {
    macro_rules! first_of {
        ($($t:ty),* $(,)?) => {
            $(if let Some(x) = e.downcast_ref::<$t>() {
                return Some(x.class());
            })*
        };
    }
    first_of!(
        Precondition,
        crate::apply::HostError,
        crate::apply::rootfile::RootFileError,
        crate::apply::signal::SignalError,
        crate::apply::binds::MountError,
        crate::mounts::log::LogSocketError,
        crate::profile::ProfileError,
        crate::plan::denylist::Denied,
        crate::hostinfo::gather::GatherError,
        crate::jail::RecordError,
        crate::apply::journal::OpError,
        crate::account::AccountError,
        crate::account::usecase::UserError,
        crate::sshd::SshdError,
        crate::verify::VerifyError,
        crate::resolve::ElfError,
        crate::service::ServiceError,
        crate::limits::LimitError,
        crate::spec::SpecError,
        crate::spec::UnreadableSpec,
        crate::mounts::BadBind,
        crate::audit::CheckError,
        crate::converge::record::RecordError,
        crate::converge::ConvergeError,
        crate::labels::LabelError,
        crate::state::StateError,
        crate::jail::JailError,
        crate::hostinfo::timezone::ZoneError,
        crate::service::install::InstallError,
        crate::mounts::usecase::MountsError,
    );
    None
}

/// Finds the exit code of an error chain: INTERRUPTED after a signal, else the class of the
/// first error in the chain whose type says one (outermost first, so a command may
/// reclassify what it wraps), else HOST_FAILURE.
pub fn code_of(err: &anyhow::Error) -> u8 {
    if crate::apply::interrupt::raised() {
        return INTERRUPTED;
    }
    err.chain()
        .find_map(class_of)
        .map_or(HOST_FAILURE, Class::code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn a_typed_error_deep_in_a_chain_gives_its_class() {
        let denied = crate::apply::rootfile::RootFileError::Unsafe {
            op: "write into",
            path: "/tmp".into(),
            why: "it is writable by group or others".into(),
        };
        let err = Err::<(), _>(denied)
            .context("writing the unit")
            .context("service web")
            .unwrap_err();
        assert_eq!(code_of(&err), REFUSED);
        let io = crate::state::StateError::Io {
            path: "/var/lib/jailsmith/x".into(),
            op: "read",
            source: std::io::ErrorKind::Other.into(),
        };
        assert_eq!(code_of(&anyhow::Error::new(io)), HOST_FAILURE);
        let bad = crate::service::ServiceError::BadName("x y".into());
        assert_eq!(code_of(&anyhow::Error::new(bad)), BAD_INPUT);
        assert_eq!(code_of(&anyhow::anyhow!("untyped")), HOST_FAILURE);
    }

    #[test]
    fn the_state_store_and_wrapped_user_errors_keep_their_class() {
        use crate::state::StateError;
        let code = |e: StateError| code_of(&anyhow::Error::new(e).context("jail /srv/j"));
        let parse = serde_json::from_str::<u8>("x").unwrap_err();
        let path = std::path::PathBuf::from("/var/lib/jailsmith/jails/x.json");
        assert_eq!(
            code(StateError::Parse {
                path: path.clone(),
                source: parse
            }),
            HOST_FAILURE
        );
        let why = "it records another jail".to_string();
        assert_eq!(code(StateError::Unsafe { path, why }), REFUSED);
        let (jail, state_dir) = ("/srv/j".into(), "/var/lib/jailsmith".into());
        assert_eq!(code(StateError::NoState { jail, state_dir }), BAD_INPUT);
        // apply names the [[user]] a failure belongs to; the class stays that of `user`.
        let missing = crate::account::AccountError::Missing {
            name: "jstx".into(),
        };
        let e = crate::converge::ConvergeError::User {
            name: "jstx".into(),
            error: missing.into(),
        };
        assert_eq!(code_of(&anyhow::Error::new(e)), BAD_INPUT);
        let refused = crate::account::usecase::UserError::Refused("root".into());
        assert_eq!(code_of(&anyhow::Error::new(refused)), REFUSED);
        let pre = Precondition::RelativeJail {
            shown: "srv/j".into(),
            meant: String::new(),
        };
        assert_eq!(code_of(&anyhow::Error::new(pre)), BAD_INPUT);
    }

    #[test]
    fn every_class_has_its_own_code_in_the_table() {
        for c in [
            Class::Findings,
            Class::BadInput,
            Class::HostKeyMismatch,
            Class::Refused,
            Class::SshdInvalid,
            Class::HostFailure,
            Class::Interrupted,
        ] {
            assert_eq!(Class::of_code(c.code()), c);
            assert!(TABLE.iter().any(|(code, _)| *code == c.code()), "{c:?}");
        }
    }
}
