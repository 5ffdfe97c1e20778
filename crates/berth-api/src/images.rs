//! `/images/...`. Image references sit unescaped in paths (`/images/127.0.0.1:5000/a/b/json`),
//! so everything under `/images/` that is not a fixed route is split here by its last
//! segment, as dockerd's `{name:.*}` patterns do.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use berth_model::{ImportOptions, ListImagesOptions};

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::streams::{self, json, ok_json};
use crate::AppState;

pub(crate) async fn list(State(engine): State<AppState>, q: Params) -> ApiResult<Response> {
    let options = ListImagesOptions {
        all: q.bool("all")?,
        filters: q.filters()?,
        digests: q.bool("digests")?,
    };
    ok_json(&engine.image_list(options).await?)
}

/// `POST /images/create`: `fromSrc=-` imports the body, `fromImage` pulls.
pub(crate) async fn create(
    State(engine): State<AppState>,
    q: Params,
    body: Body,
) -> ApiResult<Response> {
    if let Some(src) = q.string("fromSrc") {
        if src != "-" {
            return Err(ApiError::not_implemented(
                "importing an image from a URL (fromSrc other than \"-\")",
            ));
        }
        let options = ImportOptions {
            repo: q.string("repo"),
            tag: q.string("tag"),
            changes: q
                .all("changes")
                .into_iter()
                .filter(|c| !c.is_empty())
                .collect(),
            message: q.string("message"),
            platform: q.string("platform"),
        };
        let messages = engine
            .image_import(streams::body_stream(body), options)
            .await?;
        return Ok(streams::json_lines(messages, "\r\n"));
    }
    let Some(image) = q.string("fromImage") else {
        return Err(ApiError::bad_request(
            "missing \"fromImage\" or \"fromSrc\" parameter",
        ));
    };
    let messages = engine.image_pull(&image, q.string("tag")).await?;
    Ok(streams::json_lines(messages, "\r\n"))
}

pub(crate) async fn load(
    State(engine): State<AppState>,
    q: Params,
    body: Body,
) -> ApiResult<Response> {
    let messages = engine
        .image_load(streams::body_stream(body), q.bool("quiet")?)
        .await?;
    Ok(streams::json_lines(messages, "\r\n"))
}

pub(crate) async fn save_many(State(engine): State<AppState>, q: Params) -> ApiResult<Response> {
    let names: Vec<String> = q
        .all("names")
        .into_iter()
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err(ApiError::bad_request("missing \"names\" parameter"));
    }
    Ok(streams::tar(engine.image_save(names).await?))
}

pub(crate) async fn prune(State(engine): State<AppState>, q: Params) -> ApiResult<Response> {
    ok_json(&engine.image_prune(q.filters()?).await?)
}

/// Everything under `/images/{name...}`.
pub(crate) async fn by_name(
    State(engine): State<AppState>,
    method: Method,
    Path(rest): Path<String>,
    q: Params,
) -> ApiResult<Response> {
    let rest = rest.trim_start_matches('/');
    let split = rest.rsplit_once('/');
    let (name, action) = match split {
        Some((name, action)) if !name.is_empty() => (name, action),
        _ => (rest, ""),
    };
    match (method, action) {
        (Method::GET, "json") => ok_json(&engine.image_inspect(name).await?),
        (Method::GET, "history") => ok_json(&engine.image_history(name).await?),
        (Method::GET, "get") => Ok(streams::tar(
            engine.image_save(vec![name.to_string()]).await?,
        )),
        (Method::POST, "tag") => {
            let repo = q
                .string("repo")
                .ok_or_else(|| ApiError::bad_request("missing \"repo\" parameter"))?;
            engine.image_tag(name, &repo, q.string("tag")).await?;
            Ok(axum::response::IntoResponse::into_response(
                StatusCode::CREATED,
            ))
        }
        (Method::POST, "push") => Err(ApiError::not_implemented("pushing images")),
        (Method::DELETE, _) if !rest.is_empty() => {
            let deleted = engine
                .image_remove(rest, q.bool("force")?, q.bool("noprune")?)
                .await?;
            json(StatusCode::OK, &deleted)
        }
        _ => Err(ApiError::page_not_found()),
    }
}
