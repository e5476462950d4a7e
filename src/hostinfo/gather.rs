//! Gathering a build: programs looked up in the secure PATH, refused or foreign ones
//! rejected, scripts followed to their interpreters, ELF closures resolved with one shared
//! resolver, and every resulting host path walked hop by hop into `HostEntry`s.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::exit;
use crate::plan::JailPath;
use crate::plan::build::{BuildRequest, Device, HostEntry, HostKind};
use crate::plan::policy;
use crate::resolve::elf::{FileKind, read_elf, sniff};
use crate::resolve::search::with_resolvers;
use crate::resolve::{Closure, ElfInfo, FoundVia, LoaderConfig, Resolver};
use crate::state::DEFAULT_STATE_DIR;

use super::programs::{SECURE_PATH, find_program};
use super::walk::{WalkError, Walker};

/// What the caller asks the jail to hold.
#[derive(Clone, Debug, Default)]
pub struct Wanted {
    /// `--bin` names or paths.
    pub bins: Vec<String>,
    /// `--file` paths, copied as they are (directories recursively).
    pub files: Vec<PathBuf>,
    /// Libraries loaded with dlopen (from profiles): copied with their ELF closure.
    pub libraries: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    #[error(
        "program {name:?} not found in {SECURE_PATH}{} (jailsmith never uses the caller's PATH; give a full path)",
        super::programs::did_you_mean(name)
    )]
    UnknownProgram { name: String },
    #[error("{path}: no such file")]
    NoSuchFile { path: PathBuf },
    #[error("refusing {path}: {name} {why}; a jailed user must not get it")]
    Refused {
        path: PathBuf,
        name: String,
        why: &'static str,
    },
    #[error("{path} is neither an ELF program nor a #! script")]
    NotProgram { path: PathBuf },
    #[error(
        "{path} is an ELF file for machine {machine} ({class}-bit), which this kernel cannot execute: this host runs machine {host_machine}{compat}; execve would fail with 'Exec format error'"
    )]
    ForeignArch {
        path: PathBuf,
        machine: u16,
        class: u8,
        host_machine: u16,
        /// What else the kernel runs through its compat layer, as words.
        compat: String,
    },
    #[error("{program} needs {soname} (via {needed_by}), which is not found on this host")]
    MissingLibrary {
        program: PathBuf,
        soname: String,
        needed_by: PathBuf,
    },
    #[error("script {path} names interpreter {interp}, which does not exist on this host")]
    MissingInterpreter { path: PathBuf, interp: PathBuf },
    #[error("{0}")]
    Elf(#[from] crate::resolve::ElfError),
    #[error("{0}")]
    Walk(#[from] WalkError),
    #[error(transparent)]
    Denied(#[from] crate::plan::denylist::Denied),
}

impl GatherError {
    pub fn exit_code(&self) -> u8 {
        match self {
            GatherError::Refused { .. } | GatherError::Denied(_) => exit::REFUSED,
            GatherError::MissingLibrary { .. } => exit::FINDINGS,
            _ => exit::BAD_INPUT,
        }
    }
}

/// Collects host entries for everything wanted; warnings go to `warnings`.
pub struct Gatherer<'c> {
    cfg: &'c LoaderConfig,
    resolver: Resolver<'c>,
    /// Threads for resolving the `--bin` programs ahead of the walk (0: one per CPU).
    jobs: usize,
    /// Closures resolved ahead, on `jobs` threads, by program path.
    ahead: HashMap<PathBuf, (Closure, Arc<ElfInfo>)>,
    host_machine: u16,
    host_class: u8,
    walker: Walker,
    pub warnings: Vec<String>,
    /// The libraries placed, for the jail's own ld.so.cache.
    cache: super::jailcache::JailCache,
    /// Names the objects placed so far provide (SONAMEs and file names): what a dlopen'ed
    /// library's DT_NEEDED finds already loaded at run time.
    provided: HashSet<String>,
    /// `--file DIR --with-libs`: the ELF files copied from `--file` paths are resolved too.
    with_libs: bool,
    /// Libraries whose unresolvable needs are a warning, not an error (optional entries).
    optional: HashSet<PathBuf>,
}

/// What a build gathered: host entries, warnings, and the jail's own ld.so.cache when a
/// program needs one (see `jailcache`).
pub struct Gathered {
    pub entries: Vec<HostEntry>,
    pub warnings: Vec<String>,
    pub ld_cache: Option<crate::plan::build::BinaryFile>,
}

impl<'c> Gatherer<'c> {
    pub fn new(cfg: &'c LoaderConfig) -> Self {
        let (host_class, host_machine) = read_elf(Path::new("/bin/sh"))
            .map(|i| (i.class, i.machine))
            .unwrap_or((0, 0));
        Gatherer {
            cfg,
            resolver: Resolver::new(cfg),
            jobs: 1,
            ahead: HashMap::new(),
            host_machine,
            host_class,
            walker: Walker::default(),
            warnings: Vec::new(),
            cache: Default::default(),
            provided: HashSet::new(),
            with_libs: false,
            optional: HashSet::new(),
        }
    }

    /// The state directory in use: the host-secret list refuses it (besides the default).
    pub fn state_dir(mut self, dir: &Path) -> Self {
        self.walker.state_dir = Some(dir.to_path_buf());
        self
    }

    /// Libraries of `Wanted::libraries` that are optional: one whose needs nothing provides
    /// is skipped with a warning.
    pub fn optional_libraries(mut self, paths: &[PathBuf]) -> Self {
        self.optional.extend(paths.iter().cloned());
        self
    }

    /// Resolves the ELF files copied from `--file` paths, as a group with the libraries.
    pub fn with_libs(mut self, on: bool) -> Self {
        self.with_libs = on;
        self
    }

    /// Resolves the programs' closures on `jobs` threads (0: one per CPU) before walking
    /// them; the entries and their order are the same for any number.
    pub fn jobs(mut self, jobs: usize) -> Self {
        self.jobs = match jobs {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        self
    }

    pub fn gather(self, wanted: &Wanted) -> Result<(Vec<HostEntry>, Vec<String>), GatherError> {
        self.gather_all(wanted).map(|g| (g.entries, g.warnings))
    }

    /// `gather`, and the jail's own ld.so.cache if a program needs it.
    pub fn gather_all(mut self, wanted: &Wanted) -> Result<Gathered, GatherError> {
        let programs = wanted
            .bins
            .iter()
            .map(|b| locate(b))
            .collect::<Result<Vec<PathBuf>, GatherError>>()?;
        self.resolve_ahead(&programs);
        for (b, path) in wanted.bins.iter().zip(&programs) {
            self.add_program(path, &format!("--bin {b}"), 0)?;
        }
        let optional = std::mem::take(&mut self.optional);
        self.add_group(
            &wanted.libraries,
            |l| optional.contains(l),
            |l| format!("library {}", l.display()),
        )?;
        let walked_before = self.walker.entries.len();
        for f in &wanted.files {
            if std::fs::symlink_metadata(f).is_err() {
                return Err(GatherError::NoSuchFile { path: f.clone() });
            }
            refuse_if_listed(f)?;
            let state = self.walker.state_dir.clone();
            super::guard::file(f, state.as_deref().unwrap_or(Path::new(DEFAULT_STATE_DIR)))?;
            self.walker.add(f, &format!("--file {}", f.display()))?;
        }
        if self.with_libs {
            let elf_files = self.copied_elf_files(walked_before);
            self.add_group(
                &elf_files,
                |_| true,
                |f| format!("ELF file {} of --file", f.display()),
            )?;
        }
        for (p, why) in std::mem::take(&mut self.walker.skipped) {
            self.warnings.push(format!(
                "skipped {}: {why}; host secrets never enter a jail",
                p.display()
            ));
        }
        Ok(Gathered {
            ld_cache: self.cache.file(),
            entries: self.walker.entries,
            warnings: self.warnings,
        })
    }

    /// Resolves, in parallel, the closures of the programs that are regular files and not
    /// refused; `add_elf` takes them from there. Errors are left for the walk to report in
    /// order (a script is no ELF file; it is simply not resolved ahead).
    fn resolve_ahead(&mut self, programs: &[PathBuf]) {
        if self.jobs < 2 || programs.len() < 2 {
            return;
        }
        let programs: Vec<PathBuf> = programs
            .iter()
            .filter(|p| refuse_if_listed(p).is_ok())
            .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
            .cloned()
            .collect();
        let resolved = with_resolvers(self.cfg, &programs, self.jobs, |r, p| {
            let closure = r.resolve(p).ok()?;
            Some((closure, r.parsed(p)?))
        });
        self.ahead = programs
            .into_iter()
            .zip(resolved)
            .filter_map(|(p, r)| Some((p, r?)))
            .collect();
    }

    /// A program: an ELF with its closure, or a script with its interpreter.
    fn add_program(&mut self, path: &Path, reason: &str, depth: u32) -> Result<(), GatherError> {
        refuse_if_listed(path)?;
        let meta =
            std::fs::metadata(path).map_err(|_| GatherError::NoSuchFile { path: path.into() })?;
        if !meta.is_file() {
            // Never open a FIFO or a device to sniff it: that could block.
            return Err(GatherError::NotProgram { path: path.into() });
        }
        if meta.mode() & 0o6000 != 0 {
            self.warnings.push(format!(
                "{} is setuid/setgid on the host; the jail copy will not be",
                path.display()
            ));
        }
        match sniff(path)? {
            FileKind::Elf => self.add_elf(path, reason),
            FileKind::Script { interp, arg } if depth < 4 => {
                if !interp.exists() {
                    return Err(GatherError::MissingInterpreter {
                        path: path.into(),
                        interp,
                    });
                }
                self.walker.add(path, reason)?;
                let why = format!("interpreter of {}", path.display());
                self.add_program(&interp, &why, depth + 1)?;
                // `#!/usr/bin/env NAME` runs NAME from PATH at run time: bring it too.
                if interp.file_name().is_some_and(|n| n == "env")
                    && let Some(name) = arg.filter(|a| !a.starts_with('-'))
                {
                    let found = find_program(&name).ok_or(GatherError::UnknownProgram { name })?;
                    self.add_program(&found, &why, depth + 1)?;
                }
                Ok(())
            }
            _ => Err(GatherError::NotProgram { path: path.into() }),
        }
    }

    /// The dynamic ELF files of this host's machine among the regular files walked since
    /// entry `from` (what `--file` copied).
    fn copied_elf_files(&self, from: usize) -> Vec<PathBuf> {
        self.walker.entries[from..]
            .iter()
            .filter(|e| matches!(e.kind, HostKind::File { .. }))
            .filter(|e| {
                read_elf(&e.src).is_ok_and(|i| {
                    i.dynamic && (self.host_machine == 0 || i.machine == self.host_machine)
                })
            })
            .map(|e| e.src.clone())
            .collect()
    }

    /// Libraries loaded at run time, resolved as one group: a name that some object of the
    /// group or of a closure already placed provides is found, as the loader finds an
    /// object already loaded; only what nothing provides is missing: an error, or with
    /// `lenient` (files a directory copy brought) a warning that the file will not load.
    fn add_group(
        &mut self,
        paths: &[PathBuf],
        lenient: impl Fn(&Path) -> bool,
        reason: impl Fn(&Path) -> String,
    ) -> Result<(), GatherError> {
        let mut resolved = Vec::with_capacity(paths.len());
        for p in paths {
            let (closure, info) = self.resolve_elf(p)?;
            self.provide(p, &closure, &info);
            resolved.push((p, closure, info));
        }
        for (p, closure, info) in resolved {
            match self.place(p, &reason(p), closure, info, true) {
                Err(GatherError::MissingLibrary {
                    program,
                    soname,
                    needed_by,
                }) if lenient(p) => self.warnings.push(format!(
                    "{} needs {soname} (via {}), which is not on this host: it will not load in \
                     the jail",
                    program.display(),
                    needed_by.display()
                )),
                other => other?,
            }
        }
        Ok(())
    }

    /// Records the names an object and its closure provide.
    fn provide(&mut self, path: &Path, closure: &Closure, info: &ElfInfo) {
        let file_name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
        self.provided.extend(file_name(path));
        self.provided.extend(info.soname.clone());
        for lib in &closure.libraries {
            self.provided.insert(lib.soname.clone());
            self.provided.extend(file_name(&lib.path));
        }
    }

    fn add_elf(&mut self, path: &Path, reason: &str) -> Result<(), GatherError> {
        let (closure, info) = self.resolve_elf(path)?;
        self.provide(path, &closure, &info);
        self.place(path, reason, closure, info, false)
    }

    /// The closure of one ELF file (resolved ahead, or now) and its own facts.
    fn resolve_elf(&mut self, path: &Path) -> Result<(Closure, Arc<ElfInfo>), GatherError> {
        Ok(match self.ahead.remove(path) {
            Some(ahead) => ahead,
            None => {
                let closure = self.resolver.resolve(path)?;
                let info = match self.resolver.parsed(path) {
                    Some(info) => info,
                    None => Arc::new(read_elf(path)?),
                };
                (closure, info)
            }
        })
    }

    /// Adds an ELF file and its closure to the walk. In a group (`grouped`), a missing name
    /// that an object placed provides is not missing.
    fn place(
        &mut self,
        path: &Path,
        reason: &str,
        closure: Closure,
        info: Arc<ElfInfo>,
        grouped: bool,
    ) -> Result<(), GatherError> {
        let compat = kernel_compat(self.host_machine);
        let native = (self.host_class, self.host_machine);
        let abi = (info.class, info.machine);
        if self.host_machine != 0 && abi != native && !compat.contains(&abi) {
            return Err(GatherError::ForeignArch {
                path: path.into(),
                machine: info.machine,
                class: info.class,
                host_machine: self.host_machine,
                compat: match compat.as_slice() {
                    [] => " with no compat ABI".to_string(),
                    c => format!(
                        " and, through its compat layer, {}",
                        c.iter()
                            .map(|(cl, m)| format!("machine {m} ({cl}-bit)"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
            });
        }
        if let Some(m) = closure
            .missing
            .iter()
            .find(|m| !grouped || !self.provided.contains(&m.soname))
        {
            return Err(GatherError::MissingLibrary {
                program: path.into(),
                soname: m.soname.clone(),
                needed_by: m.needed_by.clone(),
            });
        }
        self.cache.note(&closure, &info, abi != native);
        self.warnings.extend(closure.warnings.iter().cloned());
        if !self.walker.has(path) {
            self.walker.add(path, reason)?;
        }
        // Most of a closure was added with an earlier program: word a reason only for what
        // is new (a 525-program build would format thousands of them for nothing).
        if let Some(interp) = closure.interpreter.as_ref().filter(|i| !self.walker.has(i)) {
            self.walker
                .add(interp, &format!("PT_INTERP of {}", path.display()))?;
        }
        // musl's loader reads its system library path from a file beside it, not
        // ld.so.cache: when it found a library there, the jail's loader must search the same
        // directories (a program needing only its libc gets nothing more).
        if let Some(file) = closure
            .interpreter
            .as_deref()
            .and_then(crate::resolve::search::musl_path_file)
            .filter(|f| {
                !self.walker.has(f)
                    && closure
                        .libraries
                        .iter()
                        .any(|l| l.found_via == FoundVia::DefaultDir)
                    && f.is_file()
            })
        {
            let why = format!("library path of musl's loader, for {}", path.display());
            self.walker.add(&file, &why)?;
        }
        for lib in &closure.libraries {
            if !self.walker.has(&lib.path) {
                let why = format!(
                    "{} needed by {} via {}",
                    lib.soname,
                    lib.needed_by.display(),
                    lib.found_via
                );
                self.walker.add(&lib.path, &why)?;
            }
            for v in &lib.variants {
                if !self.walker.has(v) {
                    self.walker
                        .add(v, &format!("glibc-hwcaps variant of {}", lib.soname))?;
                }
            }
        }
        Ok(())
    }
}

/// The (class, machine) pairs besides its own that the running kernel executes through a
/// compat layer: i386 on x86-64 when IA-32 emulation is built in (it then has
/// /proc/sys/abi/vsyscall32), 32-bit ARM on arm64 (when the CPU has AArch32: the kernel
/// reports "Exec format error" otherwise, which no file shows beforehand).
pub fn kernel_compat(host_machine: u16) -> Vec<(u8, u16)> {
    const EM_386: u16 = 3;
    const EM_ARM: u16 = 40;
    const EM_X86_64: u16 = 62;
    const EM_AARCH64: u16 = 183;
    match host_machine {
        EM_X86_64 if Path::new("/proc/sys/abi/vsyscall32").exists() => vec![(32, EM_386)],
        EM_AARCH64 => vec![(32, EM_ARM)],
        _ => Vec::new(),
    }
}

/// Whether the running kernel executes ELF programs of this class and machine: the host's
/// own ABI (that of /bin/sh) or one of its compat ABIs.
pub fn kernel_runs(class: u8, machine: u16) -> bool {
    static HOST: std::sync::OnceLock<Option<(u8, u16)>> = std::sync::OnceLock::new();
    let host = HOST.get_or_init(|| {
        read_elf(Path::new("/bin/sh"))
            .ok()
            .map(|i| (i.class, i.machine))
    });
    match *host {
        None => true,
        Some(native) => {
            (class, machine) == native || kernel_compat(native.1).contains(&(class, machine))
        }
    }
}

/// A `--bin` NAME (looked up in the secure PATH) or path, refused by name first.
fn locate(bin: &str) -> Result<PathBuf, GatherError> {
    refuse_if_listed(Path::new(bin))?;
    find_program(bin).ok_or_else(|| {
        if bin.contains('/') {
            GatherError::NoSuchFile { path: bin.into() }
        } else {
            GatherError::UnknownProgram {
                name: bin.to_string(),
            }
        }
    })
}

fn refuse_if_listed(path: &Path) -> Result<(), GatherError> {
    // Only a symlink as the last component gives the file another real name; asking
    // lstat first spares a readlink per component of every other path.
    let last_is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let real = if last_is_link {
        std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
    } else {
        path.to_path_buf()
    };
    for p in [path, real.as_path()] {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(why) = policy::refusal(&name) {
            return Err(GatherError::Refused {
                path: path.into(),
                name,
                why,
            });
        }
    }
    Ok(())
}

/// Top-level merged-/usr links (`bin -> usr/bin`, `lib64 -> usr/lib64`, …) as the host has
/// them, so `/bin/bash` works as a login shell in every jail.
pub fn top_level_links() -> Vec<HostEntry> {
    ["bin", "sbin", "lib", "lib32", "lib64", "libx32"]
        .iter()
        .filter_map(|name| {
            let host = Path::new("/").join(name);
            let target = std::fs::read_link(&host).ok()?;
            let target = PathBuf::from(target.to_string_lossy().trim_start_matches('/'));
            Some(HostEntry {
                path: JailPath::new(name).ok()?,
                src: host,
                kind: HostKind::Symlink { target },
                reason: "merged /usr layout of the host".to_string(),
            })
        })
        .collect()
}

/// The allowed device nodes, with numbers read from the host's /dev.
pub fn host_devices(names: &[&str]) -> Vec<Device> {
    names
        .iter()
        .filter_map(|name| {
            let mode = policy::ALLOWED_DEVICES.iter().find(|(n, _)| n == name)?.1;
            let meta = std::fs::metadata(Path::new("/dev").join(name)).ok()?;
            let rdev = meta.rdev();
            Some(Device {
                name: name.to_string(),
                major: nix::sys::stat::major(rdev),
                minor: nix::sys::stat::minor(rdev),
                mode,
            })
        })
        .collect()
}

/// Assembles the request: base tree, top-level links, everything gathered.
pub fn base_request(entries: Vec<HostEntry>, passwd: &str, group: &str) -> BuildRequest {
    let mut req =
        crate::plan::base::base_tree(passwd, group, host_devices(policy::DEFAULT_DEVICES));
    req.entries.extend(top_level_links());
    req.entries.extend(entries);
    req
}
