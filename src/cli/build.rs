//! `jailsmith build`: options → settings; prints the plan (dry-run) or the result.
//! Data to stdout, progress and the summary to stderr.

use std::path::PathBuf;

use crate::audit::chroot_rule::chroot_problems;
use crate::exit;
use crate::hostinfo::gather::Wanted;
use crate::jail::{self, BuildSettings};
use crate::mounts::Bind;
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
    /// A data file or directory copied as it is (directories recursively). Host secrets
    /// (shadow, gshadow, passwd/group and their backups, /etc/ssh, SSH private keys,
    /// sudoers, /root, the state directory, …) are refused; inside a directory they are
    /// skipped, each named in a warning.
    #[arg(long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// A library the programs load at run time (dlopen: plugins, a JVM, codecs), by path or
    /// glob (repeatable), copied with its ELF closure. All of them, the profiles' libraries
    /// and the programs' closures form one group: a name some object of the group provides
    /// is found, as the loader finds an object already loaded.
    #[arg(long = "lib", value_name = "PATH|GLOB")]
    pub libs: Vec<String>,
    /// Search these directories (colon-separated) as LD_LIBRARY_PATH would, when resolving
    /// what the programs need; the jail then gets its own ld.so.cache listing what was found
    /// there (a jailed process has no LD_LIBRARY_PATH). Recorded for later builds.
    #[arg(long, value_name = "DIRS")]
    pub ld_library_path: Option<String>,
    /// The ELF files that --file copies (a directory of libraries or programs) bring their
    /// libraries too, resolved as one group with --lib.
    #[arg(long)]
    pub with_libs: bool,
    /// The jail's time zone, as a name under /usr/share/zoneinfo (`Europe/Paris`): the
    /// jail gets that zone's file and etc/localtime naming it (without this option, the
    /// basic-shell profile copies the host's). Recorded for later builds.
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
    /// Give the jail its own /proc: `jailsmith mount` then mounts a private procfs there
    /// (hidepid=invisible,subset=pid, nosuid,nodev,noexec), so ps, top, free and programs
    /// that read /proc/self work. A jailed process sees its own user's processes only and
    /// nothing but their PID directories (no /proc/sys, /proc/kallsyms, /proc/meminfo…);
    /// `check` accepts exactly that mount and no other proc. Recorded for later builds.
    #[arg(long)]
    pub proc: bool,
    /// Give the jail its own /dev/pts: `jailsmith mount` then mounts a private devpts
    /// instance there (newinstance, ptmxmode=0666, mode=0620, gid=tty) and dev/ptmx is a
    /// link to pts/ptmx, so `tty`, `ps` and programs that open pseudo-terminals work.
    /// Trade-off: a jailed user can allocate pseudo-terminals (from the jail's own
    /// instance only: the host's and other jails' terminals stay invisible), and sees the
    /// terminals of the other users of this jail, as on any host. Recorded for later builds.
    #[arg(long)]
    pub devpts: bool,
    /// Keep the files this jail copies in the shared store under the state directory
    /// (STATE/store: root-only, unreachable from every jail), once per content, mode and
    /// mtime, and hard-link them into the jail: N jails of the same programs cost one copy.
    /// Inside the jail they stay root-owned and read-only; a jail on another filesystem
    /// than the store gets copies. `update` re-links what changed; `destroy` and `update`
    /// remove the objects no jail links any more. Recorded for later builds (--replace keeps
    /// it).
    #[arg(long, conflicts_with = "no_store")]
    pub store: bool,
    /// Stop using the shared store: the next build gives the jail its own copies again.
    /// Recorded for later builds.
    #[arg(long)]
    pub no_store: bool,
    /// Give the jail a syslog socket at /dev/log: `jailsmith mount` binds the host's
    /// (/dev/log as its symlinks lead, e.g. journald's /run/systemd/journal/dev-log)
    /// there, ro,nosuid,nodev, and `jailsmith user --sftp-only` then writes
    /// `ForceCommand internal-sftp -l INFO -f AUTHPRIV`, so every sftp transfer is logged
    /// with the user's name. Existing sftp-only users log once their drop-in is written
    /// again (run their `jailsmith user` command again). Only a root-owned datagram socket
    /// is bound (what syslog listens on); `check` accepts exactly that bind. Recorded for
    /// later builds.
    #[arg(long)]
    pub log: bool,
    /// The host socket `--log` binds (default: the host's syslog socket, /dev/log
    /// resolved); implies --log.
    #[arg(long, value_name = "PATH")]
    pub log_socket: Option<PathBuf>,
    /// A host directory to bind-mount into the jail: SRC:DST[:ro|rw], non-recursive,
    /// always nosuid,nodev, read-only unless rw. Recorded in the state; `jailsmith mount`
    /// mounts it. A source a non-root user can write is refused unless rw is given; a
    /// source whose parent a non-root user can write is always refused. Sources that are,
    /// contain or lie inside /, /proc, /sys, /dev, /run, /boot, /root, /etc, the state
    /// directory or the jail are refused; rw only into a user's home (/home/NAME/...) or a
    /// service's --read-write path.
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
    /// Redefine the jail's request with this run's programs, files, profiles and binds
    /// instead of adding them to what built it before (what is no longer asked for is left
    /// in place; `jailsmith update` removes it).
    #[arg(long)]
    pub replace: bool,
    /// Take a program (as the request records it: the name or path given to --bin) out of
    /// the jail's request (repeatable); `jailsmith update` then removes what only it needed.
    #[arg(long = "remove-bin", value_name = "NAME|PATH")]
    pub remove_bins: Vec<String>,
    /// Take a profile out of the jail's request (repeatable).
    #[arg(long = "remove-profile", value_name = "NAME")]
    pub remove_profiles: Vec<String>,
    /// List every path in the summary (objects no longer needed) and every optional profile
    /// entry absent on this host, not only the first few or a count.
    #[arg(long, short)]
    pub verbose: bool,
}

