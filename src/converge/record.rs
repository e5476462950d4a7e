//! The "managed by apply" record: which jails, users and services `jailsmith apply` put in
//! place, kept in `<state-dir>/apply.json`, so `--prune` removes only what apply created.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
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

/// Writes the record atomically (0600, temporary file then rename).
pub fn save(state_dir: &Path, rec: &Record) -> Result<(), RecordError> {
    let io = |op, path: &Path| {
        let path = path.to_path_buf();
        move |source| RecordError::Io { op, path, source }
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_dir)
        .map_err(io("create directory", state_dir))?;
    let p = path(state_dir);
    let tmp = state_dir.join(format!(".apply.json.tmp-{}", std::process::id()));
    let json = serde_json::to_vec_pretty(rec).expect("a record always serialises");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .map_err(io("create", &tmp))?;
    let written = f
        .write_all(&json)
        .and_then(|()| f.write_all(b"\n"))
        .map_err(io("write", &tmp))
        .and_then(|()| fs::rename(&tmp, &p).map_err(io("rename into place", &p)));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}
