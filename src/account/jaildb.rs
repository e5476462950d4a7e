//! The jail's own etc/passwd and etc/group (pure): merging one user's line into them and
//! taking it out again, in one order (root first, then by name). Lines of other users are
//! kept as they are; nothing else from the host is ever copied, and there is never a
//! shadow file. A build derives both files from the state (`jailside::derived_files`).

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

/// `text` in the order a jail's files keep: root's line first, then the others by name
/// (blank lines dropped). `user`, `service` and the build's derivation all write this
/// order, so whichever wrote last, the same accounts give the same bytes.
pub fn in_order(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines.sort_by_key(|l| (first_field(l) != "root", first_field(l)));
    lines.iter().flat_map(|l| [*l, "\n"]).collect()
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

/// The names of `passwd`'s lines (a jail's file as found) other than root's and `kept`'s:
/// what a build that derives the file leaves out, to be said (escaped) in a warning.
pub fn left_out(passwd: &str, kept: &[&str]) -> Vec<String> {
    passwd
        .lines()
        .map(first_field)
        .filter(|n| !n.trim().is_empty() && *n != "root" && !kept.contains(n))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_derived_file_leaves_out_is_named() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/bash\n\ndaemon:x:1:1::/:/bin/false\n";
        assert_eq!(left_out(passwd, &["alice"]), ["daemon"]);
        assert!(left_out(passwd, &["alice", "daemon"]).is_empty());
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
    fn root_first_then_by_name() {
        let t = "zed:x:3:\n\nroot:x:0:\namy:x:5:\n";
        assert_eq!(in_order(t), "root:x:0:\namy:x:5:\nzed:x:3:\n");
        assert_eq!(in_order(&in_order(t)), in_order(t));
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
