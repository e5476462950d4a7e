//! Integrity and staleness: the manifest against the jail (whole-file sha256, in parallel),
//! objects the manifest does not know, host sources changed since they were copied, and
//! what the closure needs now (the planner re-run on the recorded request). Reads only.

use std::collections::BTreeMap;

use nix::sys::stat::SFlag;
use rayon::prelude::*;

use super::finding::{Finding, Report, Severity};
use super::invariants::Ctx;
use super::shown;
use crate::apply::source::{hash_source, source_meta};
use crate::apply::walk::{WalkResult, Walked, is_within};
use crate::apply::{EntryKind, Host, LinuxHost};
use crate::plan::{JailPath, Op};
use crate::state::{EntryType, JailState, Manifest, ManifestEntry};

fn update_fix(ctx: &Ctx<'_>) -> String {
    ctx.cmd("update")
}

fn push(
    ctx: &Ctx<'_>,
    report: &mut Report,
    sev: Severity,
    path: &str,
    kind: &'static str,
    what: String,
) {
    report.push(Finding {
        severity: sev,
        path: shown(ctx.jail, path),
        kind,
        what,
        fix: update_fix(ctx),
        path_hex: None,
    });
}

fn expected_type(e: &ManifestEntry) -> SFlag {
    match e.kind {
        EntryType::File | EntryType::Content => SFlag::S_IFREG,
        EntryType::Symlink => SFlag::S_IFLNK,
        EntryType::Dir => SFlag::S_IFDIR,
        EntryType::Device => SFlag::S_IFCHR,
    }
}

/// Files jailsmith placed that were removed, replaced or modified.
pub fn check_manifest(
    ctx: &Ctx<'_>,
    host: &LinuxHost,
    state: &JailState,
    by_path: &BTreeMap<&str, &Walked>,
    jobs: usize,
    report: &mut Report,
) {
    let mut to_hash: Vec<(String, String)> = Vec::new();
    for (path, e) in &state.manifest.entries {
        let Some(w) = by_path.get(path.as_str()) else {
            push(
                ctx,
                report,
                Severity::Error,
                path,
                "missing",
                "placed by jailsmith, now missing".into(),
            );
            continue;
        };
        if !w.is(expected_type(e)) {
            push(
                ctx,
                report,
                Severity::Error,
                path,
                "replaced",
                format!("placed by jailsmith as a {:?}, now something else", e.kind).to_lowercase(),
            );
            continue;
        }
        match e.kind {
            EntryType::File | EntryType::Content => {
                if w.st.st_size as u64 != e.size {
                    push(
                        ctx,
                        report,
                        Severity::Error,
                        path,
                        "modified",
                        format!(
                            "modified since jailsmith placed it (size {} → {})",
                            e.size, w.st.st_size
                        ),
                    );
                } else if let Some(sha) = &e.sha256 {
                    to_hash.push((path.clone(), sha.clone()));
                } else if mtime_ns(w) != e.mtime_ns {
                    push(
                        ctx,
                        report,
                        Severity::Warning,
                        path,
                        "modified",
                        "mtime changed since jailsmith placed it (no hash recorded)".into(),
                    );
                }
            }
            EntryType::Symlink => {
                let target = JailPath::new(path)
                    .ok()
                    .and_then(|p| host.stat(&p).ok().flatten())
                    .and_then(|m| match m.kind {
                        EntryKind::Symlink { target } => Some(target),
                        _ => None,
                    });
                if target != e.target {
                    push(
                        ctx,
                        report,
                        Severity::Error,
                        path,
                        "modified",
                        format!(
                            "symlink now points to {:?}, jailsmith made it point to {:?}",
                            target, e.target
                        ),
                    );
                }
            }
            EntryType::Device => {
                let now = (
                    nix::sys::stat::major(w.st.st_rdev),
                    nix::sys::stat::minor(w.st.st_rdev),
                );
                if e.device.is_some_and(|d| d != now) {
                    push(
                        ctx,
                        report,
                        Severity::Error,
                        path,
                        "modified",
                        format!("device numbers changed to {}:{}", now.0, now.1),
                    );
                }
            }
            EntryType::Dir => {}
        }
    }
    report.hashed = to_hash.len();
    let hash_all = || {
        to_hash
            .par_iter()
            .with_max_len(1) // a file per task: one big file must not hold back a quarter of the rest
            .filter_map(|(path, sha)| {
                let jp = JailPath::new(path).ok()?;
                match host.hash_file(&jp) {
                    Ok(now) if &now == sha => None,
                    Ok(_) => Some((
                        path.clone(),
                        "content modified since jailsmith placed it (sha256 differs)".to_string(),
                    )),
                    Err(err) => Some((path.clone(), format!("cannot be hashed: {err}"))),
                }
            })
            .collect::<Vec<_>>()
    };
    let bad = match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
        Ok(pool) => pool.install(hash_all),
        Err(_) => hash_all(),
    };
    for (path, what) in bad {
        match state
            .manifest
            .entries
            .get(&path)
            .and_then(|e| e.store_object())
        {
            Some(name) => {
                let object = crate::apply::store::object_path(ctx.state_dir, name);
                let object = crate::escape::sh_quote(&object.display().to_string());
                report.push(Finding {
                    severity: Severity::Error,
                    path: shown(ctx.jail, &path),
                    kind: "store-object",
                    what: format!(
                        "{what}: it is the shared store object {object}, whose content no \
                         longer matches its name (every jail linking it sees the change)"
                    ),
                    fix: format!(
                        "rm {object} (outside every jail), then {} on each jail built with \
                         --store",
                        ctx.cmd("build --verify-content")
                    ),
                    path_hex: None,
                });
            }
            None => push(ctx, report, Severity::Error, &path, "modified", what),
        }
    }
}

