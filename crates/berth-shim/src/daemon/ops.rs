//! Requests on the control socket: what each op does and replies.

use super::conn::{Detach, Role};
use super::fdio;
use super::procio::ProcIo;
use super::runtime::{read_pid, Stdio3};
use super::server::{Exec, Shim};
use berth_shim::protocol::{
    parse_detach_keys, valid_exec_id, Empty, ExecRequest, ExecStarted, Request, ResizeRequest,
    State,
};
use std::os::unix::net::UnixListener;

impl Shim {
    fn running(&self) -> bool {
        self.started && self.reaped.is_none()
    }

    /// Handles the request of connection `i`.
    pub(super) fn handle(&mut self, i: usize, req: Request) {
        match req {
            Request::Attach(a) => {
                if self.reaped.is_some() {
                    return self.conns[i].fail("the container has exited");
                }
                let detach = match (self.args.tty && a.stdin, a.detach_keys.as_deref()) {
                    (false, _) => None,
                    (true, keys) => match parse_detach_keys(keys.unwrap_or("")) {
                        Ok(k) => Some(Detach::new(k)),
                        Err(e) => return self.conns[i].fail(e),
                    },
                };
                let stdin = a.stdin && self.args.stdin;
                let c = &mut self.conns[i];
                c.role = Role::Attach {
                    stdin,
                    stdout: a.stdout,
                    stderr: a.stderr,
                    detach,
                };
                c.reply(&Empty {});
                self.leftover_input(i);
            }
            Request::Start => {
                if self.started {
                    return self.conns[i].fail("the container was already started");
                }
                if self.reaped.is_some() {
                    return self.conns[i].fail("the container has exited");
                }
                match self.rt.start() {
                    Ok(()) => {
                        self.started = true;
                        self.conns[i].reply(&Empty {});
                        self.conns[i].finish();
                    }
                    Err(e) => self.conns[i].fail(e),
                }
            }
            Request::Wait => match &self.exit {
                Some(info) => {
                    let info = info.clone();
                    self.conns[i].reply(&info);
                    self.conns[i].finish();
                }
                None => self.conns[i].role = Role::Wait,
            },
            Request::Resize(r) => {
                let res = self.resize(&r);
                match res {
                    Ok(()) => {
                        self.conns[i].reply(&Empty {});
                        self.conns[i].finish();
                    }
                    Err(e) => self.conns[i].fail(e),
                }
            }
            Request::Exec(e) => match self.exec(i, e) {
                Ok(()) => {}
                Err(msg) => self.conns[i].fail(msg),
            },
            Request::ExecWait { exec_id } => {
                if let Some((_, x)) = self.finished.iter().rev().find(|(id, _)| *id == exec_id) {
                    let x = x.clone();
                    self.conns[i].reply(&x);
                    self.conns[i].finish();
                } else if let Some(e) = self.execs.iter().find(|e| e.id == exec_id) {
                    match e.status {
                        Some(code) => {
                            let x = berth_shim::protocol::ExecExit {
                                exit_code: code,
                                pid: e.pid,
                                running: false,
                            };
                            self.conns[i].reply(&x);
                            self.conns[i].finish();
                        }
                        None => self.conns[i].role = Role::ExecWait(exec_id),
                    }
                } else {
                    self.conns[i].fail(format!("no such exec: {exec_id}"));
                }
            }
            Request::Kill { signal, all } => {
                if self.reaped.is_some() {
                    return self.conns[i].fail("the container has exited");
                }
                match self.rt.kill(signal, all) {
                    Ok(()) => {
                        self.conns[i].reply(&Empty {});
                        self.conns[i].finish();
                    }
                    Err(e) => self.conns[i].fail(e),
                }
            }
            Request::State => {
                let st = State {
                    pid: self.init_pid,
                    started: self.started,
                    running: self.running(),
                    exit: self.exit.clone(),
                };
                self.conns[i].reply(&st);
                self.conns[i].finish();
            }
        }
    }

    /// Input that arrived in the same read as the request line.
    fn leftover_input(&mut self, i: usize) {
        let rest = std::mem::take(&mut self.conns[i].inbuf);
        if !rest.is_empty() {
            self.stream_input(i, &rest);
        }
    }

