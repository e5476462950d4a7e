//! The executor's removal steps (`Op::Remove`): an object is removed only while it is still
//! the kind the manifest recorded, a directory only when empty; never through a symlink
//! (the `Host` calls are descriptor-relative and never follow one). Anything else is kept
//! and said why.

use serde::Serialize;

use super::host::{EntryKind, Host, HostError};
use crate::plan::{JailPath, Placed};

/// Why a removal step left its object in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeptWhy {
    /// A directory that holds objects jailsmith did not place.
    NotEmpty,
    /// Something other than what jailsmith placed is there now.
    Replaced {
        expected: &'static str,
        found: &'static str,
    },
    /// A directory on the way is now a symlink: nothing behind it is touched.
    BehindSymlink,
}

impl std::fmt::Display for KeptWhy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeptWhy::NotEmpty => write!(f, "not empty (holds files jailsmith did not place)"),
            KeptWhy::Replaced { expected, found } => write!(
                f,
                "jailsmith placed a {expected} there, it is now a {found} (not jailsmith's to \
                 remove; remove it yourself if it is not wanted)"
            ),
            KeptWhy::BehindSymlink => write!(
                f,
                "a directory on its path is now a symlink (never followed); not touched"
            ),
        }
    }
}

/// A removal step's path, kept, and why: as `update --json` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub path: String,
    pub why: String,
}

/// What one removal step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removal {
    /// The object was removed.
    Removed,
    /// Nothing was there any more: there was nothing to remove.
    Gone,
    /// Left in place.
    Kept(KeptWhy),
}

fn is(k: &EntryKind, expect: Placed) -> bool {
    matches!(
        (k, expect),
        (EntryKind::File, Placed::File)
            | (EntryKind::Dir, Placed::Dir)
            | (EntryKind::Symlink { .. }, Placed::Symlink)
            | (EntryKind::CharDevice { .. }, Placed::Device)
    )
}

/// Removes what a removal step names, if it is still what jailsmith placed there.
pub fn remove(host: &dyn Host, path: &JailPath, expect: Placed) -> Result<Removal, HostError> {
    removal(host, path, expect, true)
}

/// What `remove` would do, changing nothing (a dry run): the same checks, except that a
/// directory is taken to empty (what it holds is not listed).
pub fn judge(host: &dyn Host, path: &JailPath, expect: Placed) -> Result<Removal, HostError> {
    removal(host, path, expect, false)
}

fn removal(
    host: &dyn Host,
    path: &JailPath,
    expect: Placed,
    real: bool,
) -> Result<Removal, HostError> {
    if real && super::interrupt::raised() {
        return Err(HostError::Io {
            jail: host.root().to_path_buf(),
            path: path.to_string(),
            op: "go on to",
            source: super::interrupt::error(),
        });
    }
    let now = match host.stat(path) {
        Ok(m) => m,
        Err(HostError::Symlink { .. }) => return Ok(Removal::Kept(KeptWhy::BehindSymlink)),
        Err(e) => return Err(e),
    };
    let Some(now) = now else {
        return Ok(Removal::Gone);
    };
    if !is(&now.kind, expect) {
        return Ok(Removal::Kept(KeptWhy::Replaced {
            expected: expect.name(),
            found: now.kind.name(),
        }));
    }
    if !real {
        return Ok(Removal::Removed);
    }
    if expect != Placed::Dir {
        return Ok(match host.remove(path)? {
            true => Removal::Removed,
            false => Removal::Gone,
        });
    }
    if host.remove_dir(path)? {
        return Ok(Removal::Removed);
    }
    Ok(match host.stat(path)? {
        Some(_) => Removal::Kept(KeptWhy::NotEmpty),
        None => Removal::Gone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::fake::FakeHost;

    fn jp(s: &str) -> JailPath {
        JailPath::new(s).unwrap()
    }

    #[test]
    fn only_what_is_still_as_placed_goes() {
        let h = FakeHost::default()
            .with("opt", EntryKind::Dir, 0o755)
            .file("opt/tool", "x")
            .link("lib", "/etc")
            .with("dev", EntryKind::Dir, 0o755);
        let r = |p: &str, expect| remove(&h, &jp(p), expect).unwrap();
        // a directory jailsmith placed that holds something is kept
        assert_eq!(r("opt", Placed::Dir), Removal::Kept(KeptWhy::NotEmpty));
        // a file where a directory was placed, a directory where a file was: kept
        assert!(matches!(
            r("opt/tool", Placed::Dir),
            Removal::Kept(KeptWhy::Replaced {
                found: "regular file",
                ..
            })
        ));
        assert!(matches!(
            r("dev", Placed::Device),
            Removal::Kept(KeptWhy::Replaced {
                found: "directory",
                ..
            })
        ));
        // behind a symlink nothing is looked at, let alone removed
        assert_eq!(
            r("lib/libc.so.6", Placed::File),
            Removal::Kept(KeptWhy::BehindSymlink)
        );
        // a symlink where a file was placed is kept: never followed, never taken for the file
        assert!(matches!(
            r("lib", Placed::File),
            Removal::Kept(KeptWhy::Replaced {
                found: "symlink",
                ..
            })
        ));
        assert!(h.writes.read().unwrap().is_empty(), "{:?}", h.writes);
        // a dry run says the same and changes nothing
        for (p, expect) in [
            ("opt/tool", Placed::Dir),
            ("lib/libc.so.6", Placed::File),
            ("lib", Placed::File),
            ("nothing", Placed::File),
        ] {
            assert_eq!(judge(&h, &jp(p), expect).unwrap(), r(p, expect), "{p}");
        }
        assert_eq!(
            judge(&h, &jp("opt/tool"), Placed::File).unwrap(),
            Removal::Removed
        );
        assert!(h.writes.read().unwrap().is_empty(), "{:?}", h.writes);
        assert_eq!(r("opt/tool", Placed::File), Removal::Removed);
        assert_eq!(r("opt", Placed::Dir), Removal::Removed);
        assert_eq!(r("opt", Placed::Dir), Removal::Gone);
        assert_eq!(*h.writes.read().unwrap(), ["rm /opt/tool", "rmdir /opt"]);
    }
}
