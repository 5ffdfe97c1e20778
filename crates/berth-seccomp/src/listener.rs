//! Handing the notify fd to a seccomp agent (runtime-spec config-linux.md, "seccomp",
//! `listenerPath`).
//!
//! The agent listens on a `SOCK_STREAM` unix socket; the runtime connects, sends the
//! container process state JSON (`{ociVersion, fds: ["seccompFd"], pid, metadata,
//! state}`) as the message data with the notify fd attached as `SCM_RIGHTS`, and closes
//! the connection. The fd travels with the first byte, so an agent that reads the state
//! with one `recvmsg` gets both.

use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;

use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};

use crate::{Error, Result};

fn io_error(what: &str, e: impl Into<std::io::Error>) -> Error {
    Error::Io {
        what: what.into(),
        source: e.into(),
    }
}

/// Sends `state_json` with `fd` attached over `sock`. A short write of a large state is
/// completed with plain writes (the fd went with the first part).
pub fn send_to_listener(sock: &UnixStream, fd: BorrowedFd<'_>, state_json: &[u8]) -> Result<()> {
    if state_json.is_empty() {
        return Err(Error::Invalid {
            path: "linux.seccomp.listenerPath".into(),
            msg: "the container process state sent to the listener is empty".into(),
        });
    }
    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(io_error(
            "attaching the seccomp notify fd",
            std::io::Error::other("control buffer too small"),
        ));
    }
    let sent = loop {
        match rustix::net::sendmsg(
            sock,
            &[IoSlice::new(state_json)],
            &mut control,
            SendFlags::NOSIGNAL,
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            other => break other,
        }
    }
    .map_err(|e| io_error("sending the seccomp notify fd to the listener", e))?;
    let mut rest = state_json.get(sent..).unwrap_or_default();
    while !rest.is_empty() {
        match rustix::net::send(sock, rest, SendFlags::NOSIGNAL) {
            Ok(0) => {
                return Err(io_error(
                    "sending the container state to the seccomp listener",
                    std::io::Error::from(std::io::ErrorKind::WriteZero),
                ))
            }
            Ok(n) => rest = rest.get(n..).unwrap_or_default(),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => {
                return Err(io_error(
                    "sending the container state to the seccomp listener",
                    e,
                ))
            }
        }
    }
    Ok(())
}
