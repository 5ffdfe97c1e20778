//! The engine's contract.
//!
//! `berth-api` translates Docker Engine API requests into calls on [`Engine`]; `berth-engine`
//! implements it. Neither depends on the other, so the HTTP layer can be tested against a fake
//! engine and the engine without HTTP.
//!
//! Docker's object schema (container config, host config, inspect documents, summaries) is the
//! schema users, compose files and SDKs already speak, so it is used as-is: [`docker`] re-exports
//! the models generated from moby's swagger (`bollard-stubs`, API 1.53). What is not in that
//! schema (options, streams, hijacked connections, errors) is defined here.
//!
//! Invariants:
//! - Every method takes a container, image, exec or volume reference as the user typed it
//!   (full ID, unique ID prefix, or name, with or without the leading `/`); resolving it is
//!   the engine's job and a miss is [`ErrorKind::NotFound`] with Docker's wording.
//! - Streams end when the underlying object is done (container exited for `follow` logs and
//!   attach, exec finished, load finished); dropping a stream cancels the work behind it.

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_core::Stream;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

/// Docker's object models (moby swagger, API 1.53), used as the engine's schema.
pub use bollard_stubs::models as docker;

/// What kind of failure an [`Error`] is; the API maps it to an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: the request itself is wrong (bad flag value, malformed config).
    InvalidArgument,
    /// 404: the container, image, exec or volume does not exist.
    NotFound,
    /// 409: the object is in a state that forbids the operation (name in use, running).
    Conflict,
    /// 304: nothing to do (start of a started container, stop of a stopped one).
    NotModified,
    /// 501: a capability berth does not have (yet), said plainly.
    NotImplemented,
    /// 500: anything else; the message says what failed on which object.
    Internal,
}

/// An engine error: a kind for the status code and one message for the user.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// Maps to the HTTP status.
    pub kind: ErrorKind,
    /// Shown to the user as-is (`{"message": ...}`), in Docker's wording where Docker has one.
    pub message: String,
}

impl Error {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl fmt::Display) -> Self {
        Error {
            kind,
            message: message.to_string(),
        }
    }
    /// 400.
    pub fn invalid(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    /// 404.
    pub fn not_found(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    /// 409.
    pub fn conflict(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    /// 304.
    pub fn not_modified(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::NotModified, message)
    }
    /// 501.
    pub fn not_implemented(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::NotImplemented, message)
    }
    /// 500.
    pub fn internal(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

/// Result of engine calls.
pub type Result<T> = std::result::Result<T, Error>;

/// A stream of items that lives as long as the caller keeps it.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = T> + Send + 'static>>;

/// A byte stream (tar archives in and out, request bodies).
pub type ByteStream = BoxStream<std::io::Result<Bytes>>;

/// A future that owns what it needs.
pub type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;

/// Docker's `filters` query parameter, decoded: key → accepted values.
///
/// Both wire forms (`{"k":["v"]}` and the older `{"k":{"v":true}}`) decode to this.
pub type Filters = BTreeMap<String, Vec<String>>;

/// The I/O of a hijacked attach or exec connection, seen from the API side.
///
/// Reading yields the output exactly as the client must receive it: Docker's 8-byte
/// multiplexed frames when the process has no TTY, raw bytes when it has one. Writing feeds
/// the process's stdin; `shutdown()` is the client's half-close (stdin EOF). Reads end (EOF)
/// when the process is done and its output drained, or when the detach keys were typed.
pub trait HijackIo: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> HijackIo for T {}

/// A connection to a process's stdio, ready to be spliced onto an upgraded HTTP connection.
pub struct Hijack {
    /// Whether the process has a TTY (raw stream, `application/vnd.docker.raw-stream`).
    pub tty: bool,
    /// The stream; see [`HijackIo`].
    pub io: Box<dyn HijackIo>,
}

impl fmt::Debug for Hijack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hijack").field("tty", &self.tty).finish()
    }
}

/// Which stream a log line came from (the numbers are Docker's frame stream IDs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StdStream {
    /// 0
    Stdin,
    /// 1
    Stdout,
    /// 2
    Stderr,
}

impl StdStream {
    /// Docker's stream ID in the 8-byte frame header.
    pub fn id(self) -> u8 {
        match self {
            StdStream::Stdin => 0,
            StdStream::Stdout => 1,
            StdStream::Stderr => 2,
        }
    }
}

