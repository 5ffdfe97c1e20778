//! The default configuration `runc spec` writes, as data: `sh` in a busybox-style rootfs,
//! new namespaces, the standard mounts, runc's masked and read-only paths, three
//! capabilities. `berth-runtime spec` and the test bundles start from it.

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
        mount("/proc", "proc", "proc", &[]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
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
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["nosuid", "noexec", "nodev", "relatime", "ro"],
        ),
    ];
    let mut linux = Linux {
        masked_paths: s(&[
            "/proc/acpi",
            "/proc/asound",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/sys/firmware",
            "/proc/scsi",
            "/sys/devices/virtual/powercap",
        ]),
        readonly_paths: s(&[
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger",
        ]),
        namespaces: Vec::new(),
        resources: Some(crate::Resources {
            devices: vec![crate::DeviceRule {
                allow: false,
                access: Some("rwm".into()),
                ..Default::default()
            }],
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
