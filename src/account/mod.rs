//! Host accounts of jailed users: names, login.defs, the host passwd/group/shadow entries,
//! useradd/usermod argument vectors, SSH keys, the jail's passwd/group lines and the
//! registry of a jail's users. Writes inside a jail go through `apply::Host` only.

pub mod batch;
pub mod hostdb;
pub mod hostfs;
pub mod jaildb;
pub mod jailside;
pub mod keys;
pub mod logindefs;
pub mod name;
pub mod sessions;
pub mod usage;
pub mod usecase;
pub mod useradd;

use std::path::PathBuf;

use crate::exit;

/// A failure concerning a host account, its keys or its files, naming the path and the op.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{name:?} is not a valid user name: {why}")]
    BadName { name: String, why: &'static str },
    #[error("refusing to jail {name}: {why}")]
    Refused { name: String, why: String },
    #[error("no account {name} on this host; pass --create to create it")]
    Missing { name: String },
    #[error("{path}: not a valid SSH public key on line {line}: {why}")]
    BadKey {
        path: String,
        line: usize,
        why: String,
    },
    #[error("{path}: holds no SSH public key")]
    NoKey { path: String },
    /// A private key where a public key belongs; the `.pub` beside it is suggested.
    #[error(
        "{path} is a private key: give jailsmith the public key{}",
        suggest_pub(path)
    )]
    PrivateKey { path: String },
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("refusing to {op} {path}: {why}")]
    Unsafe {
        op: &'static str,
        path: PathBuf,
        why: String,
    },
    #[error("{program} failed ({status}): {stderr}")]
    Command {
        program: String,
        status: String,
        stderr: String,
    },
    /// A batch-created account that is not what was asked (`batch::verify`).
    #[error("account {name} was not created as asked: {why}")]
    NotAsCreated { name: String, why: String },
    /// Two accounts with one uid after a batch: the uid asked for was given to another.
    #[error("account {name}: its uid {uid} is also the uid of {others}")]
    UidTaken {
        name: String,
        uid: u32,
        others: String,
    },
    #[error("cannot parse {path} line {line}: {why}")]
    Parse {
        path: PathBuf,
        line: usize,
        why: &'static str,
    },
}

impl AccountError {
    /// The exit code of this failure class (src/exit.rs).
    pub fn code(&self) -> u8 {
        match self {
            AccountError::BadName { .. }
            | AccountError::Missing { .. }
            | AccountError::BadKey { .. }
            | AccountError::NoKey { .. }
            | AccountError::PrivateKey { .. }
            | AccountError::UidTaken { .. } => exit::BAD_INPUT,
            AccountError::Refused { .. } | AccountError::Unsafe { .. } => exit::REFUSED,
            AccountError::Io { .. }
            | AccountError::Command { .. }
            | AccountError::Parse { .. }
            | AccountError::NotAsCreated { .. } => exit::HOST_FAILURE,
        }
    }

    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| AccountError::Io { op, path, source }
    }
}

/// `, PATH.pub` (or `, PATH.pub if that is its public half` when no such file exists) for
/// a private key file; nothing for a key that did not come from a file.
fn suggest_pub(path: &str) -> String {
    if path.starts_with("--") {
        return String::new();
    }
    let public = format!("{path}.pub");
    if std::path::Path::new(&public).is_file() {
        format!(": pass --key {public}")
    } else {
        format!(" (usually {public}, made with `ssh-keygen -y -f {path} > {public}`)")
    }
}
