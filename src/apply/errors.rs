//! Building `HostError`s from errno values and file types, so every failure names the jail,
//! the path and the operation. Pure helpers; they perform no I/O.

use std::path::Path;

use nix::errno::Errno;
use nix::sys::stat::{FileStat, SFlag};

use super::HostError;

/// An I/O failure of `op` on `path` (an in-jail path like `/etc/passwd`, or a host source).
pub(crate) fn io(jail: &Path, path: impl ToString, op: &'static str, e: Errno) -> HostError {
    HostError::Io {
        jail: jail.to_path_buf(),
        path: path.to_string(),
        op,
        source: std::io::Error::from_raw_os_error(e as i32),
    }
}

/// Same, from a `std::io::Error`.
pub(crate) fn std_io(
    jail: &Path,
    path: impl ToString,
    op: &'static str,
    source: std::io::Error,
) -> HostError {
    HostError::Io {
        jail: jail.to_path_buf(),
        path: path.to_string(),
        op,
        source,
    }
}

pub(crate) fn symlink(jail: &Path, path: impl ToString, op: &'static str) -> HostError {
    HostError::Symlink {
        jail: jail.to_path_buf(),
        path: path.to_string(),
        op,
    }
}

pub(crate) fn wrong_type(
    jail: &Path,
    path: impl ToString,
    st: &FileStat,
    expected: &'static str,
    op: &'static str,
) -> HostError {
    HostError::WrongType {
        jail: jail.to_path_buf(),
        path: path.to_string(),
        found: kind_name(st),
        expected,
        op,
    }
}

/// The file type of a stat result: `S_IFMT` bits only.
pub(crate) fn file_type(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

pub(crate) fn is_type(st: &FileStat, t: SFlag) -> bool {
    file_type(st) == t
}

/// A human name of a file type for messages.
pub(crate) fn kind_name(st: &FileStat) -> &'static str {
    match file_type(st) {
        SFlag::S_IFREG => "regular file",
        SFlag::S_IFDIR => "directory",
        SFlag::S_IFLNK => "symlink",
        SFlag::S_IFCHR => "character device",
        SFlag::S_IFBLK => "block device",
        SFlag::S_IFIFO => "FIFO",
        SFlag::S_IFSOCK => "socket",
        _ => "file of unknown type",
    }
}
