//! The audit's walker: descends a jail from its held root descriptor with `openat`
//! (O_NOFOLLOW|O_DIRECTORY) and `fstatat(AT_SYMLINK_NOFOLLOW)`, never following a symlink,
//! never descending into a mount point or another filesystem, never opening anything but
//! directories and (non-blocking) regular files. Reads only.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::dir::Dir;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat};

use crate::apply::xattr::has_file_capability;

/// One object in the jail, as lstat showed it.
#[derive(Clone, Debug)]
pub struct Walked {
    /// Absolute in-jail path (`/usr/bin/bash`).
    pub path: String,
    pub st: FileStat,
    /// Regular files only: a `security.capability` xattr is set.
    pub capability: bool,
}

impl Walked {
    pub fn kind(&self) -> SFlag {
        SFlag::from_bits_truncate(self.st.st_mode & SFlag::S_IFMT.bits())
    }
    pub fn is(&self, t: SFlag) -> bool {
        self.kind() == t
    }
    pub fn mode(&self) -> u32 {
        self.st.st_mode & 0o7777
    }
}

/// Everything the walk saw, and what it could not read.
#[derive(Debug, Default)]
pub struct WalkResult {
    pub entries: Vec<Walked>,
    /// Directories not descended: another filesystem (path, why).
    pub not_descended: Vec<(String, String)>,
    /// Objects that could not be read (path, error).
    pub unreadable: Vec<(String, String)>,
    /// Paths that are not valid UTF-8: the path as shown (each invalid byte as U+FFFD) →
    /// its exact bytes.
    pub raw: std::collections::BTreeMap<String, Vec<u8>>,
}

/// Deeper directories are not walked (a hostile user could nest them until the walker ran
/// out of descriptors or stack); the walk reports where it stopped.
pub const MAX_DEPTH: usize = 256;

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// Walks below `root` (the jail root's descriptor). `skip` holds in-jail paths (mount
/// points) whose contents are not walked; the directories themselves are listed.
pub fn walk(root: BorrowedFd<'_>, skip: &[String]) -> nix::Result<WalkResult> {
    let root_st = fstat(root)?;
    let mut res = WalkResult::default();
    let fd = root
        .try_clone_to_owned()
        .map_err(|_| nix::errno::Errno::EBADF)?;
    walk_dir(fd, ("", b""), 0, root_st.st_dev, skip, &mut res);
    Ok(res)
}

fn join(parent: &str, name: &OsStr) -> String {
    format!("{parent}/{}", String::from_utf8_lossy(name.as_bytes()))
}

fn join_raw(parent: &[u8], name: &OsStr) -> Vec<u8> {
    let mut v = parent.to_vec();
    v.push(b'/');
    v.extend_from_slice(name.as_bytes());
    v
}

/// `prefix`: the directory's path as shown and as bytes.
fn walk_dir(
    fd: OwnedFd,
    (prefix, prefix_raw): (&str, &[u8]),
    depth: usize,
    dev: u64,
    skip: &[String],
    res: &mut WalkResult,
) {
    let mut names = Vec::new();
    let listing = fd
        .try_clone()
        .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)))
        .and_then(Dir::from_fd);
    match listing {
        Ok(mut d) => {
            for e in d.iter() {
                match e {
                    Ok(e) => {
                        let n = e.file_name().to_bytes();
                        if n != b"." && n != b".." {
                            names.push(OsStr::from_bytes(n).to_os_string());
                        }
                    }
                    Err(err) => {
                        res.unreadable
                            .push((prefix_or_root(prefix), err.to_string()));
                        break;
                    }
                }
            }
        }
        Err(err) => {
            res.unreadable
                .push((prefix_or_root(prefix), err.to_string()));
            return;
        }
    }
    names.sort();
    for name in names {
        let path = join(prefix, &name);
        let raw = join_raw(prefix_raw, &name);
        if raw != path.as_bytes() {
            res.raw.insert(path.clone(), raw.clone());
        }
        let st = match fstatat(fd.as_fd(), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(e) => {
                res.unreadable.push((path, e.to_string()));
                continue;
            }
        };
        let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        let capability = kind == SFlag::S_IFREG && file_capability(fd.as_fd(), &name, &path, res);
        res.entries.push(Walked {
            path: path.clone(),
            st,
            capability,
        });
        if kind != SFlag::S_IFDIR {
            continue;
        }
        if skip.contains(&path) {
            res.not_descended.push((path, "a mount point".into()));
            continue;
        }
        if st.st_dev != dev {
            res.not_descended.push((path, "another filesystem".into()));
            continue;
        }
        if depth + 1 >= MAX_DEPTH {
            res.unreadable.push((
                path,
                format!("nested deeper than {MAX_DEPTH} directories; not walked"),
            ));
            continue;
        }
        match openat(fd.as_fd(), name.as_os_str(), dir_flags(), Mode::empty()) {
            Ok(sub) => walk_dir(sub, (&path, &raw), depth + 1, dev, skip, res),
            Err(e) => res.unreadable.push((path, e.to_string())),
        }
    }
}

