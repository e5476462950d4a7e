//! Walks a host path hop by hop without trusting symlinks: every symlink met on the way
//! (a merged-/usr `lib64 -> usr/lib64`, a SONAME chain, /etc/alternatives) becomes its own
//! entry, so the jail reproduces the same resolution. Directories given as files are walked
//! recursively (without following links, except to pull in their targets).

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::plan::JailPath;
use crate::plan::build::{HostEntry, HostKind};
use crate::state::DEFAULT_STATE_DIR;

#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("{path} does not exist on this host")]
    Missing { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("too many levels of symbolic links resolving {path}")]
    Loop { path: PathBuf },
    #[error("{path} is a {kind}; only files, directories and symlinks can be copied into a jail")]
    Special { path: PathBuf, kind: &'static str },
}

/// Collects entries, deduplicated by jail path, in discovery order. Host lookups are cached
/// for the walker's lifetime (one build): a path added twice is walked once, and each
/// directory prefix is lstat'ed once however many paths pass through it.
#[derive(Default)]
pub struct Walker {
    pub entries: Vec<HostEntry>,
    seen: HashSet<PathBuf>,
    /// Paths already given to `add` (a program's closure repeats most libraries).
    added: HashSet<PathBuf>,
    /// What each absolute host path met while walking is: `None` for a non-link,
    /// `Some(target)` for a symlink.
    hops: HashMap<PathBuf, Option<PathBuf>>,
    /// The state directory the host-secret list refuses (besides the default one).
    pub state_dir: Option<PathBuf>,
    /// Host secrets met inside a directory copy and left out, with the reason.
    pub skipped: Vec<(PathBuf, &'static str)>,
}

/// One path component as the walk sees it.
enum Hop {
    Missing,
    Plain,
    Link(PathBuf),
}

/// Walks one path into a fresh list (see `Walker::add`).
pub fn walk(path: &Path, reason: &str) -> Result<Vec<HostEntry>, WalkError> {
    let mut w = Walker::default();
    w.add(path, reason)?;
    Ok(w.entries)
}

fn lexical_push(stack: &mut Vec<std::ffi::OsString>, rel: &Path) {
    for c in rel.components() {
        match c {
            Component::RootDir => stack.clear(),
            Component::ParentDir => {
                stack.pop();
            }
            Component::Normal(n) => stack.push(n.to_os_string()),
            _ => {}
        }
    }
}

fn as_path(stack: &[std::ffi::OsString]) -> PathBuf {
    let mut p = PathBuf::from("/");
    p.extend(stack);
    p
}

impl Walker {
    /// True when `path` was given to `add` already (its reason need not be worded again).
    pub fn has(&self, path: &Path) -> bool {
        self.added.contains(path)
    }

    /// Adds `path` (absolute host path) and every hop leading to it.
    pub fn add(&mut self, path: &Path, reason: &str) -> Result<(), WalkError> {
        if !self.added.insert(path.to_path_buf()) {
            return Ok(());
        }
        if dangles(path) {
            // reproduced as a link, as inside a data tree; its target is not required
            if !self.skip_secret(path, &super::guard::resolved(path)) {
                self.resolve_hops(path, reason).ok();
            }
            return Ok(());
        }
        self.add_uncached(path, reason)
    }

    fn add_uncached(&mut self, path: &Path, reason: &str) -> Result<(), WalkError> {
        let end = self.resolve_hops(path, reason)?;
        let meta = std::fs::symlink_metadata(&end).map_err(|source| WalkError::Io {
            path: end.clone(),
            source,
        })?;
        if meta.is_dir() {
            self.add_tree(&end, reason)
        } else {
            self.push_object(&end, &meta, reason)
        }
    }

