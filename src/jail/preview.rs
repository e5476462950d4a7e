//! What a build changes in a jail, as data: `preview` plans the jail's whole request and
//! judges each step against the manifest, the host sources and what is in the jail, changing
//! nothing (a dry run); `Preview::of_build` reads the same from a real build's report. Both
//! `update` and `apply` report these, so a dry run names the steps the real run performs.

use crate::apply::executor::{self, ApplyOptions};
use crate::apply::removal::{Kept, Removal};
use crate::apply::{ApplyReport, Host, HostError, LinuxHost, Outcome};
use crate::plan::{Op, Plan, Step};
use crate::state::{self, Manifest};

use super::{BuildSettings, Built};

/// The changes of one build of a jail (with a dry run: the changes it would make).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preview {
    /// The plan's steps that change the jail, in plan order: those at `added` and `updated`
    /// paths, and every removal (`removed` and `kept` say how each goes).
    pub plan: Vec<Step>,
    /// The in-jail paths made: nothing jailsmith placed was there.
    pub added: Vec<String>,
    /// The in-jail paths placed again: their host source or content changed, or what is in
    /// the jail drifted from the manifest.
    pub updated: Vec<String>,
    /// The in-jail paths the plan's removals take away.
    pub removed: Vec<String>,
    /// The removals left in place, and why.
    pub kept: Vec<Kept>,
    /// The plan's warnings (the build's, for a real one).
    pub warnings: Vec<String>,
}

impl Preview {
    /// True when the build changes nothing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.updated.is_empty() && self.removed.is_empty()
    }

    /// What a real build changed: its executor's outcomes and removals.
    pub fn of_build(built: &Built) -> Preview {
        Preview {
            warnings: built.warnings.clone(),
            ..Preview::of_apply(&built.plan, &built.report)
        }
    }

    /// What the executor did with `plan`, as its `report` says.
    pub fn of_apply(plan: &Plan, report: &ApplyReport) -> Preview {
        let mut p = Preview::default();
        for (path, outcome) in &report.outcomes {
            match outcome {
                Outcome::Created => p.added.push(path.to_string()),
                Outcome::Updated => p.updated.push(path.to_string()),
                Outcome::Unchanged => {}
            }
        }
        p.removed = report.removed.clone();
        p.kept = report.kept.clone();
        p.plan = changing_steps(plan, &p.added, &p.updated);
        p
    }
}

/// What a build with `settings` would change, changing nothing: the plan of the jail's whole
/// request (merged with its saved one as `jail::build` does), judged step by step. Refuses
/// what the build refuses: a directory that is not empty and not a jailsmith jail.
pub fn preview(settings: &BuildSettings) -> anyhow::Result<Preview> {
    super::refuse_unadopted(settings)?;
    let previous = state::load(&settings.state_dir, &settings.jail).map_err(super::state_failed)?;
    let (plan, warnings, request) = super::plan_with(settings, previous.as_ref())?;
    // a jail whose directory is gone is made anew: nothing the manifest records is there
    let (manifest, host) = if settings.jail.is_dir() {
        let manifest = previous.map(|st| st.manifest).unwrap_or_default();
        (manifest, Some(open(settings)?))
    } else {
        (Manifest::default(), None)
    };
    let opts = ApplyOptions {
        verify_content: settings.verify_content,
        jobs: 1,
    };
    let host = host.as_ref().map(|h| h as &dyn Host);
    let judged = diff(&plan, &manifest, host, request.store, &opts);
    Ok(Preview {
        warnings,
        ..judged.map_err(super::lower)?
    })
}

/// The jail, read-only.
fn open(settings: &BuildSettings) -> anyhow::Result<LinuxHost> {
    LinuxHost::open(&settings.jail, false).map_err(super::lower)
}

/// What applying `plan` would change, changing nothing: with the jail there (`host`), the
/// executor's own judgement of each step (`executor::judge`: what is there against the plan
/// and the `manifest` of the last build, the host sources, owners and modes) and of each
/// removal (`removal::judge`), so the dry run names the steps the real run changes and
/// fails where the real run is refused; with no jail (None), every step makes its object.
/// `store`: whether the build places copies from the shared store (its saved request's).
pub fn diff(
    plan: &Plan,
    manifest: &Manifest,
    host: Option<&dyn Host>,
    store: bool,
    opts: &ApplyOptions,
) -> Result<Preview, HostError> {
    let mut p = Preview::default();
    let Some(host) = host else {
        for step in &plan.steps {
            if !matches!(step.op, Op::Remove { .. }) {
                p.added.push(step.op.path().to_string());
            }
        }
        p.plan = changing_steps(plan, &p.added, &p.updated);
        p.plan.retain(|s| !matches!(s.op, Op::Remove { .. }));
        return Ok(p);
    };
    for (path, outcome) in executor::judge(plan, host, manifest, store, opts)? {
        match outcome {
            Outcome::Created => p.added.push(path.to_string()),
            Outcome::Updated => p.updated.push(path.to_string()),
            Outcome::Unchanged => {}
        }
    }
    for step in &plan.steps {
        let Op::Remove { path, expect } = &step.op else {
            continue;
        };
        match crate::apply::removal::judge(host, path, *expect) {
            Ok(Removal::Gone) => {}
            Ok(Removal::Kept(why)) => p.kept.push(Kept {
                path: path.to_string(),
                why: why.to_string(),
            }),
            // what the real run cannot look at, it fails on: the dry run says it would try
            Ok(Removal::Removed) | Err(_) => p.removed.push(path.to_string()),
        }
    }
    p.plan = changing_steps(plan, &p.added, &p.updated);
    Ok(p)
}

