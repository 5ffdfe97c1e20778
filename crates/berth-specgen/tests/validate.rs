//! `validate_create` says what Docker says, for the mistakes users make.

use std::collections::HashMap;

use berth_model::docker::{
    ContainerConfig, DeviceMapping, HostConfig, Mount, MountType, RestartPolicy,
    RestartPolicyNameEnum,
};
use berth_model::ErrorKind;
use berth_specgen::{validate_create, HostLimits};

fn limits() -> HostLimits {
    HostLimits {
        ncpus: 2,
        cpus_online: "0-1".into(),
        mems_online: "0".into(),
    }
}

fn cfg() -> ContainerConfig {
    ContainerConfig {
        cmd: Some(vec!["sh".into()]),
        ..Default::default()
    }
}

fn err(config: ContainerConfig, host: HostConfig) -> String {
    let e = validate_create(&config, &host, &limits()).expect_err("must be refused");
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
    e.message
}

fn host_err(host: HostConfig) -> String {
    err(cfg(), host)
}

#[test]
fn valid_request_passes() {
    let host = HostConfig {
        memory: Some(64 << 20),
        memory_swap: Some(128 << 20),
        nano_cpus: Some(1_500_000_000),
        cpuset_cpus: Some("0-1".into()),
        cap_add: Some(vec!["net_admin".into()]),
        binds: Some(vec!["/tmp:/data:ro".into()]),
        ..Default::default()
    };
    assert_eq!(
        validate_create(&cfg(), &host, &limits()).expect("valid"),
        Vec::<String>::new()
    );
}

#[test]
fn no_command_and_workdir() {
    assert_eq!(
        err(ContainerConfig::default(), HostConfig::default()),
        "No command specified"
    );
    let c = ContainerConfig {
        working_dir: Some("rel".into()),
        ..cfg()
    };
    assert_eq!(
        err(c, HostConfig::default()),
        "the working directory 'rel' is invalid, it needs to be an absolute path"
    );
}

#[test]
fn restart_policies() {
    let policy = |name, n| HostConfig {
        restart_policy: Some(RestartPolicy {
            name: Some(name),
            maximum_retry_count: Some(n),
        }),
        ..Default::default()
    };
    assert_eq!(
        host_err(policy(RestartPolicyNameEnum::ALWAYS, 3)),
        "invalid restart policy: maximum retry count can only be used with 'on-failure'"
    );
    assert_eq!(
        host_err(policy(RestartPolicyNameEnum::ON_FAILURE, -1)),
        "invalid restart policy: maximum retry count cannot be negative"
    );
    let mut rm = policy(RestartPolicyNameEnum::UNLESS_STOPPED, 0);
    rm.auto_remove = Some(true);
    assert_eq!(
        host_err(rm),
        "can't create 'AutoRemove' container with restart policy"
    );
    let mut rm_no = policy(RestartPolicyNameEnum::NO, 0);
    rm_no.auto_remove = Some(true);
    assert!(validate_create(&cfg(), &rm_no, &limits()).is_ok());
}

#[test]
fn memory() {
    let h = |m: i64, s: i64, r: i64| HostConfig {
        memory: Some(m),
        memory_swap: Some(s),
        memory_reservation: Some(r),
        ..Default::default()
    };
    assert_eq!(
        host_err(h(1 << 20, 0, 0)),
        "Minimum memory limit allowed is 6MB"
    );
    assert_eq!(
        host_err(h(64 << 20, 32 << 20, 0)),
        "Minimum memoryswap limit should be larger than memory limit, see usage"
    );
    assert_eq!(
        host_err(h(0, 64 << 20, 0)),
        "You should always set the Memory limit when using Memoryswap limit, see usage"
    );
    assert_eq!(
        host_err(h(64 << 20, 0, 128 << 20)),
        "Minimum memory limit can not be less than memory reservation limit, see usage"
    );
    assert_eq!(
        host_err(h(0, 0, 1024)),
        "Minimum memory reservation allowed is 6MB"
    );
    let sw = HostConfig {
        memory_swappiness: Some(101),
        ..Default::default()
    };
    assert_eq!(
        host_err(sw),
        "Invalid value: 101, valid memory swappiness range is 0-100"
    );
    let warn = HostConfig {
        oom_kill_disable: Some(true),
        ..Default::default()
    };
    let w = validate_create(&cfg(), &warn, &limits()).expect("warning only");
    assert!(w[0].starts_with("OOM killer is disabled"), "{w:?}");
}

