//! The Engine API client: HTTP/1.1 (hyper) over a unix socket, TCP or TLS over TCP
//! ([`crate::tls`] decides when, as docker does), with docker's version negotiation (`HEAD /_ping`, then `/v<version>/...` with the lower of the
//! daemon's `Api-Version` and ours), daemon errors as [`DaemonError`], and hijacked
//! connections (`Connection: Upgrade` / `Upgrade: tcp`, answered by `101 UPGRADED`) for
//! attach and exec.

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

use crate::json::J;
use crate::tls::TlsOptions;

/// The API version berth speaks at most (docker CLI 28's).
pub const MAX_API_VERSION: &str = "1.50";
/// Where berthd listens unless told otherwise.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";
/// Where the client goes when TLS is asked for and no host is given (docker's
/// `DefaultTLSHost`: 2376 is the TLS port, 2375 the plain one).
pub const DEFAULT_TLS_HOST: &str = "tcp://localhost:2376";

/// A request body.
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// A byte stream both ways (a unix or TCP socket, or an upgraded connection).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An error the daemon answered with; printed as docker prints it.
#[derive(Debug, Clone)]
pub struct DaemonError {
    /// HTTP status.
    pub status: u16,
    /// The daemon's `message`.
    pub message: String,
}

impl std::fmt::Display for DaemonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Error response from daemon: {}", self.message)
    }
}

impl std::error::Error for DaemonError {}

/// The daemon is not reachable.
#[derive(Debug, Clone)]
pub struct ConnectError {
    /// The host as the user gave it.
    pub host: String,
    /// The socket error.
    pub cause: String,
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Cannot connect to the berth daemon at {}. Is berthd running? (start it with `berthd`, or point -H / DOCKER_HOST at a running daemon): {}",
            self.host, self.cause
        )
    }
}

impl std::error::Error for ConnectError {}

#[derive(Debug, Clone)]
enum Addr {
    Unix(String),
    Tcp(String),
}

/// TLS to a `tcp://` daemon: the configuration and the name its certificate must carry.
#[derive(Debug, Clone)]
struct Tls {
    config: Arc<rustls::ClientConfig>,
    name: rustls::pki_types::ServerName<'static>,
}

/// A client for one daemon.
#[derive(Debug, Clone)]
pub struct Client {
    host: String,
    addr: Addr,
    tls: Option<Tls>,
    version: String,
    forced_version: Option<String>,
}

/// An empty body.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A JSON body, newline-terminated as Go's `json.Encoder` writes it (docker's bodies).
pub fn json_body(v: &J) -> Body {
    Full::new(Bytes::from(format!("{}\n", v.to_compact())))
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A body streamed from a reader (sent chunked).
pub fn reader_body(r: impl AsyncRead + Unpin + Send + 'static) -> Body {
    let stream = futures_util::stream::unfold(r, |mut r| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match r.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Frame::data(Bytes::from(buf))), r))
            }
            Err(e) => Some((Err(e), r)),
        }
    });
    StreamBody::new(stream).boxed_unsync()
}

