//! The lifecycle operations of [`Runtime`].

use crate::api::{ContainerInfo, CreateOptions, ExecOptions, Runtime};
use crate::channel::{recv, send, Msg};
use crate::init::{self, InitArgs};
use crate::spawn::{self, NsPlan};
use crate::state::{check_id, state_json, ContainerDir, Saved};
use crate::util::{now_rfc3339, proc_stat};
use crate::{Error, Result};
use berth_cgroups::Cgroup;
use berth_spec::{Resources, Spec, State, Status};
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};

fn cgroup_of(s: &Saved) -> Result<Cgroup> {
    Ok(Cgroup::open(
        s.config
            .linux
            .as_ref()
            .and_then(|l| l.cgroups_path.as_deref()),
        &s.id,
    )?)
}

fn status(dir: &ContainerDir, s: &Saved) -> Status {
    s.status(&dir.path, || {
        cgroup_of(s)
            .and_then(|c| Ok(c.is_frozen()?))
            .unwrap_or(false)
    })
}

impl Runtime {
    fn check_driver(&self) -> Result<()> {
        if self.systemd_cgroup {
            return Err(Error::Unsupported(
                "the systemd cgroup driver is not supported; use cgroupfs".into(),
            ));
        }
        Ok(())
    }

    /// Creates the container; its process waits for [`Runtime::start`].
    pub fn create(&self, id: &str, opts: &CreateOptions) -> Result<()> {
        self.create_inner(id, opts, false).map(drop)
    }

