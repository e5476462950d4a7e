//! Build planning: a `BuildRequest` (what the jail must hold, already resolved against the
//! host) becomes a `Plan`. Pure: host facts arrive inside the request.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{JailPath, Owner};

/// What a host path is, after the host walker looked at it without following the last hop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostKind {
    /// A regular file, copied with `mode` (setuid/setgid already stripped).
    File { mode: u32 },
    /// A symbolic link, reproduced with the same target text (made relative if absolute).
    Symlink { target: PathBuf },
    /// A directory that must exist as a real directory.
    Dir { mode: u32 },
}

/// One host object to reproduce at the same path inside the jail, with why.
/// The host walker emits every symlink hop of a path as its own entry, so `/lib64/ld.so`
/// on a merged-/usr host gives `lib64 -> usr/lib64` and `usr/lib64/ld.so`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostEntry {
    pub path: JailPath,
    /// The absolute host path it is copied from.
    pub src: PathBuf,
    pub kind: HostKind,
    pub reason: String,
}

/// A directory to create with a given mode (profiles: `tmp` 1777, `var/log` …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraDir {
    pub path: JailPath,
    pub mode: u32,
    pub owner: Owner,
}

/// A file written with given content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentFile {
    pub path: JailPath,
    pub content: String,
    pub mode: u32,
    pub reason: String,
}

/// A device node to create (only from the allowed set; numbers from the host).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub name: String,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
}

/// Everything `plan_build` needs, collected by the CLI layer from options, profiles, the
/// resolver and the host. Every path in it has already been checked to exist on the host.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRequest {
    /// Programs, libraries, interpreters, data files and the symlink hops leading to them.
    pub entries: Vec<HostEntry>,
    pub dirs: Vec<ExtraDir>,
    pub devices: Vec<Device>,
    pub contents: Vec<ContentFile>,
}
