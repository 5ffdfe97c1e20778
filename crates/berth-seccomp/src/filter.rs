//! Compiling a validated profile into a libseccomp filter context, and loading it.
//!
//! Choices, where runc and crun leave room:
//! - **No new privileges is left to the runtime**: libseccomp sets `PR_SET_NO_NEW_PRIVS`
//!   before loading by default; berth turns that off (as runc does) because
//!   `process.noNewPrivileges` decides it. Loading without NNP needs CAP_SYS_ADMIN, so the
//!   runtime loads while still privileged in that case and right before exec otherwise.
//! - **Several conditions on one argument** (`args` naming an index twice) cannot be one
//!   libseccomp rule. Like runc, berth then adds one rule per condition, so the action is
//!   taken when *any* condition holds; with distinct indexes all conditions form one rule
//!   and must *all* hold.
//! - **Unknown syscall names** are skipped (runc, crun); [`Filter::ignored_syscalls`]
//!   lists them for a debug log.
//! - **Rules whose action equals the default action** are skipped (libseccomp refuses
//!   them with EACCES; runc skips them too).
//! - **clone3**: glibc ≥ 2.34 tries `clone3` first and falls back to `clone` only on
//!   ENOSYS. A profile older than clone3 with a denying default (ERRNO, KILL, TRAP) would
//!   make every thread creation fail with EPERM. runc patches its BPF so that syscalls
//!   newer than the profile return ENOSYS; berth does the part that matters in practice:
//!   when no rule names `clone3` and the default action denies, `clone3` gets
//!   `ERRNO(ENOSYS)`.
//! - **Flags**: `SECCOMP_FILTER_FLAG_LOG` and `…_SPEC_ALLOW` map to libseccomp's
//!   `CTL_LOG`/`CTL_SSB`. `…_TSYNC` is accepted and not set: the container init is
//!   single-threaded when it loads, so there is nothing to synchronise, and the kernel
//!   refuses TSYNC together with a notify listener before Linux 5.7 (runc ignores it for
//!   the same reason). `…_WAIT_KILLABLE_RECV` needs libseccomp ≥ 2.6 and fails to compile
//!   with a clear error otherwise.

use std::os::fd::OwnedFd;

use berth_spec::Seccomp;
use libseccomp::{ScmpAction, ScmpArgCompare, ScmpFilterContext, ScmpSyscall};

use crate::names::{self, Action, Flag};
use crate::{validate, Error, Result};

/// Profiles with more rules than this get libseccomp's binary-tree optimisation, which
/// keeps the BPF program's syscall lookup logarithmic. libseccomp ≤ 2.5.4 misbehaves when
/// the tree is requested for an empty rule set, hence a threshold rather than always.
const OPTIMIZE_ABOVE_RULES: usize = 32;

/// A compiled, not yet loaded, seccomp filter.
pub struct Filter {
    pub(crate) program: Program,
    notify: bool,
    ignored: Vec<String>,
}

/// The two forms a filter is held in.
pub(crate) enum Program {
    /// libseccomp's context, loaded by libseccomp.
    Context(ScmpFilterContext),
    /// A finished BPF program (from the cache, see [`crate::compile_cached`]) and the
    /// `SECCOMP_FILTER_FLAG_*` bits to install it with.
    Bpf {
        insns: Vec<berth_sys::seccomp::Insn>,
        flags: u32,
    },
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("notify", &self.notify)
            .field("ignored", &self.ignored)
            .finish_non_exhaustive()
    }
}

fn scmp(what: impl Into<String>) -> impl FnOnce(libseccomp::error::SeccompError) -> Error {
    let what = what.into();
    move |source| Error::Libseccomp { what, source }
}

