//! /etc/login.defs: the few numbers jailsmith needs (UID_MIN). Parsing is pure.

use std::path::Path;

use super::AccountError;

/// The default login.defs path.
pub const PATH: &str = "/etc/login.defs";

/// UID_MIN when login.defs does not set it (shadow-utils' built-in default).
pub const DEFAULT_UID_MIN: u32 = 1000;

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
}
