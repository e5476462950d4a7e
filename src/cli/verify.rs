//! `jailsmith verify`: options → `verify::Options` (jail looked up in the state store, host
//! key policy, passphrase source); prints the report (table or JSON) to stdout and returns
//! its exit code. Diagnostics go to stderr.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::state::{self, DEFAULT_STATE_DIR, JailState};
use crate::verify::{self, HostKeyPolicy, Options, VerifyError, render};

/// Options of `jailsmith verify`; the command's long help is on its `Command` variant.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  jailsmith verify imsad --key ~/.ssh/id_ed25519\n  jailsmith verify imsad --key id_rsa --port 2222 \\\n      --host-key /etc/ssh/ssh_host_ed25519_key.pub --json"
)]
pub struct Args {
    /// The jailed user to log in as.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The private key to log in with (ed25519, ECDSA or RSA; RSA signs with SHA-2).
    #[arg(long, value_name = "PRIVATE_KEY")]
    pub key: PathBuf,
    /// The jail (as the host sees it); default: the jail whose state lists NAME.
    #[arg(long, value_name = "JAIL")]
    pub jail: Option<PathBuf>,
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, value_name = "PORT", default_value_t = 22)]
    pub port: u16,
    /// Trust exactly this host public key file (e.g. /etc/ssh/ssh_host_ed25519_key.pub).
    #[arg(long, value_name = "PUBFILE", conflicts_with_all = ["known_hosts", "accept_new_host_key"])]
    pub host_key: Option<PathBuf>,
    /// The known_hosts file to trust (default ~/.ssh/known_hosts, plus the local host keys
    /// for a loopback host).
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Accept a host key nothing knows yet and record it in the known_hosts file. Never the
    /// default; a known key that differs still fails.
    #[arg(long)]
    pub accept_new_host_key: bool,
    /// Read the passphrase of an encrypted key from this environment variable (otherwise it
    /// is asked on the terminal).
    #[arg(long, value_name = "VAR")]
    pub passphrase_env: Option<String>,
    /// Where jailsmith keeps each jail's state (to find the jail of NAME).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Seconds each step may take (connection, each probe).
    #[arg(long, value_name = "SECONDS", default_value_t = 20)]
    pub timeout: u64,
    /// Print the report as JSON: {"user","host","checks":[{"name","status","detail"}],"passed"}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let opts = options(&args)?;
    execute(&opts, args.json)
}

/// Runs verify and prints the report; returns the exit code.
pub fn execute(opts: &Options, json: bool) -> anyhow::Result<u8> {
    let report = verify::run(opts)?;
    if json {
        println!("{}", render::json(&report));
    } else {
        print!("{}", render::table(&report));
    }
    if let Some(stopped) = report.stopped {
        let why = report
            .checks
            .iter()
            .rev()
            .find(|c| c.status == verify::Status::Fail)
            .map(|c| format!("{}: {}", c.name, crate::escape::text(&c.detail)))
            .unwrap_or_default();
        eprintln!("jailsmith: verify stopped ({stopped:?}): {why}");
    }
    Ok(report.exit_code())
}

/// Resolves the command line into verify options.
pub fn options(args: &Args) -> anyhow::Result<Options> {
    let (jail, jail_users, limits, proc) =
        find_jail(&args.state_dir, &args.name, args.jail.as_deref())?;
    let host_key = match (&args.host_key, &args.known_hosts) {
        (Some(p), _) => HostKeyPolicy::Pinned(vec![p.clone()]),
        (None, Some(f)) => HostKeyPolicy::KnownHosts {
            file: f.clone(),
            local_keys: false,
        },
        (None, None) => HostKeyPolicy::KnownHosts {
            file: default_known_hosts()?,
            local_keys: true,
        },
    };
    let passphrase = match &args.passphrase_env {
        Some(var) => Some(verify::passphrase::from_env(var).map_err(VerifyError::Passphrase)?),
        None => None,
    };
    Ok(Options {
        user: args.name.clone(),
        host: args.host.clone(),
        port: args.port,
        key: args.key.clone(),
        passphrase,
        prompt: args.passphrase_env.is_none(),
        host_key,
        accept_new: args.accept_new_host_key,
        jail,
        jail_users,
        limited: limits.is_some(),
        proc,
        network: crate::verify::NetworkPolicy::of(limits.as_ref()),
        timeout: Duration::from_secs(args.timeout.max(1)),
    })
}