    /// Follows `path` component by component, recording each symlink; returns the final,
    /// symlink-free path.
    fn resolve_hops(&mut self, path: &Path, reason: &str) -> Result<PathBuf, WalkError> {
        let mut done: Vec<std::ffi::OsString> = Vec::new();
        let mut todo: Vec<std::ffi::OsString> = Vec::new();
        lexical_push(&mut todo, path);
        todo.reverse();
        let mut hops = 0;
        while let Some(name) = todo.pop() {
            done.push(name);
            let cur = as_path(&done);
            let target = match self.hop(&cur)? {
                Hop::Missing => {
                    return Err(WalkError::Missing {
                        path: path.to_path_buf(),
                    });
                }
                Hop::Plain => continue,
                Hop::Link(target) => target,
            };
            hops += 1;
            if hops > 40 {
                return Err(WalkError::Loop {
                    path: path.to_path_buf(),
                });
            }
            done.pop();
            let link = jail_path(&cur);
            let mut dest = done.clone();
            lexical_push(&mut dest, &target);
            let text = if target.is_absolute() {
                match JailPath::new(as_path(&dest)) {
                    Ok(d) => d.relative_from_dir_of(&link),
                    Err(_) => target.clone(),
                }
            } else {
                target.clone()
            };
            self.push(HostEntry {
                path: link,
                src: cur,
                kind: HostKind::Symlink { target: text },
                reason: reason.to_string(),
            });
            let mut rest = std::mem::take(&mut todo);
            rest.reverse();
            done = Vec::new();
            let mut restart = dest;
            restart.extend(rest);
            todo = restart;
            todo.reverse();
        }
        Ok(as_path(&done))
    }

    /// lstat (and readlink) of one host path, cached; a missing path is not cached.
    fn hop(&mut self, cur: &Path) -> Result<Hop, WalkError> {
        if let Some(known) = self.hops.get(cur) {
            return Ok(match known {
                None => Hop::Plain,
                Some(t) => Hop::Link(t.clone()),
            });
        }
        let meta = match std::fs::symlink_metadata(cur) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Hop::Missing),
            Err(source) => {
                return Err(WalkError::Io {
                    path: cur.to_path_buf(),
                    source,
                });
            }
        };
        let target = if meta.file_type().is_symlink() {
            Some(std::fs::read_link(cur).map_err(|source| WalkError::Io {
                path: cur.to_path_buf(),
                source,
            })?)
        } else {
            None
        };
        self.hops.insert(cur.to_path_buf(), target.clone());
        Ok(match target {
            None => Hop::Plain,
            Some(t) => Hop::Link(t),
        })
    }

    fn push_object(
        &mut self,
        path: &Path,
        meta: &std::fs::Metadata,
        reason: &str,
    ) -> Result<(), WalkError> {
        let ft = meta.file_type();
        let kind = if ft.is_file() {
            HostKind::File {
                mode: meta.permissions().mode() & 0o1777 & !0o6000,
            }
        } else if ft.is_dir() {
            HostKind::Dir {
                mode: meta.permissions().mode() & 0o1777,
            }
        } else {
            let kind = if ft.is_symlink() {
                "symlink"
            } else if meta.mode() & 0o170000 == 0o010000 {
                "FIFO"
            } else {
                "device or socket"
            };
            return Err(WalkError::Special {
                path: path.to_path_buf(),
                kind,
            });
        };
        self.push(HostEntry {
            path: jail_path(path),
            src: path.to_path_buf(),
            kind,
            reason: reason.to_string(),
        });
        Ok(())
    }

    /// Why a host path met inside a directory copy is left out (a host secret), if it is.
    fn secret(&self, p: &Path) -> Option<&'static str> {
        let state = self
            .state_dir
            .as_deref()
            .unwrap_or(Path::new(DEFAULT_STATE_DIR));
        super::guard::secret_in_tree(p, state)
    }

    /// Leaves a host secret out of a directory copy; true when `p` is one.
    fn skip_secret(&mut self, p: &Path, real: &Path) -> bool {
        match self.secret(p).or_else(|| self.secret(real)) {
            Some(why) => {
                self.skipped.push((p.to_path_buf(), why));
                true
            }
            None => false,
        }
    }

    /// A directory and everything under it; symlinks inside are kept, and their targets
    /// pulled in when they exist. Host secrets (and links to them) are left out and listed
    /// in `skipped`.
    fn add_tree(&mut self, root: &Path, reason: &str) -> Result<(), WalkError> {
        let mut links = Vec::new();
        let mut it = walkdir::WalkDir::new(root)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter();
        while let Some(entry) = it.next() {
            let entry = entry.map_err(|e| WalkError::Io {
                path: root.to_path_buf(),
                source: e.into(),
            })?;
            if self.skip_secret(entry.path(), entry.path()) {
                if entry.file_type().is_dir() {
                    it.skip_current_dir();
                }
                continue;
            }
            let meta = entry.metadata().map_err(|e| WalkError::Io {
                path: entry.path().to_path_buf(),
                source: e.into(),
            })?;
            if meta.file_type().is_symlink() {
                links.push(entry.path().to_path_buf());
                continue;
            }
            if !(meta.is_file() || meta.is_dir()) {
                continue; // sockets, FIFOs, devices inside data trees are never copied
            }
            self.push_object(entry.path(), &meta, reason)?;
        }
        for link in links {
            if self.skip_secret(&link, &super::guard::resolved(&link)) {
                continue;
            }
            // A dangling link in a data tree is reproduced as is; its target is not required.
            if std::fs::metadata(&link).is_ok() {
                self.add(&link, reason)?;
            } else {
                self.resolve_hops(&link, reason).ok();
            }
        }
        Ok(())
    }

    fn push(&mut self, e: HostEntry) {
        if self.seen.insert(e.path.rel().to_path_buf()) {
            self.entries.push(e);
        }
    }
}

