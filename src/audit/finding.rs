//! A finding of `check`: severity, the path it is about, what is wrong and how to fix it.
//! Data and rendering only; the text form escapes everything (names come from the jail).

use serde::Serialize;

use crate::plan::hostops::{HostStep, ObjectKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// `findings`: one thing `check` found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `error`, `warning` or `info`.
    pub severity: Severity,
    /// Host path of the object (or the jail root).
    pub path: String,
    /// A short machine-readable class (`setuid`, `stale`, `unknown-mount` …).
    pub kind: &'static str,
    /// What is wrong.
    pub what: String,
    /// How to fix it: a command safe to paste, or what to do by hand.
    pub fix: String,
    /// Only when `path` is not valid UTF-8 (it then shows each invalid byte as U+FFFD): the
    /// exact bytes of the path, in hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_hex: Option<String>,
}

/// Lower-case hex of `b`.
pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn from_hex(h: &str) -> Option<Vec<u8>> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Finding {
    /// The path for text output: escaped, with the exact bytes (`\xNN`) when it is not UTF-8.
    pub fn shown_path(&self) -> String {
        match self.path_hex.as_deref().and_then(from_hex) {
            Some(raw) => crate::escape::bytes(&raw),
            None => crate::escape::text(&self.path).into_owned(),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::escape::text;
        write!(
            f,
            "{}: {}: {} [{}]; fix: {}",
            self.severity,
            self.shown_path(),
            text(&self.what),
            self.kind,
            text(&self.fix)
        )
    }
}

/// What `check --fix` does about a finding: always on a descriptor opened without following
/// a symlink, after checking the object is still what the finding saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repair {
    /// Clear these mode bits (setuid, setgid, group/other write) of a file or directory.
    ClearBits(u32),
    /// Remove the `security.capability` xattr of a regular file.
    DropCapability,
    /// Give a file or directory outside the homes to root:root.
    ChownRoot,
    /// Remove a forbidden non-directory object outside the users' homes, while it is still
    /// of the kind the check found.
    Remove(ObjectKind),
}

/// A repair `check --fix` may make: the in-jail path, the repair, and why (the finding's
/// kind and what it says).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repairable {
    pub path: String,
    pub repair: Repair,
    pub reason: String,
}

/// `check --json`: everything one check found (with --fix: the check after the repairs),
/// and the repairs `--fix` makes. `findings` name host paths; `plan` and `not_fixed` name
/// paths inside the jail.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// The jail's root directory.
    pub jail: String,
    /// How many findings are errors.
    pub errors: usize,
    /// How many findings are warnings.
    pub warnings: usize,
    /// Objects walked.
    pub objects: usize,
    /// Files hashed for integrity.
    pub hashed: usize,
    /// What the check found, errors first, then by path.
    pub findings: Vec<Finding>,
    /// The repairs, in order, each with its reason (`op`, its fields, `reason`): clearing
    /// mode bits, file capabilities or a foreign owner of a file or directory
    /// (`tighten_jail_object`: `path`, `clear_bits`, `drop_capability`, `to_root`), and
    /// removing a forbidden object outside the homes while it is still the kind found
    /// (`remove_forbidden`: `path`, `expect`). With --fix, the repairs made (one refused
    /// is in `not_fixed`, the others still run); without it, which changes nothing, the
    /// repairs --fix would make, step for step.
    pub plan: Vec<HostStep>,
    /// With --fix, each repair of `plan` that was refused or failed, and why.
    pub not_fixed: Vec<NotFixed>,
    // what `check --fix` may repair: not output (`plan` shows it), so no `///` (it would
    // document it in the man page's JSON OUTPUT)
    #[serde(skip)]
    pub repairs: Vec<Repairable>,
}

/// `not_fixed`: one repair refused or failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotFixed {
    /// The in-jail path of the object.
    pub path: String,
    /// Why: the object is now a symlink or another kind, or the error of the host.
    pub why: String,
}

impl Report {
    pub fn push(&mut self, f: Finding) {
        match f.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
            Severity::Info => {}
        }
        self.findings.push(f);
    }

    /// Drops "not in the manifest" warnings for paths an error already names (the error
    /// says more), then sorts: errors first, then by path.
    pub fn finish(&mut self) {
        let errors: std::collections::BTreeSet<String> = self
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.path.clone())
            .collect();
        let before = self.findings.len();
        self.findings
            .retain(|f| !(f.kind == "unknown" && errors.contains(&f.path)));
        self.warnings -= before - self.findings.len();
        self.findings
            .sort_by(|a, b| (a.severity, &a.path).cmp(&(b.severity, &b.path)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines_escape_and_keep_the_exact_bytes() {
        let mut f = Finding {
            severity: Severity::Error,
            path: "/j/home/u/a\nb\u{fffd}".into(),
            kind: "setuid",
            what: "setuid file".into(),
            fix: "jailsmith check --fix '/j'".into(),
            path_hex: None,
        };
        assert_eq!(
            f.to_string(),
            "error: /j/home/u/a\\nb\u{fffd}: setuid file [setuid]; fix: jailsmith check --fix '/j'"
        );
        f.path_hex = Some(to_hex(b"/j/home/u/a\nb\xff"));
        assert!(
            f.to_string().starts_with("error: /j/home/u/a\\nb\\xff: "),
            "{f}"
        );
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["path_hex"], "2f6a2f686f6d652f752f610a62ff");
    }
}
