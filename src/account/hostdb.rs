//! The host's account database as files (/etc/passwd, /etc/group, /etc/shadow): parsing is
//! pure, reading takes the paths as arguments. Read-only; changes go through `useradd`.

use std::path::{Path, PathBuf};

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

fn read(path: &Path) -> Result<String, AccountError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(AccountError::io("read", path)(e)),
    }
}

impl HostDb {
    /// Looks an account up in the files; Ok(None) when there is no such user.
    pub fn lookup(&self, name: &str) -> Result<Option<HostAccount>, AccountError> {
        let Some(entry) = find_passwd(&read(&self.passwd)?, name) else {
            return Ok(None);
        };
        let group = group_name(&read(&self.group)?, entry.gid);
        let password = shadow_password(&read(&self.shadow)?, name);
        Ok(Some(HostAccount {
            entry,
            group,
            password,
        }))
    }

    /// Every group of the account (primary first), from the group file.
    pub fn groups(&self, entry: &PasswdEntry) -> Result<Vec<(String, u32)>, AccountError> {
        Ok(groups_of(&read(&self.group)?, &entry.name, entry.gid))
    }

    /// True when some account already has `uid`.
    pub fn uid_taken(&self, uid: u32) -> Result<bool, AccountError> {
        Ok(read(&self.passwd)?
            .lines()
            .filter_map(parse_passwd_line)
            .any(|e| e.uid == uid))
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
}
