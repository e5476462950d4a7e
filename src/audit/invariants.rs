//! DESIGN §5 over the walked jail: ownership and modes outside the homes, setuid/setgid,
//! capabilities, refused programs, /dev, forbidden /etc files, hard links, sticky bits and
//! mounts. Pure over what the walker and mountinfo returned.

use std::path::Path;

use nix::sys::stat::SFlag;

use super::finding::{Finding, Report, Severity};
use super::walk::{WalkResult, Walked};
use super::{Trees, shown};
use crate::mounts::apply::flags_match;
use crate::mounts::mountinfo::MountEntry;
use crate::plan::policy;
use crate::state::Manifest;

/// Shared inputs of the checks.
pub struct Ctx<'a> {
    pub jail: &'a Path,
    pub trees: &'a Trees,
    pub manifest: Option<&'a Manifest>,
}

impl Ctx<'_> {
    fn finding(
        &self,
        severity: Severity,
        path: &str,
        kind: &'static str,
        what: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            severity,
            path: shown(self.jail, path),
            kind,
            what: what.into(),
            fix: fix.into(),
        }
    }

    fn host(&self, path: &str) -> String {
        shown(self.jail, path)
    }
}

fn kind_name(w: &Walked) -> &'static str {
    match w.kind() {
        SFlag::S_IFREG => "regular file",
        SFlag::S_IFDIR => "directory",
        SFlag::S_IFLNK => "symlink",
        SFlag::S_IFCHR => "character device",
        SFlag::S_IFBLK => "block device",
        SFlag::S_IFIFO => "FIFO",
        _ => "socket",
    }
}

/// What an object is, in the words of §5.2 (`lib directory`, `etc/`, …).
fn described(path: &str, w: &Walked) -> String {
    let k = kind_name(w);
    if path == "/etc" {
        "etc/".into()
    } else if path == "/etc/ld.so.cache" {
        "the loader cache etc/ld.so.cache".into()
    } else if w.is(SFlag::S_IFDIR) && path.split('/').any(|c| c.starts_with("lib")) {
        "lib directory".into()
    } else {
        k.into()
    }
}

pub fn check_entries(ctx: &Ctx<'_>, walked: &WalkResult, report: &mut Report) {
    for w in &walked.entries {
        check_entry(ctx, w, report);
    }
    for (path, why) in &walked.unreadable {
        report.push(ctx.finding(
            Severity::Error,
            path,
            "unreadable",
            format!("could not be examined, so nothing below it is vouched for: {why}"),
            "look at it by hand",
        ));
    }
}

fn check_entry(ctx: &Ctx<'_>, w: &Walked, report: &mut Report) {
    let p = w.path.as_str();
    let host = ctx.host(p);
    let user_tree = ctx.trees.user_writable(p);
    let mode = w.mode();
    let is_reg = w.is(SFlag::S_IFREG);
    let is_dir = w.is(SFlag::S_IFDIR);
    if is_reg && mode & 0o4000 != 0 {
        report.push(ctx.finding(
            Severity::Error,
            p,
            "setuid",
            format!("setuid file owned by uid {}", w.st.st_uid),
            format!("chmod u-s {host} (or remove it)"),
        ));
    }
    if is_reg && mode & 0o2000 != 0 {
        report.push(ctx.finding(
            Severity::Error,
            p,
            "setgid",
            format!("setgid file (group {})", w.st.st_gid),
            format!("chmod g-s {host} (or remove it)"),
        ));
    }
    if w.capability {
        report.push(ctx.finding(
            Severity::Error,
            p,
            "capability",
            "file capabilities set (security.capability)",
            format!("setcap -r {host}"),
        ));
    }
    if is_reg && mode & 0o111 != 0 {
        let name = p.rsplit('/').next().unwrap_or_default();
        if let Some(why) = policy::refusal(name) {
            report.push(ctx.finding(
                Severity::Error,
                p,
                "refused-program",
                format!("{name} must not be in a jail: it {why}"),
                format!("rm {host}"),
            ));
        }
    }
    match p {
        "/etc/ld.so.preload" => report.push(ctx.finding(
            Severity::Error,
            p,
            "ld-preload",
            "etc/ld.so.preload present: every program in the jail loads what it names",
            format!("rm {host}"),
        )),
        "/etc/shadow" | "/etc/gshadow" => report.push(ctx.finding(
            Severity::Error,
            p,
            "shadow",
            "password hashes have no place in a jail",
            format!("rm {host}"),
        )),
        _ => {}
    }
    check_node_type(ctx, w, user_tree, report);
    if is_dir && mode & 0o002 != 0 && mode & 0o1000 == 0 {
        report.push(ctx.finding(
            Severity::Error,
            p,
            "world-writable",
            format!("world-writable directory without the sticky bit (mode {mode:04o})"),
            format!("chmod o-w {host} (or chmod +t for a shared directory)"),
        ));
    }
    if is_reg && w.st.st_nlink > 1 {
        let sev = if user_tree {
            Severity::Error
        } else {
            Severity::Warning
        };
        report.push(ctx.finding(
            sev,
            p,
            "hard-link",
            format!(
                "regular file with {} hard links{}",
                w.st.st_nlink,
                if user_tree {
                    " inside a user-writable tree: it may be a jail (or host) file the user can pin or swap"
                } else {
                    ""
                }
            ),
            format!("rm {host} (jailsmith never makes hard links)"),
        ));
    }
    if !user_tree {
        check_root_owned(ctx, w, report);
    }
}

