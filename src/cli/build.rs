//! `jailsmith build`: options → settings; prints the plan (dry-run) or the result.
//! Data to stdout, progress and the summary to stderr.

use std::path::PathBuf;

use crate::audit::chroot_rule::chroot_problems;
use crate::exit;
use crate::hostinfo::gather::Wanted;
use crate::jail::{self, BuildSettings};
use crate::mounts::Bind;
use crate::mounts::apply::check_source;
use crate::plan::render;
use crate::state::DEFAULT_STATE_DIR;

/// Build or refresh a jail: programs, their libraries, devices and base /etc files.
///
/// Copies each program at its own path with every library the loader would load (all
/// glibc-hwcaps variants included), the program interpreter, SONAME symlink chains and the
/// host's merged-/usr links; creates /dev/{null,zero,full,random,urandom,tty}, an
/// /etc/passwd and /etc/group holding root only (users added by `jailsmith user` are kept),
/// /home and a sticky /tmp. setuid/setgid bits and file capabilities are never copied;
/// programs that hand out root (su, sudo, passwd, mount, …) are refused. A second run with
/// the same arguments changes nothing and says "up to date".
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  jailsmith build /srv/get_chrooted --bin bash\n  jailsmith build /srv/get_chrooted --profile basic-shell --bin vim\n  jailsmith build /srv/get_chrooted --bin bash --bin ls --bin id --dry-run\n  jailsmith build /srv/jail --bin /opt/app/bin/server --file /etc/ssl/certs --json"
)]
pub struct Args {
    /// The jail's root directory (created root-owned 0755 when missing). Must be absolute.
    #[arg(value_name = "JAIL")]
    pub jail: PathBuf,
    /// A program to copy: a name looked up in the fixed PATH
    /// /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin, or a path. A script
    /// brings its #! interpreter.
    #[arg(long = "bin", value_name = "NAME|PATH")]
    pub bins: Vec<String>,
    /// A data file or directory copied as it is (directories recursively).
    #[arg(long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// A host directory to bind-mount into the jail: SRC:DST[:ro|rw], non-recursive,
    /// always nosuid,nodev, read-only unless rw. Recorded in the state; `jailsmith mount`
    /// mounts it. A source a non-root user can write is refused unless rw is given.
    #[arg(long = "bind", value_name = "SRC:DST[:ro|rw]", value_parser = parse_bind)]
    pub binds: Vec<Bind>,
    /// Build into a directory that is not empty and not a jailsmith jail: what is there is
    /// recorded as foreign, and `destroy` leaves it in place. Without it, such a
    /// directory is refused with the list of what it holds.
    #[arg(long)]
    pub adopt: bool,
    /// Where jailsmith keeps what built each jail and the manifest of its files.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Print the plan, one operation per line with its reason, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the plan (with --dry-run) or the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Compare file contents (sha256), not just size and mtime, to decide what is current.
    #[arg(long)]
    pub verify_content: bool,
    /// Copy and hash on this many threads (default: the number of CPUs). Directories are
    /// made first, in order; files, links and devices are then applied in parallel.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub jobs: Option<u64>,
    #[command(flatten)]
    pub profile: crate::cli::profiles::ProfileArgs,
}

fn parse_bind(s: &str) -> Result<Bind, String> {
    let b = Bind::parse(s).map_err(|e| e.to_string())?;
    check_source(&b).map_err(|e| e.to_string())?;
    Ok(b)
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let (extra, profiles, profile_binds) =
        crate::cli::profiles::build_extra_with_binds(&args.profile)?;
    // --bind wins over a profile's bind of the same target.
    let mut binds = args.binds.clone();
    binds.extend(
        profile_binds
            .into_iter()
            .filter(|b| !args.binds.iter().any(|a| a.dst == b.dst)),
    );
    let settings = BuildSettings {
        jail: args.jail.clone(),
        wanted: Wanted {
            bins: args.bins.clone(),
            files: args.files.clone(),
            libraries: Vec::new(),
        },
        state_dir: args.state_dir.clone(),
        binds,
        verify_content: args.verify_content,
        jobs: args.jobs.map_or(0, |n| n as usize),
        adopt: args.adopt,
        extra,
        profiles,
    };
    execute(&settings, args.dry_run, args.json)
}

/// Runs a build from settings and prints it; shared with commands that add profiles.
pub fn execute(settings: &BuildSettings, dry_run: bool, json: bool) -> anyhow::Result<u8> {
    for p in chroot_problems(&settings.jail) {
        eprintln!("jailsmith: warning: {p}");
    }
    if dry_run {
        jail::refuse_unadopted(settings)?;
        let (plan, warnings) = jail::plan(settings)?;
        warnings
            .iter()
            .for_each(|w| eprintln!("jailsmith: warning: {w}"));
        if json {
            println!("{}", render::render_json(&plan));
        } else {
            print!("{}", render::render_text(&plan));
        }
        eprintln!(
            "jailsmith: dry run: {} operations planned for {}, nothing written",
            plan.steps.len(),
            settings.jail.display()
        );
        return Ok(exit::OK);
    }
    eprintln!("jailsmith: building {}", settings.jail.display());
    let built = jail::build(settings)?;
    built
        .warnings
        .iter()
        .for_each(|w| eprintln!("jailsmith: warning: {w}"));
    let r = &built.report;
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
    }
    if r.is_unchanged() {
        eprintln!(
            "jailsmith: {} is up to date ({} objects checked in {} ms)",
            settings.jail.display(),
            r.unchanged,
            built.elapsed_ms
        );
    } else {
        eprintln!(
            "jailsmith: {}: {} created, {} updated, {} unchanged; {:.1} MB copied in {} ms",
            settings.jail.display(),
            r.created,
            r.updated,
            r.unchanged,
            r.bytes_copied as f64 / 1e6,
            built.elapsed_ms
        );
    }
    if !r.stale.is_empty() {
        eprintln!(
            "jailsmith: {} objects from earlier builds are no longer needed (left in place): {}",
            r.stale.len(),
            r.stale.join(", ")
        );
    }
    Ok(exit::OK)
}
