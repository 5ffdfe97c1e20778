//! Typed messages between the runtime and the processes it forks.
//!
//! Frames are a 4-byte little-endian length and a JSON body over a `SOCK_STREAM` socket
//! pair. Errors travel as messages too, so a failure inside the container's init (a mount
//! that failed, an executable that does not exist) reaches the user as the init's own
//! words, not as "broken pipe".

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

/// One message.
#[derive(Debug, Serialize, Deserialize)]
pub enum Msg {
    /// Child → runtime: the host PID of the process that will exec the user's program.
    InitPid(i32),
    /// Child → runtime: write the uid/gid maps of this PID's new user namespace.
    MapIds(i32),
    /// Runtime → child: maps written.
    MapsWritten,
    /// Child → runtime: write the time namespace offsets for this PID's children (the
    /// runtime has CAP_SYS_TIME over the user namespace that owns the new time namespace).
    TimeOffsets(i32),
    /// Runtime → child: the process is in its cgroup; go on. Carries the host PID and
    /// the state JSON hooks receive.
    Go {
        /// Host PID of the init.
        pid: i32,
        /// State JSON for hooks.
        state: String,
    },
    /// Init → runtime: run prestart and createRuntime hooks now.
    RunHooks,
    /// Runtime → init: hooks done.
    HooksDone,
    /// Init → runtime: set up; waiting for start.
    Ready,
    /// Either way: a failure, in words.
    Fail(String),
}

/// Sends one message.
pub fn send(sock: &mut UnixStream, msg: &Msg) -> Result<()> {
    let body = serde_json::to_vec(msg).map_err(|e| Error::Invalid(e.to_string()))?;
    let mut frame = (body.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(&body);
    sock.write_all(&frame)
        .map_err(|e| Error::sys("sending to the container process", e))
}

/// Receives one message; `Ok(None)` when the peer closed the socket.
pub fn recv(sock: &mut UnixStream) -> Result<Option<Msg>> {
    let mut len = [0u8; 4];
    match sock.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(None),
        Err(e) => return Err(Error::sys("reading from the container process", e)),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > 16 << 20 {
        return Err(Error::Container(format!(
            "oversized message ({len} bytes) from container process"
        )));
    }
    let mut body = vec![0u8; len];
    sock.read_exact(&mut body)
        .map_err(|e| Error::sys("reading from the container process", e))?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| Error::Container(format!("malformed message from container process: {e}")))
}

/// Receives a message and fails unless it is what `want` accepts; a `Fail` from the peer
/// becomes the error.
pub fn expect<T>(
    sock: &mut UnixStream,
    what: &str,
    want: impl FnOnce(Msg) -> Option<T>,
) -> Result<T> {
    match recv(sock)? {
        Some(Msg::Fail(m)) => Err(Error::Container(m)),
        Some(m) => {
            let desc = format!("{m:?}");
            want(m).ok_or_else(|| Error::Container(format!("expected {what}, got {desc}")))
        }
        None => Err(Error::Container(format!(
            "container process exited before {what}"
        ))),
    }
}
