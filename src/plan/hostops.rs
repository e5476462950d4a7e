//! The operations a plan holds outside a jail's file tree: account changes, root-owned files
//! (keys, drop-ins, unit and slice drop-ins), the jail files a user's or a service's run
//! rewrites, account lines, signals, reloads, service starts and stops, enabling units, a
//! jail's mounts and what they need made there (and a roll-back's removal of what a run
//! made), and a destroyed jail's mounts, tree, root, labels and store objects, each
//! with its reason. Data only; `apply::journal` gives them effect (and knows each one's
//! inverse); a report serialises them (`user`, `service`, `mount`, `umount` and `destroy`
//! `--dry-run --json`). An account the plan creates has no uid or gid before `useradd`
//! runs: its operations hold `Id::New` there (a dry run's plan), and the real run's plan
//! the ids it got.

use std::path::PathBuf;

use serde::Serialize;

use super::JailPath;
use super::ops::{Content, Owner};
use super::removal::RemovalRules;
use crate::limits::Limits;

/// A uid or gid in a plan: the number, or (in a dry run) one `useradd` is still to allocate
/// for an account the plan creates. JSON: the number, or the string `"new"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Id {
    Assigned(u32),
    New,
}

impl Id {
    /// The number, None while it is still to be allocated.
    pub fn assigned(self) -> Option<u32> {
        match self {
            Id::Assigned(n) => Some(n),
            Id::New => None,
        }
    }
}

impl From<u32> for Id {
    fn from(n: u32) -> Self {
        Id::Assigned(n)
    }
}

impl From<Option<u32>> for Id {
    fn from(n: Option<u32>) -> Self {
        n.map_or(Id::New, Id::Assigned)
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Id::Assigned(n) => write!(f, "{n}"),
            Id::New => f.write_str("new"),
        }
    }
}

impl Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Id::Assigned(n) => s.serialize_u32(*n),
            Id::New => s.serialize_str("new"),
        }
    }
}

/// The owner of a directory a plan makes in a jail: numeric, or the ids of an account the
/// plan creates (`Id::New` until `useradd` has run).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedOwner {
    pub uid: Id,
    pub gid: Id,
}

impl PlannedOwner {
    pub const ROOT: PlannedOwner = PlannedOwner {
        uid: Id::Assigned(0),
        gid: Id::Assigned(0),
    };

    /// The numeric owner, None while an id is still to be allocated.
    pub fn assigned(self) -> Option<Owner> {
        Some(Owner {
            uid: self.uid.assigned()?,
            gid: self.gid.assigned()?,
        })
    }
}

impl From<Owner> for PlannedOwner {
    fn from(o: Owner) -> Self {
        PlannedOwner {
            uid: o.uid.into(),
            gid: o.gid.into(),
        }
    }
}

/// What `usermod` changes on an existing account; `None` leaves a field alone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AccountChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// The password field; a plan never shows a hash (only `*`, the key-only marker).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "redacted_password"
    )]
    pub password: Option<String>,
}

fn redacted_password<S: serde::Serializer>(p: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match p.as_deref() {
        Some("*") | None => p.serialize(s),
        Some(_) => s.serialize_str("(the earlier password field)"),
    }
}

fn slice_settings<S: serde::Serializer>(l: &Limits, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(
        l.directives()
            .iter()
            .map(|d| format!("{}={}", d.key, d.value)),
    )
}

impl AccountChange {
    pub fn is_empty(&self) -> bool {
        self.home.is_none() && self.shell.is_none() && self.password.is_none()
    }

    /// Human summary: `home /x → /home/n, shell …, password disabled`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(h) = &self.home {
            parts.push(format!("home {h}"));
        }
        if let Some(s) = &self.shell {
            parts.push(format!("shell {s}"));
        }
        if self.password.is_some() {
            parts.push("password disabled (key-only)".to_string());
        }
        parts.join(", ")
    }
}

/// What a `HostOp::Mount` mounts (`kind` in a plan).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MountKind {
    /// A host directory, never recursive, nosuid,nodev, read-only unless `rw`.
    Bind { source: PathBuf, rw: bool },
    /// The jail's own procfs: hidepid=invisible,subset=pid, nosuid,nodev,noexec.
    Proc,
    /// The jail's own devpts instance (newinstance), for the tty group `gid`.
    Devpts { gid: u32 },
    /// The host's syslog socket `source`, bound ro,nosuid,nodev.
    Log { source: PathBuf },
}

