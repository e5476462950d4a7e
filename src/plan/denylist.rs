//! The deny-lists of DESIGN §5.12, one each: jail paths, bind sources, host secrets and
//! accounts. Pure: inputs are paths, names and numbers (the state directory and sshd's
//! configuration directory are arguments); nothing here reads the host. Every command and
//! every input source (CLI, profile, `apply` spec) asks these predicates; `hostinfo::guard`
//! applies them to paths as the host resolves them.

use std::path::{Component, Path, PathBuf};

use crate::plan::JailPath;

/// A refusal by one of the deny-lists, naming what was refused and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("refusing {path} as a jail: {why}; pick a dedicated directory such as /srv/NAME")]
    Jail { path: PathBuf, why: String },
    #[error("refusing bind source {src}: {why}")]
    BindSource { src: PathBuf, why: String },
    #[error("refusing read-write bind onto {dst}: {why}")]
    RwTarget { dst: String, why: String },
    #[error("refusing {path}{}: {why}; host secrets never enter a jail", target_note(.target))]
    Secret {
        path: PathBuf,
        /// The real path the refused one leads to through symlinks, when it differs.
        target: Option<PathBuf>,
        why: &'static str,
    },
    #[error("refusing account {name} (uid {uid}): {why}")]
    Account { name: String, uid: u32, why: String },
}

fn target_note(t: &Option<PathBuf>) -> String {
    t.as_ref()
        .map(|t| format!(" (it leads to {})", t.display()))
        .unwrap_or_default()
}

impl Denied {
    /// Every refusal is a safety rule.
    pub fn exit_code(&self) -> u8 {
        crate::exit::REFUSED
    }
}

/// `p` made absolute-clean without touching the disk: `.` dropped, `..` taken lexically
/// (never above `/`), repeated and trailing slashes gone. Relative paths stay relative.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::RootDir => out.push("/"),
            Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                if out != Path::new("/") && !out.pop() {
                    out.push("..");
                }
            }
            Component::Normal(n) => out.push(n),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Jail paths

/// The kernel's API filesystems: no jail may be one, or lie inside one.
pub const API_FILESYSTEMS: &[&str] = &["/proc", "/sys", "/dev", "/run"];

/// System directories a jail may not be (it may lie below most of them, e.g. /srv/NAME).
/// Building into one would replace the host's etc/passwd, nsswitch.conf, /dev nodes…;
/// destroying one would take the host's files with it.
pub const SYSTEM_DIRS: &[&str] = &[
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/lost+found",
    "/media",
    "/mnt",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/snap",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/var",
    // second level: what the packages and the system keep
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libx32",
    "/usr/libexec",
    "/usr/include",
    "/usr/share",
    "/usr/src",
    "/usr/local",
    "/usr/local/bin",
    "/usr/local/sbin",
    "/usr/local/lib",
    "/usr/local/share",
    "/usr/local/etc",
    "/var/lib",
    "/var/log",
    "/var/cache",
    "/var/spool",
    "/var/tmp",
    "/var/mail",
    "/var/backups",
    "/var/opt",
    "/var/local",
    "/var/www",
    "/etc/ssh",
];

/// Why `jail` (absolute; lexically normalized here) may not be a jail. `state_dirs` are
/// jailsmith's state directories in use (the default one and `--state-dir`).
pub fn refused_jail(jail: &Path, state_dirs: &[&Path]) -> Option<String> {
    let jail = normalize(jail);
    if jail == Path::new("/") {
        return Some("it is the host's root directory".into());
    }
    if SYSTEM_DIRS.iter().any(|d| jail == Path::new(d)) {
        return Some("it is a system directory of the host".into());
    }
    if let Some(api) = API_FILESYSTEMS.iter().find(|a| jail.starts_with(a)) {
        return Some(format!("it lies inside {api}, a kernel API filesystem"));
    }
    for s in state_dirs.iter().map(|s| normalize(s)) {
        if s.as_os_str().is_empty() {
            continue;
        }
        if jail.starts_with(&s) {
            return Some(format!(
                "it lies inside jailsmith's state directory {}",
                s.display()
            ));
        }
        if s.starts_with(&jail) {
            return Some(format!(
                "it holds jailsmith's state directory {}",
                s.display()
            ));
        }
    }
    let protected = API_FILESYSTEMS.iter().chain(SYSTEM_DIRS);
    if let Some(d) = protected.map(Path::new).find(|d| d.starts_with(&jail)) {
        return Some(format!("it holds the system directory {}", d.display()));
    }
    None
}

