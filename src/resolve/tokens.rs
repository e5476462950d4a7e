//! Dynamic string tokens: `$ORIGIN`, `$LIB`, `$PLATFORM` (and their `${…}` forms), expanded
//! the way glibc's _dl_dst_substitute does. Pure.

use std::path::Path;

/// Expands the tokens in one search-list element or DT_NEEDED path.
pub fn expand(s: &str, origin: &Path, lib: &str, platform: &str) -> String {
    if !s.contains('$') {
        return s.to_string();
    }
    let origin = origin.to_string_lossy();
    let mut out = String::with_capacity(s.len() + origin.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = token_at(after);
        match name {
            Some("ORIGIN") => out.push_str(&origin),
            Some("LIB") => out.push_str(lib),
            Some("PLATFORM") => out.push_str(platform),
            _ => out.push('$'),
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// Whether an element uses `$ORIGIN`.
pub fn uses_origin(s: &str) -> bool {
    s.contains("$ORIGIN") || s.contains("${ORIGIN}")
}

/// Recognises `NAME` or `{NAME}` at the start of `s`; returns the token and bytes consumed.
fn token_at(s: &str) -> (Option<&'static str>, usize) {
    for name in ["ORIGIN", "LIB", "PLATFORM"] {
        if let Some(rest) = s.strip_prefix(name) {
            // A bare token must end at a non-identifier character.
            if !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                return (Some(name), name.len());
            }
        }
        if s.starts_with('{') && s[1..].starts_with(name) && s[1 + name.len()..].starts_with('}') {
            return (Some(name), name.len() + 2);
        }
    }
    (None, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_forms() {
        let o = Path::new("/opt/app/bin");
        assert_eq!(
            expand("$ORIGIN/../lib", o, "lib64", "x86_64"),
            "/opt/app/bin/../lib"
        );
        assert_eq!(
            expand("${ORIGIN}/x:$LIB", o, "lib64", "x86_64"),
            "/opt/app/bin/x:lib64"
        );
        assert_eq!(
            expand("/usr/$LIB/$PLATFORM", o, "lib/x86_64-linux-gnu", "x86_64"),
            "/usr/lib/x86_64-linux-gnu/x86_64"
        );
        assert_eq!(expand("$ORIGINAL", o, "", ""), "$ORIGINAL");
    }
}