fn prefix_or_root(prefix: &str) -> String {
    if prefix.is_empty() {
        "/".into()
    } else {
        prefix.to_string()
    }
}

/// Opens a regular file non-blocking without following links and asks for its capability
/// xattr; the descriptor is checked to still be a regular file.
fn file_capability(dir: BorrowedFd<'_>, name: &OsStr, path: &str, res: &mut WalkResult) -> bool {
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let fd = match openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            res.unreadable.push((path.to_string(), e.to_string()));
            return false;
        }
    };
    match fstat(fd.as_fd()) {
        Ok(st) if st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFREG.bits() => {}
        _ => return false,
    }
    match has_file_capability(fd.as_fd()) {
        Ok(c) => c,
        Err(e) => {
            res.unreadable.push((path.to_string(), e.to_string()));
            false
        }
    }
}

/// `/a/b` is `dir` or below it (in-jail absolute paths).
pub fn is_within(path: &str, dir: &str) -> bool {
    path == dir || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

/// The host path of an in-jail path, for messages and fix commands only (never opened).
pub fn shown(jail: &Path, path: &str) -> PathBuf {
    jail.join(path.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_is_by_component() {
        assert!(is_within("/home/a", "/home/a"));
        assert!(is_within("/home/a/x", "/home/a"));
        assert!(!is_within("/home/ab", "/home/a"));
        assert!(!is_within("/home", "/home/a"));
    }

    #[test]
    fn names_that_are_not_utf8_keep_their_bytes() {
        let d = tempfile::tempdir().unwrap();
        let bad = OsStr::from_bytes(b"d\xff");
        std::fs::create_dir(d.path().join(bad)).unwrap();
        std::fs::write(d.path().join(bad).join("f"), "").unwrap();
        let root = nix::fcntl::open(d.path(), dir_flags(), Mode::empty()).unwrap();
        let r = walk(root.as_fd(), &[]).unwrap();
        assert_eq!(
            r.raw.get("/d\u{fffd}/f").map(Vec::as_slice),
            Some(&b"/d\xff/f"[..])
        );
        assert_eq!(r.raw.len(), 2);
    }

    #[test]
    fn walks_without_following_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "x").unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/f"), "y").unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("sub/link")).unwrap();
        let root = nix::fcntl::open(d.path(), dir_flags(), Mode::empty()).unwrap();
        let r = walk(root.as_fd(), &[]).unwrap();
        let paths: Vec<&str> = r.entries.iter().map(|w| w.path.as_str()).collect();
        assert_eq!(paths, vec!["/sub", "/sub/f", "/sub/link"]);
        assert!(r.entries[2].is(SFlag::S_IFLNK));
        assert!(r.raw.is_empty());
        let r = walk(root.as_fd(), &["/sub".to_string()]).unwrap();
        assert_eq!(r.entries.len(), 1);
        assert_eq!(
            r.not_descended,
            vec![("/sub".to_string(), "a mount point".to_string())]
        );
    }
}
