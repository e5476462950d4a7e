//! Applying and removing a jail's mounts (the host layer's part of `mounts`: the binds it
//! declares, its own proc, devpts and log socket); `mount` and `unmount` perform the plan's
//! `HostOp::Mount` and `HostOp::Unmount` for the journal, `check_mount` and `mounted` say
//! what they would do. A target (made before by its own steps, `mounts::prepare`) is
//! reached by a descriptor opened beneath the jail root (no symlink followed); the kernel
//! gets `/proc/self/fd/N`, so a symlink planted in the jail cannot redirect a mount.
//! Binds are never recursive and always nosuid,nodev; ro unless declared rw. Mounts below
//! a jail are told apart by identity (mount ID, the source's device and inode), never by
//! path: the jail's own binds are unmounted wherever they moved, any other mount stops a
//! removal. A jail's own procfs (`build --proc`) and devpts (`--devpts`) are told apart by
//! what they are: a procfs with hidepid=invisible,subset=pid at exactly the jail's /proc, a
//! devpts with ptmxmode=666,mode=620 at exactly its /dev/pts, a socket bound at exactly its
//! dev/log (`--log`); any other is foreign.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::mount as sysmount;
use super::{EntryKind, Host, HostError, LinuxHost, tree};
use crate::mounts::mountinfo::{self, MountEntry};
use crate::mounts::{
    Bind, DEVPTS_DIR, LOG_PATH, Own, PROC_DIR, PROC_OPTIONS, is_private_devpts, is_private_proc,
};
use crate::plan::{JailPath, MountKind};
use crate::state::DEFAULT_STATE_DIR;

/// Why a bind could not be applied or removed.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("refusing bind source {src}: {why}")]
    UnsafeSource { src: PathBuf, why: String },
    #[error("bind source {src}: {source}")]
    NoSource {
        src: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Denied(#[from] crate::plan::denylist::Denied),
    #[error(transparent)]
    LogSocket(#[from] crate::mounts::log::LogSocketError),
    #[error(
        "{path} is {what}, not the empty file jailsmith binds the log socket onto; jailsmith \
         neither follows nor removes it: look at it, remove it and run again"
    )]
    Placeholder { path: PathBuf, what: String },
    /// The placeholder (or dev/) made by an earlier step of this run is gone.
    #[error(
        "{path}: the empty file jailsmith made to bind the log socket onto went away \
         before the mount; nothing was mounted: run again"
    )]
    PlaceholderGone { path: PathBuf },
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("cannot {op} {target}: {source}")]
    Sys {
        target: PathBuf,
        op: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("cannot read the mount table: {0}")]
    Table(#[source] std::io::Error),
    #[error(
        "{path} is a mount point that is not one of the jail's binds; jailsmith touches nothing \
         under it: unmount it and run again"
    )]
    Foreign { path: PathBuf },
    /// The mount jailsmith would unmount is no longer the one at its place.
    #[error("not unmounting {path}: the mount jailsmith made there is not the one there ({why})")]
    NotTheMount { path: PathBuf, why: String },
}

impl MountError {
    pub fn exit_code(&self) -> u8 {
        match self {
            MountError::UnsafeSource { .. }
            | MountError::Denied(_)
            | MountError::Foreign { .. }
            | MountError::NotTheMount { .. }
            | MountError::Placeholder { .. }
            | MountError::PlaceholderGone { .. } => crate::exit::REFUSED,
            MountError::LogSocket(e) => e.exit_code(),
            MountError::NoSource { .. } => crate::exit::BAD_INPUT,
            MountError::Host(e) => e.exit_code(),
            _ => crate::exit::HOST_FAILURE,
        }
    }
}

/// What `mount` or `umount` did to one mount (with `dry`: would do).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Done {
    Mounted,
    Remounted,
    AlreadyMounted,
    Unmounted,
    NotMounted,
}

