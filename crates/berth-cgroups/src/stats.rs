//! Usage statistics in the JSON shape of runc's `events --stats` (`types/events.go` in
//! runc): the same field names, and zero values left out where runc's `omitempty` leaves
//! them out, so tools that parse runc's output parse ours.
//!
//! Units: CPU times in nanoseconds (v2's microseconds are converted), memory in bytes.
//! Under v2, `memory.swap` reports memory+swap like v1 does (as runc does), so consumers
//! see one meaning on both.

use crate::fsutil::{parse_keyed, read_keyed, read_opt, read_u64_or_zero};
use crate::Result;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Statistics of a cgroup.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// CPU time and throttling.
    pub cpu: CpuStats,
    /// Memory usage.
    pub memory: MemoryStats,
    /// Task counts.
    pub pids: PidsStats,
    /// Block I/O.
    pub blkio: BlkioStats,
    /// Huge page usage by page size (`2MB`, `1GB`).
    pub hugetlb: BTreeMap<String, HugetlbStats>,
}

/// CPU statistics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CpuStats {
    /// Time used.
    pub usage: CpuUsage,
    /// CFS bandwidth throttling.
    pub throttling: Throttling,
}

/// CPU time, in nanoseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CpuUsage {
    /// Total.
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    /// Per CPU (v1 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// Per CPU, kernel mode (v1 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    /// Per CPU, user mode (v1 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    /// Kernel mode.
    pub kernel: u64,
    /// User mode.
    pub user: u64,
}

/// CFS bandwidth throttling.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    /// Enforcement periods elapsed.
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    /// Periods in which the cgroup was throttled.
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Total throttled time, ns.
    #[serde(skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// Memory statistics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemoryStats {
    /// Page cache (`cache` in v1 memory.stat, `file` in v2).
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    /// Memory.
    pub usage: MemoryEntry,
    /// Memory + swap.
    pub swap: MemoryEntry,
    /// Kernel memory (v1 only).
    pub kernel: MemoryEntry,
    /// Kernel TCP buffers (v1 only).
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// memory.stat as is.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// One memory counter set.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemoryEntry {
    /// Limit (`u64::MAX` when unlimited).
    pub limit: u64,
    /// Current usage.
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage.
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Times the limit was hit.
    pub failcnt: u64,
}

/// Task counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PidsStats {
    /// Tasks now.
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    /// Limit (0 when unlimited).
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// Block I/O statistics, per device and operation.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlkioStats {
    /// Bytes transferred.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// Operations issued.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

/// One (device, operation) counter.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct BlkioEntry {
    /// Device major.
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    /// Device minor.
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    /// `Read`, `Write`, `Sync`, `Async`, `Discard`, `Total`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    /// Count.
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

/// Huge page usage of one size.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HugetlbStats {
    /// Bytes in use.
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak bytes (v1 only).
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    /// Allocations that failed because of the limit.
    pub failcnt: u64,
}

/// User-mode clock ticks per second, the unit of v1 `cpuacct.stat`; 100 on every Linux
/// architecture berth runs on (USER_HZ is fixed ABI there).
const USER_HZ: u64 = 100;

