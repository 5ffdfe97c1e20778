//! Attached I/O: the 8-byte multiplexed frames the daemon sends when there is no TTY,
//! raw terminal mode, stdin with docker's detach keys (ctrl-p ctrl-q), half-close when
//! stdin ends, terminal size on start and on SIGWINCH, and signal proxying.
//!
//! Detaching is done here, on the client, and only with a TTY, as docker does: without a
//! TTY a container started with `StdinOnce` would see its stdin closed when we hang up.

use std::io::IsTerminal as _;
use std::os::fd::AsFd as _;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::client::Client;

/// How an attached stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The daemon closed the output: the process is gone (or its streams are).
    Closed,
    /// The user typed the detach keys.
    Detached,
}

/// The stream a multiplexed frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Frame type 0 (stdin echo) and 1.
    Stdout,
    /// Frame type 2.
    Stderr,
    /// Frame type 3: an error from the daemon.
    System,
}

/// Splits a buffer of multiplexed frames: returns the complete frames and how many bytes
/// they used; an incomplete frame at the end is left for the next read.
pub fn demux(buf: &[u8]) -> (Vec<(Stream, &[u8])>, usize) {
    let mut out = Vec::new();
    let mut pos = 0;
    while buf.len() - pos >= 8 {
        let h = &buf[pos..pos + 8];
        let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
        if buf.len() - pos - 8 < len {
            break;
        }
        let kind = match h[0] {
            2 => Stream::Stderr,
            3 => Stream::System,
            _ => Stream::Stdout,
        };
        out.push((kind, &buf[pos + 8..pos + 8 + len]));
        pos += 8 + len;
    }
    (out, pos)
}

/// Copies the daemon's output to our stdout/stderr: raw with a TTY, demultiplexed
/// without.
pub async fn copy_output(mut r: impl AsyncRead + Unpin, tty: bool) -> anyhow::Result<()> {
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 32 * 1024];
    loop {
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        if tty {
            stdout.write_all(&chunk[..n]).await?;
            stdout.flush().await?;
            continue;
        }
        buf.extend_from_slice(&chunk[..n]);
        let (frames, used) = demux(&buf);
        for (kind, data) in frames {
            match kind {
                Stream::Stdout => {
                    stdout.write_all(data).await?;
                    stdout.flush().await?;
                }
                Stream::Stderr => {
                    stderr.write_all(data).await?;
                    stderr.flush().await?;
                }
                Stream::System => anyhow::bail!("{}", String::from_utf8_lossy(data).trim_end()),
            }
        }
        buf.drain(..used);
    }
    Ok(())
}

/// Parses docker's `--detach-keys` ("ctrl-p,ctrl-q", "ctrl-a,x").
pub fn detach_keys(spec: &str) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    for key in spec.split(',') {
        let k = key.trim();
        if let Some(c) = k.strip_prefix("ctrl-") {
            let b = match c.as_bytes() {
                [b @ b'a'..=b'z'] => b - b'a' + 1,
                [b'@'] => 0,
                [b'['] => 27,
                [b'\\'] => 28,
                [b']'] => 29,
                [b'^'] => 30,
                [b'_'] => 31,
                _ => anyhow::bail!("invalid detach keys {spec:?}: unknown character {k:?} (use ctrl-<a-z@[\\]^_> or a single character)"),
            };
            out.push(b);
        } else if k.len() == 1 {
            out.push(k.as_bytes()[0]);
        } else {
            anyhow::bail!("invalid detach keys {spec:?}: unknown character {k:?} (use ctrl-<a-z@[\\]^_> or a single character)");
        }
    }
    Ok(out)
}

/// Finds the detach sequence in stdin data. `matched` carries the length of a partial
/// match over reads. Returns the bytes to forward and whether the sequence completed.
pub fn escape_scan(keys: &[u8], matched: &mut usize, data: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(data.len());
    for &b in data {
        if keys.is_empty() {
            out.push(b);
            continue;
        }
        if b == keys[*matched] {
            *matched += 1;
            if *matched == keys.len() {
                return (out, true);
            }
            continue;
        }
        // Mismatch: the held-back prefix was ordinary input.
        out.extend_from_slice(&keys[..*matched]);
        *matched = 0;
        if b == keys[0] {
            *matched = 1;
        } else {
            out.push(b);
        }
    }
    (out, false)
}

/// Puts stdin in raw mode for as long as it lives.
pub struct RawTerminal {
    saved: Option<rustix::termios::Termios>,
}

impl RawTerminal {
    /// Raw mode on stdin if it is a terminal (otherwise nothing).
    pub fn enable() -> RawTerminal {
        let stdin = std::io::stdin();
        let fd = stdin.as_fd();
        let Ok(saved) = rustix::termios::tcgetattr(fd) else {
            return RawTerminal { saved: None };
        };
        let mut raw = saved.clone();
        raw.make_raw();
        let ok =
            rustix::termios::tcsetattr(fd, rustix::termios::OptionalActions::Now, &raw).is_ok();
        RawTerminal {
            saved: ok.then_some(saved),
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let stdin = std::io::stdin();
            let _ =
                rustix::termios::tcsetattr(stdin.as_fd(), rustix::termios::OptionalActions::Now, t);
        }
    }
}

