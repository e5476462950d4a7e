//! Host-key policy (pure): which server keys verify trusts — a pinned public key file, the
//! lines of a known_hosts file (plain, wildcard and `|1|` hashed names) or the local
//! `/etc/ssh/ssh_host_*_key.pub` — and the verdict for the key a server presents.
//! Reads only the files it is handed; never writes (recording a new key is the caller's).

use std::fmt;
use std::path::{Path, PathBuf};

use russh::keys::ssh_key::{Algorithm, HashAlg, PublicKey};

/// Where a trusted key came from, for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `--host-key FILE`.
    Pinned(PathBuf),
    /// A known_hosts file and the line number (1-based).
    KnownHosts(PathBuf, usize),
    /// The local host's `/etc/ssh/ssh_host_*_key.pub` (for a loopback target).
    Local(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Pinned(p) => write!(f, "pinned key {}", p.display()),
            Source::KnownHosts(p, line) => write!(f, "{} line {line}", p.display()),
            Source::Local(p) => write!(f, "local host key {}", p.display()),
        }
    }
}

/// One key verify trusts for this host.
#[derive(Clone, Debug)]
pub struct Trusted {
    pub key: PublicKey,
    pub source: Source,
}

/// What to do with the server's key.
#[derive(Clone, Debug)]
pub enum Verdict {
    /// The key is one of the trusted keys.
    Match(Source),
    /// Keys are known for this host, and the server's key is none of them; or it is revoked.
    Mismatch { presented: String, why: String },
    /// Nothing is known about this host.
    Unknown { presented: String },
}

/// A failure reading a key source, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum HostKeyError {
    #[error("cannot read host key file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not an OpenSSH public key: {why}")]
    Parse { path: PathBuf, why: String },
}

/// The SHA256 fingerprint and type of a key, as `ssh-keygen -l` prints them.
pub fn describe(key: &PublicKey) -> String {
    format!(
        "{} {}",
        key.algorithm().as_str(),
        key.fingerprint(HashAlg::Sha256)
    )
}

/// Reads a public key file (`TYPE BASE64 [COMMENT]`).
pub fn read_pubkey(path: &Path) -> Result<PublicKey, HostKeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| HostKeyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    PublicKey::from_openssh(text.trim()).map_err(|e| HostKeyError::Parse {
        path: path.to_path_buf(),
        why: e.to_string(),
    })
}

/// The name known_hosts uses for a host: `host`, or `[host]:port` when the port is not 22.
pub fn host_port_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// What one known_hosts line says about our host.
#[derive(Debug, PartialEq, Eq)]
enum LineKind {
    Plain,
    Revoked,
}

/// Parses the keys of `text` (a known_hosts file) that apply to `name` (see
/// `host_port_name`): `(line, revoked?, key)`. `@cert-authority` lines and keys ssh-key
/// cannot parse are skipped.
fn known_hosts_entries(text: &str, name: &str) -> Vec<(usize, LineKind, PublicKey)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let mut first = fields.next().unwrap_or("");
        let kind = match first {
            "@revoked" => LineKind::Revoked,
            "@cert-authority" => continue,
            _ => LineKind::Plain,
        };
        if kind == LineKind::Revoked {
            first = fields.next().unwrap_or("");
        }
        if !hosts_match(first, name) {
            continue;
        }
        let (Some(t), Some(b64)) = (fields.next(), fields.next()) else {
            continue;
        };
        if let Ok(key) = PublicKey::from_openssh(&format!("{t} {b64}")) {
            out.push((i + 1, kind, key));
        }
    }
    out
}

/// Whether a comma-separated host pattern list matches `name`: `|1|salt|hash` hashed
/// names, `*`/`?` wildcards, and `!` negations (a matching negation wins).
pub fn hosts_match(patterns: &str, name: &str) -> bool {
    let mut matched = false;
    for pat in patterns.split(',') {
        if let Some(neg) = pat.strip_prefix('!') {
            if glob(neg.as_bytes(), name.as_bytes()) {
                return false;
            }
        } else if pat.starts_with("|1|") {
            matched |= hashed_match(pat, name);
        } else {
            matched |= glob(pat.as_bytes(), name.as_bytes());
        }
    }
    matched
}

