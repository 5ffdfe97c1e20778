//! The generated spec for `docker run` flag combinations, checked field by field as the
//! runtime will read them. No root needed.

use std::collections::HashMap;

use berth_model::docker::{
    ContainerConfig, DeviceMapping, HostConfig, HostConfigCgroupnsModeEnum, ResourcesUlimits,
};
use berth_spec::Spec;
use berth_specgen::{generate, parse_mounts, GenerateInput, MountSource, ResolvedUser};

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct Case {
    input: GenerateInput,
    _rootfs: tempfile::TempDir,
}

fn case(config: ContainerConfig, host: HostConfig) -> Case {
    let rootfs = tempfile::tempdir().expect("rootfs");
    std::fs::create_dir_all(rootfs.path().join("etc")).expect("etc");
    std::fs::write(
        rootfs.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
    )
    .expect("passwd");
    std::fs::write(
        rootfs.path().join("etc/group"),
        "root:x:0:\nnogroup:x:65534:\n",
    )
    .expect("group");
    let mut config = config;
    if config.cmd.is_none() && config.entrypoint.is_none() {
        config.cmd = Some(s(&["sh"]));
    }
    let mounts = parse_mounts(&config, &host).expect("mounts");
    let input = GenerateInput {
        id: ID.into(),
        config,
        host,
        rootfs: rootfs.path().to_path_buf(),
        hostname_path: Some("/var/lib/berth/containers/x/hostname".into()),
        hosts_path: Some("/var/lib/berth/containers/x/hosts".into()),
        resolv_conf_path: Some("/var/lib/berth/containers/x/resolv.conf".into()),
        mounts,
        cgroups_path: "/berth/x".into(),
        cgroup_v2: true,
        swap_accounting: true,
        ..Default::default()
    };
    Case {
        input,
        _rootfs: rootfs,
    }
}

fn gen(config: ContainerConfig, host: HostConfig) -> Spec {
    let c = case(config, host);
    generate(&c.input).expect("generate")
}

fn gen_err(config: ContainerConfig, host: HostConfig) -> String {
    let c = case(config, host);
    generate(&c.input).expect_err("must fail").message
}

fn caps(spec: &Spec) -> Vec<String> {
    spec.process
        .as_ref()
        .and_then(|p| p.capabilities.as_ref())
        .and_then(|c| c.effective.clone())
        .unwrap_or_default()
}

fn linux(spec: &Spec) -> &berth_spec::Linux {
    spec.linux.as_ref().expect("linux")
}

fn mount<'a>(spec: &'a Spec, dest: &str) -> Option<&'a berth_spec::Mount> {
    spec.mounts.iter().find(|m| m.destination == dest)
}

fn ns_types(spec: &Spec) -> Vec<(String, Option<String>)> {
    linux(spec)
        .namespaces
        .iter()
        .map(|n| (n.typ.clone(), n.path.clone()))
        .collect()
}

fn env(spec: &Spec) -> Vec<String> {
    spec.process
        .as_ref()
        .map(|p| p.env.clone())
        .unwrap_or_default()
}