/// Where and how to reach the sshd a config describes, from its `sshd -T` settings: the
/// address (a wildcard or loopback listener → 127.0.0.1), the port, and its host public keys
/// (`HostKey` + `.pub`) to pin.
pub fn target_of(effective: &crate::sshd::validate::Effective) -> (String, u16, Vec<PathBuf>) {
    let first = |k: &str| effective.get(k).and_then(|v| v.first()).map(String::as_str);
    let mut port: u16 = first("port").and_then(|p| p.parse().ok()).unwrap_or(22);
    let mut host = "127.0.0.1".to_string();
    let listen: Vec<&str> = effective
        .get("listenaddress")
        .map(|v| v.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let parsed: Vec<(String, u16)> = listen.iter().filter_map(|l| split_listen(l)).collect();
    let wildcard = |a: &str| matches!(a, "0.0.0.0" | "::" | "[::]");
    let pick = parsed
        .iter()
        .find(|(a, _)| crate::verify::hostkey::is_loopback(a) || wildcard(a))
        .or_else(|| parsed.first());
    if let Some((a, p)) = pick {
        port = *p;
        if !wildcard(a) {
            host = a.trim_start_matches('[').trim_end_matches(']').to_string();
        }
    }
    let keys = effective
        .get("hostkey")
        .map(|v| {
            v.iter()
                .map(|k| PathBuf::from(format!("{k}.pub")))
                .filter(|p| p.exists())
                .collect()
        })
        .unwrap_or_default();
    (host, port, keys)
}

/// `ADDR:PORT` or `[V6]:PORT` of a `listenaddress` line (`sshd -T` prints a port on each).
fn split_listen(l: &str) -> Option<(String, u16)> {
    let l = l.split_whitespace().next()?;
    let (a, p) = l.rsplit_once(':')?;
    Some((a.to_string(), p.parse().ok()?))
}

/// `jailsmith user … --verify-with KEY`: verify the account right after provisioning it,
/// against the sshd of `sshd` (its port and pinned host keys), once it listens again after
/// the reload. Same checks and exit codes as `jailsmith verify`.
pub fn after_user(
    sshd: &crate::sshd::validate::Sshd,
    user: &str,
    jail: &Path,
    state_dir: &Path,
    key: &Path,
    json: bool,
) -> anyhow::Result<u8> {
    let eff = sshd.effective(user)?;
    let (host, port, keys) = target_of(&eff);
    if keys.is_empty() {
        return Err(VerifyError::NoHostKey {
            main: sshd.main.clone(),
        }
        .into());
    }
    let (jail, jail_users, limits, proc) = find_jail(state_dir, user, Some(jail))?;
    wait_listening(&host, port, Duration::from_secs(10));
    let opts = Options {
        user: user.to_string(),
        host,
        port,
        key: key.to_path_buf(),
        passphrase: None,
        prompt: true,
        host_key: HostKeyPolicy::Pinned(keys),
        accept_new: false,
        jail,
        jail_users,
        limited: limits.is_some(),
        proc,
        network: crate::verify::NetworkPolicy::of(limits.as_ref()),
        timeout: Duration::from_secs(20),
    };
    execute(&opts, json)
}

/// Waits (bounded) until sshd greets; a reload has already waited for sshd's new listening
/// sockets (`sshd::reload`), so verify talks to the new configuration.
fn wait_listening(host: &str, port: u16, limit: Duration) {
    use std::io::Read;
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        let addr = (host, port);
        if let Ok(mut s) = std::net::TcpStream::connect(addr) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut b = [0u8; 4];
            if s.read_exact(&mut b).is_ok() && &b == b"SSH-" {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn default_known_hosts() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.dir)
        })
        .ok_or(VerifyError::NoHome)?;
    Ok(home.join(".ssh").join("known_hosts"))
}

