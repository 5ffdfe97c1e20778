//! Containers as objects: create, inspect, list, rename, update, remove, prune.

use std::collections::HashMap;

use berth_model::docker;
use berth_model::{CreateContainer, Error, Filters, ListContainersOptions};

use berth_specgen::MountSource;

use crate::container::{self, Container, Record, RunState};
use crate::{names, util, Engine};

impl Engine {
    pub(crate) async fn create(
        &self,
        req: CreateContainer,
    ) -> Result<docker::ContainerCreateResponse, Error> {
        let body = req.body;
        let endpoints = self.create_endpoints(&body)?;
        let image_ref = body
            .image
            .clone()
            .filter(|i| !i.is_empty())
            .ok_or_else(|| Error::invalid("No image was specified (Config.Image is empty)"))?;
        let image = self.images.resolve(&image_ref).await?;
        let host = body.host_config.clone().unwrap_or_default();
        let request = docker::ContainerConfig {
            hostname: body.hostname,
            domainname: body.domainname,
            user: body.user,
            attach_stdin: body.attach_stdin,
            attach_stdout: body.attach_stdout,
            attach_stderr: body.attach_stderr,
            exposed_ports: body.exposed_ports,
            tty: body.tty,
            open_stdin: body.open_stdin,
            stdin_once: body.stdin_once,
            env: body.env,
            cmd: body.cmd,
            healthcheck: body.healthcheck,
            args_escaped: body.args_escaped,
            image: Some(image_ref.clone()),
            volumes: body.volumes,
            working_dir: body.working_dir,
            entrypoint: body.entrypoint,
            network_disabled: body.network_disabled,
            on_build: None,
            labels: body.labels,
            stop_signal: body.stop_signal,
            stop_timeout: body.stop_timeout,
            shell: body.shell,
        };
        let mut config = crate::spec::merge(&image.config, &request)?;
        let host = crate::spec::validate(&config, host)?;
        let argv: Vec<String> = config
            .entrypoint
            .clone()
            .unwrap_or_default()
            .into_iter()
            .chain(config.cmd.clone().unwrap_or_default())
            .collect();
        let Some((path, args)) = argv.split_first() else {
            return Err(Error::invalid("No command specified"));
        };
        let id = util::new_id()?;
        if config.hostname.as_deref().is_none_or(str::is_empty) {
            let net = host.network_mode.as_deref().unwrap_or("");
            config.hostname = Some(if net == "host" {
                rustix::system::uname()
                    .nodename()
                    .to_string_lossy()
                    .into_owned()
            } else {
                id[..12].to_string()
            });
        }
        let name = match req.name.filter(|n| !n.is_empty()) {
            Some(n) => names::validate(&n)?,
            None => self.generate_name()?,
        };
        self.names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .reserve(&name, &id)?;
        let dir = self.container_dir(&id);
        let result = async {
            std::fs::create_dir_all(&dir)
                .map_err(util::io_err(format!("creating {}", dir.display())))?;
            let driver = self.images.prepare(&image.id, &dir).await?;
            let mounts = self.resolve_mounts(&config, &host).await?;
            let record = Record {
                id: id.clone(),
                name: name.clone(),
                created: util::now_rfc3339(),
                image_ref: image_ref.clone(),
                image_id: image.id.clone(),
                config,
                host_config: host,
                path: path.clone(),
                args: args.to_vec(),
                mounts,
                state: RunState::default(),
                restart_count: 0,
                manually_stopped: false,
                has_been_started: false,
                driver,
                exec_ids: Vec::new(),
                endpoints,
                published: Vec::new(),
            };
            self.write_etc_files(&record)?;
            let c = Container::new(record, dir.clone());
            c.save()?;
            Ok::<_, Error>(c)
        }
        .await;
        let c = match result {
            Ok(c) => c,
            Err(e) => {
                self.names
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .release(&name);
                let _ = self.images.remove_snapshot(&dir).await;
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        self.containers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), c.clone());
        self.container_event(&c.snapshot(), "create", &[]);
        Ok(docker::ContainerCreateResponse {
            id,
            warnings: Vec::new(),
        })
    }

