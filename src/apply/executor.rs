//! The executor: walks a plan's steps through a `Host` (directories first, in plan order;
//! then the other steps that make things, which depend only on their directory, on several
//! threads; then the removals, in plan order), and for each decides from what is on disk and
//! the previous manifest whether it is unchanged, to be created or to be replaced. An
//! unchanged step touches nothing. It never removes a non-empty directory and never replaces
//! a symlink, FIFO, socket or block device it did not make; a removal takes only what is
//! still the object jailsmith placed (`removal`).

use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use super::host::{DEVICE_MODE_MASK, EntryKind, FILE_MODE_MASK, Host, HostError, Meta};
use super::removal::{Kept, Removal};
use super::source::{SourceMeta, hash_source, source_meta};
use super::transfer::sha256_hex;
use crate::plan::{JailPath, Op, Owner, Plan};
use crate::state::{EntryType, Manifest, ManifestEntry};

/// How thoroughly to decide that a step is unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Also compare the sha256 of each copied file's source and jail copy with the
    /// manifest, instead of trusting size and mtime.
    pub verify_content: bool,
    /// Threads for the steps after the directories (copies, links, devices, written
    /// files); 0 means one per CPU, 1 runs them all on the calling thread.
    pub jobs: usize,
}

/// What one step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Already as planned; nothing was touched.
    Unchanged,
    /// Nothing was there; it was made.
    Created,
    /// Something else was there; it was replaced or its owner/mode fixed.
    Updated,
}

/// What an apply did, step by step, and the manifest of the jail afterwards.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ApplyReport {
    pub outcomes: Vec<(JailPath, Outcome)>,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Bytes written by copies and written files.
    pub bytes_copied: u64,
    /// Files placed (created or replaced) as hard links to the shared store's objects.
    pub linked: usize,
    /// Paths the plan's removal steps removed (their manifest entries are gone).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// Paths of removal steps left in place, and why (their manifest entries stay).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<Kept>,
    /// Paths earlier builds placed that the request no longer needs, left in place: the
    /// removals a build does not run (`plan::prune`; `update` runs them). Set by the build
    /// from the planner, never worked out here.
    pub stale: Vec<String>,
    /// The new manifest, to be saved in the state store: an entry for each step that made
    /// something, the previous entries of what the removals kept, and every other previous
    /// entry the plan does not name (an entry leaves only when its object is removed).
    #[serde(skip)]
    pub manifest: Manifest,
    /// Temporaries an interrupted run had left in the plan's directories, removed before
    /// the plan was applied (`Journal::apply_plan`).
    #[serde(skip)]
    pub swept: usize,
}

impl ApplyReport {
    fn record(&mut self, path: &JailPath, outcome: Outcome, entry: ManifestEntry) {
        match outcome {
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
        }
        self.outcomes.push((path.clone(), outcome));
        self.manifest.insert(path, entry);
    }

    /// True when the apply changed nothing.
    pub fn is_unchanged(&self) -> bool {
        self.created == 0 && self.updated == 0 && self.removed.is_empty()
    }
}

