//! The host's view of a verify session (issue 19): while the SSH session is open, verify
//! (root, on the server itself) finds the session's processes in /proc — the user's uid,
//! below an sshd process — and reads what the kernel says about them: `root`, `cwd`,
//! capabilities, NoNewPrivs, cgroup, and the mounts their root shows. These decide PASS/FAIL;
//! nothing the session prints can change them. Reads /proc only; the judging is pure.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Check, Status};

/// Check names of the host view, in report order.
pub mod hname {
    pub const ROOT: &str = "host: root is the jail";
    pub const CWD: &str = "host: cwd in the jail";
    pub const CAPS: &str = "host: no capabilities";
    pub const KERNEL_FS: &str = "host: no /proc, /sys";
    pub const HOST_ROOT: &str = "host: host / not mounted";
    pub const CGROUP: &str = "host: cgroup";
    pub const AGREE: &str = "session agrees with host";
    pub const VIEW: &str = "host view";
}

/// Filesystems that show the host's kernel state: never mounted in a jail (DESIGN §5.5).
const KERNEL_FSTYPES: &[&str] = &[
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "debugfs",
    "tracefs",
    "securityfs",
    "configfs",
    "bpf",
    "pstore",
    "efivarfs",
    "devtmpfs",
    "binfmt_misc",
    "fusectl",
];

/// What /proc says about one process of the session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcView {
    pub pid: i32,
    pub comm: String,
    pub root: Option<PathBuf>,
    pub cwd: Option<PathBuf>,
    pub cap_eff: u64,
    pub cap_prm: u64,
    pub no_new_privs: bool,
    /// The lines of /proc/PID/cgroup.
    pub cgroup: String,
    /// Kernel filesystems its mount view shows: (mount point as the process sees it, type).
    pub kernel_mounts: Vec<(String, String)>,
    /// Where its mount view shows the host's whole root filesystem (a bind of the host's /).
    pub host_root_mounts: Vec<String>,
}

/// One line of /proc/PID/status, by key.
fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

/// (real uid, parent pid, name) from /proc/PID/status.
fn identity(pid: i32) -> Option<(u32, i32, String)> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let uid = status_field(&status, "Uid")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let ppid = status_field(&status, "PPid")?.parse().ok()?;
    let comm = status_field(&status, "Name").unwrap_or("").to_string();
    Some((uid, ppid, comm))
}

fn all_pids() -> Vec<i32> {
    fs::read_dir("/proc")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `pid` has an sshd ancestor (`sshd`, or `sshd-session` on OpenSSH ≥ 9.8).
fn under_sshd(pid: i32) -> bool {
    let mut p = pid;
    for _ in 0..64 {
        let Some((_, ppid, _)) = identity(p) else {
            return false;
        };
        if ppid <= 1 {
            return false;
        }
        match identity(ppid) {
            Some((_, _, comm)) if comm.starts_with("sshd") => return true,
            Some(_) => p = ppid,
            None => return false,
        }
    }
    false
}

/// The real uid of each process on the host (as root: all of them), by PID.
pub fn process_owners() -> std::collections::BTreeMap<i32, u32> {
    all_pids()
        .into_iter()
        .filter_map(|p| identity(p).map(|(uid, _, _)| (p, uid)))
        .collect()
}

/// The processes of `uid` below an sshd process (the session's, while it is open).
pub fn session_pids(uid: u32) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&p| identity(p).is_some_and(|(u, _, _)| u == uid) && under_sshd(p))
        .collect()
}

/// Whether one of the session's processes is not sshd itself (the shell has started).
pub fn shell_started(pids: &[i32]) -> bool {
    pids.iter()
        .any(|&p| identity(p).is_some_and(|(_, _, c)| !c.starts_with("sshd")))
}

fn hex(s: Option<&str>) -> u64 {
    s.and_then(|v| u64::from_str_radix(v, 16).ok())
        .unwrap_or(u64::MAX)
}

/// Kernel filesystems in the text of a /proc/PID/mountinfo (pure). With `declared_proc`
/// (the jail was built with --proc), the jail's own private procfs at /proc
/// (hidepid=invisible, subset=pid) is not one of them; any other proc still is.
pub fn kernel_mounts(mountinfo: &str, declared_proc: bool) -> Vec<(String, String)> {
    crate::mounts::mountinfo::parse(mountinfo)
        .into_iter()
        .filter(|m| KERNEL_FSTYPES.contains(&m.fstype.as_str()))
        .filter(|m| {
            !(declared_proc
                && m.mount_point == Path::new(crate::mounts::PROC_DIR)
                && crate::mounts::is_private_proc(m))
        })
        .map(|m| (m.mount_point.display().to_string(), m.fstype))
        .collect()
}

