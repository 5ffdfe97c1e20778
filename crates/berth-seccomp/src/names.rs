//! The names an OCI profile uses (`SCMP_ACT_*`, `SCMP_CMP_*`, `SCMP_ARCH_*`,
//! `SECCOMP_FILTER_FLAG_*`) and their libseccomp values.
//!
//! One table per kind, so validation, compilation and `features` cannot disagree.

use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp};

/// errno of an `SCMP_ACT_ERRNO`/`SCMP_ACT_TRACE` without `errnoRet`: runtime-spec says
/// EPERM, and runc uses it for TRACE as well.
pub(crate) const DEFAULT_ERRNO: u32 = libc::EPERM as u32;

/// Highest errno the kernel passes through: `SECCOMP_RET_ERRNO` data above `MAX_ERRNO`
/// (4095) is clamped, so a larger `errnoRet` would silently become something else.
pub(crate) const MAX_ERRNO: u32 = 4095;

/// A rule action, before its errno is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    KillThread,
    KillProcess,
    Trap,
    Errno,
    Trace,
    Allow,
    Log,
    Notify,
}

pub(crate) const ACTIONS: &[(&str, Action)] = &[
    ("SCMP_ACT_KILL", Action::KillThread),
    ("SCMP_ACT_KILL_PROCESS", Action::KillProcess),
    ("SCMP_ACT_KILL_THREAD", Action::KillThread),
    ("SCMP_ACT_TRAP", Action::Trap),
    ("SCMP_ACT_ERRNO", Action::Errno),
    ("SCMP_ACT_TRACE", Action::Trace),
    ("SCMP_ACT_ALLOW", Action::Allow),
    ("SCMP_ACT_LOG", Action::Log),
    ("SCMP_ACT_NOTIFY", Action::Notify),
];

pub(crate) fn action(name: &str) -> Option<Action> {
    ACTIONS.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
}

impl Action {
    /// Whether `errnoRet` means something for this action.
    pub(crate) fn takes_errno(self) -> bool {
        matches!(self, Action::Errno | Action::Trace)
    }

    /// Whether the action stops the syscall, so that a syscall the profile does not know
    /// would fail in a way programs do not expect (see `compile`'s clone3 rule).
    pub(crate) fn denies(self) -> bool {
        matches!(
            self,
            Action::KillThread | Action::KillProcess | Action::Trap | Action::Errno
        )
    }

    /// The libseccomp action; `errno` must have been validated (≤ [`MAX_ERRNO`] for
    /// ERRNO, ≤ u16::MAX for TRACE).
    pub(crate) fn to_scmp(self, errno: Option<u32>) -> ScmpAction {
        let ret = errno.unwrap_or(DEFAULT_ERRNO);
        match self {
            Action::KillThread => ScmpAction::KillThread,
            Action::KillProcess => ScmpAction::KillProcess,
            Action::Trap => ScmpAction::Trap,
            Action::Errno => ScmpAction::Errno(i32::try_from(ret).unwrap_or(libc::EPERM)),
            Action::Trace => ScmpAction::Trace(u16::try_from(ret).unwrap_or(u16::MAX)),
            Action::Allow => ScmpAction::Allow,
            Action::Log => ScmpAction::Log,
            Action::Notify => ScmpAction::Notify,
        }
    }
}

/// Argument comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

pub(crate) const OPERATORS: &[(&str, Op)] = &[
    ("SCMP_CMP_NE", Op::Ne),
    ("SCMP_CMP_LT", Op::Lt),
    ("SCMP_CMP_LE", Op::Le),
    ("SCMP_CMP_EQ", Op::Eq),
    ("SCMP_CMP_GE", Op::Ge),
    ("SCMP_CMP_GT", Op::Gt),
    ("SCMP_CMP_MASKED_EQ", Op::MaskedEq),
];

pub(crate) fn operator(name: &str) -> Option<Op> {
    OPERATORS.iter().find(|(n, _)| *n == name).map(|(_, o)| *o)
}