/// One log record as the json-file driver stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFrame {
    /// Source stream.
    pub stream: StdStream,
    /// RFC 3339 with nanoseconds, UTC (`2024-05-01T10:00:00.123456789Z`).
    pub time: String,
    /// The bytes, including the trailing newline when the line had one.
    pub data: Bytes,
}

/// `GET /containers/{id}/logs` options.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Keep streaming until the container stops.
    pub follow: bool,
    /// Include stdout.
    pub stdout: bool,
    /// Include stderr.
    pub stderr: bool,
    /// Only records at or after this Unix time (seconds, fractional).
    pub since: Option<f64>,
    /// Only records before this Unix time.
    pub until: Option<f64>,
    /// Only the last N records (None = all).
    pub tail: Option<usize>,
}

/// Logs of a container.
pub struct LogStream {
    /// The container has a TTY: frames are sent raw, not multiplexed.
    pub tty: bool,
    /// Records, oldest first; with `follow`, new ones as they are written.
    pub frames: BoxStream<LogFrame>,
}

/// `POST /containers/{id}/attach` options.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// Forward the client's input to the container's stdin.
    pub stdin: bool,
    /// Send stdout.
    pub stdout: bool,
    /// Send stderr.
    pub stderr: bool,
    /// Stream live output (the CLI always sets it).
    pub stream: bool,
    /// Replay the logs first.
    pub logs: bool,
    /// Detach sequence, Docker's syntax (`ctrl-p,ctrl-q` when None).
    pub detach_keys: Option<String>,
}

/// `GET /containers/json` options.
#[derive(Debug, Clone, Default)]
pub struct ListContainersOptions {
    /// Include stopped containers.
    pub all: bool,
    /// Only the N most recently created (implies all).
    pub limit: Option<i64>,
    /// Compute `SizeRw` and `SizeRootFs`.
    pub size: bool,
    /// status, name, id, label, ancestor, exited, health, before, since, volume, network, is-task.
    pub filters: Filters,
}

/// `DELETE /containers/{id}` options.
#[derive(Debug, Clone, Copy, Default)]
pub struct RemoveOptions {
    /// Kill a running container first.
    pub force: bool,
    /// Remove the anonymous volumes it created.
    pub volumes: bool,
}

/// `POST /containers/{id}/wait?condition=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WaitCondition {
    /// Return at once if not running, else when it stops (the default).
    #[default]
    NotRunning,
    /// Return at the next exit, even if not running now.
    NextExit,
    /// Return when the container is removed.
    Removed,
}

/// What `container_wait` returns once it has registered the waiter: the API sends the
/// response headers, then awaits the future for the body.
pub type WaitFuture = BoxFuture<docker::ContainerWaitResponse>;

/// `POST /containers/create`.
#[derive(Debug, Clone, Default)]
pub struct CreateContainer {
    /// `?name=`; generated (Docker-style adjective_name) when None.
    pub name: Option<String>,
    /// `?platform=`.
    pub platform: Option<String>,
    /// The request body.
    pub body: docker::ContainerCreateBody,
}

/// `POST /commit`.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// Container reference.
    pub container: String,
    /// Repository for the new image (none: untagged).
    pub repo: Option<String>,
    /// Tag (default `latest` when a repo is given).
    pub tag: Option<String>,
    /// Commit message.
    pub comment: Option<String>,
    /// Author.
    pub author: Option<String>,
    /// Pause the container while committing (Docker's default is true).
    pub pause: bool,
    /// Dockerfile instructions to apply (`--change`).
    pub changes: Vec<String>,
    /// Config overrides from the request body.
    pub config: Option<docker::ContainerConfig>,
}

/// `GET /images/json` options.
#[derive(Debug, Clone, Default)]
pub struct ListImagesOptions {
    /// Include intermediate images.
    pub all: bool,
    /// dangling, label, reference, before, since.
    pub filters: Filters,
    /// Fill `RepoDigests`.
    pub digests: bool,
}

/// `POST /images/create?fromSrc=-` (import).
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// `repo` parameter: the reference to tag the result with.
    pub repo: Option<String>,
    /// `tag` parameter.
    pub tag: Option<String>,
    /// `changes`: Dockerfile instructions applied to the config.
    pub changes: Vec<String>,
    /// `message`: history comment.
    pub message: Option<String>,
    /// `platform`.
    pub platform: Option<String>,
}

