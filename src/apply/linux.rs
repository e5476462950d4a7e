//! `LinuxHost`: the real `Host`. Holds the jail root open once and reaches every path
//! relative to that descriptor (openat2 / O_NOFOLLOW walks), acting on the last component
//! with `*at` calls and on opened descriptors. It must never follow a symlink inside the
//! jail, set owner or mode by path, or leave a half-written file under a real name.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, readlinkat, renameat};
use nix::sys::stat::{
    FchmodatFlags, FileStat, Mode, SFlag, fchmod, fchmodat, fstat, fstatat, major, makedev, minor,
    mkdirat, mknodat,
};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, fchownat, symlinkat, unlinkat};

use super::beneath::{self, Walk, dir_flags};
use super::errors::{self, file_type, is_type};
use super::host::{Copied, DEVICE_MODE_MASK, EntryKind, FILE_MODE_MASK, Host, HostError, Meta};
use super::root::open_root;
use super::source::open_source;
use super::store::{Object, Store};
use super::{transfer, tree};
use crate::plan::{JailPath, Owner};
use crate::state::Stored;

/// The Linux implementation of `Host`, bound to one jail root.
#[derive(Debug)]
pub struct LinuxHost {
    jail: PathBuf,
    root: OwnedFd,
    walk: Walk,
    /// The shared store copies come from (`build --store`), and whether the jail is on its
    /// filesystem (else files are copied, not linked).
    store: Option<(Store, bool)>,
}

/// A directory descriptor: the jail root itself, or one opened beneath it.
enum Dir<'a> {
    Root(BorrowedFd<'a>),
    Sub(OwnedFd),
}

impl AsFd for Dir<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Dir::Root(fd) => *fd,
            Dir::Sub(fd) => fd.as_fd(),
        }
    }
}

impl LinuxHost {
    /// Opens the jail root (creating it 0755 root-owned, with missing ancestors, when
    /// `create`). Refuses a root that is not a directory or that has a symlink in its path.
    pub fn open(jail: &Path, create: bool) -> Result<LinuxHost, HostError> {
        let (jail, root) = open_root(jail, create)?;
        let walk = beneath::probe(root.as_fd());
        Ok(LinuxHost {
            jail,
            root,
            walk,
            store: None,
        })
    }

    /// Places root-owned copies from `store`: hard links to its objects when the jail is
    /// on the store's filesystem, copies of them otherwise.
    pub fn with_store(mut self, store: Store) -> Result<Self, HostError> {
        let st = fstat(self.root.as_fd()).map_err(|e| errors::io(&self.jail, "/", "stat", e))?;
        let linkable = st.st_dev == store.dev();
        self.store = Some((store, linkable));
        Ok(self)
    }

    /// `Host::secure_root`, on the held descriptor.
    fn own_root(&self) -> Result<bool, HostError> {
        let op = "secure the jail root";
        let err = |e| errors::io(&self.jail, "/", op, e);
        let st = fstat(self.root.as_fd()).map_err(err)?;
        let mut changed = false;
        if (st.st_uid, st.st_gid) != (0, 0) {
            fchown(
                self.root.as_fd(),
                Some(Uid::from_raw(0)),
                Some(Gid::from_raw(0)),
            )
            .map_err(err)?;
            changed = true;
        }
        let mode = st.st_mode & 0o7777;
        let safe = mode & FILE_MODE_MASK & !0o022;
        if mode != safe {
            fchmod(self.root.as_fd(), Mode::from_bits_truncate(safe)).map_err(err)?;
            changed = true;
        }
        Ok(changed)
    }

    /// Walks the whole jail read-only by descriptor (for `check`), skipping the in-jail
    /// paths in `skip` (mount points).
    pub fn walk(&self, skip: &[String]) -> nix::Result<super::walk::WalkResult> {
        super::walk::walk(self.root.as_fd(), skip)
    }

    /// Removes below the jail root what `policy` says, never across a mount, never through
    /// a symlink (with `dry`: only reports what it would remove and keep).
    pub fn remove_below(
        &self,
        policy: tree::Policy<'_>,
        dry: bool,
    ) -> Result<tree::Removal, HostError> {
        tree::remove_below(&self.jail, self.root.as_fd(), "", policy, dry)
    }

