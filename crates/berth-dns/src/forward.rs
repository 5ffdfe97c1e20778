//! Forwarding to the upstream resolvers: the client's packet goes out unchanged (its query
//! id included) and the first good answer comes back unchanged.
//!
//! Each upstream is tried in order with its own timeout. UDP queries go out over a fresh
//! connected UDP socket (a random source port per query, and only the upstream's packets
//! are read); TCP queries over a new TCP connection. An answer is good when its id is the
//! query's and it is a response; SERVFAIL and REFUSED answers move on to the next upstream
//! and are relayed only when no upstream does better.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{timeout, timeout_at, Instant};

/// How long one upstream gets to answer, unless [`Upstreams::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// How many forwarded queries one listener runs at once, unless
/// [`Upstreams::with_max_in_flight`] says otherwise.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;

/// The resolvers unknown names go to, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstreams {
    servers: Vec<SocketAddr>,
    timeout: Duration,
    max_in_flight: usize,
}

impl Upstreams {
    /// `servers`, tried in order, with the default timeout and bound.
    pub fn new(servers: impl IntoIterator<Item = SocketAddr>) -> Self {
        Upstreams {
            servers: servers.into_iter().collect(),
            timeout: DEFAULT_TIMEOUT,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }

    /// The `nameserver` lines of a resolv.conf (port 53), without loopback addresses (they
    /// mean a resolver in the host's namespace, such as systemd-resolved's 127.0.0.53, which
    /// the engine should replace by the resolvers behind it) and without addresses that do
    /// not parse (such as IPv6 link-local ones with a zone).
    pub fn from_resolv_conf(text: &str) -> Self {
        let servers = text.lines().filter_map(|line| {
            let mut words = line.split_whitespace();
            if words.next() != Some("nameserver") {
                return None;
            }
            let ip: IpAddr = words.next()?.parse().ok()?;
            (!ip.is_loopback() && !ip.is_unspecified()).then_some(SocketAddr::new(ip, 53))
        });
        Self::new(servers)
    }

    /// Each upstream gets `timeout` to answer before the next is tried.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// At most `max` forwarded queries at once per listener (at least 1); queries beyond it
    /// get SERVFAIL at once.
    pub fn with_max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max.max(1);
        self
    }

    /// The resolvers, in the order they are tried.
    pub fn servers(&self) -> &[SocketAddr] {
        &self.servers
    }

    /// The time each upstream gets.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The bound on concurrent forwarded queries.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// Relays the UDP query `packet`, whose client takes answers up to `max_size` bytes;
    /// `None` when no upstream answered.
    pub(crate) async fn forward_udp(&self, packet: &[u8], max_size: u16) -> Option<Vec<u8>> {
        let mut fallback = None;
        for &server in &self.servers {
            match udp_exchange(server, packet, max_size, self.timeout).await {
                Ok(answer) if is_final(&answer) => return Some(answer),
                Ok(answer) => fallback = Some(answer),
                Err(e) => tracing::debug!("dns: upstream {server} (udp): {e}"),
            }
        }
        fallback
    }

    /// Relays the TCP query `packet` (without its length prefix); `None` when no upstream
    /// answered.
    pub(crate) async fn forward_tcp(&self, packet: &[u8]) -> Option<Vec<u8>> {
        let mut fallback = None;
        for &server in &self.servers {
            match timeout(self.timeout, tcp_exchange(server, packet)).await {
                Ok(Ok(answer)) if is_final(&answer) => return Some(answer),
                Ok(Ok(answer)) => fallback = Some(answer),
                Ok(Err(e)) => tracing::debug!("dns: upstream {server} (tcp): {e}"),
                Err(_) => tracing::debug!("dns: upstream {server} (tcp): timed out"),
            }
        }
        fallback
    }
}

/// An answer to stop at: anything but SERVFAIL (2) and REFUSED (5).
fn is_final(answer: &[u8]) -> bool {
    !matches!(answer.get(3).map(|b| b & 0x0f), Some(2 | 5))
}

/// Whether `answer` is a response to `query` (same id, QR set, a full header).
fn answers(query: &[u8], answer: &[u8]) -> bool {
    answer.len() >= 12 && query.get(..2) == answer.get(..2) && answer[2] & 0x80 != 0
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

async fn udp_exchange(
    server: SocketAddr,
    packet: &[u8],
    max_size: u16,
    limit: Duration,
) -> std::io::Result<Vec<u8>> {
    let deadline = Instant::now() + limit;
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(local).await?;
    sock.connect(server).await?;
    sock.send(packet).await?;
    // Room for what the client can take, and for what misbehaving servers send beyond it.
    let mut buf = vec![0u8; usize::from(max_size.max(4096))];
    loop {
        let n = timeout_at(deadline, sock.recv(&mut buf))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"))??;
        // Anything else on this port (a late answer to nothing, a forgery) is skipped.
        if answers(packet, &buf[..n]) {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn tcp_exchange(server: SocketAddr, packet: &[u8]) -> std::io::Result<Vec<u8>> {
    let len = u16::try_from(packet.len()).map_err(|_| invalid("query too long"))?;
    let mut stream = TcpStream::connect(server).await?;
    let mut out = Vec::with_capacity(packet.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(packet);
    stream.write_all(&out).await?;
    let n = stream.read_u16().await?;
    let mut answer = vec![0u8; usize::from(n)];
    stream.read_exact(&mut answer).await?;
    if !answers(packet, &answer) {
        return Err(invalid("the answer does not match the query"));
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_drops_loopback_and_junk() {
        let up = Upstreams::from_resolv_conf(
            "# comment\nsearch example.org\nnameserver 127.0.0.53\nnameserver 192.0.2.1\n\
             nameserver ::1\nnameserver 2001:db8::1\nnameserver fe80::1%eth0\n  nameserver \
             198.51.100.7 # trailing\noptions edns0\nnameserver\n",
        );
        let want: Vec<SocketAddr> = vec![
            "192.0.2.1:53".parse().expect("addr"),
            "[2001:db8::1]:53".parse().expect("addr"),
            "198.51.100.7:53".parse().expect("addr"),
        ];
        assert_eq!(up.servers(), want);
        assert_eq!(up.timeout(), DEFAULT_TIMEOUT);
        assert_eq!(up.with_max_in_flight(0).max_in_flight(), 1);
    }

    #[test]
    fn answer_checks() {
        let q = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        let mut a = q;
        a[2] = 0x81;
        a[3] = 0x80;
        assert!(answers(&q, &a) && is_final(&a));
        a[3] = 0x82;
        assert!(!is_final(&a));
        a[3] = 0x83;
        assert!(is_final(&a), "NXDOMAIN is an answer");
        assert!(!answers(&q, &q), "not a response");
        assert!(!answers(&q, &a[..11]));
        a[0] = 0;
        assert!(!answers(&q, &a));
    }
}