/// One line of Docker's JSON progress stream (`load`, `import`, `pull`, `push`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JsonMessage {
    /// Free text (`"Loaded image: busybox:latest\n"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// Status word (`"Downloading"`, `"Pull complete"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Object the status is about (a layer ID).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `{"current":N,"total":M}`.
    #[serde(rename = "progressDetail", skip_serializing_if = "Option::is_none")]
    pub progress_detail: Option<ProgressDetail>,
    /// Pre-rendered bar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// Terminal error (the stream ends after it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `{"message": ...}` twin of `error`.
    #[serde(rename = "errorDetail", skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<ErrorDetail>,
    /// Auxiliary data (`{"ID":"sha256:..."}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aux: Option<serde_json::Value>,
}

impl JsonMessage {
    /// A `stream` line.
    pub fn stream(text: impl Into<String>) -> Self {
        JsonMessage {
            stream: Some(text.into()),
            ..Default::default()
        }
    }
    /// A terminal error line.
    pub fn error(message: impl Into<String>) -> Self {
        let message = message.into();
        JsonMessage {
            error: Some(message.clone()),
            error_detail: Some(ErrorDetail { message }),
            ..Default::default()
        }
    }
}

/// Progress counters of a [`JsonMessage`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProgressDetail {
    /// Bytes done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<i64>,
    /// Bytes in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

/// Error detail of a [`JsonMessage`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// The message.
    pub message: String,
}

/// What `HEAD`/`GET /containers/{id}/archive` report about a path
/// (sent base64-encoded JSON in the `X-Docker-Container-Path-Stat` header).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStat {
    /// Base name.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Go `os.FileMode` bits (directory = 1<<31, symlink = 1<<27, …, plus permissions).
    pub mode: u32,
    /// RFC 3339 modification time.
    pub mtime: String,
    /// Symlink target (empty otherwise).
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// `PUT /containers/{id}/archive` options.
#[derive(Debug, Clone, Copy, Default)]
pub struct ArchivePutOptions {
    /// Refuse to replace a directory by a non-directory or the reverse.
    pub no_overwrite_dir_non_dir: bool,
    /// Give extracted files the container user's ownership (`cp -a`).
    pub copy_uid_gid: bool,
}

/// `GET /events` options.
#[derive(Debug, Clone, Default)]
pub struct EventsOptions {
    /// Replay events from this Unix time (seconds, fractional).
    pub since: Option<f64>,
    /// Stop at this Unix time (the stream ends then).
    pub until: Option<f64>,
    /// container, image, volume, network, event, type, label.
    pub filters: Filters,
}

