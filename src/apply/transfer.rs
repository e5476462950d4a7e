//! Moving bytes: copying an open host file into an open jail file — a reflink or
//! `copy_file_range` in the kernel, the copy then hashed once from the page cache; or in
//! user space (256 KiB chunks, hashed with sha256 in the same pass). Works on descriptors only; it never opens a jail path.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use nix::errno::Errno;
use sha2::{Digest, Sha256};

/// Read size for one pass over a file.
pub(crate) const CHUNK: usize = 256 * 1024;

/// Lowercase hex of a byte string.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 (hex) of bytes in memory.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Copies `src` into `dst` from their current offsets, hashing what passes through.
/// Returns the sha256 (hex) and the number of bytes.
pub(crate) fn copy_hashing(mut src: &File, mut dst: &File) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        dst.write_all(&buf[..n])?;
        total += n as u64;
    }
    Ok((hex(&hasher.finalize()), total))
}

/// sha256 (hex) and size of everything readable from `src`.
pub(crate) fn hash_reader(mut src: &File) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok((hex(&hasher.finalize()), total))
}

/// How `copy_hashed` moved the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    /// FICLONE: the copy shares the source's extents (btrfs, XFS with reflink, …).
    Reflink,
    /// copy_file_range: copied page to page inside the kernel.
    Kernel,
    /// read/write through this process (the filesystems could do neither).
    User,
}

/// Copies `src` into `dst` (both at offset 0, `dst` empty and opened read-write) the
/// cheapest way the filesystems allow — a reflink, else `copy_file_range`, else a
/// read/write loop — and returns the sha256 (hex) of what `dst` now holds, its size and
/// the method. The hash is read back from `dst` (page cache, just written), so it
/// describes the jail copy even if the source changed meanwhile; each byte is hashed
/// once and, on the kernel paths, copied once.
pub(crate) fn copy_hashed(src: &File, dst: &File) -> io::Result<(String, u64, Method)> {
    if reflink(src, dst).is_ok() {
        let size = dst.metadata()?.len();
        let (sha, n) = hash_copy(dst, size)?;
        return Ok((sha, n, Method::Reflink));
    }
    match copy_kernel_or_user(src, dst)? {
        Moved::Kernel(n) => {
            let (sha, _) = hash_copy(dst, n)?;
            Ok((sha, n, Method::Kernel))
        }
        Moved::User(sha, n) => Ok((sha, n, Method::User)),
    }
}

/// `ioctl(dst, FICLONE, src)`: the whole of `src` shared into `dst`.
fn reflink(src: &File, dst: &File) -> nix::Result<()> {
    // SAFETY: FICLONE takes the source descriptor as its integer argument and touches no
    // memory of this process; both descriptors stay open for the borrowed `File`s' lifetime.
    let r = unsafe { libc::ioctl(dst.as_raw_fd(), libc::FICLONE, src.as_raw_fd()) };
    Errno::result(r).map(drop)
}

/// Bytes mapped at once when hashing a copy (4 MiB): small enough to keep the resident set low
/// (mapped page-cache pages count in it), large enough that the map/unmap calls vanish.
const WINDOW: u64 = 4 << 20;

/// sha256 (hex) and size of a copy just written (`size` bytes): hashed through read-only
/// mappings of its page cache, a window at a time, so no byte is copied into this process;
/// positioned reads when the file cannot be mapped.
fn hash_copy(file: &File, size: u64) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut off = 0u64;
    while off < size {
        let len = (size - off).min(WINDOW);
        // SAFETY: `file` is the temporary copy this process created (O_EXCL, mode 0600,
        // root-owned) and has not renamed into place yet: nobody else can truncate it under
        // the mapping. The mapping is read-only, private to this function and dropped before
        // the file is.
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(off)
                .len(len as usize)
                .populate()
                .map(file)
        };
        match map {
            Ok(m) => hasher.update(&m[..]),
            Err(_) if off == 0 => return hash_at(file),
            Err(e) => return Err(e),
        }
        off += len;
    }
    Ok((hex(&hasher.finalize()), size))
}

