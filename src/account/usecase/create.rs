//! `apply`'s new accounts in one batch (`account::batch`), made before the per-user work,
//! which then finds them in place and only jails them; once their jail's group exists, the
//! batch's accounts of that group join it together (`join_group`). The names, uids and
//! shells are checked again right before the batch (the host may have changed since the
//! preflight). Each account made is recorded, with its inverse, in the converge loop's rollback
//! journal (`apply::journal`); a batch that fails deletes every account and group it made.

use std::path::Path;

use super::{UserError, UserRequest, check_name, check_uid};
use crate::account::batch;
use crate::account::hostdb::HostDb;
use crate::account::logindefs;
use crate::account::useradd::{self, Wanted};
use crate::apply::journal::Journal;
use crate::plan::{HostOp, HostStep};

/// The accounts one batch made, in the order of the requests that asked for them.
#[derive(Debug, Default)]
pub struct Created {
    pub names: Vec<String>,
    /// (account, group) of each account `join_group` put in its jail's group.
    pub joined: Vec<(String, String)>,
    /// Whether groupmod can append members (asked once).
    append: Option<bool>,
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

/// Creates, in one batch, the accounts of `requests` that ask for `create` and are missing,
/// and records in `journal` each account it made with its inverse (delete the account, then
/// its group): the converge loop commits an account once its user's run succeeds, and rolls
/// back the rest when one fails. A batch that fails itself deletes those of its accounts
/// (and groups) that exist, through the same journal. Left to the per-user path (`useradd`,
/// as `user --create`): an account whose name is already a group's (useradd -g adopts it),
/// and every account when the host has no /home (newusers would fail to make the home even
/// in its private tmpfs). Nothing in a dry run.
pub fn create_missing(
    requests: &[UserRequest],
    journal: &mut Journal<'_>,
) -> Result<Created, UserError> {
    let db = HostDb::default();
    let wanted = to_create(requests, &db)?;
    if wanted.is_empty() || !Path::new(batch::HOME_PARENT).is_dir() {
        return Ok(Created::default());
    }
    let names: Vec<String> = wanted.iter().map(|w| w.name.clone()).collect();
    eprintln!("jailsmith: apply: creating {} accounts", names.len());
    if let Err(e) = batch::create(&wanted, &db) {
        // what the batch made before it failed: the accounts, and the groups of those it
        // did not get to (each name was free as a group's before the batch)
        for w in &wanted {
            let account = db.entry(&w.name).ok().flatten().is_some();
            let group = db
                .group_index()
                .ok()
                .is_some_and(|ix| ix.by_name(&w.name).is_some());
            if account {
                record(journal, w);
            } else if group {
                let made = HostOp::CreateGroup {
                    name: w.name.clone(),
                    gid: None,
                };
                journal.record_done(
                    HostStep::new(made, "made by the failed batch"),
                    vec![delete_group(&w.name)],
                );
            }
        }
        let back = journal.roll_back(None);
        let (undone, failed) = back.summary();
        return Err(UserError::RolledBack {
            error: Box::new(e.into()),
            undone: if undone.is_empty() {
                "nothing was created".into()
            } else {
                undone
            },
            failed,
        });
    }
    for w in &wanted {
        record(journal, w);
    }
    Ok(Created {
        names,
        ..Default::default()
    })
}

/// Records the account `w` the batch made, with its inverse: the account, then its group
/// (already gone when userdel took it with the account).
fn record(journal: &mut Journal<'_>, w: &Wanted) {
    let made = HostOp::CreateAccount {
        name: w.name.clone(),
        home: w.home.clone(),
        shell: w.shell.clone(),
        uid: w.uid,
        existing_group: false,
    };
    let undo = vec![
        HostOp::DeleteAccount {
            name: w.name.clone(),
        },
        delete_group(&w.name),
    ];
    journal.record_done(HostStep::new(made, "apply's account batch"), undo);
}

fn delete_group(name: &str) -> HostOp {
    HostOp::DeleteGroup {
        name: name.to_string(),
        gid: None,
    }
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
