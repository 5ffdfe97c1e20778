//! The engine's side of `berth-specgen`: merging at create, the OCI bundle at each start,
//! exec processes, and resource updates.

use std::collections::BTreeMap;
use std::path::Path;

use berth_model::docker;
use berth_model::Error;
use berth_specgen::{GenerateInput, MountSource, MountSpec};

use crate::container::Record;
use crate::{stats, util, Engine};

/// The image's config under the request's (Docker's merge rules).
pub fn merge(
    image: &serde_json::Value,
    request: &docker::ContainerConfig,
) -> Result<docker::ContainerConfig, Error> {
    let image = berth_specgen::image_config_from_json(image)?;
    Ok(berth_specgen::merge_image_config(&image, request))
}

/// Validates a create request; returns the host config with Docker's defaults filled.
pub fn validate(
    config: &docker::ContainerConfig,
    mut host: docker::HostConfig,
) -> Result<docker::HostConfig, Error> {
    berth_specgen::validate_create(config, &host, &berth_specgen::HostLimits::detect())?;
    if host.network_mode.as_deref().is_none_or(str::is_empty) {
        host.network_mode = Some("default".into());
    }
    if host.log_config.is_none() {
        host.log_config = Some(docker::HostConfigLogConfig {
            typ: Some("json-file".into()),
            config: Some(Default::default()),
        });
    }
    if let Some(l) = host.log_config.as_ref().and_then(|l| l.typ.as_deref()) {
        if !l.is_empty() && l != "json-file" {
            return Err(Error::invalid(format!(
                "logging driver \"{l}\" is not supported: berth writes json-file logs"
            )));
        }
    }
    if host.restart_policy.is_none() {
        host.restart_policy = Some(docker::RestartPolicy {
            name: Some(docker::RestartPolicyNameEnum::NO),
            maximum_retry_count: Some(0),
        });
    }
    Ok(host)
}

/// The user mounts of a record with every volume's host path filled in from the record's
/// resolved mounts (matched by destination).
pub fn mount_specs(engine: &Engine, r: &Record) -> Result<Vec<MountSpec>, Error> {
    let mut specs = berth_specgen::parse_mounts(&r.config, &r.host_config)?;
    for m in &mut specs {
        if let MountSource::Volume { path, .. } = &mut m.source {
            let resolved = r
                .mounts
                .iter()
                .find(|p| p.destination.as_deref() == Some(m.destination.as_str()))
                .and_then(|p| p.name.clone());
            if let Some(name) = resolved {
                *path = Some(engine.volumes.data_path(&name).display().to_string());
            }
        }
    }
    Ok(specs)
}

fn cgroup_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

fn swap_accounting() -> bool {
    Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() || cgroup_v2()
}

/// Everything `generate` needs for a record.
fn input(engine: &Engine, r: &Record, rootfs: &Path) -> Result<GenerateInput, Error> {
    let dir = engine.container_dir(&r.id);
    let mut pids = BTreeMap::new();
    for reference in berth_specgen::referenced_containers(&r.host_config) {
        let other = engine.container(&reference)?.snapshot();
        if other.state.pid <= 0 {
            return Err(Error::conflict(format!(
                "cannot join namespaces of container {reference}: it is not running"
            )));
        }
        pids.insert(reference, other.state.pid as u32);
    }
    Ok(GenerateInput {
        id: r.id.clone(),
        config: r.config.clone(),
        host: r.host_config.clone(),
        rootfs: rootfs.to_path_buf(),
        hostname_path: Some(dir.join("hostname").display().to_string()),
        hosts_path: Some(dir.join("hosts").display().to_string()),
        resolv_conf_path: Some(dir.join("resolv.conf").display().to_string()),
        mounts: mount_specs(engine, r)?,
        container_pids: pids,
        network_ns_path: (!r.endpoints.is_empty())
            .then(|| engine.networks.netns_path(&r.id).display().to_string()),
        shm_path: None,
        cgroups_path: stats::cgroup_path(&r.id),
        init_path: Some(engine.config.init.display().to_string()),
        default_ulimits: engine.config.default_ulimits.clone(),
        user: None,
        cgroup_v2: cgroup_v2(),
        swap_accounting: swap_accounting(),
    })
}

/// Writes the OCI bundle (`config.json`) of a start into `run`.
pub async fn write_bundle(
    engine: &Engine,
    r: &Record,
    rootfs: &Path,
    run: &Path,
) -> Result<(), Error> {
    let input = input(engine, r, rootfs)?;
    let path = run.join("config.json");
    tokio::task::spawn_blocking(move || {
        let spec = berth_specgen::generate(&input)?;
        let data = serde_json::to_vec(&spec)
            .map_err(|e| Error::internal(format!("encoding config.json: {e}")))?;
        util::write_atomic(&path, &data)
            .map_err(util::io_err(format!("writing {}", path.display())))
    })
    .await
    .map_err(|e| Error::internal(e.to_string()))?
}

