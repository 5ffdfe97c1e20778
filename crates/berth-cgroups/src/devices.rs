//! Device rules: the OCI list reduced to the state the v1 device controller would end in.
//!
//! Main type: [`DeviceRules`], a default (allow or deny everything) plus exceptions, built by
//! replaying the OCI rules in order with the kernel's v1 semantics
//! (<https://docs.kernel.org/admin-guide/cgroup-v1/devices.html>, `devcgroup_update_access`
//! in `security/device_cgroup.c`):
//! - a rule of type `a` sets the default and drops every exception (major, minor and access
//!   of such a rule are ignored, as the kernel does);
//! - a rule that agrees with the default removes its access bits from the exception with
//!   exactly the same type/major/minor (it does not punch holes into wildcard exceptions);
//! - a rule that disagrees with the default adds (or widens) an exception.
//!
//! Both v1 (the files written) and v2 (the eBPF program generated) are produced from this
//! state, so a container sees the same devices under either.

use crate::{Error, Result};
use berth_spec::DeviceRule;
use std::fmt::Write as _;

/// mknod access (same bit as `BPF_DEVCG_ACC_MKNOD`).
pub(crate) const ACC_MKNOD: u8 = 1;
/// read access (`BPF_DEVCG_ACC_READ`).
pub(crate) const ACC_READ: u8 = 2;
/// write access (`BPF_DEVCG_ACC_WRITE`).
pub(crate) const ACC_WRITE: u8 = 4;
/// All three.
pub(crate) const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// The device type of an exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceType {
    /// Character devices (`c`).
    Char,
    /// Block devices (`b`).
    Block,
}

impl DeviceType {
    fn letter(self) -> char {
        match self {
            DeviceType::Char => 'c',
            DeviceType::Block => 'b',
        }
    }
}

/// One exception to the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceException {
    /// Character or block.
    pub typ: DeviceType,
    /// Major number; `None` matches all.
    pub major: Option<u32>,
    /// Minor number; `None` matches all.
    pub minor: Option<u32>,
    /// Access bits ([`ACC_READ`] …), never empty.
    pub access: u8,
}

impl DeviceException {
    /// The rule as the v1 `devices.allow`/`devices.deny` files take it: `c 1:3 rw`.
    pub fn v1_string(&self) -> String {
        let num = |n: Option<u32>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        let mut s = format!(
            "{} {}:{} ",
            self.typ.letter(),
            num(self.major),
            num(self.minor)
        );
        for (bit, c) in [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')] {
            if self.access & bit != 0 {
                s.push(c);
            }
        }
        s
    }
}

/// The device controller's state after a list of OCI rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRules {
    /// What happens to a device no exception matches.
    pub default_allow: bool,
    /// Devices treated the other way round, in the order they were first added.
    pub exceptions: Vec<DeviceException>,
}

enum Parsed {
    All,
    One(DeviceException),
}

fn parse_number(v: Option<i64>, field: &str) -> Result<Option<u32>> {
    match v {
        None | Some(-1) => Ok(None),
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| *n <= i32::MAX as u32)
            .map(Some)
            .ok_or_else(|| Error::Invalid {
                field: field.into(),
                reason: format!("{n} is not a device number"),
            }),
    }
}

/// Parses the `access` string of a rule; absent or empty means `rwm`.
pub(crate) fn parse_access(access: Option<&str>, field: &str) -> Result<u8> {
    let s = access.unwrap_or("");
    if s.is_empty() {
        return Ok(ACC_ALL);
    }
    let mut bits = 0;
    for c in s.chars() {
        bits |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => {
                return Err(Error::Invalid {
                    field: field.into(),
                    reason: format!("{s:?} has {c:?}; only r, w and m are allowed"),
                })
            }
        };
    }
    Ok(bits)
}

fn parse_rule(rule: &DeviceRule, i: usize) -> Result<Parsed> {
    let field = |f: &str| format!("devices[{i}].{f}");
    let typ = match rule.typ.as_deref() {
        None | Some("a") => return Ok(Parsed::All),
        Some("c") => DeviceType::Char,
        Some("b") => DeviceType::Block,
        Some(other) => {
            return Err(Error::Invalid {
                field: field("type"),
                reason: format!("{other:?} is not one of a, c, b"),
            })
        }
    };
    Ok(Parsed::One(DeviceException {
        typ,
        major: parse_number(rule.major, &field("major"))?,
        minor: parse_number(rule.minor, &field("minor"))?,
        access: parse_access(rule.access.as_deref(), &field("access"))?,
    }))
}

