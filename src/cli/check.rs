//! `jailsmith check`: the audit over a jail. Findings to stdout (text or JSON), a summary to
//! stderr. Exit 0 without an error finding, 1 with one, 2 when the jail cannot be read.

use std::path::PathBuf;

use crate::audit::{self, CheckSettings};
use crate::exit;
use crate::state::{self, DEFAULT_STATE_DIR};

/// Options of `jailsmith check`; the command's long help is on its `Command` variant.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 no error finding, 1 an error finding, 2 the jail cannot be read, 4 not a path a jail may have, 6 its state file cannot be read.\n\nExamples:\n  jailsmith check /srv/get_chrooted\n  jailsmith check /srv/get_chrooted --json | jq '.findings[] | select(.severity==\"error\")'"
)]
pub struct Args {
    /// The jail's root directory.
    #[arg(value_name = "JAIL")]
    pub jail: PathBuf,
    /// Print the report as JSON on stdout (for monitoring); its `plan` lists the repairs
    /// --fix makes (without --fix: would make).
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
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
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
    crate::jail::refuse_jail(&args.jail, &args.state_dir)?;
    let st = state::load(&args.state_dir, &args.jail)?;
    let replan = match (&st, args.no_replan) {
        (Some(s), false) => Some(
            crate::cli::update::settings_from_request(&args.jail, &s.request, &args.dirs)
                .map(|mut b| {
                    b.state_dir = args.state_dir.clone();
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
    let mut report = audit::check(&settings)?;
    // without --fix the plan is what --fix would do (a dry run: nothing is changed)
    let (plan, mut not_fixed) = audit::repair::plan(&report.repairs);
    if args.fix && !report.repairs.is_empty() {
        not_fixed.extend(repair(&args.jail, plan.clone(), &not_fixed)?);
        report = audit::check(&settings)?;
        report.not_fixed = not_fixed;
    }
    report.plan = plan;
    crate::labels::check(&args.jail, &mut report);
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

/// `--fix`: carries out the repairs and says on stderr what each did (and which could not
/// be planned, `unplanned`); returns those refused or failed.
fn repair(
    jail: &std::path::Path,
    plan: Vec<crate::plan::HostStep>,
    unplanned: &[audit::NotFixed],
) -> anyhow::Result<Vec<audit::NotFixed>> {
    use crate::escape::text;
    for n in unplanned {
        eprintln!("jailsmith: not fixed {}: {}", text(&n.path), text(&n.why));
    }
    let done = audit::repair::apply(jail, plan)?;
    for d in &done {
        let what = audit::repair::describe(&d.step.op);
        let shown = d.step.op.target();
        let shown = text(&shown);
        match &d.outcome {
            Ok(true) => eprintln!("jailsmith: fixed {shown}: {what}"),
            Ok(false) => {}
            Err(e) => eprintln!("jailsmith: not fixed {shown} ({what}): {}", text(e)),
        }
    }
    Ok(audit::repair::not_fixed(&done))
}