// ---------------------------------------------------------------------------------------
// Bind sources

/// Host directories no bind may show in a jail, nor any directory holding one.
pub const BIND_DENIED: &[(&str, &str)] = &[
    (
        "/proc",
        "the kernel's process filesystem reaches the host's root through /proc/PID/root",
    ),
    ("/sys", "it is the kernel's sysfs"),
    ("/dev", "it holds the host's device nodes"),
    ("/run", "it holds the host's sockets and runtime state"),
    (
        "/boot",
        "it holds the host's kernels and boot loader configuration",
    ),
    ("/root", "it is root's home"),
    (
        "/etc",
        "it holds the host's configuration, accounts and keys",
    ),
];

/// Why a bind of `src` (absolute) into `jail` may not be made. `sshd_dir` is the directory
/// holding sshd's configuration (drop-ins), `state_dirs` as for `refused_jail`.
pub fn refused_bind_source(
    src: &Path,
    jail: &Path,
    state_dirs: &[&Path],
    sshd_dir: &Path,
) -> Option<String> {
    let src = normalize(src);
    if src == Path::new("/") {
        return Some("it is the host's root directory".into());
    }
    let covers = |d: &Path| src.starts_with(d) || d.starts_with(&src);
    if let Some((d, why)) = BIND_DENIED.iter().find(|(d, _)| covers(Path::new(d))) {
        let rel = relation(&src, Path::new(d));
        return Some(format!("{rel} {d}: {why}"));
    }
    let owned = [
        (normalize(jail), "the jail itself"),
        (normalize(sshd_dir), "sshd's configuration"),
    ];
    let states = state_dirs
        .iter()
        .map(|s| (normalize(s), "jailsmith's state directory"))
        .filter(|(s, _)| !s.as_os_str().is_empty());
    for (d, what) in owned.into_iter().chain(states) {
        if covers(&d) {
            return Some(format!("{} {} ({what})", relation(&src, &d), d.display()));
        }
    }
    None
}

fn relation(src: &Path, d: &Path) -> &'static str {
    if src == d {
        "it is"
    } else if src.starts_with(d) {
        "it lies inside"
    } else {
        "it contains"
    }
}

/// Why a read-write bind onto `dst` is refused: rw goes only into a user's home
/// (`/home/NAME/...`) or one of the services' read-write paths (`rw_paths`).
pub fn refused_rw_target(dst: &JailPath, rw_paths: &[JailPath]) -> Option<String> {
    let rel = dst.rel();
    let mut parts = rel.components();
    let in_home = parts.next().is_some_and(|c| c.as_os_str() == "home") && parts.next().is_some();
    let in_service = rw_paths.iter().any(|p| rel.starts_with(p.rel()));
    (!in_home && !in_service).then(|| {
        "read-write binds go only into a user's home (/home/NAME/...) or a service's \
         --read-write path; declare it ro"
            .to_string()
    })
}

// ---------------------------------------------------------------------------------------
// Host secrets

/// Host paths (and everything under them) that never enter a jail, with the reason.
pub const HOST_SECRETS: &[(&str, &str)] = &[
    ("/etc/sudoers", "it grants root"),
    ("/etc/sudoers.d", "it grants root"),
    ("/etc/doas.conf", "it grants root"),
    (
        "/etc/ssh",
        "it holds the host's SSH private keys and server configuration",
    ),
    ("/etc/ssl/private", "it holds the host's private keys"),
    ("/etc/pki/tls/private", "it holds the host's private keys"),
    ("/etc/krb5.keytab", "it holds the host's Kerberos keys"),
    ("/etc/security/opasswd", "it holds old password hashes"),
    (
        "/etc/ld.so.preload",
        "it would load a library into every program",
    ),
    ("/root", "it is root's home on the host"),
    (
        "/boot",
        "it holds the host's kernels and boot loader configuration",
    ),
    ("/proc", "it is a kernel filesystem"),
    ("/sys", "it is a kernel filesystem"),
    ("/dev", "device nodes come only from `devices`"),
    ("/run", "it holds the host's sockets and runtime state"),
    ("/var/lib/jailsmith", "it is jailsmith's own state"),
];