impl DeviceRules {
    /// Replays `rules` starting from "allow everything", which is what a new cgroup inherits
    /// from the root.
    pub fn from_spec(rules: &[DeviceRule]) -> Result<DeviceRules> {
        let mut state = DeviceRules {
            default_allow: true,
            exceptions: Vec::new(),
        };
        for (i, rule) in rules.iter().enumerate() {
            match parse_rule(rule, i)? {
                Parsed::All => {
                    state.default_allow = rule.allow;
                    state.exceptions.clear();
                }
                Parsed::One(ex) => {
                    let pos = state.exceptions.iter().position(|e| {
                        e.typ == ex.typ && e.major == ex.major && e.minor == ex.minor
                    });
                    if rule.allow == state.default_allow {
                        if let Some(p) = pos {
                            state.exceptions[p].access &= !ex.access;
                            if state.exceptions[p].access == 0 {
                                state.exceptions.remove(p);
                            }
                        }
                    } else if let Some(p) = pos {
                        state.exceptions[p].access |= ex.access;
                    } else {
                        state.exceptions.push(ex);
                    }
                }
            }
        }
        Ok(state)
    }

    /// The writes that bring a v1 device cgroup into this state: first `a` to the file of
    /// the default (which resets the exceptions), then each exception to the other file.
    pub fn v1_writes(&self) -> Vec<(&'static str, String)> {
        let (default_file, exception_file) = if self.default_allow {
            ("devices.allow", "devices.deny")
        } else {
            ("devices.deny", "devices.allow")
        };
        let mut out = vec![(default_file, "a".to_string())];
        out.extend(
            self.exceptions
                .iter()
                .map(|e| (exception_file, e.v1_string())),
        );
        out
    }

    /// The writes that bring a v1 device cgroup whose `devices.list` reads `current` into
    /// this state. When both the current and the wanted state deny by default (the usual
    /// container case, e.g. on `update`), only the differences are written, allows first, so
    /// a running container never passes through "deny everything" (which a reset with `a`
    /// would do for a moment). Otherwise this is [`DeviceRules::v1_writes`].
    pub fn v1_update_writes(&self, current: &str) -> Vec<(&'static str, String)> {
        let current_allows_all = current.lines().any(|l| l.trim() == "a *:* rwm");
        if self.default_allow || current_allows_all {
            return self.v1_writes();
        }
        let Some(have) = parse_list(current) else {
            return self.v1_writes();
        };
        let key = |e: &DeviceException| (e.typ, e.major, e.minor);
        let mut out = Vec::new();
        for want in &self.exceptions {
            let had = have
                .iter()
                .find(|h| key(h) == key(want))
                .map_or(0, |h| h.access);
            if want.access & !had != 0 {
                out.push((
                    "devices.allow",
                    DeviceException {
                        access: want.access & !had,
                        ..want.clone()
                    }
                    .v1_string(),
                ));
            }
        }
        for had in &have {
            let keep = self
                .exceptions
                .iter()
                .find(|w| key(w) == key(had))
                .map_or(0, |w| w.access);
            if had.access & !keep != 0 {
                out.push((
                    "devices.deny",
                    DeviceException {
                        access: had.access & !keep,
                        ..had.clone()
                    }
                    .v1_string(),
                ));
            }
        }
        out
    }

    /// A readable summary (for error messages and logs).
    pub fn describe(&self) -> String {
        let mut s = String::from(if self.default_allow {
            "allow all"
        } else {
            "deny all"
        });
        for e in &self.exceptions {
            let _ = write!(s, ", except {}", e.v1_string());
        }
        s
    }
}

