//! Build planning: a `BuildRequest` (what the jail must hold, already resolved against the
//! host) becomes a `Plan`. Pure: host facts arrive inside the request.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{JailPath, Owner};

/// What a host path is, after the host walker looked at it without following the last hop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostKind {
    /// A regular file, copied with `mode` (setuid/setgid already stripped).
    File { mode: u32 },
    /// A symbolic link, reproduced with the same target text (made relative if absolute).
    Symlink { target: PathBuf },
    /// A directory that must exist as a real directory.
    Dir { mode: u32 },
}

/// One host object to reproduce at the same path inside the jail, with why.
/// The host walker emits every symlink hop of a path as its own entry, so `/lib64/ld.so`
/// on a merged-/usr host gives `lib64 -> usr/lib64` and `usr/lib64/ld.so`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostEntry {
    pub path: JailPath,
    /// The absolute host path it is copied from.
    pub src: PathBuf,
    pub kind: HostKind,
    pub reason: String,
}

/// A directory to create with a given mode (profiles: `tmp` 1777, `var/log` …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraDir {
    pub path: JailPath,
    pub mode: u32,
    pub owner: Owner,
}

/// A file written with given content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentFile {
    pub path: JailPath,
    pub content: String,
    pub mode: u32,
    pub reason: String,
}

/// A file written with given bytes (a jail's own ld.so.cache).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinaryFile {
    pub path: JailPath,
    pub bytes: Vec<u8>,
    pub mode: u32,
    pub reason: String,
}

/// A device node to create (only from the allowed set; numbers from the host).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub name: String,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
}

/// Everything `plan_build` needs, collected by the CLI layer from options, profiles, the
/// resolver and the host. Every path in it has already been checked to exist on the host.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRequest {
    /// Programs, libraries, interpreters, data files and the symlink hops leading to them.
    pub entries: Vec<HostEntry>,
    pub dirs: Vec<ExtraDir>,
    pub devices: Vec<Device>,
    pub contents: Vec<ContentFile>,
    /// Files of bytes, written after `contents`.
    #[serde(default)]
    pub binaries: Vec<BinaryFile>,
}

use std::collections::{BTreeMap, BTreeSet};

use super::{Op, Plan, Step};

/// Mode of the directories jailsmith creates on the way to a file.
pub const DIR_MODE: u32 = 0o755;

/// Turns a request into an ordered plan: directories (parents first), then files, devices,
/// written files, and symlinks. The first entry for a path wins; a symlink at a path
/// replaces the directory that would otherwise be made there.
pub fn plan_build(jail: &std::path::Path, req: &BuildRequest) -> Plan {
    let mut dirs: BTreeMap<JailPath, (u32, Owner, String)> = BTreeMap::new();
    let mut objects: BTreeMap<JailPath, Step> = BTreeMap::new();
    let mut links: BTreeSet<JailPath> = BTreeSet::new();
    let add_parents = |p: &JailPath, dirs: &mut BTreeMap<JailPath, (u32, Owner, String)>| {
        for a in p.ancestors() {
            dirs.entry(a)
                .or_insert((DIR_MODE, Owner::ROOT, "parent directory".to_string()));
        }
    };
    for d in &req.dirs {
        add_parents(&d.path, &mut dirs);
        dirs.insert(d.path.clone(), (d.mode, d.owner, "base tree".to_string()));
    }
    for e in &req.entries {
        add_parents(&e.path, &mut dirs);
        let op = match &e.kind {
            HostKind::Dir { mode } => {
                dirs.entry(e.path.clone()).or_insert((
                    *mode & 0o1777,
                    Owner::ROOT,
                    e.reason.clone(),
                ));
                continue;
            }
            HostKind::File { mode } => Op::CopyFile {
                src: e.src.clone(),
                path: e.path.clone(),
                mode: mode & 0o1777 & !0o6000,
                owner: Owner::ROOT,
            },
            HostKind::Symlink { target } => {
                links.insert(e.path.clone());
                Op::Symlink {
                    path: e.path.clone(),
                    target: target.clone(),
                    src: Some(e.src.clone()),
                }
            }
        };
        objects.entry(e.path.clone()).or_insert(Step {
            op,
            reason: e.reason.clone(),
        });
    }
    for d in &req.devices {
        let path =
            JailPath::new(format!("dev/{}", d.name)).expect("device names are single components");
        add_parents(&path, &mut dirs);
        let op = Op::MakeDevice {
            path: path.clone(),
            major: d.major,
            minor: d.minor,
            mode: d.mode,
        };
        objects.insert(
            path,
            Step {
                op,
                reason: "device node".to_string(),
            },
        );
    }
    for c in &req.contents {
        add_parents(&c.path, &mut dirs);
        let op = Op::WriteFile {
            path: c.path.clone(),
            content: c.content.clone().into(),
            mode: c.mode & 0o1777,
            owner: Owner::ROOT,
        };
        objects.insert(
            c.path.clone(),
            Step {
                op,
                reason: c.reason.clone(),
            },
        );
    }
    for b in &req.binaries {
        add_parents(&b.path, &mut dirs);
        let op = Op::WriteFile {
            path: b.path.clone(),
            content: b.bytes.clone().into(),
            mode: b.mode & 0o1777,
            owner: Owner::ROOT,
        };
        objects.insert(
            b.path.clone(),
            Step {
                op,
                reason: b.reason.clone(),
            },
        );
    }
    let mut steps: Vec<Step> = dirs
        .into_iter()
        .filter(|(p, _)| !links.contains(p))
        .map(|(path, (mode, owner, reason))| Step {
            op: Op::MakeDir { path, mode, owner },
            reason,
        })
        .collect();
    let rank = |s: &Step| match s.op {
        Op::CopyFile { .. } => 0,
        Op::MakeDevice { .. } => 1,
        Op::WriteFile { .. } => 2,
        _ => 3,
    };
    let mut rest: Vec<Step> = objects.into_values().collect();
    rest.sort_by_key(|s| rank(s));
    steps.extend(rest);
    Plan {
        jail: jail.to_path_buf(),
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(p: &str, kind: HostKind) -> HostEntry {
        HostEntry {
            path: JailPath::new(p).unwrap(),
            src: p.into(),
            kind,
            reason: "t".into(),
        }
    }

    #[test]
    fn parents_first_and_links_replace_dirs() {
        let req = BuildRequest {
            entries: vec![
                entry(
                    "/lib64",
                    HostKind::Symlink {
                        target: "usr/lib64".into(),
                    },
                ),
                entry("/usr/lib64/ld.so", HostKind::File { mode: 0o4755 }),
            ],
            ..Default::default()
        };
        let plan = plan_build(std::path::Path::new("/j"), &req);
        let lines: Vec<String> = plan
            .steps
            .iter()
            .map(|s| format!("{} {}", s.op.verb(), s.op.path()))
            .collect();
        assert_eq!(
            lines,
            [
                "mkdir /usr",
                "mkdir /usr/lib64",
                "copy /usr/lib64/ld.so",
                "symlink /lib64"
            ]
        );
        match &plan.steps[2].op {
            Op::CopyFile { mode, .. } => assert_eq!(*mode, 0o755, "setuid stripped"),
            other => panic!("{other:?}"),
        }
    }
}
