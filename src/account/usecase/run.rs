//! The run of `jailsmith user`: every host change is a typed operation (`plan::HostOp`)
//! with its reason, run through the one rollback journal (`apply::journal`); the `Change`
//! list is the report's view of them. The steps that write one host or jail file live here.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{UserError, UserRequest};
use crate::account::{hostfs, jailside};
use crate::apply::Host;
use crate::apply::journal::{Journal, LinuxSystem, OpError, Performed};
use crate::plan::{HostOp, HostStep, JailPath, Owner};
use crate::sshd::reload;
use crate::sshd::validate::Sshd;
use crate::state::{self, JailState};

/// One change made (or, with --dry-run, to be made).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Change {
    /// account, keys, home, passwd, group, dropin, sshd, sessions, state
    pub object: &'static str,
    /// create, update, remove, reload, end
    pub action: &'static str,
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The host every run changes.
static LINUX: LinuxSystem = LinuxSystem;

/// The run in progress: what changed, and the journal that did it.
pub(super) struct Run<'a> {
    pub(super) args: &'a UserRequest,
    pub(super) dry: bool,
    pub(super) changes: Vec<Change>,
    pub(super) journal: Journal<'static>,
    pub(super) warnings: Vec<String>,
}

impl<'a> Run<'a> {
    /// A run of `args` with nothing done yet.
    pub(super) fn new(args: &'a UserRequest) -> Self {
        Run {
            args,
            dry: args.dry_run,
            changes: Vec::new(),
            journal: Journal::new(&LINUX, args.dry_run),
            warnings: Vec::new(),
        }
    }

    /// The report of the finished run.
    pub(super) fn into_report(
        self,
        user: String,
        jail: PathBuf,
        operation: &'static str,
    ) -> super::Report {
        super::Report {
            user,
            jail,
            operation,
            dry_run: self.dry,
            up_to_date: self.changes.is_empty(),
            changes: self.changes,
            plan: self.journal.into_steps(),
            warnings: self.warnings,
        }
    }

    pub(super) fn change(
        &mut self,
        object: &'static str,
        action: &'static str,
        target: impl ToString,
    ) {
        self.changes.push(Change {
            object,
            action,
            target: target.to_string(),
            detail: None,
        });
    }

    pub(super) fn detail(&mut self, detail: impl Into<String>) {
        if let Some(c) = self.changes.last_mut() {
            c.detail = Some(detail.into());
        }
    }

    /// Runs `op` through the journal (in a dry run: only plans it); operations inside the
    /// jail go through `jail`.
    pub(super) fn exec(
        &mut self,
        jail: Option<&dyn Host>,
        op: HostOp,
        reason: impl Into<String>,
    ) -> Result<Performed, UserError> {
        Ok(self.journal.execute(jail, HostStep::new(op, reason))?)
    }

    /// Undoes every step the journal recorded, newest first; wraps `error` with what
    /// happened.
    pub(super) fn roll_back(&mut self, jail: Option<&dyn Host>, error: UserError) -> UserError {
        let back = self.journal.roll_back(jail);
        if back.is_empty() {
            return error;
        }
        let (undone, failed) = back.summary();
        UserError::RolledBack {
            error: Box::new(error),
            undone,
            failed,
        }
    }
}

impl From<OpError> for UserError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Jail(e) => UserError::Host(e),
            OpError::RootFile(e) => UserError::Account(e.into()),
            OpError::Account(e) => UserError::Account(e),
            OpError::Sshd(e) => UserError::Sshd(e),
            OpError::State(e) => UserError::State(e),
            e @ (OpError::Program { .. }
            | OpError::NoJail { .. }
            | OpError::Signal(_)
            | OpError::RemoveRoot { .. }
            | OpError::Mount(_)) => UserError::Step(e),
        }
    }
}