#[test]
fn cpu() {
    let both = HostConfig {
        nano_cpus: Some(1_000_000_000),
        cpu_period: Some(100_000),
        ..Default::default()
    };
    assert_eq!(
        host_err(both),
        "Conflicting options: Nano CPUs and CPU Period cannot both be set"
    );
    let both = HostConfig {
        nano_cpus: Some(1_000_000_000),
        cpu_quota: Some(50_000),
        ..Default::default()
    };
    assert_eq!(
        host_err(both),
        "Conflicting options: Nano CPUs and CPU Quota cannot both be set"
    );
    let many = HostConfig {
        nano_cpus: Some(3_000_000_000),
        ..Default::default()
    };
    assert_eq!(
        host_err(many),
        "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
    );
    let q = HostConfig {
        cpu_quota: Some(500),
        ..Default::default()
    };
    assert_eq!(
        host_err(q),
        "CPU cfs quota can not be less than 1ms (i.e. 1000)"
    );
    let p = HostConfig {
        cpu_period: Some(10),
        ..Default::default()
    };
    assert!(host_err(p).starts_with("CPU cfs period can not be less than 1ms"));
    let bad = HostConfig {
        cpuset_cpus: Some("0-a".into()),
        ..Default::default()
    };
    assert_eq!(host_err(bad), "Invalid value 0-a for cpuset cpus");
    let absent = HostConfig {
        cpuset_cpus: Some("0-7".into()),
        ..Default::default()
    };
    assert_eq!(
        host_err(absent),
        "Requested CPUs are not available - requested 0-7, available: 0-1"
    );
    let mems = HostConfig {
        cpuset_mems: Some("x".into()),
        ..Default::default()
    };
    assert_eq!(host_err(mems), "Invalid value x for cpuset mems");
    let bw = HostConfig {
        blkio_weight: Some(5),
        ..Default::default()
    };
    assert_eq!(host_err(bw), "Range of blkio weight is from 10 to 1000");
    let oom = HostConfig {
        oom_score_adj: Some(2000),
        ..Default::default()
    };
    assert_eq!(
        host_err(oom),
        "Invalid value 2000, range for oom score adj is [-1000, 1000]"
    );
}

#[test]
fn capabilities_devices_mounts() {
    let c = HostConfig {
        cap_drop: Some(vec!["CAP_FOO".into()]),
        ..Default::default()
    };
    assert_eq!(host_err(c), "unknown capability: \"CAP_FOO\"");
    let d = HostConfig {
        devices: Some(vec![DeviceMapping {
            path_on_host: Some("/dev/nope".into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    assert!(host_err(d).starts_with(
        "error gathering device information while adding custom device \"/dev/nope\""
    ));
    let r = HostConfig {
        device_cgroup_rules: Some(vec!["z 1:1 r".into()]),
        ..Default::default()
    };
    assert_eq!(host_err(r), "invalid device cgroup rule format: 'z 1:1 r'");
    let m = HostConfig {
        mounts: Some(vec![Mount {
            target: Some("/ctr".into()),
            source: Some("/x".into()),
            typ: Some(MountType::BIND),
            ..Default::default()
        }]),
        ..Default::default()
    };
    assert_eq!(
        host_err(m),
        "invalid mount config for type \"bind\": bind source path does not exist: /x"
    );
    let b = HostConfig {
        binds: Some(vec!["/a:/b:bogus".into()]),
        ..Default::default()
    };
    assert_eq!(host_err(b), "invalid mode: bogus");
    let t = HostConfig {
        tmpfs: Some(HashMap::from([(
            "/run".to_string(),
            "size=big".to_string(),
        )])),
        ..Default::default()
    };
    assert!(host_err(t).contains("invalid tmpfs size"));
}

#[test]
fn namespaces_and_sysctls() {
    let s = HostConfig {
        network_mode: Some("host".into()),
        sysctls: Some(HashMap::from([(
            "net.core.somaxconn".to_string(),
            "1024".to_string(),
        )])),
        ..Default::default()
    };
    assert!(host_err(s).contains("not allowed in the host network namespace"));
    let s = HostConfig {
        sysctls: Some(HashMap::from([(
            "kernel.panic".to_string(),
            "1".to_string(),
        )])),
        ..Default::default()
    };
    assert!(host_err(s).contains("not namespaced"));
    let hn = ContainerConfig {
        hostname: Some("web".into()),
        ..cfg()
    };
    let net_container = HostConfig {
        network_mode: Some("container:db".into()),
        ..Default::default()
    };
    assert_eq!(
        err(hn.clone(), net_container),
        "conflicting options: hostname and the network mode"
    );
    let uts = HostConfig {
        uts_mode: Some("host".into()),
        ..Default::default()
    };
    assert_eq!(
        err(hn.clone(), uts),
        "conflicting options: hostname and the UTS mode"
    );
    // --network host with a hostname is allowed, as in Docker.
    let net_host = HostConfig {
        network_mode: Some("host".into()),
        ..Default::default()
    };
    assert!(validate_create(&hn, &net_host, &limits()).is_ok());
    let bad = HostConfig {
        network_mode: Some("container:".into()),
        ..Default::default()
    };
    assert!(host_err(bad).contains("container:<name|id>"));
    let ipc = HostConfig {
        ipc_mode: Some("bogus".into()),
        ..Default::default()
    };
    assert!(host_err(ipc).starts_with("invalid IPC mode: bogus"));
    let userns = HostConfig {
        userns_mode: Some("private".into()),
        ..Default::default()
    };
    assert!(host_err(userns).contains("user namespace mode"));
}

#[test]
fn security_opts_and_signals() {
    let s = HostConfig {
        security_opt: Some(vec!["seccomp={not json".into()]),
        ..Default::default()
    };
    assert!(host_err(s).starts_with("Decoding seccomp profile failed"));
    let s = HostConfig {
        security_opt: Some(vec!["foo".into()]),
        ..Default::default()
    };
    assert!(host_err(s).contains("invalid --security-opt \"foo\""));
    let c = ContainerConfig {
        stop_signal: Some("SIGNOPE".into()),
        ..cfg()
    };
    assert_eq!(err(c, HostConfig::default()), "Invalid signal: SIGNOPE");
}
