//! The foreground of `run` and `exec` (without `--detach`), as runc does it: every signal
//! the runtime receives is forwarded to the container process, a terminal the caller did
//! not take over through `--console-socket` is proxied to the runtime's own stdio (in raw
//! mode, with window size changes passed on), and the exit status is collected.

use crate::{Error, Result};
use berth_sys::signals::{self, SigMask};
use rustix::event::{PollFd, PollFlags};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

/// Signals are blocked and read from a signalfd while this lives.
pub struct Foreground {
    mask: SigMask,
    sigfd: OwnedFd,
}

impl Drop for Foreground {
    fn drop(&mut self) {
        signals::restore(&self.mask);
    }
}

/// Restores the terminal mode on drop.
struct RawMode(Option<rustix::termios::Termios>);

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                &t,
            );
        }
    }
}

fn copy_winsize(master: impl AsFd) {
    if let Ok(ws) = rustix::termios::tcgetwinsize(std::io::stdin()) {
        let _ = rustix::termios::tcsetwinsize(master, ws);
    }
}

/// The size of the caller's terminal, for a pty the runtime proxies: given to the
/// container at creation, so its first `stty size` already sees it.
pub fn stdin_size() -> Option<berth_spec::ConsoleSize> {
    let ws = rustix::termios::tcgetwinsize(std::io::stdin()).ok()?;
    Some(berth_spec::ConsoleSize {
        height: ws.ws_row,
        width: ws.ws_col,
    })
}

impl Foreground {
    /// Starts receiving signals synchronously; call before forking the container process.
    pub fn begin() -> Result<Foreground> {
        let (mask, sigfd) = signals::block_all().map_err(|e| Error::sys("blocking signals", e))?;
        Ok(Foreground { mask, sigfd })
    }

    /// Waits for `pid` (a child of this process), forwarding signals and proxying the
    /// pty `master` if given; returns the exit status (128 + signal when killed).
    pub fn wait(self, pid: i32, master: Option<OwnedFd>) -> Result<i32> {
        let p = rustix::process::Pid::from_raw(pid)
            .ok_or_else(|| Error::Invalid(format!("bad pid {pid}")))?;
        let stdin = std::io::stdin();
        let _raw = match &master {
            Some(m) if rustix::termios::isatty(&stdin) => {
                copy_winsize(m);
                let old = rustix::termios::tcgetattr(&stdin).ok();
                if let Some(o) = &old {
                    let mut raw = o.clone();
                    raw.make_raw();
                    let _ = rustix::termios::tcsetattr(
                        &stdin,
                        rustix::termios::OptionalActions::Now,
                        &raw,
                    );
                }
                RawMode(old)
            }
            _ => RawMode(None),
        };
        let mut master = master.map(std::fs::File::from);
        let mut stdin_open = master.is_some();
        let mut buf = [0u8; 8192];
        loop {
            if let Some((_, st)) =
                rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG)
                    .map_err(|e| Error::sys(format!("waiting for process {pid}"), e))?
            {
                if let Some(m) = master.as_mut() {
                    drain(m, &mut buf);
                }
                return Ok(st
                    .exit_status()
                    .or_else(|| st.terminating_signal().map(|s| 128 + s))
                    .unwrap_or(0));
            }
            let mut fds = vec![PollFd::new(&self.sigfd, PollFlags::IN)];
            if let Some(m) = &master {
                fds.push(PollFd::new(m, PollFlags::IN));
                if stdin_open {
                    fds.push(PollFd::new(&stdin, PollFlags::IN));
                }
            }
            match rustix::event::poll(&mut fds, None) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Error::sys("poll", e)),
            }
            let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
            drop(fds);
            if ready[0] {
                let sig = signals::read_signal(self.sigfd.as_fd())
                    .map_err(|e| Error::sys("reading a signal", e))?;
                match sig {
                    libc::SIGCHLD | libc::SIGURG => {}
                    libc::SIGWINCH => {
                        if let Some(m) = &master {
                            copy_winsize(m);
                        }
                    }
                    s => {
                        let _ = berth_sys::proc::kill(pid, s);
                    }
                }
            }
            if let Some(m) = master.as_mut() {
                if ready.get(1).copied().unwrap_or(false) {
                    match m.read(&mut buf) {
                        Ok(0) | Err(_) => {
                            // EIO: the slave side is gone; the process is exiting.
                            master = None;
                            continue;
                        }
                        Ok(n) => {
                            let mut out = std::io::stdout();
                            let _ = out.write_all(&buf[..n]);
                            let _ = out.flush();
                        }
                    }
                }
                if stdin_open && ready.get(2).copied().unwrap_or(false) {
                    match std::io::stdin().lock().read(&mut buf) {
                        Ok(0) | Err(_) => stdin_open = false,
                        Ok(n) => {
                            let _ = m.write_all(&buf[..n]);
                        }
                    }
                }
            }
        }
    }
}

/// Copies what the pty still holds after the process exited.
fn drain(m: &mut std::fs::File, buf: &mut [u8]) {
    loop {
        let mut fds = [PollFd::new(&*m, PollFlags::IN)];
        match rustix::event::poll(
            &mut fds,
            Some(&rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }),
        ) {
            Ok(n) if n > 0 => {}
            _ => return,
        }
        match m.read(buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let _ = std::io::stdout().write_all(&buf[..n]);
            }
        }
    }
}
