//! OCI runtime-spec 1.2 data types for berth.
//!
//! This crate is only data: the `config.json` of a bundle ([`Spec`]), the state a runtime
//! reports ([`State`]) and the features document ([`features::Features`]), as serde types
//! whose JSON field names follow the specification
//! (<https://github.com/opencontainers/runtime-spec/blob/v1.2.0/config.md>).
//!
//! Unknown fields are ignored so that configs written for newer spec versions still load;
//! fields berth does not act on are kept so that they round-trip. [`Spec::load`] turns a
//! malformed file into one [`SpecError`] that names the file, line and column.
//!
//! Beside the types, data that every producer of specs shares: [`caps`] (capability names
//! ↔ numbers) and [`defaults`] (runc's default config, and its pieces that Docker-style
//! configs use too: masked and read-only paths, the standard mounts).
//!
//! Invariant: nothing here touches the system; validation that needs the kernel (does this
//! capability exist, is this path inside the root) belongs to `berth-runtime`.

pub mod caps;
pub mod defaults;
pub mod features;
mod linux;
mod state;

pub use linux::*;
pub use state::{State, Status};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The version of the runtime specification this crate implements.
pub const OCI_VERSION: &str = "1.2.0";

/// Errors from loading a bundle's configuration.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file that was read.
        path: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("invalid {path}: {message} at line {line} column {column}")]
    Parse {
        /// The file that was parsed.
        path: String,
        /// What serde found wrong.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
}

/// A bundle's `config.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    /// The spec version the bundle was written for.
    #[serde(default)]
    pub oci_version: String,
    /// The container's root filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<Root>,
    /// Mounts, applied in order after the root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    /// The container process; optional for `create` only in theory, required by berth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
    /// The container's hostname (needs a UTS namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The container's NIS domain name (needs a UTS namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    /// Lifecycle hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<Hooks>,
    /// Arbitrary metadata, reported in the state.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Linux-specific configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linux: Option<Linux>,
}

impl Spec {
    /// Reads and parses `path`, naming the file and position of the first error.
    pub fn load(path: &Path) -> Result<Spec, SpecError> {
        let data = std::fs::read(path).map_err(|source| SpecError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_slice(&data, &path.display().to_string())
    }

    /// Parses a configuration; `origin` names it in errors.
    pub fn from_slice(data: &[u8], origin: &str) -> Result<Spec, SpecError> {
        serde_json::from_slice(data).map_err(|e| SpecError::Parse {
            path: origin.to_string(),
            message: strip_position(&e),
            line: e.line(),
            column: e.column(),
        })
    }
}

/// serde_json appends " at line L column C" to its messages; we report those separately.
pub(crate) fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The root filesystem.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Root {
    /// Path to the root, absolute or relative to the bundle.
    pub path: String,
    /// Whether the root is mounted read-only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub readonly: bool,
}

/// One mount.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Mount {
    /// Where in the container the mount goes.
    pub destination: String,
    /// The filesystem type (`proc`, `tmpfs`, `bind`, …); `None` for a bind mount by option.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// The device or directory to mount; relative paths are relative to the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// fstab-style options (`ro`, `nosuid`, `rbind`, `rprivate`, `size=64k`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// ID-mapped mount: user ID mappings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uid_mappings: Vec<IdMapping>,
    /// ID-mapped mount: group ID mappings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gid_mappings: Vec<IdMapping>,
}

/// The container's process.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    /// Whether a pseudo-terminal is attached to the process.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub terminal: bool,
    /// Console size, when a terminal is attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<ConsoleSize>,
    /// User and groups the process runs as.
    #[serde(default)]
    pub user: User,
    /// The command; `args[0]` is looked up in `PATH` from `env` when it has no slash.
    #[serde(default)]
    pub args: Vec<String>,
    /// Windows-only; accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
    /// `KEY=value` environment entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Working directory, absolute, inside the container.
    #[serde(default = "default_cwd")]
    pub cwd: String,
    /// Capability sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    /// Resource limits (setrlimit).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rlimits: Vec<Rlimit>,
    /// Sets `PR_SET_NO_NEW_PRIVS`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_new_privileges: bool,
    /// AppArmor profile name (this host has no AppArmor; only an empty value is honoured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apparmor_profile: Option<String>,
    /// `/proc/self/oom_score_adj`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    /// SELinux label for the process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selinux_label: Option<String>,
    /// I/O priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_priority: Option<IoPriority>,
    /// Scheduler policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<Scheduler>,
    /// CPU affinity for exec'd processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_cpu_affinity: Option<ExecCpuAffinity>,
}

