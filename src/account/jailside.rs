//! What an account needs inside its jail, done only through `apply::Host` (no symlink is
//! ever followed): the shell's presence, `/home/NAME` (0700, the user's), and the user's
//! lines in the jail's etc/passwd and etc/group. Every function returns what changed.

use std::collections::VecDeque;
use std::path::{Component, Path};

use crate::apply::{EntryKind, Host, HostError, Meta};
use crate::plan::{JailPath, Owner};

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
    Fix(String),
}

/// What `home/NAME` needs: a real directory, 0700, owned by `owner`. Anything else there
/// (symlink, FIFO, file) is refused by the caller.
pub fn home_needs(host: &dyn Host, name: &str, owner: Owner) -> Result<Needed, HostError> {
    let path = home_of(name);
    Ok(match host.stat(&path)? {
        None => Needed::Create,
        Some(m) if m.kind != EntryKind::Dir => {
            return Err(HostError::WrongType {
                jail: host.root().to_path_buf(),
                path: path.to_string(),
                found: kind_name(&m.kind),
                expected: "directory",
                op: "make the user's home",
            });
        }
        Some(m) if m.mode & 0o7777 != 0o700 || m.uid != owner.uid || m.gid != owner.gid => {
            Needed::Fix(format!(
                "owner {}:{} mode {:04o} → {}:{} 0700",
                m.uid,
                m.gid,
                m.mode & 0o7777,
                owner.uid,
                owner.gid
            ))
        }
        Some(_) => Needed::Nothing,
    })
}

/// Makes `home` (root 0755, when missing) and `home/NAME` (0700, the user's).
pub fn make_home(host: &dyn Host, name: &str, owner: Owner) -> Result<bool, HostError> {
    let home = JailPath::new("home").expect("static path");
    let mut changed = false;
    if host.stat(&home)?.is_none() {
        changed |= host.make_dir(&home, 0o755, Owner::ROOT)?;
    }
    changed |= host.make_dir(&home_of(name), 0o700, owner)?;
    Ok(changed)
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

/// New etc/passwd and etc/group texts with the user's lines in (pure over the old texts).
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
    (p, g)
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

/// Writes a root-owned 0644 /etc file in the jail (making etc/ root 0755 when missing).
pub fn write_etc(host: &dyn Host, path: &JailPath, text: &str) -> Result<(), HostError> {
    if let Some(parent) = path.parent()
        && host.stat(&parent)?.is_none()
    {
        host.make_dir(&parent, 0o755, Owner::ROOT)?;
    }
    host.write_file(path, text.as_bytes(), 0o644, Owner::ROOT)
}

/// Name of an entry kind for messages.
pub fn kind_name(k: &EntryKind) -> &'static str {
    match k {
        EntryKind::File => "file",
        EntryKind::Dir => "directory",
        EntryKind::Symlink { .. } => "symlink",
        EntryKind::CharDevice { .. } => "character device",
        EntryKind::BlockDevice => "block device",
        EntryKind::Fifo => "FIFO",
        EntryKind::Socket => "socket",
    }
}

/// Removes `path` and everything under it through `host` (files with `remove`, then the
/// emptied directories with `remove_dir`); nothing is followed. Directory listings are read
/// from the host path of an entry `host.stat` has just shown to be a real directory: a
/// listing can only name entries, every removal still goes through `host`.
pub fn remove_tree(host: &dyn Host, path: &JailPath) -> Result<bool, HostError> {
    let Some(meta) = host.stat(path)? else {
        return Ok(false);
    };
    if meta.kind != EntryKind::Dir {
        return host.remove(path);
    }
    let on_host = host.root().join(path.rel());
    let io = |source| HostError::Io {
        jail: host.root().to_path_buf(),
        path: path.to_string(),
        op: "list",
        source,
    };
    for entry in std::fs::read_dir(&on_host).map_err(io)? {
        let name = entry.map_err(io)?.file_name();
        let child = path
            .join(&name.to_string_lossy())
            .map_err(|_| HostError::WrongType {
                jail: host.root().to_path_buf(),
                path: format!("{path}/{}", name.to_string_lossy()),
                found: "odd name",
                expected: "plain name",
                op: "remove",
            })?;
        remove_tree(host, &child)?;
    }
    host.remove_dir(path)
}
