//! The shared, content-addressed store of jail files (`build --store`): every file jailsmith
//! copies is kept once per content and metadata, as `STATE/store/sha256/AB/NAME` (NAME =
//! sha256-mode-mtime, owner always root:root), in root-owned 0700 directories no jail path
//! reaches, and hard-linked into the jails. An object is written once under a temporary
//! name and renamed into place without replacing anything; it is never opened for writing
//! again. Only `collect` removes objects: those no jail links (nlink 1) and no state names,
//! under the store's exclusive lock, while every build that links holds it shared.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, Flock, FlockArg, OFlag, RenameFlags, openat, renameat2};
use nix::sys::stat::{FileStat, Mode, SFlag, fchmod, fstatat};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, unlinkat};
use serde::{Deserialize, Serialize};

use super::HostError;
use super::errors::is_type;
use super::rootfile::{self, Durability, RootDir};
use super::source::open_source;
use super::transfer;

/// The store's directory under the state directory.
pub const STORE_DIR: &str = "store";
/// Objects, fanned out by the first two hex digits of their sha256.
const OBJECTS: &str = "sha256";
/// What each host source held when it was last hashed (so a source is hashed once for all
/// the jails that link it).
const SOURCES: &str = "sources";
/// Held shared by builds that link, exclusively by `collect`.
const LOCK: &str = ".lock";

/// `STATE/store`.
pub fn store_dir(state_dir: &Path) -> PathBuf {
    state_dir.join(STORE_DIR)
}

/// The name of the object holding content `sha256` with `mode` and `mtime_ns`.
pub fn object_name(sha256: &str, mode: u32, mtime_ns: i128) -> String {
    format!("{sha256}-{mode:04o}-{mtime_ns}")
}

/// What an object's name says: (sha256, mode, mtime_ns); None for a name that is not one.
pub fn parse_name(name: &str) -> Option<(&str, u32, i128)> {
    let mut parts = name.splitn(3, '-');
    let sha = parts.next()?;
    let mode = u32::from_str_radix(parts.next()?, 8).ok()?;
    let mtime = parts.next()?.parse().ok()?;
    (sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit())).then_some((sha, mode, mtime))
}

/// `STATE/store/sha256/AB/NAME` of an object name.
pub fn object_path(state_dir: &Path, name: &str) -> PathBuf {
    store_dir(state_dir)
        .join(OBJECTS)
        .join(name.get(..2).unwrap_or("00"))
        .join(name)
}

/// lstat of the object `name`; None when it is not there (read-only, for `check`).
pub fn object_stat(state_dir: &Path, name: &str) -> Option<FileStat> {
    nix::sys::stat::lstat(&object_path(state_dir, name)).ok()
}

fn store_io(dir: &Path, name: &str, op: &'static str, e: impl Into<io::Error>) -> HostError {
    HostError::Io {
        jail: dir.to_path_buf(),
        path: name.to_string(),
        op,
        source: e.into(),
    }
}

fn dir_err(e: rootfile::RootFileError) -> HostError {
    let (path, source) = match e {
        rootfile::RootFileError::Unsafe { path, why, .. } => (path, io::Error::other(why)),
        rootfile::RootFileError::Io { path, source, .. } => (path, source),
    };
    HostError::Io {
        jail: path,
        path: String::new(),
        op: "use the store directory",
        source,
    }
}

/// Creates `dir` (root 0700) when missing and opens it as a directory only root controls.
fn private_dir(dir: &Path) -> Result<RootDir, HostError> {
    rootfile::ensure_dir(dir, 0o700).map_err(dir_err)?;
    RootDir::open(dir).map_err(dir_err)
}

/// Opens (or creates) `STORE/.lock` and locks it.
fn lock(store: &RootDir, arg: FlockArg) -> Result<Flock<File>, HostError> {
    let flags = OFlag::O_CREAT | OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(store.as_fd(), LOCK, flags, Mode::from_bits_truncate(0o600))
        .map_err(|e| store_io(store.path(), LOCK, "open", e))?;
    Flock::lock(File::from(fd), arg).map_err(|(_, e)| store_io(store.path(), LOCK, "lock", e))
}

