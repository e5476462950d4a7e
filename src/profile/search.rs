//! Where profile files are found: `--profile-dir` directories, then `/etc/jailsmith/profiles`,
//! `/usr/share/jailsmith/profiles`, then — only for a binary running from its own checkout —
//! the source tree's `jail-profiles/`. First `NAME.toml` wins. Run as root, a profile that
//! someone else could have written is refused. Reads profile directories; never writes.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ProfileError;

/// The administrator's own profiles and overrides.
pub const ETC_DIR: &str = "/etc/jailsmith/profiles";
/// Profiles installed with the package.
pub const SHARE_DIR: &str = "/usr/share/jailsmith/profiles";
/// The shipped profiles in the source tree, used when running from a checkout.
pub const SOURCE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/jail-profiles");

/// True when this binary runs from the checkout it was built in (`target/…` below the
/// source tree, or the `CARGO_TARGET_DIR` it was built with). An installed binary never
/// searches the directory where it happened to be built: that path may not be root's.
fn running_from_checkout() -> bool {
    let Ok(exe) = std::env::current_exe() else {
        return false;
    };
    let roots = [
        Some(env!("CARGO_MANIFEST_DIR")),
        option_env!("CARGO_TARGET_DIR"),
    ];
    roots
        .into_iter()
        .flatten()
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .any(|r| exe.starts_with(r))
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
    /// directories, and the source tree's `jail-profiles/` when this binary runs from that
    /// checkout.
    pub fn standard(extra: &[PathBuf]) -> Self {
        let mut dirs: Vec<PathBuf> = extra.to_vec();
        dirs.push(ETC_DIR.into());
        dirs.push(SHARE_DIR.into());
        if running_from_checkout() && Path::new(SOURCE_DIR).is_dir() {
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
                let (description, valid) = match check_trusted(&file)
                    .and_then(|()| {
                        std::fs::read_to_string(&file).map_err(|source| ProfileError::Read {
                            file: file.clone(),
                            source,
                        })
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
