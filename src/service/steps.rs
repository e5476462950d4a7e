//! The host changes of `service` after the jail's build, each a typed host operation
//! (`plan::HostOp`) with its reason run through the one rollback journal (`apply::journal`):
//! the system account, the jail's passwd/group lines, the --read-write directories, the
//! state record, the unit, and systemctl, in the journal the jail's build ran through. A dry
//! run collects the same operations as its plan; a failure undoes what was done, newest
//! first, and says the jail's build was kept. Never writes anything itself.

use std::collections::BTreeSet;
use std::path::Path;

use super::files::{self, Written};
use super::install::{InstallError, ServiceRequest, lower};
use super::systemctl;
use crate::account::hostdb::{HostAccount, HostDb};
use crate::account::jailside::{self, JailAccount};
use crate::account::{hostfs, useradd};
use crate::apply::journal::{Journal, LinuxSystem, Performed};
use crate::apply::{Host, LinuxHost};
use crate::plan::{HostOp, HostStep, Id, JailPath, Owner, Plan, PlannedOwner};
use crate::state::{self, JailState};

/// The host every run changes.
static LINUX: LinuxSystem = LinuxSystem;

/// One install's host changes in progress: the journal, and the jail (None in a dry run of
/// a jail not built yet).
pub(super) struct Steps<'a> {
    args: &'a ServiceRequest,
    jail: Option<&'a LinuxHost>,
    journal: Journal<'static>,
    /// In a dry run: the directories the jail's build makes (the real run builds first).
    built: BTreeSet<JailPath>,
}

/// The journal of one install (a dry one for a dry run): the jail's build runs through it
/// first (`jail::build_in`), then the steps after it (`Steps::new`).
pub(super) fn journal(args: &ServiceRequest) -> Journal<'static> {
    Journal::new(&LINUX, args.dry_run)
}

impl<'a> Steps<'a> {
    /// The steps after the build, in `journal` (the one the build ran through, if any).
    pub(super) fn new(
        args: &'a ServiceRequest,
        jail: Option<&'a LinuxHost>,
        journal: Journal<'static>,
    ) -> Self {
        Steps {
            args,
            jail,
            journal,
            built: BTreeSet::new(),
        }
    }

    /// A dry run's steps: `build` is the plan of the jail's build, which the real run
    /// applies before these steps (so its directories are there then).
    pub(super) fn after_build(mut self, build: &Plan) -> Self {
        for step in &build.steps {
            let mut at = Some(step.op.path().clone());
            while let Some(p) = at {
                at = p.parent();
                self.built.insert(p);
            }
        }
        self
    }

    /// True when `path` is (or, in a dry run, will be after the build) in the jail.
    fn in_jail(&self, path: &JailPath) -> anyhow::Result<bool> {
        if self.built.contains(path) {
            return Ok(true);
        }
        Ok(match self.jail {
            Some(h) => h.stat(path).map_err(lower)?.is_some(),
            None => false,
        })
    }

    fn dry(&self) -> bool {
        self.args.dry_run
    }

