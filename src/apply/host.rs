//! The narrow interface through which every write inside a jail goes. An implementation
//! holds the jail root open once and reaches every path relative to it without following
//! symlinks (DESIGN §5.7); a unit test may substitute a recording fake.

use std::path::{Path, PathBuf};

use crate::apply::binds::{Made, MountError};
use crate::plan::{JailPath, MountKind, Owner};

/// Permission bits jailsmith ever sets on a file or directory: no setuid, no setgid
/// (sticky stays, for a shared /tmp).
pub const FILE_MODE_MASK: u32 = 0o1777;
/// Permission bits of a device node.
pub const DEVICE_MODE_MASK: u32 = 0o777;

/// What is at a path inside the jail (lstat: the link itself, never its target).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink { target: PathBuf },
    CharDevice { major: u64, minor: u64 },
    BlockDevice,
    Fifo,
    Socket,
}

impl EntryKind {
    /// The kind's name for messages ("regular file", "symlink", …).
    pub fn name(&self) -> &'static str {
        match self {
            EntryKind::File => "regular file",
            EntryKind::Dir => "directory",
            EntryKind::Symlink { .. } => "symlink",
            EntryKind::CharDevice { .. } => "character device",
            EntryKind::BlockDevice => "block device",
            EntryKind::Fifo => "FIFO",
            EntryKind::Socket => "socket",
        }
    }
}

/// Metadata of an object inside the jail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky (st_mode & 0o7777).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime_ns: i128,
    pub ino: u64,
    pub nlink: u64,
}

/// A failure of one operation on one path, and why.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// A symlink where jailsmith would write or descend: refused, never followed.
    #[error("refusing to follow the symlink at {path} in {jail} while trying to {op}")]
    Symlink {
        jail: PathBuf,
        path: String,
        op: &'static str,
    },
    /// Something of the wrong type (a FIFO or device where a file or directory is expected).
    #[error("{path} in {jail} is a {found}, expected a {expected} (while trying to {op})")]
    WrongType {
        jail: PathBuf,
        path: String,
        found: &'static str,
        expected: &'static str,
        op: &'static str,
    },
    /// The jail root itself is unusable: a symlink or non-directory in its path, or `..`.
    #[error("refusing the jail root {jail}: {component} {why}")]
    BadRoot {
        jail: PathBuf,
        component: PathBuf,
        why: String,
    },
    /// The jail root (or one of its ancestors) does not exist: the path named is not a jail.
    #[error("the jail {} does not exist{}", jail.display(), missing_above(jail, component))]
    NoRoot { jail: PathBuf, component: PathBuf },
    /// A host source file (outside the jail) that is not a regular file.
    #[error("cannot {op} the host source {src}: it is a {found}, not a regular file")]
    SourceType {
        src: PathBuf,
        op: &'static str,
        found: &'static str,
    },
    /// A host source file (outside the jail) that could not be read.
    #[error("cannot {op} the host source {src}: {source}")]
    SourceIo {
        src: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A mount jailsmith did not make (or could not take off) where it would remove:
    /// nothing below it is touched.
    #[error(
        "{path} in {jail} is a mount point jailsmith did not make (or could not unmount); \
         nothing under it was touched: unmount it and run again"
    )]
    MountPoint { jail: PathBuf, path: String },
    /// A directory being removed that will not empty.
    #[error("cannot remove {path} in {jail}: it will not empty ({remains} remain)")]
    NotEmpty {
        jail: PathBuf,
        path: String,
        remains: String,
    },
    #[error("cannot {op} {path} in {jail}: {source}")]
    Io {
        jail: PathBuf,
        path: String,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// ` (DIR is missing)` when the first missing component is an ancestor of the jail.
fn missing_above(jail: &Path, component: &Path) -> String {
    if component == jail {
        String::new()
    } else {
        format!(" ({} is missing)", component.display())
    }
}

impl HostError {
    /// The exit code of this failure class (`crate::exit`): safety refusals vs. I/O failures.
    pub fn exit_code(&self) -> u8 {
        match self {
            HostError::Symlink { .. }
            | HostError::WrongType { .. }
            | HostError::BadRoot { .. }
            | HostError::MountPoint { .. } => crate::exit::REFUSED,
            HostError::NotEmpty { .. } => crate::exit::HOST_FAILURE,
            HostError::SourceType { .. } | HostError::NoRoot { .. } => crate::exit::BAD_INPUT,
            HostError::Io { .. } | HostError::SourceIo { .. } => crate::exit::HOST_FAILURE,
        }
    }
}

/// What `Host::copy_file` wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copied {
    /// sha256 (hex) of the bytes written.
    pub sha256: String,
    pub size: u64,
    /// The copy's metadata as it was renamed into place (fstat of its descriptor), so the
    /// caller need not look the path up again; `None` when the host cannot tell.
    pub meta: Option<Meta>,
    /// With a store (`build --store`): linked to which object, or copied; `None` without.
    pub stored: Option<crate::state::Stored>,
}

