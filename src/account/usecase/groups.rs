//! The groups sshd matches for a jail (`Match Group`, one per mode): whether a user is where
//! it should be, creating and removing a jail's group, joining and leaving it, and the
//! per-user drop-ins of earlier versions moved to those groups. Every change goes through the
//! run's journal, so a failed run takes it back.

use std::path::{Path, PathBuf};

use super::run::{Action, Object, Run, drop_host_file, put_host_file, update_state};
use super::{UserError, UserRequest};
use crate::account::hostdb::HostDb;
use crate::account::hostfs;
use crate::plan::{HostOp, Id};
use crate::sshd::dropin::{self, DropIn};
use crate::state::{self, JailState};

/// Where a user of one jail and mode belongs, and what is there now.
pub(super) struct Placement {
    pub block: DropIn,
    /// The block's file in the drop-in directory.
    pub path: PathBuf,
    /// The gid of the jail's group when it exists (and is jailsmith's).
    pub gid: Option<u32>,
    /// The block file says exactly what it should, root-owned 0644.
    pub current: bool,
    /// The user is a member already.
    pub member: bool,
    /// The jail's group of the other mode, which the user leaves.
    pub leave: Option<String>,
}

impl Placement {
    /// True when sshd's configuration already jails members of the group: nothing but the
    /// membership, the key file and the jail's files can change, and sshd needs no word.
    pub fn config_ready(&self) -> bool {
        self.current && self.gid.is_some()
    }
}

/// The block of `jail` in one mode and its file. The sftp-only block of a jail with a
/// syslog socket (`build --log`) has internal-sftp log every transfer there.
pub(super) fn block_of(
    a: &UserRequest,
    jail: &Path,
    sftp_only: bool,
) -> Result<(DropIn, PathBuf), UserError> {
    let mut block = DropIn::for_jail(jail, &a.sshd.authorized_keys_dir, sftp_only);
    block.sftp_log = sftp_only && jail_logs(a, jail)?;
    let path = a.sshd.sshd_config_dir.join(block.file_name());
    Ok((block, path))
}

/// Whether `jail`'s saved request declares a syslog socket (`build --log`). A run asks for
/// every user it touches: the state is parsed once per version of its file.
pub(super) fn jail_logs(a: &UserRequest, jail: &Path) -> Result<bool, UserError> {
    let file = state::state_file(&a.state_dir, jail);
    let logs = crate::filecache::cached(&file, "jail-logs", || {
        state::load(&a.state_dir, jail).map(|s| s.is_some_and(|s| s.request.log.is_some()))
    })?;
    Ok(*logs)
}

/// The gid of `group` when it exists on the host and the jail's state records it with that
/// gid; Ok(None) when it does not exist; refused when it exists and is not jailsmith's.
pub(super) fn owned_gid(
    db: &HostDb,
    st: Option<&JailState>,
    group: &str,
    jail: &Path,
) -> Result<Option<u32>, UserError> {
    let Some(g) = db.group_index()?.by_name(group).map(|g| g.gid) else {
        return Ok(None);
    };
    if st.and_then(|s| s.groups.get(group)) == Some(&g) {
        return Ok(Some(g));
    }
    Err(UserError::Refused(format!(
        "a group {group} (gid {g}) exists and is not jailsmith's: the state of {} does not record it. jailsmith puts the users of that jail in a group of this name and will not use one it did not create; remove or rename that group",
        jail.display()
    )))
}

