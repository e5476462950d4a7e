//! Jail profiles: the TOML schema (`schema`), where profile files are found (`search`), how
//! host lookups are made (`host`), and how a list of names becomes a `ProfileSet` (`expand`).
//! Writes nothing; every host fact is read through the `HostFs` trait.

pub mod expand;
pub mod host;
pub mod policy;
pub mod request;
pub mod schema;
pub mod search;

use std::path::PathBuf;

pub use expand::{Expansion, ProfileSet, expand_profiles, load_profiles};
pub use host::{HostFs, Node, RealHost};
pub use schema::{Alternative, DeviceName, DirSpec, EntryKind, Profile, WriteSpec};
pub use search::{ListedProfile, ProfileSource, SearchPath};

/// The fixed PATH in which program names are looked up, first match wins. Never the
/// caller's environment: a user's pyenv or venv shim must not end up in a jail.
pub const SECURE_PATH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Every failure of loading, parsing, merging or resolving profiles. Each is detected
/// before anything is written.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file is not valid TOML.
    #[error("{file}:{line}:{column}: TOML syntax error: {message}")]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// Valid TOML, but not a valid profile: an unknown field, a wrong type, a device outside
    /// the allowed set, a bad mode or in-jail path.
    #[error("{file}:{line}:{column}: invalid profile: {message}")]
    Schema {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// A profile file could not be read.
    #[error("cannot read profile {file}: {source}")]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// No search directory holds `NAME.toml` and no built-in profile has that name; the
    /// closest available name is suggested.
    #[error(
        "unknown profile `{name}`{}{}; available profiles: {}; searched: {}",
        included_by.as_ref().map(|p| format!(" (included by `{p}`)")).unwrap_or_default(),
        crate::suggest::hint(name, available.iter().map(String::as_str)),
        if available.is_empty() { "none".to_string() } else { available.join(", ") },
        searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    Unknown {
        name: String,
        included_by: Option<String>,
        available: Vec<String>,
        searched: Vec<PathBuf>,
    },
    /// A profile name that cannot be a file name in a search directory.
    #[error(
        "invalid profile name `{0}`: use letters, digits, '-', '_' and '.', not starting with '.'"
    )]
    BadName(String),
    /// Run as root, a profile file (or its directory) someone other than root could change:
    /// whoever can write a profile decides what goes into a jail.
    #[error(
        "refusing profile {file}: {why}; a profile must be root-owned and writable by root alone, like everything root reads to build a jail"
    )]
    Unsafe { file: PathBuf, why: String },
    /// Profiles include each other in a loop.
    #[error("include cycle: {}", .0.join(" → "))]
    Cycle(Vec<String>),
    /// A pattern that cannot be used: a relative path, a bad glob.
    #[error("{file}: {field} entry `{entry}`: {why}")]
    BadEntry {
        file: PathBuf,
        field: &'static str,
        entry: String,
        why: String,
    },
    /// A path no profile may copy into a jail (host secrets, account files, kernel
    /// filesystems), reached directly, through a glob or directory, or as a symlink target.
    #[error("profile `{profile}` ({field}): refusing to copy {path}{}: {why}",
        target.as_ref().map(|t| format!(" (a link to {})", t.display())).unwrap_or_default())]
    Refused {
        profile: String,
        field: &'static str,
        path: PathBuf,
        target: Option<PathBuf>,
        why: &'static str,
    },
    /// Required entries that do not exist on this host.
    #[error("required entries missing on this host:\n  {}", .0.join("\n  "))]
    Missing(Vec<String>),
}

impl ProfileError {
    /// The exit code for this failure class: refusals by a safety rule, else bad input.
    pub fn exit_code(&self) -> u8 {
        match self {
            ProfileError::Refused { .. } | ProfileError::Unsafe { .. } => crate::exit::REFUSED,
            _ => crate::exit::BAD_INPUT,
        }
    }
}
