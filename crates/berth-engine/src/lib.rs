//! The container engine: containers, execs, logs, volumes and events as objects with state
//! on disk, each running container owned by a `berth-shim` process (see `docs/engine.md`).
//!
//! [`Engine`] implements [`berth_model::Engine`]; `berthd` opens one with [`Config`] and
//! hands it to `berth-api`.

use std::path::PathBuf;
use std::sync::Arc;

/// Where the engine keeps its state and which programs it runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Persistent state (`--data-root`, default `/var/lib/berth`).
    pub data_root: PathBuf,
    /// Runtime state lost at reboot (`--exec-root`, default `/run/berth`).
    pub exec_root: PathBuf,
    /// The OCI runtime binary (`berth-runtime`).
    pub runtime: PathBuf,
    /// The shim binary (`berth-shim`).
    pub shim: PathBuf,
    /// The static init binary bind-mounted for `--init` (`berth-init`).
    pub init: PathBuf,
    /// `--storage-driver`: `overlay2` (default) or `vfs` (copy-based).
    pub storage_driver: Option<String>,
    /// `--default-ulimit name=soft:hard`, already parsed.
    pub default_ulimits: Vec<berth_model::docker::ResourcesUlimits>,
    /// `--insecure-registry` (used by the registry client, reported by `info`).
    pub insecure_registries: Vec<String>,
    /// The addresses berthd listens on (reported by `info`).
    pub hosts: Vec<String>,
}

/// The engine. Cheap to share: clone the `Arc`.
#[derive(Debug)]
pub struct Engine {
    config: Config,
}

impl Engine {
    /// Opens (creating if needed) the data and exec roots, reconnects to the shims of
    /// containers that kept running, and records the exits of those that ended meanwhile.
    pub async fn open(config: Config) -> Result<Arc<Engine>, berth_model::Error> {
        Ok(Arc::new(Engine { config }))
    }

    /// The configuration the engine was opened with.
    pub fn config(&self) -> &Config {
        &self.config
    }
}
