//! Loader fixtures compiled with `cc`, one case per rule of DESIGN §3, each checked against
//! the expected answer and against the real loader (`ldd` on the fixture, built here).

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use jailsmith::hostinfo::loader_config;
use jailsmith::resolve::{Closure, FoundVia, Resolver};

struct Fx {
    dir: tempfile::TempDir,
}

impl Fx {
    fn new() -> Fx {
        Fx {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Compiles C source into `out` (relative to the fixture dir) with extra cc arguments;
    /// relative `-L` directories are taken relative to the fixture dir.
    fn cc(&self, out: &str, src: &str, args: &[&str]) -> PathBuf {
        let mut all: Vec<String> = args
            .iter()
            .map(|a| match a.strip_prefix("-L") {
                Some(rel) if !rel.starts_with('/') => format!("-L{}", self.p(rel).display()),
                _ => a.to_string(),
            })
            .collect();
        all.push(format!("-L{}", self.dir.path().display()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        common::cc(src, &self.p(out), &all)
    }

    /// A shared library `lib{name}.so` in `dir` with SONAME `lib{name}.so`, also linked as
    /// `-l{name}` from the fixture root.
    fn lib(&self, dir: &str, name: &str, body: &str, args: &[&str]) -> PathBuf {
        let file = format!("{dir}/lib{name}.so");
        let soname = format!("-Wl,-soname,lib{name}.so");
        let mut a = vec!["-shared", "-fPIC", soname.as_str()];
        a.extend_from_slice(args);
        let p = self.cc(&file, body, &a);
        std::fs::copy(&p, self.p(&format!("lib{name}.so"))).unwrap();
        p
    }

    fn cleanup_link_copies(&self) {
        for e in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("lib") && n.ends_with(".so") {
                std::fs::remove_file(e.path()).unwrap();
            }
        }
    }
}

fn resolve(file: &Path) -> Closure {
    let cfg = loader_config(&[]);
    Resolver::new(&cfg).resolve(file).unwrap()
}

fn found<'a>(c: &'a Closure, soname: &str) -> Option<&'a jailsmith::resolve::Library> {
    c.libraries.iter().find(|l| l.soname == soname)
}

/// The real loader's answer for a fixture: (resolved paths, missing names).
fn ldd(file: &Path) -> (BTreeSet<PathBuf>, BTreeSet<String>) {
    let out = Command::new("ldd")
        .arg(file)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut f, mut m) = (BTreeSet::new(), BTreeSet::new());
    for line in text.lines().map(str::trim) {
        match line.split_once(" => ") {
            Some((n, "not found")) => {
                m.insert(n.to_string());
            }
            Some((_, rest)) if rest.starts_with('/') => {
                f.insert(std::fs::canonicalize(rest.split(" (").next().unwrap()).unwrap());
            }
            None if line.starts_with('/') => {
                f.insert(std::fs::canonicalize(line.split(" (").next().unwrap()).unwrap());
            }
            _ => {}
        }
    }
    (f, m)
}

fn assert_matches_loader(c: &Closure) {
    let got: BTreeSet<PathBuf> = c
        .libraries
        .iter()
        .map(|l| std::fs::canonicalize(&l.path).unwrap())
        .collect();
    let miss: BTreeSet<String> = c.missing.iter().map(|m| m.soname.clone()).collect();
    assert_eq!(
        (got, miss),
        ldd(&c.file),
        "resolver and ld.so disagree on {}",
        c.file.display()
    );
}

const MAIN: &str = "int f(void); int main(void) { return f(); }";

#[test]
fn rpath_is_inherited() {
    let fx = Fx::new();
    fx.lib("b", "b", "int g(void) { return 0; }", &[]);
    fx.lib(
        "a",
        "a",
        "int g(void); int f(void) { return g(); }",
        &["-lb"],
    );
    fx.cleanup_link_copies();
    // main carries RPATH to both dirs; liba has no path of its own: libb is found through
    // main's RPATH, inherited down the loader chain.
    let rpath = format!(
        "-Wl,--disable-new-dtags,-rpath,{}:{}",
        fx.p("a").display(),
        fx.p("b").display()
    );
    let main = fx.cc("main", MAIN, &[&rpath, "-La", "-Lb", "-la"]);
    let c = resolve(&main);
    let b = found(&c, "libb.so").expect("libb found via inherited RPATH");
    assert_eq!(
        b.found_via,
        FoundVia::Rpath {
            owner: main.clone()
        }
    );
    assert_eq!(b.needed_by, fx.p("a/liba.so"));
    assert_matches_loader(&c);
}

