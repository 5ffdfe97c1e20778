//! System endpoints: version, info, disk usage, events, and the built-in networks.

use std::collections::HashMap;

use berth_model::docker::{self, SystemInfoCgroupDriverEnum, SystemInfoCgroupVersionEnum};
use berth_model::{BoxStream, Error, EventsOptions, Filters};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::{events, objects, util, Engine};

/// berth's version, reported where Docker reports its own.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The architecture as Go (and so every Docker client) names it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

fn kernel() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".into())
}

fn cgroup_version() -> SystemInfoCgroupVersionEnum {
    // Pure v2 when the root of /sys/fs/cgroup is a cgroup2 mount.
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        SystemInfoCgroupVersionEnum::_2
    } else {
        SystemInfoCgroupVersionEnum::_1
    }
}

impl Engine {
    pub(crate) fn version_info(&self) -> docker::SystemVersion {
        let details = HashMap::from([
            ("ApiVersion".to_string(), "1.47".to_string()),
            ("MinAPIVersion".to_string(), "1.24".to_string()),
            ("Os".to_string(), "linux".to_string()),
            ("Arch".to_string(), go_arch().to_string()),
            ("GoVersion".to_string(), String::new()),
            ("GitCommit".to_string(), String::new()),
            ("BuildTime".to_string(), String::new()),
            ("Experimental".to_string(), "false".to_string()),
            ("KernelVersion".to_string(), kernel()),
        ]);
        docker::SystemVersion {
            platform: Some(docker::SystemVersionPlatform {
                name: "berth".into(),
            }),
            components: Some(vec![
                docker::SystemVersionComponents {
                    name: "Engine".into(),
                    version: VERSION.into(),
                    details: Some(details),
                },
                docker::SystemVersionComponents {
                    name: "berth-runtime".into(),
                    version: VERSION.into(),
                    details: Some(HashMap::from([("GitCommit".to_string(), String::new())])),
                },
            ]),
            version: Some(VERSION.into()),
            api_version: Some("1.47".into()),
            min_api_version: Some("1.24".into()),
            git_commit: Some(String::new()),
            go_version: Some(format!("rust (berth {VERSION})")),
            os: Some("linux".into()),
            arch: Some(go_arch().into()),
            kernel_version: Some(kernel()),
            experimental: Some(false),
            build_time: Some(String::new()),
        }
    }

    pub(crate) async fn system_info(&self) -> docker::SystemInfo {
        let recs: Vec<_> = self.all_containers().iter().map(|c| c.snapshot()).collect();
        let running = recs.iter().filter(|r| r.state.status == "running").count() as i64;
        let paused = recs.iter().filter(|r| r.state.status == "paused").count() as i64;
        let images = self.images.count().await;
        let mut runtimes = HashMap::new();
        runtimes.insert(
            "berth-runtime".to_string(),
            docker::Runtime {
                path: Some(self.config.runtime.display().to_string()),
                ..Default::default()
            },
        );
        let mut security = crate::spec::security_options();
        if cgroup_version() == SystemInfoCgroupVersionEnum::_2 {
            security.push("name=cgroupns".into());
        }
        let uts = rustix::system::uname();
        docker::SystemInfo {
            id: Some(self.daemon_id()),
            containers: Some(recs.len() as i64),
            containers_running: Some(running),
            containers_paused: Some(paused),
            containers_stopped: Some(recs.len() as i64 - running - paused),
            images: Some(images),
            driver: Some(self.images.driver_name()),
            driver_status: Some(vec![
                vec!["Backing Filesystem".into(), "extfs".into()],
                vec!["Supports d_type".into(), "true".into()],
            ]),
            docker_root_dir: Some(self.config.data_root.display().to_string()),
            plugins: Some(docker::PluginsInfo {
                volume: Some(vec!["local".into()]),
                network: Some(vec!["host".into(), "null".into()]),
                authorization: None,
                log: Some(vec!["json-file".into()]),
            }),
            memory_limit: Some(true),
            swap_limit: Some(true),
            cpu_cfs_period: Some(true),
            cpu_cfs_quota: Some(true),
            cpu_shares: Some(true),
            cpu_set: Some(true),
            pids_limit: Some(true),
            oom_kill_disable: Some(cgroup_version() == SystemInfoCgroupVersionEnum::_1),
            ipv4_forwarding: Some(true),
            debug: Some(false),
            nfd: Some(
                std::fs::read_dir("/proc/self/fd")
                    .map(|d| d.count() as i64)
                    .unwrap_or(0),
            ),
            n_goroutines: Some(0),
            system_time: Some(util::now_rfc3339()),
            logging_driver: Some("json-file".into()),
            cgroup_driver: Some(SystemInfoCgroupDriverEnum::CGROUPFS),
            cgroup_version: Some(cgroup_version()),
            n_events_listener: Some(0),
            kernel_version: Some(kernel()),
            operating_system: Some(os_name()),
            os_version: Some(String::new()),
            os_type: Some("linux".into()),
            architecture: Some(uts.machine().to_string_lossy().into_owned()),
            ncpu: Some(
                std::thread::available_parallelism()
                    .map(|n| n.get() as i64)
                    .unwrap_or(1),
            ),
            mem_total: Some(mem_total()),
            index_server_address: Some("https://index.docker.io/v1/".into()),
            registry_config: Some(docker::RegistryServiceConfig {
                insecure_registry_cidrs: Some(vec!["127.0.0.0/8".into()]),
                index_configs: Some(HashMap::new()),
                mirrors: Some(Vec::new()),
            }),
            name: Some(uts.nodename().to_string_lossy().into_owned()),
            labels: Some(Vec::new()),
            experimental_build: Some(false),
            server_version: Some(VERSION.into()),
            runtimes: Some(runtimes),
            default_runtime: Some("berth-runtime".into()),
            swarm: Some(docker::SwarmInfo {
                local_node_state: Some(docker::LocalNodeState::INACTIVE),
                node_id: Some(String::new()),
                node_addr: Some(String::new()),
                control_available: Some(false),
                error: Some(String::new()),
                ..Default::default()
            }),
            live_restore_enabled: Some(true),
            isolation: None,
            init_binary: Some("berth-init".into()),
            containerd_commit: None,
            runc_commit: None,
            init_commit: None,
            security_options: Some(security),
            warnings: Some(Vec::new()),
            ..Default::default()
        }
    }

