//! `Listener::Tls` with dockerd's `--tlsverify` policy, against clients built with
//! tokio-rustls and certificates made here with rcgen: a client with a certificate from the
//! CA is served (`_ping`, and a hijacked attach with half-close, as over a unix socket);
//! clients without a certificate, with one from another CA, speaking plain HTTP or
//! stalling are refused, and none of them stops the accept loop.

mod fake;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use berth_api::{router, serve, tls::server_config, Listener};
use fake::Fake;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Error = Box<dyn std::error::Error>;

/// A CA that signs leaf certificates.
struct Ca {
    cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Result<Ca, Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key)?.der().clone();
        Ok(Ca {
            cert,
            issuer: Issuer::new(params, key),
        })
    }

    /// A leaf for `sans` (empty for a client): its chain (leaf only) and key.
    fn leaf(
        &self,
        sans: &[&str],
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
        let key = KeyPair::generate()?;
        let mut params =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name.push(DnType::CommonName, "leaf");
        let cert = params.signed_by(&key, &self.issuer)?.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((vec![cert], key))
    }
}

struct Server {
    addr: SocketAddr,
    ca: Ca,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TLS listener on 127.0.0.1 requiring client certificates from its CA.
async fn start(fake: Arc<Fake>) -> Result<Server, Error> {
    let ca = Ca::new("berth test CA")?;
    let (chain, key) = ca.leaf(&["127.0.0.1"])?;
    let config = server_config(chain, key, Some(vec![ca.cert.clone()]))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(serve(
        router(fake),
        vec![Listener::Tls(listener, Arc::new(config))],
        std::future::pending(),
    ));
    Ok(Server { addr, ca, task })
}

/// A client trusting `ca`, presenting `identity` if any, limited to TLS 1.2 if `tls12`.
fn client(
    ca: &CertificateDer<'static>,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    tls12: bool,
) -> Result<tokio_rustls::TlsConnector, Error> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone())?;
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12 {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)?
            .with_root_certificates(roots);
    let config = match identity {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key)?,
        None => builder.with_no_client_auth(),
    };
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// Sends `GET /_ping` on `s` and returns everything read until the server closes (or the
/// read error that ended it).
async fn ping_on(mut s: impl AsyncRead + AsyncWrite + Unpin) -> Result<String, String> {
    let req = b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    s.write_all(req).await.map_err(|e| format!("write: {e}"))?;
    let mut out = Vec::new();
    match tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await {
        Ok(Ok(_)) => Ok(String::from_utf8_lossy(&out).into_owned()),
        Ok(Err(e)) => Err(format!(
            "read: {e} (after {:?})",
            String::from_utf8_lossy(&out)
        )),
        Err(_) => Err("timed out".into()),
    }
}

/// Connects with `connector` and pings: `Ok(reply)` or what failed.
async fn ping(server: &Server, connector: &tokio_rustls::TlsConnector) -> Result<String, String> {
    let tcp = TcpStream::connect(server.addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let name = ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    ping_on(tls).await
}

fn is_pong(reply: &Result<String, String>) -> bool {
    reply
        .as_ref()
        .is_ok_and(|r| r.starts_with("HTTP/1.1 200 OK\r\n") && r.ends_with("OK"))
}

#[tokio::test]
async fn verified_clients_only() -> TestResult {
    let server = start(Fake::new()).await?;
    let good = client(&server.ca.cert, Some(server.ca.leaf(&[])?), false)?;
    let reply = ping(&server, &good).await;
    assert!(is_pong(&reply), "{reply:?}");

    // No certificate: with TLS 1.3 our handshake completes and the server's alert is
    // the answer to the request; with TLS 1.2 the handshake itself fails.
    for tls12 in [false, true] {
        let reply = ping(&server, &client(&server.ca.cert, None, tls12)?).await;
        assert!(
            reply.as_ref().is_err_and(|e| e.contains("CertificateRequired")
                || e.contains("HandshakeFailure")),
            "no client certificate (tls12={tls12}): {reply:?}"
        );
    }

    // A certificate from another CA.
    let other = Ca::new("another CA")?;
    for tls12 in [false, true] {
        let reply = ping(
            &server,
            &client(&server.ca.cert, Some(other.leaf(&[])?), tls12)?,
        )
        .await;
        assert!(
            reply.as_ref().is_err_and(|e| e.contains("UnknownCA")
                || e.contains("BadCertificate")
                || e.contains("DecryptError")),
            "client certificate from another CA (tls12={tls12}): {reply:?}"
        );
    }

    // The client refuses a server whose certificate is not from the CA it trusts.
    let reply = ping(
        &server,
        &client(&other.cert, Some(server.ca.leaf(&[])?), false)?,
    )
    .await;
    assert!(
        reply.as_ref().is_err_and(|e| e.starts_with("handshake:")),
        "{reply:?}"
    );

    // Plain HTTP: Go's answer, as dockerd gives it.
    let reply = ping_on(TcpStream::connect(server.addr).await?).await;
    assert_eq!(
        reply.as_deref(),
        Ok("HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
    );
    // Anything else that is not TLS: the connection is closed.
    let mut junk = TcpStream::connect(server.addr).await?;
    junk.write_all(b"\x00\x01\x02\x03\x04\x05").await?;
    let mut out = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), junk.read_to_end(&mut out)).await?;
    assert!(n.is_err() || out.is_empty(), "{out:?}");

    // A client that connects and says nothing holds only its own task.
    let _stalled = TcpStream::connect(server.addr).await?;
    let reply = ping(&server, &good).await;
    assert!(
        is_pong(&reply),
        "the accept loop survives failed handshakes: {reply:?}"
    );
    Ok(())
}

