//! Apply: the only code that changes the host. Walks a plan through the `Host` interface,
//! idempotently, and reports what changed. All `unsafe` and every write live under here.

pub mod host;

pub use host::{Copied, EntryKind, Host, HostError, Meta};
