//! The base tree every jail gets: /dev with the allowed nodes, /etc/passwd and /etc/group
//! holding root (plus the jail's own accounts, derived from its state by the caller, never
//! read from the jail), a `files`-only nsswitch.conf, /home and a sticky /tmp. Pure.

use super::build::{BuildRequest, ContentFile, Device, ExtraDir};
use super::{JailPath, Owner};

const ROOT_PASSWD: &str = "root:x:0:0:root:/root:/bin/sh";
const ROOT_GROUP: &str = "root:x:0:";
const NSSWITCH: &str = "# Written by jailsmith: only the jail's own files answer.\npasswd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n";

/// Keeps every line of `existing` except root's, and puts `root_line` first.
pub fn merge_root_line(existing: &str, root_line: &str) -> String {
    let mut out = format!("{root_line}\n");
    for line in existing.lines() {
        if line.split(':').next() == Some("root") || line.trim().is_empty() {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn jp(p: &str) -> JailPath {
    JailPath::new(p).expect("base tree paths are valid")
}

/// The base tree; `passwd`/`group` hold the jail's accounts ("" for none): root's line is
/// put first either way.
pub fn base_tree(passwd: &str, group: &str, devices: Vec<Device>) -> BuildRequest {
    let dir = |p: &str, mode: u32| ExtraDir {
        path: jp(p),
        mode,
        owner: Owner::ROOT,
    };
    let file = |p: &str, content: String, reason: &str| ContentFile {
        path: jp(p),
        content,
        mode: 0o644,
        reason: reason.to_string(),
    };
    BuildRequest {
        entries: Vec::new(),
        dirs: vec![
            dir("dev", 0o755),
            dir("etc", 0o755),
            dir("home", 0o755),
            dir("tmp", 0o1777),
        ],
        devices,
        contents: vec![
            file(
                "etc/passwd",
                merge_root_line(passwd, ROOT_PASSWD),
                "root and the jail's users only",
            ),
            file(
                "etc/group",
                merge_root_line(group, ROOT_GROUP),
                "root and the jail's groups only",
            ),
            file(
                "etc/nsswitch.conf",
                NSSWITCH.to_string(),
                "name lookups from the jail's own files",
            ),
        ],
        binaries: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_kept_and_root_is_first() {
        let merged = merge_root_line(
            "alice:x:1001:1001::/home/alice:/bin/bash\nroot:x:0:0:evil:/:/bin/sh\n",
            ROOT_PASSWD,
        );
        assert_eq!(
            merged,
            format!("{ROOT_PASSWD}\nalice:x:1001:1001::/home/alice:/bin/bash\n")
        );
    }
}
