//! Host facts read from the running system: the loader's configuration, programs found in a
//! fixed secure PATH, device numbers, and host paths walked hop by hop. Reads only; never
//! writes, never runs anything from a jail.

pub mod gather;
pub mod guard;
pub mod jailcache;
pub mod limit_facts;
pub mod loader;
pub mod programs;
pub mod timezone;
pub mod walk;

pub use limit_facts::limit_facts;
pub use loader::loader_config;
pub use programs::{SECURE_PATH, find_program};
pub use walk::walk;
