//! systemd `.mount` units for declared binds and a jail's own procfs: the unit name by systemd-escape's path rules
//! and the unit text. Pure; the caller writes the files.

use std::path::Path;

use super::Bind;

/// `systemd-escape --path --suffix=mount`: `/srv/jail/data` → `srv-jail-data.mount`.
pub fn unit_name(path: &Path) -> String {
    let s = path.to_string_lossy();
    let trimmed: Vec<&str> = s.split('/').filter(|c| !c.is_empty()).collect();
    if trimmed.is_empty() {
        return "-.mount".into();
    }
    let joined = trimmed.join("/");
    let mut out = String::new();
    for (i, b) in joined.bytes().enumerate() {
        match b {
            b'/' => out.push('-'),
            b'.' if i == 0 => out.push_str("\\x2e"),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b':' | b'_' | b'.' => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push_str(".mount");
    out
}

/// The unit text for one bind of `jail`. With `state_file` (absolute), the bind comes back
/// at boot only while that file exists: once `destroy` has removed the jail's state, a unit
/// left behind mounts nothing.
pub fn unit_text(jail: &Path, bind: &Bind, state_file: Option<&Path>) -> String {
    let target = bind.host_target(jail);
    let condition = state_file
        .filter(|p| p.is_absolute())
        .map(|p| format!("ConditionPathExists={}\n", p.display()))
        .unwrap_or_default();
    format!(
        "# Written by jailsmith mount --systemd-unit-dir; regenerate rather than edit.\n\
         [Unit]\n\
         Description=jailsmith bind mount {bind} for {jail}\n\
         RequiresMountsFor={src}\n\
         {condition}\
         \n\
         [Mount]\n\
         What={src}\n\
         Where={target}\n\
         Type=none\n\
         Options=bind,{opts}\n\
         \n\
         [Install]\n\
         WantedBy=local-fs.target\n",
        jail = jail.display(),
        src = bind.src.display(),
        target = target.display(),
        opts = bind.options(),
    )
}

/// The unit text for a jail's own procfs (`build --proc`), conditioned like a bind's.
pub fn proc_unit_text(jail: &Path, state_file: Option<&Path>) -> String {
    kernel_fs_unit_text(
        jail,
        "proc",
        super::PROC_DIR,
        &format!("nosuid,nodev,noexec,{}", super::PROC_OPTIONS),
        state_file,
    )
}

/// The unit text for a jail's own devpts instance (`build --devpts`), tty group `gid`.
pub fn devpts_unit_text(jail: &Path, gid: u32, state_file: Option<&Path>) -> String {
    kernel_fs_unit_text(
        jail,
        "devpts",
        super::DEVPTS_DIR,
        &format!("nosuid,noexec,{}", super::devpts_options(gid)),
        state_file,
    )
}

fn kernel_fs_unit_text(
    jail: &Path,
    fstype: &str,
    dir: &str,
    opts: &str,
    state_file: Option<&Path>,
) -> String {
    let target = jail.join(dir.trim_start_matches('/'));
    let condition = state_file
        .filter(|p| p.is_absolute())
        .map(|p| format!("ConditionPathExists={}\n", p.display()))
        .unwrap_or_default();
    format!(
        "# Written by jailsmith mount --systemd-unit-dir; regenerate rather than edit.\n\
         [Unit]\n\
         Description=jailsmith private {fstype} for {jail}\n\
         {condition}\
         \n\
         [Mount]\n\
         What={fstype}\n\
         Where={target}\n\
         Type={fstype}\n\
         Options={opts}\n\
         \n\
         [Install]\n\
         WantedBy=local-fs.target\n",
        jail = jail.display(),
        target = target.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_systemd_escape() {
        assert_eq!(
            unit_name(Path::new("/srv/jail/data")),
            "srv-jail-data.mount"
        );
        assert_eq!(
            unit_name(Path::new("/srv/my-jail/d")),
            "srv-my\\x2djail-d.mount"
        );
        assert_eq!(unit_name(Path::new("/srv/a b/")), "srv-a\\x20b.mount");
        assert_eq!(unit_name(Path::new("/.hidden/x")), "\\x2ehidden-x.mount");
        assert_eq!(unit_name(Path::new("/")), "-.mount");
    }

    #[test]
    fn proc_unit_is_private() {
        let t = proc_unit_text(Path::new("/srv/jail"), None);
        assert!(t.contains("Where=/srv/jail/proc\nType=proc\n"), "{t}");
        assert!(t.contains("Options=nosuid,nodev,noexec,hidepid=invisible,subset=pid\n"));
        let t = devpts_unit_text(Path::new("/srv/jail"), 5, None);
        assert!(t.contains("Where=/srv/jail/dev/pts\nType=devpts\n"), "{t}");
        assert!(t.contains("Options=nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5\n"));
    }

    #[test]
    fn unit_is_ro_nosuid_nodev() {
        let b = Bind::parse("/srv/data:/data").unwrap();
        let t = unit_text(Path::new("/srv/jail"), &b, None);
        assert!(t.contains("Where=/srv/jail/data\n"));
        assert!(t.contains("Options=bind,ro,nosuid,nodev\n"));
        assert!(!t.contains("Condition"));
        let state = Path::new("/var/lib/jailsmith/jails/srv_jail.json");
        let t = unit_text(Path::new("/srv/jail"), &b, Some(state));
        assert!(
            t.contains("RequiresMountsFor=/srv/data\nConditionPathExists=/var/lib/jailsmith/jails/srv_jail.json\n\n[Mount]"),
            "{t}"
        );
    }
}
