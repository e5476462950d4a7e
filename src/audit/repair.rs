//! `check --fix`: plans the repairs a check found (finding.rs `Repair`) as typed host
//! operations (`HostOp::TightenJailObject`, `HostOp::RemoveForbidden`) and carries them out
//! through the journal and the host layer, each on a descriptor opened without following a
//! symlink, after re-checking the object (a symlink or another type now is refused, not
//! followed). Never removes anything in a user's home: the check plans removals only for
//! forbidden objects outside the homes.

use std::path::Path;

use super::finding::{NotFixed, Repair, Repairable};
use crate::apply::journal::{Journal, LinuxSystem};
use crate::apply::{HostError, LinuxHost};
use crate::plan::{HostOp, HostStep, JailPath};

/// What one repair did.
#[derive(Debug)]
pub struct Done {
    /// The step carried out.
    pub step: HostStep,
    /// Ok(true) changed, Ok(false) nothing left to change, Err refused or failed.
    pub outcome: Result<bool, String>,
}

/// The host operation that makes `repair` at the in-jail `path`.
pub fn op(path: JailPath, repair: Repair) -> HostOp {
    let tighten = |clear_bits, drop_capability, to_root| HostOp::TightenJailObject {
        path: path.clone(),
        clear_bits,
        drop_capability,
        to_root,
    };
    match repair {
        Repair::ClearBits(bits) => tighten(bits, false, false),
        Repair::DropCapability => tighten(0, true, false),
        Repair::ChownRoot => tighten(0, false, true),
        Repair::Remove(expect) => HostOp::RemoveForbidden {
            path: path.clone(),
            expect,
        },
    }
}

/// The steps that make `repairs`, in order, one per repair (pure: what `check` without
/// `--fix` reports as its plan, and what `--fix` performs), and the repairs that cannot be
/// planned (a path that is not a jail path: never one a walk of the jail finds), each
/// reported as not fixed while the others go ahead.
pub fn plan(repairs: &[Repairable]) -> (Vec<HostStep>, Vec<NotFixed>) {
    let mut steps = Vec::new();
    let mut refused = Vec::new();
    for r in repairs {
        match JailPath::new(&r.path) {
            Ok(path) => steps.push(HostStep::new(op(path, r.repair), r.reason.clone())),
            Err(e) => refused.push(NotFixed {
                path: r.path.clone(),
                why: e.to_string(),
            }),
        }
    }
    (steps, refused)
}

/// Carries out `steps` in the jail at `jail`, each through the journal. A step refused or
/// failed is reported in its outcome and the others still run: each repair stands alone
/// (none needs another), and none is undone (see `perform_in_jail`), so the journal is
/// committed after every step rather than rolled back.
pub fn apply(jail: &Path, steps: Vec<HostStep>) -> Result<Vec<Done>, HostError> {
    static LINUX: LinuxSystem = LinuxSystem;
    let host = LinuxHost::open(jail, false)?;
    let mut journal = Journal::new(&LINUX, false);
    let mut done = Vec::with_capacity(steps.len());
    for step in steps {
        let outcome = journal
            .execute(Some(&host), step.clone())
            .map(|p| p.changed)
            .map_err(|e| e.to_string());
        journal.commit();
        done.push(Done { step, outcome });
    }
    Ok(done)
}

/// The repairs refused or failed, as the report lists them.
pub fn not_fixed(done: &[Done]) -> Vec<NotFixed> {
    done.iter()
        .filter_map(|d| {
            let why = d.outcome.as_ref().err()?;
            Some(NotFixed {
                path: d.step.op.target(),
                why: why.clone(),
            })
        })
        .collect()
}

/// A few words for what a repair's operation does (for the progress lines on stderr).
pub fn describe(op: &HostOp) -> String {
    match op {
        HostOp::TightenJailObject {
            clear_bits,
            drop_capability,
            to_root,
            ..
        } => {
            let mut parts = Vec::new();
            if *clear_bits != 0 {
                parts.push(format!("clear mode bits {clear_bits:04o}"));
            }
            if *drop_capability {
                parts.push("remove file capabilities".into());
            }
            if *to_root {
                parts.push("give to root:root".into());
            }
            parts.join(", ")
        }
        other => other.verb().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::hostops::ObjectKind;

    fn repairable(path: &str, repair: Repair) -> Repairable {
        Repairable {
            path: path.into(),
            repair,
            reason: "test".into(),
        }
    }

    #[test]
    fn each_repair_is_one_step_that_says_what_it_does() {
        let steps = plan(&[
            repairable("/usr/bin/ls", Repair::ClearBits(0o4000)),
            repairable("/usr/bin/ls", Repair::DropCapability),
            repairable("/etc", Repair::ChownRoot),
            repairable("/dev/sda", Repair::Remove(ObjectKind::BlockDevice)),
        ])
        .0;
        let said: Vec<(String, String)> = steps
            .iter()
            .map(|s| (s.op.target(), describe(&s.op)))
            .collect();
        assert_eq!(
            said,
            [
                ("/usr/bin/ls".into(), "clear mode bits 4000".into()),
                ("/usr/bin/ls".into(), "remove file capabilities".into()),
                ("/etc".into(), "give to root:root".into()),
                ("/dev/sda".into(), "remove".into()),
            ]
        );
        let json = serde_json::to_value(&steps[3]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"op": "remove_forbidden", "path": "/dev/sda",
                "expect": "block_device", "reason": "test"})
        );
        let json = serde_json::to_value(&steps[0]).unwrap();
        assert_eq!(json["op"], "tighten_jail_object");
        assert_eq!(json["clear_bits"], 0o4000);
    }

    #[test]
    fn a_path_with_dot_dot_is_never_planned() {
        let (steps, refused) = plan(&[
            repairable("/a/../etc", Repair::ChownRoot),
            repairable("/etc", Repair::ChownRoot),
        ]);
        assert_eq!(steps.len(), 1);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].path, "/a/../etc");
    }
}
