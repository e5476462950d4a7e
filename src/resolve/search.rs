//! The loader model: breadth-first loading of DT_NEEDED with glibc's search order
//! (RPATH chain, LD_LIBRARY_PATH, RUNPATH, ld.so.cache, default dirs; glibc-hwcaps first in
//! every directory), SONAME and file-identity deduplication, wrong-ABI candidates skipped.
//! One `Resolver` shares its parse and stat caches across every input it resolves. It
//! reaches files only through `LoaderFs`, so each loader rule is unit-tested on a made-up
//! filesystem (tests below); the C fixtures and the ldd oracle test it on the real one.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::elf::{ElfError, ElfInfo, read_elf};
use super::ldcache::flags_for;
use super::loader::LoaderConfig;
use super::tokens::{expand, uses_origin};
use super::{Closure, FoundVia, Library, Missing};

/// One object in a simulated link map.
struct Loaded {
    /// The path the loader opened it by (not symlink-resolved).
    path: PathBuf,
    info: Arc<ElfInfo>,
    /// Index of the object whose DT_NEEDED loaded this one.
    loader: Option<usize>,
    /// Every name it has been requested by, plus its SONAME.
    names: Vec<String>,
    id: Option<(u64, u64)>,
    /// False for the default interpreter of a file without PT_INTERP until something
    /// needs it: `ld.so --list` only reports it then.
    reported: bool,
}

/// A map keyed by a path's bytes, hashed with FxHash (rustc's): no component walk, no
/// SipHash. The keys are local file names, not attacker-chosen collisions worth defending.
type ByBytes<V> = HashMap<Vec<u8>, V, BuildHasherDefault<FxHasher>>;

fn key(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

/// FxHash: one multiply and rotate per 8 bytes.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// What the loader model reads from a filesystem, and the only way it reaches one.
pub trait LoaderFs: Sync {
    /// The ELF facts of the file at `path` (following symlinks, as `open` does).
    fn read_elf(&self, path: &Path) -> Result<ElfInfo, ElfError>;
    /// (device, inode) of the file at `path`, following symlinks; None when absent.
    fn file_id(&self, path: &Path) -> Option<(u64, u64)>;
    /// The entries of a directory (full paths); empty when it is absent.
    fn list_dir(&self, dir: &Path) -> Vec<PathBuf>;
    /// Whether something (even a dangling symlink) is at `path`.
    fn exists(&self, path: &Path) -> bool;
    /// `path` with every symlink resolved, as /proc/self/exe shows an executable.
    fn canonical(&self, path: &Path) -> Option<PathBuf>;
    /// The bytes of a small text file the loader reads (musl's path file), following
    /// symlinks; `ErrorKind::NotFound` when it is absent.
    fn read_small(&self, path: &Path) -> std::io::Result<Vec<u8>>;
}

/// The host's own filesystem.
pub struct HostFs;

impl LoaderFs for HostFs {
    fn read_elf(&self, path: &Path) -> Result<ElfInfo, ElfError> {
        read_elf(path)
    }

    fn file_id(&self, path: &Path) -> Option<(u64, u64)> {
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }

    fn list_dir(&self, dir: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    fn exists(&self, path: &Path) -> bool {
        std::fs::symlink_metadata(path).is_ok()
    }

    fn canonical(&self, path: &Path) -> Option<PathBuf> {
        std::fs::canonicalize(path).ok()
    }

    fn read_small(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }
}

/// Resolves ELF files against one host configuration.
pub struct Resolver<'c> {
    cfg: &'c LoaderConfig,
    fs: &'c dyn LoaderFs,
    // Keyed by the path's bytes with a cheap hasher: hashing `Path`s component by component
    // with SipHash was a sixth of all instructions of a `deps` run. Two spellings of one
    // path only cost a second lookup, never a wrong answer.
    parsed: ByBytes<Option<Arc<ElfInfo>>>,
    file_ids: ByBytes<Option<(u64, u64)>>,
    hwcaps_dirs: HashMap<PathBuf, Vec<PathBuf>>,
    /// Keyed by the library's path bytes, a NUL, and the requested name.
    variants: ByBytes<Vec<PathBuf>>,
    /// The program being resolved runs under musl's loader (see `musl`).
    musl: bool,
    /// musl's system path, by the path file it came from (see `musl_path_file`).
    musl_paths: HashMap<PathBuf, Vec<PathBuf>>,
    /// The path file of the musl program being resolved, when it runs under musl.
    musl_file: Option<PathBuf>,
}

/// musl's loader, which is also its libc: `ld-musl-ARCH.so.1`.
pub fn is_musl_interp(interp: &Path) -> bool {
    interp
        .file_name()
        .is_some_and(|n| n.as_encoded_bytes().starts_with(b"ld-musl-"))
}

/// Names musl's loader answers with itself (dynlink.c: `lib` + c, pthread, rt, m, dl, util
/// or xnet, then a dot): its libc holds them all.
fn musl_reserved(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("lib") else {
        return false;
    };
    ["c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet."]
        .iter()
        .any(|r| rest.starts_with(r))
}

/// musl's built-in library path, used when no /etc/ld-musl-ARCH.path names one.
const MUSL_SYSTEM_PATH: [&str; 3] = ["/lib", "/usr/local/lib", "/usr/lib"];

/// The file musl's loader at `interp` reads its system library path from (dynlink.c):
/// `PREFIX/etc/ld-musl-ARCH.path`, where ARCH is the loader's own name between `ld-musl-`
/// and `.so` and PREFIX is its path up to the second-to-last slash (`/lib/ld-musl-x86_64.so.1`
/// gives `/etc/ld-musl-x86_64.path`, `/usr/lib/ld-musl-….so.1` gives `/usr/etc/…`).
pub fn musl_path_file(interp: &Path) -> Option<PathBuf> {
    let bytes = interp.as_os_str().as_encoded_bytes();
    let name = interp.file_name()?.to_str()?;
    let arch = name.strip_prefix("ld-musl-")?.split(".so").next()?;
    if arch.is_empty() || !bytes.starts_with(b"/") {
        return None;
    }
    let slashes: Vec<usize> = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'/')
        .map(|(i, _)| i)
        .collect();
    let prefix_len = if slashes.len() >= 2 {
        slashes[slashes.len() - 2]
    } else {
        0
    };
    let prefix = std::str::from_utf8(&bytes[..prefix_len]).ok()?;
    Some(PathBuf::from(format!("{prefix}/etc/ld-musl-{arch}.path")))
}

