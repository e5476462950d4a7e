//! Jailed systemd services: the unit text (`unit`, pure), the checks on what the command line
//! gives (`split_exec`, unit names, IP allow-lists; pure), host facts around a unit (`files`:
//! whether it changed, user-slice drop-ins' drift), `systemctl` where systemd runs (take a
//! unit away), and the install use case (`install`), whose host changes after the build are
//! typed operations through the one rollback journal (`steps`). Nothing here writes itself:
//! the jail goes through `jail::build`, the rest through `apply::journal`.

pub mod files;
pub mod install;
mod steps;
pub mod systemctl;
pub mod unit;

/// A command line or option value `service` cannot use (exit 2) or refuses (exit 4).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("--exec {given:?}: {why}")]
    BadExec { given: String, why: String },
    #[error(
        "{0:?} is not a valid service name: use letters, digits, '-', '_', '.' and ':' (at most 200), not starting with '.' or '-'"
    )]
    BadName(String),
    #[error(
        "--allow-ip {0:?}: not an IP address or prefix (accepted: 192.0.2.7, 10.0.0.0/8, ::1, fd00::/8, or one of any, localhost, link-local, multicast)"
    )]
    BadIp(String),
    #[error(
        "--read-write {0:?}: must be an absolute path below the jail root, without '..', of letters, digits and / _ . + : @ , -"
    )]
    BadPath(String),
    #[error(
        "--jail {0:?}: a unit can name only an absolute path of letters, digits and / _ . + : @ , - (no spaces, quotes, '%' or control characters)"
    )]
    BadJail(String),
}

/// The jail path as RootDirectory= takes it verbatim: absolute, without `..`, and only of
/// characters that need no quoting or escaping in a unit file (a newline would start a new
/// directive, `%` a specifier).
pub fn jail_for_unit(path: &str) -> Result<String, ServiceError> {
    let ok = path.starts_with('/') && !path.split('/').any(|c| c == "..") && unit_safe(path);
    if ok {
        Ok(path.to_string())
    } else {
        Err(ServiceError::BadJail(path.to_string()))
    }
}

/// Splits `--exec` with POSIX shell word rules (quotes and backslashes; no expansion, no
/// shell ever runs it). Refuses an empty command and control characters (a newline would
/// start a new directive in the unit).
pub fn split_exec(exec: &str) -> Result<Vec<String>, ServiceError> {
    let bad = |why: &str| ServiceError::BadExec {
        given: exec.to_string(),
        why: why.to_string(),
    };
    if exec.chars().any(|c| c.is_control()) {
        return Err(bad("control characters (newlines, tabs …) are not allowed"));
    }
    let words = shlex::split(exec).ok_or_else(|| bad("unbalanced quote or trailing backslash"))?;
    if words.is_empty() || words[0].is_empty() {
        return Err(bad("no program given"));
    }
    Ok(words)
}

/// A unit name without the `.service` suffix (which is accepted and dropped).
pub fn unit_name(name: &str) -> Result<String, ServiceError> {
    let n = name.strip_suffix(".service").unwrap_or(name);
    let ok = !n.is_empty()
        && n.len() <= 200
        && !n.starts_with(['.', '-'])
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if ok {
        Ok(n.to_string())
    } else {
        Err(ServiceError::BadName(name.to_string()))
    }
}

/// Checks one `--allow-ip` value: an address, an address/prefix, or a systemd keyword.
pub fn allow_ip(value: &str) -> Result<String, ServiceError> {
    const KEYWORDS: &[&str] = &["any", "localhost", "link-local", "multicast"];
    let bad = || ServiceError::BadIp(value.to_string());
    if KEYWORDS.contains(&value) {
        return Ok(value.to_string());
    }
    let (addr, prefix) = match value.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (value, None),
    };
    let ip: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
    if let Some(p) = prefix {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let p: u8 = p.parse().map_err(|_| bad())?;
        if p > max {
            return Err(bad());
        }
    }
    Ok(value.to_string())
}

/// Characters a path may hold to be written verbatim in a unit (no quoting, no specifier).
fn unit_safe(path: &str) -> bool {
    path.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/_.+:@,-".contains(c))
}

/// Checks one `--read-write` path: absolute, below the jail root, no `..`, unit-safe.
pub fn read_write_path(value: &str) -> Result<String, ServiceError> {
    let ok = value.starts_with('/')
        && !value.trim_matches('/').is_empty()
        && !value.split('/').any(|c| c == "..")
        && unit_safe(value);
    if ok {
        Ok(value.to_string())
    } else {
        Err(ServiceError::BadPath(value.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_splits_like_a_shell_without_running_one() {
        assert_eq!(
            split_exec("python3 -m http.server 8080 --bind 127.0.0.1").unwrap(),
            [
                "python3",
                "-m",
                "http.server",
                "8080",
                "--bind",
                "127.0.0.1"
            ]
        );
        assert_eq!(
            split_exec(r#"/bin/echo 'a b' "c d" e\ f $HOME"#).unwrap(),
            ["/bin/echo", "a b", "c d", "e f", "$HOME"]
        );
        for bad in ["", "   ", "'unclosed", "a\nb", "''"] {
            assert!(split_exec(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unit_names() {
        assert_eq!(unit_name("web").unwrap(), "web");
        assert_eq!(unit_name("web.service").unwrap(), "web");
        assert_eq!(unit_name("my_app-2:x").unwrap(), "my_app-2:x");
        for bad in ["", "../x", "a/b", "-x", ".x", "a b", "web@", "x\n"] {
            assert!(unit_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ip_allow_list() {
        for ok in [
            "127.0.0.1",
            "10.0.0.0/8",
            "::1",
            "fd00::/8",
            "localhost",
            "any",
        ] {
            assert_eq!(allow_ip(ok).unwrap(), ok);
        }
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "example.com",
            "1.2.3",
            "1.2.3.4/x",
        ] {
            assert!(allow_ip(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn jail_paths_that_a_unit_can_hold() {
        assert!(jail_for_unit("/srv/web-1/jail_2").is_ok());
        for bad in [
            "srv",
            "/srv/a b",
            "/srv/a\nb",
            "/srv/50%",
            "/srv/\"x\"",
            "/srv/../etc",
        ] {
            assert!(jail_for_unit(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn read_write_paths() {
        assert!(read_write_path("/srv/data").is_ok());
        for bad in ["srv", "/a/../b", "/a\nb", "/", "/a b", "/50%"] {
            assert!(read_write_path(bad).is_err(), "{bad:?}");
        }
    }
}
