//! `exec`: a new process inside a running container's namespaces and cgroup.
//!
//! A first child joins the container's namespaces (user first; the pid namespace takes
//! effect for its children), then forks the process with `CLONE_PARENT` so that it is the
//! runtime's own child and its exit status can be collected. The process waits until the
//! runtime has moved it into the container's cgroup, then goes through the same final
//! step as the container's init.

use crate::api::{ExecOptions, Runtime};
use crate::channel::{expect, recv, send, Msg};
use crate::finalize::{self, Final};
use crate::spawn;
use crate::{Error, Result};
use berth_spec::Status;
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;

const NS: [(&str, i32); 8] = [
    ("user", libc::CLONE_NEWUSER),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("time", libc::CLONE_NEWTIME),
    ("pid", libc::CLONE_NEWPID),
    ("mnt", libc::CLONE_NEWNS),
];

pub(crate) fn exec(rt: &Runtime, id: &str, opts: &ExecOptions) -> Result<i32> {
    // The exec'd process runs runtime code inside the container's PID namespace.
    crate::seal::ensure()?;
    let (dir, saved, st) = rt.open_running(id)?;
    match st {
        Status::Running | Status::Created => {}
        // The process joins the frozen cgroup and runs once the container is resumed.
        Status::Paused if opts.ignore_paused => {}
        s => {
            return Err(Error::Conflict(format!(
                "cannot exec in container {id:?}: it is {}",
                s.as_str()
            )))
        }
    }
    let mut joins: Vec<(i32, File)> = Vec::new();
    for (name, flag) in NS {
        let theirs = format!("/proc/{}/ns/{name}", saved.pid);
        let Ok(f) = File::open(&theirs) else { continue };
        let same = match (
            f.metadata(),
            std::fs::metadata(format!("/proc/self/ns/{name}")),
        ) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        };
        if !same {
            joins.push((flag, f));
        }
    }
    if !crate::util::process_alive(saved.pid, saved.pid_start) {
        return Err(Error::Conflict(format!("container {id:?} is not running")));
    }
    let cgroup = crate::ops::cgroup_for(&saved)?;
    drop(dir);
    let mut process = opts.process.clone();
    if process.terminal && opts.console_socket.is_none() && process.console_size.is_none() {
        process.console_size = crate::foreground::stdin_size();
    }
    let p = &process;
    if p.terminal && opts.console_socket.is_none() && opts.detach {
        return Err(Error::Invalid(
            "exec --detach with a terminal needs --console-socket".into(),
        ));
    }
    let fg = if opts.detach {
        None
    } else {
        Some(crate::foreground::Foreground::begin()?)
    };
    let mut own_console = None;
    let console = opts
        .console_socket
        .as_ref()
        .filter(|_| p.terminal)
        .map(|c| {
            crate::util::connect_unix(c)
                .map_err(|e| Error::sys(format!("connecting to console socket {}", c.display()), e))
        })
        .transpose()?;
    let console = match console {
        Some(c) => Some(c),
        None if p.terminal => {
            let (ours, theirs) = UnixStream::pair().map_err(|e| Error::sys("socketpair", e))?;
            own_console = Some(ours);
            Some(theirs)
        }
        None => None,
    };
    let seccomp_spec = saved.config.linux.as_ref().and_then(|l| l.seccomp.as_ref());
    let seccomp = rt.seccomp(&saved.config)?;
    let personality = saved
        .config
        .linux
        .as_ref()
        .and_then(|l| l.personality.as_ref());
    let (mut sock, child_sock) = UnixStream::pair().map_err(|e| Error::sys("socketpair", e))?;
    let stage = berth_sys::ns::clone_fork(0).map_err(|e| Error::sys("forking exec process", e))?;
    let Some(stage) = stage else {
        drop(sock);
        let mut s = child_sock;
        let code = match join(&joins) {
            Err(e) => {
                let _ = send(&mut s, &Msg::Fail(e.to_string()));
                1
            }
            Ok(()) => match berth_sys::ns::clone_fork(libc::CLONE_PARENT as u64) {
                Err(e) => {
                    let _ = send(&mut s, &Msg::Fail(format!("forking exec process: {e}")));
                    1
                }
                Ok(Some(pid)) => send(&mut s, &Msg::InitPid(pid)).map(|_| 0).unwrap_or(1),
                Ok(None) => {
                    let e = run_process(
                        &mut s,
                        p,
                        opts.preserve_fds,
                        console.as_ref(),
                        seccomp.as_ref(),
                        seccomp_spec,
                        personality,
                    );
                    let _ = send(&mut s, &Msg::Fail(e.to_string()));
                    1
                }
            },
        };
        std::process::exit(code);
    };
    drop(child_sock);
    let pid = expect(&mut sock, "exec process pid", |m| match m {
        Msg::InitPid(p) => Some(p),
        _ => None,
    });
    let _ = spawn::wait_exit(stage);
    let pid = pid?;
    let res = (|| {
        cgroup.add_process(pid)?;
        send(
            &mut sock,
            &Msg::Go {
                pid,
                state: String::new(),
            },
        )?;
        match recv(&mut sock)? {
            None => Ok(()),
            Some(Msg::Fail(m)) => Err(Error::Container(m)),
            Some(m) => Err(Error::Container(format!(
                "unexpected {m:?} from exec process"
            ))),
        }
    })();
    if let Err(e) = res {
        spawn::reap_failed(pid);
        return Err(e);
    }
    if let Some(f) = &opts.pid_file {
        crate::util::write_atomic(f, pid.to_string().as_bytes())?;
    }
    let Some(fg) = fg else { return Ok(0) };
    let master = own_console
        .map(|c| crate::terminal::recv_fd(&c))
        .transpose()?;
    fg.wait(pid, master)
}

fn join(joins: &[(i32, File)]) -> Result<()> {
    for (flag, f) in joins {
        berth_sys::ns::setns(f.as_fd(), *flag)
            .map_err(|e| Error::sys("joining the container's namespaces", e))?;
    }
    Ok(())
}

fn run_process<'a>(
    sock: &mut UnixStream,
    p: &'a berth_spec::Process,
    preserve_fds: u32,
    console: Option<&UnixStream>,
    seccomp: Option<&'a berth_seccomp::Filter>,
    seccomp_spec: Option<&'a berth_spec::Seccomp>,
    personality: Option<&berth_spec::Personality>,
) -> Error {
    let r = (|| -> Result<Final<'a>> {
        let _ =
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
        let host_pid = expect(sock, "go-ahead", |m| match m {
            Msg::Go { pid, .. } => Some(pid),
            _ => None,
        })?;
        rustix::process::setsid().map_err(|e| Error::sys("setsid", e))?;
        if p.terminal {
            if let Some(c) = console {
                crate::terminal::setup(c, p.console_size)?;
            }
        }
        let exe = finalize::find_executable(p)?;
        finalize::early(p)?;
        finalize::personality(personality)?;
        Ok(Final {
            process: p,
            exe,
            seccomp,
            seccomp_spec,
            listener: None,
            state: String::new(),
            preserve_fds,
            host_pid,
            prepared: false,
        })
    })();
    match r {
        Ok(f) => finalize::exec(f),
        Err(e) => e,
    }
}
