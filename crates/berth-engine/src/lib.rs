//! The container engine: containers, execs, logs, volumes and events as objects with state
//! on disk, each running container owned by a `berth-shim` process (see `docs/engine.md`).
//!
//! [`Engine`] implements [`berth_model::Engine`]; `berthd` opens one with [`Config`] and
//! hands it to `berth-api`.
//!
//! Invariants:
//! - A container record on disk is the truth; memory is a cache rebuilt by [`Engine::open`].
//! - Lifecycle operations on one container are serialised by its `op` lock; state changes
//!   go through `Container::update`, which persists before waking waiters.
//! - A running container is owned by its shim, never by this process: berthd can die at
//!   any moment and the next start finds the shims again (or their exit records).

mod api;
pub mod container;
pub mod events;
mod exec;
mod fsops;
mod images;
mod io;
mod lifecycle;
pub mod logs;
pub mod names;
pub mod network;
mod objects;
pub mod shim;
mod spec;
mod stats;
mod system;
pub mod util;
pub mod volumes;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock, Weak};

use berth_model::Error;

use crate::container::Container;
use crate::events::EventBus;
use crate::exec::ExecRecord;
use crate::names::NameIndex;
use crate::volumes::Volumes;

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
    /// The default `bridge` network exists (false: dockerd's `--bridge none`).
    pub bridge: bool,
}

/// The engine. Cheap to share: clone the `Arc`.
#[derive(Debug)]
pub struct Engine {
    config: Config,
    me: Weak<Engine>,
    containers: RwLock<HashMap<String, Arc<Container>>>,
    names: Mutex<NameIndex>,
    events: EventBus,
    volumes: Volumes,
    images: images::Images,
    execs: Mutex<HashMap<String, Arc<ExecRecord>>>,
    /// Wall-clock time the engine opened (the built-in networks' `Created`).
    started_at: std::time::SystemTime,
    networks: network::Networks,
}

impl Engine {
    /// Opens (creating if needed) the data and exec roots, reconnects to the shims of
    /// containers that kept running, and records the exits of those that ended meanwhile.
    pub async fn open(config: Config) -> Result<Arc<Engine>, Error> {
        for dir in [
            config.data_root.join("containers"),
            config.exec_root.join("containers"),
            config.exec_root.join("runtime"),
        ] {
            std::fs::create_dir_all(&dir)
                .map_err(util::io_err(format!("creating {}", dir.display())))?;
        }
        let volumes = Volumes::open(config.data_root.join("volumes"))?;
        let images = {
            let root = config.data_root.join("image");
            let driver = config.storage_driver.clone();
            tokio::task::spawn_blocking(move || images::Images::open(root, driver))
                .await
                .map_err(|e| Error::internal(e.to_string()))??
        };
        let networks = {
            let (data, exec, bridge) = (
                config.data_root.clone(),
                config.exec_root.clone(),
                config.bridge,
            );
            tokio::task::spawn_blocking(move || network::Networks::open(&data, &exec, bridge))
                .await
                .map_err(|e| Error::internal(e.to_string()))??
        };
        let engine = Arc::new_cyclic(|me| Engine {
            config,
            me: me.clone(),
            containers: RwLock::new(HashMap::new()),
            names: Mutex::new(NameIndex::default()),
            events: EventBus::default(),
            volumes,
            images,
            execs: Mutex::new(HashMap::new()),
            started_at: std::time::SystemTime::now(),
            networks,
        });
        engine.recover().await?;
        engine.reconcile_networks().await?;
        Ok(engine)
    }

    /// The configuration the engine was opened with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn arc(&self) -> Option<Arc<Engine>> {
        self.me.upgrade()
    }

    /// The data directory of a container.
    fn container_dir(&self, id: &str) -> PathBuf {
        self.config.data_root.join("containers").join(id)
    }

    /// The exec-root directory of a container (bundle, shim socket, exit file).
    fn run_dir(&self, id: &str) -> PathBuf {
        self.config.exec_root.join("containers").join(id)
    }

    /// Resolves what the user typed: full ID, name (with or without `/`), unique ID prefix.
    fn container(&self, reference: &str) -> Result<Arc<Container>, Error> {
        let missing = || Error::not_found(format!("No such container: {reference}"));
        if reference.is_empty() {
            return Err(missing());
        }
        let map = self.containers.read().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(reference) {
            return Ok(c.clone());
        }
        let bare = reference.strip_prefix('/').unwrap_or(reference);
        if let Some(id) = self
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(bare)
        {
            if let Some(c) = map.get(id) {
                return Ok(c.clone());
            }
        }
        let mut found = map.iter().filter(|(id, _)| id.starts_with(reference));
        match (found.next(), found.next()) {
            (Some((_, c)), None) => Ok(c.clone()),
            (Some(_), Some(_)) => Err(Error::not_found(format!(
                "No such container: {reference} (the ID prefix is ambiguous)"
            ))),
            _ => Err(missing()),
        }
    }

    fn all_containers(&self) -> Vec<Arc<Container>> {
        self.containers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn container_event(&self, c: &container::Record, action: &str, extra: &[(&str, String)]) {
        let mut attrs: HashMap<String, String> = c.config.labels.clone().unwrap_or_default();
        attrs.insert("name".into(), c.name.clone());
        attrs.insert("image".into(), c.image_ref.clone());
        for (k, v) in extra {
            attrs.insert((*k).to_string(), v.clone());
        }
        self.events.publish(
            berth_model::docker::EventMessageTypeEnum::CONTAINER,
            action,
            &c.id,
            attrs,
        );
    }
}
