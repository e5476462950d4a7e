//! Behaviour under a booted systemd (tests/it/common/nspawn.rs): limits that bite, services
//! that start and serve, sshd reloads that happen, boot-time mount units that mount, and
//! `apply` that converges. Each test boots its own container on the cached Debian 12 root and
//! runs jailsmith inside it with the real default paths (the container is thrown away).

use crate::common;

use common::TestRoot;
use common::nspawn::{Container, Mode};

/// Boots a container for the running test, or skips (fails under CI) with the reason.
fn boot(test: &str, mode: Mode) -> Option<(TestRoot, Container)> {
    if !common::nspawn::available(test) {
        return None;
    }
    let root = TestRoot::new(test);
    let c = Container::boot_or_skip(&root, mode, test)?;
    Some((root, c))
}

#[test]
fn container_boots_with_systemd_as_pid1_and_only_loopback() {
    let Some((_root, c)) = boot(
        "container_boots_with_systemd_as_pid1_and_only_loopback",
        Mode::Hybrid,
    ) else {
        return;
    };
    assert_eq!(c.sh_ok("cat /proc/1/comm").trim(), "systemd");
    let links = c.sh_ok("ls /sys/class/net");
    assert_eq!(
        links.split_whitespace().collect::<Vec<_>>(),
        ["lo"],
        "{links}"
    );
    let version = c.sh_ok("jailsmith --version");
    assert!(version.starts_with("jailsmith"), "{version}");
    // The v1 controllers the limits need are writable.
    let mounts = c.sh_ok("grep -E ' /sys/fs/cgroup/(memory|pids|cpu) ' /proc/self/mounts");
    assert!(mounts.lines().count() >= 3, "{mounts}");
    for l in mounts.lines() {
        assert!(l.contains(" rw,"), "read-only controller: {l}");
    }
}
