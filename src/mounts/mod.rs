//! Bind mounts of a jail: their declaration (`SRC:DST[:ro|rw]`, recorded in the state), the
//! mount table as the kernel shows it, systemd `.mount` units and the `mount`/`umount` use
//! case. Applying and removing them is the host layer's (`apply::binds`): through
//! descriptors opened beneath the jail root, never a path that could hold a planted symlink.

pub mod log;
pub mod mountinfo;
pub mod nested;
pub mod prepare;
pub mod unit;
pub mod usecase;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::plan::JailPath;

/// Where a jail's own procfs (`build --proc`) is mounted, inside the jail.
pub const PROC_DIR: &str = "/proc";

/// The superblock options of a jail's own procfs: a process sees its own user's processes
/// only, and nothing of /proc but the PID directories (no /proc/sys, /proc/kallsyms, …).
pub const PROC_OPTIONS: &str = "hidepid=invisible,subset=pid";

/// True when `m` is a procfs that hides other users' processes and shows PIDs only (the
/// kernel prints hidepid=invisible as `hidepid=invisible` or, on older kernels, `2`).
pub fn is_private_proc(m: &mountinfo::MountEntry) -> bool {
    m.fstype == "proc"
        && (m.has_super("hidepid=invisible") || m.has_super("hidepid=2"))
        && m.has_super("subset=pid")
}

/// Where a jail's own devpts instance (`build --devpts`) is mounted, inside the jail.
pub const DEVPTS_DIR: &str = "/dev/pts";

/// The mount options of a jail's own devpts instance, for the tty group `gid`.
pub fn devpts_options(gid: u32) -> String {
    format!("newinstance,ptmxmode=0666,mode=0620,gid={gid}")
}

/// True when `m` is a devpts instance as a jail's own is mounted (the kernel shows
/// `ptmxmode=666` and `mode=620`; the host's instance has ptmxmode=000).
pub fn is_private_devpts(m: &mountinfo::MountEntry) -> bool {
    m.fstype == "devpts" && m.has_super("ptmxmode=666") && m.has_super("mode=620")
}

/// Where a jail's syslog socket (`build --log`) is bound, inside the jail.
pub const LOG_PATH: &str = "/dev/log";

/// The bind of a jail's log socket (`build --log`) at dev/log, read-only, as its boot unit
/// names it.
pub fn log_bind(r: &crate::state::Request) -> Option<Bind> {
    r.log.as_ref().map(|src| Bind {
        src: src.clone(),
        dst: JailPath::new(LOG_PATH).expect("a valid jail path"),
        rw: false,
    })
}

/// The mounts a jail declares besides its binds (`build --proc`, `--devpts`, `--log`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Own {
    pub proc: bool,
    pub devpts: bool,
    /// A bind of a socket at exactly dev/log (told apart by being a socket there: the
    /// host's syslog socket may have been recreated since, and a socket holds no tree a
    /// removal could reach into).
    pub log: bool,
}

impl Own {
    pub fn of(r: &crate::state::Request) -> Own {
        Own {
            proc: r.proc,
            devpts: r.devpts,
            log: r.log.is_some(),
        }
    }

    /// Whether `m`, mounted at `at` inside the jail, is one of these.
    pub fn is_own(&self, at: &str, m: &mountinfo::MountEntry) -> bool {
        (self.proc && at == PROC_DIR && is_private_proc(m))
            || (self.devpts && at == DEVPTS_DIR && is_private_devpts(m))
    }
}

/// One declared bind mount: a host directory shown inside the jail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    /// Host source (absolute, no symlink component).
    pub src: PathBuf,
    /// Target inside the jail (`/srv/data`).
    pub dst: JailPath,
    /// Read-write; otherwise read-only. Always nosuid,nodev.
    #[serde(default)]
    pub rw: bool,
}

/// A bad `--bind` value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad bind mount {spec:?}: {why}")]
pub struct BadBind {
    pub spec: String,
    pub why: String,
}

impl Bind {
    /// Parses `SRC:DST[:ro|rw]`.
    pub fn parse(spec: &str) -> Result<Bind, BadBind> {
        let bad = |why: &str| BadBind {
            spec: spec.to_string(),
            why: why.to_string(),
        };
        let parts: Vec<&str> = spec.split(':').collect();
        let (src, dst, rw) = match parts.as_slice() {
            [s, d] => (*s, *d, false),
            [s, d, "ro"] => (*s, *d, false),
            [s, d, "rw"] => (*s, *d, true),
            [_, _, _] => return Err(bad("the third field must be ro or rw")),
            _ => return Err(bad("expected SRC:DST[:ro|rw]")),
        };
        let src = PathBuf::from(src);
        if !src.is_absolute() {
            return Err(bad("the source must be an absolute host path"));
        }
        if src
            .components()
            .any(|c| c == std::path::Component::ParentDir)
        {
            return Err(bad("the source must not contain '..'"));
        }
        if !dst.starts_with('/') {
            return Err(bad("the target must be an absolute path inside the jail"));
        }
        let dst = JailPath::new(dst).map_err(|e| bad(&e.to_string()))?;
        Ok(Bind { src, dst, rw })
    }

    /// The mount point on the host.
    pub fn host_target(&self, jail: &Path) -> PathBuf {
        jail.join(self.dst.rel())
    }

    /// The options it must carry, as mountinfo shows them.
    pub fn options(&self) -> &'static str {
        if self.rw {
            "rw,nosuid,nodev"
        } else {
            "ro,nosuid,nodev"
        }
    }
}

impl std::fmt::Display for Bind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.src.display(),
            self.dst.abs().display(),
            if self.rw { "rw" } else { "ro" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_proc_needs_hidepid_and_subset() {
        let t = mountinfo::parse(
            "41 22 0:5 / /j/proc rw,nosuid,nodev,noexec - proc proc rw,hidepid=invisible,subset=pid\n\
             42 22 0:6 / /j/proc rw,nosuid,nodev,noexec - proc proc rw,hidepid=2,subset=pid\n\
             43 22 0:7 / /j/proc rw - proc proc rw\n\
             44 22 0:8 / /j/proc rw - proc proc rw,subset=pid\n\
             45 22 0:9 / /j/proc rw - sysfs sysfs rw,hidepid=2,subset=pid\n",
        );
        let ok: Vec<bool> = t.iter().map(is_private_proc).collect();
        assert_eq!(ok, [true, true, false, false, false]);
    }

    #[test]
    fn parses_specs() {
        let b = Bind::parse("/srv/data:/data").unwrap();
        assert_eq!(b.src, Path::new("/srv/data"));
        assert_eq!(b.dst.abs(), Path::new("/data"));
        assert!(!b.rw);
        assert!(Bind::parse("/srv/data:/data:rw").unwrap().rw);
        assert!(Bind::parse("srv:/data").is_err());
        assert!(Bind::parse("/srv:data").is_err());
        assert!(Bind::parse("/srv:/../x").is_err());
        assert!(Bind::parse("/srv:/x:rx").is_err());
        assert_eq!(
            Bind::parse("/a:/b/c").unwrap().to_string(),
            "/a:/b/c:ro".to_string()
        );
    }
}
