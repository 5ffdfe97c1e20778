//! berth-sys: the only crate in berth allowed to use `unsafe`.
//!
//! It wraps the few system calls that `rustix` does not expose safely (fork-style `clone`
//! with namespace flags, `unshare`, `setns`, raw `mount`, `close_range`, signals as plain
//! numbers including real-time ones, `execveat` of a sealed binary, `bpf`) behind safe
//! functions taking plain Rust types. Every `unsafe` block states why it is sound.
//!
//! Invariant: these functions are only sound in a single-threaded process where they fork
//! (`clone_fork`): the runtime never starts threads before forking.
#![allow(unsafe_code)]

pub mod bpf;
pub mod ns;
pub mod proc;
pub mod seccomp;
pub mod signals;
pub mod testing;