/// The OCI process of an exec: the container's own, with the exec's command, env, working
/// directory, user and terminal.
pub async fn exec_process(
    engine: &Engine,
    r: &Record,
    e: &docker::ExecConfig,
    tty: bool,
) -> Result<serde_json::Value, Error> {
    let bundle = engine.run_dir(&r.id).join("config.json");
    let data = tokio::fs::read(&bundle)
        .await
        .map_err(util::io_err(format!("reading {}", bundle.display())))?;
    let spec: serde_json::Value = serde_json::from_slice(&data)
        .map_err(|err| Error::internal(format!("{}: {err}", bundle.display())))?;
    let mut p = spec.get("process").cloned().unwrap_or_default();
    p["args"] = serde_json::json!(e.cmd.clone().unwrap_or_default());
    p["terminal"] = serde_json::json!(tty);
    if let Some(env) = e.env.as_ref().filter(|v| !v.is_empty()) {
        let mut base: Vec<String> = p["env"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        for kv in env {
            let key = kv.split('=').next().unwrap_or("");
            base.retain(|b| b.split('=').next() != Some(key));
            base.push(kv.clone());
        }
        p["env"] = serde_json::json!(base);
    }
    if let Some(wd) = e.working_dir.as_ref().filter(|w| !w.is_empty()) {
        if !wd.starts_with('/') {
            return Err(Error::invalid(format!(
                "the working directory '{wd}' is invalid, it needs to be an absolute path"
            )));
        }
        p["cwd"] = serde_json::json!(wd);
    }
    if let Some(user) = e.user.as_ref().filter(|u| !u.is_empty()) {
        let root = std::path::PathBuf::from(format!("/proc/{}/root", r.state.pid));
        let user = user.clone();
        let u = tokio::task::spawn_blocking(move || berth_specgen::resolve_user(&root, &user, &[]))
            .await
            .map_err(|err| Error::internal(err.to_string()))??;
        p["user"] =
            serde_json::json!({"uid": u.uid, "gid": u.gid, "additionalGids": u.additional_gids});
    }
    if e.privileged.unwrap_or(false) {
        let all = berth_specgen::caps::daemon_bounding_set()?;
        p["capabilities"] = serde_json::json!({
            "bounding": all, "effective": all, "permitted": all,
        });
    }
    Ok(p)
}

/// Applies `docker update` fields to a host config.
pub fn apply_update(
    host: &mut docker::HostConfig,
    u: &docker::ContainerUpdateBody,
) -> Result<(), Error> {
    macro_rules! set {
        ($($f:ident),*) => { $( if u.$f.is_some() { host.$f = u.$f.clone(); } )* };
    }
    set!(
        cpu_shares,
        memory,
        cgroup_parent,
        blkio_weight,
        blkio_weight_device,
        blkio_device_read_bps,
        blkio_device_write_bps,
        blkio_device_read_iops,
        blkio_device_write_iops,
        cpu_period,
        cpu_quota,
        cpu_realtime_period,
        cpu_realtime_runtime,
        cpuset_cpus,
        cpuset_mems,
        devices,
        device_cgroup_rules,
        device_requests,
        memory_reservation,
        memory_swap,
        memory_swappiness,
        nano_cpus,
        oom_kill_disable,
        init,
        pids_limit,
        ulimits,
        cpu_count,
        cpu_percent,
        io_maximum_iops,
        io_maximum_bandwidth,
        restart_policy
    );
    if let (Some(m), Some(s)) = (host.memory, host.memory_swap) {
        if m > 0 && s > 0 && s < m {
            return Err(Error::invalid(
                "Minimum memoryswap limit should be larger than memory limit, see usage",
            ));
        }
    }
    Ok(())
}

/// The OCI `linux.resources` of a host config, as `berth-runtime update --resources` reads it.
pub fn linux_resources(host: &docker::HostConfig) -> Result<Vec<u8>, Error> {
    let input = GenerateInput {
        id: "update".into(),
        config: docker::ContainerConfig {
            cmd: Some(vec!["true".into()]),
            ..Default::default()
        },
        host: host.clone(),
        rootfs: "/".into(),
        cgroups_path: "/berth/update".into(),
        user: Some(berth_specgen::ResolvedUser::default()),
        cgroup_v2: cgroup_v2(),
        swap_accounting: swap_accounting(),
        ..Default::default()
    };
    let spec = berth_specgen::generate(&input)?;
    let resources = serde_json::to_value(&spec)
        .ok()
        .and_then(|v| v.get("linux").and_then(|l| l.get("resources")).cloned())
        .unwrap_or_default();
    serde_json::to_vec(&resources).map_err(|e| Error::internal(e.to_string()))
}

/// What `docker info` lists under Security Options.
pub fn security_options() -> Vec<String> {
    berth_specgen::security_options_for_info()
}
