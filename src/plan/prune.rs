//! Removal planning: what earlier runs placed (the previous manifest) and a new plan no
//! longer holds becomes `Remove` steps. This is the one plan-versus-manifest diff: `update`
//! runs the steps, `build` reports them as no longer needed, `check` lists them. Pure.

use std::collections::BTreeSet;

use super::{JailPath, Op, Placed, Plan, Step};

/// What the previous manifest says about one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub path: JailPath,
    /// The kind of object placed there.
    pub kind: Placed,
    /// The object was there before jailsmith first applied this path: not jailsmith's.
    pub found: bool,
}

/// Why every removal step is in a plan.
pub const REASON: &str = "placed by an earlier run, no longer needed by the request";

/// The `Remove` steps for `plan`: every recorded path no step of the plan names, except
/// - an object jailsmith found there (not created): never removed;
/// - `/home` and each jailed user's home (`/home/USER`) with everything below it: the
///   users' data is never removed;
///
/// each expecting the kind the manifest recorded. Children come before their parents
/// (deepest first), so a directory is reached after what jailsmith placed in it; the
/// executor still removes a directory only when it is empty.
///
/// The steps go after the plan's own: no step that makes something needs a removal first
/// (a removed path is one no step names, and every planned path's parents are planned, so
/// none lies below a removed directory), and removing last means a run that fails while
/// making things has removed nothing.
pub fn removals(plan: &Plan, recorded: &[Recorded], users: &[String]) -> Vec<Step> {
    let planned: BTreeSet<&JailPath> = plan.steps.iter().map(|s| s.op.path()).collect();
    let homes: Vec<String> = users.iter().map(|u| format!("/home/{u}")).collect();
    let in_home = |p: &JailPath| {
        let p = p.to_string();
        p == "/home"
            || homes
                .iter()
                .any(|h| p == *h || p.starts_with(&format!("{h}/")))
    };
    let mut out: Vec<&Recorded> = recorded
        .iter()
        .filter(|r| !r.found && !planned.contains(&r.path) && !in_home(&r.path))
        .collect();
    out.sort_by(|a, b| {
        let depth = |r: &Recorded| r.path.rel().components().count();
        depth(b).cmp(&depth(a)).then_with(|| a.path.cmp(&b.path))
    });
    out.dedup_by(|a, b| a.path == b.path);
    out.into_iter()
        .map(|r| Step {
            op: Op::Remove {
                path: r.path.clone(),
                expect: r.kind,
            },
            reason: REASON.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Owner;

    fn jp(s: &str) -> JailPath {
        JailPath::new(s).unwrap()
    }

    fn rec(p: &str, kind: Placed, found: bool) -> Recorded {
        Recorded {
            path: jp(p),
            kind,
            found,
        }
    }

    fn plan_of(paths: &[&str]) -> Plan {
        Plan {
            jail: "/j".into(),
            steps: paths
                .iter()
                .map(|p| Step {
                    op: Op::MakeDir {
                        path: jp(p),
                        mode: 0o755,
                        owner: Owner::ROOT,
                    },
                    reason: "t".into(),
                })
                .collect(),
        }
    }

    fn shown(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match &s.op {
                Op::Remove { path, expect } => format!("{path} {}", expect.name()),
                other => panic!("not a removal: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn what_the_plan_still_holds_stays_and_the_rest_goes_children_first() {
        let plan = plan_of(&["/usr", "/usr/bin"]);
        let recorded = [
            rec("/usr", Placed::Dir, false),
            rec("/usr/bin", Placed::Dir, false),
            rec("/usr/lib", Placed::Dir, false),
            rec("/usr/lib/x", Placed::Dir, false),
            rec("/usr/lib/x/libx.so.1", Placed::File, false),
            rec("/usr/lib/libx.so", Placed::Symlink, false),
            rec("/usr/bin/ls", Placed::File, false),
            rec("/dev/null", Placed::Device, false),
        ];
        assert_eq!(
            shown(&removals(&plan, &recorded, &[])),
            [
                "/usr/lib/x/libx.so.1 regular file",
                "/usr/bin/ls regular file",
                "/usr/lib/libx.so symlink",
                "/usr/lib/x directory",
                "/dev/null character device",
                "/usr/lib directory",
            ]
        );
    }

    #[test]
    fn what_jailsmith_found_is_never_removed() {
        let recorded = [
            rec("/opt", Placed::Dir, true),
            rec("/opt/tool", Placed::File, true),
            rec("/opt/mine", Placed::File, false),
        ];
        assert_eq!(
            shown(&removals(&plan_of(&[]), &recorded, &[])),
            ["/opt/mine regular file"]
        );
    }

    #[test]
    fn homes_are_never_removed_nor_anything_in_them() {
        let recorded = [
            rec("/home", Placed::Dir, false),
            rec("/home/ann", Placed::Dir, false),
            rec("/home/ann/.profile", Placed::File, false),
            rec("/home/annex", Placed::Dir, false),
            rec("/home/bob/.profile", Placed::File, false),
        ];
        let users = ["ann".to_string()];
        // bob is no jailed user (any more), annex is not ann's home
        assert_eq!(
            shown(&removals(&plan_of(&[]), &recorded, &users)),
            ["/home/bob/.profile regular file", "/home/annex directory"]
        );
    }
}
