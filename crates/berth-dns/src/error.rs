//! Errors of the DNS table and server.

use std::io;
use std::net::SocketAddr;

/// What went wrong, on which object.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A listening socket could not be bound.
    #[error("cannot listen for DNS on {addr} ({proto}): {source}{hint}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// `"udp"` or `"tcp"`.
        proto: &'static str,
        /// What the kernel said.
        source: io::Error,
        /// A likely cause, worded for the operator (may be empty).
        hint: &'static str,
    },
    /// A socket could not be set up after binding.
    #[error("cannot set up the DNS socket on {addr} ({proto}): {source}")]
    Socket {
        /// The bound address.
        addr: SocketAddr,
        /// `"udp"` or `"tcp"`.
        proto: &'static str,
        /// What failed.
        source: io::Error,
    },
    /// [`crate::Server::start`] was called outside a tokio runtime.
    #[error("the DNS server must be started from within a tokio runtime")]
    NoRuntime,
    /// An entry was added to a network the table does not know.
    #[error("network {0} is not in the DNS table (set_network first)")]
    UnknownNetwork(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn bind(addr: SocketAddr, proto: &'static str, source: io::Error) -> Self {
        let hint = match source.kind() {
            io::ErrorKind::AddrInUse => {
                " (another DNS server, such as dnsmasq or systemd-resolved, holds this port on \
                 this address or on the wildcard address)"
            }
            io::ErrorKind::AddrNotAvailable => {
                " (the address is not assigned to any interface: is the network's bridge up?)"
            }
            io::ErrorKind::PermissionDenied => {
                " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
            }
            _ => "",
        };
        Error::Bind {
            addr,
            proto,
            source,
            hint,
        }
    }
}