fn default_cwd() -> String {
    "/".to_string()
}

/// Console dimensions.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct ConsoleSize {
    /// Rows.
    pub height: u16,
    /// Columns.
    pub width: u16,
}

/// The identity of the container process.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// User ID in the container's user namespace.
    #[serde(default)]
    pub uid: u32,
    /// Group ID in the container's user namespace.
    #[serde(default)]
    pub gid: u32,
    /// File mode creation mask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub umask: Option<u32>,
    /// Supplementary groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_gids: Vec<u32>,
    /// Windows-only; ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// The five capability sets, as `CAP_*` names.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Capabilities {
    /// Bounding set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounding: Option<Vec<String>>,
    /// Effective set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective: Option<Vec<String>>,
    /// Inheritable set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inheritable: Option<Vec<String>>,
    /// Permitted set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permitted: Option<Vec<String>>,
    /// Ambient set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ambient: Option<Vec<String>>,
}

/// One resource limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Rlimit {
    /// `RLIMIT_*` name.
    #[serde(rename = "type")]
    pub typ: String,
    /// Hard limit.
    pub hard: u64,
    /// Soft limit.
    pub soft: u64,
}

/// I/O priority (ioprio_set).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct IoPriority {
    /// `IOPRIO_CLASS_RT`, `IOPRIO_CLASS_BE` or `IOPRIO_CLASS_IDLE`.
    pub class: String,
    /// Priority within the class, 0–7.
    #[serde(default)]
    pub priority: i32,
}

/// Scheduling policy (sched_setattr).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Scheduler {
    /// `SCHED_OTHER`, `SCHED_FIFO`, …
    pub policy: String,
    /// Nice value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nice: Option<i32>,
    /// Static priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// `SCHED_FLAG_*` names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// SCHED_DEADLINE runtime (ns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<u64>,
    /// SCHED_DEADLINE deadline (ns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<u64>,
    /// SCHED_DEADLINE period (ns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
}

/// CPU affinity of exec'd processes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ExecCpuAffinity {
    /// Affinity while the runtime sets the process up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial: Option<String>,
    /// Affinity of the final process.
    #[serde(default, rename = "final", skip_serializing_if = "Option::is_none")]
    pub final_: Option<String>,
}

/// Lifecycle hooks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Hooks {
    /// Deprecated alias run with createRuntime.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prestart: Vec<Hook>,
    /// After namespaces exist, in the runtime namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_runtime: Vec<Hook>,
    /// After createRuntime, in the container namespace, before pivot_root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_container: Vec<Hook>,
    /// At start, in the container namespace, before the user process runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub start_container: Vec<Hook>,
    /// After the user process started, in the runtime namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poststart: Vec<Hook>,
    /// After the container is deleted, in the runtime namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poststop: Vec<Hook>,
}

/// One hook.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Hook {
    /// Absolute path of the program.
    pub path: String,
    /// argv, including argv[0].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Seconds before the hook is killed and counted as failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_error_names_position() {
        let err = Spec::from_slice(b"{\n  \"process\": {\"args\": 3}\n}", "config.json")
            .expect_err("must fail");
        let msg = err.to_string();
        assert!(msg.contains("config.json"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
    }

    #[test]
    fn unknown_fields_are_ignored_and_defaults_apply() {
        let spec = Spec::from_slice(
            br#"{"ociVersion":"1.2.0","future":1,"process":{"args":["sh"]}}"#,
            "c",
        )
        .expect("parses");
        let p = spec.process.expect("process");
        assert_eq!(p.cwd, "/");
        assert_eq!(p.args, vec!["sh"]);
    }
}
