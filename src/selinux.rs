//! SELinux (EL9): whether it is enabled (`/sys/fs/selinux/enforce` readable and a policy
//! loaded), and the commands that label a jail like the root it mirrors (an equivalence rule
//! `semanage fcontext -a -e / JAIL`, then `restorecon -R JAIL`), that remove the rule, and that
//! list files whose label differs (`restorecon -R -n -v JAIL`). The decisions and argument
//! vectors are pure; the `SelinuxHost` seam reads the host and runs the programs through
//! `apply::process::run`. Where SELinux is absent, nothing runs and nothing is printed.

use std::path::{Path, PathBuf};

/// Where the kernel shows SELinux's state.
pub const SELINUXFS: &str = "/sys/fs/selinux";
/// policycoreutils-python-utils.
pub const SEMANAGE: &str = "/usr/sbin/semanage";
/// policycoreutils.
pub const RESTORECON: &str = "/usr/sbin/restorecon";

#[derive(Debug, thiserror::Error)]
pub enum SelinuxError {
    #[error("cannot run {program}: {source}{}", install_hint(program))]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed: {stderr}")]
    Failed { command: String, stderr: String },
}

/// The package that brings `program`, for a message.
fn install_hint(program: &str) -> &'static str {
    if program == SEMANAGE {
        " (install policycoreutils-python-utils)"
    } else {
        " (install policycoreutils)"
    }
}

/// SELinux on this host, as the kernel reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// No selinuxfs, or no policy loaded: nothing to label.
    Absent,
    Enabled {
        enforcing: bool,
    },
}

/// What jailsmith needs from the host: selinuxfs and the policy tools.
pub trait SelinuxHost {
    /// The text of `/sys/fs/selinux/NAME`, or None when it cannot be read.
    fn selinuxfs(&self, name: &str) -> Option<String>;
    /// Runs `argv` (absolute program first); its stdout, or the failure.
    fn run(&self, argv: &[String]) -> Result<String, SelinuxError>;
}

/// Enabled when `enforce` reads 0 or 1 and a policy is loaded (`policyvers` readable).
pub fn status(host: &dyn SelinuxHost) -> Status {
    let enforce = host.selinuxfs("enforce");
    let policy = host.selinuxfs("policyvers");
    match (enforce.as_deref().map(str::trim), policy) {
        (Some("1"), Some(_)) => Status::Enabled { enforcing: true },
        (Some("0"), Some(_)) => Status::Enabled { enforcing: false },
        _ => Status::Absent,
    }
}

fn argv(program: &str, args: &[&str], jail: &Path) -> Vec<String> {
    let mut v = vec![program.to_string()];
    v.extend(args.iter().map(|a| a.to_string()));
    v.push(jail.display().to_string());
    v
}

/// `semanage fcontext -l -C`: the local customizations, where an equivalence shows as
/// `JAIL = /`.
pub fn list_rules_argv() -> Vec<String> {
    [SEMANAGE, "fcontext", "-l", "-C"]
        .map(String::from)
        .to_vec()
}

/// True when `rules` (the output of `list_rules_argv`) holds `JAIL = /`.
pub fn has_equivalence(rules: &str, jail: &Path) -> bool {
    let jail = jail.display().to_string();
    rules.lines().any(|l| {
        let mut w = l.split_whitespace();
        w.next() == Some(jail.as_str()) && w.next() == Some("=") && w.next() == Some("/")
    })
}

/// The commands that label `jail` like `/`: the equivalence rule unless `rules` holds it,
/// then a relabel of the tree.
pub fn label_argvs(jail: &Path, rules: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    if !has_equivalence(rules, jail) {
        out.push(argv(SEMANAGE, &["fcontext", "-a", "-e", "/"], jail));
    }
    out.push(argv(RESTORECON, &["-R"], jail));
    out
}

/// The command that removes the equivalence rule of `jail`, when `rules` holds it.
pub fn unlabel_argvs(jail: &Path, rules: &str) -> Vec<Vec<String>> {
    if has_equivalence(rules, jail) {
        vec![argv(SEMANAGE, &["fcontext", "-d", "-e", "/"], jail)]
    } else {
        Vec::new()
    }
}

/// `restorecon -R -n -v JAIL`: what a relabel would change, changing nothing.
pub fn audit_argv(jail: &Path) -> Vec<String> {
    argv(RESTORECON, &["-R", "-n", "-v"], jail)
}

/// A file whose label differs from the one the policy (with the jail's rule) expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mislabel {
    pub path: PathBuf,
    pub label: String,
    pub expected: String,
}

/// The files in `restorecon -n -v` output (`Would relabel PATH from OLD to NEW`).
pub fn mislabelled(output: &str) -> Vec<Mislabel> {
    output
        .lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("Would relabel ")?;
            let (path, labels) = rest.rsplit_once(" from ")?;
            let (label, expected) = labels.split_once(" to ")?;
            Some(Mislabel {
                path: path.into(),
                label: label.trim().into(),
                expected: expected.trim().into(),
            })
        })
        .collect()
}

/// Runs each of `argvs`; returns them as shown command lines.
fn run_all(host: &dyn SelinuxHost, argvs: Vec<Vec<String>>) -> Result<Vec<String>, SelinuxError> {
    let mut done = Vec::new();
    for a in argvs {
        host.run(&a)?;
        done.push(a.join(" "));
    }
    Ok(done)
}

/// After a build: labels `jail` like `/` where SELinux is enabled; the commands run (none
/// where it is absent).
pub fn label_jail(host: &dyn SelinuxHost, jail: &Path) -> Result<Vec<String>, SelinuxError> {
    if status(host) == Status::Absent {
        return Ok(Vec::new());
    }
    let rules = host.run(&list_rules_argv())?;
    run_all(host, label_argvs(jail, &rules))
}

