//! Running containers: start (rootfs, bundle, shim), the monitor that waits on each shim,
//! restart policies with Docker's growing delay, stop/kill/pause, wait, and recovery of
//! running containers when the daemon starts again.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_model::docker::{ContainerWaitExitError, ContainerWaitResponse, RestartPolicyNameEnum};
use berth_model::{Error, ErrorKind, WaitCondition, WaitFuture};
use berth_shim::client::{LaunchOptions, ShimClient};
use berth_shim::protocol::ExitInfo;

use crate::container::{Container, Record};
use crate::shim;
use crate::{util, Engine};

/// Docker's restart delay: 100 ms, doubling after each quick failure, capped at one minute;
/// a run that lasted 10 s resets it.
const RESTART_DELAY_START: Duration = Duration::from_millis(100);
const RESTART_DELAY_MAX: Duration = Duration::from_secs(60);
const RESTART_RESET_AFTER: Duration = Duration::from_secs(10);

use berth_specgen::parse_signal;

/// What the restart policy says after an exit.
fn should_restart(r: &Record, exit_code: i64) -> bool {
    let Some(policy) = r.host_config.restart_policy.as_ref() else {
        return false;
    };
    match policy.name {
        Some(RestartPolicyNameEnum::ALWAYS) => !r.manually_stopped,
        Some(RestartPolicyNameEnum::UNLESS_STOPPED) => !r.manually_stopped,
        Some(RestartPolicyNameEnum::ON_FAILURE) => {
            let max = policy.maximum_retry_count.unwrap_or(0);
            !r.manually_stopped && exit_code != 0 && (max == 0 || r.restart_count < max)
        }
        _ => false,
    }
}

impl Engine {
    /// Starts a created or exited container (the `op` lock must be held).
    pub(crate) async fn start_locked(
        &self,
        c: &Arc<Container>,
        wait_start: bool,
    ) -> Result<(), Error> {
        let rec = c.snapshot();
        if rec.state.is_running() {
            return Err(Error::not_modified("container already started"));
        }
        if rec.state.status == "removing" || rec.state.status == "dead" {
            return Err(Error::conflict(format!(
                "cannot start container {}: it is being removed",
                rec.name
            )));
        }
        let wait_start = wait_start || self.has_pending_attach(c);
        let started = match self.start_inner(&rec, wait_start).await {
            Ok(pid) if wait_start => {
                self.connect_pending(c).await;
                let run = self.run_dir(&rec.id);
                match ShimClient::new(&run).start().await.map_err(shim::err) {
                    Ok(()) => Ok(pid),
                    // The process could not be started (e.g. its binary cannot be
                    // executed): undo the launch, then fail like any other start.
                    Err(e) => {
                        self.abort_launch(&rec).await;
                        Err(e)
                    }
                }
            }
            other => other,
        };
        match started {
            Ok(pid) => {
                c.update(|r| {
                    r.state.status = "running".into();
                    r.state.pid = i64::from(pid);
                    r.state.error.clear();
                    r.state.exit_code = 0;
                    r.state.oom_killed = false;
                    r.state.started_at = util::now_rfc3339();
                    r.state.finished_at = util::ZERO_TIME.into();
                    r.has_been_started = true;
                    r.manually_stopped = false;
                    if r.config.healthcheck.is_some() {
                        r.state.health = crate::stats::initial_health(&r.config);
                    }
                })?;
                self.container_event(&c.snapshot(), "start", &[]);
                self.spawn_monitor(c.clone());
                self.spawn_health(c.clone());
                Ok(())
            }
            Err(e) => {
                let message = e.message.to_ascii_lowercase();
                let code = if message.contains("executable file not found")
                    || message.contains("no such file or directory")
                {
                    127
                } else if message.contains("permission denied") {
                    126
                } else {
                    128
                };
                let _ = c.update(|r| {
                    r.state.status = if r.has_been_started {
                        "exited".into()
                    } else {
                        "created".into()
                    };
                    r.state.error = e.message.clone();
                    r.state.exit_code = code;
                    r.state.pid = 0;
                });
                self.teardown(&rec).await;
                // Attaches waiting for this start end now; an auto-remove container goes.
                c.pending_attach
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clear();
                if rec.host_config.auto_remove.unwrap_or(false) {
                    if let Some(me) = self.arc() {
                        let id = rec.id.clone();
                        tokio::spawn(async move {
                            let _ = me.remove(&id, true, true).await;
                        });
                    }
                }
                Err(e)
            }
        }
    }

