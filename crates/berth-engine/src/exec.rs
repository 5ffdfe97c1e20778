//! `docker exec`: exec records, the OCI process built from the container's own, and the
//! shim running it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_model::docker::{self, ExecInspectResponse, ProcessConfig};
use berth_model::{Error, Hijack};
use berth_shim::client::ShimClient;
use berth_shim::protocol::ExecRequest;

use crate::{shim, util, Engine};

/// An exec as `docker exec inspect` shows it.
#[derive(Debug)]
pub struct ExecRecord {
    /// Exec ID.
    pub id: String,
    /// Container ID.
    pub container: String,
    /// What was asked.
    pub config: docker::ExecConfig,
    state: Mutex<ExecState>,
}

#[derive(Debug, Default, Clone)]
struct ExecState {
    started: bool,
    running: bool,
    exit_code: Option<i64>,
    pid: i64,
}

/// The name the shim knows an exec by: its files (`exec-<name>.sock` among them) live in
/// the container's run directory, and a unix socket path must fit in 108 bytes, so the
/// 64-digit ID is cut to 12 (as Docker's short IDs are).
fn shim_exec_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

impl Engine {
    fn exec_record(&self, id: &str) -> Result<Arc<ExecRecord>, Error> {
        self.execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("No such exec instance: {id}")))
    }

    pub(crate) async fn exec_create(
        &self,
        reference: &str,
        config: docker::ExecConfig,
    ) -> Result<docker::IdResponse, Error> {
        let c = self.container(reference)?;
        let rec = c.snapshot();
        match rec.state.status.as_str() {
            "running" => {}
            "paused" => {
                return Err(Error::conflict(format!(
                    "Container {} is paused, unpause the container before exec",
                    rec.id
                )))
            }
            "restarting" => {
                return Err(Error::conflict(format!(
                    "Container {} is restarting, wait until the container is running",
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
        if config.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            return Err(Error::invalid("No exec command specified"));
        }
        let id = util::new_id()?;
        let record = Arc::new(ExecRecord {
            id: id.clone(),
            container: rec.id.clone(),
            config,
            state: Mutex::new(ExecState::default()),
        });
        self.execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), record);
        c.update(|r| {
            r.exec_ids.push(id.clone());
            if r.exec_ids.len() > 64 {
                r.exec_ids.remove(0);
            }
        })?;
        let cmd = self
            .exec_record(&id)?
            .config
            .cmd
            .clone()
            .unwrap_or_default()
            .join(" ");
        self.container_event(
            &rec,
            &format!("exec_create: {cmd}"),
            &[("execID", id.clone())],
        );
        Ok(docker::IdResponse { id })
    }

    pub(crate) async fn exec_start(
        &self,
        exec_id: &str,
        start: docker::ExecStartConfig,
    ) -> Result<Option<Hijack>, Error> {
        let e = self.exec_record(exec_id)?;
        {
            let mut st = e.state.lock().unwrap_or_else(|p| p.into_inner());
            if st.started {
                return Err(Error::conflict(format!(
                    "Error: Exec command {exec_id} has already run"
                )));
            }
            st.started = true;
            st.running = true;
        }
        let c = self.container(&e.container)?;
        let rec = c.snapshot();
        if !rec.state.is_running() {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        let tty = start.tty.or(e.config.tty).unwrap_or(false);
        let detach = start.detach.unwrap_or(false);
        let stdin = e.config.attach_stdin.unwrap_or(false) && !detach;
        let process = crate::spec::exec_process(self, &rec, &e.config, tty).await?;
        let run = self.run_dir(&rec.id);
        let req = ExecRequest {
            exec_id: shim_exec_id(exec_id).to_string(),
            process,
            tty,
            stdin,
            detach,
            detach_keys: e.config.detach_keys.clone(),
        };
        // The stream is there unless `detach`.
        let (started, conn) = match ShimClient::new(&run).exec(req).await {
            Ok(v) => v,
            Err(err) => {
                let mut st = e.state.lock().unwrap_or_else(|p| p.into_inner());
                st.running = false;
                st.exit_code = Some(126);
                return Err(shim::err(err));
            }
        };
        e.state.lock().unwrap_or_else(|p| p.into_inner()).pid = i64::from(started.pid);
        let cmd = e.config.cmd.clone().unwrap_or_default().join(" ");
        self.container_event(
            &rec,
            &format!("exec_start: {cmd}"),
            &[("execID", exec_id.to_string())],
        );
        // Record the exit as soon as it happens, whoever asks.
        {
            let e = e.clone();
            let run = run.clone();
            let me = self.arc();
            let rec = rec.clone();
            tokio::spawn(async move {
                let client = ShimClient::new(&run);
                let code = match client.exec_wait(shim_exec_id(&e.id)).await {
                    Ok(x) => i64::from(x.exit_code),
                    Err(_) => 126,
                };
                {
                    let mut st = e.state.lock().unwrap_or_else(|p| p.into_inner());
                    st.running = false;
                    st.exit_code = Some(code);
                }
                if let Some(me) = me {
                    me.container_event(
                        &rec,
                        "exec_die",
                        &[("execID", e.id.clone()), ("exitCode", code.to_string())],
                    );
                }
            });
        }
        Ok(conn.map(|conn| Hijack {
            tty,
            io: Box::new(conn),
        }))
    }

    pub(crate) async fn exec_resize(
        &self,
        exec_id: &str,
        height: u16,
        width: u16,
    ) -> Result<(), Error> {
        let e = self.exec_record(exec_id)?;
        ShimClient::new(&self.run_dir(&e.container))
            .resize(height, width, Some(shim_exec_id(exec_id)))
            .await
            .map_err(shim::err)
    }

    pub(crate) async fn exec_inspect(&self, exec_id: &str) -> Result<ExecInspectResponse, Error> {
        let e = self.exec_record(exec_id)?;
        let st = e.state.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let st = if st.running {
            // The stream of a finished exec closes only after the shim recorded its exit,
            // so a client inspecting right after its stream ended gets the code at once.
            let client = ShimClient::new(&self.run_dir(&e.container));
            match tokio::time::timeout(
                Duration::from_millis(200),
                client.exec_wait(shim_exec_id(&e.id)),
            )
            .await
            {
                Ok(Ok(x)) => {
                    let mut s = e.state.lock().unwrap_or_else(|p| p.into_inner());
                    s.running = false;
                    s.exit_code = Some(i64::from(x.exit_code));
                    s.clone()
                }
                _ => st,
            }
        } else {
            st
        };
        let cmd = e.config.cmd.clone().unwrap_or_default();
        Ok(ExecInspectResponse {
            can_remove: Some(false),
            detach_keys: Some(e.config.detach_keys.clone().unwrap_or_default()),
            id: Some(e.id.clone()),
            running: Some(st.running),
            exit_code: st.exit_code,
            process_config: Some(ProcessConfig {
                privileged: e.config.privileged,
                user: e.config.user.clone(),
                tty: e.config.tty,
                entrypoint: cmd.first().cloned(),
                arguments: Some(cmd.iter().skip(1).cloned().collect()),
            }),
            open_stdin: e.config.attach_stdin,
            open_stderr: e.config.attach_stderr,
            open_stdout: e.config.attach_stdout,
            container_id: Some(e.container.clone()),
            pid: Some(st.pid),
        })
    }
}

impl Engine {
    /// Runs a command in a container to completion (health checks): exit code and the
    /// first 4 KiB of its output.
    pub(crate) async fn run_probe(
        &self,
        id: &str,
        config: docker::ExecConfig,
    ) -> Result<(i64, String), Error> {
        use tokio::io::AsyncReadExt;
        let exec = self.exec_create(id, config).await?.id;
        let start = docker::ExecStartConfig {
            detach: Some(false),
            tty: Some(false),
            console_size: None,
        };
        let mut output = Vec::new();
        if let Some(mut h) = self.exec_start(&exec, start).await? {
            let mut raw = Vec::new();
            let _ = h.io.read_to_end(&mut raw).await;
            let mut at = 0;
            while at + 8 <= raw.len() {
                let len = u32::from_be_bytes([raw[at + 4], raw[at + 5], raw[at + 6], raw[at + 7]])
                    as usize;
                let end = (at + 8 + len).min(raw.len());
                output.extend_from_slice(&raw[at + 8..end]);
                at = end;
            }
        }
        let mut code = -1;
        for _ in 0..50 {
            let i = self.exec_inspect(&exec).await?;
            if i.running != Some(true) {
                code = i.exit_code.unwrap_or(-1);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.execs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&exec);
        output.truncate(4096);
        Ok((code, String::from_utf8_lossy(&output).into_owned()))
    }
}
