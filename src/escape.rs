//! Showing strings that came from a jail (file names, a session's output) to a person, and
//! quoting them for a shell (DESIGN §5.13). Pure; shared by `check` and `verify`. Text output
//! escapes: a control character, newline or escape can never start a line, move the cursor or
//! recolour the terminal. JSON output is not escaped here (serde writes exact JSON strings).

use std::borrow::Cow;

/// Whether `c` must not reach a terminal as is: C0 and C1 controls, DEL, the Unicode line and
/// paragraph separators and the bidirectional overrides (which reorder what is shown).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\\' => out.push_str("\\\\"),
        c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// `s` for one line of text output: `\n`, `\r`, `\t`, `\x1b` …, `\u{9b}` for the rest, and
/// a backslash doubled, so that what is shown maps back to exactly one string.
pub fn text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || needs_escape(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '\\' || needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Like `text` for raw bytes: every byte that is not part of valid UTF-8 is shown as `\xNN`.
pub fn bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.push_str(&text(chunk.valid()));
        for x in chunk.invalid() {
            out.push_str(&format!("\\x{x:02x}"));
        }
    }
    out
}

/// Quotes `s` as one word for a POSIX shell (single quotes; a `'` inside becomes `'\''`).
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_escapes() {
        assert_eq!(text("plain/name"), "plain/name");
        assert_eq!(text("nl\nfake"), "nl\\nfake");
        assert_eq!(text("esc\x1b[31mred"), "esc\\x1b[31mred");
        assert_eq!(text("a\\nb"), "a\\\\nb");
        assert_eq!(text("csi\u{9b}x"), "csi\\u{9b}x");
        assert_eq!(text("bidi\u{202e}txt"), "bidi\\u{202e}txt");
        assert_eq!(text("del\x7f"), "del\\x7f");
        assert_eq!(text("héllo ✓"), "héllo ✓");
        assert!(!text("a\r\n\x07").contains(|c: char| c.is_control()));
    }

    #[test]
    fn invalid_utf8_bytes_are_hex() {
        assert_eq!(bytes(b"ok\xff\xfe/\n"), "ok\\xff\\xfe/\\n");
        assert_eq!(bytes("é".as_bytes()), "é");
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote("$(touch x);`y`"), "'$(touch x);`y`'");
    }
}