    /// Creates the container. With `own_tty`, a terminal without `--console-socket` gets
    /// an internal one whose runtime end is returned, for the foreground to proxy.
    fn create_inner(
        &self,
        id: &str,
        opts: &CreateOptions,
        own_tty: bool,
    ) -> Result<(ContainerDir, Saved, Option<UnixStream>)> {
        self.check_driver()?;
        check_id(id)?;
        let bundle = std::fs::canonicalize(&opts.bundle)
            .map_err(|e| Error::NotFound(format!("bundle {}: {e}", opts.bundle.display())))?;
        let mut spec = Spec::load(&bundle.join("config.json"))?;
        if own_tty && opts.console_socket.is_none() {
            if let Some(p) = spec
                .process
                .as_mut()
                .filter(|p| p.terminal && p.console_size.is_none())
            {
                p.console_size = crate::foreground::stdin_size();
            }
        }
        if crate::seal::needed_for(&spec) {
            crate::seal::ensure()?;
        }
        let rootfs = crate::validate::spec(&spec, &bundle)?;
        let process = spec
            .process
            .as_ref()
            .ok_or_else(|| Error::Invalid("process is required".into()))?;
        let mut own_console = None;
        if process.terminal && opts.console_socket.is_none() {
            if !own_tty {
                return Err(Error::Invalid(
                    "process.terminal is true but no --console-socket was given".into(),
                ));
            }
            let (ours, theirs) = UnixStream::pair().map_err(|e| Error::sys("socketpair", e))?;
            own_console = Some((ours, theirs));
        }
        let plan = NsPlan::from_linux(spec.linux.as_ref())?;
        let console = opts
            .console_socket
            .as_ref()
            .filter(|_| process.terminal)
            .map(|p| {
                crate::util::connect_unix(p).map_err(|e| {
                    Error::sys(format!("connecting to console socket {}", p.display()), e)
                })
            })
            .transpose()?;
        let (console, own_console) = match own_console {
            Some((ours, theirs)) => (Some(theirs), Some(ours)),
            None => (console, None),
        };
        let listener = spec
            .linux
            .as_ref()
            .and_then(|l| l.seccomp.as_ref())
            .and_then(|s| s.listener_path.as_ref())
            .map(|p| {
                UnixStream::connect(p).map_err(|e| {
                    Error::sys(format!("linux.seccomp.listenerPath: connecting to {p}"), e)
                })
            })
            .transpose()?;
        let seccomp = self.seccomp(&spec)?;
        let dir = ContainerDir::create(&self.root, id)?;
        let cgroup = match Cgroup::open(
            spec.linux.as_ref().and_then(|l| l.cgroups_path.as_deref()),
            id,
        ) {
            Ok(c) => c,
            Err(e) => {
                let _ = dir.remove();
                return Err(e.into());
            }
        };
        let mut pid = 0;
        // Another container may already use this cgroupsPath: a failed create must then
        // leave that cgroup and its processes alone.
        let cgroup_is_ours = !cgroup.exists();
        let res = (|| -> Result<Saved> {
            cgroup.create()?;
            if let Some(r) = spec.linux.as_ref().and_then(effective_resources) {
                cgroup.apply(&r)?;
            }
            let start = UnixListener::bind(dir.start_sock_short())
                .map_err(|e| Error::sys("creating start socket", e))?;
            let (mut sock, child_sock) =
                UnixStream::pair().map_err(|e| Error::sys("socketpair", e))?;
            let hierarchies = cgroup.hierarchies();
            let args = InitArgs {
                id,
                spec: &spec,
                bundle: &bundle,
                rootfs: &rootfs,
                start: &start,
                console: console.as_ref(),
                seccomp_listener: listener.as_ref(),
                seccomp: seccomp.as_ref(),
                userns: plan.has_userns(),
                cgroupns: plan.is_new(libc::CLONE_NEWCGROUP),
                hierarchies: &hierarchies,
                no_pivot: opts.no_pivot,
                shared_mntns: shares_mount_ns(&spec),
                no_new_keyring: opts.no_new_keyring,
                preserve_fds: opts.preserve_fds,
                lock_fd: dir.lock_fd(),
            };
            pid = spawn::fork_into(&plan, &spec, &mut sock, child_sock, |s| {
                init::main(s, &args)
            })?;
            cgroup.add_process(pid)?;
            let saved = Saved {
                id: id.to_string(),
                pid,
                pid_start: proc_stat(pid).map(|s| s.start_time).unwrap_or_default(),
                bundle: bundle.clone(),
                rootfs: rootfs.clone(),
                created: now_rfc3339(),
                owner: rustix::process::geteuid().as_raw(),
                config: spec.clone(),
            };
            let state = state_json(&saved.state(Status::Creating));
            send(
                &mut sock,
                &Msg::Go {
                    pid,
                    state: state.clone(),
                },
            )?;
            loop {
                match recv(&mut sock)? {
                    Some(Msg::RunHooks) => {
                        let h = spec.hooks.clone().unwrap_or_default();
                        let r = crate::hooks::run(&h.prestart, "prestart", &state).and_then(|_| {
                            crate::hooks::run(&h.create_runtime, "createRuntime", &state)
                        });
                        r?;
                        send(&mut sock, &Msg::HooksDone)?;
                    }
                    Some(Msg::Ready) => break,
                    Some(Msg::Fail(m)) => return Err(Error::Container(m)),
                    Some(m) => {
                        return Err(Error::Container(format!(
                            "unexpected {m:?} from container init"
                        )))
                    }
                    None => {
                        return Err(Error::Container(
                            "container init exited during setup".into(),
                        ))
                    }
                }
            }
            dir.save(&saved)?;
            if let Some(p) = &opts.pid_file {
                crate::util::write_atomic(p, pid.to_string().as_bytes())?;
            }
            Ok(saved)
        })();
        match res {
            Ok(saved) => Ok((dir, saved, own_console)),
            Err(e) => {
                if pid > 0 {
                    spawn::reap_failed(pid);
                }
                if cgroup_is_ours {
                    let _ = cgroup.kill_all(libc::SIGKILL);
                    let _ = cgroup.destroy();
                }
                let _ = dir.remove();
                Err(e)
            }
        }
    }

    /// Starts the user process of a created container.
    pub fn start(&self, id: &str) -> Result<()> {
        let dir = ContainerDir::open(&self.root, id)?;
        let saved = dir.load()?;
        self.start_locked(&dir, &saved)
    }

