//! The state a runtime reports (`runtime.md#state`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Lifecycle status.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The container is being created.
    Creating,
    /// Created; the user process waits for `start`.
    Created,
    /// The user process runs.
    Running,
    /// The container is frozen.
    Paused,
    /// The user process has exited.
    Stopped,
}

impl Status {
    /// The lowercase name used in state JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// The state JSON printed by `state` and given to hooks on stdin.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// Spec version.
    pub oci_version: String,
    /// Container ID.
    pub id: String,
    /// Lifecycle status.
    pub status: Status,
    /// PID of the container process on the host; 0 once stopped.
    #[serde(default)]
    pub pid: i32,
    /// Absolute path of the bundle.
    pub bundle: String,
    /// The config's annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}
