//! Writing resources into a cgroup v2 directory, and the v2-only mechanics: enabling
//! controllers down the tree, `cgroup.freeze`, `cgroup.kill`.
//!
//! File formats: <https://docs.kernel.org/admin-guide/cgroup-v2.html>. Conversions from
//! the v1-shaped OCI values are in [`crate::convert`].

use crate::convert::{blkio_weight_to_io_weight, shares_to_weight, swap_to_v2, v2_limit};
use crate::fsutil::{exists, parse_keyed, read, read_opt, write};
use crate::{Error, Result};
use berth_spec::{BlockIo, Cpu, Memory, Pids};
use std::collections::BTreeMap;
use std::path::Path;

/// A missing v2 interface file usually means the controller is not enabled for this
/// cgroup; say so, naming the parent's `cgroup.subtree_control`.
fn need(dir: &Path, file: &str, field: &str) -> Result<()> {
    if exists(dir, file) {
        return Ok(());
    }
    let controller = file.split('.').next().unwrap_or(file);
    let parent = dir.parent().unwrap_or(dir);
    Err(Error::Unsupported {
        field: field.into(),
        reason: format!(
            "{} does not exist: the {controller} controller is not available or not enabled in {}",
            dir.join(file).display(),
            parent.join("cgroup.subtree_control").display()
        ),
    })
}

