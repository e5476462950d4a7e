//! The one safe writer for root-owned files outside every jail: sshd drop-ins, authorized
//! keys, unit files, mount units, slice drop-ins and jailsmith's own state (DESIGN §5.11).
//! The directory is opened once without following a symlink and must be a root-owned
//! directory nobody else can write; everything after that is relative to its descriptor: a
//! temporary created `O_CREAT|O_EXCL|O_NOFOLLOW` under an unpredictable name, filled,
//! fchown/fchmod, fsync (unless the caller asks for a lazy write), `renameat` over the real
//! name, fsync of the directory. It never follows a symlink, never writes through one, and
//! never leaves a half-written file under a real name.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, open, openat, renameat};
use nix::sys::stat::{FileStat, Mode, SFlag, fchmod, fstat, fstatat, mkdirat};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, fsync, unlinkat};
use serde::Serialize;

use super::errors::{file_type, kind_name};

/// A failure of the safe writer, naming the path and the operation.
#[derive(Debug, thiserror::Error)]
pub enum RootFileError {
    /// The directory (or the file) is not one only root controls: refused before writing.
    #[error("refusing to {op} {path}: {why}")]
    Unsafe {
        op: &'static str,
        path: PathBuf,
        why: String,
    },
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl RootFileError {
    /// The exit code of this failure class (`crate::exit`).
    pub fn exit_code(&self) -> u8 {
        match self {
            RootFileError::Unsafe { .. } => crate::exit::REFUSED,
            RootFileError::Io { .. } => crate::exit::HOST_FAILURE,
        }
    }

    /// The underlying I/O error kind, when there is one.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            RootFileError::Io { source, .. } => Some(source.kind()),
            RootFileError::Unsafe { .. } => None,
        }
    }
}

fn io(op: &'static str, path: &Path, e: Errno) -> RootFileError {
    RootFileError::Io {
        op,
        path: path.to_path_buf(),
        source: std::io::Error::from_raw_os_error(e as i32),
    }
}

