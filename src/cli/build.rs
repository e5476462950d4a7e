//! `jailsmith build`: gather what the jail needs, plan it, apply it.

use std::path::PathBuf;

/// Build or refresh a jail: programs, their libraries, devices and base /etc files.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The jail's root directory (created when missing).
    #[arg(value_name = "JAIL")]
    pub jail: PathBuf,
}

pub fn run(_args: Args) -> anyhow::Result<u8> {
    anyhow::bail!("build: not written yet")
}
