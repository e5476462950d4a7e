//! Plan: settings + closure → a list of typed operations on the jail, each with a reason
//! (`prune` adds the removals of what the request no longer needs); `hostops` holds the
//! operations outside the jail's tree (accounts, root files, reloads, mounts); `removal` the
//! rules of what `destroy` removes from a jail's tree.
//! Pure: takes every input as an argument; never reads the host or the environment.

pub mod base;
pub mod build;
pub mod denylist;
pub mod hostops;
pub mod jailpath;
pub mod ops;
pub mod policy;
pub mod prune;
pub mod removal;
pub mod render;

pub use hostops::{HostOp, HostStep, Id, MadeObject, MountKind, PlannedOwner};
pub use jailpath::JailPath;
pub use ops::{Content, Op, Owner, Placed, Plan, Step};
