//! Resource limits shared by `service` and `user`: option values parsed the way systemd
//! accepts them, and rendered as cgroup directives (`MemoryMax=` …). Pure: the block device
//! behind a bare `--io-read-max RATE` is found by the caller and passed in.

pub mod enforce;
pub mod options;

use std::fmt;

use serde::{Deserialize, Serialize};

/// The accepted forms, quoted in every parse error.
pub const SIZE_FORMS: &str = "bytes with an optional K, M, G or T suffix (powers of 1024, as systemd: 512M, 2G), \
     a percentage of physical memory (50%), or 'infinity'";
pub const QUOTA_FORMS: &str = "a percentage of one CPU: 50% (half a CPU) or 150% (one and a half)";
pub const WEIGHT_FORMS: &str = "an integer from 1 to 10000 (the default weight is 100)";
pub const TASKS_FORMS: &str =
    "a positive number of tasks (64), a percentage of the kernel's limit (10%), or 'infinity'";
pub const IO_FORMS: &str = "RATE (bytes per second on the device holding the jail: 1M, 500K) \
     or 'DEV RATE' with DEV an absolute path (/dev/sda 10M)";

/// An invalid limit value: the option, what was given, and the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--{option}: invalid value {given:?}; accepted: {forms}")]
pub struct LimitError {
    pub option: &'static str,
    pub given: String,
    pub forms: &'static str,
}

fn bad(option: &'static str, given: &str, forms: &'static str) -> LimitError {
    LimitError {
        option,
        given: given.to_string(),
        forms,
    }
}

/// A byte amount as systemd writes it: a number with an optional K/M/G/T suffix, a percentage,
/// or `infinity`. Kept in the form given (normalised) so the unit reads like the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Size {
    Bytes { value: u64, suffix: Option<char> },
    Percent(u32),
    Infinity,
}

impl Size {
    /// The size in bytes (None for a percentage or infinity).
    pub fn bytes(&self) -> Option<u64> {
        match *self {
            Size::Bytes { value, suffix } => {
                let shift = match suffix {
                    None => 0,
                    Some('K') => 10,
                    Some('M') => 20,
                    Some('G') => 30,
                    Some(_) => 40,
                };
                value.checked_mul(1u64 << shift)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Size::Bytes { value, suffix } => match suffix {
                Some(s) => write!(f, "{value}{s}"),
                None => write!(f, "{value}"),
            },
            Size::Percent(p) => write!(f, "{p}%"),
            Size::Infinity => f.write_str("infinity"),
        }
    }
}

/// A plain decimal number: digits only (no sign, no spaces), fitting `u64`.
fn decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `N%` with N in `1..=max`.
fn percent(s: &str, max: u64) -> Option<u32> {
    let n = decimal(s.strip_suffix('%')?)?;
    (1..=max).contains(&n).then_some(n as u32)
}

/// A byte count with an optional suffix (K, M, G, T, either case; a trailing B is not
/// accepted, as systemd does not). Zero is refused: a zero limit stops the unit outright.
fn byte_count(s: &str) -> Option<Size> {
    let (digits, suffix) = match s.chars().last()? {
        c @ ('K' | 'M' | 'G' | 'T' | 'k' | 'm' | 'g' | 't') => {
            (&s[..s.len() - 1], Some(c.to_ascii_uppercase()))
        }
        _ => (s, None),
    };
    let value = decimal(digits)?;
    let size = Size::Bytes { value, suffix };
    (value > 0 && size.bytes().is_some()).then_some(size)
}

/// Parses a memory size (`--memory-max`, `--memory-high`).
pub fn parse_size(option: &'static str, s: &str) -> Result<Size, LimitError> {
    let s = s.trim();
    if s == "infinity" {
        return Ok(Size::Infinity);
    }
    if s.ends_with('%') {
        return percent(s, 100)
            .map(Size::Percent)
            .ok_or_else(|| bad(option, s, SIZE_FORMS));
    }
    byte_count(s).ok_or_else(|| bad(option, s, SIZE_FORMS))
}

/// Parses `--cpu-quota`: a percentage of one CPU, at most 100 CPUs' worth.
pub fn parse_cpu_quota(s: &str) -> Result<u32, LimitError> {
    percent(s.trim(), 10_000).ok_or_else(|| bad("cpu-quota", s, QUOTA_FORMS))
}

/// Parses `--cpu-weight` (1–10000).
pub fn parse_cpu_weight(s: &str) -> Result<u32, LimitError> {
    decimal(s.trim())
        .filter(|n| (1..=10_000).contains(n))
        .map(|n| n as u32)
        .ok_or_else(|| bad("cpu-weight", s, WEIGHT_FORMS))
}

/// The number of tasks (`TasksMax=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tasks {
    Count(u64),
    Percent(u32),
    Infinity,
}

