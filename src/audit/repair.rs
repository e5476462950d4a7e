//! `check --fix`: carries out the repairs a check found (finding.rs `Repair`) through the
//! host layer, each on a descriptor opened without following a symlink, after re-checking the
//! object (a symlink or another type now is refused, not followed). Never removes anything in
//! a user's home: only forbidden objects outside the homes are ever removed.

use std::path::Path;

use super::finding::Repair;
use crate::apply::{Host, HostError, LinuxHost};
use crate::plan::JailPath;

/// What one repair did.
#[derive(Debug)]
pub struct Done {
    /// The in-jail path.
    pub path: String,
    pub repair: Repair,
    /// Ok(true) changed, Ok(false) nothing left to change, Err refused or failed.
    pub outcome: Result<bool, String>,
}

/// Carries out `repairs` in the jail at `jail`.
pub fn apply(jail: &Path, repairs: &[(String, Repair)]) -> Result<Vec<Done>, HostError> {
    let host = LinuxHost::open(jail, false)?;
    Ok(repairs
        .iter()
        .map(|(path, repair)| Done {
            path: path.clone(),
            repair: *repair,
            outcome: one(&host, path, *repair),
        })
        .collect())
}

fn one(host: &LinuxHost, path: &str, repair: Repair) -> Result<bool, String> {
    let p = JailPath::new(path).map_err(|e| e.to_string())?;
    let r = match repair {
        Repair::ClearBits(bits) => host.tighten(&p, bits, false, false),
        Repair::DropCapability => host.tighten(&p, 0, true, false),
        Repair::ChownRoot => host.tighten(&p, 0, false, true),
        Repair::Remove => host.remove(&p),
    };
    r.map_err(|e| e.to_string())
}

/// A few words for what a repair does (for the progress lines on stderr).
pub fn describe(r: Repair) -> String {
    match r {
        Repair::ClearBits(b) => format!("clear mode bits {b:04o}"),
        Repair::DropCapability => "remove file capabilities".into(),
        Repair::ChownRoot => "give to root:root".into(),
        Repair::Remove => "remove".into(),
    }
}
