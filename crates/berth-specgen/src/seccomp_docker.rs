//! Docker's seccomp profile format (what `--security-opt seccomp=profile.json` sends) to
//! OCI `linux.seccomp`, with Docker's conditional rules resolved for this container and
//! host: `includes`/`excludes` by capability, architecture and minimum kernel.

use berth_model::{Error, Result};
use berth_spec::{Seccomp, SeccompArg, SeccompSyscall};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    arch_map: Vec<ArchMap>,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    listener_metadata: Option<String>,
    #[serde(default)]
    syscalls: Vec<Syscall>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Syscall {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    names: Vec<String>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Vec<Arg>,
    #[serde(default)]
    includes: Filter,
    #[serde(default)]
    excludes: Filter,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Arg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// Docker's names for this build's architecture in `includes.arches`.
fn native_arch_names() -> &'static [&'static str] {
    if cfg!(target_arch = "x86_64") {
        &["amd64", "x86_64"]
    } else if cfg!(target_arch = "aarch64") {
        &["arm64", "aarch64"]
    } else {
        &[]
    }
}

fn native_scmp_arch() -> &'static str {
    if cfg!(target_arch = "x86_64") {
        "SCMP_ARCH_X86_64"
    } else if cfg!(target_arch = "aarch64") {
        "SCMP_ARCH_AARCH64"
    } else {
        ""
    }
}

fn parse_kernel(v: &str) -> Option<(u32, u32)> {
    let mut it = v.split(['.', '-']);
    let major = it.next()?.parse().ok()?;
    let minor = it
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    Some((major, minor))
}

/// The running kernel's `(major, minor)`.
pub(crate) fn host_kernel() -> (u32, u32) {
    let uts = rustix::system::uname();
    parse_kernel(&uts.release().to_string_lossy()).unwrap_or((0, 0))
}

/// Converts a Docker seccomp profile (JSON text) for a container holding `caps` on a
/// kernel `kernel` (`(major, minor)`).
pub fn docker_profile_to_oci(json: &str, caps: &[String], kernel: (u32, u32)) -> Result<Seccomp> {
    let p: Profile = serde_json::from_str(json)
        .map_err(|e| Error::invalid(format!("Decoding seccomp profile failed: {e}")))?;
    if !p.architectures.is_empty() && !p.arch_map.is_empty() {
        return Err(Error::invalid(
            "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'",
        ));
    }
    let mut architectures = p.architectures.clone();
    for a in &p.arch_map {
        if a.architecture == native_scmp_arch() {
            architectures.push(a.architecture.clone());
            architectures.extend(a.sub_architectures.iter().cloned());
        }
    }
    let arch_ok = |f: &Filter, include: bool| -> bool {
        if f.arches.is_empty() {
            return include;
        }
        f.arches
            .iter()
            .any(|a| native_arch_names().contains(&a.as_str()))
    };
    let caps_has = |c: &str| caps.iter().any(|x| x == c);
    let mut syscalls = Vec::new();
    for (i, s) in p.syscalls.into_iter().enumerate() {
        if s.name.is_some() && !s.names.is_empty() {
            return Err(Error::invalid(format!(
                "syscalls[{i}]: 'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'"
            )));
        }
        // includes: every listed capability held, native arch listed, kernel new enough.
        if !arch_ok(&s.includes, true) || !s.includes.caps.iter().all(|c| caps_has(c)) {
            continue;
        }
        if let Some(min) = s.includes.min_kernel.as_deref() {
            let need = parse_kernel(min).ok_or_else(|| {
                Error::invalid(format!("syscalls[{i}]: invalid minKernel {min:?}"))
            })?;
            if kernel < need {
                continue;
            }
        }
        // excludes: any listed capability held, or native arch listed.
        if (!s.excludes.arches.is_empty() && arch_ok(&s.excludes, false))
            || s.excludes.caps.iter().any(|c| caps_has(c))
        {
            continue;
        }
        let names = match s.name {
            Some(n) => vec![n],
            None => s.names,
        };
        if names.is_empty() {
            return Err(Error::invalid(format!("syscalls[{i}]: no syscall names")));
        }
        syscalls.push(SeccompSyscall {
            names,
            action: s.action,
            errno_ret: s.errno_ret,
            args: s
                .args
                .into_iter()
                .map(|a| SeccompArg {
                    index: a.index,
                    value: a.value,
                    value_two: Some(a.value_two),
                    op: a.op,
                })
                .collect(),
        });
    }
    Ok(Seccomp {
        default_action: p.default_action,
        default_errno_ret: p.default_errno_ret,
        architectures,
        flags: p.flags,
        listener_path: p.listener_path,
        listener_metadata: p.listener_metadata,
        syscalls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = r#"{
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
             "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
            {"names": ["future"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.1"}},
            {"names": ["arch_only"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}}
        ]
    }"#;

    fn names(s: &Seccomp) -> Vec<String> {
        s.syscalls.iter().flat_map(|r| r.names.clone()).collect()
    }

    #[test]
    fn conditions_resolved() {
        let s = docker_profile_to_oci(PROFILE, &[], (6, 1)).expect("ok");
        if cfg!(target_arch = "x86_64") {
            assert_eq!(
                s.architectures,
                ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
            );
            assert!(names(&s).contains(&"arch_only".to_string()));
        }
        let n = names(&s);
        assert!(n.contains(&"clone".to_string()));
        assert!(n.contains(&"ptrace".to_string()));
        assert!(!n.contains(&"mount".to_string()));
        assert!(!n.contains(&"future".to_string()));
        let clone = s
            .syscalls
            .iter()
            .find(|r| r.names == ["clone"])
            .expect("clone");
        assert_eq!(clone.args[0].value_two, Some(0));
        let admin =
            docker_profile_to_oci(PROFILE, &["CAP_SYS_ADMIN".to_string()], (4, 4)).expect("ok");
        let n = names(&admin);
        assert!(n.contains(&"mount".to_string()));
        assert!(!n.contains(&"clone".to_string()));
        assert!(!n.contains(&"ptrace".to_string()), "4.4 < 4.8");
    }

    #[test]
    fn bad_profiles() {
        let e = docker_profile_to_oci("{", &[], (6, 1)).expect_err("bad json");
        assert!(
            e.message.starts_with("Decoding seccomp profile failed"),
            "{e}"
        );
        let both = r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}"#;
        assert!(docker_profile_to_oci(both, &[], (6, 1)).is_err());
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(parse_kernel("6.18.44-fc-v669"), Some((6, 18)));
        assert_eq!(parse_kernel("4.8"), Some((4, 8)));
        assert_eq!(parse_kernel("5.10-rc1"), Some((5, 10)));
        assert!(host_kernel() > (3, 0));
    }
}
