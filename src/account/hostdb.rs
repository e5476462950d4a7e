//! The host's account database as files (/etc/passwd, /etc/group, /etc/shadow): parsing is
//! pure, reading takes the paths as arguments. Read-only; changes go through `useradd`.
//! Each file is read and indexed once per run: the index is kept while the file's identity
//! (device, inode, size, mtime) stays the same, so a change by shadow-utils (which replaces
//! the file) is seen by the next lookup.

use std::any::Any;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::AccountError;

/// One passwd entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: String,
    pub shell: String,
}

impl PasswdEntry {
    /// The entry as a passwd line, with `x` as password (there is no shadow in a jail).
    pub fn line(&self) -> String {
        format!(
            "{}:x:{}:{}:{}:{}:{}",
            self.name, self.uid, self.gid, self.gecos, self.home, self.shell
        )
    }
}

/// Where the host keeps its account files; tests may point elsewhere.
#[derive(Clone, Debug)]
pub struct HostDb {
    pub passwd: PathBuf,
    pub group: PathBuf,
    pub shadow: PathBuf,
}

impl Default for HostDb {
    fn default() -> Self {
        Self {
            passwd: "/etc/passwd".into(),
            group: "/etc/group".into(),
            shadow: "/etc/shadow".into(),
        }
    }
}

/// The host facts about one account that jailsmith compares against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostAccount {
    pub entry: PasswdEntry,
    /// Name of the primary group (None when the gid has no group entry).
    pub group: Option<String>,
    /// The shadow password field (None when there is no shadow entry).
    pub password: Option<String>,
}

/// Parses a passwd line; None for comments, blanks and malformed lines.
pub fn parse_passwd_line(line: &str) -> Option<PasswdEntry> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() != 7 {
        return None;
    }
    Some(PasswdEntry {
        name: f[0].to_string(),
        uid: f[2].parse().ok()?,
        gid: f[3].parse().ok()?,
        gecos: f[4].to_string(),
        home: f[5].to_string(),
        shell: f[6].to_string(),
    })
}

/// The passwd entry called `name` in passwd text.
pub fn find_passwd(text: &str, name: &str) -> Option<PasswdEntry> {
    text.lines()
        .filter_map(parse_passwd_line)
        .find(|e| e.name == name)
}

/// The name of the group with `gid` in group text.
pub fn group_name(text: &str, gid: u32) -> Option<String> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() == 4 && f[2].parse() == Ok(gid)).then(|| f[0].to_string())
    })
}

/// Every group of an account, primary (`gid`) first: (name, gid); the primary group's name
/// is empty when `gid` has no entry. Supplementary groups are those listing `name`.
pub fn groups_of(text: &str, name: &str, gid: u32) -> Vec<(String, u32)> {
    let mut out = vec![(group_name(text, gid).unwrap_or_default(), gid)];
    for l in text.lines() {
        let f: Vec<&str> = l.split(':').collect();
        let Some(g) = f.get(2).and_then(|g| g.parse::<u32>().ok()) else {
            continue;
        };
        if f.len() == 4 && g != gid && f[3].split(',').any(|m| m.trim() == name) {
            out.push((f[0].to_string(), g));
        }
    }
    out
}

/// The password field of `name` in shadow text.
pub fn shadow_password(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then(|| f.next().map(str::to_string))?
    })
}

/// A group line: name, gid and members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// Parses a group line; None for comments, blanks and malformed lines.
pub fn parse_group_line(line: &str) -> Option<GroupEntry> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() != 4 {
        return None;
    }
    Some(GroupEntry {
        name: f[0].to_string(),
        gid: f[2].parse().ok()?,
        members: f[3]
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

/// The passwd file indexed by name and uid.
#[derive(Debug, Default)]
struct PasswdIndex {
    by_name: HashMap<String, PasswdEntry>,
    uids: std::collections::HashSet<u32>,
}

/// The group file: entries in file order, by name and gid, and each user's memberships.
#[derive(Debug, Default)]
pub struct GroupIndex {
    pub entries: Vec<GroupEntry>,
    by_name: HashMap<String, usize>,
    by_gid: HashMap<u32, usize>,
    member_of: HashMap<String, Vec<usize>>,
}

impl GroupIndex {
    pub fn parse(text: &str) -> Self {
        let mut ix = GroupIndex::default();
        for e in text.lines().filter_map(parse_group_line) {
            let i = ix.entries.len();
            ix.by_name.entry(e.name.clone()).or_insert(i);
            ix.by_gid.entry(e.gid).or_insert(i);
            for m in &e.members {
                ix.member_of.entry(m.clone()).or_default().push(i);
            }
            ix.entries.push(e);
        }
        ix
    }

    /// The group called `name`.
    pub fn by_name(&self, name: &str) -> Option<&GroupEntry> {
        self.by_name.get(name).map(|&i| &self.entries[i])
    }

    /// The group with `gid`.
    pub fn by_gid(&self, gid: u32) -> Option<&GroupEntry> {
        self.by_gid.get(&gid).map(|&i| &self.entries[i])
    }

    /// The groups listing `user` as a member (not its primary group).
    pub fn member_of<'a>(&'a self, user: &str) -> impl Iterator<Item = &'a GroupEntry> + 'a {
        self.member_of
            .get(user)
            .into_iter()
            .flatten()
            .map(|&i| &self.entries[i])
    }
}

/// `parse` of the file at `path` (empty text when absent), computed once per version of it.
fn cached<T: Any + Send + Sync>(
    path: &Path,
    kind: &'static str,
    parse: impl FnOnce(&str) -> T,
) -> Result<Arc<T>, AccountError> {
    crate::filecache::cached(path, kind, || read(path).map(|text| parse(&text)))
}

fn read(path: &Path) -> Result<String, AccountError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(AccountError::io("read", path)(e)),
    }
}

