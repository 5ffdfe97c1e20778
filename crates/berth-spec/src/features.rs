//! The features document (`features.md`) that `berth-runtime features` prints.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a runtime supports.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Features {
    /// Oldest spec version supported.
    pub oci_version_min: String,
    /// Newest spec version supported.
    pub oci_version_max: String,
    /// Hook names supported.
    pub hooks: Vec<String>,
    /// Mount options understood.
    pub mount_options: Vec<String>,
    /// Linux features.
    pub linux: LinuxFeatures,
    /// Implementation-specific annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Keys of `process.env` and annotations that are never allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub potentially_unsafe_config_annotations: Vec<String>,
}

/// Linux part of the features document.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LinuxFeatures {
    /// Namespace types.
    pub namespaces: Vec<String>,
    /// Capability names.
    pub capabilities: Vec<String>,
    /// cgroup support.
    pub cgroup: CgroupFeatures,
    /// Seccomp support.
    pub seccomp: SeccompFeatures,
    /// AppArmor support.
    pub apparmor: Enabled,
    /// SELinux support.
    pub selinux: Enabled,
    /// Intel RDT support.
    pub intel_rdt: Enabled,
    /// ID-mapped mounts.
    pub mount_extensions: MountExtensions,
}

/// `{"enabled": bool}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Enabled {
    /// Whether the feature is supported.
    pub enabled: bool,
}

/// cgroup features.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CgroupFeatures {
    /// cgroup v1.
    pub v1: bool,
    /// cgroup v2.
    pub v2: bool,
    /// The systemd driver.
    pub systemd: bool,
    /// The systemd user driver.
    #[serde(rename = "systemdUser")]
    pub systemd_user: bool,
    /// Intel RDT (resctrl).
    pub rdma: bool,
}

/// Seccomp features.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SeccompFeatures {
    /// Whether seccomp is supported.
    pub enabled: bool,
    /// `SCMP_ACT_*` names.
    pub actions: Vec<String>,
    /// `SCMP_CMP_*` names.
    pub operators: Vec<String>,
    /// `SCMP_ARCH_*` names.
    pub archs: Vec<String>,
    /// Known flags.
    pub known_flags: Vec<String>,
    /// Flags this build supports.
    pub supported_flags: Vec<String>,
}

/// Mount extensions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MountExtensions {
    /// ID-mapped mounts.
    pub idmap: Enabled,
}
