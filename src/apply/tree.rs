//! Removing trees inside a jail by descriptor (for `destroy` and `user --delete-home`):
//! iterative (any depth, no recursion), with a bounded number of open descriptors (a
//! parent is reopened through `..` and checked by device and inode), independent of
//! PATH_MAX, names as bytes. A symlink is removed, never followed; a directory on another
//! mount is never entered (mount ID per directory); a directory that will not empty is an
//! error naming what remains. What to remove is the caller's policy, asked per entry.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, SFlag, fstatat};
use nix::unistd::{UnlinkatFlags, unlinkat};

use super::HostError;
use super::errors;

/// Directory descriptors kept open at once; deeper parents are closed and reopened.
const MAX_OPEN: usize = 32;
/// How often a directory is listed again when new entries keep appearing in it.
const RELISTS: u8 = 4;

/// What to do with one entry: the plan's (`plan::removal`), asked per entry.
pub use crate::plan::removal::Decision;

/// The caller's rule: in-jail path (None when not UTF-8), is-a-directory → decision.
pub type Policy<'a> = &'a dyn Fn(Option<&str>, bool) -> Decision;

/// What a removal did (or, on a dry run, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Removal {
    pub files: u64,
    pub dirs: u64,
    /// In-jail paths removed at the policy's level (shown escaped), each with the number
    /// of objects below it that went with it.
    pub removed: Vec<(String, u64)>,
    /// In-jail paths (shown escaped) left because the policy said `Keep`, and directories
    /// it entered but keeps (`remove_if_empty: false`) once emptied.
    pub kept: Vec<String>,
}

/// Device and inode of a directory, and the ID of the mount it is on (when the kernel
/// tells: statx STATX_MNT_ID, Linux 5.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ident {
    dev: u64,
    ino: u64,
    mnt: Option<u64>,
}

fn ident(fd: BorrowedFd<'_>) -> Result<Ident, Errno> {
    let mut buf = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: the path is a NUL-terminated empty string, `fd` is a live descriptor for the
    // call's duration, and `buf` is a properly sized statx buffer the kernel fills.
    let rc = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_INO | libc::STATX_MNT_ID,
            buf.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(Errno::last());
    }
    // SAFETY: statx returned 0, so the kernel filled the buffer.
    let st = unsafe { buf.assume_init() };
    Ok(Ident {
        dev: libc::makedev(st.stx_dev_major, st.stx_dev_minor),
        ino: st.stx_ino,
        mnt: (st.stx_mask & libc::STATX_MNT_ID != 0).then_some(st.stx_mnt_id),
    })
}

/// The mount ID of the directory `fd` (None where the kernel does not say).
pub fn mount_id(fd: BorrowedFd<'_>) -> Option<u64> {
    ident(fd).ok().and_then(|i| i.mnt)
}

/// Device and inode of the directory `fd`.
pub fn dev_ino(fd: BorrowedFd<'_>) -> Option<(u64, u64)> {
    ident(fd).ok().map(|i| (i.dev, i.ino))
}

fn file_type(fd: BorrowedFd<'_>) -> Option<SFlag> {
    nix::sys::stat::fstat(fd)
        .ok()
        .map(|st| SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()))
}

/// Whether `fd` (an O_PATH descriptor will do) is a socket.
pub fn is_socket(fd: BorrowedFd<'_>) -> bool {
    file_type(fd) == Some(SFlag::S_IFSOCK)
}

/// Whether `fd` (an O_PATH descriptor will do) is a regular file.
pub fn is_regular(fd: BorrowedFd<'_>) -> bool {
    file_type(fd) == Some(SFlag::S_IFREG)
}

impl Ident {
    /// Same mount as `other`: by mount ID where known, else by device.
    fn same_mount(&self, other: &Ident) -> bool {
        match (self.mnt, other.mnt) {
            (Some(a), Some(b)) => a == b,
            _ => self.dev == other.dev,
        }
    }
}

