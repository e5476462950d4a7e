//! The host facts that decide whether resource limits can be enforced: systemd as PID 1, the
//! cgroup controllers systemd can write, and pam_systemd in sshd's PAM stack. Reads only;
//! the judgement is `limits::enforce` (pure).

use std::path::Path;

use crate::limits::enforce::{HostFacts, cgroup2_mount, pam_has_systemd, usable_controllers};
use crate::sshd::reload::systemd_is_init;

/// Where PAM service files live.
const PAM_DIR: &str = "/etc/pam.d";

/// Reads the facts from /proc/1/comm, /proc/self/mountinfo, the cgroup2 root's
/// cgroup.controllers and /etc/pam.d.
pub fn limit_facts() -> HostFacts {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let v2 = cgroup2_mount(&mountinfo)
        .and_then(|m| std::fs::read_to_string(Path::new(&m).join("cgroup.controllers")).ok())
        .unwrap_or_default();
    let read = |name: &str| -> Option<String> {
        // an include names a file in PAM_DIR; never a path elsewhere
        if name.contains('/') || name.starts_with('.') {
            return None;
        }
        std::fs::read_to_string(Path::new(PAM_DIR).join(name)).ok()
    };
    HostFacts {
        systemd_is_init: systemd_is_init(),
        controllers: usable_controllers(&mountinfo, &v2),
        sshd_pam_systemd: pam_has_systemd("sshd", &read),
    }
}
