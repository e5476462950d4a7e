//! The run of `jailsmith user`: every host change is a typed operation (`plan::HostOp`)
//! with its reason, run through the one rollback journal (`apply::journal`); the `Change`
//! list is the report's view of them. The steps that write one host or jail file live here.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{UserError, UserRequest};
use crate::account::{hostfs, jailside};
use crate::apply::Host;
use crate::apply::journal::{Journal, LinuxSystem, OpError, Performed};
use crate::plan::{HostOp, HostStep, JailPath, Owner, PlannedOwner};
use crate::sshd::reload;
use crate::sshd::validate::Sshd;
use crate::state::{self, JailState};

/// What a change acts on (JSON: its kebab-case name, as `Display` prints it).
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Object {
    Account,
    Keys,
    Home,
    Dir,
    Passwd,
    Group,
    /// The jail's sshd block (a drop-in).
    Dropin,
    /// The jail's host group that its block matches.
    SshdGroup,
    /// A membership of the jail's group.
    Member,
    Limits,
    Sshd,
    Systemd,
    Sessions,
    State,
}

impl Object {
    pub fn name(self) -> &'static str {
        match self {
            Object::Account => "account",
            Object::Keys => "keys",
            Object::Home => "home",
            Object::Dir => "dir",
            Object::Passwd => "passwd",
            Object::Group => "group",
            Object::Dropin => "dropin",
            Object::SshdGroup => "sshd-group",
            Object::Member => "member",
            Object::Limits => "limits",
            Object::Sshd => "sshd",
            Object::Systemd => "systemd",
            Object::Sessions => "sessions",
            Object::State => "state",
        }
    }
}

impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a change does to its object (JSON: its lower-case name).
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Remove,
    /// A membership given.
    Add,
    Reload,
    /// Sessions ended.
    End,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Remove => "remove",
            Action::Add => "add",
            Action::Reload => "reload",
            Action::End => "end",
        }
    }

    /// Create when the object was not there, else update.
    pub fn put(existed: bool) -> Self {
        if existed {
            Action::Update
        } else {
            Action::Create
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One change made (or, with --dry-run, to be made).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Change {
    /// account, keys, home, dir, passwd, group, dropin, sshd-group, member, limits, sshd,
    /// systemd, sessions, state
    pub object: Object,
    /// create, update, remove, add, reload, end
    pub action: Action,
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
    /// True once the run wrote (in a dry run: planned) the jail's passwd or group.
    pub(super) jail_files_written: bool,
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
            jail_files_written: false,
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

    pub(super) fn change(&mut self, object: Object, action: Action, target: impl ToString) {
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
            | OpError::Mount(_)
            | OpError::Selinux(_)
            | OpError::RemoveRoot { .. }
            | OpError::Unallocated { .. }) => UserError::Step(e),
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
fn reason_of(object: Object, name: &str) -> String {
    match object {
        Object::Keys => {
            format!("the public keys {name} logs in with (sshd reads them before the chroot)")
        }
        Object::Dropin => "the sshd block that jails the members of the jail's group".into(),
        Object::Limits => format!("the limits of {name}'s sessions (slice drop-in)"),
        Object::Passwd | Object::Group => format!("the jail's {object}: {name}'s line"),
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
    r.change(Object::Sshd, Action::Reload, sshd.main.display());
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
    r.change(Object::Dir, Action::Create, dir.display());
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
    object: Object,
    path: &Path,
    text: &str,
) -> Result<bool, UserError> {
    let before = hostfs::read_optional(path)?;
    let same_text = before.as_deref() == Some(text);
    if same_text && hostfs::has_root_mode(path, 0o644) {
        return Ok(false);
    }
    r.change(object, Action::put(before.is_some()), path.display());
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
    object: Object,
    path: JailPath,
    before: Option<String>,
    text: &str,
) -> Result<(), UserError> {
    if before.as_deref() == Some(text) {
        return Ok(());
    }
    let op = HostOp::WriteJailFile {
        path,
        content: text.into(),
        mode: 0o644,
        owner: Owner::ROOT,
    };
    put_jail_op(r, host, object, before.is_some(), op)
}

/// Runs `op`, which writes the jail's passwd or group (`object`), making etc/ first when
/// missing; `existed`: whether the file was there.
pub(super) fn put_jail_op(
    r: &mut Run,
    host: &dyn Host,
    object: Object,
    existed: bool,
    op: HostOp,
) -> Result<(), UserError> {
    let path = op.jail_path().expect("an operation in the jail").clone();
    r.change(object, Action::put(existed), in_jail(Some(host), &path));
    if let Some(parent) = path.parent()
        && host.stat(&parent)?.is_none()
    {
        let op = HostOp::MakeJailDir {
            path: parent,
            mode: 0o755,
            owner: PlannedOwner::ROOT,
        };
        r.exec(Some(host), op, format!("holds the jail's {object}"))?;
    }
    let reason = reason_of(object, &r.args.name);
    r.exec(Some(host), op, reason)?;
    r.jail_files_written = true;
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
    r.change(Object::State, Action::Update, file.display());
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

/// Why a run saves the state after writing the jail's passwd or group.
const JAIL_FILES_RECORDED: &str = "the jail's passwd and group recorded as placed";

/// Records the jail's passwd and group as they now are in its manifest (jailsmith just wrote
/// them), so `check` finds them as placed right after this run. A dry run plans the save
/// when it planned a write of either.
pub(super) fn record_jail_files(
    r: &mut Run,
    jail: &Path,
    host: &dyn Host,
) -> Result<(), UserError> {
    let paths = [jailside::passwd_path(), jailside::group_path()];
    // a dry run wrote nothing: where it would write a line or a file, the real run records
    // the new entries; otherwise the files are as the real run finds them
    let changed = if r.dry && r.jail_files_written {
        Some(state::load(&r.args.state_dir, jail)?.unwrap_or_else(|| JailState::new(jail)))
    } else {
        crate::jail::with_written(&r.args.state_dir, jail, host, &paths).map_err(record_failed)?
    };
    if let Some(st) = changed {
        save_state(r, &st, JAIL_FILES_RECORDED.into())?;
    }
    Ok(())
}

fn record_failed(e: crate::jail::RecordError) -> UserError {
    match e {
        crate::jail::RecordError::Host(e) => UserError::Host(e),
        crate::jail::RecordError::State(e) => UserError::State(e),
    }
}

pub(super) fn drop_host_file(r: &mut Run, object: Object, path: &Path) -> Result<bool, UserError> {
    if hostfs::read_optional(path)?.is_none() {
        return Ok(false);
    }
    r.change(object, Action::Remove, path.display());
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

    #[test]
    fn a_change_prints_and_serialises_its_object_and_action_by_the_same_name() {
        use Object::*;
        for o in [
            Account, Keys, Home, Dir, Passwd, Group, Dropin, SshdGroup, Member, Limits, Sshd,
            Systemd, Sessions, State,
        ] {
            assert_eq!(serde_json::to_value(o).unwrap(), o.to_string());
        }
        for a in [
            Action::Create,
            Action::Update,
            Action::Remove,
            Action::Add,
            Action::Reload,
            Action::End,
        ] {
            assert_eq!(serde_json::to_value(a).unwrap(), a.to_string());
        }
        assert_eq!(SshdGroup.to_string(), "sshd-group");
        assert_eq!(Action::put(true), Action::Update);
        assert_eq!(Action::put(false), Action::Create);
    }
}