fn parse_bind(s: &str) -> Result<Bind, String> {
    Bind::parse(s).map_err(|e| e.to_string())
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    crate::profile::request::list_absent_entries(args.verbose);
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
        replace: args.replace,
        remove_bins: args.remove_bins.clone(),
        remove_profiles: args.remove_profiles.clone(),
        profile_dirs: args.profile.dirs.profile_dirs.clone(),
        lib_patterns: args.libs.clone(),
        ld_library_path: args
            .ld_library_path
            .as_deref()
            .map(crate::resolve::elf::split_path_list)
            .unwrap_or_default(),
        with_libs: args.with_libs,
        timezone: args.timezone.clone(),
        proc: args.proc,
        devpts: args.devpts,
        store: match (args.store, args.no_store) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        log: (args.log || args.log_socket.is_some())
            .then(|| crate::mounts::log::resolve(args.log_socket.as_deref()))
            .transpose()?,
        // build adds: what the request no longer needs is left for `update` to remove
        prune: false,
    };
    let code = execute(&settings, args.dry_run, args.json, args.verbose)?;
    if !args.dry_run {
        crate::labels::after_build(&args.jail)?;
    }
    Ok(code)
}

/// Runs a build from settings and prints it; shared with commands that add profiles.
pub fn execute(
    settings: &BuildSettings,
    dry_run: bool,
    json: bool,
    verbose: bool,
) -> anyhow::Result<u8> {
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
        crate::cli::output::json(r)?;
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
            "jailsmith: {}: {} created, {} updated, {} unchanged; {:.1} MB copied{} in {} ms",
            settings.jail.display(),
            r.created,
            r.updated,
            r.unchanged,
            r.bytes_copied as f64 / 1e6,
            match r.linked {
                0 => String::new(),
                n => format!(", {n} linked from the shared store"),
            },
            built.elapsed_ms
        );
    }
    if !r.stale.is_empty() {
        eprintln!(
            "jailsmith: {} objects from earlier builds are no longer needed (left in place; \
             'jailsmith update' removes them){}",
            r.stale.len(),
            first_few(&r.stale, verbose)
        );
    }
    Ok(exit::OK)
}

/// ": a, b, c and N more" (all of them with `verbose`), one path per line.
fn first_few(paths: &[String], verbose: bool) -> String {
    const FEW: usize = 5;
    let shown = if verbose {
        paths.len()
    } else {
        FEW.min(paths.len())
    };
    let mut out = String::from(":");
    for p in &paths[..shown] {
        out.push_str("\n  ");
        out.push_str(p);
    }
    if shown < paths.len() {
        out.push_str(&format!(
            "\n  … and {} more (--verbose lists them)",
            paths.len() - shown
        ));
    }
    out
}
