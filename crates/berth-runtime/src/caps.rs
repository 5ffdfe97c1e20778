//! Linux capabilities: names ↔ numbers (the table is [`berth_spec::caps`]), validation
//! of `process.capabilities`, and the steps the container init takes right before exec.
//!
//! Main items: [`parse`], [`validate`], [`resolve`] (names → [`CapSets`]), then the apply
//! steps [`drop_bounding`], [`set_keepcaps`], [`set`], [`set_ambient`].
//!
//! # Order in the container init
//! 1. [`drop_bounding`] while the init is still root with a full effective set:
//!    `PR_CAPBSET_DROP` needs CAP_SETPCAP.
//! 2. [`set_keepcaps`]`(true)`, then `setresuid`/`setresgid` to the container user: a
//!    switch away from uid 0 clears the permitted set unless keepcaps is on (and always
//!    clears the effective set), see capabilities(7) "Effect of user ID changes".
//! 3. [`set`] (capset) for effective, permitted and inheritable.
//! 4. [`set_ambient`]: raising an ambient cap needs it permitted *and* inheritable, so it
//!    has to come after step 3. Then exec.
//!
//! # Unknown and unavailable capabilities (decision)
//! - A name not in the table ([`berth_spec::caps::ALL`], CAP_CHOWN …
//!   CAP_CHECKPOINT_RESTORE, the kernel's list up to 6.18) is a typo or a capability newer than berth: [`validate`]
//!   rejects it, naming the field (crun fails too; runc only warns and drops it, which
//!   silently runs a container with less than asked).
//! - A known capability above this kernel's `cap_last_cap` is dropped from the request
//!   by [`resolve`] (runc: "ignoring unknown or unavailable capabilities").
//! - A capability the runtime itself does not hold (this class of host lacks
//!   CAP_SYS_RESOURCE in its bounding set) cannot be granted: capset would fail with
//!   EPERM, which is how Docker 20.10 fails every `--privileged` run here. [`set`]
//!   grants the intersection with what the process holds and returns the capabilities
//!   it left out, so the runtime can log them at debug level; [`set_ambient`] skips what
//!   the kernel refuses, as runc does.

use std::io;

use berth_spec::{caps, Capabilities};
use rustix::thread::{CapabilitySet, CapabilitySets};

/// Errors of capability handling.
#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    /// A name that is not a capability; `field` is the JSON path of the set.
    #[error("{field}: unknown capability {name:?}")]
    Unknown {
        /// e.g. `process.capabilities.bounding`.
        field: String,
        /// The offending name.
        name: String,
    },
    /// A prctl/capset call failed.
    #[error("{context}: {source}")]
    Sys {
        /// What was being done.
        context: String,
        /// The OS error.
        source: io::Error,
    },
}

fn sys(context: impl Into<String>, e: rustix::io::Errno) -> CapsError {
    CapsError::Sys {
        context: context.into(),
        source: e.into(),
    }
}

/// The number of capability `name` (`"CAP_NET_ADMIN"` → 12). Only the canonical
/// upper-case `CAP_` spelling is accepted, as in the runtime-spec. The error names the
/// field as `process.capabilities`; [`validate`] names the exact set.
pub fn parse(name: &str) -> Result<u32, CapsError> {
    caps::number(name).ok_or_else(|| CapsError::Unknown {
        field: "process.capabilities".into(),
        name: name.into(),
    })
}

/// The name of capability number `cap`, if berth knows it.
pub fn name(cap: u32) -> Option<&'static str> {
    caps::name(cap)
}

/// All capability names berth knows, in number order (for `features`).
pub fn all_names() -> Vec<&'static str> {
    caps::ALL.to_vec()
}

/// The highest capability this kernel knows (`/proc/sys/kernel/cap_last_cap`). When the
/// file cannot be read (no /proc yet), berth's own highest is assumed; dropping or
/// setting a capability the kernel does not know then fails with EINVAL, which the
/// apply steps skip.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(caps::LAST)
}

fn sets(c: &Capabilities) -> [(&'static str, Option<&Vec<String>>); 5] {
    [
        ("bounding", c.bounding.as_ref()),
        ("effective", c.effective.as_ref()),
        ("inheritable", c.inheritable.as_ref()),
        ("permitted", c.permitted.as_ref()),
        ("ambient", c.ambient.as_ref()),
    ]
}

/// Checks every name in every set, e.g.
/// `process.capabilities.bounding: unknown capability "CAP_FOO"`.
pub fn validate(c: &Capabilities) -> Result<(), CapsError> {
    for (set, names) in sets(c) {
        for name in names.into_iter().flatten() {
            if parse(name).is_err() {
                return Err(CapsError::Unknown {
                    field: format!("process.capabilities.{set}"),
                    name: name.clone(),
                });
            }
        }
    }
    Ok(())
}

/// The five sets as capability numbers, each sorted and without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapSets {
    /// Bounding set: what is kept; everything else is dropped.
    pub bounding: Vec<u32>,
    /// Effective set.
    pub effective: Vec<u32>,
    /// Permitted set.
    pub permitted: Vec<u32>,
    /// Inheritable set.
    pub inheritable: Vec<u32>,
    /// Ambient set.
    pub ambient: Vec<u32>,
}

