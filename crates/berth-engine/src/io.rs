//! A container's output and input: logs from the json-file, attach through the shim
//! (connected before the process starts when the container is not running yet).

use std::sync::Arc;

use berth_model::{AttachOptions, Error, Hijack, LogFrame, LogOptions, LogStream};
use berth_shim::client::ShimClient;
use berth_shim::protocol::AttachRequest;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;

use crate::container::{Container, PendingAttach};
use crate::{logs, shim, Engine};

/// Docker's 8-byte frame header followed by the data.
pub fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + data.len());
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

impl Engine {
    pub(crate) async fn logs(&self, reference: &str, opts: LogOptions) -> Result<LogStream, Error> {
        let c = self.container(reference)?;
        let (id, tty) = {
            let r = c.lock();
            (r.id.clone(), r.config.tty.unwrap_or(false))
        };
        let (tx, rx) = mpsc::channel::<LogFrame>(256);
        let c2 = c.clone();
        let done = move || {
            let r = c2.lock();
            !(r.state.is_running() || r.state.status == "restarting")
        };
        tokio::spawn(logs::pump(self.log_path(&id), opts, tx, done));
        Ok(LogStream {
            tty,
            frames: Box::pin(ReceiverStream::new(rx)),
        })
    }

    pub(crate) async fn attach(
        &self,
        reference: &str,
        opts: AttachOptions,
    ) -> Result<Hijack, Error> {
        let c = self.container(reference)?;
        let rec = c.snapshot();
        let tty = rec.config.tty.unwrap_or(false);
        let request = AttachRequest {
            stdin: opts.stdin,
            stdout: opts.stdout,
            stderr: opts.stderr,
            detach_keys: opts.detach_keys.clone(),
        };
        // Replayed logs go first, framed as the live stream is.
        let mut replay = Vec::new();
        if opts.logs {
            let lo = LogOptions {
                stdout: opts.stdout,
                stderr: opts.stderr,
                ..Default::default()
            };
            let path = self.log_path(&rec.id);
            let (frames, _) = tokio::task::spawn_blocking(move || logs::read_existing(&path, &lo))
                .await
                .map_err(|e| Error::internal(e.to_string()))?;
            for f in frames {
                if tty {
                    replay.extend_from_slice(&f.data);
                } else {
                    replay.extend_from_slice(&frame(f.stream.id(), &f.data));
                }
            }
        }
        if !opts.stream {
            let io = tokio::io::join(std::io::Cursor::new(replay), tokio::io::sink());
            return Ok(Hijack {
                tty,
                io: Box::new(io),
            });
        }
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        let (tx, rx) = oneshot::channel();
        if rec.state.status == "running" {
            let conn = ShimClient::new(&self.run_dir(&rec.id))
                .attach(request)
                .await
                .map_err(shim::err)?;
            let _ = tx.send(conn);
        } else if rec.state.status == "paused" {
            return Err(Error::conflict(
                "You cannot attach to a paused container, unpause it first",
            ));
        } else {
            c.pending_attach
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(PendingAttach { request, reply: tx });
        }
        tokio::spawn(splice(replay, ours, rx));
        Ok(Hijack {
            tty,
            io: Box::new(theirs),
        })
    }

    /// Connects the attaches that waited for this start (the shim holds the process until
    /// `start` is sent).
    pub(crate) async fn connect_pending(&self, c: &Arc<Container>) {
        let pending: Vec<PendingAttach> =
            std::mem::take(&mut *c.pending_attach.lock().unwrap_or_else(|p| p.into_inner()));
        let id = c.lock().id.clone();
        for p in pending {
            if p.reply.is_closed() {
                continue;
            }
            if let Ok(conn) = ShimClient::new(&self.run_dir(&id)).attach(p.request).await {
                let _ = p.reply.send(conn);
            }
        }
    }

    pub(crate) fn has_pending_attach(&self, c: &Container) -> bool {
        c.pending_attach
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|p| !p.reply.is_closed())
    }

    pub(crate) async fn resize(
        &self,
        reference: &str,
        height: u16,
        width: u16,
    ) -> Result<(), Error> {
        let c = self.container(reference)?;
        let rec = c.snapshot();
        if !rec.state.is_running() {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        ShimClient::new(&self.run_dir(&rec.id))
            .resize(height, width, None)
            .await
            .map_err(shim::err)
    }
}

/// Pumps between the API's end of the duplex and the shim stream once it exists.
async fn splice(
    replay: Vec<u8>,
    mut ours: tokio::io::DuplexStream,
    rx: oneshot::Receiver<tokio::net::UnixStream>,
) {
    use tokio::io::AsyncWriteExt;
    if !replay.is_empty() && ours.write_all(&replay).await.is_err() {
        return;
    }
    let Ok(mut conn) = rx.await else {
        let _ = ours.shutdown().await;
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut ours, &mut conn).await;
    let _ = ours.shutdown().await;
}