    fn resize(&mut self, r: &ResizeRequest) -> Result<(), String> {
        let pty = match &r.exec_id {
            None => self.io.pty.as_ref(),
            Some(id) => self
                .execs
                .iter()
                .find(|e| e.id == *id)
                .ok_or_else(|| format!("no running exec {id}"))?
                .io
                .pty
                .as_ref(),
        };
        let pty = pty.ok_or("no terminal to resize (the process has no TTY)")?;
        fdio::resize(pty, r.height, r.width).map_err(|e| format!("cannot resize: {e}"))
    }

    /// `berth-runtime exec -d`, holding the process's stdio or pty.
    fn exec(&mut self, i: usize, req: ExecRequest) -> Result<(), String> {
        let id = req.exec_id.clone();
        if !valid_exec_id(&id) {
            return Err(format!(
                "invalid exec ID {id:?}: use 1-128 characters of [A-Za-z0-9_.-]"
            ));
        }
        if !self.running() {
            return Err("the container is not running".into());
        }
        if self.execs.iter().any(|e| e.id == id) {
            return Err(format!("exec {id} is already running"));
        }
        let mut process = req.process;
        let Some(obj) = process.as_object_mut() else {
            return Err("exec process must be a JSON object (an OCI process)".into());
        };
        obj.insert("terminal".into(), serde_json::Value::Bool(req.tty));
        let detach = if req.tty && req.stdin && !req.detach {
            Some(Detach::new(parse_detach_keys(
                req.detach_keys.as_deref().unwrap_or(""),
            )?))
        } else {
            None
        };

        let spec = format!("exec-{id}.json");
        let pid_file = format!("exec-{id}.pid");
        let sock = format!("exec-{id}.sock");
        let cleanup = || {
            for f in [&spec, &pid_file, &sock] {
                let _ = std::fs::remove_file(f);
            }
        };
        let bytes = serde_json::to_vec(&process).map_err(|e| e.to_string())?;
        std::fs::write(&spec, bytes).map_err(|e| format!("cannot write {spec}: {e}"))?;
        let res = self.exec_spawn(
            &req.exec_id,
            req.tty,
            req.stdin,
            req.detach,
            &spec,
            &pid_file,
            &sock,
        );
        cleanup();
        let (pid, io) = res?;
        let status = self
            .unclaimed
            .iter()
            .position(|(p, _)| *p == pid)
            .and_then(|at| self.unclaimed.remove(at))
            .map(|(_, code)| code);
        let c = &mut self.conns[i];
        c.reply(&ExecStarted { pid });
        let stream = if req.detach {
            c.finish();
            None
        } else {
            c.role = Role::ExecStream {
                exec_id: id.clone(),
                stdin: req.stdin,
                detach,
            };
            Some(c.id)
        };
        self.execs.push(Exec {
            id,
            pid,
            io,
            tty: req.tty,
            status,
            stream,
        });
        if !req.detach {
            self.leftover_input(i);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn exec_spawn(
        &mut self,
        id: &str,
        tty: bool,
        stdin: bool,
        detach: bool,
        spec: &str,
        pid_file: &str,
        sock: &str,
    ) -> Result<(i32, ProcIo), String> {
        let sys = |what: &str, e: std::io::Error| format!("exec {id}: cannot {what}: {e}");
        let mut io = ProcIo::default();
        let mut console = None;
        let stdio = if tty {
            let _ = std::fs::remove_file(sock);
            console = Some(UnixListener::bind(sock).map_err(|e| sys("bind console socket", e))?);
            Stdio3::quiet().map_err(|e| sys("make a pipe", e))?
        } else if detach {
            Stdio3::quiet().map_err(|e| sys("make a pipe", e))?
        } else {
            Stdio3::pipes(stdin, &mut io).map_err(|(what, e)| sys(what, e))?
        };
        self.rt
            .exec(spec, pid_file, console.as_ref().map(|_| sock), stdio)?;
        let pid = read_pid(pid_file)?;
        if let Some(l) = console {
            io.pty = Some(fdio::recv_pty(&l).map_err(|e| sys("receive the pty", e))?);
        }
        Ok((pid, io))
    }
}
