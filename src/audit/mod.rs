//! Audit: the invariants of DESIGN §5 checked over a jail on disk. Reads, never writes.

pub mod chroot_rule;
