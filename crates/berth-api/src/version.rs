//! API versioning as dockerd does it: every route also under `/vX.YY`, the version checked
//! against the supported range, and the daemon's identity headers on every response.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_model::{Engine, Error};
use tokio::sync::OnceCell;

use crate::error::ApiError;

/// The newest API version served. 1.47 is the last version before the multi-platform
/// image-store fields (`Descriptor`, `Manifests`, `ImageManifestDescriptor`, API 1.48) and
/// the removals of 1.49/1.50 that berth does not model; the docker 28 CLI (max 1.50)
/// negotiates down to it and the Python SDK's default (1.45) is inside the range.
pub const API_VERSION: ApiVersion = ApiVersion(1, 47);

/// The oldest API version accepted (dockerd 25+ minimum).
pub const MIN_API_VERSION: ApiVersion = ApiVersion(1, 24);

/// The `Builder-Version` advertised: "1" is the legacy builder (`POST /build`), the only
/// one the docker CLI may use when the daemon does not speak BuildKit's session protocol.
pub const BUILDER_VERSION: &str = "1";

/// An API version, `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion(pub u32, pub u32);

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

impl ApiVersion {
    /// Parses `1.41`.
    pub fn parse(s: &str) -> Option<ApiVersion> {
        let (a, b) = s.split_once('.')?;
        Some(ApiVersion(a.parse().ok()?, b.parse().ok()?))
    }
}

/// Shared state of the version layer: the `Server` header, computed once from the engine.
pub(crate) struct Identity {
    engine: Arc<dyn Engine>,
    server: OnceCell<HeaderValue>,
}

impl Identity {
    pub(crate) fn new(engine: Arc<dyn Engine>) -> Arc<Self> {
        Arc::new(Identity {
            engine,
            server: OnceCell::new(),
        })
    }

    async fn server_header(&self) -> HeaderValue {
        self.server
            .get_or_init(|| async {
                let version = match self.engine.version().await {
                    Ok(v) => v.version.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                let version = if version.is_empty() {
                    env!("CARGO_PKG_VERSION").to_string()
                } else {
                    version
                };
                HeaderValue::from_str(&format!("Docker/{version} (linux)"))
                    .unwrap_or(HeaderValue::from_static("Docker (linux)"))
            })
            .await
            .clone()
    }
}

/// Splits `/v1.41/containers/json` into (`1.41`, `/containers/json`); dockerd's route
/// pattern is `/v{version:[0-9.]+}`, so anything else is an unversioned path.
fn split_version(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/v")?;
    let end = rest.find('/').unwrap_or(rest.len());
    let (version, tail) = rest.split_at(end);
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    Some((version, tail))
}

fn rewrite_path(uri: &Uri, path: &str) -> Option<Uri> {
    let path = if path.is_empty() { "/" } else { path };
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(pq.parse().ok()?);
    Uri::from_parts(parts).ok()
}

/// The outer middleware: strips and checks the version prefix, records the version the
/// request speaks (an [`ApiVersion`] extension; unversioned requests speak the newest),
/// and stamps the identity headers on the response.
pub(crate) async fn layer(
    State(identity): State<Arc<Identity>>,
    mut req: Request,
    next: Next,
) -> Response {
    let mut version = API_VERSION;
    let path = req.uri().path().to_string();
    let mut response = None;
    if let Some((raw, tail)) = split_version(&path) {
        match ApiVersion::parse(raw) {
            Some(v) if v > API_VERSION => {
                response = Some(version_error(format!(
                    "client version {raw} is too new. Maximum supported API version is {API_VERSION}"
                )));
            }
            Some(v) if v < MIN_API_VERSION => {
                response = Some(version_error(format!(
                    "client version {raw} is too old. Minimum supported API version is \
                     {MIN_API_VERSION}, please upgrade your client to a newer version"
                )));
            }
            Some(v) => {
                version = v;
                match rewrite_path(req.uri(), tail) {
                    Some(uri) => *req.uri_mut() = uri,
                    None => response = Some(ApiError::page_not_found().into_response()),
                }
            }
            None => response = Some(ApiError::page_not_found().into_response()),
        }
    }
    let mut response = match response {
        Some(r) => r,
        None => {
            req.extensions_mut().insert(version);
            next.run(req).await
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("api-version"),
        HeaderValue::from_str(&API_VERSION.to_string()).unwrap_or(HeaderValue::from_static("1.47")),
    );
    headers.insert(
        HeaderName::from_static("docker-experimental"),
        HeaderValue::from_static("false"),
    );
    headers.insert(
        HeaderName::from_static("ostype"),
        HeaderValue::from_static("linux"),
    );
    headers.insert(header::SERVER, identity.server_header().await);
    response
}

fn version_error(message: String) -> Response {
    ApiError(Error::invalid(message)).into_response()
}

/// `GET`/`HEAD /_ping`.
pub(crate) async fn ping() -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
            (header::PRAGMA, "no-cache"),
            (HeaderName::from_static("builder-version"), BUILDER_VERSION),
        ],
        "OK",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_prefix() {
        assert_eq!(
            split_version("/v1.41/containers/json"),
            Some(("1.41", "/containers/json"))
        );
        assert_eq!(split_version("/v1.41"), Some(("1.41", "")));
        assert_eq!(split_version("/volumes"), None);
        assert_eq!(split_version("/version"), None);
        assert!(ApiVersion(1, 9) < ApiVersion(1, 41));
        assert_eq!(ApiVersion::parse("1.47"), Some(API_VERSION));
    }
}