/// Whether stdin is a terminal.
pub fn stdin_is_tty() -> bool {
    std::io::stdin().is_terminal()
}

/// Whether stdout is a terminal.
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

/// The terminal size (rows, columns) of stdout or stdin, if either is a terminal.
pub fn term_size() -> Option<(u16, u16)> {
    let out = std::io::stdout();
    let inp = std::io::stdin();
    for fd in [out.as_fd(), inp.as_fd()] {
        if let Ok(ws) = rustix::termios::tcgetwinsize(fd) {
            if ws.ws_row > 0 && ws.ws_col > 0 {
                return Some((ws.ws_row, ws.ws_col));
            }
        }
    }
    None
}

/// Sends the terminal size to `resize_path` (`/containers/<id>/resize` or
/// `/exec/<id>/resize`) now and on every SIGWINCH, until the task is dropped.
pub fn spawn_resizer(client: Client, resize_path: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let send = |c: &Client, p: &str| {
            let c = c.clone();
            let p = p.to_string();
            async move {
                if let Some((h, w)) = term_size() {
                    let _ = c.post(&format!("{p}?h={h}&w={w}")).await;
                }
            }
        };
        send(&client, &resize_path).await;
        let Ok(mut winch) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        else {
            return;
        };
        while winch.recv().await.is_some() {
            send(&client, &resize_path).await;
        }
    })
}

/// Forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the container (docker's
/// `--sig-proxy`), until the task is dropped.
pub fn spawn_sig_proxy(client: Client, id: String) -> tokio::task::JoinHandle<()> {
    use tokio::signal::unix::{signal, SignalKind};
    tokio::spawn(async move {
        let kinds = [
            (SignalKind::interrupt(), "SIGINT"),
            (SignalKind::terminate(), "SIGTERM"),
            (SignalKind::hangup(), "SIGHUP"),
            (SignalKind::quit(), "SIGQUIT"),
            (SignalKind::user_defined1(), "SIGUSR1"),
            (SignalKind::user_defined2(), "SIGUSR2"),
        ];
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for (k, name) in kinds {
            let Ok(mut s) = signal(k) else { continue };
            let tx = tx.clone();
            tokio::spawn(async move {
                while s.recv().await.is_some() {
                    if tx.send(name).is_err() {
                        break;
                    }
                }
            });
        }
        while let Some(name) = rx.recv().await {
            let _ = client
                .post(&format!("/containers/{id}/kill?signal={name}"))
                .await;
        }
    })
}

/// Runs an attached session over a hijacked connection: output to our stdout/stderr,
/// our stdin (if `stdin`) to the process, half-closing when stdin ends.
pub async fn session<S>(conn: S, stdin: bool, tty: bool, keys: &[u8]) -> anyhow::Result<Ended>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (r, mut w) = tokio::io::split(conn);
    let output = tokio::spawn(copy_output(r, tty));
    let (det_tx, mut det_rx) = tokio::sync::oneshot::channel::<()>();
    let input = if stdin {
        let keys = if tty { keys.to_vec() } else { Vec::new() };
        Some(tokio::spawn(async move {
            let mut inp = tokio::io::stdin();
            let mut buf = vec![0u8; 32 * 1024];
            let mut matched = 0;
            loop {
                let n = inp.read(&mut buf).await.unwrap_or_default();
                if n == 0 {
                    break;
                }
                let (fwd, detach) = escape_scan(&keys, &mut matched, &buf[..n]);
                if !fwd.is_empty() && (w.write_all(&fwd).await.is_err() || w.flush().await.is_err())
                {
                    return;
                }
                if detach {
                    let _ = det_tx.send(());
                    return;
                }
            }
            let _ = w.shutdown().await;
        }))
    } else {
        let _ = w.shutdown().await;
        None
    };
    let ended = tokio::select! {
        r = output => {
            r??;
            Ended::Closed
        }
        Ok(()) = &mut det_rx => Ended::Detached,
    };
    if let Some(i) = input {
        i.abort();
    }
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demux_frames_and_partial() {
        let mut b = vec![1, 0, 0, 0, 0, 0, 0, 3];
        b.extend_from_slice(b"hi\n");
        b.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 4]);
        b.extend_from_slice(b"err\n");
        b.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 9, b'x']);
        let (frames, used) = demux(&b);
        assert_eq!(
            frames,
            vec![
                (Stream::Stdout, &b"hi\n"[..]),
                (Stream::Stderr, &b"err\n"[..])
            ]
        );
        assert_eq!(used, 23);
    }

    #[test]
    fn detach_sequence() {
        let keys = detach_keys("ctrl-p,ctrl-q").expect("valid");
        assert_eq!(keys, vec![16, 17]);
        let mut m = 0;
        assert_eq!(
            escape_scan(&keys, &mut m, b"ab\x10"),
            (b"ab".to_vec(), false)
        );
        assert_eq!(escape_scan(&keys, &mut m, b"\x11"), (Vec::new(), true));
        let mut m = 0;
        assert_eq!(
            escape_scan(&keys, &mut m, b"\x10x"),
            (b"\x10x".to_vec(), false)
        );
        assert!(detach_keys("ctrl-1").is_err());
    }
}
