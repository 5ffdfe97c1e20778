//! Forking the container's init into its namespaces (runtime side).
//!
//! Fast path (no namespace to join, no time namespace): one `clone` with every
//! `CLONE_NEW*` flag, so a new user namespace owns all the others and the child is PID 1
//! at once. General path: a first child joins the namespaces given by path (the user
//! namespace first, so that the others can be entered with its privileges), unshares the
//! new ones (a user namespace before the rest) and forks the init with `CLONE_PARENT`, so
//! the init is the runtime's own child either way (it can be waited for by `run`).
//!
//! The cgroup namespace is always unshared by the init itself, after the runtime has put
//! it into its cgroup, so that the namespace's root is the container's cgroup.

use crate::channel::{expect, recv, send, Msg};
use crate::validate::ns_flag;
use crate::{Error, Result};
use berth_spec::{IdMapping, Linux, Spec};
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

/// Which namespaces to create and which to join.
pub struct NsPlan {
    /// `CLONE_NEW*` flags of new namespaces.
    pub new: i32,
    /// Namespaces to join: flag and open file, user first.
    pub join: Vec<(i32, File)>,
}

impl NsPlan {
    /// Opens every namespace path of `linux` (before forking, so errors are the caller's).
    pub fn from_linux(linux: Option<&Linux>) -> Result<NsPlan> {
        let mut plan = NsPlan {
            new: 0,
            join: Vec::new(),
        };
        for (i, ns) in linux
            .map(|l| l.namespaces.as_slice())
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let flag = ns_flag(&ns.typ).ok_or_else(|| {
                Error::Invalid(format!("linux.namespaces[{i}]: unknown type {:?}", ns.typ))
            })?;
            match ns.path.as_deref().filter(|p| !p.is_empty()) {
                None => plan.new |= flag,
                Some(p) => {
                    let f = File::open(p).map_err(|e| {
                        Error::sys(format!("linux.namespaces[{i}]: opening {p}"), e)
                    })?;
                    plan.join.push((flag, f));
                }
            }
        }
        plan.join
            .sort_by_key(|(f, _)| if *f == libc::CLONE_NEWUSER { 0 } else { 1 });
        Ok(plan)
    }

    /// Whether `flag` is a new namespace.
    pub fn is_new(&self, flag: i32) -> bool {
        self.new & flag != 0
    }

    /// Whether the container lives in a user namespace (new or joined).
    pub fn has_userns(&self) -> bool {
        self.is_new(libc::CLONE_NEWUSER) || self.join.iter().any(|(f, _)| *f == libc::CLONE_NEWUSER)
    }

    fn fast(&self) -> bool {
        self.join.is_empty() && !self.is_new(libc::CLONE_NEWTIME)
    }
}

/// Writes the uid and gid maps of `pid`'s user namespace.
pub fn write_id_maps(pid: i32, linux: &Linux) -> Result<()> {
    let fmt = |maps: &[IdMapping]| {
        maps.iter()
            .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
            .collect::<String>()
    };
    for (file, maps) in [
        ("uid_map", &linux.uid_mappings),
        ("gid_map", &linux.gid_mappings),
    ] {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, fmt(maps))
            .map_err(|e| Error::sys(format!("linux.{}Mappings: writing {path}", &file[..3]), e))?;
    }
    Ok(())
}

/// Writes the offsets of `pid`'s new time namespace, which its children will enter.
fn write_time_offsets(pid: i32, linux: &Linux) -> Result<()> {
    let mut s = String::new();
    for (clock, off) in &linux.time_offsets {
        s.push_str(&format!("{clock} {} {}\n", off.secs, off.nanosecs));
    }
    let path = format!("/proc/{pid}/timens_offsets");
    std::fs::write(&path, s)
        .map_err(|e| Error::sys(format!("linux.timeOffsets: writing {path}"), e))
}

