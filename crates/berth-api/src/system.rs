//! `/version`, `/info`, `/system/df`, `/events`, `/volumes/...`, `/networks/...`, and the
//! Docker-shaped 501 answers for what berth does not have.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_model::{docker, EventsOptions};

use crate::error::{ApiError, ApiResult};
use crate::params::{json_body, Params};
use crate::streams::{self, json, no_content, ok_json};
use crate::AppState;

pub(crate) async fn version(State(engine): State<AppState>) -> ApiResult<Response> {
    ok_json(&engine.version().await?)
}

pub(crate) async fn info(State(engine): State<AppState>) -> ApiResult<Response> {
    ok_json(&engine.info().await?)
}

pub(crate) async fn df(State(engine): State<AppState>) -> ApiResult<Response> {
    ok_json(&engine.system_df().await?)
}

pub(crate) async fn events(State(engine): State<AppState>, q: Params) -> ApiResult<Response> {
    let options = EventsOptions {
        since: q.timestamp("since")?,
        until: q.timestamp("until")?,
        filters: q.filters()?,
    };
    Ok(streams::json_lines(engine.events(options).await?, "\n"))
}

pub(crate) async fn volume_create(
    State(engine): State<AppState>,
    body: Bytes,
) -> ApiResult<Response> {
    let request: docker::VolumeCreateRequest = json_body(&body, true)?;
    json(StatusCode::CREATED, &engine.volume_create(request).await?)
}

pub(crate) async fn volume_list(State(engine): State<AppState>, q: Params) -> ApiResult<Response> {
    ok_json(&engine.volume_list(q.filters()?).await?)
}

pub(crate) async fn volume_inspect(
    State(engine): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    ok_json(&engine.volume_inspect(&name).await?)
}

pub(crate) async fn volume_remove(
    State(engine): State<AppState>,
    Path(name): Path<String>,
    q: Params,
) -> ApiResult<Response> {
    engine.volume_remove(&name, q.bool("force")?).await?;
    Ok(no_content())
}

pub(crate) async fn volume_prune(State(engine): State<AppState>, q: Params) -> ApiResult<Response> {
    ok_json(&engine.volume_prune(q.filters()?).await?)
}

pub(crate) async fn network_list(State(engine): State<AppState>, q: Params) -> ApiResult<Response> {
    ok_json(&engine.network_list(q.filters()?).await?)
}

pub(crate) async fn network_inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    ok_json(&engine.network_inspect(&id).await?)
}

pub(crate) async fn network_create(
    State(engine): State<AppState>,
    body: Bytes,
) -> ApiResult<Response> {
    let request: docker::NetworkCreateRequest = json_body(&body, false)?;
    json(StatusCode::CREATED, &engine.network_create(request).await?)
}

pub(crate) async fn network_remove(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    engine.network_remove(&id).await?;
    Ok(no_content())
}

pub(crate) async fn network_connect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let request: docker::NetworkConnectRequest = json_body(&body, false)?;
    engine.network_connect(&id, request).await?;
    Ok(axum::response::IntoResponse::into_response(StatusCode::OK))
}

pub(crate) async fn network_disconnect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let request: docker::NetworkDisconnectRequest = json_body(&body, false)?;
    engine.network_disconnect(&id, request).await?;
    Ok(axum::response::IntoResponse::into_response(StatusCode::OK))
}

pub(crate) async fn network_prune(
    State(engine): State<AppState>,
    q: Params,
) -> ApiResult<Response> {
    let deleted = engine.network_prune(q.filters()?).await?;
    ok_json(&serde_json::json!({ "NetworksDeleted": deleted }))
}

/// A handler answering 501 for a feature berth does not have.
pub(crate) fn unsupported(
    what: &'static str,
) -> impl Fn() -> std::future::Ready<ApiError> + Clone + Send + Sync + 'static {
    move || std::future::ready(ApiError::not_implemented(what))
}