    /// The bridge networks a new container is on: the one its network mode names (the
    /// default `bridge` for `default`/`bridge` unless berthd runs with `--bridge none`),
    /// then any other network of `NetworkingConfig` (docker 28 sends every `--network`
    /// there), each with its `--ip`, `--network-alias` and `--mac-address`.
    fn create_endpoints(
        &self,
        body: &docker::ContainerCreateBody,
    ) -> Result<Vec<crate::network::Endpoint>, Error> {
        let mode = body
            .host_config
            .as_ref()
            .and_then(|h| h.network_mode.clone())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "default".into());
        let configs = body
            .networking_config
            .as_ref()
            .and_then(|n| n.endpoints_config.clone())
            .unwrap_or_default();
        if mode == "none" || mode == "host" || mode.starts_with("container:") {
            return Ok(Vec::new());
        }
        let primary = if mode == "default" {
            "bridge".to_string()
        } else {
            mode
        };
        let mut names = vec![primary.clone()];
        let mut others: Vec<&String> = configs.keys().filter(|k| **k != primary).collect();
        others.sort();
        names.extend(
            others
                .into_iter()
                .filter(|k| k.as_str() != "default")
                .cloned(),
        );
        let mut out: Vec<crate::network::Endpoint> = Vec::new();
        for name in names {
            let Some(net) = self.networks.find(&name) else {
                if name == "bridge" {
                    // `--bridge none`: no default network, a namespace with loopback only.
                    continue;
                }
                return Err(Error::not_found(format!("network {name} not found")));
            };
            if out.iter().any(|e| e.network_id == net.id) {
                continue;
            }
            let cfg = configs
                .get(&name)
                .or_else(|| configs.get(&net.id))
                .or_else(|| (name == "bridge").then(|| configs.get("default")).flatten());
            let requested_ip = cfg
                .and_then(|c| c.ipam_config.as_ref())
                .and_then(|i| i.ipv4_address.clone())
                .filter(|s| !s.is_empty());
            let aliases = cfg.and_then(|c| c.aliases.clone()).unwrap_or_default();
            let requested_mac = cfg
                .and_then(|c| c.mac_address.clone())
                .filter(|s| !s.is_empty());
            if !net.is_user_defined() {
                if requested_ip.is_some() {
                    return Err(Error::invalid(
                        "user specified IP address is supported on user defined networks only",
                    ));
                }
                if !aliases.is_empty() {
                    return Err(Error::invalid(
                        "network-scoped alias is supported only for containers in user defined networks",
                    ));
                }
            }
            out.push(crate::network::Endpoint {
                network_id: net.id,
                aliases,
                requested_ip,
                requested_mac,
                ..Default::default()
            });
        }
        Ok(out)
    }

    fn generate_name(&self) -> Result<String, Error> {
        let names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        for retry in 0..64 {
            let n = berth_specgen::random_name(retry);
            if !names.contains(&n) {
                return Ok(n);
            }
        }
        Ok(format!("berth_{}", &util::new_id()?[..12]))
    }

    /// /etc/hostname, /etc/hosts and /etc/resolv.conf of the container, kept in its
    /// directory and bind-mounted (Docker's layout).
    fn write_etc_files(&self, r: &Record) -> Result<(), Error> {
        let dir = self.container_dir(&r.id);
        let hostname = r.config.hostname.clone().unwrap_or_default();
        let net = r.host_config.network_mode.as_deref().unwrap_or("default");
        let io = |p: &str| util::io_err(format!("writing {p} of container {}", r.name));
        std::fs::write(dir.join("hostname"), format!("{hostname}\n")).map_err(io("hostname"))?;
        let hosts = if net == "host" {
            std::fs::read_to_string("/etc/hosts").unwrap_or_default()
        } else {
            format!(
                "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.1.1\t{hostname}\n"
            )
        };
        let mut hosts = hosts;
        hosts.push_str(&extra_hosts(r));
        std::fs::write(dir.join("hosts"), hosts).map_err(io("hosts"))?;
        let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        // A resolver on the host's loopback is unreachable from a private network namespace.
        let resolv: String = if net == "host" {
            resolv
        } else {
            resolv
                .lines()
                .filter(|l| !(l.starts_with("nameserver 127.") || l.starts_with("nameserver ::1")))
                .map(|l| format!("{l}\n"))
                .collect()
        };
        let resolv = with_dns_options(r, &resolv, None);
        std::fs::write(dir.join("resolv.conf"), resolv).map_err(io("resolv.conf"))?;
        Ok(())
    }

    /// /etc/hosts and /etc/resolv.conf of a container whose network was just made: its
    /// addresses under its hostname, and on user-defined networks the embedded DNS server
    /// (the network's gateway) as the only nameserver, host search and options kept.
    pub(crate) fn write_net_files(&self, r: &Record) -> Result<(), Error> {
        let dir = self.container_dir(&r.id);
        let io = |p: &str| util::io_err(format!("writing {p} of container {}", r.name));
        let hostname = r.config.hostname.clone().unwrap_or_default();
        let mut hosts = String::from(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
        );
        for e in r.endpoints.iter().filter(|e| !e.ip.is_empty()) {
            hosts.push_str(&format!("{}\t{hostname}\n", e.ip));
        }
        hosts.push_str(&extra_hosts(r));
        std::fs::write(dir.join("hosts"), hosts).map_err(io("hosts"))?;
        let dns_gateway = r.endpoints.iter().find_map(|e| {
            let n = self.networks.get(&e.network_id)?;
            (n.is_user_defined() && !e.ip.is_empty()).then(|| n.gateway.clone())
        });
        if let Some(gw) = dns_gateway {
            let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
            let mut base = String::new();
            for l in host
                .lines()
                .filter(|l| l.starts_with("search ") || l.starts_with("options "))
            {
                base.push_str(l);
                base.push('\n');
            }
            let resolv = with_dns_options(r, &base, Some(&gw));
            std::fs::write(dir.join("resolv.conf"), resolv).map_err(io("resolv.conf"))?;
        }
        Ok(())
    }

    /// Decides every mount's source: binds as given (a missing `-v` source directory is
    /// created, as Docker does), named volumes created on first use, anonymous volumes for
    /// `Volumes` paths nothing else covers.
    async fn resolve_mounts(
        &self,
        config: &docker::ContainerConfig,
        host: &docker::HostConfig,
    ) -> Result<Vec<docker::MountPoint>, Error> {
        let mut out = Vec::new();
        for m in berth_specgen::parse_mounts(config, host)? {
            let rw = !m.read_only;
            let point = match &m.source {
                MountSource::Bind { path, create } => {
                    if !std::path::Path::new(path).exists() {
                        if *create {
                            std::fs::create_dir_all(path)
                                .map_err(util::io_err(format!("creating bind source {path}")))?;
                        } else {
                            return Err(Error::invalid(format!(
                                "invalid mount config for type \"bind\": bind source path does not exist: {path}"
                            )));
                        }
                    }
                    docker::MountPoint {
                        typ: Some("bind".into()),
                        name: None,
                        source: Some(path.clone()),
                        destination: Some(m.destination.clone()),
                        driver: None,
                        mode: Some(if rw { String::new() } else { "ro".into() }),
                        rw: Some(rw),
                        propagation: Some(m.propagation.clone()),
                    }
                }
                MountSource::Volume { name, .. } => {
                    let (v, created) = self.volumes.create(
                        (!name.is_empty()).then_some(name.as_str()),
                        None,
                        HashMap::new(),
                        HashMap::new(),
                    )?;
                    if created {
                        self.volume_event(&v.name, "create");
                    }
                    volume_point(&v, &m.destination, rw, "z")
                }
                MountSource::Tmpfs { .. } => docker::MountPoint {
                    typ: Some("tmpfs".into()),
                    name: None,
                    source: Some(String::new()),
                    destination: Some(m.destination.clone()),
                    driver: None,
                    mode: Some(String::new()),
                    rw: Some(rw),
                    propagation: Some(String::new()),
                },
            };
            out.push(point);
        }
        Ok(out)
    }

    pub(crate) fn emit_network_event(&self, id: &str, name: &str, action: &str) {
        let attrs = HashMap::from([
            ("name".to_string(), name.to_string()),
            ("type".to_string(), "bridge".to_string()),
        ]);
        self.events
            .publish(docker::EventMessageTypeEnum::NETWORK, action, id, attrs);
    }

    pub(crate) fn volume_event(&self, name: &str, action: &str) {
        let attrs = HashMap::from([("driver".to_string(), "local".to_string())]);
        self.events
            .publish(docker::EventMessageTypeEnum::VOLUME, action, name, attrs);
    }

    pub(crate) async fn inspect(
        &self,
        reference: &str,
        size: bool,
    ) -> Result<docker::ContainerInspectResponse, Error> {
        let c = self.container(reference)?;
        let r = c.snapshot();
        let dir = self.container_dir(&r.id);
        let (size_rw, size_root) = if size {
            let (rw, root) = self.images.sizes(&r.image_id, &dir).await;
            (Some(rw), Some(root))
        } else {
            (None, None)
        };
        let net = r
            .host_config
            .network_mode
            .clone()
            .unwrap_or_else(|| "default".into());
        Ok(docker::ContainerInspectResponse {
            id: Some(r.id.clone()),
            created: Some(r.created.clone()),
            path: Some(r.path.clone()),
            args: Some(r.args.clone()),
            state: Some(container::inspect_state(&r.state)),
            image: Some(r.image_id.clone()),
            resolv_conf_path: Some(dir.join("resolv.conf").display().to_string()),
            hostname_path: Some(dir.join("hostname").display().to_string()),
            hosts_path: Some(dir.join("hosts").display().to_string()),
            log_path: Some(self.log_path(&r.id).display().to_string()),
            name: Some(format!("/{}", r.name)),
            restart_count: Some(r.restart_count),
            driver: Some(r.driver.clone()),
            platform: Some("linux".into()),
            image_manifest_descriptor: None,
            mount_label: Some(String::new()),
            process_label: Some(String::new()),
            app_armor_profile: Some(String::new()),
            exec_ids: (!r.exec_ids.is_empty()).then(|| r.exec_ids.clone()),
            host_config: Some(r.host_config.clone()),
            graph_driver: Some(self.images.graph_driver(&r.image_id, &dir, &r.driver).await),
            storage: None,
            size_rw,
            size_root_fs: size_root,
            mounts: Some(r.mounts.clone()),
            config: Some(r.config.clone()),
            network_settings: Some(network_settings(&net, &r, &self.networks)),
        })
    }

    pub(crate) async fn list(
        &self,
        opts: ListContainersOptions,
    ) -> Result<Vec<docker::ContainerSummary>, Error> {
        let now = util::unix_now();
        let mut recs: Vec<Record> = self.all_containers().iter().map(|c| c.snapshot()).collect();
        recs.sort_by(|a, b| b.created.cmp(&a.created));
        let all = opts.all
            || opts.limit.is_some_and(|l| l > 0)
            || opts.filters.contains_key("status")
            || opts.filters.contains_key("exited");
        let mut out = Vec::new();
        let before = opts
            .filters
            .get("before")
            .and_then(|v| v.first())
            .and_then(|r| self.container(r).ok())
            .map(|c| c.snapshot().created);
        let since = opts
            .filters
            .get("since")
            .and_then(|v| v.first())
            .and_then(|r| self.container(r).ok())
            .map(|c| c.snapshot().created);
        for r in recs {
            if !all && !r.state.is_running() && r.state.status != "restarting" {
                continue;
            }
            if before.as_ref().is_some_and(|b| r.created >= *b)
                || since.as_ref().is_some_and(|s| r.created <= *s)
            {
                continue;
            }
            if !self.filter_matches(&r, &opts.filters) {
                continue;
            }
            let (size_rw, size_root) = if opts.size {
                let (rw, root) = self
                    .images
                    .sizes(&r.image_id, &self.container_dir(&r.id))
                    .await;
                (Some(rw), Some(root))
            } else {
                (None, None)
            };
            let net = r
                .host_config
                .network_mode
                .clone()
                .unwrap_or_else(|| "default".into());
            out.push(docker::ContainerSummary {
                id: Some(r.id.clone()),
                names: Some(vec![format!("/{}", r.name)]),
                image: Some(r.image_ref.clone()),
                image_id: Some(r.image_id.clone()),
                image_manifest_descriptor: None,
                command: Some(container::command_line(&r)),
                created: util::parse_rfc3339(&r.created).map(|t| t as i64),
                ports: Some(
                    r.published
                        .iter()
                        .map(|p| {
                            let (port, proto) = p
                                .container_port
                                .split_once('/')
                                .unwrap_or((&p.container_port, "tcp"));
                            docker::PortSummary {
                                ip: Some(p.host_ip.clone()),
                                private_port: port.parse().unwrap_or(0),
                                public_port: Some(p.host_port),
                                typ: Some(if proto == "udp" {
                                    docker::PortSummaryTypeEnum::UDP
                                } else {
                                    docker::PortSummaryTypeEnum::TCP
                                }),
                            }
                        })
                        .collect(),
                ),
                size_rw,
                size_root_fs: size_root,
                labels: Some(container::labels(&r)),
                state: Some(container::summary_state(&r.state)),
                status: Some(container::status_text(&r.state, now)),
                host_config: Some(docker::ContainerSummaryHostConfig {
                    network_mode: Some(net.clone()),
                    annotations: None,
                }),
                network_settings: Some(docker::ContainerSummaryNetworkSettings {
                    networks: network_settings(&net, &r, &self.networks).networks,
                }),
                mounts: Some(r.mounts.clone()),
                health: None,
            });
            if let Some(l) = opts.limit.filter(|l| *l > 0) {
                if out.len() as i64 >= l {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn filter_matches(&self, r: &Record, filters: &Filters) -> bool {
        let labels = container::labels(r);
        // Docker ORs the values of one key, except `label`, whose conditions all must hold.
        filters.iter().all(|(key, values)| {
            let test = |v: &String| match key.as_str() {
                "id" => r.id.starts_with(v.as_str()),
                "name" => r.name.contains(v.trim_start_matches('/')),
                "status" => &r.state.status == v,
                "exited" => {
                    r.state.status == "exited"
                        && v.parse::<i64>().is_ok_and(|c| c == r.state.exit_code)
                }
                "label" => match v.split_once('=') {
                    Some((k, val)) => labels.get(k).is_some_and(|x| x == val),
                    None => labels.contains_key(v.as_str()),
                },
                "ancestor" => {
                    r.image_ref == *v
                        || r.image_id == *v
                        || r.image_id
                            .trim_start_matches("sha256:")
                            .starts_with(v.trim_start_matches("sha256:"))
                        || format!("{v}:latest") == r.image_ref
                        || self.images.is_same_image(v, &r.image_id)
                }
                "health" => {
                    let h = r
                        .state
                        .health
                        .as_ref()
                        .and_then(|h| h.status)
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "none".into());
                    &h == v
                }
                "volume" => r
                    .mounts
                    .iter()
                    .any(|m| m.name.as_deref() == Some(v) || m.destination.as_deref() == Some(v)),
                "network" => {
                    let mode = r.host_config.network_mode.as_deref().unwrap_or("default");
                    mode == v
                        || (v == "bridge" && mode == "default")
                        || r.endpoints.iter().any(|e| {
                            e.network_id.starts_with(v.as_str())
                                || self
                                    .networks
                                    .get(&e.network_id)
                                    .is_some_and(|n| &n.name == v)
                        })
                }
                "is-task" => v == "false",
                "before" | "since" => true,
                _ => false,
            };
            if key == "label" {
                values.iter().all(test)
            } else {
                values.iter().any(test)
            }
        })
    }

    pub(crate) async fn rename(&self, reference: &str, new_name: &str) -> Result<(), Error> {
        let c = self.container(reference)?;
        let new_name = names::validate(new_name)?;
        let (id, old) = {
            let r = c.lock();
            (r.id.clone(), r.name.clone())
        };
        if old == new_name {
            return Err(Error::invalid(
                "Renaming a container with the same name as its current name",
            ));
        }
        {
            let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
            names.reserve(&new_name, &id)?;
            names.release(&old);
        }
        c.update(|r| r.name = new_name.clone())?;
        self.container_event(&c.snapshot(), "rename", &[("oldName", format!("/{old}"))]);
        Ok(())
    }

    pub(crate) async fn remove(
        &self,
        reference: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), Error> {
        let c = self.container(reference)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        if rec.state.status == "removed" {
            return Err(Error::not_found(format!("No such container: {reference}")));
        }
        if rec.state.is_running() || rec.state.status == "restarting" {
            if !force {
                let what = if rec.state.status == "paused" {
                    "paused"
                } else {
                    "running"
                };
                return Err(Error::conflict(format!(
                    "You cannot remove a {what} container {}. Stop the container before attempting removal or force remove",
                    rec.id
                )));
            }
            c.update(|r| r.manually_stopped = true)?;
            if rec.state.status == "paused" {
                let _ = self.runtime(&["resume", &rec.id]).await;
            }
            if rec.state.is_running() {
                let _ = self.signal(&rec, 9).await;
                if !self
                    .wait_stopped(&c, Some(std::time::Duration::from_secs(30)))
                    .await
                {
                    return Err(Error::internal(format!(
                        "could not kill running container {}, cannot remove",
                        rec.id
                    )));
                }
            }
        }
        c.update(|r| r.state.status = "removing".into())?;
        self.teardown(&rec).await;
        let dir = self.container_dir(&rec.id);
        self.images.remove_snapshot(&dir).await?;
        std::fs::remove_dir_all(&dir)
            .map_err(util::io_err(format!("removing {}", dir.display())))?;
        let _ = std::fs::remove_dir_all(self.run_dir(&rec.id));
        self.containers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&rec.id);
        self.names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .release(&rec.name);
        self.execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, e| e.container != rec.id);
        if volumes {
            for m in &rec.mounts {
                let Some(name) = m.name.as_deref() else {
                    continue;
                };
                let anonymous = self
                    .volumes
                    .inspect(name)
                    .is_ok_and(|v| v.labels.contains_key(crate::volumes::ANONYMOUS_LABEL));
                if anonymous
                    && self.volume_users(name).is_empty()
                    && self.volumes.remove(name, &[]).is_ok()
                {
                    self.volume_event(name, "destroy");
                }
            }
        }
        {
            let mut r = c.lock();
            r.state.status = "removed".into();
        }
        c.notify();
        self.container_event(&rec, "destroy", &[]);
        Ok(())
    }

    /// Names of containers whose mounts use volume `name`.
    pub(crate) fn volume_users(&self, name: &str) -> Vec<String> {
        self.all_containers()
            .iter()
            .map(|c| c.snapshot())
            .filter(|r| r.mounts.iter().any(|m| m.name.as_deref() == Some(name)))
            .map(|r| r.name)
            .collect()
    }

    pub(crate) async fn prune(
        &self,
        filters: Filters,
    ) -> Result<docker::ContainerPruneResponse, Error> {
        let mut deleted = Vec::new();
        let mut space = 0i64;
        for c in self.all_containers() {
            let r = c.snapshot();
            if r.state.is_running() || r.state.status == "restarting" {
                continue;
            }
            let labels_ok = filters.get("label").is_none_or(|vals| {
                let l = container::labels(&r);
                vals.iter().all(|v| match v.split_once('=') {
                    Some((k, val)) => l.get(k).is_some_and(|x| x == val),
                    None => l.contains_key(v.as_str()),
                })
            });
            if !labels_ok {
                continue;
            }
            let (rw, _) = self
                .images
                .sizes(&r.image_id, &self.container_dir(&r.id))
                .await;
            if self.remove(&r.id, false, false).await.is_ok() {
                deleted.push(r.id.clone());
                space += rw;
            }
        }
        Ok(docker::ContainerPruneResponse {
            containers_deleted: Some(deleted),
            space_reclaimed: Some(space),
        })
    }

    pub(crate) async fn update(
        &self,
        reference: &str,
        u: docker::ContainerUpdateBody,
    ) -> Result<docker::ContainerUpdateResponse, Error> {
        let c = self.container(reference)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        let mut host = rec.host_config.clone();
        crate::spec::apply_update(&mut host, &u)?;
        if rec.state.is_running() {
            let resources = crate::spec::linux_resources(&host)?;
            let tmp = self.run_dir(&rec.id).join("update.json");
            std::fs::write(&tmp, resources).map_err(util::io_err("writing update.json"))?;
            let tmp_s = tmp.display().to_string();
            self.runtime(&["update", "--resources", &tmp_s, &rec.id])
                .await?;
        }
        c.update(|r| r.host_config = host)?;
        self.container_event(&c.snapshot(), "update", &[]);
        Ok(docker::ContainerUpdateResponse {
            warnings: Some(Vec::new()),
        })
    }
}

