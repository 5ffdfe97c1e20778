//! berth-cgroups: one container's cgroup across cgroup v1, v2 and hybrid layouts.
//!
//! Main types:
//! - [`Layout`]: which cgroup filesystems the host mounts, detected from
//!   `/proc/self/mountinfo` (no hard-coded paths).
//! - [`Cgroup`]: the directories of one container in every hierarchy, with the
//!   lifecycle `open` (no filesystem change) → [`Cgroup::validate`] → `create` → `apply` →
//!   `add_process` → (`freeze`/`thaw`/`stats`/`apply` again on update) → `kill_all` →
//!   `destroy`.
//! - [`Hierarchy`]: what the runtime needs to mount `/sys/fs/cgroup` inside a container.
//! - [`Stats`]: runc's `events --stats` JSON shape.
//!
//! Each resource goes to the hierarchy that carries its controller: on a hybrid host a
//! controller mounted as v1 is driven through v1 files, one only present in the v2
//! hierarchy (hugetlb on berth's machines) through v2 files, and the `unified` map is
//! written into the v2 hierarchy. Devices use `devices.allow`/`devices.deny` under v1 and an
//! eBPF program attached to the cgroup directory under v2.
//!
//! Invariants: `apply` writes only what the [`Resources`](berth_spec::Resources) set;
//! a requested limit whose controller or file is missing is an error naming the field, never
//! silently dropped (except kernel memory, which new kernels dropped and runc ignores);
//! `destroy` removes only the container's own directory (and sub-cgroups below it).

mod cgroup;
mod convert;
mod devices;
mod devices_bpf;
#[cfg(test)]
mod fixture_tests;
mod fsutil;
mod mountinfo;
mod stats;
mod v1;
mod v2;
mod validate;

pub use cgroup::{Cgroup, Hierarchy};
pub use devices::{DeviceException, DeviceRules, DeviceType};
pub use devices_bpf::device_filter_program;
pub use mountinfo::Layout;
pub use stats::{
    BlkioEntry, BlkioStats, CpuStats, CpuUsage, HugetlbStats, MemoryEntry, MemoryStats, PidsStats,
    Stats, Throttling,
};

use std::path::PathBuf;

/// Errors of the cgroup manager. Each names the field, file or object it is about.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A resource value that can never be applied (checked before anything is created).
    #[error("invalid linux.resources.{field}: {reason}")]
    Invalid {
        /// Dotted path of the field in `linux.resources`, e.g. `memory.swap`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A requested setting whose controller or file this host does not have.
    #[error("linux.resources.{field} is not supported here: {reason}")]
    Unsupported {
        /// Dotted path of the field in `linux.resources`.
        field: String,
        /// Why, with the path that is missing.
        reason: String,
    },
    /// A file or directory operation on cgroupfs failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was done, e.g. `write "max" to`.
        op: String,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A kernel file did not have the expected format.
    #[error("cannot parse {what} in {}: {text:?}", path.display())]
    Parse {
        /// What was expected.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The offending text.
        text: String,
    },
    /// A wait (freeze, thaw, removal) did not finish in time.
    #[error("{what} did not finish within {millis} ms")]
    Timeout {
        /// What was waited for, naming the cgroup.
        what: String,
        /// How long.
        millis: u64,
    },
    /// Loading or attaching the v2 device filter failed.
    #[error("device filter for {}: {source}", path.display())]
    Bpf {
        /// The cgroup directory.
        path: PathBuf,
        /// The bpf(2) failure.
        #[source]
        source: berth_sys::bpf::BpfError,
    },
    /// Anything else (bad cgroups path, no cgroup filesystem mounted, …).
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// True when the error is an OS error with this errno.
    pub fn is_errno(&self, errno: i32) -> bool {
        match self {
            Error::Io { source, .. } => source.raw_os_error() == Some(errno),
            _ => false,
        }
    }
}

/// Result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
