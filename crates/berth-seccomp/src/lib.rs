//! berth-seccomp (placeholder, being written).

/// Errors of the seccomp compiler.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Placeholder.
    #[error("{0}")]
    Other(String),
}
