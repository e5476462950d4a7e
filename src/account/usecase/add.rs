//! `jailsmith user NAME --jail JAIL`: checks first, then keys, account, jail files, drop-in
//! (validated by sshd), state and reload; any failure rolls back what was done.

use std::path::{Path, PathBuf};

use super::run::{
    Action, Object, Run, ensure_dir, in_jail, put_host_file, put_jail_op, record_jail_files,
    record_user, reload_sshd,
};
use super::{
    UserError, UserRequest, check_account_rules, check_jail_path, check_name, check_root_chain,
    check_uid, groups, jail_path, refuse_other_jail,
};
use crate::account::hostdb::{HostAccount, HostDb};
use crate::account::jailside::JailAccount;
use crate::account::useradd::{self, Modify, NO_PASSWORD, Wanted};
use crate::account::{AccountError, hostfs, jailside, keys, logindefs};
use crate::apply::{Host, LinuxHost};
use crate::plan::{HostOp, JailPath, PlannedOwner};
use crate::sshd::dropin::{self, DropIn};
use crate::sshd::validate::{self, Sshd};
use crate::sshd::{SshdError, mainconfig};
use crate::state;

/// The keys in public key file `f`.
fn read_key_file(f: &Path) -> Result<Vec<keys::PublicKey>, UserError> {
    let text = std::fs::read_to_string(f)
        .map_err(|e| UserError::Input(format!("cannot read key file {}: {e}", f.display())))?;
    Ok(keys::parse(&f.display().to_string(), &text)?)
}

/// The authorized_keys text: from --key/--key-text (replacing), the existing file's keys
/// plus --add-key's, or the existing file when none is given.
fn gather_keys(a: &UserRequest, key_file: &Path) -> Result<String, UserError> {
    let mut all = Vec::new();
    if !a.add_keys.is_empty()
        && let Some(existing) = hostfs::read_optional(key_file)?
    {
        all.extend(keys::parse(&key_file.display().to_string(), &existing)?);
    }
    for f in a.keys.iter().chain(&a.add_keys) {
        all.extend(read_key_file(f)?);
    }
    for (i, t) in a.key_texts.iter().enumerate() {
        all.extend(keys::parse(&format!("--key-text #{}", i + 1), t)?);
    }
    if all.is_empty() {
        return match hostfs::read_optional(key_file)? {
            Some(existing) => {
                keys::parse(&key_file.display().to_string(), &existing)?;
                Ok(existing)
            }
            None => Err(UserError::Input(format!(
                "no key for {}: pass --key FILE or --key-text 'ssh-ed25519 …'",
                a.name
            ))),
        };
    }
    Ok(keys::render(&all)?)
}

/// The key file, after checking that nobody but root can swap the directories the key
/// files and the drop-ins live in.
fn output_paths(a: &UserRequest) -> Result<PathBuf, UserError> {
    dropin::check_path(&a.sshd.authorized_keys_dir)?;
    let key_file = a.sshd.authorized_keys_dir.join(&a.name);
    check_root_chain(&a.sshd.authorized_keys_dir, "keep authorized_keys files in")?;
    if !a.sshd.sshd_config_dir.is_absolute() {
        return Err(UserError::Input(format!(
            "--sshd-config-dir {} must be an absolute path",
            a.sshd.sshd_config_dir.display()
        )));
    }
    check_root_chain(&a.sshd.sshd_config_dir, "write sshd drop-ins into")?;
    if !super::limits::parse(a)?.is_empty() {
        super::limits::check_dir(a)?;
    }
    Ok(key_file)
}

