//! Plan rendering: dry-run text and JSON.
