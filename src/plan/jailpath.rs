//! JailPath: a path inside a jail, relative to its root, made only of normal components.
//! It can never name the jail's parent or an absolute host path; it never touches the disk.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A validated path inside a jail (`usr/lib/x86_64-linux-gnu/libc.so.6`), no leading `/`,
/// no `.` or `..`, never empty.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JailPath(PathBuf);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{path:?} is not a valid path inside a jail: {why}")]
pub struct BadJailPath {
    pub path: String,
    pub why: &'static str,
}

impl JailPath {
    /// Parses an absolute in-jail path (`/usr/bin/bash`) or a relative one (`usr/bin/bash`).
    pub fn new(p: impl AsRef<Path>) -> Result<Self, BadJailPath> {
        let p = p.as_ref();
        let bad = |why| BadJailPath {
            path: p.display().to_string(),
            why,
        };
        let mut out = PathBuf::new();
        for c in p.components() {
            match c {
                Component::RootDir => {}
                Component::Normal(s) => out.push(s),
                Component::CurDir => {}
                Component::ParentDir => return Err(bad("it contains '..'")),
                Component::Prefix(_) => return Err(bad("it has a prefix")),
            }
        }
        if out.as_os_str().is_empty() {
            return Err(bad("it names the jail root itself"));
        }
        Ok(Self(out))
    }

    /// The relative form, for `*at` system calls on the jail root descriptor.
    pub fn rel(&self) -> &Path {
        &self.0
    }

    /// The absolute form a process inside the jail sees (`/usr/bin/bash`).
    pub fn abs(&self) -> PathBuf {
        Path::new("/").join(&self.0)
    }

    /// The parent directory inside the jail, or None for a top-level entry.
    pub fn parent(&self) -> Option<JailPath> {
        let p = self.0.parent()?;
        if p.as_os_str().is_empty() {
            None
        } else {
            Some(Self(p.to_path_buf()))
        }
    }

    /// Every ancestor from the top down, excluding self: `usr`, `usr/lib`, …
    pub fn ancestors(&self) -> Vec<JailPath> {
        let mut v: Vec<JailPath> = std::iter::successors(self.parent(), |p| p.parent()).collect();
        v.reverse();
        v
    }

    pub fn file_name(&self) -> &std::ffi::OsStr {
        self.0
            .file_name()
            .expect("a JailPath always has a last component")
    }

    /// A child of this path; `name` must be one normal component.
    pub fn join(&self, name: &str) -> Result<JailPath, BadJailPath> {
        let child = JailPath::new(name)?;
        if child.0.components().count() != 1 {
            return Err(BadJailPath {
                path: name.to_string(),
                why: "it is not a single name",
            });
        }
        Ok(Self(self.0.join(child.0)))
    }

    /// The path of `self` relative to `from`'s directory, for relative symlinks:
    /// a link at `usr/lib/a` pointing at `usr/lib/b` gets `b`; at `lib64/x` → `usr/lib/y` gets `../usr/lib/y`.
    pub fn relative_from_dir_of(&self, link: &JailPath) -> PathBuf {
        let base: Vec<_> = link
            .0
            .parent()
            .map(|p| p.components().collect())
            .unwrap_or_default();
        let dest: Vec<_> = self.0.components().collect();
        let common = base.iter().zip(&dest).take_while(|(a, b)| a == b).count();
        let mut out = PathBuf::new();
        for _ in common..base.len() {
            out.push("..");
        }
        for c in &dest[common..] {
            out.push(c);
        }
        out
    }
}

impl fmt::Display for JailPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.0.display())
    }
}

impl fmt::Debug for JailPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JailPath(/{})", self.0.display())
    }
}

impl TryFrom<String> for JailPath {
    type Error = BadJailPath;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        JailPath::new(s)
    }
}

impl From<JailPath> for String {
    fn from(p: JailPath) -> String {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_and_relative_forms_agree() {
        assert_eq!(
            JailPath::new("/usr/bin/bash").unwrap(),
            JailPath::new("usr/bin/bash").unwrap()
        );
        assert_eq!(
            JailPath::new("/usr/bin/bash").unwrap().to_string(),
            "/usr/bin/bash"
        );
    }

    #[test]
    fn dotdot_and_root_are_refused() {
        assert!(JailPath::new("/usr/../etc").is_err());
        assert!(JailPath::new("/").is_err());
        assert!(JailPath::new("a").unwrap().join("b/c").is_err());
    }

    #[test]
    fn relative_links() {
        let target = JailPath::new("usr/lib/libx.so.1.2").unwrap();
        let same_dir = JailPath::new("usr/lib/libx.so.1").unwrap();
        assert_eq!(
            target.relative_from_dir_of(&same_dir),
            PathBuf::from("libx.so.1.2")
        );
        let other = JailPath::new("lib64/ld.so").unwrap();
        assert_eq!(
            target.relative_from_dir_of(&other),
            PathBuf::from("../usr/lib/libx.so.1.2")
        );
    }

    #[test]
    fn ancestors_top_down() {
        let p = JailPath::new("a/b/c").unwrap();
        let a: Vec<String> = p.ancestors().iter().map(|x| x.to_string()).collect();
        assert_eq!(a, vec!["/a", "/a/b"]);
    }
}
