//! The engine's side (tokio): launch a shim, then talk to it over its control socket.
//!
//! [`launch`] spawns `berth-shim` and returns once its report line was read (the shim
//! has detached by then, so dropping anything here never touches the container).
//! [`ShimClient`] opens one connection per request (through the state directory's
//! descriptor when the socket's path is too long for `sun_path`); `attach` and a
//! non-detached `exec` return the connection itself, which then carries the stream (see
//! [`crate::protocol`]).

use crate::protocol::{
    read_exit_file, AttachRequest, Empty, ExecExit, ExecRequest, ExecStarted, ExitInfo, Ready,
    Request, ResizeRequest, State, SHIM_SOCK,
};
use serde::de::DeserializeOwned;
use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// Longest reply line accepted.
const MAX_LINE: usize = 1 << 20;
/// Socket paths this long or longer are reached through their directory's descriptor
/// (`sun_path` is 108 bytes with its NUL; a margin is kept).
const SUN_PATH_MAX: usize = 100;

/// What can go wrong talking to a shim.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The shim ran and refused (launch) or the op failed; its message.
    #[error("{0}")]
    Shim(String),
    /// Running the shim or using its socket failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The shim answered something that is not the protocol.
    #[error("unexpected answer from the shim: {0}")]
    Protocol(String),
}

/// The result type of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// `berth-shim`'s command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaunchOptions {
    /// Container ID (the runtime's).
    pub id: String,
    /// The OCI bundle directory.
    pub bundle: PathBuf,
    /// The shim's state directory (`shim.sock`, `shim.pid`, `exit.json`).
    pub state_dir: PathBuf,
    /// The `berth-runtime` binary.
    pub runtime: PathBuf,
    /// `berth-runtime --root`.
    pub runtime_root: PathBuf,
    /// The json-file log.
    pub log_path: PathBuf,
    /// Rotate at this size; `None` never.
    pub log_max_size: Option<u64>,
    /// Files kept when rotating (current included); `None` is 1.
    pub log_max_file: Option<u32>,
    /// The process has a terminal (must match `process.terminal` in the bundle).
    pub tty: bool,
    /// Keep a stdin pipe open (`docker run -i`).
    pub stdin: bool,
    /// Close stdin when the first attacher hangs up (`docker run -i` without `-d`).
    pub stdin_once: bool,
    /// Create only; start on [`ShimClient::start`] (attach first, then start, as
    /// `docker run` does).
    pub wait_start: bool,
}

impl LaunchOptions {
    /// The arguments for `berth-shim`.
    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        let mut pair = |flag: &str, v: OsString| {
            a.push(flag.into());
            a.push(v);
        };
        pair("--id", self.id.clone().into());
        pair("--bundle", self.bundle.clone().into());
        pair("--state-dir", self.state_dir.clone().into());
        pair("--runtime", self.runtime.clone().into());
        pair("--runtime-root", self.runtime_root.clone().into());
        pair("--log-path", self.log_path.clone().into());
        if let Some(n) = self.log_max_size {
            pair("--log-max-size", n.to_string().into());
        }
        if let Some(n) = self.log_max_file {
            pair("--log-max-file", n.to_string().into());
        }
        for (on, flag) in [
            (self.tty, "--tty"),
            (self.stdin, "--stdin"),
            (self.stdin_once, "--stdin-once"),
            (self.wait_start, "--wait-start"),
        ] {
            if on {
                a.push(flag.into());
            }
        }
        a
    }
}

/// A launched shim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launched {
    /// The container's init (host PID).
    pub pid: i32,
    /// The shim daemon.
    pub shim_pid: i32,
}

/// Runs `shim` (the `berth-shim` binary) with `opts`; returns once the container was
/// created (and started unless `wait_start`), or the shim's error.
pub async fn launch(shim: &Path, opts: &LaunchOptions) -> Result<Launched> {
    let io = |context: String| move |source| Error::Io { context, source };
    let mut child = tokio::process::Command::new(shim)
        .args(opts.args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(io(format!("cannot run {}", shim.display())))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out)
            .take(MAX_LINE as u64)
            .read_line(&mut line)
            .await
            .map_err(io(format!("reading the report of {}", shim.display())))?;
    }
    // The launcher's child exits as soon as the daemon is detached.
    let status = child
        .wait()
        .await
        .map_err(io(format!("waiting for {}", shim.display())))?;
    if line.trim().is_empty() {
        return Err(Error::Protocol(format!(
            "{} exited ({status}) without a report",
            shim.display()
        )));
    }
    match serde_json::from_str::<Ready>(line.trim()) {
        Ok(Ready::Ok { pid, shim_pid }) => Ok(Launched { pid, shim_pid }),
        Ok(Ready::Err { error }) => Err(Error::Shim(error)),
        Err(e) => Err(Error::Protocol(format!("{e}: {line:?}"))),
    }
}

/// Talks to the shim whose state directory is `state_dir` (its `shim.sock`).
#[derive(Debug, Clone)]
pub struct ShimClient {
    state_dir: PathBuf,
    socket: PathBuf,
}