/// Refuses a source that is not a real directory path, or whose path a non-root user could
/// change: an ancestor owned by a non-root user or writable by group or others (that user
/// could swap the source between this check and the mount). A read-only bind also refuses
/// a source a non-root user can change itself (it would still change under the jail); a
/// read-write bind's source may be writable, that is its point.
pub fn check_source(bind: &Bind) -> Result<(), MountError> {
    let bad = |why: String| MountError::UnsafeSource {
        src: bind.src.clone(),
        why,
    };
    let canon = std::fs::canonicalize(&bind.src).map_err(|source| MountError::NoSource {
        src: bind.src.clone(),
        source,
    })?;
    if canon != bind.src {
        return Err(bad(format!(
            "its path goes through a symlink; use the real path {}",
            canon.display()
        )));
    }
    if !canon.is_dir() {
        return Err(bad("it is not a directory".into()));
    }
    let skip = usize::from(bind.rw);
    for a in bind.src.ancestors().skip(skip) {
        let m = std::fs::symlink_metadata(a).map_err(|e| bad(e.to_string()))?;
        let user_writable =
            m.uid() != 0 || m.mode() & 0o002 != 0 || (m.mode() & 0o020 != 0 && m.gid() != 0);
        if user_writable && a != bind.src {
            return Err(bad(format!(
                "its parent {} is writable by a non-root user (uid {}, mode {:04o}), who could \
                 replace the source before it is mounted",
                a.display(),
                m.uid(),
                m.mode() & 0o7777
            )));
        }
        if user_writable {
            return Err(bad(format!(
                "{} is writable by a non-root user (uid {}, mode {:04o}); a read-only bind of \
                 it would still change under the jail; declare it :rw explicitly if that is meant",
                a.display(),
                m.uid(),
                m.mode() & 0o7777
            )));
        }
    }
    Ok(())
}

/// True when a mounted entry carries exactly the flags the bind declares.
pub fn flags_match(bind: &Bind, m: &MountEntry) -> bool {
    m.has("nosuid") && m.has("nodev") && m.read_only() != bind.rw
}

/// What making the target's directories would refuse (a symlink or a non-directory on the
/// way), changing nothing: the checks of a dry run.
fn check_target(host: &LinuxHost, bind: &Bind) -> Result<(), MountError> {
    for a in bind.dst.ancestors().into_iter().chain([bind.dst.clone()]) {
        if !host.check_dir(&a)? {
            return Ok(()); // missing: it and what is below it would be made
        }
    }
    Ok(())
}

/// What mounting one mount did (with `dry`: would do), and the ID of the mount made when
/// one was (a new mount: what a roll-back unmounts; none when one was already there and
/// at most its flags were fixed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Made {
    pub done: Done,
    pub mount_id: Option<u64>,
}

impl Made {
    fn only(done: Done) -> Self {
        Made {
            done,
            mount_id: None,
        }
    }

    /// A new mount, its ID read from `fd`, a descriptor of its root.
    fn new_mount(fd: &OwnedFd) -> Self {
        Made {
            done: Done::Mounted,
            mount_id: tree::mount_id(fd.as_fd()),
        }
    }
}

/// Mounts `mount` at `target` in the jail of `host` (a `HostOp::Mount`), refusing what
/// the deny-list and `check_source` refuse for a bind. Idempotent: a mount already there
/// is left (its flags fixed).
pub fn mount(host: &LinuxHost, target: &JailPath, mount: &MountKind) -> Result<Made, MountError> {
    mount_or_check(host, target, mount, false)
}

/// What `mount` would do, after every check it makes (the plan's answer); changes nothing.
pub fn check_mount(
    host: &LinuxHost,
    target: &JailPath,
    mount: &MountKind,
) -> Result<Made, MountError> {
    mount_or_check(host, target, mount, true)
}

fn mount_or_check(
    host: &LinuxHost,
    target: &JailPath,
    mount: &MountKind,
    dry: bool,
) -> Result<Made, MountError> {
    match mount {
        MountKind::Bind { source, rw } => {
            let bind = Bind {
                src: source.clone(),
                dst: target.clone(),
                rw: *rw,
            };
            let jail = host.root().to_path_buf();
            crate::hostinfo::guard::bind_source(&bind, &jail, Path::new(DEFAULT_STATE_DIR))?;
            check_source(&bind)?;
            mount_bind(host, &bind, dry)
        }
        MountKind::Proc => mount_proc(host, dry),
        MountKind::Devpts { gid } => mount_devpts(host, *gid, dry),
        MountKind::Log { source } => mount_log(host, source, dry),
    }
}

