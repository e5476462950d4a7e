//! Taking a jail down (`jailsmith destroy`, and `apply --prune`), below the command line.
//! Refuses while a jailed user has processes (or ends them by PID with --kill-sessions)
//! and while a mount that is not one of the jail's binds is below it; takes each user out
//! (as `user --remove`); stops the jail's services and removes their units; unmounts the
//! binds; removes, by descriptor, only what jailsmith placed (`plan::removal`'s rules:
//! homes and service data only with --purge), listing every path removed or kept; forgets
//! the state (and the jail's SELinux rule), or keeps it for what a destroy without --purge
//! leaves; collects the store objects no jail links any more. Each step is a line handed
//! to the caller as it happens and an entry of the `DestroyReport`; a dry run goes through
//! the same steps, changing nothing. Every host change is a typed operation run through a
//! journal (kills, the users' removal steps through theirs, unit stops and removals,
//! systemd's reload, the unmount, the tree's removal, the root's and the state's removal,
//! the labels, the store), whose steps are the report's `plan` (a dry run only collects
//! them: the same steps). `cli::destroy` holds the options, takes the state directory's
//! lock and prints.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::JailError;
use crate::account::sessions;
use crate::account::usecase as user;
use crate::apply::LinuxHost;
use crate::apply::binds::{clear_for_removal, refuse_foreign};
use crate::apply::journal::{Journal, LinuxSystem, Performed};
use crate::exit;
use crate::plan::removal::RemovalRules;
use crate::plan::{HostOp, HostStep};
use crate::service::systemctl;
use crate::state::{self, JailState};

/// The host every destroy changes.
static LINUX: LinuxSystem = LinuxSystem;

/// What one `jailsmith destroy` asks for (or `apply --prune` for a jail it built): plain
/// data, no clap.
#[derive(Clone, Debug)]
pub struct DestroyRequest {
    /// The jail's root directory.
    pub jail: PathBuf,
    /// Remove the users' homes, the services' read-write data and the jail root too (the
    /// root only when nothing foreign is left in it).
    pub purge: bool,
    /// End the jailed users' running processes (SIGKILL by PID) instead of refusing; with
    /// --dry-run, list the processes it would end.
    pub kill_sessions: bool,
    /// Print every path that would be removed or kept; change nothing.
    pub dry_run: bool,
    pub sshd: crate::sshd::paths::SshdPaths,
    /// Do not reload sshd after removing drop-ins, nor systemd after removing units.
    pub no_reload: bool,
    /// Where jailsmith keeps the state of each jail.
    pub state_dir: PathBuf,
    /// Report to stderr instead of stdout (set by `apply --json`, whose stdout is JSON).
    pub report_to_stderr: bool,
    /// Forget the state even without --purge (set by `apply --prune`, whose spec is the
    /// record of what it manages).
    pub forget_state: bool,
}

/// `destroy --json`: what was taken down, in the order it happened; with --dry-run, what
/// would be (every list then names what the real run does). Paths from the jail are
/// escaped as the text report shows them.
#[derive(Debug, Default, Serialize)]
pub struct DestroyReport {
    /// The jail's root directory.
    pub jail: PathBuf,
    /// True with --dry-run: nothing was changed.
    pub dry_run: bool,
    /// The processes ended with --kill-sessions (SIGKILL, by PID).
    pub killed: Vec<Session>,
    /// Each user taken out, as `jailsmith user NAME --remove --json` reports it.
    pub users: Vec<user::Report>,
    /// The jail's sshd groups and their `Match Group` blocks removed once its users were
    /// out (its `changes`), as `user --json` reports them; null when there was none. (The
    /// last member's removal usually drops them, in its `users` entry, with --dry-run too;
    /// a group of the jail's that none of its users was in is listed here.)
    pub groups: Option<user::Report>,
    /// The services whose units were stopped and removed.
    pub services: Vec<ServiceUnit>,
    /// The jail's own mounts unmounted: `SRC:DST:ro|rw` for a bind, `proc:/proc`,
    /// `devpts:/dev/pts`, `log:/dev/log`.
    pub unmounted: Vec<String>,
    /// The objects removed from the jail, each at the level it was removed.
    pub removed: Vec<Removed>,
    /// How many files were removed, those below a removed directory included.
    pub files: u64,
    /// How many directories were removed.
    pub dirs: u64,
    /// The objects left in place, and why.
    pub kept: Vec<Kept>,
    /// True when the jail root itself was removed (--purge, nothing foreign left in it).
    pub root_removed: bool,
    /// What became of the jail's state: `forgotten`, or `kept` for what is left (a
    /// destroy without --purge) so that `destroy --purge` can finish.
    pub state: String,
    /// Every host operation of the destroy, in order, each with its reason (`op`, its
    /// fields, `reason`): the processes killed, each user's removal steps (as its `users`
    /// entry's `plan` has them) and the groups', the services stopped and their units
    /// removed, systemd's reload, the jail's mounts unmounted (`unmount_binds`), its tree
    /// removed by its rules (`remove_jail_contents`: `purge`, the `service_data` and
    /// `adopted` objects it keeps), the jail root's removal, the state forgotten or saved
    /// for what is left, the SELinux rule forgotten, the store's garbage collected. With
    /// --dry-run, the operations the real run performs, step for step; what they found
    /// and did is in `unmounted`, `removed` and `kept`.
    pub plan: Vec<HostStep>,
}