/// Applies `plan` through `host`. `previous` is the manifest saved by the last apply
/// (empty for a new jail). Directories are made first, in plan order (parents before
/// children); every other step that makes something only needs its directory, so those run
/// on `opts.jobs` threads; the removals run last, one at a time in plan order (children
/// before parents), and only when everything before them succeeded. The report lists
/// outcomes in plan order. On failure the error of the first failing step in plan order is
/// returned; steps independent of it may have been applied. Reached only through
/// `journal::Journal::apply_plan`: every host change runs through the one journal.
pub(super) fn apply(
    plan: &Plan,
    host: &dyn Host,
    previous: &Manifest,
    opts: &ApplyOptions,
) -> Result<ApplyReport, HostError> {
    let steps = &plan.steps;
    let is_removal = |i: usize| matches!(steps[i].op, Op::Remove { .. });
    let mut done: Vec<Option<Result<Done, HostError>>> = Vec::with_capacity(steps.len());
    done.resize_with(steps.len(), || None);
    for (i, step) in steps.iter().enumerate() {
        if matches!(step.op, Op::MakeDir { .. }) {
            let r = run_step(host, previous, &step.op, opts);
            let failed = r.is_err();
            done[i] = Some(r);
            if failed {
                break;
            }
        }
    }
    if !done.iter().flatten().any(Result::is_err) {
        let rest: Vec<usize> = (0..steps.len())
            .filter(|&i| done[i].is_none() && !is_removal(i))
            .collect();
        let run = |i: usize| (i, run_step(host, previous, &steps[i].op, opts));
        let results: Vec<(usize, Result<Done, HostError>)> = match worker_pool(opts.jobs) {
            // One step per task: rayon's default leaves a quarter of the steps in one piece,
            // so a thread could end with a big copy while the other sat idle.
            Some(pool) => {
                pool.install(|| rest.par_iter().with_max_len(1).map(|&i| run(i)).collect())
            }
            None => rest.iter().map(|&i| run(i)).collect(),
        };
        for (i, r) in results {
            done[i] = Some(r);
        }
    }
    let mut removals: Vec<Option<Result<Removal, HostError>>> = Vec::new();
    removals.resize_with(steps.len(), || None);
    if !done.iter().flatten().any(Result::is_err) {
        for (i, step) in steps.iter().enumerate() {
            if let Op::Remove { path, expect } = &step.op {
                let r = super::removal::remove(host, path, *expect);
                let failed = r.is_err();
                removals[i] = Some(r);
                if failed {
                    break;
                }
            }
        }
    }
    let mut report = ApplyReport::default();
    let mut gone = std::collections::BTreeSet::new();
    for ((step, r), removal) in steps.iter().zip(done).zip(removals) {
        let path = step.op.path();
        if let Some(removal) = removal {
            match removal? {
                Removal::Removed => report.removed.push(path.to_string()),
                Removal::Gone => {}
                Removal::Kept(why) => {
                    report.kept.push(Kept {
                        path: path.to_string(),
                        why: why.to_string(),
                    });
                    continue;
                }
            }
            gone.insert(path.to_string());
            continue;
        }
        let Some(r) = r else { continue };
        let (outcome, entry, bytes) = r?;
        report.bytes_copied += bytes;
        if outcome != Outcome::Unchanged && entry.store_object().is_some() {
            report.linked += 1;
        }
        report.record(path, outcome, entry);
    }
    // an entry leaves the manifest only with its object: the rest stays jailsmith's
    for (path, e) in &previous.entries {
        if !gone.contains(path) && !report.manifest.entries.contains_key(path) {
            report.manifest.entries.insert(path.clone(), e.clone());
        }
    }
    Ok(report)
}

/// What `apply` would do with each step of `plan` that makes something, changing nothing (a
/// dry run), in plan order: the executor's own tests of what is there against the plan and
/// the `previous` manifest, step for step, and its refusals (a foreign symlink, FIFO,
/// socket or block device in the way) as the error the real run would fail with. A
/// directory in the way is taken to be empty, and what is below a path the run would make
/// anew is taken to be absent (the real run makes it first). `store`: whether the build
/// places copies from the shared store (`build --store`; its host would be opened with the
/// store, which a dry run does not open). The removals are judged by `removal::judge`.
pub fn judge(
    plan: &Plan,
    host: &dyn Host,
    previous: &Manifest,
    store: bool,
    opts: &ApplyOptions,
) -> Result<Vec<(JailPath, Outcome)>, HostError> {
    let mut out = Vec::new();
    let mut anew: std::collections::BTreeSet<JailPath> = Default::default();
    for step in &plan.steps {
        if matches!(step.op, Op::Remove { .. }) {
            continue;
        }
        let path = step.op.path();
        let below_anew = path.ancestors().iter().any(|a| anew.contains(a));
        let current = if below_anew { None } else { host.stat(path)? };
        let replaced = current.as_ref().is_some_and(|m| m.kind != EntryKind::Dir);
        let judged = Step {
            host,
            path,
            prev: previous.get(path),
            current,
            store,
            real: false,
        };
        let (outcome, _, _) = judged.run(&step.op, opts)?;
        if matches!(step.op, Op::MakeDir { .. })
            && (outcome == Outcome::Created || (outcome == Outcome::Updated && replaced))
        {
            anew.insert(path.clone());
        }
        out.push((path.clone(), outcome));
    }
    Ok(out)
}

/// A pool of `jobs` threads (0: one per CPU), or None when one thread is all there is.
fn worker_pool(jobs: usize) -> Option<rayon::ThreadPool> {
    let jobs = if jobs == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        jobs
    };
    if jobs <= 1 {
        return None;
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .ok()
}

