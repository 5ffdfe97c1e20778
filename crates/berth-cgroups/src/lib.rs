//! berth-cgroups (placeholder, being written).

/// Errors of the cgroup manager.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Placeholder.
    #[error("{0}")]
    Other(String),
}

/// Statistics of a cgroup.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {}