/// The existing account (the account rules of `plan::denylist`: uid from UID_MIN to
/// UID_MAX, never nobody, no gid 0 nor privileged group; its uid must match --uid), or None
/// when --create may make it (a --uid must then be free and in that range).
fn check_account(a: &UserRequest, db: &HostDb) -> Result<Option<HostAccount>, UserError> {
    let name = a.name.as_str();
    let ranges = logindefs::read_ranges(Path::new(logindefs::PATH))?;
    if let Some(uid) = a.uid {
        check_uid(name, uid, &ranges)?;
    }
    let existing = db.lookup(name)?;
    match &existing {
        Some(acc) => {
            check_account_rules(acc, &db.groups(&acc.entry)?, &ranges)?;
            if let Some(uid) = a.uid.filter(|u| *u != acc.entry.uid) {
                return Err(UserError::Input(format!(
                    "{name} exists with uid {}, not --uid {uid}; jailsmith does not renumber accounts",
                    acc.entry.uid
                )));
            }
        }
        None if !a.create => return Err(AccountError::Missing { name: name.into() }.into()),
        None => {
            if let Some(uid) = a.uid.filter(|u| db.uid_taken(*u).unwrap_or(true)) {
                return Err(UserError::Input(format!("uid {uid} is already taken")));
            }
        }
    }
    Ok(existing)
}

/// The account checks of an add, which only read the host's account files.
pub(super) fn preflight(a: &UserRequest) -> Result<(), UserError> {
    check_name(&a.name)?;
    check_account(a, &HostDb::default()).map(|_| ())
}

pub(super) fn add(r: &mut Run) -> Result<PathBuf, UserError> {
    let a = r.args;
    let name = a.name.as_str();
    check_name(name)?;
    let jail = jail_path(&a.jail)?;
    check_jail_path(&jail)?;
    let key_file = output_paths(a)?;
    if !a.shell.starts_with('/') {
        return Err(UserError::Input(format!(
            "--shell {} must be an absolute path inside the jail",
            a.shell
        )));
    }
    let key_text = gather_keys(a, &key_file)?;
    let wanted_limits = super::limits::parse(a)?;
    let db = HostDb::default();
    let existing = check_account(a, &db)?;
    let host = LinuxHost::open(&jail, false)?;
    check_shell(r, &host, &jail)?;
    refuse_other_jail(
        &a.sshd.sshd_config_dir.join(dropin::legacy_file_name(name)),
        &jail,
        name,
    )?;
    let st = state::load(&a.state_dir, &jail)?;
    let place = groups::inspect(a, &db, st.as_ref(), &jail, a.sftp_only)?;
    let legacy = groups::legacy_dropins(a, &jail)?;
    let sshd = a.sshd.validator();
    check_included(&sshd, &place.path)?;
    // sshd is asked only when its configuration changes: the first user of a jail and mode,
    // a user who moves between modes, or per-user drop-ins to migrate. It must be valid
    // before the first write (apply checked it once for the whole run).
    if (!place.config_ready() || place.leave.is_some() || !legacy.is_empty()) && !a.sshd_checked {
        sshd.test()?;
    }
    if a.sftp_only {
        warn_unbound_log(r, &host, &jail)?;
    }

    let steps = (|| {
        ensure_dir(r, &a.sshd.authorized_keys_dir)?;
        let account = put_account(r, &db, existing.as_ref())?;
        put_jail_lines(r, &host, &account)?;
        ensure_dir(r, &a.sshd.sshd_config_dir)?;
        let mut to_check = Vec::new();
        let mut config_changed = false;
        let place = if legacy.is_empty() {
            place
        } else {
            to_check = groups::migrate(r, &db, &jail, None)?;
            config_changed = true;
            let st = state::load(&a.state_dir, &jail)?;
            groups::inspect(a, &db, st.as_ref(), &jail, a.sftp_only)?
        };
        let group = place.block.group.clone();
        groups::ensure_group(r, &db, &jail, &group, place.gid)?;
        if let Some(old) = &place.leave {
            groups::membership(r, name, old, false)?;
            let (_, old_path) = groups::block_of(a, &jail, !a.sftp_only)?;
            config_changed |= groups::drop_if_empty(r, &db, &jail, old, &old_path, &[name])?;
        }
        if !place.member {
            groups::membership(r, name, &group, true)?;
        }
        config_changed |= groups::put_block(r, &place)?;
        to_check.retain(|(u, _)| u != name);
        to_check.push((name.to_string(), place.block.clone()));
        if config_changed && !r.dry {
            if !a.sshd_checked {
                sshd.test()?;
            }
            for (user, block) in &to_check {
                let eff = validate_effective(&sshd, &place.path, user, block)?;
                if user == name {
                    check_sftp(r, &sshd, &eff, &host, &jail)?;
                }
            }
        }
        // the key file last: by now sshd jails whoever logs in with it
        put_keys(r, &key_file, &key_text)?;
        record_user(r, &jail, name, true)?;
        record_jail_files(r, &jail, &host)?;
        super::limits::put_limits(r, &jail, name, account.uid, wanted_limits)?;
        if config_changed {
            reload_sshd(r, &sshd)?;
        }
        Ok(())
    })();
    if let Err(e) = steps {
        return Err(r.roll_back(Some(&host), e));
    }
    Ok(jail)
}