/// One host source as last hashed: its identity and times, and the sha256 it had.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct SourceSeen {
    src: PathBuf,
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    /// ctime: no one can set it, so a content change always moves it.
    ctime_ns: i128,
    sha256: String,
}

impl SourceSeen {
    fn of(src: &Path, st: &FileStat, sha256: String) -> Self {
        SourceSeen {
            src: src.to_path_buf(),
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size as u64,
            mtime_ns: mtime_ns(st),
            ctime_ns: i128::from(st.st_ctime) * 1_000_000_000 + i128::from(st.st_ctime_nsec),
            sha256,
        }
    }
}

/// A stat's modification time in nanoseconds since the epoch (what manifests record).
pub fn mtime_ns(st: &FileStat) -> i128 {
    i128::from(st.st_mtime) * 1_000_000_000 + i128::from(st.st_mtime_nsec)
}

/// An object of the store, complete and in place.
pub struct Object {
    /// Its fan-out directory, held open.
    dir: RootDir,
    pub name: String,
    pub sha256: String,
    pub size: u64,
}

impl Object {
    /// The directory holding the object (for `linkat`).
    pub fn dir_fd(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    /// Opens the object for reading (to copy it where it cannot be linked).
    pub fn open(&self) -> Result<File, HostError> {
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        openat(self.dir.as_fd(), self.name.as_str(), flags, Mode::empty())
            .map(File::from)
            .map_err(|e| store_io(self.dir.path(), &self.name, "open", e))
    }

    /// lstat of the object.
    pub fn stat(&self) -> Result<FileStat, HostError> {
        fstatat(
            self.dir.as_fd(),
            self.name.as_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| store_io(self.dir.path(), &self.name, "stat", e))
    }
}

/// The store, opened for a build: its directories held open and its lock held shared, so no
/// `collect` removes an object between its creation and its first link.
#[derive(Debug)]
pub struct Store {
    objects: RootDir,
    sources: RootDir,
    dev: u64,
    _lock: Flock<File>,
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Object").field("name", &self.name).finish()
    }
}

impl Store {
    /// Opens `STATE/store` (creating it, root 0700) and takes its lock shared.
    pub fn open(state_dir: &Path) -> Result<Store, HostError> {
        private_dir(state_dir)?;
        let top = private_dir(&store_dir(state_dir))?;
        let lock = lock(&top, FlockArg::LockShared)?;
        let objects = private_dir(&top.path().join(OBJECTS))?;
        let sources = private_dir(&top.path().join(SOURCES))?;
        let dev = nix::sys::stat::fstat(objects.as_fd())
            .map_err(|e| store_io(objects.path(), "", "stat", e))?
            .st_dev;
        Ok(Store {
            objects,
            sources,
            dev,
            _lock: lock,
        })
    }

    /// The device the objects live on: a jail elsewhere cannot link them.
    pub fn dev(&self) -> u64 {
        self.dev
    }

    /// The object holding what `src` holds now, with `mode` and the source's mtime, root's:
    /// found when it exists, else written (a reflink where the filesystem can) and renamed
    /// into place. The source is hashed only when it changed since it was last hashed.
    pub fn ingest(&self, src: &Path, mode: u32) -> Result<Object, HostError> {
        let (file, st) = open_source(src).map_err(|e| e.into_host(src, "open"))?;
        let known = self.seen(src, &st);
        let sha = match &known {
            Some(sha) => sha.clone(),
            None => {
                transfer::hash_at(&file)
                    .map_err(|e| HostError::SourceIo {
                        src: src.to_path_buf(),
                        op: "hash",
                        source: e,
                    })?
                    .0
            }
        };
        let mtime = mtime_ns(&st);
        let dir = private_dir(&self.objects.path().join(&sha[..2]))?;
        let name = object_name(&sha, mode, mtime);
        let obj = match self.existing(dir, &name, mode, st.st_size as u64)? {
            Ok(obj) => obj,
            Err(dir) => self.write_object(dir, &file, &st, &sha, mode)?,
        };
        if known.is_none() && obj.sha256 == sha {
            self.remember(&SourceSeen::of(src, &st, sha));
        }
        Ok(obj)
    }

