//! The default configuration `runc spec` writes, as data: `sh` in a busybox-style rootfs,
//! new namespaces, the standard mounts, the masked and read-only paths, three
//! capabilities. `berth-runtime spec` and the test bundles start from it.
//!
//! Its pieces are public, for `berth-specgen`'s Docker-style configs to use the same:
//! [`MASKED_PATHS`] and [`READONLY_PATHS`] (Docker's lists; runc's are the same paths),
//! one constructor per standard mount ([`proc_mount`], [`dev_mount`], [`devpts_mount`],
//! [`shm_mount`], [`mqueue_mount`], [`sysfs_mount`], [`cgroup_mount`]), and the devices
//! ([`DEFAULT_DEVICES`], [`deny_all_devices`], [`default_device_allowlist`], which the
//! runtime appends to any spec that restricts devices, as runc does). What differs
//! between the two (the options of `/proc`, the size of `/dev/shm`, read-write `/sys` when
//! privileged, the order of the list) stays with each caller.

use crate::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn mount(dest: &str, typ: &str, src: &str, opts: &[&str]) -> Mount {
    Mount {
        destination: dest.into(),
        typ: Some(typ.into()),
        source: Some(src.into()),
        options: s(opts),
        ..Default::default()
    }
}

/// The paths masked in a container (bind-mounted over with `/dev/null`, or an empty
/// read-only tmpfs for a directory): Docker's list (moby `oci.DefaultLinuxSpec`). runc's
/// `spec` masks the same paths, listed in another order.
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// The paths made read-only in a container: Docker's list, the same as runc's.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// `/proc` (procfs) with `options`: `runc spec` gives none, Docker `nosuid,noexec,nodev`.
pub fn proc_mount(options: &[&str]) -> Mount {
    mount("/proc", "proc", "proc", options)
}

/// `/dev`: a 64 MiB tmpfs the runtime fills with the container's device nodes.
pub fn dev_mount() -> Mount {
    mount(
        "/dev",
        "tmpfs",
        "tmpfs",
        &["nosuid", "strictatime", "mode=755", "size=65536k"],
    )
}

/// `/dev/pts`: a new devpts instance (ptys owned by group 5, `tty`).
pub fn devpts_mount() -> Mount {
    mount(
        "/dev/pts",
        "devpts",
        "devpts",
        &[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ],
    )
}

/// `/dev/shm`: a private tmpfs of `size` (tmpfs syntax: bytes, or with a `k`/`m`/`g`
/// suffix).
pub fn shm_mount(size: &str) -> Mount {
    let size = format!("size={size}");
    mount(
        "/dev/shm",
        "tmpfs",
        "shm",
        &["nosuid", "noexec", "nodev", "mode=1777", &size],
    )
}

/// `/dev/mqueue`: the IPC namespace's POSIX message queues.
pub fn mqueue_mount() -> Mount {
    mount(
        "/dev/mqueue",
        "mqueue",
        "mqueue",
        &["nosuid", "noexec", "nodev"],
    )
}

/// `/sys`, read-only unless `writable` (Docker's `--privileged`).
pub fn sysfs_mount(writable: bool) -> Mount {
    mount(
        "/sys",
        "sysfs",
        "sysfs",
        &["nosuid", "noexec", "nodev", rw(writable)],
    )
}

/// `/sys/fs/cgroup` (the runtime mounts the container's own cgroup there), read-only
/// unless `writable`.
pub fn cgroup_mount(writable: bool) -> Mount {
    mount(
        "/sys/fs/cgroup",
        "cgroup",
        "cgroup",
        &["nosuid", "noexec", "nodev", "relatime", rw(writable)],
    )
}

