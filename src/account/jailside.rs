//! What an account needs inside its jail, done only through `apply::Host` (no symlink is
//! ever followed): the shell's presence, `/home/NAME` (0700, the user's), and the user's
//! lines in the jail's etc/passwd and etc/group (`line_ops`: the operations that put them
//! there, also for an account whose ids are still to be allocated).

use std::collections::VecDeque;
use std::path::{Component, Path};

use crate::apply::{EntryKind, Host, HostError, Meta};
use crate::plan::{HostOp, Id, JailPath, Owner, PlannedOwner};

use super::hostdb::PasswdEntry;
use super::jaildb;

/// Symlinks followed at most while looking a program up (like the kernel's 40).
const MAX_LINKS: usize = 40;

/// The in-jail path of a user's home.
pub fn home_of(name: &str) -> JailPath {
    JailPath::new(format!("home/{name}")).expect("validated user names are one component")
}

pub fn passwd_path() -> JailPath {
    JailPath::new("etc/passwd").expect("static path")
}

pub fn group_path() -> JailPath {
    JailPath::new("etc/group").expect("static path")
}

/// Looks up an absolute in-jail path the way a process chrooted there would (symlinks are
/// resolved lexically against the jail root, `..` stops at it) using only `Host::stat`.
/// Returns the final object's path and metadata, or None when it does not exist.
pub fn lookup(host: &dyn Host, path: &Path) -> Result<Option<(JailPath, Meta)>, HostError> {
    let mut rest: VecDeque<String> = names(path).collect();
    let mut cur: Vec<String> = Vec::new();
    let mut last = None;
    let mut links = 0;
    while let Some(c) = rest.pop_front() {
        if c == ".." {
            cur.pop();
            last = None;
            continue;
        }
        cur.push(c);
        let jp = JailPath::new(cur.join("/")).expect("normal components");
        let Some(meta) = host.stat(&jp)? else {
            return Ok(None);
        };
        if let EntryKind::Symlink { target } = &meta.kind {
            links += 1;
            if links > MAX_LINKS {
                return Ok(None);
            }
            cur.pop();
            if target.is_absolute() {
                cur.clear();
            }
            for n in names(target).collect::<Vec<_>>().into_iter().rev() {
                rest.push_front(n);
            }
            last = None;
            continue;
        }
        last = Some((jp, meta));
    }
    Ok(last)
}

/// The normal and `..` components of a path, as strings.
fn names(p: &Path) -> impl Iterator<Item = String> + '_ {
    p.components().filter_map(|c| match c {
        Component::ParentDir => Some("..".to_string()),
        Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
        _ => None,
    })
}

/// True when `shell` (absolute, as the user sees it) is an executable regular file inside
/// the jail.
pub fn has_program(host: &dyn Host, shell: &str) -> Result<bool, HostError> {
    Ok(lookup(host, Path::new(shell))?
        .is_some_and(|(_, m)| m.kind == EntryKind::File && m.mode & 0o111 != 0))
}

/// The state of one in-jail object compared with what it should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Needed {
    Nothing,
    Create,
    /// Wrong owner or mode: what it has now (to undo the fix).
    Fix {
        mode: u32,
        owner: Owner,
    },
}

/// What `home/NAME` needs: a real directory, 0700, owned by `owner` (None: an account still
/// to be created, whose ids no existing directory can have yet). Anything else there
/// (symlink, FIFO, file) is refused.
pub fn home_needs(host: &dyn Host, name: &str, owner: Option<Owner>) -> Result<Needed, HostError> {
    let path = home_of(name);
    Ok(match host.stat(&path)? {
        None => Needed::Create,
        Some(m) if m.kind != EntryKind::Dir => {
            return Err(HostError::WrongType {
                jail: host.root().to_path_buf(),
                path: path.to_string(),
                found: m.kind.name(),
                expected: "directory",
                op: "make the user's home",
            });
        }
        Some(m)
            if m.mode & 0o7777 != 0o700
                || owner.is_none_or(|o| m.uid != o.uid || m.gid != o.gid) =>
        {
            Needed::Fix {
                mode: m.mode & 0o7777,
                owner: Owner {
                    uid: m.uid,
                    gid: m.gid,
                },
            }
        }
        Some(_) => Needed::Nothing,
    })
}

/// The current text of a jail file, None when absent.
pub fn read_text(host: &dyn Host, path: &JailPath) -> Result<Option<String>, HostError> {
    if host.stat(path)?.is_none() {
        return Ok(None);
    }
    Ok(Some(
        String::from_utf8_lossy(&host.read_file(path)?).into_owned(),
    ))
}

