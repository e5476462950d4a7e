//! DESIGN §5 over the walked jail: ownership and modes outside the homes, setuid/setgid,
//! capabilities, refused programs, /dev, forbidden /etc files, hard links, sticky bits and
//! mounts. Pure over what the walker and mountinfo returned. Every fix it names is safe to
//! paste (DESIGN §5.13): a jailsmith command (`check --fix`, `update`), which works by
//! descriptor, or a shell-quoted command that cannot follow a user's symlink; never an `rm`
//! in a user's home.

use std::collections::BTreeMap;
use std::path::Path;

use nix::sys::stat::SFlag;

use super::finding::{Finding, Repair, Repairable, Report, Severity};
use super::{Trees, shown};
use crate::apply::binds::flags_match;
use crate::apply::walk::{WalkResult, Walked};
use crate::mounts::mountinfo::MountEntry;
use crate::plan::hostops::ObjectKind;
use crate::plan::policy;
use crate::state::Manifest;

/// Shared inputs of the checks.
pub struct Ctx<'a> {
    pub jail: &'a Path,
    pub trees: &'a Trees,
    pub manifest: Option<&'a Manifest>,
    /// Where the jail's state lives (named in the jailsmith commands of hints).
    pub state_dir: &'a Path,
    /// (device, inode) of the store objects the manifest's links name (`build --store`).
    pub store_objects: &'a BTreeMap<String, (u64, u64)>,
}

impl Ctx<'_> {
    /// `path` is the link to the store object its manifest entry names, that very inode.
    pub fn is_store_link(&self, path: &str, dev: u64, ino: u64) -> bool {
        self.manifest
            .and_then(|m| m.entries.get(path))
            .and_then(|e| e.store_object())
            .and_then(|name| self.store_objects.get(name))
            == Some(&(dev, ino))
    }
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
            path_hex: None,
        }
    }

    /// `jailsmith SUB 'JAIL'` for a hint (see `jailsmith_cmd`).
    pub fn cmd(&self, sub: &str) -> String {
        jailsmith_cmd(sub, self.jail, self.state_dir)
    }

    /// Pushes a finding that `check --fix` can repair, its hint naming that command.
    fn repairable(
        &self,
        report: &mut Report,
        path: &str,
        kind: &'static str,
        what: impl Into<String>,
        repair: Repair,
    ) {
        let what = what.into();
        report.repairs.push(Repairable {
            path: path.to_string(),
            repair,
            reason: format!("{kind}: {what}"),
        });
        report.push(self.finding(Severity::Error, path, kind, what, self.cmd("check --fix")));
    }

    /// A forbidden object: `check --fix` removes it outside the homes; inside one it is the
    /// user's, and jailsmith removes nothing there.
    fn forbidden(
        &self,
        report: &mut Report,
        w: &Walked,
        user_tree: bool,
        kind: &'static str,
        what: impl Into<String>,
    ) {
        let path = w.path.as_str();
        if user_tree {
            report.push(self.finding(Severity::Error, path, kind, what, NOT_IN_A_HOME));
        } else {
            self.repairable(report, path, kind, what, Repair::Remove(object_kind(w)));
        }
    }
}

impl Ctx<'_> {
    /// Outside the homes: a file or directory is tightened by `check --fix`; another object
    /// jailsmith placed (a symlink, a device) is restored by `update`; anything else foreign
    /// there is removed by `check --fix`.
    fn tighten_or_remove(
        &self,
        report: &mut Report,
        w: &Walked,
        fixable: bool,
        kind: &'static str,
        what: String,
        repair: Repair,
    ) {
        let p = w.path.as_str();
        if fixable {
            self.repairable(report, p, kind, what, repair);
        } else if self.manifest.is_some_and(|m| m.entries.contains_key(p)) {
            report.push(self.finding(Severity::Error, p, kind, what, self.cmd("update")));
        } else {
            self.forbidden(report, w, false, kind, what);
        }
    }
}

