//! `jailsmith user NAME --jail JAIL --remove`: key file first (no new logins), the user's
//! processes, the drop-in (validated, reloaded), the jail's lines; then home and account.

use std::path::{Path, PathBuf};

use super::run::{
    Action, Object, Run, drop_host_file, in_jail, put_jail_file, record_jail_files, record_user,
    reload_sshd,
};
use super::{UserError, check_name, check_uid, groups, jail_path, refuse_other_jail};
use crate::account::hostdb::{self, HostAccount, HostDb};
use crate::account::{hostfs, jailside, logindefs, sessions};
use crate::apply::binds::MountError;
use crate::apply::{Host, HostError, LinuxHost};
use crate::mounts;
use crate::plan::{HostOp, JailPath};
use crate::sshd::dropin;
use crate::sshd::validate::{self, Sshd};
use crate::state;

pub(super) fn remove(r: &mut Run) -> Result<PathBuf, UserError> {
    let a = r.args;
    let name = a.name.as_str();
    check_name(name)?;
    let jail = jail_path(&a.jail)?;
    let key_file = a.sshd.authorized_keys_dir.join(name);
    let legacy_path = a.sshd.sshd_config_dir.join(dropin::legacy_file_name(name));
    let ranges = logindefs::read_ranges(Path::new(logindefs::PATH))?;
    let db = HostDb::default();
    let existing = db.lookup(name)?;
    if let Some(acc) = &existing {
        check_uid(name, acc.entry.uid, &ranges)?;
    }
    refuse_other_jail(&legacy_path, &jail, name)?;
    let groups_here = [false, true].map(|sftp| dropin::jail_group(&jail, sftp));
    let mut member_of = Vec::new();
    for g in db.group_index()?.member_of(name) {
        if groups_here.contains(&g.name) {
            member_of.push(g.name.clone());
        } else if dropin::is_jail_group(&g.name) {
            return Err(groups::other_jail(a, name, &g.name, &jail));
        }
    }
    let host = if jail.is_dir() {
        Some(LinuxHost::open(&jail, false)?)
    } else {
        r.warnings.push(format!(
            "{} does not exist: nothing to remove inside it",
            jail.display()
        ));
        None
    };
    let host_ref: Option<&dyn Host> = host.as_ref().map(|h| h as &dyn Host);
    if member_of.is_empty() && !jailed_here(r, host_ref, &jail, &legacy_path)? {
        r.warnings.push(format!(
            "{name} is not jailed in {} (no group membership, no drop-in, no state record, no passwd line there): nothing removed, no process killed",
            jail.display()
        ));
        return Ok(jail);
    }
    if let Some(acc) = existing.as_ref().filter(|_| !a.kill_sessions) {
        refuse_while_sessions(name, acc.entry.uid)?;
    }
    let home = jailside::home_of(name);
    // a mount in the home that is not one of the jail's binds stops the removal first
    if a.delete_home
        && !r.dry
        && let Some(h) = host.as_ref()
    {
        crate::apply::binds::refuse_foreign(
            h,
            &jail_binds(r, &jail)?,
            mounts::Own::default(),
            Some(&home),
        )
        .map_err(|e| mount_error(e, &jail, &home))?;
    }
    let legacy = groups::legacy_dropins(a, &jail)?;
    let sshd = a.sshd.validator();
    let steps = (|| {
        // No new logins: the key file goes first, then the running sessions.
        drop_host_file(r, Object::Keys, &key_file)?;
        if let Some(acc) = &existing {
            end_sessions(r, acc.entry.uid)?;
        }
        let mut config_changed = false;
        let mut moved = Vec::new();
        if !legacy.is_empty() {
            moved = groups::migrate(r, &db, &jail, Some(name))?;
            config_changed = true;
        }
        // the group goes with its last member; in a dry run of several removals the
        // earlier ones are gone by now
        let leaving: Vec<&str> = std::iter::once(name)
            .chain(a.left_before.iter().map(String::as_str))
            .collect();
        for group in &member_of {
            groups::membership(r, name, group, false)?;
            let sftp = group.ends_with(dropin::SFTP_SUFFIX);
            let (_, path) = groups::block_of(a, &jail, sftp)?;
            config_changed |= groups::drop_if_empty(r, &db, &jail, group, &path, &leaving)?;
        }
        if config_changed {
            if !r.dry {
                sshd.test()?;
                for (user, block) in &moved {
                    let (_, path) = groups::block_of(a, &jail, block.sftp_only)?;
                    super::add::validate_effective(&sshd, &path, user, block)?;
                }
                still_jailed_warning(r, &sshd, name)?;
            }
            reload_sshd(r, &sshd)?;
        }
        if let Some(h) = host_ref {
            drop_jail_lines(r, &db, h, name, existing.as_ref())?;
        }
        record_user(r, &jail, name, false)?;
        if let Some(h) = host_ref {
            record_jail_files(r, &jail, h)?;
        }
        super::limits::drop_limits(r, &jail, name)?;
        Ok(())
    })();
    if let Err(e) = steps {
        return Err(r.roll_back(host_ref, e));
    }
    // Past this point nothing can be undone: the home's content and the account.
    r.journal.commit();
    if a.delete_home
        && let Some(h) = host.as_ref()
        && h.stat(&home)?.is_some()
    {
        r.change(Object::Home, Action::Remove, in_jail(Some(h), &home));
        delete_home(r, h, &jail, &home)?;
    }
    if a.delete_account && existing.is_some() {
        r.change(Object::Account, Action::Remove, name);
        r.detail("userdel (the host's /home is not touched)");
        let op = HostOp::DeleteAccount {
            name: name.to_string(),
        };
        r.exec(None, op, "--delete-account")?;
    }
    Ok(jail)
}