#[tokio::test]
async fn no_client_verification_without_a_ca() -> TestResult {
    let ca = Ca::new("server CA")?;
    let (chain, key) = ca.leaf(&["127.0.0.1"])?;
    let config = server_config(chain, key, None)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server = Server {
        addr: listener.local_addr()?,
        task: tokio::spawn(serve(
            router(Fake::new()),
            vec![Listener::Tls(listener, Arc::new(config))],
            std::future::pending(),
        )),
        ca,
    };
    let reply = ping(&server, &client(&server.ca.cert, None, false)?).await;
    assert!(
        is_pong(&reply),
        "--tls: no client certificate needed: {reply:?}"
    );
    Ok(())
}

#[tokio::test]
async fn bad_configurations_are_errors() -> TestResult {
    let ca = Ca::new("CA")?;
    let (chain, _) = ca.leaf(&["127.0.0.1"])?;
    let (_, other_key) = ca.leaf(&["127.0.0.1"])?;
    let err = server_config(chain.clone(), other_key, None).err();
    assert!(
        err.as_ref()
            .is_some_and(|e| matches!(e, berth_api::tls::TlsConfigError::KeyMismatch)),
        "a key that is not the certificate's: {err:?}"
    );
    let (chain2, key2) = ca.leaf(&["127.0.0.1"])?;
    let err = server_config(chain2, key2, Some(Vec::new())).err();
    assert!(err.is_some(), "--tlsverify with an empty CA file");
    Ok(())
}

#[tokio::test]
async fn attach_hijack_over_tls() -> TestResult {
    let fake = Arc::new(Fake::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    if let Ok(mut h) = fake.hijacks.lock() {
        *h = Some(tx);
    }
    let server = start(fake).await?;
    let connector = client(&server.ca.cert, Some(server.ca.leaf(&[])?), false)?;
    let tcp = TcpStream::connect(server.addr).await?;
    let mut s = connector
        .connect(ServerName::try_from("127.0.0.1")?, tcp)
        .await?;
    s.write_all(b"POST /v1.41/containers/web/attach?stderr=1&stdin=1&stdout=1&stream=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: Upgrade\r\nContent-Type: text/plain\r\nUpgrade: tcp\r\n\r\n").await?;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut byte)).await??;
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    assert!(head.starts_with("HTTP/1.1 101 UPGRADED\r\n"), "{head}");
    let mut process = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await?
        .ok_or("no hijack handed out")?;

    s.write_all(b"echo hi\n").await?;
    s.flush().await?;
    let mut stdin = [0u8; 8];
    process.read_exact(&mut stdin).await?;
    assert_eq!(&stdin, b"echo hi\n");
    process.write_all(b"\x01\0\0\0\0\0\0\x03hi\n").await?;
    let mut frame = [0u8; 11];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut frame)).await??;
    assert_eq!(&frame, b"\x01\0\0\0\0\0\0\x03hi\n");

    // Our close_notify is the process's stdin EOF; output still flows after it, then the
    // server's close_notify ends the stream cleanly.
    s.shutdown().await?;
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), process.read_to_end(&mut rest)).await??;
    assert!(rest.is_empty());
    process.write_all(b"\x02\0\0\0\0\0\0\x04bye\n").await?;
    drop(process);
    let mut tail = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut tail)).await??;
    assert_eq!(tail, b"\x02\0\0\0\0\0\0\x04bye\n", "output then close");
    Ok(())
}
