//! The sshd options every command that jails or frees a user takes (`user`, `destroy`,
//! `apply`): where the authorized_keys files and drop-ins go, sshd's main config and binary.
//! A clap option group the commands flatten in; a plain struct for the code below them.

use std::path::PathBuf;

use super::validate::Sshd;

/// Where sshd and jailsmith's per-user sshd files live.
#[derive(Debug, Clone, clap::Args)]
pub struct SshdPaths {
    /// Root-owned directory of the authorized_keys files (one per user).
    #[arg(long, default_value = "/etc/ssh/authorized_keys", value_name = "DIR")]
    pub authorized_keys_dir: PathBuf,
    /// sshd's drop-in directory (the main config must Include it).
    #[arg(long, default_value = "/etc/ssh/sshd_config.d", value_name = "DIR")]
    pub sshd_config_dir: PathBuf,
    /// sshd's main config, for `sshd -t` / `sshd -T` and the Include check.
    #[arg(long, default_value = "/etc/ssh/sshd_config", value_name = "FILE")]
    pub sshd_config: PathBuf,
    /// The sshd binary used for validation.
    #[arg(long = "sshd", default_value = "/usr/sbin/sshd", value_name = "PATH")]
    pub binary: PathBuf,
}

impl SshdPaths {
    /// The sshd binary with the main config, to validate (`sshd -t`) and query (`sshd -T`).
    pub fn validator(&self) -> Sshd {
        Sshd {
            binary: self.binary.clone(),
            main: self.sshd_config.clone(),
        }
    }
}
