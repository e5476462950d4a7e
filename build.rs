//! Records the git commit jailsmith is built from, for `--version`, and embeds every
//! shipped profile (`jail-profiles/*.toml`) so a binary copied alone still knows them.

use std::path::Path;
use std::process::Command;

fn main() {
    record_commit();
    embed_profiles();
}

fn record_commit() {
    let commit = std::env::var("JAILSMITH_GIT_COMMIT")
        .ok()
        .or_else(|| {
            Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        })
        .unwrap_or_else(|| "unknown commit".to_string());
    println!("cargo:rustc-env=JAILSMITH_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-env-changed=JAILSMITH_GIT_COMMIT");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}

/// Writes `$OUT_DIR/shipped_profiles.rs`: `(name, text)` of each `jail-profiles/NAME.toml`,
/// sorted by name, each through `include_str!` so an edit rebuilds the binary.
fn embed_profiles() {
    let dir = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"))
        .join("jail-profiles");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let path = e.path();
                    let name = path.file_name()?.to_str()?.strip_suffix(".toml")?;
                    Some((name.to_string(), path.display().to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut out = String::from("&[\n");
    for (name, path) in &files {
        out.push_str(&format!("    ({name:?}, include_str!({path:?})),\n"));
    }
    out.push_str("]\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("shipped_profiles.rs");
    std::fs::write(&dest, out).expect("write shipped_profiles.rs");
}