/// Warns when the jail declares a syslog socket (`build --log`) that is not bound now: its
/// sftp-only users' transfers are logged nowhere until `jailsmith mount`.
fn warn_unbound_log(r: &mut Run, host: &LinuxHost, jail: &Path) -> Result<(), UserError> {
    if !groups::jail_logs(r.args, jail)? {
        return Ok(());
    }
    let at = crate::plan::JailPath::new(crate::mounts::LOG_PATH).expect("a valid jail path");
    let bound = host
        .stat(&at)?
        .is_some_and(|m| m.kind == crate::apply::EntryKind::Socket);
    if !bound {
        r.warnings.push(format!(
            "{}'s syslog socket is not bound at /dev/log: sftp transfers are logged once it \
             is: jailsmith mount {}",
            jail.display(),
            jail.display()
        ));
    }
    Ok(())
}

/// Writes the authorized_keys file; a change that drops keys the account had says so (the
/// dry run too), since --key replaces where --add-key adds.
fn put_keys(r: &mut Run, key_file: &Path, key_text: &str) -> Result<(), UserError> {
    let before = hostfs::read_optional(key_file)?;
    if put_host_file(r, Object::Keys, key_file, key_text)?
        && let Some(before) = before
    {
        let n = keys::dropped(&before, key_text);
        if n > 0 {
            r.detail(format!(
                "replaces the account's keys: {n} key{} it had will no longer log in (--add-key adds instead)",
                if n == 1 { "" } else { "s" }
            ));
        }
    }
    Ok(())
}

/// The login shell must be executable on the host (sshd checks it there, before the chroot)
/// and inside the jail (where it runs). An sftp-only user never runs it: inside is optional.
fn check_shell(r: &mut Run, host: &dyn Host, jail: &Path) -> Result<(), UserError> {
    let shell = &r.args.shell;
    let on_host = std::fs::metadata(shell).is_ok_and(|m| {
        m.is_file() && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
    });
    if !on_host {
        return Err(UserError::Input(format!(
            "the shell {shell} is not an executable file on this host: sshd refuses a login whose shell it cannot find there (it checks before the chroot)"
        )));
    }
    if jailside::has_program(host, shell)? {
        return Ok(());
    }
    let program = Path::new(shell)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bash".into());
    if r.args.sftp_only {
        r.warnings.push(format!(
            "{shell} is not inside {}: fine for an sftp-only user (internal-sftp runs inside sshd)",
            jail.display()
        ));
        return Ok(());
    }
    Err(UserError::Input(format!(
        "the shell {shell} does not exist inside {} (or is not executable); put it there first: jailsmith build {} --bin {program}",
        jail.display(),
        jail.display(),
    )))
}

/// The main config must Include the block's file (read, no sshd run).
fn check_included(sshd: &Sshd, block_path: &Path) -> Result<(), UserError> {
    let main_text = std::fs::read_to_string(&sshd.main).map_err(|source| SshdError::Io {
        op: "read",
        path: sshd.main.clone(),
        source,
    })?;
    if !mainconfig::includes_file(&main_text, block_path) {
        return Err(SshdError::NotIncluded {
            main: sshd.main.clone(),
            dir: block_path.parent().unwrap_or(Path::new("/")).to_path_buf(),
            dropin: block_path.to_path_buf(),
        }
        .into());
    }
    Ok(())
}

