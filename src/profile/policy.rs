//! What a profile may never put in a jail (DESIGN §3, §5): files that jailsmith itself owns
//! inside the jail, and writable modes outside a sticky directory. Pure predicates over paths
//! and modes. Host secrets are `plan::denylist`'s, the one list every input shares.

use crate::plan::JailPath;

/// In-jail paths a profile may not write or create, with the reason.
pub const RESERVED_JAIL_PATHS: &[(&str, &str)] = &[
    (
        "etc/passwd",
        "jailsmith maintains it (root and the jail's users)",
    ),
    (
        "etc/group",
        "jailsmith maintains it (root and the jail's groups)",
    ),
    ("etc/shadow", "a jail never holds password hashes"),
    ("etc/gshadow", "a jail never holds password hashes"),
    (
        "etc/ld.so.preload",
        "it would load a library into every program",
    ),
    ("dev", "device nodes come only from `devices`"),
    ("proc", "a jail never gets a kernel filesystem"),
    ("sys", "a jail never gets a kernel filesystem"),
];

/// Why an in-jail path may not be written or created by a profile, if it may not.
pub fn reserved_jail_path(p: &JailPath) -> Option<&'static str> {
    RESERVED_JAIL_PATHS
        .iter()
        .find(|(r, _)| p.rel().starts_with(r))
        .map(|(_, why)| *why)
}

/// Why a directory mode is unsafe: group/other-writable without the sticky bit.
pub fn unsafe_dir_mode(mode: u32) -> Option<&'static str> {
    (mode & 0o022 != 0 && mode & 0o1000 == 0)
        .then_some("a group- or other-writable directory must be sticky (like /tmp, 0o1777)")
}

/// Why a written file's mode is unsafe: group/other-writable, or sticky.
pub fn unsafe_file_mode(mode: u32) -> Option<&'static str> {
    if mode & 0o022 != 0 {
        Some("files written by a profile must not be group- or other-writable")
    } else if mode & 0o1000 != 0 {
        Some("the sticky bit means nothing on a file")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_jail_paths_and_modes() {
        let p = |s| JailPath::new(s).unwrap();
        assert!(reserved_jail_path(&p("/etc/passwd")).is_some());
        assert!(reserved_jail_path(&p("/dev/sda")).is_some());
        assert!(reserved_jail_path(&p("/etc/profile")).is_none());
        assert!(unsafe_dir_mode(0o1777).is_none());
        assert!(unsafe_dir_mode(0o777).is_some());
        assert!(unsafe_dir_mode(0o775).is_some());
        assert!(unsafe_file_mode(0o644).is_none());
        assert!(unsafe_file_mode(0o666).is_some());
    }
}
