//! Talking to a container's `berth-shim`: launching it, and the JSON-line control protocol
//! of `berth_shim::protocol` over its unix socket.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use berth_model::Error;
use berth_shim::protocol::{self, ExitInfo, Ready, Request};
use serde::de::DeserializeOwned;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// What a shim is launched with.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Container ID.
    pub id: String,
    /// OCI bundle.
    pub bundle: PathBuf,
    /// Shim state directory (socket, pid, exit file).
    pub state_dir: PathBuf,
    /// `berth-runtime` binary.
    pub runtime: PathBuf,
    /// `berth-runtime --root`.
    pub runtime_root: PathBuf,
    /// json-file log path.
    pub log_path: PathBuf,
    /// Rotation size in bytes (0: never).
    pub log_max_size: u64,
    /// Files kept.
    pub log_max_file: u32,
    /// The process has a TTY.
    pub tty: bool,
    /// Keep stdin open.
    pub stdin: bool,
    /// Close stdin after the first attacher leaves.
    pub stdin_once: bool,
    /// Create now, start on a `start` request (lets `docker start -a` attach first).
    pub wait_start: bool,
}

/// Starts a shim for a container and returns the init's host PID once it runs.
pub async fn launch(shim: &Path, l: &Launch) -> Result<i32, Error> {
    let mut cmd = tokio::process::Command::new(shim);
    cmd.arg("--id")
        .arg(&l.id)
        .arg("--bundle")
        .arg(&l.bundle)
        .arg("--state-dir")
        .arg(&l.state_dir)
        .arg("--runtime")
        .arg(&l.runtime)
        .arg("--runtime-root")
        .arg(&l.runtime_root)
        .arg("--log-path")
        .arg(&l.log_path)
        .arg("--log-max-size")
        .arg(l.log_max_size.to_string())
        .arg("--log-max-file")
        .arg(l.log_max_file.to_string());
    if l.tty {
        cmd.arg("--tty");
    }
    if l.stdin {
        cmd.arg("--stdin");
    }
    if l.stdin_once {
        cmd.arg("--stdin-once");
    }
    if l.wait_start {
        cmd.arg("--wait-start");
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(false);
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::internal(format!("starting {}: {e}", shim.display())))?;
    let mut out = String::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = BufReader::new(stdout).read_line(&mut out).await;
    }
    // The launcher half of the shim exits once the daemon half is detached.
    let _ = child.wait().await;
    match serde_json::from_str::<Ready>(out.trim()) {
        Ok(Ready::Ok { pid, .. }) => Ok(pid),
        Ok(Ready::Err { error }) => Err(Error::internal(error)),
        Err(_) => Err(Error::internal(format!(
            "the shim of container {} ended without reporting ({out:?})",
            l.id
        ))),
    }
}

/// The control socket of a shim whose state directory is `dir`.
pub fn socket(dir: &Path) -> PathBuf {
    dir.join(protocol::SHIM_SOCK)
}

/// Connects to the shim whose state directory is `dir`. `sun_path` holds 108 bytes, and
/// data roots under long temporary directories exceed it, so a long path is reached
/// through the directory's descriptor (`/proc/self/fd/N/shim.sock`).
pub async fn connect(dir: &Path) -> std::io::Result<UnixStream> {
    use std::os::unix::ffi::OsStrExt;
    let path = socket(dir);
    if path.as_os_str().as_bytes().len() < 100 {
        return UnixStream::connect(&path).await;
    }
    let dirfd = rustix::fs::open(
        dir,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    let short = format!(
        "/proc/self/fd/{}/{}",
        std::os::fd::AsRawFd::as_raw_fd(&dirfd),
        protocol::SHIM_SOCK
    );
    let conn = UnixStream::connect(short).await;
    drop(dirfd);
    conn
}

/// Sends `req` and returns the connection positioned after the reply line, and the reply.
pub async fn request<T: DeserializeOwned>(
    dir: &Path,
    req: &Request,
) -> Result<(T, UnixStream), Error> {
    let path = socket(dir);
    let mut conn = connect(dir)
        .await
        .map_err(|e| Error::internal(format!("connecting to shim {}: {e}", path.display())))?;
    let mut line = serde_json::to_vec(req).map_err(|e| Error::internal(e.to_string()))?;
    line.push(b'\n');
    conn.write_all(&line)
        .await
        .map_err(|e| Error::internal(format!("talking to shim {}: {e}", path.display())))?;
    // Read the reply byte by byte so nothing of the stream after it is consumed.
    let mut reply = Vec::new();
    loop {
        let mut b = [0u8; 1];
        match conn.read(&mut b).await {
            Ok(0) => break,
            Ok(_) if b[0] == b'\n' => break,
            Ok(_) => reply.push(b[0]),
            Err(e) => return Err(Error::internal(format!("reading from shim: {e}"))),
        }
    }
    if let Ok(err) = serde_json::from_slice::<protocol::ErrorReply>(&reply) {
        return Err(Error::internal(err.error));
    }
    let value = serde_json::from_slice(&reply).map_err(|e| {
        Error::internal(format!(
            "unexpected shim reply {:?}: {e}",
            String::from_utf8_lossy(&reply)
        ))
    })?;
    Ok((value, conn))
}

/// Asks and waits for the reply only.
pub async fn call<T: DeserializeOwned>(dir: &Path, req: &Request) -> Result<T, Error> {
    request(dir, req).await.map(|(v, _)| v)
}

/// The exit record a shim left, if any.
pub fn exit_file(dir: &Path) -> Option<ExitInfo> {
    let data = std::fs::read(dir.join(protocol::EXIT_FILE)).ok()?;
    serde_json::from_slice(&data).ok()
}
