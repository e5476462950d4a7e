//! Program lookup the way a shell would, but in a fixed secure PATH, never the caller's.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The PATH `--bin NAME` is looked up in.
pub const SECURE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A name with a slash is taken as a path; otherwise the first executable regular file in
/// SECURE_PATH. Returns None when nothing matches.
pub fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = Path::new(name);
        return p.exists().then(|| p.to_path_buf());
    }
    SECURE_PATH
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh_and_not_nonsense() {
        assert!(find_program("sh").is_some());
        assert!(find_program("no-such-program-jailsmith").is_none());
    }
}
