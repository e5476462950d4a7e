//! Behaviour under a booted systemd (tests/it/common/nspawn.rs): limits that bite, services
//! that start and serve, sshd reloads that happen, boot-time mount units that mount, and
//! `apply` that converges. Each test boots its own container on the cached Debian 12 root and
//! runs jailsmith inside it with the real default paths (the container is thrown away).

use crate::common;

use common::nspawn::{Container, Mode};
use common::{TestRoot, text};

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

/// GETs `http://127.0.0.1:PORT/PATH` from inside the container (its own loopback), retrying
/// until something answers or 20 s pass; the body, or None.
fn fetch(c: &Container, port: u16, path: &str) -> Option<String> {
    let script = format!(
        "import sys, time, urllib.request\n\
         end = time.time() + 20\n\
         while True:\n\
         \x20   try:\n\
         \x20       sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:{port}/{path}', timeout=5).read().decode())\n\
         \x20       break\n\
         \x20   except Exception as e:\n\
         \x20       if time.time() > end: sys.exit(f'no answer: {{e}}')\n\
         \x20       time.sleep(0.1)\n"
    );
    let out = c.exec(&["python3", "-c", &script]);
    out.status.success().then(|| text(&out.stdout))
}

/// `systemctl show -p PROP --value UNIT` inside.
fn show(c: &Container, unit: &str, prop: &str) -> String {
    c.sh_ok(&format!("systemctl show -p {prop} --value {unit}"))
        .trim()
        .to_string()
}

/// A field of /proc/PID/status inside the container ("Uid", "NoNewPrivs"…).
fn proc_status(c: &Container, pid: &str, field: &str) -> String {
    let status = c.sh_ok(&format!("cat /proc/{pid}/status"));
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

/// "Overall exposure level for NAME.service: X.Y …" → X.Y.
fn exposure(output: &str) -> Option<f64> {
    let line = output
        .lines()
        .find(|l| l.contains("Overall exposure level for"))?;
    line.split(".service:")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

const WEB_JAIL: &str = "/srv/jails/web";

fn web_service(c: &Container, dir: &str) -> std::process::Output {
    let exec = format!("python3 -m http.server 8080 --bind 127.0.0.1 --directory {dir}");
    c.exec_ok(&[
        "jailsmith",
        "service",
        "web",
        "--jail",
        WEB_JAIL,
        "--profile",
        "python3",
        "--create-user",
        "--exec",
        &exec,
        "--file",
        dir,
        "--port",
        "8080",
        "--allow-ip",
        "localhost",
        "--memory-max",
        "256M",
        "--tasks-max",
        "64",
        "--start",
    ])
}

#[test]
fn service_starts_serves_from_its_jail_restarts_and_destroy_removes_it() {
    let test = "service_starts_serves_from_its_jail_restarts_and_destroy_removes_it";
    let Some((_root, c)) = boot(test, Mode::Hybrid) else {
        return;
    };
    c.write("/srv/www/index.html", "hello from the jail\n", 0o644);
    c.write("/srv/www2/index.html", "the second page\n", 0o644);
    web_service(&c, "/srv/www");

    assert_eq!(show(&c, "web.service", "ActiveState"), "active");
    // `--start` starts; enabling at boot is the administrator's call (destroy must undo it).
    c.exec_ok(&["systemctl", "enable", "web.service"]);
    let body = fetch(&c, 8080, "index.html").expect("the service answers on loopback");
    assert_eq!(body, "hello from the jail\n");

    // Runs as its own user, without new privileges, with the jail as its root.
    let pid = show(&c, "web.service", "MainPID");
    let uid = c.sh_ok("id -u web").trim().to_string();
    assert_ne!(uid, "0");
    let uids: Vec<String> = proc_status(&c, &pid, "Uid")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(uids, [uid.as_str(); 4], "real, effective, saved, fs uid");
    assert_eq!(proc_status(&c, &pid, "NoNewPrivs"), "1");
    // Its / is the jail (systemd pivots into it, so compare contents, not the link).
    c.sh_ok(&format!(
        "cmp /proc/{pid}/root/etc/passwd {WEB_JAIL}/etc/passwd && \
         test ! -e /proc/{pid}/root/etc/shadow && \
         test ! -e /proc/{pid}/root/usr/local/sbin/jailsmith"
    ));

    // The score of the unit systemd loaded, not of the file.
    let sec = c.exec(&["systemd-analyze", "security", "--no-pager", "web.service"]);
    let report = text(&sec.stdout) + &text(&sec.stderr);
    let score = exposure(&report).unwrap_or_else(|| panic!("no score in:\n{report}"));
    eprintln!("systemd-analyze security web.service (loaded, under systemd): {score}");
    assert!(score <= 1.0, "exposure {score} > 1.0:\n{report}");

    // A changed --exec restarts it: a new process serves the new directory.
    web_service(&c, "/srv/www2");
    let new_pid = show(&c, "web.service", "MainPID");
    assert_ne!(new_pid, pid, "the service was not restarted");
    assert_eq!(
        fetch(&c, 8080, "index.html").as_deref(),
        Some("the second page\n")
    );

    // destroy stops, disables and removes it.
    c.exec_ok(&["jailsmith", "destroy", WEB_JAIL, "--purge"]);
    assert_eq!(show(&c, "web.service", "ActiveState"), "inactive");
    assert_eq!(show(&c, "web.service", "LoadState"), "not-found");
    assert!(!c.path("/etc/systemd/system/web.service").exists());
    assert!(
        !c.path("/etc/systemd/system/multi-user.target.wants/web.service")
            .exists(),
        "still enabled"
    );
    assert!(
        c.sh("pgrep -u web").stdout.is_empty(),
        "a process of the service is still running"
    );
}