/// Mounts one bind when it is not mounted yet, or fixes its flags when it is.
fn mount_bind(host: &LinuxHost, bind: &Bind, dry: bool) -> Result<Made, MountError> {
    let target = bind.host_target(host.root());
    let table = mountinfo::read().map_err(MountError::Table)?;
    let sys = |op, source| MountError::Sys {
        target: target.clone(),
        op,
        source,
    };
    match mountinfo::at(&table, &target) {
        Some(m) if flags_match(bind, m) => Ok(Made::only(Done::AlreadyMounted)),
        Some(_) if dry => Ok(Made::only(Done::Remounted)),
        None if dry => {
            check_target(host, bind)?;
            Ok(Made::only(Done::Mounted))
        }
        Some(_) => {
            let fd = host.open_dir(&bind.dst, "open the bind mount")?;
            sysmount::restrict(fd.as_fd(), bind.rw).map_err(|e| sys("remount", e))?;
            Ok(Made::only(Done::Remounted))
        }
        None => {
            // made before, by its own step (`mounts::prepare`); a symlink there is refused
            let fd = host.open_dir(&bind.dst, "open the bind target")?;
            sysmount::bind(&bind.src, fd.as_fd()).map_err(|e| sys("bind-mount onto", e))?;
            drop(fd);
            // Reopen: the new descriptor is the root of the new mount.
            let fd = host.open_dir(&bind.dst, "open the new bind mount")?;
            if let Err(e) = sysmount::restrict(fd.as_fd(), bind.rw) {
                let _ = sysmount::detach(fd.as_fd());
                return Err(sys("remount nosuid,nodev of", e));
            }
            Ok(Made::new_mount(&fd))
        }
    }
}

/// Unmounts the mount `mount_id` at `target` in the jail of `host` (a `HostOp::Unmount`):
/// only when the mount table still shows that mount at exactly that place and the
/// descriptor opened there (beneath the root, no symlink followed) is its root; anything
/// else there (a mount over it, the mount moved away) is refused, never unmounted in its
/// place. False when that mount is gone already.
pub fn unmount(host: &LinuxHost, target: &JailPath, mount_id: u64) -> Result<bool, MountError> {
    let at = host.root().join(target.rel());
    let table = mountinfo::read().map_err(MountError::Table)?;
    let Some(entry) = table.iter().find(|m| m.id == mount_id) else {
        return Ok(false);
    };
    let not_it = |why: String| MountError::NotTheMount {
        path: at.clone(),
        why,
    };
    if entry.mount_point != at {
        return Err(not_it(format!(
            "it has moved to {}",
            entry.mount_point.display()
        )));
    }
    let fd = host.open_node(target, "open the mount to unmount")?;
    if tree::mount_id(fd.as_fd()) != Some(mount_id) {
        return Err(not_it("another mount covers it".into()));
    }
    sysmount::detach(fd.as_fd()).map_err(|source| MountError::Sys {
        target: at,
        op: "unmount",
        source,
    })?;
    Ok(true)
}

fn proc_dir() -> JailPath {
    JailPath::new(PROC_DIR).expect("a valid jail path")
}

/// Mounts the jail's own procfs (hidepid=invisible,subset=pid, nosuid,nodev,noexec) at its
/// /proc, a directory made before (by `mounts::prepare`'s step; a symlink there is refused). A
/// private proc already there is left; any other mount there is foreign. With `dry`,
/// says what it would do.
fn mount_proc(host: &LinuxHost, dry: bool) -> Result<Made, MountError> {
    let dir = proc_dir();
    let target = host.root().join(dir.rel());
    let table = mountinfo::read().map_err(MountError::Table)?;
    match mountinfo::at(&table, &target) {
        Some(m) if is_private_proc(m) => return Ok(Made::only(Done::AlreadyMounted)),
        Some(_) => return Err(MountError::Foreign { path: target }),
        None if dry => {
            host.check_dir(&dir)?;
            return Ok(Made::only(Done::Mounted));
        }
        None => {}
    }
    let fd = host.open_dir(&dir, "open the proc mount point")?;
    sysmount::proc_mount(fd.as_fd(), PROC_OPTIONS).map_err(|source| MountError::Sys {
        target,
        op: "mount proc (hidepid=invisible,subset=pid) on",
        source,
    })?;
    drop(fd);
    // Reopen: the new descriptor is the root of the new mount.
    let fd = host.open_dir(&dir, "open the new proc mount")?;
    Ok(Made::new_mount(&fd))
}

