//! Host facts and files around a jailed service, all outside the jail: the block device that
//! holds a jail (for IO limits), whether the unit file's text changed (the journal writes
//! it), and the drift between the user-slice limits the state records and the drop-ins on
//! disk. Never writes; never reads inside a jail.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::account::{AccountError, hostfs};
use crate::limits;
use crate::state::JailState;

/// The whole-disk block device (`/dev/NAME`) holding `jail`'s file system, from the jail's
/// st_dev through `/sys/dev/block/MAJ:MIN`. None for file systems without a block device
/// (overlayfs, tmpfs, NFS: major 0) or when sysfs or /dev does not show it. A jail not built
/// yet is looked up through its nearest existing ancestor, where it will be created.
pub fn jail_block_device(jail: &Path) -> Option<PathBuf> {
    let dev = jail
        .ancestors()
        .find_map(|p| std::fs::metadata(p).ok())?
        .dev();
    let (major, minor) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
    if major == 0 {
        return None;
    }
    let sys = PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
    let real = std::fs::canonicalize(&sys).ok()?;
    let is_partition = real.join("partition").exists();
    let name = limits::whole_disk_name(&real.to_string_lossy(), is_partition)?;
    let node = PathBuf::from("/dev").join(name);
    let m = std::fs::symlink_metadata(&node).ok()?;
    m.file_type().is_block_device().then_some(node)
}

/// Refuses, before anything is written, a directory root's files may not go in: not
/// absolute, or any existing directory on its path (from `/` down) not a real directory
/// owned by root and unwritable by group and others. systemd reads every file of a unit
/// directory, so whoever could swap a directory on that path could add units of their own.
/// `mount --systemd-unit-dir` and `service --unit-dir` both ask this.
pub fn check_target_dir(dir: &Path) -> Result<(), String> {
    if !dir.is_absolute() {
        return Err(format!("{}: must be an absolute path", dir.display()));
    }
    match crate::audit::chroot_rule::chroot_problems(dir)
        .into_iter()
        .next()
    {
        None => Ok(()),
        Some(p) => Err(format!(
            "{}: {} {} (fix: {}); jailsmith writes units only where nobody but root can",
            dir.display(),
            p.path.display(),
            p.what,
            p.fix
        )),
    }
}

pub use crate::apply::rootfile::Written;

/// What the safe writer would do writing `text` to the root-owned 0644 file `path`,
/// changing nothing (its refusals included): `service` writes its unit only when it differs.
pub fn would_put_file(path: &Path, text: &str) -> Result<Written, AccountError> {
    Ok(crate::apply::rootfile::would_write(
        path,
        text.as_bytes(),
        0o644,
    )?)
}

pub use crate::state::records::{ServiceRecord, UserLimits};

/// Empty root-owned directories a jailed service needs as mount points (PrivateTmp= mounts a
/// private /var/tmp). Part of every build of a jail that has a service, so that `update`
/// never removes them.
pub fn mount_point_dirs() -> Vec<crate::plan::build::ExtraDir> {
    vec![crate::plan::build::ExtraDir {
        path: crate::plan::JailPath::new("var/tmp").expect("static path"),
        mode: 0o755,
        owner: crate::plan::Owner::ROOT,
    }]
}

/// One difference between the recorded limits and the drop-in on disk. Fields as in
/// `audit::Finding` (path, kind, what, fix), so `check` can report it as an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitsDrift {
    /// Host path of the drop-in.
    pub path: String,
    /// `limits-missing`, `limits-changed` or `limits-unreadable`.
    pub kind: &'static str,
    pub what: String,
    pub fix: String,
}

/// Compares every user's recorded limits with `SYSTEMD_DIR/user-UID.slice.d/50-jailsmith.conf`.
pub fn limits_drift(state: &JailState, systemd_dir: &Path) -> Vec<LimitsDrift> {
    let mut out = Vec::new();
    for (user, ul) in &state.limits {
        let path = systemd_dir.join(limits::slice_dropin_relpath(ul.uid));
        let expected = limits::render_slice_dropin(user, ul.uid, &ul.limits);
        let fix = format!(
            "run 'jailsmith user {user} --jail {} ...' with the limits again, then 'systemctl daemon-reload'",
            state.jail.display()
        );
        let found = match hostfs::read_optional(&path) {
            Ok(f) => f,
            Err(e) => {
                out.push(LimitsDrift {
                    path: path.display().to_string(),
                    kind: "limits-unreadable",
                    what: format!("the limits drop-in of {user} cannot be read: {e}"),
                    fix,
                });
                continue;
            }
        };
        let (kind, what) = match found {
            None => (
                "limits-missing",
                format!("the limits drop-in of {user} is gone: its sessions run unlimited"),
            ),
            Some(t) if t != expected => (
                "limits-changed",
                format!("the limits drop-in of {user} differs from what jailsmith wrote"),
            ),
            Some(_) => continue,
        };
        out.push(LimitsDrift {
            path: path.display().to_string(),
            kind,
            what,
            fix,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{Limits, RawLimits};

    #[test]
    fn drift_missing_changed_and_clean() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits::parse(&RawLimits {
            memory_max: Some("150M"),
            ..Default::default()
        })
        .unwrap();
        let mut st = JailState {
            jail: "/srv/j".into(),
            request: Default::default(),
            manifest: Default::default(),
            users: vec!["alice".into()],
            limits: Default::default(),
            groups: Default::default(),
            services: Default::default(),
            updated_unix: 0,
            in_progress: false,
        };
        st.limits.insert(
            "alice".into(),
            UserLimits {
                uid: 4321,
                limits: limits.clone(),
            },
        );
        let found = limits_drift(&st, dir.path());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, "limits-missing");
        let file = dir.path().join(limits::slice_dropin_relpath(4321));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, limits::render_slice_dropin("alice", 4321, &limits)).unwrap();
        assert!(limits_drift(&st, dir.path()).is_empty());
        std::fs::write(&file, "[Slice]\nMemoryMax=infinity\n").unwrap();
        assert_eq!(limits_drift(&st, dir.path())[0].kind, "limits-changed");
    }
}
