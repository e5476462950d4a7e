//! Output into a pipe whose reader has gone (`jailsmith profiles list | head -1`): the
//! command ends as a Unix CLI does on SIGPIPE, with no panic message ("failed printing to
//! stdout: Broken pipe") on stderr. Both print paths are covered: `println!` (profiles) and
//! buffered `write!` (deps), with a reader that is gone before the first write and one that
//! reads a line and leaves while megabytes are still to come.

use crate::common;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use common::text;

/// Asserts the end of a command whose stdout reader closed early: killed by SIGPIPE,
/// nothing about it on stderr.
fn assert_quiet_sigpipe(what: &str, status: std::process::ExitStatus, stderr: &str) {
    for needle in ["panicked", "Broken pipe", "failed printing", "error"] {
        assert!(
            !stderr.contains(needle),
            "{what}: stderr mentions {needle:?}:\n{stderr}"
        );
    }
    assert_eq!(
        status.signal(),
        Some(libc::SIGPIPE),
        "{what}: expected death by SIGPIPE, got {status:?}; stderr:\n{stderr}"
    );
}

/// Runs `args` with stdout a pipe whose read end is closed before the command starts.
fn run_into_closed_pipe(args: &[&str]) -> (std::process::ExitStatus, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = common::bin()
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run jailsmith");
    (out.status, text(&out.stderr))
}

#[test]
fn printing_into_a_closed_pipe_ends_quietly_like_sigpipe() {
    for args in [
        &["profiles", "list"][..],
        &["profiles", "show", "basic-shell"],
        &["deps", "/bin/sh"],
        &["deps", "--json", "/bin/sh"],
    ] {
        let (status, stderr) = run_into_closed_pipe(args);
        assert_quiet_sigpipe(&args.join(" "), status, &stderr);
    }
}

#[test]
fn a_reader_that_leaves_after_one_line_ends_a_long_output_quietly() {
    // ~240 KiB of output: far more than a pipe buffers, so the command is still writing
    // when the reader goes.
    let many = vec!["/bin/sh"; 1000];
    let mut cmd = common::bin();
    cmd.arg("deps")
        .arg("--explain")
        .args(&many)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn jailsmith deps");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .expect("read the first line");
    assert!(first.starts_with("/bin/sh"), "first line: {first:?}");
    // the reader is dropped here: the pipe's read end is closed
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_quiet_sigpipe("deps --explain (1000 files) | head -1", status, &stderr);

    // the same through a shell pipeline, as an admin types it: `| head -1`
    let jailsmith = common::bin_path();
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#""$0" profiles list | head -1; "$0" deps --explain "$@" | head -1"#)
        .arg(&jailsmith)
        .args(&many)
        .output()
        .expect("run sh");
    let stderr = text(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
    assert_eq!(
        text(&out.stdout).lines().count(),
        2,
        "{}",
        text(&out.stdout)
    );
}
