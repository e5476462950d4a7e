//! The hand-written parts of each command's man page (`manual/COMMAND.md`): what the command
//! changes and never touches, EXAMPLES and FILES, plus the exit codes that command can
//! return. Data only; `man.rs` renders it. Every example line is parsed by the real
//! command-line definitions in this file's tests, so an example cannot rot.

use crate::exit::{
    BAD_INPUT, FINDINGS, HOST_FAILURE, HOST_KEY_MISMATCH, INTERRUPTED, OK, REFUSED, SSHD_INVALID,
};

/// One command's page text (Markdown, see `markdown.rs`) and its exit codes, each with its
/// meaning for that command ("" for the meaning in `exit::TABLE`).
pub struct Manual {
    pub text: &'static str,
    pub exit: &'static [(u8, &'static str)],
}

const WRITES: &[(u8, &str)] = &[
    (OK, "done, or nothing to change"),
    (BAD_INPUT, ""),
    (REFUSED, ""),
    (HOST_FAILURE, ""),
    (INTERRUPTED, ""),
];

const READS: &[(u8, &str)] = &[(OK, ""), (BAD_INPUT, "")];

/// The manual of the page `name` (`jailsmith-build`, `jailsmith-profiles-list` …).
pub fn of(name: &str) -> Option<Manual> {
    let (text, exit): (&str, &[(u8, &str)]) = match name {
        "jailsmith-build" => (include_str!("manual/build.md"), WRITES),
        "jailsmith-check" => (
            include_str!("manual/check.md"),
            &[
                (OK, "no error finding (warnings may be printed)"),
                (FINDINGS, "at least one error finding"),
                (BAD_INPUT, "the jail cannot be read, or bad input"),
                (
                    REFUSED,
                    "a jail path no jail may have (/, a system directory)",
                ),
                (
                    HOST_FAILURE,
                    "its state file cannot be read, or --fix could not repair something",
                ),
            ],
        ),
        "jailsmith-update" => (
            include_str!("manual/update.md"),
            &[
                (OK, "the jail is (now) current"),
                (FINDINGS, "with --dry-run: something would change"),
                (BAD_INPUT, ""),
                (REFUSED, ""),
                (HOST_FAILURE, ""),
                (INTERRUPTED, ""),
            ],
        ),
        "jailsmith-destroy" => (
            include_str!("manual/destroy.md"),
            &[
                (OK, "the jail is gone (or, with --dry-run, could go)"),
                (BAD_INPUT, "no state for this jail, or bad input"),
                (
                    REFUSED,
                    "sessions run (without --kill-sessions), or a safety rule",
                ),
                (SSHD_INVALID, ""),
                (HOST_FAILURE, ""),
                (INTERRUPTED, ""),
            ],
        ),
        "jailsmith-user" => (
            include_str!("manual/user.md"),
            &[
                (OK, "done, or up to date"),
                (FINDINGS, "with --verify-with: a check failed"),
                (BAD_INPUT, "bad name, key or missing shell; not run as root"),
                (
                    HOST_KEY_MISMATCH,
                    "with --verify-with: the host key does not match",
                ),
                (
                    REFUSED,
                    "root, nobody, a system uid, a privileged group, an unsafe jail path, a planted symlink, sessions running during --remove",
                ),
                (
                    SSHD_INVALID,
                    "sshd rejected the configuration; everything rolled back",
                ),
                (HOST_FAILURE, ""),
                (INTERRUPTED, ""),
            ],
        ),
        "jailsmith-users" => (
            include_str!("manual/users.md"),
            &[
                (OK, ""),
                (BAD_INPUT, "the jail does not exist, or bad input"),
                (REFUSED, "a symlink in the jail's path"),
                (HOST_FAILURE, ""),
            ],
        ),
        "jailsmith-verify" => (
            include_str!("manual/verify.md"),
            &[
                (OK, "no check failed"),
                (FINDINGS, "a check failed"),
                (BAD_INPUT, "no connection or authentication, or bad input"),
                (
                    HOST_KEY_MISMATCH,
                    "the host key does not match, or is unknown",
                ),
                (
                    HOST_FAILURE,
                    "the jail, its state or verify's marker could not be read or written",
                ),
            ],
        ),
        "jailsmith-deps" => (
            include_str!("manual/deps.md"),
            &[
                (OK, "every library resolved"),
                (FINDINGS, "a library could not be resolved"),
                (BAD_INPUT, ""),
            ],
        ),
        "jailsmith-mount" => (include_str!("manual/mount.md"), WRITES),
        "jailsmith-umount" => (include_str!("manual/umount.md"), WRITES),
        "jailsmith-service" => (include_str!("manual/service.md"), WRITES),
        "jailsmith-apply" => (
            include_str!("manual/apply.md"),
            &[
                (OK, "converged, or nothing to change"),
                (BAD_INPUT, "invalid spec or input"),
                (REFUSED, ""),
                (SSHD_INVALID, ""),
                (HOST_FAILURE, ""),
                (INTERRUPTED, ""),
            ],
        ),
        "jailsmith-profiles" => (
            include_str!("manual/profiles.md"),
            &[
                (OK, ""),
                (FINDINGS, "show: a required entry is missing on this host"),
                (BAD_INPUT, ""),
                (REFUSED, ""),
            ],
        ),
        "jailsmith-profiles-list" => (include_str!("manual/profiles-list.md"), READS),
        "jailsmith-profiles-show" => (
            include_str!("manual/profiles-show.md"),
            &[
                (OK, ""),
                (
                    FINDINGS,
                    "a required entry is missing on this host (a build would refuse)",
                ),
                (
                    BAD_INPUT,
                    "an invalid or unknown profile, or an include cycle",
                ),
                (REFUSED, "a profile reaches a path no jail may hold"),
            ],
        ),
        _ => return None,
    };
    Some(Manual { text, exit })
}

