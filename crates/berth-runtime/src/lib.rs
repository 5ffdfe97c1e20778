//! berth-runtime: the OCI runtime (runtime-spec 1.2, Linux) as a library.
//!
//! [`Runtime`] is the entry point; each method is one runc-compatible operation on a
//! container whose state lives under the runtime's root directory (`--root`).
//!
//! Process model: the calling process stays single-threaded; it validates the bundle,
//! creates the cgroup and forks the container's init ([`spawn`]), with which it talks
//! over a socket pair in typed messages ([`channel`]), errors included, so a failure inside
//! the container reaches the caller as one clear message. The init ([`init`]) builds the
//! filesystem ([`rootfs`]), reports ready and waits on `start.sock` in the state directory;
//! `start` connects there, and the init runs the final step ([`finalize`]) and execs.
//!
//! Invariant: every operation either completes or undoes what it did (cgroup, state
//! directory, processes); nothing is left half-made.

mod api;
pub mod caps;
pub mod channel;
mod defaults;
mod devices;
mod error;
mod exec;
pub mod finalize;
mod foreground;
mod hooks;
pub mod init;
pub mod mountopts;
mod ops;
pub mod paths;
pub mod rlimit;
pub mod rootfs;
pub mod seal;
pub mod spawn;
mod state;
pub mod terminal;
pub mod util;
pub mod validate;

pub use api::*;
pub use defaults::{default_spec, features};
pub use error::{Error, ErrorKind, Result};
