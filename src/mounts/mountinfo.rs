//! `/proc/self/mountinfo`: the mounts the kernel shows this process. Parsing is pure; one
//! function reads the file.

use std::path::{Path, PathBuf};

/// One line of mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    pub id: u64,
    /// Root of the mount within its filesystem (for a bind: the source's path there).
    pub root: PathBuf,
    pub mount_point: PathBuf,
    /// Per-mount options (`rw,nosuid,nodev,relatime`).
    pub options: Vec<String>,
    pub fstype: String,
    pub source: String,
    /// Per-superblock options (`rw,hidepid=invisible,subset=pid` for a private procfs).
    pub super_options: Vec<String>,
}

impl MountEntry {
    pub fn has(&self, opt: &str) -> bool {
        self.options.iter().any(|o| o == opt)
    }

    pub fn read_only(&self) -> bool {
        self.has("ro")
    }

    /// Whether the filesystem (not the mount) carries `opt`.
    pub fn has_super(&self, opt: &str) -> bool {
        self.super_options.iter().any(|o| o == opt)
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let digits = &b[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                out.push((digits[0] - b'0') * 64 + (digits[1] - b'0') * 8 + (digits[2] - b'0'));
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses mountinfo text; malformed lines are skipped.
pub fn parse(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountEntry> {
    let fields: Vec<&str> = line.split(' ').collect();
    let sep = fields.iter().position(|f| *f == "-")?;
    if sep < 6 || fields.len() < sep + 3 {
        return None;
    }
    Some(MountEntry {
        id: fields[0].parse().ok()?,
        root: PathBuf::from(unescape(fields[3])),
        mount_point: PathBuf::from(unescape(fields[4])),
        options: fields[5].split(',').map(str::to_string).collect(),
        fstype: fields[sep + 1].to_string(),
        source: unescape(fields[sep + 2]),
        super_options: fields
            .get(sep + 3)
            .map(|o| o.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
    })
}

/// The current mount table.
pub fn read() -> std::io::Result<Vec<MountEntry>> {
    std::fs::read_to_string("/proc/self/mountinfo").map(|t| parse(&t))
}

/// Mounts strictly below `jail` (the jail root itself may be a mount point), in table order.
/// When one point is mounted several times, the last (topmost) entry is kept.
pub fn under(table: &[MountEntry], jail: &Path) -> Vec<MountEntry> {
    let mut out: Vec<MountEntry> = Vec::new();
    for m in table {
        if m.mount_point != jail && m.mount_point.starts_with(jail) {
            out.retain(|o| o.mount_point != m.mount_point);
            out.push(m.clone());
        }
    }
    out
}

/// The topmost mount at exactly `point`.
pub fn at<'a>(table: &'a [MountEntry], point: &Path) -> Option<&'a MountEntry> {
    table.iter().rev().find(|m| m.mount_point == point)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n\
        40 22 8:1 /srv/data /srv/jail/data ro,nosuid,nodev,relatime shared:1 - ext4 /dev/sda1 rw\n\
        41 22 0:5 / /srv/jail/proc rw,nosuid,nodev,noexec - proc proc rw\n\
        42 22 8:1 /x /srv/jail/with\\040space rw - ext4 /dev/sda1 rw\n";

    #[test]
    fn parses_and_filters() {
        let t = parse(SAMPLE);
        assert_eq!(t.len(), 4);
        let u = under(&t, Path::new("/srv/jail"));
        assert_eq!(u.len(), 3);
        assert!(u[0].read_only() && u[0].has("nosuid") && u[0].has("nodev"));
        assert_eq!(u[0].root, Path::new("/srv/data"));
        assert_eq!(u[1].fstype, "proc");
        assert!(u[1].has_super("rw") && !u[1].has_super("subset=pid"));
        assert_eq!(u[2].mount_point, Path::new("/srv/jail/with space"));
        assert!(at(&t, Path::new("/")).is_some());
    }
}