/// Looks at what is at the step's path and brings it to the plan.
fn run_step(
    host: &dyn Host,
    previous: &Manifest,
    op: &Op,
    opts: &ApplyOptions,
) -> Result<Done, HostError> {
    let path = op.path();
    if super::interrupt::raised() {
        return Err(HostError::Io {
            jail: host.root().to_path_buf(),
            path: path.to_string(),
            op: "go on to",
            source: super::interrupt::error(),
        });
    }
    let step = Step {
        host,
        path,
        prev: previous.get(path),
        current: host.stat(path)?,
        store: host.uses_store(),
        real: true,
    };
    // Found, not created: something was there and no earlier apply made it.
    let found = step.prev.map_or(step.current.is_some(), |p| p.found);
    let (outcome, mut entry, bytes) = step.run(op, opts)?;
    entry.found = found;
    Ok((outcome, entry, bytes))
}

/// One step's view: the path, what is there now, what the last apply recorded, and whether
/// copies are placed from the shared store; `real` false: judged only (`judge`), nothing
/// written.
struct Step<'a> {
    host: &'a dyn Host,
    path: &'a JailPath,
    prev: Option<&'a ManifestEntry>,
    current: Option<Meta>,
    store: bool,
    real: bool,
}

type Done = (Outcome, ManifestEntry, u64);

