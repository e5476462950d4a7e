//! The operations a plan is made of: verbs on jail objects, each with the reason it exists.
//! Data only; `apply` gives them effect, `render` prints them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::JailPath;

/// Numeric owner of an object in the jail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

impl Owner {
    pub const ROOT: Owner = Owner { uid: 0, gid: 0 };
}

impl Default for Owner {
    fn default() -> Self {
        Owner::ROOT
    }
}

/// One typed operation on the jail. Modes never carry setuid/setgid bits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// A real directory (never through a symlink).
    MakeDir {
        path: JailPath,
        mode: u32,
        owner: Owner,
    },
    /// A host file copied to `path`, setuid/setgid bits and file capabilities stripped.
    CopyFile {
        src: PathBuf,
        path: JailPath,
        mode: u32,
        owner: Owner,
    },
    /// A symbolic link holding `target` verbatim (relative for SONAME chains).
    Symlink { path: JailPath, target: PathBuf },
    /// A character device node; numbers taken from the host.
    MakeDevice {
        path: JailPath,
        major: u64,
        minor: u64,
        mode: u32,
    },
    /// A file with the given content (passwd, group, nsswitch.conf, profile scripts).
    WriteFile {
        path: JailPath,
        content: String,
        mode: u32,
        owner: Owner,
    },
}

impl Op {
    /// The in-jail path this operation creates or replaces.
    pub fn path(&self) -> &JailPath {
        match self {
            Op::MakeDir { path, .. }
            | Op::CopyFile { path, .. }
            | Op::Symlink { path, .. }
            | Op::MakeDevice { path, .. }
            | Op::WriteFile { path, .. } => path,
        }
    }

    /// The verb, as printed in plans and reports.
    pub fn verb(&self) -> &'static str {
        match self {
            Op::MakeDir { .. } => "mkdir",
            Op::CopyFile { .. } => "copy",
            Op::Symlink { .. } => "symlink",
            Op::MakeDevice { .. } => "mknod",
            Op::WriteFile { .. } => "write",
        }
    }
}

/// An operation and why the plan holds it ("needed by /usr/bin/bash via ld.so.cache").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    #[serde(flatten)]
    pub op: Op,
    pub reason: String,
}

/// The ordered list of steps for one jail. Parents always come before children.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub jail: PathBuf,
    pub steps: Vec<Step>,
}