#[test]
fn runpath_is_not_inherited() {
    let fx = Fx::new();
    fx.lib("b", "b", "int g(void) { return 0; }", &[]);
    fx.lib(
        "a",
        "a",
        "int g(void); int f(void) { return g(); }",
        &["-lb"],
    );
    fx.cleanup_link_copies();
    let runpath = format!(
        "-Wl,--enable-new-dtags,-rpath,{}:{}",
        fx.p("a").display(),
        fx.p("b").display()
    );
    let main = fx.cc(
        "main",
        MAIN,
        &[&runpath, "-La", "-Lb", "-la", "-Wl,--allow-shlib-undefined"],
    );
    let c = resolve(&main);
    assert_eq!(
        found(&c, "liba.so").unwrap().found_via,
        FoundVia::Runpath {
            owner: main.clone()
        }
    );
    assert!(found(&c, "libb.so").is_none());
    assert_eq!(
        c.missing
            .iter()
            .map(|m| m.soname.as_str())
            .collect::<Vec<_>>(),
        ["libb.so"]
    );
    assert_matches_loader(&c);
}

#[test]
fn runpath_beats_ld_so_cache() {
    let fx = Fx::new();
    // A private library under the name of one the cache knows.
    let z = fx.cc(
        "priv/libz.so.1",
        "int f(void) { return 0; }",
        &["-shared", "-fPIC", "-Wl,-soname,libz.so.1"],
    );
    std::fs::copy(&z, fx.p("libz.so")).unwrap();
    let runpath = format!("-Wl,--enable-new-dtags,-rpath,{}", fx.p("priv").display());
    let main = fx.cc("main", MAIN, &[&runpath, "-lz"]);
    std::fs::remove_file(fx.p("libz.so")).unwrap();
    let c = resolve(&main);
    let l = found(&c, "libz.so.1").unwrap();
    assert_eq!(l.path, fx.p("priv/libz.so.1"));
    assert!(matches!(l.found_via, FoundVia::Runpath { .. }));
    assert_matches_loader(&c);
}

#[test]
fn origin_in_a_library() {
    let fx = Fx::new();
    fx.lib("app/lib/private", "b", "int g(void) { return 0; }", &[]);
    // liba finds libb through $ORIGIN/private, wherever liba itself lives.
    fx.lib(
        "app/lib",
        "a",
        "int g(void); int f(void) { return g(); }",
        &[
            "-Lapp/lib/private",
            "-lb",
            "-Wl,--enable-new-dtags,-rpath,$ORIGIN/private",
        ],
    );
    fx.cleanup_link_copies();
    let runpath = format!(
        "-Wl,--enable-new-dtags,-rpath,{}",
        fx.p("app/lib").display()
    );
    let main = fx.cc(
        "main",
        MAIN,
        &[&runpath, "-Lapp/lib", "-la", "-Wl,--allow-shlib-undefined"],
    );
    let c = resolve(&main);
    let b = found(&c, "libb.so").expect("found via $ORIGIN");
    assert_eq!(b.path, fx.p("app/lib/private/libb.so"));
    assert_eq!(
        b.found_via,
        FoundVia::Runpath {
            owner: fx.p("app/lib/liba.so")
        }
    );
    assert_matches_loader(&c);
}

#[test]
fn hwcaps_variants() {
    let fx = Fx::new();
    let cfg = loader_config(&[]);
    let Some(best) = cfg.hwcaps.first().cloned() else {
        eprintln!(
            "SKIP-free note: this CPU supports no glibc-hwcaps level; checking the baseline only"
        );
        return;
    };
    let base = fx.lib("h", "h", "int f(void) { return 0; }", &[]);
    let dir = fx.p("h/glibc-hwcaps").join(&best);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&base, dir.join("libh.so")).unwrap();
    fx.cleanup_link_copies();
    std::fs::copy(&base, fx.p("libh.so")).unwrap();
    let runpath = format!("-Wl,--enable-new-dtags,-rpath,{}", fx.p("h").display());
    let main = fx.cc("main", MAIN, &[&runpath, "-lh"]);
    let c = resolve(&main);
    let l = found(&c, "libh.so").unwrap();
    assert_eq!(
        l.path,
        dir.join("libh.so"),
        "the best supported variant is chosen"
    );
    assert_eq!(l.variants, vec![base.clone()], "the baseline is copied too");
    assert_matches_loader(&c);
}

#[test]
fn wrong_machine_is_skipped() {
    let fx = Fx::new();
    let good = fx.lib("good", "w", "int f(void) { return 0; }", &[]);
    std::fs::create_dir_all(fx.p("bad")).unwrap();
    let mut bytes = std::fs::read(&good).unwrap();
    bytes[18] = 183; // e_machine = EM_AARCH64
    bytes[19] = 0;
    std::fs::write(fx.p("bad/libw.so"), bytes).unwrap();
    fx.cleanup_link_copies();
    std::fs::copy(&good, fx.p("libw.so")).unwrap();
    let rpath = format!(
        "-Wl,--disable-new-dtags,-rpath,{}:{}",
        fx.p("bad").display(),
        fx.p("good").display()
    );
    let main = fx.cc("main", MAIN, &[&rpath, "-lw"]);
    let c = resolve(&main);
    assert_eq!(found(&c, "libw.so").unwrap().path, good);
    assert_matches_loader(&c);
}