impl Step<'_> {
    fn run(&self, op: &Op, opts: &ApplyOptions) -> Result<Done, HostError> {
        match op {
            Op::MakeDir { mode, owner, .. } => self.make_dir(*mode, *owner),
            Op::CopyFile {
                src, mode, owner, ..
            } => self.copy_file(src, *mode, *owner, opts),
            Op::Symlink { target, src, .. } => self.symlink(target, src.as_deref()),
            Op::MakeDevice {
                major, minor, mode, ..
            } => self.make_device(*major, *minor, *mode),
            Op::WriteFile {
                content,
                mode,
                owner,
                ..
            } => self.write_file(content.as_bytes(), *mode, *owner),
            Op::Remove { .. } => unreachable!("removals run in apply(), after every other step"),
        }
    }

    fn made(&self) -> Outcome {
        if self.current.is_some() {
            Outcome::Updated
        } else {
            Outcome::Created
        }
    }

    /// What a judged step would do: its outcome; the entry is never recorded.
    fn would(&self) -> Done {
        (self.made(), blank(EntryType::Dir, false), 0)
    }

    fn make_dir(&self, mode: u32, owner: Owner) -> Result<Done, HostError> {
        let mode = mode & FILE_MODE_MASK;
        if let Some(m) = &self.current {
            if m.kind == EntryKind::Dir && owned_as(m, mode, owner) {
                return Ok((Outcome::Unchanged, entry(EntryType::Dir, m), 0));
            }
            if m.kind != EntryKind::Dir {
                self.clear_way("directory")?;
            }
        }
        if !self.real {
            return Ok(self.would());
        }
        self.host.make_dir(self.path, mode, owner)?;
        let m = self.stat_after()?;
        Ok((self.made(), entry(EntryType::Dir, &m), 0))
    }

    fn copy_file(
        &self,
        src: &Path,
        mode: u32,
        owner: Owner,
        opts: &ApplyOptions,
    ) -> Result<Done, HostError> {
        let mode = mode & FILE_MODE_MASK;
        let source = source_meta(src).map_err(|e| e.into_host(src, "stat"))?;
        if let Some(prev) = self.copy_unchanged(src, mode, owner, source, opts)? {
            return Ok((Outcome::Unchanged, prev.clone(), 0));
        }
        self.clear_unless(|k| *k == EntryKind::File, "regular file")?;
        if !self.real {
            return Ok(self.would());
        }
        let copied = self.host.copy_file(src, self.path, mode, owner)?;
        let m = match copied.meta {
            Some(m) => m,
            None => self.stat_after()?,
        };
        let mut e = entry(EntryType::File, &m);
        e.src = Some(src.to_path_buf());
        e.sha256 = Some(copied.sha256);
        e.src_size = Some(source.size);
        e.src_mtime_ns = Some(source.mtime_ns);
        // a link to the store's object writes no bytes
        let written = match &copied.stored {
            Some(crate::state::Stored::Linked(_)) => 0,
            _ => copied.size,
        };
        e.store = copied.stored;
        Ok((self.made(), e, written))
    }

    /// The previous entry, when the jail copy and its source are still as it records.
    fn copy_unchanged(
        &self,
        src: &Path,
        mode: u32,
        owner: Owner,
        source: SourceMeta,
        opts: &ApplyOptions,
    ) -> Result<Option<&ManifestEntry>, HostError> {
        let (Some(m), Some(prev)) = (&self.current, self.prev) else {
            return Ok(None);
        };
        let same = m.kind == EntryKind::File
            && owned_as(m, mode, owner)
            && prev.kind == EntryType::File
            && prev.src.as_deref() == Some(src)
            && (prev.size, prev.mtime_ns) == (m.size, m.mtime_ns)
            && prev.src_size == Some(source.size)
            && prev.src_mtime_ns == Some(source.mtime_ns)
            // `build --store` / `--no-store` turn copies into links and back
            && prev.store.is_some() == self.store;
        if !same {
            return Ok(None);
        }
        if opts.verify_content {
            let Some(recorded) = prev.sha256.as_deref() else {
                return Ok(None);
            };
            let src_sha = hash_source(src).map_err(|e| e.into_host(src, "hash"))?;
            if src_sha != recorded || self.host.hash_file(self.path)? != recorded {
                return Ok(None);
            }
        }
        Ok(Some(prev))
    }

    fn write_file(&self, content: &[u8], mode: u32, owner: Owner) -> Result<Done, HostError> {
        let mode = mode & FILE_MODE_MASK;
        let sha = sha256_hex(content);
        if let Some(m) = &self.current
            && m.kind == EntryKind::File
            && owned_as(m, mode, owner)
            && m.size == content.len() as u64
            && self.host.hash_file(self.path)? == sha
        {
            let mut e = entry(EntryType::Content, m);
            e.sha256 = Some(sha);
            return Ok((Outcome::Unchanged, e, 0));
        }
        self.clear_unless(|k| *k == EntryKind::File, "regular file")?;
        if !self.real {
            return Ok(self.would());
        }
        self.host.write_file(self.path, content, mode, owner)?;
        let m = self.stat_after()?;
        let mut e = entry(EntryType::Content, &m);
        e.sha256 = Some(sha);
        Ok((self.made(), e, content.len() as u64))
    }

    fn symlink(&self, target: &Path, src: Option<&Path>) -> Result<Done, HostError> {
        if let Some(m) = &self.current
            && let EntryKind::Symlink { target: have } = &m.kind
            && have == target
        {
            return Ok((Outcome::Unchanged, link_entry(m, target), 0));
        }
        self.clear_unless(|k| matches!(k, EntryKind::Symlink { .. }), "symlink")?;
        if !self.real {
            return Ok(self.would());
        }
        self.host.symlink(self.path, target)?;
        if let Some(src) = src {
            self.host.copy_link_times(self.path, src)?;
        }
        let m = self.stat_after()?;
        Ok((self.made(), link_entry(&m, target), 0))
    }

    fn make_device(&self, major: u64, minor: u64, mode: u32) -> Result<Done, HostError> {
        let mode = mode & DEVICE_MODE_MASK;
        let wanted = EntryKind::CharDevice { major, minor };
        if let Some(m) = &self.current
            && m.kind == wanted
            && owned_as(m, mode, Owner::ROOT)
        {
            return Ok((Outcome::Unchanged, device_entry(m, major, minor), 0));
        }
        self.clear_unless(
            |k| matches!(k, EntryKind::CharDevice { .. }),
            "character device",
        )?;
        if !self.real {
            return Ok(self.would());
        }
        self.host.make_char_device(self.path, major, minor, mode)?;
        let m = self.stat_after()?;
        Ok((self.made(), device_entry(&m, major, minor), 0))
    }

    /// Clears the way unless what is there is of a kind the host replaces atomically.
    fn clear_unless(
        &self,
        replaceable: impl Fn(&EntryKind) -> bool,
        expected: &'static str,
    ) -> Result<(), HostError> {
        match &self.current {
            Some(m) if !replaceable(&m.kind) => self.clear_way(expected),
            _ => Ok(()),
        }
    }

    /// Removes what stands where an object of another kind goes: files and device nodes,
    /// symlinks this tool made (per the manifest), and empty directories. Anything else —
    /// a foreign symlink, a FIFO, a socket, a block device, a non-empty directory — is an
    /// error, since only someone else can have put it there. Judged only (not `real`): the
    /// same refusals, nothing removed, a directory taken to be empty.
    fn clear_way(&self, expected: &'static str) -> Result<(), HostError> {
        let Some(m) = &self.current else {
            return Ok(());
        };
        let op = "replace";
        match &m.kind {
            EntryKind::File | EntryKind::CharDevice { .. } if !self.real => {}
            EntryKind::Symlink { target } if !self.real && self.made_link(target) => {}
            EntryKind::Dir if !self.real => {}
            EntryKind::File | EntryKind::CharDevice { .. } => {
                self.host.remove(self.path)?;
            }
            EntryKind::Symlink { target } if self.made_link(target) => {
                self.host.remove(self.path)?;
            }
            EntryKind::Symlink { .. } => {
                return Err(HostError::Symlink {
                    jail: self.host.root().to_path_buf(),
                    path: self.path.to_string(),
                    op,
                });
            }
            EntryKind::Dir => {
                if !self.host.remove_dir(self.path)? {
                    return Err(self.wrong("non-empty directory", expected, op));
                }
            }
            EntryKind::BlockDevice => return Err(self.wrong("block device", expected, op)),
            EntryKind::Fifo => return Err(self.wrong("FIFO", expected, op)),
            EntryKind::Socket => return Err(self.wrong("socket", expected, op)),
        }
        Ok(())
    }

    /// Whether the last apply made a symlink here with this very target.
    fn made_link(&self, target: &Path) -> bool {
        self.prev
            .is_some_and(|p| p.kind == EntryType::Symlink && p.target.as_deref() == Some(target))
    }

    fn wrong(&self, found: &'static str, expected: &'static str, op: &'static str) -> HostError {
        HostError::WrongType {
            jail: self.host.root().to_path_buf(),
            path: self.path.to_string(),
            found,
            expected,
            op,
        }
    }

    fn stat_after(&self) -> Result<Meta, HostError> {
        self.host.stat(self.path)?.ok_or_else(|| HostError::Io {
            jail: self.host.root().to_path_buf(),
            path: self.path.to_string(),
            op: "find what was just made at",
            source: std::io::ErrorKind::NotFound.into(),
        })
    }
}

