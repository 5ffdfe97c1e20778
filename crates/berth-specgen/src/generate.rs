//! The OCI spec of one container run: [`generate`] from a [`GenerateInput`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use berth_model::docker::{ContainerConfig, HostConfig, ResourcesUlimits};
use berth_model::{Error, Result};
use berth_spec::{
    defaults, BlockIo, Capabilities, ConsoleSize, Cpu, Linux, Memory, Mount, Namespace, Pids,
    Process, Resources, Rlimit, Root, Spec, ThrottleDevice, User, WeightDevice, OCI_VERSION,
};

use crate::caps;
use crate::devices;
use crate::mounts::{MountSource, MountSpec};
use crate::options::{self, IpcMode, NsMode, SeccompChoice};
use crate::user::{resolve_user, ResolvedUser};

/// `PATH` when the image sets none (Docker's `DefaultPathEnv`).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Where `--init`'s binary appears in the container.
pub const INIT_PATH_IN_CONTAINER: &str = "/sbin/docker-init";
/// `/dev/shm` size when `ShmSize` is unset: 64 MiB.
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;

/// The paths Docker masks (bind-mounts over with /dev/null or an empty read-only tmpfs).
pub use berth_spec::defaults::MASKED_PATHS;
/// The paths Docker makes read-only.
pub use berth_spec::defaults::READONLY_PATHS;

/// Everything [`generate`] needs besides the Docker configuration.
#[derive(Debug, Clone, Default)]
pub struct GenerateInput {
    /// The container's full ID (the default hostname is its first 12 characters).
    pub id: String,
    /// The merged configuration ([`crate::merge_image_config`]).
    pub config: ContainerConfig,
    /// The host configuration as created.
    pub host: HostConfig,
    /// The container's root filesystem (absolute; becomes `root.path`).
    pub rootfs: PathBuf,
    /// Host files bind-mounted at `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`
    /// (read-write, read-only with `--read-only`), unless a user mount covers them.
    pub hostname_path: Option<String>,
    /// See `hostname_path`.
    pub hosts_path: Option<String>,
    /// See `hostname_path`.
    pub resolv_conf_path: Option<String>,
    /// The user mounts ([`crate::parse_mounts`]) with every volume's `path` filled in.
    pub mounts: Vec<MountSpec>,
    /// PIDs of the containers named by `container:<ref>` modes
    /// ([`crate::referenced_containers`]), keyed by the reference as written.
    pub container_pids: BTreeMap<String, u32>,
    /// A network namespace the engine prepared (e.g. `/run/berth/netns/<id>`) to join
    /// instead of creating one; ignored for `host` and `container:` modes.
    pub network_ns_path: Option<String>,
    /// Host directory to bind at `/dev/shm` (for a `shareable` IPC owner or a joiner);
    /// when unset a private tmpfs of `ShmSize` is mounted, or for `container:<ref>` the
    /// other container's `/proc/<pid>/root/dev/shm`.
    pub shm_path: Option<String>,
    /// `linux.cgroupsPath`, e.g. `/berth/<id>`.
    pub cgroups_path: String,
    /// The host's `docker-init` (tini-like) binary, required when `HostConfig.Init`.
    pub init_path: Option<String>,
    /// The daemon's `default-ulimits`; the container's own win by name.
    pub default_ulimits: Vec<ResourcesUlimits>,
    /// The identity to run as; resolved from the rootfs's `/etc/passwd` and `/etc/group`
    /// when `None`.
    pub user: Option<ResolvedUser>,
    /// Whether the host uses cgroup v2 (the default `CgroupnsMode` depends on it).
    pub cgroup_v2: bool,
    /// Whether the host can limit swap: then `-m` without `--memory-swap` allows as much
    /// swap as memory (Docker's 2× rule).
    pub swap_accounting: bool,
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn bind(dest: &str, src: &str, opts: Vec<String>) -> Mount {
    Mount {
        destination: dest.into(),
        typ: Some("bind".into()),
        source: Some(src.into()),
        options: opts,
        ..Default::default()
    }
}

fn ns(typ: &str, path: Option<String>) -> Namespace {
    Namespace {
        typ: typ.into(),
        path,
    }
}

fn pid_of(input: &GenerateInput, r: &str) -> Result<u32> {
    input.container_pids.get(r).copied().ok_or_else(|| {
        Error::conflict(format!(
            "cannot join namespaces of container {r}: it is not running"
        ))
    })
}

/// The process environment: `PATH`, `HOSTNAME`, `TERM=xterm` with a TTY, overridden by
/// the config's entries; bare `KEY` entries unset; `HOME` from the user's passwd entry
/// when still unset.
fn environment(config: &ContainerConfig, hostname: &str, home: &str) -> Vec<String> {
    let mut base = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if config.tty.unwrap_or(false) {
        base.push("TERM=xterm".into());
    }
    let mut env = crate::merge::merge_env(&base, config.env.as_deref().unwrap_or(&[]));
    env.retain(|e| e.contains('='));
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={home}"));
    }
    env
}

