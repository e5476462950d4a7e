//! jailsmith: provisions chrooted SSH jails. The pipeline is Resolve → Plan → Apply → Verify;
//! each stage is a module, and only `apply` (and the sshd/user host steps) change the host.

pub mod account;
pub mod apply;
pub mod audit;
pub mod cli;
pub mod converge;
pub mod escape;
pub mod exit;
pub mod filecache;
pub mod hostinfo;
pub mod jail;
pub mod labels;
pub mod limits;
pub mod mounts;
pub mod plan;
pub mod profile;
pub mod resolve;
pub mod selinux;
pub mod service;
pub mod spec;
pub mod sshd;
pub mod state;
pub mod suggest;
pub mod verify;
