//! `berth_model::Engine` for [`Engine`]: each call delegates to the module that owns it.

use async_trait::async_trait;
use berth_model::docker;
use berth_model::{
    ArchivePutOptions, AttachOptions, BoxStream, ByteStream, CommitOptions, CreateContainer,
    EventsOptions, Filters, Hijack, ImportOptions, JsonMessage, ListContainersOptions,
    ListImagesOptions, LogOptions, LogStream, PathStat, RemoveOptions, Result, WaitCondition,
    WaitFuture,
};

use crate::Engine;

#[async_trait]
impl berth_model::Engine for Engine {
    async fn version(&self) -> Result<docker::SystemVersion> {
        Ok(self.version_info())
    }
    async fn info(&self) -> Result<docker::SystemInfo> {
        Ok(self.system_info().await)
    }
    async fn system_df(&self) -> Result<serde_json::Value> {
        self.df().await
    }
    async fn events(&self, options: EventsOptions) -> Result<BoxStream<docker::EventMessage>> {
        self.events_stream(options).await
    }

    async fn container_create(
        &self,
        request: CreateContainer,
    ) -> Result<docker::ContainerCreateResponse> {
        self.create(request).await
    }
    async fn container_list(
        &self,
        options: ListContainersOptions,
    ) -> Result<Vec<docker::ContainerSummary>> {
        self.list(options).await
    }
    async fn container_inspect(
        &self,
        id: &str,
        size: bool,
    ) -> Result<docker::ContainerInspectResponse> {
        self.inspect(id, size).await
    }
    async fn container_start(&self, id: &str) -> Result<()> {
        let c = self.container(id)?;
        let _op = c.op.lock().await;
        self.start_locked(&c, false).await
    }
    async fn container_stop(
        &self,
        id: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> Result<()> {
        self.stop(id, signal, timeout).await
    }
    async fn container_restart(
        &self,
        id: &str,
        signal: Option<String>,
        timeout: Option<i64>,
    ) -> Result<()> {
        self.restart(id, signal, timeout).await
    }
    async fn container_kill(&self, id: &str, signal: Option<String>) -> Result<()> {
        self.kill(id, signal).await
    }
    async fn container_pause(&self, id: &str) -> Result<()> {
        self.pause(id, true).await
    }
    async fn container_unpause(&self, id: &str) -> Result<()> {
        self.pause(id, false).await
    }
    async fn container_rename(&self, id: &str, new_name: &str) -> Result<()> {
        self.rename(id, new_name).await
    }
    async fn container_update(
        &self,
        id: &str,
        update: docker::ContainerUpdateBody,
    ) -> Result<docker::ContainerUpdateResponse> {
        self.update(id, update).await
    }
    async fn container_remove(&self, id: &str, options: RemoveOptions) -> Result<()> {
        self.remove(id, options.force, options.volumes).await
    }
    async fn container_wait(&self, id: &str, condition: WaitCondition) -> Result<WaitFuture> {
        self.wait(id, condition).await
    }
    async fn container_logs(&self, id: &str, options: LogOptions) -> Result<LogStream> {
        self.logs(id, options).await
    }
    async fn container_attach(&self, id: &str, options: AttachOptions) -> Result<Hijack> {
        self.attach(id, options).await
    }
    async fn container_resize(&self, id: &str, height: u16, width: u16) -> Result<()> {
        self.resize(id, height, width).await
    }
    async fn container_top(
        &self,
        id: &str,
        ps_args: Option<String>,
    ) -> Result<docker::ContainerTopResponse> {
        self.top(id, ps_args).await
    }
    async fn container_stats(
        &self,
        id: &str,
        stream: bool,
    ) -> Result<BoxStream<docker::ContainerStatsResponse>> {
        self.stats(id, stream).await
    }
    async fn container_changes(&self, id: &str) -> Result<Vec<docker::FilesystemChange>> {
        self.changes(id).await
    }
    async fn container_export(&self, id: &str) -> Result<ByteStream> {
        self.export(id).await
    }
    async fn container_archive_stat(&self, id: &str, path: &str) -> Result<PathStat> {
        self.archive_stat(id, path).await
    }
    async fn container_archive_get(&self, id: &str, path: &str) -> Result<(PathStat, ByteStream)> {
        self.archive_get(id, path).await
    }
    async fn container_archive_put(
        &self,
        id: &str,
        path: &str,
        options: ArchivePutOptions,
        body: ByteStream,
    ) -> Result<()> {
        self.archive_put(id, path, options, body).await
    }
    async fn container_prune(&self, filters: Filters) -> Result<docker::ContainerPruneResponse> {
        self.prune(filters).await
    }
    async fn container_commit(&self, options: CommitOptions) -> Result<docker::IdResponse> {
        self.commit(options).await
    }

    async fn exec_create(
        &self,
        id: &str,
        config: docker::ExecConfig,
    ) -> Result<docker::IdResponse> {
        Engine::exec_create(self, id, config).await
    }
    async fn exec_start(
        &self,
        exec_id: &str,
        config: docker::ExecStartConfig,
    ) -> Result<Option<Hijack>> {
        Engine::exec_start(self, exec_id, config).await
    }
    async fn exec_resize(&self, exec_id: &str, height: u16, width: u16) -> Result<()> {
        Engine::exec_resize(self, exec_id, height, width).await
    }
    async fn exec_inspect(&self, exec_id: &str) -> Result<docker::ExecInspectResponse> {
        Engine::exec_inspect(self, exec_id).await
    }

    async fn image_list(&self, options: ListImagesOptions) -> Result<Vec<docker::ImageSummary>> {
        self.images_list(options).await
    }
    async fn image_inspect(&self, name: &str) -> Result<docker::ImageInspect> {
        self.images.inspect(name).await
    }
    async fn image_history(&self, name: &str) -> Result<Vec<docker::ImageHistoryResponseItem>> {
        self.images.history(name).await
    }
    async fn image_tag(&self, name: &str, repo: &str, tag: Option<String>) -> Result<()> {
        self.image_tag_event(name, repo, tag).await
    }
    async fn image_remove(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
    ) -> Result<Vec<docker::ImageDeleteResponseItem>> {
        self.images_remove(name, force, noprune).await
    }
    async fn image_prune(&self, filters: Filters) -> Result<docker::ImagePruneResponse> {
        self.images_prune(filters).await
    }
    async fn image_load(&self, body: ByteStream, quiet: bool) -> Result<BoxStream<JsonMessage>> {
        self.images_load(body, quiet).await
    }
    async fn image_save(&self, names: Vec<String>) -> Result<ByteStream> {
        self.images.save(names).await
    }
    async fn image_import(
        &self,
        body: ByteStream,
        options: ImportOptions,
    ) -> Result<BoxStream<JsonMessage>> {
        self.images_import(body, options).await
    }
    async fn image_pull(
        &self,
        reference: &str,
        tag: Option<String>,
    ) -> Result<BoxStream<JsonMessage>> {
        self.images_pull(reference, tag).await
    }

    async fn volume_create(&self, request: docker::VolumeCreateRequest) -> Result<docker::Volume> {
        let (v, created) = self.volumes.create(
            request.name.as_deref(),
            request.driver.as_deref(),
            request.labels.unwrap_or_default(),
            request.driver_opts.unwrap_or_default(),
        )?;
        if created {
            self.volume_event(&v.name, "create");
        }
        Ok(v)
    }
    async fn volume_list(&self, filters: Filters) -> Result<docker::VolumeListResponse> {
        let vols = self
            .volumes
            .list()
            .into_iter()
            .filter(|v| self.volume_matches(v, &filters))
            .collect();
        Ok(docker::VolumeListResponse {
            volumes: Some(vols),
            warnings: Some(Vec::new()),
        })
    }
    async fn volume_inspect(&self, name: &str) -> Result<docker::Volume> {
        self.volumes.inspect(name)
    }
    async fn volume_remove(&self, name: &str, _force: bool) -> Result<()> {
        let users = self.volume_users(name);
        self.volumes.remove(name, &users)?;
        self.volume_event(name, "destroy");
        Ok(())
    }
    async fn volume_prune(&self, filters: Filters) -> Result<docker::VolumePruneResponse> {
        let all = filters
            .get("all")
            .is_some_and(|v| v.iter().any(|x| x == "true" || x == "1"));
        let mut deleted = Vec::new();
        let mut space = 0i64;
        for v in self.volumes.list() {
            let anonymous = v.labels.contains_key(crate::volumes::ANONYMOUS_LABEL);
            if !all && !anonymous {
                continue;
            }
            let mut f = filters.clone();
            f.remove("all");
            if !self.volume_matches(&v, &f) || !self.volume_users(&v.name).is_empty() {
                continue;
            }
            let size = self.volumes.size(&v.name);
            if self.volumes.remove(&v.name, &[]).is_ok() {
                self.volume_event(&v.name, "destroy");
                deleted.push(v.name.clone());
                space += size;
            }
        }
        Ok(docker::VolumePruneResponse {
            volumes_deleted: Some(deleted),
            space_reclaimed: Some(space),
        })
    }

    async fn network_list(&self, filters: Filters) -> Result<Vec<serde_json::Value>> {
        Ok(self.networks(&filters))
    }
    async fn network_inspect(&self, id: &str) -> Result<serde_json::Value> {
        self.network(id)
    }
    async fn network_create(
        &self,
        request: docker::NetworkCreateRequest,
    ) -> Result<docker::NetworkCreateResponse> {
        let me = self
            .arc()
            .ok_or_else(|| berth_model::Error::internal("the engine is shutting down"))?;
        let n = tokio::task::spawn_blocking(move || me.networks.create(&request))
            .await
            .map_err(|e| berth_model::Error::internal(e.to_string()))??;
        if n.is_user_defined() {
            self.networks.start_dns(&n);
        }
        self.emit_network_event(&n.id, &n.name, "create");
        Ok(docker::NetworkCreateResponse {
            id: n.id,
            warning: String::new(),
        })
    }
    async fn network_remove(&self, id: &str) -> Result<()> {
        let n = self.networks.find(id);
        self.network_rm(id).await?;
        if let Some(n) = n {
            self.emit_network_event(&n.id, &n.name, "destroy");
        }
        Ok(())
    }
    async fn network_connect(
        &self,
        id: &str,
        request: docker::NetworkConnectRequest,
    ) -> Result<()> {
        self.connect(id, request).await
    }
    async fn network_disconnect(
        &self,
        id: &str,
        request: docker::NetworkDisconnectRequest,
    ) -> Result<()> {
        self.disconnect(id, &request.container, request.force.unwrap_or(false))
            .await
    }
    async fn network_prune(&self, _filters: Filters) -> Result<Vec<String>> {
        let mut deleted = Vec::new();
        for n in self.networks.records() {
            if n.is_user_defined() && self.network_rm(&n.id).await.is_ok() {
                self.emit_network_event(&n.id, &n.name, "destroy");
                deleted.push(n.name);
            }
        }
        Ok(deleted)
    }
}

impl Engine {
    fn volume_matches(&self, v: &docker::Volume, filters: &Filters) -> bool {
        filters.iter().all(|(k, vals)| {
            crate::util::match_values(k, vals, |val| match k.as_str() {
                "name" => v.name.contains(val.as_str()),
                "driver" => &v.driver == val,
                "dangling" => {
                    let dangling = self.volume_users(&v.name).is_empty();
                    (val == "true" || val == "1") == dangling
                }
                "label" => match val.split_once('=') {
                    Some((lk, lv)) => v.labels.get(lk).is_some_and(|x| x == lv),
                    None => v.labels.contains_key(val.as_str()),
                },
                _ => false,
            })
        })
    }
}
