//! One extended attribute (`security.capability`) on an open descriptor: read for the audit,
//! removed by `check --fix`. The `unsafe` calls live here with the rest of the host layer.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// True when the open file carries file capabilities (`security.capability` xattr).
pub fn has_file_capability(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let name = c"security.capability";
    // SAFETY: `fd` is a valid open descriptor for the duration of the call, `name` is a
    // NUL-terminated C string, and a null buffer of size 0 only asks for the value's length.
    let n = unsafe { libc::fgetxattr(fd.as_raw_fd(), name.as_ptr(), std::ptr::null_mut(), 0) };
    if n >= 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENODATA) | Some(libc::ENOTSUP) => Ok(false),
        _ => Err(e),
    }
}

/// Removes the file's capabilities (`security.capability`); Ok(false) when it had none.
pub fn remove_file_capability(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let name = c"security.capability";
    // SAFETY: `fd` is a valid open descriptor for the duration of the call and `name` is a
    // NUL-terminated C string.
    let r = unsafe { libc::fremovexattr(fd.as_raw_fd(), name.as_ptr()) };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENODATA) | Some(libc::ENOTSUP) => Ok(false),
        _ => Err(e),
    }
}
