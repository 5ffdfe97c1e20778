//! Tests of what `apply`, `create`, `add_process`, `procs` and `stats` write and read,
//! against fake hierarchies in a temporary directory (no root needed). The fake mountinfo
//! points the hierarchies there; files are pre-created because cgroupfs files always exist.
//! A plain file keeps only the last write, which is what the assertions look at.

use crate::{Cgroup, Error, Layout};
use berth_spec::{
    BlockIo, Cpu, DeviceRule, HugepageLimit, Memory, Network, Pids, Resources, ThrottleDevice,
};
use std::fs;
use std::path::{Path, PathBuf};

struct Fake {
    tmp: tempfile::TempDir,
    mountinfo: String,
}

const V1: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "name=systemd",
];

impl Fake {
    fn hybrid() -> Fake {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut mountinfo = String::new();
        for (i, c) in V1.iter().enumerate() {
            let dir = c.trim_start_matches("name=");
            mountinfo.push_str(&format!(
                "{} 1 0:{} / {}/{dir} rw - cgroup cgroup rw,{c}\n",
                30 + i,
                30 + i,
                tmp.path().display()
            ));
        }
        mountinfo.push_str(&format!(
            "50 1 0:50 / {}/unified rw - cgroup2 cgroup2 rw\n",
            tmp.path().display()
        ));
        let f = Fake { tmp, mountinfo };
        f.files("unified", &[("cgroup.controllers", "hugetlb")]);
        f.files("hp/hugepages-2048kB", &[]);
        f
    }

    fn v2() -> Fake {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mountinfo = format!(
            "50 1 0:50 / {}/cg rw - cgroup2 cgroup2 rw\n",
            tmp.path().display()
        );
        let f = Fake { tmp, mountinfo };
        f.files(
            "cg",
            &[
                ("cgroup.controllers", "cpu memory pids io hugetlb"),
                ("cgroup.subtree_control", ""),
            ],
        );
        f.files("hp/hugepages-2048kB", &[]);
        f
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// Creates `rel` with the given files.
    fn files(&self, rel: &str, files: &[(&str, &str)]) {
        let dir = self.path(rel);
        fs::create_dir_all(&dir).expect("mkdir");
        for (name, content) in files {
            fs::write(dir.join(name), content).expect("write fixture");
        }
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel))
            .unwrap_or_else(|e| panic!("{rel}: {e}"))
            .trim()
            .to_string()
    }

    fn open(&self) -> Cgroup {
        Cgroup::open_at(&self.mountinfo, Some("/berth/x"), "x")
            .expect("open")
            .with_hugepages_dir(self.path("hp"))
    }
}

