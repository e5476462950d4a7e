//! The host lookups profile expansion needs (does a path exist, glob, walk a directory, find a
//! program in the secure PATH, find a library), behind a small trait so expansion can be
//! tested with a fake. `RealHost` reads the running system; nothing here writes.

use std::path::{Path, PathBuf};

use super::SECURE_PATH;

/// What a host path is, seen without following its last component (lstat).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    File {
        executable: bool,
    },
    Dir,
    Symlink {
        target: PathBuf,
    },
    /// A device, FIFO or socket: never copied from a profile.
    Other,
}

/// Read-only host file-system lookups.
pub trait HostFs {
    /// lstat: the node at `path` itself, or None when nothing is there.
    fn lstat(&self, path: &Path) -> Option<Node>;

    /// stat: the node at `path` after following symlinks (never a `Symlink`), or None when
    /// absent or dangling.
    fn stat(&self, path: &Path) -> Option<Node>;

    /// Names in a directory, as full paths, sorted; empty when unreadable.
    fn read_dir(&self, dir: &Path) -> Vec<PathBuf>;

    /// Paths matching an absolute glob, sorted. `*` does not cross `/`.
    fn glob(&self, pattern: &str) -> Vec<PathBuf>;

    /// The path with every symlink resolved, or None when it does not resolve.
    fn canonicalize(&self, path: &Path) -> Option<PathBuf>;

    /// The directories a bare library name is looked up in, in order.
    fn library_dirs(&self) -> Vec<PathBuf>;

    /// Whether `path` is an ELF object the host's loader can load (same class and machine).
    /// A fake may answer true for every file.
    fn is_native_elf(&self, path: &Path) -> bool;

    /// The program sshd runs for `Subsystem sftp` (what `sshd -T` reports), or None when
    /// sshd serves sftp itself (`internal-sftp`) or cannot be asked.
    fn sftp_server(&self) -> Option<PathBuf> {
        None
    }

    /// The first executable regular file named `name` in the secure PATH.
    fn which(&self, name: &str) -> Option<PathBuf> {
        SECURE_PATH
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| matches!(self.stat(p), Some(Node::File { executable: true })))
    }

    /// The first native ELF file named `name` in the library directories.
    fn find_library(&self, name: &str) -> Option<PathBuf> {
        self.library_dirs()
            .iter()
            .map(|d| d.join(name))
            .find(|p| matches!(self.stat(p), Some(Node::File { .. })) && self.is_native_elf(p))
    }

    /// Everything under `root` (excluded), depth first and sorted, without following
    /// symlinks; `prune` is asked for each entry and skips it with its subtree.
    fn walk(&self, root: &Path, prune: &dyn Fn(&Path) -> bool) -> Vec<(PathBuf, Node)> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let mut subdirs = Vec::new();
            for child in self.read_dir(&dir) {
                if prune(&child) {
                    continue;
                }
                let Some(node) = self.lstat(&child) else {
                    continue;
                };
                if node == Node::Dir {
                    subdirs.push(child.clone());
                }
                out.push((child, node));
            }
            stack.extend(subdirs.into_iter().rev());
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// The running system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealHost;

fn node_of(md: &std::fs::Metadata, path: &Path) -> Node {
    use std::os::unix::fs::PermissionsExt;
    let ft = md.file_type();
    if ft.is_symlink() {
        Node::Symlink {
            target: std::fs::read_link(path).unwrap_or_default(),
        }
    } else if ft.is_dir() {
        Node::Dir
    } else if ft.is_file() {
        Node::File {
            executable: md.permissions().mode() & 0o111 != 0,
        }
    } else {
        Node::Other
    }
}

impl HostFs for RealHost {
    fn lstat(&self, path: &Path) -> Option<Node> {
        std::fs::symlink_metadata(path)
            .ok()
            .map(|m| node_of(&m, path))
    }

    fn stat(&self, path: &Path) -> Option<Node> {
        std::fs::metadata(path).ok().map(|m| node_of(&m, path))
    }