#[test]
fn defaults() {
    let spec = gen(ContainerConfig::default(), HostConfig::default());
    let p = spec.process.as_ref().expect("process");
    assert_eq!(p.args, ["sh"]);
    assert_eq!(p.cwd, "/");
    assert_eq!((p.user.uid, p.user.gid), (0, 0));
    assert!(!p.terminal);
    assert!(!p.no_new_privileges);
    assert_eq!(
        env(&spec),
        [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOSTNAME=0123456789ab",
            "HOME=/root"
        ]
    );
    assert_eq!(spec.hostname.as_deref(), Some("0123456789ab"));
    let c = caps(&spec);
    assert_eq!(c.len(), 13);
    assert!(!c.contains(&"CAP_NET_RAW".to_string()));
    assert!(c.contains(&"CAP_CHOWN".to_string()));
    let l = linux(&spec);
    assert_eq!(l.cgroups_path.as_deref(), Some("/berth/x"));
    assert_eq!(l.masked_paths.len(), 11);
    assert!(l.masked_paths.contains(&"/proc/kcore".to_string()));
    assert!(l.readonly_paths.contains(&"/proc/sys".to_string()));
    assert_eq!(
        l.sysctl
            .get("net.ipv4.ping_group_range")
            .map(String::as_str),
        Some("0 2147483647")
    );
    let seccomp = l.seccomp.as_ref().expect("seccomp");
    assert_eq!(seccomp.default_action, "SCMP_ACT_ERRNO");
    let types: Vec<String> = ns_types(&spec).into_iter().map(|n| n.0).collect();
    assert_eq!(types, ["mount", "network", "ipc", "pid", "uts", "cgroup"]);
    let shm = mount(&spec, "/dev/shm").expect("shm");
    assert!(shm.options.contains(&"size=67108864".to_string()));
    let rules = &l.resources.as_ref().expect("resources").devices;
    assert!(!rules[0].allow);
    assert!(!rules
        .iter()
        .any(|r| r.major == Some(10) && r.minor == Some(200)));
    assert!(l.devices.is_empty());
    let hosts = mount(&spec, "/etc/hosts").expect("hosts");
    assert_eq!(
        hosts.source.as_deref(),
        Some("/var/lib/berth/containers/x/hosts")
    );
    assert!(hosts.options.contains(&"rw".to_string()));
    assert_eq!(
        mount(&spec, "/sys").map(|m| m.options.contains(&"ro".to_string())),
        Some(true)
    );
    assert!(!spec.root.as_ref().expect("root").readonly);
}

#[test]
fn entrypoint_cmd_tty_env_workdir() {
    let spec = gen(
        ContainerConfig {
            entrypoint: Some(s(&["/bin/sh", "-c"])),
            cmd: Some(s(&["echo hi"])),
            tty: Some(true),
            env: Some(s(&["PATH=/custom", "FOO=bar", "HOME=/h", "TERM"])),
            working_dir: Some("/srv".into()),
            hostname: Some("web".into()),
            domainname: Some("example.org".into()),
            ..Default::default()
        },
        HostConfig::default(),
    );
    let p = spec.process.as_ref().expect("process");
    assert_eq!(p.args, ["/bin/sh", "-c", "echo hi"]);
    assert!(p.terminal);
    assert_eq!(p.cwd, "/srv");
    assert_eq!(
        env(&spec),
        ["PATH=/custom", "HOSTNAME=web", "FOO=bar", "HOME=/h"]
    );
    assert_eq!(spec.hostname.as_deref(), Some("web"));
    assert_eq!(spec.domainname.as_deref(), Some("example.org"));
    let spec = gen(
        ContainerConfig {
            tty: Some(true),
            ..Default::default()
        },
        HostConfig::default(),
    );
    assert!(env(&spec).contains(&"TERM=xterm".to_string()));
}

#[test]
fn cap_drop_all_add_net_admin() {
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            cap_drop: Some(s(&["ALL"])),
            cap_add: Some(s(&["net_admin"])),
            ..Default::default()
        },
    );
    assert_eq!(caps(&spec), ["CAP_NET_ADMIN"]);
    let seccomp = linux(&spec).seccomp.as_ref().expect("seccomp");
    assert!(!seccomp.syscalls[0].names.contains(&"chroot".to_string()));
}

#[test]
fn cap_add_sys_admin_opens_seccomp() {
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            cap_add: Some(s(&["SYS_ADMIN"])),
            ..Default::default()
        },
    );
    let seccomp = linux(&spec).seccomp.as_ref().expect("seccomp");
    assert!(seccomp.syscalls[0].names.contains(&"mount".to_string()));
    assert!(seccomp
        .syscalls
        .iter()
        .any(|r| r.names == ["clone"] && r.args.is_empty()));
}

#[test]
fn unknown_capability() {
    let e = gen_err(
        ContainerConfig::default(),
        HostConfig {
            cap_add: Some(s(&["CAP_FOO"])),
            ..Default::default()
        },
    );
    assert_eq!(e, "unknown capability: \"CAP_FOO\"");
}