fn unsupported(field: &str, reason: &str) -> Error {
    Error::Unsupported {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Enables, in every cgroup from `mountpoint` down to the parent of `dir`, each controller
/// that cgroup has available, so `dir` gets every controller the hierarchy offers. Refusals
/// are left for the writes of `apply` to report with the field they concern (a controller
/// cannot be enabled under a cgroup that holds processes: the "no internal processes" rule).
pub(crate) fn enable_controllers(mountpoint: &Path, dir: &Path) -> Result<()> {
    let Ok(rel) = dir.strip_prefix(mountpoint) else {
        return Ok(());
    };
    let mut level = mountpoint.to_path_buf();
    for comp in rel.components() {
        let available = read_opt(&level, "cgroup.controllers")?.unwrap_or_default();
        let enabled = read_opt(&level, "cgroup.subtree_control")?.unwrap_or_default();
        let missing: Vec<&str> = available
            .split_whitespace()
            .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
            .collect();
        if !missing.is_empty() {
            let all: Vec<String> = missing.iter().map(|c| format!("+{c}")).collect();
            if write(&level, "cgroup.subtree_control", &all.join(" ")).is_err() {
                for c in &missing {
                    let _ = write(&level, "cgroup.subtree_control", &format!("+{c}"));
                }
            }
        }
        level.push(comp);
    }
    Ok(())
}

/// memory controller: limit → memory.max, reservation → memory.low, memory+swap →
/// memory.swap.max (swap only). swappiness, disableOOMKiller and kernel memory have no v2
/// file and are ignored, as in runc.
pub(crate) fn memory(dir: &Path, m: &Memory) -> Result<()> {
    let swap = swap_to_v2(m.swap, m.limit).map_err(|reason| Error::Invalid {
        field: "memory.swap".into(),
        reason,
    })?;
    if let Some(s) = swap {
        if exists(dir, "memory.swap.max") {
            write(dir, "memory.swap.max", &v2_limit(s))?;
        } else if s != -1 {
            need(dir, "memory.swap.max", "memory.swap")?;
        }
    }
    if let Some(l) = m.limit.filter(|l| *l != 0) {
        need(dir, "memory.max", "memory.limit")?;
        if m.check_before_update == Some(true) && l > 0 {
            let cur = read(dir, "memory.current")?;
            if cur.trim().parse::<i64>().map(|u| u > l).unwrap_or(false) {
                return Err(Error::Invalid {
                    field: "memory.limit".into(),
                    reason: format!(
                        "{l} is below the current usage {} (checkBeforeUpdate)",
                        cur.trim()
                    ),
                });
            }
        }
        write(dir, "memory.max", &v2_limit(l))?;
    }
    if let Some(r) = m.reservation.filter(|r| *r != 0) {
        need(dir, "memory.low", "memory.reservation")?;
        write(dir, "memory.low", &v2_limit(r))?;
    }
    Ok(())
}

/// cpu controller: shares → cpu.weight, quota/period → cpu.max (a field left unset keeps
/// its current value), burst → cpu.max.burst, idle → cpu.idle. v2 has no realtime
/// group scheduling.
pub(crate) fn cpu(dir: &Path, c: &Cpu) -> Result<()> {
    if c.realtime_runtime.is_some_and(|r| r != 0) || c.realtime_period.is_some_and(|p| p != 0) {
        return Err(unsupported(
            "cpu.realtimeRuntime",
            "cgroup v2 has no realtime group scheduling",
        ));
    }
    if let Some(s) = c.shares.filter(|s| *s != 0) {
        need(dir, "cpu.weight", "cpu.shares")?;
        write(dir, "cpu.weight", &shares_to_weight(s).to_string())?;
    }
    let quota = c.quota.filter(|q| *q != 0);
    let period = c.period.filter(|p| *p != 0);
    if quota.is_some() || period.is_some() {
        need(
            dir,
            "cpu.max",
            if quota.is_some() {
                "cpu.quota"
            } else {
                "cpu.period"
            },
        )?;
        let current = read(dir, "cpu.max")?;
        let mut it = current.split_whitespace();
        let cur_quota = it.next().unwrap_or("max").to_string();
        let cur_period = it.next().unwrap_or("100000").to_string();
        let q = quota.map_or(cur_quota, v2_limit);
        let p = period.map_or(cur_period, |p| p.to_string());
        write(dir, "cpu.max", &format!("{q} {p}"))?;
    }
    if let Some(b) = c.burst {
        need(dir, "cpu.max.burst", "cpu.burst")?;
        write(dir, "cpu.max.burst", &b.to_string())?;
    }
    if let Some(i) = c.idle {
        need(dir, "cpu.idle", "cpu.idle")?;
        write(dir, "cpu.idle", &i.to_string())?;
    }
    Ok(())
}

/// cpuset controller.
pub(crate) fn cpuset(dir: &Path, c: &Cpu) -> Result<()> {
    if let Some(cpus) = c.cpus.as_deref().filter(|s| !s.trim().is_empty()) {
        need(dir, "cpuset.cpus", "cpu.cpus")?;
        write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = c.mems.as_deref().filter(|s| !s.trim().is_empty()) {
        need(dir, "cpuset.mems", "cpu.mems")?;
        write(dir, "cpuset.mems", mems)?;
    }
    Ok(())
}

/// pids controller: 0 or negative means unlimited.
pub(crate) fn pids(dir: &Path, p: &Pids) -> Result<()> {
    need(dir, "pids.max", "pids.limit")?;
    write(
        dir,
        "pids.max",
        &v2_limit(if p.limit == 0 { -1 } else { p.limit }),
    )
}

/// io controller. Weights go to `io.bfq.weight` (same 1–1000 scale as blkio) when BFQ is
/// there, else to `io.weight` converted to its 1–10000 scale; throttles to `io.max`, where
/// a rate of 0 (v1: "no limit") becomes `max`.
pub(crate) fn io(dir: &Path, b: &BlockIo) -> Result<()> {
    let bfq = exists(dir, "io.bfq.weight");
    let weight_file = |field: &str| -> Result<&'static str> {
        if bfq {
            Ok("io.bfq.weight")
        } else if exists(dir, "io.weight") {
            Ok("io.weight")
        } else {
            Err(unsupported(
                field,
                &format!(
                    "neither io.bfq.weight nor io.weight exists in {} (no BFQ scheduler, no io.cost)",
                    dir.display()
                ),
            ))
        }
    };
    let scale = |w: u16| {
        if bfq {
            u64::from(w)
        } else {
            blkio_weight_to_io_weight(w)
        }
    };
    if let Some(w) = b.weight.filter(|w| *w != 0) {
        let file = weight_file("blockIO.weight")?;
        write(dir, file, &scale(w).to_string())?;
    }
    if b.leaf_weight.is_some_and(|w| w != 0) {
        return Err(unsupported(
            "blockIO.leafWeight",
            "cgroup v2 has no leaf weights",
        ));
    }
    for (i, d) in b.weight_device.iter().enumerate() {
        if let Some(w) = d.weight {
            let file = weight_file(&format!("blockIO.weightDevice[{i}]"))?;
            write(dir, file, &format!("{}:{} {}", d.major, d.minor, scale(w)))?;
        }
    }
    for (list, key, field) in [
        (
            &b.throttle_read_bps_device,
            "rbps",
            "blockIO.throttleReadBpsDevice",
        ),
        (
            &b.throttle_write_bps_device,
            "wbps",
            "blockIO.throttleWriteBpsDevice",
        ),
        (
            &b.throttle_read_iops_device,
            "riops",
            "blockIO.throttleReadIOPSDevice",
        ),
        (
            &b.throttle_write_iops_device,
            "wiops",
            "blockIO.throttleWriteIOPSDevice",
        ),
    ] {
        for d in list {
            need(dir, "io.max", field)?;
            let rate = if d.rate == 0 {
                "max".to_string()
            } else {
                d.rate.to_string()
            };
            write(
                dir,
                "io.max",
                &format!("{}:{} {key}={rate}", d.major, d.minor),
            )?;
        }
    }
    Ok(())
}

/// hugetlb controller: `hugetlb.<size>.max`, plus `.rsvd.max` where present.
pub(crate) fn hugetlb(dir: &Path, size: &str, limit: u64, field: &str) -> Result<()> {
    let file = format!("hugetlb.{size}.max");
    need(dir, &file, field)?;
    write(dir, &file, &limit.to_string())?;
    let rsvd = format!("hugetlb.{size}.rsvd.max");
    if exists(dir, &rsvd) {
        write(dir, &rsvd, &limit.to_string())?;
    }
    Ok(())
}

/// The `unified` map: each key is a file name in `dir`, each value written verbatim.
pub(crate) fn unified(dir: &Path, map: &BTreeMap<String, String>) -> Result<()> {
    for (key, value) in map {
        need(dir, key, &format!("unified[{key:?}]"))?;
        write(dir, key, value)?;
    }
    Ok(())
}

/// Freezes or thaws through `cgroup.freeze`, then waits until `cgroup.events` reports
/// `frozen 1` / `frozen 0` (the write returns before all tasks have stopped).
pub(crate) fn freeze(dir: &Path, frozen: bool) -> Result<()> {
    need(dir, "cgroup.freeze", "freezer")?;
    write(dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
    let want = u64::from(frozen);
    for i in 1..=1000u32 {
        if events_frozen(dir)? == want {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(if i < 10 { 1 } else { 2 }));
    }
    if frozen {
        let _ = write(dir, "cgroup.freeze", "0");
    }
    let what = format!(
        "{} of {}",
        if frozen { "freeze" } else { "thaw" },
        dir.display()
    );
    Err(Error::Timeout { what, millis: 2000 })
}

fn events_frozen(dir: &Path) -> Result<u64> {
    Ok(parse_keyed(&read(dir, "cgroup.events")?)
        .get("frozen")
        .copied()
        .unwrap_or(0))
}

/// True when the cgroup is frozen (requested and reached).
pub(crate) fn is_frozen(dir: &Path) -> Result<bool> {
    Ok(events_frozen(dir)? == 1)
}

/// True when `memory.events` counts an OOM kill.
pub(crate) fn oom_killed(dir: &Path) -> Result<bool> {
    let text = read_opt(dir, "memory.events")?.unwrap_or_default();
    Ok(parse_keyed(&text).get("oom_kill").is_some_and(|n| *n > 0))
}

/// SIGKILLs every process of the cgroup and its descendants at once through `cgroup.kill`
/// (Linux ≥ 5.14). Returns false when the kernel lacks the file.
pub(crate) fn kill(dir: &Path) -> Result<bool> {
    if !exists(dir, "cgroup.kill") {
        return Ok(false);
    }
    write(dir, "cgroup.kill", "1")?;
    Ok(true)
}
