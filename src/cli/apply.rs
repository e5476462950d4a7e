//! `jailsmith apply SPEC.toml`: reads and validates the spec (nothing is written when it is
//! invalid), converges the host to it and prints the actions (text, or JSON on stdout).

use std::path::PathBuf;

use crate::converge::{self, Options, Outcome};
use crate::exit;
use crate::spec::UnreadableSpec;
use crate::state::DEFAULT_STATE_DIR;

/// Converge this host to a declarative spec: jails, jailed users and services.
///
/// SPEC.toml declares `[[jail]]` (path, profiles, bins, files, binds, proc, devpts, log,
/// log_socket, store), `[[user]]` (name, jail, keys, create, uid, shell, sftp_only, limits,
/// delete_account) and `[[service]]` (as `jailsmith service`). The whole spec is checked first; any problem is reported with its
/// file:line:column and nothing is changed. Then jails are built, services written and
/// users jailed by the same code as `build`, `service` and `user`; the accounts to create are
/// made first, all in one batch (newusers, then chpasswd -e: what `user --create` makes).
/// `sshd -t` runs once before the first write, `sshd -T` once per block written, and sshd is
/// reloaded once at the end, only when a drop-in changed. A second run on an unchanged host
/// writes nothing and reports `changed: false`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  jailsmith apply /etc/jailsmith/spec.toml\n  jailsmith apply spec.toml --dry-run --json\n  jailsmith apply spec.toml --prune\n\n--json prints {\"changed\", \"dry_run\", \"actions\": [{\"kind\", \"name\", \"action\", \"details\",\n\"plan\"}]}; each action's plan lists its steps (a jail's: those that change it), the same\nwith --dry-run as in the real run (jailsmith-apply(8), JSON OUTPUT).\nWhat apply put in place is recorded in STATE_DIR/apply.json; --prune removes only those\njails, users and services the spec no longer names (host accounts only when their\n[[user]] had delete_account = true). Exit codes: 2 invalid spec or input; 4 refused by a\nsafety rule; 5 sshd rejected the configuration; 6 a host operation failed."
)]
pub struct Args {
    /// The spec file (TOML).
    #[arg(value_name = "SPEC.toml")]
    pub spec: PathBuf,
    /// Remove jails, users and services apply created that the spec no longer names.
    #[arg(long)]
    pub prune: bool,
    /// Print the actions; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print {"changed", "actions"} as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub sshd: crate::cli::sshd_paths::SshdPaths,
    /// Where jailsmith keeps its state (jails, and what apply manages).
    #[arg(long, default_value = DEFAULT_STATE_DIR, value_name = "DIR")]
    pub state_dir: PathBuf,
    /// Where users' slice drop-ins with limits go.
    #[arg(long, default_value = crate::cli::user::DEFAULT_SYSTEMD_DIR, value_name = "DIR")]
    pub systemd_dir: PathBuf,
    /// Where service units go.
    #[arg(long, default_value = "/etc/systemd/system", value_name = "DIR")]
    pub unit_dir: PathBuf,
    /// Do not reload sshd (or systemd) after a change.
    #[arg(long)]
    pub no_reload: bool,
    #[command(flatten)]
    pub dirs: crate::cli::profiles::DirArgs,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(&args.spec).map_err(|source| UnreadableSpec {
        path: args.spec.clone(),
        source,
    })?;
    let spec = crate::spec::parse(&args.spec, &text)?;
    let spec_dir = std::path::absolute(&args.spec)
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("."));
    let o = Options {
        spec_dir,
        prune: args.prune,
        dry_run: args.dry_run,
        sshd: args.sshd.clone(),
        state_dir: args.state_dir.clone(),
        systemd_dir: args.systemd_dir.clone(),
        unit_dir: args.unit_dir.clone(),
        profile_dirs: args.dirs.profile_dirs.clone(),
        no_reload: args.no_reload,
    };
    let outcome = converge::converge(&spec, &o)?;
    print(&outcome, args.json);
    Ok(exit::OK)
}

fn print(o: &Outcome, json: bool) {
    for w in &o.warnings {
        eprintln!("jailsmith: warning: {w}");
    }
    if json {
        println!(
            "{}",
            serde_json::to_string(o).expect("the outcome serialises")
        );
        return;
    }
    if !o.changed {
        println!("up to date: nothing to change");
        return;
    }
    let verb = if o.dry_run { "would " } else { "" };
    for a in &o.actions {
        println!("{verb}{} {} {}", a.action, a.kind, a.name);
        for d in &a.details {
            println!("    {d}");
        }
    }
}
