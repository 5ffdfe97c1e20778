//! `/containers/...`, `/exec/...` and `/commit`.

use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_model::{
    docker, ArchivePutOptions, AttachOptions, CommitOptions, CreateContainer,
    ListContainersOptions, LogOptions, RemoveOptions, WaitCondition,
};
use futures_util::StreamExt;

use crate::error::{ApiError, ApiResult};
use crate::params::{json_body, Params};
use crate::streams::{self, encode_log_frame, json, no_content, ok_json, stream_content_type};
use crate::version::ApiVersion;
use crate::{hijack, AppState};

pub(crate) async fn create(
    State(engine): State<AppState>,
    q: Params,
    body: Bytes,
) -> ApiResult<Response> {
    let body: docker::ContainerCreateBody = json_body(&body, false)?;
    let created = engine
        .container_create(CreateContainer {
            name: q.string("name"),
            platform: q.string("platform"),
            body,
        })
        .await?;
    json(StatusCode::CREATED, &created)
}

pub(crate) async fn list(State(engine): State<AppState>, q: Params) -> ApiResult<Response> {
    let options = ListContainersOptions {
        all: q.bool("all")?,
        limit: q.number("limit")?.filter(|n: &i64| *n > 0),
        size: q.bool("size")?,
        filters: q.filters()?,
    };
    ok_json(&engine.container_list(options).await?)
}

pub(crate) async fn inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Params,
) -> ApiResult<Response> {
    ok_json(&engine.container_inspect(&id, q.bool("size")?).await?)
}

pub(crate) async fn start(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    engine.container_start(&id).await?;
    Ok(no_content())
}

pub(crate) async fn stop(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Params,
) -> ApiResult<Response> {
    engine
        .container_stop(&id, q.string("signal"), q.number("t")?)
        .await?;
    Ok(no_content())
}

pub(crate) async fn restart(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Params,
) -> ApiResult<Response> {
    engine
        .container_restart(&id, q.string("signal"), q.number("t")?)
        .await?;
    Ok(no_content())
}

pub(crate) async fn kill(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Params,
) -> ApiResult<Response> {
    engine.container_kill(&id, q.string("signal")).await?;
    Ok(no_content())
}

pub(crate) async fn pause(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    engine.container_pause(&id).await?;
    Ok(no_content())
}

pub(crate) async fn unpause(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    engine.container_unpause(&id).await?;
    Ok(no_content())
}

pub(crate) async fn rename(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Params,
) -> ApiResult<Response> {
    let name = q
        .string("name")
        .ok_or_else(|| ApiError::bad_request("missing \"name\" parameter: the new name"))?;
    engine.container_rename(&id, &name).await?;
    Ok(no_content())
}

pub(crate) async fn update(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let update: docker::ContainerUpdateBody = json_body(&body, false)?;
    ok_json(&engine.container_update(&id, update).await?)
}

pub(crate) async fn remove(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Params,
) -> ApiResult<Response> {
    if q.bool("link")? {
        return Err(ApiError::not_implemented("removing container links"));
    }
    let options = RemoveOptions {
        force: q.bool("force")?,
        volumes: q.bool("v")?,
    };
    engine.container_remove(&id, options).await?;
    Ok(no_content())
}

