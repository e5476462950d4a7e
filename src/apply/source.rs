//! Reading host source files the planner named (outside the jail): open only regular files,
//! O_NONBLOCK so a FIFO never blocks, and report their size and mtime. Sources are host paths
//! the planner already resolved, so symlinks are followed here. Never writes.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use nix::sys::stat::{FileStat, SFlag, fstat};

use super::HostError;
use super::errors::is_type;
use super::transfer;

/// Size and mtime of a host source, what the manifest compares against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceMeta {
    pub size: u64,
    pub mtime_ns: i128,
}

/// Why a host source could not be used.
#[derive(Debug)]
pub enum SourceError {
    /// It is not a regular file (a FIFO, a directory, a device…).
    NotRegular(&'static str),
    Io(io::Error),
}

impl From<io::Error> for SourceError {
    fn from(e: io::Error) -> Self {
        SourceError::Io(e)
    }
}

impl From<nix::errno::Errno> for SourceError {
    fn from(e: nix::errno::Errno) -> Self {
        SourceError::Io(e.into())
    }
}

impl SourceError {
    /// As a `HostError` naming the source and the operation.
    pub fn into_host(self, src: &Path, op: &'static str) -> HostError {
        let src = src.to_path_buf();
        match self {
            SourceError::NotRegular(found) => HostError::SourceType { src, op, found },
            SourceError::Io(source) => HostError::SourceIo { src, op, source },
        }
    }
}

fn type_name(ft: std::fs::FileType) -> &'static str {
    if ft.is_fifo() {
        "FIFO"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_char_device() || ft.is_block_device() {
        "device"
    } else if ft.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

/// stat of a host source; it must be a regular file.
pub fn source_meta(src: &Path) -> Result<SourceMeta, SourceError> {
    let m = std::fs::metadata(src)?;
    if !m.file_type().is_file() {
        return Err(SourceError::NotRegular(type_name(m.file_type())));
    }
    Ok(SourceMeta {
        size: m.size(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
    })
}

/// Opens a host source: a regular file, checked before opening (so no device driver is
/// opened) and again on the descriptor.
pub(crate) fn open_source(src: &Path) -> Result<(File, FileStat), SourceError> {
    source_meta(src)?;
    let open = |extra| {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC | extra)
            .open(src)
    };
    // O_NOATIME where allowed (owner or CAP_FOWNER): reading a source changes nothing.
    let file = match open(libc::O_NOATIME) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => open(0)?,
        other => other?,
    };
    let st = fstat(file.as_fd())?;
    if !is_type(&st, SFlag::S_IFREG) {
        return Err(SourceError::NotRegular("special file"));
    }
    Ok((file, st))
}

/// sha256 (hex) of a host source.
pub fn hash_source(src: &Path) -> Result<String, SourceError> {
    let (file, _) = open_source(src)?;
    Ok(transfer::hash_reader(&file).map(|(sha, _)| sha)?)
}
