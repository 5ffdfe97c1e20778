//! The last steps before the user's program runs, shared by the container's init and by
//! `exec`: rlimits, identity, capabilities, no_new_privs, seccomp, descriptor hygiene,
//! then execve.
//!
//! Ordering matters (as in runc's `finalizeNamespace`): the bounding set is dropped while
//! still privileged; with keepcaps set, the uid/gid switch keeps the permitted set, and
//! capset then installs the requested sets; seccomp goes in last unless no_new_privs is
//! off, in which case loading it needs CAP_SYS_ADMIN and so happens before the caps drop.

use crate::{Error, Result};
use berth_spec::{Process, Seccomp};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Finds `args[0]` as the container sees it: a path with a slash is used as is, a bare
/// name is looked up in the process's `PATH` (its env, not ours).
pub fn find_executable(p: &Process) -> Result<PathBuf> {
    let name = p.args.first().map(String::as_str).unwrap_or("");
    let is_exec = |path: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if name.contains('/') {
        let path = if Path::new(name).is_absolute() {
            PathBuf::from(name)
        } else {
            Path::new(&p.cwd).join(name)
        };
        // Docker turns these two wordings into exit codes 127 and 126.
        return match std::fs::metadata(&path) {
            Ok(_) if is_exec(&path) => Ok(path),
            Ok(_) => Err(Error::Invalid(format!("exec {name:?}: permission denied"))),
            Err(_) => Err(Error::NotFound(format!(
                "exec {name:?}: no such file or directory"
            ))),
        };
    }
    let path_var = p
        .env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    path_var
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|c| is_exec(c))
        .ok_or_else(|| {
            Error::NotFound(format!("exec {name:?}: executable file not found in $PATH"))
        })
}

/// What the final step needs.
pub struct Final<'a> {
    /// The process to run.
    pub process: &'a Process,
    /// Its resolved executable.
    pub exe: PathBuf,
    /// The compiled seccomp filter, if any.
    pub seccomp: Option<&'a berth_seccomp::Filter>,
    /// The seccomp config (for the notify listener).
    pub seccomp_spec: Option<&'a Seccomp>,
    /// Connection to the seccomp notify listener, opened before pivot_root.
    pub listener: Option<UnixStream>,
    /// State JSON sent to the listener.
    pub state: String,
    /// Host PID of this process (what a seccomp agent needs to reach /proc/<pid>).
    pub host_pid: i32,
    /// Keep fds 3..3+N open.
    pub preserve_fds: u32,
    /// Identity, capabilities and seccomp are in place already (see [`prepare_for_listener`]).
    pub prepared: bool,
}

/// When a seccomp agent waits for the notify fd, runs the whole final step now, before
/// the container is reported created: the agent must have its fd when `create` returns
/// (runc installs the filter during create too). Only the wait for `start` and execve
/// are left, and the filter has to allow them anyway.
pub fn prepare_for_listener(f: &mut Final) -> Result<()> {
    if f.listener.is_some() && f.seccomp.as_ref().is_some_and(|s| s.needs_notify()) {
        prepare(f)?;
        f.prepared = true;
    }
    Ok(())
}

fn load_seccomp(f: &mut Final) -> Result<()> {
    let Some(filter) = f.seccomp.take() else {
        return Ok(());
    };
    let fd: Option<OwnedFd> = filter.load()?;
    if let (Some(fd), Some(sock)) = (fd, f.listener.as_ref()) {
        use std::os::fd::AsFd;
        let meta = f
            .seccomp_spec
            .and_then(|s| s.listener_metadata.clone())
            .unwrap_or_default();
        let msg = format!(
            r#"{{"ociVersion":"{}","fds":["seccompFd"],"pid":{},"metadata":{},"state":{}}}"#,
            berth_spec::OCI_VERSION,
            f.host_pid,
            serde_json::to_string(&meta).unwrap_or_default(),
            if f.state.is_empty() { "{}" } else { &f.state }
        );
        berth_seccomp::send_to_listener(sock, fd.as_fd(), msg.as_bytes())?;
    }
    Ok(())
}

