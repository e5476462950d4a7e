//! The run of `jailsmith user` as a journal: every change is recorded for the report and
//! with how to undo it, and the steps that write one host or jail file live here.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{UserError, UserRequest};
use crate::account::useradd::{self, Modify};
use crate::account::{AccountError, hostfs, jailside};
use crate::apply::Host;
use crate::plan::{JailPath, Owner};
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

/// How to put one step back.
pub(super) enum Undo {
    HostFile {
        path: PathBuf,
        before: Option<String>,
        mode: u32,
    },
    UserAdd(String),
    UserMod(String, Modify),
    HostDir(PathBuf),
    JailFile(JailPath, Option<String>),
    JailDir(JailPath),
    /// Put a directory's mode and owner back.
    JailDirMeta(JailPath, u32, Owner),
    /// Remove a group jailsmith created.
    GroupAdd(String),
    /// Put a removed group back with its gid.
    GroupDel(String, u32),
    /// Undo a `gpasswd -a` (added) or `-d`.
    Member {
        user: String,
        group: String,
        added: bool,
    },
}

/// The run in progress: what changed, and how to undo it.
pub(super) struct Run<'a> {
    pub(super) args: &'a UserRequest,
    pub(super) dry: bool,
    pub(super) changes: Vec<Change>,
    pub(super) undo: Vec<Undo>,
    pub(super) warnings: Vec<String>,
}

