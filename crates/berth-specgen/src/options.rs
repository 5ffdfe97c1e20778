//! Parsers for the small string languages of `HostConfig`: security options, namespace
//! modes, sysctls, ulimits and CPU/memory-node lists. Each error names the flag and value.

use std::collections::BTreeSet;

use berth_model::docker::{HostConfig, HostConfigCgroupnsModeEnum, ResourcesUlimits};
use berth_model::{Error, Result};

/// The seccomp choice of `--security-opt seccomp=…`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SeccompChoice {
    /// berth's default allowlist ([`crate::default_profile`]); also `seccomp=builtin`.
    #[default]
    Default,
    /// `seccomp=unconfined`: no filter.
    Unconfined,
    /// A Docker-format JSON profile, as the CLI sends it (the file's content).
    Profile(String),
}

/// The parsed `SecurityOpt` list.
///
/// `label=…` (SELinux) and `apparmor=…` are accepted and ignored: berth's hosts run
/// neither LSM, so there is no label or profile to apply, and refusing them would break
/// compose files written for hosts that do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityOptions {
    /// `no-new-privileges[:true|false]` / `no-new-privileges=true|false`.
    pub no_new_privileges: bool,
    /// `seccomp=…`.
    pub seccomp: SeccompChoice,
    /// `systempaths=unconfined`: no masked or read-only `/proc` and `/sys` paths.
    pub systempaths_unconfined: bool,
    /// `writable-cgroups=true`: `/sys/fs/cgroup` mounted read-write.
    pub writable_cgroups: bool,
}

fn parse_bool(opt: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" => Ok(true),
        "0" | "f" | "false" => Ok(false),
        _ => Err(Error::invalid(format!(
            "invalid --security-opt {opt:?}: {v:?} is not a boolean"
        ))),
    }
}

/// Parses `SecurityOpt` entries (`key=value`, or Docker's legacy `key:value`).
pub fn parse_security_opts(opts: &[String]) -> Result<SecurityOptions> {
    let mut out = SecurityOptions::default();
    for opt in opts {
        if opt == "no-new-privileges" {
            out.no_new_privileges = true;
            continue;
        }
        let (key, value) = match opt.split_once('=') {
            Some(kv) => kv,
            None => opt.split_once(':').ok_or_else(|| {
                Error::invalid(format!(
                    "invalid --security-opt {opt:?}: expected key=value"
                ))
            })?,
        };
        match key {
            "no-new-privileges" => out.no_new_privileges = parse_bool(opt, value)?,
            "seccomp" => {
                out.seccomp = match value {
                    "unconfined" => SeccompChoice::Unconfined,
                    "builtin" | "" => SeccompChoice::Default,
                    profile => SeccompChoice::Profile(profile.to_string()),
                }
            }
            "systempaths" if value == "unconfined" => out.systempaths_unconfined = true,
            "writable-cgroups" => out.writable_cgroups = parse_bool(opt, value)?,
            "label" | "apparmor" => {}
            _ => {
                return Err(Error::invalid(format!(
                    "invalid --security-opt {opt:?}: unknown option {key:?} (known: \
                     no-new-privileges, seccomp, systempaths, writable-cgroups, label, apparmor)"
                )))
            }
        }
    }
    Ok(out)
}

/// How a namespace is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsMode {
    /// A new namespace of the container's own.
    Private,
    /// The host's (no namespace entry in the spec).
    Host,
    /// Another container's, by the reference given in `container:<ref>`.
    Container(String),
}

fn container_ref<'a>(flag: &str, mode: &'a str) -> Result<Option<&'a str>> {
    match mode.strip_prefix("container:") {
        Some("") => Err(Error::invalid(format!(
            "invalid {flag} mode {mode:?}: expected container:<name|id>"
        ))),
        Some(r) => Ok(Some(r)),
        None => Ok(None),
    }
}

/// `NetworkMode`: `host`; `none`, `bridge`, `default`, or a network name (own namespace);
/// `container:<ref>`.
pub fn network_mode(host: &HostConfig) -> Result<NsMode> {
    let mode = host.network_mode.as_deref().unwrap_or("");
    if let Some(r) = container_ref("network", mode)? {
        return Ok(NsMode::Container(r.to_string()));
    }
    Ok(match mode {
        "host" => NsMode::Host,
        _ => NsMode::Private,
    })
}

/// The IPC modes of `--ipc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpcMode {
    /// Own namespace and `/dev/shm` (Docker's default).
    Private,
    /// Own namespace whose `/dev/shm` other containers may join.
    Shareable,
    /// Own namespace, no `/dev/shm`.
    None,
    /// The host's namespace and `/dev/shm`.
    Host,
    /// Another container's namespace and `/dev/shm`.
    Container(String),
}

