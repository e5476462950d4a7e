//! Where profiles are found: `--profile-dir` directories, then `/etc/jailsmith/profiles`,
//! `/usr/share/jailsmith/profiles`, then the shipped profiles built into the binary (so a
//! binary copied alone still knows them). First `NAME.toml` wins. Run as root, a profile file
//! that someone else could have written is refused. Reads profile directories; never writes.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ProfileError;

/// The administrator's own profiles and overrides.
pub const ETC_DIR: &str = "/etc/jailsmith/profiles";
/// Profiles installed with the package.
pub const SHARE_DIR: &str = "/usr/share/jailsmith/profiles";
/// The shipped profiles (`jail-profiles/*.toml` at build time): `(name, text)`, by name.
pub const BUILT_IN: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/shipped_profiles.rs"));

/// Where `profiles list` says a built-in profile comes from.
pub const BUILT_IN_SOURCE: &str = "built in";

/// The name a built-in profile goes by in messages (`<built in>/NAME.toml:LINE:COL: …`).
pub fn built_in_file(name: &str) -> PathBuf {
    PathBuf::from(format!("<{BUILT_IN_SOURCE}>/{name}.toml"))
}

/// The text of built-in profile `name`, if there is one.
fn built_in(name: &str) -> Option<&'static str> {
    BUILT_IN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Why root must not trust `meta` (of a profile file or its directory), if it must not:
/// owned by someone else, writable by others, or by a group other than root's.
fn untrusted(meta: &std::fs::Metadata) -> Option<String> {
    if meta.uid() != 0 {
        Some(format!("it is owned by uid {}", meta.uid()))
    } else if meta.mode() & 0o002 != 0 {
        Some("it is writable by others".into())
    } else if meta.mode() & 0o020 != 0 && meta.gid() != 0 {
        Some(format!("it is writable by group {}", meta.gid()))
    } else {
        None
    }
}

/// As root, refuses a profile file that is not a root-owned regular file (a symlink is
/// judged by its target and the target's directory) or whose directory others can write.
/// Other users only read what they could have written themselves: nothing to check.
fn check_trusted(file: &Path) -> Result<(), ProfileError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let real = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let dir = real.parent().unwrap_or(Path::new("/"));
    for (what, path) in [("", real.as_path()), ("its directory ", dir)] {
        let meta = std::fs::metadata(path).map_err(|source| ProfileError::Read {
            file: file.to_path_buf(),
            source,
        })?;
        if let Some(why) = untrusted(&meta) {
            return Err(ProfileError::Unsafe {
                file: file.to_path_buf(),
                why: format!("{what}{} {why}", path.display()),
            });
        }
    }
    Ok(())
}

/// Something that can produce a profile's text by name: the search path, or a map in tests.
pub trait ProfileSource {
    /// The file and text of profile `name`, or None when no such profile exists.
    fn read(&self, name: &str) -> Result<Option<(PathBuf, String)>, ProfileError>;
    /// Every profile name available, sorted, without duplicates.
    fn available(&self) -> Vec<String>;
    /// What was searched, for error messages.
    fn searched(&self) -> Vec<PathBuf>;
}

/// An ordered list of profile directories, then (unless `built_in` is false) the profiles
/// built into the binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchPath {
    pub dirs: Vec<PathBuf>,
    pub built_in: bool,
}

/// One profile seen by `list`, with the file that shadows it when it is not the one used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListedProfile {
    pub name: String,
    /// Where it comes from: its file's path, or "built in".
    pub source: String,
    /// Its file; absent for a built-in profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
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
    /// directories, then the built-in profiles.
    pub fn standard(extra: &[PathBuf]) -> Self {
        let mut dirs: Vec<PathBuf> = extra.to_vec();
        dirs.push(ETC_DIR.into());
        dirs.push(SHARE_DIR.into());
        Self {
            dirs,
            built_in: true,
        }
    }

    /// The built-in profiles searched, in name order (none when `built_in` is false).
    fn built_ins(&self) -> &'static [(&'static str, &'static str)] {
        if self.built_in { BUILT_IN } else { &[] }
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

    /// Every `*.toml` in every directory, then every built-in profile, in search order, later
    /// duplicates marked shadowed. Files whose name is not a valid profile name are skipped.
    pub fn list(&self) -> Vec<ListedProfile> {
        let mut out: Vec<ListedProfile> = Vec::new();
        for dir in &self.dirs {
            for (name, file) in toml_files(dir) {
                let read = check_trusted(&file).and_then(|()| {
                    std::fs::read_to_string(&file).map_err(|source| ProfileError::Read {
                        file: file.clone(),
                        source,
                    })
                });
                let listed = listed(&out, name, Some(file.clone()), read, &file);
                out.push(listed);
            }
        }
        for (name, text) in self.built_ins() {
            let listed = listed(
                &out,
                name.to_string(),
                None,
                Ok(text.to_string()),
                &built_in_file(name),
            );
            out.push(listed);
        }
        out
    }
}