/// Account files (in /etc and /var/backups), and their backups: the name alone or followed
/// by a non-alphanumeric character (`shadow-`, `shadow.bak`, `gshadow~`; not `shadowsocks`).
pub const ACCOUNT_FILES: &[(&str, &str)] = &[
    ("shadow", "it holds the host's password hashes"),
    ("gshadow", "it holds the host's group password hashes"),
    (
        "passwd",
        "it lists the host's accounts; the jail has its own, with only its users and root",
    ),
    (
        "group",
        "it lists the host's groups; the jail has its own, with only its groups and root",
    ),
];

/// Directories holding the account files and their backups.
const ACCOUNT_DIRS: &[&str] = &["/etc", "/var/backups"];

/// SSH private keys anywhere: `ssh_host_*_key`, and users' `~/.ssh` directories.
fn ssh_secret(p: &Path) -> Option<&'static str> {
    let name = p.file_name()?.to_string_lossy();
    if name.starts_with("ssh_host_") && name.ends_with("_key") {
        return Some("it is an SSH host private key");
    }
    p.components()
        .any(|c| c.as_os_str() == ".ssh")
        .then_some("it holds a user's SSH keys")
}

fn account_file(p: &Path) -> Option<&'static str> {
    let dir = p.parent()?;
    if !ACCOUNT_DIRS.iter().any(|d| dir == Path::new(d)) {
        return None;
    }
    let name = p.file_name()?.to_string_lossy();
    ACCOUNT_FILES.iter().find_map(|(base, why)| {
        let rest = name.strip_prefix(base)?;
        let next = rest.chars().next();
        next.is_none_or(|c| !c.is_ascii_alphanumeric())
            .then_some(*why)
    })
}

/// Why the host path `p` (absolute; normalized here) may not be copied into a jail.
/// `state_dirs` are jailsmith's state directories in use.
pub fn host_secret(p: &Path, state_dirs: &[&Path]) -> Option<&'static str> {
    let p = normalize(p);
    if let Some(why) = HOST_SECRETS
        .iter()
        .find(|(r, _)| p.starts_with(r))
        .map(|(_, why)| *why)
    {
        return Some(why);
    }
    let in_state = |s: &&Path| !s.as_os_str().is_empty() && p.starts_with(normalize(s));
    if state_dirs.iter().any(in_state) {
        return Some("it is jailsmith's own state");
    }
    account_file(&p).or_else(|| ssh_secret(&p))
}

// ---------------------------------------------------------------------------------------
// Accounts

/// Groups whose members are, or can become, root (or read what root reads): an account in
/// one of them is never jailed. `root` is gid 0, refused by number too.
pub const PRIVILEGED_GROUPS: &[(&str, &str)] = &[
    ("root", "gid 0 owns and reads root's files"),
    ("wheel", "it may use su/sudo"),
    ("sudo", "it may use sudo"),
    ("admin", "it may use sudo (Ubuntu)"),
    ("adm", "it reads the system logs"),
    ("shadow", "it reads the password hashes"),
    ("disk", "it reads and writes raw disks"),
    ("kmem", "it reads kernel memory"),
    ("tty", "it writes to other users' terminals"),
    ("utmp", "it rewrites the login records"),
    (
        "staff",
        "it writes /usr/local (Debian), where root's programs are found",
    ),
    ("sys", "it administers devices and printers"),
    ("docker", "the Docker socket is root"),
    ("lxd", "LXD containers are root"),
    ("libvirt", "libvirt virtual machines are root"),
    ("systemd-journal", "it reads every log of the system"),
];

/// The account `nobody` (uid 65534): shared by many daemons and by NFS.
pub const NOBODY_UID: u32 = 65534;

/// The uid ranges of /etc/login.defs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UidRanges {
    pub uid_min: u32,
    pub uid_max: u32,
    pub sys_uid_min: u32,
    pub sys_uid_max: u32,
}

/// What an account is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountRole {
    /// A jailed SSH user (`user`, `apply` users): UID_MIN..UID_MAX.
    Login,
    /// A service account (`service`): SYS_UID_MIN..SYS_UID_MAX.
    Service,
}

/// The host facts about an account the rules judge: its groups are (name, gid), primary
/// first (a gid without a group entry has an empty name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountFacts<'a> {
    pub name: &'a str,
    pub uid: u32,
    pub groups: &'a [(String, u32)],
}