/// A jail path as the host sees it, for messages only (never used to reach the file).
pub(super) fn in_jail(host: Option<&dyn Host>, p: &JailPath) -> String {
    match host {
        Some(h) => format!("{}{p}", h.root().display()),
        None => p.to_string(),
    }
}

/// Why a run writes a file of this kind.
fn reason_of(object: &str, name: &str) -> String {
    match object {
        "keys" => {
            format!("the public keys {name} logs in with (sshd reads them before the chroot)")
        }
        "dropin" => "the sshd block that jails the members of the jail's group".into(),
        "limits" => format!("the limits of {name}'s sessions (slice drop-in)"),
        "passwd" | "group" => format!("the jail's {object}: {name}'s line"),
        other => other.to_string(),
    }
}

pub(super) fn reload_sshd(r: &mut Run, sshd: &Sshd) -> Result<(), UserError> {
    if r.args.no_reload {
        r.warnings.push(
            "--no-reload: sshd was not reloaded; new logins see the change only after a reload"
                .into(),
        );
        return Ok(());
    }
    r.change("sshd", "reload", sshd.main.display());
    let systemd = reload::systemd_is_init() && sshd.main == Path::new("/etc/ssh/sshd_config");
    let op = HostOp::ReloadSshd {
        config: sshd.main.clone(),
        binary: sshd.binary.clone(),
        systemd,
    };
    let done = r.exec(None, op, "sshd reads the changed blocks")?;
    if let Some(how) = done.detail {
        r.detail(how);
    }
    Ok(())
}

/// Makes a root-owned 0755 directory (keys, drop-ins) when missing.
pub(super) fn ensure_dir(r: &mut Run, dir: &Path) -> Result<(), UserError> {
    if dir.exists() && !dir.is_symlink() {
        hostfs::ensure_root_dir(dir, 0o755)?;
        return Ok(());
    }
    r.change("dir", "create", dir.display());
    let op = HostOp::MakeHostDir {
        path: dir.to_path_buf(),
        mode: 0o755,
    };
    r.exec(None, op, "holds root-owned files sshd or systemd reads")?;
    Ok(())
}

/// Writes a root-owned 0644 file outside the jail when its content differs.
pub(super) fn put_host_file(
    r: &mut Run,
    object: &'static str,
    path: &Path,
    text: &str,
) -> Result<bool, UserError> {
    let before = hostfs::read_optional(path)?;
    let same_text = before.as_deref() == Some(text);
    if same_text && hostfs::has_root_mode(path, 0o644) {
        return Ok(false);
    }
    r.change(
        object,
        if before.is_some() { "update" } else { "create" },
        path.display(),
    );
    if same_text {
        r.detail("owner root:root, mode 0644");
    }
    let op = HostOp::WriteRootFile {
        path: path.to_path_buf(),
        content: text.into(),
        mode: 0o644,
    };
    let reason = reason_of(object, &r.args.name);
    r.exec(None, op, reason)?;
    Ok(true)
}

pub(super) fn put_jail_file(
    r: &mut Run,
    host: &dyn Host,
    object: &'static str,
    path: JailPath,
    before: Option<String>,
    text: &str,
) -> Result<(), UserError> {
    if before.as_deref() == Some(text) {
        return Ok(());
    }
    r.change(
        object,
        if before.is_some() { "update" } else { "create" },
        in_jail(Some(host), &path),
    );
    if let Some(parent) = path.parent()
        && host.stat(&parent)?.is_none()
    {
        let op = HostOp::MakeJailDir {
            path: parent,
            mode: 0o755,
            owner: Owner::ROOT,
        };
        r.exec(Some(host), op, format!("holds the jail's {object}"))?;
    }
    let op = HostOp::WriteJailFile {
        path,
        content: text.into(),
        mode: 0o644,
        owner: Owner::ROOT,
    };
    let reason = reason_of(object, &r.args.name);
    r.exec(Some(host), op, reason)?;
    Ok(())
}