/// What an object `check` found forbidden is (`expect` of `HostOp::RemoveForbidden`): its
/// removal goes ahead only while the object there is still of that type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    File,
    Directory,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
}

impl ObjectKind {
    /// The kind's name for messages ("regular file", "character device", …), as
    /// `EntryKind::name` says it.
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::File => "regular file",
            ObjectKind::Directory => "directory",
            ObjectKind::Symlink => "symlink",
            ObjectKind::CharDevice => "character device",
            ObjectKind::BlockDevice => "block device",
            ObjectKind::Fifo => "FIFO",
            ObjectKind::Socket => "socket",
        }
    }
}

/// What a run made in a jail for a later step (a mount point, a link, a placeholder), as
/// the roll-back of its making (`HostOp::RemoveMade`) expects to find it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MadeObject {
    /// A directory, removed only while empty.
    Directory,
    /// A symlink, removed only while it holds `target`.
    Symlink { target: PathBuf },
    /// A regular file, removed only while empty.
    EmptyFile,
}

impl MadeObject {
    /// What it is, for messages: "directory", "symlink to pts/ptmx", "empty file".
    pub fn describe(&self) -> String {
        match self {
            MadeObject::Directory => "directory".into(),
            MadeObject::Symlink { target } => format!("symlink to {}", target.display()),
            MadeObject::EmptyFile => "empty file".into(),
        }
    }
}