fn depth(p: &str) -> usize {
    p.split('/').filter(|c| !c.is_empty()).count()
}

fn user_mount(m: &MountSpec) -> Result<Mount> {
    let rw = if m.read_only { "ro" } else { "rw" };
    let bind_opts = || {
        vec![
            if m.recursive { "rbind" } else { "bind" }.to_string(),
            m.propagation.clone(),
            rw.to_string(),
        ]
    };
    Ok(match &m.source {
        MountSource::Bind { path, .. } => bind(&m.destination, path, bind_opts()),
        MountSource::Volume { path: Some(p), .. } => bind(&m.destination, p, bind_opts()),
        MountSource::Volume { name, path: None, .. } => {
            return Err(Error::internal(format!(
                "volume {name:?} at {} has no host path: the engine must create it before generating the spec",
                m.destination
            )))
        }
        MountSource::Tmpfs { options } => {
            let mut o = options.clone();
            o.push(rw.into());
            Mount {
                destination: m.destination.clone(),
                typ: Some("tmpfs".into()),
                source: Some("tmpfs".into()),
                options: o,
                ..Default::default()
            }
        }
    })
}

/// Builds the OCI spec of a container run, with Docker's semantics and berth's defaults
/// (see the crate docs for what is stricter than Docker).
pub fn generate(input: &GenerateInput) -> Result<Spec> {
    let config = &input.config;
    let host = &input.host;
    let privileged = host.privileged.unwrap_or(false);
    let sec = options::parse_security_opts(host.security_opt.as_deref().unwrap_or(&[]))?;
    let available = if privileged
        || host
            .cap_add
            .iter()
            .flatten()
            .any(|c| c.eq_ignore_ascii_case("ALL"))
    {
        caps::daemon_bounding_set()?
    } else {
        Vec::new()
    };
    let caps = caps::effective_capabilities(
        host.cap_add.as_deref().unwrap_or(&[]),
        host.cap_drop.as_deref().unwrap_or(&[]),
        privileged,
        &available,
    )?;

    let net = options::network_mode(host)?;
    let ipc = options::ipc_mode(host)?;
    let pid = options::pid_mode(host)?;
    let uts = options::uts_mode(host)?;
    let cgroupns = options::cgroupns_mode(host, input.cgroup_v2);
    options::check_userns_mode(host)?;

    // Hostname: the config's, else the host's with --network host, else the short ID.
    let hostname = match config.hostname.as_deref() {
        Some(h) if !h.is_empty() => h.to_string(),
        _ if net == NsMode::Host || uts == NsMode::Host => rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned(),
        _ => input.id.chars().take(12).collect(),
    };

    // Process.
    let mut args: Vec<String> = config.entrypoint.clone().unwrap_or_default();
    args.extend(config.cmd.clone().unwrap_or_default());
    if args.is_empty() {
        return Err(Error::invalid("No command specified"));
    }
    let init = host.init.unwrap_or(false);
    if init {
        let mut a = vec![INIT_PATH_IN_CONTAINER.to_string(), "--".into()];
        a.extend(args);
        args = a;
    }
    let user = match &input.user {
        Some(u) => u.clone(),
        None => resolve_user(
            &input.rootfs,
            config.user.as_deref().unwrap_or(""),
            host.group_add.as_deref().unwrap_or(&[]),
        )?,
    };
    let mut rlimits: Vec<Rlimit> = Vec::new();
    let own = host.ulimits.as_deref().unwrap_or(&[]);
    for u in input
        .default_ulimits
        .iter()
        .filter(|d| !own.iter().any(|o| o.name == d.name))
        .chain(own.iter())
    {
        let (typ, soft, hard) = options::parse_ulimit(u)?;
        rlimits.push(Rlimit { typ, soft, hard });
    }
    let cap_list = Some(caps.clone());
    let process = Process {
        terminal: config.tty.unwrap_or(false),
        console_size: match host.console_size.as_deref() {
            Some([h, w]) if *h > 0 && *w > 0 => Some(ConsoleSize {
                height: u16::try_from(*h).unwrap_or(u16::MAX),
                width: u16::try_from(*w).unwrap_or(u16::MAX),
            }),
            _ => None,
        },
        user: User {
            uid: user.uid,
            gid: user.gid,
            additional_gids: user.additional_gids.clone(),
            ..Default::default()
        },
        args,
        env: environment(config, &hostname, &user.home),
        cwd: match config.working_dir.as_deref() {
            Some(w) if !w.is_empty() => w.to_string(),
            _ => "/".into(),
        },
        capabilities: Some(Capabilities {
            bounding: cap_list.clone(),
            effective: cap_list.clone(),
            permitted: cap_list,
            inheritable: None,
            ambient: None,
        }),
        rlimits,
        no_new_privileges: sec.no_new_privileges,
        oom_score_adj: host.oom_score_adj.map(|v| v.clamp(-1000, 1000) as i32),
        ..Default::default()
    };

    // Namespaces.
    let mut namespaces = vec![ns("mount", None)];
    let own_netns = match &net {
        NsMode::Host => false,
        NsMode::Private => {
            namespaces.push(ns("network", input.network_ns_path.clone()));
            true
        }
        NsMode::Container(r) => {
            namespaces.push(ns(
                "network",
                Some(format!("/proc/{}/ns/net", pid_of(input, r)?)),
            ));
            false
        }
    };
    match &ipc {
        IpcMode::Host => {}
        IpcMode::Container(r) => namespaces.push(ns(
            "ipc",
            Some(format!("/proc/{}/ns/ipc", pid_of(input, r)?)),
        )),
        _ => namespaces.push(ns("ipc", None)),
    }
    match &pid {
        NsMode::Host => {}
        NsMode::Private => namespaces.push(ns("pid", None)),
        NsMode::Container(r) => namespaces.push(ns(
            "pid",
            Some(format!("/proc/{}/ns/pid", pid_of(input, r)?)),
        )),
    }
    if uts != NsMode::Host {
        namespaces.push(ns("uts", None));
    }
    if cgroupns == NsMode::Private {
        namespaces.push(ns("cgroup", None));
    }

    // Mounts: the standard set, minus what user mounts replace.
    let user_dests: Vec<&str> = input
        .mounts
        .iter()
        .map(|m| m.destination.as_str())
        .collect();
    let user_dev = user_dests.contains(&"/dev");
    let mut mounts = vec![
        defaults::proc_mount(&["nosuid", "noexec", "nodev"]),
        defaults::dev_mount(),
        defaults::devpts_mount(),
        defaults::sysfs_mount(privileged),
        defaults::cgroup_mount(privileged || sec.writable_cgroups),
        defaults::mqueue_mount(),
    ];
    let shm_size = match host.shm_size {
        Some(v) if v > 0 => v,
        _ => DEFAULT_SHM_SIZE,
    };
    let shm_bind = |p: String| {
        bind(
            "/dev/shm",
            &p,
            s(&["rbind", "rprivate", "nosuid", "noexec", "nodev"]),
        )
    };
    match (&ipc, &input.shm_path) {
        (IpcMode::None, _) => {}
        (_, Some(p)) => mounts.push(shm_bind(p.clone())),
        (IpcMode::Host, None) => mounts.push(shm_bind("/dev/shm".into())),
        (IpcMode::Container(r), None) => mounts.push(shm_bind(format!(
            "/proc/{}/root/dev/shm",
            pid_of(input, r)?
        ))),
        _ => mounts.push(defaults::shm_mount(&shm_size.to_string())),
    }
    mounts.retain(|m| {
        let replaced = user_dests.contains(&m.destination.as_str());
        let under_user_dev = user_dev && m.destination.starts_with("/dev/");
        !replaced && !under_user_dev
    });

    let mut extra: Vec<Mount> = Vec::new();
    let net_rw = if host.readonly_rootfs.unwrap_or(false) {
        "ro"
    } else {
        "rw"
    };
    for (dest, src) in [
        ("/etc/resolv.conf", &input.resolv_conf_path),
        ("/etc/hostname", &input.hostname_path),
        ("/etc/hosts", &input.hosts_path),
    ] {
        if let Some(src) = src {
            if !user_dests.contains(&dest) {
                extra.push(bind(dest, src, s(&["rbind", "rprivate", net_rw])));
            }
        }
    }
    if init {
        let path = input.init_path.as_deref().ok_or_else(|| {
            Error::internal("--init was requested but the daemon has no init binary configured")
        })?;
        extra.push(bind(INIT_PATH_IN_CONTAINER, path, s(&["bind", "ro"])));
    }
    for m in &input.mounts {
        extra.push(user_mount(m)?);
    }
    // Parents before children, so a mount at /a/b is not hidden by one at /a.
    extra.sort_by_key(|m| depth(&m.destination));
    mounts.extend(extra);
    let propagation = if input
        .mounts
        .iter()
        .any(|m| m.propagation.ends_with("shared"))
    {
        Some("rshared".to_string())
    } else if input
        .mounts
        .iter()
        .any(|m| m.propagation.ends_with("slave"))
    {
        Some("rslave".to_string())
    } else {
        None
    };

    // Devices.
    let mut linux_devices = Vec::new();
    let mut rules = if privileged {
        linux_devices = devices::host_devices();
        vec![berth_spec::DeviceRule {
            allow: true,
            access: Some("rwm".into()),
            ..Default::default()
        }]
    } else {
        devices::default_device_rules()
    };
    for d in host.devices.iter().flatten() {
        let (devs, r) = devices::mapped_devices(d)?;
        linux_devices.retain(|x| !devs.iter().any(|d| d.path == x.path));
        linux_devices.extend(devs);
        rules.extend(r);
    }
    for r in host.device_cgroup_rules.iter().flatten() {
        rules.push(devices::parse_cgroup_rule(r)?);
    }

    // Sysctls.
    let mut sysctl = BTreeMap::new();
    if own_netns {
        // Unprivileged ICMP sockets for every group, so ping works without CAP_NET_RAW.
        sysctl.insert(
            "net.ipv4.ping_group_range".to_string(),
            "0 2147483647".to_string(),
        );
    }
    for (k, v) in host.sysctls.iter().flatten() {
        options::check_sysctl(k, v, net == NsMode::Host, ipc == IpcMode::Host)?;
        sysctl.insert(k.clone(), v.clone());
    }

    let seccomp = if privileged {
        None
    } else {
        match &sec.seccomp {
            SeccompChoice::Unconfined => None,
            SeccompChoice::Default => Some(crate::seccomp::default_profile(&caps)),
            SeccompChoice::Profile(json) => Some(crate::seccomp_docker::docker_profile_to_oci(
                json,
                &caps,
                crate::seccomp_docker::host_kernel(),
            )?),
        }
    };
    let confined_paths = !privileged && !sec.systempaths_unconfined;

    let linux = Linux {
        sysctl,
        resources: Some(resources(host, rules, input.swap_accounting)?),
        cgroups_path: Some(input.cgroups_path.clone()),
        namespaces,
        devices: linux_devices,
        seccomp,
        rootfs_propagation: propagation,
        masked_paths: if confined_paths {
            s(&MASKED_PATHS)
        } else {
            Vec::new()
        },
        readonly_paths: if confined_paths {
            s(&READONLY_PATHS)
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    let uts_private = uts != NsMode::Host;
    Ok(Spec {
        oci_version: OCI_VERSION.into(),
        root: Some(Root {
            path: input.rootfs.display().to_string(),
            readonly: host.readonly_rootfs.unwrap_or(false),
        }),
        mounts,
        process: Some(process),
        hostname: uts_private.then_some(hostname),
        domainname: config
            .domainname
            .clone()
            .filter(|d| uts_private && !d.is_empty()),
        annotations: host
            .annotations
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        linux: Some(linux),
        ..Default::default()
    })
}

/// `(major, minor)` of a block device given by path (blkio options).
fn block_device(path: &str, what: &str) -> Result<(i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(path)
        .map_err(|e| Error::invalid(format!("{what}: cannot stat {path}: {e}")))?;
    let rdev = md.rdev();
    Ok((
        i64::from(rustix::fs::major(rdev)),
        i64::from(rustix::fs::minor(rdev)),
    ))
}

fn throttle(
    list: &Option<Vec<berth_model::docker::ThrottleDevice>>,
    what: &str,
) -> Result<Vec<ThrottleDevice>> {
    let mut out = Vec::new();
    for t in list.iter().flatten() {
        let path = t.path.as_deref().unwrap_or("");
        let (major, minor) = block_device(path, what)?;
        let rate = u64::try_from(t.rate.unwrap_or(0))
            .map_err(|_| Error::invalid(format!("{what} {path}: rate must not be negative")))?;
        out.push(ThrottleDevice { major, minor, rate });
    }
    Ok(out)
}

fn resources(
    host: &HostConfig,
    devices: Vec<berth_spec::DeviceRule>,
    swap_accounting: bool,
) -> Result<Resources> {
    let pos = |v: Option<i64>| v.filter(|x| *x > 0);
    let limit = pos(host.memory);
    let swap = match host.memory_swap {
        Some(-1) => Some(-1),
        Some(v) if v > 0 => Some(v),
        _ if swap_accounting => limit.map(|l| l.saturating_mul(2)),
        _ => None,
    };
    let memory = Memory {
        limit,
        reservation: pos(host.memory_reservation),
        swap,
        swappiness: host
            .memory_swappiness
            .filter(|v| (0..=100).contains(v))
            .map(|v| v as u64),
        disable_oom_killer: host.oom_kill_disable.filter(|d| *d),
        ..Default::default()
    };
    let (quota, period) = match pos(host.nano_cpus) {
        Some(n) => (
            Some(n.saturating_mul(100_000) / 1_000_000_000),
            Some(100_000u64),
        ),
        None => (pos(host.cpu_quota), pos(host.cpu_period).map(|p| p as u64)),
    };
    let cpu = Cpu {
        shares: pos(host.cpu_shares).map(|v| v.clamp(2, 262_144) as u64),
        quota,
        period,
        realtime_runtime: pos(host.cpu_realtime_runtime),
        realtime_period: pos(host.cpu_realtime_period).map(|p| p as u64),
        cpus: host.cpuset_cpus.clone().filter(|c| !c.is_empty()),
        mems: host.cpuset_mems.clone().filter(|c| !c.is_empty()),
        ..Default::default()
    };
    let mut weight_device = Vec::new();
    for w in host.blkio_weight_device.iter().flatten() {
        let path = w.path.as_deref().unwrap_or("");
        let (major, minor) = block_device(path, "--blkio-weight-device")?;
        let weight = w.weight.and_then(|v| u16::try_from(v).ok());
        weight_device.push(WeightDevice {
            major,
            minor,
            weight,
            leaf_weight: None,
        });
    }
    let block_io = BlockIo {
        weight: host.blkio_weight.filter(|w| *w > 0),
        weight_device,
        throttle_read_bps_device: throttle(&host.blkio_device_read_bps, "--device-read-bps")?,
        throttle_write_bps_device: throttle(&host.blkio_device_write_bps, "--device-write-bps")?,
        throttle_read_iops_device: throttle(&host.blkio_device_read_iops, "--device-read-iops")?,
        throttle_write_iops_device: throttle(&host.blkio_device_write_iops, "--device-write-iops")?,
        ..Default::default()
    };
    Ok(Resources {
        devices,
        memory: (memory != Memory::default()).then_some(memory),
        cpu: (cpu != Cpu::default()).then_some(cpu),
        pids: pos(host.pids_limit).map(|limit| Pids { limit }),
        block_io: (block_io != BlockIo::default()).then_some(block_io),
        ..Default::default()
    })
}
