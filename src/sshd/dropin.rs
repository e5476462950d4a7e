//! The drop-in of one jailed user (pure): file name, rendered text and the settings
//! `sshd -T -C user=NAME` must then show. Only options OpenSSH 8.7 (RHEL 9) knows.

use std::path::{Path, PathBuf};

use super::SshdError;

/// Drop-ins are read in lexical order and the first Match wins: a low number goes early.
pub const PREFIX: &str = "10-jailsmith-";

/// What a user's block says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DropIn {
    pub user: String,
    pub chroot: PathBuf,
    pub authorized_keys: PathBuf,
    pub sftp_only: bool,
    /// The jail has a syslog socket at dev/log (`build --log`): internal-sftp logs every
    /// transfer there (`-l INFO`, facility AUTHPRIV) with the user's name.
    pub sftp_log: bool,
}

/// The ForceCommand of an sftp-only user whose jail has a syslog socket at dev/log.
pub const LOGGED_SFTP: &str = "internal-sftp -l INFO -f AUTHPRIV";

/// `10-jailsmith-NAME.conf`.
pub fn file_name(user: &str) -> String {
    format!("{PREFIX}{user}.conf")
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
    /// The settings of the block, in order: (keyword, value).
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("ChrootDirectory", self.chroot.display().to_string()),
            (
                "AuthorizedKeysFile",
                self.authorized_keys.display().to_string(),
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
        let mut out = format!(
            "# Written by jailsmith for user {u}; do not edit: run\n# 'jailsmith user {u} --jail {j} --remove' to take it away.\nMatch User {u}\n",
            u = self.user,
            j = self.chroot.display()
        );
        for (k, v) in self.settings() {
            out.push_str(&format!("    {k} {v}\n"));
        }
        out
    }

    /// What `sshd -T` prints for these settings: lower-case keyword and value.
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
        DropIn {
            user: "imsad".into(),
            chroot: "/srv/get_chrooted".into(),
            authorized_keys: "/etc/ssh/authorized_keys/imsad".into(),
            sftp_only,
            sftp_log: false,
        }
    }

    #[test]
    fn renders_a_closed_match_block() {
        let text = d(false).render();
        let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            body,
            vec![
                "Match User imsad",
                "    ChrootDirectory /srv/get_chrooted",
                "    AuthorizedKeysFile /etc/ssh/authorized_keys/imsad",
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
        assert_eq!(file_name("imsad"), "10-jailsmith-imsad.conf");
    }

    #[test]
    fn sftp_only_forces_internal_sftp_without_tty() {
        let text = d(true).render();
        assert!(text.ends_with("    ForceCommand internal-sftp\n    PermitTTY no\n"));
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