/// After a destroy: removes the jail's equivalence rule where SELinux is enabled.
pub fn unlabel_jail(host: &dyn SelinuxHost, jail: &Path) -> Result<Vec<String>, SelinuxError> {
    if status(host) == Status::Absent {
        return Ok(Vec::new());
    }
    let rules = host.run(&list_rules_argv())?;
    run_all(host, unlabel_argvs(jail, &rules))
}

/// For `check`: the files whose label differs, where SELinux is enabled (none elsewhere).
pub fn check_labels(host: &dyn SelinuxHost, jail: &Path) -> Result<Vec<Mislabel>, SelinuxError> {
    if status(host) == Status::Absent {
        return Ok(Vec::new());
    }
    Ok(mislabelled(&host.run(&audit_argv(jail))?))
}

/// The running host.
pub struct RealSelinux;

impl SelinuxHost for RealSelinux {
    fn selinuxfs(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(Path::new(SELINUXFS).join(name)).ok()
    }

    fn run(&self, argv: &[String]) -> Result<String, SelinuxError> {
        let (program, args) = argv.split_first().expect("a program");
        let out = crate::apply::process::run(Path::new(program), args).map_err(|source| {
            SelinuxError::Spawn {
                program: program.clone(),
                source,
            }
        })?;
        if !out.status.success() {
            return Err(SelinuxError::Failed {
                command: argv.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A host whose selinuxfs and command outputs are given; records what ran.
    #[derive(Default)]
    struct Fake {
        enforce: Option<&'static str>,
        policy: bool,
        rules: &'static str,
        restorecon_n: &'static str,
        ran: RefCell<Vec<String>>,
    }

    impl SelinuxHost for Fake {
        fn selinuxfs(&self, name: &str) -> Option<String> {
            match name {
                "enforce" => self.enforce.map(String::from),
                "policyvers" => self.policy.then(|| "33\n".to_string()),
                _ => None,
            }
        }
        fn run(&self, argv: &[String]) -> Result<String, SelinuxError> {
            self.ran.borrow_mut().push(argv.join(" "));
            Ok(match argv.iter().any(|a| a == "-n") {
                true => self.restorecon_n.into(),
                false if argv.iter().any(|a| a == "-C") => self.rules.into(),
                false => String::new(),
            })
        }
    }

    fn enforcing() -> Fake {
        Fake {
            enforce: Some("1\n"),
            policy: true,
            ..Fake::default()
        }
    }

    const JAIL: &str = "/srv/get_chrooted";

    #[test]
    fn absent_selinux_runs_nothing() {
        for host in [
            Fake::default(),
            Fake {
                enforce: Some("1"),
                ..Fake::default()
            },
        ] {
            assert_eq!(status(&host), Status::Absent);
            assert!(label_jail(&host, Path::new(JAIL)).unwrap().is_empty());
            assert!(unlabel_jail(&host, Path::new(JAIL)).unwrap().is_empty());
            assert!(check_labels(&host, Path::new(JAIL)).unwrap().is_empty());
            assert!(host.ran.borrow().is_empty());
        }
    }

    #[test]
    fn status_reads_enforce_and_the_loaded_policy() {
        assert_eq!(status(&enforcing()), Status::Enabled { enforcing: true });
        let permissive = Fake {
            enforce: Some("0"),
            policy: true,
            ..Fake::default()
        };
        assert_eq!(status(&permissive), Status::Enabled { enforcing: false });
    }

    #[test]
    fn build_adds_the_equivalence_once_then_relabels() {
        let host = enforcing();
        let done = label_jail(&host, Path::new(JAIL)).unwrap();
        assert_eq!(
            done,
            [
                "/usr/sbin/semanage fcontext -a -e / /srv/get_chrooted",
                "/usr/sbin/restorecon -R /srv/get_chrooted",
            ]
        );
        assert_eq!(host.ran.borrow()[0], "/usr/sbin/semanage fcontext -l -C");
        let again = Fake {
            rules: "SELinux Local fcontext Equivalence\n\n/srv/get_chrooted = /\n",
            ..enforcing()
        };
        assert_eq!(
            label_jail(&again, Path::new(JAIL)).unwrap(),
            ["/usr/sbin/restorecon -R /srv/get_chrooted"]
        );
    }

    #[test]
    fn destroy_removes_only_an_existing_rule() {
        let host = Fake {
            rules: "/srv/other = /\n/srv/get_chrooted = /\n",
            ..enforcing()
        };
        assert_eq!(
            unlabel_jail(&host, Path::new(JAIL)).unwrap(),
            ["/usr/sbin/semanage fcontext -d -e / /srv/get_chrooted"]
        );
        assert!(
            unlabel_jail(&enforcing(), Path::new(JAIL))
                .unwrap()
                .is_empty()
        );
        assert!(!has_equivalence(
            "/srv/get_chrooted2 = /\n",
            Path::new(JAIL)
        ));
    }

    #[test]
    fn check_lists_files_whose_label_differs() {
        let host = Fake {
            restorecon_n: "Would relabel /srv/get_chrooted/usr/bin/bash from unconfined_u:object_r:var_t:s0 to unconfined_u:object_r:bin_t:s0\n",
            ..enforcing()
        };
        let m = check_labels(&host, Path::new(JAIL)).unwrap();
        assert_eq!(
            m,
            [Mislabel {
                path: "/srv/get_chrooted/usr/bin/bash".into(),
                label: "unconfined_u:object_r:var_t:s0".into(),
                expected: "unconfined_u:object_r:bin_t:s0".into(),
            }]
        );
        assert_eq!(
            host.ran.borrow().as_slice(),
            ["/usr/sbin/restorecon -R -n -v /srv/get_chrooted"]
        );
    }
}