#[test]
fn memory_and_swap() {
    let mb = 1 << 20;
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            memory: Some(64 * mb),
            memory_swap: Some(128 * mb),
            memory_reservation: Some(32 * mb),
            memory_swappiness: Some(10),
            oom_kill_disable: Some(true),
            ..Default::default()
        },
    );
    let m = linux(&spec)
        .resources
        .as_ref()
        .and_then(|r| r.memory.clone())
        .expect("memory");
    assert_eq!(m.limit, Some(64 * mb));
    assert_eq!(m.swap, Some(128 * mb));
    assert_eq!(m.reservation, Some(32 * mb));
    assert_eq!(m.swappiness, Some(10));
    assert_eq!(m.disable_oom_killer, Some(true));
    // -m alone: swap is twice the memory (Docker), -1 is unlimited.
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            memory: Some(64 * mb),
            ..Default::default()
        },
    );
    let m = linux(&spec)
        .resources
        .as_ref()
        .and_then(|r| r.memory.clone())
        .expect("memory");
    assert_eq!(m.swap, Some(128 * mb));
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            memory: Some(64 * mb),
            memory_swap: Some(-1),
            ..Default::default()
        },
    );
    let m = linux(&spec)
        .resources
        .as_ref()
        .and_then(|r| r.memory.clone())
        .expect("memory");
    assert_eq!(m.swap, Some(-1));
}

#[test]
fn cpus() {
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            nano_cpus: Some(1_500_000_000),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0".into()),
            pids_limit: Some(100),
            ..Default::default()
        },
    );
    let r = linux(&spec).resources.as_ref().expect("resources");
    let cpu = r.cpu.as_ref().expect("cpu");
    assert_eq!(cpu.quota, Some(150_000));
    assert_eq!(cpu.period, Some(100_000));
    assert_eq!(cpu.shares, Some(512));
    assert_eq!(cpu.cpus.as_deref(), Some("0"));
    assert_eq!(r.pids.as_ref().map(|p| p.limit), Some(100));
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            cpu_quota: Some(50_000),
            cpu_period: Some(200_000),
            pids_limit: Some(-1),
            ..Default::default()
        },
    );
    let r = linux(&spec).resources.as_ref().expect("resources");
    let cpu = r.cpu.as_ref().expect("cpu");
    assert_eq!((cpu.quota, cpu.period), (Some(50_000), Some(200_000)));
    assert!(r.pids.is_none());
}

#[test]
fn tmpfs_and_read_only() {
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            tmpfs: Some(HashMap::from([(
                "/run".to_string(),
                "rw,size=64m".to_string(),
            )])),
            readonly_rootfs: Some(true),
            ..Default::default()
        },
    );
    assert!(spec.root.as_ref().expect("root").readonly);
    let run = mount(&spec, "/run").expect("/run");
    assert_eq!(run.typ.as_deref(), Some("tmpfs"));
    assert_eq!(run.options, ["noexec", "nosuid", "nodev", "size=64m", "rw"]);
    let hosts = mount(&spec, "/etc/hosts").expect("hosts");
    assert!(hosts.options.contains(&"ro".to_string()));
}

#[test]
fn user_nobody_and_group_add() {
    let spec = gen(
        ContainerConfig {
            user: Some("nobody".into()),
            ..Default::default()
        },
        HostConfig {
            group_add: Some(s(&["1234"])),
            ..Default::default()
        },
    );
    let u = &spec.process.as_ref().expect("process").user;
    assert_eq!((u.uid, u.gid), (65534, 65534));
    assert_eq!(u.additional_gids, [65534, 1234]);
    assert!(env(&spec).contains(&"HOME=/home".to_string()));
    let e = gen_err(
        ContainerConfig {
            user: Some("x".into()),
            ..Default::default()
        },
        HostConfig::default(),
    );
    assert_eq!(
        e,
        "unable to find user x: no matching entries in passwd file"
    );
}

