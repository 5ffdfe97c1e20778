//! The crate's error: a kind the engine maps to an HTTP status, and one message.

use std::fmt;
use std::io;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The image, reference, layer or path does not exist (404).
    NotFound,
    /// The object is in a state that forbids the operation: image in use, several tags (409).
    Conflict,
    /// The input is wrong: malformed reference, archive, manifest, instruction (400).
    InvalidArgument,
    /// Anything else: I/O on the store, a failed mount (500).
    Internal,
}

/// An error of this crate: [`ErrorKind`] plus a message saying what failed where.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// How the engine should report it.
    pub kind: ErrorKind,
    /// For the user, as-is.
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
    /// An I/O failure while doing `what` (`"write blob …"`): Internal, keeping the source.
    pub fn io(what: impl fmt::Display, err: io::Error) -> Self {
        Error {
            kind: ErrorKind::Internal,
            message: format!("{what}: {err}"),
            source: Some(err),
        }
    }
    /// Like [`Error::io`] but the input is at fault (a truncated or corrupt archive).
    pub fn bad_input(what: impl fmt::Display, err: io::Error) -> Self {
        Error {
            kind: ErrorKind::InvalidArgument,
            message: format!("{what}: {err}"),
            source: Some(err),
        }
    }
}

/// Adds context to `io::Result`s (and rustix's errno results).
pub(crate) trait IoContext<T> {
    /// On error: [`Error::io`] with `what()` as the context.
    fn ctx<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| Error::io(what(), e))
    }
}

impl<T> IoContext<T> for rustix::io::Result<T> {
    fn ctx<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| Error::io(what(), e.into()))
    }
}
