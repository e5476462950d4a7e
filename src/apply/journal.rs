//! The one rollback journal: runs host operations (`plan::HostOp`) through the host layer —
//! `System` outside jails, `Host` inside one — records each one's inverse, and on failure
//! undoes them newest first, saying what was undone and what could not be. With a dry run
//! it only collects the steps: the plan a command prints. A jail's build plan (`plan::Plan`)
//! runs through it too (`Journal::apply_plan`, on the build executor): a build is never
//! undone, and a roll-back says that the jail's files were kept and why.

use std::path::Path;

use crate::account::AccountError;
use crate::account::hostdb::PasswdEntry;
use crate::account::jaildb;
use crate::account::useradd::{self, Wanted};
use crate::apply::EntryKind;
use crate::apply::executor::{self, ApplyOptions, ApplyReport};
use crate::apply::host::{Host, HostError};
use crate::apply::rootfile::{self, Durability, RootFileError};
use crate::plan::hostops::{self, HostOp, HostStep, Id, MadeObject, ObjectKind};
use crate::plan::{JailPath, Op, Owner, Plan};
use crate::sshd::SshdError;
use crate::state::{Manifest, StateError};

/// A failure of one host operation, carrying the error of the module that failed.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    Jail(#[from] HostError),
    #[error(transparent)]
    RootFile(#[from] RootFileError),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Sshd(#[from] SshdError),
    #[error(transparent)]
    State(#[from] StateError),
    /// A mount or unmount in a jail, or a jail's mounts that could not be cleared before
    /// its tree's removal.
    #[error(transparent)]
    Mount(#[from] crate::apply::binds::MountError),
    /// A program that reported failure (`systemctl daemon-reload`).
    #[error("{program} failed: {why}")]
    Program { program: String, why: String },
    /// A signal that could not be sent.
    #[error(transparent)]
    Signal(#[from] crate::apply::signal::SignalError),
    /// A jail's root that could not be removed (`destroy --purge`).
    #[error("cannot remove {}: {error}", jail.display())]
    RemoveRoot {
        jail: std::path::PathBuf,
        error: HostError,
    },
    /// An SELinux step that failed (`destroy`'s label cleanup).
    #[error("SELinux: {0}")]
    Selinux(#[from] crate::selinux::SelinuxError),
    /// An operation inside a jail when no jail is open.
    #[error("cannot {op} {path}: no jail is open")]
    NoJail { op: &'static str, path: String },
    /// An operation of a dry run's plan, whose account's uid or gid is still to be
    /// allocated, given to be performed.
    #[error("cannot {op} {target}: its account's uid/gid is not allocated yet")]
    Unallocated { op: &'static str, target: String },
}

impl OpError {
    /// The exit code of this failure class (`crate::exit`): that of the module that failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            OpError::Jail(e) => e.exit_code(),
            OpError::RootFile(e) => e.exit_code(),
            OpError::Account(e) => e.code(),
            OpError::Sshd(e) => e.code(),
            OpError::State(e) => crate::exit::Classify::class(e).code(),
            OpError::Signal(e) => crate::exit::Classify::class(e).code(),
            OpError::RemoveRoot { error, .. } => error.exit_code(),
            OpError::Mount(e) => e.exit_code(),
            OpError::Program { .. }
            | OpError::NoJail { .. }
            | OpError::Selinux(_)
            | OpError::Unallocated { .. } => crate::exit::HOST_FAILURE,
        }
    }
}

/// What one operation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Performed {
    /// False when the host already was as asked (nothing to undo).
    pub changed: bool,
    /// One line on what was done, when there is more to say (pids killed, how sshd reloaded).
    pub detail: Option<String>,
    /// What a jail's unmount took off (`UnmountBinds`: `SRC:DST:ro`, `proc:/proc`).
    pub unmounted: Vec<String>,
    /// What a jail's tree removal removed and kept (`RemoveJailContents`).
    pub removal: Option<crate::apply::tree::Removal>,
    /// Why a roll-back's removal of what its run made left it (`RemoveMade`: it is no
    /// longer exactly what was made).
    pub kept: Option<String>,
}

impl Performed {
    fn changed(changed: bool) -> Self {
        Performed {
            changed,
            ..Default::default()
        }
    }
}

/// The host outside jails, as the journal uses it: reading a root-owned file (to know what
/// a write replaces) and performing the operations that are not inside a jail. The Linux
/// implementation is `LinuxSystem`; unit tests substitute a recording fake.
pub trait System {
    /// A root-owned regular file's content and mode, None when absent; a symlink or other
    /// type there is refused.
    fn root_file(&self, path: &Path) -> Result<Option<(Vec<u8>, u32)>, OpError>;
    /// Performs one operation that is not inside a jail.
    fn perform(&self, op: &HostOp) -> Result<Performed, OpError>;
    /// Whether systemd has `unit` enabled (`systemctl is-enabled`): what an enabling puts
    /// back.
    fn unit_enabled(&self, unit: &str) -> Result<bool, OpError>;
}

/// The Linux host: shadow-utils by absolute path with a cleared environment, the one safe
/// writer for root files, signals by PID, sshd's and systemd's reloads.
pub struct LinuxSystem;

impl System for LinuxSystem {
    fn root_file(&self, path: &Path) -> Result<Option<(Vec<u8>, u32)>, OpError> {
        let Some(bytes) = rootfile::read(path)? else {
            return Ok(None);
        };
        use std::os::unix::fs::MetadataExt;
        let mode = std::fs::symlink_metadata(path).map_or(0o644, |m| m.mode() & 0o777);
        Ok(Some((bytes, mode)))
    }

    fn perform(&self, op: &HostOp) -> Result<Performed, OpError> {
        let tool = |program: &str, argv: Vec<String>| -> Result<Performed, OpError> {
            useradd::run(program, &argv)?;
            Ok(Performed::changed(true))
        };
        match op {
            HostOp::CreateAccount {
                name,
                home,
                shell,
                uid,
                existing_group,
            } => {
                let w = Wanted {
                    name: name.clone(),
                    home: home.clone(),
                    shell: shell.clone(),
                    uid: *uid,
                };
                tool("useradd", useradd::create_argv(&w, *existing_group))
            }
            HostOp::CreateSystemAccount { name, shell } => {
                tool("useradd", useradd::system_argv(name, shell))
            }
            HostOp::ModifyAccount { name, change, .. } => {
                // the password field goes through stdin: a hash put back by a roll-back
                // must not show on a command line
                let mut fields = change.clone();
                let password = fields.password.take();
                if !fields.is_empty() {
                    tool("usermod", useradd::modify_argv(name, &fields))?;
                }
                if let Some(p) = password {
                    crate::account::batch::set_password(name, &p)?;
                }
                Ok(Performed::changed(true))
            }
            HostOp::DeleteAccount { name } => tool("userdel", useradd::delete_argv(name)),
            HostOp::CreateGroup { name, gid } => {
                tool("groupadd", useradd::groupadd_argv(name, *gid))
            }
            HostOp::DeleteGroup { name, .. } => {
                // userdel takes a user group with its account: then there is nothing left
                let gone = crate::account::hostdb::HostDb::default()
                    .group_index()?
                    .by_name(name)
                    .is_none();
                if gone {
                    return Ok(Performed::changed(false));
                }
                tool("groupdel", useradd::groupdel_argv(name))
            }
            HostOp::AddMember { user, group } => {
                tool("gpasswd", useradd::gpasswd_argv(user, group, true))
            }
            HostOp::RemoveMember { user, group } => {
                tool("gpasswd", useradd::gpasswd_argv(user, group, false))
            }
            HostOp::WriteRootFile {
                path,
                content,
                mode,
            } => {
                rootfile::write(path, content.as_bytes(), *mode, Durability::Fsync)?;
                Ok(Performed::changed(true))
            }
            HostOp::RemoveRootFile { path } => Ok(Performed::changed(rootfile::remove(path)?)),
            HostOp::MakeHostDir { path, mode } => {
                Ok(Performed::changed(rootfile::ensure_dir(path, *mode)?))
            }
            HostOp::RemoveHostDir { path } => {
                Ok(Performed::changed(rootfile::remove_empty_dir(path)?))
            }
            HostOp::SaveState {
                path,
                state_dir,
                content,
            } => {
                crate::state::save_json(state_dir, path, content.as_bytes())?;
                Ok(Performed::changed(true))
            }
            HostOp::EndSessions { uid } => {
                let killed = crate::account::sessions::end_sessions(*uid)?;
                Ok(Performed {
                    changed: !killed.is_empty(),
                    detail: Some(format!("killed pids {killed:?}")),
                    ..Default::default()
                })
            }
            HostOp::ReloadSshd {
                config,
                binary,
                systemd,
            } => {
                let sshd = crate::sshd::validate::Sshd {
                    binary: binary.clone(),
                    main: config.clone(),
                };
                let how = crate::sshd::reload::reload(&sshd, *systemd)?;
                Ok(Performed {
                    changed: true,
                    detail: Some(how),
                    ..Default::default()
                })
            }
            HostOp::ReloadSystemd => systemctl(&["daemon-reload"]),
            HostOp::StartUnit { unit, restart } => {
                let verb = if *restart { "restart" } else { "start" };
                systemctl(&[verb, unit])
            }
            HostOp::EnableUnit { unit } => systemctl(&["enable", "--quiet", unit]),
            HostOp::DisableUnit { unit } => systemctl(&["disable", "--quiet", unit]),
            HostOp::StopUnit { unit } => systemctl(&["disable", "--now", unit]),
            HostOp::KillProcess { pid } => match crate::apply::signal::kill_process(*pid) {
                Ok(()) => Ok(Performed::changed(true)),
                Err(crate::apply::signal::SignalError::Sys {
                    source: nix::Error::ESRCH,
                    ..
                }) => Ok(Performed::changed(false)),
                Err(e) => Err(e.into()),
            },
            HostOp::RemoveJailRoot { path } => {
                let failed = |error| OpError::RemoveRoot {
                    jail: path.clone(),
                    error,
                };
                let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                    return Err(OpError::Program {
                        program: format!("rmdir {}", path.display()),
                        why: "refusing to remove a root without a parent".into(),
                    });
                };
                let p = crate::apply::LinuxHost::open(parent, false).map_err(failed)?;
                p.remove_empty_child(name).map_err(failed)?;
                Ok(Performed::changed(true))
            }
            HostOp::UnmountBinds {
                jail,
                under,
                binds,
                own,
                ..
            } => {
                let host = crate::apply::LinuxHost::open(jail, false)?;
                let unmounted = crate::apply::binds::clear_for_removal(
                    &host,
                    binds,
                    *own,
                    under.as_ref(),
                    false,
                )?;
                Ok(Performed {
                    changed: !unmounted.is_empty(),
                    unmounted,
                    ..Default::default()
                })
            }
            HostOp::RemoveJailContents { jail, rules } => {
                let host = crate::apply::LinuxHost::open(jail, false)?;
                // never across a mount: one left or made since the unmount is refused
                // (and the walk itself never enters another mount)
                crate::apply::binds::refuse_foreign(
                    &host,
                    &[],
                    crate::mounts::Own::default(),
                    None,
                )?;
                let gone = host.remove_below(&|p, dir| rules.decide(p, dir), false)?;
                Ok(Performed {
                    changed: gone.files + gone.dirs > 0,
                    removal: Some(gone),
                    ..Default::default()
                })
            }
            HostOp::ForgetLabels { jail } => {
                let ran = crate::selinux::unlabel_jail(&crate::selinux::RealSelinux, jail)?;
                Ok(Performed {
                    changed: !ran.is_empty(),
                    detail: (!ran.is_empty()).then(|| ran.join("\n")),
                    ..Default::default()
                })
            }
            HostOp::CollectStoreGarbage { state_dir } => {
                let keep = || crate::state::store_objects_named(state_dir);
                let done = crate::apply::store::collect(state_dir, &keep)?;
                Ok(Performed {
                    changed: !done.removed.is_empty(),
                    detail: done.describe(),
                    ..Default::default()
                })
            }
            // the journal performs it as the directory and the file it names
            HostOp::WriteSliceDropIn { .. } => Err(OpError::Program {
                program: format!("write {}", op.target()),
                why: "a slice drop-in is written through the journal".into(),
            }),
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
            | HostOp::RemoveMade { path, .. } => Err(OpError::NoJail {
                op: op.verb(),
                path: path.to_string(),
            }),
        }
    }

    fn unit_enabled(&self, unit: &str) -> Result<bool, OpError> {
        let failed = |why: String| OpError::Program {
            program: format!("systemctl is-enabled {unit}"),
            why,
        };
        let program = crate::hostinfo::find_program("systemctl")
            .ok_or_else(|| failed("no systemctl on this host".into()))?;
        // exit 0: enabled (or static, linked, an alias…); anything else: not enabled
        let out = crate::apply::process::run(&program, &["is-enabled", "--quiet", unit])
            .map_err(|e| failed(format!("{}: {e}", program.display())))?;
        Ok(out.status.success())
    }
}

/// The error of performing `op` while an id it needs is still to be allocated.
fn unallocated(op: &HostOp) -> OpError {
    OpError::Unallocated {
        op: op.verb(),
        target: op.target(),
    }
}

/// `systemctl ARGS…` (`daemon-reload`, `start UNIT`, `enable --quiet UNIT`).
fn systemctl(args: &[&str]) -> Result<Performed, OpError> {
    let failed = |why: String| OpError::Program {
        program: format!("systemctl {}", args.join(" ")),
        why,
    };
    let program = crate::hostinfo::find_program("systemctl")
        .ok_or_else(|| failed("no systemctl on this host".into()))?;
    let out = crate::apply::process::run(&program, args)
        .map_err(|e| failed(format!("{}: {e}", program.display())))?;
    if !out.status.success() {
        return Err(failed(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(Performed::changed(true))
}

/// How to put one executed operation back.
enum Undo {
    /// The operation changed nothing, or there is nothing to put back (a reload, a signal).
    Nothing,
    /// Run this operation.
    Op(HostOp),
    /// Run these operations in order (an account and the group made with it).
    Ops(Vec<HostOp>),
    /// Run this operation again once everything else is undone (a reload: the daemon must
    /// read the files as the roll-back left them, not as they were when it reloaded).
    Again(HostOp),
    /// It cannot be put back (a deleted account); a roll-back says so.
    Impossible,
    /// It is kept on purpose, for this reason (a jail's build: finished forward by the next
    /// build, never undone); a roll-back says so.
    Kept(String),
}

/// What a roll-back did: the targets put back and those that could not be, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RolledBack {
    pub undone: Vec<String>,
    pub failed: Vec<String>,
    /// What was left as it is on purpose, with why (a jail's build), newest first.
    pub kept: Vec<String>,
    /// What the run made and the roll-back left because it is no longer what was made
    /// (`what: why`).
    pub left: Vec<String>,
}

impl RolledBack {
    /// True when there is nothing to say: nothing undone, failed, kept or left.
    pub fn is_empty(&self) -> bool {
        self.undone.is_empty()
            && self.failed.is_empty()
            && self.kept.is_empty()
            && self.left.is_empty()
    }

    /// What an error says after its own message: the targets undone, each named once (a
    /// file written several times is put back once per write; `nothing` when none was),
    /// then a line naming what was kept on purpose, a line naming what the run made and
    /// left because it is no longer what was made, and, when some could not be undone, a
    /// line naming them.
    pub fn summary(&self) -> (String, String) {
        let mut undone: Vec<&str> = Vec::new();
        for what in &self.undone {
            if !undone.contains(&what.as_str()) {
                undone.push(what);
            }
        }
        let mut rest = String::new();
        if !self.kept.is_empty() {
            rest += &format!("\n  kept (not rolled back): {}", self.kept.join("; "));
        }
        if !self.left.is_empty() {
            rest += &format!(
                "\n  kept, no longer what this run made: {}",
                self.left.join("; ")
            );
        }
        if !self.failed.is_empty() {
            rest += &format!("\n  could NOT roll back: {}", self.failed.join("; "));
        }
        let undone = if undone.is_empty() {
            "nothing".to_string()
        } else {
            undone.join(", ")
        };
        (undone, rest)
    }
}

/// The run in progress: every step given (the plan), and how to undo those done.
pub struct Journal<'s> {
    system: &'s dyn System,
    dry: bool,
    steps: Vec<HostStep>,
    /// (what, how to undo it), oldest first.
    undo: Vec<(String, Undo)>,
}

impl<'s> Journal<'s> {
    /// A journal that performs through `system` (or, with `dry`, only collects the steps).
    pub fn new(system: &'s dyn System, dry: bool) -> Self {
        Journal {
            system,
            dry,
            steps: Vec::new(),
            undo: Vec::new(),
        }
    }

    /// The steps given so far, in order: what was done (or, in a dry run, would be).
    pub fn steps(&self) -> &[HostStep] {
        &self.steps
    }

    pub fn into_steps(self) -> Vec<HostStep> {
        self.steps
    }

    /// Performs `step` (operations inside a jail through `jail`) and records its inverse;
    /// in a dry run only records the step. Returns what was done.
    pub fn execute(
        &mut self,
        jail: Option<&dyn Host>,
        step: HostStep,
    ) -> Result<Performed, OpError> {
        if self.dry {
            self.steps.push(step);
            return Ok(Performed::default());
        }
        let what = describe(jail, &step.op);
        let (done, undo) = match step.op.jail_path() {
            Some(_) => {
                let host = jail.ok_or_else(|| OpError::NoJail {
                    op: step.op.verb(),
                    path: what.clone(),
                })?;
                perform_in_jail(host, &step.op)?
            }
            None => self.perform_outside(&step.op)?,
        };
        self.steps.push(step);
        if done.changed && !matches!(undo, Undo::Nothing) {
            self.undo.push((what, undo));
        }
        Ok(done)
    }

    /// Applies a jail's build plan through `host` with the build executor: secures the jail
    /// root (sshd's ChrootDirectory demands), first removes the temporaries an
    /// `interrupted` run left in the plan's directories (`ApplyReport::swept` counts them),
    /// then walks the plan (`executor::apply`, against the `previous` manifest). The jail's
    /// steps are not added to `steps()` (a command's plan lists its host steps; the build's
    /// are its own plan). A build is never undone: an interrupted or failed one is finished
    /// forward by the next build, from the state's in-progress record. So when the build
    /// changed the jail (or failed part-way), the journal records that its files are kept,
    /// and a later roll-back says so. A dry journal applies nothing: it refuses.
    pub fn apply_plan(
        &mut self,
        host: &dyn Host,
        plan: &Plan,
        previous: &Manifest,
        interrupted: bool,
        opts: &ApplyOptions,
    ) -> Result<ApplyReport, HostError> {
        let root = host.root().to_path_buf();
        if self.dry {
            return Err(HostError::Io {
                jail: root,
                path: "/".into(),
                op: "apply a build plan in a dry run to",
                source: std::io::ErrorKind::Unsupported.into(),
            });
        }
        let what = format!("the jail's files at {}", root.display());
        let result: Result<(bool, ApplyReport), HostError> = (|| {
            let secured = host.secure_root()?;
            let swept = match interrupted {
                true => sweep(host, plan)?,
                false => 0,
            };
            let mut report = executor::apply(plan, host, previous, opts)?;
            report.swept = swept;
            Ok((secured, report))
        })();
        let why = match &result {
            Ok((secured, report)) if *secured || !report.is_unchanged() => {
                "this run's build is not undone: the state records what it placed, and \
                 'jailsmith check' and the next build go on from there"
            }
            Ok(_) => return result.map(|(_, r)| r),
            Err(_) => {
                "a build is not undone: the next build finishes it, from the state's record \
                 of the build in progress"
            }
        };
        self.undo.push((what, Undo::Kept(why.into())));
        result.map(|(_, r)| r)
    }

    /// Forgets every inverse: what follows cannot be rolled back, and what came before
    /// stays (a removal past its point of no return).
    pub fn commit(&mut self) {
        self.undo.clear();
    }

    /// Records `step` as done elsewhere (`apply`'s account batch made the accounts in one
    /// run) with `undo`, the operations that put it back, run in order on a roll-back.
    pub fn record_done(&mut self, step: HostStep, undo: Vec<HostOp>) {
        let what = step.op.target();
        self.steps.push(step);
        if !self.dry && !undo.is_empty() {
            self.undo.push((what, Undo::Ops(undo)));
        }
    }

    /// Forgets the inverses of what was done to `target` (as `HostOp::target` names it:
    /// `account NAME`): that stays whatever happens next; the rest still rolls back.
    pub fn commit_target(&mut self, target: &str) {
        self.undo.retain(|(what, _)| what != target);
    }

    /// Undoes every recorded operation, newest first (jail ones through `jail`), and says
    /// what was undone and what could not be. The journal is empty afterwards.
    pub fn roll_back(&mut self, jail: Option<&dyn Host>) -> RolledBack {
        let mut out = RolledBack::default();
        let mut again: Vec<(String, HostOp)> = Vec::new();
        let mut todo: Vec<(String, HostOp)> = Vec::new();
        while let Some((what, undo)) = self.undo.pop() {
            match undo {
                Undo::Nothing => {}
                Undo::Impossible => out.failed.push(format!("{what}: cannot be undone")),
                Undo::Kept(why) => out.kept.push(format!("{what}: {why}")),
                Undo::Op(op) => todo.push((what, op)),
                Undo::Ops(ops) => todo.extend(ops.into_iter().map(|op| (op.target(), op))),
                Undo::Again(op) => {
                    if !again.iter().any(|(_, o)| *o == op) {
                        again.push((what, op));
                    }
                }
            }
        }
        for (what, op) in todo.into_iter().chain(again) {
            let r = match op.jail_path() {
                Some(_) => match jail {
                    Some(h) => perform_in_jail(h, &op).map(|(done, _)| done),
                    None => Err(OpError::NoJail {
                        op: op.verb(),
                        path: what.clone(),
                    }),
                },
                None => self.system.perform(&op),
            };
            match r {
                Ok(Performed {
                    kept: Some(why), ..
                }) => out.left.push(format!("{what}: {why}")),
                Ok(_) => out.undone.push(what),
                Err(e) => out.failed.push(format!("{what}: {e}")),
            }
        }
        out
    }

    /// Performs an operation outside jails, with its inverse (reading what it replaces).
    fn perform_outside(&self, op: &HostOp) -> Result<(Performed, Undo), OpError> {
        let restore =
            |path: &Path, before: Option<(Vec<u8>, u32)>| Undo::Op(restore_op(path, before));
        let undo = match op {
            HostOp::CreateAccount { name, .. } => {
                Undo::Op(HostOp::DeleteAccount { name: name.clone() })
            }
            HostOp::CreateSystemAccount { name, .. } => Undo::Ops(vec![
                HostOp::DeleteAccount { name: name.clone() },
                HostOp::DeleteGroup {
                    name: name.clone(),
                    gid: None,
                },
            ]),
            HostOp::ModifyAccount {
                name,
                change,
                before,
            } => Undo::Op(HostOp::ModifyAccount {
                name: name.clone(),
                change: before.clone(),
                before: change.clone(),
            }),
            HostOp::DeleteAccount { .. } => Undo::Impossible,
            HostOp::CreateGroup { name, .. } => Undo::Op(HostOp::DeleteGroup {
                name: name.clone(),
                gid: None,
            }),
            HostOp::DeleteGroup { name, gid } => match gid {
                Some(g) => Undo::Op(HostOp::CreateGroup {
                    name: name.clone(),
                    gid: Some(*g),
                }),
                None => Undo::Impossible,
            },
            HostOp::AddMember { user, group } => Undo::Op(HostOp::RemoveMember {
                user: user.clone(),
                group: group.clone(),
            }),
            HostOp::RemoveMember { user, group } => Undo::Op(HostOp::AddMember {
                user: user.clone(),
                group: group.clone(),
            }),
            HostOp::WriteRootFile { path, .. } | HostOp::SaveState { path, .. } => {
                restore(path, self.system.root_file(path)?)
            }
            HostOp::WriteSliceDropIn {
                systemd_dir,
                user,
                uid,
                limits,
            } => {
                let uid = uid.assigned().ok_or_else(|| unallocated(op))?;
                let text = crate::limits::render_slice_dropin(user, uid, limits);
                return self.write_in_dir(&hostops::slice_dropin(systemd_dir, uid), text);
            }
            HostOp::RemoveRootFile { path } => match self.system.root_file(path)? {
                Some(before) => restore(path, Some(before)),
                None => Undo::Nothing,
            },
            HostOp::MakeHostDir { path, .. } => {
                Undo::Op(HostOp::RemoveHostDir { path: path.clone() })
            }
            HostOp::RemoveHostDir { path } => Undo::Op(HostOp::MakeHostDir {
                path: path.clone(),
                mode: 0o755,
            }),
            HostOp::EndSessions { .. } | HostOp::KillProcess { .. } => Undo::Nothing,
            HostOp::EnableUnit { unit } | HostOp::DisableUnit { unit } => {
                let was = self.system.unit_enabled(unit)?;
                match (op, was) {
                    (HostOp::EnableUnit { .. }, false) => {
                        Undo::Op(HostOp::DisableUnit { unit: unit.clone() })
                    }
                    (HostOp::DisableUnit { .. }, true) => {
                        Undo::Op(HostOp::EnableUnit { unit: unit.clone() })
                    }
                    _ => Undo::Nothing,
                }
            }
            HostOp::StartUnit { .. }
            | HostOp::StopUnit { .. }
            | HostOp::RemoveJailRoot { .. }
            | HostOp::UnmountBinds { .. }
            | HostOp::RemoveJailContents { .. }
            | HostOp::ForgetLabels { .. }
            | HostOp::CollectStoreGarbage { .. } => Undo::Impossible,
            HostOp::ReloadSshd { .. } | HostOp::ReloadSystemd => Undo::Again(op.clone()),
            HostOp::WriteJailFile { .. }
            | HostOp::RemoveJailFile { .. }
            | HostOp::MakeJailDir { .. }
            | HostOp::RemoveJailTree { .. }
            | HostOp::PutPasswdLine { .. }
            | HostOp::PutGroupLine { .. }
            | HostOp::Mount { .. }
            | HostOp::Unmount { .. }
            | HostOp::TightenJailObject { .. }
            | HostOp::RemoveForbidden { .. }
            | HostOp::MakeJailSymlink { .. }
            | HostOp::MakePlaceholder { .. }
            | HostOp::RemoveMade { .. } => Undo::Nothing,
        };
        Ok((self.system.perform(op)?, undo))
    }

    /// Writes the root file `path` (0644) with `text`, its directory made root 0755 when
    /// missing; the inverse puts the file back (or removes it) and removes the directory it
    /// made. A write that fails takes the directory it made away again.
    fn write_in_dir(&self, path: &Path, text: String) -> Result<(Performed, Undo), OpError> {
        let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        let make_dir = HostOp::MakeHostDir {
            path: dir.clone(),
            mode: 0o755,
        };
        let made_dir = self.system.perform(&make_dir)?.changed;
        let remove_dir = HostOp::RemoveHostDir { path: dir };
        let written = self.system.root_file(path).and_then(|before| {
            let write = HostOp::WriteRootFile {
                path: path.to_path_buf(),
                content: text.into(),
                mode: 0o644,
            };
            Ok((self.system.perform(&write)?, before))
        });
        let (done, before) = match written {
            Ok(w) => w,
            Err(e) => {
                if made_dir {
                    let _ = self.system.perform(&remove_dir);
                }
                return Err(e);
            }
        };
        let mut undo = vec![restore_op(path, before)];
        if made_dir {
            undo.push(remove_dir);
        }
        Ok((done, Undo::Ops(undo)))
    }
}

/// Removes the temporaries an interrupted run may have left in the jail root and the plan's
/// directories (one not there yet holds none); returns how many.
fn sweep(host: &dyn Host, plan: &Plan) -> Result<usize, HostError> {
    let mut n = host.sweep_temporaries(None)?;
    for step in &plan.steps {
        if let Op::MakeDir { path, .. } = &step.op {
            match host.sweep_temporaries(Some(path)) {
                Ok(k) => n += k,
                Err(HostError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(n)
}

/// The operation that puts the root file `path` back as it was (`before`: its content and
/// mode, None when there was none).
fn restore_op(path: &Path, before: Option<(Vec<u8>, u32)>) -> HostOp {
    match before {
        Some((bytes, mode)) => HostOp::WriteRootFile {
            path: path.to_path_buf(),
            content: bytes.into(),
            mode,
        },
        None => HostOp::RemoveRootFile {
            path: path.to_path_buf(),
        },
    }
}

/// An operation's target for messages: jail paths as the host sees them (never used to
/// reach the file).
fn describe(jail: Option<&dyn Host>, op: &HostOp) -> String {
    match (op.jail_path(), jail) {
        (Some(p), Some(h)) => format!("{}{p}", h.root().display()),
        _ => op.target(),
    }
}

/// What a mount is, as `mount` and `umount` report it: `SRC:DST:ro|rw`, `proc:/proc`,
/// `devpts:/dev/pts`, `log:SOCKET:/dev/log`.
pub fn describe_mount(target: &JailPath, mount: &crate::plan::MountKind) -> String {
    use crate::plan::MountKind;
    match mount {
        MountKind::Bind { source, rw } => crate::mounts::Bind {
            src: source.clone(),
            dst: target.clone(),
            rw: *rw,
        }
        .to_string(),
        MountKind::Proc => format!("proc:{target}"),
        MountKind::Devpts { .. } => format!("devpts:{target}"),
        MountKind::Log { source } => format!("log:{}:{target}", source.display()),
    }
}

/// The directory `path` with the mode and owner of `m` (what it was).
fn dir_as(path: &JailPath, m: &crate::apply::Meta) -> HostOp {
    HostOp::MakeJailDir {
        path: path.clone(),
        mode: m.mode,
        owner: Owner {
            uid: m.uid,
            gid: m.gid,
        }
        .into(),
    }
}

/// The jail's `path` with `line` as the line of `key` (replacing it, or appended; a missing
/// file starts as `empty`), root 0644; no change when it already is so.
fn put_line(
    host: &dyn Host,
    path: &JailPath,
    key: &str,
    line: &str,
    empty: &str,
) -> Result<(Performed, Undo), OpError> {
    let before = match host.stat(path)? {
        Some(_) => Some(String::from_utf8_lossy(&host.read_file(path)?).into_owned()),
        None => None,
    };
    // in the order every writer of the jail's files keeps (root first, then by name)
    let text = jaildb::in_order(&jaildb::upsert(
        before.as_deref().unwrap_or(empty),
        key,
        line,
    ));
    if before.as_deref() == Some(text.as_str()) {
        return Ok((Performed::changed(false), Undo::Nothing));
    }
    let write = HostOp::WriteJailFile {
        path: path.clone(),
        content: text.into(),
        mode: 0o644,
        owner: Owner::ROOT,
    };
    perform_in_jail(host, &write)
}

/// The plan's name for the kind of object `kind` is.
fn object_kind(kind: &crate::apply::EntryKind) -> ObjectKind {
    use crate::apply::EntryKind as E;
    match kind {
        E::File => ObjectKind::File,
        E::Dir => ObjectKind::Directory,
        E::Symlink { .. } => ObjectKind::Symlink,
        E::CharDevice { .. } => ObjectKind::CharDevice,
        E::BlockDevice => ObjectKind::BlockDevice,
        E::Fifo => ObjectKind::Fifo,
        E::Socket => ObjectKind::Socket,
    }
}

/// The inverse of making `made` at `path` (just made, by this run): its removal while it is
/// still that object, the inode it has now.
fn made(host: &dyn Host, path: &JailPath, made: MadeObject) -> Result<Undo, OpError> {
    let ino = host.stat(path)?.map_or(0, |m| m.ino);
    Ok(Undo::Op(HostOp::RemoveMade {
        path: path.clone(),
        made,
        ino,
    }))
}

fn wrong_type(
    host: &dyn Host,
    path: &JailPath,
    found: &EntryKind,
    expected: &'static str,
    op: &'static str,
) -> OpError {
    OpError::Jail(HostError::WrongType {
        jail: host.root().to_path_buf(),
        path: path.to_string(),
        found: found.name(),
        expected,
        op,
    })
}

/// A roll-back's removal of what its run made at `path` (`HostOp::RemoveMade`): only while
/// the object there is still the one made (inode `ino`) and as it was made (an empty
/// directory, the link to the same target, an empty regular file); removed by descriptor,
/// never through a symlink. Anything else is kept, and `kept` says why; nothing there is
/// no change.
fn remove_made(
    host: &dyn Host,
    path: &JailPath,
    made: &MadeObject,
    ino: u64,
) -> Result<(Performed, Undo), OpError> {
    let Some(now) = host.stat(path)? else {
        return Ok((Performed::changed(false), Undo::Nothing));
    };
    let kept = |why: String| {
        let done = Performed {
            kept: Some(why),
            ..Default::default()
        };
        Ok((done, Undo::Nothing))
    };
    if now.ino != ino {
        return kept(format!(
            "the {} made there was replaced by another {}",
            made.describe(),
            now.kind.name()
        ));
    }
    let removed = match (made, &now.kind) {
        (MadeObject::Directory, EntryKind::Dir) => host.remove_dir(path)?,
        (MadeObject::Symlink { target }, EntryKind::Symlink { target: now_at }) => {
            if now_at != target {
                use std::os::unix::ffi::OsStrExt;
                let now_at = crate::escape::bytes(now_at.as_os_str().as_bytes());
                return kept(format!("it now points to {now_at}"));
            }
            host.remove(path)?
        }
        (MadeObject::EmptyFile, EntryKind::File) if now.size == 0 => host.remove(path)?,
        (MadeObject::EmptyFile, EntryKind::File) => {
            return kept(format!("it now holds {} bytes", now.size));
        }
        (_, other) => {
            return kept(format!(
                "a {} is there now, not the {} made",
                other.name(),
                made.describe()
            ));
        }
    };
    if !removed && matches!(made, MadeObject::Directory) {
        return kept("it is not empty".into());
    }
    Ok((Performed::changed(removed), Undo::Nothing))
}

/// Performs an operation inside the jail through `host`, with its inverse.
fn perform_in_jail(host: &dyn Host, op: &HostOp) -> Result<(Performed, Undo), OpError> {
    let put_back = |path: &JailPath| -> Result<Undo, OpError> {
        Ok(match host.stat(path)? {
            None => Undo::Op(HostOp::RemoveJailFile { path: path.clone() }),
            Some(m) => Undo::Op(HostOp::WriteJailFile {
                path: path.clone(),
                content: host.read_file(path)?.into(),
                mode: m.mode,
                owner: Owner {
                    uid: m.uid,
                    gid: m.gid,
                },
            }),
        })
    };
    match op {
        HostOp::WriteJailFile {
            path,
            content,
            mode,
            owner,
        } => {
            let undo = put_back(path)?;
            host.write_file(path, content.as_bytes(), *mode, *owner)?;
            Ok((Performed::changed(true), undo))
        }
        HostOp::RemoveJailFile { path } => {
            let undo = match host.stat(path)? {
                Some(_) => put_back(path)?,
                None => Undo::Nothing,
            };
            Ok((Performed::changed(host.remove(path)?), undo))
        }
        HostOp::MakeJailDir { path, mode, owner } => {
            let owner = owner.assigned().ok_or_else(|| unallocated(op))?;
            let before = host.stat(path)?;
            let changed = host.make_dir(path, *mode, owner)?;
            let undo = match before {
                None => made(host, path, MadeObject::Directory)?,
                Some(m) => Undo::Op(dir_as(path, &m)),
            };
            Ok((Performed::changed(changed), undo))
        }
        HostOp::MakeJailSymlink { path, target } => {
            match host.stat(path)? {
                None => host.symlink(path, target)?,
                Some(m)
                    if m.kind
                        == (EntryKind::Symlink {
                            target: target.clone(),
                        }) =>
                {
                    return Ok((Performed::changed(false), Undo::Nothing));
                }
                Some(m) => {
                    return Err(wrong_type(host, path, &m.kind, "symlink", "create symlink"));
                }
            }
            let undo = made(
                host,
                path,
                MadeObject::Symlink {
                    target: target.clone(),
                },
            )?;
            Ok((Performed::changed(true), undo))
        }
        HostOp::MakePlaceholder { path } => {
            match host.stat(path)? {
                None => host.write_file(path, b"", 0o644, Owner::ROOT)?,
                Some(m) if m.kind == EntryKind::File && m.size == 0 => {
                    return Ok((Performed::changed(false), Undo::Nothing));
                }
                Some(m) => {
                    return Err(wrong_type(
                        host,
                        path,
                        &m.kind,
                        "empty regular file",
                        "create",
                    ));
                }
            }
            let undo = made(host, path, MadeObject::EmptyFile)?;
            Ok((Performed::changed(true), undo))
        }
        HostOp::RemoveMade { path, made, ino } => remove_made(host, path, made, *ino),
        HostOp::PutPasswdLine {
            path,
            name,
            uid,
            gid,
            gecos,
            home,
            shell,
        } => {
            let (Id::Assigned(uid), Id::Assigned(gid)) = (*uid, *gid) else {
                return Err(unallocated(op));
            };
            let entry = PasswdEntry {
                name: name.clone(),
                uid,
                gid,
                gecos: gecos.clone(),
                home: home.clone(),
                shell: shell.clone(),
            };
            put_line(host, path, name, &entry.line(), jaildb::ROOT_PASSWD)
        }
        HostOp::PutGroupLine { path, name, gid } => {
            let gid = gid.assigned().ok_or_else(|| unallocated(op))?;
            let line = jaildb::group_line(name, gid);
            put_line(host, path, name, &line, jaildb::ROOT_GROUP)
        }
        HostOp::RemoveJailTree { path } => {
            let gone = host.remove_tree(path)?;
            let done = Performed {
                changed: gone.files + gone.dirs > 0,
                detail: Some(format!(
                    "removed {} files and {} directories",
                    gone.files, gone.dirs
                )),
                ..Default::default()
            };
            Ok((done, Undo::Impossible))
        }
        HostOp::Mount { target, mount } => {
            let made = host.mount(target, mount)?;
            let undo = match made.mount_id {
                Some(mount_id) => Undo::Op(HostOp::Unmount {
                    target: target.clone(),
                    mount: describe_mount(target, mount),
                    mount_id,
                }),
                // already there, or a stale log socket replaced: the jail had it before
                None => Undo::Nothing,
            };
            let done = Performed {
                changed: made.done != crate::apply::binds::Done::AlreadyMounted,
                ..Default::default()
            };
            Ok((done, undo))
        }
        HostOp::Unmount {
            target, mount_id, ..
        } => Ok((
            Performed::changed(host.unmount(target, *mount_id)?),
            Undo::Nothing,
        )),
        // `check --fix`'s repairs are not undone: each is a step toward safety (a setuid
        // bit, a file capability, a foreign owner, group/other write or a forbidden device
        // put back would reopen what the check found), so a roll-back leaves it done and
        // has nothing to report as not undone
        HostOp::TightenJailObject {
            path,
            clear_bits,
            drop_capability,
            to_root,
        } => Ok((
            Performed::changed(host.tighten(path, *clear_bits, *drop_capability, *to_root)?),
            Undo::Nothing,
        )),
        HostOp::RemoveForbidden { path, expect } => {
            let Some(now) = host.stat(path)? else {
                return Ok((Performed::changed(false), Undo::Nothing));
            };
            if object_kind(&now.kind) != *expect {
                return Err(HostError::WrongType {
                    jail: host.root().to_path_buf(),
                    path: path.to_string(),
                    found: now.kind.name(),
                    expected: expect.name(),
                    op: "remove",
                }
                .into());
            }
            Ok((Performed::changed(host.remove(path)?), Undo::Nothing))
        }
        other => Err(OpError::NoJail {
            op: other.verb(),
            path: other.target(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::apply::fake::FakeHost;

    /// A recording host outside jails: root files in memory, every performed operation in
    /// order, and a failure on the Nth one.
    #[derive(Default)]
    struct Recorder {
        files: RefCell<BTreeMap<PathBuf, (Vec<u8>, u32)>>,
        performed: RefCell<Vec<HostOp>>,
        calls: std::cell::Cell<usize>,
        fail_at: Option<usize>,
        /// The units systemd has enabled.
        enabled: RefCell<std::collections::BTreeSet<String>>,
    }

    impl System for Recorder {
        fn root_file(&self, path: &Path) -> Result<Option<(Vec<u8>, u32)>, OpError> {
            Ok(self.files.borrow().get(path).cloned())
        }

        fn perform(&self, op: &HostOp) -> Result<Performed, OpError> {
            self.calls.set(self.calls.get() + 1);
            if self.fail_at == Some(self.calls.get()) {
                return Err(OpError::Program {
                    program: op.verb().into(),
                    why: "failed on purpose".into(),
                });
            }
            self.performed.borrow_mut().push(op.clone());
            let mut files = self.files.borrow_mut();
            let changed = match op {
                HostOp::WriteRootFile {
                    path,
                    content,
                    mode,
                } => {
                    files.insert(path.clone(), (content.as_bytes().to_vec(), *mode));
                    true
                }
                HostOp::RemoveRootFile { path } => files.remove(path).is_some(),
                HostOp::EnableUnit { unit } => self.enabled.borrow_mut().insert(unit.clone()),
                HostOp::DisableUnit { unit } => self.enabled.borrow_mut().remove(unit),
                _ => true,
            };
            Ok(Performed::changed(changed))
        }

        fn unit_enabled(&self, unit: &str) -> Result<bool, OpError> {
            Ok(self.enabled.borrow().contains(unit))
        }
    }

    fn step(op: HostOp) -> HostStep {
        HostStep::new(op, "test")
    }

    fn member(add: bool) -> HostOp {
        let (user, group) = ("u1".to_string(), "jail-g".to_string());
        if add {
            HostOp::AddMember { user, group }
        } else {
            HostOp::RemoveMember { user, group }
        }
    }

    fn write(path: &str, text: &str) -> HostOp {
        HostOp::WriteRootFile {
            path: path.into(),
            content: text.into(),
            mode: 0o644,
        }
    }

    #[test]
    fn a_failure_rolls_back_newest_first_with_each_inverse() {
        let sys = Recorder {
            fail_at: Some(5),
            ..Default::default()
        };
        sys.files
            .borrow_mut()
            .insert("/k/old".into(), (b"before\n".to_vec(), 0o600));
        let mut j = Journal::new(&sys, false);
        let ops = [
            HostOp::CreateAccount {
                name: "u1".into(),
                home: "/home/u1".into(),
                shell: "/bin/bash".into(),
                uid: None,
                existing_group: false,
            },
            member(true),
            write("/k/new", "key\n"),
            write("/k/old", "after\n"),
            HostOp::CreateGroup {
                name: "g2".into(),
                gid: None,
            },
        ];
        let mut err = None;
        for op in ops {
            if let Err(e) = j.execute(None, step(op)) {
                err = Some(e);
                break;
            }
        }
        assert!(err.unwrap().to_string().contains("failed on purpose"));
        assert_eq!(sys.performed.borrow().len(), 4);
        let back = j.roll_back(None);
        assert!(back.failed.is_empty(), "{back:?}");
        assert_eq!(
            back.undone,
            [
                "/k/old",
                "/k/new",
                "u1's membership of jail-g",
                "account u1"
            ]
        );
        let undo: Vec<HostOp> = sys.performed.borrow()[4..].to_vec();
        assert_eq!(
            undo,
            [
                HostOp::WriteRootFile {
                    path: "/k/old".into(),
                    content: "before\n".into(),
                    mode: 0o600,
                },
                HostOp::RemoveRootFile {
                    path: "/k/new".into()
                },
                member(false),
                HostOp::DeleteAccount { name: "u1".into() },
            ]
        );
        assert_eq!(sys.files.borrow()[Path::new("/k/old")].0, b"before\n");
        assert!(!sys.files.borrow().contains_key(Path::new("/k/new")));
        assert!(j.roll_back(None).is_empty(), "a journal rolls back once");
    }

    fn enable(unit: &str) -> HostOp {
        HostOp::EnableUnit { unit: unit.into() }
    }

    #[test]
    fn a_failed_enable_disables_the_units_enabled_before_it_and_reloads_again() {
        let sys = Recorder {
            fail_at: Some(6),
            ..Default::default()
        };
        sys.enabled.borrow_mut().insert("old.mount".into());
        let mut j = Journal::new(&sys, false);
        let ops = [
            write("/u/a.mount", "a"),
            write("/u/b.mount", "b"),
            HostOp::ReloadSystemd,
            enable("a.mount"),
            enable("old.mount"),
            enable("b.mount"),
        ];
        for op in ops {
            if j.execute(None, step(op)).is_err() {
                break;
            }
        }
        let back = j.roll_back(None);
        assert!(back.failed.is_empty(), "{back:?}");
        assert_eq!(
            back.undone,
            ["a.mount", "/u/b.mount", "/u/a.mount", "systemd"],
            "a unit enabled before the run stays enabled"
        );
        assert_eq!(
            sys.performed.borrow()[5..],
            [
                HostOp::DisableUnit {
                    unit: "a.mount".into()
                },
                HostOp::RemoveRootFile {
                    path: "/u/b.mount".into()
                },
                HostOp::RemoveRootFile {
                    path: "/u/a.mount".into()
                },
                HostOp::ReloadSystemd,
            ]
        );
        let enabled: Vec<String> = sys.enabled.borrow().iter().cloned().collect();
        assert_eq!(enabled, ["old.mount"]);
    }

    #[test]
    fn a_failure_unmounts_exactly_the_mounts_this_run_made() {
        let jail = FakeHost::default();
        let sys = Recorder {
            fail_at: Some(1),
            ..Default::default()
        };
        let mut j = Journal::new(&sys, false);
        let bind = |dst: &str| HostOp::Mount {
            target: JailPath::new(dst).unwrap(),
            mount: crate::plan::MountKind::Bind {
                source: "/srv/data".into(),
                rw: false,
            },
        };
        j.execute(Some(&jail), step(bind("/a"))).unwrap();
        let proc = HostOp::Mount {
            target: JailPath::new("/proc").unwrap(),
            mount: crate::plan::MountKind::Proc,
        };
        j.execute(Some(&jail), step(proc)).unwrap();
        // an earlier mount of the same place, not this run's: it stays
        jail.mounts.write().unwrap().insert(0, ("/a".into(), 7));
        assert!(j.execute(None, step(write("/u/a.mount", "a"))).is_err());
        let back = j.roll_back(Some(&jail));
        assert!(back.failed.is_empty(), "{back:?}");
        assert_eq!(back.undone, ["/fake/proc", "/fake/a"]);
        assert_eq!(*jail.mounts.read().unwrap(), [("/a".to_string(), 7)]);
        let json = serde_json::to_value(step(bind("/a"))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"op": "mount", "target": "/a", "kind": "bind",
                "source": "/srv/data", "rw": false, "reason": "test"})
        );
    }

    #[test]
    fn what_a_run_made_goes_back_only_while_it_is_still_what_was_made() {
        let jail = FakeHost::default()
            .with("dev", EntryKind::Dir, 0o755)
            .link("dev/ptmx-there", "pts/ptmx");
        let sys = Recorder {
            fail_at: Some(1),
            ..Default::default()
        };
        let mut j = Journal::new(&sys, false);
        let at = |p: &str| JailPath::new(p).unwrap();
        let link = |p: &str| HostOp::MakeJailSymlink {
            path: at(p),
            target: "pts/ptmx".into(),
        };
        let made = [
            HostOp::MakePlaceholder {
                path: at("dev/log"),
            },
            HostOp::MakePlaceholder {
                path: at("dev/log2"),
            },
            link("dev/ptmx"),
            link("dev/ptmx-there"),
            HostOp::MakeJailDir {
                path: at("proc"),
                mode: 0o555,
                owner: crate::plan::PlannedOwner::ROOT,
            },
        ];
        for op in made {
            j.execute(Some(&jail), step(op)).unwrap();
        }
        // a link that was there already is no change: nothing to undo
        assert_eq!(j.undo.len(), 4);
        // since: a placeholder written to, another object in place of the made directory
        jail.entries
            .write()
            .unwrap()
            .get_mut("dev/log")
            .unwrap()
            .0
            .size = 3;
        jail.entries.write().unwrap().get_mut("proc").unwrap().0.ino = 9;
        assert!(j.execute(None, step(member(true))).is_err());
        let back = j.roll_back(Some(&jail));
        assert!(back.failed.is_empty(), "{back:?}");
        assert_eq!(back.undone, ["/fake/dev/ptmx", "/fake/dev/log2"]);
        assert_eq!(
            back.left,
            [
                "/fake/proc: the directory made there was replaced by another directory",
                "/fake/dev/log: it now holds 3 bytes"
            ]
        );
        for (p, there) in [
            ("dev/ptmx", false),
            ("dev/log2", false),
            ("dev/ptmx-there", true),
            ("dev/log", true),
            ("proc", true),
        ] {
            assert_eq!(jail.stat(&at(p)).unwrap().is_some(), there, "{p}");
        }
        let (_, said) = back.summary();
        assert!(
            said.starts_with("\n  kept, no longer what this run made: "),
            "{said}"
        );
        // what is in the way of a making is refused, never replaced
        let mut j = Journal::new(&sys, false);
        assert!(j.execute(Some(&jail), step(link("dev/log"))).is_err());
        let json = serde_json::to_value(step(link("dev/ptmx"))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"op": "make_jail_symlink", "path": "/dev/ptmx",
                "target": "pts/ptmx", "reason": "test"})
        );
    }

    #[test]
    fn a_mount_through_a_planted_symlink_is_refused_and_nothing_is_recorded() {
        let jail = FakeHost::default().link("srv", "/etc");
        let sys = Recorder::default();
        let mut j = Journal::new(&sys, false);
        let op = HostOp::Mount {
            target: JailPath::new("/srv/data").unwrap(),
            mount: crate::plan::MountKind::Proc,
        };
        let e = j.execute(Some(&jail), step(op)).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
        assert!(jail.mounts.read().unwrap().is_empty());
        assert!(j.roll_back(Some(&jail)).is_empty());
    }

    #[test]
    fn what_was_done_elsewhere_rolls_back_unless_committed_by_its_target() {
        let sys = Recorder::default();
        let mut j = Journal::new(&sys, false);
        for name in ["a", "b", "c"] {
            let made = HostOp::CreateGroup {
                name: name.into(),
                gid: None,
            };
            let undo = vec![HostOp::DeleteGroup {
                name: name.into(),
                gid: None,
            }];
            j.record_done(step(made), undo);
        }
        assert!(
            sys.performed.borrow().is_empty(),
            "recording performs nothing"
        );
        j.commit_target("group a");
        let back = j.roll_back(None);
        assert_eq!(back.undone, ["group c", "group b"]);
        assert_eq!(j.steps().len(), 3);
    }

    #[test]
    fn a_dry_run_collects_the_plan_and_touches_nothing() {
        let sys = Recorder::default();
        let mut j = Journal::new(&sys, true);
        j.execute(None, step(write("/k/a", "x"))).unwrap();
        j.execute(None, step(HostOp::ReloadSystemd)).unwrap();
        assert!(sys.performed.borrow().is_empty());
        assert_eq!(j.steps().len(), 2);
        assert!(j.roll_back(None).is_empty());
    }

    fn shell(path: &str) -> Modify {
        Modify {
            shell: Some(path.into()),
            ..Default::default()
        }
    }

    #[test]
    fn inverses_put_back_what_was_there() {
        let sys = Recorder::default();
        let mut j = Journal::new(&sys, false);
        let modify = HostOp::ModifyAccount {
            name: "u1".into(),
            change: shell("/bin/bash"),
            before: shell("/bin/sh"),
        };
        j.execute(None, step(modify)).unwrap();
        j.execute(
            None,
            step(HostOp::DeleteGroup {
                name: "g".into(),
                gid: Some(990),
            }),
        )
        .unwrap();
        j.execute(
            None,
            step(HostOp::RemoveRootFile {
                path: "/k/absent".into(),
            }),
        )
        .unwrap();
        j.roll_back(None);
        let undo: Vec<HostOp> = sys.performed.borrow()[3..].to_vec();
        assert_eq!(
            undo,
            [
                HostOp::CreateGroup {
                    name: "g".into(),
                    gid: Some(990),
                },
                HostOp::ModifyAccount {
                    name: "u1".into(),
                    change: shell("/bin/sh"),
                    before: shell("/bin/bash"),
                },
            ],
            "removing an absent file has nothing to undo"
        );
    }

    #[test]
    fn what_cannot_be_undone_is_reported_and_commit_forgets() {
        let sys = Recorder::default();
        let mut j = Journal::new(&sys, false);
        j.execute(None, step(member(true))).unwrap();
        j.execute(None, step(HostOp::DeleteAccount { name: "u1".into() }))
            .unwrap();
        j.execute(None, step(HostOp::EndSessions { uid: 1500 }))
            .unwrap();
        let back = j.roll_back(None);
        assert_eq!(back.failed, ["account u1: cannot be undone"]);
        assert_eq!(back.undone, ["u1's membership of jail-g"]);

        j.execute(None, step(member(true))).unwrap();
        j.commit();
        assert!(j.roll_back(None).is_empty());
        assert_eq!(j.steps().len(), 4);
    }

    #[test]
    fn a_destroy_s_operations_are_data_and_none_is_undone() {
        let sys = Recorder::default();
        let mut j = Journal::new(&sys, false);
        let ops = [
            HostOp::KillProcess { pid: 4242 },
            HostOp::StopUnit {
                unit: "web.service".into(),
            },
            HostOp::RemoveJailRoot {
                path: "/srv/j".into(),
            },
        ];
        let said: Vec<(&str, String)> = ops.iter().map(|o| (o.verb(), o.target())).collect();
        assert_eq!(
            said,
            [
                ("kill", "pid 4242".into()),
                ("stop", "web.service".into()),
                ("rmdir", "/srv/j".into())
            ]
        );
        let json = serde_json::to_value(HostStep::new(ops[0].clone(), "--kill-sessions")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"op": "kill_process", "pid": 4242, "reason": "--kill-sessions"})
        );
        for op in ops {
            j.execute(None, step(op)).unwrap();
        }
        let back = j.roll_back(None);
        assert!(back.undone.is_empty(), "{back:?}");
        assert_eq!(
            back.failed,
            ["/srv/j: cannot be undone", "web.service: cannot be undone"],
            "a signal has nothing to undo; a stopped unit and a removed root cannot be"
        );
    }

    #[test]
    fn a_destroy_s_unmount_removal_labels_and_store_are_data_and_none_is_undone() {
        use crate::plan::removal::RemovalRules;
        let jail = std::path::PathBuf::from("/srv/j");
        let rules = RemovalRules {
            purge: false,
            entries: [("/usr/bin/bash".to_string(), false)].into(),
            foreign: ["/projects".to_string()].into(),
            data: vec!["/srv/data".into()],
            ..Default::default()
        };
        let ops = [
            HostOp::UnmountBinds {
                jail: jail.clone(),
                under: None,
                mounts: vec!["/data:/shared:ro".into(), "proc:/proc".into()],
                binds: Vec::new(),
                own: crate::mounts::Own::default(),
            },
            HostOp::RemoveJailContents {
                jail: jail.clone(),
                rules,
            },
            HostOp::ForgetLabels { jail: jail.clone() },
            HostOp::CollectStoreGarbage {
                state_dir: "/var/lib/jailsmith".into(),
            },
        ];
        let shown: Vec<serde_json::Value> = ops
            .iter()
            .map(|o| serde_json::to_value(o).unwrap())
            .collect();
        assert_eq!(
            shown,
            [
                serde_json::json!({"op": "unmount_binds", "jail": "/srv/j",
                    "mounts": ["/data:/shared:ro", "proc:/proc"]}),
                serde_json::json!({"op": "remove_jail_contents", "jail": "/srv/j",
                    "purge": false, "adopted": ["/projects"], "service_data": ["/srv/data"]}),
                serde_json::json!({"op": "forget_labels", "jail": "/srv/j"}),
                serde_json::json!({"op": "collect_store_garbage",
                    "state_dir": "/var/lib/jailsmith"}),
            ],
            "the rules show what they keep, not the manifest they ask"
        );
        let sys = Recorder::default();
        let mut j = Journal::new(&sys, false);
        for op in ops.clone() {
            j.execute(None, step(op)).unwrap();
        }
        assert_eq!(
            *sys.performed.borrow(),
            ops,
            "performed through the host layer"
        );
        let back = j.roll_back(None);
        assert!(back.undone.is_empty(), "{back:?}");
        assert_eq!(back.failed.len(), 4, "none can be undone: {back:?}");
    }

    #[test]
    fn killing_a_process_already_gone_is_no_change() {
        let mut child = std::process::Command::new("/bin/true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        let done = LinuxSystem.perform(&HostOp::KillProcess { pid }).unwrap();
        assert!(!done.changed);
        assert!(matches!(
            LinuxSystem.perform(&HostOp::KillProcess { pid: 1 }),
            Err(OpError::Signal(_))
        ));
    }

    #[test]
    fn a_removed_tree_is_reported_as_not_undone() {
        let jail = FakeHost::default();
        let owner = Owner {
            uid: 1500,
            gid: 1500,
        };
        let home = JailPath::new("home/u1").unwrap();
        jail.make_dir(&home, 0o700, owner).unwrap();
        jail.write_file(&JailPath::new("home/u1/f").unwrap(), b"x", 0o600, owner)
            .unwrap();
        jail.write_file(&JailPath::new("home/u10").unwrap(), b"y", 0o600, owner)
            .unwrap();
        let sys = Recorder::default();
        let mut j = Journal::new(&sys, false);
        let op = HostOp::RemoveJailTree { path: home.clone() };
        let done = j.execute(Some(&jail), step(op)).unwrap();
        assert_eq!(
            done.detail.as_deref(),
            Some("removed 1 files and 1 directories")
        );
        assert_eq!(jail.stat(&home).unwrap(), None);
        assert!(
            jail.stat(&JailPath::new("home/u10").unwrap())
                .unwrap()
                .is_some()
        );
        let back = j.roll_back(Some(&jail));
        assert_eq!(back.failed, ["/fake/home/u1: cannot be undone"]);
    }

    #[test]
    fn a_reload_is_run_again_after_everything_else_is_undone() {
        let sys = Recorder::default();
        let mut j = Journal::new(&sys, false);
        let reload = HostOp::ReloadSshd {
            config: "/etc/ssh/sshd_config".into(),
            binary: "/usr/sbin/sshd".into(),
            systemd: false,
        };
        j.execute(None, step(write("/d/block.conf", "Match Group g\n")))
            .unwrap();
        j.execute(None, step(reload.clone())).unwrap();
        j.execute(None, step(member(true))).unwrap();
        j.execute(None, step(reload.clone())).unwrap();
        let back = j.roll_back(None);
        assert_eq!(
            back.undone,
            [
                "u1's membership of jail-g",
                "/d/block.conf",
                "sshd (/etc/ssh/sshd_config)"
            ]
        );
        let undo: Vec<HostOp> = sys.performed.borrow()[4..].to_vec();
        assert_eq!(
            undo.last(),
            Some(&reload),
            "sshd reads the files as put back"
        );
        assert_eq!(undo.len(), 3, "one reload for the roll-back");
    }

    #[test]
    fn jail_files_and_directories_come_back_as_they_were() {
        let jail = FakeHost::default();
        let passwd = JailPath::new("etc/passwd").unwrap();
        let home = JailPath::new("home").unwrap();
        let user_home = JailPath::new("home/u1").unwrap();
        jail.write_file(&passwd, b"root:x:0:0::/:/bin/sh\n", 0o644, Owner::ROOT)
            .unwrap();
        let sys = Recorder {
            fail_at: Some(1),
            ..Default::default()
        };
        let mut j = Journal::new(&sys, false);
        let user = Owner {
            uid: 1500,
            gid: 1500,
        };
        for op in [
            HostOp::WriteJailFile {
                path: passwd.clone(),
                content: "root:x:0:0::/:/bin/sh\nu1:x:1500:1500::/home/u1:/bin/bash\n".into(),
                mode: 0o644,
                owner: Owner::ROOT,
            },
            HostOp::MakeJailDir {
                path: home.clone(),
                mode: 0o755,
                owner: Owner::ROOT.into(),
            },
            HostOp::MakeJailDir {
                path: user_home.clone(),
                mode: 0o700,
                owner: user.into(),
            },
        ] {
            j.execute(Some(&jail), step(op)).unwrap();
        }
        assert!(jail.stat(&user_home).unwrap().is_some());
        // the next operation outside the jail fails: everything inside goes back
        assert!(j.execute(Some(&jail), step(member(true))).is_err());
        let back = j.roll_back(Some(&jail));
        assert_eq!(
            back.undone,
            ["/fake/home/u1", "/fake/home", "/fake/etc/passwd"]
        );
        assert_eq!(jail.stat(&home).unwrap(), None);
        assert_eq!(jail.stat(&user_home).unwrap(), None);
        assert_eq!(jail.read_file(&passwd).unwrap(), b"root:x:0:0::/:/bin/sh\n");
    }

    /// A jail's build plan: its etc directory and a written file in it.
    fn build_plan() -> Plan {
        let etc = JailPath::new("etc").unwrap();
        let ops = [
            Op::MakeDir {
                path: etc.clone(),
                mode: 0o755,
                owner: Owner::ROOT,
            },
            Op::WriteFile {
                path: etc.join("motd").unwrap(),
                content: "jailed\n".into(),
                mode: 0o644,
                owner: Owner::ROOT,
            },
        ];
        Plan {
            jail: "/fake".into(),
            steps: ops
                .into_iter()
                .map(|op| crate::plan::Step {
                    op,
                    reason: "test".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_build_in_the_journal_is_kept_by_a_roll_back_which_says_so() {
        let jail = FakeHost::default();
        let sys = Recorder {
            fail_at: Some(2),
            ..Default::default()
        };
        let mut j = Journal::new(&sys, false);
        let opts = ApplyOptions::default();
        let plan = build_plan();
        let report = j
            .apply_plan(&jail, &plan, &Manifest::default(), false, &opts)
            .unwrap();
        assert_eq!(report.created, 2);
        assert!(j.steps().is_empty(), "the build's steps are its own plan");
        j.execute(None, step(write("/units/s.service", "[Unit]\n")))
            .unwrap();
        assert!(j.execute(None, step(member(true))).is_err());
        let back = j.roll_back(Some(&jail));
        assert_eq!(back.undone, ["/units/s.service"]);
        assert!(back.failed.is_empty(), "{back:?}");
        assert_eq!(back.kept.len(), 1, "{back:?}");
        assert!(
            back.kept[0].starts_with("the jail's files at /fake: this run's build is not undone"),
            "{back:?}"
        );
        let (undone, rest) = back.summary();
        assert_eq!(undone, "/units/s.service");
        assert!(rest.starts_with("\n  kept (not rolled back): the jail's files at /fake"));
        let motd = JailPath::new("etc/motd").unwrap();
        assert_eq!(
            jail.read_file(&motd).unwrap(),
            b"jailed\n",
            "the build stays"
        );

        // a build that changed nothing has nothing to keep: a roll-back says nothing of it
        let mut j = Journal::new(&sys, false);
        j.apply_plan(&jail, &plan, &report.manifest, false, &opts)
            .unwrap();
        assert!(j.roll_back(Some(&jail)).is_empty());
    }

    #[test]
    fn a_failed_build_is_kept_for_the_next_build_and_a_dry_journal_applies_nothing() {
        let plan = build_plan();
        let opts = ApplyOptions::default();
        let sys = Recorder::default();
        // a FIFO where the plan writes etc/motd: the build fails part-way
        let jail = FakeHost::default().with("etc/motd", crate::apply::EntryKind::Fifo, 0o644);
        let mut j = Journal::new(&sys, false);
        assert!(
            j.apply_plan(&jail, &plan, &Manifest::default(), true, &opts)
                .is_err()
        );
        let back = j.roll_back(Some(&jail));
        assert!(back.undone.is_empty(), "{back:?}");
        assert_eq!(back.kept.len(), 1);
        assert!(
            back.kept[0].contains("the next build finishes it"),
            "{back:?}"
        );
        assert_eq!(back.summary().0, "nothing");

        let jail = FakeHost::default();
        let mut dry = Journal::new(&sys, true);
        let err = dry.apply_plan(&jail, &plan, &Manifest::default(), false, &opts);
        assert!(err.unwrap_err().to_string().contains("dry run"));
        assert!(jail.written().is_empty() && dry.roll_back(Some(&jail)).is_empty());
    }

    #[test]
    fn a_system_account_goes_back_with_its_group_and_a_start_cannot() {
        let sys = Recorder::default();
        let mut j = Journal::new(&sys, false);
        let account = HostOp::CreateSystemAccount {
            name: "web".into(),
            shell: "/usr/sbin/nologin".into(),
        };
        j.execute(None, step(account)).unwrap();
        j.execute(None, step(write("/units/web.service", "[Service]\n")))
            .unwrap();
        j.execute(None, step(HostOp::ReloadSystemd)).unwrap();
        let start = HostOp::StartUnit {
            unit: "web.service".into(),
            restart: false,
        };
        assert_eq!(
            (start.verb(), start.target()),
            ("start", "web.service".into())
        );
        j.execute(None, step(start)).unwrap();
        let back = j.roll_back(None);
        assert_eq!(back.failed, ["web.service: cannot be undone"]);
        assert_eq!(
            back.undone,
            ["/units/web.service", "account web", "group web", "systemd"]
        );
        let undo: Vec<HostOp> = sys.performed.borrow()[4..].to_vec();
        assert_eq!(
            undo,
            [
                HostOp::RemoveRootFile {
                    path: "/units/web.service".into()
                },
                HostOp::DeleteAccount { name: "web".into() },
                HostOp::DeleteGroup {
                    name: "web".into(),
                    gid: None,
                },
                HostOp::ReloadSystemd,
            ],
            "the account, then the group useradd made with it, then systemd reads the units"
        );
        let (undone, failed) = back.summary();
        assert_eq!(
            undone,
            "/units/web.service, account web, group web, systemd"
        );
        assert_eq!(
            failed,
            "\n  could NOT roll back: web.service: cannot be undone"
        );
    }

    #[test]
    fn a_system_account_is_planned_as_data() {
        let op = HostOp::CreateSystemAccount {
            name: "web".into(),
            shell: "/usr/sbin/nologin".into(),
        };
        let json = serde_json::to_value(HostStep::new(op, "runs the service")).unwrap();
        assert_eq!(json["op"], "create_system_account");
        assert_eq!(json["name"], "web");
        let start = serde_json::to_value(HostOp::StartUnit {
            unit: "web.service".into(),
            restart: true,
        })
        .unwrap();
        assert_eq!(start["op"], "start_unit");
        assert_eq!(start["restart"], true);
    }

    use crate::account::useradd::Modify;

    fn passwd_line(uid: Id, gid: Id) -> HostOp {
        HostOp::PutPasswdLine {
            path: JailPath::new("etc/passwd").unwrap(),
            name: "u1".into(),
            uid,
            gid,
            gecos: String::new(),
            home: "/home/u1".into(),
            shell: "/bin/bash".into(),
        }
    }

    #[test]
    fn account_lines_go_in_with_their_ids_and_come_back_out() {
        let jail = FakeHost::default();
        let (passwd, group) = (
            JailPath::new("etc/passwd").unwrap(),
            JailPath::new("etc/group").unwrap(),
        );
        jail.write_file(&passwd, b"root:x:0:0::/:/bin/sh\n", 0o644, Owner::ROOT)
            .unwrap();
        let sys = Recorder::default();
        let mut j = Journal::new(&sys, false);
        let line = passwd_line(Id::Assigned(1500), Id::Assigned(1501));
        assert!(j.execute(Some(&jail), step(line.clone())).unwrap().changed);
        let group_line = HostOp::PutGroupLine {
            path: group.clone(),
            name: "u1".into(),
            gid: Id::Assigned(1501),
        };
        assert!(j.execute(Some(&jail), step(group_line)).unwrap().changed);
        assert_eq!(
            String::from_utf8(jail.read_file(&passwd).unwrap()).unwrap(),
            "root:x:0:0::/:/bin/sh\nu1:x:1500:1501::/home/u1:/bin/bash\n"
        );
        assert_eq!(
            String::from_utf8(jail.read_file(&group).unwrap()).unwrap(),
            format!("{}u1:x:1501:\n", jaildb::ROOT_GROUP)
        );
        // the same line again changes nothing
        assert!(!j.execute(Some(&jail), step(line)).unwrap().changed);
        let back = j.roll_back(Some(&jail));
        assert_eq!(back.undone, ["/fake/etc/group", "/fake/etc/passwd"]);
        assert_eq!(jail.stat(&group).unwrap(), None);
        assert_eq!(jail.read_file(&passwd).unwrap(), b"root:x:0:0::/:/bin/sh\n");
    }

    #[test]
    fn an_operation_whose_ids_are_still_to_be_allocated_is_planned_never_performed() {
        let new_dir = HostOp::MakeJailDir {
            path: JailPath::new("home/u1").unwrap(),
            mode: 0o700,
            owner: crate::plan::PlannedOwner {
                uid: Id::New,
                gid: Id::New,
            },
        };
        let slice = HostOp::WriteSliceDropIn {
            systemd_dir: "/sd".into(),
            user: "u1".into(),
            uid: Id::New,
            limits: crate::limits::Limits::default(),
        };
        let ops = [new_dir, passwd_line(Id::Assigned(1500), Id::New), slice];
        let sys = Recorder::default();
        let mut dry = Journal::new(&sys, true);
        for op in &ops {
            dry.execute(None, step(op.clone())).unwrap();
        }
        assert_eq!(dry.steps().len(), 3);
        let jail = FakeHost::default();
        let mut real = Journal::new(&sys, false);
        for op in ops {
            let e = real.execute(Some(&jail), step(op)).unwrap_err();
            assert!(matches!(e, OpError::Unallocated { .. }), "{e}");
            assert!(e.to_string().contains("not allocated yet"), "{e}");
        }
        assert!(sys.performed.borrow().is_empty());
        assert_eq!(jail.stat(&JailPath::new("home").unwrap()).unwrap(), None);
    }

    #[test]
    fn check_s_repairs_refuse_another_kind_and_are_never_undone() {
        use crate::apply::EntryKind;
        let jail = FakeHost::default()
            .with("usr", EntryKind::Dir, 0o755)
            .with("usr/bin", EntryKind::Dir, 0o777)
            .with("usr/bin/ls", EntryKind::File, 0o4755)
            .with("dev", EntryKind::Dir, 0o755)
            .with("dev/sda", EntryKind::BlockDevice, 0o660)
            .link("dev/null", "/etc/passwd");
        let p = |s: &str| JailPath::new(s).unwrap();
        let sys = Recorder::default();
        let mut j = Journal::new(&sys, false);
        let tighten = |path: &str, clear_bits| HostOp::TightenJailObject {
            path: p(path),
            clear_bits,
            drop_capability: false,
            to_root: true,
        };
        assert!(
            j.execute(Some(&jail), step(tighten("usr/bin/ls", 0o4000)))
                .unwrap()
                .changed
        );
        assert!(
            j.execute(Some(&jail), step(tighten("usr/bin", 0o022)))
                .unwrap()
                .changed
        );
        let remove = |path: &str, expect| HostOp::RemoveForbidden {
            path: p(path),
            expect,
        };
        // a symlink where the check saw a device: refused, neither removed nor followed
        let e = j
            .execute(
                Some(&jail),
                step(remove("dev/null", ObjectKind::CharDevice)),
            )
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("is a symlink, expected a character device"),
            "{e}"
        );
        assert!(
            j.execute(Some(&jail), step(tighten("dev/null", 0o022)))
                .is_err()
        );
        assert!(jail.stat(&p("dev/null")).unwrap().is_some());
        let sda = remove("dev/sda", ObjectKind::BlockDevice);
        assert!(j.execute(Some(&jail), step(sda.clone())).unwrap().changed);
        assert!(
            !j.execute(Some(&jail), step(sda)).unwrap().changed,
            "gone: no change"
        );
        assert_eq!(jail.stat(&p("usr/bin/ls")).unwrap().unwrap().mode, 0o755);
        assert_eq!(jail.stat(&p("usr/bin")).unwrap().unwrap().mode, 0o755);
        let back = j.roll_back(Some(&jail));
        assert!(
            back.is_empty(),
            "a repair toward safety is not undone: {back:?}"
        );
        assert_eq!(jail.stat(&p("usr/bin/ls")).unwrap().unwrap().mode, 0o755);
        assert!(sys.performed.borrow().is_empty(), "all inside the jail");
    }

    #[test]
    fn a_slice_drop_in_comes_with_its_directory_and_goes_with_it() {
        let sys = Recorder::default();
        let mut j = Journal::new(&sys, false);
        let op = HostOp::WriteSliceDropIn {
            systemd_dir: "/sd".into(),
            user: "u1".into(),
            uid: Id::Assigned(1500),
            limits: crate::limits::Limits::default(),
        };
        assert_eq!(op.target(), "/sd/user-1500.slice.d/50-jailsmith.conf");
        j.execute(None, step(op)).unwrap();
        let file = PathBuf::from("/sd/user-1500.slice.d/50-jailsmith.conf");
        let text = sys.files.borrow()[&file].clone();
        assert!(String::from_utf8(text.0).unwrap().contains("(uid 1500)"));
        assert_eq!(text.1, 0o644);
        let back = j.roll_back(None);
        assert!(back.failed.is_empty(), "{back:?}");
        let undo: Vec<HostOp> = sys.performed.borrow()[2..].to_vec();
        assert_eq!(
            undo,
            [
                HostOp::RemoveRootFile { path: file.clone() },
                HostOp::RemoveHostDir {
                    path: "/sd/user-1500.slice.d".into()
                },
            ]
        );
    }
}