    /// The object `name` in `dir` when it is there as its name says; `Err(dir)` when absent.
    /// Anything else under that name is an error: a store object is never replaced.
    fn existing(
        &self,
        dir: RootDir,
        name: &str,
        mode: u32,
        size: u64,
    ) -> Result<Result<Object, RootDir>, HostError> {
        let st = match dir.stat(OsStr::new(name)).map_err(dir_err)? {
            None => return Ok(Err(dir)),
            Some(st) => st,
        };
        let right = is_type(&st, SFlag::S_IFREG)
            && (st.st_uid, st.st_gid) == (0, 0)
            && st.st_mode & 0o7777 == mode
            && st.st_size as u64 == size;
        if !right {
            return Err(store_io(
                dir.path(),
                name,
                "use the store object",
                io::Error::other(format!(
                    "it is not a root-owned regular file of mode {mode:04o} and {size} bytes \
                     (run jailsmith check on the jails built with --store)"
                )),
            ));
        }
        let (sha, ..) = parse_name(name).expect("names made by object_name parse");
        Ok(Ok(Object {
            sha256: sha.to_string(),
            name: name.to_string(),
            size,
            dir,
        }))
    }

    /// Copies the open source into a new object: a temporary in the fan-out directory,
    /// root-owned with `mode` and the source's times, renamed to its name unless that name
    /// exists by then (another build made it: that one is used).
    fn write_object(
        &self,
        dir: RootDir,
        file: &File,
        st: &FileStat,
        sha: &str,
        mode: u32,
    ) -> Result<Object, HostError> {
        let (tmp, out) = temp_file(&dir)?;
        let placed = fill_and_place(&dir, &tmp, file, &out, st, sha, mode);
        if !matches!(placed, Ok(Placed::New { .. })) {
            let _ = unlinkat(dir.as_fd(), tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        }
        match placed? {
            Placed::New { name, sha256, size } => Ok(Object {
                dir,
                name,
                sha256,
                size,
            }),
            Placed::There(name) => match self.existing(dir, &name, mode, st.st_size as u64)? {
                Ok(obj) => Ok(obj),
                Err(dir) => Err(store_io(
                    dir.path(),
                    &name,
                    "find",
                    io::Error::from(io::ErrorKind::NotFound),
                )),
            },
        }
    }

    /// The sha256 `src` had when last hashed, if it is still the same file, unchanged.
    fn seen(&self, src: &Path, st: &FileStat) -> Option<String> {
        let key = source_key(src);
        let bytes = self.sources.read(OsStr::new(&key)).ok()??;
        let seen: SourceSeen = serde_json::from_slice(&bytes).ok()?;
        let now = SourceSeen::of(src, st, seen.sha256.clone());
        (seen == now).then_some(seen.sha256)
    }

    /// Records what `src` held (best effort: without it the source is hashed again).
    fn remember(&self, seen: &SourceSeen) {
        let key = source_key(&seen.src);
        if let Ok(json) = serde_json::to_vec(seen) {
            let _ = self
                .sources
                .write(OsStr::new(&key), &json, 0o600, Durability::Lazy);
        }
    }
}

/// What `fill_and_place` did.
enum Placed {
    /// The temporary became the object `name`.
    New {
        name: String,
        sha256: String,
        size: u64,
    },
    /// An object of that name was already there (another build made it meanwhile).
    There(String),
}

/// Fills the temporary `out` from the source, makes it root's with `mode` and the source's
/// times, and renames it to its name without replacing anything.
fn fill_and_place(
    dir: &RootDir,
    tmp: &OsStr,
    file: &File,
    out: &File,
    st: &FileStat,
    sha: &str,
    mode: u32,
) -> Result<Placed, HostError> {
    let err = |op, e: io::Error| store_io(dir.path(), sha, op, e);
    let (written, size) = transfer::copy_hashed(file, out).map_err(|e| err("copy", e))?;
    fchown(out.as_fd(), Some(Uid::from_raw(0)), Some(Gid::from_raw(0)))
        .map_err(|e| err("chown", e.into()))?;
    fchmod(out.as_fd(), Mode::from_bits_truncate(mode & 0o1777))
        .map_err(|e| err("chmod", e.into()))?;
    let atime = nix::sys::time::TimeSpec::new(st.st_atime, st.st_atime_nsec);
    let mtime = nix::sys::time::TimeSpec::new(st.st_mtime, st.st_mtime_nsec);
    nix::sys::stat::futimens(out.as_fd(), &atime, &mtime)
        .map_err(|e| err("set the times of", e.into()))?;
    // the name says what was written, even if the source changed meanwhile
    let name = object_name(&written, mode, mtime_ns(st));
    let flags = RenameFlags::RENAME_NOREPLACE;
    match renameat2(dir.as_fd(), tmp, dir.as_fd(), name.as_str(), flags) {
        Ok(()) => Ok(Placed::New {
            name,
            sha256: written,
            size,
        }),
        Err(Errno::EEXIST) => Ok(Placed::There(name)),
        Err(e) => Err(err("rename into place", e.into())),
    }
}

/// The index file of a source: the sha256 of its path.
fn source_key(src: &Path) -> String {
    transfer::sha256_hex(src.as_os_str().as_bytes())
}

/// A new empty root-owned 0600 file under a temporary name in `dir` (the safe writer's
/// naming, so an interrupted run's leftovers are swept by `collect`).
fn temp_file(dir: &RootDir) -> Result<(OsString, File), HostError> {
    let flags =
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut last = Errno::EEXIST;
    for _ in 0..16 {
        let tmp = OsString::from(format!(".object.jailsmith-tmp-{}", rootfile::random_hex()));
        match openat(
            dir.as_fd(),
            tmp.as_os_str(),
            flags,
            Mode::from_bits_truncate(0o600),
        ) {
            Ok(fd) => return Ok((tmp, File::from(fd))),
            Err(Errno::EEXIST) => last = Errno::EEXIST,
            Err(e) => return Err(store_io(dir.path(), "", "create a temporary in", e)),
        }
    }
    Err(store_io(dir.path(), "", "create a temporary in", last))
}

/// What `collect` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Collected {
    /// Objects removed (no jail linked them, no state named them).
    pub removed: Vec<String>,
    /// Bytes they held.
    pub bytes: u64,
}

