//! The state store, kept outside every jail (default `/var/lib/jailsmith`): per jail, what was
//! asked for and the manifest of what was made. Owns only files under the state directory;
//! it never reads or writes inside a jail.

pub mod manifest;
pub mod records;

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use manifest::{EntryType, Manifest, ManifestEntry, Stored};
pub use records::{ServiceRecord, UserLimits};

use crate::apply::rootfile::{self, Durability, RootFileError};

/// Where the state lives unless `--state-dir` says otherwise.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/jailsmith";

/// What the administrator asked for when the jail was last built.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    #[serde(default)]
    pub bins: Vec<String>,
    #[serde(default)]
    pub files: Vec<PathBuf>,
    #[serde(default)]
    pub profiles: Vec<String>,
    /// Bind mounts (`build --bind`), applied by `jailsmith mount`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binds: Vec<crate::mounts::Bind>,
    /// Run-time libraries (`build --lib`), as given: paths or globs, expanded at each build.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libraries: Vec<String>,
    /// `build --ld-library-path`: directories searched as LD_LIBRARY_PATH would be.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ld_library_path: Vec<String>,
    /// `build --with-libs`: the ELF files copied by `--file` bring their libraries.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub with_libs: bool,
    /// `build --timezone`: the zone etc/localtime names (`Europe/Paris`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// `build --proc`: `jailsmith mount` mounts a private procfs at the jail's /proc
    /// (hidepid=invisible,subset=pid).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub proc: bool,
    /// `build --devpts`: `jailsmith mount` mounts a private devpts instance at dev/pts
    /// (dev/ptmx a link to pts/ptmx).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub devpts: bool,
    /// `build --store`: the files jailsmith copies are hard links to the shared store's
    /// objects (`STATE/store`), copies of them where the jail cannot link.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub store: bool,
    /// `build --log`: the host's syslog socket (resolved, no symlink) that `jailsmith mount`
    /// binds at dev/log, so that sftp-only users' internal-sftp can log their transfers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<std::path::PathBuf>,
}

/// Everything jailsmith remembers about one jail.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailState {
    /// Canonical jail root on the host.
    pub jail: PathBuf,
    pub request: Request,
    pub manifest: Manifest,
    /// Users jailed here (maintained by `jailsmith user`).
    #[serde(default)]
    pub users: Vec<String>,
    /// Cgroup limits on jailed users' slices (`jailsmith user … --memory-max …`), by user
    /// name; `check` compares them with the drop-ins on disk.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub limits: std::collections::BTreeMap<String, records::UserLimits>,
    /// The groups sshd matches for this jail's users (`Match Group`, one per mode), by name:
    /// the gid `jailsmith user` created each with. A group of that name that is not recorded
    /// here (or has another gid) is not jailsmith's and is never used nor removed.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub groups: std::collections::BTreeMap<String, u32>,
    /// Services jailed here (`jailsmith service`), by unit name: their user and the paths
    /// they may write, which `check` treats like homes and `update` keeps.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub services: std::collections::BTreeMap<String, records::ServiceRecord>,
    /// When this state was saved, seconds since the epoch.
    pub updated_unix: u64,
    /// A build is (or was, when it was interrupted) placing objects: the state was saved as
    /// a journal before the first one, with an entry for every path the build may create.
    /// The next build sweeps the temporaries such a run can leave.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_progress: bool,
}

/// Seconds since the epoch now, for `JailState::updated_unix` (0 if the clock is before 1970).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A failure reading or writing the state store, naming the file and the operation.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot {op} state {path}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("state file {path} is corrupt: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("refusing state {path}: {why}")]
    Unsafe { path: PathBuf, why: String },
    /// A command that works on an existing jail was given a path jailsmith has no state for.
    #[error("{}: jailsmith has no state for this jail in {}", jail.display(), state_dir.display())]
    NoState { jail: PathBuf, state_dir: PathBuf },
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