impl fmt::Display for Tasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tasks::Count(n) => write!(f, "{n}"),
            Tasks::Percent(p) => write!(f, "{p}%"),
            Tasks::Infinity => f.write_str("infinity"),
        }
    }
}

/// Parses `--tasks-max`.
pub fn parse_tasks(s: &str) -> Result<Tasks, LimitError> {
    let t = s.trim();
    let parsed = if t == "infinity" {
        Some(Tasks::Infinity)
    } else if t.ends_with('%') {
        percent(t, 100).map(Tasks::Percent)
    } else {
        decimal(t).filter(|n| *n > 0).map(Tasks::Count)
    };
    parsed.ok_or_else(|| bad("tasks-max", s, TASKS_FORMS))
}

/// Where an IO bandwidth limit applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum IoTarget {
    /// The block device holding the jail, found when the limits are resolved.
    JailDevice,
    /// A device (or a file whose file system's device systemd finds), given by the user.
    Path(String),
}

/// An IO bandwidth limit: bytes per second on a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoLimit {
    pub target: IoTarget,
    pub rate: Size,
}

/// Parses `--io-read-max` / `--io-write-max`: `RATE` or `DEV RATE`.
pub fn parse_io(option: &'static str, s: &str) -> Result<IoLimit, LimitError> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let (target, rate) = match words.as_slice() {
        [rate] => (IoTarget::JailDevice, *rate),
        [dev, rate]
            if dev.starts_with('/')
                && !dev.split('/').any(|c| c == "..")
                && !dev.chars().any(|c| c.is_control() || c == '%') =>
        {
            (IoTarget::Path(dev.to_string()), *rate)
        }
        _ => return Err(bad(option, s, IO_FORMS)),
    };
    let rate = byte_count(rate).ok_or_else(|| bad(option, s, IO_FORMS))?;
    Ok(IoLimit { target, rate })
}

/// Every limit one unit or slice gets; `None` leaves systemd's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_max: Option<Size>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_high: Option<Size>,
    /// Percent of one CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_weight: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tasks_max: Option<Tasks>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_read_max: Option<IoLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_write_max: Option<IoLimit>,
    /// No network but `ip_allow` (IPAddressDeny=any): only for a user's slice.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deny_network: bool,
    /// Peers still allowed with `deny_network` (IPAddressAllow=), each `ADDR[/N]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_ip: Vec<String>,
}

pub const IP_FORMS: &str = "an IPv4 or IPv6 address with an optional prefix length \
     (192.0.2.7, 10.0.0.0/8, 2001:db8::/32), or 'localhost'";

/// `ADDR[/N]` as IPAddressAllow= takes it (or 'localhost'), normalised.
pub fn parse_allow_ip(s: &str) -> Result<String, LimitError> {
    let bad = || LimitError {
        option: "allow-ip",
        given: s.to_string(),
        forms: IP_FORMS,
    };
    let t = s.trim();
    if t == "localhost" {
        return Ok(t.to_string());
    }
    let (addr, prefix) = match t.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (t, None),
    };
    let ip: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match prefix {
        None => Ok(ip.to_string()),
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max && p == n.to_string() => Ok(format!("{ip}/{n}")),
            _ => Err(bad()),
        },
    }
}

/// The raw option values, as the command line gave them.
#[derive(Debug, Clone, Default)]
pub struct RawLimits<'a> {
    pub memory_max: Option<&'a str>,
    pub memory_high: Option<&'a str>,
    pub cpu_quota: Option<&'a str>,
    pub cpu_weight: Option<&'a str>,
    pub tasks_max: Option<&'a str>,
    pub io_read_max: Option<&'a str>,
    pub io_write_max: Option<&'a str>,
}

