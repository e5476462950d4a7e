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

/// ` (did you mean `NAME`?)` naming the program in SECURE_PATH closest to `name`, for the
/// message that says `name` was not found; empty when none is close.
pub fn did_you_mean(name: &str) -> String {
    let mut names: Vec<String> = SECURE_PATH
        .split(':')
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|rd| rd.filter_map(|e| e.ok()?.file_name().into_string().ok()))
        .collect();
    names.sort();
    names.dedup();
    crate::suggest::hint(name, names.iter().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh_and_not_nonsense() {
        assert!(find_program("sh").is_some());
        assert!(find_program("no-such-program-jailsmith").is_none());
    }

    #[test]
    fn a_typo_suggests_the_program() {
        assert_eq!(did_you_mean("shh"), " (did you mean `sh`?)");
        assert_eq!(did_you_mean("no-such-program-jailsmith-at-all"), "");
    }
}