/// A symlink whose target does not exist.
fn dangles(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
        && std::fs::metadata(p).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

fn jail_path(p: &Path) -> JailPath {
    JailPath::new(p).expect("an absolute host path below / is a valid jail path")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_hops_become_entries() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path();
        std::fs::create_dir_all(base.join("usr/lib")).unwrap();
        std::fs::write(base.join("usr/lib/libx.so.1.2"), "x").unwrap();
        std::os::unix::fs::symlink("libx.so.1.2", base.join("usr/lib/libx.so.1")).unwrap();
        std::os::unix::fs::symlink("usr/lib", base.join("lib")).unwrap();
        let entries = walk(&base.join("lib/libx.so.1"), "test").unwrap();
        let kinds: Vec<String> = entries
            .iter()
            .map(|e| match &e.kind {
                HostKind::Symlink { target } => format!(
                    "{} -> {}",
                    e.path
                        .rel()
                        .strip_prefix(base.strip_prefix("/").unwrap())
                        .unwrap()
                        .display(),
                    target.display()
                ),
                _ => format!(
                    "{}",
                    e.path
                        .rel()
                        .strip_prefix(base.strip_prefix("/").unwrap())
                        .unwrap()
                        .display()
                ),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                "lib -> usr/lib",
                "usr/lib/libx.so.1 -> libx.so.1.2",
                "usr/lib/libx.so.1.2"
            ]
        );
    }

    #[test]
    fn host_secrets_in_a_tree_are_skipped_and_listed() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path();
        std::fs::create_dir_all(base.join("data/.ssh")).unwrap();
        std::fs::create_dir_all(base.join("data/state/jails")).unwrap();
        std::fs::write(base.join("data/.ssh/id_ed25519"), "key").unwrap();
        std::fs::write(base.join("data/state/jails/x.json"), "{}").unwrap();
        std::fs::write(base.join("data/ok"), "ok").unwrap();
        std::os::unix::fs::symlink("/etc/shadow", base.join("data/link")).unwrap();
        let mut w = Walker {
            state_dir: Some(base.join("data/state")),
            ..Default::default()
        };
        w.add(&base.join("data"), "t").unwrap();
        let names: Vec<String> = w
            .entries
            .iter()
            .filter_map(|e| Some(e.src.strip_prefix(base).ok()?.display().to_string()))
            .collect();
        assert_eq!(names, vec!["data", "data/ok"]);
        let mut skipped: Vec<String> = w
            .skipped
            .iter()
            .map(|(p, _)| p.strip_prefix(base).unwrap().display().to_string())
            .collect();
        skipped.sort();
        assert_eq!(skipped, vec!["data/.ssh", "data/link", "data/state"]);
    }

    #[test]
    fn missing_path_is_an_error() {
        assert!(matches!(
            walk(Path::new("/no/such/jailsmith/file"), "t"),
            Err(WalkError::Missing { .. })
        ));
    }
}