/// Mounts the jail's own devpts instance at its /dev/pts for the tty group `gid` (the
/// directory, and dev/ptmx's link to pts/ptmx, made before by `mounts::prepare`'s steps).
/// An instance already there is left; any other mount there is foreign. With `dry`, says
/// what it would do.
fn mount_devpts(host: &LinuxHost, gid: u32, dry: bool) -> Result<Made, MountError> {
    let dev = JailPath::new("/dev").expect("a valid jail path");
    let dir = JailPath::new(DEVPTS_DIR).expect("a valid jail path");
    let target = host.root().join(dir.rel());
    if dry {
        if host.check_dir(&dev)? {
            host.check_dir(&dir)?;
        }
        let table = mountinfo::read().map_err(MountError::Table)?;
        return match mountinfo::at(&table, &target) {
            Some(m) if is_private_devpts(m) => Ok(Made::only(Done::AlreadyMounted)),
            Some(_) => Err(MountError::Foreign { path: target }),
            None => Ok(Made::only(Done::Mounted)),
        };
    }
    let table = mountinfo::read().map_err(MountError::Table)?;
    match mountinfo::at(&table, &target) {
        Some(m) if is_private_devpts(m) => return Ok(Made::only(Done::AlreadyMounted)),
        Some(_) => return Err(MountError::Foreign { path: target }),
        None => {}
    }
    let fd = host.open_dir(&dir, "open the devpts mount point")?;
    let opts = crate::mounts::devpts_options(gid);
    sysmount::devpts_mount(fd.as_fd(), &opts).map_err(|source| MountError::Sys {
        target,
        op: "mount devpts (newinstance) on",
        source,
    })?;
    drop(fd);
    let fd = host.open_dir(&dir, "open the new devpts mount")?;
    Ok(Made::new_mount(&fd))
}

/// Binds the host socket `src` (a syslog socket, checked by `log::check` and bound
/// through a descriptor of what was checked) at the jail's dev/log, ro,nosuid,nodev, onto
/// an empty root-owned placeholder file (it and dev/ made before by `mounts::prepare`'s
/// steps). Anything else at dev/log (a symlink, a directory, a file with content, another
/// socket) is refused, never followed or removed. A socket already bound there is left when
/// it is `src`, and bound again when `src` was recreated since (a restarted syslog daemon).
/// With `dry`, runs every check and says what it would do, changing nothing.
fn mount_log(host: &LinuxHost, src: &Path, dry: bool) -> Result<Made, MountError> {
    let net_unix = std::fs::read_to_string("/proc/net/unix").map_err(MountError::Table)?;
    crate::mounts::log::check(src, &net_unix)?;
    let src_fd = sysmount::open_socket(src).map_err(|source| MountError::NoSource {
        src: src.to_path_buf(),
        source,
    })?;
    let dev = JailPath::new("/dev").expect("a valid jail path");
    let at = JailPath::new(LOG_PATH).expect("a valid jail path");
    let target = host.root().join(at.rel());
    let sys = |op, source| MountError::Sys {
        target: target.clone(),
        op,
        source,
    };
    let table = mountinfo::read().map_err(MountError::Table)?;
    let mut done = Done::Mounted;
    if let Some(m) = mountinfo::at(&table, &target) {
        let fd = host.open_node(&at, "open the log socket mount")?;
        if !tree::is_socket(fd.as_fd()) {
            return Err(MountError::Foreign { path: target });
        }
        if tree::dev_ino(fd.as_fd()) == tree::dev_ino(src_fd.as_fd()) {
            if m.has("ro") && m.has("nosuid") && m.has("nodev") {
                return Ok(Made::only(Done::AlreadyMounted));
            }
            if dry {
                return Ok(Made::only(Done::Remounted));
            }
            sysmount::restrict(fd.as_fd(), false).map_err(|e| sys("remount", e))?;
            return Ok(Made::only(Done::Remounted));
        }
        // a socket the host has since replaced: logging through it goes nowhere
        if dry {
            return Ok(Made::only(Done::Remounted));
        }
        sysmount::detach(fd.as_fd()).map_err(|e| sys("unmount the stale log socket at", e))?;
        done = Done::Remounted;
    }
    // dev/ and the placeholder are made before, by `mounts::prepare`'s steps
    if !host.check_dir(&dev)? {
        // a symlink or a file is refused; missing: a dry run's would be made
        if dry {
            return Ok(Made::only(done));
        }
        return Err(MountError::PlaceholderGone { path: target });
    }
    match host.stat(&at)? {
        None if dry => {}
        None => {
            return Err(MountError::PlaceholderGone { path: target });
        }
        Some(m) if m.kind == EntryKind::File && m.size == 0 => {}
        Some(m) => {
            let what = match m.kind {
                EntryKind::Symlink { target } => format!("a symlink to {}", target.display()),
                EntryKind::Dir => "a directory".into(),
                EntryKind::File => format!("a file of {} bytes", m.size),
                EntryKind::Socket => "a socket".into(),
                _ => "a device or FIFO".into(),
            };
            return Err(MountError::Placeholder { path: target, what });
        }
    }
    if dry {
        return Ok(Made::only(done));
    }
    let fd = host.open_node(&at, "open the log socket placeholder")?;
    if !tree::is_regular(fd.as_fd()) {
        return Err(MountError::Placeholder {
            path: target,
            what: "no longer a regular file".into(),
        });
    }
    sysmount::bind_node(src_fd.as_fd(), fd.as_fd())
        .map_err(|e| sys("bind the log socket onto", e))?;
    drop(fd);
    // Reopen: the new descriptor is the root of the new mount.
    let fd = host.open_node(&at, "open the new log socket mount")?;
    if let Err(e) = sysmount::restrict(fd.as_fd(), false) {
        let _ = sysmount::detach(fd.as_fd());
        return Err(sys("remount ro,nosuid,nodev of", e));
    }
    // a stale socket replaced: the jail had a log mount before the run, and keeps one
    Ok(match done {
        Done::Mounted => Made::new_mount(&fd),
        _ => Made::only(done),
    })
}