#[test]
fn hybrid_routes_each_controller_to_its_hierarchy() {
    let f = Fake::hybrid();
    f.files(
        "memory/berth/x",
        &[
            ("memory.limit_in_bytes", "9223372036854771712"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712"),
            ("memory.swappiness", "60"),
        ],
    );
    f.files(
        "cpu/berth/x",
        &[
            ("cpu.shares", ""),
            ("cpu.cfs_quota_us", "-1"),
            ("cpu.cfs_period_us", "100000"),
        ],
    );
    f.files("pids/berth/x", &[("pids.max", "max")]);
    f.files(
        "unified/berth/x",
        &[
            ("hugetlb.2MB.max", "max"),
            ("hugetlb.2MB.rsvd.max", "max"),
            ("memory.pressure", ""),
        ],
    );
    let cg = f.open();
    assert_eq!(cg.layout(), Layout::Hybrid);
    let mib = 1i64 << 20;
    let r = Resources {
        memory: Some(Memory {
            limit: Some(64 * mib),
            swap: Some(128 * mib),
            swappiness: Some(10),
            ..Default::default()
        }),
        cpu: Some(Cpu {
            shares: Some(512),
            quota: Some(20_000),
            ..Default::default()
        }),
        pids: Some(Pids { limit: 0 }),
        hugepage_limits: vec![HugepageLimit {
            page_size: "2MB".into(),
            limit: 2 * mib as u64,
        }],
        unified: [(
            "memory.pressure".to_string(),
            "some 1000 1000000".to_string(),
        )]
        .into(),
        ..Default::default()
    };
    cg.apply(&r).expect("apply");
    assert_eq!(
        f.read("memory/berth/x/memory.limit_in_bytes"),
        (64 * mib).to_string()
    );
    assert_eq!(
        f.read("memory/berth/x/memory.memsw.limit_in_bytes"),
        (128 * mib).to_string()
    );
    assert_eq!(f.read("memory/berth/x/memory.swappiness"), "10");
    assert_eq!(f.read("cpu/berth/x/cpu.shares"), "512");
    assert_eq!(f.read("cpu/berth/x/cpu.cfs_quota_us"), "20000");
    assert_eq!(
        f.read("cpu/berth/x/cpu.cfs_period_us"),
        "100000",
        "period untouched"
    );
    assert_eq!(f.read("pids/berth/x/pids.max"), "max");
    assert_eq!(
        f.read("unified/berth/x/hugetlb.2MB.max"),
        (2 * mib).to_string()
    );
    assert_eq!(
        f.read("unified/berth/x/hugetlb.2MB.rsvd.max"),
        (2 * mib).to_string()
    );
    assert_eq!(
        f.read("unified/berth/x/memory.pressure"),
        "some 1000 1000000"
    );
}

#[test]
fn hybrid_reports_what_it_cannot_do() {
    let f = Fake::hybrid();
    f.files("blkio/berth/x", &[("blkio.throttle.read_bps_device", "")]);
    let cg = f.open();
    let err = |r: Resources| cg.apply(&r).expect_err("must fail");
    let e = err(Resources {
        network: Some(Network {
            class_id: Some(7),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert!(
        matches!(&e, Error::Unsupported { field, .. } if field == "network.classID"),
        "{e}"
    );
    let e = err(Resources {
        block_io: Some(BlockIo {
            weight: Some(100),
            ..Default::default()
        }),
        ..Default::default()
    });
    assert!(
        e.to_string().contains("blockIO.weight") && e.to_string().contains("BFQ"),
        "{e}"
    );
    let e = err(Resources {
        hugepage_limits: vec![HugepageLimit {
            page_size: "1GB".into(),
            limit: 0,
        }],
        ..Default::default()
    });
    assert!(
        e.to_string().contains("hugepageLimits[0].pageSize") && e.to_string().contains("2MB"),
        "{e}"
    );
    let e = err(Resources {
        unified: [("memory.high".to_string(), "1".to_string())].into(),
        ..Default::default()
    });
    assert!(e.to_string().contains("unified[\"memory.high\"]"), "{e}");
    let e = err(Resources {
        rdma: [("mlx5_0".to_string(), Default::default())].into(),
        ..Default::default()
    });
    assert!(e.to_string().contains("rdma"), "{e}");
}

#[test]
fn v1_devices_reset_then_list_exceptions() {
    let f = Fake::hybrid();
    f.files(
        "devices/berth/x",
        &[("devices.allow", ""), ("devices.deny", "")],
    );
    let r = Resources {
        devices: vec![
            DeviceRule::new(false, "a", None, None, "rwm"),
            DeviceRule::new(true, "c", Some(1), Some(3), "rwm"),
        ],
        ..Default::default()
    };
    f.open().apply(&r).expect("apply");
    assert_eq!(f.read("devices/berth/x/devices.deny"), "a");
    assert_eq!(f.read("devices/berth/x/devices.allow"), "c 1:3 rwm");
}

#[test]
fn v2_converts_v1_shaped_values() {
    let f = Fake::v2();
    f.files(
        "cg/berth/x",
        &[
            ("cpu.weight", "100"),
            ("cpu.max", "max 100000"),
            ("memory.max", "max"),
            ("memory.swap.max", "max"),
            ("memory.low", "0"),
            ("pids.max", "max"),
            ("io.weight", "default 100"),
            ("io.max", ""),
        ],
    );
    let cg = f.open();
    assert_eq!(cg.layout(), Layout::V2);
    let mib = 1i64 << 20;
    cg.apply(&Resources {
        cpu: Some(Cpu {
            shares: Some(1024),
            quota: Some(50_000),
            ..Default::default()
        }),
        memory: Some(Memory {
            limit: Some(64 * mib),
            swap: Some(96 * mib),
            reservation: Some(mib),
            ..Default::default()
        }),
        pids: Some(Pids { limit: 42 }),
        block_io: Some(BlockIo {
            weight: Some(1000),
            throttle_write_bps_device: vec![ThrottleDevice {
                major: 8,
                minor: 0,
                rate: 0,
            }],
            ..Default::default()
        }),
        ..Default::default()
    })
    .expect("apply");
    assert_eq!(
        f.read("cg/berth/x/cpu.weight"),
        "100",
        "default shares map to the default weight"
    );
    assert_eq!(f.read("cg/berth/x/cpu.max"), "50000 100000");
    assert_eq!(f.read("cg/berth/x/memory.max"), (64 * mib).to_string());
    assert_eq!(f.read("cg/berth/x/memory.swap.max"), (32 * mib).to_string());
    assert_eq!(f.read("cg/berth/x/memory.low"), mib.to_string());
    assert_eq!(f.read("cg/berth/x/pids.max"), "42");
    assert_eq!(f.read("cg/berth/x/io.weight"), "10000");
    assert_eq!(f.read("cg/berth/x/io.max"), "8:0 wbps=max");

    // Only the period: the quota already there stays.
    cg.apply(&Resources {
        cpu: Some(Cpu {
            period: Some(200_000),
            ..Default::default()
        }),
        ..Default::default()
    })
    .expect("apply period");
    assert_eq!(f.read("cg/berth/x/cpu.max"), "50000 200000");
    // Unlimited memory without a swap value makes swap unlimited too.
    cg.apply(&Resources {
        memory: Some(Memory {
            limit: Some(-1),
            ..Default::default()
        }),
        ..Default::default()
    })
    .expect("apply unlimited");
    assert_eq!(f.read("cg/berth/x/memory.max"), "max");
    assert_eq!(f.read("cg/berth/x/memory.swap.max"), "max");
}

#[test]
fn v2_missing_file_points_at_subtree_control() {
    let f = Fake::v2();
    f.files("cg/berth/x", &[]);
    let e = f
        .open()
        .apply(&Resources {
            pids: Some(Pids { limit: 5 }),
            ..Default::default()
        })
        .expect_err("no pids.max");
    let msg = e.to_string();
    assert!(
        msg.contains("pids.limit") && msg.contains("cgroup.subtree_control"),
        "{msg}"
    );
    let e = f
        .open()
        .apply(&Resources {
            cpu: Some(Cpu {
                realtime_runtime: Some(1000),
                ..Default::default()
            }),
            ..Default::default()
        })
        .expect_err("no rt on v2");
    assert!(e.to_string().contains("cpu.realtimeRuntime"), "{e}");
}

#[test]
fn v2_create_enables_controllers_down_the_tree() {
    let f = Fake::v2();
    f.files(
        "cg/berth",
        &[
            ("cgroup.controllers", "cpu memory"),
            ("cgroup.subtree_control", "memory"),
        ],
    );
    f.open().create().expect("create");
    assert!(f.path("cg/berth/x").is_dir());
    assert_eq!(
        f.read("cg/cgroup.subtree_control"),
        "+cpu +memory +pids +io +hugetlb"
    );
    assert_eq!(
        f.read("cg/berth/cgroup.subtree_control"),
        "+cpu",
        "memory was already enabled"
    );
}

#[test]
fn processes_join_every_hierarchy_and_are_listed_recursively() {
    let f = Fake::hybrid();
    let cg = f.open();
    for h in cg.hierarchies() {
        fs::create_dir_all(h.path.join("sub")).expect("mkdir");
        fs::write(h.path.join("cgroup.procs"), "").expect("procs");
    }
    cg.add_process(4321).expect("add");
    let names: Vec<String> = cg
        .hierarchies()
        .iter()
        .map(|h| h.controllers.clone())
        .collect();
    assert_eq!(
        names,
        [
            "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd",
            "unified"
        ]
    );
    for h in cg.hierarchies() {
        assert_eq!(
            fs::read_to_string(h.path.join("cgroup.procs")).expect("read"),
            "4321"
        );
    }
    let mem = &cg.hierarchies()[3].path;
    fs::write(mem.join("cgroup.procs"), "7\n4321\n").expect("write");
    fs::write(mem.join("sub/cgroup.procs"), "9\n").expect("write");
    assert_eq!(cg.procs().expect("procs"), vec![7, 9, 4321]);
}

#[test]
fn v1_stats_read_back() {
    let f = Fake::hybrid();
    f.files(
        "cpuacct/berth/x",
        &[
            ("cpuacct.usage", "3000"),
            ("cpuacct.usage_percpu", "1000 2000 \n"),
            ("cpuacct.stat", "user 2\nsystem 1\n"),
        ],
    );
    f.files(
        "cpu/berth/x",
        &[(
            "cpu.stat",
            "nr_periods 10\nnr_throttled 2\nthrottled_time 500\n",
        )],
    );
    f.files(
        "memory/berth/x",
        &[
            ("memory.usage_in_bytes", "4096"),
            ("memory.limit_in_bytes", "8192"),
            ("memory.failcnt", "1"),
            ("memory.stat", "cache 100\nrss 200\n"),
        ],
    );
    f.files(
        "pids/berth/x",
        &[("pids.current", "3"), ("pids.max", "max")],
    );
    f.files(
        "blkio/berth/x",
        &[(
            "blkio.throttle.io_service_bytes_recursive",
            "8:0 Read 512\n8:0 Write 0\nTotal 512\n",
        )],
    );
    f.files(
        "unified/berth/x",
        &[
            ("hugetlb.2MB.current", "0"),
            ("hugetlb.2MB.events", "max 4\n"),
        ],
    );
    let s = f.open().stats().expect("stats");
    assert_eq!(s.cpu.usage.total, 3000);
    assert_eq!(s.cpu.usage.percpu, vec![1000, 2000]);
    assert_eq!(s.cpu.usage.user, 20_000_000, "2 ticks of 10 ms");
    assert_eq!(s.cpu.throttling.throttled_periods, 2);
    assert_eq!(s.memory.usage.usage, 4096);
    assert_eq!(s.memory.usage.limit, 8192);
    assert_eq!(s.memory.cache, 100);
    assert_eq!(s.pids.current, 3);
    assert_eq!(s.pids.limit, 0, "unlimited reads as 0");
    assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
    assert_eq!(s.hugetlb.get("2MB").map(|h| h.failcnt), Some(4));
}

#[test]
fn v2_stats_convert_microseconds() {
    let f = Fake::v2();
    f.files("cg/berth/x", &[
        ("cpu.stat", "usage_usec 7\nuser_usec 4\nsystem_usec 3\nnr_periods 1\nnr_throttled 1\nthrottled_usec 2\n"),
        ("memory.current", "100"),
        ("memory.max", "max"),
        ("memory.swap.current", "10"),
        ("memory.swap.max", "max"),
        ("memory.events", "low 0\nhigh 0\nmax 5\noom 0\noom_kill 0\n"),
        ("memory.stat", "file 30\nanon 70\n"),
    ]);
    let cg = f.open();
    let s = cg.stats().expect("stats");
    assert_eq!(
        (s.cpu.usage.total, s.cpu.usage.user, s.cpu.usage.kernel),
        (7000, 4000, 3000)
    );
    assert_eq!(s.cpu.throttling.throttled_time, 2000);
    assert_eq!(s.memory.usage.limit, u64::MAX);
    assert_eq!(s.memory.usage.failcnt, 5);
    assert_eq!(s.memory.swap.usage, 110, "v1-style memory+swap");
    assert_eq!(s.memory.cache, 30);
    assert!(!cg.oom_killed().expect("oom"));
    assert_eq!(
        cg.hierarchies()[0].controllers,
        "",
        "pure v2 mounts at /sys/fs/cgroup itself"
    );
}

#[test]
fn open_rejects_escaping_paths() {
    let f = Fake::v2();
    assert!(Cgroup::open_at(&f.mountinfo, Some("/a/../../etc"), "x").is_err());
    let cg = Cgroup::open_at(&f.mountinfo, None, "abc").expect("open");
    assert_eq!(cg.path(), "/berth/abc");
    assert_eq!(cg.hierarchies()[0].path, Path::new(&f.path("cg/berth/abc")));
}

#[test]
fn rdma_limits_use_one_line_per_device() {
    let f = Fake::v2();
    f.files("cg/berth/x", &[("rdma.max", "")]);
    let rdma = berth_spec::Rdma {
        hca_handles: Some(2),
        hca_objects: Some(100),
    };
    f.open()
        .apply(&Resources {
            rdma: [("mlx5_0".to_string(), rdma)].into(),
            ..Default::default()
        })
        .expect("apply");
    assert_eq!(
        f.read("cg/berth/x/rdma.max"),
        "mlx5_0 hca_handle=2 hca_object=100"
    );
}
