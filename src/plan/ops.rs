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
    /// A symbolic link holding `target` verbatim (relative for SONAME chains); it gets the
    /// times of the host link `src`, when there is one.
    Symlink {
        path: JailPath,
        target: PathBuf,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        src: Option<PathBuf>,
    },
    /// A character device node; numbers taken from the host.
    MakeDevice {
        path: JailPath,
        major: u64,
        minor: u64,
        mode: u32,
    },
    /// A file with the given content (passwd, group, nsswitch.conf, profile scripts, the
    /// jail's own ld.so.cache).
    WriteFile {
        path: JailPath,
        content: Content,
        mode: u32,
        owner: Owner,
    },
    /// An object an earlier run placed that the request no longer needs (see `plan::prune`).
    /// Removed only while it is still the kind of object the manifest recorded (`expect`),
    /// a directory only when empty, never through a symlink; otherwise kept and reported.
    Remove { path: JailPath, expect: Placed },
}

/// The kind of object a run placed at a path, as the manifest records it: what a `Remove`
/// expects to find there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placed {
    Dir,
    /// A regular file (copied or written).
    File,
    Symlink,
    /// A character device node.
    Device,
}

impl Placed {
    /// The kind's name, as printed in plans and reports.
    pub fn name(self) -> &'static str {
        match self {
            Placed::Dir => "directory",
            Placed::File => "regular file",
            Placed::Symlink => "symlink",
            Placed::Device => "character device",
        }
    }
}

impl Op {
    /// The in-jail path this operation creates, replaces or removes.
    pub fn path(&self) -> &JailPath {
        match self {
            Op::MakeDir { path, .. }
            | Op::CopyFile { path, .. }
            | Op::Symlink { path, .. }
            | Op::MakeDevice { path, .. }
            | Op::WriteFile { path, .. }
            | Op::Remove { path, .. } => path,
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
            Op::Remove { .. } => "remove",
        }
    }
}

/// The bytes of a written file. Plans show text as a JSON string; other bytes (a binary
/// ld.so.cache) as `{"hex": "…"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Content(Vec<u8>);

impl Content {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Content {
    fn from(s: String) -> Self {
        Content(s.into_bytes())
    }
}

impl From<&str> for Content {
    fn from(s: &str) -> Self {
        Content(s.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for Content {
    fn from(b: Vec<u8>) -> Self {
        Content(b)
    }
}

impl PartialEq<&str> for Content {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ContentRepr {
    Text(String),
    Hex { hex: String },
}

impl Serialize for Content {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(t) => ContentRepr::Text(t.to_string()),
            Err(_) => ContentRepr::Hex {
                hex: self.0.iter().map(|b| format!("{b:02x}")).collect(),
            },
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match ContentRepr::deserialize(d)? {
            ContentRepr::Text(t) => Ok(t.into()),
            ContentRepr::Hex { hex } => (0..hex.len())
                .step_by(2)
                .map(|i| {
                    hex.get(i..i + 2)
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                })
                .collect::<Option<Vec<u8>>>()
                .map(Content)
                .ok_or_else(|| serde::de::Error::custom("content: bad hex")),
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

/// The ordered list of steps for one jail. Parents always come before children among the
/// steps that make things; the removals come last, children before their parents.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub jail: PathBuf,
    pub steps: Vec<Step>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_text_in_json_when_it_can_be_and_hex_otherwise() {
        let text = Content::from("root:x:0:\n");
        let bin = Content::from(vec![0u8, 0xff, 0x41]);
        assert_eq!(serde_json::to_string(&text).unwrap(), "\"root:x:0:\\n\"");
        assert_eq!(serde_json::to_string(&bin).unwrap(), r#"{"hex":"00ff41"}"#);
        for c in [text, bin] {
            let back: Content = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
            assert_eq!(back, c);
        }
    }
}
