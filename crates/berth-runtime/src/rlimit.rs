//! Resource limits (`process.rlimits`): `RLIMIT_*` names ↔ resources, validation, and
//! applying them to the container process.
//!
//! Main items: [`resource`], [`names`], [`validate`], [`apply`] / [`apply_to`].
//!
//! Invariants: a validated list names each resource at most once and has soft ≤ hard;
//! `u64::MAX` (RLIM64_INFINITY) means unlimited. Raising a hard limit above the current
//! one needs CAP_SYS_RESOURCE, which hosts of this class lack even for root (it is not in
//! the bounding set): that is an error naming the limit, as in runc, not a silent clamp,
//! because a container that asked for 1048576 files and got 524288 fails later and
//! obscurely.

use std::io;

use berth_spec::Rlimit;
use rustix::process::{Pid, Resource};

/// `RLIMIT_*` names and resources, all that Linux defines.
const TYPES: [(&str, Resource); 16] = [
    ("RLIMIT_AS", Resource::As),
    ("RLIMIT_CORE", Resource::Core),
    ("RLIMIT_CPU", Resource::Cpu),
    ("RLIMIT_DATA", Resource::Data),
    ("RLIMIT_FSIZE", Resource::Fsize),
    ("RLIMIT_LOCKS", Resource::Locks),
    ("RLIMIT_MEMLOCK", Resource::Memlock),
    ("RLIMIT_MSGQUEUE", Resource::Msgqueue),
    ("RLIMIT_NICE", Resource::Nice),
    ("RLIMIT_NOFILE", Resource::Nofile),
    ("RLIMIT_NPROC", Resource::Nproc),
    ("RLIMIT_RSS", Resource::Rss),
    ("RLIMIT_RTPRIO", Resource::Rtprio),
    ("RLIMIT_RTTIME", Resource::Rttime),
    ("RLIMIT_SIGPENDING", Resource::Sigpending),
    ("RLIMIT_STACK", Resource::Stack),
];

/// Errors of resource-limit handling.
#[derive(Debug, thiserror::Error)]
pub enum RlimitError {
    /// The configuration is wrong; `path` is the JSON path (`process.rlimits[2]`).
    #[error("{path}: {msg}")]
    Invalid {
        /// JSON path of the entry.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// Raising a hard limit without CAP_SYS_RESOURCE.
    #[error("setting {name} hard limit {want} above the current {current} needs CAP_SYS_RESOURCE")]
    NeedsSysResource {
        /// `RLIMIT_*` name.
        name: String,
        /// Requested hard limit.
        want: String,
        /// Current hard limit.
        current: String,
    },
    /// setrlimit/prlimit failed otherwise.
    #[error("setting {name} (soft {soft}, hard {hard}): {source}")]
    Sys {
        /// `RLIMIT_*` name.
        name: String,
        /// Requested soft limit.
        soft: String,
        /// Requested hard limit.
        hard: String,
        /// The OS error.
        source: io::Error,
    },
}

/// The resource named `name` (`"RLIMIT_NOFILE"`).
pub fn resource(name: &str) -> Option<Resource> {
    TYPES.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// All `RLIMIT_*` names (for `features`).
pub fn names() -> Vec<&'static str> {
    TYPES.iter().map(|(n, _)| *n).collect()
}

fn show(v: u64) -> String {
    if v == u64::MAX {
        "unlimited".into()
    } else {
        v.to_string()
    }
}

fn to_limit(v: u64) -> Option<u64> {
    (v != u64::MAX).then_some(v)
}

fn from_limit(v: Option<u64>) -> u64 {
    v.unwrap_or(u64::MAX)
}

/// Checks types, soft ≤ hard and that no resource is set twice.
pub fn validate(limits: &[Rlimit]) -> Result<(), RlimitError> {
    for (i, l) in limits.iter().enumerate() {
        if resource(&l.typ).is_none() {
            return Err(RlimitError::Invalid {
                path: format!("process.rlimits[{i}].type"),
                msg: format!("unknown resource limit {:?}", l.typ),
            });
        }
        if l.soft > l.hard {
            return Err(RlimitError::Invalid {
                path: format!("process.rlimits[{i}]"),
                msg: format!(
                    "soft limit {} is above the hard limit {} for {}",
                    show(l.soft),
                    show(l.hard),
                    l.typ
                ),
            });
        }
        if let Some(first) = limits[..i].iter().position(|o| o.typ == l.typ) {
            return Err(RlimitError::Invalid {
                path: format!("process.rlimits[{i}]"),
                msg: format!("{} is set twice (first at process.rlimits[{first}])", l.typ),
            });
        }
    }
    Ok(())
}

/// Applies `limits` to the calling process (setrlimit), in order.
pub fn apply(limits: &[Rlimit]) -> Result<(), RlimitError> {
    apply_to(None, limits)
}

/// Applies `limits` to process `pid` (prlimit; `None` = the caller). The runtime's
/// parent can use it on the container's init before that runs, as runc does, so limits
/// that need the parent's privileges still apply.
pub fn apply_to(pid: Option<Pid>, limits: &[Rlimit]) -> Result<(), RlimitError> {
    validate(limits)?;
    for l in limits {
        let Some(res) = resource(&l.typ) else {
            continue;
        };
        let new = rustix::process::Rlimit {
            current: to_limit(l.soft),
            maximum: to_limit(l.hard),
        };
        let result = match pid {
            None => rustix::process::setrlimit(res, new),
            Some(p) => rustix::process::prlimit(Some(p), res, new).map(drop),
        };
        let Err(err) = result else { continue };
        let current_hard = current_hard(pid, res);
        if err == rustix::io::Errno::PERM {
            if res == Resource::Nofile {
                if let Some(nr_open) = nr_open().filter(|&n| l.hard > n) {
                    return Err(RlimitError::Invalid {
                        path: "process.rlimits".into(),
                        msg: format!(
                            "RLIMIT_NOFILE hard limit {} is above the kernel's fs.nr_open {nr_open}",
                            show(l.hard)
                        ),
                    });
                }
            }
            if let Some(cur) = current_hard.filter(|&cur| l.hard > cur) {
                return Err(RlimitError::NeedsSysResource {
                    name: l.typ.clone(),
                    want: show(l.hard),
                    current: show(cur),
                });
            }
        }
        return Err(RlimitError::Sys {
            name: l.typ.clone(),
            soft: show(l.soft),
            hard: show(l.hard),
            source: err.into(),
        });
    }
    Ok(())
}

fn current_hard(pid: Option<Pid>, res: Resource) -> Option<u64> {
    match pid {
        None => Some(from_limit(rustix::process::getrlimit(res).maximum)),
        Some(_) => None,
    }
}

/// `/proc/sys/fs/nr_open`: the kernel's ceiling for RLIMIT_NOFILE, above which even
/// CAP_SYS_RESOURCE gets EPERM.
fn nr_open() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rl(typ: &str, soft: u64, hard: u64) -> Rlimit {
        Rlimit {
            typ: typ.into(),
            soft,
            hard,
        }
    }

