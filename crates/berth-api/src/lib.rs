//! The Docker Engine API over HTTP, translated into calls on a [`berth_model::Engine`].
//!
//! [`router`] builds the axum application; [`serve`] runs it on unix, TCP and TLS
//! listeners ([`tls::server_config`] builds dockerd's TLS policy) and [`serve_connection`]
//! on any other stream. Connections support HTTP upgrades, which attach and exec need, the
//! same way on every kind of listener.
//!
//! Wire behaviour follows dockerd as recorded in the docker CLI traces:
//! - every route is served both unversioned and under `/vX.YY` (between
//!   [`MIN_API_VERSION`] and [`API_VERSION`]; newer gets dockerd's 400), and every response
//!   carries `Api-Version`, `Ostype`, `Docker-Experimental` and `Server: Docker/<v> (linux)`;
//! - errors are `{"message": ...}` with the status of the engine's `ErrorKind` (304 empty);
//!   unknown routes are 404 `page not found`; features berth lacks are 501 saying so;
//! - request bodies are decoded leniently (unknown fields ignored) and tars are streamed,
//!   never buffered.
//!
//! This crate knows only `berth-model`: it never depends on the engine.

mod base64;
mod containers;
mod error;
mod hijack;
mod images;
mod params;
mod streams;
mod system;
pub mod tls;
mod version;

use std::future::Future;
use std::io;
use std::sync::Arc;

use axum::body::Body;
use axum::routing::{any, delete, get, head, post};
use axum::Router;
use berth_model::Engine;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tower::{Layer, ServiceExt};

pub use error::{status_of, ApiError};
pub use params::decode_filters;
pub use version::{ApiVersion, API_VERSION, BUILDER_VERSION, MIN_API_VERSION};

/// The state of every handler.
pub(crate) type AppState = Arc<dyn Engine>;

/// The Docker Engine API application for `engine`.
pub fn router(engine: Arc<dyn Engine>) -> Router {
    let identity = version::Identity::new(engine.clone());
    let api = routes().with_state(engine);
    let versioned = axum::middleware::from_fn_with_state(identity, version::layer).layer(api);
    Router::new().fallback_service(versioned)
}

fn routes() -> Router<AppState> {
    use containers as c;
    use system::unsupported as no;
    Router::new()
        .route("/_ping", get(version::ping).head(version::ping))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/system/df", get(system::df))
        .route("/events", get(system::events))
        // containers
        .route("/containers/create", post(c::create))
        .route("/containers/json", get(c::list))
        .route("/containers/prune", post(c::prune))
        .route("/containers/{id}", delete(c::remove))
        .route("/containers/{id}/json", get(c::inspect))
        .route("/containers/{id}/start", post(c::start))
        .route("/containers/{id}/stop", post(c::stop))
        .route("/containers/{id}/restart", post(c::restart))
        .route("/containers/{id}/kill", post(c::kill))
        .route("/containers/{id}/pause", post(c::pause))
        .route("/containers/{id}/unpause", post(c::unpause))
        .route("/containers/{id}/rename", post(c::rename))
        .route("/containers/{id}/update", post(c::update))
        .route("/containers/{id}/wait", post(c::wait))
        .route("/containers/{id}/logs", get(c::logs))
        .route("/containers/{id}/attach", post(c::attach))
        .route(
            "/containers/{id}/attach/ws",
            get(no("attaching over websockets")),
        )
        .route("/containers/{id}/resize", post(c::resize))
        .route("/containers/{id}/top", get(c::top))
        .route("/containers/{id}/stats", get(c::stats))
        .route("/containers/{id}/changes", get(c::changes))
        .route("/containers/{id}/export", get(c::export))
        .route(
            "/containers/{id}/archive",
            head(c::archive_head)
                .get(c::archive_get)
                .put(c::archive_put),
        )
        .route("/containers/{id}/exec", post(c::exec_create))
        .route("/commit", post(c::commit))
        .route("/exec/{id}/start", post(c::exec_start))
        .route("/exec/{id}/resize", post(c::exec_resize))
        .route("/exec/{id}/json", get(c::exec_inspect))
        // images
        .route("/images/json", get(images::list))
        .route("/images/create", post(images::create))
        .route("/images/load", post(images::load))
        .route("/images/get", get(images::save_many))
        .route("/images/prune", post(images::prune))
        .route("/images/search", get(no("searching registries")))
        .route("/images/{*rest}", any(images::by_name))
        .route("/build", post(no("building images (POST /build)")))
        // No build cache and no user networks exist yet: pruning them truthfully deletes
        // nothing (`docker system prune` calls both).
        .route(
            "/build/prune",
            post(|| async {
                axum::Json(serde_json::json!({"CachesDeleted": [], "SpaceReclaimed": 0}))
            }),
        )
        .route("/session", post(no("BuildKit sessions")))
        .route("/grpc", post(no("BuildKit (POST /grpc)")))
        .route("/auth", post(no("registry login")))
        .route(
            "/distribution/{*rest}",
            get(no("registry distribution inspection")),
        )
        // volumes
        .route("/volumes", get(system::volume_list))
        .route("/volumes/create", post(system::volume_create))
        .route("/volumes/prune", post(system::volume_prune))
        .route(
            "/volumes/{name}",
            get(system::volume_inspect).delete(system::volume_remove),
        )
        // networks
        .route("/networks", get(system::network_list))
        .route("/networks/create", post(system::network_create))
        .route("/networks/prune", post(system::network_prune))
        .route(
            "/networks/{id}",
            get(system::network_inspect).delete(system::network_remove),
        )
        .route("/networks/{id}/connect", post(system::network_connect))
        .route(
            "/networks/{id}/disconnect",
            post(system::network_disconnect),
        )
        // swarm and plugins
        .route("/swarm", any(no("swarm mode")))
        .route("/swarm/{*rest}", any(no("swarm mode")))
        .route("/nodes", any(no("swarm mode (nodes)")))
        .route("/nodes/{*rest}", any(no("swarm mode (nodes)")))
        .route("/services", any(no("swarm mode (services)")))
        .route("/services/{*rest}", any(no("swarm mode (services)")))
        .route("/tasks", any(no("swarm mode (tasks)")))
        .route("/tasks/{*rest}", any(no("swarm mode (tasks)")))
        .route("/secrets", any(no("swarm mode (secrets)")))
        .route("/secrets/{*rest}", any(no("swarm mode (secrets)")))
        .route("/configs", any(no("swarm mode (configs)")))
        .route("/configs/{*rest}", any(no("swarm mode (configs)")))
        .route("/plugins", any(no("plugins")))
        .route("/plugins/{*rest}", any(no("plugins")))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError::page_not_found()
}