/// The hint for what only the owner of a home may remove.
const NOT_IN_A_HOME: &str =
    "none by jailsmith, which removes nothing in a home: ask the owner of the home about it";

/// The `jailsmith SUBCOMMAND 'JAIL' [--state-dir 'DIR']` of a hint, quoted for a shell.
pub fn jailsmith_cmd(sub: &str, jail: &Path, state_dir: &Path) -> String {
    use crate::escape::sh_quote;
    let mut c = format!("jailsmith {sub} {}", sh_quote(&jail.display().to_string()));
    if state_dir != Path::new(crate::state::DEFAULT_STATE_DIR) {
        c.push_str(&format!(
            " --state-dir {}",
            sh_quote(&state_dir.display().to_string())
        ));
    }
    c
}

/// The plan's name for the kind of object `w` is (what `check --fix` expects to remove).
fn object_kind(w: &Walked) -> ObjectKind {
    match w.kind() {
        SFlag::S_IFREG => ObjectKind::File,
        SFlag::S_IFDIR => ObjectKind::Directory,
        SFlag::S_IFLNK => ObjectKind::Symlink,
        SFlag::S_IFCHR => ObjectKind::CharDevice,
        SFlag::S_IFBLK => ObjectKind::BlockDevice,
        SFlag::S_IFIFO => ObjectKind::Fifo,
        _ => ObjectKind::Socket,
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
    let links = LinkIndex::new(walked);
    for w in &walked.entries {
        check_entry(ctx, w, &links, report);
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

fn check_entry(ctx: &Ctx<'_>, w: &Walked, links: &LinkIndex<'_>, report: &mut Report) {
    let p = w.path.as_str();
    if is_bound_log(ctx, w) {
        // the host's syslog socket (0666 as syslog makes it), seen through the declared
        // bind: judged with the mounts, never "fixed" (that would change the host's)
        return;
    }
    let user_tree = ctx.trees.user_writable(p);
    let mode = w.mode();
    let is_reg = w.is(SFlag::S_IFREG);
    let is_dir = w.is(SFlag::S_IFDIR);
    if is_reg && mode & 0o4000 != 0 {
        let what = format!("setuid file owned by uid {}", w.st.st_uid);
        ctx.repairable(report, p, "setuid", what, Repair::ClearBits(0o4000));
    }
    if is_reg && mode & 0o2000 != 0 {
        let what = format!("setgid file (group {})", w.st.st_gid);
        ctx.repairable(report, p, "setgid", what, Repair::ClearBits(0o2000));
    }
    if w.capability {
        let what = "file capabilities set (security.capability)";
        ctx.repairable(report, p, "capability", what, Repair::DropCapability);
    }
    // in a home, a program's name alone harms nobody: only setuid/setgid would
    if is_reg && mode & 0o111 != 0 && !user_tree {
        let name = p.rsplit('/').next().unwrap_or_default();
        if let Some(why) = policy::refusal(name) {
            let what = format!("{name} must not be in a jail: it {why}");
            ctx.forbidden(report, w, false, "refused-program", what);
        }
    }
    match p {
        "/etc/ld.so.preload" => ctx.forbidden(
            report,
            w,
            user_tree,
            "ld-preload",
            "etc/ld.so.preload present: every program in the jail loads what it names",
        ),
        "/etc/shadow" | "/etc/gshadow" => ctx.forbidden(
            report,
            w,
            user_tree,
            "shadow",
            "password hashes have no place in a jail",
        ),
        _ => {}
    }
    check_node_type(ctx, w, user_tree, report);
    if is_dir && mode & 0o002 != 0 && mode & 0o1000 == 0 {
        let what = format!("world-writable directory without the sticky bit (mode {mode:04o})");
        ctx.repairable(report, p, "world-writable", what, Repair::ClearBits(0o002));
    }
    if is_reg && w.st.st_nlink > 1 {
        check_hard_link(ctx, w, user_tree, links, report);
    }
    if !user_tree {
        check_root_owned(ctx, w, report);
    }
}

/// Regular files with more than one link, by (device, inode), and the owner of each home.
pub struct LinkIndex<'a> {
    by_inode: BTreeMap<(u64, u64), Vec<&'a str>>,
    owner: BTreeMap<&'a str, u32>,
}

impl<'a> LinkIndex<'a> {
    pub fn new(walked: &'a WalkResult) -> Self {
        let mut by_inode: BTreeMap<(u64, u64), Vec<&'a str>> = BTreeMap::new();
        let mut owner = BTreeMap::new();
        for w in &walked.entries {
            if w.is(SFlag::S_IFREG) && w.st.st_nlink > 1 {
                by_inode
                    .entry((w.st.st_dev, w.st.st_ino))
                    .or_default()
                    .push(w.path.as_str());
            }
            if w.is(SFlag::S_IFDIR) {
                owner.insert(w.path.as_str(), w.st.st_uid);
            }
        }
        Self { by_inode, owner }
    }
}

/// Why a hard-linked file in a user-writable tree is dangerous, or `None` when it is the
/// user's own: owned by the tree's owner (any non-root user in a shared /tmp), not setuid
/// or setgid, and every one of its links inside the same tree (git's objects after a local
/// clone). A link to a root-owned jail binary pins it across updates; one to a setuid file
/// or to a file outside the tree lets the user keep or swap what is not theirs.
pub fn hard_link_danger(
    w: &Walked,
    tree: &str,
    tree_owner: Option<u32>,
    links_seen: &[&str],
) -> Option<String> {
    let uid = w.st.st_uid;
    let owned = match tree_owner {
        Some(o) => uid == o && o != 0,
        None => uid != 0,
    };
    if !owned {
        return Some(format!(
            "the file is owned by uid {uid}, not by the owner of {tree}"
        ));
    }
    if w.mode() & 0o6000 != 0 {
        return Some("the file is setuid/setgid".into());
    }
    let inside = links_seen
        .iter()
        .filter(|l| crate::apply::walk::is_within(l, tree))
        .count() as u64;
    if inside < w.st.st_nlink {
        return Some(format!(
            "{} of its {} links are outside {tree} (elsewhere in the jail or on the host)",
            w.st.st_nlink - inside,
            w.st.st_nlink
        ));
    }
    None
}

fn check_hard_link(
    ctx: &Ctx<'_>,
    w: &Walked,
    user_tree: bool,
    links: &LinkIndex<'_>,
    report: &mut Report,
) {
    let p = w.path.as_str();
    let n = w.st.st_nlink;
    if !user_tree && ctx.is_store_link(p, w.st.st_dev, w.st.st_ino) {
        return; // jailsmith's own link to the shared store (`build --store`)
    }
    if !user_tree {
        report.push(ctx.finding(
            Severity::Warning,
            p,
            "hard-link",
            format!(
                "regular file with {n} hard links (jailsmith links only the store objects \
                 its manifest names)"
            ),
            "look at it by hand: ls -li shows its links",
        ));
        return;
    }
    let tree = ctx.trees.tree_of(p).unwrap_or("/tmp");
    let tree_owner = ctx
        .trees
        .is_home(tree)
        .then(|| links.owner.get(tree).copied())
        .flatten();
    let seen = links
        .by_inode
        .get(&(w.st.st_dev, w.st.st_ino))
        .map(Vec::as_slice)
        .unwrap_or_default();
    if let Some(why) = hard_link_danger(w, tree, tree_owner, seen) {
        report.push(ctx.finding(
            Severity::Error,
            p,
            "hard-link",
            format!("file with {n} hard links in a user-writable tree: {why}"),
            NOT_IN_A_HOME,
        ));
    }
}

/// §5.2: outside the homes, root-owned and not writable by group or others.
fn check_root_owned(ctx: &Ctx<'_>, w: &Walked, report: &mut Report) {
    let p = w.path.as_str();
    let mode = w.mode();
    let what = described(p, w);
    let fixable = w.is(SFlag::S_IFREG) || w.is(SFlag::S_IFDIR);
    if w.st.st_uid != 0 && !ctx.trees.is_home(p) {
        let what = format!(
            "{what} owned by uid {} outside the users' homes",
            w.st.st_uid
        );
        ctx.tighten_or_remove(report, w, fixable, "owner", what, Repair::ChownRoot);
    }
    let shared_tmp = p == "/tmp" && ctx.trees.tmp;
    // a symlink's own mode means nothing; a device's is checked against the policy
    let modeless = w.is(SFlag::S_IFCHR) || w.is(SFlag::S_IFLNK);
    if mode & 0o022 != 0 && !shared_tmp && !modeless {
        let what = format!(
            "{what} writable by {} (mode {mode:04o})",
            if mode & 0o002 != 0 {
                "others"
            } else {
                "its group"
            }
        );
        let repair = Repair::ClearBits(0o022);
        ctx.tighten_or_remove(report, w, fixable, "writable", what, repair);
    }
}

/// A socket at /dev/log while the jail's declared log socket is bound there.
fn is_bound_log(ctx: &Ctx<'_>, w: &Walked) -> bool {
    w.path == crate::mounts::LOG_PATH
        && w.kind() == SFlag::S_IFSOCK
        && ctx.trees.log.as_ref().is_some_and(|l| l.mounted)
}

/// §5.4: devices only in /dev, only the allowed ones with the host's numbers; no block
/// devices; no sockets or FIFOs outside the user-writable trees.
fn check_node_type(ctx: &Ctx<'_>, w: &Walked, user_tree: bool, report: &mut Report) {
    match w.kind() {
        SFlag::S_IFBLK => ctx.forbidden(
            report,
            w,
            user_tree,
            "block-device",
            "block device node: gives raw access to a disk",
        ),
        SFlag::S_IFCHR => check_char_device(ctx, w, user_tree, report),
        SFlag::S_IFSOCK | SFlag::S_IFIFO if !user_tree => ctx.forbidden(
            report,
            w,
            false,
            "undeclared-node",
            format!("{} outside the users' homes, not declared", kind_name(w)),
        ),
        _ => {}
    }
}

fn check_char_device(ctx: &Ctx<'_>, w: &Walked, user_tree: bool, report: &mut Report) {
    let p = w.path.as_str();
    let name = p.strip_prefix("/dev/").filter(|n| !n.contains('/'));
    let allowed = name.and_then(|n| policy::ALLOWED_DEVICES.iter().find(|(a, _)| *a == n));
    let requested = |n: &str| {
        policy::DEFAULT_DEVICES.contains(&n)
            || ctx.manifest.is_some_and(|m| m.entries.contains_key(p))
    };
    let Some((n, mode)) = allowed.filter(|(n, _)| requested(n)) else {
        let what = format!(
            "character device {}:{} is not one a jail may hold",
            nix::sys::stat::major(w.st.st_rdev),
            nix::sys::stat::minor(w.st.st_rdev)
        );
        ctx.forbidden(report, w, user_tree, "device", what);
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
            ctx.cmd("update"),
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
            ctx.cmd("update"),
        ));
    }
}

