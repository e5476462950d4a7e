//! Resource limits of a jailed user: `SYSTEMD_DIR/user-UID.slice.d/50-jailsmith.conf` (every
//! session pam_systemd places in user-UID.slice shares them) and their record in the jail's
//! state, which `check` compares with the file (`service::files::limits_drift`). Given limits
//! replace the drop-in; no limit option leaves an existing one alone; `--remove` deletes it.

use std::path::Path;

use super::run::{Action, Object, Run, drop_host_file, update_state};
use super::{UserError, UserRequest};
use crate::account::hostfs;
use crate::limits::enforce::{self, Subject};
use crate::limits::options::resolve_io_device;
use crate::limits::{self, Limits};
use crate::plan::{HostOp, Id};
use crate::service::files::UserLimits;
use crate::sshd::reload::systemd_is_init;
use crate::state;

/// The default systemd directory; only there does a change trigger `systemctl daemon-reload`.
pub const DEFAULT_SYSTEMD_DIR: &str = "/etc/systemd/system";

/// Parses the limit options before anything is written (exit 2 on a bad value).
pub(super) fn parse(a: &UserRequest) -> Result<Limits, UserError> {
    let mut l = a
        .limits
        .parse()
        .map_err(|e| UserError::Input(e.to_string()))?;
    l.deny_network = a.deny_network || !a.allow_ip.is_empty();
    for ip in &a.allow_ip {
        let ip = limits::parse_allow_ip(ip).map_err(|e| UserError::Input(e.to_string()))?;
        if !l.allow_ip.contains(&ip) {
            l.allow_ip.push(ip);
        }
    }
    Ok(l)
}

/// `--systemd-dir` must be absolute, and it and every directory above it root's alone:
/// systemd reads every drop-in of the slice's directory, so whoever can swap a directory on
/// that path can lift the limits (or add settings of their own).
pub(super) fn check_dir(a: &UserRequest) -> Result<(), UserError> {
    if !a.systemd_dir.is_absolute() {
        return Err(UserError::Input(format!(
            "--systemd-dir {} must be an absolute path",
            a.systemd_dir.display()
        )));
    }
    super::check_root_chain(&a.systemd_dir, "write slice drop-ins into")
}

/// Writes the slice drop-in with `limits` (when any was given) and records them. `uid` is
/// `Id::New` in a dry run that would create the account: the drop-in is then planned with
/// its uid still to be allocated.
pub(super) fn put_limits(
    r: &mut Run,
    jail: &Path,
    name: &str,
    uid: Id,
    mut limits: Limits,
) -> Result<(), UserError> {
    if limits.is_empty() {
        return Ok(());
    }
    check_dir(r.args)?;
    let facts = crate::hostinfo::limit_facts();
    r.warnings.extend(enforce::enforcement_warnings(
        &limits,
        Subject::User(name),
        &facts,
    ));
    for w in resolve_io_device(&mut limits, jail) {
        r.warnings.push(w);
    }
    let systemd_dir = r.args.systemd_dir.clone();
    let before = match uid.assigned() {
        Some(n) => Some(current(&systemd_dir, name, n, &limits)?),
        None => None,
    };
    if before.as_ref().is_some_and(|b| b.current) {
        record(r, jail, name, uid, limits)?;
        return Ok(());
    }
    let op = HostOp::WriteSliceDropIn {
        systemd_dir,
        user: name.to_string(),
        uid,
        limits: limits.clone(),
    };
    let existed = before.as_ref().is_some_and(|b| b.exists);
    r.change(Object::Limits, Action::put(existed), op.target());
    if before.is_some_and(|b| b.same_text) {
        r.detail("owner root:root, mode 0644");
    }
    r.exec(
        None,
        op,
        format!("the limits of {name}'s sessions (slice drop-in)"),
    )?;
    record(r, jail, name, uid, limits)?;
    reload(r);
    Ok(())
}

/// The slice drop-in of `uid` as it is now, compared with the one `limits` make.
struct Current {
    exists: bool,
    same_text: bool,
    /// Same text, root's, 0644: nothing to write.
    current: bool,
}