/// The steps of `plan` that change the jail: those at `added` or `updated` paths and the
/// removals.
fn changing_steps(plan: &Plan, added: &[String], updated: &[String]) -> Vec<Step> {
    let changed: std::collections::BTreeSet<&str> =
        added.iter().chain(updated).map(String::as_str).collect();
    plan.steps
        .iter()
        .filter(|s| {
            matches!(s.op, Op::Remove { .. }) || changed.contains(s.op.path().to_string().as_str())
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::fake::FakeHost;
    use crate::apply::journal::{Journal, LinuxSystem};
    use crate::apply::{ApplyOptions, EntryKind};
    use crate::plan::{JailPath, Owner, Placed};

    fn jp(s: &str) -> JailPath {
        JailPath::new(s).unwrap()
    }

    fn plan(ops: Vec<Op>) -> Plan {
        Plan {
            jail: "/fake".into(),
            steps: ops
                .into_iter()
                .map(|op| Step {
                    op,
                    reason: "test".into(),
                })
                .collect(),
        }
    }

    fn dir(p: &str) -> Op {
        Op::MakeDir {
            path: jp(p),
            mode: 0o755,
            owner: Owner::ROOT,
        }
    }

    fn write(p: &str, content: &str) -> Op {
        Op::WriteFile {
            path: jp(p),
            content: content.into(),
            mode: 0o644,
            owner: Owner::ROOT,
        }
    }

    fn remove(p: &str, expect: Placed) -> Op {
        Op::Remove {
            path: jp(p),
            expect,
        }
    }

    /// `diff` with the executor's default options.
    fn dry_diff(plan: &Plan, manifest: &Manifest, host: Option<&dyn Host>) -> Preview {
        let opts = ApplyOptions {
            jobs: 1,
            ..Default::default()
        };
        diff(
            plan,
            manifest,
            host,
            host.is_some_and(|h| h.uses_store()),
            &opts,
        )
        .unwrap()
    }

    /// What the executor does with `plan`, and the manifest it leaves.
    fn real(plan: &Plan, host: &FakeHost, manifest: &Manifest) -> (Preview, Manifest) {
        let opts = ApplyOptions {
            jobs: 1,
            ..Default::default()
        };
        // the one executor; a build plan never reaches the System seam
        let mut journal = Journal::new(&LinuxSystem, false);
        let r = journal
            .apply_plan(host, plan, manifest, false, &opts)
            .unwrap();
        (Preview::of_apply(plan, &r), r.manifest)
    }

    #[test]
    fn a_new_jail_previews_every_step_the_executor_then_makes() {
        let p = plan(vec![dir("etc"), write("etc/group", "root:x:0:\n")]);
        let none = Manifest::default();
        let host = FakeHost::default();
        let dry = dry_diff(&p, &none, Some(&host));
        assert_eq!(dry_diff(&p, &none, None), dry, "no jail on disk: the same");
        let (done, _) = real(&p, &host, &none);
        assert_eq!(dry, done);
        assert_eq!(dry.added.len(), 2);
        assert_eq!(dry.plan, p.steps);
    }

    #[test]
    fn a_changed_content_and_a_drifted_file_are_updates_and_nothing_else_is() {
        let host = FakeHost::default();
        let p = plan(vec![
            dir("etc"),
            write("etc/group", "root:x:0:\n"),
            write("etc/passwd", "root:x:0:0::/:/bin/sh\n"),
        ]);
        let (_, manifest) = real(&p, &host, &Manifest::default());
        assert_eq!(dry_diff(&p, &manifest, Some(&host)), Preview::default());
        // the plan writes other content
        let mut other = p.clone();
        other.steps[1].op = write("etc/group", "root:x:0:\nops:x:1000:\n");
        let d = dry_diff(&other, &manifest, Some(&host));
        assert_eq!(d.updated, ["/etc/group"]);
        assert_eq!(d.plan, [other.steps[1].clone()]);
        assert!(d.added.is_empty() && d.removed.is_empty());
        // what is in the jail is no longer what the manifest records
        host.entries
            .write()
            .unwrap()
            .get_mut("etc/passwd")
            .unwrap()
            .0
            .size = 7;
        let d = dry_diff(&p, &manifest, Some(&host));
        assert_eq!(d.updated, ["/etc/passwd"]);
        assert_eq!(d.plan, [p.steps[2].clone()]);
    }

    #[test]
    fn removals_are_judged_as_the_executor_runs_them() {
        let host = FakeHost::default()
            .file("opt/old", "x")
            .file("opt/link", "y");
        let (_, manifest) = real(&plan(vec![dir("opt")]), &host, &Manifest::default());
        let p = plan(vec![
            dir("opt"),
            remove("opt/old", Placed::File),
            // a file now where a symlink was placed: kept, never followed
            remove("opt/link", Placed::Symlink),
            remove("opt/gone", Placed::File),
        ]);
        let dry = dry_diff(&p, &manifest, Some(&host));
        assert_eq!(dry.removed, ["/opt/old"]);
        assert_eq!(dry.kept.len(), 1);
        assert_eq!(dry.kept[0].path, "/opt/link");
        assert_eq!(dry.plan, p.steps[1..]);
        let (done, _) = real(&p, &host, &manifest);
        assert_eq!(dry, done);
        assert!(host.entries.read().unwrap().get("opt/old").is_none());
        // no jail on disk: nothing to remove
        assert!(dry_diff(&p, &manifest, None).removed.is_empty());
    }

    #[test]
    fn an_untouched_jail_has_no_changes() {
        let p = plan(vec![dir("etc")]);
        let host = FakeHost::default().with("etc", EntryKind::Dir, 0o755);
        let (done, manifest) = real(&p, &host, &Manifest::default());
        assert!(done.is_empty(), "{done:?}");
        assert!(dry_diff(&p, &manifest, Some(&host)).is_empty());
    }

    #[test]
    fn an_owner_or_mode_the_executor_puts_right_is_an_update() {
        let p = plan(vec![dir("etc"), write("etc/group", "root:x:0:\n")]);
        let host = FakeHost::default();
        let (_, manifest) = real(&p, &host, &Manifest::default());
        // size and mtime as recorded: only the mode and the owner drifted
        host.entries.write().unwrap().get_mut("etc").unwrap().0.mode = 0o777;
        host.entries
            .write()
            .unwrap()
            .get_mut("etc/group")
            .unwrap()
            .0
            .uid = 1000;
        let dry = dry_diff(&p, &manifest, Some(&host));
        assert_eq!(dry.updated, ["/etc", "/etc/group"]);
        assert_eq!(dry.plan, p.steps);
        let (done, _) = real(&p, &host, &manifest);
        assert_eq!(dry, done);
    }

    #[test]
    fn what_the_real_run_refuses_to_replace_the_dry_run_refuses() {
        let p = plan(vec![dir("etc"), write("etc/group", "root:x:0:\n")]);
        let host = FakeHost::default().with("etc", EntryKind::Dir, 0o755).with(
            "etc/group",
            EntryKind::Symlink {
                target: "/etc/shadow".into(),
            },
            0o777,
        );
        let opts = ApplyOptions {
            jobs: 1,
            ..Default::default()
        };
        let dry = diff(&p, &Manifest::default(), Some(&host), false, &opts).unwrap_err();
        let mut journal = Journal::new(&LinuxSystem, false);
        let real = journal
            .apply_plan(&host, &p, &Manifest::default(), false, &opts)
            .unwrap_err();
        assert_eq!(dry.to_string(), real.to_string());
        assert!(matches!(dry, HostError::Symlink { .. }), "{dry}");
    }

    #[test]
    fn a_store_jails_copies_are_judged_with_the_store_the_build_opens() {
        let src = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(src.path(), "lib\n").unwrap();
        let copy = Op::CopyFile {
            src: src.path().to_path_buf(),
            path: jp("lib/libx.so"),
            mode: 0o644,
            owner: Owner::ROOT,
        };
        let p = plan(vec![dir("lib"), copy]);
        let host = FakeHost {
            store: true,
            ..Default::default()
        };
        let (_, manifest) = real(&p, &host, &Manifest::default());
        let opts = ApplyOptions {
            jobs: 1,
            ..Default::default()
        };
        // a dry run opens no store: it is told the build's, not asked its own host
        let read_only = FakeHost {
            store: false,
            ..host
        };
        let dry = diff(&p, &manifest, Some(&read_only), true, &opts).unwrap();
        assert!(dry.is_empty(), "{dry:?}");
        // the same jail built without the store would be copied again
        let off = diff(&p, &manifest, Some(&read_only), false, &opts).unwrap();
        assert_eq!(off.updated, ["/lib/libx.so"]);
    }
}