/// §5.5: only declared binds, with their flags; never sysfs, and no proc but the jail's own
/// private one (`build --proc`: procfs at /proc with hidepid=invisible and subset=pid).
pub fn check_mounts(
    ctx: &Ctx<'_>,
    real: &Path,
    mounts: &[MountEntry],
    walked: &WalkResult,
    report: &mut Report,
) {
    for m in mounts {
        let rel = m
            .mount_point
            .strip_prefix(real)
            .map(|r| format!("/{}", r.display()))
            .unwrap_or_default();
        let host = m.mount_point.display().to_string();
        // in a home, the user could swap a directory above it: no path command then
        let umount = if ctx.trees.user_writable(&rel) {
            "unmount it by hand after finding it with findmnt; jailsmith did not make it"
                .to_string()
        } else {
            format!("umount -- {}", crate::escape::sh_quote(&host))
        };
        let mk = |kind, what: String, fix: String| Finding {
            severity: Severity::Error,
            path: host.clone(),
            kind,
            what,
            fix,
            path_hex: None,
        };
        if ctx.trees.devpts
            && rel == crate::mounts::DEVPTS_DIR
            && crate::mounts::is_private_devpts(m)
        {
            if !(m.has("nosuid") && m.has("noexec")) {
                report.push(mk(
                    "mount-flags",
                    format!(
                        "the jail's devpts is mounted {} (expected nosuid,noexec)",
                        m.options.join(",")
                    ),
                    format!("{} && {}", ctx.cmd("umount"), ctx.cmd("mount")),
                ));
            }
            continue;
        }
        if let Some(log) = ctx
            .trees
            .log
            .as_ref()
            .filter(|_| rel == crate::mounts::LOG_PATH)
        {
            check_log_mount(ctx, log, m, walked, report);
            continue;
        }
        if ctx.trees.proc && rel == crate::mounts::PROC_DIR && crate::mounts::is_private_proc(m) {
            if !(m.has("nosuid") && m.has("nodev") && m.has("noexec")) {
                report.push(mk(
                    "mount-flags",
                    format!(
                        "the jail's proc is mounted {} (expected nosuid,nodev,noexec)",
                        m.options.join(",")
                    ),
                    format!("{} && {}", ctx.cmd("umount"), ctx.cmd("mount")),
                ));
            }
            continue;
        }
        if matches!(m.fstype.as_str(), "proc" | "sysfs") {
            report.push(mk(
                "forbidden-mount",
                format!("{} mounted inside the jail", m.fstype),
                umount.clone(),
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
                umount.clone(),
            )),
            Some(b) if !flags_match(b, m) => report.push(mk(
                "mount-flags",
                format!(
                    "declared bind {b} is mounted {} (expected {})",
                    m.options.join(","),
                    b.options()
                ),
                format!("{} && {}", ctx.cmd("umount"), ctx.cmd("mount")),
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
                ctx.cmd("mount"),
            ));
        }
    }
    let own_mounted = |dir: &str, is: fn(&MountEntry) -> bool| {
        mounts.iter().any(|m| {
            m.mount_point
                .strip_prefix(real)
                .is_ok_and(|r| format!("/{}", r.display()) == dir && is(m))
        })
    };
    let unmounted_own = [
        (
            ctx.trees.devpts
                && !own_mounted(crate::mounts::DEVPTS_DIR, crate::mounts::is_private_devpts),
            crate::mounts::DEVPTS_DIR,
            "the jail's declared devpts (build --devpts) is not mounted",
        ),
        (
            ctx.trees.log.as_ref().is_some_and(|l| !l.mounted),
            crate::mounts::LOG_PATH,
            "the jail's declared log socket (build --log) is not bound: sftp transfers are not \
             logged",
        ),
        (
            ctx.trees.proc && !own_mounted(crate::mounts::PROC_DIR, crate::mounts::is_private_proc),
            crate::mounts::PROC_DIR,
            "the jail's declared proc (build --proc) is not mounted",
        ),
    ];
    for (_, dir, what) in unmounted_own.into_iter().filter(|(missing, ..)| *missing) {
        report.push(ctx.finding(
            Severity::Warning,
            dir,
            "not-mounted",
            what,
            ctx.cmd("mount"),
        ));
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

/// The mount at a jail's /dev/log when it declares a log socket: a socket (a bind of any
/// other object there is not one the jail declares), ro,nosuid,nodev, and the host socket
/// it names (one the host has since replaced receives nothing: a warning).
fn check_log_mount(
    ctx: &Ctx<'_>,
    log: &super::DeclaredLog,
    m: &MountEntry,
    walked: &WalkResult,
    report: &mut Report,
) {
    let p = crate::mounts::LOG_PATH;
    let remount = format!("{} && {}", ctx.cmd("umount"), ctx.cmd("mount"));
    let host = m.mount_point.display().to_string();
    let mk = |severity, kind, what: String, fix: String| Finding {
        severity,
        path: host.clone(),
        kind,
        what,
        fix,
        path_hex: None,
    };
    let Some(w) = walked.entries.iter().find(|w| w.path == p) else {
        return;
    };
    if w.kind() != SFlag::S_IFSOCK {
        let what = format!(
            "{} mount of a {} at /dev/log, where the jail declares the log socket {}",
            m.fstype,
            kind_name(w),
            log.src.display()
        );
        let fix = format!("umount -- {}", crate::escape::sh_quote(&host));
        report.push(mk(Severity::Error, "unknown-mount", what, fix));
        return;
    }
    if !(m.read_only() && m.has("nosuid") && m.has("nodev")) {
        let what = format!(
            "the jail's log socket is mounted {} (expected ro,nosuid,nodev)",
            m.options.join(",")
        );
        report.push(mk(Severity::Error, "mount-flags", what, remount.clone()));
    }
    if log.id != Some((w.st.st_dev, w.st.st_ino)) {
        let what = format!(
            "the socket bound at /dev/log is no longer {} (the host's syslog made a new one): \
             what the jail logs goes nowhere",
            log.src.display()
        );
        report.push(mk(
            Severity::Warning,
            "stale-log-socket",
            what,
            ctx.cmd("mount"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walked(path: &str, uid: u32, mode: u32, nlink: u64) -> Walked {
        let mut st = nix::sys::stat::stat("/").expect("stat /");
        st.st_uid = uid;
        st.st_mode = SFlag::S_IFREG.bits() | mode;
        st.st_nlink = nlink;
        Walked {
            path: path.into(),
            st,
            capability: false,
        }
    }

    #[test]
    fn hard_links_are_judged_by_what_they_link_to() {
        let home = "/home/u";
        // the user's own files linked among themselves: fine
        let w = walked("/home/u/wc/.git/objects/ab/cd", 1000, 0o444, 2);
        let seen = [
            "/home/u/repo.git/objects/ab/cd",
            "/home/u/wc/.git/objects/ab/cd",
        ];
        assert_eq!(hard_link_danger(&w, home, Some(1000), &seen), None);
        // a root-owned jail binary
        let w = walked("/home/u/bash", 0, 0o755, 2);
        let why = hard_link_danger(&w, home, Some(1000), &["/home/u/bash", "/usr/bin/bash"]);
        assert!(why.unwrap().contains("uid 0"));
        // a link outside the home (or outside the jail: not seen at all)
        let w = walked("/home/u/x", 1000, 0o644, 2);
        let why = hard_link_danger(&w, home, Some(1000), &["/home/u/x"]).unwrap();
        assert!(
            why.contains("1 of its 2 links are outside /home/u"),
            "{why}"
        );
        // another user's file, and a setuid one
        let w = walked("/home/u/y", 1001, 0o644, 2);
        assert!(hard_link_danger(&w, home, Some(1000), &["/home/u/y", "/home/u/z"]).is_some());
        let w = walked("/home/u/s", 1000, 0o4755, 2);
        assert!(hard_link_danger(&w, home, Some(1000), &["/home/u/s", "/home/u/t"]).is_some());
    }

    #[test]
    fn hints_name_quoted_jailsmith_commands() {
        let c = jailsmith_cmd(
            "check --fix",
            Path::new("/srv/my jail"),
            Path::new("/var/lib/jailsmith"),
        );
        assert_eq!(c, "jailsmith check --fix '/srv/my jail'");
        let c = jailsmith_cmd("update", Path::new("/srv/j"), Path::new("/tmp/st'ate"));
        assert_eq!(c, r"jailsmith update '/srv/j' --state-dir '/tmp/st'\''ate'");
    }
}