/// Names → numbers for the running kernel: validates, then leaves out capabilities above
/// `last` (see the module doc). An absent set is empty.
pub fn resolve(c: &Capabilities, last: u32) -> Result<CapSets, CapsError> {
    validate(c)?;
    let numbers = |names: Option<&Vec<String>>| -> Vec<u32> {
        let mut out: Vec<u32> = names
            .into_iter()
            .flatten()
            .filter_map(|n| parse(n).ok())
            .filter(|&cap| cap <= last)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    };
    Ok(CapSets {
        bounding: numbers(c.bounding.as_ref()),
        effective: numbers(c.effective.as_ref()),
        permitted: numbers(c.permitted.as_ref()),
        inheritable: numbers(c.inheritable.as_ref()),
        ambient: numbers(c.ambient.as_ref()),
    })
}

fn bit(cap: u32) -> CapabilitySet {
    CapabilitySet::from_bits_retain(1u64.checked_shl(cap).unwrap_or(0))
}

fn to_set(caps: &[u32]) -> CapabilitySet {
    caps.iter()
        .fold(CapabilitySet::empty(), |acc, &c| acc | bit(c))
}

fn to_numbers(set: CapabilitySet) -> Vec<u32> {
    (0..64).filter(|&c| set.contains(bit(c))).collect()
}

/// Drops every capability up to [`last_cap`] that is not in `keep` from the bounding
/// set. Needs CAP_SETPCAP, so it runs before the user switch. EINVAL (a capability this
/// kernel does not have) is skipped.
pub fn drop_bounding(keep: &[u32]) -> Result<(), CapsError> {
    for cap in 0..=last_cap() {
        if keep.contains(&cap) {
            continue;
        }
        match rustix::thread::remove_capability_from_bounding_set(bit(cap)) {
            Ok(()) | Err(rustix::io::Errno::INVAL) => {}
            Err(e) => {
                let what = name(cap).map_or_else(|| format!("capability {cap}"), str::to_owned);
                return Err(sys(format!("dropping {what} from the bounding set"), e));
            }
        }
    }
    Ok(())
}

/// Sets `PR_SET_KEEPCAPS`, so the permitted set survives the switch from uid 0 to the
/// container user.
pub fn set_keepcaps(on: bool) -> Result<(), CapsError> {
    rustix::thread::set_keep_capabilities(on).map_err(|e| sys("setting keepcaps", e))
}

/// Sets the effective, permitted and inheritable sets of the calling thread (capset).
///
/// Grants only what the thread can hold: permitted ∩ current permitted, effective ∩ the
/// new permitted, inheritable ∩ (current inheritable ∪ current permitted) — the limits
/// capset(2) enforces. Returns the requested capabilities left out, sorted, so the
/// caller can log them (see the module doc for why this is not an error).
pub fn set(
    effective: &[u32],
    permitted: &[u32],
    inheritable: &[u32],
) -> Result<Vec<u32>, CapsError> {
    let current = rustix::thread::capabilities(None)
        .map_err(|e| sys("reading the current capabilities", e))?;
    let want_p = to_set(permitted);
    let want_e = to_set(effective);
    let want_i = to_set(inheritable);
    let p = want_p & current.permitted;
    let e = want_e & p;
    let i = want_i & (current.inheritable | current.permitted);
    let left_out = (want_p - p) | (want_e - e) | (want_i - i);
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: e,
            permitted: p,
            inheritable: i,
        },
    )
    .map_err(|err| sys("setting capabilities (capset)", err))?;
    Ok(to_numbers(left_out))
}

