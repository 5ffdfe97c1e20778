//! Writing resources into cgroup v1 controller directories.
//!
//! Each function takes the container's directory in the hierarchy of its controller and
//! writes only the fields that are set. The write orders and value mappings follow the
//! kernel's rules (<https://docs.kernel.org/admin-guide/cgroup-v1/>) and runc's choices
//! where the kernel leaves one.

use crate::devices::DeviceRules;
use crate::fsutil::{exists, read, read_opt, write};
use crate::{Error, Result};
use berth_spec::{BlockIo, Cpu, Memory, Network, Pids, Rdma};
use std::collections::BTreeMap;
use std::path::Path;

fn unsupported(field: &str, reason: String) -> Error {
    Error::Unsupported {
        field: field.into(),
        reason,
    }
}

const MEM_LIMIT: &str = "memory.limit_in_bytes";
const MEMSW_LIMIT: &str = "memory.memsw.limit_in_bytes";

fn write_mem_limit(dir: &Path, v: i64) -> Result<()> {
    write(dir, MEM_LIMIT, &v.to_string()).map_err(|e| {
        if e.is_errno(libc::EBUSY) {
            let usage = read(dir, "memory.usage_in_bytes").unwrap_or_default();
            Error::Other(format!(
                "cannot set memory.limit to {v}: the cgroup {} uses {} bytes and cannot be \
                 reclaimed below it",
                dir.display(),
                usage.trim()
            ))
        } else {
            e
        }
    })
}

fn write_swap_limit(dir: &Path, v: i64) -> Result<()> {
    if !exists(dir, MEMSW_LIMIT) {
        return Err(unsupported(
            "memory.swap",
            format!(
                "{MEMSW_LIMIT} does not exist in {} (swap accounting is off)",
                dir.display()
            ),
        ));
    }
    write(dir, MEMSW_LIMIT, &v.to_string())
}