    fn read_dir(&self, dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    fn glob(&self, pattern: &str) -> Vec<PathBuf> {
        let opts = glob_options();
        let mut v: Vec<PathBuf> = glob::glob_with(pattern, opts)
            .map(|paths| paths.filter_map(Result::ok).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    fn canonicalize(&self, path: &Path) -> Option<PathBuf> {
        std::fs::canonicalize(path).ok()
    }

    fn library_dirs(&self) -> Vec<PathBuf> {
        crate::hostinfo::loader::host_library_dirs()
    }

    /// Asks the host's sshd (`/usr/sbin/sshd -T`, its default configuration): the path is the
    /// distribution's, never assumed. Reads only.
    fn sftp_server(&self) -> Option<PathBuf> {
        let out = crate::apply::process::run(Path::new(SSHD), &["-T"]).ok()?;
        if !out.status.success() {
            return None;
        }
        sftp_subsystem(&String::from_utf8_lossy(&out.stdout))
    }

    fn is_native_elf(&self, path: &Path) -> bool {
        use std::io::Read;
        let mut head = [0u8; 20];
        let ok = std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok();
        ok && elf_header_is_native(&head)
    }
}

/// The sshd asked for its sftp subsystem.
const SSHD: &str = "/usr/sbin/sshd";

/// The sftp-server program in `sshd -T` output (`subsystem sftp /usr/libexec/openssh/sftp-server
/// -f AUTHPRIV`): its absolute path, or None for `internal-sftp` or no such line.
pub fn sftp_subsystem(sshd_t: &str) -> Option<PathBuf> {
    let effective = crate::sshd::validate::parse_effective(sshd_t);
    crate::sshd::validate::sftp_subsystem(&effective)
        .and_then(|v| v.split_whitespace().next())
        .filter(|p| p.starts_with('/'))
        .map(PathBuf::from)
}

/// Glob options shared by the real host and fakes: `*` stays within one path component,
/// dot files are matched like any other name.
pub fn glob_options() -> glob::MatchOptions {
    glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    }
}

/// Whether the first 20 bytes of a file are an ELF header of this build's class, byte order
/// and machine (a 64-bit x86-64 jailsmith looks for x86-64 libraries).
pub fn elf_header_is_native(h: &[u8; 20]) -> bool {
    if &h[..4] != b"\x7fELF" {
        return false;
    }
    let class = if cfg!(target_pointer_width = "64") {
        2
    } else {
        1
    };
    let data = if cfg!(target_endian = "little") { 1 } else { 2 };
    if h[4] != class || h[5] != data {
        return false;
    }
    let machine = if data == 1 {
        u16::from_le_bytes([h[18], h[19]])
    } else {
        u16::from_be_bytes([h[18], h[19]])
    };
    match native_machine() {
        Some(m) => machine == m,
        None => true,
    }
}

/// e_machine of the architecture jailsmith was built for, when known.
fn native_machine() -> Option<u16> {
    if cfg!(target_arch = "x86_64") {
        Some(62)
    } else if cfg!(target_arch = "aarch64") {
        Some(183)
    } else if cfg!(target_arch = "x86") {
        Some(3)
    } else if cfg!(target_arch = "arm") {
        Some(40)
    } else if cfg!(target_arch = "powerpc64") {
        Some(21)
    } else if cfg!(target_arch = "s390x") {
        Some(22)
    } else {
        None
    }
}

#[cfg(test)]
pub mod fake {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Default)]
    pub struct FakeHost {
        pub nodes: BTreeMap<PathBuf, Node>,
        pub lib_dirs: Vec<PathBuf>,
        pub sftp: Option<PathBuf>,
    }

    impl FakeHost {
        /// What the fake sshd reports for `Subsystem sftp` (an executable file is added).
        pub fn sftp_server(mut self, path: &str) -> Self {
            self.sftp = Some(path.into());
            self.file(path, true)
        }
        /// Adds a file (executable when `exec`) and its parent directories.
        pub fn file(mut self, path: &str, exec: bool) -> Self {
            self.add_parents(path);
            self.nodes
                .insert(path.into(), Node::File { executable: exec });
            self
        }
        pub fn dir(mut self, path: &str) -> Self {
            self.add_parents(path);
            self.nodes.insert(path.into(), Node::Dir);
            self
        }
        pub fn symlink(mut self, path: &str, target: &str) -> Self {
            self.add_parents(path);
            self.nodes.insert(
                path.into(),
                Node::Symlink {
                    target: target.into(),
                },
            );
            self
        }
        pub fn libdir(mut self, path: &str) -> Self {
            self.lib_dirs.push(path.into());
            self.dir(path)
        }
        fn add_parents(&mut self, path: &str) {
            for a in Path::new(path).ancestors().skip(1) {
                self.nodes.insert(a.to_path_buf(), Node::Dir);
            }
        }
    }