    fn daemon_id(&self) -> String {
        let path = self.config.data_root.join("engine-id");
        if let Ok(id) = std::fs::read_to_string(&path) {
            return id.trim().to_string();
        }
        let id = util::new_id().unwrap_or_default();
        let _ = util::write_atomic(&path, id.as_bytes());
        id
    }

    pub(crate) async fn df(&self) -> Result<serde_json::Value, Error> {
        let images = self
            .images
            .df_images(
                &self
                    .all_containers()
                    .iter()
                    .map(|c| c.snapshot().image_id)
                    .collect::<Vec<_>>(),
            )
            .await?;
        let mut containers = Vec::new();
        for c in self.all_containers() {
            let r = c.snapshot();
            let (rw, root) = self
                .images
                .sizes(&r.image_id, &self.container_dir(&r.id))
                .await;
            containers.push(serde_json::json!({
                "Id": r.id, "Names": [format!("/{}", r.name)], "Image": r.image_ref, "ImageID": r.image_id,
                "Command": crate::container::command_line(&r), "Created": util::parse_rfc3339(&r.created).map(|t| t as i64),
                "Ports": [], "SizeRw": rw, "SizeRootFs": root, "Labels": crate::container::labels(&r),
                "State": r.state.status, "Status": crate::container::status_text(&r.state, util::unix_now()),
                "HostConfig": {"NetworkMode": r.host_config.network_mode.clone().unwrap_or_else(|| "default".into())},
                "NetworkSettings": {"Networks": {}}, "Mounts": r.mounts,
            }));
        }
        let mut volumes = Vec::new();
        for v in self.volumes.list() {
            let refs = self.volume_users(&v.name).len();
            let size = self.volumes.size(&v.name);
            let mut j = serde_json::to_value(&v).unwrap_or_default();
            j["UsageData"] = serde_json::json!({"Size": size, "RefCount": refs});
            volumes.push(j);
        }
        let layers: i64 = images
            .iter()
            .filter_map(|i| i.get("Size").and_then(|s| s.as_i64()))
            .sum();
        Ok(serde_json::json!({
            "LayersSize": layers,
            "Images": images,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": [],
        }))
    }