/// A mount below a jail, opened beneath the root (no symlink followed) and checked to be
/// the very mount the table lists (by mount ID).
struct Below {
    entry: MountEntry,
    fd: OwnedFd,
    /// The declared bind it is: its root has the source's device and inode.
    bind: Option<usize>,
    /// One of the jail's own mounts (declared: its /proc, its /dev/pts, its dev/log).
    own: Option<OwnMount>,
}

/// Which of a jail's own mounts (`Own`) a mount is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnMount {
    Proc,
    Devpts,
    Log,
}

impl Below {
    fn ours(&self) -> bool {
        self.bind.is_some() || self.own.is_some()
    }

    fn describe(&self, binds: &[Bind]) -> String {
        match (self.bind, self.own) {
            (Some(i), _) => binds[i].to_string(),
            (None, Some(OwnMount::Devpts)) => format!("devpts:{DEVPTS_DIR}"),
            (None, Some(OwnMount::Log)) => format!("log:{LOG_PATH}"),
            (None, _) => format!("proc:{PROC_DIR}"),
        }
    }
}

/// Device and inode of each bind's source (None when it cannot be read: then no mount
/// can be taken for it).
fn source_ids(binds: &[Bind]) -> Vec<Option<(u64, u64)>> {
    binds
        .iter()
        .map(|b| {
            std::fs::symlink_metadata(&b.src)
                .ok()
                .filter(|m| m.is_dir())
                .map(|m| (m.dev(), m.ino()))
        })
        .collect()
}

/// The mounts below `under` (an in-jail directory; the jail root when None), deepest
/// first, each matched to a declared bind by the identity of its root, never by path:
/// a bind whose parent was renamed is still found, and a foreign mount at a declared
/// target is not taken for the bind.
fn mounts_below(
    host: &LinuxHost,
    binds: &[Bind],
    own: Own,
    under: Option<&JailPath>,
) -> Result<Vec<Below>, MountError> {
    let jail = host.root().to_path_buf();
    let top = under.map_or(jail.clone(), |u| jail.join(u.rel()));
    let table = mountinfo::read().map_err(MountError::Table)?;
    let mut below = mountinfo::under(&table, &top);
    below.sort_by_key(|m| std::cmp::Reverse(m.mount_point.components().count()));
    let ids = source_ids(binds);
    let mut out = Vec::new();
    for entry in below {
        let foreign = || MountError::Foreign {
            path: entry.mount_point.clone(),
        };
        let Some(jp) = entry
            .mount_point
            .strip_prefix(&jail)
            .ok()
            .and_then(|rel| JailPath::new(rel).ok())
        else {
            return Err(foreign());
        };
        // O_PATH: a mount point may be a file (the socket at dev/log)
        let fd = host.open_node(&jp, "open a mount point")?;
        if tree::mount_id(fd.as_fd()).is_some_and(|id| id != entry.id) {
            // something else is mounted over it, or it moved: not the entry we read
            return Err(foreign());
        }
        let me = tree::dev_ino(fd.as_fd());
        let bind = ids.iter().position(|id| id.is_some() && *id == me);
        let at = jp.to_string();
        let own = match bind {
            Some(_) => None,
            None if own.is_own(&at, &entry) && entry.fstype == "devpts" => Some(OwnMount::Devpts),
            None if own.is_own(&at, &entry) => Some(OwnMount::Proc),
            None if own.log && at == LOG_PATH && tree::is_socket(fd.as_fd()) => Some(OwnMount::Log),
            None => None,
        };
        out.push(Below {
            entry,
            fd,
            bind,
            own,
        });
    }
    Ok(out)
}

