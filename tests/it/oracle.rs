//! The oracle test: for every dynamically linked ELF file directly under the host's program
//! and library directories, the files `jailsmith`'s resolver finds equal what the real
//! loader loads (`ldd` on the symlink-resolved path, a trusted host binary), and the
//! missing sets agree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use jailsmith::hostinfo::loader_config;
use jailsmith::resolve::{Resolver, elf};

/// What ldd reports: resolved files (canonical) and missing names; None when ldd does not
/// treat the file as dynamically linked.
fn ldd(file: &Path) -> Option<(BTreeSet<PathBuf>, BTreeSet<String>)> {
    let out = Command::new("ldd")
        .arg(file)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("statically linked")
        || text.contains("not a dynamic executable")
        || !out.status.success()
    {
        return None;
    }
    let (mut found, mut missing) = (BTreeSet::new(), BTreeSet::new());
    for line in text.lines().map(str::trim) {
        if let Some((name, rest)) = line.split_once(" => ") {
            if rest.trim() == "not found" {
                missing.insert(name.to_string());
            } else if let Some(p) = rest.split(" (").next().filter(|p| p.starts_with('/')) {
                found.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.into()));
            }
        } else if line.starts_with('/') {
            let p = line.split(" (").next().unwrap();
            found.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.into()));
        }
    }
    Some((found, missing))
}

fn candidates(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = BTreeSet::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(real) = std::fs::canonicalize(e.path()) else {
                continue;
            };
            if !real.is_file() {
                continue;
            }
            if let Ok(info) = elf::read_elf(&real)
                && info.dynamic
                && info.class == 64
                && !info.needed.is_empty()
            {
                out.insert(real);
            }
        }
    }
    out.into_iter().collect()
}

#[test]
fn resolver_agrees_with_the_real_loader() {
    let cfg = loader_config(&[]);
    let mut dirs: Vec<PathBuf> = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
        .map(PathBuf::from)
        .to_vec();
    dirs.extend(cfg.system_dirs.iter().cloned());
    let files = candidates(&dirs);
    assert!(
        files.len() > 50,
        "only {} ELF files found under {dirs:?}",
        files.len()
    );
    let disagreements = Mutex::new(Vec::new());
    let agreed = Mutex::new(0usize);
    let skipped = Mutex::new(0usize);
    let chunks: Vec<&[PathBuf]> = files.chunks(files.len().div_ceil(4)).collect();
    std::thread::scope(|s| {
        for chunk in chunks {
            let (cfg, disagreements, agreed, skipped) = (&cfg, &disagreements, &agreed, &skipped);
            s.spawn(move || {
                let mut r = Resolver::new(cfg);
                for f in chunk {
                    let Some((want, want_missing)) = ldd(f) else {
                        *skipped.lock().unwrap() += 1;
                        continue;
                    };
                    let c = r.resolve(f).expect("the resolver reads every file ldd reads");
                    let got: BTreeSet<PathBuf> = c.libraries.iter().map(|l| std::fs::canonicalize(&l.path).unwrap_or_else(|_| l.path.clone())).collect();
                    let got_missing: BTreeSet<String> = c.missing.iter().map(|m| m.soname.clone()).collect();
                    if got == want && got_missing == want_missing {
                        *agreed.lock().unwrap() += 1;
                    } else {
                        disagreements.lock().unwrap().push(format!(
                            "{}:\n  only jailsmith: {:?}\n  only ldd: {:?}\n  missing (jailsmith/ldd): {:?} / {:?}",
                            f.display(),
                            got.difference(&want).collect::<Vec<_>>(),
                            want.difference(&got).collect::<Vec<_>>(),
                            got_missing,
                            want_missing
                        ));
                    }
                }
            });
        }
    });
    let d = disagreements.into_inner().unwrap();
    let agreed = agreed.into_inner().unwrap();
    let summary = format!(
        "oracle: {agreed} files agree with ldd, {} disagree, {} not dynamic for ldd",
        d.len(),
        skipped.into_inner().unwrap()
    );
    eprintln!("{summary}");
    // The test command prints this line after the run (cargo captures a passing test's output).
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/oracle-summary.txt"),
        format!("{summary}\n"),
    );
    assert!(
        d.is_empty(),
        "{} files disagree:\n{}",
        d.len(),
        d.join("\n")
    );
}
