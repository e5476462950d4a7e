//! Renders a jailed service's systemd unit from a `UnitSpec`: every line preceded by a
//! comment that says why it is there. Pure: no host reads, no clock; the same spec always
//! gives byte-identical text (which is what makes `jailsmith service` idempotent).

use crate::limits::{Directive, Limits};

/// Everything the unit says.
#[derive(Debug, Clone, Default)]
pub struct UnitSpec {
    /// Unit name without `.service`.
    pub name: String,
    /// Host path of the jail (RootDirectory=), absolute, clean and checked by
    /// `service::jail_for_unit` (it is written verbatim).
    pub jail: String,
    /// The command: argv[0] an absolute path inside the jail.
    pub argv: Vec<String>,
    pub user: String,
    pub group: String,
    /// TCP/UDP ports the program listens on; none means no network at all.
    pub ports: Vec<u16>,
    /// Peers the service may exchange packets with (IPAddressAllow=); empty: no IP filter.
    pub allow_ips: Vec<String>,
    /// In-jail paths the service may write (everything else is read-only); checked by
    /// `service::read_write_path`, written verbatim.
    pub read_write: Vec<String>,
    /// The program compiles code at run time (JIT): no MemoryDenyWriteExecute=.
    pub allow_jit: bool,
    /// The program needs AF_UNIX sockets.
    pub allow_unix: bool,
    pub limits: Limits,
}

impl UnitSpec {
    /// The lowest port below 1024 needs CAP_NET_BIND_SERVICE.
    pub fn needs_bind_capability(&self) -> bool {
        self.ports.iter().any(|p| *p < 1024)
    }

    /// No port and no peer: the service gets its own empty network namespace.
    pub fn private_network(&self) -> bool {
        self.ports.is_empty() && self.allow_ips.is_empty()
    }
}

/// A word of ExecStart= in systemd's syntax: `%` and `$` doubled (no specifier or variable
/// expansion), quoted with `"` when it holds anything but plain characters. Control characters
/// are refused by the caller before this is reached.
pub fn exec_word(word: &str) -> String {
    let escaped = word.replace('%', "%%").replace('$', "$$");
    let plain = !escaped.is_empty()
        && escaped
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%$".contains(c));
    if plain {
        return escaped;
    }
    let mut q = String::from("\"");
    for c in escaped.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            _ => q.push(c),
        }
    }
    q.push('"');
    q
}

fn d(key: &'static str, value: impl Into<String>, comment: impl Into<String>) -> Directive {
    Directive::new(key, value, comment)
}

/// `[Service]` lines that start the program in the jail as its user.
fn execution(s: &UnitSpec) -> Vec<Directive> {
    let exec: Vec<String> = s.argv.iter().map(|w| exec_word(w)).collect();
    vec![
        d(
            "Type",
            "exec",
            "the unit fails to start when the program cannot be executed",
        ),
        d(
            "ExecStart",
            exec.join(" "),
            "the command, run directly (no shell); its path is inside the jail",
        ),
        d(
            "RootDirectory",
            &s.jail,
            "chroot: / for the service is the jail jailsmith built",
        ),
        d(
            "WorkingDirectory",
            "/",
            "start in the jail's root, never in a host directory",
        ),
        d(
            "User",
            &s.user,
            "a dedicated unprivileged account (also listed in the jail's etc/passwd)",
        ),
        d("Group", &s.group, "that account's own group"),
        d(
            "Restart",
            "on-failure",
            "come back after a crash, not after a clean stop",
        ),
        d(
            "UMask",
            "0077",
            "files the service creates are readable by its user only",
        ),
    ]
}

/// Privileges and capabilities.
fn privileges(s: &UnitSpec) -> Vec<Directive> {
    let cap = if s.needs_bind_capability() {
        "CAP_NET_BIND_SERVICE"
    } else {
        ""
    };
    let why_caps = if cap.is_empty() {
        "no capabilities at all, not even for root-owned helpers"
    } else {
        "only the capability to bind a port below 1024"
    };
    let mut v = vec![
        d(
            "NoNewPrivileges",
            "yes",
            "setuid files and file capabilities grant nothing (execve cannot raise privileges)",
        ),
        d("CapabilityBoundingSet", cap, why_caps),
        d(
            "AmbientCapabilities",
            cap,
            if cap.is_empty() {
                "no capability is handed to the unprivileged user"
            } else {
                "the unprivileged user holds CAP_NET_BIND_SERVICE, nothing else"
            },
        ),
        d(
            "RestrictSUIDSGID",
            "yes",
            "the service cannot create setuid or setgid files",
        ),
        d(
            "RemoveIPC",
            "yes",
            "System V and POSIX IPC objects of the user are removed when the service stops",
        ),
    ];
    if !s.needs_bind_capability() {
        v.push(d(
            "PrivateUsers",
            "yes",
            "its own user namespace: host users other than root and the service user are unmapped",
        ));
    }
    v
}