fn dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// The names in a directory (a fresh open file description, so a second listing starts
/// from the beginning).
fn list(fd: BorrowedFd<'_>) -> Result<Vec<OsString>, Errno> {
    let own = openat(fd, ".", dir_flags(), Mode::empty())?;
    let mut d = Dir::from_fd(own)?;
    let mut out = Vec::new();
    for e in d.iter() {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            out.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    // popped from the end: reverse so removal goes in directory order
    out.reverse();
    Ok(out)
}

/// A name for messages: UTF-8 as is, other bytes and control characters as `\xNN`.
pub fn escape(name: &[u8]) -> String {
    let mut out = String::new();
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// One directory being emptied.
struct Frame {
    fd: Option<OwnedFd>,
    id: Ident,
    /// Its name in its parent (empty for the start).
    name: OsString,
    /// In-jail path, when UTF-8 and asked about (not below a `Remove`).
    path: Option<String>,
    /// Entries still to handle.
    names: Vec<OsString>,
    /// Below a `Remove`: everything goes, nothing is asked.
    whole: bool,
    remove_self: bool,
    /// Something below stays.
    kept: bool,
    relisted: u8,
}

/// The walk's state: the jail (for messages), the stack of open directories, the result.
struct Walker<'a> {
    jail: &'a Path,
    prefix: String,
    policy: Policy<'a>,
    dry: bool,
    /// A dry run of a removal that runs once the jail's own mounts are unmounted: a mount
    /// point below is seen as the empty directory it will be (a foreign mount must have
    /// been refused before).
    unmounted: bool,
    start: Ident,
    stack: Vec<Frame>,
    /// Index of the first frame whose descriptor is still open.
    open_from: usize,
    /// Objects removed below the current `Remove` directory.
    whole_count: u64,
    out: Removal,
}

/// Removes below the directory `dir` (in-jail path `prefix`, "" for the root) what
/// `policy` says, and never anything on another mount; `dir` itself stays. With `dry`,
/// only reports.
pub fn remove_below(
    jail: &Path,
    dir: BorrowedFd<'_>,
    prefix: &str,
    policy: Policy<'_>,
    dry: bool,
) -> Result<Removal, HostError> {
    walk_below(jail, dir, prefix, policy, dry, false)
}

/// What `remove_below` would remove once the mounts below `dir` are gone (`destroy
/// --dry-run`, which unmounts the jail's own mounts first and refuses any other): each
/// mount point counts as the empty directory it will be. Changes nothing.
pub fn report_below_unmounted(
    jail: &Path,
    dir: BorrowedFd<'_>,
    prefix: &str,
    policy: Policy<'_>,
) -> Result<Removal, HostError> {
    walk_below(jail, dir, prefix, policy, true, true)
}

fn walk_below(
    jail: &Path,
    dir: BorrowedFd<'_>,
    prefix: &str,
    policy: Policy<'_>,
    dry: bool,
    unmounted: bool,
) -> Result<Removal, HostError> {
    let shown = if prefix.is_empty() { "/" } else { prefix };
    let fail = |op, e| errors::io(jail, shown, op, e);
    let fd = openat(dir, ".", dir_flags(), Mode::empty()).map_err(|e| fail("open", e))?;
    let start = ident(fd.as_fd()).map_err(|e| fail("stat", e))?;
    let names = list(fd.as_fd()).map_err(|e| fail("list", e))?;
    let mut w = Walker {
        jail,
        prefix: prefix.to_string(),
        policy,
        dry,
        unmounted,
        start,
        stack: vec![Frame {
            fd: Some(fd),
            id: start,
            name: OsString::new(),
            path: Some(prefix.to_string()),
            names,
            whole: false,
            remove_self: false,
            kept: false,
            relisted: 0,
        }],
        open_from: 0,
        whole_count: 0,
        out: Removal::default(),
    };
    w.run()?;
    Ok(w.out)
}

/// Removes the directory `name` in `parent` and everything below it (never crossing a
/// mount, never following a symlink). Returns what went; false-y (`dirs == 0`) when absent.
pub fn remove_dir_tree(
    jail: &Path,
    parent: BorrowedFd<'_>,
    name: &OsStr,
    shown: &str,
) -> Result<Removal, HostError> {
    let fail = |op, e| errors::io(jail, shown, op, e);
    let fd = match openat(parent, name, dir_flags(), Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(Removal::default()),
        Err(e) => return Err(fail("open for removal", e)),
    };
    let p = ident(parent).map_err(|e| fail("stat", e))?;
    let me = ident(fd.as_fd()).map_err(|e| fail("stat", e))?;
    if !me.same_mount(&p) {
        return Err(crossing(jail, shown));
    }
    let mut r = remove_below(jail, fd.as_fd(), shown, &|_, _| Decision::Remove, false)?;
    drop(fd);
    unlinkat(parent, name, UnlinkatFlags::RemoveDir).map_err(|e| not_emptied(jail, shown, e))?;
    r.dirs += 1;
    Ok(r)
}

fn crossing(jail: &Path, path: &str) -> HostError {
    HostError::MountPoint {
        jail: jail.to_path_buf(),
        path: path.to_string(),
    }
}

fn not_emptied(jail: &Path, path: &str, e: Errno) -> HostError {
    match e {
        Errno::EBUSY => crossing(jail, path),
        e => errors::io(jail, path, "remove directory", e),
    }
}

impl Walker<'_> {
    fn run(&mut self) -> Result<(), HostError> {
        loop {
            let top = self.stack.last_mut().expect("the start frame stays");
            if let Some(name) = top.names.pop() {
                self.visit(name)?;
                continue;
            }
            if self.relist()? {
                continue;
            }
            if self.stack.len() == 1 {
                return Ok(());
            }
            self.leave()?;
        }
    }

    /// The shown in-jail path of the top frame, plus `name`.
    fn shown(&self, name: Option<&OsStr>) -> String {
        let mut s = escape(self.prefix.as_bytes());
        for f in &self.stack[1..] {
            s.push('/');
            s.push_str(&escape(f.name.as_bytes()));
        }
        if let Some(n) = name {
            s.push('/');
            s.push_str(&escape(n.as_bytes()));
        }
        if s.is_empty() { "/".into() } else { s }
    }

    fn top_fd(&self) -> BorrowedFd<'_> {
        self.stack
            .last()
            .and_then(|f| f.fd.as_ref())
            .expect("the top frame is open")
            .as_fd()
    }

    fn io(&self, name: Option<&OsStr>, op: &'static str, e: Errno) -> HostError {
        errors::io(self.jail, self.shown(name), op, e)
    }

    fn visit(&mut self, name: OsString) -> Result<(), HostError> {
        let st = match fstatat(
            self.top_fd(),
            name.as_os_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(st) => st,
            Err(Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(self.io(Some(&name), "stat", e)),
        };
        let is_dir = errors::is_type(&st, SFlag::S_IFDIR);
        let top = self.stack.last().expect("a frame");
        let path = top
            .path
            .as_ref()
            .filter(|_| !top.whole)
            .and_then(|p| name.to_str().map(|n| format!("{p}/{n}")));
        let decision = if top.whole {
            Decision::Remove
        } else {
            (self.policy)(path.as_deref(), is_dir)
        };
        match (decision, is_dir) {
            (Decision::Keep, _)
            | (Decision::Enter { .. }, false)
            | (Decision::Empty { .. }, false) => {
                let shown = self.shown(Some(&name));
                self.out.kept.push(shown);
                self.stack.last_mut().expect("a frame").kept = true;
                Ok(())
            }
            (Decision::Remove, false) => self.unlink_file(&name),
            (Decision::Remove, true) => self.enter(name, path, true, true),
            (Decision::Enter { remove_if_empty }, true) => {
                self.enter(name, path, false, remove_if_empty)
            }
            (Decision::Empty { remove_if_empty }, true) => {
                self.enter(name, path, true, remove_if_empty)
            }
        }
    }

    fn unlink_file(&mut self, name: &OsStr) -> Result<(), HostError> {
        if !self.dry {
            match unlinkat(self.top_fd(), name, UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(Errno::EBUSY) => return Err(crossing(self.jail, &self.shown(Some(name)))),
                Err(e) => return Err(self.io(Some(name), "remove", e)),
            }
        }
        self.out.files += 1;
        self.count_removed(Some(name), 0);
        Ok(())
    }

    /// Counts one removed object: inside a `Remove` directory towards it, else listed.
    fn count_removed(&mut self, name: Option<&OsStr>, below: u64) {
        if self.stack.last().is_some_and(|f| f.whole) {
            self.whole_count += 1 + below;
        } else {
            let shown = self.shown(name);
            self.out.removed.push((shown, below));
        }
    }

    fn enter(
        &mut self,
        name: OsString,
        path: Option<String>,
        whole: bool,
        remove_self: bool,
    ) -> Result<(), HostError> {
        let fd = openat(self.top_fd(), name.as_os_str(), dir_flags(), Mode::empty())
            .map_err(|e| self.io(Some(&name), "open for removal", e))?;
        let id = ident(fd.as_fd()).map_err(|e| self.io(Some(&name), "stat", e))?;
        let names = if id.same_mount(&self.start) {
            list(fd.as_fd()).map_err(|e| self.io(Some(&name), "list", e))?
        } else if self.unmounted {
            Vec::new()
        } else {
            return Err(crossing(self.jail, &self.shown(Some(&name))));
        };
        let whole = whole || self.stack.last().is_some_and(|f| f.whole);
        self.stack.push(Frame {
            fd: Some(fd),
            id,
            name,
            path,
            names,
            whole,
            remove_self,
            kept: false,
            relisted: 0,
        });
        if self.stack.len() - self.open_from > MAX_OPEN {
            self.stack[self.open_from].fd = None;
            self.open_from += 1;
        }
        Ok(())
    }

    /// A directory being removed whole is listed again once done: entries made meanwhile
    /// go too, a few rounds at most. True when there is more to do.
    fn relist(&mut self) -> Result<bool, HostError> {
        let top = self.stack.last().expect("a frame");
        if self.dry || !top.remove_self || top.kept || self.stack.len() == 1 {
            return Ok(false);
        }
        let again = list(self.top_fd()).map_err(|e| self.io(None, "list", e))?;
        if again.is_empty() {
            return Ok(false);
        }
        let top = self.stack.last_mut().expect("a frame");
        if top.relisted >= RELISTS {
            let first = again.last().cloned().unwrap_or_default();
            return Err(HostError::NotEmpty {
                jail: self.jail.to_path_buf(),
                path: self.shown(None),
                remains: format!(
                    "{} entries, such as {}",
                    again.len(),
                    escape(first.as_bytes())
                ),
            });
        }
        top.relisted += 1;
        top.names = again;
        Ok(true)
    }

    /// Done with the top directory: back to its parent, removing it when it is empty.
    fn leave(&mut self) -> Result<(), HostError> {
        let done = self.stack.pop().expect("a frame below the start");
        let parent = self.stack.len() - 1;
        if parent < self.open_from {
            self.reopen_parent(&done)?;
        }
        if !done.remove_self && !done.kept {
            // emptied, but the policy keeps the directory itself (found there)
            let shown = self.shown(Some(&done.name));
            self.out.kept.push(shown);
        }
        if done.kept || !done.remove_self {
            self.stack[parent].kept = true;
            return Ok(());
        }
        drop(done.fd);
        if !self.dry
            && let Err(e) = unlinkat(
                self.top_fd(),
                done.name.as_os_str(),
                UnlinkatFlags::RemoveDir,
            )
        {
            let shown = self.shown(Some(&done.name));
            return Err(match e {
                Errno::ENOTEMPTY | Errno::EEXIST => HostError::NotEmpty {
                    jail: self.jail.to_path_buf(),
                    path: shown,
                    remains: "entries made while it was being removed".into(),
                },
                e => not_emptied(self.jail, &shown, e),
            });
        }
        self.out.dirs += 1;
        let whole_root = done.whole && !self.stack[parent].whole;
        if whole_root {
            let below = std::mem::take(&mut self.whole_count);
            self.count_removed(Some(&done.name), below);
        } else {
            self.count_removed(Some(&done.name), 0);
        }
        Ok(())
    }

    /// Reopens the (closed) parent of `child` through `..`, and checks it is the same
    /// directory as before: a directory moved meanwhile stops the removal.
    fn reopen_parent(&mut self, child: &Frame) -> Result<(), HostError> {
        let fd = child.fd.as_ref().expect("the top frame is open").as_fd();
        let parent = self.stack.len() - 1;
        let up = openat(fd, "..", dir_flags(), Mode::empty())
            .map_err(|e| self.io(None, "reopen the parent for removal", e))?;
        let id = ident(up.as_fd()).map_err(|e| self.io(None, "stat", e))?;
        if (id.dev, id.ino) != (self.stack[parent].id.dev, self.stack[parent].id.ino) {
            return Err(self.io(
                None,
                "reopen the parent (it moved) for removal",
                Errno::ESTALE,
            ));
        }
        self.stack[parent].fd = Some(up);
        self.open_from = parent;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::fcntl::open;
    use nix::sys::stat::mkdirat;

    fn chain(top: &Path, depth: usize) {
        let mut fd = open(top, dir_flags(), Mode::empty()).unwrap();
        for _ in 0..depth {
            for name in [OsStr::new("x"), OsStr::from_bytes(b"bad\xffname")] {
                let f = openat(
                    fd.as_fd(),
                    name,
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .unwrap();
                drop(f);
            }
            mkdirat(fd.as_fd(), "d", Mode::from_bits_truncate(0o755)).unwrap();
            fd = openat(fd.as_fd(), "d", dir_flags(), Mode::empty()).unwrap();
        }
    }

    #[test]
    fn deep_trees_and_odd_names_go_completely() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().join("top");
        std::fs::create_dir(&top).unwrap();
        chain(&top, 1000);
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, "keep").unwrap();
        std::os::unix::fs::symlink(&outside, top.join("d/link")).unwrap();
        let root = open(tmp.path(), dir_flags(), Mode::empty()).unwrap();
        // (the bound on descriptors is proven by the integration test, under ulimit -n)
        let r = remove_dir_tree(tmp.path(), root.as_fd(), OsStr::new("top"), "/top").unwrap();
        assert!(!top.exists());
        assert_eq!(r.dirs, 1001);
        assert_eq!(r.files, 2 * 1000 + 1);
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
    }

    #[test]
    fn the_policy_keeps_and_a_dry_run_only_lists() {
        let tmp = tempfile::tempdir().unwrap();
        let j = tmp.path();
        std::fs::create_dir_all(j.join("usr/bin")).unwrap();
        std::fs::write(j.join("usr/bin/bash"), "x").unwrap();
        std::fs::write(j.join("usr/bin/theirs"), "y").unwrap();
        std::fs::create_dir_all(j.join("tmp/a/b")).unwrap();
        let policy = |p: Option<&str>, dir: bool| match p {
            Some("/usr") | Some("/usr/bin") => Decision::Enter {
                remove_if_empty: true,
            },
            Some("/usr/bin/bash") | Some("/tmp/a") => Decision::Remove,
            Some("/tmp") => Decision::Enter {
                remove_if_empty: false,
            },
            _ if dir => Decision::Keep,
            _ => Decision::Keep,
        };
        let root = open(j, dir_flags(), Mode::empty()).unwrap();
        let dry = remove_below(j, root.as_fd(), "", &policy, true).unwrap();
        assert!(j.join("usr/bin/bash").exists() && j.join("tmp/a/b").exists());
        let wet = remove_below(j, root.as_fd(), "", &policy, false).unwrap();
        assert_eq!(dry, wet);
        assert_eq!(wet.kept, vec!["/usr/bin/theirs".to_string(), "/tmp".into()]);
        assert!(wet.removed.contains(&("/usr/bin/bash".into(), 0)));
        assert!(wet.removed.contains(&("/tmp/a".into(), 1)));
        assert!(!j.join("usr/bin/bash").exists() && j.join("usr/bin/theirs").exists());
        assert!(j.join("tmp").is_dir() && !j.join("tmp/a").exists());
    }

    #[test]
    fn names_are_escaped_for_messages() {
        assert_eq!(escape(b"bad\xffname\n"), "bad\\xffname\\x0a");
        assert_eq!(escape("é".as_bytes()), "é");
    }
}