    impl HostFs for FakeHost {
        fn lstat(&self, path: &Path) -> Option<Node> {
            self.nodes.get(path).cloned()
        }
        fn stat(&self, path: &Path) -> Option<Node> {
            let mut p = path.to_path_buf();
            for _ in 0..16 {
                match self.nodes.get(&p)? {
                    Node::Symlink { target } => {
                        p = p.parent().unwrap_or(Path::new("/")).join(target);
                    }
                    n => return Some(n.clone()),
                }
            }
            None
        }
        fn canonicalize(&self, path: &Path) -> Option<PathBuf> {
            // Resolves links in the last component only: enough for the fakes' layouts.
            let mut p = path.to_path_buf();
            for _ in 0..16 {
                match self.nodes.get(&p)? {
                    Node::Symlink { target } => {
                        p = p.parent().unwrap_or(Path::new("/")).join(target);
                    }
                    _ => return Some(p),
                }
            }
            None
        }
        fn read_dir(&self, dir: &Path) -> Vec<PathBuf> {
            self.nodes
                .keys()
                .filter(|p| p.parent() == Some(dir) && p.as_path() != dir)
                .cloned()
                .collect()
        }
        fn glob(&self, pattern: &str) -> Vec<PathBuf> {
            let pat = glob::Pattern::new(pattern).unwrap();
            self.nodes
                .keys()
                .filter(|p| pat.matches_path_with(p, glob_options()))
                .cloned()
                .collect()
        }
        fn library_dirs(&self) -> Vec<PathBuf> {
            self.lib_dirs.clone()
        }
        fn is_native_elf(&self, _path: &Path) -> bool {
            true
        }
        fn sftp_server(&self) -> Option<PathBuf> {
            self.sftp.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeHost;
    use super::*;

    #[test]
    fn which_uses_secure_path_order_and_needs_exec() {
        let h = FakeHost::default()
            .file("/usr/local/bin/tool", false)
            .file("/usr/bin/tool", true)
            .file("/bin/tool", true);
        assert_eq!(h.which("tool"), Some(PathBuf::from("/usr/bin/tool")));
        assert_eq!(h.which("nope"), None);
    }

    #[test]
    fn walk_is_sorted_and_prunes() {
        let h = FakeHost::default()
            .file("/d/a", false)
            .file("/d/sub/b", false)
            .file("/d/skip/c", false)
            .symlink("/d/l", "a");
        let got: Vec<PathBuf> = h
            .walk(Path::new("/d"), &|p| p.ends_with("skip"))
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        let want: Vec<PathBuf> = ["/d/a", "/d/l", "/d/sub", "/d/sub/b"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn elf_header_check() {
        let mut h = [0u8; 20];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[18] = 62;
        if cfg!(all(target_arch = "x86_64", target_endian = "little")) {
            assert!(elf_header_is_native(&h));
            h[4] = 1;
            assert!(!elf_header_is_native(&h), "32-bit class is not native");
        }
        assert!(!elf_header_is_native(&[0u8; 20]));
    }

    #[test]
    fn sftp_server_is_read_from_sshd_t() {
        let t = "port 22\nsubsystem sftp /usr/libexec/openssh/sftp-server -f AUTHPRIV -l INFO\n";
        assert_eq!(
            sftp_subsystem(t),
            Some(PathBuf::from("/usr/libexec/openssh/sftp-server"))
        );
        assert_eq!(sftp_subsystem("subsystem sftp internal-sftp\n"), None);
        assert_eq!(sftp_subsystem("subsystem other /x\nport 22\n"), None);
    }

    #[test]
    fn real_host_finds_libc() {
        // Every glibc host has libc.so.6 in a library directory.
        let p = RealHost.find_library("libc.so.6");
        assert!(p.is_some(), "dirs: {:?}", RealHost.library_dirs());
    }
}
