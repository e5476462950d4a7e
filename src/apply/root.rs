//! Opening a jail root once, from `/`, one component at a time with O_NOFOLLOW, so neither
//! the root nor any ancestor may be a symlink; optionally creating what is missing (0755,
//! root-owned). It never touches anything below the jail root.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, open, openat};
use nix::sys::stat::{Mode, SFlag, fchmod, fstatat, mkdirat};
use nix::unistd::{Gid, Uid, fchown};

use super::HostError;
use super::beneath::dir_flags;
use super::errors::{self, is_type, kind_name};

/// Opens `jail` (made absolute against the working directory). Returns the absolute path
/// and the root descriptor.
pub(crate) fn open_root(jail: &Path, create: bool) -> Result<(PathBuf, OwnedFd), HostError> {
    let abs = std::path::absolute(jail)
        .map_err(|e| errors::std_io(jail, jail.display(), "make the jail path absolute", e))?;
    let bad = |component: &Path, why: String| HostError::BadRoot {
        jail: abs.clone(),
        component: component.to_path_buf(),
        why,
    };
    if abs.components().any(|c| c == Component::ParentDir) {
        return Err(bad(&abs, "contains '..'; give the real path".into()));
    }
    let mut cur = open("/", dir_flags(), Mode::empty())
        .map_err(|e| errors::io(&abs, "/", "open the filesystem root", e))?;
    let mut prefix = PathBuf::from("/");
    for comp in abs.components() {
        let Component::Normal(name) = comp else {
            continue;
        };
        prefix.push(name);
        let next =
            match openat(cur.as_fd(), name, dir_flags(), Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) if create => make_root_dir(cur.as_fd(), name, &prefix, &abs)?,
                Err(Errno::ENOENT) => {
                    return Err(HostError::NoRoot {
                        jail: abs.clone(),
                        component: prefix,
                    });
                }
                Err(e) => {
                    return Err(match fstatat(cur.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
                    Ok(st) if is_type(&st, SFlag::S_IFLNK) => bad(
                        &prefix,
                        "is a symlink; jailsmith needs the real path, with no symlink in it"
                            .into(),
                    ),
                    Ok(st) if !is_type(&st, SFlag::S_IFDIR) => {
                        bad(&prefix, format!("is a {}, not a directory", kind_name(&st)))
                    }
                    _ => errors::io(&abs, prefix.display(), "open a jail ancestor", e),
                });
                }
            };
        cur = next;
    }
    Ok((abs, cur))
}

/// mkdir 0755 root:root, set on the opened descriptor (not by path).
fn make_root_dir(
    parent: std::os::fd::BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    shown: &Path,
    jail: &Path,
) -> Result<OwnedFd, HostError> {
    let op = "create the jail root";
    match mkdirat(parent, name, Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(errors::io(jail, shown.display(), op, e)),
    }
    let fd = openat(parent, name, dir_flags(), Mode::empty())
        .map_err(|e| errors::io(jail, shown.display(), op, e))?;
    fchown(fd.as_fd(), Some(Uid::from_raw(0)), Some(Gid::from_raw(0)))
        .map_err(|e| errors::io(jail, shown.display(), "chown the jail root", e))?;
    fchmod(fd.as_fd(), Mode::from_bits_truncate(0o755))
        .map_err(|e| errors::io(jail, shown.display(), "chmod the jail root", e))?;
    Ok(fd)
}
