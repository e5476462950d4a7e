//! Plan: settings + closure → a list of typed operations on the jail, each with a reason.
//! Pure: takes every input as an argument; never reads the host or the environment.

pub mod base;
pub mod build;
pub mod denylist;
pub mod jailpath;
pub mod ops;
pub mod policy;
pub mod render;

pub use jailpath::JailPath;
pub use ops::{Op, Owner, Plan, Step};
