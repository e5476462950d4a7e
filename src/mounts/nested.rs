//! Binds inside binds: the order that keeps an inner bind visible (the outer one mounted
//! first) and the rule that jailsmith makes no mount point inside another bind, since that
//! directory is in the outer bind's source on the host: host data, never written by a
//! mount. Reads the host's source directories (no symlink followed); changes nothing.

use std::path::{Path, PathBuf};

use super::Bind;
use crate::plan::JailPath;

/// A bind whose mount point would have to be made inside another bind's source.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "cannot mount {bind}: its mount point lies inside the bind {outer}, so it is {} on the \
     host, which {why}; jailsmith makes nothing in a bind's source: make that directory on \
     the host and run again",
    host_dir.display()
)]
pub struct Unmade {
    /// The inner bind, as `SRC:DST:ro|rw`.
    pub bind: String,
    /// The bind its target lies in.
    pub outer: String,
    /// Where its mount point is on the host.
    pub host_dir: PathBuf,
    pub why: String,
}

/// `binds` in the order they are mounted: a bind before every bind whose target lies below
/// its own (by depth, otherwise as declared), so an inner bind is mounted on the outer one
/// and never hidden under it.
pub fn mount_order(binds: &[Bind]) -> Vec<Bind> {
    let mut out = binds.to_vec();
    out.sort_by_key(|b| b.dst.rel().components().count());
    out
}

/// The innermost bind whose target is a proper ancestor of `target`, and the path of
/// `target` below it.
pub fn enclosing<'a>(binds: &'a [Bind], target: &JailPath) -> Option<(&'a Bind, PathBuf)> {
    binds
        .iter()
        .filter_map(|o| {
            let rel = target.rel().strip_prefix(o.dst.rel()).ok()?;
            (!rel.as_os_str().is_empty()).then(|| (o, rel.to_path_buf()))
        })
        .max_by_key(|(o, _)| o.dst.rel().components().count())
}

/// Refuses a bind whose target lies inside another bind unless its mount point is a
/// directory there already, in the outer bind's source (each component a directory, none a
/// symlink): a mount would otherwise make it in host data.
pub fn refuse_unmade(binds: &[Bind]) -> Result<(), Unmade> {
    for b in binds {
        let Some((outer, rel)) = enclosing(binds, &b.dst) else {
            continue;
        };
        let host_dir = outer.src.join(&rel);
        if let Some(why) = not_a_plain_dir(&outer.src, &rel) {
            return Err(Unmade {
                bind: b.to_string(),
                outer: outer.to_string(),
                host_dir,
                why,
            });
        }
    }
    Ok(())
}

/// Why `base/rel` is not a directory reached through directories only; None when it is.
fn not_a_plain_dir(base: &Path, rel: &Path) -> Option<String> {
    let mut at = base.to_path_buf();
    for c in rel.components() {
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Some(format!("has a symbolic link at {}", at.display()));
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Some(format!("has a non-directory at {}", at.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Some("does not exist".into());
            }
            Err(e) => return Some(format!("cannot be looked at ({e})")),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(src: &str, dst: &str) -> Bind {
        Bind {
            src: src.into(),
            dst: JailPath::new(dst).unwrap(),
            rw: false,
        }
    }

    #[test]
    fn an_outer_bind_is_mounted_before_the_binds_below_it() {
        let binds = [
            bind("/srv/up", "/var/www/uploads"),
            bind("/srv/a", "/opt/a"),
            bind("/srv/www", "/var/www"),
        ];
        let order: Vec<String> = mount_order(&binds)
            .iter()
            .map(|b| b.dst.to_string())
            .collect();
        assert_eq!(order, ["/opt/a", "/var/www", "/var/www/uploads"]);
    }

    #[test]
    fn the_innermost_enclosing_bind_is_found_and_a_sibling_prefix_is_not_one() {
        let binds = [
            bind("/srv/www", "/var/www"),
            bind("/srv/up", "/var/www/uploads"),
            bind("/srv/pics", "/var/www/uploads/pics"),
            bind("/srv/w2", "/var/www2"),
        ];
        let (o, rel) = enclosing(&binds, &binds[2].dst).unwrap();
        assert_eq!(
            (o.src.as_path(), rel.as_path()),
            (Path::new("/srv/up"), Path::new("pics"))
        );
        assert!(
            enclosing(&binds, &binds[3].dst).is_none(),
            "/var/www2 is not below /var/www"
        );
        assert!(enclosing(&binds, &binds[0].dst).is_none());
    }

    #[test]
    fn a_mount_point_missing_or_behind_a_symlink_in_the_outer_source_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let www = t.path().join("www");
        std::fs::create_dir_all(www.join("uploads")).unwrap();
        std::os::unix::fs::symlink("/etc", www.join("etc")).unwrap();
        let outer = Bind {
            src: www.clone(),
            dst: JailPath::new("/var/www").unwrap(),
            rw: false,
        };
        let ok = [outer.clone(), bind("/srv/up", "/var/www/uploads")];
        assert_eq!(refuse_unmade(&ok), Ok(()));
        let missing = [outer.clone(), bind("/srv/x", "/var/www/x")];
        let e = refuse_unmade(&missing).unwrap_err();
        assert_eq!(
            (e.host_dir.clone(), e.why.as_str()),
            (www.join("x"), "does not exist")
        );
        assert!(
            e.to_string().contains("make that directory on the host"),
            "{e}"
        );
        let linked = [outer, bind("/srv/x", "/var/www/etc/ssh")];
        let e = refuse_unmade(&linked).unwrap_err();
        assert!(e.why.starts_with("has a symbolic link at"), "{e}");
    }
}