    fn message(limits: &[Rlimit]) -> String {
        match validate(limits) {
            Ok(()) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn all_sixteen_names() {
        assert_eq!(names().len(), 16);
        for n in names() {
            assert!(resource(n).is_some(), "{n}");
        }
        assert_eq!(resource("RLIMIT_NOFILE"), Some(Resource::Nofile));
        assert_eq!(resource("NOFILE"), None);
    }

    #[test]
    fn validation_messages() {
        assert_eq!(
            message(&[
                rl("RLIMIT_NOFILE", 1024, 4096),
                rl("RLIMIT_CORE", 0, u64::MAX)
            ]),
            "ok"
        );
        assert_eq!(
            message(&[rl("RLIMIT_NOFILE", 1, 2), rl("RLIMIT_FOO", 1, 2)]),
            r#"process.rlimits[1].type: unknown resource limit "RLIMIT_FOO""#
        );
        assert_eq!(
            message(&[rl("RLIMIT_NOFILE", 2048, 1024)]),
            "process.rlimits[0]: soft limit 2048 is above the hard limit 1024 for RLIMIT_NOFILE"
        );
        assert_eq!(
            message(&[rl("RLIMIT_CORE", u64::MAX, 0)]),
            "process.rlimits[0]: soft limit unlimited is above the hard limit 0 for RLIMIT_CORE"
        );
        assert_eq!(
            message(&[
                rl("RLIMIT_NOFILE", 1, 2),
                rl("RLIMIT_CORE", 0, 0),
                rl("RLIMIT_NOFILE", 3, 4)
            ]),
            "process.rlimits[2]: RLIMIT_NOFILE is set twice (first at process.rlimits[0])"
        );
    }

    /// Limits are per process: the test re-runs itself as a child and changes them there.
    #[test]
    fn apply_in_child() {
        // The apply steps change this process for good: run in a child of our own.
        if !berth_testutil::isolated!() {
            return;
        }
        let before = rustix::process::getrlimit(Resource::Nofile);
        let hard = from_limit(before.maximum).min(4096);
        apply(&[rl("RLIMIT_NOFILE", 100, hard), rl("RLIMIT_CORE", 0, 0)]).expect("lowering");
        let now = rustix::process::getrlimit(Resource::Nofile);
        assert_eq!((now.current, now.maximum), (Some(100), Some(hard)));
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let core = limits.lines().find(|l| l.starts_with("Max core file size"));
        assert!(
            core.is_some_and(|l| l.split_whitespace().nth(4) == Some("0")),
            "{limits}"
        );

        // Raising the hard limit again: only with CAP_SYS_RESOURCE.
        let has_resource = rustix::thread::capabilities(None)
            .map(|c| {
                c.effective
                    .contains(rustix::thread::CapabilitySet::SYS_RESOURCE)
            })
            .unwrap_or(false);
        let raised = apply(&[rl("RLIMIT_NOFILE", 100, hard + 1)]);
        if has_resource {
            assert!(raised.is_ok(), "{raised:?}");
        } else {
            assert_eq!(
                raised.err().map(|e| e.to_string()),
                Some(format!(
                    "setting RLIMIT_NOFILE hard limit {} above the current {hard} needs CAP_SYS_RESOURCE",
                    hard + 1
                ))
            );
        }
    }
}
