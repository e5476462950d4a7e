//! The drop-in of one jail and mode (pure): the group sshd matches, the file name, the
//! rendered `Match Group` block and the settings `sshd -T -C user=NAME` must then show for a
//! member; and the per-user drop-ins of earlier versions, read only to migrate them. Only
//! options OpenSSH 8.7 (RHEL 9) knows.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::SshdError;

/// Drop-ins are read in lexical order and the first Match wins: a low number goes early.
pub const PREFIX: &str = "10-jailsmith-";

/// Every group jailsmith manages starts with this.
pub const GROUP_PREFIX: &str = "jailsmith-";

/// The suffix of the group (and block) of a jail's sftp-only users.
pub const SFTP_SUFFIX: &str = "-sftp";

/// The suffix that tells a jail's block file from an earlier version's per-user file (user
/// names hold no `.`).
const GROUP_FILE_SUFFIX: &str = ".group.conf";

/// What a jail's block says, for one mode (shell or sftp-only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DropIn {
    /// The group sshd matches (`jail_group`).
    pub group: String,
    pub chroot: PathBuf,
    /// The directory of the authorized_keys files; the block names `DIR/%u`.
    pub keys_dir: PathBuf,
    pub sftp_only: bool,
    /// The jail has a syslog socket at dev/log (`build --log`): internal-sftp logs every
    /// transfer there (`-l INFO`, facility AUTHPRIV) with the user's name.
    pub sftp_log: bool,
}

/// The ForceCommand of an sftp-only user whose jail has a syslog socket at dev/log.
pub const LOGGED_SFTP: &str = "internal-sftp -l INFO -f AUTHPRIV";

/// The group of the users jailed in `jail` (its clean absolute path) in one mode:
/// `jailsmith-` and 12 hex digits of the path's SHA-256 (`-sftp` for sftp-only users); at
/// most 27 characters, a valid group name on every shadow-utils.
pub fn jail_group(jail: &Path, sftp_only: bool) -> String {
    use std::os::unix::ffi::OsStrExt;
    let digest = Sha256::digest(jail.as_os_str().as_bytes());
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    let suffix = if sftp_only { SFTP_SUFFIX } else { "" };
    format!("{GROUP_PREFIX}{hex}{suffix}")
}

/// True when `name` has the shape of a group `jail_group` makes.
pub fn is_jail_group(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(GROUP_PREFIX) else {
        return false;
    };
    let hex = rest.strip_suffix(SFTP_SUFFIX).unwrap_or(rest);
    hex.len() == 12
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// `10-jailsmith-HEX[-sftp].group.conf`: the block file of a group.
pub fn group_file_name(group: &str) -> String {
    let tail = group.strip_prefix(GROUP_PREFIX).unwrap_or(group);
    format!("{PREFIX}{tail}{GROUP_FILE_SUFFIX}")
}

/// `10-jailsmith-NAME.conf`: the per-user drop-in earlier versions wrote.
pub fn legacy_file_name(user: &str) -> String {
    format!("{PREFIX}{user}.conf")
}

/// The user of an earlier version's per-user drop-in file name, if it is one.
pub fn legacy_user(file_name: &str) -> Option<&str> {
    if file_name.ends_with(GROUP_FILE_SUFFIX) {
        return None;
    }
    let user = file_name.strip_prefix(PREFIX)?.strip_suffix(".conf")?;
    crate::account::name::validate(user).ok().map(|_| user)
}

/// What an earlier version's per-user drop-in said, read to migrate it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Legacy {
    pub user: String,
    pub chroot: PathBuf,
    pub sftp_only: bool,
}

/// Parses a per-user drop-in: its `Match User NAME` and ChrootDirectory; None when the text
/// is not one jailsmith wrote for `user`.
pub fn parse_legacy(user: &str, text: &str) -> Option<Legacy> {
    let mut matched = false;
    let mut chroot = None;
    let mut sftp_only = false;
    for (kw, args) in text.lines().filter_map(super::mainconfig::split_line) {
        match (kw.as_str(), args.as_slice()) {
            ("match", [k, v]) if k.eq_ignore_ascii_case("user") && v == user => matched = true,
            ("match", _) => return None,
            ("chrootdirectory", [d]) => chroot = Some(PathBuf::from(d)),
            ("forcecommand", [c, ..]) if c == "internal-sftp" => sftp_only = true,
            _ => {}
        }
    }
    Some(Legacy {
        user: user.to_string(),
        chroot: chroot.filter(|_| matched)?,
        sftp_only,
    })
}