/// `killed`: one process of the jail.
#[derive(Debug, Serialize)]
pub struct Session {
    /// Its process ID.
    pub pid: i32,
    /// Why it counts: `user NAME`, or `rooted in PATH`.
    pub why: String,
}

/// `services`: one service's unit.
#[derive(Debug, Serialize)]
pub struct ServiceUnit {
    /// The service's name.
    pub service: String,
    /// Its unit file.
    pub unit: PathBuf,
}

/// `removed`: one object removed.
#[derive(Debug, Serialize)]
pub struct Removed {
    /// Its path on the host.
    pub path: String,
    /// How many objects below it went with it.
    pub below: u64,
}

/// `kept`: one object left in place.
#[derive(Debug, Serialize)]
pub struct Kept {
    /// Its path on the host.
    pub path: String,
    /// Why it stays.
    pub why: String,
}

/// A destroy under way: the request, the report it fills and where its lines go as they
/// happen (so a failure half-way still shows what was done).
struct Run<'a> {
    args: &'a DestroyRequest,
    report: DestroyReport,
    say: &'a dyn Fn(&str),
    /// destroy's own host operations (a dry run only collects them).
    journal: Journal<'static>,
}

impl Run<'_> {
    /// Runs `op` through the journal (in a dry run: only plans it).
    fn exec(&mut self, op: HostOp, reason: impl Into<String>) -> anyhow::Result<Performed> {
        self.journal
            .execute(None, HostStep::new(op, reason))
            .map_err(|e| JailError::lower(e).into())
    }

    fn say(&self, line: String) {
        (self.say)(&line);
    }

    /// "removed" or "would remove": the verb of a line.
    fn verb(&self, done: &'static str, would: &'static str) -> &'static str {
        if self.args.dry_run { would } else { done }
    }
}

/// The jail's services whose units systemd runs here: `destroy` stops them itself (its
/// plan says so on a dry run too), so their processes are not sessions that make it refuse.
fn stoppable_services(st: &JailState) -> Vec<String> {
    st.services
        .iter()
        .filter(|(_, r)| systemctl::manages(r.unit.parent().unwrap_or(Path::new("/"))))
        .map(|(name, _)| name.clone())
        .collect()
}

/// PIDs of the jail's sessions: processes of its users, and processes rooted inside it,
/// except those of the services in `stopping` (by their cgroup).
fn sessions_of(st: &JailState, stopping: &[String]) -> Vec<Session> {
    let uids: Vec<(u32, &str)> = st
        .users
        .iter()
        .filter_map(|u| {
            nix::unistd::User::from_name(u)
                .ok()
                .flatten()
                .map(|x| (x.uid.as_raw(), u.as_str()))
        })
        .filter(|(uid, _)| *uid != 0)
        .collect();
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    for p in sessions::live_processes().unwrap_or_default() {
        if p.pid == me {
            continue;
        }
        if !stopping.is_empty() {
            let cgroup = std::fs::read_to_string(p.dir.join("cgroup")).unwrap_or_default();
            if stopping.iter().any(|n| systemctl::in_unit(&cgroup, n)) {
                continue;
            }
        }
        let ids = sessions::status_uids(&p.status).unwrap_or_default();
        if let Some((_, name)) = uids.iter().find(|(uid, _)| ids.contains(uid)) {
            out.push(Session {
                pid: p.pid,
                why: format!("user {name}"),
            });
            continue;
        }
        if let Ok(root) = std::fs::read_link(p.dir.join("root"))
            && root != Path::new("/")
            && root.starts_with(&st.jail)
        {
            out.push(Session {
                pid: p.pid,
                why: rooted_in(&root),
            });
        }
    }
    out
}

