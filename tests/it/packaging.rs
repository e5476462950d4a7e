//! Fast consistency checks of the packaging files against the code: versions agree, the
//! spec installs what the generators produce, the scripts parse. Building and installing the
//! RPM itself is a CI step (`packaging/build-rpm --check`), too slow for `cargo test`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

fn spec() -> String {
    read("packaging/rpm/jailsmith.spec")
}

fn spec_field(spec: &str, field: &str) -> String {
    spec.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("the spec has no {field}: line"))
        .trim()
        .to_string()
}

#[test]
fn spec_version_and_license_match_cargo_toml() {
    let spec = spec();
    assert_eq!(
        spec_field(&spec, "Version"),
        env!("CARGO_PKG_VERSION"),
        "packaging/rpm/jailsmith.spec Version: must equal Cargo.toml's version \
         (and add a %changelog entry)"
    );
    assert_eq!(spec_field(&spec, "License"), env!("CARGO_PKG_LICENSE"));
    assert!(
        read("LICENSE").contains("MIT License"),
        "LICENSE is not the MIT license"
    );
    assert_eq!(spec_field(&spec, "Requires"), "openssh-server");
}

#[test]
fn spec_installs_every_generated_completion() {
    let spec = spec();
    for name in ["jailsmith", "_jailsmith", "jailsmith.fish"] {
        assert!(
            spec.contains(&format!("%{{stage}}/completions/{name} ")),
            "the spec does not install the completion file {name}"
        );
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let status = Command::new(env!("CARGO_BIN_EXE_jailsmith"))
        .args(["generate", "completions"])
        .arg(dir.path())
        .status()
        .expect("run jailsmith generate completions");
    assert!(status.success());
    let mut generated: Vec<String> = fs::read_dir(dir.path())
        .expect("read completions")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    generated.sort();
    assert_eq!(generated, ["_jailsmith", "jailsmith", "jailsmith.fish"]);
}

#[test]
fn spec_owns_the_documented_paths() {
    let spec = spec();
    for line in [
        "%{_sbindir}/jailsmith",
        "%{_datadir}/%{name}/",
        "%dir %{_sysconfdir}/%{name}/profiles",
        "%dir %attr(0700,root,root) %{statedir}",
        "%{_mandir}/man8/jailsmith.8*",
        "%{_mandir}/man8/jailsmith-*.8*",
        "%{_mandir}/man5/jailsmith-profile.5*",
        "%license LICENSE",
        "%doc README.md",
        "cargo build --profile release-debuginfo --locked --offline",
        "cargo test --release --locked --offline --lib",
        "export JAILSMITH_GIT_COMMIT=%{git_commit}",
    ] {
        assert!(
            spec.lines().any(|l| l.trim() == line),
            "the spec lacks the line `{line}`"
        );
    }
}

#[test]
fn packaging_scripts_parse() {
    for script in ["packaging/build-rpm", "packaging/check-rpm"] {
        let out = Command::new("bash")
            .arg("-n")
            .arg(repo(script))
            .output()
            .expect("run bash -n");
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = read(script);
        assert!(
            text.contains("set -euo pipefail"),
            "{script} lacks set -euo pipefail"
        );
    }
}