/// Headers first, then `{"Error":null,"StatusCode":N}` when the condition is met: the CLI
/// waits for the headers before it sends `start`.
pub(crate) async fn wait(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Params,
) -> ApiResult<Response> {
    let condition = match q.get("condition").unwrap_or("") {
        "" | "not-running" => WaitCondition::NotRunning,
        "next-exit" => WaitCondition::NextExit,
        "removed" => WaitCondition::Removed,
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid value for \"condition\": {other:?} (not-running, next-exit or removed)"
            )))
        }
    };
    let future = engine.container_wait(&id, condition).await?;
    let body = futures_util::stream::once(async move {
        let result = future.await;
        let error = match result.error.and_then(|e| e.message) {
            Some(message) => serde_json::json!({ "Message": message }),
            None => serde_json::Value::Null,
        };
        let mut line = serde_json::json!({ "Error": error, "StatusCode": result.status_code })
            .to_string()
            .into_bytes();
        line.push(b'\n');
        Ok::<_, std::io::Error>(Bytes::from(line))
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

pub(crate) async fn logs(
    State(engine): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    Path(id): Path<String>,
    q: Params,
) -> ApiResult<Response> {
    let tail = match q.get("tail").map(str::trim) {
        None | Some("") | Some("all") => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if n < 0 => None,
            Ok(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            Err(_) => {
                return Err(ApiError::bad_request(format!(
                    "invalid value for \"tail\": {raw:?} (a number or \"all\")"
                )))
            }
        },
    };
    let options = LogOptions {
        follow: q.bool("follow")?,
        stdout: q.bool("stdout")?,
        stderr: q.bool("stderr")?,
        since: q.timestamp("since")?,
        until: q.timestamp("until")?,
        tail,
    };
    if !options.stdout && !options.stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let timestamps = q.bool("timestamps")?;
    let logs = engine.container_logs(&id, options).await?;
    let tty = logs.tty;
    let body = logs
        .frames
        .map(move |f| Ok::<_, std::io::Error>(encode_log_frame(&f, tty, timestamps)));
    let mut response = Response::new(Body::from_stream(body));
    if version >= ApiVersion(1, 42) {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(stream_content_type(tty, version)),
        );
    }
    Ok(response)
}

pub(crate) async fn attach(
    State(engine): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    Path(id): Path<String>,
    q: Params,
    req: Request,
) -> ApiResult<Response> {
    let options = AttachOptions {
        stdin: q.bool("stdin")?,
        stdout: q.bool("stdout")?,
        stderr: q.bool("stderr")?,
        stream: q.bool("stream")?,
        logs: q.bool("logs")?,
        detach_keys: q.string("detachKeys"),
    };
    let hijack = engine.container_attach(&id, options).await?;
    let content_type = stream_content_type(hijack.tty, version);
    Ok(hijack::respond(req, hijack, content_type))
}

fn dimensions(q: &Params) -> ApiResult<(u16, u16)> {
    let h = q.number::<u16>("h")?.unwrap_or(0);
    let w = q.number::<u16>("w")?.unwrap_or(0);
    Ok((h, w))
}

pub(crate) async fn resize(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Params,
) -> ApiResult<Response> {
    let (h, w) = dimensions(&q)?;
    engine.container_resize(&id, h, w).await?;
    Ok(StatusCode::OK.into_response())
}

pub(crate) async fn top(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Params,
) -> ApiResult<Response> {
    ok_json(&engine.container_top(&id, q.string("ps_args")).await?)
}

pub(crate) async fn stats(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Params,
) -> ApiResult<Response> {
    let stream = q.bool_or("stream", true)? && !q.bool("one-shot")?;
    let mut samples = engine.container_stats(&id, stream).await?;
    if stream {
        return Ok(streams::json_lines(samples, "\n"));
    }
    match samples.next().await {
        Some(sample) => ok_json(&sample),
        None => Err(ApiError(berth_model::Error::internal(format!(
            "no statistics for container {id}"
        )))),
    }
}

pub(crate) async fn changes(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    ok_json(&engine.container_changes(&id).await?)
}

pub(crate) async fn export(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(streams::tar(engine.container_export(&id).await?))
}

fn archive_path(q: &Params) -> ApiResult<String> {
    q.string("path").ok_or_else(|| {
        ApiError::bad_request("missing \"path\" parameter: the path in the container")
    })
}

fn path_stat_header(stat: &berth_model::PathStat) -> ApiResult<HeaderValue> {
    let json = serde_json::to_vec(stat).map_err(|e| {
        ApiError(berth_model::Error::internal(format!(
            "encoding path stat: {e}"
        )))
    })?;
    HeaderValue::from_str(&crate::base64::encode(&json)).map_err(|e| {
        ApiError(berth_model::Error::internal(format!(
            "path stat header: {e}"
        )))
    })
}

const PATH_STAT: HeaderName = HeaderName::from_static("x-docker-container-path-stat");

pub(crate) async fn archive_head(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Params,
) -> ApiResult<Response> {
    let stat = engine
        .container_archive_stat(&id, &archive_path(&q)?)
        .await?;
    let mut response = StatusCode::OK.into_response();
    response
        .headers_mut()
        .insert(PATH_STAT, path_stat_header(&stat)?);
    Ok(response)
}

pub(crate) async fn archive_get(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Params,
) -> ApiResult<Response> {
    let (stat, tar) = engine
        .container_archive_get(&id, &archive_path(&q)?)
        .await?;
    let mut response = streams::tar(tar);
    response
        .headers_mut()
        .insert(PATH_STAT, path_stat_header(&stat)?);
    Ok(response)
}

pub(crate) async fn archive_put(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Params,
    body: Body,
) -> ApiResult<Response> {
    let options = ArchivePutOptions {
        no_overwrite_dir_non_dir: q.bool("noOverwriteDirNonDir")?,
        copy_uid_gid: q.bool("copyUIDGID")?,
    };
    engine
        .container_archive_put(&id, &archive_path(&q)?, options, streams::body_stream(body))
        .await?;
    Ok(StatusCode::OK.into_response())
}

pub(crate) async fn prune(State(engine): State<AppState>, q: Params) -> ApiResult<Response> {
    ok_json(&engine.container_prune(q.filters()?).await?)
}

pub(crate) async fn commit(
    State(engine): State<AppState>,
    q: Params,
    body: Bytes,
) -> ApiResult<Response> {
    let container = q
        .string("container")
        .ok_or_else(|| ApiError::bad_request("missing \"container\" parameter"))?;
    let config: Option<docker::ContainerConfig> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(json_body(&body, true)?)
    };
    let options = CommitOptions {
        container,
        repo: q.string("repo"),
        tag: q.string("tag"),
        comment: q.string("comment"),
        author: q.string("author"),
        pause: q.bool_or("pause", true)?,
        changes: q
            .all("changes")
            .into_iter()
            .filter(|c| !c.is_empty())
            .collect(),
        config,
    };
    let id = engine.container_commit(options).await?.id;
    json(StatusCode::CREATED, &id_body(id))
}

