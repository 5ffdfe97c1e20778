//! A test-only engine: one container "web" (id `abc123…`), logs recorded up front, a wait
//! released by the test, attach/exec wired to in-memory pipes the test holds the far end of.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use berth_model::*;
use bytes::Bytes;
use tokio::io::DuplexStream;
use tokio::sync::{mpsc, oneshot};

pub const ID: &str = "abc1234567890abc1234567890abc1234567890abc1234567890abc123456789";

/// What the fake saw and what it will answer.
#[derive(Default)]
pub struct Fake {
    /// Filters of the last list call.
    pub last_filters: Mutex<Option<Filters>>,
    /// Options of the last logs call.
    pub last_logs: Mutex<Option<LogOptions>>,
    /// The wait future resolves when this sender fires.
    pub wait_gate: Mutex<Option<oneshot::Receiver<i64>>>,
    /// The far end of each hijack the fake hands out.
    pub hijacks: Mutex<Option<mpsc::UnboundedSender<DuplexStream>>>,
    /// Whether the container has a TTY.
    pub tty: bool,
}

impl Fake {
    pub fn new() -> Arc<Fake> {
        Arc::new(Fake::default())
    }

    fn check(&self, id: &str) -> Result<()> {
        if id == "web" || (id.len() >= 3 && ID.starts_with(id)) {
            Ok(())
        } else {
            Err(Error::not_found(format!("No such container: {id}")))
        }
    }

    fn hijack(&self, tty: bool) -> Hijack {
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        if let Some(tx) = self
            .hijacks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            let _ = tx.send(theirs);
        }
        Hijack {
            tty,
            io: Box::new(ours),
        }
    }
}

fn summary() -> docker::ContainerSummary {
    docker::ContainerSummary {
        id: Some(ID.into()),
        names: Some(vec!["/web".into()]),
        image: Some("busybox".into()),
        image_id: Some("sha256:feed".into()),
        command: Some("sleep 1000".into()),
        created: Some(1_700_000_000),
        ports: Some(vec![]),
        labels: Some(Default::default()),
        state: Some(docker::ContainerSummaryStateEnum::EXITED),
        status: Some("Exited (3) 2 minutes ago".into()),
        ..Default::default()
    }
}

