//! `jailsmith generate` (hidden): man pages and shell completions, generated from the clap
//! definitions so they never drift from the code. Writes only into the directory it is given.

mod man;
mod manual;
mod markdown;
mod schema_doc;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

/// Generate man pages or shell completions (for packaging).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// Write jailsmith.8, jailsmith-COMMAND.8 for every command and jailsmith-profile.5 into DIR.
    Man {
        /// Output directory (created when missing).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Write bash (jailsmith), zsh (_jailsmith) and fish (jailsmith.fish) completions into DIR.
    Completions {
        /// Output directory (created when missing).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    match args.what {
        What::Man { dir } => {
            for path in write_man_pages(&dir)? {
                eprintln!("wrote {}", path.display());
            }
        }
        What::Completions { dir } => {
            for path in write_completions(&dir)? {
                eprintln!("wrote {}", path.display());
            }
        }
    }
    Ok(crate::exit::OK)
}

/// Renders every man page into `dir` and removes jailsmith pages there that are no longer
/// generated (a command that was removed or renamed), so `generate man man/` alone brings
/// the committed pages up to date. Returns the paths written, sorted.
pub fn write_man_pages(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let pages = man::pages(super::Cli::command());
    let written = write_files(dir, pages.into_iter().map(|p| (p.file_name, p.roff)))?;
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let ours = name.starts_with("jailsmith") && (name.ends_with(".8") || name.ends_with(".5"));
        if ours && !written.contains(&path) {
            crate::apply::scratch::remove_generated(&path)
                .with_context(|| format!("removing {}", path.display()))?;
            eprintln!("removed {}", path.display());
        }
    }
    Ok(written)
}

/// The shells jailsmith ships completions for, with the file names the distributions expect
/// (bash-completion loads `completions/jailsmith`, zsh `site-functions/_jailsmith`, fish
/// `vendor_completions.d/jailsmith.fish`).
pub const COMPLETIONS: &[(Shell, &str)] = &[
    (Shell::Bash, "jailsmith"),
    (Shell::Zsh, "_jailsmith"),
    (Shell::Fish, "jailsmith.fish"),
];

/// Renders the bash, zsh and fish completion scripts into `dir`; returns the paths written.
pub fn write_completions(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let scripts = COMPLETIONS.iter().map(|&(shell, name)| {
        let mut cmd = without_hidden(&super::Cli::command());
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cmd, "jailsmith", &mut buf);
        (name.to_string(), buf)
    });
    write_files(dir, scripts)
}

/// A copy of `cmd` without its hidden arguments and subcommands: clap_complete's scripts
/// would otherwise offer them (`generate` itself, for one).
fn without_hidden(cmd: &clap::Command) -> clap::Command {
    let mut out = clap::Command::new(cmd.get_name().to_string())
        .args(cmd.get_arguments().filter(|a| !a.is_hide_set()).cloned())
        .groups(cmd.get_groups().cloned())
        .aliases(cmd.get_all_aliases().map(str::to_string))
        .subcommands(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(without_hidden),
        );
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        out = out.version(version.to_string());
    }
    out
}

fn write_files(
    dir: &Path,
    files: impl Iterator<Item = (String, Vec<u8>)>,
) -> anyhow::Result<Vec<PathBuf>> {
    crate::apply::scratch::write_generated(dir, files)
        .with_context(|| format!("writing into {}", dir.display()))
}
