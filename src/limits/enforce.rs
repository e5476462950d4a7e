//! Whether limits can work here: which cgroup controller each limit needs, which controllers
//! the host really offers (from mountinfo text), whether sshd's PAM stack puts sessions in
//! the user's slice, and the warnings that follow. Pure: the caller reads the host
//! (`hostinfo::limit_facts`) and passes the facts in; nothing here reads a file.

use super::Limits;

/// A cgroup controller a limit depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Controller {
    Memory,
    Cpu,
    Pids,
    Io,
    /// IPAddressDeny=/IPAddressAllow=: BPF on the cgroup, enforced only where the unified
    /// hierarchy is the host's (cgroup2 on /sys/fs/cgroup), not in hybrid mode.
    IpFilter,
}

impl Controller {
    /// The name in cgroup v2 (`cgroup.controllers`).
    pub fn v2_name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Pids => "pids",
            Controller::Io => "io",
            Controller::IpFilter => "ip-filter",
        }
    }

    /// The name in a cgroup v1 mount's super options.
    pub fn v1_name(self) -> &'static str {
        match self {
            Controller::Io => "blkio",
            c => c.v2_name(),
        }
    }
}

impl Limits {
    /// Each directive set, with the controller that enforces it.
    pub fn needs(&self) -> Vec<(&'static str, Controller)> {
        self.directives()
            .iter()
            .map(|d| {
                let c = match d.key {
                    "MemoryMax" | "MemoryHigh" => Controller::Memory,
                    "CPUQuota" | "CPUWeight" => Controller::Cpu,
                    "TasksMax" => Controller::Pids,
                    "IPAddressDeny" | "IPAddressAllow" => Controller::IpFilter,
                    _ => Controller::Io,
                };
                (d.key, c)
            })
            .collect()
    }
}

/// The mount point of the cgroup2 hierarchy in `mountinfo` (/proc/self/mountinfo text).
pub fn cgroup2_mount(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|l| {
        let m = MountLine::parse(l)?;
        (m.fstype == "cgroup2").then(|| m.point.to_string())
    })
}

/// The controllers systemd can write limits to: a cgroup v1 hierarchy mounted read-write
/// with the controller, or the controller listed in the cgroup2 root's `cgroup.controllers`
/// (`v2_controllers`, "" when there is none) on a read-write cgroup2 mount.
pub fn usable_controllers(mountinfo: &str, v2_controllers: &str) -> Vec<Controller> {
    let all = [
        Controller::Memory,
        Controller::Cpu,
        Controller::Pids,
        Controller::Io,
    ];
    let mounts: Vec<MountLine> = mountinfo.lines().filter_map(MountLine::parse).collect();
    let v2_rw = mounts.iter().any(|m| m.fstype == "cgroup2" && m.writable());
    let unified = mounts
        .iter()
        .any(|m| m.fstype == "cgroup2" && m.writable() && m.point == "/sys/fs/cgroup");
    let mut usable: Vec<Controller> = all
        .into_iter()
        .filter(|c| {
            let v1 = mounts.iter().any(|m| {
                m.fstype == "cgroup"
                    && m.writable()
                    && m.super_opts.split(',').any(|o| o == c.v1_name())
            });
            let v2 = v2_rw && v2_controllers.split_whitespace().any(|n| n == c.v2_name());
            v1 || v2
        })
        .collect();
    if unified {
        usable.push(Controller::IpFilter);
    }
    usable
}

/// The fields of one mountinfo line this module needs.
struct MountLine<'a> {
    point: &'a str,
    opts: &'a str,
    fstype: &'a str,
    super_opts: &'a str,
}

impl<'a> MountLine<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let (head, tail) = line.split_once(" - ")?;
        let head: Vec<&str> = head.split(' ').collect();
        let mut tail = tail.split(' ');
        Some(MountLine {
            point: head.get(4)?,
            opts: head.get(5)?,
            fstype: tail.next()?,
            super_opts: tail.nth(1).unwrap_or(""),
        })
    }

    fn writable(&self) -> bool {
        self.opts.split(',').any(|o| o == "rw")
    }
}

/// Whether the session stack of PAM service `service` loads pam_systemd, following
/// `@include`, `include` and `substack`. `read` returns the text of /etc/pam.d/NAME. None
/// when the service's file cannot be read (no PAM configuration to judge).
pub fn pam_has_systemd(service: &str, read: &dyn Fn(&str) -> Option<String>) -> Option<bool> {
    let text = read(service)?;
    Some(stack_has_systemd(&text, read, 0))
}