/// The libseccomp condition for `arg <op> value`. For `SCMP_CMP_MASKED_EQ` the OCI
/// profile's `value` is the mask and `valueTwo` the expected result, i.e. the rule
/// matches when `(arg & value) == valueTwo` (as in libseccomp's `datum_a`/`datum_b`,
/// which Docker's default profile relies on for `clone` flags).
pub(crate) fn condition(index: u32, op: Op, value: u64, value_two: Option<u64>) -> ScmpArgCompare {
    let op_value = match op {
        Op::Ne => ScmpCompareOp::NotEqual,
        Op::Lt => ScmpCompareOp::Less,
        Op::Le => ScmpCompareOp::LessOrEqual,
        Op::Eq => ScmpCompareOp::Equal,
        Op::Ge => ScmpCompareOp::GreaterEqual,
        Op::Gt => ScmpCompareOp::Greater,
        Op::MaskedEq => {
            return ScmpArgCompare::new(
                index,
                ScmpCompareOp::MaskedEqual(value),
                value_two.unwrap_or(0),
            )
        }
    };
    ScmpArgCompare::new(index, op_value, value)
}

/// Architectures by their profile name, and whether libseccomp 2.5 knows them
/// (`SCMP_ARCH_LOONGARCH64`, `M68K`, `SH`, `SHEB` came with 2.6; compile reports them
/// as unsupported when the system library rejects them).
pub(crate) const ARCHS: &[(&str, ScmpArch, bool)] = &[
    ("SCMP_ARCH_NATIVE", ScmpArch::Native, true),
    ("SCMP_ARCH_X86", ScmpArch::X86, true),
    ("SCMP_ARCH_X86_64", ScmpArch::X8664, true),
    ("SCMP_ARCH_X32", ScmpArch::X32, true),
    ("SCMP_ARCH_ARM", ScmpArch::Arm, true),
    ("SCMP_ARCH_AARCH64", ScmpArch::Aarch64, true),
    ("SCMP_ARCH_MIPS", ScmpArch::Mips, true),
    ("SCMP_ARCH_MIPS64", ScmpArch::Mips64, true),
    ("SCMP_ARCH_MIPS64N32", ScmpArch::Mips64N32, true),
    ("SCMP_ARCH_MIPSEL", ScmpArch::Mipsel, true),
    ("SCMP_ARCH_MIPSEL64", ScmpArch::Mipsel64, true),
    ("SCMP_ARCH_MIPSEL64N32", ScmpArch::Mipsel64N32, true),
    ("SCMP_ARCH_PPC", ScmpArch::Ppc, true),
    ("SCMP_ARCH_PPC64", ScmpArch::Ppc64, true),
    ("SCMP_ARCH_PPC64LE", ScmpArch::Ppc64Le, true),
    ("SCMP_ARCH_S390", ScmpArch::S390, true),
    ("SCMP_ARCH_S390X", ScmpArch::S390X, true),
    ("SCMP_ARCH_PARISC", ScmpArch::Parisc, true),
    ("SCMP_ARCH_PARISC64", ScmpArch::Parisc64, true),
    ("SCMP_ARCH_RISCV64", ScmpArch::Riscv64, true),
    ("SCMP_ARCH_LOONGARCH64", ScmpArch::Loongarch64, false),
    ("SCMP_ARCH_M68K", ScmpArch::M68k, false),
    ("SCMP_ARCH_SH", ScmpArch::Sh, false),
    ("SCMP_ARCH_SHEB", ScmpArch::Sheb, false),
];

pub(crate) fn arch(name: &str) -> Option<ScmpArch> {
    ARCHS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, a, _)| *a)
}

/// Filter flags (`seccomp(2)` `SECCOMP_FILTER_FLAG_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flag {
    Tsync,
    Log,
    SpecAllow,
    WaitKillableRecv,
}

pub(crate) const FLAGS: &[(&str, Flag)] = &[
    ("SECCOMP_FILTER_FLAG_TSYNC", Flag::Tsync),
    ("SECCOMP_FILTER_FLAG_LOG", Flag::Log),
    ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", Flag::SpecAllow),
    (
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        Flag::WaitKillableRecv,
    ),
];

pub(crate) fn flag(name: &str) -> Option<Flag> {
    FLAGS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}
