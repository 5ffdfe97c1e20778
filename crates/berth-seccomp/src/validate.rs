//! Pure checks of a `linux.seccomp` section, run before anything is created.
//!
//! Every error names the offending entry by its JSON path (`linux.seccomp.syscalls[3]
//! .args[0].op`), so a user can find it in `config.json`.
//!
//! Syscall names are not checked against a table: like runc (`matchCall` logs "unknown
//! seccomp syscall ignored" and goes on) and crun, a name this libseccomp does not know
//! is skipped at compile time. Profiles such as Docker's default list syscalls newer than
//! the library or the kernel, and they must still load; a syscall the library cannot name
//! cannot be called by name through it either, and falls to the default action.

use berth_spec::Seccomp;

use crate::names::{self, Action};
use crate::{Error, Result};

const PREFIX: &str = "linux.seccomp";

/// Syscalls that must not use `SCMP_ACT_NOTIFY`: the container init hands the notify fd
/// over with them after loading the filter, so notifying them would stop the init before
/// anyone can answer (runc refuses `write` for the same reason).
const NOTIFY_FORBIDDEN: &[&str] = &["write", "sendmsg"];

/// Highest syscall argument index (syscalls take at most six arguments).
const MAX_ARG_INDEX: u32 = 5;

fn invalid(path: String, msg: String) -> Error {
    Error::Invalid { path, msg }
}

fn errno_ret(path: String, action: Action, name: &str, errno: Option<u32>) -> Result<()> {
    let Some(errno) = errno else { return Ok(()) };
    if !action.takes_errno() {
        return Err(invalid(
            path,
            format!("errnoRet is only allowed with SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not {name}"),
        ));
    }
    let max = if action == Action::Errno {
        names::MAX_ERRNO
    } else {
        u32::from(u16::MAX)
    };
    if errno > max {
        return Err(invalid(
            path,
            format!("{errno} is out of range for {name} (at most {max})"),
        ));
    }
    Ok(())
}

