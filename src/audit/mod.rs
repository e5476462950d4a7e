//! Audit: the invariants of DESIGN §5 checked over a jail on disk, the manifest's integrity
//! and the jail's staleness against the host. Reads, never writes, never executes anything
//! found in the jail.

pub mod chroot_rule;
pub mod finding;
pub mod integrity;
pub mod invariants;
pub mod jailfs;
pub mod loadable;
pub mod membership;
pub mod repair;
pub mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use finding::{Finding, NotFixed, Repair, Repairable, Report, Severity};

use crate::apply::LinuxHost;
use crate::apply::walk;
use crate::mounts::Bind;
use crate::mounts::mountinfo;
use crate::state::JailState;

/// What `check` needs besides the jail itself.
#[derive(Clone, Debug)]
pub struct CheckSettings {
    pub jail: PathBuf,
    pub state: Option<JailState>,
    /// Threads for hashing (0: rayon's default).
    pub jobs: usize,
    /// Settings that rebuild the jail from its state (or why there are none): the planner
    /// is re-run with them to find what the closure needs now. `None`: skipped.
    pub replan: Option<Result<crate::jail::BuildSettings, String>>,
    /// Where the jailed users' slice drop-ins with their limits live (`user --systemd-dir`).
    pub systemd_dir: PathBuf,
    /// The state directory (named in the jailsmith commands of fix hints).
    pub state_dir: PathBuf,
}

/// Why a jail could not be checked at all (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot read the jail {jail}: {why}")]
    Unreadable { jail: PathBuf, why: String },
}

/// The in-jail trees a jailed user may write: each user's home, and /tmp when sticky.
pub struct Trees {
    pub homes: Vec<String>,
    pub tmp: bool,
    pub binds: Vec<Bind>,
    /// The jail declares its own procfs at /proc (`build --proc`).
    pub proc: bool,
    /// The jail declares its own devpts at /dev/pts, dev/ptmx a link to it (`--devpts`).
    pub devpts: bool,
    /// The jail declares a syslog socket bound at /dev/log (`--log`).
    pub log: Option<DeclaredLog>,
}

/// A jail's declared log socket (`build --log`) as the host has it now.
pub struct DeclaredLog {
    /// The host socket recorded in the state.
    pub src: PathBuf,
    /// Its device and inode now (None when it is gone).
    pub id: Option<(u64, u64)>,
    /// Something is mounted at the jail's /dev/log.
    pub mounted: bool,
}

impl DeclaredLog {
    fn of(src: &Path, mounted: bool) -> DeclaredLog {
        use std::os::unix::fs::MetadataExt;
        DeclaredLog {
            src: src.to_path_buf(),
            id: std::fs::symlink_metadata(src)
                .ok()
                .map(|m| (m.dev(), m.ino())),
            mounted,
        }
    }
}

impl Trees {
    /// `path` is inside a user-writable tree (the tree's top included for homes).
    pub fn user_writable(&self, path: &str) -> bool {
        self.homes.iter().any(|h| walk::is_within(path, h))
            || (self.tmp && path.starts_with("/tmp/"))
    }

    pub fn is_home(&self, path: &str) -> bool {
        self.homes.iter().any(|h| h == path)
    }

    /// The user-writable tree `path` lies in: the deepest home holding it, or /tmp.
    pub fn tree_of(&self, path: &str) -> Option<&str> {
        self.homes
            .iter()
            .filter(|h| walk::is_within(path, h))
            .max_by_key(|h| h.len())
            .map(String::as_str)
            .or((self.tmp && path.starts_with("/tmp/")).then_some("/tmp"))
    }

    /// A declared mount point (a bind's target, the declared /proc), or a directory on the
    /// way to one.
    pub fn bind_related(&self, path: &str) -> bool {
        (self.proc && path == crate::mounts::PROC_DIR)
            || (self.devpts && [crate::mounts::DEVPTS_DIR, "/dev/ptmx"].contains(&path))
            || (self.log.is_some() && path == crate::mounts::LOG_PATH)
            || self.binds.iter().any(|b| {
                let t = b.dst.abs().display().to_string();
                walk::is_within(&t, path)
            })
    }
}

