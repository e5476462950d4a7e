//! Root-owned files outside any jail (authorized_keys files, sshd drop-ins, unit files), as
//! the account code reads them: thin wrappers over `apply::rootfile`, with its errors as
//! `AccountError`s. Writes and removals are `plan::HostOp`s run by `apply::journal`.

use std::path::Path;

use super::AccountError;
use crate::apply::rootfile::{self, RootFileError};

impl From<RootFileError> for AccountError {
    fn from(e: RootFileError) -> Self {
        match e {
            RootFileError::Unsafe { op, path, why } => AccountError::Unsafe { op, path, why },
            RootFileError::Io { op, path, source } => AccountError::Io { op, path, source },
        }
    }
}

/// Makes `dir` a root-owned directory with `mode` when it is missing (parents too); an
/// existing one must be a real directory, root-owned and not group/other-writable.
/// Returns true when it was created.
pub fn ensure_root_dir(dir: &Path, mode: u32) -> Result<bool, AccountError> {
    Ok(rootfile::ensure_dir(dir, mode)?)
}

/// The content of a regular file, None when absent; a symlink or other type is refused.
pub fn read_optional(path: &Path) -> Result<Option<String>, AccountError> {
    Ok(rootfile::read(path)?.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// Holds an exclusive lock on the state directory until dropped: two runs never merge the
/// same passwd at once.
pub fn lock_dir(dir: &Path) -> Result<nix::fcntl::Flock<std::fs::File>, AccountError> {
    Ok(rootfile::lock(dir)?)
}

/// True when `path` is a regular file owned by root:root with exactly `mode`.
pub fn has_root_mode(path: &Path, mode: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| {
        m.file_type().is_file() && m.uid() == 0 && m.gid() == 0 && m.mode() & 0o7777 == mode
    })
}