/// memory controller. The kernel requires limit <= memsw.limit at every moment, so the
/// order of the two writes depends on whether the new swap total is above the current limit.
pub(crate) fn memory(dir: &Path, m: &Memory) -> Result<()> {
    let limit = m.limit.unwrap_or(0);
    let mut swap = m.swap.unwrap_or(0);
    // An unlimited memory limit without a swap value means "unlimited both", as in runc.
    if limit == -1 && swap == 0 && exists(dir, MEMSW_LIMIT) {
        swap = -1;
    }
    if m.check_before_update == Some(true) && limit > 0 {
        let usage = read(dir, "memory.usage_in_bytes")?;
        if usage
            .trim()
            .parse::<i64>()
            .map(|u| u > limit)
            .unwrap_or(false)
        {
            return Err(Error::Invalid {
                field: "memory.limit".into(),
                reason: format!(
                    "{limit} is below the current usage {} (checkBeforeUpdate)",
                    usage.trim()
                ),
            });
        }
    }
    match (limit, swap) {
        (0, 0) => {}
        (l, 0) => write_mem_limit(dir, l)?,
        (0, s) => write_swap_limit(dir, s)?,
        (l, s) => {
            let current = read(dir, MEM_LIMIT)?
                .trim()
                .parse::<u64>()
                .unwrap_or(u64::MAX);
            if s == -1 || current < s as u64 {
                write_swap_limit(dir, s)?;
                write_mem_limit(dir, l)?;
            } else {
                write_mem_limit(dir, l)?;
                write_swap_limit(dir, s)?;
            }
        }
    }
    if let Some(r) = m.reservation.filter(|r| *r != 0) {
        write(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
    }
    if let Some(s) = m.swappiness {
        write(dir, "memory.swappiness", &s.to_string())?;
    }
    if m.disable_oom_killer == Some(true) {
        write(dir, "memory.oom_control", "1")?;
    }
    if let Some(h) = m.use_hierarchy {
        write(dir, "memory.use_hierarchy", if h { "1" } else { "0" })?;
    }
    // Kernel memory limits: gone or write-only-fails on new kernels; runc ignores them
    // since 1.1, we write them only where the kernel still takes them.
    for (v, file) in [
        (m.kernel, "memory.kmem.limit_in_bytes"),
        (m.kernel_tcp, "memory.kmem.tcp.limit_in_bytes"),
    ] {
        if let Some(v) = v.filter(|v| *v != 0) {
            if exists(dir, file) {
                match write(dir, file, &v.to_string()) {
                    // 524 is the kernel-internal ENOTSUPP, which some kernels leak here.
                    Err(e)
                        if e.is_errno(libc::EOPNOTSUPP)
                            || e.is_errno(libc::EINVAL)
                            || e.is_errno(524) => {}
                    other => other?,
                }
            }
        }
    }
    Ok(())
}

/// cpu controller (not cpuset). A smaller period may be refused while the old quota
/// would exceed the parent's bandwidth, so on EINVAL it is retried after the quota.
pub(crate) fn cpu(dir: &Path, c: &Cpu) -> Result<()> {
    if let Some(shares) = c.shares.filter(|s| *s != 0) {
        write(dir, "cpu.shares", &shares.to_string())?;
        let got = read(dir, "cpu.shares")?;
        if got.trim() != shares.to_string() {
            return Err(Error::Invalid {
                field: "cpu.shares".into(),
                reason: format!("{shares} was clamped by the kernel to {}", got.trim()),
            });
        }
    }
    let quota = c.quota.filter(|q| *q != 0);
    let mut period_later = None;
    if let Some(p) = c.period.filter(|p| *p != 0) {
        match write(dir, "cpu.cfs_period_us", &p.to_string()) {
            Err(e) if e.is_errno(libc::EINVAL) && quota.is_some() => period_later = Some(p),
            other => other?,
        }
    }
    let mut burst_later = None;
    if let Some(b) = c.burst {
        if !exists(dir, "cpu.cfs_burst_us") {
            return Err(unsupported(
                "cpu.burst",
                format!("no cpu.cfs_burst_us in {}", dir.display()),
            ));
        }
        match write(dir, "cpu.cfs_burst_us", &b.to_string()) {
            Err(e) if e.is_errno(libc::EINVAL) && quota.is_some() => burst_later = Some(b),
            other => other?,
        }
    }
    if let Some(q) = quota {
        write(dir, "cpu.cfs_quota_us", &q.to_string())?;
        if let Some(p) = period_later {
            write(dir, "cpu.cfs_period_us", &p.to_string())?;
        }
        if let Some(b) = burst_later {
            write(dir, "cpu.cfs_burst_us", &b.to_string())?;
        }
    }
    if let Some(idle) = c.idle {
        if !exists(dir, "cpu.idle") {
            return Err(unsupported(
                "cpu.idle",
                format!("no cpu.idle in {}", dir.display()),
            ));
        }
        write(dir, "cpu.idle", &idle.to_string())?;
    }
    let rt_period = c.realtime_period.filter(|p| *p != 0);
    let rt_runtime = c.realtime_runtime.filter(|r| *r != 0);
    if rt_period.is_some() || rt_runtime.is_some() {
        if !exists(dir, "cpu.rt_runtime_us") {
            return Err(unsupported(
                "cpu.realtimeRuntime",
                format!(
                    "no cpu.rt_runtime_us in {} (kernel without CONFIG_RT_GROUP_SCHED)",
                    dir.display()
                ),
            ));
        }
        if let Some(p) = rt_period {
            write(dir, "cpu.rt_period_us", &p.to_string())?;
        }
        if let Some(r) = rt_runtime {
            write(dir, "cpu.rt_runtime_us", &r.to_string())?;
        }
    }
    Ok(())
}

/// cpuset controller.
pub(crate) fn cpuset(dir: &Path, c: &Cpu) -> Result<()> {
    if let Some(cpus) = c.cpus.as_deref().filter(|s| !s.trim().is_empty()) {
        write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = c.mems.as_deref().filter(|s| !s.trim().is_empty()) {
        write(dir, "cpuset.mems", mems)?;
    }
    Ok(())
}

/// A new v1 cpuset cgroup starts with empty `cpus` and `mems`, and a task cannot join it
/// until both are set; copy them from the parent at every level from `mountpoint` down.
pub(crate) fn cpuset_inherit(mountpoint: &Path, dir: &Path) -> Result<()> {
    let Ok(rel) = dir.strip_prefix(mountpoint) else {
        return Ok(());
    };
    let mut parent = mountpoint.to_path_buf();
    for comp in rel.components() {
        let child = parent.join(comp);
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let mine = read(&child, file)?;
            if mine.trim().is_empty() {
                let theirs = read(&parent, file)?;
                if !theirs.trim().is_empty() {
                    write(&child, file, theirs.trim())?;
                }
            }
        }
        parent = child;
    }
    Ok(())
}

/// pids controller: 0 or negative means unlimited.
pub(crate) fn pids(dir: &Path, p: &Pids) -> Result<()> {
    write(
        dir,
        "pids.max",
        &crate::convert::v2_limit(if p.limit == 0 { -1 } else { p.limit }),
    )
}

/// blkio controller. Weights need the BFQ scheduler (`blkio.bfq.weight`) or the removed
/// CFQ (`blkio.weight`); without either a requested weight is an error, as nothing would
/// enforce it.
pub(crate) fn blkio(dir: &Path, b: &BlockIo) -> Result<()> {
    let (weight_file, weight_device_file) = if exists(dir, "blkio.bfq.weight") {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    } else {
        ("blkio.weight", "blkio.weight_device")
    };
    let no_weight = |field: &str| {
        unsupported(
            field,
            format!(
                "neither blkio.bfq.weight nor blkio.weight exists in {}: no proportional-weight \
                 I/O scheduler (BFQ) is in use on this host",
                dir.display()
            ),
        )
    };
    if let Some(w) = b.weight.filter(|w| *w != 0) {
        if !exists(dir, weight_file) {
            return Err(no_weight("blockIO.weight"));
        }
        write(dir, weight_file, &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight.filter(|w| *w != 0) {
        if !exists(dir, "blkio.leaf_weight") {
            return Err(unsupported(
                "blockIO.leafWeight",
                "blkio.leaf_weight exists only with the CFQ scheduler, removed in Linux 5.0".into(),
            ));
        }
        write(dir, "blkio.leaf_weight", &w.to_string())?;
    }
    for (i, d) in b.weight_device.iter().enumerate() {
        if let Some(w) = d.weight {
            if !exists(dir, weight_device_file) {
                return Err(no_weight(&format!("blockIO.weightDevice[{i}]")));
            }
            write(
                dir,
                weight_device_file,
                &format!("{}:{} {w}", d.major, d.minor),
            )?;
        }
        if let Some(w) = d.leaf_weight {
            if !exists(dir, "blkio.leaf_weight_device") {
                return Err(unsupported(
                    &format!("blockIO.weightDevice[{i}].leafWeight"),
                    "CFQ only".into(),
                ));
            }
            write(
                dir,
                "blkio.leaf_weight_device",
                &format!("{}:{} {w}", d.major, d.minor),
            )?;
        }
    }
    for (list, file) in [
        (
            &b.throttle_read_bps_device,
            "blkio.throttle.read_bps_device",
        ),
        (
            &b.throttle_write_bps_device,
            "blkio.throttle.write_bps_device",
        ),
        (
            &b.throttle_read_iops_device,
            "blkio.throttle.read_iops_device",
        ),
        (
            &b.throttle_write_iops_device,
            "blkio.throttle.write_iops_device",
        ),
    ] {
        for d in list {
            write(dir, file, &format!("{}:{} {}", d.major, d.minor, d.rate))?;
        }
    }
    Ok(())
}

/// hugetlb controller: `hugetlb.<size>.limit_in_bytes` (and the reservation limit where
/// the kernel has it, so a mapping fails at mmap time instead of SIGBUS on fault).
pub(crate) fn hugetlb(dir: &Path, size: &str, limit: u64, field: &str) -> Result<()> {
    let file = format!("hugetlb.{size}.limit_in_bytes");
    if !exists(dir, &file) {
        return Err(unsupported(
            field,
            format!("no {file} in {}", dir.display()),
        ));
    }
    write(dir, &file, &limit.to_string())?;
    let rsvd = format!("hugetlb.{size}.rsvd.limit_in_bytes");
    if exists(dir, &rsvd) {
        write(dir, &rsvd, &limit.to_string())?;
    }
    Ok(())
}

/// net_cls controller.
pub(crate) fn net_cls(dir: &Path, n: &Network) -> Result<()> {
    if let Some(id) = n.class_id {
        write(dir, "net_cls.classid", &id.to_string())?;
    }
    Ok(())
}

/// net_prio controller: one write per interface.
pub(crate) fn net_prio(dir: &Path, n: &Network) -> Result<()> {
    for p in &n.priorities {
        write(
            dir,
            "net_prio.ifpriomap",
            &format!("{} {}", p.name, p.priority),
        )?;
    }
    Ok(())
}

/// The line `rdma.max` takes for one device, `None` when nothing is limited.
pub(crate) fn rdma_line(dev: &str, r: &Rdma) -> Option<String> {
    let mut line = dev.to_string();
    if let Some(h) = r.hca_handles {
        line.push_str(&format!(" hca_handle={h}"));
    }
    if let Some(o) = r.hca_objects {
        line.push_str(&format!(" hca_object={o}"));
    }
    (line.len() > dev.len()).then_some(line)
}

/// rdma controller (same file format in v1 and v2).
pub(crate) fn rdma(dir: &Path, map: &BTreeMap<String, Rdma>) -> Result<()> {
    for (dev, r) in map {
        if let Some(line) = rdma_line(dev, r) {
            write(dir, "rdma.max", &line)?;
        }
    }
    Ok(())
}

/// devices controller: from the current `devices.list`, the differences only when that is
/// safe, else a reset to the default followed by each exception.
pub(crate) fn devices(dir: &Path, rules: &DeviceRules) -> Result<()> {
    let writes = match read_opt(dir, "devices.list")? {
        Some(current) => rules.v1_update_writes(&current),
        None => rules.v1_writes(),
    };
    for (file, rule) in writes {
        write(dir, file, &rule)?;
    }
    Ok(())
}

/// Freezes or thaws, then waits until `freezer.state` says so. A freeze can stall in
/// FREEZING when a task sits in an uninterruptible sleep; as runc does, the request is
/// re-issued (thaw + freeze) every so often, and after ~2 s the cgroup is thawed again and
/// an error returned.
pub(crate) fn freeze(dir: &Path, frozen: bool) -> Result<()> {
    let want = if frozen { "FROZEN" } else { "THAWED" };
    write(dir, "freezer.state", want)?;
    for i in 1..=1000u32 {
        let state = read(dir, "freezer.state")?;
        if state.trim() == want {
            return Ok(());
        }
        if frozen && i % 50 == 0 {
            write(dir, "freezer.state", "THAWED")?;
            write(dir, "freezer.state", "FROZEN")?;
        }
        std::thread::sleep(std::time::Duration::from_millis(if i < 10 { 1 } else { 2 }));
    }
    if frozen {
        let _ = write(dir, "freezer.state", "THAWED");
    }
    Err(Error::Timeout {
        what: format!("{want} of {}", dir.display()),
        millis: 2000,
    })
}

/// True when the cgroup (or an ancestor) is frozen.
pub(crate) fn is_frozen(dir: &Path) -> Result<bool> {
    Ok(read(dir, "freezer.state")?.trim() == "FROZEN")
}

/// True when the OOM killer killed a task of the cgroup (`oom_kill` in `memory.oom_control`,
/// Linux ≥ 4.13).
pub(crate) fn oom_killed(dir: &Path) -> Result<bool> {
    let text = read_opt(dir, "memory.oom_control")?.unwrap_or_default();
    Ok(crate::fsutil::parse_keyed(&text)
        .get("oom_kill")
        .is_some_and(|n| *n > 0))
}