    fn start_locked(&self, dir: &ContainerDir, saved: &Saved) -> Result<()> {
        match status(dir, saved) {
            Status::Created => {}
            s => {
                return Err(Error::Conflict(format!(
                    "cannot start container {:?}: it is {}",
                    saved.id,
                    s.as_str()
                )))
            }
        }
        let path = dir.start_sock();
        let mut conn = UnixStream::connect(dir.start_sock_short())
            .map_err(|e| Error::sys("connecting to the container init", e))?;
        let _ = std::fs::remove_file(&path);
        conn.write_all(b"s")
            .map_err(|e| Error::sys("starting the container", e))?;
        let mut msg = String::new();
        let _ = conn.read_to_string(&mut msg);
        if !msg.is_empty() {
            return Err(Error::Container(msg));
        }
        let hooks = saved
            .config
            .hooks
            .as_ref()
            .map(|h| h.poststart.clone())
            .unwrap_or_default();
        if !hooks.is_empty() {
            let state = state_json(&saved.state(Status::Running));
            if let Err(e) = crate::hooks::run(&hooks, "poststart", &state) {
                eprintln!("berth-runtime: warning: {e}");
            }
        }
        Ok(())
    }

    /// create + start; unless `detach`, waits and returns the exit status, then deletes.
    pub fn run(&self, id: &str, opts: &CreateOptions, detach: bool) -> Result<i32> {
        let fg = if detach {
            None
        } else {
            Some(crate::foreground::Foreground::begin()?)
        };
        let (dir, saved, console) = self.create_inner(id, opts, !detach)?;
        let master = console.map(|c| crate::terminal::recv_fd(&c)).transpose();
        let started = master.and_then(|m| self.start_locked(&dir, &saved).map(|_| m));
        let master = match started {
            Ok(m) => m,
            Err(e) => {
                drop(dir);
                let _ = self.delete(id, true);
                return Err(e);
            }
        };
        drop(dir);
        let Some(fg) = fg else { return Ok(0) };
        let code = fg.wait(saved.pid, master)?;
        if !opts.keep {
            self.delete(id, true)?;
        }
        Ok(code)
    }

    /// The container's state.
    pub fn state(&self, id: &str) -> Result<State> {
        let dir = ContainerDir::open(&self.root, id)?;
        let saved = dir.load()?;
        Ok(saved.state(status(&dir, &saved)))
    }