/// One typed change to the host outside a jail build (or to the few jail files a user's
/// run rewrites). Every variant that can be undone has its inverse in `apply::journal`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum HostOp {
    /// `useradd`: no home on the host, a key-only password field, the group of the same
    /// name when it exists (else a new user group), `uid` when given.
    CreateAccount {
        name: String,
        home: String,
        shell: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
        existing_group: bool,
    },
    /// `useradd --system` of a service account: no home, `shell` (nologin) as login shell,
    /// a new group of the same name. Its inverse deletes both.
    CreateSystemAccount { name: String, shell: String },
    /// `usermod` of the fields given; `before` holds what they were (its inverse).
    ModifyAccount {
        name: String,
        change: AccountChange,
        #[serde(skip)]
        before: AccountChange,
    },
    /// `userdel` of the account only, never its host home.
    DeleteAccount { name: String },
    /// `groupadd -r` (with `gid` when one is given: a removed group put back).
    CreateGroup {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        gid: Option<u32>,
    },
    /// `groupdel`; `gid` is the one it had, for putting it back (when known).
    DeleteGroup {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        gid: Option<u32>,
    },
    /// `gpasswd -a USER GROUP`.
    AddMember { user: String, group: String },
    /// `gpasswd -d USER GROUP`.
    RemoveMember { user: String, group: String },
    /// A root-owned file outside any jail, through the safe writer (DESIGN §5.11).
    WriteRootFile {
        path: PathBuf,
        content: Content,
        mode: u32,
    },
    /// A jailed user's limits: the slice drop-in `systemd_dir/user-UID.slice.d/50-jailsmith.conf`
    /// (root 0644, through the safe writer), its directory made root 0755 when missing.
    /// `uid` is `"new"` for an account the plan creates (a dry run); `limits` are the
    /// settings of its `[Slice]` section, `KEY=VALUE` (`MemoryMax=150M`).
    WriteSliceDropIn {
        systemd_dir: PathBuf,
        user: String,
        uid: Id,
        #[serde(serialize_with = "slice_settings")]
        limits: Limits,
    },
    /// Removes a root-owned file outside any jail.
    RemoveRootFile { path: PathBuf },
    /// A root-owned directory outside any jail (parents too) when missing; an existing one
    /// must be root's and not group/other-writable.
    MakeHostDir { path: PathBuf, mode: u32 },
    /// Removes an empty directory outside any jail (left when not empty).
    RemoveHostDir { path: PathBuf },
    /// Saves a jail's state record (its JSON, `state::state_file` of the state directory).
    SaveState {
        path: PathBuf,
        #[serde(skip)]
        state_dir: PathBuf,
        #[serde(skip)]
        content: Content,
    },
    /// A file in the jail, descriptor-relative, never through a symlink.
    WriteJailFile {
        path: JailPath,
        content: Content,
        mode: u32,
        owner: Owner,
    },
    /// Removes a file in the jail.
    RemoveJailFile { path: JailPath },
    /// A real directory in the jail with this mode and owner (fixed when it exists); the
    /// owner's ids are `"new"` for an account the plan creates (a dry run). Its inverse
    /// puts back the mode and owner of one that was there, and removes one it made
    /// (`RemoveMade`: only while it is that same, empty directory).
    MakeJailDir {
        path: JailPath,
        mode: u32,
        owner: PlannedOwner,
    },
    /// An account's line in the jail's `path` (etc/passwd), `NAME:x:UID:GID:GECOS:HOME:SHELL`:
    /// it replaces the line of that name (appended when there is none), every other line is
    /// kept, a missing file starts with root's line; root 0644. The ids are `"new"` for an
    /// account the plan creates (a dry run).
    PutPasswdLine {
        path: JailPath,
        name: String,
        uid: Id,
        gid: Id,
        gecos: String,
        home: String,
        shell: String,
    },
    /// A group's line in the jail's `path` (etc/group), `NAME:x:GID:`, as `put_passwd_line`.
    PutGroupLine {
        path: JailPath,
        name: String,
        gid: Id,
    },
    /// A root-owned symlink in the jail holding `target` (`mount`: dev/ptmx → pts/ptmx for
    /// the jail's own devpts), made where nothing is; the same link there already is no
    /// change, anything else is refused. Its inverse removes the link it made.
    MakeJailSymlink { path: JailPath, target: PathBuf },
    /// An empty root-owned 0644 regular file in the jail (`mount`: the placeholder the log
    /// socket is bound onto), made where nothing is; an empty regular file there already is
    /// no change, anything else is refused. Its inverse removes the file it made.
    MakePlaceholder { path: JailPath },
    /// A roll-back's removal of what its run made in the jail (`made`), by descriptor, never
    /// through a symlink: only while the object there is still exactly that one (the same
    /// inode: an empty directory, the link with the same target, the empty regular file);
    /// anything else there is kept, and the roll-back says so. Never in a plan.
    RemoveMade {
        path: JailPath,
        made: MadeObject,
        #[serde(skip)]
        ino: u64,
    },
    /// Removes a directory in the jail and everything below it (a home with
    /// `--delete-home`): by descriptor, never through a symlink, never across a mount. It
    /// cannot be undone.
    RemoveJailTree { path: JailPath },
    /// SIGKILL, by PID, to every process of `uid` (never uid 0), until none is left.
    EndSessions { uid: u32 },
    /// SIGKILL to one process, by PID (a session in a jail being destroyed); one already
    /// gone is no change.
    KillProcess { pid: i32 },
    /// Reloads sshd with `config` as its main file: systemd's unit, or SIGHUP to its
    /// PidFile's pid once that is checked to be an sshd.
    ReloadSshd {
        config: PathBuf,
        #[serde(skip)]
        binary: PathBuf,
        systemd: bool,
    },
    /// `systemctl daemon-reload` (systemd reads slice and unit drop-ins then).
    ReloadSystemd,
    /// `systemctl start UNIT` (`restart` when its unit file changed). Not undone: a
    /// roll-back never stops a service.
    StartUnit { unit: String, restart: bool },
    /// `systemctl enable --quiet UNIT` (`mount --systemd-unit-dir`: linked into the
    /// targets that want it, so it comes back at boot). Its inverse disables it, when it
    /// was not enabled before: a unit enabled before the run stays so.
    EnableUnit { unit: String },
    /// `systemctl disable --quiet UNIT` (a roll-back of its enabling).
    DisableUnit { unit: String },
    /// A mount in the jail at `target` (`mount`), reached by a descriptor opened beneath the
    /// jail root, never through a symlink; what it needs there (its mount point, dev/ptmx,
    /// the log socket's placeholder) is made before, by steps of its own. Its inverse
    /// unmounts exactly the mount it made (by mount ID); one already there is left, its
    /// flags fixed.
    Mount {
        target: JailPath,
        #[serde(flatten)]
        mount: MountKind,
    },
    /// Unmounts the mount with this ID at `target` (`umount`, or a roll-back of `Mount`):
    /// only when the mount there is still that one; never lazily something else, never a
    /// removal. `mount` says what it is (`SRC:DST:ro`, `proc:/proc`).
    Unmount {
        target: JailPath,
        mount: String,
        mount_id: u64,
    },
    /// `systemctl disable --now UNIT` (a jail's service before its unit file goes). It
    /// cannot be undone.
    StopUnit { unit: String },
    /// Removes a jail's (emptied) root directory from its parent, by descriptor: the last
    /// step of `destroy --purge`. It cannot be undone.
    RemoveJailRoot { path: PathBuf },
    /// Unmounts a jail's own mounts below its root before its tree goes: its binds (found
    /// by the identity of their source, wherever they moved) and its own procfs, devpts
    /// and log socket; any other mount there is refused, naming it, and nothing is
    /// unmounted. `mounts` names them as found when planned (`SRC:DST:ro`, `proc:/proc`).
    /// With `under`, only the mounts below that directory of the jail (a home that
    /// `user --remove --delete-home` removes next). It cannot be undone.
    UnmountBinds {
        jail: PathBuf,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        under: Option<JailPath>,
        mounts: Vec<String>,
        #[serde(skip)]
        binds: Vec<crate::mounts::Bind>,
        #[serde(skip)]
        own: crate::mounts::Own,
    },
    /// Removes from a jail's tree what its `rules` say (`plan::removal`): by descriptor,
    /// never through a symlink, never across a mount (`destroy`). It cannot be undone.
    RemoveJailContents {
        jail: PathBuf,
        #[serde(flatten)]
        rules: RemovalRules,
    },
    /// Removes a destroyed jail's SELinux equivalence rule (`semanage fcontext -d`), where
    /// SELinux is enabled. It cannot be undone.
    ForgetLabels { jail: PathBuf },
    /// Removes the shared store's objects that no jail links any more and no state names
    /// (under the store's lock). It cannot be undone.
    CollectStoreGarbage { state_dir: PathBuf },
    /// `check --fix`: on the regular file or directory at `path`, opened without following
    /// a symlink (a symlink or another type there now is refused), clears the mode bits
    /// `clear_bits`, removes its file capabilities (`drop_capability`) and gives it to
    /// root:root (`to_root`). Not undone: it is a repair toward safety.
    TightenJailObject {
        path: JailPath,
        clear_bits: u32,
        drop_capability: bool,
        to_root: bool,
    },
    /// `check --fix`: removes the forbidden object at `path` (outside the users' homes: a
    /// device node, a socket, ld.so.preload, shadow, a refused program), only while it is
    /// still the `expect` kind `check` found; never a directory, never through a symlink.
    /// Not undone: it is a repair toward safety.
    RemoveForbidden { path: JailPath, expect: ObjectKind },
}