fn volume_point(v: &docker::Volume, dst: &str, rw: bool, mode: &str) -> docker::MountPoint {
    docker::MountPoint {
        typ: Some("volume".into()),
        name: Some(v.name.clone()),
        source: Some(v.mountpoint.clone()),
        destination: Some(dst.into()),
        driver: Some("local".into()),
        mode: Some(mode.into()),
        rw: Some(rw),
        propagation: Some(String::new()),
    }
}

/// NetworkSettings for the modes this engine has (host, none, container:, and the
/// default mode, which is an isolated namespace with loopback until bridges exist).
fn network_settings(
    mode: &str,
    r: &Record,
    nets: &crate::network::Networks,
) -> docker::NetworkSettings {
    let mut networks = HashMap::new();
    for e in &r.endpoints {
        let Some(n) = nets.get(&e.network_id) else {
            continue;
        };
        networks.insert(
            n.name.clone(),
            docker::EndpointSettings {
                network_id: Some(n.id.clone()),
                endpoint_id: Some(e.endpoint_id.clone()),
                gateway: Some(e.gateway.clone()),
                ip_address: Some(e.ip.clone()),
                ip_prefix_len: Some(i64::from(e.prefix)),
                mac_address: Some(e.mac.clone()),
                aliases: (!e.aliases.is_empty()).then(|| e.aliases.clone()),
                dns_names: n.is_user_defined().then(|| {
                    let mut d = vec![r.name.clone(), r.id[..12].to_string()];
                    d.extend(e.aliases.iter().cloned());
                    d
                }),
                ..Default::default()
            },
        );
    }
    // host and none are listed as networks of their own, as Docker does.
    let key = mode;
    if (key == "host" || key == "none") && networks.is_empty() {
        networks.insert(
            key.to_string(),
            docker::EndpointSettings {
                network_id: Some(network_id(key)),
                endpoint_id: Some(String::new()),
                gateway: Some(String::new()),
                ip_address: Some(String::new()),
                ip_prefix_len: Some(0),
                mac_address: Some(String::new()),
                ..Default::default()
            },
        );
    }
    let mut ports: HashMap<String, Option<Vec<docker::PortBinding>>> = HashMap::new();
    for p in &r.published {
        ports
            .entry(p.container_port.clone())
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(docker::PortBinding {
                host_ip: Some(p.host_ip.clone()),
                host_port: Some(p.host_port.to_string()),
            });
    }
    if r.state.is_running() {
        for p in r.config.exposed_ports.iter().flatten() {
            ports.entry(p.clone()).or_insert(None);
        }
    }
    docker::NetworkSettings {
        sandbox_id: Some(if r.state.is_running() {
            r.id.clone()
        } else {
            String::new()
        }),
        sandbox_key: Some(if !r.endpoints.is_empty() && r.state.is_running() {
            nets.netns_path(&r.id).display().to_string()
        } else if r.state.pid > 0 {
            format!("/proc/{}/ns/net", r.state.pid)
        } else {
            String::new()
        }),
        ports: Some(ports),
        networks: Some(networks),
    }
}