/// Applies identity and security settings, then replaces the process with the program.
/// Returns only on failure.
pub fn exec(mut f: Final) -> Error {
    if !f.prepared {
        if let Err(e) = prepare(&mut f) {
            return e;
        }
    }
    let p = f.process;
    let mut cmd = std::process::Command::new(&f.exe);
    if let Some((arg0, rest)) = p.args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    for kv in &p.env {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    let err = cmd.exec();
    let exe = f.exe.display();
    // Worded as runc words them: engines map "no such file or directory" to exit 127 and
    // "permission denied" to 126. ENOENT here, for a file that exists, means its ELF
    // interpreter (or a script's `#!` program) is missing in the container.
    match err.raw_os_error() {
        Some(libc::ENOENT) => Error::NotFound(format!(
            "exec {exe:?}: no such file or directory (the program or its interpreter is missing)"
        )),
        Some(libc::EACCES) => Error::Invalid(format!("exec {exe:?}: permission denied")),
        _ => Error::sys(format!("exec {exe}"), err),
    }
}

fn prepare(f: &mut Final) -> Result<()> {
    let p = f.process;
    // Nothing of the runtime reaches the container; done first, because a seccomp
    // profile loaded below may not allow close_range.
    berth_sys::proc::cloexec_from(3 + f.preserve_fds)
        .map_err(|e| Error::sys("closing descriptors", e))?;
    let chdir_early = rustix::process::chdir(p.cwd.as_str()).is_ok();
    if p.no_new_privileges {
        rustix::thread::set_no_new_privs(true)
            .map_err(|e| Error::sys("setting no_new_privs", e))?;
    } else {
        load_seccomp(f)?;
    }
    let caps = p
        .capabilities
        .as_ref()
        .map(|c| crate::caps::resolve(c, crate::caps::last_cap()))
        .transpose()
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let sys = |e: crate::caps::CapsError| Error::Container(e.to_string());
    if let Some(c) = &caps {
        crate::caps::drop_bounding(&c.bounding).map_err(sys)?;
        crate::caps::set_keepcaps(true).map_err(sys)?;
    }
    let u = &p.user;
    berth_sys::proc::setgroups(&u.additional_gids).map_err(|e| Error::sys("setgroups", e))?;
    rustix::thread::set_thread_res_gid(
        rustix::fs::Gid::from_raw(u.gid),
        rustix::fs::Gid::from_raw(u.gid),
        rustix::fs::Gid::from_raw(u.gid),
    )
    .map_err(|e| Error::sys(format!("setting gid {}", u.gid), e))?;
    rustix::thread::set_thread_res_uid(
        rustix::fs::Uid::from_raw(u.uid),
        rustix::fs::Uid::from_raw(u.uid),
        rustix::fs::Uid::from_raw(u.uid),
    )
    .map_err(|e| Error::sys(format!("setting uid {}", u.uid), e))?;
    if let Some(c) = &caps {
        // Capabilities the host itself lacks (this VM's bounding set has no
        // CAP_SYS_RESOURCE) are left out rather than failing the container.
        // Permitted and effective never exceed the bounding set (execve would drop the
        // rest anyway).
        let in_bounding = |set: &[u32]| -> Vec<u32> {
            set.iter()
                .copied()
                .filter(|cap| c.bounding.contains(cap))
                .collect()
        };
        crate::caps::set(
            &in_bounding(&c.effective),
            &in_bounding(&c.permitted),
            &c.inheritable,
        )
        .map_err(sys)?;
        crate::caps::set_ambient(&c.ambient).map_err(sys)?;
        crate::caps::set_keepcaps(false).map_err(sys)?;
    }
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(u.umask.unwrap_or(0o022)));
    if !chdir_early {
        rustix::process::chdir(p.cwd.as_str())
            .map_err(|e| Error::sys(format!("process.cwd: chdir to {}", p.cwd), e))?;
    }
    if p.no_new_privileges {
        load_seccomp(f)?;
    }
    f.listener = None;
    berth_sys::proc::reset_signals();
    Ok(())
}