    /// Sends `signal` to the init, or to every process of the container when `all`.
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let dir = ContainerDir::open(&self.root, id)?;
        let saved = dir.load()?;
        let st = status(&dir, &saved);
        if st == Status::Stopped {
            return Err(Error::Conflict(format!("container {id:?} is not running")));
        }
        if all {
            let cg = cgroup_of(&saved)?;
            cg.kill_all(signal)?;
            if st == Status::Paused && signal == libc::SIGKILL {
                let _ = cg.thaw();
            }
            return Ok(());
        }
        signal_init(&saved, signal)
    }

    /// Deletes a stopped container (any container with `force`).
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let dir = ContainerDir::open(&self.root, id)?;
        let saved = dir.load()?;
        let cg = cgroup_of(&saved)?;
        let st = saved.status(&dir.path, || cg.is_frozen().unwrap_or(false));
        if st != Status::Stopped {
            if !force {
                return Err(Error::Conflict(format!(
                    "cannot delete container {id:?} that is not stopped: {}",
                    st.as_str()
                )));
            }
            let _ = cg.kill_all(libc::SIGKILL);
            let _ = signal_init(&saved, libc::SIGKILL);
            if st == Status::Paused {
                let _ = cg.thaw();
            }
            wait_gone(&saved, std::time::Duration::from_secs(10))?;
        }
        // Processes that outlived the init (with a shared pid namespace) die with it.
        let _ = cg.kill_all(libc::SIGKILL);
        cg.destroy()?;
        if shares_mount_ns(&saved.config) {
            crate::rootfs::unmount_under(&saved.rootfs);
        }
        // The default path is /berth/<id>: drop the shared parent once it is empty (the
        // kernel refuses while other containers live there).
        if saved
            .config
            .linux
            .as_ref()
            .and_then(|l| l.cgroups_path.as_ref())
            .is_none()
        {
            for h in cg.hierarchies() {
                if let Some(parent) = h.path.parent().filter(|p| *p != h.mountpoint) {
                    let _ = std::fs::remove_dir(parent);
                }
            }
        }
        let hooks = saved
            .config
            .hooks
            .as_ref()
            .map(|h| h.poststop.clone())
            .unwrap_or_default();
        dir.remove()?;
        if !hooks.is_empty() {
            let state = state_json(&saved.state(Status::Stopped));
            if let Err(e) = crate::hooks::run(&hooks, "poststop", &state) {
                eprintln!("berth-runtime: warning: {e}");
            }
        }
        Ok(())
    }

    /// Runs another process in the container; unless detached returns its exit status.
    pub fn exec(&self, id: &str, opts: &ExecOptions) -> Result<i32> {
        crate::exec::exec(self, id, opts)
    }

    pub(crate) fn open_running(&self, id: &str) -> Result<(ContainerDir, Saved, Status)> {
        let dir = ContainerDir::open(&self.root, id)?;
        let saved = dir.load()?;
        let st = status(&dir, &saved);
        Ok((dir, saved, st))
    }

    /// Every container under the root.
    pub fn list(&self) -> Result<Vec<ContainerInfo>> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::sys(format!("reading {}", self.root.display()), e)),
        };
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if check_id(&id).is_err() {
                continue;
            }
            if let Ok(info) = self.info(&id) {
                out.push(info);
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// One container's row of `list`.
    pub fn info(&self, id: &str) -> Result<ContainerInfo> {
        let dir = ContainerDir::open(&self.root, id)?;
        let saved = dir.load()?;
        let st = status(&dir, &saved);
        Ok(ContainerInfo {
            id: id.to_string(),
            pid: if st == Status::Stopped { 0 } else { saved.pid },
            status: st,
            bundle: saved.bundle.display().to_string(),
            rootfs: saved.rootfs.display().to_string(),
            created: saved.created.clone(),
            owner: owner_name(saved.owner),
            annotations: saved.config.annotations.clone(),
        })
    }

    /// Host PIDs of the container's processes.
    pub fn ps(&self, id: &str) -> Result<Vec<i32>> {
        let (_dir, saved, _) = self.open_running(id)?;
        Ok(cgroup_of(&saved)?.procs()?)
    }

    /// Freezes every process of the container.
    pub fn pause(&self, id: &str) -> Result<()> {
        let (_dir, saved, st) = self.open_running(id)?;
        if st != Status::Running && st != Status::Created {
            return Err(Error::Conflict(format!(
                "cannot pause container {id:?}: it is {}",
                st.as_str()
            )));
        }
        Ok(cgroup_of(&saved)?.freeze()?)
    }

    /// Thaws a paused container.
    pub fn resume(&self, id: &str) -> Result<()> {
        let (_dir, saved, st) = self.open_running(id)?;
        if st != Status::Paused {
            return Err(Error::Conflict(format!(
                "cannot resume container {id:?}: it is not paused ({})",
                st.as_str()
            )));
        }
        Ok(cgroup_of(&saved)?.thaw()?)
    }

    /// Changes the resources of a created, running or paused container.
    pub fn update(&self, id: &str, resources: &Resources) -> Result<()> {
        let (dir, mut saved, st) = self.open_running(id)?;
        if st == Status::Stopped {
            return Err(Error::Conflict(format!(
                "cannot update container {id:?}: it is stopped"
            )));
        }
        Cgroup::validate(resources)?;
        cgroup_of(&saved)?.apply(resources)?;
        let linux = saved.config.linux.get_or_insert_with(Default::default);
        let merged = merge_resources(linux.resources.take().unwrap_or_default(), resources);
        linux.resources = Some(merged);
        dir.save(&saved)
    }

    /// cgroup statistics of the container.
    pub fn stats(&self, id: &str) -> Result<berth_cgroups::Stats> {
        let (_dir, saved, st) = self.open_running(id)?;
        if st == Status::Stopped {
            return Err(Error::Conflict(format!("container {id:?} is not running")));
        }
        Ok(cgroup_of(&saved)?.stats()?)
    }

    /// The container's stored config (as created, with updates applied).
    pub fn config(&self, id: &str) -> Result<Spec> {
        let dir = ContainerDir::open(&self.root, id)?;
        Ok(dir.load()?.config)
    }
}

