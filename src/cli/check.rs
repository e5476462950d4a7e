//! `jailsmith check`: the audit over a jail. Findings to stdout (text or JSON), a summary to
//! stderr. Exit 0 without an error finding, 1 with one, 2 when the jail cannot be read.

use std::path::PathBuf;

use crate::audit::{self, CheckSettings};
use crate::exit::{self, Coded};
use crate::state::{self, DEFAULT_STATE_DIR};

/// Audit a jail: §5 invariants, integrity against the manifest, staleness against the host.
///
/// Checks the jail root and its ancestors (sshd's ChrootDirectory rule); that everything
/// outside the users' homes (and a sticky /tmp) is root-owned and not group/other-writable;
/// no setuid/setgid file, no file capability, no refused program (su, sudo, …), no
/// etc/ld.so.preload or etc/shadow; /dev holds only the allowed character devices with the
/// host's numbers; no mount but the declared binds, with their flags; no world-writable
/// directory without the sticky bit. Every file jailsmith placed is hashed whole and compared
/// with the manifest; host sources changed since they were copied, and libraries the closure
/// needs now, are reported as stale. Reads only (unless --fix): it walks the jail by
/// descriptor, never follows a symlink, never crosses into another filesystem and never runs
/// anything from the jail.
///
/// Hard links: outside the homes, a file with several links is a warning (jailsmith never
/// makes them). Inside a user's home (or a sticky /tmp) a hard-linked file is an error only
/// when it links to a file the home's owner does not own (a root-owned jail binary), to a
/// setuid/setgid file, or to a file with links outside that home (elsewhere in the jail or on
/// the host); the user's own files linked among themselves (git objects after a local clone)
/// are fine.
///
/// Output: text lines `SEVERITY: PATH: WHAT [KIND]; fix: HINT`, every string from the jail
/// escaped (control characters as \n, \t, \x1b …, C1 and bidi controls as \u{…}, a
/// backslash doubled), so a file name cannot start a line or colour the terminal. --json
/// prints the exact strings; a name that is not valid UTF-8 shows each invalid byte as
/// U+FFFD there. Every hint is safe to paste: a jailsmith command (check --fix, update, mount)
/// or a shell-quoted command that follows no symlink a user could plant; a hint never removes
/// anything in a user's home and never changes a host system directory.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 no error finding, 1 an error finding, 2 the jail cannot be read.\n\nExamples:\n  jailsmith check /srv/get_chrooted\n  jailsmith check /srv/get_chrooted --json | jq '.findings[] | select(.severity==\"error\")'"
)]
pub struct Args {
    /// The jail's root directory.
    #[arg(value_name = "JAIL")]
    pub jail: PathBuf,
    /// Print the report as JSON on stdout (for monitoring).
    #[arg(long)]
    pub json: bool,
    /// Repair what can be repaired safely, then check again: clear setuid/setgid bits, file
    /// capabilities and group/other write, give objects outside the homes to root, and remove
    /// forbidden objects outside the homes (device nodes, sockets, ld.so.preload, shadow,
    /// refused programs). Works on descriptors, refuses symlinks, removes nothing in a home.
    #[arg(long)]
    pub fix: bool,
    /// Where jailsmith keeps the state of each jail.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Threads hashing files (default: one per CPU).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub jobs: usize,
    /// Do not re-run the planner (skips "needed now" findings; faster).
    #[arg(long)]
    pub no_replan: bool,
    #[command(flatten)]
    pub dirs: crate::cli::profiles::DirArgs,
    /// Where the jailed users' limit drop-ins (user-UID.slice.d/50-jailsmith.conf) live.
    #[arg(long, value_name = "DIR", default_value = crate::cli::user::DEFAULT_SYSTEMD_DIR)]
    pub systemd_dir: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    if !args.jail.is_absolute() {
        return Err(Coded::new(
            exit::BAD_INPUT,
            format!("{}: the jail path must be absolute", args.jail.display()),
        )
        .into());
    }
    let st = state::load(&args.state_dir, &args.jail)
        .map_err(|e| Coded::new(exit::BAD_INPUT, e.to_string()))?;
    let replan = match (&st, args.no_replan) {
        (Some(s), false) => Some(
            crate::cli::update::settings_from_request(&args.jail, &s.request, &args.dirs)
                .map(|mut b| {
                    if !s.services.is_empty() {
                        // mount points of the jailed services, as `update` keeps them
                        b.extra
                            .dirs
                            .extend(crate::service::files::mount_point_dirs());
                    }
                    b
                })
                .map_err(|e| format!("{e:#}")),
        ),
        _ => None,
    };
    let settings = CheckSettings {
        jail: args.jail.clone(),
        state: st,
        jobs: args.jobs,
        replan,
        systemd_dir: args.systemd_dir.clone(),
        state_dir: args.state_dir.clone(),
    };
    let mut report =
        audit::check(&settings).map_err(|e| Coded::new(exit::BAD_INPUT, e.to_string()))?;
    if args.fix && !report.repairs.is_empty() {
        repair(&args.jail, &report.repairs)?;
        report = audit::check(&settings).map_err(|e| Coded::new(exit::BAD_INPUT, e.to_string()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for f in &report.findings {
            println!("{f}");
        }
    }
    eprintln!(
        "jailsmith: check {}: {} errors, {} warnings ({} objects walked, {} files hashed)",
        args.jail.display(),
        report.errors,
        report.warnings,
        report.objects,
        report.hashed
    );
    Ok(if report.errors > 0 {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

/// `--fix`: carries out the repairs and says on stderr what each did.
fn repair(jail: &std::path::Path, repairs: &[(String, audit::Repair)]) -> anyhow::Result<()> {
    use crate::escape::text;
    let done = audit::repair::apply(jail, repairs)
        .map_err(|e| Coded::new(e.exit_code(), e.to_string()))?;
    for d in done {
        let what = audit::repair::describe(d.repair);
        let shown = text(&d.path);
        match d.outcome {
            Ok(true) => eprintln!("jailsmith: fixed {shown}: {what}"),
            Ok(false) => {}
            Err(e) => eprintln!("jailsmith: not fixed {shown} ({what}): {}", text(&e)),
        }
    }
    Ok(())
}