/// Builds the libseccomp context for `s`: default action, architectures (the native one
/// is always included), flags and rules. Validates first, so a bad profile gives the
/// same message as [`validate`].
pub fn compile(s: &Seccomp) -> Result<Filter> {
    validate(s)?;
    let invalid_default = || Error::Invalid {
        path: "linux.seccomp.defaultAction".into(),
        msg: format!("unknown action {:?}", s.default_action),
    };
    let default_kind = names::action(&s.default_action).ok_or_else(invalid_default)?;
    let default = default_kind.to_scmp(s.default_errno_ret);

    let mut ctx = ScmpFilterContext::new(default).map_err(scmp("creating the seccomp filter"))?;
    ctx.set_ctl_nnp(false)
        .map_err(scmp("leaving no_new_privs to the runtime"))?;

    for (i, name) in s.architectures.iter().enumerate() {
        let Some(arch) = names::arch(name) else {
            continue;
        };
        let present = ctx
            .is_arch_present(arch)
            .map_err(scmp(format!("linux.seccomp.architectures[{i}] ({name})")))?;
        if !present {
            ctx.add_arch(arch).map_err(|source| Error::Unsupported {
                what: format!("linux.seccomp.architectures[{i}] ({name})"),
                detail: source.to_string(),
            })?;
        }
    }

    for (i, name) in s.flags.iter().enumerate() {
        let what = format!("linux.seccomp.flags[{i}] ({name})");
        let result = match names::flag(name) {
            Some(Flag::Tsync) | None => continue,
            Some(Flag::Log) => ctx.set_ctl_log(true),
            Some(Flag::SpecAllow) => ctx.set_ctl_ssb(true),
            Some(Flag::WaitKillableRecv) => ctx.set_ctl_waitkill(true),
        };
        result.map_err(|source| Error::Unsupported {
            what,
            detail: source.to_string(),
        })?;
    }

    if s.syscalls.len() > OPTIMIZE_ABOVE_RULES {
        // Only an optimisation: an old libseccomp without it still yields a correct filter.
        let _ = ctx.set_ctl_optimize(2);
    }

    let mut notify = false;
    let mut ignored = Vec::new();
    for (i, rule) in s.syscalls.iter().enumerate() {
        let kind = names::action(&rule.action).ok_or_else(|| Error::Invalid {
            path: format!("linux.seccomp.syscalls[{i}].action"),
            msg: format!("unknown action {:?}", rule.action),
        })?;
        let action = kind.to_scmp(rule.errno_ret);
        if action == default {
            continue;
        }
        let conditions = conditions(i, rule)?;
        for name in &rule.names {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                if !ignored.contains(name) {
                    ignored.push(name.clone());
                }
                continue;
            };
            add_rule(&mut ctx, action, syscall, &conditions).map_err(scmp(format!(
                "linux.seccomp.syscalls[{i}] ({name}): libseccomp rejected the rule"
            )))?;
            notify |= kind == Action::Notify;
        }
    }

    if default_kind.denies()
        && !s
            .syscalls
            .iter()
            .any(|r| r.names.iter().any(|n| n == "clone3"))
    {
        if let Ok(clone3) = ScmpSyscall::from_name("clone3") {
            let enosys = ScmpAction::Errno(libc::ENOSYS);
            if enosys != default {
                ctx.add_rule(enosys, clone3)
                    .map_err(scmp("adding the clone3 ENOSYS rule"))?;
            }
        }
    }

    Ok(Filter {
        program: Program::Context(ctx),
        notify,
        ignored,
    })
}

/// Condition groups for one profile rule: one group when every condition is on its own
/// argument, else one group per condition (see the module doc).
fn conditions(i: usize, rule: &berth_spec::SeccompSyscall) -> Result<Vec<Vec<ScmpArgCompare>>> {
    let mut all = Vec::with_capacity(rule.args.len());
    let mut seen = [false; 6];
    let mut repeated = false;
    for (k, arg) in rule.args.iter().enumerate() {
        let op = names::operator(&arg.op).ok_or_else(|| Error::Invalid {
            path: format!("linux.seccomp.syscalls[{i}].args[{k}].op"),
            msg: format!("unknown operator {:?}", arg.op),
        })?;
        let slot = usize::try_from(arg.index)
            .ok()
            .and_then(|idx| seen.get_mut(idx))
            .ok_or_else(|| Error::Invalid {
                path: format!("linux.seccomp.syscalls[{i}].args[{k}].index"),
                msg: format!("index {} is out of range", arg.index),
            })?;
        repeated |= *slot;
        *slot = true;
        all.push(names::condition(arg.index, op, arg.value, arg.value_two));
    }
    Ok(if all.is_empty() {
        vec![Vec::new()]
    } else if repeated {
        all.into_iter().map(|c| vec![c]).collect()
    } else {
        vec![all]
    })
}

