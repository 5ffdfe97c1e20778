//! berth-net: the host side of container networking — network namespaces, bridges, veth
//! pairs, addresses and routes, and IP address management. (NAT and published ports are
//! `berth-firewall`'s; container name resolution is `berth-dns`'s.)
//!
//! The engine (async) calls this crate from `spawn_blocking`, so the API is synchronous.
//!
//! - [`netns`]: named network namespaces pinned by a bind mount on a file
//!   (`/run/berth/netns/<container id>`), which the runtime joins by path.
//! - [`link`]: [`link::ensure_bridge`] (idempotent, at every daemon start),
//!   [`link::attach`] / [`link::detach`] of a container to a bridge through a veth pair,
//!   leftovers found by [`link::links_with_prefix`], [`link::host_routes`] for subnet
//!   choice, sysctls.
//! - [`ipam`]: [`ipam::Ipam`], addresses per network persisted as one JSON file per network,
//!   and [`ipam::pick_subnet`] over Docker's default pools.
//!
//! # Design
//!
//! **Netlink, not `ip`.** Links, addresses and routes are made with rtnetlink messages
//! (`netlink-packet-route` over a synchronous `netlink-sys` socket, as youki and netavark
//! do): no dependency on iproute2 being installed or on its output format, one syscall per
//! step instead of a process, and the kernel's errno (plus its extended-ACK text) in every
//! error. Versions are pinned exactly in the workspace: these crates break often.
//!
//! **Thread-per-namespace rule.** `setns(CLONE_NEWNET)` changes only the calling thread,
//! and a thread left in a container's namespace would later run unrelated work of the
//! engine there. So no caller thread ever enters a namespace: work inside one runs on a
//! short-lived `std::thread` that joins it and exits ([`netns::run_in`]); and since a
//! netlink socket stays bound to the namespace it was created in, [`link::attach`] opens one
//! socket inside the container's namespace from such a thread and then drives it from the
//! caller's thread. A new namespace is likewise made by a thread that unshares, pins its
//! namespace with a bind mount, and exits.
//!
//! **Undo on failure.** [`netns::create`] and [`link::attach`] delete what they made when a
//! later step fails; [`link::ensure_bridge`] converges from any state. Removal of what is
//! missing is success everywhere, so the engine's cleanup and crash recovery can call it
//! blindly.
//!
//! **IPAM on disk.** `<dir>/<network id>.json` per network: `{"version":1, "subnet":…,
//! "last":…, "allocations":{owner: address}}`, replaced atomically (temp file, fsync,
//! rename, fsync of the directory); see [`ipam`]. Allocation is Docker's: sequential after
//! the last address handed out, wrapping around, never the network, broadcast or gateway
//! address, and with Docker's error messages.
//!
//! IPv4 only for now.

mod error;
pub mod ipam;
pub mod link;
pub mod netns;
mod nl;

pub use error::{Error, ErrorKind, Result};