fn numbers(text: &str) -> Vec<u64> {
    text.split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// v1 cpuacct + cpu.
pub(crate) fn cpu_v1(cpuacct: Option<&Path>, cpu: Option<&Path>, s: &mut Stats) -> Result<()> {
    if let Some(dir) = cpuacct {
        let u = &mut s.cpu.usage;
        u.total = read_u64_or_zero(dir, "cpuacct.usage")?;
        u.percpu = numbers(&read_opt(dir, "cpuacct.usage_percpu")?.unwrap_or_default());
        u.percpu_kernel = numbers(&read_opt(dir, "cpuacct.usage_percpu_sys")?.unwrap_or_default());
        u.percpu_user = numbers(&read_opt(dir, "cpuacct.usage_percpu_user")?.unwrap_or_default());
        if crate::fsutil::exists(dir, "cpuacct.usage_user") {
            u.user = read_u64_or_zero(dir, "cpuacct.usage_user")?;
            u.kernel = read_u64_or_zero(dir, "cpuacct.usage_sys")?;
        } else {
            let st = read_keyed(dir, "cpuacct.stat")?;
            let ns = 1_000_000_000 / USER_HZ;
            u.user = st.get("user").copied().unwrap_or(0) * ns;
            u.kernel = st.get("system").copied().unwrap_or(0) * ns;
        }
    }
    if let Some(dir) = cpu {
        let st = read_keyed(dir, "cpu.stat")?;
        s.cpu.throttling = Throttling {
            periods: st.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: st.get("nr_throttled").copied().unwrap_or(0),
            throttled_time: st.get("throttled_time").copied().unwrap_or(0),
        };
    }
    Ok(())
}

/// v2 cpu.stat (present in every non-root cgroup, controller or not).
pub(crate) fn cpu_v2(dir: &Path, s: &mut Stats) -> Result<()> {
    let st = read_keyed(dir, "cpu.stat")?;
    let get = |k: &str| st.get(k).copied().unwrap_or(0);
    s.cpu.usage.total = get("usage_usec") * 1000;
    s.cpu.usage.user = get("user_usec") * 1000;
    s.cpu.usage.kernel = get("system_usec") * 1000;
    s.cpu.throttling = Throttling {
        periods: get("nr_periods"),
        throttled_periods: get("nr_throttled"),
        throttled_time: get("throttled_usec") * 1000,
    };
    Ok(())
}

fn entry_v1(dir: &Path, prefix: &str) -> Result<MemoryEntry> {
    Ok(MemoryEntry {
        limit: read_u64_or_zero(dir, &format!("{prefix}.limit_in_bytes"))?,
        usage: read_u64_or_zero(dir, &format!("{prefix}.usage_in_bytes"))?,
        max: read_u64_or_zero(dir, &format!("{prefix}.max_usage_in_bytes"))?,
        failcnt: read_u64_or_zero(dir, &format!("{prefix}.failcnt"))?,
    })
}

/// v1 memory.
pub(crate) fn memory_v1(dir: &Path, s: &mut Stats) -> Result<()> {
    let m = &mut s.memory;
    m.usage = entry_v1(dir, "memory")?;
    m.swap = entry_v1(dir, "memory.memsw")?;
    m.kernel = entry_v1(dir, "memory.kmem")?;
    m.kernel_tcp = entry_v1(dir, "memory.kmem.tcp")?;
    m.raw = read_keyed(dir, "memory.stat")?;
    m.cache = m.raw.get("cache").copied().unwrap_or(0);
    Ok(())
}

/// v2 memory.
pub(crate) fn memory_v2(dir: &Path, s: &mut Stats) -> Result<()> {
    let m = &mut s.memory;
    let events = read_keyed(dir, "memory.events")?;
    m.usage = MemoryEntry {
        limit: read_u64_or_zero(dir, "memory.max")?,
        usage: read_u64_or_zero(dir, "memory.current")?,
        max: read_u64_or_zero(dir, "memory.peak")?,
        failcnt: events.get("max").copied().unwrap_or(0),
    };
    let swap_events = read_keyed(dir, "memory.swap.events")?;
    let swap_limit = read_u64_or_zero(dir, "memory.swap.max")?;
    m.swap = MemoryEntry {
        limit: if swap_limit == u64::MAX {
            u64::MAX
        } else {
            swap_limit.saturating_add(m.usage.limit)
        },
        usage: read_u64_or_zero(dir, "memory.swap.current")? + m.usage.usage,
        max: 0,
        failcnt: swap_events.get("max").copied().unwrap_or(0),
    };
    m.raw = read_keyed(dir, "memory.stat")?;
    m.cache = m.raw.get("file").copied().unwrap_or(0);
    Ok(())
}

/// pids (same files in v1 and v2).
pub(crate) fn pids(dir: &Path, s: &mut Stats) -> Result<()> {
    s.pids.current = read_u64_or_zero(dir, "pids.current")?;
    let limit = read_u64_or_zero(dir, "pids.max")?;
    s.pids.limit = if limit == u64::MAX { 0 } else { limit };
    Ok(())
}

/// Parses v1 blkio lines: `8:0 Read 4096` (and `Total 8192`, which is skipped).
pub(crate) fn parse_blkio_v1(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (maj, min) = it.next()?.split_once(':')?;
            let op = it.next()?.to_string();
            let value = it.next()?.parse().ok()?;
            Some(BlkioEntry {
                major: maj.parse().ok()?,
                minor: min.parse().ok()?,
                op,
                value,
            })
        })
        .collect()
}

