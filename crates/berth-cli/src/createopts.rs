//! `run`/`create` flags → the `POST /containers/create` body, field for field as docker
//! CLI 28 sends it (same keys, same order, same defaults such as `"MemorySwappiness":-1`
//! and `"NetworkMode":"default"`), so the daemon sees identical requests.

use anyhow::{anyhow, bail};

use crate::args::{b, v, Flag, Parsed};
use crate::human::parse_go_duration;
use crate::json::J;
use crate::specs::{parse_device, parse_mount, parse_ulimit, restart_policy};
pub use crate::specs::{parse_publish, ram_in_bytes, read_env_file};

/// The flags of `run` and `create` (`run` adds `-d`, `--rm` is shared).
pub const CREATE_FLAGS: &[Flag] = &[
    v("add-host", None, "Add a custom host-to-IP mapping (host:ip)"),
    v("attach", Some('a'), "Attach to STDIN, STDOUT or STDERR"),
    v("cap-add", None, "Add Linux capabilities"),
    v("cap-drop", None, "Drop Linux capabilities"),
    v("cgroup-parent", None, "Optional parent cgroup for the container"),
    v("cgroupns", None, "Cgroup namespace to use (host|private)"),
    v("cidfile", None, "Write the container ID to the file"),
    v("cpu-period", None, "Limit CPU CFS (Completely Fair Scheduler) period"),
    v("cpu-quota", None, "Limit CPU CFS (Completely Fair Scheduler) quota"),
    v("cpu-shares", Some('c'), "CPU shares (relative weight)"),
    v("cpus", None, "Number of CPUs"),
    v("cpuset-cpus", None, "CPUs in which to allow execution (0-3, 0,1)"),
    v("cpuset-mems", None, "MEMs in which to allow execution (0-3, 0,1)"),
    b("detach", Some('d'), "Run container in background and print container ID"),
    v("detach-keys", None, "Override the key sequence for detaching a container"),
    v("device", None, "Add a host device to the container"),
    v("dns", None, "Set custom DNS servers"),
    v("dns-option", None, "Set DNS options"),
    v("dns-search", None, "Set custom DNS search domains"),
    v("entrypoint", None, "Overwrite the default ENTRYPOINT of the image"),
    v("env", Some('e'), "Set environment variables"),
    v("env-file", None, "Read in a file of environment variables"),
    v("expose", None, "Expose a port or a range of ports"),
    v("group-add", None, "Add additional groups to join"),
    v("health-cmd", None, "Command to run to check health"),
    v("health-interval", None, "Time between running the check (ms|s|m|h)"),
    v("health-retries", None, "Consecutive failures needed to report unhealthy"),
    v("health-start-period", None, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)"),
    v("health-timeout", None, "Maximum time to allow one check to run (ms|s|m|h)"),
    v("hostname", Some('h'), "Container host name"),
    b("init", None, "Run an init inside the container that forwards signals and reaps processes"),
    b("interactive", Some('i'), "Keep STDIN open even if not attached"),
    v("ip", None, "IPv4 address (e.g., 172.30.100.104)"),
    v("ipc", None, "IPC mode to use"),
    v("label", Some('l'), "Set meta data on a container"),
    v("log-driver", None, "Logging driver for the container"),
    v("log-opt", None, "Log driver options"),
    v("mac-address", None, "Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
    v("memory", Some('m'), "Memory limit"),
    v("memory-reservation", None, "Memory soft limit"),
    v("memory-swap", None, "Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
    v("memory-swappiness", None, "Tune container memory swappiness (0 to 100)"),
    v("mount", None, "Attach a filesystem mount to the container"),
    v("name", None, "Assign a name to the container"),
    v("network", None, "Connect a container to a network"),
    v("net", None, "Connect a container to a network"),
    v("network-alias", None, "Add network-scoped alias for the container"),
    b("no-healthcheck", None, "Disable any container-specified HEALTHCHECK"),
    b("oom-kill-disable", None, "Disable OOM Killer"),
    v("oom-score-adj", None, "Tune host's OOM preferences (-1000 to 1000)"),
    v("pid", None, "PID namespace to use"),
    v("pids-limit", None, "Tune container pids limit (set -1 for unlimited)"),
    v("platform", None, "Set platform if server is multi-platform capable"),
    b("privileged", None, "Give extended privileges to this container"),
    v("publish", Some('p'), "Publish a container's port(s) to the host"),
    b("publish-all", Some('P'), "Publish all exposed ports to random ports"),
    v("pull", None, "Pull image before running (\"always\", \"missing\", \"never\")"),
    b("quiet", Some('q'), "Suppress the pull output"),
    b("read-only", None, "Mount the container's root filesystem as read only"),
    v("restart", None, "Restart policy to apply when a container exits"),
    b("rm", None, "Automatically remove the container and its associated anonymous volumes when it exits"),
    v("runtime", None, "Runtime to use for this container"),
    v("security-opt", None, "Security Options"),
    v("shm-size", None, "Size of /dev/shm"),
    b("sig-proxy", None, "Proxy received signals to the process"),
    v("stop-signal", None, "Signal to stop the container"),
    v("stop-timeout", None, "Timeout (in seconds) to stop a container"),
    v("sysctl", None, "Sysctl options"),
    v("tmpfs", None, "Mount a tmpfs directory"),
    b("tty", Some('t'), "Allocate a pseudo-TTY"),
    v("ulimit", None, "Ulimit options"),
    v("user", Some('u'), "Username or UID (format: <name|uid>[:<group|gid>])"),
    v("userns", None, "User namespace to use"),
    v("uts", None, "UTS namespace to use"),
    v("volume", Some('v'), "Bind mount a volume"),
    v("volumes-from", None, "Mount volumes from the specified container(s)"),
    v("workdir", Some('w'), "Working directory inside the container"),
];

/// What `run` needs besides the body.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateRequest {
    /// The JSON body.
    pub body: J,
    /// `/containers/create?...` query pairs (`name`, `platform`).
    pub query: Vec<(&'static str, String)>,
    /// The image as given.
    pub image: String,
    /// Attach stdin / stdout / stderr.
    pub attach: (bool, bool, bool),
    /// `-t`.
    pub tty: bool,
    /// `-i`.
    pub interactive: bool,
    /// `--rm`.
    pub auto_remove: bool,
}

fn flag_name(long: &str, short: Option<char>) -> String {
    match short {
        Some(c) => format!("-{c}, --{long}"),
        None => format!("--{long}"),
    }
}

/// A size flag ("64m"), 0 when absent; errors are worded as docker's flag parser words them.
fn size_flag(p: &Parsed, long: &str, short: Option<char>) -> anyhow::Result<i64> {
    match p.get(long) {
        None => Ok(0),
        Some(v) => ram_in_bytes(v).map_err(|e| {
            anyhow!(
                "invalid argument \"{v}\" for \"{}\" flag: {e}",
                flag_name(long, short)
            )
        }),
    }
}

fn int_flag(p: &Parsed, name: &str) -> anyhow::Result<i64> {
    match p.get(name) {
        None => Ok(0),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| {
                anyhow!(
                    "invalid argument \"{v}\" for \"--{name}\" flag: strconv.ParseInt: parsing \"{v}\": invalid syntax"
                )
            }),
    }
}

fn duration_ns(p: &Parsed, name: &str) -> anyhow::Result<i64> {
    match p.get(name) {
        None => Ok(0),
        Some(v) => parse_go_duration(v)
            .map(|s| (s * 1e9).round() as i64)
            .ok_or_else(|| {
                anyhow!(
                    "invalid argument {v:?} for \"--{name}\" flag: time: invalid duration {v:?}"
                )
            }),
    }
}

fn env_list(p: &Parsed) -> anyhow::Result<Vec<String>> {
    let mut env = Vec::new();
    for f in p.all("env-file") {
        env.extend(read_env_file(f)?);
    }
    for e in p.all("env") {
        if e.contains('=') {
            env.push(e.clone());
        } else if let Ok(v) = std::env::var(e) {
            env.push(format!("{e}={v}"));
        }
    }
    Ok(env)
}

fn kv_map(items: &[String]) -> J {
    let mut o = J::Obj(Vec::new());
    for it in items {
        let (k, v) = it.split_once('=').unwrap_or((it.as_str(), ""));
        o.set(k, J::s(v));
    }
    o
}

fn endpoint() -> J {
    J::obj([
        ("IPAMConfig", J::Null),
        ("Links", J::Null),
        ("Aliases", J::Null),
        ("MacAddress", J::s("")),
        ("DriverOpts", J::Null),
        ("GwPriority", J::int(0)),
        ("NetworkID", J::s("")),
        ("EndpointID", J::s("")),
        ("Gateway", J::s("")),
        ("IPAddress", J::s("")),
        ("IPPrefixLen", J::int(0)),
        ("IPv6Gateway", J::s("")),
        ("GlobalIPv6Address", J::s("")),
        ("GlobalIPv6PrefixLen", J::int(0)),
        ("DNSNames", J::Null),
    ])
}

/// Builds the create request from parsed `run`/`create` flags; `detach` is `-d` for `run`
/// (always true for `create`); `console` is the terminal size for `-t`.
pub fn build(
    p: &Parsed,
    detach: bool,
    console: Option<(u16, u16)>,
) -> anyhow::Result<CreateRequest> {
    let Some(image) = p.args.first().cloned() else {
        bail!("requires at least 1 argument");
    };
    let cmd: Vec<String> = p.args[1..].to_vec();
    let tty = p.on("tty");
    let interactive = p.on("interactive");
    let auto_remove = p.on("rm");
    let attach_flags = p.all("attach");
    let (mut a_in, mut a_out, mut a_err) = (false, false, false);
    if !detach {
        if attach_flags.is_empty() {
            a_out = true;
            a_err = true;
            a_in = interactive;
        } else {
            for a in attach_flags {
                match a.to_ascii_lowercase().as_str() {
                    "stdin" => a_in = true,
                    "stdout" => a_out = true,
                    "stderr" => a_err = true,
                    _ => bail!("invalid argument \"{a}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"),
                }
            }
        }
    } else if !attach_flags.is_empty() {
        bail!("conflicting options: cannot specify both --attach and --detach");
    }

    let mut exposed = J::Obj(Vec::new());
    let mut bindings = J::Obj(Vec::new());
    for spec in p.all("publish") {
        let ports = parse_publish(spec)
            .map_err(|e| anyhow!("invalid argument \"{spec}\" for \"-p, --publish\" flag: {e}"))?;
        for (port, ip, host) in ports {
            exposed.set(&port, J::Obj(Vec::new()));
            let mut list = bindings
                .get(&port)
                .map(|l| l.items().to_vec())
                .unwrap_or_default();
            list.push(J::obj([("HostIp", J::s(ip)), ("HostPort", J::s(host))]));
            bindings.set(&port, J::Arr(list));
        }
    }
    for e in p.all("expose") {
        for port in parse_expose(e)? {
            exposed.set(&port, J::Obj(Vec::new()));
        }
    }
    // Go marshals these maps with their keys sorted.
    for m in [&mut exposed, &mut bindings] {
        if let J::Obj(pairs) = m {
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
        }
    }

    let mut binds = Vec::new();
    let mut volumes = J::Obj(Vec::new());
    for spec in p.all("volume") {
        let parts: Vec<&str> = spec.split(':').collect();
        match parts.as_slice() {
            [dst] if dst.starts_with('/') => volumes.set(dst, J::Obj(Vec::new())),
            [_, dst] | [_, dst, _] if dst.starts_with('/') => binds.push(spec.clone()),
            _ => bail!(
                "invalid volume specification: '{spec}': use [source:]/container/path[:options]"
            ),
        }
    }
    let mounts = p
        .all("mount")
        .iter()
        .map(|m| parse_mount(m))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let mut labels = kv_map(p.all("label"));
    if p.all("label").is_empty() {
        labels = J::Obj(Vec::new());
    }
    let env = env_list(p)?;

    let mut config = J::obj([
        ("Hostname", J::s(p.str("hostname"))),
        ("Domainname", J::s("")),
        ("User", J::s(p.str("user"))),
        ("AttachStdin", J::Bool(a_in)),
        ("AttachStdout", J::Bool(a_out)),
        ("AttachStderr", J::Bool(a_err)),
    ]);
    if !exposed.pairs().is_empty() {
        config.set("ExposedPorts", exposed);
    }
    config.set("Tty", J::Bool(tty));
    config.set("OpenStdin", J::Bool(interactive));
    config.set("StdinOnce", J::Bool(interactive && a_in));
    config.set("Env", J::str_list_or_null(&env));
    config.set("Cmd", J::str_list_or_null(&cmd));
    let health = if p.on("no-healthcheck") {
        Some(J::obj([("Test", J::str_list(&["NONE".to_string()]))]))
    } else if p.has("health-cmd")
        || p.has("health-interval")
        || p.has("health-retries")
        || p.has("health-timeout")
        || p.has("health-start-period")
    {
        let mut h = J::Obj(Vec::new());
        if let Some(c) = p.get("health-cmd") {
            h.set(
                "Test",
                J::str_list(&["CMD-SHELL".to_string(), c.to_string()]),
            );
        }
        for (flag, key) in [
            ("health-interval", "Interval"),
            ("health-timeout", "Timeout"),
            ("health-start-period", "StartPeriod"),
        ] {
            let ns = duration_ns(p, flag)?;
            if ns != 0 {
                h.set(key, J::int(ns));
            }
        }
        let r = int_flag(p, "health-retries")?;
        if r != 0 {
            h.set("Retries", J::int(r));
        }
        Some(h)
    } else {
        None
    };
    if let Some(h) = health {
        config.set("Healthcheck", h);
    }
    config.set("Image", J::s(image.as_str()));
    config.set("Volumes", volumes);
    config.set("WorkingDir", J::s(p.str("workdir")));
    config.set(
        "Entrypoint",
        match p.get("entrypoint") {
            None => J::Null,
            Some(e) => J::str_list(&[e.to_string()]),
        },
    );
    config.set("OnBuild", J::Null);
    config.set("Labels", labels);
    if let Some(s) = p.get("stop-signal") {
        config.set("StopSignal", J::s(s));
    }
    if p.has("stop-timeout") {
        config.set("StopTimeout", J::int(int_flag(p, "stop-timeout")?));
    }

    let mut networks: Vec<String> = p
        .all("network")
        .iter()
        .chain(p.all("net"))
        .filter(|n| !n.is_empty())
        .cloned()
        .collect();
    if networks.is_empty() {
        networks.push("default".into());
    }
    check_networks(&networks)?;
    let network = networks[0].clone();
    let dns = p
        .all("dns")
        .iter()
        .map(|d| validate_dns(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let dns_search = p
        .all("dns-search")
        .iter()
        .map(|d| validate_dns_search(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let extra_hosts = p
        .all("add-host")
        .iter()
        .map(|h| validate_extra_host(h))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(ip) = p.get("ip") {
        if ip.trim().parse::<std::net::IpAddr>().is_err() {
            bail!("invalid argument \"{ip}\" for \"--ip\" flag: failed to parse IP: \"{ip}\"");
        }
    }
    if let Some(mac) = p.get("mac-address") {
        if !valid_mac(mac) {
            bail!("{mac} is not a valid mac address");
        }
    }
    let mut log_cfg = J::Obj(Vec::new());
    for o in p.all("log-opt") {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| anyhow!("invalid key/value pair format in log options: {o}"))?;
        log_cfg.set(k, J::s(v));
    }
    let mut host = J::obj([
        ("Binds", J::str_list_or_null(&binds)),
        ("ContainerIDFile", J::s(p.str("cidfile"))),
        (
            "LogConfig",
            J::obj([("Type", J::s(p.str("log-driver"))), ("Config", log_cfg)]),
        ),
        ("NetworkMode", J::s(network.as_str())),
        ("PortBindings", bindings),
        (
            "RestartPolicy",
            restart_policy(p.get("restart").unwrap_or("no"))?,
        ),
        ("AutoRemove", J::Bool(auto_remove)),
        ("VolumeDriver", J::s("")),
        ("VolumesFrom", J::str_list_or_null(p.all("volumes-from"))),
        (
            "ConsoleSize",
            J::Arr(vec![
                J::int(console.map_or(0, |c| i64::from(c.0))),
                J::int(console.map_or(0, |c| i64::from(c.1))),
            ]),
        ),
        ("CapAdd", J::str_list_or_null(p.all("cap-add"))),
        ("CapDrop", J::str_list_or_null(p.all("cap-drop"))),
        ("CgroupnsMode", J::s(p.str("cgroupns"))),
        ("Dns", J::str_list(&dns)),
        ("DnsOptions", J::str_list(p.all("dns-option"))),
        ("DnsSearch", J::str_list(&dns_search)),
        ("ExtraHosts", J::str_list_or_null(&extra_hosts)),
        ("GroupAdd", J::str_list_or_null(p.all("group-add"))),
        ("IpcMode", J::s(p.str("ipc"))),
        ("Cgroup", J::s("")),
        ("Links", J::Null),
        ("OomScoreAdj", J::int(int_flag(p, "oom-score-adj")?)),
        ("PidMode", J::s(p.str("pid"))),
        ("Privileged", J::Bool(p.on("privileged"))),
        ("PublishAllPorts", J::Bool(p.on("publish-all"))),
        ("ReadonlyRootfs", J::Bool(p.on("read-only"))),
        ("SecurityOpt", J::str_list_or_null(p.all("security-opt"))),
    ]);
    if !p.all("tmpfs").is_empty() {
        let mut t = J::Obj(Vec::new());
        for spec in p.all("tmpfs") {
            let (path, opts) = spec.split_once(':').unwrap_or((spec.as_str(), ""));
            t.set(path, J::s(opts));
        }
        host.set("Tmpfs", t);
    }
    host.set("UTSMode", J::s(p.str("uts")));
    host.set("UsernsMode", J::s(p.str("userns")));
    host.set("ShmSize", J::int(size_flag(p, "shm-size", None)?));
    if !p.all("sysctl").is_empty() {
        host.set("Sysctls", kv_map(p.all("sysctl")));
    }
    if let Some(r) = p.get("runtime") {
        host.set("Runtime", J::s(r));
    }
    host.set("Isolation", J::s(""));
    let nano_cpus = match p.get("cpus") {
        None => 0,
        Some(c) => {
            let f: f64 = c
                .parse()
                .map_err(|_| anyhow!("invalid argument {c:?} for \"--cpus\" flag: not a number"))?;
            (f * 1e9).round() as i64
        }
    };
    let memory = size_flag(p, "memory", Some('m'))?;
    let swap = match p.get("memory-swap") {
        None => 0,
        Some("-1") => -1,
        Some(_) => size_flag(p, "memory-swap", None)?,
    };
    let devices = p
        .all("device")
        .iter()
        .map(|d| parse_device(d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let ulimits = p
        .all("ulimit")
        .iter()
        .map(|u| parse_ulimit(u))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let swappiness = if p.has("memory-swappiness") {
        int_flag(p, "memory-swappiness")?
    } else {
        -1
    };
    for (k, val) in [
        ("CpuShares", J::int(int_flag(p, "cpu-shares")?)),
        ("Memory", J::int(memory)),
        ("NanoCpus", J::int(nano_cpus)),
        ("CgroupParent", J::s(p.str("cgroup-parent"))),
        ("BlkioWeight", J::int(0)),
        ("BlkioWeightDevice", J::Arr(vec![])),
        ("BlkioDeviceReadBps", J::Arr(vec![])),
        ("BlkioDeviceWriteBps", J::Arr(vec![])),
        ("BlkioDeviceReadIOps", J::Arr(vec![])),
        ("BlkioDeviceWriteIOps", J::Arr(vec![])),
        ("CpuPeriod", J::int(int_flag(p, "cpu-period")?)),
        ("CpuQuota", J::int(int_flag(p, "cpu-quota")?)),
        ("CpuRealtimePeriod", J::int(0)),
        ("CpuRealtimeRuntime", J::int(0)),
        ("CpusetCpus", J::s(p.str("cpuset-cpus"))),
        ("CpusetMems", J::s(p.str("cpuset-mems"))),
        ("Devices", J::Arr(devices)),
        ("DeviceCgroupRules", J::Null),
        ("DeviceRequests", J::Null),
        (
            "MemoryReservation",
            J::int(size_flag(p, "memory-reservation", None)?),
        ),
        ("MemorySwap", J::int(swap)),
        ("MemorySwappiness", J::int(swappiness)),
        ("OomKillDisable", J::Bool(p.on("oom-kill-disable"))),
        ("PidsLimit", J::int(int_flag(p, "pids-limit")?)),
        ("Ulimits", J::Arr(ulimits)),
        ("CpuCount", J::int(0)),
        ("CpuPercent", J::int(0)),
        ("IOMaximumIOps", J::int(0)),
        ("IOMaximumBandwidth", J::int(0)),
    ] {
        host.set(k, val);
    }
    if !mounts.is_empty() {
        host.set("Mounts", J::Arr(mounts));
    }
    host.set("MaskedPaths", J::Null);
    host.set("ReadonlyPaths", J::Null);
    if p.on("init") {
        host.set("Init", J::Bool(true));
    }

    config.set("HostConfig", host);
    let endpoints = if network.starts_with("container:") {
        J::Obj(Vec::new())
    } else {
        let mut eps = Vec::new();
        for (i, n) in networks.iter().enumerate() {
            let mut ep = endpoint();
            // The per-container flags apply to the first network, as docker does it.
            if i == 0 {
                if let Some(ip) = p.get("ip").filter(|s| !s.is_empty()) {
                    ep.set("IPAMConfig", J::obj([("IPv4Address", J::s(ip.trim()))]));
                }
                if !p.all("network-alias").is_empty() {
                    ep.set("Aliases", J::str_list(p.all("network-alias")));
                }
                if let Some(mac) = p.get("mac-address") {
                    ep.set("MacAddress", J::s(mac.trim()));
                }
            }
            eps.push((n.clone(), ep));
        }
        J::Obj(eps)
    };
    config.set("NetworkingConfig", J::obj([("EndpointsConfig", endpoints)]));

    let mut query = Vec::new();
    if let Some(n) = p.get("name") {
        query.push(("name", n.to_string()));
    }
    if let Some(pl) = p.get("platform") {
        query.push(("platform", pl.to_string()));
    }
    Ok(CreateRequest {
        body: config,
        query,
        image,
        attach: (a_in, a_out, a_err),
        tty,
        interactive,
        auto_remove,
    })
}

/// Docker's `--expose` values: a port or a range, with an optional protocol; a range
/// gives one port each ("7000-7001/udp" → "7000/udp", "7001/udp").
pub fn parse_expose(e: &str) -> anyhow::Result<Vec<String>> {
    let (ports, proto) = e.split_once('/').unwrap_or((e, "tcp"));
    let bad = |why: &str| anyhow!("invalid range format for --expose: {e}, error: {why}");
    let (a, b) = ports.split_once('-').unwrap_or((ports, ports));
    let num = |s: &str| {
        s.parse::<u16>().map_err(|_| {
            bad(&format!(
                "strconv.ParseUint: parsing \"{s}\": {}",
                if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() {
                    "value out of range"
                } else {
                    "invalid syntax"
                }
            ))
        })
    };
    let (a, b) = (num(a)?, num(b)?);
    if b < a {
        return Err(bad(&format!("invalid range specified: {ports}")));
    }
    Ok((a..=b).map(|p| format!("{p}/{proto}")).collect())
}

/// Docker's `ValidateIPAddress` for `--dns`: the address in canonical form.
pub fn validate_dns(d: &str) -> anyhow::Result<String> {
    d.trim()
        .parse::<std::net::IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| {
            anyhow!(
                "invalid argument \"{d}\" for \"--dns\" flag: IP address is not correctly formatted: {d}"
            )
        })
}

/// Docker's `ValidateDNSSearch`.
pub fn validate_dns_search(d: &str) -> anyhow::Result<String> {
    let v = d.trim_matches(' ');
    if v == "." {
        return Ok(v.to_string());
    }
    let bad =
        || anyhow!("invalid argument \"{d}\" for \"--dns-search\" flag: {v} is not a valid domain");
    let name = v.strip_suffix('.').unwrap_or(v);
    if name.is_empty() || name.len() > 255 || name.starts_with('-') {
        return Err(bad());
    }
    for label in name.split('.') {
        if label.is_empty()
            || label.len() > 63
            || !label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(bad());
        }
    }
    Ok(v.to_string())
}

/// Docker's `ValidateExtraHost`: "host:ip", "host=ip", "[v6]" brackets, `host-gateway`;
/// returns the "host:ip" form the daemon understands.
pub fn validate_extra_host(val: &str) -> anyhow::Result<String> {
    let flag = |msg: String| anyhow!("invalid argument \"{val}\" for \"--add-host\" flag: {msg}");
    let (k, v) = val
        .split_once('=')
        .or_else(|| val.split_once(':'))
        .ok_or_else(|| flag(format!("bad format for add-host: {val:?}")))?;
    if k.is_empty() || k.contains(':') {
        return Err(flag(format!("bad format for add-host: {val:?}")));
    }
    let mut ip = v;
    if ip != "host-gateway" {
        if ip.len() > 2 && ip.starts_with('[') && ip.ends_with(']') {
            ip = &ip[1..ip.len() - 1];
        }
        if ip.trim().parse::<std::net::IpAddr>().is_err() {
            return Err(flag(format!("invalid IP address in add-host: {ip:?}")));
        }
    }
    Ok(format!("{k}:{ip}"))
}

/// Go's `net.ParseMAC` for the 6-byte colon or dash forms.
fn valid_mac(m: &str) -> bool {
    let m = m.trim();
    let parts: Vec<&str> = m.split([':', '-']).collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Docker's rule for several `--network`: the modes that are not user networks
/// (host, none, container:…, default, bridge) cannot be combined with others.
fn check_networks(networks: &[String]) -> anyhow::Result<()> {
    if networks.len() < 2 {
        return Ok(());
    }
    let special = |n: &str| {
        matches!(n, "host" | "none" | "default" | "bridge") || n.starts_with("container:")
    };
    let user = networks.iter().any(|n| !special(n));
    let non_user = networks.iter().any(|n| special(n));
    if user && non_user {
        bail!("conflicting options: cannot attach both user-defined and non-user-defined network-modes");
    }
    if non_user {
        bail!("conflicting options: cannot attach multiple network-modes");
    }
    let mut seen = std::collections::HashSet::new();
    for n in networks {
        if !seen.insert(n) {
            bail!("network {n:?} is specified multiple times");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse;

    fn req(argv: &[&str], detach: bool, console: Option<(u16, u16)>) -> CreateRequest {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let p = parse(CREATE_FLAGS, &argv, false).expect("flags parse");
        build(&p, detach, console).expect("builds")
    }

    fn trace_body(name: &str) -> String {
        let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path)
            .expect("testdata")
            .trim_end()
            .to_string()
    }

    #[test]
    fn same_body_as_docker_for_run_rm_echo() {
        let r = req(&["--rm", "busybox", "echo", "hi"], false, None);
        assert_eq!(r.body.to_compact(), trace_body("run-rm-echo.json"));
        assert!(r.query.is_empty());
    }

    #[test]
    fn same_body_as_docker_for_run_it() {
        let r = req(
            &["-it", "--rm", "--name", "tr-it", "busybox", "sh"],
            false,
            Some((40, 120)),
        );
        assert_eq!(r.body.to_compact(), trace_body("run-it.json"));
        assert_eq!(r.query, vec![("name", "tr-it".to_string())]);
    }

    #[test]
    fn same_body_as_docker_for_run_v_p() {
        let r = req(
            &[
                "-d",
                "--name",
                "tr-web",
                "-v",
                "tr-vol:/data",
                "-p",
                "127.0.0.1:28090:80",
                "busybox",
                "httpd",
                "-f",
                "-p",
                "80",
                "-h",
                "/www",
            ],
            true,
            None,
        );
        assert_eq!(r.body.to_compact(), trace_body("run-v-p.json"));
    }

    #[test]
    fn resources_and_security() {
        let r = req(
            &[
                "-m",
                "64m",
                "--cpus",
                "1.5",
                "--pids-limit",
                "20",
                "--memory-swap",
                "-1",
                "--cap-drop",
                "ALL",
                "--ulimit",
                "nofile=100:200",
                "--restart",
                "on-failure:3",
                "--init",
                "--health-cmd",
                "true",
                "--health-interval",
                "2s",
                "-e",
                "A=1",
                "-l",
                "k=v",
                "--tmpfs",
                "/run:size=1m",
                "--device",
                "/dev/fuse",
                "busybox",
            ],
            true,
            None,
        );
        let h = r.body.get("HostConfig").expect("host config");
        assert_eq!(h.i64_of("Memory"), 64 << 20);
        assert_eq!(h.i64_of("NanoCpus"), 1_500_000_000);
        assert_eq!(h.i64_of("PidsLimit"), 20);
        assert_eq!(h.i64_of("MemorySwap"), -1);
        assert_eq!(
            h.get("CapDrop").map(J::to_compact).as_deref(),
            Some(r#"["ALL"]"#)
        );
        assert_eq!(
            h.get("Ulimits").map(J::to_compact).as_deref(),
            Some(r#"[{"Name":"nofile","Hard":200,"Soft":100}]"#)
        );
        assert_eq!(
            h.get("RestartPolicy").map(J::to_compact).as_deref(),
            Some(r#"{"Name":"on-failure","MaximumRetryCount":3}"#)
        );
        assert_eq!(h.get("Init"), Some(&J::Bool(true)));
        assert_eq!(
            h.get("Tmpfs").map(J::to_compact).as_deref(),
            Some(r#"{"/run":"size=1m"}"#)
        );
        assert_eq!(
            h.get("Devices").map(J::to_compact).as_deref(),
            Some(
                r#"[{"PathOnHost":"/dev/fuse","PathInContainer":"/dev/fuse","CgroupPermissions":"rwm"}]"#
            )
        );
        assert_eq!(
            r.body.get("Healthcheck").map(J::to_compact).as_deref(),
            Some(r#"{"Test":["CMD-SHELL","true"],"Interval":2000000000}"#)
        );
        assert_eq!(
            r.body.get("Env").map(J::to_compact).as_deref(),
            Some(r#"["A=1"]"#)
        );
        assert_eq!(
            r.body.get("Labels").map(J::to_compact).as_deref(),
            Some(r#"{"k":"v"}"#)
        );
        assert_eq!(r.attach, (false, false, false));
    }

    #[test]
    fn bad_values_are_reported() {
        let argv: Vec<String> = ["-m", "lots", "busybox"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = parse(CREATE_FLAGS, &argv, false).expect("flags parse");
        assert_eq!(
            build(&p, true, None).expect_err("bad size").to_string(),
            "invalid argument \"lots\" for \"-m, --memory\" flag: invalid size: 'lots'"
        );
        assert!(parse_publish("a:b:c:d").is_err());
        assert!(parse_publish("80/bogus").is_err());
        assert_eq!(
            parse_publish("127.0.0.1:8000-8001:80-81/udp").ok(),
            Some(vec![
                (
                    "80/udp".to_string(),
                    "127.0.0.1".to_string(),
                    "8000".to_string()
                ),
                (
                    "81/udp".to_string(),
                    "127.0.0.1".to_string(),
                    "8001".to_string()
                ),
            ])
        );
        assert_eq!(
            parse_publish("[::1]:8080:80").ok(),
            Some(vec![(
                "80/tcp".to_string(),
                "::1".to_string(),
                "8080".to_string()
            )])
        );
        assert!(restart_policy("sometimes").is_err());
        assert_eq!(ram_in_bytes("1.5g").ok(), Some(1_610_612_736));
    }

    fn try_req(argv: &[&str]) -> anyhow::Result<CreateRequest> {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let p = parse(CREATE_FLAGS, &argv, false).expect("flags parse");
        build(&p, true, None)
    }

    #[test]
    fn network_flags_fill_the_endpoint() {
        let r = req(
            &[
                "--network",
                "appnet",
                "--network-alias",
                "svc",
                "--ip",
                "10.77.0.50",
                "--mac-address",
                "92:d0:c6:0a:29:33",
                "busybox",
            ],
            true,
            None,
        );
        let h = r.body.get("HostConfig").expect("host config");
        assert_eq!(h.str_of("NetworkMode"), "appnet");
        let ep = r
            .body
            .path(&["NetworkingConfig", "EndpointsConfig", "appnet"])
            .expect("endpoint");
        assert_eq!(
            ep.get("IPAMConfig").map(J::to_compact).as_deref(),
            Some(r#"{"IPv4Address":"10.77.0.50"}"#)
        );
        assert_eq!(
            ep.get("Aliases").map(J::to_compact).as_deref(),
            Some(r#"["svc"]"#)
        );
        assert_eq!(ep.str_of("MacAddress"), "92:d0:c6:0a:29:33");
        // Without --network: "default", no IPAM config.
        let r = req(&["busybox"], true, None);
        let ep = r
            .body
            .path(&["NetworkingConfig", "EndpointsConfig", "default"])
            .expect("endpoint");
        assert_eq!(ep.get("IPAMConfig"), Some(&J::Null));
        // Two user networks: both endpoints, the mode is the first.
        let r = req(&["--network", "a", "--network", "b", "busybox"], true, None);
        assert_eq!(
            r.body
                .path(&["HostConfig", "NetworkMode"])
                .and_then(J::as_str),
            Some("a")
        );
        let eps = r
            .body
            .path(&["NetworkingConfig", "EndpointsConfig"])
            .expect("endpoints");
        assert_eq!(eps.pairs().len(), 2);
        assert_eq!(
            try_req(&["--network", "host", "--network", "a", "busybox"])
                .expect_err("mixed")
                .to_string(),
            "conflicting options: cannot attach both user-defined and non-user-defined network-modes"
        );
        assert_eq!(
            try_req(&["--ip", "10.1.2", "busybox"])
                .expect_err("bad ip")
                .to_string(),
            "invalid argument \"10.1.2\" for \"--ip\" flag: failed to parse IP: \"10.1.2\""
        );
        assert_eq!(
            try_req(&["--mac-address", "92:d0", "busybox"])
                .expect_err("bad mac")
                .to_string(),
            "92:d0 is not a valid mac address"
        );
    }

    #[test]
    fn ports_ranges_and_expose() {
        let r = req(
            &[
                "-p",
                "8000-8001:80-81",
                "-p",
                "127.0.0.1::53/udp",
                "-p",
                "9000-9010:443",
                "--expose",
                "7000-7001",
                "-P",
                "busybox",
            ],
            true,
            None,
        );
        assert_eq!(
            r.body.get("ExposedPorts").map(J::to_compact).as_deref(),
            Some(
                r#"{"443/tcp":{},"53/udp":{},"7000/tcp":{},"7001/tcp":{},"80/tcp":{},"81/tcp":{}}"#
            )
        );
        let h = r.body.get("HostConfig").expect("host config");
        assert_eq!(
            h.get("PortBindings").map(J::to_compact).as_deref(),
            Some(
                r#"{"443/tcp":[{"HostIp":"","HostPort":"9000-9010"}],"53/udp":[{"HostIp":"127.0.0.1","HostPort":""}],"80/tcp":[{"HostIp":"","HostPort":"8000"}],"81/tcp":[{"HostIp":"","HostPort":"8001"}]}"#
            )
        );
        assert_eq!(h.get("PublishAllPorts"), Some(&J::Bool(true)));
        assert_eq!(
            try_req(&["-p", "8000:80-81", "busybox"])
                .expect_err("ranges")
                .to_string(),
            "invalid argument \"8000:80-81\" for \"-p, --publish\" flag: invalid ranges specified for container and host Ports: 80-81 and 8000"
        );
        assert_eq!(
            try_req(&["-p", "80/bogus", "busybox"])
                .expect_err("proto")
                .to_string(),
            "invalid argument \"80/bogus\" for \"-p, --publish\" flag: invalid proto: bogus"
        );
        assert_eq!(
            try_req(&["-p", "1.2.3:80:80", "busybox"])
                .expect_err("ip")
                .to_string(),
            "invalid argument \"1.2.3:80:80\" for \"-p, --publish\" flag: invalid IP address: 1.2.3"
        );
        assert_eq!(
            parse_expose("53/udp").ok(),
            Some(vec!["53/udp".to_string()])
        );
        assert_eq!(
            parse_expose("81-80").expect_err("backwards").to_string(),
            "invalid range format for --expose: 81-80, error: invalid range specified: 81-80"
        );
        assert_eq!(
            parse_expose("http").expect_err("name").to_string(),
            "invalid range format for --expose: http, error: strconv.ParseUint: parsing \"http\": invalid syntax"
        );
    }

    #[test]
    fn dns_and_hosts_are_validated_like_docker() {
        let r = req(
            &[
                "--dns",
                "10.1.2.3",
                "--dns-search",
                "example.test",
                "--dns-option",
                "ndots:2",
                "--add-host",
                "foo=10.9.8.7",
                "--add-host",
                "v6:[::1]",
                "--add-host",
                "gw:host-gateway",
                "busybox",
            ],
            true,
            None,
        );
        let h = r.body.get("HostConfig").expect("host config");
        assert_eq!(
            h.get("Dns").map(J::to_compact).as_deref(),
            Some(r#"["10.1.2.3"]"#)
        );
        assert_eq!(
            h.get("DnsSearch").map(J::to_compact).as_deref(),
            Some(r#"["example.test"]"#)
        );
        assert_eq!(
            h.get("DnsOptions").map(J::to_compact).as_deref(),
            Some(r#"["ndots:2"]"#)
        );
        assert_eq!(
            h.get("ExtraHosts").map(J::to_compact).as_deref(),
            Some(r#"["foo:10.9.8.7","v6:::1","gw:host-gateway"]"#)
        );
        assert_eq!(
            validate_dns("nope").expect_err("dns").to_string(),
            "invalid argument \"nope\" for \"--dns\" flag: IP address is not correctly formatted: nope"
        );
        assert_eq!(
            validate_extra_host("foo").expect_err("format").to_string(),
            "invalid argument \"foo\" for \"--add-host\" flag: bad format for add-host: \"foo\""
        );
        assert_eq!(
            validate_extra_host("foo:bar").expect_err("ip").to_string(),
            "invalid argument \"foo:bar\" for \"--add-host\" flag: invalid IP address in add-host: \"bar\""
        );
        assert!(validate_dns_search("bad domain").is_err());
        assert_eq!(validate_dns_search(".").ok().as_deref(), Some("."));
    }
}
