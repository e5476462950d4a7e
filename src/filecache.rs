//! Values derived from a file, kept for the run while the file is unchanged: a run that asks
//! once per user (a thousand users) reads and parses the file once per version of it.
//! Identity is (device, inode, size, mtime): the files it serves are replaced by rename or
//! rewritten whole. Reads only; never writes.

use std::any::Any;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Identity of a file's current content as the kernel shows it; zeros when it cannot be
/// stat'ed (absent): `load` then says what that means.
type FileId = (u64, u64, u64, i64, i64);

type Cached = (FileId, Arc<dyn Any + Send + Sync>);

static CACHE: Mutex<Option<HashMap<(PathBuf, &'static str), Cached>>> = Mutex::new(None);

fn id_of(path: &Path) -> FileId {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map_or((0, 0, 0, 0, 0), |m| {
        (m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec())
    })
}

/// `load()`, the `kind` of value derived from the file at `path`, computed once per version
/// of that file. An error is not kept: the next call loads again.
pub fn cached<T: Any + Send + Sync, E>(
    path: &Path,
    kind: &'static str,
    load: impl FnOnce() -> Result<T, E>,
) -> Result<Arc<T>, E> {
    let id = id_of(path);
    let key = (path.to_path_buf(), kind);
    if let Some((seen, v)) = CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_default()
        .get(&key)
        && *seen == id
        && let Ok(v) = Arc::clone(v).downcast::<T>()
    {
        return Ok(v);
    }
    let value = Arc::new(load()?);
    CACHE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_default()
        .insert(key, (id, value.clone()));
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_loaded_again_only_when_its_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, "one").unwrap();
        let mut loads = 0;
        let get = |loads: &mut i32| {
            cached(&f, "test", || {
                *loads += 1;
                std::fs::read_to_string(&f)
            })
            .unwrap()
        };
        assert_eq!(*get(&mut loads), "one");
        assert_eq!(*get(&mut loads), "one");
        assert_eq!(loads, 1);
        // replaced by rename: another inode
        let tmp = dir.path().join("x.tmp");
        std::fs::write(&tmp, "two").unwrap();
        std::fs::rename(&tmp, &f).unwrap();
        assert_eq!(*get(&mut loads), "two");
        assert_eq!(loads, 2);
    }
}