#[test]
fn resolved_user_is_used_as_given() {
    let mut c = case(ContainerConfig::default(), HostConfig::default());
    c.input.user = Some(ResolvedUser {
        uid: 5,
        gid: 6,
        additional_gids: vec![7],
        home: "/five".into(),
    });
    let spec = generate(&c.input).expect("ok");
    let u = &spec.process.as_ref().expect("process").user;
    assert_eq!((u.uid, u.gid, u.additional_gids.clone()), (5, 6, vec![7]));
}

#[test]
fn privileged() {
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            privileged: Some(true),
            ..Default::default()
        },
    );
    let expected = berth_specgen::caps::daemon_bounding_set().expect("CapBnd");
    assert_eq!(caps(&spec), expected);
    let l = linux(&spec);
    assert!(l.seccomp.is_none());
    assert!(l.masked_paths.is_empty());
    assert!(l.readonly_paths.is_empty());
    assert!(l.devices.iter().any(|d| d.path == "/dev/null"));
    let rules = &l.resources.as_ref().expect("resources").devices;
    assert!(rules[0].allow && rules[0].typ.is_none());
    assert_eq!(
        mount(&spec, "/sys").map(|m| m.options.contains(&"rw".to_string())),
        Some(true)
    );
}

#[test]
fn seccomp_unconfined_and_custom_and_nnp() {
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            security_opt: Some(s(&[
                "seccomp=unconfined",
                "no-new-privileges",
                "label=disable",
            ])),
            ..Default::default()
        },
    );
    assert!(linux(&spec).seccomp.is_none());
    assert!(spec.process.as_ref().expect("p").no_new_privileges);
    assert!(!linux(&spec).masked_paths.is_empty(), "masking stays");
    let profile = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#;
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            security_opt: Some(vec![format!("seccomp={profile}")]),
            ..Default::default()
        },
    );
    let sc = linux(&spec).seccomp.as_ref().expect("seccomp");
    assert_eq!(sc.default_action, "SCMP_ACT_ALLOW");
    assert_eq!(sc.syscalls[0].names, ["mkdir"]);
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            security_opt: Some(s(&["systempaths=unconfined"])),
            ..Default::default()
        },
    );
    assert!(linux(&spec).masked_paths.is_empty());
}

#[test]
fn network_host_and_sysctls() {
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            network_mode: Some("host".into()),
            ..Default::default()
        },
    );
    assert!(!ns_types(&spec).iter().any(|n| n.0 == "network"));
    assert!(
        linux(&spec).sysctl.is_empty(),
        "no ping sysctl in the host netns"
    );
    let host_name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    assert_eq!(spec.hostname.as_deref(), Some(host_name.as_str()));
    let e = gen_err(
        ContainerConfig::default(),
        HostConfig {
            network_mode: Some("host".into()),
            sysctls: Some(HashMap::from([(
                "net.ipv4.ip_forward".to_string(),
                "1".to_string(),
            )])),
            ..Default::default()
        },
    );
    assert!(e.contains("host network namespace"), "{e}");
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            sysctls: Some(HashMap::from([
                ("net.ipv4.ip_forward".to_string(), "1".to_string()),
                ("net.ipv4.ping_group_range".to_string(), "0 0".to_string()),
            ])),
            ..Default::default()
        },
    );
    let sc = &linux(&spec).sysctl;
    assert_eq!(sc.get("net.ipv4.ip_forward").map(String::as_str), Some("1"));
    assert_eq!(
        sc.get("net.ipv4.ping_group_range").map(String::as_str),
        Some("0 0")
    );
}

