//! What the state records about a jail's services and its users' limits (data only, serde).
//! Kept here, with the state that holds them, so `state` depends on no command module.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::limits::Limits;

/// A service jailed in a jail, as the state records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// The account it runs as.
    pub user: String,
    /// Its unit file on the host.
    pub unit: PathBuf,
    /// In-jail paths it may write (`--read-write`), owned by its user.
    #[serde(default)]
    pub read_write: Vec<String>,
}

/// The limits `jailsmith user` placed on one jailed user's slice, as the state records them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserLimits {
    pub uid: u32,
    pub limits: Limits,
}
