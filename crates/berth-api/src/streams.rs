//! Response and request bodies: JSON documents, JSON-line streams, log framing, tar streams.

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_model::{BoxStream, ByteStream, LogFrame};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::error::{ApiError, ApiResult};

/// A JSON document followed by a newline (Go's `json.Encoder` output), with `status`.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> ApiResult<Response> {
    let mut body = serde_json::to_vec(value).map_err(|e| {
        ApiError(berth_model::Error::internal(format!(
            "encoding response: {e}"
        )))
    })?;
    body.push(b'\n');
    Ok((status, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// 200 with a JSON document.
pub fn ok_json<T: Serialize>(value: &T) -> ApiResult<Response> {
    json(StatusCode::OK, value)
}

/// 204 No Content.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// One JSON value per line, chunked, as long as `items` lasts. `sep` is `"\n"` for
/// events and stats and `"\r\n"` for progress messages (what dockerd writes).
pub fn json_lines<T: Serialize + Send + 'static>(
    items: BoxStream<T>,
    sep: &'static str,
) -> Response {
    let body = items.map(move |item| {
        let mut line = serde_json::to_vec(&item).map_err(std::io::Error::other)?;
        line.extend_from_slice(sep.as_bytes());
        Ok::<_, std::io::Error>(Bytes::from(line))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}

/// A tar stream (`application/x-tar`).
pub fn tar(stream: ByteStream) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-tar")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// A request body as a [`ByteStream`], never buffered whole.
pub fn body_stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map_err(std::io::Error::other))
}

/// Encodes one log record: Docker's 8-byte header (`[stream,0,0,0,len BE]`) unless the
/// container has a TTY, and the RFC 3339 time plus a space before the data when asked.
pub fn encode_log_frame(frame: &LogFrame, tty: bool, timestamps: bool) -> Bytes {
    let stamp_len = if timestamps { frame.time.len() + 1 } else { 0 };
    let len = stamp_len + frame.data.len();
    let mut out = BytesMut::with_capacity(len + 8);
    if !tty {
        out.put_u8(frame.stream.id());
        out.put_bytes(0, 3);
        out.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
    }
    if timestamps {
        out.put_slice(frame.time.as_bytes());
        out.put_u8(b' ');
    }
    out.put_slice(&frame.data);
    out.freeze()
}

/// Docker's stream content types (API 1.42 and later name the multiplexed one).
pub fn stream_content_type(tty: bool, version: crate::version::ApiVersion) -> &'static str {
    if tty || version < crate::version::ApiVersion(1, 42) {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_model::StdStream;

    #[test]
    fn frames() {
        let f = LogFrame {
            stream: StdStream::Stderr,
            time: "2024-05-01T10:00:00.123456789Z".into(),
            data: Bytes::from_static(b"hi\n"),
        };
        assert_eq!(
            &encode_log_frame(&f, false, false)[..],
            b"\x02\0\0\0\0\0\0\x03hi\n"
        );
        assert_eq!(
            &encode_log_frame(&f, true, true)[..],
            b"2024-05-01T10:00:00.123456789Z hi\n"
        );
        let framed = encode_log_frame(&f, false, true);
        assert_eq!(framed[7] as usize, 31 + 3);
    }
}