/// sha256 (hex) and size of a file's content from offset 0, by positioned reads (the
/// file offset is left alone).
pub(crate) fn hash_at(file: &File) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        match file.read_at(&mut buf, total) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok((hex(&hasher.finalize()), total))
}

/// What `copy_kernel_or_user` did: bytes copied in the kernel, or hashed and copied here.
enum Moved {
    Kernel(u64),
    User(String, u64),
}

/// copy_file_range from the current offsets; the user-space loop (hashing) when the
/// filesystems refuse before the first byte.
fn copy_kernel_or_user(src: &File, dst: &File) -> io::Result<Moved> {
    let mut total = 0u64;
    loop {
        match copy_range(src, dst, 1 << 30) {
            Ok(0) => return Ok(Moved::Kernel(total)),
            Ok(n) => total += n as u64,
            Err(Errno::EINTR) => continue,
            Err(
                Errno::EXDEV | Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP | Errno::EPERM,
            ) if total == 0 => {
                return copy_hashing(src, dst).map(|(sha, n)| Moved::User(sha, n));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Copies `src` into `dst` inside the kernel. Falls back to the user-space loop when the
/// filesystems cannot do it, before the first byte. Returns the number of bytes.
pub(crate) fn copy_in_kernel(src: &File, dst: &File) -> io::Result<u64> {
    Ok(match copy_kernel_or_user(src, dst)? {
        Moved::Kernel(n) | Moved::User(_, n) => n,
    })
}

/// One `copy_file_range(2)` call from the current offset of `src` to that of `dst`.
fn copy_range(src: &File, dst: &File, len: usize) -> nix::Result<usize> {
    // SAFETY: both descriptors are open for the lifetime of the borrowed `File`s; null offset
    // pointers tell the kernel to use and advance the files' own offsets; no memory of this
    // process is read or written by the call.
    let n = unsafe {
        libc::copy_file_range(
            src.as_raw_fd(),
            std::ptr::null_mut(),
            dst.as_raw_fd(),
            std::ptr::null_mut(),
            len,
            0,
        )
    };
    Errno::result(n).map(|n| n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom};

    fn copy_both(data: &[u8]) -> (Vec<u8>, Vec<u8>, String) {
        let mut src = tempfile::tempfile().unwrap();
        src.write_all(data).unwrap();
        let (a, b) = (tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap());
        src.seek(SeekFrom::Start(0)).unwrap();
        let (sha, n) = copy_hashing(&src, &a).unwrap();
        src.seek(SeekFrom::Start(0)).unwrap();
        assert_eq!(copy_in_kernel(&src, &b).unwrap(), n);
        let read = |mut f: &File| {
            f.seek(SeekFrom::Start(0)).unwrap();
            let mut v = vec![];
            f.read_to_end(&mut v).unwrap();
            v
        };
        (read(&a), read(&b), sha)
    }

    #[test]
    fn kernel_and_hashing_copies_are_identical() {
        for len in [0usize, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let (a, b, sha) = copy_both(&data);
            assert_eq!(a, data, "len {len}");
            assert_eq!(b, data, "len {len}");
            assert_eq!(sha, sha256_hex(&data));
        }
    }

    #[test]
    fn kernel_copy_hashed_from_the_copy_matches_the_user_space_copy() {
        for len in [0usize, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
            let mut src = tempfile::tempfile().unwrap();
            src.write_all(&data).unwrap();
            src.seek(SeekFrom::Start(0)).unwrap();
            let mut dst = tempfile::tempfile().unwrap();
            let (sha, n, _method) = copy_hashed(&src, &dst).unwrap();
            assert_eq!((sha, n), (sha256_hex(&data), len as u64), "len {len}");
            dst.seek(SeekFrom::Start(0)).unwrap();
            let mut back = vec![];
            dst.read_to_end(&mut back).unwrap();
            assert_eq!(back, data, "len {len}");
        }
    }

    #[test]
    fn sha256_of_nothing() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