#[test]
fn namespaces_joined_by_pid() {
    let mut c = case(
        ContainerConfig::default(),
        HostConfig {
            network_mode: Some("container:db".into()),
            ipc_mode: Some("container:db".into()),
            pid_mode: Some("host".into()),
            uts_mode: Some("host".into()),
            cgroupns_mode: Some(HostConfigCgroupnsModeEnum::HOST),
            ..Default::default()
        },
    );
    c.input.container_pids.insert("db".into(), 4242);
    let spec = generate(&c.input).expect("ok");
    assert_eq!(
        ns_types(&spec),
        [
            ("mount".to_string(), None),
            ("network".to_string(), Some("/proc/4242/ns/net".to_string())),
            ("ipc".to_string(), Some("/proc/4242/ns/ipc".to_string())),
        ]
    );
    assert!(spec.hostname.is_none(), "UTS host: hostname untouched");
    assert!(linux(&spec).sysctl.is_empty());
    assert_eq!(
        mount(&spec, "/dev/shm")
            .and_then(|m| m.source.clone())
            .as_deref(),
        Some("/proc/4242/root/dev/shm")
    );
    c.input.container_pids.clear();
    let e = generate(&c.input).expect_err("not running");
    assert!(e.message.contains("container db"), "{e}");
}

#[test]
fn ipc_none_and_host() {
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            ipc_mode: Some("none".into()),
            shm_size: Some(1 << 20),
            ..Default::default()
        },
    );
    assert!(mount(&spec, "/dev/shm").is_none());
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            ipc_mode: Some("host".into()),
            ..Default::default()
        },
    );
    assert!(!ns_types(&spec).iter().any(|n| n.0 == "ipc"));
    assert_eq!(
        mount(&spec, "/dev/shm")
            .and_then(|m| m.source.clone())
            .as_deref(),
        Some("/dev/shm")
    );
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            shm_size: Some(1 << 20),
            ..Default::default()
        },
    );
    assert!(mount(&spec, "/dev/shm")
        .expect("shm")
        .options
        .contains(&"size=1048576".to_string()));
}

#[test]
fn init_binds_the_binary_and_wraps_the_command() {
    let mut c = case(
        ContainerConfig {
            cmd: Some(s(&["sleep", "1"])),
            ..Default::default()
        },
        HostConfig {
            init: Some(true),
            ..Default::default()
        },
    );
    c.input.init_path = Some("/usr/libexec/berth/docker-init".into());
    let spec = generate(&c.input).expect("ok");
    assert_eq!(
        spec.process.as_ref().expect("p").args,
        ["/sbin/docker-init", "--", "sleep", "1"]
    );
    let m = mount(&spec, "/sbin/docker-init").expect("init mount");
    assert_eq!(m.source.as_deref(), Some("/usr/libexec/berth/docker-init"));
    assert!(m.options.contains(&"ro".to_string()));
}

#[test]
fn binds_volumes_and_ordering() {
    let mut c = case(
        ContainerConfig {
            volumes: Some(s(&["/anon"])),
            ..Default::default()
        },
        HostConfig {
            binds: Some(s(&["/srv/data:/data/sub:ro,rshared", "named:/data"])),
            ..Default::default()
        },
    );
    for m in &mut c.input.mounts {
        if let MountSource::Volume { name, path, .. } = &mut m.source {
            let n = if name.is_empty() {
                "anon-id"
            } else {
                name.as_str()
            };
            *path = Some(format!("/var/lib/berth/volumes/{n}/_data"));
        }
    }
    let spec = generate(&c.input).expect("ok");
    let pos = |d: &str| {
        spec.mounts
            .iter()
            .position(|m| m.destination == d)
            .expect(d)
    };
    assert!(pos("/data") < pos("/data/sub"), "parent first");
    let sub = mount(&spec, "/data/sub").expect("sub");
    assert_eq!(sub.options, ["rbind", "rshared", "ro"]);
    assert_eq!(sub.source.as_deref(), Some("/srv/data"));
    assert_eq!(
        mount(&spec, "/data")
            .and_then(|m| m.source.clone())
            .as_deref(),
        Some("/var/lib/berth/volumes/named/_data")
    );
    assert!(mount(&spec, "/anon").is_some());
    assert_eq!(linux(&spec).rootfs_propagation.as_deref(), Some("rshared"));
    // A volume without a path is the engine's mistake, reported as such.
    let c = case(
        ContainerConfig {
            volumes: Some(s(&["/anon"])),
            ..Default::default()
        },
        HostConfig::default(),
    );
    let e = generate(&c.input).expect_err("unresolved volume");
    assert_eq!(e.kind, berth_model::ErrorKind::Internal);
}