    fn host(&self) -> Option<&'a dyn Host> {
        self.jail.map(|h| h as &dyn Host)
    }

    /// Runs `op` through the journal (in a dry run: only plans it).
    fn exec(&mut self, op: HostOp, reason: impl Into<String>) -> anyhow::Result<Performed> {
        let jail = self.host();
        self.journal
            .execute(jail, HostStep::new(op, reason))
            .map_err(lower)
    }

    /// The steps given: what was done (in a dry run, what would be).
    pub(super) fn into_plan(self) -> Vec<HostStep> {
        self.journal.into_steps()
    }

    /// Undoes every step done, newest first; `error` then says what was undone and that the
    /// jail's build (when it changed the jail) was kept.
    pub(super) fn roll_back(&mut self, error: anyhow::Error) -> anyhow::Error {
        let back = self.journal.roll_back(self.host());
        if back.is_empty() {
            return error;
        }
        let (undone, rest) = back.summary();
        InstallError::RolledBack {
            error,
            undone,
            rest,
        }
        .into()
    }

    /// Creates the system account (`--create-user`); returns it as the jail's files hold it
    /// (in a dry run, with the ids `useradd` is still to allocate).
    pub(super) fn create_account(&mut self, user: &str) -> anyhow::Result<JailAccount> {
        if self.dry() {
            eprintln!(
                "jailsmith: dry run: would create the system account {user} (useradd --system)"
            );
        } else {
            eprintln!("jailsmith: creating system account {user}");
        }
        let op = HostOp::CreateSystemAccount {
            name: user.to_string(),
            shell: nologin().to_string(),
        };
        self.exec(
            op,
            "the account the service runs as (--create-user): no home, no login shell",
        )?;
        if self.dry() {
            return Ok(JailAccount {
                name: user.to_string(),
                uid: Id::New,
                gid: Id::New,
                gecos: useradd::SERVICE_COMMENT.into(),
                home: useradd::SERVICE_HOME.into(),
                shell: nologin().into(),
                group: Some(user.to_string()),
            });
        }
        let found = HostDb::default().lookup(user).map_err(lower)?;
        let a = found.ok_or_else(|| InstallError::NotCreated(user.to_string()))?;
        Ok(jail_account(&a))
    }

    /// Adds the account's lines to the jail's etc/passwd and etc/group (unchanged files are
    /// not rewritten; a jail not built yet gets them after its build); true when one was.
    pub(super) fn put_jail_lines(&mut self, account: &JailAccount) -> anyhow::Result<bool> {
        let lines = jailside::line_ops(self.host(), account).map_err(lower)?;
        let changed = !lines.is_empty();
        let name = &account.name;
        for line in lines {
            let path = line.op.jail_path().expect("a jail file").clone();
            if let Some(parent) = path.parent()
                && !self.in_jail(&parent)?
            {
                self.make_root_dir(parent, format!("holds the jail's {}", line.file))?;
            }
            self.exec(line.op, format!("the jail's {}: {name}'s line", line.file))?;
            if !self.dry() {
                eprintln!(
                    "jailsmith: {}{path}: added {name}",
                    self.args.jail.display()
                );
            }
        }
        Ok(changed)
    }

    fn make_root_dir(&mut self, path: JailPath, reason: String) -> anyhow::Result<()> {
        let op = HostOp::MakeJailDir {
            path,
            mode: 0o755,
            owner: PlannedOwner::ROOT,
        };
        self.exec(op, reason).map(|_| ())
    }

    /// Makes each missing `--read-write` directory inside the jail, owned by the service
    /// account, 0700 (missing parents root 0755). An existing one is never chowned (it could
    /// be /etc): a warning says when the account cannot write it. Returns the directories
    /// made (in a dry run: to be made, owned by the ids the account has or will get).
    pub(super) fn put_read_write_dirs(
        &mut self,
        paths: &[String],
        account: &JailAccount,
    ) -> anyhow::Result<Vec<String>> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let mut missing = Vec::new();
        for p in paths {
            let jp = JailPath::new(p).map_err(|e| InstallError::BadPath(e.to_string()))?;
            if !self.in_jail(&jp)? {
                missing.push(jp);
            }
        }
        if let (Some(host), Some(owner), false) =
            (self.jail, account.owner().assigned(), self.dry())
        {
            warn_unwritable(host, &self.args.jail, paths, &missing, &account.name, owner)?;
        }
        let name = &account.name;
        let mut made = Vec::new();
        let mut planned: Vec<JailPath> = Vec::new();
        for jp in missing {
            for parent in jp.ancestors() {
                if !self.in_jail(&parent)? && !planned.contains(&parent) {
                    planned.push(parent.clone());
                    self.make_root_dir(parent, format!("holds --read-write {jp}"))?;
                }
            }
            let op = HostOp::MakeJailDir {
                path: jp.clone(),
                mode: 0o700,
                owner: account.owner(),
            };
            self.exec(op, format!("--read-write: writable by {name} only"))?;
            if !self.dry() {
                eprintln!(
                    "jailsmith: {}{jp}: created, writable by {name} only",
                    self.args.jail.display()
                );
            }
            made.push(jp.to_string());
        }
        Ok(made)
    }

    /// Records the service in the jail's state (and, when its passwd and group were just
    /// written, those as placed, so `check` finds them so), in one save.
    pub(super) fn record(
        &mut self,
        name: &str,
        record: files::ServiceRecord,
        lines_changed: bool,
    ) -> anyhow::Result<()> {
        let (dir, jail) = (&self.args.state_dir, &self.args.jail);
        let loaded = state::load(dir, jail).map_err(InstallError::State)?;
        let mut st = match loaded {
            Some(st) => st,
            // the real run's build makes it
            None if self.dry() => JailState::new(jail),
            None => return Ok(()),
        };
        // the passwd and group lines written are recorded as placed in the same save
        let mut edited = st.services.get(name) != Some(&record) || (lines_changed && self.dry());
        st.services.insert(name.to_string(), record);
        if let (true, Some(host)) = (lines_changed && !self.dry(), self.jail) {
            let paths = [jailside::passwd_path(), jailside::group_path()];
            edited |= crate::jail::record_entries(&mut st, host, &paths).map_err(lower)?;
        }
        if !edited {
            return Ok(());
        }
        st.updated_unix = state::now_unix();
        let op = HostOp::SaveState {
            path: state::state_file(dir, &st.jail),
            state_dir: dir.clone(),
            content: state::to_json(&st).into(),
        };
        self.exec(op, format!("the jail's state records service {name}"))
            .map(|_| ())
    }

    /// Writes the unit (root 0644, by the safe writer) unless it already holds `text`; its
    /// directory is made root 0755 when missing, and must be root's and not group/other
    /// writable. A symlink at its path is refused.
    pub(super) fn put_unit(&mut self, path: &Path, text: &str) -> anyhow::Result<Written> {
        let dir = path.parent().unwrap_or(Path::new("/"));
        if dir.exists() && !dir.is_symlink() {
            hostfs::ensure_root_dir(dir, 0o755).map_err(lower)?;
        } else {
            let op = HostOp::MakeHostDir {
                path: dir.to_path_buf(),
                mode: 0o755,
            };
            self.exec(op, "holds the unit")?;
        }
        let written = files::would_put_file(path, text).map_err(lower)?;
        if written != Written::Unchanged {
            let op = HostOp::WriteRootFile {
                path: path.to_path_buf(),
                content: text.into(),
                mode: 0o644,
            };
            self.exec(op, "the unit systemd runs the service from, in its jail")?;
        }
        if !self.dry() {
            let what = match written {
                Written::Unchanged => "is up to date",
                Written::Created => "written",
                Written::Updated => "updated",
            };
            eprintln!("jailsmith: {} {what}", path.display());
        }
        Ok(written)
    }

    /// Runs the systemctl operations where systemd manages the unit directory; otherwise
    /// says what to run (a dry run plans them only where they would run).
    pub(super) fn activate(&mut self, ops: Vec<HostOp>) -> anyhow::Result<()> {
        let unit_dir = &self.args.unit_dir;
        if !systemctl::manages(unit_dir) {
            if !self.dry() {
                let calls: Vec<Vec<String>> = ops.iter().map(systemctl_argv).collect();
                systemctl::tell(&calls, unit_dir);
            }
            return Ok(());
        }
        for op in ops {
            let argv = systemctl_argv(&op).join(" ");
            let reason = match op {
                HostOp::ReloadSystemd => "systemd reads the unit as written",
                _ => "--start",
            };
            self.exec(op, reason)?;
            if !self.dry() {
                eprintln!("jailsmith: systemctl {argv}");
            }
        }
        Ok(())
    }
}