fn current(
    systemd_dir: &Path,
    name: &str,
    uid: u32,
    limits: &Limits,
) -> Result<Current, UserError> {
    let path = crate::plan::hostops::slice_dropin(systemd_dir, uid);
    let dir = path.parent().expect("the drop-in has a directory");
    if dir.exists() && !dir.is_symlink() {
        hostfs::ensure_root_dir(dir, 0o755)?;
    }
    let before = hostfs::read_optional(&path)?;
    let same_text = before.as_deref() == Some(&limits::render_slice_dropin(name, uid, limits));
    Ok(Current {
        exists: before.is_some(),
        same_text,
        current: same_text && hostfs::has_root_mode(&path, 0o644),
    })
}

/// Deletes the drop-in the state records for the user (and its directory when empty) and
/// the record. A drop-in jailsmith has no record of is left alone.
pub(super) fn drop_limits(r: &mut Run, jail: &Path, name: &str) -> Result<(), UserError> {
    check_dir(r.args)?;
    let recorded =
        state::load(&r.args.state_dir, jail)?.and_then(|s| s.limits.get(name).map(|l| l.uid));
    let Some(uid) = recorded else {
        return Ok(());
    };
    let path = r.args.systemd_dir.join(limits::slice_dropin_relpath(uid));
    let removed = drop_host_file(r, Object::Limits, &path)?;
    forget(r, jail, name)?;
    if removed {
        // the .d directory goes too when jailsmith's file was all it held
        let dir = path.parent().expect("the drop-in has a directory");
        let op = HostOp::RemoveHostDir {
            path: dir.to_path_buf(),
        };
        let _ = r.exec(None, op, "held only jailsmith's slice drop-in");
    }
    if removed {
        reload(r);
    }
    Ok(())
}

/// Sets the user's limits in the jail's state. With the uid still to be allocated (a dry
/// run) the save is planned; what it records is the real run's to know.
fn record(r: &mut Run, jail: &Path, name: &str, uid: Id, limits: Limits) -> Result<(), UserError> {
    let detail = format!("limits of {name} recorded");
    let Some(uid) = uid.assigned() else {
        return update_state(r, jail, detail, |_| {});
    };
    let wanted = UserLimits { uid, limits };
    let loaded = state::load(&r.args.state_dir, jail)?;
    if loaded.as_ref().and_then(|s| s.limits.get(name)) == Some(&wanted) {
        return Ok(());
    }
    update_state(r, jail, detail, |st| {
        st.limits.insert(name.to_string(), wanted);
    })
}

/// Clears the user's limits in the jail's state.
fn forget(r: &mut Run, jail: &Path, name: &str) -> Result<(), UserError> {
    let loaded = state::load(&r.args.state_dir, jail)?;
    if loaded.as_ref().and_then(|s| s.limits.get(name)).is_none() {
        return Ok(());
    }
    update_state(r, jail, format!("limits of {name} forgotten"), |st| {
        st.limits.remove(name);
    })
}

/// systemd reads drop-ins on daemon-reload: run it where systemd runs and the drop-in is in
/// its directory; otherwise say so.
fn reload(r: &mut Run) {
    let default_dir = r.args.systemd_dir == Path::new(DEFAULT_SYSTEMD_DIR);
    if r.args.no_reload || !default_dir || !systemd_is_init() {
        if r.dry {
            return; // a dry run changes nothing, so there is nothing to reload
        }
        r.warnings.push(
            "systemd was not reloaded: run 'systemctl daemon-reload' for the limits to apply"
                .into(),
        );
        return;
    }
    r.change(Object::Systemd, Action::Reload, "systemctl daemon-reload");
    if let Err(e) = r.exec(
        None,
        HostOp::ReloadSystemd,
        "systemd reads the slice drop-in",
    ) {
        r.warnings.push(format!(
            "{e}: run 'systemctl daemon-reload' for the limits to apply"
        ));
    }
}