    pub(crate) async fn events_stream(
        &self,
        opts: EventsOptions,
    ) -> Result<BoxStream<docker::EventMessage>, Error> {
        let (past, mut live) = self.events.subscribe(opts.since);
        let (tx, rx) = mpsc::channel(256);
        let filters = opts.filters.clone();
        let until = opts.until;
        tokio::spawn(async move {
            for e in past {
                if until.is_some_and(|u| events::event_time(&e) > u) {
                    return;
                }
                if events::matches(&e, &filters) && tx.send(e).await.is_err() {
                    return;
                }
            }
            loop {
                let deadline = until.map(|u| {
                    let wait = (u - util::unix_now()).max(0.0);
                    tokio::time::Instant::now() + std::time::Duration::from_secs_f64(wait)
                });
                let next = async {
                    match deadline {
                        Some(d) => tokio::time::timeout_at(d, live.recv()).await.ok(),
                        None => Some(live.recv().await),
                    }
                };
                let e = tokio::select! {
                    e = next => e,
                    _ = tx.closed() => return,
                };
                match e {
                    None => return,
                    Some(Ok(e)) => {
                        if events::matches(&e, &filters) && tx.send(e).await.is_err() {
                            return;
                        }
                    }
                    Some(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                    Some(Err(broadcast::error::RecvError::Closed)) => return,
                }
            }
        });
        Ok(Box::pin(ReceiverStream::new(rx)))
    }

    /// Every network as Docker shows it: the built-in `host` and `none`, and the bridge
    /// networks (the default `bridge` and user-defined ones) with their running
    /// containers.
    pub(crate) fn networks(&self, filters: &Filters) -> Vec<serde_json::Value> {
        let created = util::rfc3339(self.started_at);
        let mut out: Vec<serde_json::Value> = ["host", "none"]
            .iter()
            .map(|name| {
                serde_json::json!({
                    "Name": name,
                    "Id": objects::network_id(name),
                    "Created": created,
                    "Scope": "local",
                    "Driver": if *name == "none" { "null" } else { "host" },
                    "EnableIPv4": false,
                    "EnableIPv6": false,
                    "IPAM": {"Driver": "default", "Options": null, "Config": []},
                    "Internal": false,
                    "Attachable": false,
                    "Ingress": false,
                    "ConfigFrom": {"Network": ""},
                    "ConfigOnly": false,
                    "Containers": {},
                    "Options": {},
                    "Labels": {},
                })
            })
            .collect();
        let running: Vec<(String, String, Vec<crate::network::Endpoint>)> = self
            .containers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|c| c.snapshot())
            .filter(|r| r.state.is_running())
            .map(|r| (r.id, r.name, r.endpoints))
            .collect();
        for n in self.networks.records() {
            let members: Vec<(String, String, crate::network::Endpoint)> = running
                .iter()
                .flat_map(|(id, name, eps)| {
                    eps.iter()
                        .filter(|e| e.network_id == n.id && !e.ip.is_empty())
                        .map(|e| (id.clone(), name.clone(), e.clone()))
                })
                .collect();
            out.push(self.networks.json(&n, &members));
        }
        out.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
        out.into_iter()
            .filter(|n| {
                let s = |k: &str| n[k].as_str().unwrap_or("").to_string();
                let builtin = matches!(s("Name").as_str(), "bridge" | "host" | "none");
                filters.iter().all(|(k, vals)| {
                    vals.iter().any(|v| match k.as_str() {
                        "name" => s("Name").contains(v.as_str()),
                        "id" => s("Id").starts_with(v.as_str()),
                        "driver" => &s("Driver") == v,
                        "type" => (v == "builtin") == builtin && (v == "builtin" || v == "custom"),
                        "scope" => v == "local",
                        "label" => {
                            let (lk, lv) = v.split_once('=').unwrap_or((v.as_str(), ""));
                            match n["Labels"].get(lk) {
                                Some(x) => v.find('=').is_none() || x.as_str() == Some(lv),
                                None => false,
                            }
                        }
                        "dangling" => {
                            let empty = n["Containers"].as_object().is_none_or(|m| m.is_empty());
                            (v == "true" || v == "1") == (empty && !builtin)
                        }
                        _ => false,
                    })
                })
            })
            .collect()
    }

    pub(crate) fn network(&self, id: &str) -> Result<serde_json::Value, Error> {
        let all = self.networks(&Filters::new());
        let by = |f: &dyn Fn(&serde_json::Value) -> bool| all.iter().find(|n| f(n)).cloned();
        by(&|n| n["Name"].as_str() == Some(id))
            .or_else(|| by(&|n| n["Id"].as_str() == Some(id)))
            .or_else(|| {
                let hits: Vec<_> = all
                    .iter()
                    .filter(|n| {
                        !id.is_empty() && n["Id"].as_str().is_some_and(|x| x.starts_with(id))
                    })
                    .collect();
                (hits.len() == 1).then(|| hits[0].clone())
            })
            .ok_or_else(|| Error::not_found(format!("network {id} not found")))
    }

