//! `jailsmith deps`: the resolver on its own, like ldd without running anything.
//! Data to stdout, missing libraries and errors to stderr.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use crate::apply::pipe;
use crate::exit;
use crate::hostinfo::loader_config;
use crate::resolve::search::resolve_many;
use crate::resolve::{Closure, ElfError};

/// Resolve the shared libraries of ELF files like ldd, without running them.
///
/// Follows glibc's loader rules (RPATH/RUNPATH, $ORIGIN/$LIB/$PLATFORM, /etc/ld.so.cache,
/// glibc-hwcaps, default directories) by reading ELF headers only. Exit status: 0 when
/// every library resolves, 1 when one is missing (listed on stderr), 2 on bad input.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  jailsmith deps /usr/bin/bash\n  jailsmith deps --explain /usr/bin/ssh\n  jailsmith deps --json /usr/bin/* > closure.json"
)]
pub struct Args {
    /// ELF programs or libraries to resolve.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print a JSON array, one object per FILE.
    #[arg(long)]
    pub json: bool,
    /// Show the dependency tree: who needed each library and how it was found.
    #[arg(long, conflicts_with = "json")]
    pub explain: bool,
    /// Search these directories as LD_LIBRARY_PATH would (colon-separated). The tool's own
    /// environment is never used.
    #[arg(long, value_name = "DIRS")]
    pub ld_library_path: Option<String>,
    /// Resolve on this many threads (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let llp: Vec<String> = args
        .ld_library_path
        .as_deref()
        .map(crate::resolve::elf::split_path_list)
        .unwrap_or_default();
    let cfg = loader_config(&llp);
    let jobs = args.jobs.unwrap_or_else(default_jobs);
    let mut closures = Vec::new();
    let mut bad = false;
    for result in resolve_many(&cfg, &args.files, jobs) {
        match result {
            Ok(c) => closures.push(c),
            Err(e) => {
                bad = true;
                eprintln!("jailsmith: {}", describe(&e));
            }
        }
    }
    // One write per 64 KiB, not one per line: a line-buffered stdout made a write(2) per
    // library, more system time than the resolving itself.
    write_report(&args, &closures).map_err(pipe::stdout_error)?;
    let mut missing = false;
    for c in &closures {
        for m in &c.missing {
            missing = true;
            eprintln!(
                "jailsmith: {}: {} => not found (needed by {})",
                c.file.display(),
                m.soname,
                m.needed_by.display()
            );
        }
        if args.explain {
            for w in &c.warnings {
                eprintln!("jailsmith: note: {w}");
            }
        }
    }
    Ok(if bad {
        exit::BAD_INPUT
    } else if missing {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

/// The closures to stdout, in one write per 64 KiB: a line-buffered stdout made a write(2)
/// per library, more system time than the resolving itself.
fn write_report(args: &Args, closures: &[Closure]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, closures)?;
        writeln!(out)?;
    } else {
        let many = args.files.len() > 1;
        for c in closures {
            if args.explain {
                write_tree(&mut out, c)?;
            } else {
                write_flat(&mut out, c, many)?;
            }
        }
    }
    out.flush()
}

fn describe(e: &ElfError) -> String {
    match e {
        ElfError::NotElf { path } => format!("{}: not an ELF file", path.display()),
        other => other.to_string(),
    }
}

fn write_flat(out: &mut impl Write, c: &Closure, header: bool) -> std::io::Result<()> {
    if header {
        writeln!(out, "{}:", c.file.display())?;
    }
    if c.interpreter.is_none() && c.libraries.is_empty() {
        writeln!(out, "\tnot a dynamic executable")?;
    }
    for l in &c.libraries {
        writeln!(
            out,
            "\t{} => {} ({})",
            l.soname,
            l.path.display(),
            l.found_via
        )?;
    }
    for m in &c.missing {
        writeln!(out, "\t{} => not found", m.soname)?;
    }
    Ok(())
}

/// The tree of who loaded whom; a library met again is marked instead of repeated.
fn write_tree(out: &mut impl Write, c: &Closure) -> std::io::Result<()> {
    writeln!(out, "{}", c.file.display())?;
    let mut shown = HashSet::new();
    write_children(out, c, &c.file, "", &mut shown)
}

fn write_children(
    out: &mut impl Write,
    c: &Closure,
    parent: &PathBuf,
    indent: &str,
    shown: &mut HashSet<PathBuf>,
) -> std::io::Result<()> {
    let libs: Vec<_> = c
        .libraries
        .iter()
        .filter(|l| &l.needed_by == parent)
        .collect();
    let miss: Vec<_> = c
        .missing
        .iter()
        .filter(|m| &m.needed_by == parent)
        .collect();
    let total = libs.len() + miss.len();
    for (i, l) in libs.iter().enumerate() {
        let last = i + 1 == total;
        let (branch, next) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        writeln!(
            out,
            "{indent}{branch}{} => {} [{}]",
            l.soname,
            l.path.display(),
            l.found_via
        )?;
        for v in &l.variants {
            writeln!(out, "{indent}{next}  (also copied: {})", v.display())?;
        }
        if shown.insert(l.path.clone()) && l.path != *parent {
            write_children(out, c, &l.path, &format!("{indent}{next}"), shown)?;
        }
    }
    for (i, m) in miss.iter().enumerate() {
        let branch = if libs.len() + i + 1 == total {
            "└── "
        } else {
            "├── "
        };
        writeln!(out, "{indent}{branch}{} => NOT FOUND", m.soname)?;
    }
    Ok(())
}

/// The number of CPUs this process may use.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
