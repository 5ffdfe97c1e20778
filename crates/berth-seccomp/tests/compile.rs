//! Compiling profiles without loading them: the filter is checked through libseccomp's
//! PFC export, so these run unprivileged and in parallel.

use berth_seccomp::{compile, Filter};
use berth_spec::Seccomp;

fn profile(json: serde_json::Value) -> anyhow::Result<Seccomp> {
    Ok(serde_json::from_value(json)?)
}

fn pfc(f: &Filter) -> anyhow::Result<String> {
    Ok(f.export_pfc()?)
}

#[test]
fn unknown_syscalls_are_ignored_and_reported() -> anyhow::Result<()> {
    let s = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "no_such_syscall_2099"], "action": "SCMP_ACT_ERRNO"}]
    }))?;
    let f = compile(&s)?;
    assert_eq!(f.ignored_syscalls(), ["no_such_syscall_2099"]);
    assert!(!f.needs_notify());
    Ok(())
}

#[test]
fn docker_style_profile_compiles() -> anyhow::Result<()> {
    // The shapes Docker's default profile uses: multiple archs, socketcall (a pseudo
    // syscall on x86_64), MASKED_EQ on clone flags, repeated indexes on personality,
    // errnoRet, a syscall newer than libseccomp 2.5.4.
    let s = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["read", "write", "exit_group", "socketcall", "futex_waitv", "cachestat"],
             "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                      {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                      {"index": 0, "value": 131072, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
        ]
    }))?;
    let f = compile(&s)?;
    let text = pfc(&f)?;
    assert!(text.contains("x86_64"), "{text}");
    Ok(())
}

#[test]
fn clone3_gets_enosys_under_a_denying_default() -> anyhow::Result<()> {
    let s = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]
    }))?;
    let text = pfc(&compile(&s)?)?;
    // clone3 is 435 on x86_64; ENOSYS is 38.
    assert!(
        text.contains("if ($syscall == 435)") && text.contains("action ERRNO(38)"),
        "{text}"
    );

    let allow = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"}))?;
    let text = pfc(&compile(&allow)?)?;
    assert!(!text.contains("435"), "{text}");
    Ok(())
}

#[test]
fn rule_with_the_default_action_is_skipped() -> anyhow::Result<()> {
    let s = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"}
        ]
    }))?;
    compile(&s)?;
    Ok(())
}

#[test]
fn notify_is_reported() -> anyhow::Result<()> {
    let s = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/agent.sock",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]
    }))?;
    assert!(compile(&s)?.needs_notify());
    Ok(())
}

#[test]
fn flags() -> anyhow::Result<()> {
    let s = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
    }))?;
    compile(&s)?;
    assert!(berth_seccomp::supported_flags().contains(&"SECCOMP_FILTER_FLAG_LOG"));
    if !berth_seccomp::supported_flags().contains(&"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") {
        let s = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
        }))?;
        let err = compile(&s).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.starts_with("linux.seccomp.flags[0] (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV): not supported by libseccomp"),
            "{err}"
        );
    }
    Ok(())
}

#[test]
fn invalid_profile_fails_compile_with_the_validate_message() -> anyhow::Result<()> {
    let s = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]}]
    }))?;
    let err = compile(&s).err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        err,
        r#"linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_FOO""#
    );
    Ok(())
}

#[test]
fn feature_lists() {
    assert!(berth_seccomp::supported_actions().contains(&"SCMP_ACT_KILL_PROCESS"));
    assert_eq!(berth_seccomp::supported_operators().len(), 7);
    assert!(berth_seccomp::supported_archs().contains(&"SCMP_ARCH_X86_64"));
    assert_eq!(berth_seccomp::known_flags().len(), 4);
}
