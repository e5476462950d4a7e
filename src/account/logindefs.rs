//! /etc/login.defs: the few numbers jailsmith needs (the uid ranges of login and system
//! accounts). Parsing is pure; absent keys take shadow-utils' built-in defaults.

use std::path::Path;

use super::AccountError;
pub use crate::plan::denylist::UidRanges;

/// The default login.defs path.
pub const PATH: &str = "/etc/login.defs";

/// UID_MIN when login.defs does not set it (shadow-utils' built-in default).
pub const DEFAULT_UID_MIN: u32 = 1000;
/// UID_MAX when login.defs does not set it.
pub const DEFAULT_UID_MAX: u32 = 60000;
/// SYS_UID_MIN when login.defs does not set it (SYS_UID_MAX defaults to UID_MIN - 1).
pub const DEFAULT_SYS_UID_MIN: u32 = 101;

/// The value of `KEY` in login.defs text (`KEY value`, `#` comments), if set.
pub fn value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            (it.next()? == key).then(|| it.next()).flatten()
        })
        .next_back()
}

/// UID_MIN from login.defs text; the built-in default when unset or unparsable.
pub fn uid_min(text: &str) -> u32 {
    value(text, "UID_MIN")
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_UID_MIN)
}

fn number(text: &str, key: &str) -> Option<u32> {
    value(text, key).and_then(|v| v.parse().ok())
}

/// The uid ranges of login and system accounts, as `useradd` (shadow-utils) reads them.
pub fn ranges(text: &str) -> UidRanges {
    let uid_min = uid_min(text);
    UidRanges {
        uid_min,
        uid_max: number(text, "UID_MAX").unwrap_or(DEFAULT_UID_MAX),
        sys_uid_min: number(text, "SYS_UID_MIN").unwrap_or(DEFAULT_SYS_UID_MIN),
        sys_uid_max: number(text, "SYS_UID_MAX").unwrap_or(uid_min.saturating_sub(1)),
    }
}

/// Reads the uid ranges from the file; a missing file means the built-in defaults.
pub fn read_ranges(path: &Path) -> Result<UidRanges, AccountError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(ranges(&t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ranges("")),
        Err(e) => Err(AccountError::io("read", path)(e)),
    }
}

/// Reads UID_MIN from the file; a missing file means the built-in default.
pub fn read_uid_min(path: &Path) -> Result<u32, AccountError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(uid_min(&t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DEFAULT_UID_MIN),
        Err(e) => Err(AccountError::io("read", path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_uid_min() {
        let t = "# UID_MIN 5\nUID_MIN\t\t\t 1000\nUID_MAX 60000\n";
        assert_eq!(uid_min(t), 1000);
        assert_eq!(uid_min("UID_MIN 500\n"), 500);
        assert_eq!(uid_min("#UID_MIN 500\n"), DEFAULT_UID_MIN);
        assert_eq!(uid_min("UID_MIN junk\n"), DEFAULT_UID_MIN);
    }

    #[test]
    fn reads_ranges_with_shadow_defaults() {
        let r = ranges("UID_MIN 500\nUID_MAX 6000\nSYS_UID_MIN 200\nSYS_UID_MAX 450\n");
        assert_eq!(
            (r.uid_min, r.uid_max, r.sys_uid_min, r.sys_uid_max),
            (500, 6000, 200, 450)
        );
        let d = ranges("UID_MIN 2000\n");
        assert_eq!(
            (d.uid_min, d.uid_max, d.sys_uid_min, d.sys_uid_max),
            (2000, 60000, 101, 1999)
        );
    }
}
