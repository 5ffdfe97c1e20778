//! Docker-shaped errors: `{"message": "..."}` with the status of the [`ErrorKind`].

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_model::{Error, ErrorKind};

/// An error on its way to the client. 304 is sent with an empty body, as dockerd does.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl ApiError {
    /// 400 with `message`.
    pub fn bad_request(message: impl std::fmt::Display) -> Self {
        ApiError(Error::invalid(message))
    }
    /// 501 naming the feature.
    pub fn not_implemented(what: &str) -> Self {
        ApiError(Error::not_implemented(format!(
            "{what} is not supported by berth yet"
        )))
    }
    /// 404 for an unknown route (dockerd's wording).
    pub fn page_not_found() -> Self {
        ApiError(Error::not_found("page not found"))
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

/// The HTTP status of an error kind.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidArgument => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::NotModified => StatusCode::NOT_MODIFIED,
        ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `{"message": ...}` followed by a newline, as Go's JSON encoder writes it.
pub fn message_body(message: &str) -> Vec<u8> {
    let mut body = serde_json::json!({ "message": message })
        .to_string()
        .into_bytes();
    body.push(b'\n');
    body
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(self.0.kind);
        if status == StatusCode::NOT_MODIFIED {
            return status.into_response();
        }
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), "{}", self.0.message);
        } else {
            tracing::debug!(status = status.as_u16(), "{}", self.0.message);
        }
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            message_body(&self.0.message),
        )
            .into_response()
    }
}

/// Result of handlers.
pub type ApiResult<T> = std::result::Result<T, ApiError>;
