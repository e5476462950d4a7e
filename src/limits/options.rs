//! The resource-limit options shared by `service` and `user` (`#[command(flatten)]`), and
//! their conversion to `limits::Limits`, with the jail's block device filled in for a bare
//! IO rate. Parsing rules live in `crate::limits`.

use std::path::Path;

use super::{LimitError, Limits, RawLimits};
use crate::service::files::jail_block_device;

/// cgroup limits, written as systemd directives (MemoryMax=, CPUQuota= …).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LimitArgs {
    /// Hard memory limit: bytes with K, M, G or T (1024-based), a percentage, or 'infinity'.
    #[arg(long, value_name = "SIZE", help_heading = "Resource limits")]
    pub memory_max: Option<String>,
    /// Memory above which the processes are throttled (same forms as --memory-max).
    #[arg(long, value_name = "SIZE", help_heading = "Resource limits")]
    pub memory_high: Option<String>,
    /// CPU time cap in percent of one CPU: 50% or 150%.
    #[arg(long, value_name = "PERCENT", help_heading = "Resource limits")]
    pub cpu_quota: Option<String>,
    /// Relative CPU share under contention, 1–10000 (default 100).
    #[arg(long, value_name = "WEIGHT", help_heading = "Resource limits")]
    pub cpu_weight: Option<String>,
    /// Most tasks (processes and threads): a number, a percentage, or 'infinity'.
    #[arg(long, value_name = "N", help_heading = "Resource limits")]
    pub tasks_max: Option<String>,
    /// Read bandwidth cap: 'RATE' (bytes/s on the device holding the jail, e.g. 1M) or
    /// 'DEV RATE' (/dev/sda 10M).
    #[arg(long, value_name = "[DEV ]RATE", help_heading = "Resource limits")]
    pub io_read_max: Option<String>,
    /// Write bandwidth cap, as --io-read-max.
    #[arg(long, value_name = "[DEV ]RATE", help_heading = "Resource limits")]
    pub io_write_max: Option<String>,
}

impl LimitArgs {
    /// Parses the values (exit 2 with the accepted forms on a bad one). No host access.
    pub fn parse(&self) -> Result<Limits, LimitError> {
        let raw = RawLimits {
            memory_max: self.memory_max.as_deref(),
            memory_high: self.memory_high.as_deref(),
            cpu_quota: self.cpu_quota.as_deref(),
            cpu_weight: self.cpu_weight.as_deref(),
            tasks_max: self.tasks_max.as_deref(),
            io_read_max: self.io_read_max.as_deref(),
            io_write_max: self.io_write_max.as_deref(),
        };
        Limits::parse(&raw)
    }
}

/// Fills in the device of a bare IO rate: the whole disk holding `jail` when sysfs shows one,
/// else the jail path itself (systemd then looks up the device of the file system behind it)
/// with a warning. Returns the warnings.
pub fn resolve_io_device(limits: &mut Limits, jail: &Path) -> Vec<String> {
    if !limits.needs_jail_device() {
        return Vec::new();
    }
    match jail_block_device(jail) {
        Some(dev) => {
            limits.resolve_device(&dev.to_string_lossy());
            Vec::new()
        }
        None => {
            limits.resolve_device(&jail.to_string_lossy());
            vec![format!(
                "no block device found behind {} (overlay, tmpfs or network file system?): \
                 the IO limit names the jail path and systemd looks the device up when it \
                 starts the unit; without a block device the limit has no effect",
                jail.display()
            )]
        }
    }
}