impl Manual {
    /// The text that continues DESCRIPTION (before the first `# SECTION`), and the sections.
    pub fn split(&self) -> (&'static str, &'static str) {
        let at = self
            .text
            .match_indices("\n# ")
            .next()
            .map(|(i, _)| i + 1)
            .unwrap_or(self.text.len());
        self.text.split_at(at)
    }

    /// The command lines of the EXAMPLES section, backslash continuations joined.
    #[cfg(test)]
    pub fn examples(&self) -> Vec<String> {
        let (_, sections) = self.split();
        let Some(start) = sections.find("# EXAMPLES") else {
            return Vec::new();
        };
        let body = &sections[start + 1..];
        let body = &body[..body.find("\n# ").unwrap_or(body.len())];
        let mut out = Vec::new();
        let mut in_code = false;
        let mut pending = String::new();
        for line in body.lines() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
                continue;
            }
            if !in_code {
                continue;
            }
            let line = line.trim();
            match line.strip_suffix('\\') {
                Some(head) => pending.push_str(head),
                None => {
                    pending.push_str(line);
                    out.push(std::mem::take(&mut pending));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    const PAGES: &[&str] = &[
        "jailsmith-build",
        "jailsmith-check",
        "jailsmith-update",
        "jailsmith-destroy",
        "jailsmith-user",
        "jailsmith-users",
        "jailsmith-verify",
        "jailsmith-deps",
        "jailsmith-mount",
        "jailsmith-umount",
        "jailsmith-service",
        "jailsmith-apply",
        "jailsmith-profiles",
        "jailsmith-profiles-list",
        "jailsmith-profiles-show",
    ];

    #[test]
    fn every_jailsmith_example_parses_with_the_real_definitions() {
        for page in PAGES {
            let m = of(page).unwrap_or_else(|| panic!("no manual for {page}"));
            let examples = m.examples();
            assert!(!examples.is_empty(), "{page} has no EXAMPLES");
            for ex in examples.iter().filter(|e| e.starts_with("jailsmith ")) {
                // The shell would expand `|` pipelines: only the jailsmith part is parsed.
                let cmd = ex.split(" | ").next().unwrap();
                let words = shlex::split(cmd).unwrap_or_else(|| panic!("{page}: {ex}"));
                if let Err(e) = crate::cli::Cli::try_parse_from(&words) {
                    panic!("{page}: example does not parse: {ex}\n{e}");
                }
            }
        }
    }

    #[test]
    fn every_page_has_its_sections_and_codes_from_the_table() {
        for page in PAGES {
            let m = of(page).unwrap();
            let (description, sections) = m.split();
            assert!(description.contains("## What it changes"), "{page}");
            assert!(sections.starts_with("# EXAMPLES"), "{page}");
            assert!(sections.contains("\n# FILES"), "{page}");
            assert!(m.exit.iter().any(|(c, _)| *c == OK), "{page}");
            for (code, _) in m.exit {
                assert!(
                    crate::exit::TABLE.iter().any(|(c, _)| c == code),
                    "{page}: {code}"
                );
            }
        }
    }
}