/// The journal's entry for a path a step may create: kind and link target or device
/// numbers as planned, everything else zero, so it never passes as current (a copy is made
/// again, a file rewritten) while it marks the path as jailsmith's until a finished run
/// records what is really there; `found` when something was already there (not ours).
pub fn placeholder(op: &Op, found: bool) -> ManifestEntry {
    let kind = match op {
        Op::MakeDir { .. } => EntryType::Dir,
        Op::CopyFile { .. } => EntryType::File,
        Op::Symlink { .. } => EntryType::Symlink,
        Op::MakeDevice { .. } => EntryType::Device,
        Op::WriteFile { .. } => EntryType::Content,
        Op::Remove { expect, .. } => match expect {
            crate::plan::Placed::Dir => EntryType::Dir,
            crate::plan::Placed::File => EntryType::File,
            crate::plan::Placed::Symlink => EntryType::Symlink,
            crate::plan::Placed::Device => EntryType::Device,
        },
    };
    ManifestEntry {
        target: match op {
            Op::Symlink { target, .. } => Some(target.clone()),
            _ => None,
        },
        device: match op {
            Op::MakeDevice { major, minor, .. } => Some((*major, *minor)),
            _ => None,
        },
        ..blank(kind, found)
    }
}

/// An entry of `kind` with everything else zero or absent.
fn blank(kind: EntryType, found: bool) -> ManifestEntry {
    ManifestEntry {
        kind,
        src: None,
        sha256: None,
        mode: 0,
        uid: 0,
        gid: 0,
        size: 0,
        mtime_ns: 0,
        src_size: None,
        src_mtime_ns: None,
        target: None,
        device: None,
        found,
        store: None,
    }
}

/// The manifest entry of a file jailsmith wrote at `path` outside a plan (kind `Content`,
/// with its sha256), from what is on disk; None when nothing is there. Anything but a
/// regular file is refused.
pub fn written_entry(host: &dyn Host, path: &JailPath) -> Result<Option<ManifestEntry>, HostError> {
    let Some(m) = host.stat(path)? else {
        return Ok(None);
    };
    let sha = host.hash_file(path)?;
    let mut e = entry(EntryType::Content, &m);
    e.sha256 = Some(sha);
    Ok(Some(e))
}

fn owned_as(m: &Meta, mode: u32, owner: Owner) -> bool {
    m.mode == mode && m.uid == owner.uid && m.gid == owner.gid
}