/// The directories of a musl path file: separated by colons or newlines (`path_open`).
fn musl_path_dirs(text: &[u8]) -> Vec<PathBuf> {
    text.split(|b| *b == b':' || *b == b'\n')
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(std::ffi::OsStr::from_bytes(d)))
        .collect()
}

impl<'c> Resolver<'c> {
    pub fn new(cfg: &'c LoaderConfig) -> Self {
        Self::with_fs(cfg, &HostFs)
    }

    /// A resolver that reads files through `fs`.
    pub fn with_fs(cfg: &'c LoaderConfig, fs: &'c dyn LoaderFs) -> Self {
        Resolver {
            cfg,
            fs,
            parsed: ByBytes::default(),
            file_ids: ByBytes::default(),
            hwcaps_dirs: HashMap::new(),
            variants: ByBytes::default(),
            musl: false,
            musl_paths: HashMap::new(),
            musl_file: None,
        }
    }

    /// What an earlier `resolve` or search parsed at `path`, if anything.
    pub fn parsed(&self, path: &Path) -> Option<Arc<ElfInfo>> {
        self.parsed.get(key(path)).cloned().flatten()
    }

    /// Parses (once) a candidate; None when it is missing or not ELF.
    fn candidate(&mut self, path: &Path) -> Option<Arc<ElfInfo>> {
        if let Some(hit) = self.parsed.get(key(path)) {
            return hit.clone();
        }
        let info = self.fs.read_elf(path).ok().map(Arc::new);
        self.parsed.insert(key(path).to_vec(), info.clone());
        info
    }

    fn file_id(&mut self, path: &Path) -> Option<(u64, u64)> {
        if let Some(id) = self.file_ids.get(key(path)) {
            return *id;
        }
        let id = self.fs.file_id(path);
        self.file_ids.insert(key(path).to_vec(), id);
        id
    }

    /// The transitive closure of one file. Errors only for the file itself (unreadable,
    /// not ELF); anything unresolved below it goes to `missing`.
    pub fn resolve(&mut self, file: &Path) -> Result<Closure, ElfError> {
        let info = Arc::new(self.fs.read_elf(file)?);
        self.parsed.insert(key(file).to_vec(), Some(info.clone()));
        let mut closure = Closure {
            file: file.to_path_buf(),
            interpreter: info.interp.clone(),
            libraries: Vec::new(),
            missing: Vec::new(),
            warnings: Vec::new(),
        };
        if !info.dynamic {
            return Ok(closure);
        }
        self.musl = info.interp.as_deref().is_some_and(is_musl_interp);
        self.musl_file = info
            .interp
            .as_deref()
            .filter(|_| self.musl)
            .and_then(musl_path_file);
        let id = self.file_id(file);
        let mut map = vec![Loaded {
            path: file.to_path_buf(),
            info: info.clone(),
            loader: None,
            names: Vec::new(),
            id,
            reported: true,
        }];
        // The executable's $ORIGIN is its symlink-resolved directory (/proc/self/exe),
        // computed only if some object uses $ORIGIN.
        let main_origin = MainOrigin {
            file: file.to_path_buf(),
            fs: self.fs,
            dir: std::cell::OnceCell::new(),
        };
        // A library's $ORIGIN is the directory it was opened from, known inside a jail too.
        if info.interp.is_some()
            && info
                .rpath
                .iter()
                .chain(&info.runpath)
                .chain(&info.needed)
                .any(|s| uses_origin(s))
        {
            closure.warnings.push(format!(
                "{} uses $ORIGIN, which the loader cannot expand inside a jail without /proc; a jail built with it gets its own ld.so.cache listing its libraries",
                file.display()
            ));
        }
        self.load_interpreter(&info, file, &mut map, &mut closure);
        let mut next = 0;
        while next < map.len() {
            let needed = map[next].info.needed.clone();
            for name in needed {
                self.load_needed(&name, next, &main_origin, &mut map, &mut closure);
            }
            next += 1;
        }
        Ok(closure)
    }

