//! A jail in memory for unit tests (the one fake host): a `Host` that keeps entries in a
//! map, refuses a symlink in a parent component as `LinuxHost` does, and records every
//! write in order. Files it writes or copies get their size and a new mtime, as on disk.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::apply::binds::{Done, Made, MountError};
use crate::apply::transfer::sha256_hex;
use crate::apply::tree::Removal;
use crate::apply::{Copied, EntryKind, Host, HostError, Meta};
use crate::plan::{JailPath, MountKind, Owner};

/// An in-memory jail: path → (meta, content). Records every write.
#[derive(Default)]
pub struct FakeHost {
    pub entries: RwLock<BTreeMap<String, (Meta, Vec<u8>)>>,
    pub writes: RwLock<Vec<String>>,
    /// Mounts made (path, mount ID), in order.
    pub mounts: RwLock<Vec<(String, u64)>>,
    /// Pretends to place copies from a store (`build --store`).
    pub store: bool,
    /// The mtime of the next object put (each one is newer than the last).
    pub clock: AtomicI64,
}

pub fn meta(kind: EntryKind, mode: u32, uid: u32) -> Meta {
    Meta {
        kind,
        mode,
        uid,
        gid: uid,
        size: 0,
        mtime_ns: 0,
        ino: 0,
        nlink: 1,
    }
}

impl FakeHost {
    pub fn with(self, path: &str, kind: EntryKind, mode: u32) -> Self {
        self.entries
            .write()
            .unwrap()
            .insert(path.into(), (meta(kind, mode, 0), Vec::new()));
        self
    }
    pub fn file(self, path: &str, content: &str) -> Self {
        self.entries.write().unwrap().insert(
            path.into(),
            (meta(EntryKind::File, 0o644, 0), content.as_bytes().to_vec()),
        );
        self
    }
    pub fn link(self, path: &str, target: &str) -> Self {
        self.with(
            path,
            EntryKind::Symlink {
                target: target.into(),
            },
            0o777,
        )
    }
    /// Puts `data` at `path` as an object of `kind`, with its size and a new mtime.
    pub fn put(&self, path: &JailPath, kind: EntryKind, mode: u32, owner: Owner, data: &[u8]) {
        let mut m = meta(kind, mode, owner.uid);
        m.gid = owner.gid;
        m.size = data.len() as u64;
        m.mtime_ns = i128::from(self.clock.fetch_add(1, Ordering::Relaxed) + 1);
        self.entries
            .write()
            .unwrap()
            .insert(Self::key(path), (m, data.to_vec()));
    }
    /// The writes recorded so far, in order.
    pub fn written(&self) -> Vec<String> {
        self.writes.read().unwrap().clone()
    }
    /// Refuses a symlink in a parent component, then records `verb path` as a write.
    fn record(&self, verb: &str, path: &JailPath) -> Result<(), HostError> {
        self.check_parents(path)?;
        self.writes.write().unwrap().push(format!("{verb} {path}"));
        Ok(())
    }
    /// Like LinuxHost: a symlink in a parent component is refused.
    fn check_parents(&self, path: &JailPath) -> Result<(), HostError> {
        for a in path.ancestors() {
            if let Some((m, _)) = self
                .entries
                .read()
                .unwrap()
                .get(&a.rel().display().to_string())
                && matches!(m.kind, EntryKind::Symlink { .. })
            {
                return Err(HostError::Symlink {
                    jail: "/fake".into(),
                    path: a.to_string(),
                    op: "walk",
                });
            }
        }
        Ok(())
    }
    fn key(path: &JailPath) -> String {
        path.rel().display().to_string()
    }
    /// Records `verb path` and drops the entry; true when there was one.
    fn take(&self, verb: &str, path: &JailPath) -> bool {
        self.writes.write().unwrap().push(format!("{verb} {path}"));
        let mut entries = self.entries.write().unwrap();
        entries.remove(&Self::key(path)).is_some()
    }
}

