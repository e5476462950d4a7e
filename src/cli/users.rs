//! `jailsmith users --jail JAIL`: lists the users jailed there (from the state record),
//! with what the host, the jail and sshd say about each. Reads only.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::account::hostdb::{self, HostDb};
use crate::account::{hostfs, jailside};
use crate::apply::{HostError, LinuxHost};
use crate::exit;
use crate::sshd::dropin;
use crate::state;

/// List the users jailed in a jail.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  jailsmith users --jail /srv/get_chrooted\n  jailsmith users --jail /srv/get_chrooted --json"
)]
pub struct Args {
    /// The jail.
    #[arg(long, value_name = "JAIL")]
    pub jail: PathBuf,
    /// sshd's drop-in directory (to report each user's drop-in).
    #[arg(long, default_value = "/etc/ssh/sshd_config.d", value_name = "DIR")]
    pub sshd_config_dir: PathBuf,
    /// Directory of the authorized_keys files.
    #[arg(long, default_value = "/etc/ssh/authorized_keys", value_name = "DIR")]
    pub authorized_keys_dir: PathBuf,
    /// Where jailsmith keeps its state about jails.
    #[arg(long, default_value = state::DEFAULT_STATE_DIR, value_name = "DIR")]
    pub state_dir: PathBuf,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// One listed user.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub name: String,
    /// uid on the host (None: the account is gone).
    pub uid: Option<u32>,
    /// shell in the jail's passwd line (None: no line).
    pub shell: Option<String>,
    pub sftp_only: bool,
    pub dropin: Option<PathBuf>,
    pub authorized_keys: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<u8> {
    let st = state::load(&a.state_dir, &a.jail)
        .map_err(|e| exit::Coded::new(exit::HOST_FAILURE, e.to_string()))?;
    let names = st.map(|s| s.users).unwrap_or_default();
    let host_err = |e: HostError| exit::Coded::new(e.exit_code(), e.to_string());
    let host = LinuxHost::open(&a.jail, false).map_err(host_err)?;
    let passwd = jailside::read_text(&host, &jailside::passwd_path())
        .map_err(host_err)?
        .unwrap_or_default();
    let db = HostDb::default();
    let mut out = Vec::new();
    for name in names {
        let dropin_path = a.sshd_config_dir.join(dropin::file_name(&name));
        let dropin_text = hostfs::read_optional(&dropin_path).ok().flatten();
        let keys = a.authorized_keys_dir.join(&name);
        out.push(Listed {
            uid: db.lookup(&name).ok().flatten().map(|acc| acc.entry.uid),
            shell: hostdb::find_passwd(&passwd, &name).map(|e| e.shell),
            sftp_only: dropin_text
                .as_deref()
                .is_some_and(|t| t.contains("ForceCommand internal-sftp")),
            dropin: dropin_text.map(|_| dropin_path),
            authorized_keys: exists(&keys).then_some(keys),
            name,
        });
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if out.is_empty() {
        println!("no users are jailed in {}", a.jail.display());
    } else {
        for u in &out {
            println!(
                "{}\tuid {}\t{}{}{}",
                u.name,
                u.uid.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
                u.shell.as_deref().unwrap_or("(no passwd line)"),
                if u.sftp_only { "\tsftp-only" } else { "" },
                if u.dropin.is_none() {
                    "\t(no sshd drop-in)"
                } else {
                    ""
                },
            );
        }
    }
    Ok(exit::OK)
}

fn exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}