/// Every operation jailsmith performs inside a jail. Paths are `JailPath`s, relative to the
/// jail root held by the implementation; no method follows a symlink in any component.
/// Every method that creates or replaces a file does so atomically (temporary name in the
/// same directory, then rename), and sets owner and mode on the open descriptor.
/// Implementations are `Sync`: the executor applies independent steps on several threads.
pub trait Host: Sync {
    /// The jail root on the host, for messages.
    fn root(&self) -> &Path;
    /// lstat; `Ok(None)` when nothing is there.
    fn stat(&self, path: &JailPath) -> Result<Option<Meta>, HostError>;
    /// Creates a real directory (or fixes owner/mode of an existing one). A symlink there is
    /// an error. Returns true when something changed.
    fn make_dir(&self, path: &JailPath, mode: u32, owner: Owner) -> Result<bool, HostError>;
    /// Copies the host file `src` to `path` atomically with `mode`/`owner`; no xattrs, so
    /// file capabilities are dropped, setuid/setgid bits are masked off (`mode & 0o1777`).
    /// `src` must be a regular host file. Replaces only a regular file (or nothing). With
    /// a store (`uses_store`), a root-owned file is a hard link to the store's object for
    /// that content, mode and mtime (a copy of it where the jail cannot link to it).
    fn copy_file(
        &self,
        src: &Path,
        path: &JailPath,
        mode: u32,
        owner: Owner,
    ) -> Result<Copied, HostError>;
    /// Whether `copy_file` places files from the shared store (`build --store`).
    fn uses_store(&self) -> bool {
        false
    }
    /// Writes `content` to `path` atomically with `mode & 0o1777`/`owner`. Replaces only a
    /// regular file (or nothing).
    fn write_file(
        &self,
        path: &JailPath,
        content: &[u8],
        mode: u32,
        owner: Owner,
    ) -> Result<(), HostError>;
    /// Creates (or atomically replaces another symlink with) a root-owned symlink holding
    /// `target`; anything else in the way is an error.
    fn symlink(&self, path: &JailPath, target: &Path) -> Result<(), HostError>;
    /// Gives the symlink at `path` the access and modification times of the host symlink
    /// `src` (not of their targets), like `cp -a`. A source that is gone or no longer a
    /// symlink is left alone.
    fn copy_link_times(&self, path: &JailPath, src: &Path) -> Result<(), HostError> {
        let _ = (path, src);
        Ok(())
    }
    /// Creates (or atomically replaces another character device with) a character device
    /// node, root-owned, with `mode & 0o777`.
    fn make_char_device(
        &self,
        path: &JailPath,
        major: u64,
        minor: u64,
        mode: u32,
    ) -> Result<(), HostError>;
    /// Reads a regular file (refuses anything else, never blocks on a FIFO).
    fn read_file(&self, path: &JailPath) -> Result<Vec<u8>, HostError>;
    /// sha256 (hex) of a regular file inside the jail.
    fn hash_file(&self, path: &JailPath) -> Result<String, HostError>;
    /// Removes a file, symlink or device node (not a directory); Ok(false) if absent.
    fn remove(&self, path: &JailPath) -> Result<bool, HostError>;
    /// Removes an empty directory; Ok(false) if absent or not empty.
    fn remove_dir(&self, path: &JailPath) -> Result<bool, HostError>;
    /// Removes `path` and, for a directory, everything below it: iteratively, by
    /// descriptor, never through a symlink, never across a mount. Ok(empty) if absent.
    fn remove_tree(&self, path: &JailPath) -> Result<crate::apply::tree::Removal, HostError>;
    /// `check --fix`: on a regular file or directory opened without following a symlink,
    /// clears the mode bits `clear`, drops its file capabilities (`drop_caps`) and gives it
    /// to root:root (`to_root`). Refuses a symlink or any other type. Returns true when
    /// something changed.
    fn tighten(
        &self,
        path: &JailPath,
        clear: u32,
        drop_caps: bool,
        to_root: bool,
    ) -> Result<bool, HostError> {
        let _ = (clear, drop_caps, to_root);
        Err(HostError::Io {
            jail: self.root().to_path_buf(),
            path: path.to_string(),
            op: "tighten",
            source: std::io::Error::from(std::io::ErrorKind::Unsupported),
        })
    }
    /// Makes the jail root itself root-owned and not writable by group or others, as sshd's
    /// ChrootDirectory demands (DESIGN §5.1); other mode bits are kept. Returns true when
    /// something changed. A host without a root directory of its own (a unit test's) has
    /// nothing to do.
    fn secure_root(&self) -> Result<bool, HostError> {
        Ok(false)
    }
    /// Removes the temporaries an interrupted run of jailsmith left in the directory `dir`
    /// (the root when None): root-owned non-directories named `.jailsmith-tmp-*`; a
    /// directory others can write is left alone. Returns how many (none on a unit test's
    /// host, which leaves no temporaries).
    fn sweep_temporaries(&self, dir: Option<&JailPath>) -> Result<usize, HostError> {
        let _ = dir;
        Ok(0)
    }
    /// Mounts `mount` at `path` (`apply::binds::mount`: reached by a descriptor opened
    /// beneath the root, the checks of a bind's source first); a mount already there is
    /// left, its flags fixed. Says what was done, with the new mount's ID when one was made.
    fn mount(&self, path: &JailPath, mount: &MountKind) -> Result<Made, MountError> {
        let _ = mount;
        Err(unsupported(self.root(), path, "mount"))
    }
    /// Unmounts the mount `mount_id` at `path`, only while it is the one there
    /// (`apply::binds::unmount`); Ok(false) when it is gone.
    fn unmount(&self, path: &JailPath, mount_id: u64) -> Result<bool, MountError> {
        let _ = mount_id;
        Err(unsupported(self.root(), path, "unmount"))
    }
}

/// The error of a mount operation a host (a unit test's) does not do.
fn unsupported(jail: &Path, path: &JailPath, op: &'static str) -> MountError {
    MountError::Host(HostError::Io {
        jail: jail.to_path_buf(),
        path: path.to_string(),
        op,
        source: std::io::Error::from(std::io::ErrorKind::Unsupported),
    })
}
