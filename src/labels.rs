//! The SELinux steps of `build`, `destroy` and `check` (see `crate::selinux`), on the real
//! host: each says on stderr what it ran; where SELinux is absent nothing runs and nothing is
//! printed.

use std::path::Path;

use crate::audit::{Finding, Report, Severity};
use crate::escape::sh_quote;
use crate::selinux::{self, RealSelinux, SelinuxError};

/// An SELinux step that failed: a host failure (`crate::exit`), named as SELinux's.
#[derive(Debug, thiserror::Error)]
#[error("SELinux: {0}")]
pub struct LabelError(SelinuxError);

/// Says on stderr each SELinux command that ran.
pub fn say(done: &[String]) {
    for d in done {
        eprintln!("jailsmith: SELinux: ran {d}");
    }
}

/// After a build: the jail is labelled like `/` (equivalence rule, relabel).
pub fn after_build(jail: &Path) -> anyhow::Result<()> {
    say(&selinux::label_jail(&RealSelinux, jail).map_err(LabelError)?);
    Ok(())
}

/// Whether SELinux is enabled here: a destroyed jail's equivalence rule then goes
/// (`HostOp::ForgetLabels`, which `apply::journal` runs).
pub fn enabled() -> bool {
    selinux::status(&RealSelinux) != selinux::Status::Absent
}

/// For `check`: a warning for each file whose label differs from the expected one.
pub fn check(jail: &Path, report: &mut Report) {
    let fix = format!("restorecon -R {}", sh_quote(&jail.display().to_string()));
    match selinux::check_labels(&RealSelinux, jail) {
        Ok(found) => {
            for m in found {
                report.push(Finding {
                    severity: Severity::Warning,
                    path: m.path.display().to_string(),
                    kind: "selinux-label",
                    what: format!("labelled {}, expected {}", m.label, m.expected),
                    fix: fix.clone(),
                    path_hex: None,
                });
            }
        }
        Err(e) => report.push(Finding {
            severity: Severity::Warning,
            path: jail.display().to_string(),
            kind: "selinux-unchecked",
            what: format!("SELinux labels could not be checked: {e}"),
            fix: "install policycoreutils and run check again".into(),
            path_hex: None,
        }),
    }
}