/// The devices every container gets, as `(path, major, minor)` character devices
/// (runtime-spec config-linux.md "Default Devices"; `/dev/console` and `/dev/ptmx` are
/// set up otherwise).
pub const DEFAULT_DEVICES: [(&str, i64, i64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// The device cgroup rule that denies every device; a list of rules starting with it
/// allows only what follows.
pub fn deny_all_devices() -> DeviceRule {
    DeviceRule {
        allow: false,
        access: Some("rwm".into()),
        ..Default::default()
    }
}

/// The device cgroup rules every container needs (runc's allowed devices): creating any
/// node (`m`; opening it stays denied), the [`DEFAULT_DEVICES`], `/dev/console` (5:1),
/// `/dev/ptmx` (5:2) and the pty slaves (136:*).
///
/// Unlike Docker's, it does not allow `/dev/net/tun` (10:200): creating tunnels needs
/// `CAP_NET_ADMIN`, and a container that has it can be given the device explicitly.
pub fn default_device_allowlist() -> Vec<DeviceRule> {
    let mut v = vec![
        DeviceRule::new(true, "c", None, None, "m"),
        DeviceRule::new(true, "b", None, None, "m"),
    ];
    for (_, major, minor) in DEFAULT_DEVICES {
        v.push(DeviceRule::new(true, "c", Some(major), Some(minor), "rwm"));
    }
    v.push(DeviceRule::new(true, "c", Some(5), Some(1), "rwm"));
    v.push(DeviceRule::new(true, "c", Some(5), Some(2), "rwm"));
    v.push(DeviceRule::new(true, "c", Some(136), None, "rwm"));
    v
}

fn rw(writable: bool) -> &'static str {
    if writable {
        "rw"
    } else {
        "ro"
    }
}

/// runc's default capabilities (`runc spec`).
const DEFAULT_CAPS: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// The default `config.json`; `rootless` gives the uid and gid to map to root in a new
/// user namespace (`runc spec --rootless`).
pub fn default_spec(rootless: Option<(u32, u32)>) -> Spec {
    let caps = s(&DEFAULT_CAPS);
    let mut namespaces: Vec<Namespace> = ["pid", "network", "ipc", "uts", "mount", "cgroup"]
        .iter()
        .map(|t| Namespace {
            typ: t.to_string(),
            path: None,
        })
        .collect();
    let mut mounts = vec![
        proc_mount(&[]),
        dev_mount(),
        devpts_mount(),
        shm_mount("65536k"),
        mqueue_mount(),
        sysfs_mount(false),
        cgroup_mount(false),
    ];
    let mut linux = Linux {
        masked_paths: s(&MASKED_PATHS),
        readonly_paths: s(&READONLY_PATHS),
        namespaces: Vec::new(),
        resources: Some(crate::Resources {
            devices: vec![deny_all_devices()],
            ..Default::default()
        }),
        ..Default::default()
    };
    if let Some((uid, gid)) = rootless {
        namespaces.retain(|n| n.typ != "network" && n.typ != "cgroup");
        namespaces.push(Namespace {
            typ: "user".into(),
            path: None,
        });
        linux.uid_mappings = vec![IdMapping {
            container_id: 0,
            host_id: uid,
            size: 1,
        }];
        linux.gid_mappings = vec![IdMapping {
            container_id: 0,
            host_id: gid,
            size: 1,
        }];
        linux.resources = None;
        mounts.retain(|m| m.destination != "/sys" && m.destination != "/dev/mqueue");
        mounts.push(Mount {
            destination: "/sys".into(),
            typ: Some("none".into()),
            source: Some("/sys".into()),
            options: s(&["rbind", "nosuid", "noexec", "nodev", "ro"]),
            ..Default::default()
        });
    }
    linux.namespaces = namespaces;
    Spec {
        oci_version: OCI_VERSION.into(),
        root: Some(Root {
            path: "rootfs".into(),
            readonly: true,
        }),
        mounts,
        process: Some(Process {
            terminal: true,
            user: User::default(),
            args: s(&["sh"]),
            env: s(&[
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
            ]),
            cwd: "/".into(),
            capabilities: Some(Capabilities {
                bounding: Some(caps.clone()),
                effective: Some(caps.clone()),
                permitted: Some(caps),
                inheritable: None,
                ambient: None,
            }),
            rlimits: vec![Rlimit {
                typ: "RLIMIT_NOFILE".into(),
                hard: 1024,
                soft: 1024,
            }],
            no_new_privileges: true,
            ..Default::default()
        }),
        hostname: Some("berth".into()),
        linux: Some(linux),
        ..Default::default()
    }
}