/// The arguments of `systemctl` for one of its operations.
pub(super) fn systemctl_argv(op: &HostOp) -> Vec<String> {
    match op {
        HostOp::StartUnit { unit, .. } => vec![op.verb().to_string(), unit.clone()],
        _ => vec!["daemon-reload".to_string()],
    }
}

/// Warns for each existing `--read-write` directory the account cannot write.
fn warn_unwritable(
    host: &LinuxHost,
    jail: &Path,
    paths: &[String],
    missing: &[JailPath],
    name: &str,
    owner: Owner,
) -> anyhow::Result<()> {
    let (uid, gid) = (owner.uid, owner.gid);
    for p in paths
        .iter()
        .filter(|p| !missing.iter().any(|m| m.to_string() == **p))
    {
        let jp = JailPath::new(p).map_err(|e| InstallError::BadPath(e.to_string()))?;
        let Some(m) = host.stat(&jp).map_err(lower)? else {
            continue;
        };
        let writable = (m.uid == uid && m.mode & 0o200 != 0)
            || (m.gid == gid && m.mode & 0o020 != 0)
            || m.mode & 0o002 != 0;
        if !writable {
            eprintln!(
                "jailsmith: warning: {}{p} exists and {} cannot write it; jailsmith \
                 does not change an existing object's owner",
                jail.display(),
                name
            );
        }
    }
    Ok(())
}

/// An existing service account as the jail's files hold it (its group: the one of its gid,
/// else one named after it).
pub(super) fn jail_account(a: &HostAccount) -> JailAccount {
    let group = a.group.clone().unwrap_or_else(|| a.entry.name.clone());
    JailAccount::of(&a.entry, Some(group))
}

/// The login shell of a service account: nologin where the host has one.
fn nologin() -> &'static str {
    ["/usr/sbin/nologin", "/sbin/nologin"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("/bin/false")
}