/// v1 blkio: BFQ counters where the kernel has them, else the throttle layer's (which
/// count I/O on every device), as runc chooses.
pub(crate) fn blkio_v1(dir: &Path, s: &mut Stats) -> Result<()> {
    let prefix = if crate::fsutil::exists(dir, "blkio.bfq.io_service_bytes_recursive") {
        "blkio.bfq"
    } else {
        "blkio.throttle"
    };
    let read = |f: &str| -> Result<Vec<BlkioEntry>> {
        Ok(parse_blkio_v1(
            &read_opt(dir, &format!("{prefix}.{f}"))?.unwrap_or_default(),
        ))
    };
    s.blkio.io_service_bytes_recursive = read("io_service_bytes_recursive")?;
    s.blkio.io_serviced_recursive = read("io_serviced_recursive")?;
    Ok(())
}

/// Parses v2 `io.stat`: `8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`.
pub(crate) fn parse_io_stat(text: &str) -> BlkioStats {
    let mut out = BlkioStats::default();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some((maj, min)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else {
            continue;
        };
        let kv = parse_keyed(
            &it.map(|f| f.replacen('=', " ", 1))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        for (key, op, bytes) in [
            ("rbytes", "Read", true),
            ("wbytes", "Write", true),
            ("rios", "Read", false),
            ("wios", "Write", false),
        ] {
            if let Some(v) = kv.get(key) {
                let list = if bytes {
                    &mut out.io_service_bytes_recursive
                } else {
                    &mut out.io_serviced_recursive
                };
                list.push(BlkioEntry {
                    major,
                    minor,
                    op: op.into(),
                    value: *v,
                });
            }
        }
    }
    out
}

/// v2 io.
pub(crate) fn io_v2(dir: &Path, s: &mut Stats) -> Result<()> {
    s.blkio = parse_io_stat(&read_opt(dir, "io.stat")?.unwrap_or_default());
    Ok(())
}

/// hugetlb for each page size name (`2MB`).
pub(crate) fn hugetlb(dir: &Path, v2: bool, sizes: &[String], s: &mut Stats) -> Result<()> {
    for size in sizes {
        let h = if v2 {
            let events = read_keyed(dir, &format!("hugetlb.{size}.events"))?;
            HugetlbStats {
                usage: read_u64_or_zero(dir, &format!("hugetlb.{size}.current"))?,
                max: 0,
                failcnt: events.get("max").copied().unwrap_or(0),
            }
        } else {
            HugetlbStats {
                usage: read_u64_or_zero(dir, &format!("hugetlb.{size}.usage_in_bytes"))?,
                max: read_u64_or_zero(dir, &format!("hugetlb.{size}.max_usage_in_bytes"))?,
                failcnt: read_u64_or_zero(dir, &format!("hugetlb.{size}.failcnt"))?,
            }
        };
        s.hugetlb.insert(size.clone(), h);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_stat_becomes_runc_entries() {
        let b = parse_io_stat("8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
        assert_eq!(
            b.io_service_bytes_recursive[0],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 4096
            }
        );
        assert_eq!(b.io_service_bytes_recursive.len(), 2);
        assert_eq!(b.io_serviced_recursive.len(), 2);
    }

    #[test]
    fn blkio_v1_skips_total() {
        let e = parse_blkio_v1("8:0 Read 10\n8:0 Write 20\nTotal 30\n");
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].op, "Write");
    }

    #[test]
    fn json_shape_matches_runc() {
        let mut s = Stats::default();
        s.cpu.usage.total = 5;
        s.memory.usage.limit = 9;
        s.hugetlb.insert("2MB".into(), HugetlbStats::default());
        let v = serde_json::to_value(&s).expect("serializes");
        assert_eq!(v["cpu"]["usage"]["total"], 5);
        assert_eq!(
            v["cpu"]["usage"]["kernel"], 0,
            "kernel and user are always present"
        );
        assert!(v["cpu"]["usage"].get("percpu").is_none());
        assert!(v["cpu"]["throttling"].get("throttledPeriods").is_none());
        assert_eq!(v["memory"]["usage"]["limit"], 9);
        assert_eq!(v["memory"]["usage"]["failcnt"], 0);
        assert!(v["memory"].get("kernelTCP").is_some());
        assert_eq!(v["hugetlb"]["2MB"]["failcnt"], 0);
        assert!(v["blkio"].as_object().is_some_and(|o| o.is_empty()));
    }
}
