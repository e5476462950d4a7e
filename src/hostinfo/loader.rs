//! Gathers `LoaderConfig` from the host: the interpreter of /bin/sh reports its own system
//! search path and glibc-hwcaps support (`ld.so --help`, glibc ≥ 2.33; a trusted host
//! binary), /etc/ld.so.cache is parsed, /etc/ld.so.conf read as the fallback.

use std::path::{Path, PathBuf};

use crate::resolve::elf::read_elf;
use crate::resolve::ldcache::LdCache;
use crate::resolve::ldconf::parse_conf;
use crate::resolve::loader::LoaderConfig;

/// What `ld.so --help` says about itself.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LoaderHelp {
    pub system_dirs: Vec<PathBuf>,
    pub hwcaps: Vec<String>,
    pub platform: Option<String>,
}

/// Parses the output of `ld.so --help`.
pub fn parse_loader_help(text: &str) -> LoaderHelp {
    let mut help = LoaderHelp::default();
    let mut section = "";
    for line in text.lines() {
        if !line.starts_with(' ') {
            section = line;
            continue;
        }
        let line = line.trim();
        if section.starts_with("Shared library search path") {
            if let Some(dir) = line.strip_suffix("(system search path)") {
                help.system_dirs.push(PathBuf::from(dir.trim()));
            }
        } else if section.starts_with("Subdirectories of glibc-hwcaps") {
            if line.contains("supported, searched") {
                help.hwcaps.push(
                    line.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                );
            }
        } else if section.starts_with("Legacy HWCAP") && line.contains("(AT_PLATFORM") {
            help.platform = line.split_whitespace().next().map(str::to_string);
        }
    }
    help
}

/// The host's loader configuration. `ld_library_path` is the user's explicit option.
pub fn loader_config(ld_library_path: &[String]) -> LoaderConfig {
    // The host's loader does not change during one run: ask it once per process, however
    // many stages (profiles, build, update) resolve programs.
    static HOST: std::sync::OnceLock<LoaderConfig> = std::sync::OnceLock::new();
    let mut cfg = HOST.get_or_init(read_host_config).clone();
    cfg.ld_library_path = ld_library_path.to_vec();
    cfg
}

/// Reads the loader configuration from the host (spawns `ld.so --help` once).
fn read_host_config() -> LoaderConfig {
    let default_interp = read_elf(Path::new("/bin/sh")).ok().and_then(|i| i.interp);
    // The loader runs while this process parses ld.so.cache.
    let child = default_interp
        .as_ref()
        .and_then(|ld| crate::apply::process::spawn_reading(ld, &["--help"]).ok());
    let cache = std::fs::read("/etc/ld.so.cache")
        .ok()
        .and_then(|b| LdCache::parse(&b).ok());
    let help = child
        .and_then(|c| c.wait_with_output().ok())
        .filter(|o| o.status.success())
        .map(|o| parse_loader_help(&String::from_utf8_lossy(&o.stdout)))
        .unwrap_or_default();
    let system_dirs = if help.system_dirs.is_empty() {
        guess_system_dirs()
    } else {
        help.system_dirs
    };
    let lib = system_dirs
        .first()
        .map(|d| d.to_string_lossy().trim_start_matches('/').to_string())
        .unwrap_or_else(|| "lib".to_string());
    let platform = help.platform.unwrap_or_else(|| {
        nix::sys::utsname::uname()
            .map(|u| u.machine().to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let conf_dirs = if cache.is_none() {
        host_conf_dirs()
    } else {
        Vec::new()
    };
    LoaderConfig {
        system_dirs,
        hwcaps: help.hwcaps,
        lib,
        platform,
        cache,
        conf_dirs,
        ld_library_path: Vec::new(),
        default_interp,
        no_proc: false,
    }
}

/// The directories /etc/ld.so.conf (and its includes) lists, through the one parser.
fn host_conf_dirs() -> Vec<PathBuf> {
    let read = |p: &Path| std::fs::read_to_string(p).ok();
    let list = |d: &Path| {
        std::fs::read_dir(d)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    parse_conf(Path::new("/etc/ld.so.conf"), &read, &list)
}

/// Every directory this host's loader may find a library in: those ld.so.conf lists (what
/// ld.so.cache is built from), then the loader's own system directories as it reports them
/// (`ld.so --help`); existing directories only, each once. Where profiles look up a
/// library by name.
pub fn host_library_dirs() -> Vec<PathBuf> {
    let mut dirs = host_conf_dirs();
    dirs.extend(loader_config(&[]).system_dirs);
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| d.is_dir() && seen.insert(d.clone()));
    dirs
}

/// Without a loader that describes itself: lib64 on RHEL-like hosts, multiarch on Debian.
fn guess_system_dirs() -> Vec<PathBuf> {
    let multiarch = std::fs::read_dir("/usr/lib").ok().and_then(|rd| {
        rd.filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| {
                n.ends_with("-linux-gnu")
                    && Path::new("/usr/lib").join(n).join("libc.so.6").exists()
            })
    });
    match multiarch {
        Some(t) => vec![
            format!("/lib/{t}").into(),
            format!("/usr/lib/{t}").into(),
            "/lib".into(),
            "/usr/lib".into(),
        ],
        None if Path::new("/usr/lib64/libc.so.6").exists() => {
            vec!["/lib64".into(), "/usr/lib64".into()]
        }
        None => vec!["/lib".into(), "/usr/lib".into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_glibc_help() {
        let text = "Shared library search path:\n  (libraries located via /etc/ld.so.cache)\n  /lib64 (system search path)\n  /usr/lib64 (system search path)\n\nSubdirectories of glibc-hwcaps directories, in priority order:\n  x86-64-v4\n  x86-64-v3 (supported, searched)\n  x86-64-v2 (supported, searched)\n\nLegacy HWCAP subdirectories under library search path directories:\n  x86_64 (AT_PLATFORM; supported, searched)\n";
        let h = parse_loader_help(text);
        assert_eq!(
            h.system_dirs,
            vec![PathBuf::from("/lib64"), PathBuf::from("/usr/lib64")]
        );
        assert_eq!(h.hwcaps, vec!["x86-64-v3", "x86-64-v2"]);
        assert_eq!(h.platform.as_deref(), Some("x86_64"));
    }
}
