//! The default `config.json` (`spec`) and the features document (`features`).

use berth_spec::features::{
    CgroupFeatures, Enabled, Features, LinuxFeatures, MountExtensions, SeccompFeatures,
};
use berth_spec::{
    Capabilities, IdMapping, Linux, Mount, Namespace, Process, Rlimit, Root, Spec, User,
    OCI_VERSION,
};

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

/// The default `config.json` that `spec` writes: `sh` in a busybox-style rootfs, new
/// namespaces, the standard mounts, masked and read-only paths, no extra capabilities.
pub fn default_spec(rootless: bool) -> Spec {
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
        resources: Some(berth_spec::Resources {
            devices: vec![berth_spec::DeviceRule {
                allow: false,
                access: Some("rwm".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    if rootless {
        let uid = rustix::process::geteuid().as_raw();
        let gid = rustix::process::getegid().as_raw();
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

/// What this runtime supports (`features`).
pub fn features() -> Features {
    let layout = berth_cgroups::Layout::detect().ok();
    Features {
        oci_version_min: "1.0.0".into(),
        oci_version_max: OCI_VERSION.into(),
        hooks: s(&[
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop",
        ]),
        mount_options: s(&[
            "async",
            "atime",
            "bind",
            "defaults",
            "dev",
            "diratime",
            "dirsync",
            "exec",
            "lazytime",
            "loud",
            "mand",
            "noatime",
            "nodev",
            "nodiratime",
            "noexec",
            "nolazytime",
            "nomand",
            "norelatime",
            "nostrictatime",
            "nosuid",
            "private",
            "rbind",
            "relatime",
            "remount",
            "ro",
            "rprivate",
            "rro",
            "rshared",
            "rslave",
            "runbindable",
            "rw",
            "shared",
            "silent",
            "slave",
            "strictatime",
            "suid",
            "sync",
            "tmpcopyup",
            "unbindable",
        ]),
        linux: LinuxFeatures {
            namespaces: crate::validate::NAMESPACES
                .iter()
                .map(|(n, _)| n.to_string())
                .collect(),
            capabilities: crate::caps::all_names()
                .iter()
                .map(|c| c.to_string())
                .collect(),
            cgroup: CgroupFeatures {
                v1: !matches!(layout, Some(berth_cgroups::Layout::V2)),
                v2: true,
                systemd: false,
                systemd_user: false,
                rdma: true,
            },
            seccomp: SeccompFeatures {
                enabled: true,
                actions: s(berth_seccomp::supported_actions()),
                operators: s(berth_seccomp::supported_operators()),
                archs: s(&berth_seccomp::supported_archs()),
                known_flags: s(berth_seccomp::known_flags()),
                supported_flags: s(&berth_seccomp::supported_flags()),
            },
            apparmor: Enabled { enabled: false },
            selinux: Enabled { enabled: false },
            intel_rdt: Enabled { enabled: false },
            mount_extensions: MountExtensions {
                idmap: Enabled { enabled: false },
            },
        },
        ..Default::default()
    }
}
