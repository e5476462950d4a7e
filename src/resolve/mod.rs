//! Resolve: ELF files in, a dependency closure out, following glibc's loader rules (DESIGN §3).
//! Reads ELF headers, dynamic sections and ld.so.cache; never runs anything, never reads the
//! environment: every host fact comes in through `LoaderConfig`.

pub mod elf;
pub mod ldcache;
pub mod ldconf;
pub mod loader;
pub mod search;
pub mod tokens;

use std::path::PathBuf;

use serde::Serialize;

pub use elf::{ElfError, ElfInfo};
pub use loader::LoaderConfig;
pub use search::Resolver;

/// How a library was found: the answer `--explain` gives to "why is this file in the jail?".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FoundVia {
    /// The DT_NEEDED name contained a slash.
    Path,
    /// PT_INTERP of the program.
    Interpreter,
    /// DT_RPATH of `owner` (the loading object or one of its loaders).
    Rpath { owner: PathBuf },
    /// An explicit LD_LIBRARY_PATH given on the command line.
    LdLibraryPath,
    /// DT_RUNPATH of the loading object.
    Runpath { owner: PathBuf },
    /// /etc/ld.so.cache.
    LdCache,
    /// One of the loader's default directories.
    DefaultDir,
    /// Named by a profile (dlopen'ed at run time), not by DT_NEEDED.
    Requested,
}

impl std::fmt::Display for FoundVia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FoundVia::Path => write!(f, "path in DT_NEEDED"),
            FoundVia::Interpreter => write!(f, "PT_INTERP"),
            FoundVia::Rpath { owner } => write!(f, "RPATH of {}", owner.display()),
            FoundVia::LdLibraryPath => write!(f, "LD_LIBRARY_PATH"),
            FoundVia::Runpath { owner } => write!(f, "RUNPATH of {}", owner.display()),
            FoundVia::LdCache => write!(f, "ld.so.cache"),
            FoundVia::DefaultDir => write!(f, "default directory"),
            FoundVia::Requested => write!(f, "requested"),
        }
    }
}

/// One library of a closure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Library {
    /// The name it was asked for by (DT_NEEDED), or its SONAME for the interpreter.
    pub soname: String,
    /// The path the loader opens (not symlink-resolved: `/lib/x86_64-linux-gnu/libc.so.6`).
    pub path: PathBuf,
    pub found_via: FoundVia,
    /// The object whose DT_NEEDED named it (the program for the interpreter).
    pub needed_by: PathBuf,
    /// Other glibc-hwcaps variants of the same library (and the baseline when the chosen
    /// one is a variant): the jail needs them all to work on any CPU.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<PathBuf>,
}

/// A DT_NEEDED name nothing could satisfy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub soname: String,
    pub needed_by: PathBuf,
}

/// The transitive closure of one input file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Closure {
    pub file: PathBuf,
    pub interpreter: Option<PathBuf>,
    /// Every library, in load order (breadth first), deduplicated by SONAME.
    pub libraries: Vec<Library>,
    /// Names nothing could satisfy; serialised as a plain list of names (`--json`), the
    /// needing object is on stderr and in `--explain`.
    #[serde(serialize_with = "missing_names")]
    pub missing: Vec<Missing>,
    /// Things a jail cannot honour (e.g. `$ORIGIN` in the program itself without /proc).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn missing_names<S: serde::Serializer>(missing: &[Missing], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(missing.iter().map(|m| m.soname.as_str()))
}