    fn load_interpreter(
        &mut self,
        info: &ElfInfo,
        file: &Path,
        map: &mut Vec<Loaded>,
        closure: &mut Closure,
    ) {
        let interp = match (&info.interp, &self.cfg.default_interp) {
            (Some(i), _) => i.clone(),
            (None, Some(d)) => d.clone(),
            (None, None) => return,
        };
        match self.candidate(&interp) {
            Some(ii) => {
                let soname = ii.soname.clone().unwrap_or_else(|| file_name(&interp));
                let id = self.file_id(&interp);
                map.push(Loaded {
                    path: interp.clone(),
                    info: ii,
                    loader: Some(0),
                    names: vec![soname.clone()],
                    id,
                    // ld.so reports itself only when an object names its SONAME.
                    reported: false,
                });
            }
            None => closure.missing.push(Missing {
                soname: interp.display().to_string(),
                needed_by: file.to_path_buf(),
            }),
        }
    }

    fn load_needed(
        &mut self,
        name: &str,
        loader: usize,
        main_origin: &MainOrigin,
        map: &mut Vec<Loaded>,
        closure: &mut Closure,
    ) {
        let needed_by = map[loader].path.clone();
        if let Some(l) = map
            .iter_mut()
            .find(|l| l.path.as_os_str() == name || l.names.iter().any(|n| n == name))
        {
            if !l.reported {
                l.reported = true;
                closure.libraries.push(Library {
                    soname: name.to_string(),
                    path: l.path.clone(),
                    found_via: FoundVia::Interpreter,
                    needed_by,
                    variants: Vec::new(),
                });
            }
            return;
        }
        if self.musl && musl_reserved(name) {
            // musl's loader is its libc: it answers these names with itself
            if let Some(l) = map.iter_mut().find(|l| l.loader == Some(0) && !l.reported) {
                l.reported = true;
                l.names.push(name.to_string());
                closure.libraries.push(Library {
                    soname: name.to_string(),
                    path: l.path.clone(),
                    found_via: FoundVia::Interpreter,
                    needed_by,
                    variants: Vec::new(),
                });
                return;
            }
            if map
                .iter()
                .any(|l| l.loader == Some(0) && l.reported && l.path.as_os_str() != "")
            {
                return;
            }
        }
        let found = if name.contains('/') {
            match self.origin_of(loader, map, main_origin) {
                None if uses_origin(name) => None,
                origin => {
                    let origin = origin.unwrap_or_default();
                    let p = PathBuf::from(expand(name, &origin, &self.cfg.lib, &self.cfg.platform));
                    self.compatible(&p, &map[0].info)
                        .map(|_| (p, FoundVia::Path))
                }
            }
        } else if self.musl {
            self.search_musl(name, loader, main_origin, map)
        } else {
            self.search(name, loader, main_origin, map)
        };
        let Some((path, via)) = found else {
            closure.missing.push(Missing {
                soname: name.to_string(),
                needed_by,
            });
            // Like ld.so in trace mode: a placeholder answers later requests for the name.
            map.push(Loaded {
                path: PathBuf::new(),
                info: Arc::new(ElfInfo::default()),
                loader: Some(loader),
                names: vec![name.to_string()],
                id: None,
                reported: true,
            });
            return;
        };
        let id = self.file_id(&path);
        if let Some(same) = map.iter_mut().find(|l| id.is_some() && l.id == id) {
            same.names.push(name.to_string());
            return;
        }
        let info = self.candidate(&path).expect("a found candidate was parsed");
        let mut names = vec![name.to_string()];
        names.extend(info.soname.clone());
        let variants = if self.musl {
            Vec::new()
        } else {
            self.variants_of(&path, name)
        };
        map.push(Loaded {
            path: path.clone(),
            info,
            loader: Some(loader),
            names,
            id,
            reported: true,
        });
        closure.libraries.push(Library {
            soname: name.to_string(),
            path,
            found_via: via,
            needed_by,
            variants,
        });
    }

    /// `$ORIGIN` of a loaded object: the executable's resolved directory, or the directory
    /// of the path a library was opened by.
    /// None for the executable when the loader has no /proc (`LoaderConfig::no_proc`).
    fn origin_of(&self, idx: usize, map: &[Loaded], main_origin: &MainOrigin) -> Option<PathBuf> {
        if idx == 0 {
            return (!self.cfg.no_proc).then(|| main_origin.get().to_path_buf());
        }
        Some(
            map[idx]
                .path
                .parent()
                .unwrap_or(Path::new("/"))
                .to_path_buf(),
        )
    }

