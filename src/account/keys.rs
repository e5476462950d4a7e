//! SSH public keys for an account: parsed and validated with ssh-key (via russh), rendered
//! as the content of the root-owned authorized_keys file sshd reads before the chroot.

use russh::keys::ssh_key::PublicKey;

use super::AccountError;

/// Parses every key in `text` (one per line; blank lines and `#` comments skipped).
/// `source` names the file (or `--key-text`) in errors. At least one key is required.
pub fn parse(source: &str, text: &str) -> Result<Vec<PublicKey>, AccountError> {
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
}
