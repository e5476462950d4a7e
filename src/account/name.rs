//! User-name validation (pure): the portable subset useradd accepts by default and that is
//! safe inside an sshd `Match User` line and a file name.

use super::AccountError;

/// Longest name useradd accepts (LOGIN_NAME_MAX - 1 on glibc is larger; utmp keeps 32).
pub const MAX_LEN: usize = 32;

/// Accepts `[a-z_][a-z0-9_-]*`, at most 32 characters; refuses `root` separately.
pub fn validate(name: &str) -> Result<(), AccountError> {
    let bad = |why| AccountError::BadName {
        name: name.to_string(),
        why,
    };
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(bad("it is empty"));
    };
    if name.len() > MAX_LEN {
        return Err(bad("it is longer than 32 characters"));
    }
    if !(first.is_ascii_lowercase() || first == '_') {
        return Err(bad("it must start with a lower-case letter or '_'"));
    }
    if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-') {
        return Err(bad("only a-z, 0-9, '_' and '-' are allowed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for n in ["imsad", "_svc", "a-b_c9", "x"] {
            validate(n).unwrap();
        }
    }

    #[test]
    fn refuses_patterns_paths_and_odd_names() {
        for n in [
            "",
            "Imsad",
            "9lives",
            "-x",
            "a b",
            "a/b",
            "a*",
            "a,b",
            "!a",
            "a.b",
            "a$",
            "abcdefghijklmnopqrstuvwxyz0123456",
        ] {
            assert!(validate(n).is_err(), "{n:?} accepted");
        }
    }
}