/// §5.2: outside the homes, root-owned and not writable by group or others.
fn check_root_owned(ctx: &Ctx<'_>, w: &Walked, report: &mut Report) {
    let p = w.path.as_str();
    let host = ctx.host(p);
    let mode = w.mode();
    let what = described(p, w);
    if w.st.st_uid != 0 && !ctx.trees.is_home(p) {
        report.push(ctx.finding(
            Severity::Error,
            p,
            "owner",
            format!(
                "{what} owned by uid {} outside the users' homes",
                w.st.st_uid
            ),
            format!("chown root:root {host}"),
        ));
    }
    let shared_tmp = p == "/tmp" && ctx.trees.tmp;
    // a symlink's own mode means nothing; a device's is checked against the policy
    let modeless = w.is(SFlag::S_IFCHR) || w.is(SFlag::S_IFLNK);
    if mode & 0o022 != 0 && !shared_tmp && !modeless {
        report.push(ctx.finding(
            Severity::Error,
            p,
            "writable",
            format!(
                "{what} writable by {} (mode {mode:04o})",
                if mode & 0o002 != 0 {
                    "others"
                } else {
                    "its group"
                }
            ),
            format!("chmod go-w {host}"),
        ));
    }
}

/// §5.4: devices only in /dev, only the allowed ones with the host's numbers; no block
/// devices; no sockets or FIFOs outside the user-writable trees.
fn check_node_type(ctx: &Ctx<'_>, w: &Walked, user_tree: bool, report: &mut Report) {
    let p = w.path.as_str();
    let host = ctx.host(p);
    match w.kind() {
        SFlag::S_IFBLK => report.push(ctx.finding(
            Severity::Error,
            p,
            "block-device",
            "block device node: gives raw access to a disk",
            format!("rm {host}"),
        )),
        SFlag::S_IFCHR => check_char_device(ctx, w, report),
        SFlag::S_IFSOCK | SFlag::S_IFIFO if !user_tree => report.push(ctx.finding(
            Severity::Error,
            p,
            "undeclared-node",
            format!("{} outside the users' homes, not declared", kind_name(w)),
            format!("rm {host}"),
        )),
        _ => {}
    }
}

