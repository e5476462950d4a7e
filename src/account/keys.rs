//! SSH public keys for an account: parsed and validated with ssh-key (via russh), rendered
//! as the content of the root-owned authorized_keys file sshd reads before the chroot.

pub use russh::keys::ssh_key::PublicKey;

use super::AccountError;

/// Parses every key in `text` (one per line; blank lines and `#` comments skipped).
/// `source` names the file (or `--key-text`) in errors. At least one key is required.
pub fn parse(source: &str, text: &str) -> Result<Vec<PublicKey>, AccountError> {
    if is_private_key(text) {
        return Err(AccountError::PrivateKey {
            path: source.to_string(),
        });
    }
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = PublicKey::from_openssh(line).map_err(|e| AccountError::BadKey {
            path: source.to_string(),
            line: i + 1,
            why: e.to_string(),
        })?;
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(AccountError::NoKey {
            path: source.to_string(),
        });
    }
    Ok(keys)
}

/// True when `text` is a private key (OpenSSH, PEM or PKCS#8 armour).
fn is_private_key(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .any(|l| l.starts_with("-----BEGIN ") && l.ends_with("PRIVATE KEY-----"))
}

/// How many of the keys in `before` (an authorized_keys text) are not in `after`: the keys
/// a replacing `--key` takes away. Lines are compared by key type and data.
pub fn dropped(before: &str, after: &str) -> usize {
    let ids = |t: &str| -> Vec<String> {
        t.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
            .collect()
    };
    let kept = ids(after);
    ids(before).iter().filter(|k| !kept.contains(k)).count()
}

/// The authorized_keys content: one key per line in OpenSSH form, duplicates dropped
/// (same algorithm and key data), order kept.
pub fn render(keys: &[PublicKey]) -> Result<String, AccountError> {
    let mut out = String::new();
    let mut seen = Vec::new();
    for k in keys {
        if seen.contains(k.key_data()) {
            continue;
        }
        seen.push(k.key_data().clone());
        let line = k.to_openssh().map_err(|e| AccountError::BadKey {
            path: "(rendering)".into(),
            line: 0,
            why: e.to_string(),
        })?;
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKnS4/JlTy9qaj5BXd4Ymn0Zmp/lzw6Me2H9iz0ApCLM me@host";

    #[test]
    fn parses_and_dedups() {
        let text = format!("# mine\n\n{ED}\n{ED}\n");
        let keys = parse("id.pub", &text).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(render(&keys).unwrap(), format!("{ED}\n"));
    }

    #[test]
    fn garbage_names_the_file_and_line() {
        let err = parse("/tmp/bad.pub", &format!("{ED}\nnot a key\n")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/tmp/bad.pub") && msg.contains("line 2"),
            "{msg}"
        );
        assert!(matches!(
            parse("empty.pub", "\n# x\n"),
            Err(AccountError::NoKey { .. })
        ));
        assert!(parse("x", "ssh-ed25519 AAAAbroken").is_err());
    }

    #[test]
    fn a_private_key_is_named_as_such() {
        let private = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        let err = parse("/root/.ssh/id_ed25519", private).unwrap_err();
        assert!(matches!(err, AccountError::PrivateKey { .. }));
        let msg = err.to_string();
        assert!(msg.contains("is a private key"), "{msg}");
        assert!(msg.contains("/root/.ssh/id_ed25519.pub"), "{msg}");
        assert!(
            !msg.contains("b3BlbnNz"),
            "the key's content is never shown: {msg}"
        );
    }

    #[test]
    fn dropped_counts_keys_a_replacement_loses() {
        let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbbb other";
        assert_eq!(dropped(&format!("{ED}\n{other}\n"), &format!("{ED}\n")), 1);
        assert_eq!(dropped(&format!("{ED}\n"), &format!("{ED}\n{other}\n")), 0);
    }
}
