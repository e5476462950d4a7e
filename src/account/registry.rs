//! The registry of a jail's users, kept in the state directory (`STATE/jail-users/ID.json`,
//! ID derived from the jail path) so `jailsmith users` can list them. Root-owned, 0644.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{AccountError, hostfs};

/// One jailed user as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub shell: String,
    pub sftp_only: bool,
    pub authorized_keys: PathBuf,
    pub dropin: PathBuf,
}

/// The users of one jail.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailUsers {
    pub jail: PathBuf,
    pub users: Vec<UserRecord>,
}

impl JailUsers {
    /// Adds or replaces the record of `rec.name`; the list stays sorted by name.
    pub fn upsert(&mut self, rec: UserRecord) {
        self.users.retain(|u| u.name != rec.name);
        self.users.push(rec);
        self.users.sort_by(|a, b| a.name.cmp(&b.name));
    }

    pub fn remove(&mut self, name: &str) -> bool {
        let n = self.users.len();
        self.users.retain(|u| u.name != name);
        n != self.users.len()
    }

    pub fn get(&self, name: &str) -> Option<&UserRecord> {
        self.users.iter().find(|u| u.name == name)
    }
}

/// The registry file of `jail` under `state_dir`.
pub fn path(state_dir: &Path, jail: &Path) -> PathBuf {
    let digest = Sha256::digest(jail.as_os_str().as_encoded_bytes());
    let id: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    state_dir.join("jail-users").join(format!("{id}.json"))
}

/// Loads the registry (empty when there is none yet).
pub fn load(state_dir: &Path, jail: &Path) -> Result<JailUsers, AccountError> {
    let p = path(state_dir, jail);
    match hostfs::read_optional(&p)? {
        None => Ok(JailUsers {
            jail: jail.to_path_buf(),
            users: Vec::new(),
        }),
        Some(text) => serde_json::from_str(&text).map_err(|_| AccountError::Parse {
            path: p,
            line: 0,
            why: "not a jailsmith user registry (invalid JSON)",
        }),
    }
}

/// Saves the registry, creating the state directories root-owned 0755 when missing.
pub fn save(state_dir: &Path, reg: &JailUsers) -> Result<(), AccountError> {
    let p = path(state_dir, &reg.jail);
    if let Some(parent) = state_dir.parent() {
        if !parent.as_os_str().is_empty() && !parent.exists() {
            std::fs::create_dir_all(parent).map_err(AccountError::io("create", parent))?;
        }
    }
    hostfs::ensure_root_dir(state_dir, 0o755)?;
    hostfs::ensure_root_dir(p.parent().expect("registry file has a parent"), 0o755)?;
    let mut text = serde_json::to_string_pretty(reg).expect("registry serialises");
    text.push('\n');
    hostfs::write_root_file(&p, &text, 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_and_remove() {
        let mut r = JailUsers::default();
        let rec = |n: &str| UserRecord {
            name: n.into(),
            uid: 1,
            gid: 1,
            shell: "/bin/bash".into(),
            sftp_only: false,
            authorized_keys: "/k".into(),
            dropin: "/d".into(),
        };
        r.upsert(rec("b"));
        r.upsert(rec("a"));
        r.upsert(rec("b"));
        assert_eq!(r.users.len(), 2);
        assert_eq!(r.users[0].name, "a");
        assert!(r.remove("a"));
        assert!(!r.remove("a"));
        assert_ne!(path(Path::new("/s"), Path::new("/j1")), path(Path::new("/s"), Path::new("/j2")));
    }
}
