//! The one way jailsmith starts a program (sshd -t/-T, useradd, systemctl, ld.so --help):
//! by absolute path, with a cleared environment (a fixed PATH and LC_ALL=C, nothing
//! inherited from the caller's shell), stdin from /dev/null or given bytes, never through a
//! shell. `run_with_input` can give the program private, empty tmpfs over directories.
//! Nothing found inside a jail is ever run (DESIGN §5.8): callers pass host programs only.

use std::ffi::{CString, OsStr};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
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

/// A directory the program sees as an empty tmpfs of its own (`run_with_input`), holding
/// only `files` (name, content), made before the program starts.
pub struct PrivateDir<'a> {
    pub path: &'a Path,
    pub files: &'a [(&'a str, &'a [u8])],
}

/// What the child needs, made before the fork: no allocation happens after it.
struct Prepared {
    dir: CString,
    files: Vec<(CString, Vec<u8>)>,
}

/// Runs `program` with `args`, `input` on its stdin, capturing stdout and stderr. With
/// `private` directories, the program runs in a mount namespace of its own in which each is
/// an empty tmpfs (holding only its `files`): whatever it creates there is gone when it
/// exits, and the host's directories stay as they were (each must exist).
pub fn run_with_input<S: AsRef<OsStr>>(
    program: &Path,
    args: &[S],
    input: &[u8],
    private: &[PrivateDir],
) -> io::Result<Output> {
    let mut c = command(program, args)?;
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !private.is_empty() {
        let mut prepared = Vec::new();
        for d in private {
            let mut files = Vec::new();
            for (name, content) in d.files {
                if name.contains('/') {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{name}: a file name, not a path"),
                    ));
                }
                let path = d.path.join(name);
                files.push((CString::new(path.as_os_str().as_bytes())?, content.to_vec()));
            }
            let dir = CString::new(d.path.as_os_str().as_bytes())?;
            prepared.push(Prepared { dir, files });
        }
        // SAFETY: the closure runs in the child between fork and exec and calls only
        // unshare(2), mount(2), open(2), write(2) and close(2) on data made before the fork;
        // no allocation, no lock.
        unsafe {
            c.pre_exec(move || private_mounts(&prepared));
        }
    }
    let mut child = c.spawn()?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    // a writer thread: the program may fill its output pipes before it has read all input
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output()?;
    match writer.join() {
        Ok(Ok(())) => Ok(out),
        // the program exited without reading everything: its status says why
        Ok(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(out),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::other("the stdin writer panicked")),
    }
}

/// In the child: a private mount namespace (nothing propagates back to the host) with an
/// empty tmpfs over each directory, holding its files.
fn private_mounts(dirs: &[Prepared]) -> io::Result<()> {
    const TMPFS: &[u8] = b"tmpfs\0";
    const ROOT: &[u8] = b"/\0";
    const OPTS: &[u8] = b"mode=0755,size=16m\0";
    let check = |rc: libc::c_int| {
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    // SAFETY: plain syscalls on NUL-terminated strings and buffers that outlive the calls.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS))?;
        check(libc::mount(
            std::ptr::null(),
            ROOT.as_ptr().cast(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ))?;
        for d in dirs {
            check(libc::mount(
                TMPFS.as_ptr().cast(),
                d.dir.as_ptr(),
                TMPFS.as_ptr().cast(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                OPTS.as_ptr().cast(),
            ))?;
            for (path, content) in &d.files {
                let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC;
                let fd = libc::open(path.as_ptr(), flags, 0o644 as libc::c_uint);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let n = libc::write(fd, content.as_ptr().cast(), content.len());
                libc::close(fd);
                if n < 0 || n as usize != content.len() {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(())
    }
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

    #[test]
    fn input_reaches_the_program() {
        let big = "x".repeat(200_000);
        let out = run_with_input(Path::new("/usr/bin/wc"), &["-c"], big.as_bytes(), &[]).unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "200000");
    }

    #[test]
    fn a_private_dir_leaves_the_host_alone() {
        if !nix::unistd::geteuid().is_root() {
            return; // mount namespaces need root
        }
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("host"), "h").unwrap();
        let out = run_with_input(
            Path::new("/bin/sh"),
            &[
                "-c",
                "ls -A \"$0\"; mkdir \"$0/made\"; ls -A \"$0\"",
                &d.path().display().to_string(),
            ],
            b"",
            &[PrivateDir {
                path: d.path(),
                files: &[("given", b"content")],
            }],
        )
        .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "given\ngiven\nmade\n");
        let host: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(host, vec![std::ffi::OsString::from("host")]);
    }
}