/// Where `user` (sftp-only or not) belongs in `jail`; refuses when the user is a member of
/// another jail's group (one user, one jail: `--remove` it there first).
pub(super) fn inspect(
    a: &UserRequest,
    db: &HostDb,
    st: Option<&JailState>,
    jail: &Path,
    sftp_only: bool,
) -> Result<Placement, UserError> {
    let user = a.name.as_str();
    let (block, path) = block_of(a, jail, sftp_only)?;
    let gid = owned_gid(db, st, &block.group, jail)?;
    let other_mode = dropin::jail_group(jail, !sftp_only);
    let mut member = false;
    let mut leave = None;
    for g in db.group_index()?.member_of(user) {
        if g.name == block.group {
            member = true;
        } else if g.name == other_mode {
            leave = Some(g.name.clone());
        } else if dropin::is_jail_group(&g.name) {
            return Err(other_jail(a, user, &g.name, jail));
        }
    }
    let current = hostfs::read_optional(&path)?.as_deref() == Some(block.render().as_str())
        && hostfs::has_root_mode(&path, 0o644);
    Ok(Placement {
        block,
        path,
        gid,
        current,
        member,
        leave,
    })
}

/// The refusal of a user who is a member of `group`, another jail's.
pub(super) fn other_jail(a: &UserRequest, user: &str, group: &str, jail: &Path) -> UserError {
    let file = a.sshd.sshd_config_dir.join(dropin::group_file_name(group));
    let other = hostfs::read_optional(&file)
        .ok()
        .flatten()
        .and_then(|t| dropin::chroot_of(&t));
    match other {
        Some(o) => UserError::Refused(format!(
            "{user} is jailed in {} (a member of its group {group}, {}), not in {}; run 'jailsmith user {user} --jail {} --remove' first",
            o.display(),
            file.display(),
            jail.display(),
            o.display()
        )),
        None => UserError::Refused(format!(
            "{user} is a member of {group}, the group of another jail (its block {} is missing), not of {}'s; take {user} out of it first: gpasswd -d {user} {group}",
            file.display(),
            jail.display()
        )),
    }
}

/// Creates the jail's group when it does not exist (a system group) and records it in the
/// jail's state; returns its gid (None in a dry run that would create it).
pub(super) fn ensure_group(
    r: &mut Run,
    db: &HostDb,
    jail: &Path,
    group: &str,
    gid: Option<u32>,
) -> Result<Option<u32>, UserError> {
    if gid.is_some() {
        return Ok(gid);
    }
    r.change(Object::SshdGroup, Action::Create, group);
    r.detail(format!(
        "groupadd -r: sshd jails its members in {}",
        jail.display()
    ));
    let op = HostOp::CreateGroup {
        name: group.to_string(),
        gid: None,
    };
    r.exec(
        None,
        op,
        format!("sshd's Match Group for {}", jail.display()),
    )?;
    // groupadd allocates the gid: a dry run plans the record with it still to be known
    let gid = match r.dry {
        true => Id::New,
        false => db
            .group_index()?
            .by_name(group)
            .map(|g| Id::Assigned(g.gid))
            .ok_or_else(|| UserError::Input(format!("groupadd made no group {group}")))?,
    };
    let name = group.to_string();
    update_state(
        r,
        jail,
        format!("group {group} recorded with its gid"),
        |s| {
            if let Some(g) = gid.assigned() {
                s.groups.insert(name, g);
            }
        },
    )?;
    r.detail(format!("group {group} (gid {gid}) recorded"));
    Ok(gid.assigned())
}

/// Adds `user` to `group` (or takes it out), with the opposite as its undo.
pub(super) fn membership(r: &mut Run, user: &str, group: &str, add: bool) -> Result<(), UserError> {
    r.change(
        Object::Member,
        if add { Action::Add } else { Action::Remove },
        group,
    );
    r.detail(format!(
        "gpasswd {} {user} {group}",
        if add { "-a" } else { "-d" }
    ));
    let (user, group) = (user.to_string(), group.to_string());
    let (op, reason) = if add {
        (
            HostOp::AddMember { user, group },
            "sshd jails the group's members",
        )
    } else {
        (
            HostOp::RemoveMember { user, group },
            "no longer jailed by this group",
        )
    };
    r.exec(None, op, reason)?;
    Ok(())
}