    /// `network connect`: the network joins the container's record, and a running
    /// container gets the interface at once.
    pub(crate) async fn connect(
        &self,
        net_ref: &str,
        req: docker::NetworkConnectRequest,
    ) -> Result<(), Error> {
        let n = self.bridge_network(net_ref)?;
        let c = self.container(&req.container)?;
        let _op = c.op.lock().await;
        let r = c.snapshot();
        let mode = r.host_config.network_mode.clone().unwrap_or_default();
        if mode == "host" || mode == "none" || mode.starts_with("container:") {
            return Err(Error::conflict(format!(
                "container sharing network namespace with another container or host cannot be connected to any other network (network mode {mode})"
            )));
        }
        if r.endpoints.iter().any(|e| e.network_id == n.id) {
            return Err(Error::conflict(format!(
                "endpoint with name {} already exists in network {}",
                r.name, n.name
            )));
        }
        let cfg = req.endpoint_config.unwrap_or_default();
        let ep = crate::network::Endpoint {
            network_id: n.id.clone(),
            aliases: cfg.aliases.unwrap_or_default(),
            requested_ip: cfg
                .ipam_config
                .and_then(|i| i.ipv4_address)
                .filter(|s| !s.is_empty()),
            requested_mac: cfg.mac_address.filter(|s| !s.is_empty()),
            ..Default::default()
        };
        if !n.is_user_defined() && (ep.requested_ip.is_some() || !ep.aliases.is_empty()) {
            return Err(Error::invalid(
                "user specified IP address and aliases are supported on user defined networks only",
            ));
        }
        let ep = if r.state.is_running() {
            let me = self
                .arc()
                .ok_or_else(|| Error::internal("the engine is shutting down"))?;
            let (id, index, ep2) = (r.id.clone(), r.endpoints.len(), ep.clone());
            let filled =
                tokio::task::spawn_blocking(move || me.networks.connect_live(&id, index, &ep2))
                    .await
                    .map_err(|e| Error::internal(e.to_string()))??;
            self.networks
                .dns_add(&r.id, &r.name, std::slice::from_ref(&filled));
            filled
        } else {
            ep
        };
        c.update(|rec| rec.endpoints.push(ep))?;
        if r.state.is_running() {
            self.write_net_files(&c.snapshot())?;
        }
        self.emit_network_event(&n.id, &n.name, "connect");
        Ok(())
    }

    /// `network disconnect`.
    pub(crate) async fn disconnect(
        &self,
        net_ref: &str,
        container: &str,
        force: bool,
    ) -> Result<(), Error> {
        let n = self.bridge_network(net_ref)?;
        let c = match self.container(container) {
            Ok(c) => c,
            Err(e) if force => {
                let _ = e;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let _op = c.op.lock().await;
        let r = c.snapshot();
        let Some(ep) = r.endpoints.iter().find(|e| e.network_id == n.id).cloned() else {
            return Err(Error::conflict(format!(
                "container {} is not connected to network {}",
                r.name, n.name
            )));
        };
        if r.state.is_running() {
            let me = self
                .arc()
                .ok_or_else(|| Error::internal("the engine is shutting down"))?;
            let id = r.id.clone();
            tokio::task::spawn_blocking(move || me.networks.disconnect_live(&id, &ep))
                .await
                .map_err(|e| Error::internal(e.to_string()))?;
        }
        c.update(|rec| rec.endpoints.retain(|e| e.network_id != n.id))?;
        if r.state.is_running() {
            self.write_net_files(&c.snapshot())?;
        }
        self.emit_network_event(&n.id, &n.name, "disconnect");
        Ok(())
    }

    fn bridge_network(&self, reference: &str) -> Result<crate::network::NetRecord, Error> {
        self.networks.find(reference).ok_or_else(|| {
            if ["host", "none"].contains(&reference) {
                Error::conflict(format!(
                    "container cannot be disconnected from host network or connected to host network ({reference})"
                ))
            } else {
                Error::not_found(format!("network {reference} not found"))
            }
        })
    }

    /// `network rm`: refused while a container (running or not) is on it.
    pub(crate) async fn network_rm(&self, reference: &str) -> Result<(), Error> {
        let n = match self.networks.find(reference) {
            Some(n) => n,
            None => {
                if ["host", "none"].contains(&reference) {
                    return Err(Error::invalid(format!(
                        "{reference} is a pre-defined network and cannot be removed"
                    )));
                }
                return Err(Error::not_found(format!("network {reference} not found")));
            }
        };
        let users: Vec<String> = self
            .containers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|c| c.snapshot())
            .filter(|r| r.endpoints.iter().any(|e| e.network_id == n.id))
            .map(|r| r.name)
            .collect();
        if !users.is_empty() {
            return Err(Error::conflict(format!(
                "error while removing network: network {} id {} has active endpoints ({})",
                n.name,
                n.id,
                users.join(", ")
            )));
        }
        let me = self
            .arc()
            .ok_or_else(|| Error::internal("the engine is shutting down"))?;
        tokio::task::spawn_blocking(move || me.networks.remove(&n))
            .await
            .map_err(|e| Error::internal(e.to_string()))??;
        Ok(())
    }
}

fn mem_total() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