/// What sshd's configuration, as the user's login gets it (`eff`, read after its block was
/// written), means for sftp: an sftp-only user needs `Subsystem sftp` (refused, so rolled
/// back, without it); for a shell account sshd runs the subsystem's program inside the
/// chroot (and `scp` speaks SFTP since OpenSSH 9): a warning, with the fix, when the jail
/// lacks it.
fn check_sftp(
    r: &mut Run,
    sshd: &Sshd,
    eff: &validate::Effective,
    host: &dyn Host,
    jail: &Path,
) -> Result<(), UserError> {
    let name = r.args.name.clone();
    let sub = validate::sftp_subsystem(eff);
    if r.args.sftp_only {
        return match sub {
            Some(_) => Ok(()),
            None => Err(SshdError::NoSftpSubsystem {
                main: sshd.main.clone(),
            }
            .into()),
        };
    }
    let Some(sub) = sub else {
        return Ok(());
    };
    let program = sub.split_whitespace().next().unwrap_or_default();
    if !program.starts_with('/') || jailside::has_program(host, program)? {
        return Ok(());
    }
    r.warnings.push(format!(
        "sshd runs `Subsystem sftp {sub}` inside the chroot, and {} has no {program}: scp and \
         sftp will fail for {name}; put it there: jailsmith build {} --bin {program}",
        jail.display(),
        jail.display()
    ));
    Ok(())
}

/// `sshd -T -C user=…` must show every setting of the block for `user`, a member of its
/// group (sshd looks the groups up through NSS); returns what it showed.
pub(super) fn validate_effective(
    sshd: &Sshd,
    block_path: &Path,
    user: &str,
    block: &DropIn,
) -> Result<validate::Effective, UserError> {
    let eff = sshd.effective(user)?;
    let bad = validate::mismatches(&block.expected(), &eff);
    if bad.is_empty() {
        return Ok(eff);
    }
    let earlier = validate::earlier_matches(&sshd.main, block_path, user);
    let hint = if earlier.is_empty() {
        String::new()
    } else {
        format!(
            ". sshd applies the first value it finds and a Match block read before {} captures the user; Match lines read earlier:\n    {}",
            block_path.display(),
            earlier.join("\n    ")
        )
    };
    Err(SshdError::NotEffective {
        user: user.to_string(),
        mismatches: bad.join(", "),
        hint,
    }
    .into())
}