/// After a member left: when the group has no member any more, its block file and the group
/// go (and the state forgets it). Returns true when the block file was removed.
pub(super) fn drop_if_empty(
    r: &mut Run,
    db: &HostDb,
    jail: &Path,
    group: &str,
    path: &Path,
    leaving: &[&str],
) -> Result<bool, UserError> {
    let st = state::load(&r.args.state_dir, jail)?;
    let Some(gid) = owned_gid(db, st.as_ref(), group, jail)? else {
        return drop_host_file(r, Object::Dropin, path);
    };
    let ix = db.group_index()?;
    let others = ix
        .by_name(group)
        .is_some_and(|g| g.members.iter().any(|m| !leaving.contains(&m.as_str())));
    if others {
        return Ok(false);
    }
    let removed = drop_host_file(r, Object::Dropin, path)?;
    r.change(Object::SshdGroup, Action::Remove, group);
    r.detail("groupdel: its last member left");
    let op = HostOp::DeleteGroup {
        name: group.to_string(),
        gid: Some(gid),
    };
    r.exec(None, op, "the jail's group has no member left")?;
    // a dry run plans the state's save too: its plan is the real run's
    let name = group.to_string();
    update_state(r, jail, format!("group {group} forgotten"), |s| {
        s.groups.remove(&name);
    })?;
    Ok(removed)
}

/// Writes the block (when it differs); true when it changed.
pub(super) fn put_block(r: &mut Run, p: &Placement) -> Result<bool, UserError> {
    put_host_file(r, Object::Dropin, &p.path, &p.block.render())
}

/// The per-user drop-ins of earlier versions in the drop-in directory that chroot into
/// `jail`: (file, what it says).
pub(super) fn legacy_dropins(
    a: &UserRequest,
    jail: &Path,
) -> Result<Vec<(PathBuf, dropin::Legacy)>, UserError> {
    let dir = &a.sshd.sshd_config_dir;
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(crate::account::AccountError::io("list", dir)(e).into()),
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(user) = name.to_str().and_then(dropin::legacy_user) else {
            continue;
        };
        let path = e.path();
        if let Some(text) = hostfs::read_optional(&path)?
            && let Some(l) = dropin::parse_legacy(user, &text)
            && l.chroot == jail
        {
            out.push((path, l));
        }
    }
    out.sort_by(|x, y| x.0.cmp(&y.0));
    Ok(out)
}

/// Moves every per-user drop-in of `jail` to the jail's groups: each user joins the group of
/// its mode (created when missing), the group blocks are written and the per-user files go.
/// Returns the users moved (to check with `sshd -T`); the caller validates and reloads.
/// The file of `leaving` (a user being taken out) just goes.
pub(super) fn migrate(
    r: &mut Run,
    db: &HostDb,
    jail: &Path,
    leaving: Option<&str>,
) -> Result<Vec<(String, DropIn)>, UserError> {
    let legacy = legacy_dropins(r.args, jail)?;
    let mut moved = Vec::new();
    for (path, l) in legacy {
        let (block, block_path) = block_of(r.args, jail, l.sftp_only)?;
        if leaving != Some(l.user.as_str()) && db.entry(&l.user)?.is_some() {
            let st = state::load(&r.args.state_dir, jail)?;
            let gid = owned_gid(db, st.as_ref(), &block.group, jail)?;
            ensure_group(r, db, jail, &block.group, gid)?;
            let ix = db.group_index()?;
            let member = ix.member_of(&l.user).any(|g| g.name == block.group);
            if let Some(other) = ix
                .member_of(&l.user)
                .find(|g| g.name != block.group && dropin::is_jail_group(&g.name))
            {
                return Err(UserError::Refused(format!(
                    "{} has a per-user drop-in for {} ({}) and is a member of {}: take it out of one first",
                    l.user,
                    jail.display(),
                    path.display(),
                    other.name
                )));
            }
            drop(ix);
            if !member {
                membership(r, &l.user, &block.group, true)?;
            }
            put_host_file(r, Object::Dropin, &block_path, &block.render())?;
            moved.push((l.user.clone(), block));
        }
        drop_host_file(r, Object::Dropin, &path)?;
        r.detail(format!(
            "per-user drop-in of {} moved to its jail's group",
            l.user
        ));
    }
    Ok(moved)
}
