//! `jailsmith users --jail JAIL`: lists the users jailed there (from the state record),
//! with what the host, the jail and sshd say about each. Reads only.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::account::hostdb::{self, HostDb};
use crate::account::{hostfs, jailside};
use crate::apply::LinuxHost;
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
    /// sshd's drop-in directory (to report the block that jails each user).
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
    /// The jail's group the user is a member of (sshd's `Match Group`); None: not a member,
    /// so sshd does not jail it (or only through an earlier version's per-user drop-in).
    pub group: Option<String>,
    pub dropin: Option<PathBuf>,
    pub authorized_keys: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<u8> {
    let st = state::load(&a.state_dir, &a.jail)?;
    let names = st.map(|s| s.users).unwrap_or_default();
    let host = LinuxHost::open(&a.jail, false)?;
    let passwd = jailside::read_text(&host, &jailside::passwd_path())?.unwrap_or_default();
    let db = HostDb::default();
    let groups = db.group_index()?;
    let jail = state::canonical_jail(&a.jail);
    let blocks = [false, true].map(|sftp| {
        let g = dropin::jail_group(&jail, sftp);
        let file = a.sshd_config_dir.join(dropin::group_file_name(&g));
        (exists(&file).then_some(file), g)
    });
    let mut out = Vec::new();
    for name in names {
        let legacy = a.sshd_config_dir.join(dropin::legacy_file_name(&name));
        let legacy_text = hostfs::read_optional(&legacy).ok().flatten();
        let member = groups
            .member_of(&name)
            .find_map(|g| blocks.iter().position(|(_, b)| *b == g.name));
        let keys = a.authorized_keys_dir.join(&name);
        out.push(Listed {
            uid: db.entry(&name).ok().flatten().map(|e| e.uid),
            shell: hostdb::find_passwd(&passwd, &name).map(|e| e.shell),
            sftp_only: member == Some(1)
                || legacy_text
                    .as_deref()
                    .is_some_and(|t| t.contains("ForceCommand internal-sftp")),
            group: member.map(|i| blocks[i].1.clone()),
            dropin: match member {
                Some(i) => blocks[i].0.clone(),
                None => legacy_text.map(|_| legacy),
            },
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
                match (&u.group, &u.dropin) {
                    (_, None) => "\t(no sshd drop-in: not jailed by sshd)",
                    (None, Some(_)) => "\t(per-user drop-in of an earlier version)",
                    (Some(_), Some(_)) => "",
                },
            );
        }
    }
    Ok(exit::OK)
}

fn exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}
