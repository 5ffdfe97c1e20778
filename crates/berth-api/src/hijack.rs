//! Hijacked connections (attach, exec start): `101 UPGRADED`, then raw bytes both ways.
//!
//! The client half-closes its write side when it has no more input (at once when stdin is
//! not attached); that becomes `shutdown()` of the [`Hijack`] writer, the process's stdin
//! EOF, while output keeps flowing. When the process's output ends the connection is
//! flushed and closed, whatever the client is still doing.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_model::Hijack;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

/// Whether the client asked to upgrade (`Connection: Upgrade`, `Upgrade: tcp`).
fn wants_upgrade(req: &Request) -> bool {
    let has = |name: header::HeaderName, token: &str| {
        req.headers().get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    has(header::CONNECTION, "upgrade") && req.headers().contains_key(header::UPGRADE)
}

/// Answers `req` with the hijacked stream `hijack`, typed `content_type`.
///
/// With upgrade headers: `101 UPGRADED` and a spliced connection. Without (old clients):
/// `200` with the output as the body and stdin closed at once, as dockerd does for
/// non-upgrading attach requests.
pub fn respond(mut req: Request, hijack: Hijack, content_type: &'static str) -> Response {
    if !wants_upgrade(&req) {
        let (reader, mut writer) = tokio::io::split(hijack.io);
        // The split halves share the stream: dropping the writer after its shutdown
        // (stdin EOF) leaves the reader working.
        tokio::spawn(async move {
            let _ = writer.shutdown().await;
        });
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, content_type)],
            Body::from_stream(ReaderStream::new(reader)),
        )
            .into_response();
    }
    let settle = buffered_reader_client(&req);
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => splice(TokioIo::new(upgraded), hijack, settle).await,
            Err(e) => tracing::debug!("hijack: upgrade failed: {e}"),
        }
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    response
        .extensions_mut()
        .insert(hyper::ext::ReasonPhrase::from_static(b"UPGRADED"));
    response
}

/// The Python SDK parses the 101 response through a buffered reader and then reads the
/// raw socket under it, so stream bytes that arrive together with the headers are lost in
/// that buffer (a fast `exec_run` came back empty about one time in three). For it, the
/// first output waits a moment after the headers; other clients get no delay.
fn buffered_reader_client(req: &Request) -> Option<std::time::Duration> {
    let ua = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    (ua.starts_with("docker-sdk-python") || ua.starts_with("python-requests"))
        .then_some(std::time::Duration::from_millis(30))
}

/// Copies both directions until the process's output ends.
async fn splice<C>(conn: C, hijack: Hijack, settle: Option<std::time::Duration>)
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut conn_r, mut conn_w) = tokio::io::split(conn);
    let (mut proc_r, mut proc_w) = tokio::io::split(hijack.io);
    let input = tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match conn_r.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    if proc_w.write_all(&buf[..n]).await.is_err() {
                        return proc_w;
                    }
                    let _ = proc_w.flush().await;
                }
                Err(e) => {
                    tracing::debug!("hijack: client read: {e}");
                    break;
                }
            }
        }
        let _ = proc_w.shutdown().await;
        proc_w
    });
    if let Some(d) = settle {
        tokio::time::sleep(d).await;
    }
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match proc_r.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                if conn_w.write_all(&buf[..n]).await.is_err() || conn_w.flush().await.is_err() {
                    break;
                }
            }
            Err(e) => {
                tracing::debug!("hijack: process output: {e}");
                break;
            }
        }
    }
    let _ = conn_w.flush().await;
    let _ = conn_w.shutdown().await;
    input.abort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    #[tokio::test]
    async fn splice_half_close_and_output_end() {
        let (client, server_side) = duplex(1024);
        let (proc_side, mut process) = duplex(1024);
        let task = tokio::spawn(splice(
            server_side,
            Hijack {
                tty: false,
                io: Box::new(proc_side),
            },
            None,
        ));
        let (mut client_r, mut client_w) = tokio::io::split(client);
        client_w.write_all(b"input").await.ok();
        client_w.shutdown().await.ok();
        let mut got = Vec::new();
        process.read_to_end(&mut got).await.ok();
        assert_eq!(got, b"input", "stdin reaches the process, then EOF");
        process.write_all(b"output").await.ok();
        drop(process);
        let mut out = Vec::new();
        client_r.read_to_end(&mut out).await.ok();
        assert_eq!(out, b"output");
        assert!(task.await.is_ok());
    }
}
