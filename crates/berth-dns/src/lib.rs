//! berth-dns: the embedded DNS server of user-defined networks, as Docker's embedded DNS
//! and Podman's aardvark-dns provide it.
//!
//! Containers on a user-defined network find each other by container name, network alias,
//! short id (12 hex digits) and hostname; every other name goes to the host's resolvers.
//! berthd runs one [`Server`] per user network, listening on that network's gateway
//! address, port 53, UDP and TCP, in berthd's own network namespace (the host side of the
//! bridge); a container's `/etc/resolv.conf` names the gateway of its first network.
//!
//! - [`Table`] (shared as `Arc<Table>` by every listener, updated by the engine while they
//!   serve): per network id, its gateway and its [`Entry`]s (container id, names, IPv4
//!   address on that network).
//! - [`Server::start`] binds the sockets and spawns the listener tasks on the current tokio
//!   runtime; [`Handle::stop`] ends them and closes the sockets.
//! - [`Upstreams`]: where unknown names go (from the host's resolv.conf, loopback
//!   resolvers dropped: [`Upstreams::from_resolv_conf`]), each upstream's timeout, the
//!   bound on concurrent forwarded queries.
//!
//! Answering a query that arrives on the listener at gateway G from address S:
//! 1. S must be a container on a network whose gateway is G; anyone else gets REFUSED
//!    (nothing but the network's containers should use the listener).
//! 2. That container sees the names of every network it is attached to (Docker semantics:
//!    names on the networks it shares). A name matches case-insensitively, with or without
//!    a trailing dot; the A records are the addresses, on the first network (the arrival
//!    network first) where any container answers to the name, of all those containers (an
//!    alias shared by several containers returns them all). Any other type for a known name
//!    (AAAA: no IPv6 yet) is an empty NOERROR answer. A PTR query for an address of a
//!    container on those networks answers its name (its first name). TTL 60 s.
//! 3. Anything else is forwarded: the client's packet goes unchanged (query id included) to
//!    each upstream in turn, UDP for UDP queries and TCP for TCP ones, with a timeout each;
//!    the first answer comes back unchanged; SERVFAIL when none answers or too many
//!    forwards are already running.
//!
//! Packets that do not parse, and responses, are dropped; other malformed queries get
//! FORMERR (not one question) or NOTIMP (not a QUERY). Our own UDP answers are truncated
//! (TC) beyond 512 bytes, or 1232 with EDNS.
//!
//! Why hickory-proto and our own loop rather than hickory-server with a `RequestHandler`:
//! the forwarder relays the upstream's bytes unchanged, which a `RequestHandler` (which
//! answers with records through a `ResponseHandler`) cannot do without decoding and
//! re-encoding them; the source check, the forward bound and the stop that waits for the
//! sockets to close are each a few lines over tokio sockets; and hickory-proto alone is
//! far lighter (no hickory-net, no futures stack). hickory-proto 0.26 is required: 0.25
//! has RUSTSEC-2026-0119 (quadratic name compression when encoding); 0.26 needs Rust 1.88.
//!
//! Invariants: no input from the network can panic the server (every packet goes through
//! hickory-proto's decoder, and the forwarder only reads the 12-byte header of answers);
//! the table lock is never held across an await.

mod answer;
mod error;
mod forward;
mod server;
mod table;

pub use error::{Error, Result};
pub use forward::{Upstreams, DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT};
pub use server::{Handle, Server};
pub use table::{Entry, Table};