fn stack_has_systemd(text: &str, read: &dyn Fn(&str) -> Option<String>, depth: u32) -> bool {
    if depth > 8 {
        return false;
    }
    let included = |name: &str| read(name).is_some_and(|t| stack_has_systemd(&t, read, depth + 1));
    text.lines().map(str::trim).any(|l| {
        let words: Vec<&str> = l.split_whitespace().collect();
        match words.as_slice() {
            ["@include", name, ..] => included(name),
            [kind, control, name, ..] if kind.trim_start_matches('-') == "session" => {
                match *control {
                    "include" | "substack" => included(name),
                    _ => name.rsplit('/').next() == Some("pam_systemd.so"),
                }
            }
            _ => false,
        }
    })
}

/// What the host says about enforcing limits (gathered by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// systemd is PID 1.
    pub systemd_is_init: bool,
    /// The controllers systemd can write (see `usable_controllers`).
    pub controllers: Vec<Controller>,
    /// sshd's PAM session stack loads pam_systemd; None when /etc/pam.d/sshd is unreadable.
    pub sshd_pam_systemd: Option<bool>,
}

/// Whose limits they are.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A jailed SSH user: the limits live on user-UID.slice, which sessions join through
    /// pam_systemd.
    User(&'a str),
    /// A service unit.
    Service(&'a str),
}

/// One warning for each reason `limits` would be accepted and not enforced here. Empty
/// when there are no limits.
pub fn enforcement_warnings(limits: &Limits, who: Subject<'_>, facts: &HostFacts) -> Vec<String> {
    let needs = limits.needs();
    if needs.is_empty() {
        return Vec::new();
    }
    let whose = match who {
        Subject::User(n) => format!("the limits of user {n}"),
        Subject::Service(n) => format!("the limits of {n}.service"),
    };
    let mut out = Vec::new();
    if !facts.systemd_is_init {
        out.push(format!(
            "systemd is not PID 1 here: {whose} are written but nothing enforces them until \
             systemd runs this host"
        ));
        return out;
    }
    if let Subject::User(n) = who
        && facts.sshd_pam_systemd == Some(false)
    {
        out.push(format!(
            "sshd's PAM session stack (/etc/pam.d/sshd) has no pam_systemd: SSH sessions of {n} \
             do not join their user slice, so {whose} do nothing (install libpam-systemd, or \
             add 'session optional pam_systemd.so')"
        ));
    }
    let mut missing: Vec<(Controller, Vec<&str>)> = Vec::new();
    for (key, c) in needs {
        if facts.controllers.contains(&c) {
            continue;
        }
        match missing.iter_mut().find(|(m, _)| *m == c) {
            Some((_, keys)) => keys.push(key),
            None => missing.push((c, vec![key])),
        }
    }
    for (c, keys) in missing {
        if c == Controller::IpFilter {
            out.push(format!(
                "IP filtering needs the unified cgroup hierarchy (cgroup2 on /sys/fs/cgroup), \
                 which this host does not run: {}= would be accepted and not enforced",
                keys.join("=, ")
            ));
            continue;
        }
        out.push(format!(
            "the cgroup controller '{}' is not available (or is read-only) here: {}= would \
             be accepted and not enforced",
            c.v2_name(),
            keys.join("=, ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{Limits, RawLimits};

    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
31 25 0:27 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd
34 25 0:30 / /sys/fs/cgroup/memory rw,nosuid shared:14 - cgroup cgroup rw,memory
35 25 0:31 / /sys/fs/cgroup/pids ro,nosuid shared:15 - cgroup cgroup rw,pids
36 25 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:16 - cgroup cgroup rw,cpu,cpuacct
";

    fn limits(mem: Option<&str>, tasks: Option<&str>, quota: Option<&str>) -> Limits {
        Limits::parse(&RawLimits {
            memory_max: mem,
            tasks_max: tasks,
            cpu_quota: quota,
            ..RawLimits::default()
        })
        .unwrap()
    }

    fn facts(controllers: Vec<Controller>, pam: Option<bool>) -> HostFacts {
        HostFacts {
            systemd_is_init: true,
            controllers,
            sshd_pam_systemd: pam,
        }
    }

    #[test]
    fn a_read_only_v1_controller_is_not_usable() {
        let usable = usable_controllers(HYBRID, "");
        assert_eq!(usable, [Controller::Memory, Controller::Cpu]);
        assert_eq!(
            cgroup2_mount(HYBRID).as_deref(),
            Some("/sys/fs/cgroup/unified")
        );
    }

    #[test]
    fn unified_controllers_come_from_cgroup_controllers() {
        let info = "30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let usable = usable_controllers(info, "cpuset cpu io memory pids\n");
        assert_eq!(
            usable,
            [
                Controller::Memory,
                Controller::Cpu,
                Controller::Pids,
                Controller::Io,
                Controller::IpFilter
            ]
        );
        assert_eq!(usable_controllers(info, ""), [Controller::IpFilter]);
    }

    #[test]
    fn pam_systemd_is_found_through_includes() {
        let files = |name: &str| match name {
            "sshd" => Some("auth include password-auth\n@include common-session\n".to_string()),
            "common-session" => {
                Some("session [default=1] pam_permit.so\n-session optional pam_systemd.so\n".into())
            }
            "bare" => {
                Some("session required pam_unix.so\n# session optional pam_systemd.so\n".into())
            }
            "rhel" => Some("session include password-auth\n".into()),
            "password-auth" => {
                Some("-session optional /usr/lib64/security/pam_systemd.so\n".into())
            }
            "loop" => Some("@include loop\n".into()),
            _ => None,
        };
        assert_eq!(pam_has_systemd("sshd", &files), Some(true));
        assert_eq!(pam_has_systemd("rhel", &files), Some(true));
        assert_eq!(pam_has_systemd("bare", &files), Some(false));
        assert_eq!(pam_has_systemd("loop", &files), Some(false));
        assert_eq!(pam_has_systemd("missing", &files), None);
    }

    #[test]
    fn ip_filters_warn_in_hybrid_mode() {
        let mut l = limits(None, None, None);
        l.deny_network = true;
        l.allow_ip = vec!["127.0.0.1".into()];
        let hybrid = facts(usable_controllers(HYBRID, ""), Some(true));
        let w = enforcement_warnings(&l, Subject::User("a"), &hybrid);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("IPAddressDeny=, IPAddressAllow="), "{w:?}");
        let unified = facts(vec![Controller::IpFilter], Some(true));
        assert!(enforcement_warnings(&l, Subject::User("a"), &unified).is_empty());
    }

    #[test]
    fn no_limits_no_warnings() {
        let none = limits(None, None, None);
        let f = HostFacts {
            systemd_is_init: false,
            controllers: vec![],
            sshd_pam_systemd: Some(false),
        };
        assert!(enforcement_warnings(&none, Subject::User("a"), &f).is_empty());
    }

    #[test]
    fn without_systemd_one_warning_says_so() {
        let l = limits(Some("50M"), None, None);
        let mut f = facts(vec![], Some(false));
        f.systemd_is_init = false;
        let w = enforcement_warnings(&l, Subject::User("alice"), &f);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("systemd is not PID 1"), "{w:?}");
    }

    #[test]
    fn missing_pam_systemd_warns_for_users_only() {
        let l = limits(Some("50M"), None, None);
        let f = facts(vec![Controller::Memory], Some(false));
        let w = enforcement_warnings(&l, Subject::User("alice"), &f);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("pam_systemd") && w[0].contains("alice"),
            "{w:?}"
        );
        assert!(enforcement_warnings(&l, Subject::Service("web"), &f).is_empty());
        let unknown = facts(vec![Controller::Memory], None);
        assert!(enforcement_warnings(&l, Subject::User("alice"), &unknown).is_empty());
    }

    #[test]
    fn each_missing_controller_is_named_with_its_directives() {
        let l = limits(Some("50M"), Some("20"), Some("20%"));
        let f = facts(vec![Controller::Cpu], Some(true));
        let w = enforcement_warnings(&l, Subject::Service("web"), &f);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains("'memory'") && w[0].contains("MemoryMax="),
            "{w:?}"
        );
        assert!(
            w[1].contains("'pids'") && w[1].contains("TasksMax="),
            "{w:?}"
        );
        let all = facts(
            vec![Controller::Memory, Controller::Cpu, Controller::Pids],
            Some(true),
        );
        assert!(enforcement_warnings(&l, Subject::User("a"), &all).is_empty());
    }
}