impl ShimClient {
    /// The shim of `state_dir` (its `shim.sock`).
    pub fn new(state_dir: &Path) -> ShimClient {
        ShimClient {
            state_dir: state_dir.to_path_buf(),
            socket: state_dir.join(SHIM_SOCK),
        }
    }

    /// The control socket's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// A connection to the control socket (it is accepted once the shim is up, so this
    /// also tells whether the shim is alive). `sun_path` holds 108 bytes, and state
    /// directories under long data roots exceed it, so a long path is reached through
    /// the directory's descriptor (`/proc/self/fd/N/shim.sock`).
    pub async fn connect(&self) -> std::io::Result<UnixStream> {
        if self.socket.as_os_str().as_bytes().len() < SUN_PATH_MAX {
            return UnixStream::connect(&self.socket).await;
        }
        let dir = rustix::fs::open(
            &self.state_dir,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        let short = format!("/proc/self/fd/{}/{SHIM_SOCK}", dir.as_raw_fd());
        let conn = UnixStream::connect(short).await;
        drop(dir);
        conn
    }

    /// Sends `req`, returns the connection and the decoded reply.
    async fn request<T: DeserializeOwned>(&self, req: &Request) -> Result<(UnixStream, T)> {
        let io = |what: &str| {
            let context = format!("{what} {}", self.socket.display());
            move |source| Error::Io { context, source }
        };
        let mut conn = self
            .connect()
            .await
            .map_err(io("cannot connect to shim socket"))?;
        let mut line = serde_json::to_vec(req).map_err(|e| Error::Protocol(e.to_string()))?;
        line.push(b'\n');
        conn.write_all(&line)
            .await
            .map_err(io("cannot send to shim socket"))?;
        // Byte by byte: what follows the reply line belongs to the stream.
        let mut reply = Vec::new();
        loop {
            let b = conn
                .read_u8()
                .await
                .map_err(io("no reply on shim socket"))?;
            if b == b'\n' {
                break;
            }
            if reply.len() >= MAX_LINE {
                return Err(Error::Protocol("reply line too long".into()));
            }
            reply.push(b);
        }
        let value: serde_json::Value = serde_json::from_slice(&reply)
            .map_err(|e| Error::Protocol(format!("{e}: {}", String::from_utf8_lossy(&reply))))?;
        if let Some(err) = value.get("error").and_then(|e| e.as_str()) {
            return Err(Error::Shim(err.to_string()));
        }
        let t = serde_json::from_value(value).map_err(|e| Error::Protocol(e.to_string()))?;
        Ok((conn, t))
    }

    /// Attaches; the returned connection is the container's stream.
    pub async fn attach(&self, req: AttachRequest) -> Result<UnixStream> {
        let (conn, Empty {}) = self.request(&Request::Attach(req)).await?;
        Ok(conn)
    }

    /// Starts a shim launched with `wait_start`.
    pub async fn start(&self) -> Result<()> {
        self.request::<Empty>(&Request::Start).await.map(drop)
    }

    /// Waits for the container's exit (and its deletion). A shim that already left (or
    /// leaves while this connects) is answered from its `exit.json`, written before it
    /// removes its socket.
    pub async fn wait(&self) -> Result<ExitInfo> {
        match self.request(&Request::Wait).await {
            Ok((_, info)) => Ok(info),
            // Gone, or leaving while we connected (the connection is reset).
            Err(Error::Io { context, source }) => match read_exit_file(&self.state_dir) {
                Ok(Some(info)) => Ok(info),
                _ => Err(Error::Io { context, source }),
            },
            Err(e) => Err(e),
        }
    }

    /// Resizes the container's pty, or an exec's.
    pub async fn resize(&self, height: u16, width: u16, exec_id: Option<&str>) -> Result<()> {
        let req = Request::Resize(ResizeRequest {
            height,
            width,
            exec_id: exec_id.map(String::from),
        });
        self.request::<Empty>(&req).await.map(drop)
    }

    /// Runs a process in the container; the stream unless `req.detach`.
    pub async fn exec(&self, req: ExecRequest) -> Result<(ExecStarted, Option<UnixStream>)> {
        let detach = req.detach;
        let (conn, started) = self.request(&Request::Exec(req)).await?;
        Ok((started, (!detach).then_some(conn)))
    }

    /// Waits for an exec's end.
    pub async fn exec_wait(&self, exec_id: &str) -> Result<ExecExit> {
        let req = Request::ExecWait {
            exec_id: exec_id.into(),
        };
        Ok(self.request(&req).await?.1)
    }

    /// Signals the container's init (or, with `all`, every process of it).
    pub async fn kill(&self, signal: i32, all: bool) -> Result<()> {
        self.request::<Empty>(&Request::Kill { signal, all })
            .await
            .map(drop)
    }

    /// The container's state.
    pub async fn state(&self) -> Result<State> {
        Ok(self.request(&Request::State).await?.1)
    }
}