    /// glibc's _dl_map_object search order for `name` needed by `map[loader]`.
    fn search(
        &mut self,
        name: &str,
        loader: usize,
        main_origin: &MainOrigin,
        map: &[Loaded],
    ) -> Option<(PathBuf, FoundVia)> {
        let main = map[0].info.clone();
        let loader_info = map[loader].info.clone();
        if loader_info.runpath.is_empty() {
            let mut visited_main = false;
            let mut cur = Some(loader);
            while let Some(i) = cur {
                if !map[i].info.rpath.is_empty() {
                    let dirs = self
                        .expand_list(&map[i].info.rpath, || self.origin_of(i, map, main_origin));
                    if let Some(p) = self.search_dirs(&dirs, name, &main) {
                        return Some((
                            p,
                            FoundVia::Rpath {
                                owner: map[i].path.clone(),
                            },
                        ));
                    }
                }
                visited_main |= i == 0;
                cur = map[i].loader;
            }
            if !visited_main && !main.rpath.is_empty() {
                let dirs = self.expand_list(&main.rpath, || self.origin_of(0, map, main_origin));
                if let Some(p) = self.search_dirs(&dirs, name, &main) {
                    return Some((
                        p,
                        FoundVia::Rpath {
                            owner: map[0].path.clone(),
                        },
                    ));
                }
            }
        }
        if !self.cfg.ld_library_path.is_empty() {
            let dirs = self.expand_list(&self.cfg.ld_library_path.clone(), || {
                self.origin_of(0, map, main_origin)
            });
            if let Some(p) = self.search_dirs(&dirs, name, &main) {
                return Some((p, FoundVia::LdLibraryPath));
            }
        }
        if !loader_info.runpath.is_empty() {
            let dirs = self.expand_list(&loader_info.runpath, || {
                self.origin_of(loader, map, main_origin)
            });
            if let Some(p) = self.search_dirs(&dirs, name, &main) {
                return Some((
                    p,
                    FoundVia::Runpath {
                        owner: map[loader].path.clone(),
                    },
                ));
            }
        }
        if loader_info.nodeflib {
            return None;
        }
        if let Some(cache) = &self.cfg.cache {
            let flags = flags_for(main.class, main.machine);
            if let Some(e) = cache.lookup(name, flags, &self.cfg.hwcaps) {
                let p = e.path.clone();
                if self.compatible(&p, &main).is_some() {
                    return Some((p, FoundVia::LdCache));
                }
            }
        } else if !self.cfg.conf_dirs.is_empty() {
            let dirs = self.cfg.conf_dirs.clone();
            if let Some(p) = self.search_dirs(&dirs, name, &main) {
                return Some((p, FoundVia::LdCache));
            }
        }
        let dirs = self.cfg.system_dirs.clone();
        self.search_dirs(&dirs, name, &main)
            .map(|p| (p, FoundVia::DefaultDir))
    }

    /// musl's search (dynlink.c `load_library`): LD_LIBRARY_PATH, then the RUNPATH (or else
    /// RPATH) of the loading object and of each of its loaders up to the program, then the
    /// system path. No cache, no glibc-hwcaps, no variants.
    fn search_musl(
        &mut self,
        name: &str,
        loader: usize,
        main_origin: &MainOrigin,
        map: &[Loaded],
    ) -> Option<(PathBuf, FoundVia)> {
        let main = map[0].info.clone();
        let plain = |this: &mut Self, dirs: &[PathBuf]| {
            dirs.iter()
                .map(|d| d.join(name))
                .find(|p| this.compatible(p, &main).is_some())
        };
        if !self.cfg.ld_library_path.is_empty() {
            let dirs = self.expand_list(&self.cfg.ld_library_path.clone(), || {
                self.origin_of(0, map, main_origin)
            });
            if let Some(p) = plain(self, &dirs) {
                return Some((p, FoundVia::LdLibraryPath));
            }
        }
        let mut cur = Some(loader);
        while let Some(i) = cur {
            let info = &map[i].info;
            let (list, runpath) = if info.runpath.is_empty() {
                (info.rpath.clone(), false)
            } else {
                (info.runpath.clone(), true)
            };
            if !list.is_empty() {
                let dirs = self.expand_list(&list, || self.origin_of(i, map, main_origin));
                if let Some(p) = plain(self, &dirs) {
                    let owner = map[i].path.clone();
                    let via = if runpath {
                        FoundVia::Runpath { owner }
                    } else {
                        FoundVia::Rpath { owner }
                    };
                    return Some((p, via));
                }
            }
            cur = map[i].loader;
        }
        let dirs = self.musl_system_path();
        plain(self, &dirs).map(|p| (p, FoundVia::DefaultDir))
    }