fn passwd_index(text: &str) -> PasswdIndex {
    let mut ix = PasswdIndex::default();
    for e in text.lines().filter_map(parse_passwd_line) {
        ix.uids.insert(e.uid);
        ix.by_name.entry(e.name.clone()).or_insert(e);
    }
    ix
}

fn shadow_index(text: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for l in text.lines() {
        let mut f = l.split(':');
        if let (Some(n), Some(p)) = (f.next(), f.next()) {
            m.entry(n.to_string()).or_insert_with(|| p.to_string());
        }
    }
    m
}

impl HostDb {
    /// Looks an account up in the files; Ok(None) when there is no such user.
    pub fn lookup(&self, name: &str) -> Result<Option<HostAccount>, AccountError> {
        let Some(entry) = self.entry(name)? else {
            return Ok(None);
        };
        let group = self
            .group_index()?
            .by_gid(entry.gid)
            .map(|g| g.name.clone());
        let password = cached(&self.shadow, "shadow", shadow_index)?
            .get(name)
            .cloned();
        Ok(Some(HostAccount {
            entry,
            group,
            password,
        }))
    }

    /// The passwd entry of `name` (without reading shadow).
    pub fn entry(&self, name: &str) -> Result<Option<PasswdEntry>, AccountError> {
        Ok(cached(&self.passwd, "passwd", passwd_index)?
            .by_name
            .get(name)
            .cloned())
    }

    /// The group file, indexed.
    pub fn group_index(&self) -> Result<Arc<GroupIndex>, AccountError> {
        cached(&self.group, "group", GroupIndex::parse)
    }

    /// Every group of the account (primary first), from the group file.
    pub fn groups(&self, entry: &PasswdEntry) -> Result<Vec<(String, u32)>, AccountError> {
        let ix = self.group_index()?;
        let primary = ix.by_gid(entry.gid).map(|g| g.name.clone());
        let mut out = vec![(primary.unwrap_or_default(), entry.gid)];
        out.extend(
            ix.member_of(&entry.name)
                .filter(|g| g.gid != entry.gid)
                .map(|g| (g.name.clone(), g.gid)),
        );
        Ok(out)
    }

    /// True when some account already has `uid`.
    pub fn uid_taken(&self, uid: u32) -> Result<bool, AccountError> {
        Ok(cached(&self.passwd, "passwd", passwd_index)?
            .uids
            .contains(&uid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/bash\n#c\nimsad:x:1001:1001:I S:/home/imsad:/bin/bash\n";
    const GROUP: &str = "root:x:0:\nimsad:x:1001:\n";
    const SHADOW: &str = "root:*:1::::::\nimsad:!:19000:0:99999:7:::\n";

    #[test]
    fn finds_entries() {
        let e = find_passwd(PASSWD, "imsad").unwrap();
        assert_eq!((e.uid, e.gid, e.home.as_str()), (1001, 1001, "/home/imsad"));
        assert_eq!(e.line(), "imsad:x:1001:1001:I S:/home/imsad:/bin/bash");
        assert!(find_passwd(PASSWD, "ims").is_none());
        assert_eq!(group_name(GROUP, 1001).as_deref(), Some("imsad"));
        assert_eq!(shadow_password(SHADOW, "imsad").as_deref(), Some("!"));
        assert_eq!(shadow_password(SHADOW, "nobody"), None);
    }

    #[test]
    fn groups_primary_first_then_memberships() {
        let g = "root:x:0:\nadm:x:4:a,imsad\nimsad:x:1001:\nadmins:x:5:imsadx\n";
        assert_eq!(
            groups_of(g, "imsad", 1001),
            vec![("imsad".to_string(), 1001), ("adm".to_string(), 4)]
        );
        assert_eq!(groups_of(g, "x", 77), vec![(String::new(), 77)]);
    }

    #[test]
    fn the_index_follows_the_file() {
        let d = tempfile::tempdir().unwrap();
        let db = HostDb {
            passwd: d.path().join("passwd"),
            group: d.path().join("group"),
            shadow: d.path().join("shadow"),
        };
        std::fs::write(&db.passwd, PASSWD).unwrap();
        std::fs::write(&db.group, "root:x:0:\nimsad:x:1001:\ng:x:900:a,imsad\n").unwrap();
        let acc = db.lookup("imsad").unwrap().unwrap();
        assert_eq!(acc.group.as_deref(), Some("imsad"));
        assert_eq!(acc.password, None);
        assert_eq!(
            db.groups(&acc.entry).unwrap(),
            vec![("imsad".to_string(), 1001), ("g".to_string(), 900)]
        );
        assert!(db.uid_taken(1001).unwrap() && !db.uid_taken(1002).unwrap());
        // replaced as shadow-utils does: a new file renamed over the old one
        let tmp = d.path().join("group.new");
        std::fs::write(&tmp, "root:x:0:\nimsad:x:1001:\ng:x:900:a\n").unwrap();
        std::fs::rename(&tmp, &db.group).unwrap();
        assert_eq!(db.groups(&acc.entry).unwrap().len(), 1);
        assert!(
            db.group_index()
                .unwrap()
                .member_of("a")
                .any(|g| g.name == "g")
        );
    }
}