/// The engine, as the Docker API layer sees it. Every method is cancel-safe at its awaits:
/// a dropped request leaves the object in a consistent state.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    // ---- system ------------------------------------------------------------------------
    /// `GET /version`.
    async fn version(&self) -> Result<docker::SystemVersion>;
    /// `GET /info`.
    async fn info(&self) -> Result<docker::SystemInfo>;
    /// `GET /system/df`, in the pre-1.52 shape every client up to docker 28 reads
    /// (`LayersSize`, `Images`, `Containers`, `Volumes`, `BuildCache` arrays), which the
    /// generated 1.53 model no longer has.
    async fn system_df(&self) -> Result<serde_json::Value>;
    /// `GET /events`: past events matching `options` first, then live ones.
    async fn events(&self, options: EventsOptions) -> Result<BoxStream<docker::EventMessage>>;

    // ---- containers --------------------------------------------------------------------
    /// `POST /containers/create`.
    async fn container_create(
        &self,
        request: CreateContainer,
    ) -> Result<docker::ContainerCreateResponse>;
    /// `GET /containers/json`.
    async fn container_list(
        &self,
        options: ListContainersOptions,
    ) -> Result<Vec<docker::ContainerSummary>>;
    /// `GET /containers/{id}/json`.
    async fn container_inspect(
        &self,
        id: &str,
        size: bool,
    ) -> Result<docker::ContainerInspectResponse>;
    /// `POST /containers/{id}/start`; [`ErrorKind::NotModified`] when already running.
    async fn container_start(&self, id: &str) -> Result<()>;
    /// `POST /containers/{id}/stop`: the stop signal, then SIGKILL after `timeout` seconds
    /// (None: the container's StopTimeout, else 10; negative: wait forever).
    async fn container_stop(
        &self,
        id: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> Result<()>;
    /// `POST /containers/{id}/restart`.
    async fn container_restart(
        &self,
        id: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> Result<()>;
    /// `POST /containers/{id}/kill` (SIGKILL when None; names with or without SIG, or numbers).
    async fn container_kill(&self, id: &str, signal: Option<String>) -> Result<()>;
    /// `POST /containers/{id}/pause`.
    async fn container_pause(&self, id: &str) -> Result<()>;
    /// `POST /containers/{id}/unpause`.
    async fn container_unpause(&self, id: &str) -> Result<()>;
    /// `POST /containers/{id}/rename?name=`.
    async fn container_rename(&self, id: &str, new_name: &str) -> Result<()>;
    /// `POST /containers/{id}/update`.
    async fn container_update(
        &self,
        id: &str,
        update: docker::ContainerUpdateBody,
    ) -> Result<docker::ContainerUpdateResponse>;
    /// `DELETE /containers/{id}`.
    async fn container_remove(&self, id: &str, options: RemoveOptions) -> Result<()>;
    /// `POST /containers/{id}/wait`: validates and registers, then the future resolves.
    async fn container_wait(&self, id: &str, condition: WaitCondition) -> Result<WaitFuture>;
    /// `GET /containers/{id}/logs`.
    async fn container_logs(&self, id: &str, options: LogOptions) -> Result<LogStream>;
    /// `POST /containers/{id}/attach`.
    async fn container_attach(&self, id: &str, options: AttachOptions) -> Result<Hijack>;
    /// `POST /containers/{id}/resize`.
    async fn container_resize(&self, id: &str, height: u16, width: u16) -> Result<()>;
    /// `GET /containers/{id}/top?ps_args=`.
    async fn container_top(
        &self,
        id: &str,
        ps_args: Option<String>,
    ) -> Result<docker::ContainerTopResponse>;
    /// `GET /containers/{id}/stats`: one sample (`stream` false) or one per second.
    /// Each sample carries the previous one's CPU figures in `precpu_stats`.
    async fn container_stats(
        &self,
        id: &str,
        stream: bool,
    ) -> Result<BoxStream<docker::ContainerStatsResponse>>;
    /// `GET /containers/{id}/changes`.
    async fn container_changes(&self, id: &str) -> Result<Vec<docker::FilesystemChange>>;
    /// `GET /containers/{id}/export`: the container's filesystem as a tar stream.
    async fn container_export(&self, id: &str) -> Result<ByteStream>;
    /// `HEAD /containers/{id}/archive?path=`.
    async fn container_archive_stat(&self, id: &str, path: &str) -> Result<PathStat>;
    /// `GET /containers/{id}/archive?path=`: a tar of the path, named by its base name.
    async fn container_archive_get(&self, id: &str, path: &str) -> Result<(PathStat, ByteStream)>;
    /// `PUT /containers/{id}/archive?path=`: extract the tar body into the directory `path`.
    async fn container_archive_put(
        &self,
        id: &str,
        path: &str,
        options: ArchivePutOptions,
        body: ByteStream,
    ) -> Result<()>;
    /// `POST /containers/prune`.
    async fn container_prune(&self, filters: Filters) -> Result<docker::ContainerPruneResponse>;
    /// `POST /commit`.
    async fn container_commit(&self, options: CommitOptions) -> Result<docker::IdResponse>;

    // ---- exec --------------------------------------------------------------------------
    /// `POST /containers/{id}/exec`.
    async fn exec_create(&self, id: &str, config: docker::ExecConfig)
        -> Result<docker::IdResponse>;
    /// `POST /exec/{id}/start`: `None` when detached (the process runs on its own).
    async fn exec_start(
        &self,
        exec_id: &str,
        config: docker::ExecStartConfig,
    ) -> Result<Option<Hijack>>;
    /// `POST /exec/{id}/resize`.
    async fn exec_resize(&self, exec_id: &str, height: u16, width: u16) -> Result<()>;
    /// `GET /exec/{id}/json`.
    async fn exec_inspect(&self, exec_id: &str) -> Result<docker::ExecInspectResponse>;

    // ---- images ------------------------------------------------------------------------
    /// `GET /images/json`.
    async fn image_list(&self, options: ListImagesOptions) -> Result<Vec<docker::ImageSummary>>;
    /// `GET /images/{name}/json`.
    async fn image_inspect(&self, name: &str) -> Result<docker::ImageInspect>;
    /// `GET /images/{name}/history`.
    async fn image_history(&self, name: &str) -> Result<Vec<docker::ImageHistoryResponseItem>>;
    /// `POST /images/{name}/tag?repo=&tag=`.
    async fn image_tag(&self, name: &str, repo: &str, tag: Option<String>) -> Result<()>;
    /// `DELETE /images/{name}?force=&noprune=`.
    async fn image_remove(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
    ) -> Result<Vec<docker::ImageDeleteResponseItem>>;
    /// `POST /images/prune` (`dangling=false` in filters: all unused images).
    async fn image_prune(&self, filters: Filters) -> Result<docker::ImagePruneResponse>;
    /// `POST /images/load`: a docker-archive or OCI-layout tar.
    async fn image_load(&self, body: ByteStream, quiet: bool) -> Result<BoxStream<JsonMessage>>;
    /// `GET /images/get?names=` and `GET /images/{name}/get`: a docker-archive tar.
    async fn image_save(&self, names: Vec<String>) -> Result<ByteStream>;
    /// `POST /images/create?fromSrc=-`: a root filesystem tar becomes a one-layer image.
    async fn image_import(
        &self,
        body: ByteStream,
        options: ImportOptions,
    ) -> Result<BoxStream<JsonMessage>>;
    /// `POST /images/create?fromImage=` (pull). Until the registry client exists this
    /// succeeds only when the image is already present.
    async fn image_pull(
        &self,
        reference: &str,
        tag: Option<String>,
    ) -> Result<BoxStream<JsonMessage>>;

    // ---- volumes -----------------------------------------------------------------------
    /// `POST /volumes/create`.
    async fn volume_create(&self, request: docker::VolumeCreateRequest) -> Result<docker::Volume>;
    /// `GET /volumes`.
    async fn volume_list(&self, filters: Filters) -> Result<docker::VolumeListResponse>;
    /// `GET /volumes/{name}`.
    async fn volume_inspect(&self, name: &str) -> Result<docker::Volume>;
    /// `DELETE /volumes/{name}?force=`.
    async fn volume_remove(&self, name: &str, force: bool) -> Result<()>;
    /// `POST /volumes/prune` (`all=true` in filters: named volumes too).
    async fn volume_prune(&self, filters: Filters) -> Result<docker::VolumePruneResponse>;

    // ---- networks -------------------------------------------------------------------------
    /// `GET /networks`: Docker's network objects as JSON (the schema's `Network` lacks
    /// `Containers`, which inspect shows).
    async fn network_list(&self, filters: Filters) -> Result<Vec<serde_json::Value>>;
    /// `GET /networks/{id}`.
    async fn network_inspect(&self, id: &str) -> Result<serde_json::Value>;
    /// `POST /networks/create`.
    async fn network_create(
        &self,
        request: docker::NetworkCreateRequest,
    ) -> Result<docker::NetworkCreateResponse>;
    /// `DELETE /networks/{id}`.
    async fn network_remove(&self, id: &str) -> Result<()>;
    /// `POST /networks/prune`: the names of the removed networks.
    async fn network_prune(&self, filters: Filters) -> Result<Vec<String>>;
    /// `POST /networks/{id}/connect`.
    async fn network_connect(&self, id: &str, request: docker::NetworkConnectRequest)
        -> Result<()>;
    /// `POST /networks/{id}/disconnect`.
    async fn network_disconnect(
        &self,
        id: &str,
        request: docker::NetworkDisconnectRequest,
    ) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_message_error_has_both_forms() {
        let m = JsonMessage::error("boom");
        let v = serde_json::to_value(&m).unwrap_or_default();
        assert_eq!(v["error"], "boom");
        assert_eq!(v["errorDetail"]["message"], "boom");
        assert!(v.get("stream").is_none());
    }

    #[test]
    fn stream_ids_are_dockers() {
        assert_eq!(StdStream::Stdout.id(), 1);
        assert_eq!(StdStream::Stderr.id(), 2);
    }
}
