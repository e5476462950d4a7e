//! The mount system calls, on descriptors only: a bind of a host directory (or of a host
//! socket opened O_PATH) onto a target opened beneath a jail root, the remount that makes
//! it nosuid,nodev (and ro), a private procfs and devpts, and a lazy detach. The kernel is given `/proc/self/fd/N`, so a symlink planted in a jail cannot
//! redirect any of them. Deciding what to mount is `mounts`' job; this only acts.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::{Mode, SFlag, fstat};

fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Binds the host directory `src` onto the directory open as `target` (never recursive).
pub fn bind(src: &Path, target: BorrowedFd<'_>) -> nix::Result<()> {
    mount(
        Some(src),
        &fd_path(target),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
}

/// Opens the host socket `src` O_PATH without following a symlink at its last component,
/// and checks that it is a socket: the descriptor is then bound (`bind_node`), so what is
/// bound is what was checked.
pub fn open_socket(src: &Path) -> std::io::Result<OwnedFd> {
    let fd = nix::fcntl::open(
        src,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let st = fstat(fd.as_fd())?;
    if st.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFSOCK.bits() {
        return Err(std::io::Error::other("it is not a socket"));
    }
    Ok(fd)
}

/// Binds the object open as `src` (an O_PATH descriptor, e.g. a socket) onto the
/// non-directory open as `target` (never recursive).
pub fn bind_node(src: BorrowedFd<'_>, target: BorrowedFd<'_>) -> nix::Result<()> {
    mount(
        Some(&fd_path(src)),
        &fd_path(target),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
}

/// Remounts the bind open as `target` nosuid,nodev, read-only unless `rw`.
pub fn restrict(target: BorrowedFd<'_>, rw: bool) -> nix::Result<()> {
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    if !rw {
        flags |= MsFlags::MS_RDONLY;
    }
    mount(
        None::<&str>,
        &fd_path(target),
        None::<&str>,
        flags,
        None::<&str>,
    )
}

/// Mounts a new procfs instance onto the directory open as `target`, nosuid,nodev,noexec,
/// with the superblock options `data` (`hidepid=invisible,subset=pid`).
pub fn proc_mount(target: BorrowedFd<'_>, data: &str) -> nix::Result<()> {
    mount(
        Some("proc"),
        &fd_path(target),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(data),
    )
}

/// Mounts a new devpts instance onto the directory open as `target`, nosuid,noexec, with
/// the options `data` (`newinstance,ptmxmode=0666,mode=0620,gid=5`).
pub fn devpts_mount(target: BorrowedFd<'_>, data: &str) -> nix::Result<()> {
    mount(
        Some("devpts"),
        &fd_path(target),
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some(data),
    )
}

/// Detaches (lazily) the mount open as `target`.
pub fn detach(target: BorrowedFd<'_>) -> nix::Result<()> {
    umount2(&fd_path(target), MntFlags::MNT_DETACH)
}