fn add_rule(
    ctx: &mut ScmpFilterContext,
    action: ScmpAction,
    syscall: ScmpSyscall,
    groups: &[Vec<ScmpArgCompare>],
) -> std::result::Result<(), libseccomp::error::SeccompError> {
    for group in groups {
        if group.is_empty() {
            ctx.add_rule(action, syscall)?;
        } else {
            ctx.add_rule_conditional(action, syscall, group)?;
        }
    }
    Ok(())
}

impl Filter {
    /// A filter from a finished BPF program.
    pub(crate) fn from_bpf(insns: Vec<berth_sys::seccomp::Insn>, flags: u32) -> Filter {
        Filter {
            program: Program::Bpf { insns, flags },
            notify: false,
            ignored: Vec::new(),
        }
    }

    /// The BPF program libseccomp generates for this filter, as the kernel's
    /// `struct sock_filter` array.
    pub(crate) fn export_bpf(&self) -> Result<Vec<berth_sys::seccomp::Insn>> {
        let ctx = match &self.program {
            Program::Context(ctx) => ctx,
            Program::Bpf { insns, .. } => return Ok(insns.clone()),
        };
        let bytes = export(|file| {
            ctx.export_bpf(file)
                .map_err(scmp("exporting the seccomp filter as BPF"))
        })?;
        crate::cache::decode(&bytes).ok_or_else(|| Error::Io {
            what: "exporting the seccomp filter as BPF".into(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "libseccomp wrote {} bytes, not whole instructions",
                    bytes.len()
                ),
            ),
        })
    }

    /// Whether loading yields a notify fd (a rule uses `SCMP_ACT_NOTIFY`).
    pub fn needs_notify(&self) -> bool {
        self.notify
    }

    /// Syscall names the profile lists that this libseccomp does not know; their rules
    /// were skipped.
    pub fn ignored_syscalls(&self) -> &[String] {
        &self.ignored
    }

    /// The filter in libseccomp's human-readable pseudo filter code (PFC), for debug logs
    /// and for tests that check a filter without loading it.
    /// Only a filter from [`compile`] has one; a cached program has no PFC form.
    pub fn export_pfc(&self) -> Result<String> {
        let Program::Context(ctx) = &self.program else {
            return Err(Error::Io {
                what: "exporting the seccomp filter".into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    "a cached BPF program has no pseudo filter code",
                ),
            });
        };
        let bytes = export(|file| {
            ctx.export_pfc(file)
                .map_err(scmp("exporting the seccomp filter"))
        })?;
        String::from_utf8(bytes).map_err(|e| Error::Io {
            what: "exporting the seccomp filter".into(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })
    }

    /// Loads the filter into the calling thread (seccomp filters are per thread and
    /// inherited by children and exec). Returns the notify fd, owned by the caller and
    /// close-on-exec, when [`Filter::needs_notify`].
    ///
    /// Without no_new_privs set beforehand this needs CAP_SYS_ADMIN. After it returns,
    /// the caller's own syscalls are filtered too.
    pub fn load(&self) -> Result<Option<OwnedFd>> {
        let ctx = match &self.program {
            Program::Context(ctx) => ctx,
            Program::Bpf { insns, flags } => {
                berth_sys::seccomp::set_mode_filter(insns, *flags).map_err(|source| Error::Io {
                    what: "loading the seccomp filter into the kernel".into(),
                    source,
                })?;
                return Ok(None);
            }
        };
        ctx.load()
            .map_err(scmp("loading the seccomp filter into the kernel"))?;
        if !self.notify {
            return Ok(None);
        }
        let raw = ctx
            .get_notify_fd()
            .map_err(scmp("getting the seccomp notify fd"))?;
        berth_sys::seccomp::dup_cloexec(raw)
            .map(Some)
            .map_err(|source| Error::Io {
                what: "duplicating the seccomp notify fd".into(),
                source,
            })
    }
}

/// Runs `write` on a fresh memfd and returns what it wrote.
fn export(write: impl FnOnce(&std::fs::File) -> Result<()>) -> Result<Vec<u8>> {
    use std::io::{Read, Seek};
    let io = |source| Error::Io {
        what: "exporting the seccomp filter".into(),
        source,
    };
    let fd = rustix::fs::memfd_create("berth-seccomp", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| io(e.into()))?;
    let mut file = std::fs::File::from(fd);
    write(&file)?;
    let mut out = Vec::new();
    file.rewind().map_err(io)?;
    file.read_to_end(&mut out).map_err(io)?;
    Ok(out)
}
