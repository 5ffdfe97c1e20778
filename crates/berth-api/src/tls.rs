//! TLS for TCP listeners, as dockerd serves `-H tcp://…` with `--tls`/`--tlsverify`.
//!
//! [`server_config`] is the policy (ring only, TLS 1.2 and 1.3, `http/1.1` by ALPN, client
//! certificates required and checked against the CA when one is given); the caller reads
//! the PEM files, so errors about files stay where the file names are. [`accept`] runs
//! the handshake of one accepted connection on its own task: a failed or stalled handshake
//! is logged at debug and ends that connection only, never the accept loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a client may take to complete the handshake. Its own task waits, not the
/// accept loop; the limit only frees the task (and the socket) of a client that stalls.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What Go's `net/http` answers to plain HTTP on a TLS port; the docker CLI prints it as
/// "Error response from daemon: Client sent an HTTP request to an HTTPS server."
const PLAIN_HTTP_ANSWER: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// A TLS server configuration that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// A CA certificate for client verification is not usable by webpki.
    #[error("CA certificate #{index} is not usable: {source}")]
    BadCa {
        /// 1-based position in the CA file.
        index: usize,
        /// Why webpki refused it.
        source: rustls::Error,
    },
    /// The CA file had no certificate in it.
    #[error("no CA certificate to verify clients against")]
    NoCa,
    /// The client verifier could not be built from the CA certificates.
    #[error("client certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// The key's public half is not the certificate's.
    #[error("the key does not belong to the server certificate (their public keys differ)")]
    KeyMismatch,
    /// An X.509 v1 certificate (what `openssl x509 -req` writes without `-extfile`):
    /// webpki takes only v3, and Go's TLS (dockerd) would have accepted it, so say how.
    #[error("the server certificate is X.509 v1, rustls needs v3: sign it with an -extfile (subjectAltName = IP:…, extendedKeyUsage = serverAuth) as Docker's guide does")]
    CertVersion,
    /// The certificate chain and key were refused for another reason (unsupported key
    /// type, unparsable certificate, empty chain).
    #[error("server certificate and key: {0}")]
    CertKey(rustls::Error),
    /// The protocol versions are not supported by the provider (cannot happen with ring).
    #[error("TLS versions: {0}")]
    Versions(rustls::Error),
}

/// Builds the server side of dockerd's TLS: the certificate chain `certs` (server first)
/// with its `key`, and with `client_cas` (`--tlsverify --tlscacert`) every client must
/// present a certificate chaining to one of them (`RequireAndVerifyClientCert`); without,
/// clients are not asked for one (`--tls`).
///
/// The provider is ring, passed explicitly so no process-wide default has to be installed.
/// ALPN offers only `http/1.1`: attach and exec hijack the connection with an HTTP/1.1
/// upgrade, which h2 cannot carry.
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_cas: Option<Vec<CertificateDer<'static>>>,
) -> Result<ServerConfig, TlsConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(TlsConfigError::Versions)?;
    let builder = match client_cas {
        Some(cas) => {
            if cas.is_empty() {
                return Err(TlsConfigError::NoCa);
            }
            let mut roots = RootCertStore::empty();
            for (i, ca) in cas.into_iter().enumerate() {
                roots.add(ca).map_err(|source| TlsConfigError::BadCa {
                    index: i + 1,
                    source,
                })?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build()?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            TlsConfigError::KeyMismatch
        }
        // webpki's error sits behind an opaque `OtherError`; its name is what is left.
        e if format!("{e:?}").contains("UnsupportedCertVersion") => TlsConfigError::CertVersion,
        e => TlsConfigError::CertKey(e),
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Completes the handshake on `stream` and serves the API on it; on failure logs at debug
/// and drops the connection. Plain HTTP gets Go's `400` answer first, as dockerd gives it.
pub(crate) async fn accept(
    app: Router,
    acceptor: tokio_rustls::TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
) {
    let handshake = async move {
        let mut first = [0u8; 1];
        if stream.peek(&mut first).await? == 0 {
            return Ok(None);
        }
        // Every TLS connection opens with a handshake record (content type 22).
        if first[0] != 0x16 {
            refuse_plain(stream).await?;
            return Ok(None);
        }
        acceptor.accept(stream).await.map(Some)
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(Some(tls))) => crate::serve_connection(app, tls).await,
        Ok(Ok(None)) => tracing::debug!(%peer, "TCP connection closed before any TLS handshake"),
        Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
    }
}

/// Answers a client that did not start with a TLS handshake: Go's `400` when its first
/// bytes look like an HTTP request (what Go's `tlsRecordHeaderLooksLikeHTTP` checks),
/// nothing otherwise. The rest of the request is drained after our half-close so the
/// close is a FIN, not a reset that could discard the answer before the client reads it.
async fn refuse_plain(mut stream: TcpStream) -> std::io::Result<()> {
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).await?;
    if !matches!(&head, b"GET /" | b"HEAD " | b"POST " | b"PUT /" | b"OPTIO") {
        return Err(std::io::Error::other(format!(
            "not a TLS handshake (first bytes {head:02x?})"
        )));
    }
    stream.write_all(PLAIN_HTTP_ANSWER).await?;
    stream.shutdown().await?;
    let mut sink = [0u8; 4096];
    let drain = async { while stream.read(&mut sink).await.unwrap_or(0) > 0 {} };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
    Err(std::io::Error::other(
        "plain HTTP on the TLS port: answered 400",
    ))
}
