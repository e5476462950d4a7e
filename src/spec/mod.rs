//! The SPEC.toml of `jailsmith apply`: schema (`[[jail]]`, `[[user]]`, `[[service]]`) and
//! validation. Pure: the spec text and its file name in, a checked `Spec` or errors with
//! file:line:column out. Reads nothing from the host (key files are read by the converger).

mod check;

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

pub use check::validate;

/// The whole desired state.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(default)]
    pub jail: Vec<JailSpec>,
    #[serde(default)]
    pub user: Vec<UserSpec>,
    #[serde(default)]
    pub service: Vec<ServiceSpec>,
}

/// `[[jail]]`: what `jailsmith build` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JailSpec {
    /// The jail root (absolute).
    pub path: Spanned<PathBuf>,
    /// Shipped or local profile names (`jailsmith profiles list`).
    #[serde(default)]
    pub profiles: Vec<String>,
    /// Programs: names looked up in the secure PATH, or absolute paths.
    #[serde(default)]
    pub bins: Vec<String>,
    /// Data files or directories copied as they are.
    #[serde(default)]
    pub files: Vec<PathBuf>,
    /// Bind mounts, `SRC:DST[:ro|rw]` as `build --bind`.
    #[serde(default)]
    pub binds: Vec<Spanned<String>>,
    /// A private /proc, as `build --proc` (mounted by `jailsmith mount`).
    #[serde(default)]
    pub proc: bool,
    /// A private /dev/pts, as `build --devpts` (mounted by `jailsmith mount`).
    #[serde(default)]
    pub devpts: bool,
    /// The host's syslog socket at dev/log, as `build --log` (bound by `jailsmith mount`);
    /// sftp-only users of the jail then log their transfers.
    #[serde(default)]
    pub log: bool,
    /// The host socket `log` binds, as `build --log-socket` (implies `log`).
    #[serde(default)]
    pub log_socket: Option<PathBuf>,
    /// Keep the jail's copied files in the shared store (`true`, as `build --store`) or give
    /// it its own copies (`false`, as `build --no-store`); absent keeps what the jail's
    /// request records.
    #[serde(default)]
    pub store: Option<bool>,
}

/// `[[user]]`: what `jailsmith user` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub name: Spanned<String>,
    /// The `path` of a `[[jail]]` of this spec.
    pub jail: Spanned<PathBuf>,
    /// Public keys: key texts (`ssh-ed25519 AAAA…`) or paths of key files (relative to the
    /// spec's directory).
    pub keys: Spanned<Vec<String>>,
    /// Create the host account when missing (apply makes a run's missing accounts in one
    /// batch, as `user --create` would make each).
    #[serde(default)]
    pub create: bool,
    pub uid: Option<u32>,
    #[serde(default = "default_shell")]
    pub shell: String,
    #[serde(default)]
    pub sftp_only: bool,
    /// With `--prune`, once the user is dropped from the spec: delete the host account too.
    #[serde(default)]
    pub delete_account: bool,
    #[serde(default)]
    pub limits: Option<Spanned<LimitsSpec>>,
    /// `--deny-network`: no network for the user's sessions but `allow_ips`.
    #[serde(default)]
    pub deny_network: bool,
    /// `--allow-ip`, each `ADDR[/N]` or `localhost`; implies `deny_network`.
    #[serde(default)]
    pub allow_ips: Option<Spanned<Vec<String>>>,
}

/// `[[service]]`: what `jailsmith service` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub name: Spanned<String>,
    /// The service's own jail (built by the service, not a `[[jail]]` of this spec).
    pub jail: Spanned<PathBuf>,
    pub exec: String,
    pub user: Option<String>,
    #[serde(default)]
    pub create_user: bool,
    #[serde(default)]
    pub bins: Vec<PathBuf>,
    #[serde(default)]
    pub files: Vec<PathBuf>,
    #[serde(default)]
    pub profiles: Vec<String>,
    #[serde(default)]
    pub read_write: Vec<String>,
    #[serde(default)]
    pub ports: Vec<u16>,
    #[serde(default)]
    pub allow_ips: Vec<String>,
    #[serde(default)]
    pub allow_unix: bool,
    #[serde(default)]
    pub allow_jit: bool,
    #[serde(default)]
    pub start: bool,
    #[serde(default)]
    pub limits: Option<Spanned<LimitsSpec>>,
}

/// cgroup limits, spelled as the `--memory-max` … options.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    pub memory_max: Option<String>,
    pub memory_high: Option<String>,
    pub cpu_quota: Option<String>,
    pub cpu_weight: Option<String>,
    pub tasks_max: Option<String>,
    pub io_read_max: Option<String>,
    pub io_write_max: Option<String>,
}

fn default_shell() -> String {
    "/bin/bash".into()
}

/// One problem with the spec, located in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecProblem {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// Every problem found; nothing was written.
#[derive(Debug, thiserror::Error)]
#[error("{} is invalid, nothing was changed:\n  {}", file.display(), problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n  "))]
pub struct SpecError {
    pub file: PathBuf,
    pub problems: Vec<SpecProblem>,
}

/// The spec file named on the command line could not be read (bad input, as `SpecError`).
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}: {source}", path.display())]
pub struct UnreadableSpec {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Locates byte offsets of one spec text as 1-based line and column.
pub struct Locator<'a> {
    pub file: &'a Path,
    pub text: &'a str,
}

impl Locator<'_> {
    pub fn problem(&self, span: Range<usize>, message: impl Into<String>) -> SpecProblem {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
        SpecProblem {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    pub fn line_of(&self, span: &Range<usize>) -> usize {
        self.problem(span.clone(), "").line
    }
}

/// Parses and validates `text` (read from `file`): the spec, or every problem in it.
pub fn parse(file: &Path, text: &str) -> Result<Spec, SpecError> {
    let loc = Locator { file, text };
    let spec: Spec = toml::from_str(text).map_err(|e| SpecError {
        file: file.to_path_buf(),
        problems: vec![loc.problem(e.span().unwrap_or(0..0), e.message().trim().to_string())],
    })?;
    let problems = validate(&spec, &loc);
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(SpecError {
            file: file.to_path_buf(),
            problems,
        })
    }
}

/// Whether a `keys` entry is a key text rather than a file path.
pub fn is_key_text(entry: &str) -> bool {
    entry.trim().contains(char::is_whitespace)
}

impl LimitsSpec {
    pub fn raw(&self) -> crate::limits::RawLimits<'_> {
        crate::limits::RawLimits {
            memory_max: self.memory_max.as_deref(),
            memory_high: self.memory_high.as_deref(),
            cpu_quota: self.cpu_quota.as_deref(),
            cpu_weight: self.cpu_weight.as_deref(),
            tasks_max: self.tasks_max.as_deref(),
            io_read_max: self.io_read_max.as_deref(),
            io_write_max: self.io_write_max.as_deref(),
        }
    }
}
