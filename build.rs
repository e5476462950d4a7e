//! Records the git commit jailsmith is built from, for `--version`.

use std::process::Command;

fn main() {
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
