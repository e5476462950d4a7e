//! Opening directories inside a jail relative to its root descriptor without ever following
//! a symlink: `openat2` with RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS, and
//! a component-by-component `openat(O_NOFOLLOW|O_DIRECTORY)` walk where the kernel lacks it
//! (or to name the component that made `openat2` fail). It opens; it never modifies.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::{Mode, SFlag, fstatat};

use super::HostError;
use super::errors::{self, is_type};

/// Flags for every directory descriptor jailsmith opens inside a jail.
pub(crate) fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// How directories beneath the root are reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Walk {
    /// One `openat2` call; on any failure, the per-component walk names the culprit.
    Openat2,
    /// `openat(O_NOFOLLOW)` per component (kernels before 5.6).
    PerComponent,
}

/// Whether `openat2` works here (ENOSYS before Linux 5.6, EPERM under some seccomp
/// filters), probed once on the jail root.
pub(crate) fn probe(root: BorrowedFd<'_>) -> Walk {
    match openat2(root, ".", how()) {
        Ok(_) => Walk::Openat2,
        Err(_) => Walk::PerComponent,
    }
}

fn how() -> OpenHow {
    OpenHow::new().flags(dir_flags()).resolve(
        ResolveFlag::RESOLVE_NO_SYMLINKS
            | ResolveFlag::RESOLVE_BENEATH
            | ResolveFlag::RESOLVE_NO_MAGICLINKS,
    )
}

/// Opens the directory `rel` (relative, normal components only) beneath `root`.
/// A symlink in any component is `HostError::Symlink` naming that component's path;
/// a non-directory is `HostError::WrongType`; a missing one is an `Io` NotFound error.
pub(crate) fn open_dir(
    root: BorrowedFd<'_>,
    rel: &Path,
    walk: Walk,
    jail: &Path,
    op: &'static str,
) -> Result<OwnedFd, HostError> {
    if walk == Walk::Openat2 {
        for _ in 0..4 {
            match openat2(root, rel, how()) {
                Ok(fd) => return Ok(fd),
                // a concurrent rename somewhere in the jail; try again
                Err(Errno::EAGAIN) => continue,
                Err(_) => break,
            }
        }
    }
    walk_components(root, rel, jail, op)
}

fn walk_components(
    root: BorrowedFd<'_>,
    rel: &Path,
    jail: &Path,
    op: &'static str,
) -> Result<OwnedFd, HostError> {
    let mut cur = root
        .try_clone_to_owned()
        .map_err(|e| errors::std_io(jail, "/", op, e))?;
    let mut prefix = PathBuf::from("/");
    for comp in rel.components() {
        prefix.push(comp);
        match openat(cur.as_fd(), comp.as_os_str(), dir_flags(), Mode::empty()) {
            Ok(fd) => cur = fd,
            Err(e) => {
                return Err(classify(
                    cur.as_fd(),
                    comp.as_os_str(),
                    &prefix,
                    e,
                    jail,
                    op,
                ));
            }
        }
    }
    Ok(cur)
}

/// Explains why opening `name` in `dir` as a directory failed.
fn classify(
    dir: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    shown: &Path,
    e: Errno,
    jail: &Path,
    op: &'static str,
) -> HostError {
    let shown = shown.display();
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if is_type(&st, SFlag::S_IFLNK) => errors::symlink(jail, shown, op),
        Ok(st) if !is_type(&st, SFlag::S_IFDIR) => {
            errors::wrong_type(jail, shown, &st, "directory", op)
        }
        _ => errors::io(jail, shown, op, e),
    }
}
