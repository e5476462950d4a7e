//! Profiles → what a build adds: the host entries (symlink hops, ELF closures) of the
//! profiles' programs, libraries and files, their directories, devices and written files, the
//! profile names to record in the jail's request, and their bind mounts. Reads the host;
//! writes nothing. Shared by every command that builds (build, update, service, apply),
//! with the `--profile`/`--profile-dir` option group they flatten in.

use std::path::{Path, PathBuf};

use crate::exit::Coded;
use crate::hostinfo::gather::{Gatherer, Wanted, host_devices};
use crate::hostinfo::loader_config;
use crate::mounts::Bind;
use crate::plan::build::BuildRequest;

use super::{ProfileError, ProfileSet, RealHost, SearchPath, load_profiles};

/// Where profiles are searched, shared by every command that reads them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DirArgs {
    /// Search DIR for NAME.toml before /etc/jailsmith/profiles, /usr/share/jailsmith/profiles
    /// and the profiles built into jailsmith (repeatable; first match wins). As root, profile
    /// files must be root-owned and writable by root alone.
    #[arg(long = "profile-dir", value_name = "DIR")]
    pub profile_dirs: Vec<PathBuf>,
}

impl DirArgs {
    pub fn search_path(&self) -> SearchPath {
        SearchPath::standard(&self.profile_dirs)
    }
}

/// `--profile NAME` and `--profile-dir DIR`, for `build`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProfileArgs {
    /// Add what profile NAME describes (repeatable; see 'jailsmith profiles list').
    #[arg(long = "profile", value_name = "NAME")]
    pub profiles: Vec<String>,
    #[command(flatten)]
    pub dirs: DirArgs,
}

impl ProfileArgs {
    /// Loads the named profiles against this host; an empty set when none is named.
    pub fn load(&self) -> anyhow::Result<ProfileSet> {
        crate::profile::request::load(&self.profiles, &self.dirs.profile_dirs)
    }
}

/// What profiles add to a build.
#[derive(Clone, Debug, Default)]
pub struct ProfileExtra {
    pub extra: BuildRequest,
    /// The profiles' names, includes expanded, to record in the jail's request.
    pub names: Vec<String>,
    pub binds: Vec<Bind>,
}

pub fn coded(e: ProfileError) -> anyhow::Error {
    anyhow::Error::new(Coded::new(e.exit_code(), e.to_string()))
}

/// Loads the named profiles (searched in `dirs` first, then the standard places).
pub fn load(names: &[String], dirs: &[PathBuf]) -> anyhow::Result<ProfileSet> {
    if names.is_empty() {
        return Ok(ProfileSet::default());
    }
    load_profiles(names, &SearchPath::standard(dirs), &RealHost).map_err(coded)
}

/// What the named profiles add to a build. A missing required entry or a refused program
/// fails here, before anything is written; warnings go to stderr.
pub fn to_request(names: &[String], dirs: &[PathBuf]) -> anyhow::Result<ProfileExtra> {
    if names.is_empty() {
        return Ok(ProfileExtra::default());
    }
    let set = load(names, dirs)?;
    for w in &set.warnings {
        eprintln!("jailsmith: warning: {w}");
    }
    let wanted = Wanted {
        bins: set
            .programs
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        libraries: set.libraries.clone(),
        files: set.files.clone(),
    };
    let cfg = loader_config(&[]);
    let (mut entries, warnings) = Gatherer::new(&cfg)
        .gather(&wanted)
        .map_err(|e| anyhow::Error::new(Coded::new(e.exit_code(), e.to_string())))?;
    for w in &warnings {
        eprintln!("jailsmith: warning: {w}");
    }
    for e in &mut entries {
        let named = [
            ("--bin ", "program"),
            ("--file ", "file"),
            ("library ", "library"),
        ]
        .into_iter()
        .find_map(|(prefix, what)| Some((e.reason.strip_prefix(prefix)?, what)));
        if let Some((path, what)) = named {
            let profile = set.origins.get(Path::new(path)).map_or("?", String::as_str);
            e.reason = format!("{what} of profile {profile}");
        }
    }
    for b in &set.binds {
        crate::mounts::apply::check_source(b)
            .map_err(|e| anyhow::Error::new(Coded::new(crate::exit::REFUSED, e.to_string())))?;
    }
    let devices: Vec<&str> = set.devices.iter().map(String::as_str).collect();
    Ok(ProfileExtra {
        extra: BuildRequest {
            entries,
            dirs: set.dirs,
            devices: host_devices(&devices),
            contents: set.contents,
        },
        names: set.names,
        binds: set.binds,
    })
}