/// Jailed users whose slice drop-in no longer holds the limits the state records, and
/// limits that nothing on this host enforces (no systemd as PID 1, no pam_systemd in sshd's
/// PAM stack, a controller the limit needs missing): warnings, since the drop-in is right.
fn check_limits(state: &JailState, systemd_dir: &Path, report: &mut Report) {
    if !state.limits.is_empty() {
        let facts = crate::hostinfo::limit_facts::limit_facts();
        for (user, ul) in &state.limits {
            let who = crate::limits::enforce::Subject::User(user);
            for why in crate::limits::enforce::enforcement_warnings(&ul.limits, who, &facts) {
                report.push(Finding {
                    severity: Severity::Warning,
                    path: systemd_dir
                        .join(crate::limits::slice_dropin_relpath(ul.uid))
                        .display()
                        .to_string(),
                    kind: "limits-unenforced",
                    what: why,
                    fix: "run the jail's users under systemd with pam_systemd in sshd's PAM stack"
                        .into(),
                    path_hex: None,
                });
            }
        }
    }
    for d in crate::service::files::limits_drift(state, systemd_dir) {
        report.push(Finding {
            severity: Severity::Error,
            path: d.path,
            kind: d.kind,
            what: d.what,
            fix: d.fix,
            path_hex: None,
        });
    }
}

/// Runs every check over `settings.jail`.
pub fn check(settings: &CheckSettings) -> Result<Report, CheckError> {
    let jail = &settings.jail;
    let mut report = Report {
        jail: jail.display().to_string(),
        ..Report::default()
    };
    let chroot = chroot_rule::chroot_problems(jail);
    let through_symlink = chroot.iter().any(|p| p.what.contains("symbolic link"));
    for p in chroot {
        report.push(Finding {
            severity: Severity::Error,
            path: p.path.display().to_string(),
            kind: "chroot-rule",
            what: format!("{} (sshd refuses such a ChrootDirectory)", p.what),
            fix: p.fix,
            path_hex: None,
        });
    }
    if through_symlink {
        report.finish();
        return Ok(report);
    }
    let host = LinuxHost::open(jail, false).map_err(|e| CheckError::Unreadable {
        jail: jail.clone(),
        why: e.to_string(),
    })?;
    let binds = settings
        .state
        .as_ref()
        .map(|s| s.request.binds.clone())
        .unwrap_or_default();
    let table = mountinfo::read().map_err(|e| CheckError::Unreadable {
        jail: jail.clone(),
        why: format!("cannot read /proc/self/mountinfo: {e}"),
    })?;
    let real = std::fs::canonicalize(jail).unwrap_or_else(|_| jail.clone());
    let mounts = mountinfo::under(&table, &real);
    let skip: Vec<String> = mounts
        .iter()
        .filter_map(|m| m.mount_point.strip_prefix(&real).ok())
        .map(|rel| format!("/{}", rel.display()))
        .collect();
    let walked = host.walk(&skip).map_err(|e| CheckError::Unreadable {
        jail: jail.clone(),
        why: e.to_string(),
    })?;
    report.objects = walked.entries.len();
    let by_path: BTreeMap<&str, &walk::Walked> = walked
        .entries
        .iter()
        .map(|w| (w.path.as_str(), w))
        .collect();
    let tmp_sticky = by_path
        .get("/tmp")
        .is_some_and(|w| w.is(nix::sys::stat::SFlag::S_IFDIR) && w.mode() & 0o1000 != 0);
    let trees = Trees {
        homes: settings
            .state
            .as_ref()
            .map(|s| {
                // users' homes, and the paths jailed services may write (their user's too)
                let homes = s.users.iter().map(|u| format!("/home/{u}"));
                let rw = s
                    .services
                    .values()
                    .flat_map(|v| v.read_write.iter().cloned());
                homes.chain(rw).collect()
            })
            .unwrap_or_default(),
        tmp: tmp_sticky,
        binds: binds.clone(),
        proc: settings.state.as_ref().is_some_and(|s| s.request.proc),
        devpts: settings.state.as_ref().is_some_and(|s| s.request.devpts),
        log: settings
            .state
            .as_ref()
            .and_then(|s| s.request.log.as_deref())
            .map(|src| DeclaredLog::of(src, skip.iter().any(|p| p == crate::mounts::LOG_PATH))),
    };
    if settings.state.is_none() {
        report.push(Finding {
            severity: Severity::Warning,
            path: jail.display().to_string(),
            kind: "no-state",
            what: "jailsmith has no state for this jail: integrity, homes and binds unknown".into(),
            fix: invariants::jailsmith_cmd("build", jail, &settings.state_dir),
            path_hex: None,
        });
    }
    let store_objects = settings
        .state
        .as_ref()
        .map(|s| store::objects(&settings.state_dir, s))
        .unwrap_or_default();
    let ctx = invariants::Ctx {
        jail,
        trees: &trees,
        manifest: settings.state.as_ref().map(|s| &s.manifest),
        state_dir: &settings.state_dir,
        store_objects: &store_objects,
    };
    invariants::check_entries(&ctx, &walked, &mut report);
    invariants::check_mounts(&ctx, &real, &mounts, &walked, &mut report);
    loadable::check_programs(
        &ctx,
        &host,
        &walked,
        &crate::hostinfo::loader_config(&[]),
        &mut report,
    );
    if let Some(state) = &settings.state {
        integrity::check_manifest(&ctx, &host, state, &by_path, settings.jobs, &mut report);
        store::check_links(&ctx, state, &by_path, &mut report);
        integrity::check_unknown(&ctx, &state.manifest, &walked, &skip, &mut report);
        integrity::check_sources(&ctx, state, &mut report);
        check_limits(state, &settings.systemd_dir, &mut report);
        membership::check_members(jail, state, &mut report);
        if let Some(rebuild) = &settings.replan {
            integrity::check_closure(&ctx, state, rebuild, &mut report);
        }
    }
    mark_raw_paths(jail, &walked.raw, &mut report);
    report.finish();
    Ok(report)
}

