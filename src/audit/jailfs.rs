//! `JailFs`: the resolver's `LoaderFs` over a jail, so `check` can simulate the loader as a
//! process chrooted there would run it. Symlinks are resolved in user space, inside the
//! jail (an absolute target or `..` never leaves its root), and every object is reached
//! through `LinuxHost`'s descriptor walk, which follows no symlink itself. Reads only.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::apply::{EntryKind, Host, LinuxHost};
use crate::plan::JailPath;
use crate::resolve::elf::{ElfError, ElfInfo, read_elf_file};
use crate::resolve::search::LoaderFs;

/// Symlink hops allowed on one path (the kernel's limit).
const MAX_HOPS: usize = 40;

pub struct JailFs<'h> {
    pub host: &'h LinuxHost,
}

impl JailFs<'_> {
    /// The jail path `path` (as a process in the jail names it) leads to with every symlink
    /// resolved inside the jail; None when some component is missing or is no directory.
    /// `Some(None)` is the jail root.
    fn resolve(&self, path: &Path, follow_last: bool) -> Option<Option<JailPath>> {
        let mut todo: Vec<OsString> = components(path);
        todo.reverse();
        let mut cur: Vec<OsString> = Vec::new();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            if c.as_bytes() == b".." {
                cur.pop();
                continue;
            }
            cur.push(c);
            let jp = JailPath::new(cur.iter().collect::<PathBuf>()).ok()?;
            let meta = self.host.stat(&jp).ok()??;
            match meta.kind {
                EntryKind::Symlink { target } if follow_last || !todo.is_empty() => {
                    hops += 1;
                    if hops > MAX_HOPS {
                        return None;
                    }
                    cur.pop();
                    if target.is_absolute() {
                        cur.clear();
                    }
                    let mut more = components(&target);
                    more.reverse();
                    todo.extend(more);
                }
                EntryKind::Dir => {}
                _ if todo.is_empty() => {}
                _ => return None,
            }
        }
        if cur.is_empty() {
            return Some(None);
        }
        JailPath::new(cur.iter().collect::<PathBuf>())
            .ok()
            .map(Some)
    }

    fn resolved_file(&self, path: &Path) -> Option<JailPath> {
        self.resolve(path, true).flatten()
    }
}

/// The normal and `..` components of a path (`.` and the root dropped).
fn components(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

impl LoaderFs for JailFs<'_> {
    fn read_elf(&self, path: &Path) -> Result<ElfInfo, ElfError> {
        let missing = || ElfError::Io {
            path: path.to_path_buf(),
            source: std::io::ErrorKind::NotFound.into(),
        };
        let jp = self.resolved_file(path).ok_or_else(missing)?;
        let file = self.host.open_read(&jp).map_err(|e| ElfError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })?;
        read_elf_file(&file, path)
    }

    fn file_id(&self, path: &Path) -> Option<(u64, u64)> {
        let jp = self.resolved_file(path)?;
        self.host.stat(&jp).ok()?.map(|m| (0, m.ino))
    }

    fn list_dir(&self, dir: &Path) -> Vec<PathBuf> {
        let Some(Some(jp)) = self.resolve(dir, true) else {
            return Vec::new();
        };
        let Ok(fd) = self.host.open_dir(&jp, "list") else {
            return Vec::new();
        };
        let Ok(mut d) = nix::dir::Dir::from_fd(fd) else {
            return Vec::new();
        };
        d.iter()
            .filter_map(Result::ok)
            .map(|e| std::ffi::OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
            .filter(|n| n != "." && n != "..")
            .map(|n| dir.join(n))
            .collect()
    }

    fn exists(&self, path: &Path) -> bool {
        matches!(self.resolve(path, false), Some(Some(_)))
    }

    fn canonical(&self, path: &Path) -> Option<PathBuf> {
        self.resolved_file(path).map(|jp| jp.abs())
    }

    fn read_small(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let jp = self
            .resolved_file(path)
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
        let file = self
            .host
            .open_read(&jp)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut out = Vec::new();
        // A path file is a few lines; a jail's larger file is not one the loader would use.
        file.take(64 * 1024).read_to_end(&mut out)?;
        Ok(out)
    }
}
