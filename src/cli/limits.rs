//! The resource-limit options, defined with the limits (`limits::options`) and flattened
//! into `user` and `service`.

pub use crate::limits::options::{LimitArgs, resolve_io_device};