impl Limits {
    /// Parses every given value; the first invalid one is the error.
    pub fn parse(raw: &RawLimits<'_>) -> Result<Limits, LimitError> {
        Ok(Limits {
            memory_max: raw
                .memory_max
                .map(|s| parse_size("memory-max", s))
                .transpose()?,
            memory_high: raw
                .memory_high
                .map(|s| parse_size("memory-high", s))
                .transpose()?,
            cpu_quota: raw.cpu_quota.map(parse_cpu_quota).transpose()?,
            cpu_weight: raw.cpu_weight.map(parse_cpu_weight).transpose()?,
            tasks_max: raw.tasks_max.map(parse_tasks).transpose()?,
            io_read_max: raw
                .io_read_max
                .map(|s| parse_io("io-read-max", s))
                .transpose()?,
            io_write_max: raw
                .io_write_max
                .map(|s| parse_io("io-write-max", s))
                .transpose()?,
            deny_network: false,
            allow_ip: Vec::new(),
        })
    }

    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    /// True when an IO limit still names "the jail's device" and needs `resolve_device`.
    pub fn needs_jail_device(&self) -> bool {
        [&self.io_read_max, &self.io_write_max].iter().any(|l| {
            matches!(
                l,
                Some(IoLimit {
                    target: IoTarget::JailDevice,
                    ..
                })
            )
        })
    }

    /// Replaces "the jail's device" by `dev` in the IO limits.
    pub fn resolve_device(&mut self, dev: &str) {
        for l in [&mut self.io_read_max, &mut self.io_write_max]
            .into_iter()
            .flatten()
        {
            if l.target == IoTarget::JailDevice {
                l.target = IoTarget::Path(dev.to_string());
            }
        }
    }

    /// The directives, each with the comment that explains it, in a fixed order.
    /// An IO limit whose device was not resolved is rendered against `/`.
    pub fn directives(&self) -> Vec<Directive> {
        let mut d = Vec::new();
        if let Some(s) = self.memory_max {
            d.push(Directive::new(
                "MemoryMax",
                s.to_string(),
                "hard memory limit: above it the kernel reclaims, then the OOM killer ends the unit",
            ));
        }
        if let Some(s) = self.memory_high {
            d.push(Directive::new(
                "MemoryHigh",
                s.to_string(),
                "soft memory limit: above it the processes are throttled and reclaimed hard",
            ));
        }
        if let Some(q) = self.cpu_quota {
            d.push(Directive::new(
                "CPUQuota",
                format!("{q}%"),
                "CPU time cap, in percent of one CPU (cpu.max)",
            ));
        }
        if let Some(w) = self.cpu_weight {
            d.push(Directive::new(
                "CPUWeight",
                w.to_string(),
                "share of CPU under contention, relative to the default 100 (cpu.weight)",
            ));
        }
        if let Some(t) = self.tasks_max {
            d.push(Directive::new(
                "TasksMax",
                t.to_string(),
                "most processes and threads at once (pids.max): stops fork bombs",
            ));
        }
        for (key, limit, what) in [
            ("IOReadBandwidthMax", &self.io_read_max, "read"),
            ("IOWriteBandwidthMax", &self.io_write_max, "write"),
        ] {
            if let Some(l) = limit {
                let dev = match &l.target {
                    IoTarget::Path(p) => p.as_str(),
                    IoTarget::JailDevice => "/",
                };
                d.push(Directive {
                    key,
                    value: format!("{dev} {}", l.rate),
                    comment: format!("{what} bandwidth cap in bytes per second on {dev} (io.max)"),
                });
            }
        }
        if self.deny_network {
            d.push(Directive::new(
                "IPAddressDeny",
                "any",
                "no network traffic for these processes (a BPF filter on the cgroup)",
            ));
            for a in &self.allow_ip {
                d.push(Directive::new(
                    "IPAddressAllow",
                    a.clone(),
                    "except to and from this peer",
                ));
            }
        }
        d
    }
}

/// One `Key=value` line of a unit file with its explanatory comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub key: &'static str,
    pub value: String,
    pub comment: String,
}

impl Directive {
    pub fn new(key: &'static str, value: impl Into<String>, comment: impl Into<String>) -> Self {
        Directive {
            key,
            value: value.into(),
            comment: comment.into(),
        }
    }

    /// `# comment\nKey=value\n`.
    pub fn render(&self) -> String {
        format!("# {}\n{}={}\n", self.comment, self.key, self.value)
    }
}

/// The drop-in for a user's slice: `[Slice]` with the limits. The header names the tool and
/// the user, so an administrator who finds it knows where it came from.
pub fn render_slice_dropin(user: &str, uid: u32, limits: &Limits) -> String {
    let mut s = format!(
        "# Written by jailsmith for the jailed SSH user {user} (uid {uid}): every session of\n\
         # {user} runs in user-{uid}.slice, so these limits hold for all of them together.\n\
         # Change it with 'jailsmith user {user} ... --memory-max ...'; removed by --remove.\n\
         [Slice]\n"
    );
    for d in limits.directives() {
        s.push_str(&d.render());
    }
    s
}