/// Parses `IpcMode`.
pub fn ipc_mode(host: &HostConfig) -> Result<IpcMode> {
    let mode = host.ipc_mode.as_deref().unwrap_or("");
    if let Some(r) = container_ref("IPC", mode)? {
        return Ok(IpcMode::Container(r.to_string()));
    }
    match mode {
        "" | "private" => Ok(IpcMode::Private),
        "shareable" => Ok(IpcMode::Shareable),
        "none" => Ok(IpcMode::None),
        "host" => Ok(IpcMode::Host),
        m => Err(Error::invalid(format!(
            "invalid IPC mode: {m} (use private, shareable, none, host or container:<name|id>)"
        ))),
    }
}

/// Parses `PidMode`.
pub fn pid_mode(host: &HostConfig) -> Result<NsMode> {
    let mode = host.pid_mode.as_deref().unwrap_or("");
    if let Some(r) = container_ref("PID", mode)? {
        return Ok(NsMode::Container(r.to_string()));
    }
    match mode {
        "" | "private" => Ok(NsMode::Private),
        "host" => Ok(NsMode::Host),
        m => Err(Error::invalid(format!(
            "invalid PID mode: {m} (use host or container:<name|id>)"
        ))),
    }
}

/// Parses `UTSMode`.
pub fn uts_mode(host: &HostConfig) -> Result<NsMode> {
    match host.uts_mode.as_deref().unwrap_or("") {
        "" | "private" => Ok(NsMode::Private),
        "host" => Ok(NsMode::Host),
        m => Err(Error::invalid(format!("invalid UTS mode: {m} (use host)"))),
    }
}

/// `CgroupnsMode`: unset means `private` on cgroup v2 and `host` on v1, as in Docker.
pub fn cgroupns_mode(host: &HostConfig, cgroup_v2: bool) -> NsMode {
    match host.cgroupns_mode {
        Some(HostConfigCgroupnsModeEnum::PRIVATE) => NsMode::Private,
        Some(HostConfigCgroupnsModeEnum::HOST) => NsMode::Host,
        _ if cgroup_v2 => NsMode::Private,
        _ => NsMode::Host,
    }
}

/// Checks `UsernsMode`: only the host's user namespace is supported (no userns-remap).
pub fn check_userns_mode(host: &HostConfig) -> Result<()> {
    match host.userns_mode.as_deref().unwrap_or("") {
        "" | "host" => Ok(()),
        m => Err(Error::invalid(format!(
            "invalid user namespace mode {m:?}: berth supports only \"host\" (no userns-remap)"
        ))),
    }
}

/// The container references a host config's `container:<ref>` modes name (network, IPC,
/// PID), deduplicated: the engine resolves each to the PID of that running container
/// and passes them as [`crate::GenerateInput::container_pids`].
pub fn referenced_containers(host: &HostConfig) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in [&host.network_mode, &host.ipc_mode, &host.pid_mode] {
        if let Some(r) = m.as_deref().and_then(|m| m.strip_prefix("container:")) {
            if !r.is_empty() && !out.iter().any(|x| x == r) {
                out.push(r.to_string());
            }
        }
    }
    out
}

/// IPC sysctls that are namespaced (everything else under `kernel.` is host-wide).
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Checks one `--sysctl`: only namespaced keys, and only when the container owns the
/// namespace they live in.
pub fn check_sysctl(key: &str, value: &str, net_host: bool, ipc_host: bool) -> Result<()> {
    if key.is_empty() || key.contains('/') || key.split('.').any(|p| p.is_empty() || p == "..") {
        return Err(Error::invalid(format!("invalid sysctl {key:?}")));
    }
    if value.contains('\n') {
        return Err(Error::invalid(format!(
            "invalid value for sysctl {key:?}: contains a newline"
        )));
    }
    if key.starts_with("net.") {
        if net_host {
            return Err(Error::invalid(format!(
                "sysctl {key:?} is not allowed in the host network namespace (--network host)"
            )));
        }
        return Ok(());
    }
    if IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.") {
        if ipc_host {
            return Err(Error::invalid(format!(
                "sysctl {key:?} is not allowed in the host IPC namespace (--ipc host)"
            )));
        }
        return Ok(());
    }
    Err(Error::invalid(format!(
        "sysctl {key:?} is not allowed: it is not namespaced (allowed: net.*, fs.mqueue.*, \
         kernel.msg*, kernel.sem, kernel.shm*)"
    )))
}