/// Removes the home: the jail's own binds below it are unmounted first (found by identity,
/// wherever the user moved them), any other mount there stops it (found when planned, so a
/// dry run refuses it as the real run does), and the removal itself never crosses a mount
/// or follows a symlink.
fn delete_home(r: &mut Run, h: &LinuxHost, jail: &Path, home: &JailPath) -> Result<(), UserError> {
    let binds = jail_binds(r, jail)?;
    let own = mounts::Own::default();
    // what is mounted below the home now, refusing what is not the jail's: changes nothing
    let mounts = crate::apply::binds::clear_for_removal(h, &binds, own, Some(home), true)
        .map_err(|e| mount_error(e, jail, home))?;
    if !mounts.is_empty() {
        let op = HostOp::UnmountBinds {
            jail: jail.to_path_buf(),
            under: Some(home.clone()),
            mounts: mounts.clone(),
            binds,
            own,
        };
        let done = r.exec(
            None,
            op,
            "--delete-home: no removal may reach into a host directory",
        )?;
        let unmounted = if r.dry { mounts } else { done.unmounted };
        for b in unmounted {
            r.detail(format!("unmounted {b}"));
        }
    }
    let op = HostOp::RemoveJailTree { path: home.clone() };
    let done = r.exec(Some(h), op, "--delete-home: the user's files in the jail")?;
    if let Some(gone) = done.detail {
        r.detail(gone);
    }
    Ok(())
}

/// The jail's declared binds, from its state (none without one).
fn jail_binds(r: &Run, jail: &Path) -> Result<Vec<mounts::Bind>, UserError> {
    Ok(state::load(&r.args.state_dir, jail)?
        .map(|s| s.request.binds)
        .unwrap_or_default())
}