impl HostOp {
    /// The verb, as printed in plans.
    pub fn verb(&self) -> &'static str {
        match self {
            HostOp::CreateAccount { .. } | HostOp::CreateSystemAccount { .. } => "useradd",
            HostOp::ModifyAccount { .. } => "usermod",
            HostOp::DeleteAccount { .. } => "userdel",
            HostOp::CreateGroup { .. } => "groupadd",
            HostOp::DeleteGroup { .. } => "groupdel",
            HostOp::AddMember { .. } => "join",
            HostOp::RemoveMember { .. } => "leave",
            HostOp::WriteRootFile { .. }
            | HostOp::WriteJailFile { .. }
            | HostOp::PutPasswdLine { .. }
            | HostOp::PutGroupLine { .. }
            | HostOp::WriteSliceDropIn { .. } => "write",
            HostOp::SaveState { .. } => "save",
            HostOp::RemoveRootFile { .. }
            | HostOp::RemoveJailFile { .. }
            | HostOp::RemoveForbidden { .. } => "remove",
            HostOp::RemoveMade {
                made: MadeObject::Directory,
                ..
            } => "rmdir",
            HostOp::RemoveMade { .. } => "remove",
            HostOp::MakeJailSymlink { .. } => "symlink",
            HostOp::MakePlaceholder { .. } => "touch",
            HostOp::TightenJailObject { .. } => "tighten",
            HostOp::MakeHostDir { .. } | HostOp::MakeJailDir { .. } => "mkdir",
            HostOp::RemoveHostDir { .. } | HostOp::RemoveJailRoot { .. } => "rmdir",
            HostOp::RemoveJailTree { .. } => "rm -r",
            HostOp::EndSessions { .. } | HostOp::KillProcess { .. } => "kill",
            HostOp::ReloadSshd { .. } | HostOp::ReloadSystemd => "reload",
            HostOp::StartUnit { restart: false, .. } => "start",
            HostOp::StartUnit { restart: true, .. } => "restart",
            HostOp::EnableUnit { .. } => "enable",
            HostOp::DisableUnit { .. } => "disable",
            HostOp::Mount { .. } => "mount",
            HostOp::Unmount { .. } => "unmount",
            HostOp::StopUnit { .. } => "stop",
            HostOp::UnmountBinds { .. } => "umount",
            HostOp::RemoveJailContents { .. } => "rm",
            HostOp::ForgetLabels { .. } => "unlabel",
            HostOp::CollectStoreGarbage { .. } => "collect",
        }
    }

    /// What the operation acts on, for plans and roll-back reports (jail paths relative to
    /// the jail root).
    pub fn target(&self) -> String {
        match self {
            HostOp::CreateAccount { name, .. }
            | HostOp::CreateSystemAccount { name, .. }
            | HostOp::ModifyAccount { name, .. }
            | HostOp::DeleteAccount { name } => format!("account {name}"),
            HostOp::CreateGroup { name, .. } | HostOp::DeleteGroup { name, .. } => {
                format!("group {name}")
            }
            HostOp::AddMember { user, group } | HostOp::RemoveMember { user, group } => {
                format!("{user}'s membership of {group}")
            }
            HostOp::WriteRootFile { path, .. }
            | HostOp::RemoveRootFile { path }
            | HostOp::MakeHostDir { path, .. }
            | HostOp::RemoveHostDir { path }
            | HostOp::SaveState { path, .. }
            | HostOp::RemoveJailRoot { path } => path.display().to_string(),
            HostOp::UnmountBinds { jail, under, .. } => match under {
                Some(dir) => format!("the mounts below {dir} in {}", jail.display()),
                None => format!("the mounts below {}", jail.display()),
            },
            HostOp::RemoveJailContents { jail, .. } => format!("the tree of {}", jail.display()),
            HostOp::ForgetLabels { jail } => format!("the SELinux labels of {}", jail.display()),
            HostOp::CollectStoreGarbage { state_dir } => {
                format!("the store of {}", state_dir.display())
            }
            HostOp::WriteSliceDropIn {
                systemd_dir, uid, ..
            } => match uid {
                Id::Assigned(n) => slice_dropin(systemd_dir, *n).display().to_string(),
                Id::New => format!(
                    "{}/user-(new uid).slice.d/50-jailsmith.conf",
                    systemd_dir.display()
                ),
            },
            HostOp::PutPasswdLine { path, name, .. } | HostOp::PutGroupLine { path, name, .. } => {
                format!("{path} ({name}'s line)")
            }
            HostOp::WriteJailFile { path, .. }
            | HostOp::RemoveJailFile { path }
            | HostOp::MakeJailDir { path, .. }
            | HostOp::RemoveJailTree { path }
            | HostOp::TightenJailObject { path, .. }
            | HostOp::RemoveForbidden { path, .. }
            | HostOp::MakeJailSymlink { path, .. }
            | HostOp::MakePlaceholder { path }
            | HostOp::RemoveMade { path, .. } => path.to_string(),
            HostOp::EndSessions { uid } => format!("processes of uid {uid}"),
            HostOp::KillProcess { pid } => format!("pid {pid}"),
            HostOp::ReloadSshd { config, .. } => format!("sshd ({})", config.display()),
            HostOp::ReloadSystemd => "systemd".into(),
            HostOp::StartUnit { unit, .. } | HostOp::StopUnit { unit } => unit.clone(),
            HostOp::EnableUnit { unit } | HostOp::DisableUnit { unit } => unit.clone(),
            HostOp::Mount { target, .. } | HostOp::Unmount { target, .. } => target.to_string(),
        }
    }

    /// The in-jail path it acts on, for the operations inside a jail.
    pub fn jail_path(&self) -> Option<&JailPath> {
        match self {
            HostOp::WriteJailFile { path, .. }
            | HostOp::RemoveJailFile { path }
            | HostOp::MakeJailDir { path, .. }
            | HostOp::RemoveJailTree { path }
            | HostOp::PutPasswdLine { path, .. }
            | HostOp::PutGroupLine { path, .. }
            | HostOp::Mount { target: path, .. }
            | HostOp::Unmount { target: path, .. }
            | HostOp::TightenJailObject { path, .. }
            | HostOp::RemoveForbidden { path, .. }
            | HostOp::MakeJailSymlink { path, .. }
            | HostOp::MakePlaceholder { path }
            | HostOp::RemoveMade { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// The slice drop-in of `uid` under `systemd_dir`.
pub fn slice_dropin(systemd_dir: &std::path::Path, uid: u32) -> PathBuf {
    systemd_dir.join(crate::limits::slice_dropin_relpath(uid))
}

/// A host operation and why the plan holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostStep {
    #[serde(flatten)]
    pub op: HostOp,
    pub reason: String,
}

impl HostStep {
    pub fn new(op: HostOp, reason: impl Into<String>) -> Self {
        HostStep {
            op,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_never_shows_a_password_hash() {
        let back = HostOp::ModifyAccount {
            name: "imsad".into(),
            change: AccountChange {
                password: Some("$6$salt$hash".into()),
                ..Default::default()
            },
            before: AccountChange::default(),
        };
        let json = serde_json::to_string(&back).unwrap();
        assert!(!json.contains("$6$"), "{json}");
        let forward = HostOp::ModifyAccount {
            name: "imsad".into(),
            change: AccountChange {
                password: Some("*".into()),
                ..Default::default()
            },
            before: AccountChange {
                password: Some("$6$salt$hash".into()),
                ..Default::default()
            },
        };
        let json = serde_json::to_value(&forward).unwrap();
        assert!(!json.to_string().contains("$6$"), "{json}");
        assert_eq!(json["op"], "modify_account");
        assert_eq!(json["change"]["password"], "*");
    }

    #[test]
    fn steps_are_data_with_their_reason() {
        let s = HostStep::new(
            HostOp::WriteRootFile {
                path: "/etc/ssh/authorized_keys/imsad".into(),
                content: "ssh-ed25519 AAAA k\n".into(),
                mode: 0o644,
            },
            "the keys imsad logs in with",
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["op"], "write_root_file");
        assert_eq!(json["reason"], "the keys imsad logs in with");
        assert_eq!(json["mode"], 0o644);
        assert_eq!(s.op.target(), "/etc/ssh/authorized_keys/imsad");
    }

    #[test]
    fn ids_still_to_be_allocated_show_as_new() {
        let dir = |uid: Id| HostOp::MakeJailDir {
            path: JailPath::new("home/u1").unwrap(),
            mode: 0o700,
            owner: PlannedOwner { uid, gid: uid },
        };
        let known = serde_json::to_value(dir(Id::Assigned(1500))).unwrap();
        assert_eq!(
            known["owner"],
            serde_json::json!({"uid": 1500, "gid": 1500})
        );
        let new = serde_json::to_value(dir(Id::New)).unwrap();
        assert_eq!(
            new["owner"],
            serde_json::json!({"uid": "new", "gid": "new"})
        );
        let slice = HostOp::WriteSliceDropIn {
            systemd_dir: "/etc/systemd/system".into(),
            user: "u1".into(),
            uid: Id::New,
            limits: Limits::default(),
        };
        assert_eq!(
            slice.target(),
            "/etc/systemd/system/user-(new uid).slice.d/50-jailsmith.conf"
        );
        assert_eq!(serde_json::to_value(&slice).unwrap()["uid"], "new");
    }
}
