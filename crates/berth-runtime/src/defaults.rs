//! The default `config.json` (`spec`) and the features document (`features`).

use berth_spec::features::{
    CgroupFeatures, Enabled, Features, LinuxFeatures, MountExtensions, SeccompFeatures,
};
use berth_spec::{Spec, OCI_VERSION};

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// The default `config.json` that `spec` writes (see [`berth_spec::defaults`]).
pub fn default_spec(rootless: bool) -> Spec {
    let ids = rootless.then(|| {
        (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        )
    });
    berth_spec::defaults::default_spec(ids)
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