    async fn start_inner(&self, rec: &Record, wait_start: bool) -> Result<i32, Error> {
        let dir = self.container_dir(&rec.id);
        let run = self.run_dir(&rec.id);
        // A previous run's exit record or socket must not be mistaken for this one's.
        let _ = std::fs::remove_dir_all(&run);
        std::fs::create_dir_all(&run)
            .map_err(util::io_err(format!("creating {}", run.display())))?;
        let rootfs = dir.join("rootfs");
        self.images.mount(&rec.image_id, &dir, &rootfs).await?;
        if let Some(wd) = rec
            .config
            .working_dir
            .clone()
            .filter(|w| !w.is_empty() && w != "/")
        {
            // Docker creates a missing working directory.
            let root = rootfs.clone();
            let what = format!("creating the working directory {wd}");
            tokio::task::spawn_blocking(move || util::mkdir_in_root(&root, &wd))
                .await
                .map_err(|e| Error::internal(e.to_string()))?
                .map_err(util::io_err(what))?;
        }
        self.populate_volumes(rec, &rootfs).await?;
        if !rec.endpoints.is_empty() {
            self.network_up(rec).await?;
        }
        crate::spec::write_bundle(self, rec, &rootfs, &run).await?;
        let log = &rec.host_config.log_config;
        let opt = |k: &str| {
            log.as_ref()
                .and_then(|l| l.config.as_ref())
                .and_then(|c| c.get(k).cloned())
        };
        let log_max_size = match opt("max-size") {
            Some(s) => {
                parse_size(&s).ok_or_else(|| Error::invalid(format!("invalid max-size: {s}")))?
            }
            None => 0,
        };
        let log_max_file = match opt("max-file") {
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| Error::invalid(format!("invalid max-file: {s}")))?,
            None => 1,
        };
        let launch = LaunchOptions {
            id: rec.id.clone(),
            bundle: run.clone(),
            state_dir: run.clone(),
            runtime: self.config.runtime.clone(),
            runtime_root: self.config.exec_root.join("runtime"),
            log_path: self.log_path(&rec.id),
            log_max_size: Some(log_max_size),
            log_max_file: Some(log_max_file),
            tty: rec.config.tty.unwrap_or(false),
            stdin: rec.config.open_stdin.unwrap_or(false),
            // Docker closes stdin after the first attach only without a TTY: a detached
            // `run -it` shell must take input from the next `attach`.
            stdin_once: rec.config.stdin_once.unwrap_or(false) && !rec.config.tty.unwrap_or(false),
            wait_start,
        };
        shim::launch(&self.config.shim, &launch).await
    }

    /// Undoes a launch that cannot go on: the shim is killed (by the PID it wrote) and the
    /// runtime deletes the container, which ends its processes and its cgroup.
    async fn abort_launch(&self, rec: &Record) {
        let run = self.run_dir(&rec.id);
        let pid = std::fs::read_to_string(run.join(berth_shim::protocol::SHIM_PID))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok());
        if let Some(pid) = pid.and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
        let _ = self.runtime(&["delete", "--force", &rec.id]).await;
    }

    /// Unmounts the root and forgets the run directory of a container that is not running;
    /// its network (veths, addresses, published ports, namespace) goes too.
    pub(crate) async fn teardown(&self, rec: &Record) {
        let rootfs = self.container_dir(&rec.id).join("rootfs");
        let _ = self.images.unmount(&rootfs).await;
        let live = self.container(&rec.id).ok();
        let (eps, had_ports) = live
            .as_ref()
            .map(|c| {
                let r = c.snapshot();
                (r.endpoints, !r.published.is_empty())
            })
            .unwrap_or_else(|| (rec.endpoints.clone(), !rec.published.is_empty()));
        if eps.is_empty() {
            return;
        }
        if let Some(me) = self.arc() {
            let id = rec.id.clone();
            let eps2 = eps.clone();
            let _ = tokio::task::spawn_blocking(move || me.networks.release(&id, &eps2, had_ports))
                .await;
        }
        if let Some(c) = live {
            let _ = c.update(|r| {
                for e in &mut r.endpoints {
                    *e = e.config_only();
                }
                r.published.clear();
            });
        }
    }

    /// Makes the network of a container on bridge networks before its runtime runs, and
    /// records what it got (addresses, MACs, ports) with the container.
    async fn network_up(&self, rec: &Record) -> Result<(), Error> {
        let c = self.container(&rec.id)?;
        let me = self
            .arc()
            .ok_or_else(|| Error::internal("the engine is shutting down"))?;
        let (id, eps, host) = (
            rec.id.clone(),
            rec.endpoints.clone(),
            rec.host_config.clone(),
        );
        let exposed = rec.config.exposed_ports.clone().unwrap_or_default();
        let (filled, published) =
            tokio::task::spawn_blocking(move || me.networks.setup(&id, &eps, &host, &exposed))
                .await
                .map_err(|e| Error::internal(e.to_string()))??;
        c.update(|r| {
            r.endpoints = filled.clone();
            r.published = published;
        })?;
        self.networks.dns_add(&rec.id, &rec.name, &filled);
        self.write_net_files(&c.snapshot())
    }

    /// The json-file log of a container.
    pub(crate) fn log_path(&self, id: &str) -> PathBuf {
        self.container_dir(id).join(format!("{id}-json.log"))
    }

    /// Waits on the shim of a running container; records the exit; applies the restart
    /// policy and auto-removal.
    pub(crate) fn spawn_monitor(&self, c: Arc<Container>) {
        let Some(engine) = self.arc() else { return };
        tokio::spawn(async move {
            let mut delay = RESTART_DELAY_START;
            loop {
                let started = Instant::now();
                let id = c.lock().id.clone();
                let run = engine.run_dir(&id);
                let exit = match ShimClient::new(&run).wait().await {
                    Ok(e) => e,
                    Err(_) => match shim::exit_file(&run) {
                        Some(e) => e,
                        None => {
                            // The shim vanished without an exit record (killed): the
                            // container's processes went with its pid namespace.
                            ExitInfo {
                                exit_code: 255,
                                oom_killed: false,
                                finished_at: util::now_rfc3339(),
                            }
                        }
                    },
                };
                // No `op` lock here: `stop` holds it while waiting for this very update.
                let restart = {
                    let rec = c.snapshot();
                    if !rec.state.is_running() {
                        return;
                    }
                    let restart = should_restart(&rec, i64::from(exit.exit_code));
                    // Unmount before the state says "exited", so a start that follows
                    // never sees its fresh mount undone.
                    engine.teardown(&rec).await;
                    let _ = c.update(|r| {
                        r.state.status = if restart {
                            "restarting".into()
                        } else {
                            "exited".into()
                        };
                        r.state.pid = 0;
                        r.state.exit_code = i64::from(exit.exit_code);
                        r.state.oom_killed = exit.oom_killed;
                        r.state.finished_at = exit.finished_at.clone();
                        if let Some(h) = r.state.health.as_mut() {
                            h.status = Some(berth_model::docker::HealthStatusEnum::UNHEALTHY);
                        }
                    });
                    let rec = c.snapshot();
                    if exit.oom_killed {
                        engine.container_event(&rec, "oom", &[]);
                    }
                    engine.container_event(
                        &rec,
                        "die",
                        &[("exitCode", exit.exit_code.to_string())],
                    );
                    restart
                };
                if !restart {
                    let auto_remove = c.lock().host_config.auto_remove.unwrap_or(false);
                    if auto_remove {
                        let id = c.lock().id.clone();
                        let _ = engine.remove(&id, true, true).await;
                    }
                    return;
                }
                if started.elapsed() >= RESTART_RESET_AFTER {
                    delay = RESTART_DELAY_START;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RESTART_DELAY_MAX);
                let _op = c.op.lock().await;
                let rec = c.snapshot();
                if rec.state.status != "restarting" || rec.manually_stopped {
                    return;
                }
                let _ = c.update(|r| r.restart_count += 1);
                let rec = c.snapshot();
                match engine.start_inner(&rec, false).await {
                    Ok(pid) => {
                        let _ = c.update(|r| {
                            r.state.status = "running".into();
                            r.state.pid = i64::from(pid);
                            r.state.started_at = util::now_rfc3339();
                            r.state.error.clear();
                        });
                        engine.container_event(&c.snapshot(), "start", &[]);
                        engine.spawn_health(c.clone());
                    }
                    Err(e) => {
                        let _ = c.update(|r| {
                            r.state.status = "exited".into();
                            r.state.error = e.message.clone();
                        });
                        engine.teardown(&rec).await;
                        return;
                    }
                }
            }
        });
    }

    /// Sends a signal through the shim (the runtime's `kill`).
    pub(crate) async fn signal(&self, rec: &Record, signal: i32) -> Result<(), Error> {
        ShimClient::new(&self.run_dir(&rec.id))
            .kill(signal, false)
            .await
            .map_err(shim::err)
    }

    /// Waits until the container is not running, at most `limit` (None: forever).
    pub(crate) async fn wait_stopped(&self, c: &Arc<Container>, limit: Option<Duration>) -> bool {
        let mut rx = c.watch();
        let deadline = limit.map(|l| tokio::time::Instant::now() + l);
        loop {
            {
                let r = c.lock();
                if !r.state.is_running() {
                    return true;
                }
            }
            let changed = rx.changed();
            match deadline {
                Some(d) => match tokio::time::timeout_at(d, changed).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return true,
                    Err(_) => return false,
                },
                None => {
                    if changed.await.is_err() {
                        return true;
                    }
                }
            }
        }
    }

    /// `stop`: the stop signal, then SIGKILL after the timeout.
    pub(crate) async fn stop(
        &self,
        reference: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> Result<(), Error> {
        let c = self.container(reference)?;
        let _op = c.op.lock().await;
        self.stop_locked(&c, signal, timeout).await
    }

    pub(crate) async fn stop_locked(
        &self,
        c: &Arc<Container>,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> Result<(), Error> {
        let rec = c.snapshot();
        if rec.state.status == "restarting" {
            c.update(|r| {
                r.manually_stopped = true;
                r.state.status = "exited".into();
            })?;
            return Ok(());
        }
        if !rec.state.is_running() {
            return Err(Error::not_modified("container already stopped"));
        }
        c.update(|r| r.manually_stopped = true)?;
        let sig = match signal.or_else(|| rec.config.stop_signal.clone()) {
            Some(s) if !s.is_empty() => parse_signal(&s)?,
            _ => 15,
        };
        let timeout = timeout.or(rec.config.stop_timeout).unwrap_or(10);
        if rec.state.status == "paused" {
            let _ = self.runtime(&["resume", &rec.id]).await;
        }
        if sig != 9 {
            let _ = self.signal(&rec, sig).await;
            let limit = (timeout >= 0).then(|| Duration::from_secs(timeout as u64));
            if self.wait_stopped(c, limit).await {
                self.container_event(&c.snapshot(), "stop", &[]);
                return Ok(());
            }
        }
        let _ = self.signal(&rec, 9).await;
        if !self.wait_stopped(c, Some(Duration::from_secs(30))).await {
            return Err(Error::internal(format!(
                "cannot stop container {}: it did not exit after SIGKILL",
                rec.name
            )));
        }
        self.container_event(&c.snapshot(), "stop", &[]);
        Ok(())
    }

    /// `kill`.
    pub(crate) async fn kill(&self, reference: &str, signal: Option<String>) -> Result<(), Error> {
        let c = self.container(reference)?;
        let rec = c.snapshot();
        let sig = match signal {
            Some(s) if !s.is_empty() => parse_signal(&s)?,
            _ => 9,
        };
        if !rec.state.is_running() {
            return Err(Error::conflict(format!(
                "Cannot kill container: {}: Container {} is not running",
                reference, rec.id
            )));
        }
        if sig == 9 || sig == 15 {
            // Docker: a container killed by the user is not restarted by `unless-stopped`
            // … but `always`/`on-failure` still apply after a kill; only stop marks it.
        }
        self.signal(&rec, sig).await?;
        self.container_event(&rec, "kill", &[("signal", sig.to_string())]);
        Ok(())
    }

    /// `restart`.
    pub(crate) async fn restart(
        &self,
        reference: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> Result<(), Error> {
        let c = self.container(reference)?;
        let _op = c.op.lock().await;
        match self.stop_locked(&c, signal, timeout).await {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::NotModified => {}
            Err(e) => return Err(e),
        }
        self.start_locked(&c, false).await?;
        self.container_event(&c.snapshot(), "restart", &[]);
        Ok(())
    }

    /// `pause` / `unpause` through the runtime's freezer.
    pub(crate) async fn pause(&self, reference: &str, pause: bool) -> Result<(), Error> {
        let c = self.container(reference)?;
        let _op = c.op.lock().await;
        let rec = c.snapshot();
        match (pause, rec.state.status.as_str()) {
            (true, "running") => {
                self.runtime(&["pause", &rec.id]).await?;
                c.update(|r| r.state.status = "paused".into())?;
                self.container_event(&rec, "pause", &[]);
            }
            (false, "paused") => {
                self.runtime(&["resume", &rec.id]).await?;
                c.update(|r| r.state.status = "running".into())?;
                self.container_event(&rec, "unpause", &[]);
            }
            (true, "paused") => {
                return Err(Error::conflict(format!(
                    "Container {} is already paused",
                    rec.id
                )))
            }
            (false, _) => {
                return Err(Error::conflict(format!(
                    "Container {} is not paused",
                    rec.id
                )))
            }
            _ => {
                return Err(Error::conflict(format!(
                    "Container {} is not running",
                    rec.id
                )))
            }
        }
        Ok(())
    }

    /// Runs `berth-runtime --root <exec-root>/runtime ARGS`.
    pub(crate) async fn runtime(&self, args: &[&str]) -> Result<String, Error> {
        let out = tokio::process::Command::new(&self.config.runtime)
            .arg("--root")
            .arg(self.config.exec_root.join("runtime"))
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| {
                Error::internal(format!("running {}: {e}", self.config.runtime.display()))
            })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(Error::internal(format!(
                "{} {}: {}",
                self.config.runtime.display(),
                args.first().copied().unwrap_or(""),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// `wait`: registers now, resolves per `condition`.
    pub(crate) async fn wait(
        &self,
        reference: &str,
        condition: WaitCondition,
    ) -> Result<WaitFuture, Error> {
        let c = self.container(reference)?;
        let mut rx = c.watch();
        let (initial_running, initial_error) = {
            let r = c.lock();
            (r.state.is_running(), r.state.error.clone())
        };
        let removed = {
            let c = c.clone();
            move || c.lock().state.status == "removed"
        };
        Ok(Box::pin(async move {
            let mut seen_running = initial_running;
            loop {
                let (status, code, err) = {
                    let r = c.lock();
                    (
                        r.state.status.clone(),
                        r.state.exit_code,
                        r.state.error.clone(),
                    )
                };
                let running = matches!(status.as_str(), "running" | "paused" | "restarting");
                seen_running |= running;
                let done = match condition {
                    WaitCondition::NotRunning => !running,
                    // A start that failed counts as the next exit (with its error).
                    WaitCondition::NextExit => {
                        !running && (seen_running || (!err.is_empty() && err != initial_error))
                    }
                    WaitCondition::Removed => removed(),
                };
                if done {
                    return ContainerWaitResponse {
                        status_code: code,
                        error: (!err.is_empty())
                            .then_some(ContainerWaitExitError { message: Some(err) }),
                    };
                }
                if rx.changed().await.is_err() {
                    let r = c.lock();
                    return ContainerWaitResponse {
                        status_code: r.state.exit_code,
                        error: None,
                    };
                }
            }
        }))
    }

    /// At daemon start, after [`Engine::recover`]: the kernel's network state is brought
    /// in line with the containers that run (berth's nftables table rebuilt, stale
    /// veths, namespaces and address allocations dropped), and their DNS names return.
    pub(crate) async fn reconcile_networks(&self) -> Result<(), Error> {
        let running: Vec<Record> = self
            .containers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|c| c.snapshot())
            .filter(|r| r.state.is_running() && !r.endpoints.is_empty())
            .collect();
        let me = self
            .arc()
            .ok_or_else(|| Error::internal("the engine is shutting down"))?;
        let state: std::collections::HashMap<_, _> = running
            .iter()
            .map(|r| (r.id.clone(), (r.endpoints.clone(), r.published.clone())))
            .collect();
        tokio::task::spawn_blocking(move || me.networks.reconcile(&state))
            .await
            .map_err(|e| Error::internal(e.to_string()))??;
        for r in &running {
            self.networks.dns_add(&r.id, &r.name, &r.endpoints);
        }
        Ok(())
    }

    /// At daemon start: load records, reconnect to live shims, record exits that happened
    /// while the daemon was away, and apply restart policies.
    pub(crate) async fn recover(&self) -> Result<(), Error> {
        let root = self.config.data_root.join("containers");
        let entries = std::fs::read_dir(&root)
            .map_err(util::io_err(format!("reading {}", root.display())))?;
        let mut loaded = Vec::new();
        for e in entries.flatten() {
            let dir = e.path();
            if !dir.join("config.json").is_file() {
                continue;
            }
            match Container::load(&dir) {
                Ok(c) => loaded.push(c),
                Err(err) => tracing::warn!("skipping container {}: {err}", dir.display()),
            }
        }
        for c in &loaded {
            let rec = c.snapshot();
            self.names
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .reserve(&rec.name, &rec.id)?;
            self.containers
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(rec.id.clone(), c.clone());
        }
        for c in loaded {
            let rec = c.snapshot();
            let run = self.run_dir(&rec.id);
            let alive = rec.state.is_running() && ShimClient::new(&run).connect().await.is_ok();
            if alive {
                self.spawn_monitor(c.clone());
                self.spawn_health(c.clone());
                continue;
            }
            if rec.state.is_running() || rec.state.status == "restarting" {
                let exit = shim::exit_file(&run).unwrap_or(ExitInfo {
                    exit_code: 255,
                    oom_killed: false,
                    finished_at: util::now_rfc3339(),
                });
                let restart = should_restart(&rec, i64::from(exit.exit_code));
                c.update(|r| {
                    r.state.status = "exited".into();
                    r.state.pid = 0;
                    r.state.exit_code = i64::from(exit.exit_code);
                    r.state.oom_killed = exit.oom_killed;
                    r.state.finished_at = exit.finished_at.clone();
                })?;
                self.teardown(&rec).await;
                if rec.host_config.auto_remove.unwrap_or(false) {
                    let _ = self.remove(&rec.id, true, true).await;
                    continue;
                }
                if restart {
                    let _op = c.op.lock().await;
                    let _ = c.update(|r| r.restart_count += 1);
                    let _ = self.start_locked(&c, false).await;
                }
            } else if rec.state.status == "exited"
                && !rec.manually_stopped
                && rec
                    .host_config
                    .restart_policy
                    .as_ref()
                    .and_then(|p| p.name)
                    .is_some_and(|n| {
                        matches!(
                            n,
                            RestartPolicyNameEnum::ALWAYS | RestartPolicyNameEnum::UNLESS_STOPPED
                        )
                    })
                && rec.has_been_started
            {
                // `always` and `unless-stopped` containers come back with the daemon.
                let _op = c.op.lock().await;
                let _ = self.start_locked(&c, false).await;
            }
        }
        Ok(())
    }
}

/// `10m`, `1g`, `512k`, `100` (bytes) as Docker's log options and sizes are written.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let t = lower.trim_end_matches('b').trim_end_matches('i');
    let (num, mult) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1u64 << 10),
        'm' => (&t[..t.len() - 1], 1 << 20),
        'g' => (&t[..t.len() - 1], 1 << 30),
        't' => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num.trim().parse().ok()?;
    (n >= 0.0).then_some((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10m"), Some(10 << 20));
        assert_eq!(parse_size("1k"), Some(1024));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("1.5g"), Some(3 << 29));
        assert_eq!(parse_size("x"), None);
    }
}