/// The `list` entry of profile `name` read (or not) from `file` (None: built in), shadowed
/// by the first usable entry of that name already in `earlier`.
fn listed(
    earlier: &[ListedProfile],
    name: String,
    file: Option<PathBuf>,
    read: Result<String, ProfileError>,
    shown_as: &Path,
) -> ListedProfile {
    let shadowed_by = earlier
        .iter()
        .find(|l| l.name == name && l.shadowed_by.is_none())
        .and_then(|l| l.file.clone());
    let (description, valid) = match read.and_then(|t| super::schema::parse_profile(&t, shown_as)) {
        Ok(p) => (p.description.lines().next().unwrap_or("").to_string(), true),
        Err(e) => (format!("unusable: {e}"), false),
    };
    let source = match &file {
        Some(f) => f.display().to_string(),
        None => BUILT_IN_SOURCE.to_string(),
    };
    ListedProfile {
        name,
        source,
        file,
        description,
        valid,
        shadowed_by,
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
            let text = self.built_in.then(|| built_in(name)).flatten();
            return Ok(text.map(|t| (built_in_file(name), t.to_string())));
        };
        check_trusted(&file)?;
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
            .chain(self.built_ins().iter().map(|(n, _)| n.to_string()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    fn searched(&self) -> Vec<PathBuf> {
        let mut searched = self.dirs.clone();
        if self.built_in {
            searched.push(format!("the {} profiles", BUILT_IN_SOURCE).into());
        }
        searched
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
            built_in: false,
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
    fn root_refuses_profiles_others_could_have_written() {
        use std::os::unix::fs::PermissionsExt;
        if !nix::unistd::geteuid().is_root() {
            return; // only root checks (and only root can chown to make the cases)
        }
        let d = tempfile::tempdir().unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let f = d.path().join("p.toml");
        std::fs::write(&f, "description = \"p\"\n").unwrap();
        let sp = SearchPath {
            dirs: vec![d.path().into()],
            built_in: false,
        };
        assert!(
            sp.read("p").unwrap().is_some(),
            "a root-owned 0644 profile is fine"
        );
        let refused = |why: &str| match sp.read("p") {
            Err(e @ ProfileError::Unsafe { .. }) => {
                assert!(e.to_string().contains(why), "{e}");
                assert_eq!(e.exit_code(), crate::exit::REFUSED);
            }
            other => panic!("expected a refusal ({why}), got {other:?}"),
        };
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o646)).unwrap();
        refused("writable by others");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert!(sp.read("p").unwrap().is_some(), "group root may write");
        std::os::unix::fs::chown(&f, None, Some(4242)).unwrap();
        refused("writable by group 4242");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::chown(&f, Some(4242), Some(0)).unwrap();
        refused("owned by uid 4242");
        std::os::unix::fs::chown(&f, Some(0), Some(0)).unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        refused("its directory");
        assert!(!sp.list()[0].valid, "list marks it unusable");
    }

    #[test]
    fn standard_order_is_flags_etc_share_then_built_in() {
        let sp = SearchPath::standard(&["/a".into(), "/b".into()]);
        let want: Vec<PathBuf> = ["/a", "/b", ETC_DIR, SHARE_DIR]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(sp.dirs, want);
        assert!(sp.built_in);
    }

    #[test]
    fn every_shipped_profile_is_built_in_and_parses() {
        let sp = SearchPath {
            dirs: vec![],
            built_in: true,
        };
        let listed = sp.list();
        let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/jail-profiles"))
            .unwrap()
            .filter_map(|e| e.unwrap().file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".toml").map(str::to_string))
            .collect::<Vec<_>>();
        assert!(shipped.len() >= 8, "{shipped:?}");
        for name in &shipped {
            let l = listed.iter().find(|l| &l.name == name).expect(name);
            assert!(l.valid, "{name}: {}", l.description);
            assert_eq!(l.source, BUILT_IN_SOURCE);
            assert_eq!(l.file, None);
            let (file, _) = sp.read(name).unwrap().expect(name);
            assert_eq!(file, built_in_file(name));
        }
    }

    #[test]
    fn a_file_shadows_the_built_in_profile_of_its_name() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("minimal.toml"), "description = \"mine\"\n").unwrap();
        let sp = SearchPath {
            dirs: vec![d.path().into()],
            built_in: true,
        };
        let (file, text) = sp.read("minimal").unwrap().unwrap();
        assert_eq!(file, d.path().join("minimal.toml"));
        assert!(text.contains("mine"));
        let l: Vec<_> = sp
            .list()
            .into_iter()
            .filter(|l| l.name == "minimal")
            .collect();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].source, BUILT_IN_SOURCE);
        assert_eq!(l[1].shadowed_by, Some(d.path().join("minimal.toml")));
        assert_eq!(sp.available().iter().filter(|n| *n == "minimal").count(), 1);
    }

    #[test]
    fn names_cannot_escape() {
        let sp = SearchPath {
            dirs: vec![],
            built_in: true,
        };
        assert!(matches!(sp.find("../x"), Err(ProfileError::BadName(_))));
        assert!(matches!(sp.find(".x"), Err(ProfileError::BadName(_))));
    }
}
