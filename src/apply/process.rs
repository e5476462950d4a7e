//! The one way jailsmith starts a program (sshd -t/-T, useradd, systemctl, ld.so --help):
//! by absolute path, with a cleared environment (a fixed PATH and LC_ALL=C, nothing
//! inherited from the caller's shell), stdin from /dev/null, never through a shell.
//! Nothing found inside a jail is ever run (DESIGN §5.8): callers pass host programs only.

use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// The PATH a started program sees.
pub const PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

fn command<S: AsRef<OsStr>>(program: &Path, args: &[S]) -> io::Result<Command> {
    if !program.is_absolute() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}: jailsmith runs programs by absolute path only",
                program.display()
            ),
        ));
    }
    let mut c = Command::new(program);
    c.args(args)
        .env_clear()
        .env("PATH", PATH)
        .env("LC_ALL", "C")
        .stdin(Stdio::null());
    Ok(c)
}

/// Runs `program` with `args` to completion, capturing stdout and stderr.
pub fn run<S: AsRef<OsStr>>(program: &Path, args: &[S]) -> io::Result<Output> {
    command(program, args)?.output()
}

/// Starts `program` with stdout piped and stderr discarded, for a caller that works while
/// it runs (`Child::wait_with_output` collects it).
pub fn spawn_reading<S: AsRef<OsStr>>(program: &Path, args: &[S]) -> io::Result<Child> {
    command(program, args)?
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_programs_are_refused_and_the_environment_is_clean() {
        assert!(run(Path::new("sh"), &["-c", "true"]).is_err());
        let out = run(
            Path::new("/bin/sh"),
            &["-c", "echo \"$PATH|$HOME|$LC_ALL\""],
        )
        .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{PATH}||C\n"));
    }
}
