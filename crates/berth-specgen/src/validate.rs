//! Checks of a create request, in Docker's words (moby `verifyContainerSettings`,
//! `verifyPlatformContainerResources`, `runconfig` validation), before anything is stored.

use berth_model::docker::{ContainerConfig, HostConfig, RestartPolicyNameEnum};
use berth_model::{Error, Result};

use crate::options::{self, IpcMode, NsMode, SeccompChoice};

/// Docker's smallest memory limit (and reservation): 6 MiB.
pub const MIN_MEMORY: i64 = 6 << 20;

/// What validation needs to know about the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLimits {
    /// Number of CPUs usable by the daemon (`--cpus` upper bound).
    pub ncpus: u32,
    /// Online CPUs (`/sys/devices/system/cpu/online`), for `--cpuset-cpus`.
    pub cpus_online: String,
    /// Online memory nodes (`/sys/devices/system/node/online`, `0` without NUMA).
    pub mems_online: String,
}

impl HostLimits {
    /// Reads this host's limits.
    pub fn detect() -> HostLimits {
        let read = |p: &str, d: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| d.to_string())
        };
        HostLimits {
            ncpus: std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(1),
            cpus_online: read("/sys/devices/system/cpu/online", "0"),
            mems_online: read("/sys/devices/system/node/online", "0"),
        }
    }
}

fn inv(msg: impl std::fmt::Display) -> Error {
    Error::invalid(msg)
}

fn check_cpuset(value: &Option<String>, kind: &str, online: &str) -> Result<()> {
    let Some(v) = value.as_deref().filter(|v| !v.is_empty()) else {
        return Ok(());
    };
    let want = options::parse_cpuset(v)
        .ok_or_else(|| inv(format!("Invalid value {v} for cpuset {kind}")))?;
    let have = options::parse_cpuset(online).unwrap_or_default();
    if !want.is_subset(&have) {
        let what = if kind == "cpus" {
            "CPUs"
        } else {
            "memory nodes"
        };
        return Err(inv(format!(
            "Requested {what} are not available - requested {v}, available: {online}"
        )));
    }
    Ok(())
}

fn check_health(config: &ContainerConfig) -> Result<()> {
    let Some(h) = &config.healthcheck else {
        return Ok(());
    };
    const MIN: i64 = 1_000_000; // 1ms
    for (v, name) in [
        (h.interval, "Interval"),
        (h.timeout, "Timeout"),
        (h.start_period, "StartPeriod"),
        (h.start_interval, "StartInterval"),
    ] {
        if let Some(v) = v {
            if v != 0 && v < MIN {
                return Err(inv(format!(
                    "{name} in Healthcheck cannot be less than 1ms"
                )));
            }
        }
    }
    if h.retries.is_some_and(|r| r < 0) {
        return Err(inv("Retries in Healthcheck cannot be negative"));
    }
    Ok(())
}

