//! Where profile files are found: `--profile-dir` directories, then `/etc/jailsmith/profiles`,
//! `/usr/share/jailsmith/profiles`, then the source tree's `jail-profiles/`. First `NAME.toml`
//! wins. Reads profile directories; never writes.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ProfileError;

/// The administrator's own profiles and overrides.
pub const ETC_DIR: &str = "/etc/jailsmith/profiles";
/// Profiles installed with the package.
pub const SHARE_DIR: &str = "/usr/share/jailsmith/profiles";
/// The shipped profiles in the source tree, used when running from a checkout.
pub const SOURCE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/jail-profiles");

/// Something that can produce a profile's text by name: the search path, or a map in tests.
pub trait ProfileSource {
    /// The file and text of profile `name`, or None when no such profile exists.
    fn read(&self, name: &str) -> Result<Option<(PathBuf, String)>, ProfileError>;
    /// Every profile name available, sorted, without duplicates.
    fn available(&self) -> Vec<String>;
    /// What was searched, for error messages.
    fn searched(&self) -> Vec<PathBuf>;
}

/// An ordered list of profile directories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchPath {
    pub dirs: Vec<PathBuf>,
}

/// One profile file seen by `list`, with the file that shadows it when it is not the one used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListedProfile {
    pub name: String,
    pub file: PathBuf,
    /// The profile's description, or the reason it cannot be read.
    pub description: String,
    /// False when the file cannot be read or parsed.
    pub valid: bool,
    /// The earlier file of the same name that is used instead of this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadowed_by: Option<PathBuf>,
}

impl SearchPath {
    /// The standard search path: `extra` (from `--profile-dir`, in order), the two system
    /// directories, and the source tree's `jail-profiles/` when it exists.
    pub fn standard(extra: &[PathBuf]) -> Self {
        let mut dirs: Vec<PathBuf> = extra.to_vec();
        dirs.push(ETC_DIR.into());
        dirs.push(SHARE_DIR.into());
        if Path::new(SOURCE_DIR).is_dir() {
            dirs.push(SOURCE_DIR.into());
        }
        Self { dirs }
    }

    /// The first `NAME.toml` in the search path.
    pub fn find(&self, name: &str) -> Result<Option<PathBuf>, ProfileError> {
        check_name(name)?;
        Ok(self
            .dirs
            .iter()
            .map(|d| d.join(format!("{name}.toml")))
            .find(|p| p.is_file()))
    }

    /// Every `*.toml` in every directory, in search order, later duplicates marked shadowed.
    /// Files whose name is not a valid profile name are skipped.
    pub fn list(&self) -> Vec<ListedProfile> {
        let mut out: Vec<ListedProfile> = Vec::new();
        for dir in &self.dirs {
            for (name, file) in toml_files(dir) {
                let shadowed_by = out
                    .iter()
                    .find(|l| l.name == name && l.shadowed_by.is_none())
                    .map(|l| l.file.clone());
                let (description, valid) = match std::fs::read_to_string(&file)
                    .map_err(|source| ProfileError::Read {
                        file: file.clone(),
                        source,
                    })
                    .and_then(|t| super::schema::parse_profile(&t, &file))
                {
                    Ok(p) => (p.description.lines().next().unwrap_or("").to_string(), true),
                    Err(e) => (format!("unusable: {e}"), false),
                };
                out.push(ListedProfile {
                    name,
                    file,
                    description,
                    valid,
                    shadowed_by,
                });
            }
        }
        out
    }
}

/// `(name, path)` of each `NAME.toml` file in `dir`, sorted by name.
fn toml_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<(String, PathBuf)> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let path = e.path();
            let name = path
                .file_name()?
                .to_str()?
                .strip_suffix(".toml")?
                .to_string();
            (check_name(&name).is_ok() && path.is_file()).then_some((name, path))
        })
        .collect();
    v.sort();
    v
}

/// Profile names are file names: letters, digits, `-`, `_`, `.`, not starting with `.`.
pub fn check_name(name: &str) -> Result<(), ProfileError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ProfileError::BadName(name.to_string()))
    }
}

impl ProfileSource for SearchPath {
    fn read(&self, name: &str) -> Result<Option<(PathBuf, String)>, ProfileError> {
        let Some(file) = self.find(name)? else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(&file).map_err(|source| ProfileError::Read {
            file: file.clone(),
            source,
        })?;
        Ok(Some((file, text)))
    }

    fn available(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .dirs
            .iter()
            .flat_map(|d| toml_files(d).into_iter().map(|(n, _)| n))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    fn searched(&self) -> Vec<PathBuf> {
        self.dirs.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_dir_wins_and_later_are_shadowed() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::write(a.path().join("x.toml"), "description = \"from a\"\n").unwrap();
        std::fs::write(b.path().join("x.toml"), "description = \"from b\"\n").unwrap();
        std::fs::write(b.path().join("y.toml"), "descr = 1\n").unwrap();
        std::fs::write(b.path().join(".hidden.toml"), "").unwrap();
        let sp = SearchPath {
            dirs: vec![a.path().into(), b.path().into()],
        };
        assert_eq!(sp.find("x").unwrap(), Some(a.path().join("x.toml")));
        let l = sp.list();
        assert_eq!(l.len(), 3, "{l:?}");
        assert_eq!(l[0].description, "from a");
        assert_eq!(l[1].shadowed_by, Some(a.path().join("x.toml")));
        assert!(!l[2].valid);
        assert_eq!(sp.available(), vec!["x", "y"]);
    }

    #[test]
    fn standard_order_is_flags_etc_share_source() {
        let sp = SearchPath::standard(&["/a".into(), "/b".into()]);
        let want: Vec<PathBuf> = ["/a", "/b", ETC_DIR, SHARE_DIR, SOURCE_DIR]
            .iter()
            .map(PathBuf::from)
            .collect();
        // The source tree's directory is there when running from a checkout (as tests do).
        assert_eq!(sp.dirs, want);
    }

    #[test]
    fn every_shipped_profile_parses() {
        let sp = SearchPath {
            dirs: vec![SOURCE_DIR.into()],
        };
        let listed = sp.list();
        for name in [
            "minimal",
            "basic-shell",
            "editors",
            "sftp-only",
            "scp",
            "rsync",
            "git",
            "python3",
        ] {
            let l = listed.iter().find(|l| l.name == name).expect(name);
            assert!(l.valid, "{name}: {}", l.description);
        }
    }

    #[test]
    fn names_cannot_escape() {
        let sp = SearchPath { dirs: vec![] };
        assert!(matches!(sp.find("../x"), Err(ProfileError::BadName(_))));
        assert!(matches!(sp.find(".x"), Err(ProfileError::BadName(_))));
    }
}