/// Creates or adjusts the host account; returns it as the jail's files hold it (in a dry run
/// that would create it, with the ids `useradd` is still to allocate).
fn put_account(
    r: &mut Run,
    db: &HostDb,
    existing: Option<&HostAccount>,
) -> Result<JailAccount, UserError> {
    let a = r.args;
    let wanted = Wanted {
        name: a.name.clone(),
        home: useradd::host_home(&a.name),
        shell: a.shell.clone(),
        uid: a.uid,
    };
    let Some(acc) = existing else {
        r.change(Object::Account, Action::Create, &a.name);
        r.detail(format!(
            "useradd: home {} (inside the jail), shell {}, key-only{}",
            wanted.home,
            wanted.shell,
            a.uid.map(|u| format!(", uid {u}")).unwrap_or_default()
        ));
        let group = uzers::get_group_by_name(&a.name);
        let op = HostOp::CreateAccount {
            name: a.name.clone(),
            home: wanted.home.clone(),
            shell: wanted.shell.clone(),
            uid: a.uid,
            existing_group: group.is_some(),
        };
        r.exec(None, op, "the account to jail (--create)")?;
        if r.dry {
            // useradd allocates what is not given: the uid, the gid of a new user group
            return Ok(JailAccount {
                name: a.name.clone(),
                uid: a.uid.into(),
                gid: group.as_ref().map(|g| g.gid()).into(),
                gecos: String::new(),
                home: wanted.home,
                shell: wanted.shell,
                group: Some(a.name.clone()),
            });
        }
        let acc = db.lookup(&a.name)?.ok_or_else(|| AccountError::Missing {
            name: a.name.clone(),
        })?;
        return Ok(JailAccount::of(&acc.entry, acc.group));
    };
    let e = &acc.entry;
    let change = Modify {
        home: (e.home != wanted.home).then(|| wanted.home.clone()),
        shell: (e.shell != wanted.shell).then(|| wanted.shell.clone()),
        password: (acc.password.as_deref() != Some(NO_PASSWORD)).then(|| NO_PASSWORD.into()),
    };
    if change.is_empty() {
        return Ok(JailAccount::of(e, acc.group.clone()));
    }
    r.change(Object::Account, Action::Update, &a.name);
    r.detail(format!("usermod: {}", change.describe()));
    let before = Modify {
        home: change.home.as_ref().map(|_| e.home.clone()),
        shell: change.shell.as_ref().map(|_| e.shell.clone()),
        password: change.password.as_ref().and(acc.password.clone()),
    };
    let op = HostOp::ModifyAccount {
        name: a.name.clone(),
        change,
        before,
    };
    r.exec(
        None,
        op,
        "a jailed account: home inside the jail, the jail's shell, key-only",
    )?;
    let mut entry = e.clone();
    entry.home = wanted.home;
    entry.shell = wanted.shell;
    Ok(JailAccount::of(&entry, acc.group.clone()))
}

/// JAIL/home/NAME: the user's own, 0700.
fn put_home(
    r: &mut Run,
    host: &dyn Host,
    name: &str,
    home: JailPath,
    owner: PlannedOwner,
) -> Result<(), UserError> {
    let op = HostOp::MakeJailDir {
        path: home,
        mode: 0o700,
        owner,
    };
    r.exec(
        Some(host),
        op,
        format!("{name}'s home, the only place it can write"),
    )?;
    Ok(())
}

/// JAIL/home/NAME and the user's lines in the jail's etc/passwd and etc/group (for an
/// account a dry run would create: with the ids still to be allocated).
fn put_jail_lines(r: &mut Run, host: &dyn Host, account: &JailAccount) -> Result<(), UserError> {
    let name = account.name.as_str();
    let home = jailside::home_of(name);
    let owner = account.owner();
    match jailside::home_needs(host, name, owner.assigned())? {
        jailside::Needed::Nothing => {}
        jailside::Needed::Create => {
            r.change(Object::Home, Action::Create, in_jail(Some(host), &home));
            r.detail(format!("owner {}:{} mode 0700", owner.uid, owner.gid));
            let parent = JailPath::new("home").expect("static path");
            if host.stat(&parent)?.is_none() {
                let op = HostOp::MakeJailDir {
                    path: parent,
                    mode: 0o755,
                    owner: PlannedOwner::ROOT,
                };
                r.exec(Some(host), op, "holds the jailed users' homes")?;
            }
            put_home(r, host, name, home, owner)?;
        }
        jailside::Needed::Fix { mode, owner: was } => {
            r.change(Object::Home, Action::Update, in_jail(Some(host), &home));
            r.detail(format!(
                "owner {}:{} mode {mode:04o} → {}:{} 0700",
                was.uid, was.gid, owner.uid, owner.gid
            ));
            put_home(r, host, name, home, owner)?;
        }
    }
    if account.group.is_none() {
        r.warnings.push(format!(
            "gid {} of {name} has no group on the host: no group line written in the jail",
            account.gid
        ));
    }
    for line in jailside::line_ops(Some(host), account)? {
        let object = match line.op {
            HostOp::PutPasswdLine { .. } => Object::Passwd,
            _ => Object::Group,
        };
        put_jail_op(r, host, object, line.before.is_some(), line.op)?;
    }
    Ok(())
}