    /// musl's system path: its path file's directories when the file exists (an unreadable
    /// file gives none, as the loader then uses ""), else the built-in path.
    fn musl_system_path(&mut self) -> Vec<PathBuf> {
        let builtin = || MUSL_SYSTEM_PATH.iter().map(PathBuf::from).collect();
        let Some(file) = self.musl_file.clone() else {
            return builtin();
        };
        if let Some(dirs) = self.musl_paths.get(&file) {
            return dirs.clone();
        }
        let dirs = match self.fs.read_small(&file) {
            Ok(text) => musl_path_dirs(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => builtin(),
            Err(_) => Vec::new(),
        };
        self.musl_paths.insert(file, dirs.clone());
        dirs
    }

    /// Expands a search list; `origin` is only computed when an element has a token. When
    /// it is unknown (no /proc), the elements using it are dropped, as glibc drops them.
    fn expand_list(&self, list: &[String], origin: impl Fn() -> Option<PathBuf>) -> Vec<PathBuf> {
        let origin = if list.iter().any(|e| e.contains('$')) {
            origin()
        } else {
            Some(PathBuf::new())
        };
        list.iter()
            .filter(|e| origin.is_some() || !uses_origin(e))
            .map(|e| {
                let o = origin.as_deref().unwrap_or(Path::new(""));
                PathBuf::from(expand(e, o, &self.cfg.lib, &self.cfg.platform))
            })
            .collect()
    }

    /// Each directory in order; in each, the supported glibc-hwcaps subdirectories first.
    fn search_dirs(&mut self, dirs: &[PathBuf], name: &str, main: &ElfInfo) -> Option<PathBuf> {
        for dir in dirs {
            for h in self.cfg.hwcaps.clone() {
                let p = dir.join("glibc-hwcaps").join(&h).join(name);
                if self.compatible(&p, main).is_some() {
                    return Some(p);
                }
            }
            let p = dir.join(name);
            if self.compatible(&p, main).is_some() {
                return Some(p);
            }
        }
        None
    }

    /// A candidate the loader would accept for this program: an ELF of the same class and
    /// machine. Anything else is skipped silently, as ld.so does.
    fn compatible(&mut self, path: &Path, main: &ElfInfo) -> Option<Arc<ElfInfo>> {
        let info = self.candidate(path)?;
        (info.class == main.class && info.machine == main.machine).then_some(info)
    }

    /// Every glibc-hwcaps variant and the baseline of a library found at `path`, except
    /// `path` itself: the jail gets them all so it works on any CPU.
    fn variants_of(&mut self, path: &Path, name: &str) -> Vec<PathBuf> {
        let mut key = key(path).to_vec();
        key.push(0);
        key.extend_from_slice(name.as_bytes());
        if let Some(hit) = self.variants.get(&key) {
            return hit.clone();
        }
        let found = self.find_variants(path, name);
        self.variants.insert(key, found.clone());
        found
    }

    fn find_variants(&mut self, path: &Path, name: &str) -> Vec<PathBuf> {
        let Some(dir) = path.parent() else {
            return Vec::new();
        };
        let base = match dir.parent() {
            Some(hw) if hw.file_name().is_some_and(|n| n == "glibc-hwcaps") => {
                hw.parent().unwrap_or(dir).to_path_buf()
            }
            _ => dir.to_path_buf(),
        };
        let fs = self.fs;
        let subdirs = self
            .hwcaps_dirs
            .entry(base.clone())
            .or_insert_with(|| {
                let mut v = fs.list_dir(&base.join("glibc-hwcaps"));
                v.sort();
                v
            })
            .clone();
        subdirs
            .iter()
            .map(|d| d.join(name))
            .chain(std::iter::once(base.join(name)))
            .filter(|p| p != path && fs.exists(p))
            .collect()
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The executable's `$ORIGIN`, resolved on first use.
struct MainOrigin<'f> {
    file: PathBuf,
    fs: &'f dyn LoaderFs,
    dir: std::cell::OnceCell<PathBuf>,
}

impl MainOrigin<'_> {
    fn get(&self) -> &Path {
        self.dir.get_or_init(|| {
            self.fs
                .canonical(&self.file)
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or_else(|| self.file.parent().unwrap_or(Path::new("/")).to_path_buf())
        })
    }
}

/// Resolves many files on `jobs` threads (each with its own caches), results in input order.
pub fn resolve_many(
    cfg: &LoaderConfig,
    files: &[PathBuf],
    jobs: usize,
) -> Vec<Result<Closure, ElfError>> {
    with_resolvers(cfg, files, jobs, |r, f| r.resolve(f))
}

/// Runs `work` on every file on `jobs` threads, each thread with its own `Resolver` (and so
/// its own caches); results in input order. Files are handed out one at a time from a
/// shared counter, not in fixed chunks: on a busy machine one thread may wait long for a
/// CPU, and the others then simply take its share.
pub fn with_resolvers<T: Send>(
    cfg: &LoaderConfig,
    files: &[PathBuf],
    jobs: usize,
    work: impl Fn(&mut Resolver<'_>, &Path) -> T + Sync,
) -> Vec<T> {
    let jobs = jobs.clamp(1, files.len().max(1));
    if jobs == 1 {
        let mut r = Resolver::new(cfg);
        return files.iter().map(|f| work(&mut r, f)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let thread = || {
        let mut r = Resolver::new(cfg);
        let mut out = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(f) = files.get(i) else { break };
            out.push((i, work(&mut r, f)));
        }
        out
    };
    let mut all: Vec<(usize, T)> = std::thread::scope(|s| {
        let handles: Vec<_> = (1..jobs).map(|_| s.spawn(thread)).collect();
        let mut all = thread();
        for h in handles {
            all.extend(h.join().expect("a resolver thread panicked"));
        }
        all
    });
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    //! One test per loader rule of DESIGN §3, on a made-up filesystem: objects are
    //! `ElfInfo`s at paths, symlinks are a map, directories are what the paths imply.

    use std::collections::BTreeMap;

    use super::*;
    use crate::resolve::ldcache::{CacheEntry, LdCache};

    const X86_64: u16 = 62;

    #[derive(Default)]
    struct FakeFs {
        files: BTreeMap<PathBuf, ElfInfo>,
        links: BTreeMap<PathBuf, PathBuf>,
        texts: BTreeMap<PathBuf, Vec<u8>>,
    }

    impl FakeFs {
        fn resolve_links(&self, given: &Path) -> PathBuf {
            // `..` taken lexically, as the kernel does on these symlink-free parents
            let mut p = PathBuf::new();
            for c in p_components(given) {
                if c == ".." {
                    p.pop();
                } else {
                    p.push(c);
                }
            }
            for _ in 0..40 {
                match self.links.get(&p) {
                    Some(t) => p = t.clone(),
                    None => break,
                }
            }
            p
        }

        fn lib(mut self, path: &str, soname: &str, needed: &[&str]) -> Self {
            let info = ElfInfo {
                class: 64,
                machine: X86_64,
                dynamic: true,
                soname: Some(soname.into()),
                needed: needed.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            };
            self.files.insert(path.into(), info);
            self
        }

        fn with(mut self, path: &str, edit: impl FnOnce(&mut ElfInfo)) -> Self {
            edit(
                self.files
                    .get_mut(Path::new(path))
                    .expect("a file added before"),
            );
            self
        }

        fn link(mut self, path: &str, target: &str) -> Self {
            self.links.insert(path.into(), target.into());
            self
        }
    }

    fn p_components(p: &Path) -> Vec<std::ffi::OsString> {
        p.components()
            .map(|c| c.as_os_str().to_os_string())
            .collect()
    }

    impl LoaderFs for FakeFs {
        fn read_elf(&self, path: &Path) -> Result<ElfInfo, ElfError> {
            self.files
                .get(&self.resolve_links(path))
                .cloned()
                .ok_or_else(|| ElfError::NotElf {
                    path: path.to_path_buf(),
                })
        }
        fn file_id(&self, path: &Path) -> Option<(u64, u64)> {
            let real = self.resolve_links(path);
            let i = self.files.keys().position(|k| *k == real)?;
            Some((1, i as u64))
        }
        fn list_dir(&self, dir: &Path) -> Vec<PathBuf> {
            let mut out: Vec<PathBuf> = self
                .files
                .keys()
                .chain(self.links.keys())
                .filter_map(|p| {
                    let rest = p.strip_prefix(dir).ok()?;
                    let first = rest.components().next()?;
                    Some(dir.join(first))
                })
                .collect();
            out.dedup();
            out
        }
        fn exists(&self, path: &Path) -> bool {
            self.files.contains_key(path) || self.links.contains_key(path)
        }
        fn canonical(&self, path: &Path) -> Option<PathBuf> {
            Some(self.resolve_links(path))
        }
        fn read_small(&self, path: &Path) -> std::io::Result<Vec<u8>> {
            self.texts
                .get(&self.resolve_links(path))
                .cloned()
                .ok_or_else(|| std::io::ErrorKind::NotFound.into())
        }
    }

    /// A program at `path` needing `needed`.
    fn program(fs: FakeFs, path: &str, needed: &[&str]) -> FakeFs {
        let fs = fs.lib(path, "", needed);
        fs.with(path, |i| {
            i.soname = None;
            i.interp = None;
        })
    }

    fn cfg() -> LoaderConfig {
        LoaderConfig {
            system_dirs: vec!["/lib".into(), "/usr/lib".into()],
            hwcaps: vec!["x86-64-v3".into(), "x86-64-v2".into()],
            lib: "lib".into(),
            platform: "x86_64".into(),
            ..Default::default()
        }
    }

    fn resolve(fs: &FakeFs, cfg: &LoaderConfig, file: &str) -> Closure {
        Resolver::with_fs(cfg, fs).resolve(Path::new(file)).unwrap()
    }

    /// name → (path, how) of every library found.
    fn found(c: &Closure) -> BTreeMap<String, (String, String)> {
        c.libraries
            .iter()
            .map(|l| {
                (
                    l.soname.clone(),
                    (l.path.display().to_string(), l.found_via.to_string()),
                )
            })
            .collect()
    }

    fn missing(c: &Closure) -> Vec<String> {
        c.missing.iter().map(|m| m.soname.clone()).collect()
    }

    #[test]
    fn a_needed_name_with_a_slash_is_a_path_not_searched() {
        let fs = program(FakeFs::default(), "/bin/p", &["/opt/x/libx.so"])
            .lib("/opt/x/libx.so", "libx.so", &[])
            .lib("/lib/libx.so", "libx.so", &[]);
        let c = resolve(&fs, &cfg(), "/bin/p");
        assert_eq!(
            found(&c)["/opt/x/libx.so"],
            ("/opt/x/libx.so".into(), "path in DT_NEEDED".into())
        );
    }

    #[test]
    fn loaded_objects_are_matched_by_soname() {
        // libb is first found through a path; a later request by SONAME reuses it
        let fs = program(FakeFs::default(), "/bin/p", &["/opt/libb.so.1", "liba.so"])
            .lib("/opt/libb.so.1", "libb.so.1", &[])
            .lib("/lib/liba.so", "liba.so", &["libb.so.1"])
            .lib("/lib/libb.so.1", "libb.so.1", &[]);
        let c = resolve(&fs, &cfg(), "/bin/p");
        let paths: Vec<String> = c
            .libraries
            .iter()
            .map(|l| l.path.display().to_string())
            .collect();
        assert_eq!(paths, ["/opt/libb.so.1", "/lib/liba.so"]);
    }

    #[test]
    fn rpath_is_inherited_from_the_loaders() {
        let fs = program(FakeFs::default(), "/bin/p", &["liba.so"])
            .with("/bin/p", |i| i.rpath = vec!["/opt/p/lib".into()])
            .lib("/opt/p/lib/liba.so", "liba.so", &["libb.so"])
            .lib("/opt/p/lib/libb.so", "libb.so", &[]);
        let c = resolve(&fs, &cfg(), "/bin/p");
        assert_eq!(
            found(&c)["libb.so"],
            ("/opt/p/lib/libb.so".into(), "RPATH of /bin/p".into())
        );
    }

    #[test]
    fn runpath_is_not_inherited() {
        let fs = program(FakeFs::default(), "/bin/p", &["liba.so"])
            .with("/bin/p", |i| i.runpath = vec!["/opt/p/lib".into()])
            .lib("/opt/p/lib/liba.so", "liba.so", &["libb.so"])
            .lib("/opt/p/lib/libb.so", "libb.so", &[]);
        let c = resolve(&fs, &cfg(), "/bin/p");
        assert_eq!(
            found(&c)["liba.so"].1,
            "RUNPATH of /bin/p",
            "the program's own RUNPATH serves its own needs"
        );
        assert_eq!(missing(&c), ["libb.so"], "but not its libraries' needs");
    }

    #[test]
    fn a_runpath_disables_the_objects_rpath_and_ld_library_path_comes_between() {
        let fs = program(FakeFs::default(), "/bin/p", &["liba.so"])
            .with("/bin/p", |i| {
                i.rpath = vec!["/rpath".into()];
                i.runpath = vec!["/runpath".into()];
            })
            .lib("/rpath/liba.so", "liba.so", &[])
            .lib("/runpath/liba.so", "liba.so", &[])
            .lib("/llp/liba.so", "liba.so", &[]);
        assert_eq!(
            found(&resolve(&fs, &cfg(), "/bin/p"))["liba.so"].0,
            "/runpath/liba.so"
        );
        let mut with_llp = cfg();
        with_llp.ld_library_path = vec!["/llp".into()];
        assert_eq!(
            found(&resolve(&fs, &with_llp, "/bin/p"))["liba.so"],
            ("/llp/liba.so".into(), "LD_LIBRARY_PATH".into())
        );
    }

    #[test]
    fn the_cache_comes_before_the_default_dirs_and_nodeflib_skips_both() {
        let fs = program(FakeFs::default(), "/bin/p", &["liba.so"])
            .lib("/cached/liba.so", "liba.so", &[])
            .lib("/lib/liba.so", "liba.so", &[]);
        let mut c = cfg();
        c.cache = Some(LdCache::from_entries([(
            "liba.so".to_string(),
            CacheEntry {
                flags: crate::resolve::ldcache::flags_for(64, X86_64),
                path: "/cached/liba.so".into(),
                hwcaps: None,
                legacy_hwcap: 0,
            },
        )]));
        assert_eq!(
            found(&resolve(&fs, &c, "/bin/p"))["liba.so"],
            ("/cached/liba.so".into(), "ld.so.cache".into())
        );
        assert_eq!(
            found(&resolve(&fs, &cfg(), "/bin/p"))["liba.so"],
            ("/lib/liba.so".into(), "default directory".into())
        );
        let nodeflib = fs.with("/bin/p", |i| i.nodeflib = true);
        assert_eq!(missing(&resolve(&nodeflib, &c, "/bin/p")), ["liba.so"]);
    }

    #[test]
    fn hwcaps_subdirectories_come_first_and_every_variant_is_kept() {
        let fs = program(FakeFs::default(), "/bin/p", &["liba.so"])
            .lib("/lib/liba.so", "liba.so", &[])
            .lib("/lib/glibc-hwcaps/x86-64-v2/liba.so", "liba.so", &[])
            .lib("/lib/glibc-hwcaps/x86-64-v4/liba.so", "liba.so", &[]);
        let c = resolve(&fs, &cfg(), "/bin/p");
        let lib = &c.libraries[0];
        assert_eq!(lib.path, Path::new("/lib/glibc-hwcaps/x86-64-v2/liba.so"));
        let variants: Vec<String> = lib
            .variants
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            variants,
            ["/lib/glibc-hwcaps/x86-64-v4/liba.so", "/lib/liba.so"],
            "a CPU the host may migrate to finds its variant in the jail"
        );
    }

    #[test]
    fn a_candidate_of_the_wrong_class_or_machine_is_skipped() {
        let fs = program(FakeFs::default(), "/bin/p", &["liba.so"])
            .lib("/lib/liba.so", "liba.so", &[])
            .with("/lib/liba.so", |i| i.class = 32)
            .lib("/usr/lib/liba.so", "liba.so", &[]);
        assert_eq!(
            found(&resolve(&fs, &cfg(), "/bin/p"))["liba.so"].0,
            "/usr/lib/liba.so"
        );
        let arm = fs.with("/usr/lib/liba.so", |i| i.machine = 183);
        assert_eq!(missing(&resolve(&arm, &cfg(), "/bin/p")), ["liba.so"]);
    }

    #[test]
    fn origin_of_the_program_is_its_symlink_resolved_directory() {
        let fs = program(FakeFs::default(), "/opt/app/bin/app", &["libapp.so"])
            .with("/opt/app/bin/app", |i| {
                i.runpath = vec!["$ORIGIN/../lib".into()];
                i.interp = Some("/lib/ld.so".into());
            })
            .lib("/lib/ld.so", "ld.so", &[])
            .lib("/opt/app/lib/libapp.so", "libapp.so", &[])
            .link("/usr/bin/app", "/opt/app/bin/app");
        let c = resolve(&fs, &cfg(), "/usr/bin/app");
        assert_eq!(found(&c)["libapp.so"].0, "/opt/app/bin/../lib/libapp.so");
        assert!(
            c.warnings.iter().any(|w| w.contains("$ORIGIN")),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn without_proc_the_programs_origin_elements_are_dropped_but_a_librarys_are_kept() {
        let fs = program(FakeFs::default(), "/opt/app/bin/app", &["libapp.so"])
            .with("/opt/app/bin/app", |i| {
                i.runpath = vec!["$ORIGIN/../lib".into()]
            })
            .lib("/opt/app/lib/libapp.so", "libapp.so", &["libdep.so"])
            .with("/opt/app/lib/libapp.so", |i| {
                i.runpath = vec!["$ORIGIN/dep".into()]
            })
            .lib("/opt/app/lib/dep/libdep.so", "libdep.so", &[]);
        let mut jail = cfg();
        jail.no_proc = true;
        assert_eq!(
            missing(&resolve(&fs, &jail, "/opt/app/bin/app")),
            ["libapp.so"]
        );
        jail.cache = Some(LdCache::from_entries([(
            "libapp.so".to_string(),
            CacheEntry {
                flags: crate::resolve::ldcache::flags_for(64, X86_64),
                path: "/opt/app/lib/libapp.so".into(),
                hwcaps: None,
                legacy_hwcap: 0,
            },
        )]));
        let c = resolve(&fs, &jail, "/opt/app/bin/app");
        assert_eq!(found(&c)["libapp.so"].1, "ld.so.cache");
        assert_eq!(found(&c)["libdep.so"].0, "/opt/app/lib/dep/libdep.so");
    }

    /// `/bin/m` under musl's loader `/lib/ld-musl-x86_64.so.1` (its libc), needing libc
    /// and libz.
    fn musl_program() -> FakeFs {
        program(FakeFs::default(), "/bin/m", &["libc.so", "libz.so.1"])
            .with("/bin/m", |i| {
                i.interp = Some("/lib/ld-musl-x86_64.so.1".into())
            })
            .lib("/lib/ld-musl-x86_64.so.1", "libc.so", &[])
    }

    #[test]
    fn musls_loader_is_its_libc_and_searches_its_own_path() {
        let fs = musl_program()
            .lib("/usr/lib/libz.so.1", "libz.so.1", &["libc.so"])
            .lib("/lib/glibc-hwcaps/x86-64-v3/libz.so.1", "libz.so.1", &[]);
        let c = resolve(&fs, &cfg(), "/bin/m");
        assert!(missing(&c).is_empty(), "{:?}", missing(&c));
        assert_eq!(
            found(&c)["libc.so"],
            ("/lib/ld-musl-x86_64.so.1".into(), "PT_INTERP".into())
        );
        assert_eq!(
            found(&c)["libz.so.1"],
            ("/usr/lib/libz.so.1".into(), "default directory".into()),
            "no glibc-hwcaps for musl"
        );
    }

    #[test]
    fn musls_path_file_replaces_its_builtin_path() {
        let fs = musl_program()
            .lib("/usr/lib/libz.so.1", "libz.so.1", &["libc.so"])
            .lib("/usr/lib/x86_64-linux-musl/libz.so.1", "libz.so.1", &[]);
        let mut with_file = fs;
        with_file.texts.insert(
            "/etc/ld-musl-x86_64.path".into(),
            b"/lib/x86_64-linux-musl\n/usr/lib/x86_64-linux-musl:/opt/none\n".to_vec(),
        );
        let c = resolve(&with_file, &cfg(), "/bin/m");
        assert_eq!(
            found(&c)["libz.so.1"],
            (
                "/usr/lib/x86_64-linux-musl/libz.so.1".into(),
                "default directory".into()
            ),
            "the path file's directories, not the built-in /usr/lib"
        );
        // An empty path file leaves no system path at all.
        with_file
            .texts
            .insert("/etc/ld-musl-x86_64.path".into(), Vec::new());
        let c = resolve(&with_file, &cfg(), "/bin/m");
        assert_eq!(missing(&c), vec!["libz.so.1".to_string()]);
    }

    #[test]
    fn musls_path_file_is_named_after_its_loader() {
        let f = |p: &str| musl_path_file(Path::new(p)).map(|p| p.display().to_string());
        assert_eq!(
            f("/lib/ld-musl-x86_64.so.1").as_deref(),
            Some("/etc/ld-musl-x86_64.path")
        );
        assert_eq!(
            f("/usr/lib/ld-musl-aarch64.so.1").as_deref(),
            Some("/usr/etc/ld-musl-aarch64.path")
        );
        assert_eq!(
            f("/ld-musl-i386.so.1").as_deref(),
            Some("/etc/ld-musl-i386.path")
        );
        assert_eq!(f("/lib64/ld-linux-x86-64.so.2"), None);
        assert_eq!(
            musl_path_dirs(b"/a:/b\n\n/c:"),
            vec![
                PathBuf::from("/a"),
                PathBuf::from("/b"),
                PathBuf::from("/c")
            ]
        );
    }

    #[test]
    fn tokens_lib_and_platform_are_expanded() {
        let fs = program(FakeFs::default(), "/bin/p", &["liba.so"])
            .with("/bin/p", |i| i.rpath = vec!["/opt/$LIB/$PLATFORM".into()])
            .lib("/opt/lib/x86_64/liba.so", "liba.so", &[]);
        assert_eq!(
            found(&resolve(&fs, &cfg(), "/bin/p"))["liba.so"].0,
            "/opt/lib/x86_64/liba.so"
        );
    }

    #[test]
    fn the_interpreter_is_reported_only_when_something_names_it() {
        let fs = program(FakeFs::default(), "/bin/p", &["libc.so.6"])
            .with("/bin/p", |i| i.interp = Some("/lib/ld.so".into()))
            .lib("/lib/ld.so", "ld-linux-x86-64.so.2", &[])
            .lib("/lib/libc.so.6", "libc.so.6", &["ld-linux-x86-64.so.2"]);
        let c = resolve(&fs, &cfg(), "/bin/p");
        assert_eq!(c.interpreter.as_deref(), Some(Path::new("/lib/ld.so")));
        assert_eq!(
            found(&c)["ld-linux-x86-64.so.2"],
            ("/lib/ld.so".into(), "PT_INTERP".into())
        );
    }
}
