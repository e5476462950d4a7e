//! The manifest: what jailsmith put at each path of a jail, as recorded after an apply.
//! Data only (serde); it never reads the jail or the host.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::plan::prune::Recorded;
use crate::plan::{JailPath, Placed};

/// The kind of object a manifest entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryType {
    /// A host file copied into the jail (`CopyFile`).
    File,
    /// A file written from content held in the plan (`WriteFile`).
    Content,
    Symlink,
    Dir,
    /// A character device node.
    Device,
}

/// One object jailsmith made: enough to tell, without reading it, whether it is still as made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub kind: EntryType,
    /// Host source of a copied file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<PathBuf>,
    /// sha256 (hex) of a file's content, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Permission bits of the jail object.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Size of the jail object (st_size; 0 for a directory).
    pub size: u64,
    /// mtime of the jail object, nanoseconds since the epoch (0 for a directory).
    pub mtime_ns: i128,
    /// Size of the host source when it was copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_size: Option<u64>,
    /// mtime of the host source when it was copied, nanoseconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_mtime_ns: Option<i128>,
    /// Target text of a symlink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<PathBuf>,
    /// Device numbers of a character device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<(u64, u64)>,
    /// The object was already there when jailsmith first applied this path (found, not
    /// created): `destroy` keeps it. False in states written before this was recorded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub found: bool,
    /// A copied file of a jail built with `--store`: a hard link to the named object of the
    /// shared store, or a copy where the jail cannot link to it (another filesystem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<Stored>,
}

/// How a copied file of a `--store` jail holds its content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stored {
    /// A hard link to this object of the store (`STATE/store/sha256/ab/NAME`).
    Linked(String),
    /// A private copy: the jail is on another filesystem than the store (EXDEV).
    Copied,
}

impl EntryType {
    /// The kind of object on disk a plan's removal expects (copied and written files are
    /// both regular files).
    pub fn placed(self) -> Placed {
        match self {
            EntryType::File | EntryType::Content => Placed::File,
            EntryType::Symlink => Placed::Symlink,
            EntryType::Dir => Placed::Dir,
            EntryType::Device => Placed::Device,
        }
    }
}

impl ManifestEntry {
    /// The store object this entry is a hard link to, if it is one.
    pub fn store_object(&self) -> Option<&str> {
        match &self.store {
            Some(Stored::Linked(name)) => Some(name),
            _ => None,
        }
    }
}

/// Every object of a jail jailsmith made, keyed by absolute in-jail path (`/usr/bin/bash`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub entries: BTreeMap<String, ManifestEntry>,
    /// Objects that were in the directory when `build --adopt` took it over (in-jail
    /// paths, non-UTF-8 bytes escaped as `\xNN`): foreign, listed and never removed.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub foreign: std::collections::BTreeSet<String>,
}

impl Manifest {
    pub fn get(&self, path: &JailPath) -> Option<&ManifestEntry> {
        self.entries.get(&path.to_string())
    }

    pub fn insert(&mut self, path: &JailPath, entry: ManifestEntry) {
        self.entries.insert(path.to_string(), entry);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry as the removal planner reads it (`plan::prune::removals`). A key that is
    /// no in-jail path (a state edited by hand) names nothing jailsmith could remove.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.entries
            .iter()
            .filter_map(|(p, e)| {
                Some(Recorded {
                    path: JailPath::new(p).ok()?,
                    kind: e.kind.placed(),
                    found: e.found,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json_with_nanosecond_mtimes() {
        let mut m = Manifest::default();
        let p = JailPath::new("/usr/bin/bash").unwrap();
        m.insert(
            &p,
            ManifestEntry {
                kind: EntryType::File,
                src: Some("/usr/bin/bash".into()),
                sha256: Some("ab".repeat(32)),
                mode: 0o755,
                uid: 0,
                gid: 0,
                size: 1234,
                mtime_ns: 1_700_000_000_123_456_789,
                src_size: Some(1234),
                src_mtime_ns: Some(-5),
                target: None,
                device: None,
                found: false,
                store: None,
            },
        );
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.contains("\"/usr/bin/bash\""));
        let back: Manifest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.get(&p).unwrap().mtime_ns, 1_700_000_000_123_456_789);
    }

    #[test]
    fn states_written_before_found_and_foreign_still_load() {
        let old = r#"{"entries":{"/etc":{"kind":"dir","mode":493,"uid":0,"gid":0,"size":0,"mtime_ns":0}}}"#;
        let m: Manifest = serde_json::from_str(old).unwrap();
        assert!(!m.get(&JailPath::new("/etc").unwrap()).unwrap().found);
        assert!(m.foreign.is_empty());
        // and the new fields are only written when set
        assert_eq!(serde_json::to_string(&m).unwrap(), old);
    }
}