/// Adds (or removes) the user in the jail's state record.
pub(super) fn record_user(
    r: &mut Run,
    jail: &Path,
    name: &str,
    present: bool,
) -> Result<(), UserError> {
    let loaded = state::load(&r.args.state_dir, jail)?;
    let listed = loaded
        .as_ref()
        .is_some_and(|s| s.users.iter().any(|u| u == name));
    if listed == present || (loaded.is_none() && !present) {
        return Ok(());
    }
    let detail = if present {
        format!("{name} added to the jail's users")
    } else {
        format!("{name} removed from the jail's users")
    };
    update_state(r, jail, detail, |st| {
        if present {
            st.users.push(name.to_string());
            st.users.sort();
        } else {
            st.users.retain(|u| u != name);
        }
    })
}

/// Changes the jail's state record with `edit` (a new record when there is none), saved
/// through the journal (which keeps its earlier content as the undo; a dry run plans it).
pub(super) fn update_state(
    r: &mut Run,
    jail: &Path,
    detail: String,
    edit: impl FnOnce(&mut JailState),
) -> Result<(), UserError> {
    let dir = &r.args.state_dir;
    let file = state::state_file(dir, jail);
    r.change("state", "update", file.display());
    r.detail(detail.clone());
    let mut st = state::load(dir, jail)?.unwrap_or_else(|| JailState::new(jail));
    edit(&mut st);
    st.updated_unix = state::now_unix();
    save_state(r, &st, detail)
}

/// Saves `st` (the state of the run's jail) through the journal.
fn save_state(r: &mut Run, st: &JailState, reason: String) -> Result<(), UserError> {
    let dir = r.args.state_dir.clone();
    let op = HostOp::SaveState {
        path: state::state_file(&dir, &st.jail),
        state_dir: dir,
        content: state::to_json(st).into(),
    };
    r.exec(None, op, reason)?;
    Ok(())
}

/// Records the jail's passwd and group as they now are in its manifest (jailsmith just wrote
/// them), so `check` finds them as placed right after this run.
pub(super) fn record_jail_files(
    r: &mut Run,
    jail: &Path,
    host: &dyn Host,
) -> Result<(), UserError> {
    if r.dry {
        return Ok(());
    }
    let paths = [jailside::passwd_path(), jailside::group_path()];
    let changed =
        crate::jail::with_written(&r.args.state_dir, jail, host, &paths).map_err(|e| match e {
            crate::jail::RecordError::Host(e) => UserError::Host(e),
            crate::jail::RecordError::State(e) => UserError::State(e),
        })?;
    if let Some(st) = changed {
        save_state(
            r,
            &st,
            "the jail's passwd and group recorded as placed".into(),
        )?;
    }
    Ok(())
}

pub(super) fn drop_host_file(
    r: &mut Run,
    object: &'static str,
    path: &Path,
) -> Result<bool, UserError> {
    if hostfs::read_optional(path)?.is_none() {
        return Ok(false);
    }
    r.change(object, "remove", path.display());
    let op = HostOp::RemoveRootFile {
        path: path.to_path_buf(),
    };
    let reason = format!("{} (taken out)", reason_of(object, &r.args.name));
    r.exec(None, op, reason)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::rootfile::RootFileError;
    use crate::exit;

    #[test]
    fn a_failed_step_keeps_the_message_and_exit_code_of_its_module() {
        let unsafe_dir = || RootFileError::Unsafe {
            op: "write",
            path: "/etc/ssh/authorized_keys/u1".into(),
            why: "a symlink".into(),
        };
        let before = UserError::Account(unsafe_dir().into());
        let now = UserError::from(OpError::RootFile(unsafe_dir()));
        assert_eq!(now.to_string(), before.to_string());
        assert_eq!(now.code(), exit::REFUSED);
        let program = UserError::from(OpError::Program {
            program: "systemctl daemon-reload".into(),
            why: "exit status 1".into(),
        });
        assert_eq!(program.code(), exit::HOST_FAILURE);
    }
}
