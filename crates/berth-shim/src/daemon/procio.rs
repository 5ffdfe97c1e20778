//! The shim's side of a process's stdio (the container's init, or an exec): output read
//! ends or the pty master, and the stdin write end with the input not yet taken.

use super::fdio;
use std::os::fd::OwnedFd;

/// Input accepted from clients and not yet written, above which clients are not read.
pub const INPUT_HIGH_WATER: usize = 64 * 1024;

/// Which descriptor of a [`ProcIo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    /// The pty master (output and input).
    Pty,
    /// stdout's read end.
    Stdout,
    /// stderr's read end.
    Stderr,
    /// stdin's write end.
    Stdin,
}

/// A process's stdio as the shim holds it.
#[derive(Default)]
pub struct ProcIo {
    /// The pty master.
    pub pty: Option<OwnedFd>,
    /// stdout's read end.
    pub stdout: Option<OwnedFd>,
    /// stderr's read end.
    pub stderr: Option<OwnedFd>,
    /// stdin's write end (without a pty).
    pub stdin: Option<OwnedFd>,
    /// Input waiting to be written.
    pub input: Vec<u8>,
    /// Close stdin once `input` is written (its attacher hung up).
    pub close_input: bool,
}

impl ProcIo {
    /// The descriptor for `src`.
    pub fn fd(&self, src: Src) -> Option<&OwnedFd> {
        match src {
            Src::Pty => self.pty.as_ref(),
            Src::Stdout => self.stdout.as_ref(),
            Src::Stderr => self.stderr.as_ref(),
            Src::Stdin => self.stdin.as_ref(),
        }
    }

    /// True once every output reached its end.
    pub fn output_done(&self) -> bool {
        self.pty.is_none() && self.stdout.is_none() && self.stderr.is_none()
    }

    /// Whether clients' input can be taken now.
    pub fn accepts_input(&self) -> bool {
        (self.stdin.is_some() || self.pty.is_some())
            && !self.close_input
            && self.input.len() < INPUT_HIGH_WATER
    }

    /// Queues input and writes what the process takes now.
    pub fn push_input(&mut self, data: &[u8]) {
        if !self.close_input && (self.stdin.is_some() || self.pty.is_some()) {
            self.input.extend_from_slice(data);
        }
        self.flush_input();
    }

    /// Writes queued input; closes stdin when asked and drained. A reader that went away
    /// drops the input (the process closed its stdin).
    pub fn flush_input(&mut self) {
        let mut written = 0;
        let mut reader_gone = false;
        match self.stdin.as_ref().or(self.pty.as_ref()) {
            Some(fd) => {
                while written < self.input.len() {
                    match fdio::write(fd, &self.input[written..]) {
                        Ok(0) => break,
                        Ok(n) => written += n,
                        Err(_) => {
                            written = self.input.len();
                            reader_gone = true;
                        }
                    }
                }
            }
            None => written = self.input.len(),
        }
        if reader_gone {
            self.stdin = None;
        }
        self.input.drain(..written);
        if self.input.is_empty() {
            self.input = Vec::new();
            if self.close_input {
                // With a pty there is nothing to close: the master is also the output.
                self.stdin = None;
            }
        }
    }

    /// Stops reading `src` (end of stream).
    pub fn close(&mut self, src: Src) {
        match src {
            Src::Pty => self.pty = None,
            Src::Stdout => self.stdout = None,
            Src::Stderr => self.stderr = None,
            Src::Stdin => self.stdin = None,
        }
    }
}
