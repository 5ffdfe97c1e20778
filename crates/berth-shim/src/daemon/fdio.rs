//! Descriptor plumbing: non-blocking pipes, reads and writes that say "would block",
//! descriptors received over a unix socket.

use rustix::io::Errno;
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use std::io::{self, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

/// The outcome of one non-blocking read.
pub enum Read {
    /// `n` bytes.
    Data(usize),
    /// End of stream (EOF, or EIO from a pty master whose slave is gone).
    Eof,
    /// Nothing now.
    Again,
}

/// A pipe `(read, write)`, both close-on-exec; `nonblock_read` makes our read end
/// non-blocking.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?)
}

/// Sets `O_NONBLOCK`.
pub fn set_nonblocking(fd: impl AsFd) -> io::Result<()> {
    Ok(rustix::io::ioctl_fionbio(fd, true)?)
}

/// One read; errors other than "would block" and EOF-like ones are returned.
pub fn read(fd: impl AsFd, buf: &mut [u8]) -> io::Result<Read> {
    match rustix::io::read(fd, buf) {
        Ok(0) => Ok(Read::Eof),
        Ok(n) => Ok(Read::Data(n)),
        Err(Errno::AGAIN) | Err(Errno::INTR) => Ok(Read::Again),
        // A pty master reads EIO once no slave descriptor is left open.
        Err(Errno::IO) | Err(Errno::CONNRESET) => Ok(Read::Eof),
        Err(e) => Err(e.into()),
    }
}

/// One write; `Ok(0)` when it would block. Sockets are written with `MSG_NOSIGNAL`.
pub fn write(fd: impl AsFd, data: &[u8]) -> io::Result<usize> {
    match rustix::io::write(fd, data) {
        Ok(n) => Ok(n),
        Err(Errno::AGAIN) | Err(Errno::INTR) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Reads everything readable now from a non-blocking descriptor (for error messages).
pub fn read_available(fd: impl AsFd, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    while out.len() < limit {
        match read(fd.as_fd(), &mut buf) {
            Ok(Read::Data(n)) => out.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    out
}

/// Accepts the runtime's connection on a console socket and receives the pty master it
/// sends (`SCM_RIGHTS`). The runtime connected and sent before it exited, so the
/// connection is queued already; the short wait only covers a slow kernel.
pub fn recv_pty(listener: &UnixListener) -> io::Result<OwnedFd> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + Duration::from_secs(2);
    let conn: UnixStream = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::other(
                    "the runtime did not connect to the console socket",
                ))
            }
            Err(e) => return Err(e),
        }
    };
    conn.set_nonblocking(false)?;
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = RecvAncillaryBuffer::new(&mut space);
    let mut data = [0u8; 256];
    rustix::net::recvmsg(
        &conn,
        &mut [IoSliceMut::new(&mut data)],
        &mut cmsg,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    for msg in cmsg.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = msg {
            if let Some(fd) = fds.next() {
                set_nonblocking(&fd)?;
                return Ok(fd);
            }
        }
    }
    Err(io::Error::other(
        "no descriptor received on the console socket",
    ))
}

/// Sets a pty's window size.
pub fn resize(pty: impl AsFd, height: u16, width: u16) -> io::Result<()> {
    let ws = rustix::termios::Winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    Ok(rustix::termios::tcsetwinsize(pty, ws)?)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so readers see the old
/// content or the new one, never a part.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}
