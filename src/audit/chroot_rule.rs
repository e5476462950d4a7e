//! sshd's ChrootDirectory rule: the jail root and every ancestor must be a real directory
//! (no symlink component), owned by root, and not writable by group or others. Reads only.
//! The fix it names is safe to paste (DESIGN §5.13): never a `chmod` of a host system
//! directory (for a jail under /tmp it says to choose another parent), never a command that
//! follows a symlink (`chown -h`; `chmod` only for a root-owned directory whose ancestors are
//! all root's, so nobody else can swap it), every path shell-quoted.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::escape::sh_quote;

/// Host directories jailsmith never advises changing: the fix is another parent. (/srv,
/// /opt and /mnt are the administrator's: there `chmod go-w` is the usual fix.)
const SYSTEM_DIRS: &[&str] = &[
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/dev/shm",
    "/etc",
    "/home",
    "/lib",
    "/lib64",
    "/proc",
    "/root",
    "/run",
    "/run/lock",
    "/sbin",
    "/sys",
    "/tmp",
    "/usr",
    "/usr/local",
    "/var",
    "/var/lib",
    "/var/tmp",
];

/// Whether `p` is a host system directory (see `SYSTEM_DIRS`).
pub fn is_system_dir(p: &Path) -> bool {
    SYSTEM_DIRS.iter().any(|d| Path::new(d) == p)
}

fn another_parent(p: &Path) -> String {
    format!(
        "choose a jail path outside {}: it is a system directory jailsmith does not change",
        p.display()
    )
}

/// One component that breaks the rule, with the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChrootProblem {
    pub path: PathBuf,
    pub what: String,
    pub fix: String,
}

impl std::fmt::Display for ChrootProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} (sshd refuses such a ChrootDirectory; fix: {})",
            self.path.display(),
            self.what,
            self.fix
        )
    }
}

/// Every component of `jail` (from `/` down, the jail itself included) that breaks the rule.
/// Components that do not exist yet are skipped: jailsmith creates them root-owned 0755.
pub fn chroot_problems(jail: &Path) -> Vec<ChrootProblem> {
    let mut out = Vec::new();
    let mut cur = PathBuf::from("/");
    let mut components = vec![cur.clone()];
    for c in jail
        .components()
        .skip_while(|c| matches!(c, std::path::Component::RootDir))
    {
        cur.push(c);
        components.push(cur.clone());
    }
    for p in components {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            break;
        };
        let q = sh_quote(&p.display().to_string());
        // nobody but root could have swapped anything on the way here
        let chain_is_roots = out.is_empty();
        if meta.file_type().is_symlink() {
            let target = std::fs::canonicalize(&p)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            out.push(ChrootProblem {
                path: p.clone(),
                what: "is a symbolic link".into(),
                fix: format!("use the real path {}", sh_quote(&target)),
            });
            break;
        }
        if !meta.is_dir() {
            out.push(ChrootProblem {
                path: p.clone(),
                what: "is not a directory".into(),
                fix: "choose another jail path".into(),
            });
            break;
        }
        if meta.uid() != 0 {
            out.push(ChrootProblem {
                path: p.clone(),
                what: format!("is owned by uid {}", meta.uid()),
                fix: if is_system_dir(&p) {
                    another_parent(&p)
                } else {
                    format!("chown -h root -- {q}")
                },
            });
        }
        if meta.mode() & 0o022 != 0 {
            out.push(ChrootProblem {
                path: p.clone(),
                what: format!(
                    "is writable by {} (mode {:04o})",
                    if meta.mode() & 0o002 != 0 {
                        "others"
                    } else {
                        "its group"
                    },
                    meta.mode() & 0o7777
                ),
                fix: if is_system_dir(&p) {
                    another_parent(&p)
                } else if meta.uid() == 0 && chain_is_roots {
                    format!("chmod go-w -- {q}")
                } else {
                    format!(
                        "choose a jail path outside {}, or make it root's first",
                        p.display()
                    )
                },
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmp_is_world_writable() {
        let d = tempfile::tempdir_in("/tmp").unwrap();
        let problems = chroot_problems(&d.path().join("jail"));
        assert!(
            problems
                .iter()
                .any(|p| p.path == Path::new("/tmp") && p.what.contains("others")),
            "{problems:?}"
        );
        for p in &problems {
            assert!(!p.fix.contains("chmod"), "{p}");
        }
    }

    #[test]
    fn root_is_fine() {
        assert!(
            chroot_problems(Path::new("/usr")).is_empty() || nix::unistd::geteuid().as_raw() != 0
        );
    }
}