/// The jail (ChrootDirectory) a drop-in's text names, if any.
pub fn chroot_of(text: &str) -> Option<PathBuf> {
    text.lines()
        .filter_map(super::mainconfig::split_line)
        .find(|(k, _)| k == "chrootdirectory")
        .and_then(|(_, v)| v.first().map(PathBuf::from))
}

/// Refuses a path sshd would mangle: whitespace and quotes split or end arguments, `%`
/// starts a token in ChrootDirectory and AuthorizedKeysFile; relative paths mean other things.
pub fn check_path(p: &Path) -> Result<(), SshdError> {
    let bad = |why| SshdError::BadPath {
        path: p.to_path_buf(),
        why,
    };
    let s = p.to_str().ok_or_else(|| bad("it is not UTF-8"))?;
    if !p.is_absolute() {
        return Err(bad("it is not absolute"));
    }
    if s.chars()
        .any(|c| c.is_whitespace() || c.is_control() || "\"'%#\\".contains(c))
    {
        return Err(bad("it contains whitespace, a quote, '%', '#' or '\\'"));
    }
    Ok(())
}

impl DropIn {
    /// The block of `jail`'s users in one mode.
    pub fn for_jail(jail: &Path, keys_dir: &Path, sftp_only: bool) -> DropIn {
        DropIn {
            group: jail_group(jail, sftp_only),
            chroot: jail.to_path_buf(),
            keys_dir: keys_dir.to_path_buf(),
            sftp_only,
            sftp_log: false,
        }
    }

    /// The block's file name in the drop-in directory.
    pub fn file_name(&self) -> String {
        group_file_name(&self.group)
    }