/// `{"Id": ...}`: the generated `IdResponse` serializes its field as `id`, which
/// case-sensitive clients (the Python SDK) do not find.
fn id_body(id: String) -> serde_json::Value {
    serde_json::json!({ "Id": id })
}

pub(crate) async fn exec_create(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let config: docker::ExecConfig = json_body(&body, false)?;
    let id = engine.exec_create(&id, config).await?.id;
    json(StatusCode::CREATED, &id_body(id))
}

pub(crate) async fn exec_start(
    State(engine): State<AppState>,
    Extension(version): Extension<ApiVersion>,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
    let config: docker::ExecStartConfig = json_body(&bytes, true)?;
    let tty = config.tty.unwrap_or(false);
    match engine.exec_start(&id, config).await? {
        None => Ok(StatusCode::OK.into_response()),
        Some(hijack) => {
            let req = Request::from_parts(parts, Body::empty());
            Ok(hijack::respond(
                req,
                hijack,
                stream_content_type(tty, version),
            ))
        }
    }
}

pub(crate) async fn exec_resize(
    State(engine): State<AppState>,
    Path(id): Path<String>,
    q: Params,
) -> ApiResult<Response> {
    let (h, w) = dimensions(&q)?;
    engine.exec_resize(&id, h, w).await?;
    Ok(StatusCode::OK.into_response())
}

pub(crate) async fn exec_inspect(
    State(engine): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    ok_json(&engine.exec_inspect(&id).await?)
}