fn check_sessions(run: &mut Run<'_>, st: &JailState) -> anyhow::Result<()> {
    let args = run.args;
    let stopping = stoppable_services(st);
    for _ in 0..50 {
        let s = sessions_of(st, &stopping);
        if s.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = s.iter().map(|p| format!("{} ({})", p.pid, p.why)).collect();
        if args.kill_sessions && args.dry_run {
            run.say(format!("would kill {}", list.join(", ")));
            for p in &s {
                run.exec(HostOp::KillProcess { pid: p.pid }, kill_reason(p))?;
            }
            run.report.killed = s;
            return Ok(());
        }
        if !args.kill_sessions {
            return Err(JailError::Refused(format!(
                "{}: refusing while sessions run: pids {}; end them or pass --kill-sessions",
                args.jail.display(),
                list.join(", ")
            ))
            .into());
        }
        eprintln!("jailsmith: killing {}", list.join(", "));
        for p in s {
            // a process that could not be signalled is found again on the next round
            let killed = run
                .exec(HostOp::KillProcess { pid: p.pid }, kill_reason(&p))
                .is_ok_and(|done| done.changed);
            if killed && !run.report.killed.iter().any(|k| k.pid == p.pid) {
                run.report.killed.push(p);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(JailError::Host("sessions keep running after SIGKILL".into()).into())
}

/// Why a session is ended: `--kill-sessions: user NAME`.
/// Why a process counts as a session of the jail: its root, a path below the jail whose
/// names a jailed user may have chosen (a user namespace can chroot into a home directory),
/// so it is escaped as everything shown from a jail is (DESIGN §5).
fn rooted_in(root: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    format!(
        "rooted in {}",
        crate::escape::bytes(root.as_os_str().as_bytes())
    )
}

fn kill_reason(p: &Session) -> String {
    format!("--kill-sessions: {}", p.why)
}

fn user_dirs(args: &DestroyRequest) -> user::UserDirs {
    user::UserDirs {
        sshd: args.sshd.clone(),
        state_dir: args.state_dir.clone(),
        systemd_dir: user::DEFAULT_SYSTEMD_DIR.into(),
    }
}

/// Takes `name` out of the jail; `before` are the users taken out already (a dry run,
/// which took no one out, plans as if they were gone: its plan is the real run's).
fn remove_user(run: &mut Run<'_>, name: &str, before: &[String]) -> anyhow::Result<()> {
    let args = run.args;
    let mut req = user::UserRequest::removal(
        name,
        &args.jail,
        user_dirs(args),
        false,
        args.no_reload,
        args.dry_run,
    );
    if args.dry_run {
        req.left_before = before.to_vec();
    }
    let report = user::converge(&req).map_err(JailError::lower)?;
    for w in &report.warnings {
        eprintln!("jailsmith: warning: {w}");
    }
    for line in user::report_lines(&report) {
        run.say(line);
    }
    merge_plan(run, &report.plan);
    run.report.users.push(report);
    Ok(())
}

/// A user's removal steps (its own journal ran them, or planned them) join destroy's plan
/// in order: the top-level `plan` holds every operation of the destroy.
fn merge_plan(run: &mut Run<'_>, steps: &[HostStep]) {
    for step in steps {
        run.journal.record_done(step.clone(), Vec::new());
    }
}

/// The jail's sshd groups and blocks that are left once its users are out.
fn remove_groups(run: &mut Run<'_>) -> anyhow::Result<()> {
    let args = run.args;
    let mut report =
        user::drop_jail_groups(&args.jail, user_dirs(args), args.no_reload, args.dry_run)
            .map_err(JailError::lower)?;
    for w in &report.warnings {
        eprintln!("jailsmith: warning: {w}");
    }
    if args.dry_run {
        // a dry run took no user out: a group whose last member's removal already listed
        // its drop is not listed twice; one whose last members were several is listed here
        let listed = |c: &user::Change| {
            run.report
                .users
                .iter()
                .flat_map(|u| &u.changes)
                .any(|d| (d.object, d.action, &d.target) == (c.object, c.action, &c.target))
        };
        report.changes.retain(|c| !listed(c));
        report.up_to_date = report.changes.is_empty();
        // as the plan shows them (a state's content, not shown, differs by its time)
        let shown = |s: &HostStep| serde_json::to_value(s).ok();
        let planned = |s: &HostStep| {
            let s = shown(s);
            run.report
                .users
                .iter()
                .flat_map(|u| &u.plan)
                .any(|p| shown(p) == s)
        };
        report.plan.retain(|s| !planned(s));
    }
    if !report.up_to_date {
        for line in user::report_lines(&report) {
            run.say(line);
        }
        merge_plan(run, &report.plan);
        run.report.groups = Some(report);
    }
    Ok(())
}

/// Stops (where systemd runs it) and removes the unit of every service recorded for the
/// jail, then reloads systemd once (unless --no-reload); where systemd does not manage the
/// unit directory, says what to run instead. A dry run plans the same operations.
fn remove_services(run: &mut Run<'_>, st: &JailState) -> anyhow::Result<()> {
    let args = run.args;
    let mut reload_in = None;
    for (name, rec) in &st.services {
        let unit = rec.unit.display();
        match rec.unit.symlink_metadata() {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                eprintln!(
                    "jailsmith: warning: {unit} (service {name}) is not a regular file; left alone"
                );
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(JailError::Host(format!("{unit}: {e}")).into()),
        }
        let dir = rec.unit.parent().unwrap_or(Path::new("/"));
        let service = format!("{name}.service");
        let stop = vec!["disable", "--now", service.as_str()];
        if systemctl::manages(dir) {
            let why = format!("no process of service {name} is left in a jail about to go");
            run.exec(
                HostOp::StopUnit {
                    unit: service.clone(),
                },
                why,
            )?;
            if !args.dry_run {
                eprintln!("jailsmith: systemctl {}", stop.join(" "));
            }
        } else if !args.dry_run {
            systemctl::tell(&[stop], dir);
        }
        run.exec(
            HostOp::RemoveRootFile {
                path: rec.unit.clone(),
            },
            format!("the unit of service {name}"),
        )?;
        run.say(if args.dry_run {
            format!("would stop {name} and remove its unit {unit}")
        } else {
            format!("removed the unit of service {name}: {unit}")
        });
        run.report.services.push(ServiceUnit {
            service: name.clone(),
            unit: rec.unit.clone(),
        });
        reload_in = rec.unit.parent().map(Path::to_path_buf);
    }
    if let Some(dir) = reload_in.filter(|_| !args.no_reload) {
        if systemctl::manages(&dir) {
            run.exec(HostOp::ReloadSystemd, "systemd forgets the removed units")?;
            if !args.dry_run {
                eprintln!("jailsmith: systemctl daemon-reload");
            }
        } else if !args.dry_run {
            systemctl::tell(&[vec!["daemon-reload"]], &dir);
        }
    }
    Ok(())
}

/// Takes a jail down and prints each line to stdout (stderr with `report_to_stderr`) as
/// it happens: what `apply --prune` runs; the exit code.
pub fn run(args: DestroyRequest) -> anyhow::Result<u8> {
    let to_stderr = args.report_to_stderr;
    let say = move |l: &str| {
        if to_stderr {
            eprintln!("{l}");
        } else {
            println!("{l}");
        }
    };
    destroy(&args, &say).map(|_| exit::OK)
}

/// Takes a jail down (with `dry_run`: says what it would do, changing nothing): `say`
/// gets each line of the report as it happens; returns the whole report.
pub fn destroy(args: &DestroyRequest, say: &dyn Fn(&str)) -> anyhow::Result<DestroyReport> {
    crate::jail::refuse_jail(&args.jail, &args.state_dir)?;
    let st = state::load_existing(&args.state_dir, &args.jail)?;
    // the state's file as named while the jail root is there (its path is resolved)
    let state_path = state::state_file(&args.state_dir, &args.jail);
    let host = if args.jail.is_dir() {
        Some(LinuxHost::open(&args.jail, false).map_err(JailError::lower)?)
    } else {
        None
    };
    let had_root = host.is_some();
    let own = crate::mounts::Own::of(&st.request);
    // A mount that is not one of the jail's binds stops everything, before any change.
    if let Some(h) = &host {
        refuse_foreign(h, &st.request.binds, own, None).map_err(JailError::lower)?;
    }
    let mut run = Run {
        args,
        report: DestroyReport {
            jail: args.jail.clone(),
            dry_run: args.dry_run,
            ..Default::default()
        },
        say,
        journal: Journal::new(&LINUX, args.dry_run),
    };
    check_sessions(&mut run, &st)?;
    // Every check that can refuse is behind us, and the ended sessions have no inverse:
    // from the first user's removal on, a destroy is not undone, only finished by running
    // it again.
    run.journal.commit();
    for (i, u) in st.users.iter().enumerate() {
        remove_user(&mut run, u, &st.users[..i])?;
    }
    remove_groups(&mut run)?;
    remove_services(&mut run, &st)?;
    let mut left = Vec::new();
    if let Some(h) = &host {
        unmount(&mut run, &st, h, own)?;
        left = remove_files(&mut run, &st, h)?;
    }
    if args.purge && had_root && left.is_empty() && st.manifest.foreign.is_empty() {
        run.exec(
            HostOp::RemoveJailRoot {
                path: args.jail.clone(),
            },
            "--purge: nothing is left in the jail root",
        )?;
        run.say(format!(
            "{} {}",
            run.verb("removed", "would remove"),
            args.jail.display()
        ));
        run.report.root_removed = true;
    }
    if args.purge || args.forget_state || !had_root {
        let why = if args.purge {
            "--purge: the jail is gone"
        } else if args.forget_state {
            "the spec no longer names the jail"
        } else {
            "the jail root is gone"
        };
        run.exec(HostOp::RemoveRootFile { path: state_path }, why)?;
        run.say(format!(
            "{} the state of {}",
            run.verb("forgot", "would forget"),
            args.jail.display()
        ));
        run.report.state = "forgotten".into();
        if crate::labels::enabled() {
            let op = HostOp::ForgetLabels {
                jail: args.jail.clone(),
            };
            let done = run.exec(
                op,
                "the jail is forgotten: its SELinux equivalence rule goes",
            )?;
            let ran: Vec<String> = done
                .detail
                .iter()
                .flat_map(|d| d.lines())
                .map(String::from)
                .collect();
            crate::labels::say(&ran);
        }
    } else {
        keep_remnant(&mut run, &left, state_path)?;
        run.report.state = "kept".into();
    }
    // the jail's links are gone and its state no longer names them: the objects no other
    // jail links go too (never an object directly: only what `collect` finds unlinked)
    if crate::jail::store::links_any(&st.manifest) {
        let op = HostOp::CollectStoreGarbage {
            state_dir: args.state_dir.clone(),
        };
        let done = run.exec(op, "the jail's links to the shared store are gone")?;
        if let Some(line) = done.detail {
            eprintln!("jailsmith: {line}");
        }
    }
    run.report.plan = run.journal.into_steps();
    Ok(run.report)
}

/// Unmounts the jail's own mounts (its binds, its procfs, devpts and log socket) before its
/// tree goes, refusing any other mount below it: the operation names those found now (a
/// dry run lists them), and says what it took off.
fn unmount(
    run: &mut Run<'_>,
    st: &JailState,
    host: &LinuxHost,
    own: crate::mounts::Own,
) -> anyhow::Result<()> {
    let binds = &st.request.binds;
    // what is mounted below now, refusing what is not the jail's: changes nothing
    let mounts = clear_for_removal(host, binds, own, None, true).map_err(JailError::lower)?;
    if mounts.is_empty() {
        return Ok(());
    }
    let op = HostOp::UnmountBinds {
        jail: run.args.jail.clone(),
        under: None,
        mounts: mounts.clone(),
        binds: binds.clone(),
        own,
    };
    let done = run.exec(op, "no removal may reach into a host directory")?;
    let unmounted = if run.args.dry_run {
        mounts
    } else {
        done.unmounted
    };
    for b in unmounted {
        run.say(format!("{} {b}", run.verb("unmounted", "would unmount")));
        run.report.unmounted.push(b);
    }
    Ok(())
}

/// After a destroy without --purge, the state keeps what is left (homes, service data, the
/// jail's binds, what was found there) so that a later `destroy --purge` can finish; the
/// jail's programs are no longer asked for.
fn keep_remnant(run: &mut Run<'_>, left: &[String], path: PathBuf) -> anyhow::Result<()> {
    let args = run.args;
    let line = format!(
        "{} the state of {} for what is left; `destroy --purge` removes the rest",
        run.verb("kept", "would keep"),
        args.jail.display()
    );
    let fail = |e: state::StateError| JailError::Host(e.to_string());
    let Some(mut st) = state::load(&args.state_dir, &args.jail).map_err(fail)? else {
        return Ok(());
    };
    st.manifest.entries.retain(|p, _| {
        left.iter()
            .any(|l| l == p || l.starts_with(&format!("{p}/")))
    });
    st.request.bins.clear();
    st.request.files.clear();
    st.request.profiles.clear();
    st.updated_unix = state::now_unix();
    let op = HostOp::SaveState {
        path,
        state_dir: args.state_dir.clone(),
        content: state::to_json(&st).into(),
    };
    run.exec(op, "what is left, for `destroy --purge` to finish")?;
    run.say(line);
    Ok(())
}

/// Removes what the rules say (dry run: lists it) and reports it. Returns the in-jail
/// paths kept.
fn remove_files(
    run: &mut Run<'_>,
    st: &JailState,
    host: &LinuxHost,
) -> anyhow::Result<Vec<String>> {
    let args = run.args;
    let rules = removal_rules(st, args.purge);
    let op = HostOp::RemoveJailContents {
        jail: args.jail.clone(),
        rules: rules.clone(),
    };
    let why = if args.purge {
        "what jailsmith placed, the homes and the services' data (--purge)"
    } else {
        "what jailsmith placed; homes and the services' data stay"
    };
    let done = run.exec(op, why)?;
    let r = if args.dry_run {
        // a dry run walks the jail as the real run finds it: its own mounts gone
        let policy = |p: Option<&str>, dir: bool| rules.decide(p, dir);
        host.report_below_unmounted(&policy)
            .map_err(JailError::lower)?
    } else {
        done.removal.unwrap_or_default()
    };
    let verb = run.verb("removed", "would remove");
    for (p, below) in &r.removed {
        let with = if *below > 0 {
            format!(" (with {below} objects below it)")
        } else {
            String::new()
        };
        let path = host_path(&args.jail, p);
        run.say(format!("{verb} {path}{with}"));
        run.report.removed.push(Removed {
            path,
            below: *below,
        });
    }
    run.say(format!(
        "{verb} {} files and {} directories from {}",
        r.files,
        r.dirs,
        args.jail.display()
    ));
    (run.report.files, run.report.dirs) = (r.files, r.dirs);
    let verb = run.verb("kept", "would keep");
    for k in &r.kept {
        let (path, why) = (host_path(&args.jail, k), rules.why_kept(k).to_string());
        run.say(format!("{verb} {path}: {why}"));
        run.report.kept.push(Kept { path, why });
    }
    Ok(r.kept)
}

/// What destroy removes from the jail's tree, as data, from its state.
fn removal_rules(st: &JailState, purge: bool) -> RemovalRules {
    let r = &st.request;
    let binds = r
        .binds
        .iter()
        .flat_map(|b| {
            let mut v: Vec<String> = b.dst.ancestors().iter().map(|a| a.to_string()).collect();
            v.push(b.dst.to_string());
            v
        })
        .chain(r.proc.then(|| crate::mounts::PROC_DIR.to_string()))
        .chain((r.devpts || r.log.is_some()).then(|| "/dev".to_string()))
        .chain(r.devpts.then(|| crate::mounts::DEVPTS_DIR.to_string()))
        .collect();
    RemovalRules {
        purge,
        entries: st
            .manifest
            .entries
            .iter()
            .map(|(p, e)| (p.clone(), e.found))
            .collect(),
        foreign: st.manifest.foreign.clone(),
        data: st
            .services
            .values()
            .flat_map(|s| s.read_write.iter().cloned())
            .collect(),
        binds,
        devpts: r.devpts,
        log: r.log.is_some().then(|| crate::mounts::LOG_PATH.to_string()),
    }
}

fn host_path(jail: &Path, p: &str) -> String {
    jail.join(p.trim_start_matches('/')).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::removal::Decision;
    use crate::state::{EntryType, ManifestEntry};

    fn entry(kind: EntryType, found: bool) -> ManifestEntry {
        ManifestEntry {
            kind,
            src: None,
            sha256: None,
            mode: 0o755,
            uid: 0,
            gid: 0,
            size: 0,
            mtime_ns: 0,
            src_size: None,
            src_mtime_ns: None,
            target: None,
            device: None,
            found,
            store: None,
        }
    }

    fn state() -> JailState {
        let mut st = JailState::default();
        let e = &mut st.manifest.entries;
        for d in ["/usr", "/usr/bin", "/home", "/tmp", "/srv"] {
            e.insert(d.into(), entry(EntryType::Dir, false));
        }
        e.insert("/usr/bin/bash".into(), entry(EntryType::File, false));
        e.insert("/etc".into(), entry(EntryType::Dir, true));
        e.insert("/etc/passwd".into(), entry(EntryType::Content, false));
        e.insert("/etc/hosts".into(), entry(EntryType::File, true));
        st.manifest.foreign.insert("/projects".into());
        st.manifest.foreign.insert("/etc".into());
        st.manifest.foreign.insert("/home/bob".into());
        st.services.insert(
            "svc".into(),
            crate::service::files::ServiceRecord {
                user: "svc".into(),
                unit: "/x/svc.service".into(),
                read_write: vec!["/srv/data".into(), "/var/lib/app".into()],
            },
        );
        st
    }

    #[test]
    fn a_session_root_named_by_a_jailed_user_is_shown_escaped() {
        use std::os::unix::ffi::OsStrExt;
        let root = Path::new(std::ffi::OsStr::from_bytes(
            b"/srv/j/home/u/\x1b[2J\nfake line \xff",
        ));
        let why = rooted_in(root);
        assert_eq!(why, "rooted in /srv/j/home/u/\\x1b[2J\\nfake line \\xff");
        assert!(!why.chars().any(|c| c.is_control()), "{why:?}");
    }

    #[test]
    fn destroy_removes_only_what_it_made_and_the_rest_with_purge() {
        let st = state();
        let plain = removal_rules(&st, false);
        let enter = Decision::Enter {
            remove_if_empty: true,
        };
        assert_eq!(plain.decide(Some("/usr"), true), enter);
        assert_eq!(plain.decide(Some("/usr/bin/bash"), false), Decision::Remove);
        assert_eq!(plain.decide(Some("/usr/bin/theirs"), false), Decision::Keep);
        assert_eq!(plain.decide(Some("/projects"), true), Decision::Keep);
        assert_eq!(plain.decide(None, false), Decision::Keep);
        // found there: entered, never removed itself
        assert_eq!(
            plain.decide(Some("/etc"), true),
            Decision::Enter {
                remove_if_empty: false
            }
        );
        assert_eq!(plain.decide(Some("/etc/hosts"), false), Decision::Keep);
        assert_eq!(plain.decide(Some("/etc/passwd"), false), Decision::Remove);
        // the scratch /tmp is emptied whatever the names in it
        assert_eq!(
            plain.decide(Some("/tmp"), true),
            Decision::Empty {
                remove_if_empty: true
            }
        );
        // homes and service data only with --purge; the way to the data is entered
        assert_eq!(plain.decide(Some("/home/alice"), true), Decision::Keep);
        assert_eq!(plain.decide(Some("/srv/data"), true), Decision::Keep);
        assert_eq!(plain.decide(Some("/var"), true), enter);
        let purge = removal_rules(&st, true);
        assert_eq!(purge.decide(Some("/home/alice"), true), Decision::Remove);
        assert_eq!(purge.decide(Some("/srv/data"), true), Decision::Remove);
        assert_eq!(purge.decide(Some("/projects"), true), Decision::Keep);
        // an adopted home is foreign: kept even by --purge
        assert_eq!(purge.decide(Some("/home/bob"), true), Decision::Keep);
    }
}