/// `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, as `ssh-keygen -H` writes.
fn hashed_match(entry: &str, name: &str) -> bool {
    let mut parts = entry.split('|').skip(2);
    let (Some(salt), Some(hash)) = (parts.next(), parts.next()) else {
        return false;
    };
    let b64 = &data_encoding::BASE64;
    let (Ok(salt), Ok(hash)) = (b64.decode(salt.as_bytes()), b64.decode(hash.as_bytes())) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
    ring::hmac::verify(&key, name.as_bytes(), &hash).is_ok()
}

/// OpenSSH's `*` / `?` wildcard match, case-insensitive like host names.
fn glob(pat: &[u8], s: &[u8]) -> bool {
    match pat.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && glob(rest, &s[1..]),
        Some((c, rest)) => !s.is_empty() && c.eq_ignore_ascii_case(&s[0]) && glob(rest, &s[1..]),
    }
}

/// The trusted keys for `name` in a known_hosts text, and the revoked ones.
pub fn from_known_hosts(
    text: &str,
    path: &Path,
    name: &str,
) -> (Vec<Trusted>, Vec<(usize, PublicKey)>) {
    let mut trusted = Vec::new();
    let mut revoked = Vec::new();
    for (line, kind, key) in known_hosts_entries(text, name) {
        match kind {
            LineKind::Plain => trusted.push(Trusted {
                key,
                source: Source::KnownHosts(path.to_path_buf(), line),
            }),
            LineKind::Revoked => revoked.push((line, key)),
        }
    }
    (trusted, revoked)
}

/// Keys of the same kind: RSA keys are one kind whatever signature hash is negotiated.
fn same_kind(a: &Algorithm, b: &Algorithm) -> bool {
    match (a, b) {
        (Algorithm::Rsa { .. }, Algorithm::Rsa { .. }) => true,
        _ => a == b,
    }
}

/// The verdict for the key the server presented.
pub fn judge(
    presented: &PublicKey,
    trusted: &[Trusted],
    revoked: &[(usize, PublicKey)],
) -> Verdict {
    let shown = describe(presented);
    if let Some((line, _)) = revoked
        .iter()
        .find(|(_, k)| k.key_data() == presented.key_data())
    {
        return Verdict::Mismatch {
            presented: shown,
            why: format!("the key is marked @revoked (known_hosts line {line})"),
        };
    }
    if let Some(t) = trusted
        .iter()
        .find(|t| t.key.key_data() == presented.key_data())
    {
        return Verdict::Match(t.source.clone());
    }
    if trusted.is_empty() {
        return Verdict::Unknown { presented: shown };
    }
    let same: Vec<String> = trusted
        .iter()
        .filter(|t| same_kind(&t.key.algorithm(), &presented.algorithm()))
        .map(|t| t.source.to_string())
        .collect();
    let why = if same.is_empty() {
        let known: Vec<String> = trusted.iter().map(|t| t.source.to_string()).collect();
        format!(
            "only keys of other types are trusted for this host ({})",
            known.join(", ")
        )
    } else {
        format!("it differs from {}", same.join(", "))
    };
    Verdict::Mismatch {
        presented: shown,
        why,
    }
}

/// The client's host-key algorithm preferences with the kinds of the trusted keys first, so
/// the server shows the key we know (as OpenSSH orders HostKeyAlgorithms).
pub fn preferred_algorithms(default: &[Algorithm], trusted: &[Trusted]) -> Vec<Algorithm> {
    let mut first: Vec<Algorithm> = Vec::new();
    let mut rest: Vec<Algorithm> = Vec::new();
    for a in default {
        if trusted.iter().any(|t| same_kind(&t.key.algorithm(), a)) {
            first.push(a.clone());
        } else {
            rest.push(a.clone());
        }
    }
    first.extend(rest);
    first
}

