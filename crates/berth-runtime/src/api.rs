//! The operations of the runtime, one method each (the CLI maps subcommands onto these).

use crate::{Error, Result};
use berth_spec::{features::Features, Process, Resources, Spec, State, Status};
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
    /// Creation time, RFC 3339.
    pub created: String,
    /// Owner (user name or uid of the state directory).
    pub owner: String,
    /// The config's annotations.
    pub annotations: std::collections::BTreeMap<String, String>,
}

fn todo(op: &str) -> Error {
    Error::Unsupported(format!("{op} is not implemented yet"))
}

impl Runtime {
    /// A runtime whose state lives under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Runtime {
        Runtime { root: root.into(), systemd_cgroup: false }
    }

    /// Creates the container; its process waits for [`Runtime::start`].
    pub fn create(&self, _id: &str, _opts: &CreateOptions) -> Result<()> {
        Err(todo("create"))
    }

    /// Starts the user process of a created container.
    pub fn start(&self, _id: &str) -> Result<()> {
        Err(todo("start"))
    }

    /// create + start; unless `detach`, waits and returns the exit status, then deletes.
    pub fn run(&self, _id: &str, _opts: &CreateOptions, _detach: bool) -> Result<i32> {
        Err(todo("run"))
    }

    /// The container's state.
    pub fn state(&self, _id: &str) -> Result<State> {
        Err(todo("state"))
    }

    /// Sends `signal` to the init, or to every process of the container when `all`.
    pub fn kill(&self, _id: &str, _signal: i32, _all: bool) -> Result<()> {
        Err(todo("kill"))
    }

    /// Deletes a stopped container (any container with `force`).
    pub fn delete(&self, _id: &str, _force: bool) -> Result<()> {
        Err(todo("delete"))
    }

    /// Runs another process in the container; unless detached returns its exit status.
    pub fn exec(&self, _id: &str, _opts: &ExecOptions) -> Result<i32> {
        Err(todo("exec"))
    }

    /// Every container under the root.
    pub fn list(&self) -> Result<Vec<ContainerInfo>> {
        Err(todo("list"))
    }

    /// Host PIDs of the container's processes.
    pub fn ps(&self, _id: &str) -> Result<Vec<i32>> {
        Err(todo("ps"))
    }

    /// Freezes every process of the container.
    pub fn pause(&self, _id: &str) -> Result<()> {
        Err(todo("pause"))
    }

    /// Thaws a paused container.
    pub fn resume(&self, _id: &str) -> Result<()> {
        Err(todo("resume"))
    }

    /// Changes the resources of a created, running or paused container.
    pub fn update(&self, _id: &str, _resources: &Resources) -> Result<()> {
        Err(todo("update"))
    }

    /// cgroup statistics of the container.
    pub fn stats(&self, _id: &str) -> Result<berth_cgroups::Stats> {
        Err(todo("stats"))
    }

    /// The container's stored config (as created, with updates applied).
    pub fn config(&self, _id: &str) -> Result<Spec> {
        Err(todo("config"))
    }
}

/// The default `config.json` that `spec` writes (busybox `sh`, runc's defaults).
pub fn default_spec(_rootless: bool) -> Spec {
    Spec::default()
}

/// What this runtime supports (`features`).
pub fn features() -> Features {
    Features::default()
}
