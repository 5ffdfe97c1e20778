//! The shim's event loop: one `poll` over the signalfd, the control socket, the
//! container's and execs' stdio and the client connections.
//!
//! Phases: running → the init was reaped (OOM checked, `berth-runtime delete --force` run,
//! output drained until EOF or [`LINGER`]) → finalized (`exit.json` written, waiters
//! answered, streams closed, control socket removed) → exit once every reply was sent or
//! after another [`LINGER`].

use super::conn::{Conn, Role, HIGH_WATER, MAX_REQUEST};
use super::fdio::{self, Read};
use super::logfile::{rfc3339_nano, JsonLog, Stream};
use super::procio::{ProcIo, Src};
use super::runtime::Runtime;
use super::Args;
use berth_shim::protocol::{self, ExecExit, ExitInfo};
use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, WaitOptions};
use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant, SystemTime};

/// How long output may still come after the init exited (and after finalizing, how long
/// replies may take to be sent).
pub const LINGER: Duration = Duration::from_secs(2);
/// Finished execs remembered for `exec_wait` (health checks run execs forever).
const KEEP_FINISHED: usize = 64;
/// Exit statuses of processes reaped before anyone claimed them (an exec that ended
/// before its PID file was read).
const KEEP_UNCLAIMED: usize = 64;

/// An exec's process.
pub struct Exec {
    /// The caller's name.
    pub id: String,
    /// Host PID.
    pub pid: i32,
    /// Its stdio.
    pub io: ProcIo,
    /// With a pty: output is sent raw.
    pub tty: bool,
    /// Exit code once reaped.
    pub status: Option<i32>,
    /// The connection carrying its stream.
    pub stream: Option<u64>,
}

/// Who owns a descriptor in the poll set.
#[derive(Debug, Clone, Copy)]
enum Tok {
    Signal,
    Listener,
    Init(Src),
    Exec(usize, Src),
    Conn(usize),
}

/// Everything the shim holds.
pub struct Shim {
    pub(super) args: Args,
    pub(super) rt: Runtime,
    pub(super) sig: OwnedFd,
    pub(super) listener: Option<UnixListener>,
    /// The container's init.
    pub(super) init_pid: i32,
    pub(super) started: bool,
    pub(super) io: ProcIo,
    pub(super) log: JsonLog,
    pub(super) cgroup: Option<berth_cgroups::Cgroup>,
    pub(super) conns: Vec<Conn>,
    pub(super) execs: Vec<Exec>,
    pub(super) finished: VecDeque<(String, ExecExit)>,
    pub(super) unclaimed: VecDeque<(i32, i32)>,
    /// Reaped: (exit code, OOM killed, when).
    pub(super) reaped: Option<(i32, bool, SystemTime)>,
    /// Finalized.
    pub(super) exit: Option<ExitInfo>,
    pub(super) stdin_once_used: bool,
    pub(super) deadline: Option<Instant>,
    pub(super) next_conn: u64,
    pub(super) buf: Vec<u8>,
}

/// Adds a process's descriptors to the poll set: outputs unless `paused`, the input side
/// when input is waiting.
fn push_io<'a>(
    fds: &mut Vec<PollFd<'a>>,
    toks: &mut Vec<Tok>,
    io: &'a ProcIo,
    paused: bool,
    tok: impl Fn(Src) -> Tok,
) {
    let out = if paused {
        PollFlags::empty()
    } else {
        PollFlags::IN
    };
    let want_out = if io.input.is_empty() {
        PollFlags::empty()
    } else {
        PollFlags::OUT
    };
    let mut add = |fd: &'a OwnedFd, ev: PollFlags, src: Src| {
        fds.push(PollFd::new(fd, ev));
        toks.push(tok(src));
    };
    if let Some(fd) = &io.pty {
        add(fd, out | want_out, Src::Pty);
    }
    if let Some(fd) = &io.stdout {
        add(fd, out, Src::Stdout);
    }
    if let Some(fd) = &io.stderr {
        add(fd, out, Src::Stderr);
    }
    if let (Some(fd), false) = (&io.stdin, want_out.is_empty()) {
        add(fd, want_out, Src::Stdin);
    }
}

/// Exit code of a wait status, 128 + signal when signalled (Docker's convention).
pub fn exit_code(status: rustix::process::WaitStatus) -> i32 {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => 255,
    }
}

impl Shim {
    /// Runs until the container is gone and its clients are answered.
    pub fn run(mut self) -> i32 {
        loop {
            if self.exit.is_some()
                && (self.conns.is_empty() || self.deadline.is_some_and(|d| Instant::now() >= d))
            {
                break;
            }
            let ready = match self.poll() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("berth-shim: poll: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            for (tok, flags) in ready {
                self.dispatch(tok, flags);
            }
            self.progress();
        }
        let _ = std::fs::remove_file(protocol::SHIM_PID);
        0
    }

