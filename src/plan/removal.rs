//! What `destroy` removes from a jail's tree, as data: the rules (`RemovalRules`) a
//! `HostOp::RemoveJailContents` carries and `apply::tree` asks per entry (`Decision`).
//! Pure: built from the jail's state by `jail::destroy`, never reads the host.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// What to do with one entry, given its in-jail path (None when not UTF-8) and whether it
/// is a directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Remove it; a directory with everything below it, without asking again.
    Remove,
    /// Leave it (and, for a directory, everything below it) and list it as kept.
    Keep,
    /// Enter the directory and ask for each entry; remove the directory itself when it
    /// ends up empty and `remove_if_empty`.
    Enter { remove_if_empty: bool },
    /// Enter the directory and remove everything in it without asking (a scratch area
    /// whose entries may have any name); remove it too when `remove_if_empty`.
    Empty { remove_if_empty: bool },
}

/// What `destroy` removes: the objects jailsmith created (the manifest, minus what it
/// found there), the directories of the jail's binds, everything in the jail's scratch
/// directories (/tmp, /var/tmp) and, with `purge`, the homes and the services' read-write
/// data. Nothing else: a foreign object is kept, with the directories holding it.
/// In a plan (`remove_jail_contents`) it shows `purge`, the `service_data` and the
/// `adopted` objects; the manifest's paths it asks are not listed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RemovalRules {
    /// Homes and service data go too (`--purge`).
    pub purge: bool,
    /// Every path of the manifest, with whether jailsmith found it there (kept) rather
    /// than made it.
    #[serde(skip)]
    pub entries: BTreeMap<String, bool>,
    /// The objects found in the jail and adopted (`manifest.foreign`): always kept.
    #[serde(rename = "adopted")]
    pub foreign: BTreeSet<String>,
    /// The services' read-write data directories: kept unless `purge`.
    #[serde(rename = "service_data")]
    pub data: Vec<String>,
    /// The directories of the jail's mounts (targets and their ancestors).
    #[serde(skip)]
    pub binds: Vec<String>,
    /// The jail has its own devpts (`/dev/ptmx` is jailsmith's link).
    #[serde(skip)]
    pub devpts: bool,
    /// The jail's own log socket's placeholder (`mounts::LOG_PATH`), when it has one.
    #[serde(skip)]
    pub log: Option<String>,
}

/// A direct child of /home: a user's home.
pub fn is_home(path: &str) -> bool {
    path.strip_prefix("/home/")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
}

fn is_below(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.starts_with('/'))
}

impl RemovalRules {
    pub fn is_data(&self, path: &str) -> bool {
        self.data.iter().any(|d| d == path)
    }

    /// Made by jailsmith (and not found there).
    fn made(&self, path: &str) -> bool {
        self.entries.get(path).is_some_and(|found| !found)
    }

    fn purge_or_keep(&self) -> Decision {
        if self.purge {
            Decision::Remove
        } else {
            Decision::Keep
        }
    }

    /// Why an object stays: for the report.
    pub fn why_kept(&self, path: &str) -> &'static str {
        if self.is_data(path) {
            "a service's read-write data; --purge removes it"
        } else if is_home(path) {
            "a home; --purge removes it"
        } else {
            "not made by jailsmith"
        }
    }

    pub fn decide(&self, path: Option<&str>, dir: bool) -> Decision {
        let Some(p) = path else {
            return Decision::Keep;
        };
        let entry = self.entries.get(p).copied();
        if self.foreign.contains(p) {
            // adopted: kept; a directory the jail uses too is entered for what jailsmith
            // put in it
            return if dir && entry.is_some() {
                Decision::Enter {
                    remove_if_empty: false,
                }
            } else {
                Decision::Keep
            };
        }
        if self.is_data(p) || is_home(p) {
            return self.purge_or_keep();
        }
        if dir && ["/tmp", "/var/tmp"].contains(&p) && self.made(p) {
            return Decision::Empty {
                remove_if_empty: true,
            };
        }
        let holds_data = self.data.iter().any(|d| is_below(d, p));
        let bind_dir = self.binds.iter().any(|b| b == p);
        match entry {
            Some(true) if dir => Decision::Enter {
                remove_if_empty: false,
            },
            Some(true) => Decision::Keep,
            Some(false) if dir => Decision::Enter {
                remove_if_empty: true,
            },
            Some(false) => Decision::Remove,
            // the link `jailsmith mount` makes for a jail's own devpts
            None if !dir && self.devpts && p == "/dev/ptmx" => Decision::Remove,
            // the placeholder `jailsmith mount` binds a jail's log socket onto
            None if !dir && self.log.as_deref() == Some(p) => Decision::Remove,
            None if dir && (holds_data || bind_dir) => Decision::Enter {
                remove_if_empty: true,
            },
            None => Decision::Keep,
        }
    }
}