/// A manifest entry from what is on disk. A directory's size and mtime change with its
/// children, so they are recorded as 0: they identify nothing.
fn entry(kind: EntryType, m: &Meta) -> ManifestEntry {
    let is_dir = kind == EntryType::Dir;
    ManifestEntry {
        kind,
        src: None,
        sha256: None,
        mode: m.mode,
        uid: m.uid,
        gid: m.gid,
        size: if is_dir { 0 } else { m.size },
        mtime_ns: if is_dir { 0 } else { m.mtime_ns },
        src_size: None,
        src_mtime_ns: None,
        target: None,
        device: None,
        found: false,
        store: None,
    }
}

fn link_entry(m: &Meta, target: &Path) -> ManifestEntry {
    ManifestEntry {
        target: Some(target.to_path_buf()),
        ..entry(EntryType::Symlink, m)
    }
}

fn device_entry(m: &Meta, major: u64, minor: u64) -> ManifestEntry {
    ManifestEntry {
        device: Some((major, minor)),
        ..entry(EntryType::Device, m)
    }
}

#[cfg(test)]
mod tests {
    //! The executor's decisions against the recording in-memory host (`apply::fake`): which
    //! `Host` calls an apply makes, without touching a real jail.

    use std::path::PathBuf;

    use super::*;
    use crate::apply::fake::FakeHost;
    use crate::plan::Placed;
    use crate::plan::Step as PlanStep;

    fn jp(s: &str) -> JailPath {
        JailPath::new(s).unwrap()
    }

    fn plan(src: PathBuf) -> Plan {
        let ops = vec![
            Op::MakeDir {
                path: jp("etc"),
                mode: 0o755,
                owner: Owner::ROOT,
            },
            Op::WriteFile {
                path: jp("etc/group"),
                content: "root:x:0:\n".into(),
                mode: 0o644,
                owner: Owner::ROOT,
            },
            Op::CopyFile {
                src,
                path: jp("etc/bin"),
                mode: 0o4755,
                owner: Owner::ROOT,
            },
            Op::Symlink {
                path: jp("lib"),
                target: "usr/lib".into(),
                src: None,
            },
            Op::MakeDevice {
                path: jp("null"),
                major: 1,
                minor: 3,
                mode: 0o666,
            },
        ];
        Plan {
            jail: "/fake".into(),
            steps: ops
                .into_iter()
                .map(|op| PlanStep {
                    op,
                    reason: "test".into(),
                })
                .collect(),
        }
    }