fn mtime_ns(w: &Walked) -> i128 {
    crate::apply::store::mtime_ns(&w.st)
}

/// Objects outside the user-writable trees that jailsmith did not place.
pub fn check_unknown(
    ctx: &Ctx<'_>,
    manifest: &Manifest,
    walked: &WalkResult,
    mount_points: &[String],
    report: &mut Report,
) {
    for w in &walked.entries {
        let p = w.path.as_str();
        if manifest.entries.contains_key(p)
            || ctx.trees.user_writable(p)
            || ctx.trees.bind_related(p)
            || mount_points
                .iter()
                .any(|m| is_within(p, m) || is_within(m, p))
            || (p == "/tmp" && ctx.trees.tmp)
        {
            continue;
        }
        report.push(Finding {
            severity: Severity::Warning,
            path: shown(ctx.jail, p),
            kind: "unknown",
            what: "not placed by jailsmith (not in the manifest)".into(),
            fix: format!("remove it, or add it with {} --file …", ctx.cmd("build")),
            path_hex: None,
        });
    }
}

/// Host sources changed since they were copied: size/mtime first, then sha256.
pub fn check_sources(ctx: &Ctx<'_>, state: &JailState, report: &mut Report) {
    let changed: Vec<(String, String)> = state
        .manifest
        .entries
        .par_iter()
        .filter(|(_, e)| e.kind == EntryType::File)
        .filter_map(|(path, e)| {
            let src = e.src.as_ref()?;
            let meta = match source_meta(src) {
                Ok(m) => m,
                Err(err) => {
                    return Some((
                        path.clone(),
                        format!(
                            "host source is gone or unreadable: {}",
                            err.into_host(src, "stat")
                        ),
                    ));
                }
            };
            if Some(meta.size) == e.src_size && Some(meta.mtime_ns) == e.src_mtime_ns {
                return None;
            }
            match (hash_source(src), &e.sha256) {
                (Ok(now), Some(then)) if &now == then => None,
                (Ok(_), _) => Some((
                    path.clone(),
                    format!(
                        "stale: the host's {} changed since it was copied",
                        src.display()
                    ),
                )),
                (Err(err), _) => Some((path.clone(), err.into_host(src, "hash").to_string())),
            }
        })
        .collect();
    for (path, what) in changed {
        push(ctx, report, Severity::Warning, &path, "stale", what);
    }
}

/// What the closure needs now that the jail lacks, from the planner re-run on the request,
/// and what it no longer needs: the plan's removal steps (the `rebuild` settings prune),
/// so `check` lists exactly what `update` would remove (never what jailsmith found there,
/// nothing in the users' homes).
pub fn check_closure(
    ctx: &Ctx<'_>,
    state: &JailState,
    rebuild: &Result<crate::jail::BuildSettings, String>,
    report: &mut Report,
) {
    let planned = rebuild
        .as_ref()
        .map_err(|e| e.clone())
        .and_then(|s| crate::jail::plan(s).map_err(|e| format!("{e:#}")));
    let plan = match planned {
        Ok((plan, _)) => plan,
        Err(e) => {
            push(
                ctx,
                report,
                Severity::Warning,
                "/",
                "replan",
                format!("the recorded request cannot be planned again: {e}"),
            );
            return;
        }
    };
    for step in &plan.steps {
        let path = step.op.path().to_string();
        match (&step.op, state.manifest.entries.get(&path)) {
            // the planner's removals (`plan::prune`): what `update` would remove
            (Op::Remove { .. }, _) => push(
                ctx,
                report,
                Severity::Info,
                &path,
                "unneeded",
                "placed by jailsmith, no longer needed by the recorded request".into(),
            ),
            (_, None) => push(
                ctx,
                report,
                Severity::Warning,
                &path,
                "needed",
                format!("needed now ({}) but not in the jail", step.reason),
            ),
            (Op::CopyFile { src, .. }, Some(e)) if e.src.as_ref() != Some(src) => push(
                ctx,
                report,
                Severity::Warning,
                &path,
                "stale",
                format!("now comes from {} ({})", src.display(), step.reason),
            ),
            _ => {}
        }
    }
}
