//! `check` of the links a `--store` jail holds: each is the very store object its manifest
//! entry names (by device and inode), that object is what its name says (root's, its
//! mode and mtime; its content is hashed with the jail's files), and the store is root's
//! alone. Reads only.

use std::collections::BTreeMap;

use nix::sys::stat::{FileStat, SFlag};

use super::finding::{Finding, Report, Severity};
use super::invariants::Ctx;
use super::shown;
use crate::apply::store::{object_path, object_stat, parse_name, store_dir};
use crate::apply::walk::Walked;
use crate::state::JailState;

/// (device, inode) of every store object the manifest's links name and the store holds.
pub fn objects(ctx_state_dir: &std::path::Path, state: &JailState) -> BTreeMap<String, (u64, u64)> {
    state
        .manifest
        .entries
        .values()
        .filter_map(|e| e.store_object())
        .filter_map(|name| {
            object_stat(ctx_state_dir, name).map(|st| (name.to_string(), (st.st_dev, st.st_ino)))
        })
        .collect()
}

fn finding(
    ctx: &Ctx<'_>,
    sev: Severity,
    path: &str,
    kind: &'static str,
    what: String,
    fix: String,
) -> Finding {
    Finding {
        severity: sev,
        path: shown(ctx.jail, path),
        kind,
        what,
        fix,
        path_hex: None,
    }
}

/// Why a store object is not what its name says, if it is not.
fn object_wrong(name: &str, st: &FileStat) -> Option<String> {
    let (_, mode, mtime) = parse_name(name)?;
    let have_mtime = crate::apply::store::mtime_ns(st);
    let have_mode = st.st_mode & 0o7777;
    if st.st_mode & SFlag::S_IFMT.bits() != SFlag::S_IFREG.bits() {
        return Some("it is not a regular file".into());
    }
    if (st.st_uid, st.st_gid) != (0, 0) {
        return Some(format!(
            "it is owned by {}:{}, not root:root",
            st.st_uid, st.st_gid
        ));
    }
    if have_mode != mode {
        return Some(format!(
            "its mode is {have_mode:04o}, its name says {mode:04o}"
        ));
    }
    if have_mtime != mtime {
        return Some(format!(
            "its mtime is {have_mtime} ns, its name says {mtime} ns"
        ));
    }
    None
}

/// The store's directories: root's, and nobody else's to enter.
fn check_dirs(ctx: &Ctx<'_>, report: &mut Report) {
    let top = store_dir(ctx.state_dir);
    for dir in [top.clone(), top.join("sha256")] {
        let Ok(st) = nix::sys::stat::lstat(&dir) else {
            continue;
        };
        let mode = st.st_mode & 0o7777;
        let is_dir = st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFDIR.bits();
        if !is_dir || st.st_uid != 0 || mode & 0o077 != 0 {
            let shown = crate::escape::sh_quote(&dir.display().to_string());
            report.push(Finding {
                severity: Severity::Error,
                path: dir.display().to_string(),
                kind: "store-dir",
                what: format!(
                    "the shared store must be a directory only root can enter (owner uid {}, \
                     mode {mode:04o})",
                    st.st_uid
                ),
                fix: format!("chown root:root {shown} && chmod 0700 {shown}"),
                path_hex: None,
            });
        }
    }
}

/// Every link the manifest records against the store.
pub fn check_links(
    ctx: &Ctx<'_>,
    state: &JailState,
    by_path: &BTreeMap<&str, &Walked>,
    report: &mut Report,
) {
    let mut any = false;
    for (path, e) in &state.manifest.entries {
        let Some(name) = e.store_object() else {
            continue;
        };
        any = true;
        // missing or replaced by another type: check_manifest says so
        let Some(w) = by_path.get(path.as_str()).filter(|w| w.is(SFlag::S_IFREG)) else {
            continue;
        };
        let object = object_path(ctx.state_dir, name);
        let quoted = crate::escape::sh_quote(&object.display().to_string());
        let Some(st) = object_stat(ctx.state_dir, name) else {
            report.push(finding(
                ctx,
                Severity::Warning,
                path,
                "store-missing",
                format!(
                    "placed as a link to the store object {quoted}, which is gone: the file \
                     is no longer shared with other jails"
                ),
                "none needed: the file is intact; it is shared again once its source \
                 changes"
                    .into(),
            ));
            continue;
        };
        if (st.st_dev, st.st_ino) != (w.st.st_dev, w.st.st_ino) {
            report.push(finding(
                ctx,
                Severity::Warning,
                path,
                "store-link",
                format!(
                    "placed as a link to the store object {quoted}, now another file ({} \
                     link(s))",
                    w.st.st_nlink
                ),
                ctx.cmd("build --verify-content"),
            ));
            continue;
        }
        if let Some(why) = object_wrong(name, &st) {
            report.push(finding(
                ctx,
                Severity::Error,
                path,
                "store-object",
                format!(
                    "it is the shared store object {quoted}, which is not what its name \
                     says: {why}"
                ),
                format!(
                    "rm {quoted} (outside every jail), then {} on each jail built with \
                     --store",
                    ctx.cmd("build --verify-content")
                ),
            ));
        }
    }
    if any || state.request.store {
        check_dirs(ctx, report);
    }
}