impl JailState {
    /// The state of a jail nothing is recorded for yet (keyed by its canonical path).
    pub fn new(jail: &Path) -> Self {
        JailState {
            jail: canonical_jail(jail),
            ..Default::default()
        }
    }
}

/// The jail path the state is keyed by: canonical when it exists, else absolute and
/// lexically cleaned (no `.`, no trailing `/`).
pub fn canonical_jail(jail: &Path) -> PathBuf {
    if let Ok(p) = fs::canonicalize(jail) {
        return p;
    }
    let abs = std::path::absolute(jail).unwrap_or_else(|_| jail.to_path_buf());
    abs.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

/// `<state_dir>/jails/<escaped>-<hash>.json`: `/` → `_`, plus 12 hex digits of the path's
/// sha256 so `/a_b` and `/a/b` never share a file.
pub fn state_file(state_dir: &Path, jail: &Path) -> PathBuf {
    let jail = canonical_jail(jail);
    let bytes = jail.as_os_str().as_encoded_bytes();
    let hash = Sha256::digest(bytes);
    let short: String = hash[..6].iter().map(|b| format!("{b:02x}")).collect();
    let escaped: String = jail
        .to_string_lossy()
        .trim_start_matches('/')
        .chars()
        .map(|c| if c == '/' { '_' } else { c })
        .take(100)
        .collect();
    state_dir
        .join("jails")
        .join(format!("{escaped}-{short}.json"))
}

/// Loads the state of `jail`; `Ok(None)` when jailsmith has none for it.
pub fn load(state_dir: &Path, jail: &Path) -> Result<Option<JailState>, StateError> {
    let path = state_file(state_dir, jail);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path, "read")(e)),
    };
    let state: JailState = serde_json::from_str(&text).map_err(|source| StateError::Parse {
        path: path.clone(),
        source,
    })?;
    if state.jail != canonical_jail(jail) {
        return Err(StateError::Unsafe {
            path,
            why: format!(
                "it records jail {} instead of {}",
                state.jail.display(),
                jail.display()
            ),
        });
    }
    Ok(Some(state))
}

/// Loads the state of a jail that must have one: a jail without state is bad input
/// (`StateError::NoState`, exit 2), named with the state directory searched; a state file
/// that cannot be read is a host failure, as in every other command (`crate::exit`).
pub fn load_existing(state_dir: &Path, jail: &Path) -> anyhow::Result<JailState> {
    let st = load(state_dir, jail)?.ok_or_else(|| StateError::NoState {
        jail: jail.to_path_buf(),
        state_dir: state_dir.to_path_buf(),
    })?;
    Ok(st)
}

/// Every jail state under `state_dir` (none when there is no state yet). A state file that
/// cannot be read or parsed is skipped: `check` of its jail reports it.
pub fn all(state_dir: &Path) -> Result<Vec<JailState>, StateError> {
    let dir = state_dir.join("jails");
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(&dir, "list")(e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let path = e.map_err(io_err(&dir, "list"))?.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        if let Some(st) = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<JailState>(&b).ok())
        {
            out.push(st);
        }
    }
    Ok(out)
}

/// The store objects every state under `state_dir` names (what a store's garbage
/// collection keeps even when no jail links it).
pub fn store_objects_named(state_dir: &Path) -> std::collections::BTreeSet<String> {
    all(state_dir)
        .unwrap_or_default()
        .iter()
        .flat_map(|st| st.manifest.entries.values())
        .filter_map(|e| e.store_object().map(str::to_string))
        .collect()
}

/// Saves `state` with the one safe writer (temporary file, rename; not fsynced: see
/// `Durability::Lazy`), mode 0600, creating the state directories root 0700. Returns the
/// file written.
pub fn save(state_dir: &Path, state: &JailState) -> Result<PathBuf, StateError> {
    let path = state_file(state_dir, &state.jail);
    save_json(state_dir, &path, &to_json(state))?;
    Ok(path)
}

/// The bytes `save` writes for `state`.
pub fn to_json(state: &JailState) -> Vec<u8> {
    serde_json::to_vec_pretty(state).expect("a JailState always serialises")
}

