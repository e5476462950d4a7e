//! Reading sshd_config text (pure): the Include lines that sit before the first Match (and
//! whether one of them reads our drop-in), and the Match lines that could capture a user
//! before our block does.

use std::path::{Path, PathBuf};

/// Where sshd resolves relative Include paths (SSHDIR).
pub const SSHDIR: &str = "/etc/ssh";

/// A config line split into keyword (lower case) and arguments; None for blanks/comments.
pub fn split_line(line: &str) -> Option<(String, Vec<String>)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (kw, rest) = match line.find(|c: char| c.is_whitespace() || c == '=') {
        Some(i) => (
            &line[..i],
            line[i..].trim_start_matches(|c: char| c.is_whitespace() || c == '='),
        ),
        None => (line, ""),
    };
    let args = rest
        .split_whitespace()
        .map(|a| a.trim_matches('"').to_string())
        .collect();
    Some((kw.to_ascii_lowercase(), args))
}

/// The Include patterns that apply globally (before the first Match), made absolute.
pub fn global_includes(text: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (kw, args) in text.lines().filter_map(split_line) {
        match kw.as_str() {
            "match" => break,
            "include" => out.extend(args.iter().map(|a| Path::new(SSHDIR).join(a))),
            _ => {}
        }
    }
    out
}

/// True when one of the global Include patterns matches `file`.
pub fn includes_file(text: &str, file: &Path) -> bool {
    let Some(file) = file.to_str() else {
        return false;
    };
    global_includes(text)
        .iter()
        .filter_map(|p| p.to_str().map(str::to_string))
        .any(|pat| glob_match(pat.as_bytes(), file.as_bytes()))
}

/// The Match lines of a config text: (line number, line).
pub fn match_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| split_line(l).is_some_and(|(kw, _)| kw == "match"))
        .map(|(i, l)| (i + 1, l.trim().to_string()))
        .collect()
}

/// fnmatch(3) with FNM_PATHNAME as glob(3) uses it: `*` and `?` never match `/`;
/// `[...]` classes with ranges and `!`.
pub fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    match pat.first() {
        None => s.is_empty(),
        Some(b'*') => (0..=s.len())
            .take_while(|&i| i == 0 || s[i - 1] != b'/')
            .any(|i| glob_match(&pat[1..], &s[i..])),
        Some(b'?') => !s.is_empty() && s[0] != b'/' && glob_match(&pat[1..], &s[1..]),
        Some(b'[') => {
            let Some(end) = pat.iter().skip(2).position(|&c| c == b']').map(|p| p + 2) else {
                return !s.is_empty() && s[0] == b'[' && glob_match(&pat[1..], &s[1..]);
            };
            let Some(&c) = s.first() else { return false };
            let (neg, class) = match pat[1] {
                b'!' | b'^' => (true, &pat[2..end]),
                _ => (false, &pat[1..end]),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            c != b'/' && hit != neg && glob_match(&pat[end + 1..], &s[1..])
        }
        Some(&p) => !s.is_empty() && s[0] == p && glob_match(&pat[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_include_is_found() {
        let t = "Include /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\n";
        assert!(includes_file(
            t,
            Path::new("/etc/ssh/sshd_config.d/10-jailsmith-a.conf")
        ));
        assert!(!includes_file(t, Path::new("/tmp/d/10-jailsmith-a.conf")));
    }

    #[test]
    fn relative_include_and_equals_syntax() {
        assert!(includes_file(
            "include=sshd_config.d/*.conf",
            Path::new("/etc/ssh/sshd_config.d/x.conf")
        ));
    }

    #[test]
    fn include_inside_match_does_not_count() {
        let t = "Match User x\nInclude /d/*.conf\n";
        assert!(!includes_file(t, Path::new("/d/a.conf")));
        assert_eq!(match_lines(t), vec![(1, "Match User x".to_string())]);
    }

    #[test]
    fn commented_include_does_not_count() {
        assert!(!includes_file(
            "#Include /d/*.conf\n",
            Path::new("/d/a.conf")
        ));
    }

    #[test]
    fn globbing() {
        assert!(glob_match(b"/d/*.conf", b"/d/10-a.conf"));
        assert!(!glob_match(b"/d/*.conf", b"/d/sub/a.conf"));
        assert!(glob_match(b"/d/[0-9]?-*", b"/d/10-x"));
        assert!(!glob_match(b"/d/[!0-9]*", b"/d/10-x"));
        assert!(glob_match(
            b"/d/10-jailsmith-a.conf",
            b"/d/10-jailsmith-a.conf"
        ));
    }
}
