//! What a mount needs made in the jail before it is mounted — its mount point's missing
//! directories, the dev/ptmx link of the jail's own devpts, the empty placeholder the log
//! socket is bound onto — as typed host operations (`MakeJailDir`, `MakeJailSymlink`,
//! `MakePlaceholder`) that `mount` runs through the journal before the `Mount` itself, so
//! its plan names them and a roll-back takes them away again. Reads the jail through the
//! host layer (no symlink followed); changes nothing.

use std::collections::BTreeSet;
use std::path::Path;

use super::{DEVPTS_DIR, LOG_PATH, PROC_DIR};
use crate::apply::{Host, HostError};
use crate::plan::{HostOp, HostStep, JailPath, MountKind, PlannedOwner};

/// Where dev/ptmx of a jail with its own devpts points.
pub const PTMX_TARGET: &str = "pts/ptmx";

fn at(p: &str) -> JailPath {
    JailPath::new(p).expect("a valid jail path")
}

/// The steps that make what mounting `mount` at `target` needs and the jail lacks, in
/// order (parents first). `made` holds the directories earlier steps of this run make (a
/// dry run does not make them): they count as there, and those planned here are added.
pub fn steps(
    host: &dyn Host,
    target: &JailPath,
    mount: &MountKind,
    made: &mut BTreeSet<JailPath>,
) -> Result<Vec<HostStep>, HostError> {
    let (dirs, mode, why): (Vec<JailPath>, u32, &str) = match mount {
        MountKind::Bind { .. } => {
            let mut dirs = target.ancestors();
            dirs.push(target.clone());
            (dirs, 0o755, "the mount point of a declared bind")
        }
        MountKind::Proc => (
            vec![at(PROC_DIR)],
            0o555,
            "the mount point of the jail's procfs",
        ),
        MountKind::Devpts { .. } => (
            vec![at("/dev"), at(DEVPTS_DIR)],
            0o755,
            "the mount point of the jail's ptys",
        ),
        MountKind::Log { .. } => (vec![at("/dev")], 0o755, "holds the log socket"),
    };
    let mut out = Vec::new();
    let mut missing = false;
    for dir in dirs {
        // below a directory this run makes, nothing is there yet
        missing = missing || (!made.contains(&dir) && host.stat(&dir)?.is_none());
        if missing && made.insert(dir.clone()) {
            let op = HostOp::MakeJailDir {
                path: dir,
                mode,
                owner: PlannedOwner::ROOT,
            };
            out.push(HostStep::new(op, why));
        }
    }
    // in a dev/ this run makes, nothing is there yet
    let absent = |p: &JailPath| -> Result<bool, HostError> {
        Ok(made.contains(&at("/dev")) || host.stat(p)?.is_none())
    };
    match mount {
        MountKind::Devpts { .. } if absent(&at("/dev/ptmx"))? => {
            let op = HostOp::MakeJailSymlink {
                path: at("/dev/ptmx"),
                target: Path::new(PTMX_TARGET).to_path_buf(),
            };
            out.push(HostStep::new(op, "the jail's ptys are opened through it"));
        }
        MountKind::Log { .. } if absent(&at(LOG_PATH))? => {
            let op = HostOp::MakePlaceholder { path: at(LOG_PATH) };
            out.push(HostStep::new(op, "the log socket is bound onto it"));
        }
        _ => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::EntryKind;
    use crate::apply::fake::FakeHost;

    fn ops(steps: &[HostStep]) -> Vec<String> {
        steps
            .iter()
            .map(|s| format!("{} {}", s.op.verb(), s.op.target()))
            .collect()
    }

    #[test]
    fn only_what_is_missing_is_made_and_each_directory_once() {
        let host = FakeHost::default()
            .with("srv", EntryKind::Dir, 0o755)
            .with("dev", EntryKind::Dir, 0o755)
            .with(
                "dev/ptmx",
                EntryKind::CharDevice { major: 5, minor: 2 },
                0o666,
            );
        let mut made = BTreeSet::new();
        let bind = MountKind::Bind {
            source: "/srv/x".into(),
            rw: false,
        };
        let deep = steps(&host, &at("/srv/a/b"), &bind, &mut made).unwrap();
        assert_eq!(ops(&deep), ["mkdir /srv/a", "mkdir /srv/a/b"]);
        // a second bind below the first's directory: /srv/a is this run's already
        let next = steps(&host, &at("/srv/a/c"), &bind, &mut made).unwrap();
        assert_eq!(ops(&next), ["mkdir /srv/a/c"]);
        // a device node at dev/ptmx (build --ptmx) is left, no link made
        let pts = steps(
            &host,
            &at(DEVPTS_DIR),
            &MountKind::Devpts { gid: 5 },
            &mut made,
        );
        assert_eq!(ops(&pts.unwrap()), ["mkdir /dev/pts"]);
        let log = MountKind::Log {
            source: "/dev/log".into(),
        };
        let log = steps(&host, &at(LOG_PATH), &log, &mut made).unwrap();
        assert_eq!(ops(&log), ["touch /dev/log"]);
        let proc = steps(&host, &at(PROC_DIR), &MountKind::Proc, &mut made).unwrap();
        assert_eq!(ops(&proc), ["mkdir /proc"]);
        assert!(matches!(
            proc[0].op,
            HostOp::MakeJailDir { mode: 0o555, .. }
        ));
    }

    #[test]
    fn in_a_dev_this_run_makes_the_link_and_the_placeholder_are_made_without_looking() {
        let host = FakeHost::default();
        let mut made = BTreeSet::new();
        let pts = steps(
            &host,
            &at(DEVPTS_DIR),
            &MountKind::Devpts { gid: 5 },
            &mut made,
        );
        assert_eq!(
            ops(&pts.unwrap()),
            ["mkdir /dev", "mkdir /dev/pts", "symlink /dev/ptmx"]
        );
        let log = MountKind::Log {
            source: "/dev/log".into(),
        };
        let log = steps(&host, &at(LOG_PATH), &log, &mut made).unwrap();
        assert_eq!(ops(&log), ["touch /dev/log"]);
    }
}
