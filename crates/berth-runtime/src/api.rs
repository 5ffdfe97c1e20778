//! The operations of the runtime, one method each (the CLI maps subcommands onto these).

use berth_spec::{Process, Status};
use std::path::PathBuf;

/// A runtime rooted at a state directory (`--root`).
#[derive(Debug, Clone)]
pub struct Runtime {
    /// Directory holding one subdirectory of state per container.
    pub root: PathBuf,
    /// Use systemd for cgroups (not supported: an error says so).
    pub systemd_cgroup: bool,
}

/// Options of `create` and `run`.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The bundle directory (holds config.json).
    pub bundle: PathBuf,
    /// Where to write the init's host PID.
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when `process.terminal` is true.
    pub console_socket: Option<PathBuf>,
    /// Pass file descriptors 3..3+N to the container process.
    pub preserve_fds: u32,
    /// Use chroot instead of pivot_root (for ramfs roots).
    pub no_pivot: bool,
    /// Do not create a new session keyring.
    pub no_new_keyring: bool,
    /// `run` only: keep the stopped container instead of deleting it.
    pub keep: bool,
}

/// Options of `exec`.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// The process to run (from `--process` or the command line).
    pub process: Process,
    /// Return once the process started instead of waiting for it.
    pub detach: bool,
    /// Where to write the process's host PID.
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when `process.terminal` is true.
    pub console_socket: Option<PathBuf>,
    /// Pass file descriptors 3..3+N to the process.
    pub preserve_fds: u32,
    /// Sub-cgroup to run the process in (cgroup v2), relative to the container's.
    pub cgroup: Option<String>,
    /// Exec even into a paused container (the process runs once it is resumed).
    pub ignore_paused: bool,
}

/// One row of `list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContainerInfo {
    /// Container ID.
    pub id: String,
    /// Host PID of the init, 0 when stopped.
    pub pid: i32,
    /// Status.
    pub status: Status,
    /// Bundle directory.
    pub bundle: String,
    /// Root filesystem directory (absolute).
    pub rootfs: String,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Owner (user name or uid of the state directory).
    pub owner: String,
    /// The config's annotations.
    pub annotations: std::collections::BTreeMap<String, String>,
}

impl Runtime {
    /// A runtime whose state lives under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Runtime {
        Runtime {
            root: root.into(),
            systemd_cgroup: false,
        }
    }

    /// The config's seccomp filter, compiled in the runtime process before any fork so
    /// that the program cached under the root (`@seccomp-cache`, a name no container ID
    /// can take) is reachable; see `berth_seccomp::compile_cached` for why it is cached.
    pub(crate) fn seccomp(
        &self,
        spec: &berth_spec::Spec,
    ) -> crate::Result<Option<berth_seccomp::Filter>> {
        let Some(s) = spec.linux.as_ref().and_then(|l| l.seccomp.as_ref()) else {
            return Ok(None);
        };
        Ok(Some(berth_seccomp::compile_cached(
            s,
            &self.root.join("@seccomp-cache"),
        )?))
    }
}