fn std_io(op: &'static str, path: &Path, source: std::io::Error) -> RootFileError {
    RootFileError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Written {
    Created,
    Updated,
    Unchanged,
}

/// Whether a write is flushed to disk before the rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync the file, then the directory: drop-ins, keys, units.
    Fsync,
    /// No fsync: the state written after a build, whose fsync would make ext4 flush every
    /// file the build just wrote. A state lost in a crash only costs a re-copy (a jail file
    /// without a manifest entry is never taken as current).
    Lazy,
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// Why `st` (a directory) is not one only root controls, if it is not.
fn unsafe_dir_reason(st: &FileStat) -> Option<String> {
    if file_type(st) != SFlag::S_IFDIR {
        return Some(format!("it is a {}, not a directory", kind_name(st)));
    }
    if st.st_uid != 0 {
        return Some(format!("it is owned by uid {}, not root", st.st_uid));
    }
    if st.st_mode & 0o022 != 0 {
        return Some(format!(
            "it is writable by group or others (mode {:04o})",
            st.st_mode & 0o7777
        ));
    }
    None
}

/// Why `st` (a directory) is no place for root to create a directory in, if it is not:
/// someone else's, or writable by group or others without the sticky bit.
fn unsafe_parent_reason(st: &FileStat) -> Option<String> {
    match unsafe_dir_reason(st) {
        Some(_)
            if file_type(st) == SFlag::S_IFDIR && st.st_uid == 0 && st.st_mode & 0o1000 != 0 =>
        {
            None
        }
        why => why,
    }
}

/// A directory only root controls, held open: every file operation is relative to it.
#[derive(Debug)]
pub struct RootDir {
    path: PathBuf,
    fd: OwnedFd,
}

impl RootDir {
    /// Opens `dir` (absolute; its last component must not be a symlink) and checks that it
    /// is a root-owned directory that group and others cannot write.
    pub fn open(dir: &Path) -> Result<RootDir, RootFileError> {
        if !dir.is_absolute() {
            return Err(RootFileError::Unsafe {
                op: "write into",
                path: dir.to_path_buf(),
                why: "it is not an absolute path".into(),
            });
        }
        let fd = match open(dir, dir_flags(), Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ELOOP | Errno::ENOTDIR) => {
                let why = match std::fs::symlink_metadata(dir) {
                    Ok(m) if m.file_type().is_symlink() => "it is a symlink".to_string(),
                    Ok(_) => "it is not a directory".to_string(),
                    Err(e) => e.to_string(),
                };
                return Err(RootFileError::Unsafe {
                    op: "write into",
                    path: dir.to_path_buf(),
                    why,
                });
            }
            Err(e) => return Err(io("open directory", dir, e)),
        };
        let st = fstat(fd.as_fd()).map_err(|e| io("stat", dir, e))?;
        if let Some(why) = unsafe_dir_reason(&st) {
            return Err(RootFileError::Unsafe {
                op: "write into",
                path: dir.to_path_buf(),
                why,
            });
        }
        Ok(RootDir {
            path: dir.to_path_buf(),
            fd,
        })
    }

    /// Opens `dir`, creating it first (root-owned, `mode`, parents must exist) when missing.
    /// Returns the directory and whether it was created. The parent must be root's (group or
    /// others may write it only when it is sticky, as /tmp: then nobody else can rename or
    /// replace what root made in it). A directory someone else made first is never taken
    /// over: only one this call created is given to root; any other must already be one
    /// only root controls.
    pub fn ensure(dir: &Path, mode: u32) -> Result<(RootDir, bool), RootFileError> {
        match RootDir::open(dir) {
            Ok(d) => return Ok((d, false)),
            Err(RootFileError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let (parent, name) = split(dir)?;
        let p = open(parent, dir_flags(), Mode::empty())
            .map_err(|e| io("open directory", parent, e))?;
        let pst = fstat(p.as_fd()).map_err(|e| io("stat", parent, e))?;
        if let Some(why) = unsafe_parent_reason(&pst) {
            return Err(RootFileError::Unsafe {
                op: "create a directory in",
                path: parent.to_path_buf(),
                why,
            });
        }
        match mkdirat(p.as_fd(), name, Mode::from_bits_truncate(0o700)) {
            Ok(()) => {}
            // someone made it meanwhile: it is used only if it is already root's alone
            Err(Errno::EEXIST) => return Ok((RootDir::open(dir)?, false)),
            Err(e) => return Err(io("create directory", dir, e)),
        }
        let fd = openat(p.as_fd(), name, dir_flags(), Mode::empty())
            .map_err(|e| io("open directory", dir, e))?;
        fchown(fd.as_fd(), Some(Uid::from_raw(0)), Some(Gid::from_raw(0)))
            .map_err(|e| io("chown", dir, e))?;
        fchmod(fd.as_fd(), Mode::from_bits_truncate(mode & 0o755))
            .map_err(|e| io("chmod", dir, e))?;
        drop(fd);
        Ok((RootDir::open(dir)?, true))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn at(&self, name: &OsStr) -> PathBuf {
        self.path.join(name)
    }

    /// The content of `name` when it is a regular file; None when absent. A symlink, FIFO or
    /// anything else there is refused without being opened.
    pub fn read(&self, name: &OsStr) -> Result<Option<Vec<u8>>, RootFileError> {
        let path = self.at(name);
        let st = match fstatat(self.fd.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(io("stat", &path, e)),
        };
        if file_type(&st) != SFlag::S_IFREG {
            return Err(RootFileError::Unsafe {
                op: "read",
                path,
                why: format!("it is a {}, not a regular file", kind_name(&st)),
            });
        }
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let fd = openat(self.fd.as_fd(), name, flags, Mode::empty())
            .map_err(|e| io("open", &path, e))?;
        let mut out = Vec::new();
        File::from(fd)
            .read_to_end(&mut out)
            .map_err(|e| std_io("read", &path, e))?;
        Ok(Some(out))
    }

    /// lstat of `name`; None when absent.
    pub fn stat(&self, name: &OsStr) -> Result<Option<FileStat>, RootFileError> {
        match fstatat(self.fd.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(io("stat", &self.at(name), e)),
        }
    }

    /// Writes `bytes` to `name`, root-owned with `mode`, unless it already holds exactly
    /// that (then nothing is touched). Anything but a regular file at `name` is refused.
    pub fn write(
        &self,
        name: &OsStr,
        bytes: &[u8],
        mode: u32,
        durability: Durability,
    ) -> Result<Written, RootFileError> {
        let path = self.at(name);
        let before = self.would_write(name, bytes, mode)?;
        if before == Written::Unchanged {
            return Ok(before);
        }
        let (tmp, file) = self.create_temp(name)?;
        let result = (|| {
            let mut f = &file;
            f.write_all(bytes).map_err(|e| std_io("write", &path, e))?;
            fchown(file.as_fd(), Some(Uid::from_raw(0)), Some(Gid::from_raw(0)))
                .map_err(|e| io("chown", &path, e))?;
            fchmod(file.as_fd(), Mode::from_bits_truncate(mode & 0o7777))
                .map_err(|e| io("chmod", &path, e))?;
            if durability == Durability::Fsync {
                fsync(file.as_fd()).map_err(|e| io("fsync", &path, e))?;
            }
            renameat(self.fd.as_fd(), tmp.as_os_str(), self.fd.as_fd(), name)
                .map_err(|e| io("rename into place", &path, e))?;
            if durability == Durability::Fsync {
                fsync(self.fd.as_fd()).map_err(|e| io("fsync", &self.path, e))?;
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = unlinkat(self.fd.as_fd(), tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        }
        result?;
        Ok(before)
    }

    /// What `write` would do (`Created`, `Updated`, `Unchanged`, or its refusal), changing
    /// nothing: what a dry run reports.
    pub fn would_write(
        &self,
        name: &OsStr,
        bytes: &[u8],
        mode: u32,
    ) -> Result<Written, RootFileError> {
        let Some(st) = self.stat(name)? else {
            return Ok(Written::Created);
        };
        if file_type(&st) != SFlag::S_IFREG {
            return Err(RootFileError::Unsafe {
                op: "replace",
                path: self.at(name),
                why: format!("it is a {}, not a regular file", kind_name(&st)),
            });
        }
        let same_meta = st.st_uid == 0 && st.st_gid == 0 && st.st_mode & 0o7777 == mode;
        Ok(if same_meta && self.read(name)?.as_deref() == Some(bytes) {
            Written::Unchanged
        } else {
            Written::Updated
        })
    }

    /// Removes `name` (a file or symlink, never followed); Ok(false) when absent. A
    /// directory there is refused.
    pub fn remove(&self, name: &OsStr) -> Result<bool, RootFileError> {
        let path = self.at(name);
        match self.stat(name)? {
            None => Ok(false),
            Some(st) if file_type(&st) == SFlag::S_IFDIR => Err(RootFileError::Unsafe {
                op: "remove",
                path,
                why: "it is a directory".into(),
            }),
            Some(_) => match unlinkat(self.fd.as_fd(), name, UnlinkatFlags::NoRemoveDir) {
                Ok(()) => Ok(true),
                Err(Errno::ENOENT) => Ok(false),
                Err(e) => Err(io("remove", &path, e)),
            },
        }
    }

    /// Removes the empty subdirectory `name`; Ok(false) when absent or not empty.
    pub fn remove_empty_dir(&self, name: &OsStr) -> Result<bool, RootFileError> {
        match unlinkat(self.fd.as_fd(), name, UnlinkatFlags::RemoveDir) {
            Ok(()) => Ok(true),
            Err(Errno::ENOENT | Errno::ENOTEMPTY | Errno::EEXIST | Errno::ENOTDIR) => Ok(false),
            Err(e) => Err(io("remove directory", &self.at(name), e)),
        }
    }

    /// Removes temporaries this writer left behind in the directory (an interrupted run):
    /// root-owned regular files named `.*.jailsmith-tmp-*`. Returns how many went.
    pub fn sweep_temporaries(&self) -> Result<usize, RootFileError> {
        let fd = self
            .fd
            .try_clone()
            .map_err(|e| std_io("list", &self.path, e))?;
        let mut dir = nix::dir::Dir::from_fd(fd).map_err(|e| io("list", &self.path, e))?;
        let names: Vec<OsString> = dir
            .iter()
            .filter_map(Result::ok)
            .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
            .filter(|n| is_temp_name(n))
            .collect();
        let mut n = 0;
        for name in names {
            if let Some(st) = self.stat(&name)?
                && file_type(&st) == SFlag::S_IFREG
                && st.st_uid == 0
                && unlinkat(
                    self.fd.as_fd(),
                    name.as_os_str(),
                    UnlinkatFlags::NoRemoveDir,
                )
                .is_ok()
            {
                n += 1;
            }
        }
        Ok(n)
    }

    fn create_temp(&self, name: &OsStr) -> Result<(OsString, File), RootFileError> {
        let flags =
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let mut last = Errno::EEXIST;
        for _ in 0..16 {
            let tmp = temp_name(name);
            match openat(
                self.fd.as_fd(),
                tmp.as_os_str(),
                flags,
                Mode::from_bits_truncate(0o600),
            ) {
                Ok(fd) => return Ok((tmp, File::from(fd))),
                Err(Errno::EEXIST) => last = Errno::EEXIST,
                Err(e) => return Err(io("create a temporary beside", &self.at(name), e)),
            }
        }
        Err(io("create a temporary beside", &self.at(name), last))
    }

    /// The held descriptor (for `flock`).
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `.NAME.jailsmith-tmp-RANDOM`: unpredictable, so nobody can plant something at it first
/// (and `O_EXCL|O_NOFOLLOW` refuse whatever is there anyway).
fn temp_name(name: &OsStr) -> OsString {
    let mut out = OsString::from(".");
    out.push(name);
    out.push(format!(".jailsmith-tmp-{}", random_hex()));
    out
}

/// 16 hex digits from the system's CSPRNG (time and pid when it cannot be read: still
/// unique for the run, just guessable), for names nobody may plant something at first.
pub fn random_hex() -> String {
    let mut b = [0u8; 8];
    if File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = ((t as u64) ^ ((std::process::id() as u64) << 32)).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn is_temp_name(n: &OsStr) -> bool {
    let b = n.as_bytes();
    b.starts_with(b".") && b.windows(15).any(|w| w == b".jailsmith-tmp-")
}

/// The directory and file name of an absolute `path`.
fn split(path: &Path) -> Result<(&Path, &OsStr), RootFileError> {
    match (path.parent(), path.file_name()) {
        (Some(p), Some(n)) if path.is_absolute() => Ok((p, n)),
        _ => Err(RootFileError::Unsafe {
            op: "write",
            path: path.to_path_buf(),
            why: "it is not an absolute path to a file".into(),
        }),
    }
}

/// Writes `bytes` to the absolute `path` (its directory must exist and be root's alone).
pub fn write(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    durability: Durability,
) -> Result<Written, RootFileError> {
    let (dir, name) = split(path)?;
    RootDir::open(dir)?.write(name, bytes, mode, durability)
}

/// What `write` would do to `path`, changing nothing (a missing directory: `Created`).
pub fn would_write(path: &Path, bytes: &[u8], mode: u32) -> Result<Written, RootFileError> {
    let (dir, name) = split(path)?;
    match RootDir::open(dir) {
        Ok(d) => d.would_write(name, bytes, mode),
        Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => Ok(Written::Created),
        Err(e) => Err(e),
    }
}

/// The content of the regular file `path`; None when it (or its directory) is absent.
pub fn read(path: &Path) -> Result<Option<Vec<u8>>, RootFileError> {
    let (dir, name) = split(path)?;
    match RootDir::open(dir) {
        Ok(d) => d.read(name),
        Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes the file `path`; Ok(false) when absent.
pub fn remove(path: &Path) -> Result<bool, RootFileError> {
    let (dir, name) = split(path)?;
    match RootDir::open(dir) {
        Ok(d) => d.remove(name),
        Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes the empty root-owned directory `dir` (a slice drop-in directory, a key
/// directory this run created); Ok(false) when absent or not empty.
pub fn remove_empty_dir(dir: &Path) -> Result<bool, RootFileError> {
    let (parent, name) = split(dir)?;
    match RootDir::open(parent) {
        Ok(d) => d.remove_empty_dir(name),
        Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Makes `dir` (parents first, each root-owned `mode` when missing); every existing part
/// from the first one jailsmith creates on must be root's alone. Returns true when the last
/// component was created.
pub fn ensure_dir(dir: &Path, mode: u32) -> Result<bool, RootFileError> {
    if let Some(parent) = dir.parent()
        && !parent.as_os_str().is_empty()
        && std::fs::symlink_metadata(parent).is_err()
    {
        ensure_dir(parent, mode)?;
    }
    RootDir::ensure(dir, mode).map(|(_, created)| created)
}

/// Holds an exclusive lock on `DIR/.jailsmith.lock` (DIR made root 0700 when missing) until
/// dropped: two runs never merge the same passwd or state at once.
pub fn lock(dir: &Path) -> Result<nix::fcntl::Flock<File>, RootFileError> {
    ensure_dir(dir, 0o700)?;
    let d = RootDir::open(dir)?;
    let name = OsStr::new(".jailsmith-user.lock");
    let path = d.at(name);
    let flags = OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(d.as_fd(), name, flags, Mode::from_bits_truncate(0o600))
        .map_err(|e| io("open", &path, e))?;
    nix::fcntl::Flock::lock(File::from(fd), nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| io("lock", &path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    fn private_dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    #[test]
    fn writes_replaces_and_leaves_unchanged_files_alone() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let d = private_dir();
        let p = d.path().join("unit");
        assert_eq!(
            write(&p, b"a\n", 0o644, Durability::Fsync).unwrap(),
            Written::Created
        );
        let ino = std::fs::metadata(&p).unwrap().ino();
        assert_eq!(
            write(&p, b"a\n", 0o644, Durability::Fsync).unwrap(),
            Written::Unchanged
        );
        assert_eq!(std::fs::metadata(&p).unwrap().ino(), ino);
        assert_eq!(
            write(&p, b"b\n", 0o600, Durability::Lazy).unwrap(),
            Written::Updated
        );
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!((m.mode() & 0o7777, m.uid()), (0o600, 0));
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temporary left"
        );
        assert!(remove(&p).unwrap());
        assert!(!remove(&p).unwrap());
    }

    #[test]
    fn a_symlink_at_the_name_or_as_the_directory_is_refused() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let d = private_dir();
        let canary = d.path().join("canary");
        std::fs::write(&canary, "keep").unwrap();
        symlink(&canary, d.path().join("unit")).unwrap();
        let err = write(&d.path().join("unit"), b"x", 0o644, Durability::Fsync).unwrap_err();
        assert!(matches!(err, RootFileError::Unsafe { .. }), "{err}");
        symlink(d.path(), d.path().join("link")).unwrap();
        let err = write(&d.path().join("link/f"), b"x", 0o644, Durability::Fsync).unwrap_err();
        assert!(matches!(err, RootFileError::Unsafe { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&canary).unwrap(), "keep");
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = write(&d.path().join("f"), b"x", 0o644, Durability::Fsync).unwrap_err();
        assert!(matches!(err, RootFileError::Unsafe { .. }), "{err}");
        assert!(!d.path().join("f").exists());
    }

    #[test]
    fn a_directory_is_never_taken_over_nor_made_where_others_can_swap_it() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        use std::os::unix::fs::PermissionsExt as _;
        let d = private_dir();
        // squatted: someone else's directory where root would make one stays theirs
        let squat = d.path().join("squat");
        std::fs::create_dir(&squat).unwrap();
        std::os::unix::fs::chown(&squat, Some(65534), Some(65534)).unwrap();
        let err = ensure_dir(&squat, 0o755).unwrap_err();
        assert!(err.to_string().contains("not root"), "{err}");
        assert_eq!(
            std::fs::metadata(&squat).unwrap().uid(),
            65534,
            "taken over"
        );
        // under a directory others can write (no sticky bit): refused, nothing made
        let open = d.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = ensure_dir(&open.join("units/user.slice.d"), 0o755).unwrap_err();
        assert!(
            err.to_string().contains("writable by group or others"),
            "{err}"
        );
        assert!(!open.join("units").exists());
        // a sticky one (as /tmp): nobody else can rename what root makes there
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(ensure_dir(&open.join("units/user.slice.d"), 0o755).unwrap());
        let m = std::fs::metadata(open.join("units")).unwrap();
        assert_eq!((m.uid(), m.mode() & 0o7777), (0, 0o755));
    }

    #[test]
    fn temporaries_are_recognised_and_swept() {
        assert!(is_temp_name(OsStr::new(".unit.jailsmith-tmp-0011")));
        assert!(!is_temp_name(OsStr::new("unit")));
        assert!(is_temp_name(&temp_name(OsStr::new("x.json"))));
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let d = private_dir();
        std::fs::write(d.path().join(".s.json.jailsmith-tmp-ab"), "half").unwrap();
        std::fs::write(d.path().join("keep"), "k").unwrap();
        assert_eq!(
            RootDir::open(d.path())
                .unwrap()
                .sweep_temporaries()
                .unwrap(),
            1
        );
        assert!(d.path().join("keep").exists());
    }
}