/// Serves one connection (HTTP/1.1 with upgrades, or h2c) until the client closes it.
pub async fn serve_connection<IO>(app: Router, io: IO)
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        app.clone().oneshot(req.map(Body::new))
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().title_case_headers(true);
    if let Err(e) = builder
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .await
    {
        tracing::debug!("connection ended: {e}");
    }
}

/// A listening socket [`serve`] accepts on.
#[derive(Debug)]
pub enum Listener {
    /// `unix:///path`.
    Unix(UnixListener),
    /// `tcp://addr:port` without TLS.
    Tcp(TcpListener),
    /// `tcp://addr:port` with TLS: each accepted connection completes its handshake on its
    /// own task (see [`tls::server_config`] for the configuration dockerd uses).
    Tls(TcpListener, Arc<rustls::ServerConfig>),
}

/// Accepts on every listener until `shutdown` completes, serving each connection on its
/// own task; then stops accepting and returns (connections in flight are not awaited:
/// the caller exits, and attached clients see their stream end).
pub async fn serve(
    app: Router,
    listeners: Vec<Listener>,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for listener in listeners {
        let app = app.clone();
        tasks.spawn(accept_loop(app, listener));
    }
    tokio::select! {
        _ = shutdown => {}
        Some(result) = tasks.join_next() => {
            tasks.abort_all();
            return match result {
                Ok(r) => r,
                Err(e) => Err(io::Error::other(e)),
            };
        }
    }
    tasks.abort_all();
    Ok(())
}

async fn accept_loop(app: Router, listener: Listener) -> io::Result<()> {
    loop {
        let accepted = match &listener {
            Listener::Unix(l) => l.accept().await.map(|(s, _)| {
                tokio::spawn(serve_connection(app.clone(), s));
            }),
            Listener::Tcp(l) => l.accept().await.map(|(s, _)| {
                let _ = s.set_nodelay(true);
                tokio::spawn(serve_connection(app.clone(), s));
            }),
            Listener::Tls(l, config) => l.accept().await.map(|(s, peer)| {
                let _ = s.set_nodelay(true);
                let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
                tokio::spawn(tls::accept(app.clone(), acceptor, s, peer));
            }),
        };
        if let Err(e) = accepted {
            // EMFILE and friends are transient: back off instead of spinning or dying.
            tracing::warn!("accept: {e}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}
