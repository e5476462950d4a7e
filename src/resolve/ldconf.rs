//! /etc/ld.so.conf and its `include` globs: the fallback search list when ld.so.cache is
//! absent or unreadable. Parsing is pure (a reader function is passed in).

use std::path::{Path, PathBuf};

/// Reads `conf` and its includes (depth-limited) into the directory list, in order.
/// `read` returns a file's text; `list` the entries of a directory.
pub fn parse_conf(
    conf: &Path,
    read: &dyn Fn(&Path) -> Option<String>,
    list: &dyn Fn(&Path) -> Vec<PathBuf>,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    parse_into(conf, read, list, 0, &mut out);
    out
}

fn parse_into(
    conf: &Path,
    read: &dyn Fn(&Path) -> Option<String>,
    list: &dyn Fn(&Path) -> Vec<PathBuf>,
    depth: u32,
    out: &mut Vec<PathBuf>,
) {
    let Some(text) = read(conf) else { return };
    if depth > 8 {
        return;
    }
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() || line.starts_with("hwcap ") {
            continue;
        }
        if let Some(pattern) = line
            .strip_prefix("include")
            .filter(|r| r.starts_with(char::is_whitespace))
        {
            for pat in pattern.split_whitespace() {
                let pat = if Path::new(pat).is_absolute() {
                    PathBuf::from(pat)
                } else {
                    conf.parent().unwrap_or(Path::new("/")).join(pat)
                };
                let mut matches = expand_glob(&pat, list);
                matches.sort();
                for m in matches {
                    parse_into(&m, read, list, depth + 1, out);
                }
            }
            continue;
        }
        for dir in line.split([':', ',', ' ', '\t']).filter(|d| !d.is_empty()) {
            let dir = PathBuf::from(dir.split('=').next().unwrap_or(dir));
            if dir.is_absolute() && !out.contains(&dir) {
                out.push(dir);
            }
        }
    }
}

/// Expands a glob whose wildcards are in the last component only (`/etc/ld.so.conf.d/*.conf`).
fn expand_glob(pat: &Path, list: &dyn Fn(&Path) -> Vec<PathBuf>) -> Vec<PathBuf> {
    let name = pat
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?', '[']) {
        return vec![pat.to_path_buf()];
    }
    let dir = pat.parent().unwrap_or(Path::new("/"));
    list(dir)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| wildcard_match(&name, &n.to_string_lossy()))
        })
        .collect()
}

/// `*` and `?` matching (enough for ld.so.conf includes).
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn includes_are_followed_in_order() {
        let files: HashMap<PathBuf, &str> = [
            (
                PathBuf::from("/etc/ld.so.conf"),
                "include /etc/ld.so.conf.d/*.conf\n/opt/last\n",
            ),
            (PathBuf::from("/etc/ld.so.conf.d/b.conf"), "/b # comment\n"),
            (PathBuf::from("/etc/ld.so.conf.d/a.conf"), "/a1:/a2\n"),
            (PathBuf::from("/etc/ld.so.conf.d/skip.txt"), "/nope\n"),
        ]
        .into_iter()
        .collect();
        let read = |p: &Path| files.get(p).map(|s| s.to_string());
        let list = |d: &Path| {
            files
                .keys()
                .filter(|k| k.parent() == Some(d))
                .cloned()
                .collect()
        };
        let dirs = parse_conf(Path::new("/etc/ld.so.conf"), &read, &list);
        assert_eq!(dirs, ["/a1", "/a2", "/b", "/opt/last"].map(PathBuf::from));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.conf", "x86_64-linux-gnu.conf"));
        assert!(!wildcard_match("*.conf", "a.conf.bak"));
        assert!(wildcard_match("lib?.so", "liba.so"));
    }
}