fn detach(b: &Below) -> Result<(), MountError> {
    sysmount::detach(b.fd.as_fd()).map_err(|source| MountError::Sys {
        target: b.entry.mount_point.clone(),
        op: "unmount",
        source,
    })
}

/// One of the jail's own mounts found below it (`mounted`): where it is now, its mount ID,
/// and which it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub target: JailPath,
    pub mount_id: u64,
    /// `SRC:DST:ro`, `proc:/proc`, `devpts:/dev/pts`, `log:/dev/log`.
    pub what: String,
    /// The declared bind it is (its index), if a bind.
    pub bind: Option<usize>,
    /// Which of the jail's own mounts it is, if one.
    pub own: Option<OwnMount>,
}

/// The jail's mounted binds, wherever they now are below the jail (found by mount ID and
/// the source's device and inode, not by their path), and its own procfs, devpts and log
/// socket when `own` declares them, deepest first: what `umount` unmounts. Other mounts
/// are left out. Changes nothing.
pub fn mounted(host: &LinuxHost, binds: &[Bind], own: Own) -> Result<Vec<Found>, MountError> {
    let jail = host.root().to_path_buf();
    Ok(mounts_below(host, binds, own, None)?
        .into_iter()
        .filter(Below::ours)
        .filter_map(|b| {
            let target = b
                .entry
                .mount_point
                .strip_prefix(&jail)
                .ok()
                .and_then(|rel| JailPath::new(rel).ok())?;
            Some(Found {
                target,
                mount_id: b.entry.id,
                what: b.describe(binds),
                bind: b.bind,
                own: b.own,
            })
        })
        .collect())
}

/// Refuses, naming it, a mount below `under` (the jail root when None) that is not one of
/// the jail's binds (or its own procfs or devpts, when `own` declares them). Changes nothing.
pub fn refuse_foreign(
    host: &LinuxHost,
    binds: &[Bind],
    own: Own,
    under: Option<&JailPath>,
) -> Result<(), MountError> {
    match mounts_below(host, binds, own, under)?
        .into_iter()
        .find(|b| !b.ours())
    {
        Some(f) => Err(MountError::Foreign {
            path: f.entry.mount_point,
        }),
        None => Ok(()),
    }
}

/// Before removing below `under` (the jail root when None): unmounts the jail's own binds
/// there (matched by identity) and its own procfs and devpts when `own` declares them, and refuses,
/// naming it, any other mount there, so that no removal reaches into a host directory.
/// Returns what was unmounted (`SRC:DST:ro`, `proc:/proc`). With `dry`, the same refusal
/// and what it would unmount, changing nothing (`destroy --dry-run`).
pub fn clear_for_removal(
    host: &LinuxHost,
    binds: &[Bind],
    own: Own,
    under: Option<&JailPath>,
    dry: bool,
) -> Result<Vec<String>, MountError> {
    refuse_foreign(host, binds, own, under)?;
    let mut out: Vec<String> = Vec::new();
    for _ in 0..16 {
        let below = mounts_below(host, binds, own, under)?;
        if below.is_empty() {
            return Ok(out);
        }
        for b in &below {
            if !b.ours() {
                return Err(MountError::Foreign {
                    path: b.entry.mount_point.clone(),
                });
            }
            if !dry {
                detach(b)?;
            }
            let what = b.describe(binds);
            if !out.contains(&what) {
                out.push(what);
            }
        }
        if dry {
            return Ok(out);
        }
    }
    Err(MountError::Sys {
        target: host.root().to_path_buf(),
        op: "unmount the binds below",
        source: nix::errno::Errno::EBUSY,
    })
}