impl Host for FakeHost {
    fn root(&self) -> &Path {
        Path::new("/fake")
    }
    fn stat(&self, path: &JailPath) -> Result<Option<Meta>, HostError> {
        self.check_parents(path)?;
        Ok(self
            .entries
            .read()
            .unwrap()
            .get(&Self::key(path))
            .map(|e| e.0.clone()))
    }
    fn make_dir(&self, path: &JailPath, mode: u32, owner: Owner) -> Result<bool, HostError> {
        self.record("mkdir", path)?;
        let mut m = meta(EntryKind::Dir, mode, owner.uid);
        m.gid = owner.gid;
        if let Some((old, _)) = self.entries.read().unwrap().get(&Self::key(path))
            && old.kind != EntryKind::Dir
        {
            return Err(HostError::WrongType {
                jail: "/fake".into(),
                path: path.to_string(),
                found: "other",
                expected: "directory",
                op: "mkdir",
            });
        }
        Ok(self
            .entries
            .write()
            .unwrap()
            .insert(Self::key(path), (m.clone(), Vec::new()))
            .is_none_or(|(old, _)| old != m))
    }
    fn copy_file(
        &self,
        src: &Path,
        path: &JailPath,
        mode: u32,
        owner: Owner,
    ) -> Result<Copied, HostError> {
        self.record("copy", path)?;
        let data = std::fs::read(src).map_err(|source| HostError::Io {
            jail: "/fake".into(),
            path: src.display().to_string(),
            op: "copy",
            source,
        })?;
        self.put(path, EntryKind::File, mode, owner, &data);
        Ok(Copied {
            sha256: sha256_hex(&data),
            size: data.len() as u64,
            meta: None,
            stored: self
                .store
                .then(|| crate::state::Stored::Linked(sha256_hex(&data))),
        })
    }
    fn uses_store(&self) -> bool {
        self.store
    }
    fn write_file(
        &self,
        path: &JailPath,
        content: &[u8],
        mode: u32,
        owner: Owner,
    ) -> Result<(), HostError> {
        self.record("write", path)?;
        self.put(path, EntryKind::File, mode, owner, content);
        Ok(())
    }
    /// Like LinuxHost: a new link, or one replacing a link; anything else is refused.
    fn symlink(&self, path: &JailPath, target: &Path) -> Result<(), HostError> {
        if let Some(m) = self.stat(path)?
            && !matches!(m.kind, EntryKind::Symlink { .. })
        {
            return Err(HostError::WrongType {
                jail: "/fake".into(),
                path: path.to_string(),
                found: m.kind.name(),
                expected: "symlink",
                op: "create symlink",
            });
        }
        self.record("symlink", path)?;
        let kind = EntryKind::Symlink {
            target: target.to_path_buf(),
        };
        self.put(path, kind, 0o777, Owner::ROOT, b"");
        Ok(())
    }
    fn make_char_device(
        &self,
        path: &JailPath,
        major: u64,
        minor: u64,
        mode: u32,
    ) -> Result<(), HostError> {
        self.record("mknod", path)?;
        let kind = EntryKind::CharDevice { major, minor };
        self.put(path, kind, mode, Owner::ROOT, b"");
        Ok(())
    }
    fn read_file(&self, path: &JailPath) -> Result<Vec<u8>, HostError> {
        self.check_parents(path)?;
        Ok(self.entries.read().unwrap()[&Self::key(path)].1.clone())
    }
    fn hash_file(&self, path: &JailPath) -> Result<String, HostError> {
        Ok(sha256_hex(&self.read_file(path)?))
    }
    /// Like LinuxHost: never a directory, never through a symlink (a link itself goes).
    fn remove(&self, path: &JailPath) -> Result<bool, HostError> {
        if self.stat(path)?.is_some_and(|m| m.kind == EntryKind::Dir) {
            return Err(HostError::WrongType {
                jail: "/fake".into(),
                path: path.to_string(),
                found: "directory",
                expected: "non-directory",
                op: "remove",
            });
        }
        Ok(self.take("rm", path))
    }
    /// Like LinuxHost: a regular file or directory only, never through a symlink (the fake
    /// holds no file capabilities).
    fn tighten(
        &self,
        path: &JailPath,
        clear: u32,
        _drop_caps: bool,
        to_root: bool,
    ) -> Result<bool, HostError> {
        self.check_parents(path)?;
        let mut entries = self.entries.write().unwrap();
        let Some((m, _)) = entries.get_mut(&Self::key(path)) else {
            return Err(HostError::Io {
                jail: "/fake".into(),
                path: path.to_string(),
                op: "tighten",
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        };
        if !matches!(m.kind, EntryKind::File | EntryKind::Dir) {
            return Err(HostError::WrongType {
                jail: "/fake".into(),
                path: path.to_string(),
                found: m.kind.name(),
                expected: "regular file or directory",
                op: "tighten",
            });
        }
        let before = m.clone();
        m.mode &= !clear;
        if to_root {
            (m.uid, m.gid) = (0, 0);
        }
        let changed = *m != before;
        drop(entries);
        self.writes.write().unwrap().push(format!("tighten {path}"));
        Ok(changed)
    }
    /// Like LinuxHost: Ok(false) for a directory that is not empty.
    fn remove_dir(&self, path: &JailPath) -> Result<bool, HostError> {
        self.check_parents(path)?;
        let below = format!("{}/", Self::key(path));
        if self
            .entries
            .read()
            .unwrap()
            .keys()
            .any(|k| k.starts_with(&below))
        {
            return Ok(false);
        }
        Ok(self.take("rmdir", path))
    }
    fn remove_tree(&self, path: &JailPath) -> Result<Removal, HostError> {
        let key = Self::key(path);
        let below = format!("{key}/");
        let mut entries = self.entries.write().unwrap();
        let gone: Vec<String> = entries
            .keys()
            .filter(|k| **k == key || k.starts_with(&below))
            .cloned()
            .collect();
        let mut out = Removal::default();
        for k in gone {
            match entries.remove(&k) {
                Some((m, _)) if m.kind == EntryKind::Dir => out.dirs += 1,
                _ => out.files += 1,
            }
        }
        self.writes.write().unwrap().push(format!("rm -r {path}"));
        Ok(out)
    }
    fn mount(&self, path: &JailPath, _: &MountKind) -> Result<Made, MountError> {
        self.check_parents(path)?;
        let mut mounts = self.mounts.write().unwrap();
        let id = 100 + mounts.len() as u64;
        mounts.push((path.to_string(), id));
        self.writes.write().unwrap().push(format!("mount {path}"));
        Ok(Made {
            done: Done::Mounted,
            mount_id: Some(id),
        })
    }
    fn unmount(&self, path: &JailPath, mount_id: u64) -> Result<bool, MountError> {
        let mut mounts = self.mounts.write().unwrap();
        let before = mounts.len();
        mounts.retain(|(p, id)| !(*p == path.to_string() && *id == mount_id));
        self.writes.write().unwrap().push(format!("unmount {path}"));
        Ok(mounts.len() < before)
    }
}