/// The drop-in's path relative to the systemd directory.
pub fn slice_dropin_relpath(uid: u32) -> String {
    format!("user-{uid}.slice.d/50-jailsmith.conf")
}

/// The whole-disk block device name for a sysfs device directory path such as
/// `/sys/devices/pci0000:00/.../block/sda/sda1` (pure: works on the resolved link text).
/// Partitions map to their disk, because io.max only takes whole disks.
pub fn whole_disk_name(sysfs_dir: &str, is_partition: bool) -> Option<String> {
    let mut parts = sysfs_dir.trim_end_matches('/').rsplit('/');
    let last = parts.next()?;
    let name = if is_partition { parts.next()? } else { last };
    (!name.is_empty() && !name.contains("..")).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_ip_takes_addresses_prefixes_and_localhost() {
        assert_eq!(parse_allow_ip("127.0.0.1").unwrap(), "127.0.0.1");
        assert_eq!(parse_allow_ip("10.0.0.0/8").unwrap(), "10.0.0.0/8");
        assert_eq!(parse_allow_ip("2001:db8::/32").unwrap(), "2001:db8::/32");
        assert_eq!(parse_allow_ip("localhost").unwrap(), "localhost");
        for bad in [
            "",
            "any",
            "10.0.0.0/33",
            "10.0.0.0/08",
            "1.2.3",
            "::1/129",
            "a b",
        ] {
            let e = parse_allow_ip(bad).unwrap_err();
            assert_eq!(e.option, "allow-ip", "{bad}");
        }
    }

    #[test]
    fn deny_network_renders_deny_any_then_the_allowed_peers() {
        let l = Limits {
            deny_network: true,
            allow_ip: vec!["127.0.0.1".into(), "10.0.0.0/8".into()],
            ..Limits::default()
        };
        let keys: Vec<String> = l
            .directives()
            .iter()
            .map(|d| format!("{}={}", d.key, d.value))
            .collect();
        assert_eq!(
            keys,
            [
                "IPAddressDeny=any",
                "IPAddressAllow=127.0.0.1",
                "IPAddressAllow=10.0.0.0/8"
            ]
        );
        assert!(!l.is_empty());
    }

    #[test]
    fn sizes_as_systemd_writes_them() {
        assert_eq!(
            parse_size("memory-max", "150M").unwrap().to_string(),
            "150M"
        );
        assert_eq!(parse_size("memory-max", "2g").unwrap().to_string(), "2G");
        assert_eq!(
            parse_size("memory-max", "150M").unwrap().bytes(),
            Some(150 * 1024 * 1024)
        );
        assert_eq!(
            parse_size("memory-max", "4096").unwrap().bytes(),
            Some(4096)
        );
        assert_eq!(
            parse_size("memory-max", "1T").unwrap().bytes(),
            Some(1 << 40)
        );
        assert_eq!(
            parse_size("memory-high", "infinity").unwrap(),
            Size::Infinity
        );
        assert_eq!(parse_size("memory-max", "50%").unwrap(), Size::Percent(50));
    }

    #[test]
    fn bad_sizes_name_the_accepted_forms() {
        for s in [
            "",
            "M",
            "-5M",
            "1.5G",
            "150MB",
            "150 M",
            "0",
            "0M",
            "101%",
            "0%",
            "lots",
            "1P",
            "99999999999999999999",
        ] {
            let e = parse_size("memory-max", s).unwrap_err();
            assert_eq!(e.option, "memory-max");
            let msg = e.to_string();
            assert!(
                msg.contains("--memory-max") && msg.contains("infinity"),
                "{s}: {msg}"
            );
        }
        assert!(
            parse_size("memory-max", "17179869184T").is_err(),
            "overflow"
        );
    }

    #[test]
    fn cpu_quota_is_a_percentage() {
        assert_eq!(parse_cpu_quota("50%"), Ok(50));
        assert_eq!(parse_cpu_quota("150%"), Ok(150));
        for s in ["50", "0%", "%", "-1%", "50.5%", "abc", "10001%"] {
            let e = parse_cpu_quota(s).unwrap_err();
            assert!(e.to_string().contains("percentage of one CPU"), "{s}");
        }
    }

    #[test]
    fn cpu_weight_range() {
        assert_eq!(parse_cpu_weight("1"), Ok(1));
        assert_eq!(parse_cpu_weight("20"), Ok(20));
        assert_eq!(parse_cpu_weight("10000"), Ok(10_000));
        for s in ["0", "10001", "-3", "idle", "", "2.5"] {
            assert!(
                parse_cpu_weight(s)
                    .unwrap_err()
                    .to_string()
                    .contains("1 to 10000"),
                "{s}"
            );
        }
    }

    #[test]
    fn tasks() {
        assert_eq!(parse_tasks("64"), Ok(Tasks::Count(64)));
        assert_eq!(parse_tasks("10%"), Ok(Tasks::Percent(10)));
        assert_eq!(parse_tasks("infinity"), Ok(Tasks::Infinity));
        for s in ["0", "-1", "1k", "many", "200%"] {
            assert!(parse_tasks(s).is_err(), "{s}");
        }
    }

    #[test]
    fn io_rate_alone_or_with_a_device() {
        let l = parse_io("io-read-max", "1M").unwrap();
        assert_eq!(l.target, IoTarget::JailDevice);
        assert_eq!(l.rate.to_string(), "1M");
        let l = parse_io("io-write-max", "/dev/sda 10M").unwrap();
        assert_eq!(l.target, IoTarget::Path("/dev/sda".into()));
        for s in [
            "",
            "fast",
            "sda 1M",
            "/dev/sda",
            "/dev/sda 1M extra",
            "/dev/../x 1M",
            "1%",
        ] {
            let e = parse_io("io-write-max", s).unwrap_err();
            assert!(e.to_string().contains("DEV RATE"), "{s}: {e}");
        }
    }

    #[test]
    fn directives_render_with_comments_in_a_fixed_order() {
        let raw = RawLimits {
            memory_max: Some("150M"),
            cpu_weight: Some("20"),
            tasks_max: Some("64"),
            cpu_quota: Some("50%"),
            io_read_max: Some("1M"),
            ..Default::default()
        };
        let mut l = Limits::parse(&raw).unwrap();
        assert!(l.needs_jail_device());
        l.resolve_device("/dev/vda");
        assert!(!l.needs_jail_device());
        let text: String = l.directives().iter().map(Directive::render).collect();
        let keys: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            keys,
            [
                "MemoryMax=150M",
                "CPUQuota=50%",
                "CPUWeight=20",
                "TasksMax=64",
                "IOReadBandwidthMax=/dev/vda 1M"
            ]
        );
        assert_eq!(
            text.lines().filter(|l| l.starts_with("# ")).count(),
            keys.len()
        );
    }

    #[test]
    fn first_bad_value_is_the_error() {
        let raw = RawLimits {
            memory_max: Some("150M"),
            cpu_weight: Some("0"),
            ..Default::default()
        };
        assert_eq!(Limits::parse(&raw).unwrap_err().option, "cpu-weight");
    }

    #[test]
    fn slice_dropin() {
        let l = Limits::parse(&RawLimits {
            memory_max: Some("150M"),
            cpu_weight: Some("20"),
            tasks_max: Some("64"),
            ..Default::default()
        })
        .unwrap();
        let t = render_slice_dropin("alice", 1234, &l);
        assert!(t.contains("[Slice]\n"));
        assert!(t.contains("\nMemoryMax=150M\n"));
        assert!(t.contains("\nCPUWeight=20\n"));
        assert!(t.contains("\nTasksMax=64\n"));
        assert_eq!(
            slice_dropin_relpath(1234),
            "user-1234.slice.d/50-jailsmith.conf"
        );
    }

    #[test]
    fn limits_round_trip_through_json() {
        let l = Limits::parse(&RawLimits {
            memory_high: Some("infinity"),
            io_write_max: Some("/dev/sdb 5K"),
            ..Default::default()
        })
        .unwrap();
        let j = serde_json::to_string(&l).unwrap();
        assert_eq!(serde_json::from_str::<Limits>(&j).unwrap(), l);
    }

    #[test]
    fn partitions_map_to_their_disk() {
        let p = "/sys/devices/pci0000:00/0000:00:04.0/virtio1/block/vda/vda1";
        assert_eq!(whole_disk_name(p, true).as_deref(), Some("vda"));
        assert_eq!(
            whole_disk_name("/sys/devices/x/block/sdb", false).as_deref(),
            Some("sdb")
        );
    }
}
