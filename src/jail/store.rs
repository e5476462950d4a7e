//! The shared store's upkeep below the command line (`build --store`): after a build,
//! update or destroy took links out of a jail, the objects no jail links any more and no
//! state names are removed (`apply::store::collect` does it, under the store's lock).

use std::path::Path;

use crate::apply::executor::ApplyReport;
use crate::apply::{Outcome, store};
use crate::state::{self, Manifest};

/// Whether the manifest holds a link to a store object.
pub fn links_any(manifest: &Manifest) -> bool {
    manifest
        .entries
        .values()
        .any(|e| e.store_object().is_some())
}

/// Whether an apply replaced or removed a file that `previous` recorded as a store link.
pub fn unlinked_any(previous: &Manifest, report: &ApplyReport) -> bool {
    let linked = |path: &str| {
        previous
            .entries
            .get(path)
            .is_some_and(|e| e.store_object().is_some())
    };
    report
        .outcomes
        .iter()
        .any(|(path, outcome)| *outcome == Outcome::Updated && linked(&path.to_string()))
        || report.removed.iter().any(|p| linked(p))
}

/// Removes the store objects no jail links and no state names; says how many on stderr.
pub fn collect_garbage(state_dir: &Path) -> anyhow::Result<store::Collected> {
    let done = store::collect(state_dir, &|| state::store_objects_named(state_dir))
        .map_err(super::JailError::lower)?;
    if let Some(line) = done.describe() {
        eprintln!("jailsmith: {line}");
    }
    Ok(done)
}
