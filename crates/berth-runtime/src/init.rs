//! The container's init: runs in the new namespaces, builds the filesystem, reports
//! ready, waits for `start`, then becomes the user's program.

use crate::channel::{expect, send, Msg};
use crate::finalize::{self, Final};
use crate::rootfs::{self, RootfsCtx};
use crate::{Error, Result};
use berth_spec::Spec;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// Everything the init needs, inherited across the fork.
pub struct InitArgs<'a> {
    /// Container ID.
    pub id: &'a str,
    /// The config.
    pub spec: &'a Spec,
    /// Host path of the bundle.
    pub bundle: &'a Path,
    /// Host path of the rootfs.
    pub rootfs: &'a Path,
    /// Socket on which `start` connects.
    pub start: &'a UnixListener,
    /// Connected console socket, when a terminal is wanted.
    pub console: Option<&'a UnixStream>,
    /// Connected seccomp listener socket.
    pub seccomp_listener: Option<&'a UnixStream>,
    /// The seccomp filter, compiled before the fork (see [`crate::Runtime::seccomp`]).
    pub seccomp: Option<&'a berth_seccomp::Filter>,
    /// The container has a user namespace.
    pub userns: bool,
    /// The cgroup namespace is new.
    pub cgroupns: bool,
    /// cgroup hierarchies of the container.
    pub hierarchies: &'a [berth_cgroups::Hierarchy],
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// No mount namespace of its own: see [`RootfsCtx::shared_mntns`].
    pub shared_mntns: bool,
    /// `--no-new-keyring`.
    pub no_new_keyring: bool,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// The state directory's lock, inherited across the fork and closed first thing.
    pub lock_fd: std::os::fd::RawFd,
}

/// Entry point in the forked process; returns the exit code on failure.
pub fn main(mut sock: UnixStream, a: &InitArgs) -> i32 {
    berth_sys::proc::close_inherited(a.lock_fd);
    match setup(&mut sock, a) {
        Ok(f) => {
            let (conn, f) = match wait_start(a, f) {
                Ok(x) => x,
                Err(_) => return 1,
            };
            let err = finalize::exec(f);
            report(conn, &err.to_string());
            1
        }
        Err(e) => {
            let _ = send(&mut sock, &Msg::Fail(e.to_string()));
            1
        }
    }
}

fn report(mut conn: UnixStream, msg: &str) {
    let _ = conn.write_all(msg.as_bytes());
}

fn setup<'a>(sock: &mut UnixStream, a: &'a InitArgs) -> Result<Final<'a>> {
    // Keep other users of the host (and the container itself, later) from reading our
    // memory or /proc/<pid>/exe while we still run the runtime's code.
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    let (pid, state) = expect(sock, "go-ahead", |m| match m {
        Msg::Go { pid, state } => Some((pid, state)),
        _ => None,
    })?;
    if a.cgroupns {
        berth_sys::ns::unshare(libc::CLONE_NEWCGROUP)
            .map_err(|e| Error::sys("creating cgroup namespace", e))?;
    }
    if a.userns {
        crate::spawn::become_root();
    }
    rustix::process::setsid().map_err(|e| Error::sys("setsid", e))?;
    if !a.no_new_keyring {
        // Best effort: keyrings may be disabled or limited in nested setups.
        let _ = berth_sys::proc::join_session_keyring(c"_ses.berth");
    }
    rustix::process::umask(rustix::fs::Mode::empty());
    let spec = a.spec;
    let process = spec
        .process
        .as_ref()
        .ok_or_else(|| Error::Invalid("process is required".into()))?;
    let ctx = RootfsCtx {
        rootfs: a.rootfs,
        bundle: a.bundle,
        userns: a.userns,
        cgroupns: a.cgroupns,
        hierarchies: a.hierarchies,
        shared_mntns: a.shared_mntns,
    };
    rootfs::prepare(spec, &ctx)?;
    let hooks = spec.hooks.clone().unwrap_or_default();
    if !hooks.prestart.is_empty() || !hooks.create_runtime.is_empty() {
        send(sock, &Msg::RunHooks)?;
        expect(sock, "hooks", |m| matches!(m, Msg::HooksDone).then_some(()))?;
    }
    crate::hooks::run(&hooks.create_container, "createContainer", &state)?;
    let new_netns = spec.linux.as_ref().is_some_and(|l| {
        l.namespaces
            .iter()
            .any(|n| n.typ == "network" && n.path.as_deref().is_none_or(str::is_empty))
    });
    if new_netns {
        // Best effort: a container without CAP_NET_ADMIN over its namespace keeps lo down.
        let _ = berth_sys::ns::loopback_up();
    }
    if let Some(h) = spec.hostname.as_deref().filter(|h| !h.is_empty()) {
        rustix::system::sethostname(h.as_bytes())
            .map_err(|e| Error::sys(format!("hostname: setting {h:?}"), e))?;
    }
    if let Some(d) = spec.domainname.as_deref().filter(|h| !h.is_empty()) {
        rustix::system::setdomainname(d.as_bytes())
            .map_err(|e| Error::sys(format!("domainname: setting {d:?}"), e))?;
    }
    rootfs::pivot(a.rootfs, a.no_pivot, a.shared_mntns)?;
    rootfs::finish(spec, a.userns, a.shared_mntns)?;
    finalize::personality(spec.linux.as_ref().and_then(|l| l.personality.as_ref()))?;
    if process.terminal {
        let console = a
            .console
            .ok_or_else(|| Error::Invalid("process.terminal needs a console socket".into()))?;
        crate::terminal::setup(console, process.console_size)?;
    }
    let exe = finalize::find_executable(process)?;
    finalize::early(process)?;
    let seccomp_spec = spec.linux.as_ref().and_then(|l| l.seccomp.as_ref());
    let listener = a
        .seccomp_listener
        .map(|s| s.try_clone())
        .transpose()
        .map_err(|e| Error::sys("seccomp listener", e))?;
    let mut f = Final {
        process,
        exe,
        seccomp: a.seccomp,
        seccomp_spec,
        listener,
        state,
        preserve_fds: a.preserve_fds,
        host_pid: pid,
        prepared: false,
    };
    finalize::prepare_for_listener(&mut f)?;
    send(sock, &Msg::Ready)?;
    Ok(f)
}

fn wait_start<'a>(a: &'a InitArgs, mut f: Final<'a>) -> Result<(UnixStream, Final<'a>)> {
    loop {
        let (mut conn, _) = a
            .start
            .accept()
            .map_err(|e| Error::sys("waiting for start", e))?;
        let mut b = [0u8; 1];
        if conn.read_exact(&mut b).is_err() {
            continue;
        }
        let mut hooks = a
            .spec
            .hooks
            .as_ref()
            .map(|h| h.start_container.clone())
            .unwrap_or_default();
        // A startContainer hook runs in the container: without an env of its own it gets
        // the container process's.
        for h in &mut hooks {
            if h.env.is_empty() {
                h.env = f.process.env.clone();
            }
        }
        let state = f.state.replace("\"creating\"", "\"running\"");
        f.state = state;
        if let Err(e) = crate::hooks::run(&hooks, "startContainer", &f.state) {
            report(conn, &e.to_string());
            return Err(e);
        }
        return Ok((conn, f));
    }
}
