//! The listeners: one UDP socket and one TCP listener on the same address and port, each a
//! task on the caller's tokio runtime, stopped through their [`Handle`].

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::timeout;

use crate::answer::{handle, Outcome, Transport};
use crate::error::{Error, Result};
use crate::forward::Upstreams;
use crate::table::Table;

/// At most this many TCP clients at once per listener; more are closed at once.
const MAX_TCP_CONNECTIONS: usize = 64;

/// A TCP client that sends nothing for this long (or is this slow to take an answer) is
/// closed.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// Back-off after a failing `recv`/`accept` (such as EMFILE), so that it cannot spin.
const ERROR_PAUSE: Duration = Duration::from_millis(20);

/// The DNS server of one network: see the crate documentation.
#[derive(Debug)]
pub struct Server;

/// What the listener tasks share.
struct Shared {
    bind: Ipv4Addr,
    table: Arc<Table>,
    upstreams: Upstreams,
    in_flight: Arc<Semaphore>,
}

/// A running server; [`Handle::stop`] ends it, and dropping the handle aborts it.
#[derive(Debug)]
pub struct Handle {
    local: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Server {
    /// Listens on `bind`:`port`, UDP and TCP, on the current tokio runtime. The server
    /// answers the containers of the networks in `table` whose gateway is `bind` (all
    /// networks when `bind` is 0.0.0.0) and forwards other names to `upstreams`.
    ///
    /// Port 0 picks a free port, the same for UDP and TCP: see [`Handle::local_addr`].
    /// Errors: [`Error::NoRuntime`] outside a runtime, [`Error::Bind`] (with a likely cause)
    /// when either socket cannot be bound.
    pub fn start(
        bind: Ipv4Addr,
        port: u16,
        table: Arc<Table>,
        upstreams: Upstreams,
    ) -> Result<Handle> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let (udp, tcp, local) = bind_pair(bind, port)?;
        let udp = UdpSocket::from_std(udp).map_err(|source| Error::Socket {
            addr: local,
            proto: "udp",
            source,
        })?;
        let tcp = TcpListener::from_std(tcp).map_err(|source| Error::Socket {
            addr: local,
            proto: "tcp",
            source,
        })?;
        let (shutdown, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            bind,
            table,
            in_flight: Arc::new(Semaphore::new(upstreams.max_in_flight())),
            upstreams,
        });
        let tasks = vec![
            runtime.spawn(udp_loop(udp, Arc::clone(&shared), stopped.clone())),
            runtime.spawn(tcp_loop(tcp, shared, stopped)),
        ];
        tracing::debug!("dns: listening on {local} (udp, tcp)");
        Ok(Handle {
            local,
            shutdown,
            tasks,
        })
    }
}

