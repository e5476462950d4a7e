//! sshd's ChrootDirectory rule: the jail root and every ancestor must be a real directory
//! (no symlink component), owned by root, and not writable by group or others. Reads only.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

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
        let q = p.display();
        if meta.file_type().is_symlink() {
            let target = std::fs::canonicalize(&p)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            out.push(ChrootProblem {
                path: p.clone(),
                what: "is a symbolic link".into(),
                fix: format!("use the real path {target}"),
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
                fix: format!("chown root {q}"),
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
                fix: format!("chmod go-w {q}, or put the jail elsewhere"),
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
    }

    #[test]
    fn root_is_fine() {
        assert!(
            chroot_problems(Path::new("/usr")).is_empty() || nix::unistd::geteuid().as_raw() != 0
        );
    }
}
