//! Removing a jail's tree (for `destroy`) by descriptor: each directory is opened beneath
//! its parent with O_NOFOLLOW|O_DIRECTORY, entries are unlinked with `unlinkat`, a symlink is
//! removed and never followed, and a directory on another filesystem (a mount left behind)
//! stops the removal with an error instead of being entered.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, SFlag, fstat, fstatat};
use nix::unistd::{UnlinkatFlags, unlinkat};

use super::HostError;
use super::errors;

/// What a removal did (or, counting only, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Removal {
    pub files: u64,
    pub dirs: u64,
    /// In-jail paths kept because `keep` said so.
    pub kept: Vec<String>,
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// Removes everything below the directory `dir` (whose in-jail path is `prefix`, "" for the
/// root), except the paths for which `keep` is true (and their ancestors). With `dry`, only
/// counts. The directory itself stays.
pub fn remove_children(
    jail: &Path,
    dir: BorrowedFd<'_>,
    prefix: &str,
    keep: &dyn Fn(&str) -> bool,
    dry: bool,
) -> Result<Removal, HostError> {
    let dev = fstat(dir)
        .map_err(|e| errors::io(jail, shown(prefix), "stat", e))?
        .st_dev;
    let mut r = Removal::default();
    children(jail, dir, prefix, dev, keep, dry, &mut r)?;
    Ok(r)
}

fn shown(prefix: &str) -> String {
    if prefix.is_empty() {
        "/".into()
    } else {
        prefix.into()
    }
}

fn names(jail: &Path, dir: BorrowedFd<'_>, prefix: &str) -> Result<Vec<OsString>, HostError> {
    let fd: OwnedFd = dir
        .try_clone_to_owned()
        .map_err(|e| errors::std_io(jail, shown(prefix), "list", e))?;
    let mut d = Dir::from_fd(fd).map_err(|e| errors::io(jail, shown(prefix), "list", e))?;
    let mut out = Vec::new();
    for e in d.iter() {
        let e = e.map_err(|e| errors::io(jail, shown(prefix), "list", e))?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            out.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    Ok(out)
}

fn children(
    jail: &Path,
    dir: BorrowedFd<'_>,
    prefix: &str,
    dev: u64,
    keep: &dyn Fn(&str) -> bool,
    dry: bool,
    r: &mut Removal,
) -> Result<bool, HostError> {
    let mut emptied = true;
    for name in names(jail, dir, prefix)? {
        let path = format!("{prefix}/{}", name.to_string_lossy());
        if keep(&path) {
            r.kept.push(path);
            emptied = false;
            continue;
        }
        let st = match fstatat(dir, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(errors::io(jail, &path, "stat", e)),
        };
        let is_dir = st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFDIR.bits();
        if !is_dir {
            if !dry {
                unlinkat(dir, name.as_os_str(), UnlinkatFlags::NoRemoveDir)
                    .map_err(|e| errors::io(jail, &path, "remove", e))?;
            }
            r.files += 1;
            continue;
        }
        if st.st_dev != dev {
            return Err(errors::io(
                jail,
                &path,
                "remove (still a mount point)",
                Errno::EBUSY,
            ));
        }
        let sub = openat(dir, name.as_os_str(), dir_flags(), Mode::empty())
            .map_err(|e| errors::io(jail, &path, "open for removal", e))?;
        if children(jail, sub.as_fd(), &path, dev, keep, dry, r)? {
            if !dry {
                unlinkat(dir, name.as_os_str(), UnlinkatFlags::RemoveDir)
                    .map_err(|e| errors::io(jail, &path, "remove directory", e))?;
            }
            r.dirs += 1;
        } else {
            emptied = false;
        }
    }
    Ok(emptied)
}