/// Whether `host` names this machine over loopback (127.0.0.0/8, ::1, localhost).
pub fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// The `known_hosts` line recording a newly accepted key.
pub fn known_hosts_line(name: &str, key: &PublicKey) -> String {
    let mut k = key.clone();
    k.set_comment("");
    let text = k.to_openssh().unwrap_or_default();
    format!("{name} {}\n", text.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a";
    const ED_B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBd0JcxO/5Gt3XRqFRF4Rwv9rbVDjkzdBBGa+n0Ax2ZC b";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
    }

    #[test]
    fn port_names() {
        assert_eq!(host_port_name("127.0.0.1", 22), "127.0.0.1");
        assert_eq!(host_port_name("127.0.0.1", 2222), "[127.0.0.1]:2222");
    }

    #[test]
    fn patterns_and_negation() {
        assert!(hosts_match("a,b,[127.0.0.1]:2222", "[127.0.0.1]:2222"));
        assert!(hosts_match("*.example.org", "Host.EXAMPLE.org"));
        assert!(!hosts_match(
            "*.example.org,!bad.example.org",
            "bad.example.org"
        ));
        assert!(hosts_match("10.0.0.?", "10.0.0.7"));
        assert!(!hosts_match("10.0.0.?", "10.0.0.17"));
    }

    #[test]
    fn hashed_names() {
        // ssh-keygen -H style entry for "[127.0.0.1]:2222", computed with the salt below.
        let salt = [7u8; 20];
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
        let tag = ring::hmac::sign(&k, b"[127.0.0.1]:2222");
        let b64 = &data_encoding::BASE64;
        let entry = format!("|1|{}|{}", b64.encode(&salt), b64.encode(tag.as_ref()));
        assert!(hosts_match(&entry, "[127.0.0.1]:2222"));
        assert!(!hosts_match(&entry, "[127.0.0.1]:2223"));
        assert!(!hosts_match("|1|garbage|x", "host"));
    }

    #[test]
    fn known_hosts_verdicts() {
        let path = Path::new("/kh");
        let text =
            format!("# comment\n[127.0.0.1]:2222 {ED_A}\nother {ED_B}\n@cert-authority * {ED_B}\n");
        let (trusted, revoked) = from_known_hosts(&text, path, "[127.0.0.1]:2222");
        assert_eq!(trusted.len(), 1);
        assert!(revoked.is_empty());
        assert!(matches!(
            judge(&key(ED_A), &trusted, &revoked),
            Verdict::Match(Source::KnownHosts(_, 2))
        ));
        assert!(matches!(
            judge(&key(ED_B), &trusted, &revoked),
            Verdict::Mismatch { .. }
        ));
        let (none, _) = from_known_hosts(&text, path, "[127.0.0.1]:2223");
        assert!(matches!(
            judge(&key(ED_A), &none, &[]),
            Verdict::Unknown { .. }
        ));
    }

    #[test]
    fn revoked_keys_never_match() {
        let text = format!("h {ED_A}\n@revoked h {ED_A}\n");
        let (trusted, revoked) = from_known_hosts(&text, Path::new("/kh"), "h");
        assert!(matches!(
            judge(&key(ED_A), &trusted, &revoked),
            Verdict::Mismatch { .. }
        ));
    }

    #[test]
    fn loopback_names() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("127.1.2.3"));
        assert!(is_loopback("::1"));
        assert!(is_loopback("localhost"));
        assert!(!is_loopback("10.0.0.1"));
        assert!(!is_loopback("example.org"));
    }

    #[test]
    fn recorded_line_round_trips() {
        let line = known_hosts_line("[h]:2", &key(ED_A));
        let (trusted, _) = from_known_hosts(&line, Path::new("/kh"), "[h]:2");
        assert_eq!(trusted.len(), 1);
    }
}
