//! `apply`'s new accounts in one batch (`account::batch`), made before the per-user work,
//! which then finds them in place and only jails them; once their jail's group exists, the
//! batch's accounts of that group join it together (`join_group`). The names, uids and
//! shells are checked again right before the batch (the host may have changed since the
//! preflight); a batch that fails deletes every account and group it made, by name.

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
    /// (account, group) of each account `join_group` put in its jail's group.
    pub joined: Vec<(String, String)>,
    /// Whether groupmod can append members (asked once).
    append: Option<bool>,
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

/// Before the user run of `requests[at]`: when its account is one the batch made and its
/// jail's group (of its mode) exists and is jailsmith's, that account and every later one
/// the batch made for the same group join it in one `groupmod -a -U` (under shadow-utils'
/// lock), so their runs find them members. Nothing when the group is still to be made (the
/// run of `requests[at]` makes it), is not jailsmith's (that run refuses it), or when this
/// host's groupmod cannot append (shadow-utils before 4.11: one gpasswd per user, as `user`).
/// A member without its key file cannot log in, and is jailed once it can.
pub fn join_group(
    requests: &[UserRequest],
    created: &mut Created,
    at: usize,
) -> Result<(), UserError> {
    let a = &requests[at];
    let pending = |r: &UserRequest, c: &Created| {
        c.names.contains(&r.name) && !c.joined.iter().any(|(n, _)| *n == r.name)
    };
    if a.dry_run || !pending(a, created) {
        return Ok(());
    }
    if *created.append.get_or_insert_with(batch::can_append_members) {
        let jail = super::jail_path(&a.jail)?;
        let (block, _) = super::groups::block_of(a, &jail, a.sftp_only)?;
        let st = crate::state::load(&a.state_dir, &jail)?;
        let ours = super::groups::owned_gid(&HostDb::default(), st.as_ref(), &block.group, &jail);
        if !matches!(ours, Ok(Some(_))) {
            return Ok(());
        }
        let names: Vec<&str> = requests[at..]
            .iter()
            .filter(|r| pending(r, created) && r.jail == a.jail && r.sftp_only == a.sftp_only)
            .map(|r| r.name.as_str())
            .collect();
        batch::append_members(&block.group, &names)?;
        let joined: Vec<(String, String)> = names
            .iter()
            .map(|n| (n.to_string(), block.group.clone()))
            .collect();
        created.joined.extend(joined);
    }
    Ok(())
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
    Ok(Created {
        names,
        ..Default::default()
    })
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
