//! The sshd path options, defined with the sshd code (`sshd::paths`) and flattened into
//! `user`, `destroy` and `apply`.

pub use crate::sshd::paths::SshdPaths;
