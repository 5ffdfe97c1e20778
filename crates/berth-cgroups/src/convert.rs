//! Value conversions between the OCI fields and kernel files, as runc does them.
//!
//! All functions are pure; the doc of each says which kernel or runc behaviour it follows.

/// cpu.shares (v1, 2–262144, default 1024) → cpu.weight (v2, 1–10000, default 100).
///
/// This is the conversion of opencontainers/cgroups ≥ 0.0.4 (runc ≥ 1.3.2): a quadratic in
/// log2(shares) that maps the defaults onto each other (1024 → 100) and the ends of the
/// ranges onto each other (2 → 1, 262144 → 10000). The older linear formula mapped 1024 to
/// 39, so a container with the default shares got far less CPU than a v2 neighbour with the
/// default weight. 0 stays 0 (unset).
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    match shares {
        0 => 0,
        1..=2 => 1,
        262_144.. => 10_000,
        _ => {
            let l = (shares as f64).log2();
            let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
            10f64.powf(exponent).ceil() as u64
        }
    }
}

/// blkio weight (v1, 10–1000) → io.weight (v2, 1–10000), runc's linear mapping.
pub(crate) fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (u64::from(weight).saturating_sub(10)) * 9999 / 990
}

/// OCI `memory.swap` (memory+swap, v1 semantics) → v2 `memory.swap.max` (swap only).
///
/// Returns `None` when nothing is to be written. -1 means unlimited. As in runc, an
/// unlimited memory limit without an explicit swap makes swap unlimited too.
pub(crate) fn swap_to_v2(swap: Option<i64>, limit: Option<i64>) -> Result<Option<i64>, String> {
    let limit = limit.unwrap_or(0);
    match swap.unwrap_or(0) {
        0 if limit == -1 => Ok(Some(-1)),
        0 => Ok(None),
        -1 => Ok(Some(-1)),
        s if limit <= 0 => Err(format!(
            "memory.swap ({s}) is memory+swap and cannot be converted to cgroup v2's \
             memory.swap.max without a memory.limit"
        )),
        s if s < limit => Err(format!(
            "memory.swap ({s}) must be >= memory.limit ({limit}): it is the memory+swap total"
        )),
        s => Ok(Some(s - limit)),
    }
}

/// A limit for a v2 file: negative means `max`.
pub(crate) fn v2_limit(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// Checks a cpuset list (`0-3,5,7`): numbers and ascending ranges separated by commas.
pub(crate) fn check_cpuset_list(s: &str) -> Result<(), String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(());
    }
    for part in s.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: u32 = a
            .parse()
            .map_err(|_| format!("{part:?} in {s:?} is not a number or range"))?;
        let b: u32 = b
            .parse()
            .map_err(|_| format!("{part:?} in {s:?} is not a number or range"))?;
        if a > b {
            return Err(format!("range {part:?} in {s:?} is descending"));
        }
    }
    Ok(())
}

/// Parses an OCI huge page size (`2MB`, `1GB`, `64KB`) into bytes.
pub(crate) fn parse_page_size(s: &str) -> Option<u64> {
    let digits = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(digits);
    let n: u64 = n.parse().ok()?;
    let mult = match unit {
        "KB" | "kB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult).filter(|v| *v > 0)
}

/// The name the kernel gives a huge page size in cgroup file names (`hugetlb.2MB.max`), from
/// the size in kB as in `/sys/kernel/mm/hugepages/hugepages-2048kB`.
pub(crate) fn page_size_name(kb: u64) -> String {
    if kb >= 1 << 20 && kb & ((1 << 20) - 1) == 0 {
        format!("{}GB", kb >> 20)
    } else if kb >= 1 << 10 && kb & ((1 << 10) - 1) == 0 {
        format!("{}MB", kb >> 10)
    } else {
        format!("{kb}KB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_map_defaults_and_ends() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1_000_000), 10_000);
        let mut last = 0;
        for s in [3, 10, 100, 512, 2048, 4096, 100_000] {
            let w = shares_to_weight(s);
            assert!(w > last && w <= 10_000, "{s} -> {w}");
            last = w;
        }
    }

    #[test]
    fn blkio_weights() {
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
        assert_eq!(blkio_weight_to_io_weight(500), 1 + 490 * 9999 / 990);
    }

    #[test]
    fn swap_conversion_follows_runc() {
        assert_eq!(swap_to_v2(None, Some(-1)), Ok(Some(-1)));
        assert_eq!(swap_to_v2(None, Some(100)), Ok(None));
        assert_eq!(swap_to_v2(Some(-1), Some(100)), Ok(Some(-1)));
        assert_eq!(swap_to_v2(Some(300), Some(100)), Ok(Some(200)));
        assert_eq!(swap_to_v2(Some(100), Some(100)), Ok(Some(0)));
        assert!(swap_to_v2(Some(50), Some(100)).is_err());
        assert!(swap_to_v2(Some(50), None).is_err());
    }

    #[test]
    fn cpuset_lists() {
        for ok in ["", "0", "0-3", "0-1,4,6-7", " 1 "] {
            assert!(check_cpuset_list(ok).is_ok(), "{ok}");
        }
        for bad in ["a", "3-1", "0,,1", "1-", "-1", "0-1-2"] {
            assert!(check_cpuset_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn page_sizes() {
        assert_eq!(parse_page_size("2MB"), Some(2 << 20));
        assert_eq!(parse_page_size("1GB"), Some(1 << 30));
        assert_eq!(parse_page_size("64KB"), Some(64 << 10));
        assert_eq!(parse_page_size("2M"), None);
        assert_eq!(parse_page_size("MB"), None);
        assert_eq!(page_size_name(2048), "2MB");
        assert_eq!(page_size_name(1_048_576), "1GB");
        assert_eq!(page_size_name(64), "64KB");
    }
}