impl Collected {
    /// `removed N store object(s) no jail links any more (X MB)`; None when none was.
    pub fn describe(&self) -> Option<String> {
        (!self.removed.is_empty()).then(|| {
            format!(
                "removed {} store object(s) no jail links any more ({:.1} MB)",
                self.removed.len(),
                self.bytes as f64 / 1e6
            )
        })
    }
}

/// Removes the objects that no jail links (link count 1: the store's own name) and that
/// `keep` (the names the states record) does not hold, the temporaries an interrupted run
/// left, and fan-out directories left empty; under the store's exclusive lock, so no build
/// is between making an object and linking it. `keep` is only asked when some object is
/// unlinked. Nothing to do when there is no store.
pub fn collect(
    state_dir: &Path,
    keep: &dyn Fn() -> std::collections::BTreeSet<String>,
) -> Result<Collected, HostError> {
    let top_path = store_dir(state_dir);
    let top = match RootDir::open(&top_path) {
        Ok(d) => d,
        Err(e) if e.io_kind() == Some(io::ErrorKind::NotFound) => {
            return Ok(Collected::default());
        }
        Err(e) => return Err(dir_err(e)),
    };
    let _lock = lock(&top, FlockArg::LockExclusive)?;
    let objects = match RootDir::open(&top_path.join(OBJECTS)) {
        Ok(d) => d,
        Err(e) if e.io_kind() == Some(io::ErrorKind::NotFound) => {
            return Ok(Collected::default());
        }
        Err(e) => return Err(dir_err(e)),
    };
    let mut out = Collected::default();
    let mut kept: Option<std::collections::BTreeSet<String>> = None;
    for fan in names(&objects)? {
        let dir = match RootDir::open(&objects.path().join(&fan)) {
            Ok(d) => d,
            Err(_) => continue, // not a fan-out directory of ours: left alone
        };
        dir.sweep_temporaries().map_err(dir_err)?;
        for name in names(&dir)? {
            let Some(st) = dir.stat(&name).map_err(dir_err)? else {
                continue;
            };
            let Some(text) = name.to_str() else { continue };
            if !is_type(&st, SFlag::S_IFREG) || st.st_nlink != 1 || parse_name(text).is_none() {
                continue;
            }
            if kept.get_or_insert_with(keep).contains(text) {
                continue;
            }
            match unlinkat(dir.as_fd(), name.as_os_str(), UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(store_io(dir.path(), text, "remove", e)),
            }
            out.removed.push(text.to_string());
            out.bytes += st.st_size as u64;
        }
        let _ = objects.remove_empty_dir(&fan);
    }
    Ok(out)
}