    fn init_paused(&self) -> bool {
        self.conns.iter().any(|c| {
            matches!(
                c.role,
                Role::Attach { stdout: true, .. } | Role::Attach { stderr: true, .. }
            ) && c.pending() > HIGH_WATER
        })
    }

    fn exec_paused(&self, e: &Exec) -> bool {
        e.stream
            .and_then(|id| self.conns.iter().find(|c| c.id == id))
            .is_some_and(|c| c.pending() > HIGH_WATER)
    }

    fn poll(&mut self) -> std::io::Result<Vec<(Tok, PollFlags)>> {
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(8 + self.conns.len());
        let mut toks: Vec<Tok> = Vec::with_capacity(fds.capacity());
        fds.push(PollFd::new(&self.sig, PollFlags::IN));
        toks.push(Tok::Signal);
        push_io(&mut fds, &mut toks, &self.io, self.init_paused(), Tok::Init);
        for (i, e) in self.execs.iter().enumerate() {
            let paused = self.exec_paused(e);
            push_io(&mut fds, &mut toks, &e.io, paused, |src| Tok::Exec(i, src));
        }
        if let Some(l) = &self.listener {
            fds.push(PollFd::new(l, PollFlags::IN));
            toks.push(Tok::Listener);
        }
        for (i, c) in self.conns.iter().enumerate() {
            let mut ev = PollFlags::empty();
            if c.wants_read() && self.input_room(c) {
                ev |= PollFlags::IN;
            }
            if c.pending() > 0 {
                ev |= PollFlags::OUT;
            }
            fds.push(PollFd::new(&c.sock, ev));
            toks.push(Tok::Conn(i));
        }
        let timeout = self.deadline.map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            rustix::event::Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            }
        });
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(fds
            .iter()
            .zip(toks)
            .filter(|(f, _)| !f.revents().is_empty())
            .map(|(f, t)| (t, f.revents()))
            .collect())
    }

    /// Whether a connection's input has somewhere to go now (flow control for stdin).
    fn input_room(&self, c: &Conn) -> bool {
        match &c.role {
            Role::Attach { stdin: true, .. } => self.io.accepts_input() || self.io.close_input,
            Role::ExecStream {
                exec_id,
                stdin: true,
                ..
            } => self
                .execs
                .iter()
                .find(|e| &e.id == exec_id)
                .is_none_or(|e| e.io.accepts_input() || e.io.close_input),
            _ => true,
        }
    }

    fn dispatch(&mut self, tok: Tok, flags: PollFlags) {
        let readable = flags.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR);
        match tok {
            Tok::Signal => {
                let _ = berth_sys::signals::read_signal(std::os::fd::AsFd::as_fd(&self.sig));
                self.reap();
            }
            Tok::Listener => self.accept(),
            Tok::Init(Src::Stdin) => self.io.flush_input(),
            Tok::Exec(i, _) if i >= self.execs.len() => {}
            Tok::Exec(i, Src::Stdin) => self.execs[i].io.flush_input(),
            Tok::Init(src) => {
                if flags.contains(PollFlags::OUT) {
                    self.io.flush_input();
                }
                if readable {
                    self.init_output(src);
                }
            }
            Tok::Exec(i, src) => {
                if flags.contains(PollFlags::OUT) {
                    self.execs[i].io.flush_input();
                }
                if readable {
                    self.exec_output(i, src);
                }
            }
            Tok::Conn(i) if i >= self.conns.len() => {}
            Tok::Conn(i) => {
                if flags.contains(PollFlags::OUT) {
                    self.conns[i].flush();
                }
                if flags.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR)
                    && self.conns[i].wants_read()
                {
                    self.conn_input(i);
                }
                if flags.intersects(PollFlags::HUP | PollFlags::ERR) {
                    if !self.conns[i].read_eof {
                        self.conn_eof(i);
                    }
                    self.conns[i].dead = true;
                }
            }
        }
    }

    fn accept(&mut self) {
        let Some(l) = &self.listener else { return };
        loop {
            match l.accept() {
                Ok((sock, _)) => {
                    if sock.set_nonblocking(true).is_err() {
                        continue;
                    }
                    self.next_conn += 1;
                    self.conns.push(Conn::new(self.next_conn, sock));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    eprintln!("berth-shim: accept: {e}");
                    break;
                }
            }
        }
    }

    /// Reaps every child that ended.
    fn reap(&mut self) {
        loop {
            match rustix::process::wait(WaitOptions::NOHANG) {
                Ok(Some((pid, status))) => self.reaped_pid(pid, exit_code(status)),
                Ok(None) | Err(rustix::io::Errno::CHILD) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => {
                    eprintln!("berth-shim: wait: {e}");
                    break;
                }
            }
        }
    }

    fn reaped_pid(&mut self, pid: Pid, code: i32) {
        let pid = pid.as_raw_nonzero().get();
        if pid == self.init_pid && self.reaped.is_none() {
            self.init_exited(code);
        } else if let Some(e) = self.execs.iter_mut().find(|e| e.pid == pid) {
            e.status = Some(code);
            let reply = ExecExit {
                exit_code: code,
                pid,
                running: false,
            };
            let id = e.id.clone();
            for c in &mut self.conns {
                if matches!(&c.role, Role::ExecWait(w) if *w == id) {
                    c.reply(&reply);
                    c.finish();
                }
            }
        } else {
            if self.unclaimed.len() >= KEEP_UNCLAIMED {
                self.unclaimed.pop_front();
            }
            self.unclaimed.push_back((pid, code));
        }
    }

    fn init_exited(&mut self, code: i32) {
        let when = SystemTime::now();
        // Before `delete`, which removes the cgroup and its counters.
        let oom = self
            .cgroup
            .as_ref()
            .map(|c| c.oom_killed().unwrap_or(false))
            .unwrap_or(false);
        self.reaped = Some((code, oom, when));
        if let Err(e) = self.rt.delete() {
            eprintln!("berth-shim: delete {}: {e}", self.rt.id);
        }
        self.deadline = Some(Instant::now() + LINGER);
    }

    fn frame(tty: bool, stream: Stream, data: &[u8], out: &mut Vec<u8>) {
        out.clear();
        if !tty {
            let n = data.len() as u32;
            out.extend_from_slice(&[stream as u8 + 1, 0, 0, 0]);
            out.extend_from_slice(&n.to_be_bytes());
        }
        out.extend_from_slice(data);
    }

    fn init_output(&mut self, src: Src) {
        let Some(fd) = self.io.fd(src) else { return };
        let stream = if src == Src::Stderr {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        let mut buf = std::mem::take(&mut self.buf);
        match fdio::read(fd, &mut buf) {
            Ok(Read::Data(n)) => {
                let now = SystemTime::now();
                self.log.write(stream, &buf[..n], now);
                let mut framed = Vec::new();
                for c in &mut self.conns {
                    let wanted = match c.role {
                        Role::Attach { stdout, stderr, .. } => match stream {
                            Stream::Stdout => stdout,
                            Stream::Stderr => stderr,
                        },
                        _ => false,
                    };
                    if wanted && !c.closing {
                        if framed.is_empty() {
                            Self::frame(self.args.tty, stream, &buf[..n], &mut framed);
                        }
                        c.send(&framed);
                    }
                }
            }
            Ok(Read::Again) => {}
            Ok(Read::Eof) | Err(_) => {
                self.log.finish(stream, SystemTime::now());
                self.io.close(src);
            }
        }
        self.buf = buf;
    }

    fn exec_output(&mut self, i: usize, src: Src) {
        let e = &mut self.execs[i];
        let Some(fd) = e.io.fd(src) else { return };
        let stream = if src == Src::Stderr {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        let mut buf = std::mem::take(&mut self.buf);
        match fdio::read(fd, &mut buf) {
            Ok(Read::Data(n)) => {
                if let Some(c) = e
                    .stream
                    .and_then(|id| self.conns.iter_mut().find(|c| c.id == id))
                {
                    let mut framed = Vec::new();
                    Self::frame(e.tty, stream, &buf[..n], &mut framed);
                    c.send(&framed);
                }
            }
            Ok(Read::Again) => {}
            Ok(Read::Eof) | Err(_) => e.io.close(src),
        }
        self.buf = buf;
    }

    fn conn_input(&mut self, i: usize) {
        let mut buf = std::mem::take(&mut self.buf);
        let res = fdio::read(&self.conns[i].sock, &mut buf);
        match res {
            Ok(Read::Data(n)) => {
                if matches!(self.conns[i].role, Role::Request) {
                    self.conns[i].inbuf.extend_from_slice(&buf[..n]);
                    self.buf = buf;
                    self.request_progress(i);
                    return;
                }
                self.stream_input(i, &buf[..n]);
            }
            Ok(Read::Again) => {}
            Ok(Read::Eof) | Err(_) => self.conn_eof(i),
        }
        self.buf = buf;
    }

    /// A request line is complete: handle it.
    fn request_progress(&mut self, i: usize) {
        let c = &mut self.conns[i];
        let Some(nl) = c.inbuf.iter().position(|&b| b == b'\n') else {
            if c.inbuf.len() > MAX_REQUEST {
                c.fail(format!("request longer than {MAX_REQUEST} bytes"));
            }
            return;
        };
        let rest = c.inbuf.split_off(nl + 1);
        let line = std::mem::replace(&mut c.inbuf, rest);
        match serde_json::from_slice::<protocol::Request>(&line) {
            Ok(req) => self.handle(i, req),
            Err(e) => self.conns[i].fail(format!("bad request: {e}")),
        }
    }

    /// Bytes a stream client wrote: to the process's stdin (through the detach matcher).
    pub(super) fn stream_input(&mut self, i: usize, data: &[u8]) {
        let c = &mut self.conns[i];
        let mut fwd = Vec::new();
        let (target, detached) = match &mut c.role {
            Role::Attach {
                stdin: true,
                detach,
                ..
            } => {
                let d = match detach {
                    Some(d) => d.feed(data, &mut fwd),
                    None => {
                        fwd.extend_from_slice(data);
                        false
                    }
                };
                (None, d)
            }
            Role::ExecStream {
                exec_id,
                stdin: true,
                detach,
            } => {
                let d = match detach {
                    Some(d) => d.feed(data, &mut fwd),
                    None => {
                        fwd.extend_from_slice(data);
                        false
                    }
                };
                (Some(exec_id.clone()), d)
            }
            _ => return,
        };
        if detached {
            // Docker ends only this stream; the process keeps its stdin.
            c.finish();
        }
        match target {
            None => self.io.push_input(&fwd),
            Some(id) => {
                if let Some(e) = self.execs.iter_mut().find(|e| e.id == id) {
                    e.io.push_input(&fwd);
                }
            }
        }
    }

    /// The client shut down its writing side.
    fn conn_eof(&mut self, i: usize) {
        let c = &mut self.conns[i];
        c.read_eof = true;
        match &c.role {
            Role::Request => c.dead = true,
            Role::Attach { stdin: true, .. }
                if !c.closing && self.args.stdin_once && !self.stdin_once_used =>
            {
                self.stdin_once_used = true;
                self.io.close_input = true;
                self.io.flush_input();
            }
            Role::ExecStream {
                exec_id,
                stdin: true,
                ..
            } if !c.closing => {
                if let Some(e) = self.execs.iter_mut().find(|e| &e.id == exec_id) {
                    e.io.close_input = true;
                    e.io.flush_input();
                }
            }
            _ => {}
        }
    }

    /// Work that is not driven by one descriptor: finished execs, the exit, dead clients.
    fn progress(&mut self) {
        let mut i = 0;
        while i < self.execs.len() {
            let e = &self.execs[i];
            let stream_gone = e
                .stream
                .is_none_or(|id| !self.conns.iter().any(|c| c.id == id && !c.dead));
            if e.status.is_some() && (e.io.output_done() || stream_gone) {
                let e = self.execs.remove(i);
                if let Some(c) = e
                    .stream
                    .and_then(|id| self.conns.iter_mut().find(|c| c.id == id))
                {
                    c.finish();
                }
                if self.finished.len() >= KEEP_FINISHED {
                    self.finished.pop_front();
                }
                self.finished.push_back((
                    e.id,
                    ExecExit {
                        exit_code: e.status.unwrap_or(255),
                        pid: e.pid,
                        running: false,
                    },
                ));
            } else {
                i += 1;
            }
        }
        if self.reaped.is_some() && self.exit.is_none() {
            let drained = self.io.output_done();
            if drained || self.deadline.is_some_and(|d| Instant::now() >= d) {
                self.finalize();
            }
        }
        self.conns.retain(|c| !c.done());
    }

    fn finalize(&mut self) {
        let (exit_code, oom_killed, when) = self.reaped.unwrap_or((255, false, SystemTime::now()));
        let now = SystemTime::now();
        self.log.finish(Stream::Stdout, now);
        self.log.finish(Stream::Stderr, now);
        self.io = ProcIo::default();
        let info = ExitInfo {
            exit_code,
            oom_killed,
            finished_at: rfc3339_nano(when),
        };
        let json = serde_json::to_vec(&info).unwrap_or_default();
        if let Err(e) = fdio::write_atomic(std::path::Path::new(protocol::EXIT_FILE), &json) {
            eprintln!("berth-shim: cannot write {}: {e}", protocol::EXIT_FILE);
        }
        // The control socket goes first, so nobody connects to a shim about to leave;
        // connections already queued are served.
        self.accept();
        self.listener = None;
        let _ = std::fs::remove_file(protocol::SHIM_SOCK);
        for c in &mut self.conns {
            match &c.role {
                Role::Wait => {
                    c.reply(&info);
                    c.finish();
                }
                Role::ExecWait(_) => c.fail("the container exited"),
                Role::Attach { .. } | Role::ExecStream { .. } => c.finish(),
                Role::Request | Role::Done => {}
            }
        }
        self.execs.clear();
        self.exit = Some(info);
        self.deadline = Some(Instant::now() + LINGER);
    }
}
