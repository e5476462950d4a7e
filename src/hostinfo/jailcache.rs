//! The jail's own ld.so.cache: glibc expands the executable's `$ORIGIN` from /proc/self/exe,
//! which a jail does not have, so a program whose RPATH/RUNPATH (or DT_NEEDED) uses it finds
//! its libraries only through the cache. This collects every library the build places, with
//! the name the loader asks for and the glibc-hwcaps subdirectory it lies in, and renders the
//! cache file when some program needs it. Pure: closures in, bytes out.

use std::path::{Path, PathBuf};

use crate::plan::JailPath;
use crate::plan::build::BinaryFile;
use crate::resolve::elf::ElfInfo;
use crate::resolve::ldcache::{CacheEntry, LdCache, flags_for};
use crate::resolve::tokens::uses_origin;
use crate::resolve::{Closure, FoundVia};

/// Where the loader inside the jail reads its cache.
pub const JAIL_CACHE: &str = "etc/ld.so.cache";

/// Libraries placed so far, and the programs that need the cache.
#[derive(Clone, Debug, Default)]
pub struct JailCache {
    /// (name, entry, found by the host's standard search): first come, first kept, except
    /// that a library the host finds through its cache or default directories beats one a
    /// program's own search path found (that is what every other program gets).
    entries: Vec<(String, CacheEntry, bool)>,
    /// Programs whose own dynamic section uses `$ORIGIN`, and objects whose libraries were
    /// found through `--ld-library-path` (which a jailed process does not have).
    pub needing: Vec<PathBuf>,
}

/// Whether a program's own dynamic section uses `$ORIGIN` (what a jail cannot expand).
pub fn needs_origin(info: &ElfInfo) -> bool {
    info.rpath
        .iter()
        .chain(&info.runpath)
        .chain(&info.needed)
        .any(|s| uses_origin(s))
}

/// The glibc-hwcaps subdirectory a library lies in (`…/glibc-hwcaps/x86-64-v3/libz.so.1`).
fn hwcaps_of(path: &Path) -> Option<String> {
    let dir = path.parent()?;
    let hw = dir.parent()?;
    (hw.file_name()? == "glibc-hwcaps")
        .then(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))?
}

impl JailCache {
    /// Notes the libraries of `closure`, whose program is `info`. `other_abi`: the program
    /// is not of the host's own ABI (an i386 program on x86-64), so its loader's built-in
    /// directories are not the host's; the cache then names its libraries for it. musl
    /// programs are left out: their loader reads no cache, and their libraries must not
    /// answer a glibc program's lookups.
    pub fn note(&mut self, closure: &Closure, info: &ElfInfo, other_abi: bool) {
        if info
            .interp
            .as_deref()
            .is_some_and(crate::resolve::search::is_musl_interp)
        {
            return;
        }
        let through_llp = closure
            .libraries
            .iter()
            .any(|l| l.found_via == FoundVia::LdLibraryPath);
        let program_origin = info.interp.is_some() && needs_origin(info);
        let foreign_program = info.interp.is_some() && other_abi;
        if (program_origin || through_llp || foreign_program)
            && !self.needing.contains(&closure.file)
        {
            self.needing.push(closure.file.clone());
        }
        let flags = flags_for(info.class, info.machine);
        for lib in &closure.libraries {
            if lib.soname.contains('/') || lib.found_via == FoundVia::Interpreter {
                continue;
            }
            let standard = matches!(lib.found_via, FoundVia::LdCache | FoundVia::DefaultDir);
            for path in std::iter::once(&lib.path).chain(&lib.variants) {
                let entry = CacheEntry {
                    flags,
                    path: path.clone(),
                    hwcaps: hwcaps_of(path),
                    legacy_hwcap: 0,
                };
                self.add(&lib.soname, entry, standard);
            }
        }
    }

    fn add(&mut self, name: &str, entry: CacheEntry, standard: bool) {
        let same_slot = |(n, e, _): &&mut (String, CacheEntry, bool)| {
            n == name && e.flags == entry.flags && e.hwcaps == entry.hwcaps
        };
        match self.entries.iter_mut().find(same_slot) {
            Some(old) if standard && !old.2 => *old = (name.to_string(), entry, standard),
            Some(_) => {}
            None => self.entries.push((name.to_string(), entry, standard)),
        }
    }

