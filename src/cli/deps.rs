//! `jailsmith deps`: the resolver on its own, like ldd without running anything.

use std::path::PathBuf;

/// Resolve the shared libraries of ELF files like ldd, without running them.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// ELF programs or libraries to resolve.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print a JSON array, one object per FILE.
    #[arg(long)]
    pub json: bool,
    /// Show the dependency tree: who needed each library and how it was found.
    #[arg(long)]
    pub explain: bool,
}

pub fn run(_args: Args) -> anyhow::Result<u8> {
    anyhow::bail!("deps: not written yet")
}
