//! Root-owned files outside any jail (authorized_keys files, sshd drop-ins): created
//! atomically (temporary name, fchown/fchmod on the descriptor, rename), never through a
//! symlink, in directories that must be root-owned and not group/other-writable.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::AccountError;

/// Makes `dir` a root-owned directory with `mode` when it is missing (parents must exist);
/// an existing one must be a real directory, root-owned and not group/other-writable.
/// Returns true when it was created.
pub fn ensure_root_dir(dir: &Path, mode: u32) -> Result<bool, AccountError> {
    match fs::symlink_metadata(dir) {
        Ok(m) => {
            check_root_dir(dir, &m)?;
            Ok(false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .mode(mode)
                .create(dir)
                .map_err(AccountError::io("create directory", dir))?;
            std::os::unix::fs::chown(dir, Some(0), Some(0))
                .map_err(AccountError::io("chown", dir))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(mode))
                .map_err(AccountError::io("chmod", dir))?;
            Ok(true)
        }
        Err(e) => Err(AccountError::io("stat", dir)(e)),
    }
}

fn check_root_dir(dir: &Path, m: &fs::Metadata) -> Result<(), AccountError> {
    let unsafe_dir = |why: String| AccountError::Unsafe {
        op: "write into",
        path: dir.to_path_buf(),
        why,
    };
    if !m.file_type().is_dir() {
        return Err(unsafe_dir("it is not a real directory (a symlink?)".into()));
    }
    if m.uid() != 0 {
        return Err(unsafe_dir(format!(
            "it is owned by uid {}, not root (fix: chown root:root {})",
            m.uid(),
            dir.display()
        )));
    }
    if m.mode() & 0o022 != 0 {
        return Err(unsafe_dir(format!(
            "it is writable by group or others (fix: chmod go-w {})",
            dir.display()
        )));
    }
    Ok(())
}

/// The content of a regular file, None when absent; a symlink or other type is refused.
pub fn read_optional(path: &Path) -> Result<Option<String>, AccountError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => fs::read_to_string(path)
            .map(Some)
            .map_err(AccountError::io("read", path)),
        Ok(_) => Err(AccountError::Unsafe {
            op: "replace",
            path: path.to_path_buf(),
            why: "it is not a regular file".into(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AccountError::io("stat", path)(e)),
    }
}

/// Holds an exclusive lock on `DIR/.jailsmith-user.lock` (DIR made 0700 when missing) until
/// dropped: two `jailsmith user` runs never merge the same passwd at once.
pub fn lock_dir(dir: &Path) -> Result<nix::fcntl::Flock<fs::File>, AccountError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(AccountError::io("create directory", dir))?;
    let path = dir.join(".jailsmith-user.lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(AccountError::io("open", &path))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| AccountError::io("lock", &path)(e.into()))
}

/// True when `path` is a regular file owned by root:root with exactly `mode`.
pub fn has_root_mode(path: &Path, mode: u32) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| {
        m.file_type().is_file() && m.uid() == 0 && m.gid() == 0 && m.mode() & 0o7777 == mode
    })
}

/// Writes `content` to `path` atomically, owned by root with `mode`. The directory is
/// checked first (root-owned, not group/other-writable).
pub fn write_root_file(path: &Path, content: &str, mode: u32) -> Result<(), AccountError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let m = fs::symlink_metadata(dir).map_err(AccountError::io("stat", dir))?;
    check_root_dir(dir, &m)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.jailsmith-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(AccountError::io("create", &tmp))?;
        f.write_all(content.as_bytes())
            .map_err(AccountError::io("write", &tmp))?;
        std::os::unix::fs::fchown(&f, Some(0), Some(0)).map_err(AccountError::io("chown", &tmp))?;
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(AccountError::io("chmod", &tmp))?;
        f.sync_all().map_err(AccountError::io("sync", &tmp))?;
        fs::rename(&tmp, path).map_err(AccountError::io("rename into place", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes a file; Ok(false) when it was not there.
pub fn remove_file(path: &Path) -> Result<bool, AccountError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(AccountError::io("remove", path)(e)),
    }
}

/// Puts `path` back the way it was: `before` is its earlier content (None: it did not exist).
pub fn restore(path: &Path, before: Option<&str>, mode: u32) -> Result<(), AccountError> {
    match before {
        Some(c) => write_root_file(path, c, mode),
        None => remove_file(path).map(|_| ()),
    }
}