/// Checks names, indexes and values of a seccomp section without touching libseccomp
/// or the kernel. Unknown syscall names are accepted (see the module doc).
pub fn validate(s: &Seccomp) -> Result<()> {
    let default = names::action(&s.default_action).ok_or_else(|| {
        invalid(
            format!("{PREFIX}.defaultAction"),
            format!("unknown action {:?}", s.default_action),
        )
    })?;
    if default == Action::Notify {
        return Err(invalid(
            format!("{PREFIX}.defaultAction"),
            "SCMP_ACT_NOTIFY cannot be the default action: the container's init would be \
             stopped at its next syscall, before the listener has the notify fd"
                .into(),
        ));
    }
    errno_ret(
        format!("{PREFIX}.defaultErrnoRet"),
        default,
        &s.default_action,
        s.default_errno_ret,
    )?;
    for (i, arch) in s.architectures.iter().enumerate() {
        if names::arch(arch).is_none() {
            return Err(invalid(
                format!("{PREFIX}.architectures[{i}]"),
                format!("unknown architecture {arch:?}"),
            ));
        }
    }
    for (i, flag) in s.flags.iter().enumerate() {
        if names::flag(flag).is_none() {
            return Err(invalid(
                format!("{PREFIX}.flags[{i}]"),
                format!("unknown flag {flag:?}"),
            ));
        }
    }
    let mut notify = false;
    for (i, rule) in s.syscalls.iter().enumerate() {
        let path = format!("{PREFIX}.syscalls[{i}]");
        let action = names::action(&rule.action).ok_or_else(|| {
            invalid(
                format!("{path}.action"),
                format!("unknown action {:?}", rule.action),
            )
        })?;
        errno_ret(
            format!("{path}.errnoRet"),
            action,
            &rule.action,
            rule.errno_ret,
        )?;
        if rule.names.is_empty() {
            return Err(invalid(
                format!("{path}.names"),
                "a rule needs at least one syscall name".into(),
            ));
        }
        for (j, name) in rule.names.iter().enumerate() {
            if name.is_empty() {
                return Err(invalid(
                    format!("{path}.names[{j}]"),
                    "empty syscall name".into(),
                ));
            }
            if action == Action::Notify && NOTIFY_FORBIDDEN.contains(&name.as_str()) {
                return Err(invalid(
                    format!("{path}.names[{j}]"),
                    format!(
                        "SCMP_ACT_NOTIFY cannot be used for {name:?}: the runtime needs it \
                         to hand the notify fd to the listener"
                    ),
                ));
            }
        }
        notify |= action == Action::Notify;
        for (k, arg) in rule.args.iter().enumerate() {
            if arg.index > MAX_ARG_INDEX {
                return Err(invalid(
                    format!("{path}.args[{k}].index"),
                    format!(
                        "index {} is out of range (syscalls have arguments 0 to {MAX_ARG_INDEX})",
                        arg.index
                    ),
                ));
            }
            if names::operator(&arg.op).is_none() {
                return Err(invalid(
                    format!("{path}.args[{k}].op"),
                    format!("unknown operator {:?}", arg.op),
                ));
            }
        }
    }
    if notify && s.listener_path.as_deref().is_none_or(str::is_empty) {
        return Err(invalid(
            format!("{PREFIX}.listenerPath"),
            "must be set when a rule uses SCMP_ACT_NOTIFY (the notify fd has to go somewhere)"
                .into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_spec::{SeccompArg, SeccompSyscall};

    fn profile(syscalls: Vec<SeccompSyscall>) -> Seccomp {
        Seccomp {
            default_action: "SCMP_ACT_ALLOW".into(),
            syscalls,
            ..Default::default()
        }
    }

    fn rule(names: &[&str], action: &str) -> SeccompSyscall {
        SeccompSyscall {
            names: names.iter().map(|s| s.to_string()).collect(),
            action: action.into(),
            ..Default::default()
        }
    }

    fn arg(index: u32, op: &str) -> SeccompArg {
        SeccompArg {
            index,
            value: 1,
            value_two: None,
            op: op.into(),
        }
    }

    fn message(s: &Seccomp) -> String {
        match validate(s) {
            Ok(()) => String::from("ok"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn accepts_a_typical_profile_with_unknown_syscalls() {
        let mut s = profile(vec![
            rule(&["read", "write", "no_such_syscall_2099"], "SCMP_ACT_ALLOW"),
            rule(&["mkdir"], "SCMP_ACT_ERRNO"),
        ]);
        s.default_action = "SCMP_ACT_ERRNO".into();
        s.default_errno_ret = Some(1);
        s.architectures = vec!["SCMP_ARCH_X86_64".into(), "SCMP_ARCH_X86".into()];
        s.flags = vec!["SECCOMP_FILTER_FLAG_LOG".into()];
        s.syscalls[1].errno_ret = Some(38);
        s.syscalls[1].args = vec![arg(0, "SCMP_CMP_MASKED_EQ"), arg(0, "SCMP_CMP_EQ")];
        assert_eq!(message(&s), "ok");
    }

    #[test]
    fn names_the_unknown_operator() {
        let mut s = profile(vec![
            rule(&["read"], "SCMP_ACT_ALLOW"),
            rule(&["a"], "SCMP_ACT_ALLOW"),
            rule(&["b"], "SCMP_ACT_ALLOW"),
            rule(&["mkdir"], "SCMP_ACT_ERRNO"),
        ]);
        s.syscalls[3].args = vec![arg(0, "SCMP_CMP_FOO")];
        assert_eq!(
            message(&s),
            r#"linux.seccomp.syscalls[3].args[0].op: unknown operator "SCMP_CMP_FOO""#
        );
    }

    #[test]
    fn names_unknown_actions_archs_and_flags() {
        let mut s = profile(vec![]);
        s.default_action = "SCMP_ACT_MAYBE".into();
        assert_eq!(
            message(&s),
            r#"linux.seccomp.defaultAction: unknown action "SCMP_ACT_MAYBE""#
        );

        let s = profile(vec![rule(&["read"], "SCMP_ACT_NOPE")]);
        assert_eq!(
            message(&s),
            r#"linux.seccomp.syscalls[0].action: unknown action "SCMP_ACT_NOPE""#
        );

        let mut s = profile(vec![]);
        s.architectures = vec!["SCMP_ARCH_X86_64".into(), "SCMP_ARCH_VAX".into()];
        assert_eq!(
            message(&s),
            r#"linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_VAX""#
        );

        let mut s = profile(vec![]);
        s.flags = vec!["SECCOMP_FILTER_FLAG_FAST".into()];
        assert_eq!(
            message(&s),
            r#"linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_FAST""#
        );
    }

    #[test]
    fn rejects_index_above_five() {
        let mut s = profile(vec![rule(&["mkdir"], "SCMP_ACT_ERRNO")]);
        s.syscalls[0].args = vec![arg(5, "SCMP_CMP_EQ"), arg(6, "SCMP_CMP_EQ")];
        assert_eq!(
            message(&s),
            "linux.seccomp.syscalls[0].args[1].index: index 6 is out of range \
             (syscalls have arguments 0 to 5)"
        );
    }

    #[test]
    fn errno_ret_only_on_errno_and_trace() {
        let mut s = profile(vec![rule(&["mkdir"], "SCMP_ACT_KILL")]);
        s.syscalls[0].errno_ret = Some(1);
        assert_eq!(
            message(&s),
            "linux.seccomp.syscalls[0].errnoRet: errnoRet is only allowed with \
             SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not SCMP_ACT_KILL"
        );

        let mut s = profile(vec![]);
        s.default_errno_ret = Some(1);
        assert_eq!(
            message(&s),
            "linux.seccomp.defaultErrnoRet: errnoRet is only allowed with \
             SCMP_ACT_ERRNO and SCMP_ACT_TRACE, not SCMP_ACT_ALLOW"
        );

        let mut s = profile(vec![rule(&["mkdir"], "SCMP_ACT_TRACE")]);
        s.syscalls[0].errno_ret = Some(65535);
        assert_eq!(message(&s), "ok");

        let mut s = profile(vec![rule(&["mkdir"], "SCMP_ACT_ERRNO")]);
        s.syscalls[0].errno_ret = Some(5000);
        assert_eq!(
            message(&s),
            "linux.seccomp.syscalls[0].errnoRet: 5000 is out of range for SCMP_ACT_ERRNO \
             (at most 4095)"
        );
    }

    #[test]
    fn empty_names() {
        let s = profile(vec![rule(&[], "SCMP_ACT_ERRNO")]);
        assert_eq!(
            message(&s),
            "linux.seccomp.syscalls[0].names: a rule needs at least one syscall name"
        );
        let s = profile(vec![rule(&["read", ""], "SCMP_ACT_ERRNO")]);
        assert_eq!(
            message(&s),
            "linux.seccomp.syscalls[0].names[1]: empty syscall name"
        );
    }

    #[test]
    fn notify_rules() {
        let mut s = profile(vec![rule(&["getppid"], "SCMP_ACT_NOTIFY")]);
        assert_eq!(
            message(&s),
            "linux.seccomp.listenerPath: must be set when a rule uses SCMP_ACT_NOTIFY \
             (the notify fd has to go somewhere)"
        );
        s.listener_path = Some("/run/agent.sock".into());
        assert_eq!(message(&s), "ok");

        s.syscalls[0].names.push("write".into());
        assert_eq!(
            message(&s),
            "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for \
             \"write\": the runtime needs it to hand the notify fd to the listener"
        );

        let mut s = profile(vec![]);
        s.default_action = "SCMP_ACT_NOTIFY".into();
        assert!(message(&s).starts_with(
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"
        ));
    }
}