impl<'a> Run<'a> {
    /// A run of `args` with nothing done yet.
    pub(super) fn new(args: &'a UserRequest) -> Self {
        Run {
            args,
            dry: args.dry_run,
            changes: Vec::new(),
            undo: Vec::new(),
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

    /// Undoes every recorded step, newest first; wraps `error` with what happened.
    pub(super) fn roll_back(&mut self, host: Option<&dyn Host>, error: UserError) -> UserError {
        if self.undo.is_empty() {
            return error;
        }
        let mut undone = Vec::new();
        let mut failed = Vec::new();
        while let Some(u) = self.undo.pop() {
            let (what, r): (String, Result<(), UserError>) = match u {
                Undo::HostFile { path, before, mode } => (
                    path.display().to_string(),
                    hostfs::restore(&path, before.as_deref(), mode).map_err(Into::into),
                ),
                Undo::UserAdd(n) => (
                    format!("account {n}"),
                    useradd::run("userdel", &useradd::delete_argv(&n)).map_err(Into::into),
                ),
                Undo::UserMod(n, back) => (
                    format!("account {n}"),
                    useradd::run("usermod", &useradd::modify_argv(&n, &back)).map_err(Into::into),
                ),
                Undo::GroupAdd(g) => (
                    format!("group {g}"),
                    useradd::run("groupdel", &useradd::groupdel_argv(&g)).map_err(Into::into),
                ),
                Undo::GroupDel(g, gid) => (
                    format!("group {g}"),
                    useradd::run("groupadd", &useradd::groupadd_argv(&g, Some(gid)))
                        .map_err(Into::into),
                ),
                Undo::Member { user, group, added } => (
                    format!("{user}'s membership of {group}"),
                    useradd::run("gpasswd", &useradd::gpasswd_argv(&user, &group, !added))
                        .map_err(Into::into),
                ),
                Undo::HostDir(p) => (
                    p.display().to_string(),
                    crate::apply::rootfile::remove_empty_dir(&p)
                        .map(|_| ())
                        .map_err(|e| AccountError::from(e).into()),
                ),
                Undo::JailFile(p, before) => (in_jail(host, &p), undo_jail_file(host, &p, before)),
                Undo::JailDirMeta(p, mode, owner) => (
                    in_jail(host, &p),
                    host.map_or(Ok(()), |h| {
                        h.make_dir(&p, mode, owner).map(|_| ()).map_err(Into::into)
                    }),
                ),
                Undo::JailDir(p) => (
                    in_jail(host, &p),
                    host.map_or(Ok(()), |h| h.remove_dir(&p).map(|_| ()).map_err(Into::into)),
                ),
            };
            match r {
                Ok(()) => undone.push(what),
                Err(e) => failed.push(format!("{what}: {e}")),
            }
        }
        UserError::RolledBack {
            error: Box::new(error),
            undone: undone.join(", "),
            failed: if failed.is_empty() {
                String::new()
            } else {
                format!("\n  could NOT roll back: {}", failed.join("; "))
            },
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

pub(super) fn undo_jail_file(
    host: Option<&dyn Host>,
    p: &JailPath,
    before: Option<String>,
) -> Result<(), UserError> {
    let Some(h) = host else { return Ok(()) };
    match before {
        Some(text) => h.write_file(p, text.as_bytes(), 0o644, Owner::ROOT)?,
        None => {
            h.remove(p)?;
        }
    }
    Ok(())
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
    if r.dry {
        return Ok(());
    }
    let use_systemd = reload::systemd_is_init() && sshd.main == Path::new("/etc/ssh/sshd_config");
    let how = reload::reload(sshd, use_systemd)?;
    r.detail(how);
    Ok(())
}

/// Makes a root-owned 0755 directory (keys, drop-ins) when missing.
pub(super) fn ensure_dir(r: &mut Run, dir: &Path) -> Result<(), UserError> {
    if dir.exists() && !dir.is_symlink() {
        hostfs::ensure_root_dir(dir, 0o755)?;
        return Ok(());
    }
    r.change("dir", "create", dir.display());
    if !r.dry {
        hostfs::ensure_root_dir(dir, 0o755)?;
        r.undo.push(Undo::HostDir(dir.to_path_buf()));
    }
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
    if !r.dry {
        hostfs::write_root_file(path, text, 0o644)?;
        r.undo.push(Undo::HostFile {
            path: path.to_path_buf(),
            before,
            mode: 0o644,
        });
    }
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
    if !r.dry {
        jailside::write_etc(host, &path, text)?;
        r.undo.push(Undo::JailFile(path, before));
    }
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
/// with its earlier content as the undo.
pub(super) fn update_state(
    r: &mut Run,
    jail: &Path,
    detail: String,
    edit: impl FnOnce(&mut JailState),
) -> Result<(), UserError> {
    let dir = &r.args.state_dir;
    let file = state::state_file(dir, jail);
    r.change("state", "update", file.display());
    r.detail(detail);
    if r.dry {
        return Ok(());
    }
    let before = hostfs::read_optional(&file)?;
    let mut st = state::load(dir, jail)?.unwrap_or_else(|| JailState::new(jail));
    edit(&mut st);
    st.updated_unix = state::now_unix();
    state::save(dir, &st)?;
    r.undo.push(Undo::HostFile {
        path: file,
        before,
        mode: 0o600,
    });
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
    let file = state::state_file(&r.args.state_dir, jail);
    let before = hostfs::read_optional(&file)?;
    let paths = [jailside::passwd_path(), jailside::group_path()];
    let changed = crate::jail::record_written(&r.args.state_dir, jail, host, &paths).map_err(
        |e| match e {
            crate::jail::RecordError::Host(e) => UserError::Host(e),
            crate::jail::RecordError::State(e) => UserError::State(e),
        },
    )?;
    if changed {
        r.undo.push(Undo::HostFile {
            path: file,
            before,
            mode: 0o600,
        });
    }
    Ok(())
}

pub(super) fn drop_host_file(
    r: &mut Run,
    object: &'static str,
    path: &Path,
) -> Result<bool, UserError> {
    let Some(before) = hostfs::read_optional(path)? else {
        return Ok(false);
    };
    r.change(object, "remove", path.display());
    if !r.dry {
        hostfs::remove_root_file(path)?;
        r.undo.push(Undo::HostFile {
            path: path.to_path_buf(),
            before: Some(before),
            mode: 0o644,
        });
    }
    Ok(true)
}