fn mount_error(e: MountError, jail: &Path, home: &JailPath) -> UserError {
    match e {
        MountError::Host(e) => UserError::Host(e),
        e if e.exit_code() == crate::exit::REFUSED => UserError::Refused(e.to_string()),
        e => UserError::Host(HostError::Io {
            jail: jail.to_path_buf(),
            path: home.to_string(),
            op: "unmount the binds below",
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

/// True when something else says NAME is jailed in this jail: a per-user drop-in of an
/// earlier version (already checked to name this jail), the jail's state record, or a line
/// in the jail's passwd. Without any of
/// them, `--remove` must not kill an ordinary user's processes or delete their account.
fn jailed_here(
    r: &Run,
    host: Option<&dyn Host>,
    jail: &Path,
    dropin_path: &Path,
) -> Result<bool, UserError> {
    let name = r.args.name.as_str();
    if hostfs::read_optional(dropin_path)?.is_some() {
        return Ok(true);
    }
    if state::load(&r.args.state_dir, jail)?.is_some_and(|s| s.users.iter().any(|u| u == name)) {
        return Ok(true);
    }
    let Some(h) = host else { return Ok(false) };
    Ok(jailside::read_text(h, &jailside::passwd_path())?
        .is_some_and(|p| hostdb::find_passwd(&p, name).is_some()))
}

/// After the drop-in is gone, sshd should chroot the user nowhere; another Match block that
/// still does is reported (it is not ours to remove).
fn still_jailed_warning(r: &mut Run, sshd: &Sshd, name: &str) -> Result<(), UserError> {
    let eff = sshd.effective(name)?;
    if let Some(dir) = eff
        .get("chrootdirectory")
        .and_then(|v| v.first())
        .filter(|d| *d != "none")
    {
        r.warnings.push(format!(
            "sshd still chroots {name} into {dir}: another Match block sets it ({})",
            validate::all_matches(&sshd.main, &r.args.sshd.sshd_config_dir, name).join("; ")
        ));
    }
    Ok(())
}

/// Without --kill-sessions, a user with running processes is not taken out (like `destroy`).
/// A session that is ending (sshd's process after the client left) gets a second to go.
fn refuse_while_sessions(name: &str, uid: u32) -> Result<(), UserError> {
    let mut pids = sessions::pids_of(uid)?;
    for _ in 0..20 {
        if pids.is_empty() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        pids = sessions::pids_of(uid)?;
    }
    let list: Vec<String> = pids.iter().map(i32::to_string).collect();
    Err(UserError::Refused(format!(
        "{name}: refusing while sessions run: pids {}; end them or pass --kill-sessions",
        list.join(", ")
    )))
}

fn end_sessions(r: &mut Run, uid: u32) -> Result<(), UserError> {
    let pids = sessions::pids_of(uid)?;
    if pids.is_empty() {
        return Ok(());
    }
    r.change(Object::Sessions, Action::End, format!("uid {uid}"));
    let reason = "the user is taken out: no session of it may stay";
    let done = r.exec(None, HostOp::EndSessions { uid }, reason)?;
    r.detail(match done.detail {
        Some(killed) => killed,
        None => format!("would kill pids {pids:?}"),
    });
    Ok(())
}

fn drop_jail_lines(
    r: &mut Run,
    db: &HostDb,
    host: &dyn Host,
    name: &str,
    existing: Option<&HostAccount>,
) -> Result<(), UserError> {
    let mut passwd_before = jailside::read_text(host, &jailside::passwd_path())?;
    let mut group_before = jailside::read_text(host, &jailside::group_path())?;
    // a dry run of several removals: the files as the earlier ones would have left them
    for gone in &r.args.left_before {
        let acc = db.lookup(gone)?;
        (passwd_before, group_before) = without(passwd_before, group_before, gone, acc.as_ref());
    }
    let (passwd, group) = without(passwd_before.clone(), group_before.clone(), name, existing);
    if let (Some(before), Some(p)) = (passwd_before, passwd) {
        put_jail_file(
            r,
            host,
            Object::Passwd,
            jailside::passwd_path(),
            Some(before),
            &p,
        )?;
    }
    if let (Some(before), Some(g)) = (group_before, group) {
        put_jail_file(
            r,
            host,
            Object::Group,
            jailside::group_path(),
            Some(before),
            &g,
        )?;
    }
    Ok(())
}

/// The jail's passwd and group (as far as there are) without `name`'s lines; its group
/// line only with both files there.
fn without(
    passwd: Option<String>,
    group: Option<String>,
    name: &str,
    existing: Option<&HostAccount>,
) -> (Option<String>, Option<String>) {
    let (Some(p), Some(g)) = (&passwd, &group) else {
        let p = passwd.map(|p| jailside::without_user(&p, "", name, None, None).0);
        return (p, group);
    };
    // the jail's own line tells the gid even when the host account is gone
    let gid = hostdb::find_passwd(p, name)
        .map(|e| e.gid)
        .or(existing.map(|a| a.entry.gid));
    let group_name = existing
        .and_then(|a| a.group.clone())
        .or_else(|| gid.and_then(|gid| hostdb::group_name(g, gid)));
    let (p, g) = jailside::without_user(p, g, name, gid, group_name.as_deref());
    (Some(p), Some(g))
}