    fn source() -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), b"binary").unwrap();
        f
    }

    #[test]
    fn a_second_apply_only_looks() {
        let src = source();
        let host = FakeHost::default();
        let plan = plan(src.path().to_path_buf());
        let r1 = apply(&plan, &host, &Manifest::default(), &ApplyOptions::default()).unwrap();
        assert_eq!(r1.created, 5);
        assert_eq!(r1.manifest.get(&jp("etc/bin")).unwrap().mode, 0o755);
        host.writes.write().unwrap().clear();
        let r2 = apply(&plan, &host, &r1.manifest, &ApplyOptions::default()).unwrap();
        assert!(r2.is_unchanged());
        assert_eq!(host.written(), Vec::<String>::new());
        assert_eq!(r2.manifest, r1.manifest);
        assert!(r2.stale.is_empty());
    }

    #[test]
    fn a_lost_manifest_recopies_files_but_keeps_the_rest() {
        let src = source();
        let host = FakeHost::default();
        let plan = plan(src.path().to_path_buf());
        apply(&plan, &host, &Manifest::default(), &ApplyOptions::default()).unwrap();
        host.writes.write().unwrap().clear();
        let r = apply(&plan, &host, &Manifest::default(), &ApplyOptions::default()).unwrap();
        assert_eq!(host.written(), vec!["copy /etc/bin".to_string()]);
        assert_eq!((r.updated, r.unchanged), (1, 4));
    }

    #[test]
    fn foreign_objects_in_the_way_are_refused_without_writing() {
        let src = source();
        let plan = plan(src.path().to_path_buf());
        let link = EntryKind::Symlink {
            target: "/etc".into(),
        };
        let host = FakeHost::default();
        host.put(&jp("etc"), link, 0o777, Owner::ROOT, b"");
        let err = apply(&plan, &host, &Manifest::default(), &ApplyOptions::default());
        assert!(matches!(err, Err(HostError::Symlink { ref path, .. }) if path == "/etc"));
        assert_eq!(host.written(), Vec::<String>::new());

        let host = FakeHost::default();
        host.put(&jp("etc"), EntryKind::Fifo, 0o644, Owner::ROOT, b"");
        let err = apply(&plan, &host, &Manifest::default(), &ApplyOptions::default());
        assert!(matches!(
            err,
            Err(HostError::WrongType { found: "FIFO", .. })
        ));
        assert_eq!(host.written(), Vec::<String>::new());
    }

    #[test]
    fn objects_already_there_are_recorded_as_found_and_stay_so() {
        let src = source();
        let host = FakeHost::default();
        host.put(&jp("etc"), EntryKind::Dir, 0o700, Owner::ROOT, b"");
        let plan = plan(src.path().to_path_buf());
        let r1 = apply(&plan, &host, &Manifest::default(), &ApplyOptions::default()).unwrap();
        assert!(r1.manifest.get(&jp("etc")).unwrap().found);
        assert!(!r1.manifest.get(&jp("etc/group")).unwrap().found);
        let r2 = apply(&plan, &host, &r1.manifest, &ApplyOptions::default()).unwrap();
        assert!(r2.manifest.get(&jp("etc")).unwrap().found);
        assert!(!r2.manifest.get(&jp("etc/bin")).unwrap().found);
    }

    #[test]
    fn turning_the_store_on_or_off_places_the_copies_again_and_only_them() {
        let src = source();
        let plan = plan(src.path().to_path_buf());
        let copies = FakeHost::default();
        let r1 = apply(
            &plan,
            &copies,
            &Manifest::default(),
            &ApplyOptions::default(),
        )
        .unwrap();
        assert_eq!(r1.manifest.get(&jp("etc/bin")).unwrap().store, None);
        let linked = FakeHost {
            entries: std::sync::RwLock::new(copies.entries.read().unwrap().clone()),
            store: true,
            ..Default::default()
        };
        let r2 = apply(&plan, &linked, &r1.manifest, &ApplyOptions::default()).unwrap();
        assert_eq!(linked.written(), vec!["copy /etc/bin".to_string()]);
        let e = r2.manifest.get(&jp("etc/bin")).unwrap();
        assert!(e.store_object().is_some(), "{e:?}");
        assert_eq!(
            (r2.bytes_copied, r2.linked),
            (0, 1),
            "a link writes no bytes"
        );
        linked.writes.write().unwrap().clear();
        let r3 = apply(&plan, &linked, &r2.manifest, &ApplyOptions::default()).unwrap();
        assert!(r3.is_unchanged() && linked.written().is_empty());
        copies.writes.write().unwrap().clear();
        let r4 = apply(&plan, &copies, &r3.manifest, &ApplyOptions::default()).unwrap();
        assert_eq!(copies.written(), vec!["copy /etc/bin".to_string()]);
        assert_eq!(r4.manifest.get(&jp("etc/bin")).unwrap().store, None);
    }

    #[test]
    fn previous_entries_the_plan_neither_names_nor_removes_stay_in_the_manifest() {
        let src = source();
        let host = FakeHost::default();
        let plan = plan(src.path().to_path_buf());
        let mut prev = apply(&plan, &host, &Manifest::default(), &ApplyOptions::default())
            .unwrap()
            .manifest;
        let old = prev.get(&jp("null")).unwrap().clone();
        prev.insert(&jp("usr/bin/gone"), old.clone());
        let r = apply(&plan, &host, &prev, &ApplyOptions::default()).unwrap();
        assert_eq!(r.manifest.get(&jp("usr/bin/gone")), Some(&old));
        assert!(
            r.stale.is_empty(),
            "the executor works out no diff of its own"
        );
    }

    /// A jail built from `plan`, then the previous manifest with `extra` recorded as placed
    /// by an earlier run, and a plan that holds `plan`'s steps and removals of `extra`.
    fn with_removals(
        host: &FakeHost,
        src: &Path,
        extra: &[(&str, EntryKind, Placed)],
    ) -> (Plan, Manifest) {
        let base = plan(src.to_path_buf());
        let mut prev = apply(&base, host, &Manifest::default(), &ApplyOptions::default())
            .unwrap()
            .manifest;
        for (p, kind, _) in extra {
            host.put(&jp(p), kind.clone(), 0o644, Owner::ROOT, b"x");
            let m = host.stat(&jp(p)).unwrap().unwrap();
            let e = match kind {
                EntryKind::Dir => entry(EntryType::Dir, &m),
                EntryKind::Symlink { target } => link_entry(&m, target),
                _ => entry(EntryType::File, &m),
            };
            prev.insert(&jp(p), e);
        }
        let recorded = prev.recorded();
        let mut with = base.clone();
        with.steps
            .extend(crate::plan::prune::removals(&base, &recorded, &[]));
        host.writes.write().unwrap().clear();
        (with, prev)
    }

    #[test]
    fn removals_run_last_children_first_and_drop_their_entries() {
        let src = source();
        let host = FakeHost::default();
        let (plan, prev) = with_removals(
            &host,
            src.path(),
            &[
                ("opt", EntryKind::Dir, Placed::Dir),
                ("opt/tool", EntryKind::File, Placed::File),
                (
                    "opt/link",
                    EntryKind::Symlink {
                        target: "tool".into(),
                    },
                    Placed::Symlink,
                ),
            ],
        );
        let r = apply(&plan, &host, &prev, &ApplyOptions::default()).unwrap();
        assert_eq!(
            host.written(),
            ["rm /opt/link", "rm /opt/tool", "rmdir /opt"],
            "the rest is unchanged; the removals go children first"
        );
        assert_eq!(r.removed, ["/opt/link", "/opt/tool", "/opt"]);
        assert!(r.kept.is_empty() && !r.is_unchanged());
        for p in ["opt", "opt/tool", "opt/link"] {
            assert!(r.manifest.get(&jp(p)).is_none(), "{p} left in the manifest");
            assert!(host.stat(&jp(p)).unwrap().is_none());
        }
        assert!(r.manifest.get(&jp("etc/bin")).is_some());
    }

    #[test]
    fn a_directory_that_does_not_empty_is_kept_with_its_entry() {
        let src = source();
        let host = FakeHost::default();
        let (plan, prev) =
            with_removals(&host, src.path(), &[("opt", EntryKind::Dir, Placed::Dir)]);
        // someone else's file in it: not in the manifest, so no removal names it
        host.put(&jp("opt/theirs"), EntryKind::File, 0o644, Owner::ROOT, b"y");
        let r = apply(&plan, &host, &prev, &ApplyOptions::default()).unwrap();
        assert!(r.removed.is_empty());
        assert_eq!(r.kept.len(), 1);
        assert_eq!(r.kept[0].path, "/opt");
        assert!(r.kept[0].why.contains("not empty"), "{:?}", r.kept);
        assert_eq!(r.manifest.get(&jp("opt")), prev.get(&jp("opt")));
        assert!(host.stat(&jp("opt/theirs")).unwrap().is_some());
    }

    #[test]
    fn a_file_replaced_by_a_symlink_is_kept_and_never_followed() {
        let src = source();
        let host = FakeHost::default();
        let (plan, prev) = with_removals(
            &host,
            src.path(),
            &[("usr/bin/tool", EntryKind::File, Placed::File)],
        );
        let to_host = EntryKind::Symlink {
            target: "/etc/shadow".into(),
        };
        host.put(&jp("usr/bin/tool"), to_host, 0o777, Owner::ROOT, b"");
        let r = apply(&plan, &host, &prev, &ApplyOptions::default()).unwrap();
        assert_eq!(host.written(), Vec::<String>::new(), "nothing removed");
        assert_eq!(r.kept.len(), 1);
        assert!(r.kept[0].why.contains("now a symlink"), "{}", r.kept[0].why);
        assert_eq!(
            r.manifest.get(&jp("usr/bin/tool")),
            prev.get(&jp("usr/bin/tool"))
        );
    }

    #[test]
    fn what_is_already_gone_leaves_the_manifest_without_a_removal() {
        let src = source();
        let host = FakeHost::default();
        let (plan, prev) = with_removals(
            &host,
            src.path(),
            &[("gone", EntryKind::File, Placed::File)],
        );
        host.entries.write().unwrap().remove("gone");
        let r = apply(&plan, &host, &prev, &ApplyOptions::default()).unwrap();
        assert!(r.removed.is_empty() && r.kept.is_empty());
        assert!(r.manifest.get(&jp("gone")).is_none());
    }

    #[test]
    fn no_removal_runs_when_a_step_before_it_fails() {
        let src = source();
        let host = FakeHost::default();
        let (plan, prev) =
            with_removals(&host, src.path(), &[("old", EntryKind::File, Placed::File)]);
        // a FIFO where the plan writes etc/group: that step fails
        host.entries.write().unwrap().remove("etc/group");
        host.put(&jp("etc/group"), EntryKind::Fifo, 0o644, Owner::ROOT, b"");
        let err = apply(&plan, &host, &prev, &ApplyOptions::default());
        assert!(matches!(err, Err(HostError::WrongType { .. })), "{err:?}");
        assert!(host.stat(&jp("old")).unwrap().is_some(), "removed anyway");
    }
}