fn inspect(tty: bool) -> docker::ContainerInspectResponse {
    docker::ContainerInspectResponse {
        id: Some(ID.into()),
        created: Some("2023-11-14T22:13:20.000000000Z".into()),
        path: Some("sleep".into()),
        args: Some(vec!["1000".into()]),
        state: Some(docker::ContainerState {
            status: Some(docker::ContainerStateStatusEnum::EXITED),
            running: Some(false),
            exit_code: Some(3),
            started_at: Some("2023-11-14T22:13:21.000000000Z".into()),
            finished_at: Some("2023-11-14T22:13:22.000000000Z".into()),
            ..Default::default()
        }),
        image: Some("sha256:feed".into()),
        name: Some("/web".into()),
        config: Some(docker::ContainerConfig {
            tty: Some(tty),
            image: Some("busybox".into()),
            cmd: Some(vec!["sleep".into(), "1000".into()]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn frame(stream: StdStream, time: &str, data: &'static str) -> LogFrame {
    LogFrame {
        stream,
        time: time.into(),
        data: Bytes::from_static(data.as_bytes()),
    }
}

#[async_trait]
impl Engine for Fake {
    async fn version(&self) -> Result<docker::SystemVersion> {
        Ok(docker::SystemVersion {
            version: Some("28.0.0-fake".into()),
            api_version: Some("1.47".into()),
            min_api_version: Some("1.24".into()),
            os: Some("linux".into()),
            arch: Some("amd64".into()),
            kernel_version: Some("6.1.0".into()),
            go_version: Some("rust".into()),
            git_commit: Some("0000000".into()),
            components: Some(vec![docker::SystemVersionComponents {
                name: "Engine".into(),
                version: "28.0.0-fake".into(),
                details: Some(
                    [("ApiVersion".to_string(), "1.47".to_string())]
                        .into_iter()
                        .collect(),
                ),
            }]),
            ..Default::default()
        })
    }
    async fn info(&self) -> Result<docker::SystemInfo> {
        Ok(docker::SystemInfo {
            containers: Some(1),
            ..Default::default()
        })
    }
    async fn system_df(&self) -> Result<serde_json::Value> {
        Err(Error::internal("df failed on purpose"))
    }
    async fn events(&self, _: EventsOptions) -> Result<BoxStream<docker::EventMessage>> {
        Err(Error::not_implemented("events"))
    }
    async fn container_create(
        &self,
        request: CreateContainer,
    ) -> Result<docker::ContainerCreateResponse> {
        if request.name.as_deref() == Some("web") {
            return Err(Error::conflict("name web in use"));
        }
        Ok(docker::ContainerCreateResponse {
            id: ID.into(),
            warnings: vec![],
        })
    }
    async fn container_list(
        &self,
        options: ListContainersOptions,
    ) -> Result<Vec<docker::ContainerSummary>> {
        *self.last_filters.lock().unwrap_or_else(|e| e.into_inner()) = Some(options.filters);
        Ok(if options.all { vec![summary()] } else { vec![] })
    }
    async fn container_inspect(
        &self,
        id: &str,
        _: bool,
    ) -> Result<docker::ContainerInspectResponse> {
        self.check(id)?;
        Ok(inspect(self.tty))
    }
    async fn container_start(&self, id: &str) -> Result<()> {
        self.check(id)?;
        Err(Error::not_modified("already started"))
    }
    async fn container_stop(&self, id: &str, _: Option<String>, _: Option<i64>) -> Result<()> {
        self.check(id)
    }
    async fn container_restart(&self, id: &str, _: Option<String>, _: Option<i64>) -> Result<()> {
        self.check(id)
    }
    async fn container_kill(&self, id: &str, _: Option<String>) -> Result<()> {
        self.check(id)
    }
    async fn container_pause(&self, id: &str) -> Result<()> {
        self.check(id)
    }
    async fn container_unpause(&self, id: &str) -> Result<()> {
        self.check(id)
    }
    async fn container_rename(&self, id: &str, _: &str) -> Result<()> {
        self.check(id)
    }
    async fn container_update(
        &self,
        id: &str,
        _: docker::ContainerUpdateBody,
    ) -> Result<docker::ContainerUpdateResponse> {
        self.check(id)?;
        Ok(Default::default())
    }
    async fn container_remove(&self, id: &str, _: RemoveOptions) -> Result<()> {
        self.check(id)
    }
    async fn container_wait(&self, id: &str, _: WaitCondition) -> Result<WaitFuture> {
        self.check(id)?;
        let gate = self
            .wait_gate
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        Ok(Box::pin(async move {
            let code = match gate {
                Some(rx) => rx.await.unwrap_or(-1),
                None => 0,
            };
            docker::ContainerWaitResponse {
                status_code: code,
                error: None,
            }
        }))
    }
    async fn container_logs(&self, id: &str, options: LogOptions) -> Result<LogStream> {
        self.check(id)?;
        *self.last_logs.lock().unwrap_or_else(|e| e.into_inner()) = Some(options);
        let frames = vec![
            frame(
                StdStream::Stdout,
                "2024-05-01T10:00:00.000000001Z",
                "out1\n",
            ),
            frame(
                StdStream::Stderr,
                "2024-05-01T10:00:00.000000002Z",
                "err1\n",
            ),
            frame(
                StdStream::Stdout,
                "2024-05-01T10:00:00.000000003Z",
                "out2\n",
            ),
        ];
        Ok(LogStream {
            tty: self.tty,
            frames: Box::pin(futures_util::stream::iter(frames)),
        })
    }
    async fn container_attach(&self, id: &str, _: AttachOptions) -> Result<Hijack> {
        self.check(id)?;
        Ok(self.hijack(self.tty))
    }
    async fn container_resize(&self, id: &str, _: u16, _: u16) -> Result<()> {
        self.check(id)
    }
    async fn container_top(
        &self,
        id: &str,
        _: Option<String>,
    ) -> Result<docker::ContainerTopResponse> {
        self.check(id)?;
        Ok(Default::default())
    }
    async fn container_stats(
        &self,
        id: &str,
        _: bool,
    ) -> Result<BoxStream<docker::ContainerStatsResponse>> {
        self.check(id)?;
        Err(Error::not_implemented("stats"))
    }
    async fn container_changes(&self, id: &str) -> Result<Vec<docker::FilesystemChange>> {
        self.check(id)?;
        Ok(vec![])
    }
    async fn container_export(&self, id: &str) -> Result<ByteStream> {
        self.check(id)?;
        Err(Error::not_implemented("export"))
    }
    async fn container_archive_stat(&self, id: &str, path: &str) -> Result<PathStat> {
        self.check(id)?;
        Ok(PathStat {
            name: path.rsplit('/').next().unwrap_or("").into(),
            size: 30,
            mode: 420,
            mtime: "2026-11-26T14:06:12Z".into(),
            link_target: String::new(),
        })
    }
    async fn container_archive_get(&self, id: &str, path: &str) -> Result<(PathStat, ByteStream)> {
        let stat = self.container_archive_stat(id, path).await?;
        let body: ByteStream = Box::pin(futures_util::stream::iter(vec![Ok(Bytes::from_static(
            b"tar-bytes",
        ))]));
        Ok((stat, body))
    }
    async fn container_archive_put(
        &self,
        id: &str,
        _: &str,
        _: ArchivePutOptions,
        mut body: ByteStream,
    ) -> Result<()> {
        use futures_util::StreamExt;
        self.check(id)?;
        let mut n = 0;
        while let Some(chunk) = body.next().await {
            n += chunk.map_err(Error::internal)?.len();
        }
        if n == 0 {
            return Err(Error::invalid("empty archive"));
        }
        Ok(())
    }
    async fn container_prune(&self, _: Filters) -> Result<docker::ContainerPruneResponse> {
        Ok(Default::default())
    }
    async fn container_commit(&self, _: CommitOptions) -> Result<docker::IdResponse> {
        Err(Error::not_implemented("commit"))
    }
    async fn exec_create(&self, id: &str, _: docker::ExecConfig) -> Result<docker::IdResponse> {
        self.check(id)?;
        Ok(docker::IdResponse { id: "e1".into() })
    }
    async fn exec_start(
        &self,
        exec_id: &str,
        config: docker::ExecStartConfig,
    ) -> Result<Option<Hijack>> {
        if exec_id != "e1" {
            return Err(Error::not_found(format!(
                "No such exec instance: {exec_id}"
            )));
        }
        if config.detach == Some(true) {
            return Ok(None);
        }
        Ok(Some(self.hijack(config.tty.unwrap_or(false))))
    }
    async fn exec_resize(&self, _: &str, _: u16, _: u16) -> Result<()> {
        Ok(())
    }
    async fn exec_inspect(&self, _: &str) -> Result<docker::ExecInspectResponse> {
        Ok(Default::default())
    }
    async fn image_list(&self, _: ListImagesOptions) -> Result<Vec<docker::ImageSummary>> {
        Ok(vec![])
    }
    async fn image_inspect(&self, name: &str) -> Result<docker::ImageInspect> {
        if name == "ghost" {
            return Err(Error::not_found("No such image: ghost"));
        }
        Ok(docker::ImageInspect {
            id: Some(format!("sha256:{name}")),
            ..Default::default()
        })
    }
    async fn image_history(&self, _: &str) -> Result<Vec<docker::ImageHistoryResponseItem>> {
        Ok(vec![])
    }
    async fn image_tag(&self, _: &str, _: &str, _: Option<String>) -> Result<()> {
        Ok(())
    }
    async fn image_remove(
        &self,
        name: &str,
        _: bool,
        _: bool,
    ) -> Result<Vec<docker::ImageDeleteResponseItem>> {
        Ok(vec![docker::ImageDeleteResponseItem {
            untagged: Some(name.into()),
            deleted: None,
        }])
    }
    async fn image_prune(&self, _: Filters) -> Result<docker::ImagePruneResponse> {
        Ok(Default::default())
    }
    async fn image_load(&self, _: ByteStream, _: bool) -> Result<BoxStream<JsonMessage>> {
        Err(Error::not_implemented("load"))
    }
    async fn image_save(&self, _: Vec<String>) -> Result<ByteStream> {
        Err(Error::not_implemented("save"))
    }
    async fn image_import(
        &self,
        _: ByteStream,
        _: ImportOptions,
    ) -> Result<BoxStream<JsonMessage>> {
        Err(Error::not_implemented("import"))
    }
    async fn image_pull(
        &self,
        reference: &str,
        _: Option<String>,
    ) -> Result<BoxStream<JsonMessage>> {
        Ok(Box::pin(futures_util::stream::iter(vec![
            JsonMessage {
                status: Some(format!("Pulling from {reference}")),
                ..Default::default()
            },
            JsonMessage::error("registry unreachable"),
        ])))
    }
    async fn volume_create(&self, _: docker::VolumeCreateRequest) -> Result<docker::Volume> {
        Err(Error::not_implemented("volumes"))
    }
    async fn volume_list(&self, _: Filters) -> Result<docker::VolumeListResponse> {
        Ok(Default::default())
    }
    async fn volume_inspect(&self, name: &str) -> Result<docker::Volume> {
        Err(Error::not_found(format!("get {name}: no such volume")))
    }
    async fn volume_remove(&self, _: &str, _: bool) -> Result<()> {
        Ok(())
    }
    async fn volume_prune(&self, _: Filters) -> Result<docker::VolumePruneResponse> {
        Ok(Default::default())
    }
    async fn network_list(&self, _: Filters) -> Result<Vec<serde_json::Value>> {
        Ok(Vec::new())
    }
    async fn network_inspect(&self, id: &str) -> Result<serde_json::Value> {
        Err(Error::not_found(format!("network {id} not found")))
    }
    async fn network_create(
        &self,
        request: docker::NetworkCreateRequest,
    ) -> Result<docker::NetworkCreateResponse> {
        Err(Error::invalid(format!(
            "fake: cannot create network {}",
            request.name
        )))
    }
    async fn network_remove(&self, id: &str) -> Result<()> {
        Err(Error::not_found(format!("network {id} not found")))
    }
    async fn network_prune(&self, _: Filters) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    async fn network_connect(&self, id: &str, _: docker::NetworkConnectRequest) -> Result<()> {
        Err(Error::not_found(format!("network {id} not found")))
    }
    async fn network_disconnect(
        &self,
        id: &str,
        _: docker::NetworkDisconnectRequest,
    ) -> Result<()> {
        Err(Error::not_found(format!("network {id} not found")))
    }
}
