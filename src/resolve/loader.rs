//! LoaderConfig: every host fact the resolver needs (default directories, hwcaps support,
//! $LIB, $PLATFORM, the parsed ld.so.cache), passed in as data. Gathering it from the
//! running host is `hostinfo`'s job; tests build it by hand.

use std::path::PathBuf;

use super::ldcache::LdCache;

#[derive(Clone, Debug, Default)]
pub struct LoaderConfig {
    /// The loader's compiled-in system directories, in order (`/lib/x86_64-linux-gnu`, …).
    pub system_dirs: Vec<PathBuf>,
    /// glibc-hwcaps subdirectories the CPU supports, best first (`x86-64-v3`, `x86-64-v2`).
    pub hwcaps: Vec<String>,
    /// The value of `$LIB` (`lib/x86_64-linux-gnu`, `lib64`).
    pub lib: String,
    /// The value of `$PLATFORM` (`x86_64`).
    pub platform: String,
    /// The parsed /etc/ld.so.cache, if it could be read.
    pub cache: Option<LdCache>,
    /// Directories from /etc/ld.so.conf, searched (before `system_dirs`) only when there is
    /// no cache.
    pub conf_dirs: Vec<PathBuf>,
    /// An explicit LD_LIBRARY_PATH given by the user (never the tool's own environment).
    pub ld_library_path: Vec<String>,
    /// The interpreter that runs objects without PT_INTERP (shared libraries given to
    /// `deps`), as `ld.so --list` would.
    pub default_interp: Option<PathBuf>,
    /// The loader runs without /proc (inside a jail): it cannot find the executable's
    /// `$ORIGIN`, and drops every search-list element that uses it, as glibc does.
    pub no_proc: bool,
}