#[test]
fn user_mount_replaces_default_and_network_files() {
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            binds: Some(s(&["/tmp:/dev/shm", "/etc/hosts:/etc/hosts:ro"])),
            ..Default::default()
        },
    );
    let shm: Vec<_> = spec
        .mounts
        .iter()
        .filter(|m| m.destination == "/dev/shm")
        .collect();
    assert_eq!(shm.len(), 1);
    assert_eq!(shm[0].source.as_deref(), Some("/tmp"));
    let hosts: Vec<_> = spec
        .mounts
        .iter()
        .filter(|m| m.destination == "/etc/hosts")
        .collect();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].source.as_deref(), Some("/etc/hosts"));
}

#[test]
fn devices_and_rules() {
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            devices: Some(vec![DeviceMapping {
                path_on_host: Some("/dev/null".into()),
                path_in_container: Some("/dev/xnull".into()),
                cgroup_permissions: Some("rw".into()),
            }]),
            device_cgroup_rules: Some(s(&["c 10:200 rwm"])),
            ..Default::default()
        },
    );
    let l = linux(&spec);
    assert_eq!(l.devices.len(), 1);
    assert_eq!(
        (
            l.devices[0].path.as_str(),
            l.devices[0].major,
            l.devices[0].minor
        ),
        ("/dev/xnull", 1, 3)
    );
    let rules = &l.resources.as_ref().expect("r").devices;
    assert!(rules.iter().any(|r| r.allow
        && r.major == Some(1)
        && r.minor == Some(3)
        && r.access.as_deref() == Some("rw")));
    assert!(rules
        .iter()
        .any(|r| r.allow && r.major == Some(10) && r.minor == Some(200)));
}

#[test]
fn ulimits_merge_with_daemon_defaults() {
    let mut c = case(
        ContainerConfig::default(),
        HostConfig {
            ulimits: Some(vec![ResourcesUlimits {
                name: Some("nofile".into()),
                soft: Some(100),
                hard: Some(200),
            }]),
            ..Default::default()
        },
    );
    c.input.default_ulimits = vec![
        ResourcesUlimits {
            name: Some("nofile".into()),
            soft: Some(1),
            hard: Some(2),
        },
        ResourcesUlimits {
            name: Some("nproc".into()),
            soft: Some(50),
            hard: Some(60),
        },
    ];
    let spec = generate(&c.input).expect("ok");
    let r: Vec<(String, u64, u64)> = spec
        .process
        .as_ref()
        .expect("p")
        .rlimits
        .iter()
        .map(|r| (r.typ.clone(), r.soft, r.hard))
        .collect();
    assert_eq!(
        r,
        [
            ("RLIMIT_NPROC".to_string(), 50, 60),
            ("RLIMIT_NOFILE".to_string(), 100, 200)
        ]
    );
}

#[test]
fn oom_score_and_annotations_and_console() {
    let spec = gen(
        ContainerConfig::default(),
        HostConfig {
            oom_score_adj: Some(500),
            annotations: Some(HashMap::from([("a".to_string(), "b".to_string())])),
            console_size: Some(vec![40, 120]),
            ..Default::default()
        },
    );
    let p = spec.process.as_ref().expect("p");
    assert_eq!(p.oom_score_adj, Some(500));
    assert_eq!(p.console_size.map(|c| (c.height, c.width)), Some((40, 120)));
    assert_eq!(spec.annotations.get("a").map(String::as_str), Some("b"));
}

#[test]
fn no_command() {
    let mut c = case(ContainerConfig::default(), HostConfig::default());
    c.input.config.cmd = None;
    assert_eq!(
        generate(&c.input).expect_err("no cmd").message,
        "No command specified"
    );
}

#[test]
fn spec_round_trips_through_berth_spec() {
    let spec = gen(ContainerConfig::default(), HostConfig::default());
    let json = serde_json::to_vec(&spec).expect("serialize");
    let back = Spec::from_slice(&json, "config.json").expect("parse");
    assert_eq!(back, spec);
}