/// Gives every finding whose path is not valid UTF-8 its exact bytes (`path_hex`).
fn mark_raw_paths(jail: &Path, raw: &BTreeMap<String, Vec<u8>>, report: &mut Report) {
    if raw.is_empty() {
        return;
    }
    let by_shown: BTreeMap<String, Vec<u8>> = raw
        .iter()
        .map(|(p, bytes)| {
            let mut host = jail.as_os_str().as_encoded_bytes().to_vec();
            host.extend_from_slice(bytes);
            (shown(jail, p), host)
        })
        .collect();
    for f in &mut report.findings {
        if let Some(b) = by_shown.get(&f.path) {
            f.path_hex = Some(finding::to_hex(b));
        }
    }
}

/// The host path shown for an in-jail path.
pub fn shown(jail: &Path, path: &str) -> String {
    walk::shown(jail, path).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_writable_trees_are_homes_and_a_sticky_tmp() {
        let t = Trees {
            homes: vec!["/home/ann".into()],
            tmp: true,
            binds: vec![Bind::parse("/srv/d:/data/x").unwrap()],
            proc: false,
            devpts: false,
            log: None,
        };
        assert!(t.user_writable("/home/ann"));
        assert!(t.user_writable("/home/ann/.bashrc"));
        assert!(!t.user_writable("/home/anna"));
        assert!(!t.user_writable("/home"));
        assert!(t.user_writable("/tmp/x"));
        assert!(!t.user_writable("/tmp"));
        assert!(t.is_home("/home/ann") && !t.is_home("/home/ann/x"));
        assert_eq!(t.tree_of("/home/ann/a/b"), Some("/home/ann"));
        assert_eq!(t.tree_of("/tmp/x"), Some("/tmp"));
        assert_eq!(t.tree_of("/etc/x"), None);
        assert!(t.bind_related("/data") && t.bind_related("/data/x"));
        assert!(!t.bind_related("/dat"));
        assert!(!t.bind_related("/proc"));
        let no_tmp = Trees { tmp: false, ..t };
        assert!(
            Trees {
                proc: true,
                ..no_tmp
            }
            .bind_related("/proc")
        );
        let no_tmp = Trees {
            homes: vec!["/home/ann".into()],
            tmp: false,
            binds: Vec::new(),
            proc: false,
            devpts: false,
            log: None,
        };
        assert!(!no_tmp.user_writable("/tmp/x"));
    }
}