/// Forks the container process. `child` runs in the new process (already in its
/// namespaces, except the cgroup one) and never returns. Returns the host PID of the
/// process `child` runs in, after uid/gid maps are written (for a new user namespace).
pub fn fork_into(
    plan: &NsPlan,
    spec: &Spec,
    sock: &mut UnixStream,
    child_sock: UnixStream,
    child: impl FnOnce(UnixStream) -> i32,
) -> Result<i32> {
    let linux = spec.linux.clone().unwrap_or_default();
    let new_user = plan.is_new(libc::CLONE_NEWUSER);
    if plan.fast() {
        let flags = plan.new & !libc::CLONE_NEWCGROUP;
        match berth_sys::ns::clone_fork(flags as u64)
            .map_err(|e| Error::sys("creating the container process", e))?
        {
            None => std::process::exit(child(child_sock)),
            Some(pid) => {
                drop(child_sock);
                if new_user {
                    if let Err(e) = write_id_maps(pid, &linux) {
                        reap_failed(pid);
                        return Err(e);
                    }
                }
                return Ok(pid);
            }
        }
    }
    let stage1 = berth_sys::ns::clone_fork(0)
        .map_err(|e| Error::sys("creating the container process", e))?;
    let Some(stage1) = stage1 else {
        let mut s = child_sock;
        let code = match stage1_main(plan, &linux, &mut s) {
            Ok(pid) => match pid {
                None => child(s),
                Some(init) => send(&mut s, &Msg::InitPid(init)).map(|_| 0).unwrap_or(1),
            },
            Err(e) => {
                let _ = send(&mut s, &Msg::Fail(e.to_string()));
                1
            }
        };
        std::process::exit(code);
    };
    drop(child_sock);
    let res = (|| loop {
        match recv(sock)? {
            Some(Msg::MapIds(pid)) => {
                write_id_maps(pid, &linux)?;
                send(sock, &Msg::MapsWritten)?;
            }
            Some(Msg::TimeOffsets(pid)) => {
                write_time_offsets(pid, &linux)?;
                send(sock, &Msg::MapsWritten)?;
            }
            Some(Msg::InitPid(pid)) => return Ok(pid),
            Some(Msg::Fail(m)) => return Err(Error::Container(m)),
            Some(m) => {
                return Err(Error::Container(format!(
                    "unexpected {m:?} from container process"
                )))
            }
            None => {
                return Err(Error::Container(
                    "container process exited during namespace setup".into(),
                ))
            }
        }
    })();
    let _ = rustix::process::waitpid(
        Some(rustix::process::Pid::from_raw(stage1).ok_or_else(|| Error::Invalid("pid".into()))?),
        rustix::process::WaitOptions::empty(),
    );
    res
}

/// The first child of the general path: join, unshare, fork the init. Returns `None` in
/// the init and `Some(init_pid)` in the first child.
fn stage1_main(plan: &NsPlan, linux: &Linux, sock: &mut UnixStream) -> Result<Option<i32>> {
    for (flag, f) in &plan.join {
        berth_sys::ns::setns(f.as_fd(), *flag)
            .map_err(|e| Error::sys(format!("joining namespace ({})", ns_name(*flag)), e))?;
    }
    if plan.is_new(libc::CLONE_NEWUSER) {
        berth_sys::ns::unshare(libc::CLONE_NEWUSER)
            .map_err(|e| Error::sys("creating user namespace", e))?;
        send(sock, &Msg::MapIds(std::process::id() as i32))?;
        expect(sock, "id maps", |m| {
            matches!(m, Msg::MapsWritten).then_some(())
        })?;
        become_root();
    }
    let rest = plan.new & !(libc::CLONE_NEWUSER | libc::CLONE_NEWCGROUP);
    if rest != 0 {
        berth_sys::ns::unshare(rest).map_err(|e| Error::sys("creating namespaces", e))?;
    }
    if plan.is_new(libc::CLONE_NEWTIME) && !linux.time_offsets.is_empty() {
        send(sock, &Msg::TimeOffsets(std::process::id() as i32))?;
        expect(sock, "time offsets", |m| {
            matches!(m, Msg::MapsWritten).then_some(())
        })?;
    }
    match berth_sys::ns::clone_fork(libc::CLONE_PARENT as u64)
        .map_err(|e| Error::sys("forking the container init", e))?
    {
        None => Ok(None),
        Some(pid) => Ok(Some(pid)),
    }
}

/// In a fresh user namespace: become its root, so files we create are owned by it. Best
/// effort: with no mapping for 0 the process stays the overflow id, which the mounts and
/// devices do not depend on.
pub fn become_root() {
    let z = rustix::fs::Gid::from_raw(0);
    let _ = rustix::thread::set_thread_res_gid(z, z, z);
    let u = rustix::fs::Uid::from_raw(0);
    let _ = rustix::thread::set_thread_res_uid(u, u, u);
}

fn ns_name(flag: i32) -> &'static str {
    crate::validate::NAMESPACES
        .iter()
        .find(|(_, f)| *f == flag)
        .map(|(n, _)| *n)
        .unwrap_or("?")
}

/// Kills and reaps a child that failed during setup.
pub fn reap_failed(pid: i32) {
    let _ = berth_sys::proc::kill(pid, libc::SIGKILL);
    if let Some(p) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::empty());
    }
}

/// Waits for `pid` (a child of ours) and returns its exit status as a shell reports it:
/// the exit code, or 128 + the signal that killed it.
pub fn wait_exit(pid: i32) -> Result<i32> {
    let p = rustix::process::Pid::from_raw(pid)
        .ok_or_else(|| Error::Invalid(format!("bad pid {pid}")))?;
    loop {
        match rustix::process::waitpid(Some(p), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, st))) => {
                if let Some(code) = st.exit_status() {
                    return Ok(code);
                }
                if let Some(sig) = st.terminating_signal() {
                    return Ok(128 + sig);
                }
            }
            Ok(None) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Error::sys(format!("waiting for process {pid}"), e)),
        }
    }
}
