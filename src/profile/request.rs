//! Profiles → what a build adds: the host entries (symlink hops, ELF closures) of the
//! profiles' programs, libraries and files, their directories, devices and written files, the
//! profile names to record in the jail's request, and their bind mounts. Reads the host;
//! writes nothing. Shared by every command that builds (build, update, service, apply),
//! with the `--profile`/`--profile-dir` option group they flatten in.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

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
    anyhow::Error::new(e)
}

/// Loads the named profiles (searched in `dirs` first, then the standard places).
pub fn load(names: &[String], dirs: &[PathBuf]) -> anyhow::Result<ProfileSet> {
    if names.is_empty() {
        return Ok(ProfileSet::default());
    }
    load_profiles(names, &SearchPath::standard(dirs), &RealHost).map_err(coded)
}

/// Whether every absent optional entry is listed (`build --verbose`), not only counted.
static LIST_ABSENT: AtomicBool = AtomicBool::new(false);

/// Lists every optional entry absent on this host in later warnings (`--verbose`).
pub fn list_absent_entries(on: bool) {
    LIST_ABSENT.store(on, Ordering::Relaxed);
}

/// The warnings to print: optional entries absent on this host (the paths of other
/// distributions, a profile names them all) in one line unless `list` asks for each.
fn summarise_absent(warnings: &[String], list: bool) -> Vec<String> {
    const ABSENT: &str = "optional entry skipped: ";
    let (absent, other): (Vec<&String>, Vec<&String>) =
        warnings.iter().partition(|w| w.starts_with(ABSENT));
    let mut out: Vec<String> = other.into_iter().cloned().collect();
    match absent.len() {
        0 => {}
        _ if list => out.extend(absent.into_iter().cloned()),
        1 => out.push(absent[0].clone()),
        n => out.push(format!(
            "{n} optional profile entries are absent on this host and were skipped (most \
             name other distributions' paths); --verbose lists them"
        )),
    }
    out
}

/// What the named profiles add to a build. A missing required entry or a refused program
/// fails here, before anything is written; warnings go to stderr.
pub fn to_request(names: &[String], dirs: &[PathBuf]) -> anyhow::Result<ProfileExtra> {
    if names.is_empty() {
        return Ok(ProfileExtra::default());
    }
    let set = load(names, dirs)?;
    for w in summarise_absent(&set.warnings, LIST_ABSENT.load(Ordering::Relaxed)) {
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
    let gathered = Gatherer::new(&cfg)
        .optional_libraries(&set.optional_libraries)
        .gather_all(&wanted)
        .map_err(anyhow::Error::new)?;
    let (mut entries, warnings) = (gathered.entries, gathered.warnings);
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
        crate::apply::binds::check_source(b)?;
    }
    let devices: Vec<&str> = set.devices.iter().map(String::as_str).collect();
    Ok(ProfileExtra {
        extra: BuildRequest {
            entries,
            dirs: set.dirs,
            devices: host_devices(&devices),
            contents: set.contents,
            binaries: gathered.ld_cache.into_iter().collect(),
        },
        names: set.names,
        binds: set.binds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_optional_entries_are_one_line_unless_listed() {
        let w: Vec<String> = [
            "optional entry skipped: a",
            "file x replaced by profile `p`",
            "optional entry skipped: b",
        ]
        .map(String::from)
        .to_vec();
        let short = summarise_absent(&w, false);
        assert_eq!(short.len(), 2);
        assert!(short[1].starts_with("2 optional profile entries are absent"));
        assert_eq!(summarise_absent(&w, true).len(), 3);
    }
}
