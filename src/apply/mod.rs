//! Apply: the only code that changes the host. Walks a plan through the `Host` interface,
//! idempotently, and reports what changed. All `unsafe` and every write live under here.

mod beneath;
pub mod binds;
mod errors;
pub mod executor;
#[cfg(test)]
pub(crate) mod fake;
pub mod host;
pub mod interrupt;
pub mod journal;
pub mod linux;
pub mod mount;
pub mod pipe;
pub mod process;
pub mod removal;
mod root;
pub mod rootfile;
pub mod scratch;
pub mod signal;
pub mod source;
pub mod store;
pub mod transfer;
pub mod tree;
pub mod walk;
pub mod xattr;

pub use executor::{ApplyOptions, ApplyReport, Outcome};
pub use host::{Copied, EntryKind, Host, HostError, Meta};
pub use linux::LinuxHost;
