//! Semantic checks of a parsed spec (pure): absolute paths, names, duplicates, references
//! between sections, limit and bind syntax. Each problem carries the line it is about.

use std::collections::HashMap;
use std::path::{Component, Path};

use super::{Locator, Spec, SpecProblem};
use crate::limits::Limits;
use crate::mounts::Bind;

/// Every semantic problem of `spec`, in file order.
pub fn validate(spec: &Spec, loc: &Locator) -> Vec<SpecProblem> {
    let mut out = Vec::new();
    let mut jails: HashMap<&Path, usize> = HashMap::new();
    for j in &spec.jail {
        let path = j.path.get_ref();
        check_abs(loc, &mut out, j.path.span(), "jail path", path);
        if let Some(first) = jails.get(path.as_path()) {
            out.push(loc.problem(
                j.path.span(),
                format!(
                    "duplicate jail {} (first declared on line {first})",
                    path.display()
                ),
            ));
        } else {
            jails.insert(path, loc.line_of(&j.path.span()));
        }
        if j.bins.is_empty() && j.profiles.is_empty() {
            out.push(loc.problem(
                j.path.span(),
                format!(
                    "jail {} names no bins and no profiles: give at least one",
                    path.display()
                ),
            ));
        }
        for b in &j.binds {
            if let Err(e) = Bind::parse(b.get_ref()) {
                out.push(loc.problem(b.span(), e.to_string()));
            }
        }
    }
    let mut users: HashMap<&str, usize> = HashMap::new();
    for u in &spec.user {
        let name = u.name.get_ref().as_str();
        if let Err(e) = crate::account::name::validate(name) {
            out.push(loc.problem(u.name.span(), e.to_string()));
        } else if name == "root" {
            out.push(loc.problem(u.name.span(), "root can never be a jailed user"));
        }
        if let Some(first) = users.get(name) {
            out.push(loc.problem(
                u.name.span(),
                format!("duplicate user {name} (first declared on line {first})"),
            ));
        } else {
            users.insert(name, loc.line_of(&u.name.span()));
        }
        if !jails.contains_key(u.jail.get_ref().as_path()) {
            out.push(loc.problem(
                u.jail.span(),
                format!(
                    "user {name}: jail {} is not declared in a [[jail]] of this spec",
                    u.jail.get_ref().display()
                ),
            ));
        }
        if u.keys.get_ref().is_empty() {
            out.push(loc.problem(u.keys.span(), format!("user {name}: keys is empty")));
        }
        if !u.shell.starts_with('/') {
            out.push(loc.problem(
                u.name.span(),
                format!(
                    "user {name}: shell {} must be an absolute path inside the jail",
                    u.shell
                ),
            ));
        }
        if let Some(l) = &u.limits {
            check_limits(loc, &mut out, l.span(), &l.get_ref().raw());
        }
        if let Some(ips) = &u.allow_ips {
            for ip in ips.get_ref() {
                if let Err(e) = crate::limits::parse_allow_ip(ip) {
                    out.push(loc.problem(ips.span(), format!("user {name}: {e}")));
                }
            }
        }
    }
    let mut services: HashMap<&str, usize> = HashMap::new();
    for s in &spec.service {
        let name = s.name.get_ref().as_str();
        if let Err(e) = crate::service::unit_name(name) {
            out.push(loc.problem(s.name.span(), e.to_string()));
        }
        if let Some(first) = services.get(name) {
            out.push(loc.problem(
                s.name.span(),
                format!("duplicate service {name} (first declared on line {first})"),
            ));
        } else {
            services.insert(name, loc.line_of(&s.name.span()));
        }
        let jail = s.jail.get_ref();
        check_abs(loc, &mut out, s.jail.span(), "service jail", jail);
        if let Some(line) = jails.get(jail.as_path()) {
            out.push(loc.problem(
                s.jail.span(),
                format!(
                    "service {name}: its jail {} is also a [[jail]] (line {line}); a service builds its own jail, give it a path of its own",
                    jail.display()
                ),
            ));
        }
        if s.exec.trim().is_empty() {
            out.push(loc.problem(s.name.span(), format!("service {name}: exec is empty")));
        }
        if let Some(l) = &s.limits {
            check_limits(loc, &mut out, l.span(), &l.get_ref().raw());
        }
    }
    out.sort_by_key(|p| (p.line, p.column));
    out
}