/// Whether the container has no mount namespace of its own (neither new nor joined).
fn shares_mount_ns(spec: &Spec) -> bool {
    !spec
        .linux
        .as_ref()
        .is_some_and(|l| l.namespaces.iter().any(|n| n.typ == "mount"))
}

/// The resources applied at create: the spec's, with the device rules every container
/// needs appended when the spec restricts devices at all (as runc does): mknod of any
/// node, the default devices, pty slaves
/// ([`berth_spec::defaults::default_device_allowlist`]), and each device the spec creates.
fn effective_resources(linux: &berth_spec::Linux) -> Option<Resources> {
    let mut r = linux.resources.clone()?;
    if r.devices.is_empty() {
        return Some(r);
    }
    r.devices
        .extend(berth_spec::defaults::default_device_allowlist());
    for d in &linux.devices {
        let typ = if d.typ == "u" { "c" } else { d.typ.as_str() };
        if typ != "p" {
            r.devices.push(berth_spec::DeviceRule::new(
                true,
                typ,
                Some(d.major),
                Some(d.minor),
                "rwm",
            ));
        }
    }
    Some(r)
}

fn merge_resources(old: Resources, new: &Resources) -> Resources {
    let mut v = serde_json::to_value(old).unwrap_or_default();
    let n = serde_json::to_value(new).unwrap_or_default();
    merge_json(&mut v, n);
    serde_json::from_value(v).unwrap_or_else(|_| new.clone())
}

fn merge_json(a: &mut serde_json::Value, b: serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge_json(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn signal_init(saved: &Saved, signal: i32) -> Result<()> {
    let pid =
        rustix::process::Pid::from_raw(saved.pid).ok_or_else(|| Error::Invalid("no pid".into()))?;
    let fd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| Error::sys(format!("opening process {}", saved.pid), e))?;
    // The pidfd pins the process: check it is still the container's init, then signal it.
    if !crate::util::process_alive(saved.pid, saved.pid_start) {
        return Err(Error::Conflict(format!(
            "container {:?} is not running",
            saved.id
        )));
    }
    use std::os::fd::AsFd;
    berth_sys::proc::pidfd_send_signal(fd.as_fd(), signal)
        .map_err(|e| Error::sys(format!("sending signal {signal} to {}", saved.pid), e))
}

fn wait_gone(saved: &Saved, timeout: std::time::Duration) -> Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    let mut sleep = std::time::Duration::from_micros(100);
    while crate::util::process_alive(saved.pid, saved.pid_start) {
        // Our own child (after `run`): reap it so it stops being a zombie.
        if let Some(p) = rustix::process::Pid::from_raw(saved.pid) {
            let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG);
        }
        if std::time::Instant::now() >= deadline {
            return Err(Error::Container(format!(
                "container {:?} did not die after SIGKILL",
                saved.id
            )));
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(std::time::Duration::from_millis(10));
    }
    Ok(())
}

fn owner_name(uid: u32) -> String {
    if let Ok(passwd) = std::fs::read_to_string("/etc/passwd") {
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() > 2 && f[2] == uid.to_string() {
                return f[0].to_string();
            }
        }
    }
    uid.to_string()
}

/// Used by `exec` to know where the container is.
pub(crate) fn cgroup_for(saved: &Saved) -> Result<Cgroup> {
    cgroup_of(saved)
}
