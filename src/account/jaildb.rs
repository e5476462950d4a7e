//! The jail's own etc/passwd and etc/group (pure): merging one user's line into them and
//! taking it out again. Lines of other users are kept as they are; nothing else from the
//! host is ever copied, and there is never a shadow file.

/// Minimal passwd and group content for a jail that has none yet.
pub const ROOT_PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n";
pub const ROOT_GROUP: &str = "root:x:0:\n";

fn first_field(line: &str) -> &str {
    line.split(':').next().unwrap_or("")
}

/// `text` with the line whose first field is `key` replaced by `line` (appended if absent).
pub fn upsert(text: &str, key: &str, line: &str) -> String {
    let mut out = String::new();
    let mut done = false;
    for l in text.lines() {
        if first_field(l) == key {
            if !done {
                out.push_str(line);
                out.push('\n');
                done = true;
            }
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    if !done {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `text` without the lines whose first field is `key`.
pub fn remove(text: &str, key: &str) -> String {
    text.lines()
        .filter(|l| first_field(l) != key)
        .flat_map(|l| [l, "\n"])
        .collect()
}

/// True when some passwd line other than `except`'s has `gid` as its primary group.
pub fn gid_used_by_other(passwd: &str, gid: u32, except: &str) -> bool {
    passwd.lines().any(|l| {
        let f: Vec<&str> = l.split(':').collect();
        f.len() == 7 && f[0] != except && f[3].parse() == Ok(gid)
    })
}

/// The group line of a user's primary group in the jail: name, gid, no members.
pub fn group_line(group: &str, gid: u32) -> String {
    format!("{group}:x:{gid}:")
}

/// The jail's passwd and group texts with only root and the accounts jailsmith put there
/// (`known`: the jail's users and service accounts) kept, and the names of the passwd lines
/// dropped. A group line stays when it is root's or the primary group of a kept account.
/// Host accounts found in an adopted jail (or planted there) are left out this way.
pub fn keep_known(passwd: &str, group: &str, known: &[&str]) -> (String, String, Vec<String>) {
    let mut dropped = Vec::new();
    let mut gids = vec!["0".to_string()];
    let mut p = String::new();
    for l in passwd.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = l.split(':').collect();
        if f[0] == "root" || known.contains(&f[0]) {
            if let Some(gid) = f.get(3) {
                gids.push(gid.to_string());
            }
            p.push_str(l);
            p.push('\n');
        } else {
            dropped.push(f[0].to_string());
        }
    }
    let mut g = String::new();
    for l in group.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = l.split(':').collect();
        if f[0] == "root" || f.get(2).is_some_and(|gid| gids.iter().any(|k| k == gid)) {
            g.push_str(l);
            g.push('\n');
        }
    }
    (p, g, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_root_and_known_accounts_are_kept() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/bash\ndaemon:x:1:1::/:/bin/false\n";
        let group = "root:x:0:\nalice:x:1001:\ndaemon:x:1:\nsudo:x:27:alice\n";
        let (p, g, dropped) = keep_known(passwd, group, &["alice"]);
        assert_eq!(
            p,
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/bash\n"
        );
        assert_eq!(g, "root:x:0:\nalice:x:1001:\n");
        assert_eq!(dropped, vec!["daemon".to_string()]);
    }

    #[test]
    fn upsert_replaces_only_that_user() {
        let t =
            "root:x:0:0::/root:/bin/sh\nimsad:x:1:1::/old:/bin/sh\nbob:x:2:2::/home/bob:/bin/sh\n";
        let n = upsert(t, "imsad", "imsad:x:1:1::/home/imsad:/bin/bash");
        assert_eq!(
            n,
            "root:x:0:0::/root:/bin/sh\nimsad:x:1:1::/home/imsad:/bin/bash\nbob:x:2:2::/home/bob:/bin/sh\n"
        );
        assert_eq!(upsert(&n, "imsad", "imsad:x:1:1::/home/imsad:/bin/bash"), n);
        let added = upsert(
            "root:x:0:0::/root:/bin/sh",
            "eve",
            "eve:x:3:3::/home/eve:/bin/sh",
        );
        assert_eq!(
            added,
            "root:x:0:0::/root:/bin/sh\neve:x:3:3::/home/eve:/bin/sh\n"
        );
        // a prefix of another name is not that name
        assert!(upsert(t, "ims", "ims:x:9:9::/h:/s").contains("imsad:x:1:1"));
    }

    #[test]
    fn remove_keeps_others() {
        let t = "root:x:0:\nimsad:x:1:\nbob:x:2:\n";
        assert_eq!(remove(t, "imsad"), "root:x:0:\nbob:x:2:\n");
        assert_eq!(remove(t, "nobody"), t);
    }

    #[test]
    fn shared_group_detection() {
        let p = "a:x:5:100::/home/a:/bin/sh\nb:x:6:100::/home/b:/bin/sh\n";
        assert!(gid_used_by_other(p, 100, "a"));
        assert!(!gid_used_by_other("a:x:5:100::/home/a:/bin/sh\n", 100, "a"));
    }
}