    /// The settings of the block, in order: (keyword, value). The key file is `DIR/%u`:
    /// sshd puts the user's name for `%u` (the directory itself holds no `%`, `check_path`).
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("ChrootDirectory", self.chroot.display().to_string()),
            (
                "AuthorizedKeysFile",
                format!("{}/%u", self.keys_dir.display()),
            ),
            ("DisableForwarding", "yes".into()),
            ("AllowTcpForwarding", "no".into()),
            ("AllowStreamLocalForwarding", "no".into()),
            ("AllowAgentForwarding", "no".into()),
            ("X11Forwarding", "no".into()),
            ("PermitTunnel", "no".into()),
            ("PermitOpen", "none".into()),
            ("PermitListen", "none".into()),
            ("PermitUserRC", "no".into()),
        ];
        if self.sftp_only {
            let command = if self.sftp_log {
                LOGGED_SFTP
            } else {
                "internal-sftp"
            };
            v.push(("ForceCommand", command.into()));
            v.push(("PermitTTY", "no".into()));
        }
        v
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mode = if self.sftp_only {
            "sftp-only users"
        } else {
            "users"
        };
        let mut out = format!(
            "# Written by jailsmith for the {mode} of {j} (members of group {g}); do not edit:\n# 'jailsmith user NAME --jail {j}' adds a user, '… --remove' takes one out.\nMatch Group {g}\n",
            g = self.group,
            j = self.chroot.display()
        );
        for (k, v) in self.settings() {
            out.push_str(&format!("    {k} {v}\n"));
        }
        out
    }

    /// What `sshd -T` prints for these settings: lower-case keyword and value (`%u` as is).
    pub fn expected(&self) -> Vec<(String, String)> {
        self.settings()
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(sftp_only: bool) -> DropIn {
        DropIn::for_jail(
            Path::new("/srv/get_chrooted"),
            Path::new("/etc/ssh/authorized_keys"),
            sftp_only,
        )
    }

    #[test]
    fn renders_a_closed_match_group_block() {
        let text = d(false).render();
        let g = jail_group(Path::new("/srv/get_chrooted"), false);
        let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            body,
            vec![
                format!("Match Group {g}").as_str(),
                "    ChrootDirectory /srv/get_chrooted",
                "    AuthorizedKeysFile /etc/ssh/authorized_keys/%u",
                "    DisableForwarding yes",
                "    AllowTcpForwarding no",
                "    AllowStreamLocalForwarding no",
                "    AllowAgentForwarding no",
                "    X11Forwarding no",
                "    PermitTunnel no",
                "    PermitOpen none",
                "    PermitListen none",
                "    PermitUserRC no",
            ]
        );
        assert!(!text.contains("ForceCommand"));
        assert_eq!(chroot_of(&text), Some(PathBuf::from("/srv/get_chrooted")));
    }

    #[test]
    fn groups_are_short_valid_and_one_per_jail_and_mode() {
        let j = Path::new("/srv/a-jail-with-a-rather-long-name/and/more/below");
        let (shell, sftp) = (jail_group(j, false), jail_group(j, true));
        assert_ne!(shell, sftp);
        assert_ne!(shell, jail_group(Path::new("/srv/other"), false));
        for g in [&shell, &sftp] {
            assert!(g.len() <= 32, "{g}");
            crate::account::name::validate(g).unwrap();
            assert!(is_jail_group(g), "{g}");
        }
        assert!(!is_jail_group("jailsmith-users"));
        assert!(!is_jail_group("imsad"));
        assert_eq!(group_file_name(&shell), format!("10-{shell}.group.conf"));
        assert_eq!(legacy_user(&group_file_name(&shell)), None);
        assert_eq!(legacy_user("10-jailsmith-imsad.conf"), Some("imsad"));
        assert_eq!(legacy_file_name("imsad"), "10-jailsmith-imsad.conf");
        assert_eq!(legacy_user("20-other.conf"), None);
    }

    #[test]
    fn per_user_dropins_of_earlier_versions_are_read() {
        let old = "# Written by jailsmith for user imsad\nMatch User imsad\n    ChrootDirectory /srv/j\n    AuthorizedKeysFile /k/imsad\n    ForceCommand internal-sftp\n";
        assert_eq!(
            parse_legacy("imsad", old),
            Some(Legacy {
                user: "imsad".into(),
                chroot: "/srv/j".into(),
                sftp_only: true
            })
        );
        assert_eq!(parse_legacy("other", old), None);
        assert_eq!(
            parse_legacy("imsad", "Match all\nChrootDirectory /x\n"),
            None
        );
    }

    #[test]
    fn sftp_only_forces_internal_sftp_without_tty() {
        let text = d(true).render();
        assert!(text.ends_with("    ForceCommand internal-sftp\n    PermitTTY no\n"));
        assert!(text.contains(&format!("Match Group {}\n", d(true).group)));
        assert!(
            d(true)
                .expected()
                .contains(&("forcecommand".into(), "internal-sftp".into()))
        );
    }

    #[test]
    fn a_jail_with_a_log_socket_logs_sftp_transfers() {
        let mut block = d(true);
        block.sftp_log = true;
        assert!(
            block
                .render()
                .contains("    ForceCommand internal-sftp -l INFO -f AUTHPRIV\n    PermitTTY no\n")
        );
        // sshd -T prints the command as written
        assert!(block.expected().contains(&(
            "forcecommand".into(),
            "internal-sftp -l INFO -f AUTHPRIV".into()
        )));
        let mut shell = d(false);
        shell.sftp_log = true;
        assert!(!shell.render().contains("ForceCommand"));
    }

    #[test]
    fn only_openssh_8_7_keywords() {
        const KNOWN_IN_8_7: &[&str] = &[
            "ChrootDirectory",
            "AuthorizedKeysFile",
            "DisableForwarding",
            "AllowTcpForwarding",
            "AllowStreamLocalForwarding",
            "AllowAgentForwarding",
            "X11Forwarding",
            "PermitTunnel",
            "PermitOpen",
            "PermitListen",
            "PermitUserRC",
            "ForceCommand",
            "PermitTTY",
        ];
        for (k, _) in d(true).settings() {
            assert!(KNOWN_IN_8_7.contains(&k), "{k}");
        }
    }

    #[test]
    fn paths_sshd_would_mangle_are_refused() {
        check_path(Path::new("/srv/jail-1")).unwrap();
        for p in ["/srv/a b", "/srv/%u", "rel/x", "/srv/\"q", "/srv/a#b"] {
            assert!(check_path(Path::new(p)).is_err(), "{p}");
        }
    }
}