/// The device (`major:minor`) of the filesystem mounted at `/` in a mountinfo text (pure).
pub fn root_device(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 4 && f[4] == "/").then(|| f[2].to_string())
    })
}

/// Mount points in a mountinfo text that show the whole filesystem of device `dev` (its
/// root `/`): for the host root's device, the host's own `/` bound into the view (pure).
pub fn whole_fs_mounts(mountinfo: &str, dev: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 4 && f[2] == dev && f[3] == "/").then(|| f[4].to_string())
        })
        .collect()
}

/// The device of this (root, unjailed) process's `/`: the host's root filesystem.
pub fn host_root_device() -> Option<String> {
    root_device(&fs::read_to_string("/proc/self/mountinfo").ok()?)
}

/// Reads what /proc says about `pid` (None when it is gone). `host_dev`: the device of the
/// host's root filesystem; `declared_proc`: the jail declares its own private /proc.
pub fn read_view(pid: i32, host_dev: Option<&str>, declared_proc: bool) -> Option<ProcView> {
    let base = PathBuf::from(format!("/proc/{pid}"));
    let status = fs::read_to_string(base.join("status")).ok()?;
    let mountinfo = fs::read_to_string(base.join("mountinfo")).unwrap_or_default();
    Some(ProcView {
        pid,
        comm: status_field(&status, "Name").unwrap_or("").to_string(),
        root: fs::read_link(base.join("root")).ok(),
        cwd: fs::read_link(base.join("cwd")).ok(),
        cap_eff: hex(status_field(&status, "CapEff")),
        cap_prm: hex(status_field(&status, "CapPrm")),
        no_new_privs: status_field(&status, "NoNewPrivs") == Some("1"),
        cgroup: fs::read_to_string(base.join("cgroup")).unwrap_or_default(),
        kernel_mounts: kernel_mounts(&mountinfo, declared_proc),
        host_root_mounts: host_dev
            .map(|d| whole_fs_mounts(&mountinfo, d))
            .unwrap_or_default(),
    })
}

fn who(v: &ProcView) -> String {
    format!("pid {} ({})", v.pid, v.comm)
}

fn shown(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "unreadable".into())
}

/// The host view's checks over the session's processes (pure). `jail` is the jail's real
/// path; `uid` the user's; `limited`: the state sets limits on the user's slice.
pub fn judge(views: &[ProcView], jail: &Path, uid: u32, limited: bool) -> Vec<Check> {
    let names = [
        hname::ROOT,
        hname::CWD,
        hname::CAPS,
        hname::KERNEL_FS,
        hname::HOST_ROOT,
        hname::CGROUP,
    ];
    if views.is_empty() {
        return names
            .iter()
            .map(|n| {
                Check::fail(
                    n,
                    format!("no process of uid {uid} below sshd found while the session was open"),
                )
            })
            .collect();
    }
    let count = format!("{} session process(es)", views.len());
    let bad_root: Vec<String> = views
        .iter()
        .filter(|v| v.root.as_deref() != Some(jail))
        .map(|v| format!("{} has root {}", who(v), shown(&v.root)))
        .collect();
    let bad_cwd: Vec<String> = views
        .iter()
        .filter(|v| !v.cwd.as_deref().is_some_and(|c| c.starts_with(jail)))
        .map(|v| format!("{} has cwd {}", who(v), shown(&v.cwd)))
        .collect();
    let bad_caps: Vec<String> = views
        .iter()
        .filter(|v| v.cap_eff != 0 || v.cap_prm != 0)
        .map(|v| format!("{} CapEff {:x} CapPrm {:x}", who(v), v.cap_eff, v.cap_prm))
        .collect();
    let bad_fs: Vec<String> = views
        .iter()
        .flat_map(|v| {
            v.kernel_mounts
                .iter()
                .map(move |(m, t)| format!("{} sees {t} at {m}", who(v)))
        })
        .collect();
    let bad_host_root: Vec<String> = views
        .iter()
        .flat_map(|v| {
            v.host_root_mounts
                .iter()
                .map(move |m| format!("{} sees the host's root filesystem at {m}", who(v)))
        })
        .collect();
    let nnp = views.iter().filter(|v| v.no_new_privs).count();
    let slice = format!("user-{uid}.slice");
    let bad_cgroup: Vec<String> = views
        .iter()
        .filter(|v| !v.cgroup.contains(&slice))
        .map(|v| {
            let cg = v.cgroup.lines().last().unwrap_or("").to_string();
            format!("{} is in {cg}", who(v))
        })
        .collect();
    let verdict = |n: &str, bad: Vec<String>, ok: String| {
        if bad.is_empty() {
            Check::pass(n, ok)
        } else {
            Check::fail(n, bad.join("; "))
        }
    };
    vec![
        verdict(
            hname::ROOT,
            bad_root,
            format!("{count}, each with root {}", jail.display()),
        ),
        verdict(
            hname::CWD,
            bad_cwd,
            format!("{count}, each with its cwd inside the jail"),
        ),
        verdict(
            hname::CAPS,
            bad_caps,
            format!("{count}: CapEff and CapPrm 0; NoNewPrivs set in {nnp}"),
        ),
        verdict(
            hname::KERNEL_FS,
            bad_fs,
            format!("{count}: no proc, sysfs or other kernel filesystem in their mount view"),
        ),
        verdict(
            hname::HOST_ROOT,
            bad_host_root,
            format!("{count}: the host's root filesystem is not in their mount view"),
        ),
        if limited {
            verdict(
                hname::CGROUP,
                bad_cgroup,
                format!("{count}, each in {slice}"),
            )
        } else {
            Check::na(hname::CGROUP, "no limits set for this user")
        },
    ]
}