    /// The cache file, when some program needs it.
    pub fn file(&self) -> Option<BinaryFile> {
        if self.needing.is_empty() {
            return None;
        }
        let cache =
            LdCache::from_entries(self.entries.iter().map(|(n, e, _)| (n.clone(), e.clone())));
        let names: Vec<String> = self
            .needing
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        Some(BinaryFile {
            path: JailPath::new(JAIL_CACHE).expect("static path"),
            bytes: cache.to_bytes(),
            mode: 0o644,
            reason: format!(
                "the jail's loader cache: {} find libraries only through $ORIGIN (which a jail \
                 without /proc cannot expand), --ld-library-path or a cache (programs of \
                 another ABI)",
                names.join(", ")
            ),
        })
    }
}

/// One cache file from several (the build's and the profiles'): the first file's entry for
/// a name, ABI and hwcaps subdirectory wins. Files that do not parse are left out.
pub fn merge(files: &[BinaryFile]) -> Option<BinaryFile> {
    let first = files.first()?;
    if files.len() == 1 {
        return Some(first.clone());
    }
    let mut seen = std::collections::HashSet::new();
    let mut entries = Vec::new();
    let mut reasons = Vec::new();
    for f in files {
        let Ok(cache) = LdCache::parse(&f.bytes) else {
            continue;
        };
        reasons.push(f.reason.clone());
        for (name, e) in cache.entries() {
            if seen.insert((name.clone(), e.flags, e.hwcaps.clone())) {
                entries.push((name.clone(), e.clone()));
            }
        }
    }
    Some(BinaryFile {
        bytes: LdCache::from_entries(entries).to_bytes(),
        reason: reasons.join("; "),
        ..first.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::Library;

    fn lib(name: &str, path: &str, via: FoundVia) -> Library {
        Library {
            soname: name.into(),
            path: path.into(),
            found_via: via,
            needed_by: "/p".into(),
            variants: Vec::new(),
        }
    }

    fn closure(file: &str, libs: Vec<Library>) -> Closure {
        Closure {
            file: file.into(),
            interpreter: None,
            libraries: libs,
            missing: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn info(runpath: &[&str]) -> ElfInfo {
        ElfInfo {
            interp: Some("/lib64/ld-linux-x86-64.so.2".into()),
            class: 64,
            machine: 62,
            dynamic: true,
            runpath: runpath.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn no_cache_unless_a_program_uses_origin() {
        let mut c = JailCache::default();
        c.note(
            &closure(
                "/bin/a",
                vec![lib("libz.so.1", "/lib/libz.so.1", FoundVia::LdCache)],
            ),
            &info(&[]),
            false,
        );
        assert!(c.file().is_none());
        let origin = FoundVia::Runpath {
            owner: "/opt/b/bin/b".into(),
        };
        let mut hw = lib("libb.so", "/opt/b/lib/libb.so", origin);
        hw.variants = vec!["/opt/b/lib/glibc-hwcaps/x86-64-v3/libb.so".into()];
        c.note(
            &closure("/opt/b/bin/b", vec![hw]),
            &info(&["$ORIGIN/../lib"]),
            false,
        );
        let f = c.file().expect("b needs the cache");
        assert_eq!(f.path.to_string(), "/etc/ld.so.cache");
        let parsed = LdCache::parse(&f.bytes).unwrap();
        let v3 = vec!["x86-64-v3".to_string()];
        assert_eq!(
            parsed.lookup("libb.so", 0x0303, &v3).unwrap().path,
            Path::new("/opt/b/lib/glibc-hwcaps/x86-64-v3/libb.so")
        );
        assert_eq!(
            parsed.lookup("libb.so", 0x0303, &[]).unwrap().path,
            Path::new("/opt/b/lib/libb.so")
        );
        assert!(parsed.lookup("libz.so.1", 0x0303, &[]).is_some());
    }

    #[test]
    fn the_hosts_standard_choice_beats_a_private_copy() {
        let mut c = JailCache::default();
        let private = FoundVia::Runpath {
            owner: "/opt/b/bin/b".into(),
        };
        c.note(
            &closure(
                "/opt/b/bin/b",
                vec![lib("libz.so.1", "/opt/b/lib/libz.so.1", private)],
            ),
            &info(&["$ORIGIN/../lib"]),
            false,
        );
        c.note(
            &closure(
                "/bin/a",
                vec![lib("libz.so.1", "/lib/libz.so.1", FoundVia::DefaultDir)],
            ),
            &info(&[]),
            false,
        );
        let parsed = LdCache::parse(&c.file().unwrap().bytes).unwrap();
        assert_eq!(
            parsed.lookup("libz.so.1", 0x0303, &[]).unwrap().path,
            Path::new("/lib/libz.so.1")
        );
    }
}