/// File system view.
fn filesystem(s: &UnitSpec) -> Vec<Directive> {
    let home_rw = s.read_write.iter().any(|p| {
        ["/home", "/root", "/run/user"]
            .iter()
            .any(|h| p == h || p.starts_with(&format!("{h}/")))
    });
    let mut v = vec![
        d(
            "ProtectSystem",
            "strict",
            "the whole jail is read-only, except the paths listed in ReadWritePaths=",
        ),
        d(
            "ProtectHome",
            if home_rw { "read-only" } else { "yes" },
            if home_rw {
                "/home, /root and /run/user are read-only (a --read-write path below them stays writable)"
            } else {
                "/home, /root and /run/user are empty and inaccessible"
            },
        ),
        d(
            "PrivateTmp",
            "yes",
            "a private, empty /tmp and /var/tmp, removed when the service stops",
        ),
        d(
            "PrivateDevices",
            "yes",
            "a private /dev with only pseudo devices (null, zero, random …); no raw devices",
        ),
        d(
            "PrivateMounts",
            "yes",
            "its own mount namespace: mounts made inside never reach the host",
        ),
        d(
            "PrivateIPC",
            "yes",
            "its own System V IPC and POSIX message queue namespace",
        ),
    ];
    if !s.read_write.is_empty() {
        v.push(d(
            "ReadWritePaths",
            s.read_write.join(" "),
            "the only paths inside the jail the service may write (--read-write)",
        ));
    }
    v
}

/// Kernel and host-wide state.
fn kernel() -> Vec<Directive> {
    vec![
        d(
            "ProtectKernelTunables",
            "yes",
            "/proc/sys, /sys and friends are read-only",
        ),
        d(
            "ProtectKernelModules",
            "yes",
            "no module loading or unloading",
        ),
        d(
            "ProtectKernelLogs",
            "yes",
            "no access to the kernel log ring buffer",
        ),
        d("ProtectClock", "yes", "the system clock cannot be changed"),
        d("ProtectHostname", "yes", "the host name cannot be changed"),
        d(
            "ProtectControlGroups",
            "yes",
            "the cgroup tree is read-only: the limits below cannot be lifted from inside",
        ),
        d(
            "ProtectProc",
            "invisible",
            "processes of other users are hidden in /proc",
        ),
        d(
            "ProcSubset",
            "pid",
            "/proc shows processes only, no kernel or host information",
        ),
        d(
            "RestrictNamespaces",
            "yes",
            "no new namespaces: containers cannot be built from inside",
        ),
        d(
            "RestrictRealtime",
            "yes",
            "no realtime scheduling that could starve the host",
        ),
        d(
            "LockPersonality",
            "yes",
            "the execution domain (personality) is fixed",
        ),
        d(
            "KeyringMode",
            "private",
            "its own kernel keyring, not shared with other services",
        ),
    ]
}

/// Network: address families, IP allow-list, or no network at all.
fn network(s: &UnitSpec) -> Vec<Directive> {
    let mut v = Vec::new();
    if s.private_network() {
        v.push(d(
            "PrivateNetwork",
            "yes",
            "no --port and no --allow-ip: its own network namespace with only a loopback",
        ));
    }
    let mut families: Vec<&str> = Vec::new();
    if !s.private_network() {
        families.extend(["AF_INET", "AF_INET6"]);
    }
    if s.allow_unix {
        families.push("AF_UNIX");
    }
    let (value, why) = if families.is_empty() {
        ("none".to_string(), "no sockets of any address family")
    } else {
        (
            families.join(" "),
            "only the socket address families the program needs",
        )
    };
    v.push(d("RestrictAddressFamilies", value, why));
    if !s.allow_ips.is_empty() {
        v.push(d(
            "IPAddressDeny",
            "any",
            "drop every IP packet to or from a peer not listed below",
        ));
        v.push(d(
            "IPAddressAllow",
            s.allow_ips.join(" "),
            "the peers allowed by --allow-ip",
        ));
    }
    v
}

/// System calls and memory.
fn syscalls(s: &UnitSpec) -> Vec<Directive> {
    let mut v = vec![
        d(
            "SystemCallFilter",
            "@system-service",
            "only the system calls ordinary services use",
        ),
        d(
            "SystemCallFilter",
            "~@privileged @resources",
            "and none of the privileged or resource-changing ones among them",
        ),
        d(
            "SystemCallErrorNumber",
            "EPERM",
            "a filtered call fails with EPERM instead of killing the process",
        ),
        d(
            "SystemCallArchitectures",
            "native",
            "no 32-bit or foreign-ABI system calls that would bypass the filter",
        ),
    ];
    if !s.allow_jit {
        v.push(d(
            "MemoryDenyWriteExecute",
            "yes",
            "no memory both writable and executable (pass --allow-jit for a JIT)",
        ));
    }
    v
}

