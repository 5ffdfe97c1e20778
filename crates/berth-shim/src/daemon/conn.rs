//! One client connection on the control socket: its role once the request line was read,
//! and the bytes still to send it.
//!
//! Writes never block the shim: what the socket does not take now waits in `out`, and the
//! producer (the container's or exec's output) stops being read while any stream
//! connection holds more than [`HIGH_WATER`] bytes, which is how Docker's blocking copy
//! behaves too: a stuck attacher slows the container, never the shim's memory.

use super::fdio;
use std::os::unix::net::UnixStream;

/// Pending output above which producers are paused.
pub const HIGH_WATER: usize = 64 * 1024;
/// Longest accepted request line (an exec's process with its environment fits).
pub const MAX_REQUEST: usize = 1 << 20;

/// What a connection is for.
pub enum Role {
    /// Reading the request line.
    Request,
    /// The container's stream.
    Attach {
        stdin: bool,
        stdout: bool,
        stderr: bool,
        detach: Option<Detach>,
    },
    /// An exec's stream.
    ExecStream {
        exec_id: String,
        stdin: bool,
        detach: Option<Detach>,
    },
    /// Waiting for the container's exit.
    Wait,
    /// Waiting for an exec's exit.
    ExecWait(String),
    /// Its reply was queued; closed once sent.
    Done,
}

/// A client connection.
pub struct Conn {
    /// Unique for the shim's life (execs name their stream by it).
    pub id: u64,
    /// The socket (non-blocking).
    pub sock: UnixStream,
    /// Its role.
    pub role: Role,
    /// The request line read so far; after it, input that arrived with it.
    pub inbuf: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    /// The client shut down its writing side.
    pub read_eof: bool,
    /// Close once `out` is sent.
    pub closing: bool,
    /// Gone: removed at the end of the loop iteration.
    pub dead: bool,
}

impl Conn {
    /// A new connection waiting for its request.
    pub fn new(id: u64, sock: UnixStream) -> Conn {
        Conn {
            id,
            sock,
            role: Role::Request,
            inbuf: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            read_eof: false,
            closing: false,
            dead: false,
        }
    }

    /// Bytes waiting to be sent.
    pub fn pending(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Sends `data` after what is queued, as much as the socket takes now.
    pub fn send(&mut self, data: &[u8]) {
        if self.dead {
            return;
        }
        let mut data = data;
        if self.pending() == 0 {
            match fdio::write(&self.sock, data) {
                Ok(n) => data = &data[n..],
                Err(_) => {
                    self.dead = true;
                    return;
                }
            }
        }
        if !data.is_empty() {
            self.out.extend_from_slice(data);
        }
    }

    /// Sends a JSON line.
    pub fn reply<T: serde::Serialize>(&mut self, value: &T) {
        let mut line = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        line.push(b'\n');
        self.send(&line);
    }

    /// Sends an error reply and closes.
    pub fn fail(&mut self, error: impl Into<String>) {
        self.reply(&berth_shim::protocol::ErrorReply {
            error: error.into(),
        });
        self.finish();
    }

    /// Closes once everything queued was sent.
    pub fn finish(&mut self) {
        self.role = Role::Done;
        self.closing = true;
    }

    /// Sends what is queued (the socket said it is writable).
    pub fn flush(&mut self) {
        while self.pending() > 0 {
            match fdio::write(&self.sock, &self.out[self.out_pos..]) {
                Ok(0) => break,
                Ok(n) => self.out_pos += n,
                Err(_) => {
                    self.dead = true;
                    return;
                }
            }
        }
        if self.pending() == 0 {
            // Drop the buffer, not only its content: the footprint is a product target.
            self.out = Vec::new();
            self.out_pos = 0;
        } else if self.out_pos > HIGH_WATER {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
    }

    /// Whether to poll for input: a request still coming, or a stream whose client may
    /// still write (input or hang-up).
    pub fn wants_read(&self) -> bool {
        !self.read_eof && !self.closing
    }

    /// True when the connection can be dropped.
    pub fn done(&self) -> bool {
        self.dead || (self.closing && self.pending() == 0)
    }
}

/// Docker's detach key sequence matcher (`term.NewEscapeProxy`): bytes that could start
/// the sequence are held back; the full sequence ends the stream, anything else releases
/// them.
pub struct Detach {
    keys: Vec<u8>,
    matched: usize,
}

impl Detach {
    /// A matcher for `keys` (not empty).
    pub fn new(keys: Vec<u8>) -> Detach {
        Detach { keys, matched: 0 }
    }

    /// Appends the input to forward to `out`; true when the sequence was typed (the rest
    /// of `input` is dropped, as the stream ends).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return false;
        }
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return true;
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = usize::from(b == self.keys[0]);
            if self.matched == 0 {
                out.push(b);
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_hold_a_prefix_and_release_it_on_mismatch() {
        let mut d = Detach::new(vec![16, 17]);
        let mut out = Vec::new();
        assert!(!d.feed(b"ab\x10", &mut out));
        assert_eq!(out, b"ab");
        assert!(!d.feed(b"c", &mut out));
        assert_eq!(out, b"ab\x10c");
        assert!(!d.feed(b"\x10\x10", &mut out));
        assert_eq!(out, b"ab\x10c\x10");
        assert!(d.feed(b"\x11tail", &mut out));
        assert_eq!(out, b"ab\x10c\x10");
    }
}
