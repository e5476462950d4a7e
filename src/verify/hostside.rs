//! The host side of verify: the marker file in the jail's parent (created for the run and
//! removed on Drop, also on error), read-only looks at the jail (its top level, the user's
//! passwd entry) and removing probe files a broken jail let the user create. Never follows a
//! symlink inside the jail: it walks by descriptor with O_NOFOLLOW.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;

use super::VerifyError;

/// A random name: `.jailsmith-verify-` and 16 hex digits from the system's CSPRNG.
pub fn random_name() -> String {
    format!(".jailsmith-verify-{}", crate::apply::rootfile::random_hex())
}

/// A file that exists only outside the jail for the duration of the run; removed on Drop.
#[derive(Debug)]
pub struct Marker {
    path: PathBuf,
    name: String,
}

impl Marker {
    /// Creates `<parent of jail>/<random name>` (new file, mode 0644, never through a
    /// symlink).
    pub fn create(jail: &Path) -> Result<Self, VerifyError> {
        let parent = jail.parent().unwrap_or(Path::new("/"));
        let name = random_name();
        let path = parent.join(&name);
        crate::apply::scratch::create_marker(&path).map_err(|source| VerifyError::Marker {
            op: "create",
            path: path.clone(),
            source,
        })?;
        Ok(Self { path, name })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        if let Err(e) = crate::apply::scratch::remove_marker(&self.path) {
            eprintln!(
                "jailsmith: warning: cannot remove marker {}: {e}",
                self.path.display()
            );
        }
    }
}

/// The names in the jail's top directory (as the host sees them).
pub fn jail_top_level(jail: &Path) -> Result<Vec<String>, VerifyError> {
    let rd = fs::read_dir(jail).map_err(|source| VerifyError::Jail {
        path: jail.to_path_buf(),
        source,
    })?;
    let mut names: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

use crate::apply::scratch::open_dir_beneath;

/// Reads a regular file beneath the jail without following symlinks.
fn read_beneath(jail: &Path, dir: &[&str], file: &str) -> Option<String> {
    let d = open_dir_beneath(jail, dir)?;
    let fd = openat(
        &d,
        file,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut f = File::from(fd);
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut s = String::new();
    f.by_ref().take(4 << 20).read_to_string(&mut s).ok()?;
    Some(s)
}

/// The home directory the jail's `/etc/passwd` gives `user`, if it has an entry.
pub fn jail_home(jail: &Path, user: &str) -> Option<String> {
    let passwd = read_beneath(jail, &["etc"], "passwd")?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[0] == user).then(|| f[5].to_string())
    })
}

/// Shell start-up files a user controls (they sit in the user's own home).
pub const STARTUP_FILES: &[&str] = &[
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".profile",
    ".bash_logout",
    ".inputrc",
    ".ssh/rc",
    ".shrc",
    ".kshrc",
    ".mkshrc",
    ".zshenv",
    ".zshrc",
];

/// The start-up files present in the jail's `home` (an in-jail path such as `/home/u`),
/// looked at by descriptor without following symlinks (a symlink counts as present).
pub fn startup_files(jail: &Path, home: &str) -> Vec<String> {
    let comps: Vec<&str> = home.split('/').filter(|c| !c.is_empty()).collect();
    let Some(dir) = open_dir_beneath(jail, &comps) else {
        return Vec::new();
    };
    STARTUP_FILES
        .iter()
        .filter(|f| {
            let (sub, name) = f.rsplit_once('/').unwrap_or(("", f));
            let d = if sub.is_empty() {
                dir.try_clone().ok()
            } else {
                openat(
                    &dir,
                    sub,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .ok()
            };
            d.is_some_and(|d| {
                nix::sys::stat::fstatat(&d, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).is_ok()
            })
        })
        .map(|f| f.to_string())
        .collect()
}

/// Removes a probe file the user managed to create: `seen` is the path the user saw
/// (`/etc/<probe>`); it is only removed when its name is exactly `probe` (a random name),
/// beneath the jail and, when the account turned out not to be jailed, at that host path.
/// Returns what was removed.
pub fn remove_probe_files(jail: &Path, seen: &[String], probe: &str) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for s in seen {
        let Some(dir) = s.strip_suffix(probe).and_then(|d| d.strip_suffix('/')) else {
            continue;
        };
        let comps: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
        for root in [jail, Path::new("/")] {
            if crate::apply::scratch::remove_beneath(root, &comps, probe) {
                let mut p = root.to_path_buf();
                p.extend(&comps);
                removed.push(p.join(probe));
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_random_and_hidden() {
        let a = random_name();
        let b = random_name();
        assert_ne!(a, b);
        assert!(a.starts_with(".jailsmith-verify-") && a.len() == 18 + 16);
    }

    #[test]
    fn marker_lives_in_the_parent_and_goes_away() {
        let t = tempfile::tempdir().unwrap();
        let jail = t.path().join("jail");
        fs::create_dir(&jail).unwrap();
        let path = {
            let m = Marker::create(&jail).unwrap();
            assert_eq!(m.path().parent(), Some(t.path()));
            assert!(m.path().exists());
            m.path().to_path_buf()
        };
        assert!(!path.exists());
    }

    #[test]
    fn passwd_home_and_probe_cleanup_never_follow_links() {
        let t = tempfile::tempdir().unwrap();
        let jail = t.path().join("jail");
        let outside = t.path().join("outside");
        fs::create_dir_all(jail.join("etc")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(
            jail.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nu:x:1:1::/home/u:/bin/bash\n",
        )
        .unwrap();
        assert_eq!(jail_home(&jail, "u").as_deref(), Some("/home/u"));
        assert_eq!(jail_home(&jail, "v"), None);

        fs::create_dir_all(jail.join("home/u/.ssh")).unwrap();
        fs::write(jail.join("home/u/.bashrc"), "").unwrap();
        fs::write(jail.join("home/u/.ssh/rc"), "").unwrap();
        std::os::unix::fs::symlink("/etc/profile", jail.join("home/u/.profile")).unwrap();
        assert_eq!(
            startup_files(&jail, "/home/u"),
            vec![".bashrc", ".profile", ".ssh/rc"]
        );

        let probe = ".jailsmith-verify-0011223344556677";
        fs::write(jail.join("etc").join(probe), "").unwrap();
        std::os::unix::fs::symlink(&outside, jail.join("lnk")).unwrap();
        fs::write(outside.join(probe), "").unwrap();
        let removed = remove_probe_files(
            &jail,
            &[
                format!("/etc/{probe}"),
                format!("/lnk/{probe}"),
                "/etc/other".into(),
            ],
            probe,
        );
        assert_eq!(removed, vec![jail.join("etc").join(probe)]);
        assert!(outside.join(probe).exists(), "followed a symlink");
    }
}
