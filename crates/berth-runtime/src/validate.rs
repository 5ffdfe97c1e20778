//! Checks of a bundle's config before anything is created, so that a bad config costs
//! nothing: one message naming the field, and no cgroup, mount or state left behind.

use crate::{Error, Result};
use berth_spec::Spec;
use std::collections::HashSet;
use std::path::Path;

/// Namespace types of the runtime-spec and their `CLONE_NEW*` flags.
pub const NAMESPACES: [(&str, i32); 8] = [
    ("pid", libc::CLONE_NEWPID),
    ("network", libc::CLONE_NEWNET),
    ("mount", libc::CLONE_NEWNS),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("user", libc::CLONE_NEWUSER),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("time", libc::CLONE_NEWTIME),
];

/// The `CLONE_NEW*` flag of a namespace type.
pub fn ns_flag(typ: &str) -> Option<i32> {
    NAMESPACES.iter().find(|(n, _)| *n == typ).map(|(_, f)| *f)
}

fn inval(msg: String) -> Error {
    Error::Invalid(msg)
}

/// Validates `spec` for a container in `bundle`; returns the absolute rootfs path.
pub fn spec(spec: &Spec, bundle: &Path) -> Result<std::path::PathBuf> {
    let v = &spec.oci_version;
    let parts: Vec<&str> = v.split(['.', '-', '+']).collect();
    if parts.len() < 3 || parts[0] != "1" || parts[..3].iter().any(|p| p.parse::<u32>().is_err()) {
        return Err(inval(format!(
            "ociVersion: {v:?} is not a 1.x.y runtime-spec version"
        )));
    }
    let root = spec
        .root
        .as_ref()
        .ok_or_else(|| inval("config.json: root is required".into()))?;
    if root.path.is_empty() {
        return Err(inval("root.path: must not be empty".into()));
    }
    // The rootfs is the operator's path on the host, not the container's: resolving it
    // (`.`, `rootfs/`, symlinks) gives the one name mounts under it are listed by.
    let rootfs = bundle.join(&root.path);
    let rootfs = std::fs::canonicalize(&rootfs).unwrap_or(rootfs);
    match std::fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(inval(format!(
                "root.path: {} is not a directory",
                rootfs.display()
            )))
        }
        Err(e) => {
            return Err(Error::NotFound(format!(
                "root.path: rootfs {} does not exist: {e}",
                rootfs.display()
            )))
        }
    }
    let process = spec
        .process
        .as_ref()
        .ok_or_else(|| inval("config.json: process is required".into()))?;
    if process.args.is_empty() || process.args[0].is_empty() {
        return Err(inval("process.args: must name a program".into()));
    }
    if !process.cwd.starts_with('/') {
        return Err(inval(format!(
            "process.cwd: {:?} must be an absolute path",
            process.cwd
        )));
    }
    for (i, e) in process.env.iter().enumerate() {
        if !e.contains('=') {
            return Err(inval(format!("process.env[{i}]: {e:?} is not KEY=value")));
        }
    }
    if let Some(c) = &process.capabilities {
        crate::caps::validate(c).map_err(|e| inval(e.to_string()))?;
        // Permitted and effective outside the bounding set are dropped, as the kernel
        // does at execve; inheritable (and so ambient) outside it is what capset refuses.
        let bounding = c.bounding.as_deref().unwrap_or_default();
        for (set, list) in [("inheritable", &c.inheritable), ("ambient", &c.ambient)] {
            for cap in list.as_deref().unwrap_or_default() {
                if !bounding.contains(cap) {
                    return Err(inval(format!(
                        "process.capabilities.{set}: {cap} is not in process.capabilities.bounding (capset: Operation not permitted)"
                    )));
                }
            }
        }
    }
    if let Some(s) = &process.scheduler {
        crate::finalize::scheduler(s)?;
    }
    crate::rlimit::validate(&process.rlimits).map_err(|e| inval(e.to_string()))?;
    if let Some(p) = &process.apparmor_profile {
        if !p.is_empty() && p != "unconfined" {
            return Err(Error::Unsupported(format!(
                "process.apparmorProfile {p:?}: AppArmor is not available on this host"
            )));
        }
    }
    for (i, m) in spec.mounts.iter().enumerate() {
        if !m.destination.starts_with('/') {
            return Err(inval(format!(
                "mounts[{i}].destination: {:?} must be absolute",
                m.destination
            )));
        }
        crate::mountopts::parse(&m.options, m.typ.as_deref())
            .map_err(|e| inval(format!("mounts[{i}]: {e}")))?;
    }
    if let Some(h) = &spec.hooks {
        for (kind, list) in [
            ("prestart", &h.prestart),
            ("createRuntime", &h.create_runtime),
            ("createContainer", &h.create_container),
            ("startContainer", &h.start_container),
            ("poststart", &h.poststart),
            ("poststop", &h.poststop),
        ] {
            for (i, hook) in list.iter().enumerate() {
                if !hook.path.starts_with('/') {
                    return Err(inval(format!(
                        "hooks.{kind}[{i}].path: {:?} must be absolute",
                        hook.path
                    )));
                }
                if hook.timeout.is_some_and(|t| t <= 0) {
                    return Err(inval(format!(
                        "hooks.{kind}[{i}].timeout: must be positive"
                    )));
                }
            }
        }
    }
    let Some(linux) = &spec.linux else {
        return Ok(rootfs);
    };
    let mut seen = HashSet::new();
    for (i, ns) in linux.namespaces.iter().enumerate() {
        if ns_flag(&ns.typ).is_none() {
            return Err(inval(format!(
                "linux.namespaces[{i}]: unknown namespace type {:?}",
                ns.typ
            )));
        }
        if !seen.insert(ns.typ.as_str()) {
            return Err(inval(format!(
                "linux.namespaces[{i}]: duplicate namespace {:?}",
                ns.typ
            )));
        }
        if let Some(p) = ns.path.as_deref().filter(|p| !p.is_empty()) {
            if !Path::new(p).exists() {
                return Err(Error::NotFound(format!(
                    "linux.namespaces[{i}]: {} namespace path {p} does not exist",
                    ns.typ
                )));
            }
        }
    }
    let has = |t: &str| linux.namespaces.iter().any(|n| n.typ == t);
    let new_user = linux
        .namespaces
        .iter()
        .any(|n| n.typ == "user" && n.path.as_deref().unwrap_or("").is_empty());
    if new_user && (linux.uid_mappings.is_empty() || linux.gid_mappings.is_empty()) {
        return Err(inval(
            "linux.uidMappings/gidMappings: required with a new user namespace".into(),
        ));
    }
    if !has("user") && (!linux.uid_mappings.is_empty() || !linux.gid_mappings.is_empty()) {
        return Err(inval(
            "linux.uidMappings: given without a user namespace".into(),
        ));
    }
    if (spec.hostname.as_deref().is_some_and(|h| !h.is_empty())
        || spec.domainname.as_deref().is_some_and(|h| !h.is_empty()))
        && !has("uts")
    {
        return Err(inval("hostname: setting it needs a uts namespace".into()));
    }
    if !linux.time_offsets.is_empty() && !has("time") {
        return Err(inval(
            "linux.timeOffsets: given without a time namespace".into(),
        ));
    }
    for (i, d) in linux.devices.iter().enumerate() {
        if !d.path.starts_with('/') {
            return Err(inval(format!(
                "linux.devices[{i}].path: {:?} must be absolute",
                d.path
            )));
        }
        if d.typ != "p"
            && (d.major < 0
                || d.minor < 0
                || d.major > u32::MAX.into()
                || d.minor > u32::MAX.into())
        {
            return Err(inval(format!(
                "linux.devices[{i}]: major {} and minor {} must be device numbers",
                d.major, d.minor
            )));
        }
        if !matches!(d.typ.as_str(), "c" | "b" | "u" | "p") {
            return Err(inval(format!(
                "linux.devices[{i}].type: unknown device type {:?}",
                d.typ
            )));
        }
    }
    for key in linux.sysctl.keys() {
        if key.contains('/') || key.split('.').any(|c| c.is_empty() || c == "..") {
            return Err(inval(format!("linux.sysctl: invalid key {key:?}")));
        }
    }
    if let Some(r) = &linux.resources {
        berth_cgroups::Cgroup::validate(r)?;
    }
    if let Some(s) = &linux.seccomp {
        berth_seccomp::validate(s)?;
    }
    if let Some(p) = &linux.personality {
        if !matches!(p.domain.as_str(), "LINUX" | "LINUX32") {
            return Err(inval(format!(
                "linux.personality.domain: unknown domain {:?}",
                p.domain
            )));
        }
    }
    Ok(rootfs)
}