/// The jail to compare with, the users its state lists and whether it limits `user`'s
/// slice: `--jail` (its state is optional), else the one jail whose state lists `user`.
fn find_jail(
    state_dir: &Path,
    user: &str,
    jail: Option<&Path>,
) -> anyhow::Result<(PathBuf, Vec<String>, Option<crate::limits::Limits>, bool)> {
    if let Some(j) = jail {
        let canon = state::canonical_jail(j);
        let (users, limits, proc) = state::load(state_dir, &canon)?
            .map(|s| {
                let limits = s.limits.get(user).map(|l| l.limits.clone());
                (s.users, limits, s.request.proc)
            })
            .unwrap_or_default();
        return Ok((canon, users, limits, proc));
    }
    let found: Vec<JailState> = all_states(state_dir)
        .into_iter()
        .filter(|s| s.users.iter().any(|u| u == user))
        .collect();
    match found.len() {
        1 => {
            let s = found.into_iter().next().expect("one state");
            let limits = s.limits.get(user).map(|l| l.limits.clone());
            Ok((s.jail, s.users, limits, s.request.proc))
        }
        0 => Err(VerifyError::NoJail {
            user: user.to_string(),
            dir: state_dir.join("jails"),
        }
        .into()),
        _ => Err(VerifyError::SeveralJails {
            user: user.to_string(),
            jails: found
                .iter()
                .map(|s| s.jail.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into()),
    }
}

/// Every readable jail state in the store (unreadable or corrupt files are skipped with a
/// warning).
fn all_states(state_dir: &Path) -> Vec<JailState> {
    let dir = state_dir.join("jails");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        match std::fs::read_to_string(&p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<JailState>(&t).map_err(|e| e.to_string()))
        {
            Ok(s) => out.push(s),
            Err(e) => eprintln!("jailsmith: warning: skipping state {}: {e}", p.display()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_from_sshd_settings() {
        let eff = crate::sshd::validate::parse_effective(
            "port 2222\nlistenaddress 127.0.0.1:2222\nhostkey /nonexistent/k\n",
        );
        assert_eq!(target_of(&eff), ("127.0.0.1".into(), 2222, vec![]));
        let eff = crate::sshd::validate::parse_effective(
            "port 22\nlistenaddress [::]:22\nlistenaddress 0.0.0.0:22\n",
        );
        assert_eq!(target_of(&eff).0, "127.0.0.1");
        let eff = crate::sshd::validate::parse_effective("port 22\nlistenaddress 10.1.2.3:2200\n");
        assert_eq!(target_of(&eff), ("10.1.2.3".into(), 2200, vec![]));
    }
    use crate::state::{JailState, Manifest, Request};

    fn save(dir: &Path, jail: &Path, users: &[&str]) {
        let st = JailState {
            jail: jail.to_path_buf(),
            request: Request::default(),
            manifest: Manifest::default(),
            users: users.iter().map(|u| u.to_string()).collect(),
            limits: Default::default(),
            groups: Default::default(),
            services: Default::default(),
            updated_unix: 0,
            in_progress: false,
        };
        state::save(dir, &st).unwrap();
    }

    #[test]
    fn the_jail_of_a_user_comes_from_the_state() {
        let t = tempfile::tempdir().unwrap();
        let sd = t.path().join("state");
        save(&sd, Path::new("/srv/a"), &["imsad", "bob"]);
        save(&sd, Path::new("/srv/b"), &["bob"]);
        let (jail, users, _, _) = find_jail(&sd, "imsad", None).unwrap();
        assert_eq!(jail, PathBuf::from("/srv/a"));
        assert_eq!(users, vec!["imsad".to_string(), "bob".to_string()]);
        let e = find_jail(&sd, "bob", None).unwrap_err().to_string();
        assert!(e.contains("several jails"), "{e}");
        let e = find_jail(&sd, "nobody", None).unwrap_err();
        assert_eq!(crate::exit::code_of(&e), crate::exit::BAD_INPUT);
        let (jail, users, limits, _) = find_jail(&sd, "x", Some(Path::new("/srv/b"))).unwrap();
        assert!(limits.is_none());
        assert_eq!(
            (jail, users),
            (PathBuf::from("/srv/b"), vec!["bob".to_string()])
        );
    }
}
