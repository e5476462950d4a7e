//! The integration tests: one test crate, so `cargo test` links one binary. Each module
//! covers one area; `common` holds the shared helpers (binary under test, root-test rules,
//! throw-away users, private sshd, guards that clean up on drop).

mod common;
mod user_support;

mod admin_messages;
mod ansible;
mod apply_batch;
mod apply_host;
mod apply_spec;
mod audit_check;
mod build_jail;
mod closed_pipe;
mod copy_paths;
mod exit_classes;
mod harness;
mod hostile_audit;
mod hostile_host_files;
mod hostile_inputs;
mod hostile_removal;
mod layout;
mod lifecycle_canaries;
mod lifecycle_destroy;
mod lifecycle_mount;
mod lifecycle_update;
mod loader_rules;
mod man_pages;
mod oracle;
mod packaging;
mod plans_as_data;
mod proc_in_jail;
mod profile_cli;
mod profile_jails;
mod real_software;
mod service_unit;
mod service_user_limits;
mod sftp_log;
mod shared_store;
mod sshd_groups;
mod systemd_real;
mod user_refusals;
mod user_ssh;
mod verify_ssh;
