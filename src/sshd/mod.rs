//! sshd: the Match-block drop-in of a jailed user (rendered by a pure function), the checks
//! of the main config (Include, Subsystem), validation with `sshd -t` / `sshd -T -C`, and
//! reloading sshd. The ChrootDirectory path rule itself is `audit::chroot_rule`.

pub mod dropin;
pub mod mainconfig;
pub mod paths;
pub mod reload;
pub mod validate;

use std::path::PathBuf;

use crate::exit;

/// A failure concerning sshd or its configuration, naming the file and the operation.
#[derive(Debug, thiserror::Error)]
pub enum SshdError {
    #[error("sshd would refuse to chroot into {jail}: {component} {why} (fix: {fix})")]
    ChrootPath {
        jail: PathBuf,
        component: PathBuf,
        why: String,
        fix: String,
    },
    #[error(
        "{main} does not include the drop-in directory {dir}: sshd would never read {dropin}. Add this line at the top of {main}, before any Match block:\n    Include {dir}/*.conf"
    )]
    NotIncluded {
        main: PathBuf,
        dir: PathBuf,
        dropin: PathBuf,
    },
    #[error(
        "{main} has no 'Subsystem sftp' line, so an sftp-only user could do nothing. Add:\n    Subsystem sftp internal-sftp"
    )]
    NoSftpSubsystem { main: PathBuf },
    #[error("sshd rejected {main} ({op}): {stderr}")]
    Rejected {
        main: PathBuf,
        op: String,
        stderr: String,
    },
    #[error("sshd -T for user {user} does not show the jail's settings: {mismatches}{hint}")]
    NotEffective {
        user: String,
        mismatches: String,
        hint: String,
    },
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot reload sshd: {why}")]
    Reload { why: String },
    #[error("{path:?} cannot be used in an sshd config: {why}")]
    BadPath { path: PathBuf, why: &'static str },
}

impl SshdError {
    /// The exit code of this failure class (src/exit.rs).
    pub fn code(&self) -> u8 {
        match self {
            SshdError::ChrootPath { .. } => exit::REFUSED,
            SshdError::NotIncluded { .. }
            | SshdError::NoSftpSubsystem { .. }
            | SshdError::Rejected { .. }
            | SshdError::NotEffective { .. } => exit::SSHD_INVALID,
            SshdError::BadPath { .. } => exit::BAD_INPUT,
            SshdError::Io { .. } | SshdError::Reload { .. } => exit::HOST_FAILURE,
        }
    }
}
