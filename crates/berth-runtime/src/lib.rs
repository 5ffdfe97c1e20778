//! berth-runtime: the OCI runtime (runtime-spec 1.2, Linux) as a library.
//!
//! [`Runtime`] is the entry point; each method is one runc-compatible operation on a
//! container whose state lives under the runtime's root directory (`--root`).
//!
//! Process model: the calling process stays single-threaded; it validates the bundle,
//! creates the cgroup and forks the container's init, with which it talks over a socket
//! pair in typed messages (errors included), so a failure inside the container reaches the
//! caller as one clear message. The init sets up namespaces, mounts and the pivoted root,
//! then waits for `start` and execs the user process.
//!
//! Invariant: every operation either completes or undoes what it did (cgroup, state
//! directory, processes); nothing is left half-made.

mod api;
mod error;

pub use api::*;
pub use error::{Error, ErrorKind, Result};
