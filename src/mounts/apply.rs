//! Applying and removing declared binds. A target is created through `LinuxHost` and
//! reached by a descriptor opened beneath the jail root (no symlink followed); the kernel
//! gets `/proc/self/fd/N`, so a symlink planted in the jail cannot redirect a mount.
//! Binds are never recursive and always nosuid,nodev; ro unless declared rw.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};

use super::Bind;
use super::mountinfo::{self, MountEntry};
use crate::apply::{EntryKind, Host, HostError, LinuxHost};
use crate::plan::{JailPath, Owner};
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
}

impl MountError {
    pub fn exit_code(&self) -> u8 {
        match self {
            MountError::UnsafeSource { .. } | MountError::Denied(_) => crate::exit::REFUSED,
            MountError::NoSource { .. } => crate::exit::BAD_INPUT,
            MountError::Host(e) => e.exit_code(),
            _ => crate::exit::HOST_FAILURE,
        }
    }
}

/// What `mount_all`/`umount_all` did to one bind.
#[derive(Clone, Debug, PartialEq, Eq)]
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

fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn flags_for(bind: &Bind) -> MsFlags {
    let mut f = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    if !bind.rw {
        f |= MsFlags::MS_RDONLY;
    }
    f
}

/// True when a mounted entry carries exactly the flags the bind declares.
pub fn flags_match(bind: &Bind, m: &MountEntry) -> bool {
    m.has("nosuid") && m.has("nodev") && m.read_only() != bind.rw
}

/// Creates the target (a root-owned 0755 directory, parents too) without following links.
fn make_target(host: &LinuxHost, bind: &Bind) -> Result<OwnedFd, MountError> {
    for a in bind.dst.ancestors().into_iter().chain([bind.dst.clone()]) {
        match host.stat(&a)? {
            Some(m) if m.kind == EntryKind::Dir => {}
            // absent: create it; anything else: make_dir names the symlink or wrong type
            _ => {
                host.make_dir(&a, 0o755, Owner::ROOT)?;
            }
        }
    }
    Ok(host.open_dir(&bind.dst, "open the bind target")?)
}

/// Mounts every bind of `jail` that is not mounted yet and fixes the flags of those that
/// are. Idempotent.
pub fn mount_all(host: &LinuxHost, binds: &[Bind]) -> Result<Vec<(Bind, Done)>, MountError> {
    let jail = host.root().to_path_buf();
    let mut out = Vec::new();
    for bind in binds {
        crate::hostinfo::guard::bind_source(bind, &jail, Path::new(DEFAULT_STATE_DIR))?;
        check_source(bind)?;
        let target = bind.host_target(&jail);
        let table = mountinfo::read().map_err(MountError::Table)?;
        let sys = |op, source| MountError::Sys {
            target: target.clone(),
            op,
            source,
        };
        let done = match mountinfo::at(&table, &target) {
            Some(m) if flags_match(bind, m) => Done::AlreadyMounted,
            Some(_) => {
                let fd = host.open_dir(&bind.dst, "open the bind mount")?;
                mount(
                    None::<&str>,
                    &fd_path(&fd),
                    None::<&str>,
                    flags_for(bind),
                    None::<&str>,
                )
                .map_err(|e| sys("remount", e))?;
                Done::Remounted
            }
            None => {
                let fd = make_target(host, bind)?;
                mount(
                    Some(&bind.src),
                    &fd_path(&fd),
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(|e| sys("bind-mount onto", e))?;
                drop(fd);
                // Reopen: the new descriptor is the root of the new mount.
                let fd = host.open_dir(&bind.dst, "open the new bind mount")?;
                if let Err(e) = mount(
                    None::<&str>,
                    &fd_path(&fd),
                    None::<&str>,
                    flags_for(bind),
                    None::<&str>,
                ) {
                    let _ = umount2(&fd_path(&fd), MntFlags::MNT_DETACH);
                    return Err(sys("remount nosuid,nodev of", e));
                }
                Done::Mounted
            }
        };
        out.push((bind.clone(), done));
    }
    Ok(out)
}

/// Unmounts every bind of the jail that is mounted (topmost first, deepest first).
pub fn umount_all(host: &LinuxHost, binds: &[Bind]) -> Result<Vec<(Bind, Done)>, MountError> {
    let jail = host.root().to_path_buf();
    let mut sorted: Vec<&Bind> = binds.iter().collect();
    sorted.sort_by_key(|b| std::cmp::Reverse(b.dst.rel().components().count()));
    let mut out = Vec::new();
    for bind in sorted {
        let target = bind.host_target(&jail);
        let mut done = Done::NotMounted;
        // stacked mounts come off one at a time; bounded, in case something remounts
        for _ in 0..16 {
            let table = mountinfo::read().map_err(MountError::Table)?;
            if mountinfo::at(&table, &target).is_none() {
                break;
            }
            let fd = host.open_dir(&bind.dst, "open the bind mount")?;
            umount2(&fd_path(&fd), MntFlags::MNT_DETACH).map_err(|source| MountError::Sys {
                target: target.clone(),
                op: "unmount",
                source,
            })?;
            done = Done::Unmounted;
        }
        out.push((bind.clone(), done));
    }
    Ok(out)
}

/// Unmounts anything still mounted below the jail (undeclared mounts, for `destroy`),
/// deepest first, each reached by a descriptor opened beneath the jail root (so a symlink
/// planted on the way cannot redirect the unmount), detached lazily.
pub fn detach_all_under(host: &LinuxHost) -> Result<usize, MountError> {
    let jail = host.root().to_path_buf();
    for n in 0..256 {
        let table = mountinfo::read().map_err(MountError::Table)?;
        let mut below = mountinfo::under(&table, &jail);
        below.sort_by_key(|m| std::cmp::Reverse(m.mount_point.components().count()));
        let Some(m) = below.first() else {
            return Ok(n);
        };
        let sys = |op, source| MountError::Sys {
            target: m.mount_point.clone(),
            op,
            source,
        };
        let rel = m
            .mount_point
            .strip_prefix(&jail)
            .map_err(|_| sys("locate", nix::errno::Errno::EINVAL))?;
        let jp = JailPath::new(rel).map_err(|_| sys("locate", nix::errno::Errno::EINVAL))?;
        let fd = host.open_dir(&jp, "open a mount point")?;
        umount2(&fd_path(&fd), MntFlags::MNT_DETACH).map_err(|e| sys("unmount", e))?;
    }
    Err(MountError::Sys {
        target: jail,
        op: "unmount everything below",
        source: nix::errno::Errno::EBUSY,
    })
}
