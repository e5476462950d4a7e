//! Host facts read from the running system (impure): secure PATH lookup, loader config.