fn check_resources(
    host: &HostConfig,
    limits: &HostLimits,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let memory = host.memory.unwrap_or(0);
    let swap = host.memory_swap.unwrap_or(0);
    let reservation = host.memory_reservation.unwrap_or(0);
    if memory < 0 {
        return Err(inv(format!(
            "invalid memory limit {memory}: must not be negative"
        )));
    }
    if memory != 0 && memory < MIN_MEMORY {
        return Err(inv("Minimum memory limit allowed is 6MB"));
    }
    if swap < -1 {
        return Err(inv(format!(
            "invalid memory swap limit {swap}: use -1 for unlimited"
        )));
    }
    if memory > 0 && swap > 0 && swap < memory {
        return Err(inv(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    if memory == 0 && swap > 0 {
        return Err(inv(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ));
    }
    if let Some(sw) = host.memory_swappiness {
        if !(-1..=100).contains(&sw) {
            return Err(inv(format!(
                "Invalid value: {sw}, valid memory swappiness range is 0-100"
            )));
        }
    }
    if reservation < 0 {
        return Err(inv(format!(
            "invalid memory reservation {reservation}: must not be negative"
        )));
    }
    if memory > 0 && reservation > 0 && memory < reservation {
        return Err(inv(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    if reservation > 0 && reservation < MIN_MEMORY {
        return Err(inv("Minimum memory reservation allowed is 6MB"));
    }
    if host.oom_kill_disable.unwrap_or(false) && memory == 0 {
        warnings.push("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.".into());
    }
    let nano = host.nano_cpus.unwrap_or(0);
    if nano > 0 && host.cpu_period.unwrap_or(0) > 0 {
        return Err(inv(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    if nano > 0 && host.cpu_quota.unwrap_or(0) > 0 {
        return Err(inv(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ));
    }
    let max = i64::from(limits.ncpus) * 1_000_000_000;
    if nano < 0 || nano > max {
        return Err(inv(format!(
            "Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available",
            n = limits.ncpus
        )));
    }
    if host.cpu_shares.unwrap_or(0) < 0 {
        return Err(inv("invalid CPU shares: must not be negative"));
    }
    let period = host.cpu_period.unwrap_or(0);
    if period != 0 && !(1000..=1_000_000).contains(&period) {
        return Err(inv(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    let quota = host.cpu_quota.unwrap_or(0);
    if quota > 0 && quota < 1000 {
        return Err(inv("CPU cfs quota can not be less than 1ms (i.e. 1000)"));
    }
    check_cpuset(&host.cpuset_cpus, "cpus", &limits.cpus_online)?;
    check_cpuset(&host.cpuset_mems, "mems", &limits.mems_online)?;
    if let Some(w) = host.blkio_weight {
        if w > 0 && !(10..=1000).contains(&w) {
            return Err(inv("Range of blkio weight is from 10 to 1000"));
        }
    }
    for w in host.blkio_weight_device.iter().flatten() {
        if let Some(v) = w.weight {
            if !(10..=1000).contains(&v) {
                return Err(inv(format!(
                    "invalid blkio weight {v} for device {}: range is from 10 to 1000",
                    w.path.as_deref().unwrap_or("")
                )));
            }
        }
    }
    if let Some(adj) = host.oom_score_adj {
        if !(-1000..=1000).contains(&adj) {
            return Err(inv(format!(
                "Invalid value {adj}, range for oom score adj is [-1000, 1000]"
            )));
        }
    }
    if host.shm_size.is_some_and(|s| s < 0) {
        return Err(inv("SHM size can not be less than 0"));
    }
    Ok(())
}

fn check_restart(host: &HostConfig) -> Result<()> {
    let Some(p) = &host.restart_policy else {
        return Ok(());
    };
    let name = p.name.unwrap_or(RestartPolicyNameEnum::EMPTY);
    let retries = p.maximum_retry_count.unwrap_or(0);
    if retries < 0 {
        return Err(inv(
            "invalid restart policy: maximum retry count cannot be negative",
        ));
    }
    if retries > 0 && name != RestartPolicyNameEnum::ON_FAILURE {
        return Err(inv(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'",
        ));
    }
    let restarts = !matches!(
        name,
        RestartPolicyNameEnum::EMPTY | RestartPolicyNameEnum::NO
    );
    if restarts && host.auto_remove.unwrap_or(false) {
        return Err(inv(
            "can't create 'AutoRemove' container with restart policy",
        ));
    }
    Ok(())
}

fn check_network(config: &ContainerConfig, host: &HostConfig) -> Result<()> {
    let net = options::network_mode(host)?;
    let has_hostname = config.hostname.as_deref().is_some_and(|h| !h.is_empty());
    if let NsMode::Container(_) = net {
        if has_hostname {
            return Err(inv("conflicting options: hostname and the network mode"));
        }
        if host.extra_hosts.as_ref().is_some_and(|h| !h.is_empty()) {
            return Err(inv(
                "conflicting options: custom host-to-IP mapping and the network mode",
            ));
        }
        if host.dns.as_ref().is_some_and(|d| !d.is_empty()) {
            return Err(inv("conflicting options: dns and the network mode"));
        }
        if host.port_bindings.as_ref().is_some_and(|p| !p.is_empty())
            || host.publish_all_ports.unwrap_or(false)
        {
            return Err(inv(
                "conflicting options: port publishing and the container type network mode",
            ));
        }
    }
    if net == NsMode::Host && host.links.as_ref().is_some_and(|l| !l.is_empty()) {
        return Err(inv("conflicting options: host type networking can't be used with links. This would result in undefined behavior"));
    }
    if options::uts_mode(host)? == NsMode::Host && has_hostname {
        return Err(inv("conflicting options: hostname and the UTS mode"));
    }
    if let Some(h) = config.hostname.as_deref().filter(|h| !h.is_empty()) {
        let ok = h.len() <= 64
            && h.split('.').all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !ok {
            return Err(inv(format!(
                "invalid hostname {h:?}: expected an RFC 1123 hostname of at most 64 characters"
            )));
        }
    }
    Ok(())
}

/// Validates a create request (the merged config and the host config) the way Docker
/// does, plus what berth refuses. Returns Docker's warnings (shown by `docker create`).
/// Every error has kind `InvalidArgument`.
pub fn validate_create(
    config: &ContainerConfig,
    host: &HostConfig,
    limits: &HostLimits,
) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    let no_entrypoint = config.entrypoint.as_ref().is_none_or(|e| e.is_empty());
    if no_entrypoint && config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
        return Err(inv("No command specified"));
    }
    if let Some(w) = config.working_dir.as_deref().filter(|w| !w.is_empty()) {
        if !w.starts_with('/') {
            return Err(inv(format!(
                "the working directory '{w}' is invalid, it needs to be an absolute path"
            )));
        }
    }
    if let Some(sig) = config.stop_signal.as_deref().filter(|s| !s.is_empty()) {
        crate::parse_signal(sig)?;
    }
    check_health(config)?;
    check_restart(host)?;
    check_resources(host, limits, &mut warnings)?;
    check_network(config, host)?;
    let ipc = options::ipc_mode(host)?;
    options::pid_mode(host)?;
    options::check_userns_mode(host)?;
    let net_host = options::network_mode(host)? == NsMode::Host;
    for (k, v) in host.sysctls.iter().flatten() {
        options::check_sysctl(k, v, net_host, ipc == IpcMode::Host)?;
    }
    for c in host
        .cap_add
        .iter()
        .flatten()
        .chain(host.cap_drop.iter().flatten())
    {
        crate::caps::normalize_capability(c)?;
    }
    let sec = options::parse_security_opts(host.security_opt.as_deref().unwrap_or(&[]))?;
    if let SeccompChoice::Profile(json) = &sec.seccomp {
        crate::seccomp_docker::docker_profile_to_oci(
            json,
            &[],
            crate::seccomp_docker::host_kernel(),
        )?;
    }
    for d in host.devices.iter().flatten() {
        crate::devices::mapped_devices(d)?;
    }
    for r in host.device_cgroup_rules.iter().flatten() {
        crate::devices::parse_cgroup_rule(r)?;
    }
    for u in host.ulimits.iter().flatten() {
        options::parse_ulimit(u)?;
    }
    crate::mounts::parse_mounts(config, host)?;
    if let Some(cs) = &host.console_size {
        if cs.len() != 2 {
            return Err(inv("ConsoleSize must have two elements: height and width"));
        }
    }
    if host
        .volume_driver
        .as_deref()
        .is_some_and(|d| !d.is_empty() && d != "local")
    {
        return Err(inv(format!(
            "volume driver {:?} is not supported (only \"local\")",
            host.volume_driver.as_deref().unwrap_or("")
        )));
    }
    Ok(warnings)
}
