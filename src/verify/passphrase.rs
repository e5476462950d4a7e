//! The passphrase of an encrypted private key: read from an environment variable the user
//! names, or asked on the controlling terminal (/dev/tty) with echo off. Owns nothing else.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsFd;

use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};

/// The value of `var`; an error names the variable when it is unset or not UTF-8.
pub fn from_env(var: &str) -> Result<String, String> {
    std::env::var(var).map_err(|e| format!("environment variable {var}: {e}"))
}

/// Asks for the passphrase of `what` on /dev/tty without echo (restored afterwards).
pub fn prompt(what: &str) -> Result<String, String> {
    let tty = crate::apply::scratch::open_tty()
        .map_err(|e| format!("no terminal to ask on (/dev/tty: {e}); use --passphrase-env"))?;
    let saved = tcgetattr(tty.as_fd()).map_err(|e| format!("/dev/tty: {e}"))?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    (&tty)
        .write_all(format!("Enter passphrase for key {what}: ").as_bytes())
        .map_err(|e| format!("/dev/tty: {e}"))?;
    tcsetattr(tty.as_fd(), SetArg::TCSAFLUSH, &quiet).map_err(|e| format!("/dev/tty: {e}"))?;
    let mut line = String::new();
    let read = BufReader::new(&tty).read_line(&mut line);
    let _ = tcsetattr(tty.as_fd(), SetArg::TCSAFLUSH, &saved);
    read.map_err(|e| format!("/dev/tty: {e}"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
