//! Pseudo-terminals: the container's pty is allocated inside the container (from its own
//! devpts) and its master is handed to the caller's console socket with SCM_RIGHTS.

use crate::{Error, Result};
use rustix::fs::{Mode, OFlags};
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// Sends `fd` with `data` as the payload over a unix socket.
pub fn send_fd(sock: &UnixStream, fd: BorrowedFd<'_>, data: &[u8]) -> Result<()> {
    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut buf = SendAncillaryBuffer::new(&mut space);
    buf.push(SendAncillaryMessage::ScmRights(&fds));
    rustix::net::sendmsg(sock, &[IoSlice::new(data)], &mut buf, SendFlags::empty())
        .map_err(|e| Error::sys("sending a descriptor over the console socket", e))?;
    Ok(())
}

/// Receives one descriptor sent with [`send_fd`].
pub fn recv_fd(sock: &UnixStream) -> Result<OwnedFd> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut buf = RecvAncillaryBuffer::new(&mut space);
    let mut data = [0u8; 4096];
    rustix::net::recvmsg(
        sock,
        &mut [IoSliceMut::new(&mut data)],
        &mut buf,
        RecvFlags::CMSG_CLOEXEC,
    )
    .map_err(|e| Error::sys("receiving the pty master", e))?;
    for msg in buf.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = msg {
            if let Some(fd) = fds.next() {
                return Ok(fd);
            }
        }
    }
    Err(Error::Container(
        "no descriptor received on the console socket".into(),
    ))
}

/// Allocates a pty in the (already pivoted) container, makes its slave the caller's
/// stdio and controlling terminal and `/dev/console`, and sends the master to `console`.
pub fn setup(console: &UnixStream, size: Option<berth_spec::ConsoleSize>) -> Result<()> {
    let master = rustix::pty::openpt(
        rustix::pty::OpenptFlags::RDWR
            | rustix::pty::OpenptFlags::NOCTTY
            | rustix::pty::OpenptFlags::CLOEXEC,
    )
    .map_err(|e| Error::sys("opening /dev/ptmx in the container", e))?;
    rustix::pty::grantpt(&master).map_err(|e| Error::sys("grantpt", e))?;
    rustix::pty::unlockpt(&master).map_err(|e| Error::sys("unlockpt", e))?;
    let name = rustix::pty::ptsname(&master, Vec::new()).map_err(|e| Error::sys("ptsname", e))?;
    let name = name.to_string_lossy().into_owned();
    let slave = rustix::fs::open(
        name.as_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys(format!("opening {name}"), e))?;
    if let Some(s) = size {
        let ws = rustix::termios::Winsize {
            ws_row: s.height,
            ws_col: s.width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let _ = rustix::termios::tcsetwinsize(&slave, ws);
    }
    // /dev/console is the pty slave, as on a real system console (runtime-spec
    // config.md "process.terminal").
    if let Ok(root) = crate::paths::open_root(std::path::Path::new("/")) {
        if let Ok(target) = crate::paths::mkfile(&root, "/dev/console") {
            let src = std::ffi::CString::new(name.as_str())
                .map_err(|_| Error::Invalid("pty name".into()))?;
            let tgt = std::ffi::CString::new(crate::paths::fd_path(&target))
                .map_err(|_| Error::Invalid("path".into()))?;
            let _ = berth_sys::ns::mount(Some(&src), &tgt, None, libc::MS_BIND, None);
        }
    }
    send_fd(console, master.as_fd(), name.as_bytes())?;
    drop(master);
    rustix::stdio::dup2_stdin(&slave).map_err(|e| Error::sys("dup2 stdin", e))?;
    rustix::stdio::dup2_stdout(&slave).map_err(|e| Error::sys("dup2 stdout", e))?;
    rustix::stdio::dup2_stderr(&slave).map_err(|e| Error::sys("dup2 stderr", e))?;
    rustix::process::ioctl_tiocsctty(&slave)
        .map_err(|e| Error::sys("setting the controlling terminal", e))?;
    Ok(())
}
