//! Moving bytes: copying an open host file into an open jail file and hashing it with
//! sha256 for the manifest. A reflink (FICLONE) where the filesystems share extents, the
//! copy then hashed once; otherwise one pass through a per-thread buffer that hashes the
//! bytes on their way to the jail. Works on descriptors only; it never opens a jail path.
//!
//! Why not `copy_file_range` when there is no reflink: the manifest needs the sha256 of
//! every byte, so every byte has to reach the CPU anyway. The kernel copy followed by a
//! second pass to hash the copy costs more (splice bookkeeping, then either a read back or
//! mapping the page cache, whose unmapping shoots down TLBs on every core of a threaded
//! process) than reading each chunk once, hashing it while it is hot in cache and writing
//! it out: `bench/run --only all` measured about 40 ms less on 428 MB.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use nix::errno::Errno;
use sha2::{Digest, Sha256};

/// Bytes moved per read: large enough that the syscalls vanish, small enough to stay in a
/// core's L2 cache between the read, the hash and the write.
pub(crate) const CHUNK: usize = 256 * 1024;

thread_local! {
    /// One buffer per thread, reused for every file (no allocation per copy).
    static BUF: RefCell<Vec<u8>> = RefCell::new(vec![0u8; CHUNK]);
}

/// Lowercase hex of a byte string.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 (hex) of bytes in memory.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Reads with `read(buf, offset)` until it returns 0, handing each chunk to `sink` and
/// hashing it; returns the sha256 (hex) and the number of bytes. One loop, in this thread's
/// buffer, for every pass over a file.
fn hash_pass(
    mut read: impl FnMut(&mut [u8], u64) -> io::Result<usize>,
    mut sink: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<(String, u64)> {
    BUF.with(|b| {
        let buf = &mut b.borrow_mut()[..];
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        loop {
            super::interrupt::check()?;
            let n = match read(buf, total) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            sink(&buf[..n])?;
            total += n as u64;
        }
        Ok((hex(&hasher.finalize()), total))
    })
}

/// Copies `src` into `dst` from their current offsets, hashing what passes through.
/// Returns the sha256 (hex) and the number of bytes: the digest of exactly the bytes
/// written, whatever happens to the source meanwhile.
pub(crate) fn copy_hashing(mut src: &File, mut dst: &File) -> io::Result<(String, u64)> {
    hash_pass(|buf, _| src.read(buf), |chunk| dst.write_all(chunk))
}

/// sha256 (hex) and size of everything readable from `src`.
pub(crate) fn hash_reader(mut src: &File) -> io::Result<(String, u64)> {
    hash_pass(|buf, _| src.read(buf), |_| Ok(()))
}

/// sha256 (hex) and size of a file's content from offset 0, by positioned reads (the
/// file offset is left alone).
pub(crate) fn hash_at(file: &File) -> io::Result<(String, u64)> {
    hash_pass(|buf, off| file.read_at(buf, off), |_| Ok(()))
}

/// Copies `src` into `dst` (both at offset 0, `dst` empty) the cheapest way the
/// filesystems allow — a reflink (then the copy is read once to hash it), else one hashing
/// pass — and returns the sha256 (hex) of what `dst` now holds and its size. After a
/// reflink the hash is read back from `dst`, so it describes the jail copy even if the
/// source changed meanwhile.
pub(crate) fn copy_hashed(src: &File, dst: &File) -> io::Result<(String, u64)> {
    if reflink(src, dst).is_ok() {
        return hash_at(dst);
    }
    copy_hashing(src, dst)
}

/// `ioctl(dst, FICLONE, src)`: the whole of `src` shared into `dst`. Fails (EXDEV,
/// EOPNOTSUPP, EINVAL…) where the two files are not on one filesystem that supports it.
fn reflink(src: &File, dst: &File) -> nix::Result<()> {
    // SAFETY: FICLONE takes the source descriptor as its integer argument and touches no
    // memory of this process; both descriptors stay open for the borrowed `File`s' lifetime.
    let r = unsafe { libc::ioctl(dst.as_raw_fd(), libc::FICLONE, src.as_raw_fd()) };
    Errno::result(r).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom};

    fn read_all(mut f: &File) -> Vec<u8> {
        f.seek(SeekFrom::Start(0)).unwrap();
        let mut v = vec![];
        f.read_to_end(&mut v).unwrap();
        v
    }

    #[test]
    fn the_hashing_copy_is_identical_and_its_digest_is_the_content_s() {
        for len in [0usize, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut src = tempfile::tempfile().unwrap();
            src.write_all(&data).unwrap();
            src.seek(SeekFrom::Start(0)).unwrap();
            let dst = tempfile::tempfile().unwrap();
            let (sha, n) = copy_hashed(&src, &dst).unwrap();
            assert_eq!((sha, n), (sha256_hex(&data), len as u64), "len {len}");
            assert_eq!(read_all(&dst), data, "len {len}");
            assert_eq!(hash_at(&dst).unwrap(), (sha256_hex(&data), len as u64));
            src.seek(SeekFrom::Start(0)).unwrap();
            assert_eq!(hash_reader(&src).unwrap(), (sha256_hex(&data), len as u64));
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