/// Why the host cannot look (a remote server, or verify not running as root), as the WARN
/// that names what was only observed from inside; `None` when it can.
pub fn unavailable(local: bool, root: bool) -> Option<Check> {
    let why = match (local, root) {
        (true, true) => return None,
        (false, _) => "remote host",
        (true, false) => "not root",
    };
    Some(Check::warn(
        hname::VIEW,
        format!(
            "{why}: the jail as root, the cwd, capabilities, /proc and /sys, the host's / and \
             the cgroup were only observed from inside the session, where the user's start-up \
             files run first"
        ),
    ))
}

/// What the host saw that an in-session probe also looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// Every session process has the jail as its root.
    pub root_is_jail: bool,
    /// A session process sees proc mounted.
    pub proc_mounted: bool,
    /// A session process sees sysfs mounted.
    pub sys_mounted: bool,
}

/// The facts of `views` (pure).
pub fn facts(views: &[ProcView], jail: &Path) -> Facts {
    let sees = |t: &str| {
        views
            .iter()
            .any(|v| v.kernel_mounts.iter().any(|(_, f)| f == t))
    };
    Facts {
        root_is_jail: !views.is_empty() && views.iter().all(|v| v.root.as_deref() == Some(jail)),
        proc_mounted: sees("proc"),
        sys_mounted: sees("sysfs"),
    }
}