/// Percent-encodes a query value the way Go's `url.Values.Encode` does.
pub fn qs(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Percent-encodes a path segment (names with `/` in image references stay as they are,
/// like Go's `url.PathEscape` is not applied by docker to image names).
pub fn path_seg(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'/'
            | b':'
            | b'@' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Builds `path?k=v&...` from pairs, leaving out nothing (callers choose what to send).
pub fn with_query(path: &str, q: &[(&str, String)]) -> String {
    if q.is_empty() {
        return path.to_string();
    }
    let mut sorted: Vec<_> = q.iter().collect();
    // url.Values.Encode sorts by key.
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let parts: Vec<String> = sorted
        .iter()
        .map(|(k, v)| format!("{}={}", qs(k), qs(v)))
        .collect();
    format!("{path}?{}", parts.join("&"))
}

impl Client {
    /// A client for `host` (`unix:///path`, `tcp://h:p`, `http://h:p` or a bare path).
    pub fn new(host: &str) -> anyhow::Result<Client> {
        Client::parse(host, false)
    }

    /// The same client speaking TLS as `opts` say, for a `tcp://` host (a `tcp://` host
    /// without a port then means 2376); unix sockets stay plain. Reads the certificate
    /// files, so their errors come from here.
    pub fn with_tls(self, opts: &TlsOptions) -> anyhow::Result<Client> {
        let mut client = Client::parse(&self.host, true)?;
        client.version = self.version;
        if let Addr::Tcp(addr) = &client.addr {
            client.tls = Some(Tls {
                config: crate::tls::client_config(opts)?,
                name: crate::tls::server_name(addr)?,
            });
        }
        Ok(client)
    }

    fn parse(host: &str, tls: bool) -> anyhow::Result<Client> {
        let addr = if let Some(p) = host.strip_prefix("unix://") {
            Addr::Unix(p.to_string())
        } else if let Some(t) = host
            .strip_prefix("tcp://")
            .or_else(|| host.strip_prefix("http://"))
        {
            let t = t.trim_end_matches('/');
            let t = if t.is_empty() { "localhost" } else { t };
            Addr::Tcp(
                if t.rsplit_once(':').is_some_and(|(_, p)| !p.contains(']')) {
                    t.to_string()
                } else {
                    format!("{t}:{}", if tls { 2376 } else { 2375 })
                },
            )
        } else if host.starts_with('/') {
            Addr::Unix(host.to_string())
        } else {
            anyhow::bail!("invalid host {host:?}: use unix:///path/to/socket or tcp://host:port");
        };
        let forced_version = std::env::var("DOCKER_API_VERSION")
            .ok()
            .filter(|v| !v.is_empty());
        Ok(Client {
            host: host.to_string(),
            addr,
            tls: None,
            version: MAX_API_VERSION.into(),
            forced_version,
        })
    }

    /// The negotiated API version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The daemon address as given.
    pub fn host(&self) -> &str {
        &self.host
    }

    async fn connect(&self) -> anyhow::Result<Pin<Box<dyn Io>>> {
        let cerr = |e: std::io::Error| ConnectError {
            host: self.host.clone(),
            cause: e.to_string(),
        };
        Ok(match (&self.addr, &self.tls) {
            (Addr::Unix(p), _) => Box::pin(UnixStream::connect(p).await.map_err(cerr)?),
            (Addr::Tcp(a), None) => Box::pin(TcpStream::connect(a).await.map_err(cerr)?),
            (Addr::Tcp(a), Some(tls)) => {
                let tcp = TcpStream::connect(a).await.map_err(cerr)?;
                let _ = tcp.set_nodelay(true);
                let stream = tokio_rustls::TlsConnector::from(tls.config.clone())
                    .connect(tls.name.clone(), tcp)
                    .await
                    .map_err(|e| anyhow::anyhow!("TLS handshake with {} failed: {e}", self.host))?;
                Box::pin(stream)
            }
        })
    }

    async fn roundtrip(&self, req: Request<Body>) -> anyhow::Result<Response<Incoming>> {
        let io = self.connect().await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        match sender.send_request(req).await {
            Ok(res) => Ok(res),
            // With TLS 1.3 a daemon refusing our certificate (or its absence) says so
            // only after our side of the handshake is done: the alert is the first answer.
            Err(e) if self.tls.is_some() => Err(anyhow::Error::new(e)
                .context(format!("the TLS connection to {} failed", self.host))),
            Err(e) => Err(e.into()),
        }
    }

    /// `HEAD /_ping` and version negotiation; call once before anything else.
    pub async fn negotiate(&mut self) -> anyhow::Result<()> {
        let req = self.request(Method::HEAD, "/_ping", empty(), &[], false)?;
        let res = self.roundtrip(req).await?;
        let server = res
            .headers()
            .get("api-version")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("1.24")
            .to_string();
        self.version = match &self.forced_version {
            Some(v) => v.clone(),
            None if version_lt(&server, MAX_API_VERSION) => server,
            None => MAX_API_VERSION.into(),
        };
        Ok(())
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Body,
        headers: &[(&str, &str)],
        versioned: bool,
    ) -> anyhow::Result<Request<Body>> {
        let uri = if versioned {
            format!("/v{}{path}", self.version)
        } else {
            path.to_string()
        };
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header("Host", "api.moby.localhost")
            .header(
                "User-Agent",
                concat!("Berth-Client/", env!("CARGO_PKG_VERSION"), " (linux)"),
            );
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        Ok(b.body(body)?)
    }

    /// Sends a request; answers with status >= 400 become [`DaemonError`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Body,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<Response<Incoming>> {
        let req = self.request(method, path, body, headers, true)?;
        let res = self.roundtrip(req).await?;
        if res.status().as_u16() >= 400 {
            let status = res.status().as_u16();
            let bytes = res
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let message = match J::parse(&bytes) {
                Ok(j) if j.get("message").is_some() => j.str_of("message").to_string(),
                _ => String::from_utf8_lossy(&bytes).trim().to_string(),
            };
            return Err(DaemonError { status, message }.into());
        }
        Ok(res)
    }

    /// A request without a body whose JSON answer is returned (`J::Null` for no content).
    pub async fn get(&self, path: &str) -> anyhow::Result<J> {
        self.json(Method::GET, path, None).await
    }

    /// A POST without a body, its answer discarded.
    pub async fn post(&self, path: &str) -> anyhow::Result<()> {
        let res = self.send(Method::POST, path, empty(), &[]).await?;
        res.into_body().collect().await?;
        Ok(())
    }

    /// A request with an optional JSON body whose JSON answer is returned.
    pub async fn json(&self, method: Method, path: &str, body: Option<&J>) -> anyhow::Result<J> {
        let raw = self.raw(method, path, body).await?;
        if raw.is_empty() {
            return Ok(J::Null);
        }
        J::parse(&raw).map_err(|e| anyhow::anyhow!("the daemon sent {e} for {path}"))
    }

    /// Like [`Client::json`] but returns the raw answer bytes.
    pub async fn raw(&self, method: Method, path: &str, body: Option<&J>) -> anyhow::Result<Bytes> {
        let (b, h): (Body, &[(&str, &str)]) = match body {
            Some(j) => (json_body(j), &[("Content-Type", "application/json")]),
            None => (empty(), &[]),
        };
        let res = self.send(method, path, b, h).await?;
        Ok(res.into_body().collect().await?.to_bytes())
    }

    /// Hijacks a connection: sends the request with `Upgrade: tcp` and returns the raw
    /// stream once the daemon answers `101`.
    pub async fn hijack(
        &self,
        path: &str,
        body: Option<&J>,
    ) -> anyhow::Result<TokioIo<hyper::upgrade::Upgraded>> {
        let (b, ct) = match body {
            Some(j) => (json_body(j), "application/json"),
            None => (empty(), "text/plain"),
        };
        let req = self.request(
            Method::POST,
            path,
            b,
            &[
                ("Connection", "Upgrade"),
                ("Content-Type", ct),
                ("Upgrade", "tcp"),
            ],
            true,
        )?;
        let res = self.roundtrip(req).await?;
        if res.status() != StatusCode::SWITCHING_PROTOCOLS {
            let status = res.status().as_u16();
            let bytes = res
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let message = match J::parse(&bytes) {
                Ok(j) if j.get("message").is_some() => j.str_of("message").to_string(),
                _ if status < 400 => format!(
                    "the daemon answered {status} instead of 101 to the upgrade request for {path}"
                ),
                _ => String::from_utf8_lossy(&bytes).trim().to_string(),
            };
            return Err(DaemonError { status, message }.into());
        }
        Ok(TokioIo::new(hyper::upgrade::on(res).await?))
    }
}

/// Whether API version `a` is lower than `b` ("1.41" < "1.50").
pub fn version_lt(a: &str, b: &str) -> bool {
    let parse = |s: &str| -> Vec<u32> { s.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parse(a) < parse(b)
}

/// The daemon address: `-H` wins, then `BERTH_HOST`, then `DOCKER_HOST`, then the default
/// ([`DEFAULT_TLS_HOST`] when TLS is asked for, as docker does).
pub fn resolve_host(flag: Option<&str>, tls: bool) -> String {
    if let Some(h) = flag.filter(|h| !h.is_empty()) {
        return h.to_string();
    }
    for var in ["BERTH_HOST", "DOCKER_HOST"] {
        if let Ok(h) = std::env::var(var) {
            if !h.is_empty() {
                return h;
            }
        }
    }
    if tls { DEFAULT_TLS_HOST } else { DEFAULT_HOST }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_encoding_like_go() {
        assert_eq!(
            with_query(
                "/images/create",
                &[
                    ("tag", "latest".into()),
                    ("fromImage", "127.0.0.1:5000/busybox".into())
                ]
            ),
            "/images/create?fromImage=127.0.0.1%3A5000%2Fbusybox&tag=latest"
        );
        assert_eq!(qs("a b/c"), "a+b%2Fc");
        assert!(version_lt("1.41", "1.50"));
        assert!(!version_lt("1.50", "1.50"));
        assert!(version_lt("1.9", "1.10"));
    }

    #[test]
    fn hosts() -> anyhow::Result<()> {
        assert!(Client::new("unix:///run/x.sock").is_ok());
        assert!(Client::new("tcp://127.0.0.1:2375").is_ok());
        assert!(Client::new("ssh://x").is_err());
        let tcp = |h: &str, tls: bool| match Client::parse(h, tls).map(|c| c.addr) {
            Ok(Addr::Tcp(a)) => a,
            other => format!("{other:?}"),
        };
        assert_eq!(tcp("tcp://10.0.0.1", false), "10.0.0.1:2375");
        assert_eq!(tcp("tcp://10.0.0.1", true), "10.0.0.1:2376");
        assert_eq!(tcp("tcp://10.0.0.1:4000/", true), "10.0.0.1:4000");
        assert_eq!(tcp("tcp://[::1]", true), "[::1]:2376");
        assert_eq!(tcp("tcp://[::1]:9", true), "[::1]:9");
        // --tls (no verification) reads no CA; the unix socket stays plain.
        let opts = TlsOptions {
            verify: false,
            ca: "/nonexistent/ca.pem".into(),
            cert: None,
            key: None,
        };
        assert!(Client::new("tcp://h")?.with_tls(&opts)?.tls.is_some());
        assert!(Client::new("unix:///x.sock")?
            .with_tls(&opts)?
            .tls
            .is_none());
        Ok(())
    }
}