/// Parses a whitelist-mode `devices.list` (`c 1:3 rwm` per line); `None` if a line is not
/// in that form.
fn parse_list(text: &str) -> Option<Vec<DeviceException>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let typ = match it.next()? {
            "c" => DeviceType::Char,
            "b" => DeviceType::Block,
            _ => return None,
        };
        let (major, minor) = it.next()?.split_once(':')?;
        let num = |n: &str| {
            if n == "*" {
                Some(None)
            } else {
                n.parse().ok().map(Some)
            }
        };
        let access = parse_access(Some(it.next()?), "devices.list").ok()?;
        out.push(DeviceException {
            typ,
            major: num(major)?,
            minor: num(minor)?,
            access,
        });
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_style_list() {
        let rules = vec![
            DeviceRule::new(false, "a", None, None, "rwm"),
            DeviceRule::new(true, "c", Some(1), Some(3), "rwm"),
            DeviceRule::new(true, "c", Some(136), None, "rw"),
            DeviceRule::new(true, "c", None, None, "m"),
        ];
        let s = DeviceRules::from_spec(&rules).expect("valid");
        assert!(!s.default_allow);
        assert_eq!(s.exceptions.len(), 3);
        assert_eq!(
            s.v1_writes(),
            vec![
                ("devices.deny", "a".to_string()),
                ("devices.allow", "c 1:3 rwm".to_string()),
                ("devices.allow", "c 136:* rw".to_string()),
                ("devices.allow", "c *:* m".to_string()),
            ]
        );
    }

    #[test]
    fn later_rules_narrow_and_widen_exceptions() {
        let rules = vec![
            DeviceRule::new(false, "a", None, None, ""),
            DeviceRule::new(true, "c", Some(1), Some(3), "r"),
            DeviceRule::new(true, "c", Some(1), Some(3), "w"),
            DeviceRule::new(false, "c", Some(1), Some(3), "r"),
            DeviceRule::new(true, "b", Some(8), Some(0), "rw"),
            DeviceRule::new(false, "b", Some(8), Some(0), "rwm"),
        ];
        let s = DeviceRules::from_spec(&rules).expect("valid");
        assert_eq!(s.describe(), "deny all, except c 1:3 w");
    }

    #[test]
    fn wildcard_rule_resets() {
        let rules = vec![
            DeviceRule::new(true, "c", Some(1), Some(3), "rwm"),
            DeviceRule::new(false, "c", Some(1), Some(5), "r"),
        ];
        let s = DeviceRules::from_spec(&rules).expect("valid");
        assert!(s.default_allow);
        assert_eq!(s.describe(), "allow all, except c 1:5 r");
        let mut more = rules.clone();
        more.push(DeviceRule {
            allow: false,
            ..Default::default()
        });
        let s = DeviceRules::from_spec(&more).expect("valid");
        assert_eq!(s.describe(), "deny all");
        assert_eq!(s.v1_writes(), vec![("devices.deny", "a".to_string())]);
    }

    #[test]
    fn updates_between_whitelists_write_only_the_difference() {
        let rules = vec![
            DeviceRule::new(false, "a", None, None, "rwm"),
            DeviceRule::new(true, "c", Some(1), Some(3), "rw"),
            DeviceRule::new(true, "c", Some(136), None, "rwm"),
        ];
        let s = DeviceRules::from_spec(&rules).expect("valid");
        assert_eq!(
            s.v1_update_writes("c 1:3 rwm\nc 1:5 r\n"),
            vec![
                ("devices.allow", "c 136:* rwm".to_string()),
                ("devices.deny", "c 1:3 m".to_string()),
                ("devices.deny", "c 1:5 r".to_string()),
            ]
        );
        assert_eq!(
            s.v1_update_writes("a *:* rwm\n"),
            s.v1_writes(),
            "from allow-all: reset"
        );
        assert_eq!(
            s.v1_update_writes("x garbage\n"),
            s.v1_writes(),
            "unknown list: reset"
        );
        assert!(
            s.v1_update_writes("c 1:3 rw\nc 136:* rwm\n").is_empty(),
            "nothing to do"
        );
    }

    #[test]
    fn bad_rules_name_the_field() {
        let e = DeviceRules::from_spec(&[DeviceRule::new(true, "x", None, None, "r")])
            .expect_err("bad type");
        assert!(e.to_string().contains("devices[0].type"), "{e}");
        let e = DeviceRules::from_spec(&[DeviceRule::new(true, "c", None, None, "rx")])
            .expect_err("bad access");
        assert!(e.to_string().contains("devices[0].access"), "{e}");
        let e = DeviceRules::from_spec(&[DeviceRule::new(true, "c", Some(-5), None, "r")])
            .expect_err("bad major");
        assert!(e.to_string().contains("devices[0].major"), "{e}");
    }
}