#[test]
fn wrong_class_is_skipped() {
    let fx = Fx::new();
    let good = fx.lib("good", "w", "int f(void) { return 0; }", &[]);
    std::fs::create_dir_all(fx.p("bad")).unwrap();
    let mut bytes = std::fs::read(&good).unwrap();
    bytes[4] = 1; // EI_CLASS = ELFCLASS32 in front of a 64-bit object
    std::fs::write(fx.p("bad/libw.so"), bytes).unwrap();
    fx.cleanup_link_copies();
    std::fs::copy(&good, fx.p("libw.so")).unwrap();
    let rpath = format!(
        "-Wl,--disable-new-dtags,-rpath,{}:{}",
        fx.p("bad").display(),
        fx.p("good").display()
    );
    let main = fx.cc("main", MAIN, &[&rpath, "-lw"]);
    let c = resolve(&main);
    assert_eq!(found(&c, "libw.so").unwrap().path, good);
    assert_matches_loader(&c);
}

#[test]
fn nodeflib() {
    let fx = Fx::new();
    // main has DF_1_NODEFLIB: its own needs may not come from ld.so.cache or the default
    // dirs (libz, libc are missing for main), while libn, without the flag, may use them.
    fx.lib("n", "n", "int f(void) { return 0; }", &[]);
    fx.cleanup_link_copies();
    std::fs::copy(fx.p("n/libn.so"), fx.p("libn.so")).unwrap();
    let rpath = format!("-Wl,--disable-new-dtags,-rpath,{}", fx.p("n").display());
    let main = fx.cc(
        "main",
        MAIN,
        &[
            &rpath,
            "-Wl,-z,nodefaultlib",
            "-Wl,--no-as-needed",
            "-ln",
            "-lz",
        ],
    );
    let c = resolve(&main);
    let missing: BTreeSet<&str> = c.missing.iter().map(|m| m.soname.as_str()).collect();
    assert_eq!(missing, BTreeSet::from(["libz.so.1", "libc.so.6"]));
    assert!(found(&c, "libn.so").is_some(), "RPATH still applies");
    assert_matches_loader(&c);
}

#[test]
fn soname_dedup() {
    let fx = Fx::new();
    let d = fx.lib("d1", "d", "int g(void) { return 0; }", &[]);
    // A second copy with the same SONAME elsewhere; libx would find it through its own
    // RPATH, but libd.so is already loaded by SONAME.
    std::fs::create_dir_all(fx.p("d2")).unwrap();
    std::fs::copy(&d, fx.p("d2/libd.so")).unwrap();
    let rp = format!("-Wl,--disable-new-dtags,-rpath,{}", fx.p("d2").display());
    fx.lib(
        "x",
        "x",
        "int g(void); int f(void) { return g(); }",
        &["-ld", &rp],
    );
    fx.cleanup_link_copies();
    std::fs::copy(fx.p("x/libx.so"), fx.p("libx.so")).unwrap();
    std::fs::copy(&d, fx.p("libd.so")).unwrap();
    let rpath = format!(
        "-Wl,--disable-new-dtags,-rpath,{}:{}",
        fx.p("d1").display(),
        fx.p("x").display()
    );
    let main = fx.cc(
        "main",
        "int f(void); int g(void); int main(void) { return g() + f(); }",
        &[&rpath, "-ld", "-lx"],
    );
    let c = resolve(&main);
    let ds: Vec<_> = c
        .libraries
        .iter()
        .filter(|l| l.soname == "libd.so")
        .collect();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].path, fx.p("d1/libd.so"));
    assert_matches_loader(&c);
}

#[test]
fn missing_library_is_reported() {
    let fx = Fx::new();
    fx.lib("m", "gone", "int f(void) { return 0; }", &[]);
    let main = fx.cc("main", MAIN, &["-lgone"]);
    let c = resolve(&main);
    assert_eq!(c.missing.len(), 1);
    assert_eq!(c.missing[0].soname, "libgone.so");
    assert_matches_loader(&c);
    let out = Command::new(env!("CARGO_BIN_EXE_jailsmith"))
        .arg("deps")
        .arg(&main)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("libgone.so => not found"));
    let out = Command::new(env!("CARGO_BIN_EXE_jailsmith"))
        .args(["deps", "--json"])
        .arg(&main)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["missing"], serde_json::json!(["libgone.so"]));
}

#[test]
fn bad_input_exits_2() {
    let fx = Fx::new();
    std::fs::write(fx.p("text"), "hello").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_jailsmith"))
        .arg("deps")
        .arg(fx.p("text"))
        .arg(fx.p("absent"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not an ELF file") && err.contains("absent"),
        "{err}"
    );
}

#[test]
fn json_shape() {
    let out = Command::new(env!("CARGO_BIN_EXE_jailsmith"))
        .args(["deps", "--json", "/bin/sh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let o = &v[0];
    assert_eq!(o["file"], "/bin/sh");
    assert!(o["interpreter"].is_string());
    assert!(o["missing"].as_array().unwrap().is_empty());
    let l = &o["libraries"].as_array().unwrap()[1];
    for k in ["soname", "path", "found_via", "needed_by"] {
        assert!(l.get(k).is_some(), "{k} in {l}");
    }
}
