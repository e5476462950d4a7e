//! `build --timezone ZONE`: the zone's file under /usr/share/zoneinfo and the etc/localtime
//! link that names it, as host entries. Reads the host; a zone name never leaves the
//! zoneinfo directory.

use std::path::{Component, Path, PathBuf};

use crate::plan::JailPath;
use crate::plan::build::{HostEntry, HostKind};

/// Where zone files live on every target distribution.
pub const ZONEINFO: &str = "/usr/share/zoneinfo";

#[derive(Debug, thiserror::Error)]
pub enum ZoneError {
    #[error("--timezone {0:?}: not a zone name (like Europe/Paris, under {ZONEINFO})")]
    BadName(String),
    #[error("--timezone {zone}: {path} does not exist on this host (is tzdata installed?)")]
    Missing { zone: String, path: PathBuf },
}

impl ZoneError {
    pub fn exit_code(&self) -> u8 {
        crate::exit::BAD_INPUT
    }
}

/// A zone chosen for a jail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    /// The host's zone file (`/usr/share/zoneinfo/Europe/Paris`).
    pub file: PathBuf,
}

/// Checks a zone name and finds its file.
pub fn zone(name: &str) -> Result<Zone, ZoneError> {
    let bad = || ZoneError::BadName(name.to_string());
    let p = Path::new(name);
    let normal = p.components().all(|c| matches!(c, Component::Normal(_)));
    let chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c));
    if name.is_empty() || !normal || !chars {
        return Err(bad());
    }
    let file = Path::new(ZONEINFO).join(p);
    if !std::fs::metadata(&file).is_ok_and(|m| m.is_file()) {
        return Err(ZoneError::Missing {
            zone: name.to_string(),
            path: file,
        });
    }
    Ok(Zone {
        name: name.to_string(),
        file,
    })
}

impl Zone {
    /// etc/localtime as a relative link to the zone's file in the jail.
    pub fn localtime(&self) -> HostEntry {
        HostEntry {
            path: JailPath::new("etc/localtime").expect("static path"),
            src: self.file.clone(),
            kind: HostKind::Symlink {
                target: Path::new("../usr/share/zoneinfo").join(&self.name),
            },
            reason: format!("--timezone {}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_zoneinfo() {
        for bad in [
            "",
            "../etc/shadow",
            "/etc/shadow",
            "Europe/../../x",
            "a b",
            "Europe/./Paris",
        ] {
            assert!(matches!(zone(bad), Err(ZoneError::BadName(_))), "{bad}");
        }
    }
}
