//! Telling systemd about jailsmith's units, and taking a unit away again. `systemctl` runs
//! only where systemd is PID 1 and the unit lives in /etc/systemd/system; anywhere else the
//! command is printed for the administrator instead (a unit written to another directory is
//! one nobody asked systemd to load).

use std::path::Path;

use crate::hostinfo::find_program;
use crate::sshd::reload::systemd_is_init;

/// Where systemd loads administrators' units from, and the default `--unit-dir`.
pub const SYSTEM_UNIT_DIR: &str = "/etc/systemd/system";

/// True when `systemctl` would really be run for a unit in `unit_dir`.
pub fn manages(unit_dir: &Path) -> bool {
    unit_dir == Path::new(SYSTEM_UNIT_DIR) && systemd_is_init()
}

/// Prints "run: systemctl …" for each call, with why jailsmith does not run it: systemd does
/// not manage `unit_dir`.
pub fn tell<S: AsRef<str>>(calls: &[Vec<S>], unit_dir: &Path) {
    let why = if unit_dir == Path::new(SYSTEM_UNIT_DIR) {
        "systemd is not PID 1 here".to_string()
    } else {
        format!(
            "the unit is in {}, not {SYSTEM_UNIT_DIR}",
            unit_dir.display()
        )
    };
    for c in calls {
        let args: Vec<&str> = c.iter().map(AsRef::as_ref).collect();
        eprintln!("jailsmith: {why}; run: systemctl {}", args.join(" "));
    }
}

/// Runs each `systemctl` call in order where systemd manages `unit_dir`; otherwise prints
/// "run: systemctl …" for each, with the reason. The first failing call is the error
/// (with systemctl's stderr).
pub fn run_or_tell(calls: &[Vec<&str>], unit_dir: &Path) -> Result<(), String> {
    if calls.is_empty() {
        return Ok(());
    }
    if !manages(unit_dir) {
        tell(calls, unit_dir);
        return Ok(());
    }
    let systemctl = find_program("systemctl").ok_or("systemctl not found")?;
    for c in calls {
        let out = crate::apply::process::run(&systemctl, c)
            .map_err(|e| format!("running systemctl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "systemctl {} failed ({}): {}",
                c.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        eprintln!("jailsmith: systemctl {}", c.join(" "));
    }
    Ok(())
}

/// What `remove_unit` found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitRemoval {
    /// Stopped and disabled (where systemd manages it), then the file was removed.
    Removed,
    /// There was no file any more.
    Missing,
    /// Something other than a regular file is there (a symlink, a directory): left alone.
    NotAFile,
}

/// Takes the unit `NAME.service` at `path` away: `systemctl disable --now` first where
/// systemd manages it (so no process is left running in a jail about to go), then the file
/// is removed — only a regular file; a symlink in its place is never followed nor removed.
/// daemon-reload is the caller's, once after all removals.
pub fn remove_unit(name: &str, path: &Path) -> Result<UnitRemoval, String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(UnitRemoval::Missing),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if !meta.file_type().is_file() {
        return Ok(UnitRemoval::NotAFile);
    }
    let dir = path.parent().unwrap_or(Path::new("/"));
    let unit = format!("{name}.service");
    run_or_tell(&[vec!["disable", "--now", &unit]], dir)?;
    crate::apply::rootfile::remove(path).map_err(|e| e.to_string())?;
    Ok(UnitRemoval::Removed)
}

/// True when a process whose `/proc/PID/cgroup` reads `cgroup` runs inside `NAME.service`
/// (cgroup v2 `0::/system.slice/NAME.service`, or any v1 hierarchy ending the same way).
pub fn in_unit(cgroup: &str, name: &str) -> bool {
    let unit = format!("/{name}.service");
    cgroup.lines().any(|l| {
        l.rsplit_once(':')
            .is_some_and(|(_, path)| path.ends_with(&unit) || path.contains(&format!("{unit}/")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_in_the_unit_s_cgroup_is_recognised() {
        assert!(in_unit("0::/system.slice/web.service\n", "web"));
        assert!(in_unit("0::/system.slice/web.service/child\n", "web"));
        assert!(in_unit(
            "12:pids:/system.slice/web.service\n1:name=systemd:/system.slice/web.service\n",
            "web"
        ));
        assert!(!in_unit("0::/system.slice/myweb.service\n", "web"));
        assert!(!in_unit("0::/system.slice/web.service.d\n", "web"));
        assert!(!in_unit(
            "0::/user.slice/user-1000.slice/session-3.scope\n",
            "web"
        ));
        assert!(!in_unit("", "web"));
    }

    #[test]
    fn nothing_is_run_for_a_unit_outside_the_system_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!manages(dir.path()));
        // printed, not run: succeeds even though no such unit exists anywhere
        run_or_tell(&[vec!["disable", "--now", "no-such.service"]], dir.path()).unwrap();
    }

    #[test]
    fn removing_a_unit_removes_only_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let unit = dir.path().join("web.service");
        std::fs::write(&unit, "[Service]\n").unwrap();
        assert_eq!(remove_unit("web", &unit).unwrap(), UnitRemoval::Removed);
        assert!(!unit.exists());
        assert_eq!(remove_unit("web", &unit).unwrap(), UnitRemoval::Missing);
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, &unit).unwrap();
        assert_eq!(remove_unit("web", &unit).unwrap(), UnitRemoval::NotAFile);
        assert!(unit.symlink_metadata().is_ok(), "the symlink was removed");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }
}
