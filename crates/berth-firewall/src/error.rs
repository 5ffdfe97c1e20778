//! The crate's error: a kind the engine maps to an HTTP status, and one message saying what
//! failed on which object (the same shape as berth-image's and berth-net's errors).

use std::fmt;
use std::io;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// berth's table, or a bridge's sysctl directory, does not exist (404).
    NotFound,
    /// A host port is already published to a different container address (409).
    Conflict,
    /// The input is wrong: a bad name, port 0, a prefix over 32, a mapping of another owner (400).
    InvalidArgument,
    /// Anything else: `nft` missing or failing, unreadable `nft -j` output (500).
    Internal,
}

/// An error of this crate: [`ErrorKind`] plus a message saying what failed where.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// How the engine should report it.
    pub kind: ErrorKind,
    /// For the user, as-is (it already contains nft's stderr or the source's text).
    pub message: String,
    /// The underlying I/O error, when there is one.
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
    /// An I/O failure: `message: source`, of [`ErrorKind::NotFound`] when the source is
    /// ENOENT and [`ErrorKind::Internal`] otherwise.
    pub fn io(message: impl fmt::Display, source: io::Error) -> Self {
        let kind = if source.kind() == io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::Internal
        };
        Error {
            kind,
            message: format!("{message}: {source}"),
            source: Some(source),
        }
    }
}
