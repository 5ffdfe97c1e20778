//! The crate's error: a kind the engine maps to an HTTP status, and one message saying what
//! failed on which object (same shape as berth-image's, so the engine handles both alike).

use std::fmt;
use std::io;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The bridge, namespace or network state does not exist (404).
    NotFound,
    /// The object is taken: an address already allocated, an interface name in use (409).
    Conflict,
    /// The input is wrong: a malformed CIDR, an address outside the subnet, a bad name (400).
    InvalidArgument,
    /// Every address of the pool is allocated (Docker answers 403 here; the engine decides).
    Exhausted,
    /// Anything else: a netlink or file-system failure (500).
    Internal,
}

/// An error of this crate: [`ErrorKind`] plus a message saying what failed where.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// How the engine should report it.
    pub kind: ErrorKind,
    /// For the user, as-is (it already contains the source's text).
    pub message: String,
    /// The underlying I/O or netlink error (errno), when there is one.
    #[source]
    pub source: Option<io::Error>,
}

/// This crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl fmt::Display) -> Self {
        Error {
            kind,
            message: message.to_string(),
            source: None,
        }
    }
    /// [`ErrorKind::NotFound`].
    pub fn not_found(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    /// [`ErrorKind::Conflict`].
    pub fn conflict(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    /// [`ErrorKind::InvalidArgument`].
    pub fn invalid(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    /// [`ErrorKind::Internal`].
    pub fn internal(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    /// An I/O or netlink failure while doing `what` (`"create veth vb…"`): Internal, keeping
    /// the source, unless the errno says the object exists (Conflict) or is missing
    /// (NotFound).
    pub fn io(what: impl fmt::Display, err: io::Error) -> Self {
        let kind = match err.raw_os_error() {
            Some(libc::EEXIST) | Some(libc::EADDRINUSE) | Some(libc::EBUSY) => ErrorKind::Conflict,
            Some(libc::ENOENT) | Some(libc::ENODEV) => ErrorKind::NotFound,
            _ => ErrorKind::Internal,
        };
        Error {
            kind,
            message: format!("{what}: {err}"),
            source: Some(err),
        }
    }
}

/// Adds context to `io::Result`s.
pub(crate) trait IoContext<T> {
    /// On error: [`Error::io`] with `what()` as the context.
    fn ctx<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| Error::io(what(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_picks_the_kind_and_message_keeps_context() {
        let e: Result<()> = Err(io::Error::from_raw_os_error(libc::EEXIST)).ctx(|| "create x");
        let e = e.expect_err("error");
        assert_eq!(e.kind, ErrorKind::Conflict);
        assert!(e.message.starts_with("create x: "), "{}", e.message);
        let e = Error::io("open y", io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(e.kind, ErrorKind::NotFound);
        let e = Error::io("z", io::Error::from_raw_os_error(libc::EPERM));
        assert_eq!(e.kind, ErrorKind::Internal);
    }
}