/// Why an account may not be jailed (`Login`) or run a jailed service (`Service`).
pub fn refused_account(a: &AccountFacts, role: AccountRole, r: &UidRanges) -> Option<Denied> {
    let deny = |why: String| {
        Some(Denied::Account {
            name: a.name.to_string(),
            uid: a.uid,
            why,
        })
    };
    if a.uid == 0 || a.name == "root" {
        return deny("it is root".into());
    }
    if a.uid == NOBODY_UID || a.name == "nobody" || a.uid == u32::MAX {
        return deny(
            "nobody is shared by many daemons and NFS; removing it would signal all their processes"
                .into(),
        );
    }
    if let Some(why) = refused_uid(a.uid, role, r) {
        return deny(why);
    }
    for (g, gid) in a.groups {
        if *gid == 0 {
            return deny(format!(
                "it is in group {} with gid 0 (root's group)",
                show(g)
            ));
        }
        if let Some((_, why)) = PRIVILEGED_GROUPS.iter().find(|(p, _)| p == g) {
            return deny(format!("it is in the privileged group {g}: {why}"));
        }
    }
    None
}

fn show(g: &str) -> &str {
    if g.is_empty() { "(unnamed)" } else { g }
}

/// Why `uid` is outside the range the role allows (root and nobody are refused elsewhere).
pub fn refused_uid(uid: u32, role: AccountRole, r: &UidRanges) -> Option<String> {
    let (min, max, what) = match role {
        AccountRole::Login => (
            r.uid_min,
            r.uid_max,
            "a jailed SSH user needs a uid from UID_MIN to UID_MAX of /etc/login.defs",
        ),
        AccountRole::Service => (
            r.sys_uid_min,
            r.sys_uid_max,
            "a service account is a system account (useradd --system): its uid goes from \
             SYS_UID_MIN to SYS_UID_MAX of /etc/login.defs",
        ),
    };
    (uid < min || uid > max).then(|| format!("{what} ({min}..{max})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = "/var/lib/jailsmith";
    fn st() -> Vec<&'static Path> {
        vec![Path::new(STATE), Path::new("/srv/state")]
    }

    #[test]
    fn normalize_is_lexical() {
        assert_eq!(normalize(Path::new("/srv/../etc/")), Path::new("/etc"));
        assert_eq!(normalize(Path::new("//..//")), Path::new("/"));
        assert_eq!(normalize(Path::new("/srv/./j")), Path::new("/srv/j"));
    }

    #[test]
    fn system_jail_paths_are_refused() {
        for p in [
            "/",
            "/etc",
            "/usr",
            "/var",
            "/home",
            "/root",
            "/boot",
            "/tmp",
            "/opt",
            "/srv",
            "/lib64",
            "/srv/..",
            "/etc/",
            "/proc/1/root",
            "/sys/fs",
            "/dev/shm",
            "/run/x",
            "/var/lib",
            "/var/lib/jailsmith",
            "/var/lib/jailsmith/x",
            "/srv/state/j",
        ] {
            assert!(refused_jail(Path::new(p), &st()).is_some(), "{p}");
        }
        for p in [
            "/srv/j",
            "/var/lib/jailsmith-tests/t/jail",
            "/home/jails/j",
            "/tmp/j",
        ] {
            assert_eq!(refused_jail(Path::new(p), &st()), None, "{p}");
        }
    }

    #[test]
    fn an_empty_state_dir_refuses_nothing() {
        let empty = [Path::new("")];
        assert_eq!(refused_jail(Path::new("/srv/j"), &empty), None);
        assert_eq!(host_secret(Path::new("/srv/x"), &empty), None);
        let b = refused_bind_source(
            Path::new("/srv/x"),
            Path::new("/srv/j"),
            &empty,
            Path::new("/etc/ssh"),
        );
        assert_eq!(b, None);
    }

    #[test]
    fn ancestor_of_the_state_dir_is_refused() {
        let why = refused_jail(Path::new("/srv"), &[Path::new("/srv/x/state")]).unwrap();
        assert!(why.contains("system directory"), "{why}");
        let why = refused_jail(Path::new("/srv/x"), &[Path::new("/srv/x/state")]).unwrap();
        assert!(why.contains("state"), "{why}");
    }

    #[test]
    fn bind_sources() {
        let j = Path::new("/srv/j");
        let sshd = Path::new("/etc/ssh/sshd_config.d");
        let bad = |s: &str| refused_bind_source(Path::new(s), j, &st(), sshd);
        for s in [
            "/",
            "/proc",
            "/sys/fs",
            "/run",
            "/etc",
            "/etc/ssl",
            "/root",
            "/boot",
            "/dev",
            "/var/lib/jailsmith",
            "/var",
            "/srv",
            "/srv/j",
            "/srv/j/home/u",
            "/srv/state/x",
        ] {
            assert!(bad(s).is_some(), "{s}");
        }
        assert!(bad("/var").unwrap().contains("contains /var/lib/jailsmith"));
        assert!(bad("/proc").unwrap().starts_with("it is /proc"));
        for s in ["/srv/shared", "/var/www/site", "/home/alice/pub", "/srv/jx"] {
            assert_eq!(bad(s), None, "{s}");
        }
        let private = refused_bind_source(Path::new("/x/sshd"), j, &st(), Path::new("/x/sshd/d"));
        assert!(private.unwrap().contains("sshd"));
    }

    #[test]
    fn rw_only_into_homes_and_service_paths() {
        let jp = |s| JailPath::new(s).unwrap();
        assert!(refused_rw_target(&jp("/home/u/shared"), &[]).is_none());
        assert!(refused_rw_target(&jp("/home/u"), &[]).is_none());
        assert!(refused_rw_target(&jp("/home"), &[]).is_some());
        assert!(refused_rw_target(&jp("/etc"), &[]).is_some());
        assert!(refused_rw_target(&jp("/srv/data/x"), &[jp("/srv/data")]).is_none());
        assert!(refused_rw_target(&jp("/srv/datax"), &[jp("/srv/data")]).is_some());
    }

    #[test]
    fn host_secrets_are_refused_with_their_subtrees() {
        let s = |p: &str| host_secret(Path::new(p), &st());
        for p in [
            "/etc/shadow",
            "/etc/shadow-",
            "/etc/gshadow",
            "/etc/gshadow-",
            "/etc/passwd-",
            "/etc/group-",
            "/etc/shadow.bak",
            "/etc/passwd",
            "/var/backups/shadow.bak",
            "/etc/ssh/ssh_host_ed25519_key",
            "/etc/ssh",
            "/opt/x/ssh_host_rsa_key",
            "/etc/sudoers",
            "/etc/sudoers.d/x",
            "/root/.bashrc",
            "/var/lib/jailsmith/jails",
            "/srv/state/jails/x.json",
            "/home/u/.ssh/id_ed25519",
            "/proc/self",
            "/etc/../etc/shadow",
        ] {
            assert!(s(p).is_some(), "{p}");
        }
        for p in [
            "/etc/shadowsocks",
            "/etc/ssl/certs/x.pem",
            "/etc/groups.d",
            "/etc/hosts",
            "/usr/bin/passwd-helper",
            "/etc/passwdqc.conf",
            "/etc/ssh_known",
        ] {
            assert_eq!(s(p), None, "{p}");
        }
    }

    const R: UidRanges = UidRanges {
        uid_min: 1000,
        uid_max: 60000,
        sys_uid_min: 101,
        sys_uid_max: 999,
    };

    fn acct(name: &str, uid: u32, groups: &[(String, u32)], role: AccountRole) -> Option<String> {
        let f = AccountFacts { name, uid, groups };
        refused_account(&f, role, &R).map(|d| d.to_string())
    }

    #[test]
    fn accounts() {
        let own = |n: &str, g| vec![(n.to_string(), g)];
        use AccountRole::*;
        assert!(acct("root", 0, &own("root", 0), Login).is_some());
        assert!(acct("nobody", 65534, &own("nogroup", 65534), Service).is_some());
        assert!(
            acct("u", 60001, &own("u", 60001), Login)
                .unwrap()
                .contains("UID_MAX")
        );
        assert!(acct("u", 999, &own("u", 999), Login).is_some());
        assert!(acct("u", 1001, &own("u", 1001), Login).is_none());
        let g0 = acct("u", 1001, &own("", 0), Login).unwrap();
        assert!(g0.contains("gid 0") && g0.contains("u (uid 1001)"), "{g0}");
        let sudo = vec![("u".to_string(), 1001), ("sudo".to_string(), 27)];
        assert!(acct("u", 1001, &sudo, Login).unwrap().contains("sudo"));
        assert!(acct("web", 998, &own("web", 998), Service).is_none());
        assert!(
            acct("web", 1001, &own("web", 1001), Service)
                .unwrap()
                .contains("SYS_UID")
        );
    }
}