/// FAIL when the session's own report contradicts the host's (pure): a start-up file of the
/// user (or anything else in the session) is rewriting what the probes print. `root`,
/// `proc`, `sys`: the names of the in-session checks (the sftp ones for an sftp account).
pub fn agreement(f: &Facts, checks: &[Check], root: &str, proc: &str, sys: &str) -> Check {
    let status = |n: &str| checks.iter().find(|c| c.name == n).map(|c| c.status);
    let passed = |n: &str| status(n).map(|s| s != Status::Fail);
    let mut off = Vec::new();
    match passed(root) {
        Some(p) if p != f.root_is_jail => off.push(format!(
            "the host sees {} root, the session's {root} says {}",
            if f.root_is_jail {
                "the jail as"
            } else {
                "another"
            },
            if p { "PASS" } else { "FAIL" }
        )),
        _ => {}
    }
    for (seen, n, what) in [
        (f.proc_mounted, proc, "proc"),
        (f.sys_mounted, sys, "sysfs"),
    ] {
        if seen && passed(n) == Some(true) {
            off.push(format!(
                "the host sees {what} mounted, the session's {n} says PASS"
            ));
        }
    }
    if off.is_empty() {
        Check::pass(hname::AGREE, "the in-session probes saw what the host sees")
    } else {
        Check::fail(
            hname::AGREE,
            format!(
                "the session's own report disagrees with the host ({}): a shell start-up file may be interfering",
                off.join("; ")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::probes::name;

    fn view(root: &str, cwd: &str) -> ProcView {
        ProcView {
            pid: 7,
            comm: "bash".into(),
            root: Some(root.into()),
            cwd: Some(cwd.into()),
            cgroup: "0::/user.slice/user-1000.slice/session-1.scope\n".into(),
            ..Default::default()
        }
    }

    #[test]
    fn mountinfo_kernel_filesystems() {
        let mi = "45 27 0:40 / /proc rw,relatime - proc proc rw\n\
                  46 27 8:1 /srv/d /data ro,nosuid - ext4 /dev/sda1 rw\n\
                  47 27 0:20 / /sys rw - sysfs sysfs rw\n";
        assert_eq!(
            kernel_mounts(mi, true),
            vec![
                ("/proc".to_string(), "proc".to_string()),
                ("/sys".to_string(), "sysfs".to_string())
            ]
        );
        let private = "45 27 0:40 / /proc rw,nosuid,nodev,noexec - proc proc rw,hidepid=invisible,subset=pid\n\
                       48 27 0:41 / /tmp/p rw - proc proc rw,hidepid=invisible,subset=pid\n";
        let points = |declared| -> Vec<String> {
            kernel_mounts(private, declared)
                .into_iter()
                .map(|(p, _)| p)
                .collect()
        };
        assert_eq!(points(true), ["/tmp/p"]);
        assert_eq!(points(false), ["/proc", "/tmp/p"]);
    }

    #[test]
    fn a_remote_report_says_what_was_only_seen_from_inside() {
        assert!(unavailable(true, true).is_none());
        let w = unavailable(false, true).unwrap();
        assert_eq!(w.status, Status::Warn);
        assert!(w.detail.starts_with("remote host: ") && w.detail.contains("from inside"));
        assert!(
            unavailable(true, false)
                .unwrap()
                .detail
                .starts_with("not root")
        );
    }

    #[test]
    fn a_bind_of_the_host_root_is_seen() {
        let host = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n\
                    30 22 0:5 / /dev rw - devtmpfs udev rw\n";
        assert_eq!(root_device(host).as_deref(), Some("8:1"));
        let session = "40 39 8:1 / /host rw - ext4 /dev/sda1 rw\n\
                       41 39 8:1 /srv/d /data ro - ext4 /dev/sda1 rw\n";
        assert_eq!(whole_fs_mounts(session, "8:1"), vec!["/host".to_string()]);
    }

    #[test]
    fn the_kernel_decides() {
        let jail = Path::new("/srv/j");
        let good = view("/srv/j", "/srv/j/home/u");
        let c = judge(std::slice::from_ref(&good), jail, 1000, true);
        assert!(c.iter().all(|c| c.status == Status::Pass), "{c:?}");
        let mut bad = view("/", "/home/u");
        bad.cap_eff = 1;
        bad.kernel_mounts = vec![("/proc".into(), "proc".into())];
        bad.cgroup = "0::/system.slice/ssh.service\n".into();
        let c = judge(&[good.clone(), bad], jail, 1000, true);
        let failed: Vec<&str> = c
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(failed.len(), 5, "{c:?}");
        assert!(c[3].detail.contains("proc at /proc"), "{}", c[3].detail);
        assert_eq!(c[4].status, Status::Pass, "{c:?}");
        let mut bound = good.clone();
        bound.host_root_mounts = vec!["/host".into()];
        let c = judge(&[bound], jail, 1000, false);
        assert_eq!(c[4].status, Status::Fail, "{c:?}");
        let c = judge(&[], jail, 1000, false);
        assert!(c.iter().all(|c| c.status == Status::Fail));
    }

    #[test]
    fn a_session_that_contradicts_the_host_fails() {
        let jail = Path::new("/srv/j");
        let mut v = view("/srv/j", "/srv/j/home/u");
        v.kernel_mounts = vec![("/proc".into(), "proc".into())];
        let f = facts(&[v], jail);
        assert!(f.root_is_jail && f.proc_mounted && !f.sys_mounted);
        let (r, p, s) = (name::ROOT, name::PROC, name::SYS);
        let honest = vec![
            Check::pass(r, ""),
            Check::fail(p, "exists"),
            Check::pass(s, "absent"),
        ];
        assert_eq!(agreement(&f, &honest, r, p, s).status, Status::Pass);
        let fooled = vec![
            Check::pass(r, ""),
            Check::pass(p, "absent"),
            Check::pass(s, "absent"),
        ];
        let c = agreement(&f, &fooled, r, p, s);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("start-up file"), "{}", c.detail);
        let noisy = vec![
            Check::fail(r, "junk"),
            Check::fail(p, ""),
            Check::pass(s, ""),
        ];
        assert_eq!(agreement(&f, &noisy, r, p, s).status, Status::Fail);
    }
}
