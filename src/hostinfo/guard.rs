//! The deny-lists of `plan::denylist`, applied to paths as the host resolves them: each path
//! is judged as given (lexically cleaned) and as its symlinks lead (canonicalized), so
//! `/srv/..` and a link to `/` are refused like `/`. Reads only (lstat/readlink); never opens
//! what it judges.

use std::path::{Path, PathBuf};

use crate::mounts::Bind;
use crate::plan::JailPath;
use crate::plan::denylist::{self, Denied, normalize};
use crate::state::DEFAULT_STATE_DIR;

/// sshd's configuration directory on every host (bind sources may not reach it).
pub const SSHD_DIR: &str = "/etc/ssh";

/// `p` with its symlinks resolved: the deepest existing ancestor canonicalized, the rest
/// appended lexically. `p` itself when nothing of it resolves.
pub fn resolved(p: &Path) -> PathBuf {
    let p = normalize(p);
    let mut rest = Vec::new();
    let mut cur = p.as_path();
    loop {
        if let Ok(c) = std::fs::canonicalize(cur) {
            let mut out = c;
            out.extend(rest.iter().rev());
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return p,
        }
    }
}

/// The state directories in use: the default one and `state_dir` (unless empty: settings
/// that record nothing), as given and resolved.
fn state_dirs(state_dir: &Path) -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from(DEFAULT_STATE_DIR)];
    if !state_dir.as_os_str().is_empty() {
        v.push(normalize(state_dir));
        v.push(resolved(state_dir));
    }
    v.dedup();
    v
}

fn refs(v: &[PathBuf]) -> Vec<&Path> {
    v.iter().map(PathBuf::as_path).collect()
}

/// Refuses a jail path of the jail deny-list, as given or as its symlinks lead.
pub fn jail(jail: &Path, state_dir: &Path) -> Result<(), Denied> {
    let states = state_dirs(state_dir);
    for p in [normalize(jail), resolved(jail)] {
        if let Some(why) = denylist::refused_jail(&p, &refs(&states)) {
            let why = if p == normalize(jail) {
                why
            } else {
                format!("it leads to {} through a symlink: {why}", p.display())
            };
            return Err(Denied::Jail {
                path: jail.to_path_buf(),
                why,
            });
        }
    }
    Ok(())
}

/// Refuses a bind whose source is on the bind deny-list (as given or as its symlinks lead),
/// or a read-write bind outside the users' homes and `rw_paths`.
pub fn bind(b: &Bind, jail: &Path, state_dir: &Path, rw_paths: &[JailPath]) -> Result<(), Denied> {
    bind_source(b, jail, state_dir)?;
    if b.rw
        && let Some(why) = denylist::refused_rw_target(&b.dst, rw_paths)
    {
        return Err(Denied::RwTarget {
            dst: b.to_string(),
            why,
        });
    }
    Ok(())
}

/// Refuses a bind whose source is on the bind deny-list, as given or as its symlinks lead.
pub fn bind_source(b: &Bind, jail: &Path, state_dir: &Path) -> Result<(), Denied> {
    let states = state_dirs(state_dir);
    let jails = [normalize(jail), resolved(jail)];
    for src in [normalize(&b.src), resolved(&b.src)] {
        for j in &jails {
            if let Some(why) =
                denylist::refused_bind_source(&src, j, &refs(&states), Path::new(SSHD_DIR))
            {
                return Err(Denied::BindSource {
                    src: b.src.clone(),
                    why,
                });
            }
        }
    }
    Ok(())
}

/// Refuses a host path on the host-secret list, as given or as its symlinks lead.
pub fn file(p: &Path, state_dir: &Path) -> Result<(), Denied> {
    let states = state_dirs(state_dir);
    let real = resolved(p);
    if let Some(why) = denylist::host_secret(p, &refs(&states)) {
        return Err(Denied::Secret {
            path: p.to_path_buf(),
            target: None,
            why,
        });
    }
    if let Some(why) = denylist::host_secret(&real, &refs(&states)) {
        return Err(Denied::Secret {
            path: p.to_path_buf(),
            target: Some(real),
            why,
        });
    }
    Ok(())
}

/// The host-secret verdict on one object met while walking a directory copy (already a
/// real path: the walk follows no symlink).
pub fn secret_in_tree(p: &Path, state_dir: &Path) -> Option<&'static str> {
    denylist::host_secret(p, &refs(&state_dirs(state_dir)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_to_refused_paths_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let link = d.path().join("root-link");
        std::os::unix::fs::symlink("/", &link).unwrap();
        let err = jail(&link, Path::new("/var/lib/jailsmith")).unwrap_err();
        assert!(err.to_string().contains("through a symlink"), "{err}");
        let shadow = d.path().join("s");
        std::os::unix::fs::symlink("/etc/shadow", &shadow).unwrap();
        assert!(file(&shadow, Path::new("/x")).is_err());
        assert!(file(&d.path().join("missing/child"), Path::new("/x")).is_ok());
        assert_eq!(resolved(&link.join("etc/x")), Path::new("/etc/x"));
    }
}