/// Writes a state's JSON (`to_json`) to `path`, a file directly under `state_dir/jails`,
/// like `save`: root 0700 state directories, mode 0600, the one safe writer.
pub fn save_json(state_dir: &Path, path: &Path, json: &[u8]) -> Result<(), StateError> {
    let dir = state_dir.join("jails");
    if path.parent() != Some(dir.as_path()) {
        return Err(StateError::Unsafe {
            path: path.to_path_buf(),
            why: format!("a state file belongs directly in {}", dir.display()),
        });
    }
    ensure_private_dir(state_dir)?;
    ensure_private_dir(&dir)?;
    rootfile::write(path, json, 0o600, Durability::Lazy).map_err(state_err)?;
    Ok(())
}

fn state_err(e: RootFileError) -> StateError {
    match e {
        RootFileError::Unsafe { path, why, .. } => StateError::Unsafe { path, why },
        RootFileError::Io { op, path, source } => StateError::Io { path, op, source },
    }
}

/// Forgets a jail (for `destroy`); `Ok(false)` when there was nothing to forget.
pub fn remove(state_dir: &Path, jail: &Path) -> Result<bool, StateError> {
    rootfile::remove(&state_file(state_dir, jail)).map_err(state_err)
}

/// Creates `dir` (and missing parents) root 0700; an existing one must be a root-owned
/// directory that group and others cannot write.
fn ensure_private_dir(dir: &Path) -> Result<(), StateError> {
    rootfile::ensure_dir(dir, 0o700).map_err(state_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn sample(jail: &Path) -> JailState {
        JailState {
            jail: canonical_jail(jail),
            request: Request {
                bins: vec!["bash".into()],
                files: vec![],
                profiles: vec!["basic-shell".into()],
                binds: vec![],
                ..Default::default()
            },
            manifest: Manifest::default(),
            users: vec![],
            limits: Default::default(),
            groups: Default::default(),
            services: Default::default(),
            updated_unix: 1_700_000_000,
            in_progress: false,
        }
    }

    #[test]
    fn save_then_load_round_trips_with_private_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let state_dir = tmp.path().join("state");
        let jail = tmp.path().join("srv/jail");
        assert!(load(&state_dir, &jail).unwrap().is_none());
        let st = sample(&jail);
        let file = save(&state_dir, &st).unwrap();
        assert_eq!(fs::metadata(&file).unwrap().mode() & 0o7777, 0o600);
        assert_eq!(fs::metadata(&state_dir).unwrap().mode() & 0o7777, 0o700);
        assert_eq!(
            fs::metadata(state_dir.join("jails")).unwrap().mode() & 0o7777,
            0o700
        );
        assert_eq!(load(&state_dir, &jail).unwrap(), Some(st.clone()));
        // saving again replaces the file, leaves no temporary behind
        save(&state_dir, &st).unwrap();
        assert_eq!(fs::read_dir(state_dir.join("jails")).unwrap().count(), 1);
        assert!(remove(&state_dir, &jail).unwrap());
        assert!(!remove(&state_dir, &jail).unwrap());
    }

    #[test]
    fn similar_paths_get_distinct_files() {
        let d = Path::new("/var/lib/jailsmith");
        let a = state_file(d, Path::new("/nonexistent/a_b"));
        let b = state_file(d, Path::new("/nonexistent/a/b"));
        assert_ne!(a, b);
        assert!(a.starts_with("/var/lib/jailsmith/jails"));
        assert_eq!(
            state_file(d, Path::new("/nonexistent/./x/")),
            state_file(d, Path::new("/nonexistent/x"))
        );
    }

    #[test]
    fn group_writable_state_dir_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let state_dir = tmp.path().join("state");
        fs::create_dir(&state_dir).unwrap();
        fs::set_permissions(&state_dir, fs::Permissions::from_mode(0o777)).unwrap();
        let err = save(&state_dir, &sample(&tmp.path().join("j"))).unwrap_err();
        assert!(matches!(err, StateError::Unsafe { .. }), "{err}");
    }
}
