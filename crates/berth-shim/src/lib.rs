//! berth-shim: one small process per running container, between the engine and the OCI
//! runtime.
//!
//! The `berth-shim` binary (synchronous, single-threaded, one `poll` loop) creates the
//! container with `berth-runtime create/start`, becomes its subreaper, holds its stdio (pipes,
//! or the pty master received over a console socket), drains output into Docker's json-file
//! log whether or not anyone is attached, serves attach/exec/resize/wait/state on a unix
//! socket, and records the exit in `exit.json` before deleting the container. It detaches
//! from whoever launched it (new session, double fork), so the engine can die and come back.
//!
//! This library holds what the engine shares with it:
//! - [`protocol`]: the request and reply types (serde), file names in the state directory;
//! - [`client`] (cargo feature `client`, tokio): launching a shim and talking to it.
//!
//! Invariant: the binary never uses the `client` module, so tokio never runs in a shim.

pub mod protocol;

#[cfg(feature = "client")]
pub mod client;
