//! Policy: programs that would hand out root inside a jail, and the devices a jail may hold.
//! Pure data and predicates.

/// Programs refused in any jail, with the reason given to the administrator.
pub const REFUSED_PROGRAMS: &[(&str, &str)] = &[
    ("su", "switches to another user, root included"),
    ("sudo", "runs commands as root"),
    ("sudoedit", "edits files as root"),
    ("doas", "runs commands as root"),
    ("pkexec", "runs commands as root through polkit"),
    ("passwd", "changes passwords; setuid root on the host"),
    ("chsh", "changes login shells; setuid root on the host"),
    ("chfn", "changes user information; setuid root on the host"),
    ("gpasswd", "administers groups; setuid root on the host"),
    ("newgrp", "changes the group ID; setuid root on the host"),
    ("sg", "runs a command as another group"),
    ("chage", "changes password ageing; setuid on the host"),
    ("expiry", "checks password expiry; setuid on the host"),
    ("mount", "mounts filesystems"),
    ("umount", "unmounts filesystems"),
    (
        "fusermount",
        "mounts FUSE filesystems; setuid root on the host",
    ),
    (
        "fusermount3",
        "mounts FUSE filesystems; setuid root on the host",
    ),
    ("newuidmap", "maps user IDs; setuid root on the host"),
    ("newgidmap", "maps group IDs; setuid root on the host"),
    ("unix_chkpwd", "reads password hashes"),
    ("ssh-keysign", "signs with the host's private keys"),
    ("crontab", "schedules commands; setgid on the host"),
    ("at", "schedules commands; setuid on the host"),
    ("chroot", "leaves or re-enters a chroot with root's help"),
    ("nsenter", "enters other namespaces"),
    ("unshare", "creates namespaces"),
    ("setpriv", "changes privileges"),
    ("runuser", "runs commands as another user"),
];

/// Why `name` (a program's file name) is refused, if it is.
pub fn refusal(name: &str) -> Option<&'static str> {
    REFUSED_PROGRAMS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, why)| *why)
}

/// Device nodes a jail may hold: name, and the mode they are created with.
pub const ALLOWED_DEVICES: &[(&str, u32)] = &[
    ("null", 0o666),
    ("zero", 0o666),
    ("full", 0o666),
    ("random", 0o666),
    ("urandom", 0o666),
    ("tty", 0o666),
    ("ptmx", 0o666),
];

/// Devices every jail gets (ptmx only on request).
pub const DEFAULT_DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn su_is_refused_bash_is_not() {
        assert!(refusal("su").is_some());
        assert!(refusal("bash").is_none());
    }
}