const ULIMITS: [&str; 16] = [
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// A ulimit as an OCI rlimit: `(RLIMIT_NAME, soft, hard)`; -1 means unlimited.
pub fn parse_ulimit(u: &ResourcesUlimits) -> Result<(String, u64, u64)> {
    let name = u.name.as_deref().unwrap_or("");
    if !ULIMITS.contains(&name) {
        return Err(Error::invalid(format!("invalid ulimit type: {name}")));
    }
    let conv = |v: Option<i64>, which: &str| -> Result<u64> {
        match v.unwrap_or(0) {
            -1 => Ok(u64::MAX),
            n if n < 0 => Err(Error::invalid(format!(
                "invalid ulimit {name}: {which} limit {n} is negative (-1 means unlimited)"
            ))),
            n => Ok(n as u64),
        }
    };
    let soft = conv(u.soft, "soft")?;
    let hard = conv(u.hard, "hard")?;
    if soft > hard {
        return Err(Error::invalid(format!(
            "ulimit soft limit must be less than or equal to hard limit: {} > {}",
            u.soft.unwrap_or(0),
            u.hard.unwrap_or(0)
        )));
    }
    Ok((format!("RLIMIT_{}", name.to_ascii_uppercase()), soft, hard))
}

/// Parses a cpuset list (`0-3,5`) into its members; `None` when malformed.
pub fn parse_cpuset(list: &str) -> Option<BTreeSet<u32>> {
    let mut out = BTreeSet::new();
    for part in list.split(',') {
        let part = part.trim();
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let v = part.parse::<u32>().ok()?;
                (v, v)
            }
        };
        if a > b || b - a > 8192 {
            return None;
        }
        out.extend(a..=b);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn security_opts() {
        let o = parse_security_opts(&s(&["no-new-privileges"])).expect("ok");
        assert!(o.no_new_privileges);
        let o = parse_security_opts(&s(&["no-new-privileges:false", "seccomp=unconfined"]))
            .expect("ok");
        assert!(!o.no_new_privileges);
        assert_eq!(o.seccomp, SeccompChoice::Unconfined);
        let o = parse_security_opts(&s(&["label=disable", "apparmor=unconfined", "seccomp={}"]))
            .expect("ok");
        assert_eq!(o.seccomp, SeccompChoice::Profile("{}".into()));
        let e = parse_security_opts(&s(&["bogus"])).expect_err("bad");
        assert!(e.message.contains("\"bogus\""), "{e}");
        let e = parse_security_opts(&s(&["foo=bar"])).expect_err("bad");
        assert!(e.message.contains("unknown option \"foo\""), "{e}");
        let e = parse_security_opts(&s(&["no-new-privileges=maybe"])).expect_err("bad");
        assert!(e.message.contains("not a boolean"), "{e}");
    }

    #[test]
    fn modes() {
        let h = |n: &str| HostConfig {
            network_mode: Some(n.into()),
            ipc_mode: Some("container:db".into()),
            pid_mode: Some("container:db".into()),
            ..Default::default()
        };
        assert_eq!(network_mode(&h("host")).ok(), Some(NsMode::Host));
        assert_eq!(network_mode(&h("none")).ok(), Some(NsMode::Private));
        assert_eq!(network_mode(&h("mynet")).ok(), Some(NsMode::Private));
        assert_eq!(
            network_mode(&h("container:web")).ok(),
            Some(NsMode::Container("web".into()))
        );
        assert!(network_mode(&h("container:")).is_err());
        assert_eq!(
            referenced_containers(&h("container:web")),
            s(&["web", "db"])
        );
        let bad = HostConfig {
            ipc_mode: Some("weird".into()),
            ..Default::default()
        };
        assert!(ipc_mode(&bad)
            .expect_err("bad")
            .message
            .contains("invalid IPC mode: weird"));
        assert_eq!(cgroupns_mode(&HostConfig::default(), true), NsMode::Private);
        assert_eq!(cgroupns_mode(&HostConfig::default(), false), NsMode::Host);
    }

    #[test]
    fn sysctls() {
        assert!(check_sysctl("net.ipv4.ip_forward", "1", false, false).is_ok());
        let e = check_sysctl("net.ipv4.ip_forward", "1", true, false).expect_err("host net");
        assert!(e.message.contains("host network namespace"), "{e}");
        assert!(check_sysctl("kernel.shmmax", "1", false, false).is_ok());
        assert!(check_sysctl("kernel.shmmax", "1", false, true).is_err());
        let e = check_sysctl("kernel.panic", "1", false, false).expect_err("not namespaced");
        assert!(e.message.contains("not namespaced"), "{e}");
        assert!(check_sysctl("net..x", "1", false, false).is_err());
    }

    #[test]
    fn ulimits() {
        let u = |n: &str, s: i64, h: i64| ResourcesUlimits {
            name: Some(n.into()),
            soft: Some(s),
            hard: Some(h),
        };
        assert_eq!(
            parse_ulimit(&u("nofile", 1024, 2048)).ok(),
            Some(("RLIMIT_NOFILE".to_string(), 1024, 2048))
        );
        assert_eq!(
            parse_ulimit(&u("core", -1, -1)).ok().map(|x| x.2),
            Some(u64::MAX)
        );
        let e = parse_ulimit(&u("nofile", 10, 5)).expect_err("soft>hard");
        assert_eq!(
            e.message,
            "ulimit soft limit must be less than or equal to hard limit: 10 > 5"
        );
        assert_eq!(
            parse_ulimit(&u("bogus", 1, 1)).expect_err("x").message,
            "invalid ulimit type: bogus"
        );
    }

    #[test]
    fn cpusets() {
        assert_eq!(
            parse_cpuset("0-2,5").map(|s| s.into_iter().collect::<Vec<_>>()),
            Some(vec![0, 1, 2, 5])
        );
        assert_eq!(parse_cpuset("1-0"), None);
        assert_eq!(parse_cpuset("a"), None);
        assert_eq!(parse_cpuset(""), None);
    }
}