/// The names in a directory held open (no `.`/`..`).
fn names(dir: &RootDir) -> Result<Vec<OsString>, HostError> {
    let err = |e: Errno| store_io(dir.path(), "", "list", e);
    let fd = openat(
        dir.as_fd(),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(err)?;
    let mut list = nix::dir::Dir::from_fd(fd).map_err(err)?;
    Ok(list
        .iter()
        .filter_map(Result::ok)
        .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
        .filter(|n| n != "." && n != "..")
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_content_mode_and_mtime() {
        let sha = "ab".repeat(32);
        let n = object_name(&sha, 0o755, 1_700_000_000_123_456_789);
        assert_eq!(n, format!("{sha}-0755-1700000000123456789"));
        assert_eq!(
            parse_name(&n),
            Some((sha.as_str(), 0o755, 1_700_000_000_123_456_789))
        );
        assert_eq!(parse_name(&object_name(&sha, 0o644, -5)).unwrap().2, -5);
        assert!(parse_name("x-0755-1").is_none());
        assert!(parse_name(".object.jailsmith-tmp-1").is_none());
        assert!(object_path(Path::new("/s"), &n).starts_with("/s/store/sha256/ab"));
    }

    #[test]
    fn one_object_per_content_and_mode_and_collect_spares_linked_and_named_ones() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let state = d.path().join("state");
        let src = d.path().join("prog");
        std::fs::write(&src, b"#!/bin/sh\n").unwrap();
        let store = Store::open(&state).unwrap();
        let a = store.ingest(&src, 0o755).unwrap();
        let b = store.ingest(&src, 0o755).unwrap();
        let c = store.ingest(&src, 0o644).unwrap();
        assert_eq!(a.name, b.name);
        assert_ne!(a.name, c.name, "the mode is part of the key");
        assert_eq!(a.sha256, transfer::sha256_hex(b"#!/bin/sh\n"));
        let st = a.stat().unwrap();
        assert_eq!((st.st_uid, st.st_mode & 0o7777, st.st_nlink), (0, 0o755, 1));
        // a link elsewhere keeps `a`; the state names `c`; nothing keeps the third
        let link = d.path().join("link");
        std::fs::hard_link(object_path(&state, &a.name), &link).unwrap();
        std::fs::write(&src, b"#!/bin/sh\nexit 1\n").unwrap();
        let gone = store.ingest(&src, 0o755).unwrap().name;
        drop(store);
        let named = c.name.clone();
        let done = collect(&state, &|| [named.clone()].into()).unwrap();
        assert_eq!(done.removed, vec![gone]);
        assert!(object_path(&state, &a.name).exists() && object_path(&state, &c.name).exists());
        std::fs::remove_file(&link).unwrap();
        let mut done = collect(&state, &Default::default).unwrap().removed;
        done.sort();
        let mut want = vec![a.name.clone(), c.name.clone()];
        want.sort();
        assert_eq!(done, want, "unlinked and no longer named");
    }
}