fn check_abs(
    loc: &Locator,
    out: &mut Vec<SpecProblem>,
    span: std::ops::Range<usize>,
    what: &str,
    path: &Path,
) {
    let clean = path.is_absolute()
        && path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if !clean || path == Path::new("/") {
        out.push(loc.problem(
            span,
            format!(
                "{what} {} must be absolute, without '.' or '..', and not /",
                path.display()
            ),
        ));
    }
}

fn check_limits(
    loc: &Locator,
    out: &mut Vec<SpecProblem>,
    span: std::ops::Range<usize>,
    raw: &crate::limits::RawLimits<'_>,
) {
    if let Err(e) = Limits::parse(raw) {
        out.push(loc.problem(span, e.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use std::path::Path;

    fn problems(text: &str) -> Vec<String> {
        match parse(Path::new("s.toml"), text) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    const JAIL: &str = "[[jail]]\npath = \"/srv/j\"\nbins = [\"bash\"]\n";

    #[test]
    fn a_bad_allow_ip_is_located() {
        let text = format!(
            "{JAIL}[[user]]\nname = \"alice\"\njail = \"/srv/j\"\nkeys = [\"ssh-ed25519 AAAA x\"]\nallow_ips = [\"127.0.0.1\", \"10.0.0.0/33\"]\n"
        );
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("s.toml:8:") && p[0].contains("--allow-ip"),
            "{p:?}"
        );
    }

    #[test]
    fn a_good_spec_parses() {
        let text = format!(
            "{JAIL}[[user]]\nname = \"alice\"\njail = \"/srv/j\"\nkeys = [\"ssh-ed25519 AAAA x\"]\n[user.limits]\nmemory_max = \"1G\"\n"
        );
        assert_eq!(problems(&text), Vec::<String>::new());
    }

    #[test]
    fn unknown_field_has_its_line() {
        let p = problems(&format!("{JAIL}colour = \"red\"\n"));
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("s.toml:4:"), "{p:?}");
        assert!(p[0].contains("colour"), "{p:?}");
    }

    #[test]
    fn duplicates_and_undeclared_jails() {
        let text = format!(
            "{JAIL}{JAIL}[[user]]\nname = \"a\"\njail = \"/srv/k\"\nkeys = [\"k.pub\"]\n[[user]]\nname = \"a\"\njail = \"/srv/j\"\nkeys = [\"k.pub\"]\n"
        );
        let p = problems(&text);
        assert!(
            p[0].starts_with("s.toml:5:") && p[0].contains("duplicate jail"),
            "{p:?}"
        );
        assert!(
            p[1].starts_with("s.toml:9:") && p[1].contains("not declared"),
            "{p:?}"
        );
        assert!(
            p[2].starts_with("s.toml:12:") && p[2].contains("duplicate user"),
            "{p:?}"
        );
    }

    #[test]
    fn bad_values() {
        let text = "[[jail]]\npath = \"rel\"\nbins = [\"bash\"]\nbinds = [\"nocolon\"]\n[[user]]\nname = \"root\"\njail = \"rel\"\nkeys = []\n[user.limits]\nmemory_max = \"lots\"\n";
        let p = problems(text);
        assert!(
            p.iter()
                .any(|m| m.starts_with("s.toml:2:") && m.contains("absolute")),
            "{p:?}"
        );
        assert!(p.iter().any(|m| m.starts_with("s.toml:4:")), "{p:?}");
        assert!(
            p.iter()
                .any(|m| m.starts_with("s.toml:6:") && m.contains("root")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|m| m.starts_with("s.toml:8:") && m.contains("empty")),
            "{p:?}"
        );
        assert!(p.iter().any(|m| m.contains("lots")), "{p:?}");
    }

    #[test]
    fn the_shipped_example_spec_is_valid() {
        let text = include_str!("../../packaging/ansible/spec.example.toml");
        assert_eq!(problems(text), Vec::<String>::new());
    }
}