fn check_char_device(ctx: &Ctx<'_>, w: &Walked, report: &mut Report) {
    let p = w.path.as_str();
    let host = ctx.host(p);
    let name = p.strip_prefix("/dev/").filter(|n| !n.contains('/'));
    let allowed = name.and_then(|n| policy::ALLOWED_DEVICES.iter().find(|(a, _)| *a == n));
    let requested = |n: &str| {
        policy::DEFAULT_DEVICES.contains(&n)
            || ctx.manifest.is_some_and(|m| m.entries.contains_key(p))
    };
    let Some((n, mode)) = allowed.filter(|(n, _)| requested(n)) else {
        report.push(ctx.finding(
            Severity::Error,
            p,
            "device",
            format!(
                "character device {}:{} is not one a jail may hold",
                nix::sys::stat::major(w.st.st_rdev),
                nix::sys::stat::minor(w.st.st_rdev)
            ),
            format!("rm {host}"),
        ));
        return;
    };
    let expected = crate::hostinfo::gather::host_devices(&[n]);
    let (maj, min) = (
        nix::sys::stat::major(w.st.st_rdev),
        nix::sys::stat::minor(w.st.st_rdev),
    );
    if let Some(d) = expected.first()
        && (d.major, d.minor) != (maj, min)
    {
        report.push(ctx.finding(
            Severity::Error,
            p,
            "device",
            format!(
                "/dev/{n} is {maj}:{min}, the host's is {}:{}",
                d.major, d.minor
            ),
            format!("run jailsmith update {}", ctx.jail.display()),
        ));
    }
    if w.mode() != *mode || w.st.st_uid != 0 {
        report.push(ctx.finding(
            Severity::Error,
            p,
            "device",
            format!(
                "/dev/{n} has mode {:04o} owner uid {} (expected {mode:04o}, root)",
                w.mode(),
                w.st.st_uid
            ),
            format!("run jailsmith update {}", ctx.jail.display()),
        ));
    }
}

/// §5.5: only declared binds, with their flags; never proc or sysfs.
pub fn check_mounts(
    ctx: &Ctx<'_>,
    real: &Path,
    mounts: &[MountEntry],
    walked: &WalkResult,
    report: &mut Report,
) {
    let jail_s = ctx.jail.display().to_string();
    for m in mounts {
        let rel = m
            .mount_point
            .strip_prefix(real)
            .map(|r| format!("/{}", r.display()))
            .unwrap_or_default();
        let host = m.mount_point.display().to_string();
        let mk = |kind, what: String, fix: String| Finding {
            severity: Severity::Error,
            path: host.clone(),
            kind,
            what,
            fix,
        };
        if matches!(m.fstype.as_str(), "proc" | "sysfs") {
            report.push(mk(
                "forbidden-mount",
                format!("{} mounted inside the jail", m.fstype),
                format!("umount {host}"),
            ));
            continue;
        }
        let declared = ctx
            .trees
            .binds
            .iter()
            .find(|b| b.dst.abs().display().to_string() == rel);
        match declared {
            None => report.push(mk(
                "unknown-mount",
                format!(
                    "{} mount ({}) that the jail does not declare",
                    m.fstype,
                    m.options.join(",")
                ),
                format!("umount {host}"),
            )),
            Some(b) if !flags_match(b, m) => report.push(mk(
                "mount-flags",
                format!(
                    "declared bind {b} is mounted {} (expected {})",
                    m.options.join(","),
                    b.options()
                ),
                format!("run jailsmith umount {jail_s} && jailsmith mount {jail_s}"),
            )),
            Some(_) => {}
        }
    }
    for b in &ctx.trees.binds {
        let rel = b.dst.abs().display().to_string();
        let mounted = mounts.iter().any(|m| {
            m.mount_point
                .strip_prefix(real)
                .is_ok_and(|r| format!("/{}", r.display()) == rel)
        });
        if !mounted {
            report.push(ctx.finding(
                Severity::Warning,
                &rel,
                "not-mounted",
                format!("declared bind {b} is not mounted"),
                format!("run jailsmith mount {jail_s}"),
            ));
        }
    }
    for (path, why) in &walked.not_descended {
        if why == "another filesystem"
            && !mounts
                .iter()
                .any(|m| m.mount_point.ends_with(path.trim_start_matches('/')))
        {
            report.push(ctx.finding(
                Severity::Warning,
                path,
                "other-filesystem",
                "on another filesystem; not examined",
                "look at it by hand",
            ));
        }
    }
}