/// Clears the ambient set, then raises each of `caps`. A capability the kernel refuses
/// (EPERM: not both permitted and inheritable; EINVAL: unknown to the kernel) is
/// skipped, as runc does; the skipped ones are returned for a debug log. Clearing is
/// skipped on kernels without ambient capabilities (< 4.3, EINVAL).
pub fn set_ambient(caps: &[u32]) -> Result<Vec<u32>, CapsError> {
    match rustix::thread::clear_ambient_capability_set() {
        Ok(()) => {}
        Err(rustix::io::Errno::INVAL) => return Ok(caps.to_vec()),
        Err(e) => return Err(sys("clearing the ambient capabilities", e)),
    }
    let mut skipped = Vec::new();
    for &cap in caps {
        match rustix::thread::configure_capability_in_ambient_set(bit(cap), true) {
            Ok(()) => {}
            Err(rustix::io::Errno::PERM | rustix::io::Errno::INVAL) => skipped.push(cap),
            Err(e) => {
                let what = name(cap).map_or_else(|| format!("capability {cap}"), str::to_owned);
                return Err(sys(format!("raising {what} in the ambient set"), e));
            }
        }
    }
    Ok(skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(bounding: &[&str]) -> Capabilities {
        Capabilities {
            bounding: Some(bounding.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn names_and_numbers() -> Result<(), CapsError> {
        assert_eq!(parse("CAP_CHOWN")?, 0);
        assert_eq!(parse("CAP_NET_ADMIN")?, 12);
        assert_eq!(parse("CAP_SYS_ADMIN")?, 21);
        assert_eq!(parse("CAP_CHECKPOINT_RESTORE")?, 40);
        assert_eq!(name(24), Some("CAP_SYS_RESOURCE"));
        assert_eq!(name(41), None);
        assert_eq!(all_names().len(), 41);
        for (i, n) in all_names().iter().enumerate() {
            assert_eq!(parse(n)?, i as u32);
        }
        assert!(parse("chown").is_err());
        assert_eq!(
            parse("CAP_FOO").err().map(|e| e.to_string()),
            Some(r#"process.capabilities: unknown capability "CAP_FOO""#.into())
        );
        Ok(())
    }

    #[test]
    fn validate_names_the_set() {
        assert!(validate(&caps(&["CAP_CHOWN", "CAP_KILL"])).is_ok());
        let err = validate(&caps(&["CAP_CHOWN", "CAP_FOO"])).err();
        assert_eq!(
            err.map(|e| e.to_string()),
            Some(r#"process.capabilities.bounding: unknown capability "CAP_FOO""#.into())
        );
        let c = Capabilities {
            ambient: Some(vec!["CAP_NET_RAW".into(), "NET_ADMIN".into()]),
            ..Default::default()
        };
        assert_eq!(
            validate(&c).err().map(|e| e.to_string()),
            Some(r#"process.capabilities.ambient: unknown capability "NET_ADMIN""#.into())
        );
    }

    #[test]
    fn resolve_sorts_dedups_and_drops_above_last_cap() -> Result<(), CapsError> {
        let c = Capabilities {
            bounding: Some(vec![
                "CAP_KILL".into(),
                "CAP_CHOWN".into(),
                "CAP_KILL".into(),
                "CAP_BPF".into(),
            ]),
            effective: None,
            ..Default::default()
        };
        let s = resolve(&c, 37)?;
        assert_eq!(s.bounding, vec![0, 5]);
        assert!(s.effective.is_empty());
        Ok(())
    }

    #[test]
    fn last_cap_matches_the_kernel() {
        let from_proc = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        if let Some(n) = from_proc {
            assert_eq!(last_cap(), n);
        }
    }

    /// `/proc/thread-self/status` line `key`, as a bit mask: capabilities are per thread
    /// and a test runs on its own thread.
    fn status_mask(key: &str) -> u64 {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(u64::MAX)
    }

    fn mask(caps: &[u32]) -> u64 {
        caps.iter().fold(0, |m, &c| m | (1u64 << c))
    }

    /// The apply steps change the thread for good, so the test re-runs itself as a child
    /// process and checks what the kernel reports there. Needs root.
    #[test]
    fn apply_in_child() {
        // The apply steps change this process for good: run in a child of our own.
        if !berth_testutil::isolated!() {
            return;
        }
        let chown = 0;
        let kill = 5;
        let setpcap = 8;
        let net_bind = 10;
        let sys_resource = 24;
        let keep = [chown, kill, setpcap, net_bind, sys_resource];
        drop_bounding(&keep).expect("drop_bounding");
        let held_before = status_mask("CapBnd:");
        assert_eq!(held_before & !mask(&keep), 0, "bounding {held_before:x}");
        assert_ne!(held_before & mask(&[kill]), 0);

        // Asking for a capability the process does not hold must not fail.
        let bnd_has_resource = held_before & mask(&[sys_resource]) != 0;
        let left_out = set(
            &[chown, kill],
            &[chown, kill, net_bind, sys_resource],
            &[kill, net_bind],
        )
        .expect("set");
        let prm = status_mask("CapPrm:");
        assert_eq!(status_mask("CapEff:"), mask(&[chown, kill]));
        assert_eq!(status_mask("CapInh:"), mask(&[kill, net_bind]));
        if bnd_has_resource {
            assert_eq!(prm, mask(&[chown, kill, net_bind, sys_resource]));
            assert!(left_out.is_empty());
        } else {
            assert_eq!(prm, mask(&[chown, kill, net_bind]));
            assert_eq!(left_out, vec![sys_resource]);
        }

        // chown is permitted but not inheritable: the kernel refuses it in ambient.
        let skipped = set_ambient(&[kill, chown]).expect("set_ambient");
        assert_eq!(skipped, vec![chown]);
        assert_eq!(status_mask("CapAmb:"), mask(&[kill]));
        set_keepcaps(true).expect("keepcaps");
    }
}
