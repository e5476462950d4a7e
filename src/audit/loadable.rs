//! Whether the jail's programs can load (DESIGN §5.14): the loader is simulated inside the
//! jail with the resolver, reading files through `JailFs` and configured as a chrooted
//! process sees it (the jail's own ld.so.cache or none, no /proc, so no `$ORIGIN` for the
//! executable). A program with a library its loader cannot find is an error. Nothing found
//! in the jail is run.

use std::path::Path;

use nix::sys::stat::SFlag;

use super::finding::{Finding, Report, Severity};
use super::invariants::Ctx;
use super::jailfs::JailFs;
use super::walk::WalkResult;
use crate::apply::LinuxHost;
use crate::resolve::ldcache::LdCache;
use crate::resolve::search::LoaderFs;
use crate::resolve::{LoaderConfig, Resolver};

/// The loader configuration of a process chrooted into the jail: the host's loader (the
/// jail holds its copy) with the jail's cache, no ld.so.conf fallback, no /proc.
fn jail_config(fs: &JailFs<'_>, host_cfg: &LoaderConfig) -> LoaderConfig {
    let cache = fs
        .canonical(Path::new("/etc/ld.so.cache"))
        .and_then(|p| crate::plan::JailPath::new(p).ok())
        .and_then(|jp| {
            let mut f = fs.host.open_read(&jp).ok()?;
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut bytes).ok()?;
            LdCache::parse(&bytes).ok()
        });
    LoaderConfig {
        cache,
        conf_dirs: Vec::new(),
        ld_library_path: Vec::new(),
        default_interp: None,
        no_proc: true,
        ..host_cfg.clone()
    }
}

/// Reports every executable of the jail (an ELF file with PT_INTERP and an execute bit,
/// outside the users' trees, of an ABI the kernel runs) whose loader cannot find its
/// interpreter or a library.
pub fn check_programs(
    ctx: &Ctx<'_>,
    host: &LinuxHost,
    walked: &WalkResult,
    host_cfg: &LoaderConfig,
    report: &mut Report,
) {
    let fs = JailFs { host };
    let cfg = jail_config(&fs, host_cfg);
    let mut resolver = Resolver::with_fs(&cfg, &fs);
    for w in &walked.entries {
        if !w.is(SFlag::S_IFREG) || w.mode() & 0o111 == 0 || ctx.trees.user_writable(&w.path) {
            continue;
        }
        let path = Path::new(&w.path);
        let Ok(info) = fs.read_elf(path) else {
            continue;
        };
        // a program the kernel cannot execute at all is no loader's problem
        if info.interp.is_none()
            || !info.dynamic
            || !crate::hostinfo::gather::kernel_runs(info.class, info.machine)
        {
            continue;
        }
        let Ok(closure) = resolver.resolve(path) else {
            continue;
        };
        if closure.missing.is_empty() {
            continue;
        }
        let names: Vec<String> = closure
            .missing
            .iter()
            .map(|m| format!("{} (needed by {})", m.soname, m.needed_by.display()))
            .collect();
        report.push(Finding {
            severity: Severity::Error,
            path: super::shown(ctx.jail, &w.path),
            kind: "unloadable",
            what: format!(
                "this program cannot load inside the jail: its loader finds no {}",
                names.join(", ")
            ),
            fix: ctx.cmd("update"),
            path_hex: None,
        });
    }
}
