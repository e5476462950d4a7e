//! Asking sshd itself: `sshd -t -f MAIN` (syntax) and `sshd -T -f MAIN -C user=…` (the
//! settings a connection of that user gets), and comparing those with what a drop-in sets.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::SshdError;

/// The sshd binary and the main config it is run with.
#[derive(Clone, Debug)]
pub struct Sshd {
    pub binary: PathBuf,
    pub main: PathBuf,
}

/// `sshd -T` output: keyword → every value line it printed (Subsystem, HostKey repeat).
pub type Effective = BTreeMap<String, Vec<String>>;

/// Parses `sshd -T` output.
pub fn parse_effective(text: &str) -> Effective {
    let mut map = Effective::new();
    for line in text.lines() {
        let (k, v) = line.split_once(' ').unwrap_or((line, ""));
        map.entry(k.to_string()).or_default().push(v.to_string());
    }
    map
}

/// The expected settings `effective` does not show, as `keyword: got X, expected Y`.
pub fn mismatches(expected: &[(String, String)], effective: &Effective) -> Vec<String> {
    expected
        .iter()
        .filter_map(|(k, want)| {
            let got = effective.get(k).and_then(|v| v.first());
            (got.map(String::as_str) != Some(want.as_str())).then(|| {
                format!(
                    "{k} is {}, expected {want}",
                    got.map(String::as_str).unwrap_or("(not shown)")
                )
            })
        })
        .collect()
}

/// The sftp subsystem sshd is configured with, if any.
pub fn sftp_subsystem(effective: &Effective) -> Option<&str> {
    effective
        .get("subsystem")?
        .iter()
        .find_map(|v| v.strip_prefix("sftp ").map(str::trim))
}

impl Sshd {
    fn run(&self, args: &[&str]) -> Result<String, SshdError> {
        let mut argv: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        argv.push(std::ffi::OsStr::new("-f"));
        argv.push(self.main.as_os_str());
        let out =
            crate::apply::process::run(&self.binary, &argv).map_err(|source| SshdError::Io {
                op: "run",
                path: self.binary.clone(),
                source,
            })?;
        if !out.status.success() {
            let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if stderr.is_empty() {
                stderr = out.status.to_string();
            }
            return Err(SshdError::Rejected {
                main: self.main.clone(),
                op: format!(
                    "{} {} -f {}",
                    self.binary.display(),
                    args.join(" "),
                    self.main.display()
                ),
                stderr,
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `sshd -t`: the configuration parses and its files are usable.
    pub fn test(&self) -> Result<(), SshdError> {
        self.run(&["-t"]).map(|_| ())
    }

    /// `sshd -T -C user=USER,host=localhost,addr=127.0.0.1`: what a login of USER gets.
    pub fn effective(&self, user: &str) -> Result<Effective, SshdError> {
        let spec = format!("user={user},host=localhost,addr=127.0.0.1");
        Ok(parse_effective(&self.run(&["-T", "-C", &spec])?))
    }

    /// The PidFile sshd uses (from `sshd -T`).
    pub fn pid_file(&self) -> Result<Option<PathBuf>, SshdError> {
        let eff = parse_effective(&self.run(&["-T"])?);
        Ok(eff
            .get("pidfile")
            .and_then(|v| v.first())
            .filter(|p| *p != "none")
            .map(PathBuf::from))
    }
}

/// True when a Match line could apply to `user`: anything but `Match User OTHER` with one
/// plain other name.
pub fn may_capture(line: &str, user: &str) -> bool {
    let Some((_, args)) = super::mainconfig::split_line(line) else {
        return false;
    };
    match args.as_slice() {
        [kw, name] if kw.eq_ignore_ascii_case("user") => {
            name == user || name.contains(['*', '?', '!', ','])
        }
        _ => true,
    }
}

/// Lists the Match lines that sshd reads before our drop-in `ours` and that may apply to
/// `user`: those in the main config and in drop-ins of the same directory sorting before it.
pub fn earlier_matches(main: &Path, ours: &Path, user: &str) -> Vec<String> {
    let dir = ours.parent().unwrap_or(Path::new("/"));
    let name = ours.file_name().unwrap_or_default();
    matches_in(main, dir, user, |n| n < name)
}

/// Every Match line in the main config and the drop-in directory that may apply to `user`.
pub fn all_matches(main: &Path, dropin_dir: &Path, user: &str) -> Vec<String> {
    matches_in(main, dropin_dir, user, |_| true)
}

/// `FILE:LINE: Match …` for the main config, then the drop-ins of `dir` (sorted) whose name
/// passes `take`, keeping only lines that may apply to `user`.
fn matches_in(main: &Path, dir: &Path, user: &str, take: impl Fn(&OsStr) -> bool) -> Vec<String> {
    let mut dropins: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| take(&e.file_name()))
        .map(|e| e.path())
        .collect();
    dropins.sort();
    let mut out = Vec::new();
    for f in std::iter::once(main.to_path_buf()).chain(dropins) {
        if let Ok(text) = std::fs::read_to_string(&f) {
            for (n, line) in super::mainconfig::match_lines(&text)
                .into_iter()
                .filter(|(_, l)| may_capture(l, user))
            {
                out.push(format!("{}:{n}: {line}", f.display()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_effective_settings() {
        let eff = parse_effective(
            "chrootdirectory /srv/j\npermitopen any\nsubsystem sftp internal-sftp\nsubsystem x /y\n",
        );
        let want = vec![
            ("chrootdirectory".to_string(), "/srv/j".to_string()),
            ("permitopen".to_string(), "none".to_string()),
            ("permittty".to_string(), "no".to_string()),
        ];
        assert_eq!(
            mismatches(&want, &eff),
            vec![
                "permitopen is any, expected none".to_string(),
                "permittty is (not shown), expected no".to_string()
            ]
        );
        assert_eq!(sftp_subsystem(&eff), Some("internal-sftp"));
        assert_eq!(sftp_subsystem(&parse_effective("port 22\n")), None);
        assert!(may_capture("Match all", "u"));
        assert!(may_capture("Match User u", "u"));
        assert!(may_capture("Match User a*", "u"));
        assert!(!may_capture("Match User other", "u"));
        assert!(may_capture("Match Group g", "u"));
    }
}