/// New etc/passwd and etc/group texts with the user's lines in (pure over the old texts),
/// root first and the others by name (`jaildb::in_order`).
pub fn with_user(
    passwd: Option<&str>,
    group: Option<&str>,
    entry: &PasswdEntry,
    group_name: &str,
) -> (String, String) {
    let p = jaildb::upsert(
        passwd.unwrap_or(jaildb::ROOT_PASSWD),
        &entry.name,
        &entry.line(),
    );
    let g = jaildb::upsert(
        group.unwrap_or(jaildb::ROOT_GROUP),
        group_name,
        &jaildb::group_line(group_name, entry.gid),
    );
    (jaildb::in_order(&p), jaildb::in_order(&g))
}

/// The jail's etc/passwd and etc/group from its accounts alone: root's lines, then each
/// account's lines as `with_user` writes them. Nothing is read from the jail's own files,
/// so a line planted there never survives a build.
pub fn derived_files(accounts: &[JailAccount]) -> (String, String) {
    let mut passwd = jaildb::ROOT_PASSWD.to_string();
    let mut group = jaildb::ROOT_GROUP.to_string();
    for a in accounts {
        // an account still to be created has no line yet
        let Some(entry) = a.entry() else { continue };
        let (p, g) = with_user(
            Some(&passwd),
            Some(&group),
            &entry,
            a.group.as_deref().unwrap_or(""),
        );
        passwd = p;
        if a.group.is_some() {
            group = g;
        }
    }
    (passwd, group)
}

/// An account as the jail's etc/passwd and etc/group hold it: its passwd fields and its
/// primary group's name, the ids `Id::New` while `useradd` has still to allocate them (the
/// plan of a dry run that would create the account).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JailAccount {
    pub name: String,
    pub uid: Id,
    pub gid: Id,
    pub gecos: String,
    pub home: String,
    pub shell: String,
    /// The primary group's name; None when its gid has no group (no group line then).
    pub group: Option<String>,
}

impl JailAccount {
    /// An existing account, from its host entry and its primary group's name.
    pub fn of(entry: &PasswdEntry, group: Option<String>) -> Self {
        JailAccount {
            name: entry.name.clone(),
            uid: entry.uid.into(),
            gid: entry.gid.into(),
            gecos: entry.gecos.clone(),
            home: entry.home.clone(),
            shell: entry.shell.clone(),
            group,
        }
    }

    /// Its uid and gid as the owner of what it owns in the jail.
    pub fn owner(&self) -> PlannedOwner {
        PlannedOwner {
            uid: self.uid,
            gid: self.gid,
        }
    }

    /// Its host entry, None while an id is still to be allocated.
    fn entry(&self) -> Option<PasswdEntry> {
        Some(PasswdEntry {
            name: self.name.clone(),
            uid: self.uid.assigned()?,
            gid: self.gid.assigned()?,
            gecos: self.gecos.clone(),
            home: self.home.clone(),
            shell: self.shell.clone(),
        })
    }
}

/// One file of the jail an account's line goes into.
pub struct LineOp {
    /// `passwd` or `group`.
    pub file: &'static str,
    /// The file's text before (None when absent).
    pub before: Option<String>,
    /// `HostOp::PutPasswdLine` or `HostOp::PutGroupLine`.
    pub op: HostOp,
}

/// The operations that put `account`'s lines into the jail's etc/passwd and etc/group: one
/// per file that does not hold them yet (always, while its ids are still to be allocated).
/// `host` None: a jail its build has still to make (the files then start with root's line).
pub fn line_ops(host: Option<&dyn Host>, account: &JailAccount) -> Result<Vec<LineOp>, HostError> {
    let read = |p: &JailPath| match host {
        Some(h) => read_text(h, p),
        None => Ok(None),
    };
    let (passwd, group) = (read(&passwd_path())?, read(&group_path())?);
    let group_name = account.group.clone().unwrap_or_default();
    let after = account
        .entry()
        .map(|e| with_user(passwd.as_deref(), group.as_deref(), &e, &group_name));
    let mut out = Vec::new();
    if after
        .as_ref()
        .is_none_or(|(p, _)| passwd.as_deref() != Some(p))
    {
        let op = HostOp::PutPasswdLine {
            path: passwd_path(),
            name: account.name.clone(),
            uid: account.uid,
            gid: account.gid,
            gecos: account.gecos.clone(),
            home: account.home.clone(),
            shell: account.shell.clone(),
        };
        out.push(LineOp {
            file: "passwd",
            before: passwd,
            op,
        });
    }
    if !group_name.is_empty()
        && after
            .as_ref()
            .is_none_or(|(_, g)| group.as_deref() != Some(g))
    {
        let op = HostOp::PutGroupLine {
            path: group_path(),
            name: group_name,
            gid: account.gid,
        };
        out.push(LineOp {
            file: "group",
            before: group,
            op,
        });
    }
    Ok(out)
}

