//! `apply`'s new accounts in one batch (`account::batch`), made before the per-user work,
//! which then finds them in place and only jails them. The names, uids and shells are
//! checked again right before the batch (the host may have changed since the preflight); a
//! batch that fails deletes every account and group it made, by name.

use std::path::Path;

use super::{UserError, UserRequest, check_name, check_uid};
use crate::account::batch;
use crate::account::hostdb::HostDb;
use crate::account::logindefs;
use crate::account::useradd::{self, Wanted};

/// The accounts one batch made, in the order of the requests that asked for them.
#[derive(Debug, Default)]
pub struct Created {
    pub names: Vec<String>,
}

impl Created {
    /// Deletes the accounts (and their groups) of `names` this batch made: what an `apply`
    /// that stops before it jailed them runs. Returns `undone` and `failed` for the message.
    pub fn delete(&self, names: &[&str]) -> (String, String) {
        let ours: Vec<String> = self
            .names
            .iter()
            .filter(|n| names.contains(&n.as_str()))
            .cloned()
            .collect();
        let (gone, failed) = batch::delete(&ours, &HostDb::default());
        (gone.join(", "), failed.join("; "))
    }
}

/// Creates, in one batch, the accounts of `requests` that ask for `create` and are missing.
/// Left to the per-user path (`useradd`, as `user --create`): an account whose name is
/// already a group's (useradd -g adopts it), and every account when the host has no /home
/// (newusers would fail to make the home even in its private tmpfs). Nothing in a dry run.
pub fn create_missing(requests: &[UserRequest]) -> Result<Created, UserError> {
    let db = HostDb::default();
    let wanted = to_create(requests, &db)?;
    if wanted.is_empty() || !Path::new(batch::HOME_PARENT).is_dir() {
        return Ok(Created::default());
    }
    let names: Vec<String> = wanted.iter().map(|w| w.name.clone()).collect();
    eprintln!("jailsmith: apply: creating {} accounts", names.len());
    if let Err(e) = batch::create(&wanted, &db) {
        let (gone, failed) = batch::delete(&names, &db);
        return Err(UserError::RolledBack {
            error: Box::new(e.into()),
            undone: if gone.is_empty() {
                "nothing was created".into()
            } else {
                gone.join(", ")
            },
            failed: if failed.is_empty() {
                String::new()
            } else {
                format!("\n  could NOT roll back: {}", failed.join("; "))
            },
        });
    }
    Ok(Created { names })
}

/// The accounts to make, checked as an add checks them (name, uid range, a free uid) against
/// the host as it is now.
fn to_create(requests: &[UserRequest], db: &HostDb) -> Result<Vec<Wanted>, UserError> {
    let candidates: Vec<&UserRequest> = requests
        .iter()
        .filter(|a| a.create && !a.remove && !a.dry_run)
        .collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let ranges = logindefs::read_ranges(Path::new(logindefs::PATH))?;
    let groups = db.group_index()?;
    let mut out: Vec<Wanted> = Vec::new();
    for a in candidates {
        check_name(&a.name)?;
        let new = db.entry(&a.name)?.is_none()
            && groups.by_name(&a.name).is_none()
            && a.shell.starts_with('/')
            && !out.iter().any(|w| w.name == a.name);
        if !new {
            continue;
        }
        if let Some(uid) = a.uid {
            check_uid(&a.name, uid, &ranges)?;
            if db.uid_taken(uid)? {
                return Err(UserError::Input(format!(
                    "user {}: uid {uid} is already taken",
                    a.name
                )));
            }
            if let Some(other) = out.iter().find(|w| w.uid == Some(uid)) {
                return Err(UserError::Input(format!(
                    "user {}: uid {uid} is asked for {} too",
                    a.name, other.name
                )));
            }
        }
        out.push(Wanted {
            name: a.name.clone(),
            home: useradd::host_home(&a.name),
            shell: a.shell.clone(),
            uid: a.uid,
        });
    }
    Ok(out)
}