/// The settings that can fail for reasons of the config (limits above what the host
/// allows, an unknown I/O class): applied before the container is reported created, so
/// that `create` fails, not `start`.
pub fn early(p: &Process) -> Result<()> {
    if let Some(s) = &p.scheduler {
        let (policy, flags) = scheduler(s)?;
        berth_sys::proc::sched_setattr_self(berth_sys::proc::SchedAttr {
            policy,
            flags,
            nice: s.nice.unwrap_or(0),
            priority: s.priority.unwrap_or(0).max(0) as u32,
            runtime: s.runtime.unwrap_or(0),
            deadline: s.deadline.unwrap_or(0),
            period: s.period.unwrap_or(0),
            ..Default::default()
        })
        .map_err(|e| Error::sys(format!("process.scheduler: setting policy {}", s.policy), e))?;
    }
    crate::rlimit::apply(&p.rlimits).map_err(|e| Error::Invalid(e.to_string()))?;
    if let Some(adj) = p.oom_score_adj {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| Error::sys("process.oomScoreAdj: writing /proc/self/oom_score_adj", e))?;
    }
    if let Some(io) = &p.io_priority {
        let class = match io.class.as_str() {
            "IOPRIO_CLASS_RT" => 1,
            "IOPRIO_CLASS_BE" => 2,
            "IOPRIO_CLASS_IDLE" => 3,
            c => {
                return Err(Error::Invalid(format!(
                    "process.ioPriority.class: unknown class {c:?}"
                )))
            }
        };
        berth_sys::proc::ioprio_set_self(class, io.priority)
            .map_err(|e| Error::sys("process.ioPriority", e))?;
    }
    Ok(())
}

/// The `SCHED_*` policy and `SCHED_FLAG_*` bits of `process.scheduler` (sched(7)).
pub fn scheduler(s: &berth_spec::Scheduler) -> Result<(u32, u64)> {
    let policy = match s.policy.as_str() {
        "SCHED_OTHER" => 0,
        "SCHED_FIFO" => 1,
        "SCHED_RR" => 2,
        "SCHED_BATCH" => 3,
        "SCHED_IDLE" => 5,
        "SCHED_DEADLINE" => 6,
        p => {
            return Err(Error::Invalid(format!(
                "process.scheduler.policy: unknown policy {p:?}"
            )))
        }
    };
    let mut flags = 0;
    for f in &s.flags {
        flags |= match f.as_str() {
            "SCHED_FLAG_RESET_ON_FORK" => 0x01,
            "SCHED_FLAG_RECLAIM" => 0x02,
            "SCHED_FLAG_DL_OVERRUN" => 0x04,
            "SCHED_FLAG_KEEP_POLICY" => 0x08,
            "SCHED_FLAG_KEEP_PARAMS" => 0x10,
            "SCHED_FLAG_UTIL_CLAMP_MIN" => 0x20,
            "SCHED_FLAG_UTIL_CLAMP_MAX" => 0x40,
            other => {
                return Err(Error::Invalid(format!(
                    "process.scheduler.flags: unknown flag {other:?}"
                )))
            }
        };
    }
    Ok((policy, flags))
}

/// Sets the execution domain of `linux.personality` (PER_LINUX32 makes `uname -m` report
/// i686 on x86_64); it survives execve. Applied to the init and to exec'd processes.
pub fn personality(p: Option<&berth_spec::Personality>) -> Result<()> {
    let Some(p) = p else { return Ok(()) };
    let persona = if p.domain == "LINUX32" { 0x0008 } else { 0 };
    berth_sys::proc::personality(persona).map_err(|e| Error::sys("linux.personality", e))
}