    /// What `remove_below` would remove once the mounts below the root are gone: a dry
    /// run that sees each mount point as the empty directory it will be.
    pub fn report_below_unmounted(
        &self,
        policy: tree::Policy<'_>,
    ) -> Result<tree::Removal, HostError> {
        tree::report_below_unmounted(&self.jail, self.root.as_fd(), "", policy)
    }

    /// Removes the empty directory `name` directly below the held root (the root of
    /// `LinuxHost::open(parent)` is the parent of the jail being removed).
    pub fn remove_empty_child(&self, name: &OsStr) -> Result<(), HostError> {
        unlinkat(self.root.as_fd(), name, UnlinkatFlags::RemoveDir)
            .map_err(|e| errors::io(&self.jail, name.to_string_lossy(), "remove directory", e))
    }

    /// Opens the directory `path` beneath the root without following any symlink (for
    /// mount targets and tree removal, which act on descriptors).
    pub fn open_dir(&self, path: &JailPath, op: &'static str) -> Result<OwnedFd, HostError> {
        beneath::open_dir(self.root.as_fd(), path.rel(), self.walk, &self.jail, op)
    }

    /// Opens `path` (of any type but a symlink) O_PATH beneath the root without following
    /// any symlink, for a mount point that is not a directory (a socket bound at dev/log):
    /// the descriptor is only stat'ed, mounted on or detached.
    pub fn open_node(&self, path: &JailPath, op: &'static str) -> Result<OwnedFd, HostError> {
        let dir = self.parent(path, op)?;
        let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = openat(dir.as_fd(), path.file_name(), flags, Mode::empty())
            .map_err(|e| self.io(path, op, e))?;
        let st = fstat(fd.as_fd()).map_err(|e| self.io(path, op, e))?;
        if is_type(&st, SFlag::S_IFLNK) {
            return Err(self.symlink_err(path, op));
        }
        Ok(fd)
    }

    /// Removes `path` and, for a directory, everything below it (`tree`): iteratively, by
    /// descriptor, never through a symlink, never across a mount.
    pub fn remove_tree(&self, path: &JailPath) -> Result<tree::Removal, HostError> {
        let op = "remove";
        let dir = self.parent(path, op)?;
        match self.lstat(&dir, path, op)? {
            None => Ok(tree::Removal::default()),
            Some(st) if is_type(&st, SFlag::S_IFDIR) => {
                tree::remove_dir_tree(&self.jail, dir.as_fd(), path.file_name(), &path.to_string())
            }
            Some(_) => {
                let files = u64::from(self.remove(path)?);
                Ok(tree::Removal {
                    files,
                    ..Default::default()
                })
            }
        }
    }

    /// Opens a regular file for reading without following a symlink in any component (for
    /// read-only inspection such as `check`'s loader simulation); refuses other types.
    pub fn open_read(&self, path: &JailPath) -> Result<File, HostError> {
        self.open_regular(path, "read")
    }

    /// Uses the per-component O_NOFOLLOW walk even where openat2 exists (tests the fallback).
    #[doc(hidden)]
    pub fn without_openat2(mut self) -> Self {
        self.walk = Walk::PerComponent;
        self
    }