/// `--add-host name:ip` lines for /etc/hosts (`host-gateway` is not resolved: berth has
/// no fixed host address for containers to reach yet).
fn extra_hosts(r: &Record) -> String {
    let mut out = String::new();
    for extra in r.host_config.extra_hosts.iter().flatten() {
        if let Some((name, ip)) = extra.split_once(':').or_else(|| extra.split_once('=')) {
            out.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    out
}

/// A resolv.conf from `base` with the container's `--dns`, `--dns-search` and
/// `--dns-option` taking the place of the lines they name (Docker's rule); `embedded` is
/// the embedded DNS server of a user-defined network, which stays the only nameserver
/// (it forwards to the others) unless `--dns` is given.
fn with_dns_options(r: &Record, base: &str, embedded: Option<&str>) -> String {
    let h = &r.host_config;
    let dns = h.dns.clone().unwrap_or_default();
    let search = h.dns_search.clone().unwrap_or_default();
    let options = h.dns_options.clone().unwrap_or_default();
    let mut out = String::new();
    if !dns.is_empty() {
        for d in &dns {
            out.push_str(&format!("nameserver {d}\n"));
        }
    } else if let Some(gw) = embedded {
        out.push_str(&format!("nameserver {gw}\n"));
    } else {
        for l in base.lines().filter(|l| l.starts_with("nameserver")) {
            out.push_str(l);
            out.push('\n');
        }
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    } else {
        for l in base
            .lines()
            .filter(|l| l.starts_with("search ") || l.starts_with("domain "))
        {
            out.push_str(l);
            out.push('\n');
        }
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    } else {
        for l in base.lines().filter(|l| l.starts_with("options ")) {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// Stable IDs of the built-in networks.
pub(crate) fn network_id(name: &str) -> String {
    use std::fmt::Write;
    let mut h: u64 = 0xcbf29ce484222325;
    let mut out = String::new();
    for round in 0..4u8 {
        for b in name.bytes().chain([round]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
        let _ = write!(out, "{h:016x}");
    }
    out
}