impl Handle {
    /// The address the server listens on (UDP and TCP).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stops the server: no new query is read, queries being forwarded are abandoned, and
    /// when this returns both sockets are closed (the address can be bound again).
    pub async fn stop(mut self) {
        self.shutdown.send_replace(true);
        for task in std::mem::take(&mut self.tasks) {
            // A listener task does not panic; if one did, there is nothing left to stop.
            let _ = task.await;
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Binds UDP then TCP on the port UDP got (with port 0, retrying when that port is taken
/// for TCP). Both non-blocking, ready for tokio.
fn bind_pair(
    bind: Ipv4Addr,
    port: u16,
) -> Result<(std::net::UdpSocket, std::net::TcpListener, SocketAddr)> {
    let asked = SocketAddr::from((bind, port));
    let mut attempts = if port == 0 { 20 } else { 1 };
    loop {
        attempts -= 1;
        let udp = std::net::UdpSocket::bind(asked).map_err(|e| Error::bind(asked, "udp", e))?;
        let local = udp.local_addr().map_err(|source| Error::Socket {
            addr: asked,
            proto: "udp",
            source,
        })?;
        // std sets SO_REUSEADDR on listeners: a restarted daemon binds again at once.
        let tcp = match std::net::TcpListener::bind(local) {
            Ok(tcp) => tcp,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempts > 0 => continue,
            Err(e) => return Err(Error::bind(local, "tcp", e)),
        };
        let nonblocking = |proto, r: std::io::Result<()>| {
            r.map_err(|source| Error::Socket {
                addr: local,
                proto,
                source,
            })
        };
        nonblocking("udp", udp.set_nonblocking(true))?;
        nonblocking("tcp", tcp.set_nonblocking(true))?;
        return Ok((udp, tcp, local));
    }
}

async fn udp_loop(sock: UdpSocket, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let sock = Arc::new(sock);
    let mut forwards = JoinSet::new();
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    loop {
        tokio::select! {
            biased;
            () = until_stopped(&mut stopped) => break,
            Some(_) = forwards.join_next(), if !forwards.is_empty() => {}
            received = sock.recv_from(&mut buf) => {
                let (n, peer) = match received {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::debug!("dns: udp receive on {}: {e}", shared.bind);
                        tokio::time::sleep(ERROR_PAUSE).await;
                        continue;
                    }
                };
                let SocketAddr::V4(source) = peer else { continue };
                let packet = &buf[..n];
                match handle(packet, shared.bind, *source.ip(), &shared.table, Transport::Udp) {
                    Outcome::Drop => {}
                    Outcome::Reply(answer) => send(&sock, &answer, peer).await,
                    Outcome::Forward { servfail, udp_size } => {
                        let Ok(permit) = Arc::clone(&shared.in_flight).try_acquire_owned() else {
                            send(&sock, &servfail, peer).await;
                            continue;
                        };
                        let packet = packet.to_vec();
                        let (sock, shared) = (Arc::clone(&sock), Arc::clone(&shared));
                        forwards.spawn(async move {
                            let answer = shared.upstreams.forward_udp(&packet, udp_size).await;
                            drop(permit);
                            send(&sock, answer.as_deref().unwrap_or(&servfail), peer).await;
                        });
                    }
                }
            }
        }
    }
    forwards.shutdown().await;
}

/// Returns when the handle asks the tasks to stop (or is gone).
async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

async fn send(sock: &UdpSocket, answer: &[u8], peer: SocketAddr) {
    if let Err(e) = sock.send_to(answer, peer).await {
        tracing::debug!("dns: udp answer to {peer}: {e}");
    }
}

async fn tcp_loop(listener: TcpListener, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let mut clients = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = until_stopped(&mut stopped) => break,
            Some(_) = clients.join_next(), if !clients.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, SocketAddr::V4(peer))) => {
                    if clients.len() >= MAX_TCP_CONNECTIONS {
                        tracing::debug!("dns: too many tcp clients on {}, closing {peer}", shared.bind);
                        continue;
                    }
                    clients.spawn(serve_tcp(stream, *peer.ip(), Arc::clone(&shared)));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!("dns: tcp accept on {}: {e}", shared.bind);
                    tokio::time::sleep(ERROR_PAUSE).await;
                }
            }
        }
    }
    clients.shutdown().await;
}

/// Serves one TCP client: length-prefixed queries, one after the other.
async fn serve_tcp(mut stream: TcpStream, source: Ipv4Addr, shared: Arc<Shared>) {
    loop {
        let Ok(Ok(len)) = timeout(TCP_IDLE, stream.read_u16()).await else {
            return;
        };
        let mut packet = vec![0u8; usize::from(len)];
        if !matches!(
            timeout(TCP_IDLE, stream.read_exact(&mut packet)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        let answer = match handle(&packet, shared.bind, source, &shared.table, Transport::Tcp) {
            Outcome::Drop => return,
            Outcome::Reply(answer) => answer,
            Outcome::Forward { servfail, .. } => {
                match Arc::clone(&shared.in_flight).try_acquire_owned() {
                    Ok(_permit) => shared
                        .upstreams
                        .forward_tcp(&packet)
                        .await
                        .unwrap_or(servfail),
                    Err(_) => servfail,
                }
            }
        };
        let Ok(len) = u16::try_from(answer.len()) else {
            return;
        };
        let mut out = Vec::with_capacity(answer.len() + 2);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&answer);
        if !matches!(timeout(TCP_IDLE, stream.write_all(&out)).await, Ok(Ok(()))) {
            return;
        }
    }
}
