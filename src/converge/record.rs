//! The "managed by apply" record: which jails, users and services `jailsmith apply` put in
//! place, kept in `<state-dir>/apply.json`, so `--prune` removes only what apply created.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Everything apply manages on this host.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    #[serde(default)]
    pub jails: Vec<PathBuf>,
    #[serde(default)]
    pub users: Vec<ManagedUser>,
    #[serde(default)]
    pub services: Vec<ManagedService>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedUser {
    pub name: String,
    pub jail: PathBuf,
    /// The spec asked for the host account to go when the user is pruned.
    #[serde(default)]
    pub delete_account: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagedService {
    pub name: String,
    pub jail: PathBuf,
    pub unit_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a record jailsmith apply wrote: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("apply.json")
}

/// The record, empty when apply never ran with this state directory.
pub fn load(state_dir: &Path) -> Result<Record, RecordError> {
    let p = path(state_dir);
    match fs::read_to_string(&p) {
        Ok(t) => serde_json::from_str(&t).map_err(|source| RecordError::Parse { path: p, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Record::default()),
        Err(source) => Err(RecordError::Io {
            op: "read",
            path: p,
            source,
        }),
    }
}

/// Writes the record with the one safe writer (root 0600; the state directory root 0700).
pub fn save(state_dir: &Path, rec: &Record) -> Result<(), RecordError> {
    let p = path(state_dir);
    let io = |e: crate::apply::rootfile::RootFileError| RecordError::Io {
        op: "write",
        path: p.clone(),
        source: std::io::Error::other(e.to_string()),
    };
    crate::apply::rootfile::ensure_dir(state_dir, 0o700).map_err(io)?;
    let mut json = serde_json::to_vec_pretty(rec).expect("a record always serialises");
    json.push(b'\n');
    crate::apply::rootfile::write(&p, &json, 0o600, crate::apply::rootfile::Durability::Fsync)
        .map_err(io)?;
    Ok(())
}