/// New texts with the user's lines out; the group line stays while another jailed user
/// has it as primary group.
pub fn without_user(
    passwd: &str,
    group: &str,
    name: &str,
    gid: Option<u32>,
    group_name: Option<&str>,
) -> (String, String) {
    let p = jaildb::remove(passwd, name);
    let g = match (gid, group_name) {
        (Some(gid), Some(gn)) if !jaildb::gid_used_by_other(&p, gid, name) => {
            jaildb::remove(group, gn)
        }
        _ => group.to_string(),
    };
    (p, g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::fake::FakeHost;

    fn merged_usr() -> FakeHost {
        FakeHost::default()
            .link("bin", "usr/bin")
            .with("usr", EntryKind::Dir, 0o755)
            .with("usr/bin", EntryKind::Dir, 0o755)
            .with("usr/bin/bash", EntryKind::File, 0o755)
            .link("usr/bin/sh", "bash")
            .link("usr/bin/escape", "../../../../etc/shadow")
            .with("usr/bin/notexec", EntryKind::File, 0o644)
    }

    #[test]
    fn programs_are_found_through_links_without_leaving_the_jail() {
        let h = merged_usr();
        assert!(has_program(&h, "/bin/bash").unwrap());
        assert!(has_program(&h, "/bin/sh").unwrap());
        let (p, _) = lookup(&h, Path::new("/bin/sh")).unwrap().unwrap();
        assert_eq!(p.to_string(), "/usr/bin/bash");
        // `..` stops at the jail root: this is the jail's /etc/shadow, which is absent
        assert!(!has_program(&h, "/bin/escape").unwrap());
        assert!(!has_program(&h, "/bin/notexec").unwrap());
        assert!(!has_program(&h, "/bin/zsh").unwrap());
        let looping = FakeHost::default().link("a", "b").link("b", "a");
        assert!(lookup(&looping, Path::new("/a")).unwrap().is_none());
        assert!(
            h.writes.read().unwrap().is_empty(),
            "a lookup writes nothing"
        );
    }

    #[test]
    fn home_is_made_0700_for_the_user_and_a_planted_link_refused() {
        let owner = Owner {
            uid: 1001,
            gid: 1001,
        };
        let h = FakeHost::default();
        assert_eq!(home_needs(&h, "u", Some(owner)).unwrap(), Needed::Create);
        // the user use case makes them through the journal, in this order
        assert!(
            h.make_dir(&JailPath::new("home").unwrap(), 0o755, Owner::ROOT)
                .unwrap()
        );
        assert!(h.make_dir(&home_of("u"), 0o700, owner).unwrap());
        assert_eq!(home_needs(&h, "u", Some(owner)).unwrap(), Needed::Nothing);
        assert_eq!(
            *h.writes.read().unwrap(),
            vec!["mkdir /home", "mkdir /home/u"]
        );
        let m = h.stat(&home_of("u")).unwrap().unwrap();
        assert_eq!((m.mode, m.uid), (0o700, 1001));

        let planted = FakeHost::default()
            .with("home", EntryKind::Dir, 0o755)
            .link("home/u", "/etc");
        assert!(matches!(
            home_needs(&planted, "u", Some(owner)),
            Err(HostError::WrongType { .. })
        ));
        let via_link = FakeHost::default().link("home", "/");
        assert!(matches!(
            home_needs(&via_link, "u", Some(owner)),
            Err(HostError::Symlink { .. })
        ));
    }

    /// u, 1001:1001, /home/u, bash.
    fn user_u() -> PasswdEntry {
        PasswdEntry {
            name: "u".into(),
            uid: 1001,
            gid: 1001,
            gecos: String::new(),
            home: "/home/u".into(),
            shell: "/bin/bash".into(),
        }
    }

    #[test]
    fn passwd_and_group_are_merged_and_unmerged() {
        let entry = user_u();
        let (p, g) = with_user(None, None, &entry, "u");
        assert_eq!(
            p,
            format!("{}u:x:1001:1001::/home/u:/bin/bash\n", jaildb::ROOT_PASSWD)
        );
        assert_eq!(g, format!("{}u:x:1001:\n", jaildb::ROOT_GROUP));
        // root first, then by name, whatever order the accounts came in
        let (p1, _) = with_user(
            Some("zz:x:7:7::/:/s\nroot:x:0:0:root:/root:/bin/sh\n"),
            None,
            &entry,
            "u",
        );
        assert_eq!(
            p1,
            "root:x:0:0:root:/root:/bin/sh\nu:x:1001:1001::/home/u:/bin/bash\nzz:x:7:7::/:/s\n"
        );
        let (p2, g2) = without_user(&p, &g, "u", Some(1001), Some("u"));
        assert_eq!(
            (p2.as_str(), g2.as_str()),
            (jaildb::ROOT_PASSWD, jaildb::ROOT_GROUP)
        );

        let h = FakeHost::default().file("etc/passwd", &p);
        assert_eq!(
            read_text(&h, &passwd_path()).unwrap().as_deref(),
            Some(p.as_str())
        );
        assert_eq!(read_text(&h, &group_path()).unwrap(), None);
    }

    #[test]
    fn line_ops_plan_what_is_missing_and_always_an_account_still_to_be_created() {
        let entry = user_u();
        let known = JailAccount::of(&entry, Some("u".into()));
        let h = FakeHost::default().with("etc", EntryKind::Dir, 0o755);
        let files = |ops: &[LineOp]| ops.iter().map(|l| l.file).collect::<Vec<_>>();
        assert_eq!(
            files(&line_ops(Some(&h), &known).unwrap()),
            ["passwd", "group"]
        );
        let (p, g) = with_user(None, None, &entry, "u");
        h.write_file(&passwd_path(), p.as_bytes(), 0o644, Owner::ROOT)
            .unwrap();
        h.write_file(&group_path(), g.as_bytes(), 0o644, Owner::ROOT)
            .unwrap();
        assert!(
            line_ops(Some(&h), &known).unwrap().is_empty(),
            "lines in place"
        );
        // the same account before useradd gave it its ids: both planned, ids "new"
        let new = JailAccount {
            uid: Id::New,
            gid: Id::New,
            ..known.clone()
        };
        let ops = line_ops(Some(&h), &new).unwrap();
        assert_eq!(files(&ops), ["passwd", "group"]);
        assert!(matches!(
            ops[0].op,
            HostOp::PutPasswdLine { uid: Id::New, .. }
        ));
        assert_eq!(new.owner().assigned(), None);
        // no group on the host for its gid: no group line; no jail yet: root's files
        let groupless = JailAccount {
            group: None,
            ..known
        };
        let ops = line_ops(None, &groupless).unwrap();
        assert_eq!(files(&ops), ["passwd"]);
        assert_eq!(ops[0].before, None);
    }

    #[test]
    fn derived_files_hold_root_and_the_accounts_as_user_writes_them() {
        let entry = |name: &str, id: u32| PasswdEntry {
            name: name.into(),
            uid: id,
            gid: id,
            gecos: String::new(),
            home: format!("/home/{name}"),
            shell: "/bin/bash".into(),
        };
        let accounts = [
            JailAccount::of(&entry("web", 990), Some("web".into())),
            JailAccount::of(&entry("ann", 1001), None),
        ];
        let (p, g) = derived_files(&accounts);
        // as `user` then `service` would have written them, one after the other
        let (p1, g1) = with_user(None, None, &entry("ann", 1001), "");
        let (p2, g2) = with_user(Some(&p1), Some(&g1), &entry("web", 990), "web");
        assert_eq!(p, p2);
        assert_eq!(
            p,
            "root:x:0:0:root:/root:/bin/sh\nann:x:1001:1001::/home/ann:/bin/bash\n\
             web:x:990:990::/home/web:/bin/bash\n"
        );
        // ann's gid has no group on the host: no group line, as `user` writes none
        assert_eq!(g, "root:x:0:\nweb:x:990:\n");
        assert_ne!(
            g2, g,
            "with_user alone would have added a nameless group line"
        );
        assert_eq!(
            derived_files(&[]),
            (jaildb::ROOT_PASSWD.into(), jaildb::ROOT_GROUP.into())
        );
    }
}
