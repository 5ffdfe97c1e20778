//! Capabilities: names, Docker's `--cap-add`/`--cap-drop` arithmetic, and the daemon's
//! own bounding set (what `--privileged` and `--cap-add ALL` can give at most).

use berth_model::{Error, Result};

/// Every capability Linux defines, by number (the table of [`berth_spec::caps`]).
pub use berth_spec::caps::ALL as ALL_CAPABILITIES;

/// The capabilities a container gets by default: Docker's default set without
/// `CAP_NET_RAW`. Raw sockets let a container forge packets (ARP/IPv6 RA spoofing against
/// its neighbours on the bridge); `ping` keeps working through unprivileged ICMP sockets,
/// enabled by the `net.ipv4.ping_group_range` sysctl the generator sets whenever the
/// container has its own network namespace.
pub const DEFAULT_CAPABILITIES: [&str; 13] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Normalises a user-given capability name: case-insensitive, with or without `CAP_`.
/// `ALL` stays `ALL`. Unknown names give Docker's `unknown capability: "CAP_FOO"`.
pub fn normalize_capability(name: &str) -> Result<String> {
    if name.trim().eq_ignore_ascii_case("ALL") {
        return Ok("ALL".into());
    }
    let full = berth_spec::caps::normalize(name);
    if berth_spec::caps::number(&full).is_some() {
        Ok(full)
    } else {
        Err(Error::invalid(format!("unknown capability: {full:?}")))
    }
}

fn normalize_all(list: &[String]) -> Result<Vec<String>> {
    list.iter().map(|c| normalize_capability(c)).collect()
}

/// The capability names in a `/proc/<pid>/status` hex mask (`CapBnd: 000001ffffffffff`).
pub fn capabilities_from_mask(mask: u64) -> Vec<String> {
    ALL_CAPABILITIES
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1u64 << i) != 0)
        .map(|(_, n)| n.to_string())
        .collect()
}

/// The daemon's bounding set, read from `/proc/self/status` now.
///
/// `--privileged` gets exactly these: a container cannot hold a capability its runtime
/// lacks (capset fails with EPERM), and on hosts where the daemon itself runs without
/// some capability (this one lacks `CAP_SYS_RESOURCE`) asking for all 41 would make every
/// privileged container fail to start, as it does with Docker 20.10 here.
pub fn daemon_bounding_set() -> Result<Vec<String>> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| Error::internal(format!("cannot read /proc/self/status: {e}")))?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .ok_or_else(|| Error::internal("/proc/self/status has no CapBnd line"))?;
    let mask = u64::from_str_radix(hex.trim(), 16).map_err(|e| {
        Error::internal(format!(
            "bad CapBnd {:?} in /proc/self/status: {e}",
            hex.trim()
        ))
    })?;
    Ok(capabilities_from_mask(mask))
}

/// Docker's capability arithmetic (moby `oci/caps.TweakCapabilities`):
/// - `privileged` → everything the daemon holds (`available`);
/// - `ALL` in adds → `available` minus drops;
/// - `ALL` in drops → only the adds;
/// - otherwise the defaults minus drops, plus adds.
///
/// Names may be given with or without `CAP_`, in any case; the result is deduplicated.
pub fn effective_capabilities(
    adds: &[String],
    drops: &[String],
    privileged: bool,
    available: &[String],
) -> Result<Vec<String>> {
    let adds = normalize_all(adds)?;
    let drops = normalize_all(drops)?;
    if privileged {
        return Ok(available.to_vec());
    }
    let has = |l: &[String], c: &str| l.iter().any(|x| x == c);
    let mut caps: Vec<String> = if has(&adds, "ALL") {
        available
            .iter()
            .filter(|c| !has(&drops, c))
            .cloned()
            .collect()
    } else if has(&drops, "ALL") {
        adds.clone()
    } else {
        DEFAULT_CAPABILITIES
            .iter()
            .filter(|c| !has(&drops, c))
            .map(|c| c.to_string())
            .chain(adds.iter().cloned())
            .collect()
    };
    caps.retain(|c| c != "ALL");
    let mut seen = Vec::with_capacity(caps.len());
    for c in caps {
        if !seen.contains(&c) {
            seen.push(c);
        }
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn names_normalised_and_unknown_refused() {
        assert_eq!(
            normalize_capability("net_admin").ok().as_deref(),
            Some("CAP_NET_ADMIN")
        );
        assert_eq!(
            normalize_capability("CAP_SYS_ADMIN").ok().as_deref(),
            Some("CAP_SYS_ADMIN")
        );
        assert_eq!(normalize_capability("all").ok().as_deref(), Some("ALL"));
        let e = normalize_capability("CAP_FOO").expect_err("unknown");
        assert_eq!(e.message, "unknown capability: \"CAP_FOO\"");
        assert_eq!(e.kind, berth_model::ErrorKind::InvalidArgument);
        let e = normalize_capability("foo").expect_err("unknown");
        assert_eq!(e.message, "unknown capability: \"CAP_FOO\"");
    }

    #[test]
    fn default_has_no_net_raw() {
        let caps = effective_capabilities(&[], &[], false, &[]).expect("ok");
        assert_eq!(caps.len(), 13);
        assert!(!caps.contains(&"CAP_NET_RAW".to_string()));
        let caps = effective_capabilities(&s(&["NET_RAW"]), &[], false, &[]).expect("ok");
        assert!(caps.contains(&"CAP_NET_RAW".to_string()));
    }

    #[test]
    fn drop_all_add_one() {
        let caps =
            effective_capabilities(&s(&["NET_ADMIN"]), &s(&["ALL"]), false, &[]).expect("ok");
        assert_eq!(caps, s(&["CAP_NET_ADMIN"]));
    }

    #[test]
    fn add_all_minus_drops_bounded_by_daemon() {
        let avail = capabilities_from_mask(0x01ff_feff_ffff);
        assert!(!avail.contains(&"CAP_SYS_RESOURCE".to_string()));
        let caps =
            effective_capabilities(&s(&["all"]), &s(&["cap_chown"]), false, &avail).expect("ok");
        assert!(!caps.contains(&"CAP_CHOWN".to_string()));
        assert!(!caps.contains(&"CAP_SYS_RESOURCE".to_string()));
        assert!(caps.contains(&"CAP_SYS_ADMIN".to_string()));
        assert_eq!(caps.len(), avail.len() - 1);
    }

    #[test]
    fn drop_some_add_some() {
        let caps = effective_capabilities(
            &s(&["sys_ptrace", "CHOWN"]),
            &s(&["chown", "KILL"]),
            false,
            &[],
        )
        .expect("ok");
        assert!(!caps.contains(&"CAP_KILL".to_string()));
        assert!(caps.contains(&"CAP_SYS_PTRACE".to_string()));
        assert_eq!(caps.iter().filter(|c| *c == "CAP_CHOWN").count(), 1);
    }

    #[test]
    fn bounding_set_readable() {
        let b = daemon_bounding_set().expect("readable");
        if rustix::process::geteuid().is_root() {
            assert!(b.contains(&"CAP_CHOWN".to_string()), "{b:?}");
        }
    }
}
