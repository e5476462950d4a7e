//! Who already uses an account, from jailsmith's state files: the jails that hold it as an
//! SSH user and the services that run as it. Reads only `<state_dir>/jails/*.json`.

use std::path::{Path, PathBuf};

use super::AccountError;
use crate::state::JailState;

/// One use of an account recorded in the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Usage {
    /// A jailed SSH user of this jail.
    Login { jail: PathBuf },
    /// The account of this service, in this jail.
    Service { name: String, jail: PathBuf },
}

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Usage::Login { jail } => write!(f, "it is a jailed SSH user of {}", jail.display()),
            Usage::Service { name, jail } => {
                write!(f, "it runs service {name} in {}", jail.display())
            }
        }
    }
}

/// The uses of `account` in one jail's state.
pub fn in_state(st: &JailState, account: &str) -> Vec<Usage> {
    let logins = st
        .users
        .iter()
        .filter(|u| *u == account)
        .map(|_| Usage::Login {
            jail: st.jail.clone(),
        });
    let services = st
        .services
        .iter()
        .filter(|(_, r)| r.user == account)
        .map(|(name, _)| Usage::Service {
            name: name.clone(),
            jail: st.jail.clone(),
        });
    logins.chain(services).collect()
}

/// Every use of `account` recorded under `state_dir` (none when it has no jails yet). A state
/// file that cannot be parsed is skipped: `check` reports it.
pub fn uses(state_dir: &Path, account: &str) -> Result<Vec<Usage>, AccountError> {
    let dir = state_dir.join("jails");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(AccountError::io("list", &dir)(e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let path = e.map_err(AccountError::io("list", &dir))?.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(AccountError::io("read", &path))?;
        if let Ok(st) = serde_json::from_str::<JailState>(&text) {
            out.extend(in_state(&st, account));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_logins_and_services() {
        let mut st = JailState::new(Path::new("/srv/j"));
        st.users = vec!["imsad".into()];
        st.services.insert(
            "web".into(),
            crate::service::files::ServiceRecord {
                user: "www".into(),
                unit: "/etc/systemd/system/web.service".into(),
                read_write: Vec::new(),
            },
        );
        assert_eq!(in_state(&st, "imsad").len(), 1);
        let www = in_state(&st, "www");
        assert!(matches!(&www[..], [Usage::Service { name, .. }] if name == "web"));
        assert!(in_state(&st, "other").is_empty());
    }
}