    /// The directory holding `path`, opened without following symlinks.
    fn parent(&self, path: &JailPath, op: &'static str) -> Result<Dir<'_>, HostError> {
        match path.parent() {
            None => Ok(Dir::Root(self.root.as_fd())),
            Some(p) => beneath::open_dir(self.root.as_fd(), p.rel(), self.walk, &self.jail, op)
                .map(Dir::Sub),
        }
    }

    /// lstat of the last component; `Ok(None)` when absent.
    fn lstat(
        &self,
        dir: &Dir<'_>,
        path: &JailPath,
        op: &'static str,
    ) -> Result<Option<FileStat>, HostError> {
        match fstatat(dir.as_fd(), path.file_name(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(self.io(path, op, e)),
        }
    }

    fn io(&self, path: &JailPath, op: &'static str, e: Errno) -> HostError {
        errors::io(&self.jail, path, op, e)
    }

    /// True when a directory is at `path` (in its parent `dir`), false when nothing is;
    /// a symlink or another type there is refused as `make_dir` refuses it.
    fn dir_there(
        &self,
        dir: &Dir<'_>,
        path: &JailPath,
        op: &'static str,
    ) -> Result<bool, HostError> {
        match self.lstat(dir, path, op)? {
            Some(st) if is_type(&st, SFlag::S_IFDIR) => Ok(true),
            Some(st) if is_type(&st, SFlag::S_IFLNK) => Err(self.symlink_err(path, op)),
            Some(st) => Err(self.wrong(path, &st, "directory", op)),
            None => Ok(false),
        }
    }

    /// What `make_dir` would find, changing nothing (a dry run): true for a directory,
    /// false when it would make one, its refusal of a symlink or another type there.
    pub fn check_dir(&self, path: &JailPath) -> Result<bool, HostError> {
        let op = "create directory";
        let dir = self.parent(path, op)?;
        self.dir_there(&dir, path, op)
    }

    fn symlink_err(&self, path: &JailPath, op: &'static str) -> HostError {
        errors::symlink(&self.jail, path, op)
    }

    fn wrong(
        &self,
        path: &JailPath,
        st: &FileStat,
        exp: &'static str,
        op: &'static str,
    ) -> HostError {
        errors::wrong_type(&self.jail, path, st, exp, op)
    }

    /// What is at `path` may be replaced by an object of type `allowed`, or is absent.
    fn check_replaceable(
        &self,
        dir: &Dir<'_>,
        path: &JailPath,
        allowed: SFlag,
        expected: &'static str,
        op: &'static str,
    ) -> Result<(), HostError> {
        match self.lstat(dir, path, op)? {
            None => Ok(()),
            Some(st) if is_type(&st, allowed) => Ok(()),
            Some(st) if is_type(&st, SFlag::S_IFLNK) => Err(self.symlink_err(path, op)),
            Some(st) => Err(self.wrong(path, &st, expected, op)),
        }
    }

    /// Creates, fills, chowns and chmods a temporary file beside `path`, then renames it
    /// over `path`. The temporary is removed on any failure.
    fn replace_file<T>(
        &self,
        path: &JailPath,
        mode: u32,
        owner: Owner,
        op: &'static str,
        fill: impl FnOnce(&File) -> std::io::Result<T>,
    ) -> Result<(T, Meta), HostError> {
        let dir = self.parent(path, op)?;
        self.check_replaceable(&dir, path, SFlag::S_IFREG, "regular file", op)?;
        let (tmp, file) = self.create_temp_file(&dir, path, op)?;
        let result = (|| {
            let out = fill(&file).map_err(|e| errors::std_io(&self.jail, path, op, e))?;
            set_owner_mode(file.as_fd(), owner, mode & FILE_MODE_MASK)
                .map_err(|e| self.io(path, "set owner and mode of", e))?;
            // What the file is once in place: a rename changes neither its mtime nor its
            // owner, mode or size.
            let st = fstat(file.as_fd()).map_err(|e| self.io(path, op, e))?;
            self.rename_into_place(&dir, &tmp, path, op)?;
            Ok((out, meta_of(&st, None)))
        })();
        if result.is_err() {
            let _ = unlinkat(dir.as_fd(), tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        }
        result
    }

    fn create_temp_file(
        &self,
        dir: &Dir<'_>,
        path: &JailPath,
        op: &'static str,
    ) -> Result<(OsString, File), HostError> {
        let flags =
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        with_temp_name(|tmp| {
            openat(dir.as_fd(), tmp, flags, Mode::from_bits_truncate(0o600))
                .map(|fd| (tmp.to_os_string(), File::from(fd)))
        })
        .map_err(|e| self.io(path, op, e))
    }

    fn rename_into_place(
        &self,
        dir: &Dir<'_>,
        tmp: &OsStr,
        path: &JailPath,
        op: &'static str,
    ) -> Result<(), HostError> {
        renameat(dir.as_fd(), tmp, dir.as_fd(), path.file_name()).map_err(|e| self.io(path, op, e))
    }

    /// Creates a node under a temporary name with `create`, makes it root-owned (the link or
    /// node itself), optionally fixes its mode, and renames it over `path`.
    fn replace_node(
        &self,
        dir: &Dir<'_>,
        path: &JailPath,
        op: &'static str,
        create: impl Fn(&OsStr) -> nix::Result<()>,
        fix_mode: Option<u32>,
    ) -> Result<(), HostError> {
        let tmp = with_temp_name(|tmp| create(tmp).map(|()| tmp.to_os_string()))
            .map_err(|e| self.io(path, op, e))?;
        let result = (|| {
            fchownat(
                dir.as_fd(),
                tmp.as_os_str(),
                Some(Uid::from_raw(0)),
                Some(Gid::from_raw(0)),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(|e| self.io(path, "chown", e))?;
            if let Some(mode) = fix_mode {
                chmod_device(dir.as_fd(), &tmp, mode).map_err(|e| self.io(path, "chmod", e))?;
            }
            self.rename_into_place(dir, &tmp, path, op)
        })();
        if result.is_err() {
            let _ = unlinkat(dir.as_fd(), tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        }
        result
    }

    /// Opens a regular file for reading: refuses symlinks and every other type before
    /// opening (so no device driver is ever opened), opens O_NONBLOCK|O_NOFOLLOW, re-checks.
    fn open_regular(&self, path: &JailPath, op: &'static str) -> Result<File, HostError> {
        let dir = self.parent(path, op)?;
        let Some(st) = self.lstat(&dir, path, op)? else {
            return Err(self.io(path, op, Errno::ENOENT));
        };
        self.require_regular(path, &st, op)?;
        // O_NOATIME: deciding that a step is unchanged must not even change an atime.
        let flags = OFlag::O_RDONLY
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_NOCTTY
            | OFlag::O_CLOEXEC;
        let name = path.file_name();
        let fd = openat(dir.as_fd(), name, flags | OFlag::O_NOATIME, Mode::empty())
            .or_else(|e| match e {
                // O_NOATIME needs ownership or CAP_FOWNER
                Errno::EPERM => openat(dir.as_fd(), name, flags, Mode::empty()),
                e => Err(e),
            })
            .map_err(|e| match e {
                Errno::ELOOP => self.symlink_err(path, op),
                e => self.io(path, op, e),
            })?;
        let st = fstat(fd.as_fd()).map_err(|e| self.io(path, op, e))?;
        self.require_regular(path, &st, op)?;
        Ok(File::from(fd))
    }

    fn require_regular(
        &self,
        path: &JailPath,
        st: &FileStat,
        op: &'static str,
    ) -> Result<(), HostError> {
        match file_type(st) {
            SFlag::S_IFREG => Ok(()),
            SFlag::S_IFLNK => Err(self.symlink_err(path, op)),
            _ => Err(self.wrong(path, st, "regular file", op)),
        }
    }

    /// Why opening `path` as a directory failed: a symlink, another type, or an I/O error.
    fn explain_not_dir(
        &self,
        dir: &Dir<'_>,
        path: &JailPath,
        op: &'static str,
        e: Errno,
    ) -> HostError {
        match self.lstat(dir, path, op) {
            Ok(Some(st)) if is_type(&st, SFlag::S_IFLNK) => self.symlink_err(path, op),
            Ok(Some(st)) if !is_type(&st, SFlag::S_IFDIR) => self.wrong(path, &st, "directory", op),
            _ => self.io(path, op, e),
        }
    }

    /// Brings an existing directory's owner and mode to the plan, on its descriptor.
    fn fix_dir(
        &self,
        dir: &Dir<'_>,
        path: &JailPath,
        mode: u32,
        owner: Owner,
    ) -> Result<bool, HostError> {
        let op = "fix owner and mode of";
        let fd = openat(dir.as_fd(), path.file_name(), dir_flags(), Mode::empty())
            .map_err(|e| self.explain_not_dir(dir, path, op, e))?;
        let st = fstat(fd.as_fd()).map_err(|e| self.io(path, op, e))?;
        let mut changed = false;
        if (st.st_uid, st.st_gid) != (owner.uid, owner.gid) {
            fchown(
                fd.as_fd(),
                Some(Uid::from_raw(owner.uid)),
                Some(Gid::from_raw(owner.gid)),
            )
            .map_err(|e| self.io(path, "chown", e))?;
            changed = true;
        }
        let have = fstat(fd.as_fd()).map_err(|e| self.io(path, op, e))?.st_mode & 0o7777;
        if have != mode & FILE_MODE_MASK {
            fchmod(fd.as_fd(), Mode::from_bits_truncate(mode & FILE_MODE_MASK))
                .map_err(|e| self.io(path, "chmod", e))?;
            changed = true;
        }
        Ok(changed)
    }

    /// Copies a host file (already opened and checked) into a new temporary file, hashing
    /// what it writes.
    fn fill_from(&self, src: &File, dst: &File) -> std::io::Result<Copied> {
        let (sha256, size) = transfer::copy_hashed(src, dst)?;
        Ok(Copied {
            sha256,
            size,
            meta: None,
            stored: None,
        })
    }

    /// `copy_file` with a store: the store's object for this content, mode and mtime,
    /// hard-linked under a temporary name beside `path` and renamed over it (never written
    /// in place); a copy of the object where the kernel refuses the link (EXDEV: another
    /// filesystem or mount).
    fn link_stored(
        &self,
        store: &Store,
        src: &Path,
        path: &JailPath,
        mode: u32,
    ) -> Result<Copied, HostError> {
        let op = "link into";
        let obj = store.ingest(src, mode & FILE_MODE_MASK)?;
        let ost = obj.stat()?;
        let dir = self.parent(path, op)?;
        self.check_replaceable(&dir, path, SFlag::S_IFREG, "regular file", op)?;
        let linked = |st: &FileStat| Copied {
            sha256: obj.sha256.clone(),
            size: obj.size,
            meta: Some(meta_of(st, None)),
            stored: Some(Stored::Linked(obj.name.clone())),
        };
        if let Some(cur) = self.lstat(&dir, path, op)?
            && (cur.st_dev, cur.st_ino) == (ost.st_dev, ost.st_ino)
        {
            return Ok(linked(&ost));
        }
        let tmp = with_temp_name(|tmp| {
            nix::unistd::linkat(
                obj.dir_fd(),
                obj.name.as_str(),
                dir.as_fd(),
                tmp,
                AtFlags::empty(),
            )
            .map(|()| tmp.to_os_string())
        });
        let tmp = match tmp {
            Ok(tmp) => tmp,
            Err(Errno::EXDEV) => return self.copy_object(&obj, &ost, path, mode),
            Err(e) => return Err(self.io(path, op, e)),
        };
        let placed = self.rename_into_place(&dir, &tmp, path, op);
        // renaming a link over another link of the same inode does nothing and keeps both
        // names: the temporary then goes (after a real rename it is already gone)
        let _ = unlinkat(dir.as_fd(), tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        placed?;
        Ok(linked(&obj.stat()?))
    }

    /// A private copy of a store object, for a jail that cannot link to it.
    fn copy_object(
        &self,
        obj: &Object,
        ost: &FileStat,
        path: &JailPath,
        mode: u32,
    ) -> Result<Copied, HostError> {
        let source = obj.open()?;
        let (copied, meta) = self.replace_file(path, mode, Owner::ROOT, "copy into", |dst| {
            let copied = self.fill_from(&source, dst)?;
            keep_times(dst.as_fd(), ost)?;
            Ok(copied)
        })?;
        Ok(Copied {
            meta: Some(meta),
            stored: Some(Stored::Copied),
            ..copied
        })
    }
}

/// Gives an open file the access and modification times of `src` (futimens).
fn keep_times(fd: BorrowedFd<'_>, src: &FileStat) -> std::io::Result<()> {
    let (atime, mtime) = times_of(src);
    nix::sys::stat::futimens(fd, &atime, &mtime).map_err(std::io::Error::from)
}

/// (atime, mtime) of a stat, as `TimeSpec`s.
fn times_of(st: &FileStat) -> (nix::sys::time::TimeSpec, nix::sys::time::TimeSpec) {
    use nix::sys::time::TimeSpec;
    (
        TimeSpec::new(st.st_atime, st.st_atime_nsec),
        TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
    )
}

/// fchown then fchmod on an open descriptor (chown first: it may clear mode bits).
fn set_owner_mode(fd: BorrowedFd<'_>, owner: Owner, mode: u32) -> nix::Result<()> {
    fchown(
        fd,
        Some(Uid::from_raw(owner.uid)),
        Some(Gid::from_raw(owner.gid)),
    )?;
    fchmod(fd, Mode::from_bits_truncate(mode))
}

/// chmod of a device node just created under a temporary name: AT_SYMLINK_NOFOLLOW where
/// the kernel/libc support it; otherwise only after checking it is still a device node.
fn chmod_device(dir: BorrowedFd<'_>, tmp: &OsStr, mode: u32) -> nix::Result<()> {
    let mode = Mode::from_bits_truncate(mode & DEVICE_MODE_MASK);
    match fchmodat(dir, tmp, mode, FchmodatFlags::NoFollowSymlink) {
        Err(Errno::EOPNOTSUPP | Errno::ENOSYS) => {
            let st = fstatat(dir, tmp, AtFlags::AT_SYMLINK_NOFOLLOW)?;
            if !is_type(&st, SFlag::S_IFCHR) {
                return Err(Errno::ELOOP);
            }
            fchmodat(dir, tmp, mode, FchmodatFlags::FollowSymlink)
        }
        other => other,
    }
}

/// Runs `create` with fresh `.jailsmith-tmp-XXXX` names until one does not exist yet.
fn with_temp_name<T>(mut create: impl FnMut(&OsStr) -> nix::Result<T>) -> nix::Result<T> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut last = Errno::EEXIST;
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            ".jailsmith-tmp-{:x}{:x}{:08x}",
            std::process::id(),
            n,
            nanos
        );
        match create(OsStr::new(&name)) {
            Err(Errno::EEXIST) => last = Errno::EEXIST,
            other => return other,
        }
    }
    Err(last)
}

/// Turns a stat result (and, for a link, its target) into `Meta`.
fn meta_of(st: &FileStat, target: Option<PathBuf>) -> Meta {
    let kind = match file_type(st) {
        SFlag::S_IFREG => EntryKind::File,
        SFlag::S_IFDIR => EntryKind::Dir,
        SFlag::S_IFLNK => EntryKind::Symlink {
            target: target.unwrap_or_default(),
        },
        SFlag::S_IFCHR => EntryKind::CharDevice {
            major: major(st.st_rdev),
            minor: minor(st.st_rdev),
        },
        SFlag::S_IFBLK => EntryKind::BlockDevice,
        SFlag::S_IFIFO => EntryKind::Fifo,
        _ => EntryKind::Socket,
    };
    Meta {
        kind,
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        size: st.st_size as u64,
        mtime_ns: super::store::mtime_ns(st),
        ino: st.st_ino,
        nlink: st.st_nlink,
    }
}

impl LinuxHost {
    /// `Host::sweep_temporaries`: a directory others can write (a sticky /tmp, a home) is
    /// left alone.
    fn sweep_dir(&self, dir: Option<&JailPath>) -> Result<usize, HostError> {
        let op = "sweep temporaries in";
        let shown = dir.map_or("/".to_string(), |d| d.to_string());
        let fd = match dir {
            None => self
                .root
                .try_clone()
                .map_err(|e| errors::std_io(&self.jail, &shown, op, e))?,
            Some(d) => self.open_dir(d, op)?,
        };
        let st = fstat(fd.as_fd()).map_err(|e| errors::io(&self.jail, &shown, op, e))?;
        if st.st_uid != 0 || st.st_mode & 0o022 != 0 {
            return Ok(0);
        }
        let dup = fd
            .try_clone()
            .map_err(|e| errors::std_io(&self.jail, &shown, op, e))?;
        let mut list =
            nix::dir::Dir::from_fd(dup).map_err(|e| errors::io(&self.jail, &shown, op, e))?;
        let names: Vec<OsString> = list
            .iter()
            .filter_map(Result::ok)
            .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
            .filter(|n| n.as_bytes().starts_with(b".jailsmith-tmp-"))
            .collect();
        let mut n = 0;
        for name in names {
            let Ok(st) = fstatat(fd.as_fd(), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) else {
                continue;
            };
            if st.st_uid == 0
                && !is_type(&st, SFlag::S_IFDIR)
                && unlinkat(fd.as_fd(), name.as_os_str(), UnlinkatFlags::NoRemoveDir).is_ok()
            {
                n += 1;
            }
        }
        Ok(n)
    }
}

impl Host for LinuxHost {
    fn root(&self) -> &Path {
        &self.jail
    }

    fn secure_root(&self) -> Result<bool, HostError> {
        self.own_root()
    }

    fn sweep_temporaries(&self, dir: Option<&JailPath>) -> Result<usize, HostError> {
        self.sweep_dir(dir)
    }

    fn mount(
        &self,
        path: &JailPath,
        mount: &crate::plan::MountKind,
    ) -> Result<crate::apply::binds::Made, crate::apply::binds::MountError> {
        crate::apply::binds::mount(self, path, mount)
    }

    fn unmount(
        &self,
        path: &JailPath,
        mount_id: u64,
    ) -> Result<bool, crate::apply::binds::MountError> {
        crate::apply::binds::unmount(self, path, mount_id)
    }

    fn stat(&self, path: &JailPath) -> Result<Option<Meta>, HostError> {
        let op = "stat";
        let dir = match self.parent(path, op) {
            Ok(d) => d,
            Err(HostError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let Some(st) = self.lstat(&dir, path, op)? else {
            return Ok(None);
        };
        let target = if is_type(&st, SFlag::S_IFLNK) {
            let t = readlinkat(dir.as_fd(), path.file_name())
                .map_err(|e| self.io(path, "read the symlink", e))?;
            Some(PathBuf::from(t))
        } else {
            None
        };
        Ok(Some(meta_of(&st, target)))
    }

    fn make_dir(&self, path: &JailPath, mode: u32, owner: Owner) -> Result<bool, HostError> {
        let op = "create directory";
        let dir = self.parent(path, op)?;
        match self.dir_there(&dir, path, op)? {
            true => self.fix_dir(&dir, path, mode, owner),
            false => {
                mkdirat(
                    dir.as_fd(),
                    path.file_name(),
                    Mode::from_bits_truncate(0o700),
                )
                .map_err(|e| self.io(path, op, e))?;
                self.fix_dir(&dir, path, mode, owner)?;
                Ok(true)
            }
        }
    }

    fn copy_file(
        &self,
        src: &Path,
        path: &JailPath,
        mode: u32,
        owner: Owner,
    ) -> Result<Copied, HostError> {
        let stored = match &self.store {
            Some((store, true)) if owner == Owner::ROOT => {
                return self.link_stored(store, src, path, mode);
            }
            Some(_) => Some(Stored::Copied),
            None => None,
        };
        let (source, st) = open_source(src).map_err(|e| e.into_host(src, "open"))?;
        let (copied, meta) = self.replace_file(path, mode, owner, "copy into", |dst| {
            let copied = self.fill_from(&source, dst)?;
            // like `cp -a`: the copy keeps the source's times (Python's bytecode caches and
            // plugin caches compare them), set on the descriptor before the rename
            keep_times(dst.as_fd(), &st)?;
            Ok(copied)
        })?;
        Ok(Copied {
            meta: Some(meta),
            stored,
            ..copied
        })
    }

    fn uses_store(&self) -> bool {
        self.store.is_some()
    }

    fn write_file(
        &self,
        path: &JailPath,
        content: &[u8],
        mode: u32,
        owner: Owner,
    ) -> Result<(), HostError> {
        self.replace_file(path, mode, owner, "write", |mut dst| {
            std::io::Write::write_all(&mut dst, content)
        })
        .map(drop)
    }

    fn symlink(&self, path: &JailPath, target: &Path) -> Result<(), HostError> {
        let op = "create symlink";
        let dir = self.parent(path, op)?;
        match self.lstat(&dir, path, op)? {
            None => {}
            Some(st) if is_type(&st, SFlag::S_IFLNK) => {}
            Some(st) => return Err(self.wrong(path, &st, "symlink", op)),
        }
        self.replace_node(
            &dir,
            path,
            op,
            |tmp| symlinkat(target, dir.as_fd(), tmp),
            None,
        )
    }

    fn copy_link_times(&self, path: &JailPath, src: &Path) -> Result<(), HostError> {
        let op = "set the times of the symlink";
        let Ok(st) = nix::sys::stat::lstat(src) else {
            return Ok(());
        };
        if !is_type(&st, SFlag::S_IFLNK) {
            return Ok(());
        }
        let dir = self.parent(path, op)?;
        match self.lstat(&dir, path, op)? {
            Some(have) if is_type(&have, SFlag::S_IFLNK) => {}
            _ => return Err(self.symlink_err(path, op)),
        }
        let (atime, mtime) = times_of(&st);
        nix::sys::stat::utimensat(
            dir.as_fd(),
            path.file_name(),
            &atime,
            &mtime,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| self.io(path, op, e))
    }

    fn make_char_device(
        &self,
        path: &JailPath,
        major: u64,
        minor: u64,
        mode: u32,
    ) -> Result<(), HostError> {
        let op = "create device node";
        let dir = self.parent(path, op)?;
        self.check_replaceable(&dir, path, SFlag::S_IFCHR, "character device", op)?;
        let perm = Mode::from_bits_truncate(mode & DEVICE_MODE_MASK);
        let dev = makedev(major, minor);
        let create = |tmp: &OsStr| mknodat(dir.as_fd(), tmp, SFlag::S_IFCHR, perm, dev);
        self.replace_node(&dir, path, op, create, Some(mode))
    }

    fn read_file(&self, path: &JailPath) -> Result<Vec<u8>, HostError> {
        let mut f = self.open_regular(path, "read")?;
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut out)
            .map_err(|e| errors::std_io(&self.jail, path, "read", e))?;
        Ok(out)
    }

    fn hash_file(&self, path: &JailPath) -> Result<String, HostError> {
        let f = self.open_regular(path, "hash")?;
        transfer::hash_reader(&f)
            .map(|(sha, _)| sha)
            .map_err(|e| errors::std_io(&self.jail, path, "hash", e))
    }

    fn remove(&self, path: &JailPath) -> Result<bool, HostError> {
        let op = "remove";
        let dir = self.parent(path, op)?;
        match self.lstat(&dir, path, op)? {
            None => Ok(false),
            Some(st) if is_type(&st, SFlag::S_IFDIR) => {
                Err(self.wrong(path, &st, "non-directory", op))
            }
            Some(_) => match unlinkat(dir.as_fd(), path.file_name(), UnlinkatFlags::NoRemoveDir) {
                Ok(()) => Ok(true),
                Err(Errno::ENOENT) => Ok(false),
                Err(e) => Err(self.io(path, op, e)),
            },
        }
    }

    fn remove_dir(&self, path: &JailPath) -> Result<bool, HostError> {
        let op = "remove directory";
        let dir = self.parent(path, op)?;
        match unlinkat(dir.as_fd(), path.file_name(), UnlinkatFlags::RemoveDir) {
            Ok(()) => Ok(true),
            Err(Errno::ENOENT | Errno::ENOTEMPTY | Errno::EEXIST) => Ok(false),
            Err(Errno::ENOTDIR) => match self.lstat(&dir, path, op)? {
                Some(st) if is_type(&st, SFlag::S_IFLNK) => Err(self.symlink_err(path, op)),
                Some(st) => Err(self.wrong(path, &st, "directory", op)),
                None => Ok(false),
            },
            Err(e) => Err(self.io(path, op, e)),
        }
    }
    fn remove_tree(&self, path: &JailPath) -> Result<tree::Removal, HostError> {
        LinuxHost::remove_tree(self, path)
    }
    fn tighten(
        &self,
        path: &JailPath,
        clear: u32,
        drop_caps: bool,
        to_root: bool,
    ) -> Result<bool, HostError> {
        let op = "tighten";
        let dir = self.parent(path, op)?;
        let flags = OFlag::O_RDONLY
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_NOCTTY
            | OFlag::O_CLOEXEC;
        let fd =
            openat(dir.as_fd(), path.file_name(), flags, Mode::empty()).map_err(|e| match e {
                Errno::ELOOP => self.symlink_err(path, op),
                e => self.io(path, op, e),
            })?;
        let st = fstat(fd.as_fd()).map_err(|e| self.io(path, op, e))?;
        if !is_type(&st, SFlag::S_IFREG) && !is_type(&st, SFlag::S_IFDIR) {
            return Err(self.wrong(path, &st, "regular file or directory", op));
        }
        let mut changed = false;
        if drop_caps && is_type(&st, SFlag::S_IFREG) {
            changed |= super::xattr::remove_file_capability(fd.as_fd())
                .map_err(|e| self.io(path, op, Errno::from_raw(e.raw_os_error().unwrap_or(0))))?;
        }
        if to_root && (st.st_uid != 0 || st.st_gid != 0) {
            fchown(fd.as_fd(), Some(Uid::from_raw(0)), Some(Gid::from_raw(0)))
                .map_err(|e| self.io(path, op, e))?;
            changed = true;
        }
        let mode = st.st_mode & 0o7777;
        if mode & clear != 0 {
            fchmod(fd.as_fd(), Mode::from_bits_truncate(mode & !clear))
                .map_err(|e| self.io(path, op, e))?;
            changed = true;
        }
        Ok(changed)
    }
}
