//! `jailsmith profiles list|show`: what profiles exist and what one gives a jail on this host.
//! Also the `--profile`/`--profile-dir` options other commands flatten in. Reads only.

use crate::exit::{FINDINGS, OK};
use crate::plan::build::BuildRequest;
use crate::profile::expand::{Expansion, ResolvedEntry};
use crate::profile::{EntryKind, RealHost, expand_profiles};

/// Inspect jail profiles: list them, or show one resolved on this host.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List every profile in the search path: name, one-line description and where it comes
    /// from (its file, or "built in").
    List(ListArgs),
    /// Show profiles with includes expanded and every entry resolved on this host.
    ///
    /// Each program, library, file and alternative is shown with what it resolves to here;
    /// optional entries absent on this host are marked MISSING. Exits 1 when a required
    /// entry is missing (a build would refuse), 2 on an invalid or unknown profile or an
    /// include cycle, 4 when a profile reaches a path no jail may hold.
    Show(ShowArgs),
}

pub use crate::profile::request::{DirArgs, ProfileArgs};

/// What `--profile` adds to a build (see `profile::request::to_request`).
pub fn build_extra(args: &ProfileArgs) -> anyhow::Result<(BuildRequest, Vec<String>)> {
    build_extra_with_binds(args).map(|(extra, names, _)| (extra, names))
}

/// `build_extra`, plus the profiles' bind mounts (each source checked like `--bind`'s).
pub fn build_extra_with_binds(
    args: &ProfileArgs,
) -> anyhow::Result<(BuildRequest, Vec<String>, Vec<crate::mounts::Bind>)> {
    let p = crate::profile::request::to_request(&args.profiles, &args.dirs.profile_dirs)?;
    Ok((p.extra, p.names, p.binds))
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub dirs: DirArgs,
    /// Print a JSON array, one object per profile (shadowed ones included): name, source
    /// (a file path or "built in"), file (absent when built in), description, valid,
    /// shadowed_by.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Profiles to show, expanded together as `build --profile` would.
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    #[command(flatten)]
    pub dirs: DirArgs,
    /// List every file a directory or glob expands to, not only the count.
    #[arg(long)]
    pub files: bool,
    /// Print the expansion as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A profile error as an error carrying its exit code.
pub use crate::profile::request::coded;

pub fn run(args: Args) -> anyhow::Result<u8> {
    match args.command {
        Command::List(a) => list(a),
        Command::Show(a) => show(a),
    }
}

fn list(a: ListArgs) -> anyhow::Result<u8> {
    let sp = a.dirs.search_path();
    let listed = sp.list();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(OK);
    }
    let width = listed.iter().map(|l| l.name.len()).max().unwrap_or(0);
    for l in listed.iter().filter(|l| l.shadowed_by.is_none()) {
        println!("{:width$}  {}  [{}]", l.name, l.description, l.source);
    }
    let shadowed: Vec<_> = listed.iter().filter(|l| l.shadowed_by.is_some()).collect();
    if !shadowed.is_empty() {
        println!();
        println!("shadowed (not used):");
        for l in shadowed {
            if let Some(by) = &l.shadowed_by {
                println!("  {} {} is shadowed by {}", l.name, l.source, by.display());
            }
        }
    }
    if listed.is_empty() {
        let dirs: Vec<String> = sp.dirs.iter().map(|d| d.display().to_string()).collect();
        eprintln!("jailsmith: no profiles found in {}", dirs.join(", "));
    }
    Ok(OK)
}

fn show(a: ShowArgs) -> anyhow::Result<u8> {
    let x = expand_profiles(&a.names, &a.dirs.search_path(), &RealHost).map_err(coded)?;
    let missing: Vec<String> = x
        .missing_required()
        .iter()
        .map(|e| e.describe_missing())
        .collect();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&x)?);
    } else {
        print_expansion(&x, a.files);
    }
    if missing.is_empty() {
        return Ok(OK);
    }
    eprintln!(
        "jailsmith: {} required entr{} missing on this host; a build with these profiles would fail:",
        missing.len(),
        if missing.len() == 1 {
            "y is"
        } else {
            "ies are"
        }
    );
    for m in &missing {
        eprintln!("  {m}");
    }
    Ok(FINDINGS)
}

fn print_expansion(x: &Expansion, all_files: bool) {
    for lp in &x.profiles {
        println!("profile {} ({})", lp.name, lp.file.display());
        println!("  {}", lp.profile.description);
        if !lp.profile.include.is_empty() {
            println!("  includes: {}", lp.profile.include.join(", "));
        }
        if !lp.profile.exclude.is_empty() {
            println!("  excludes: {}", lp.profile.exclude.join(", "));
        }
    }
    for (title, kind) in [
        ("programs", EntryKind::Program),
        ("libraries", EntryKind::Library),
        ("files", EntryKind::File),
    ] {
        let entries: Vec<&ResolvedEntry> = x.entries.iter().filter(|e| e.kind == kind).collect();
        if entries.is_empty() {
            continue;
        }
        println!("\n{title}:");
        for e in entries {
            print_entry(e, all_files);
        }
    }
    if !x.dirs.is_empty() {
        println!("\ndirectories:");
        for d in &x.dirs {
            println!("  {} {:04o}", d.path, d.mode);
        }
    }
    for b in &x.binds {
        let mode = if b.rw { "rw" } else { "ro" };
        println!(
            "\nbind: {} -> {} ({mode},nosuid,nodev)",
            b.src.display(),
            b.dst
        );
    }
    if !x.devices.is_empty() {
        println!("\ndevices: {}", x.devices.join(" "));
    }
    if !x.contents.is_empty() {
        println!("\nwritten files:");
        for c in &x.contents {
            println!(
                "  {} {:04o} ({} lines, {})",
                c.path,
                c.mode,
                c.content.lines().count(),
                c.reason
            );
        }
    }
    if !x.overrides.is_empty() {
        println!("\noverrides:");
        for o in &x.overrides {
            println!("  {o}");
        }
    }
}

fn print_entry(e: &ResolvedEntry, all_files: bool) {
    let spec = e.candidates.join(" | ");
    let tag = if e.required {
        format!("[{}]", e.profile)
    } else {
        format!("[{}, optional]", e.profile)
    };
    let Some(chosen) = &e.chosen else {
        println!("  {tag} {spec}  MISSING");
        return;
    };
    let head = if e.candidates.len() > 1 {
        format!("{spec} → {chosen}")
    } else {
        spec
    };
    let single = e.matched.len() == 1 && e.paths.len() == 1 && e.paths[0] == e.matched[0];
    if single && e.matched[0].as_os_str() == chosen.as_str() {
        println!("  {tag} {head}");
    } else if single {
        println!("  {tag} {head} → {}", e.matched[0].display());
    } else {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut counts = plural(e.matched.len(), "match", "matches");
        if e.paths != e.matched {
            counts.push_str(&format!(", {}", plural(e.paths.len(), "path", "paths")));
        }
        println!("  {tag} {head} → {counts}");
        let list = if all_files { &e.paths } else { &e.matched };
        let shown = if all_files { list.len() } else { 8 };
        for p in list.iter().take(shown) {
            println!("      {}", p.display());
        }
        if list.len() > shown {
            println!("      … {} more (--files lists them)", list.len() - shown);
        }
    }
}
