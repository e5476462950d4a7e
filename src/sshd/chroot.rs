//! sshd's ChrootDirectory rule, checked before anything is written: the jail and every
//! ancestor must be a real directory (no symlink), owned by root, not group/other-writable.

use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use super::SshdError;

/// The problem with one component's (kind is dir, is symlink, uid, mode), if any, as
/// (why, fix). Pure.
pub fn component_problem(
    path: &Path,
    is_dir: bool,
    is_symlink: bool,
    uid: u32,
    mode: u32,
) -> Option<(String, String)> {
    let p = path.display();
    if is_symlink {
        return Some((
            "is a symbolic link".into(),
            format!("use the real path (readlink -f {p}) as the jail"),
        ));
    }
    if !is_dir {
        return Some((
            "is not a directory".into(),
            format!("remove {p} or choose another jail"),
        ));
    }
    if uid != 0 {
        return Some((
            format!("is owned by uid {uid}, not root"),
            format!("chown root:root {p}"),
        ));
    }
    if mode & 0o022 != 0 && mode & 0o1000 != 0 {
        return Some((
            format!(
                "is a shared sticky directory writable by others (mode {:04o})",
                mode & 0o7777
            ),
            format!("put the jail outside {p}, e.g. under /srv"),
        ));
    }
    if mode & 0o022 != 0 {
        return Some((
            format!(
                "is writable by group or others (mode {:04o})",
                mode & 0o7777
            ),
            format!("chmod go-w {p}"),
        ));
    }
    None
}

/// Checks `jail` (absolute, normalised) and each ancestor from `/` down.
pub fn check(jail: &Path) -> Result<(), SshdError> {
    let mut cur = PathBuf::from("/");
    let mut components = vec![cur.clone()];
    for c in jail.components() {
        if let Component::Normal(n) = c {
            cur.push(n);
            components.push(cur.clone());
        }
    }
    for comp in components {
        let m = std::fs::symlink_metadata(&comp).map_err(|source| SshdError::Io {
            op: "stat",
            path: comp.clone(),
            source,
        })?;
        let ft = m.file_type();
        if let Some((why, fix)) =
            component_problem(&comp, ft.is_dir(), ft.is_symlink(), m.uid(), m.mode())
        {
            return Err(SshdError::ChrootPath {
                jail: jail.to_path_buf(),
                component: comp,
                why,
                fix,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_fix() {
        let p = Path::new("/srv");
        assert!(component_problem(p, true, false, 0, 0o755).is_none());
        assert!(component_problem(p, true, false, 0, 0o775).unwrap().1 == "chmod go-w /srv");
        assert!(
            component_problem(p, true, false, 0, 0o1777)
                .unwrap()
                .1
                .contains("outside")
        );
        assert!(
            component_problem(p, true, false, 1000, 0o755).unwrap().1 == "chown root:root /srv"
        );
        assert!(
            component_problem(p, false, true, 0, 0o777)
                .unwrap()
                .0
                .contains("symbolic")
        );
    }
}
