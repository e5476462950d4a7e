//! What jailsmith writes that is neither a jail nor root's configuration: verify's marker
//! file in the jail's parent for the length of a run, the removal of probe files a broken
//! jail let the session create, a line appended to the administrator's known_hosts, and the
//! man pages and completions `generate` writes into a build directory; and the terminal
//! verify asks a passphrase on. Never through a symlink: markers are created
//! `O_CREAT|O_EXCL|O_NOFOLLOW`, probes are reached one component at a time with O_NOFOLLOW
//! and unlinked by name.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use nix::unistd::{UnlinkatFlags, unlinkat};

/// Creates the new, empty file `path` (mode 0644); an existing name or a symlink fails.
pub fn create_marker(path: &Path) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map(drop)
}

/// Removes the marker `path`; Ok(false) when it is already gone.
pub fn remove_marker(path: &Path) -> io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Opens `rel` (plain components) beneath `root` one component at a time with O_NOFOLLOW;
/// None if any step is missing, a symlink or not a directory.
pub fn open_dir_beneath(root: &Path, rel: &[&str]) -> Option<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut fd: OwnedFd = File::open(root).ok()?.into();
    for c in rel {
        if c.is_empty() || *c == "." || *c == ".." || c.contains('/') {
            return None;
        }
        fd = openat(&fd, *c, flags, Mode::empty()).ok()?;
    }
    Some(fd)
}

/// Unlinks `name` in the directory `rel` beneath `root`; true when something was removed.
pub fn remove_beneath(root: &Path, rel: &[&str], name: &str) -> bool {
    open_dir_beneath(root, rel)
        .is_some_and(|d| unlinkat(&d, name, UnlinkatFlags::NoRemoveDir).is_ok())
}

/// Appends `line` to `file` (mode 0644 when created; its directory made 0700 when missing):
/// the administrator's own known_hosts.
pub fn append_line(file: &Path, line: &str) -> io::Result<()> {
    if let Some(dir) = file.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(file)?;
    f.write_all(line.as_bytes())
}

/// Writes each (name, bytes) into `dir` (created when missing); returns the paths, sorted.
pub fn write_generated(
    dir: &Path,
    files: impl Iterator<Item = (String, Vec<u8>)>,
) -> io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(&name);
        std::fs::write(&path, &bytes)?;
        written.push(path);
    }
    written.sort();
    Ok(written)
}

/// Removes a generated file that is no longer generated.
pub fn remove_generated(path: &Path) -> io::Result<()> {
    std::fs::remove_file(path)
}

/// The controlling terminal, opened read-write to ask for a passphrase (it changes no file).
pub fn open_tty() -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open("/dev/tty")
}