/// The whole unit file.
pub fn render_unit(s: &UnitSpec) -> String {
    let mut out = format!(
        "# {name}.service: written by jailsmith ('jailsmith service {name} ...'); a rerun with\n\
         # the same options leaves it untouched. Check it with\n\
         #   systemd-analyze security --offline=yes {name}.service\n\
         [Unit]\n\
         # what the service is and where it is jailed\n\
         Description=jailsmith service {name} (jailed in {jail})\n\
         # start once the network is configured\n\
         After=network.target\n\
         \n[Service]\n",
        name = s.name,
        jail = s.jail,
    );
    let sections: [(&str, Vec<Directive>); 7] = [
        ("Execution", execution(s)),
        ("Privileges", privileges(s)),
        ("File system", filesystem(s)),
        ("Kernel and host state", kernel()),
        ("Network", network(s)),
        ("System calls and memory", syscalls(s)),
        ("Resource limits (cgroup)", s.limits.directives()),
    ];
    for (title, lines) in sections {
        if lines.is_empty() {
            continue;
        }
        out.push_str(&format!("\n# --- {title} ---\n"));
        for l in lines {
            out.push_str(&l.render());
        }
    }
    out.push_str(
        "\n[Install]\n# started at boot once enabled (systemctl enable)\nWantedBy=multi-user.target\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::RawLimits;

    fn spec() -> UnitSpec {
        UnitSpec {
            name: "web".into(),
            jail: "/srv/web".into(),
            argv: vec![
                "/usr/bin/python3".into(),
                "-m".into(),
                "http.server".into(),
                "8080".into(),
            ],
            user: "web".into(),
            group: "web".into(),
            ports: vec![8080],
            allow_ips: vec!["127.0.0.0/8".into()],
            limits: Limits::parse(&RawLimits {
                memory_max: Some("150M"),
                ..Default::default()
            })
            .unwrap(),
            ..Default::default()
        }
    }

    fn value_of<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .collect()
    }

    #[test]
    fn every_directive_has_a_comment_above_it() {
        let u = render_unit(&spec());
        let lines: Vec<&str> = u.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if l.contains('=') && !l.starts_with('#') {
                assert!(lines[i - 1].starts_with("# "), "no comment above {l}");
            }
        }
    }

    #[test]
    fn jail_user_limits_and_network() {
        let u = render_unit(&spec());
        assert_eq!(value_of(&u, "RootDirectory"), ["/srv/web"]);
        assert_eq!(value_of(&u, "User"), ["web"]);
        assert_eq!(value_of(&u, "MemoryMax"), ["150M"]);
        assert_eq!(value_of(&u, "CapabilityBoundingSet"), [""]);
        assert_eq!(
            value_of(&u, "RestrictAddressFamilies"),
            ["AF_INET AF_INET6"]
        );
        assert_eq!(value_of(&u, "IPAddressDeny"), ["any"]);
        assert_eq!(value_of(&u, "IPAddressAllow"), ["127.0.0.0/8"]);
        assert_eq!(value_of(&u, "MemoryDenyWriteExecute"), ["yes"]);
        assert_eq!(value_of(&u, "PrivateUsers"), ["yes"]);
        assert!(value_of(&u, "PrivateNetwork").is_empty());
        assert_eq!(
            value_of(&u, "ExecStart"),
            ["/usr/bin/python3 -m http.server 8080"]
        );
    }

    #[test]
    fn low_port_gets_only_net_bind_service() {
        let mut s = spec();
        s.ports = vec![80];
        let u = render_unit(&s);
        assert_eq!(
            value_of(&u, "CapabilityBoundingSet"),
            ["CAP_NET_BIND_SERVICE"]
        );
        assert_eq!(
            value_of(&u, "AmbientCapabilities"),
            ["CAP_NET_BIND_SERVICE"]
        );
        assert!(value_of(&u, "PrivateUsers").is_empty());
    }

    #[test]
    fn no_port_means_no_network() {
        let mut s = spec();
        s.ports.clear();
        s.allow_ips.clear();
        let u = render_unit(&s);
        assert_eq!(value_of(&u, "PrivateNetwork"), ["yes"]);
        assert_eq!(value_of(&u, "RestrictAddressFamilies"), ["none"]);
        s.allow_unix = true;
        let u = render_unit(&s);
        assert_eq!(value_of(&u, "RestrictAddressFamilies"), ["AF_UNIX"]);
    }

    #[test]
    fn jit_and_read_write() {
        let mut s = spec();
        s.allow_jit = true;
        s.read_write = vec!["/srv/data".into(), "/home/x".into()];
        let u = render_unit(&s);
        assert!(value_of(&u, "MemoryDenyWriteExecute").is_empty());
        assert_eq!(value_of(&u, "ReadWritePaths"), ["/srv/data /home/x"]);
        assert_eq!(value_of(&u, "ProtectHome"), ["read-only"]);
    }

    #[test]
    fn exec_words_are_quoted_and_escaped() {
        assert_eq!(exec_word("/usr/bin/env"), "/usr/bin/env");
        assert_eq!(exec_word("a b"), "\"a b\"");
        assert_eq!(exec_word("50%"), "50%%");
        assert_eq!(exec_word("$HOME"), "$$HOME");
        assert_eq!(exec_word("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(exec_word("a\\b"), "\"a\\\\b\"");
        assert_eq!(exec_word(""), "\"\"");
        assert_eq!(exec_word("it's"), "\"it's\"");
    }

    #[test]
    fn rendering_is_deterministic() {
        assert_eq!(render_unit(&spec()), render_unit(&spec()));
    }
}
