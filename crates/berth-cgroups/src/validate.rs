//! Checks of resource values that can be made before anything is created: ranges and
//! syntax that no kernel accepts. What depends on the host (a file that does not exist, a
//! page size the CPU lacks) is checked when applying.

use crate::convert::{check_cpuset_list, parse_page_size, swap_to_v2};
use crate::devices::DeviceRules;
use crate::{Error, Result};
use berth_spec::Resources;

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// -1 (unlimited), 0 (unset) or a positive value.
fn limit(v: Option<i64>, field: &str) -> Result<()> {
    match v {
        Some(n) if n < -1 => Err(invalid(
            field,
            format!("{n} is negative (only -1, unlimited, is allowed)"),
        )),
        _ => Ok(()),
    }
}

/// Checks `r` without touching the system.
pub(crate) fn validate(r: &Resources) -> Result<()> {
    if let Some(m) = &r.memory {
        limit(m.limit, "memory.limit")?;
        limit(m.reservation, "memory.reservation")?;
        limit(m.swap, "memory.swap")?;
        limit(m.kernel, "memory.kernel")?;
        limit(m.kernel_tcp, "memory.kernelTCP")?;
        if let Some(s) = m.swappiness {
            if s > 100 {
                return Err(invalid(
                    "memory.swappiness",
                    format!("{s} is not in 0..=100"),
                ));
            }
        }
        if let (Some(swap), Some(lim)) = (m.swap, m.limit) {
            if swap > 0 && lim > 0 {
                swap_to_v2(Some(swap), Some(lim)).map_err(|e| invalid("memory.swap", e))?;
            }
        }
    }
    if let Some(c) = &r.cpu {
        if let Some(s) = c.shares {
            if s != 0 && !(2..=262_144).contains(&s) {
                return Err(invalid("cpu.shares", format!("{s} is not in 2..=262144")));
            }
        }
        match c.quota {
            Some(q) if q < -1 => {
                return Err(invalid(
                    "cpu.quota",
                    format!("{q} is negative (only -1, unlimited, is allowed)"),
                ))
            }
            Some(q) if (1..1000).contains(&q) => {
                return Err(invalid(
                    "cpu.quota",
                    format!("{q} µs is below the kernel's minimum of 1000 µs"),
                ))
            }
            _ => {}
        }
        if let Some(p) = c.period {
            if p != 0 && !(1000..=1_000_000).contains(&p) {
                return Err(invalid(
                    "cpu.period",
                    format!("{p} µs is not in 1000..=1000000"),
                ));
            }
        }
        if let Some(rt) = c.realtime_runtime {
            if rt < -1 {
                return Err(invalid("cpu.realtimeRuntime", format!("{rt} is negative")));
            }
        }
        for (v, field) in [(&c.cpus, "cpu.cpus"), (&c.mems, "cpu.mems")] {
            if let Some(list) = v {
                check_cpuset_list(list).map_err(|e| invalid(field, e))?;
            }
        }
        if let Some(idle) = c.idle {
            if !(0..=1).contains(&idle) {
                return Err(invalid("cpu.idle", format!("{idle} is not 0 or 1")));
            }
        }
    }
    if let Some(b) = &r.block_io {
        for (w, field) in [
            (b.weight, "blockIO.weight"),
            (b.leaf_weight, "blockIO.leafWeight"),
        ] {
            if let Some(w) = w {
                if w != 0 && !(10..=1000).contains(&w) {
                    return Err(invalid(field, format!("{w} is not in 10..=1000")));
                }
            }
        }
        for (i, d) in b.weight_device.iter().enumerate() {
            if d.major < 0 || d.minor < 0 {
                return Err(invalid(
                    format!("blockIO.weightDevice[{i}]"),
                    "negative device number",
                ));
            }
            for w in [d.weight, d.leaf_weight].into_iter().flatten() {
                if !(10..=1000).contains(&w) {
                    return Err(invalid(
                        format!("blockIO.weightDevice[{i}]"),
                        format!("weight {w} is not in 10..=1000"),
                    ));
                }
            }
        }
        for (list, name) in [
            (&b.throttle_read_bps_device, "throttleReadBpsDevice"),
            (&b.throttle_write_bps_device, "throttleWriteBpsDevice"),
            (&b.throttle_read_iops_device, "throttleReadIOPSDevice"),
            (&b.throttle_write_iops_device, "throttleWriteIOPSDevice"),
        ] {
            for (i, d) in list.iter().enumerate() {
                if d.major < 0 || d.minor < 0 {
                    return Err(invalid(
                        format!("blockIO.{name}[{i}]"),
                        "negative device number",
                    ));
                }
            }
        }
    }
    for (i, h) in r.hugepage_limits.iter().enumerate() {
        if parse_page_size(&h.page_size).is_none() {
            return Err(invalid(
                format!("hugepageLimits[{i}].pageSize"),
                format!("{:?} is not a size like 2MB or 1GB", h.page_size),
            ));
        }
    }
    if let Some(n) = &r.network {
        for (i, p) in n.priorities.iter().enumerate() {
            if p.name.is_empty() || p.name.contains(char::is_whitespace) {
                return Err(invalid(
                    format!("network.priorities[{i}].name"),
                    format!("{:?} is not an interface name", p.name),
                ));
            }
        }
    }
    for dev in r.rdma.keys() {
        if dev.is_empty() || dev.contains(char::is_whitespace) {
            return Err(invalid(
                "rdma",
                format!("{dev:?} is not an RDMA device name"),
            ));
        }
    }
    for (key, value) in &r.unified {
        if key.is_empty() || key.contains('/') || key == "." || key == ".." || key.contains('\0') {
            return Err(invalid(
                format!("unified[{key:?}]"),
                "must be a file name in the cgroup directory (no '/')",
            ));
        }
        if !key.contains('.') {
            return Err(invalid(
                format!("unified[{key:?}]"),
                "is not a cgroup file name (<controller>.<file>)",
            ));
        }
        if value.contains('\0') {
            return Err(invalid(
                format!("unified[{key:?}]"),
                "value contains a NUL byte",
            ));
        }
    }
    DeviceRules::from_spec(&r.devices)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_spec::{BlockIo, Cpu, HugepageLimit, Memory};

    fn err_of(r: Resources) -> String {
        validate(&r).expect_err("must be rejected").to_string()
    }

    #[test]
    fn defaults_and_typical_values_pass() {
        validate(&Resources::default()).expect("empty");
        let r = Resources {
            memory: Some(Memory {
                limit: Some(64 << 20),
                swap: Some(128 << 20),
                swappiness: Some(0),
                ..Default::default()
            }),
            cpu: Some(Cpu {
                shares: Some(1024),
                quota: Some(50_000),
                period: Some(100_000),
                cpus: Some("0-1".into()),
                ..Default::default()
            }),
            hugepage_limits: vec![HugepageLimit {
                page_size: "2MB".into(),
                limit: 0,
            }],
            ..Default::default()
        };
        validate(&r).expect("typical");
    }

    #[test]
    fn each_bad_value_names_its_field() {
        let mem = |m: Memory| Resources {
            memory: Some(m),
            ..Default::default()
        };
        let cpu = |c: Cpu| Resources {
            cpu: Some(c),
            ..Default::default()
        };
        let cases: Vec<(Resources, &str)> = vec![
            (
                mem(Memory {
                    limit: Some(-2),
                    ..Default::default()
                }),
                "memory.limit",
            ),
            (
                mem(Memory {
                    limit: Some(100 << 20),
                    swap: Some(50 << 20),
                    ..Default::default()
                }),
                "memory.swap",
            ),
            (
                mem(Memory {
                    swappiness: Some(101),
                    ..Default::default()
                }),
                "memory.swappiness",
            ),
            (
                cpu(Cpu {
                    shares: Some(1),
                    ..Default::default()
                }),
                "cpu.shares",
            ),
            (
                cpu(Cpu {
                    quota: Some(-5),
                    ..Default::default()
                }),
                "cpu.quota",
            ),
            (
                cpu(Cpu {
                    quota: Some(10),
                    ..Default::default()
                }),
                "cpu.quota",
            ),
            (
                cpu(Cpu {
                    period: Some(10),
                    ..Default::default()
                }),
                "cpu.period",
            ),
            (
                cpu(Cpu {
                    cpus: Some("0-".into()),
                    ..Default::default()
                }),
                "cpu.cpus",
            ),
            (
                cpu(Cpu {
                    mems: Some("x".into()),
                    ..Default::default()
                }),
                "cpu.mems",
            ),
            (
                cpu(Cpu {
                    idle: Some(2),
                    ..Default::default()
                }),
                "cpu.idle",
            ),
            (
                Resources {
                    block_io: Some(BlockIo {
                        weight: Some(5),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                "blockIO.weight",
            ),
            (
                Resources {
                    hugepage_limits: vec![HugepageLimit {
                        page_size: "2M".into(),
                        limit: 1,
                    }],
                    ..Default::default()
                },
                "hugepageLimits[0].pageSize",
            ),
        ];
        for (r, field) in cases {
            let msg = err_of(r);
            assert!(
                msg.contains(&format!("linux.resources.{field}")),
                "{field}: {msg}"
            );
        }
    }

    #[test]
    fn unified_keys_must_be_plain_file_names() {
        for key in ["../cgroup.procs", "a/b", "..", "", "memory"] {
            let r = Resources {
                unified: [(key.to_string(), "1".to_string())].into(),
                ..Default::default()
            };
            let msg = err_of(r);
            assert!(msg.contains("unified["), "{key}: {msg}");
        }
        let r = Resources {
            unified: [("memory.high".to_string(), "1G".to_string())].into(),
            ..Default::default()
        };
        validate(&r).expect("memory.high is fine");
    }
}
