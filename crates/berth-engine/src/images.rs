//! The engine's side of `berth-image`: the synchronous store behind `spawn_blocking`, its
//! errors mapped to the API's kinds, and images shown in Docker's shapes.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_image::{Digest, Driver, Snapshot, Store};
use berth_model::docker;
use berth_model::{
    BoxStream, ByteStream, Error, ErrorKind, Filters, ImportOptions, JsonMessage, ListImagesOptions,
};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::Engine;

/// Maps the store's errors to the API's kinds.
pub fn map_err(e: berth_image::Error) -> Error {
    let kind = match e.kind {
        berth_image::ErrorKind::NotFound => ErrorKind::NotFound,
        berth_image::ErrorKind::Conflict => ErrorKind::Conflict,
        berth_image::ErrorKind::InvalidArgument => ErrorKind::InvalidArgument,
        _ => ErrorKind::Internal,
    };
    Error::new(kind, e.to_string())
}

/// [`map_err`] for an operation on the image `name`, except that `name` not resolving is
/// Docker's `No such image: <name>`.
fn map_name_err(name: &str) -> impl Fn(berth_image::Error) -> Error + '_ {
    move |e| match e.kind {
        berth_image::ErrorKind::NotFound => Error::not_found(format!("No such image: {name}")),
        _ => map_err(e),
    }
}

/// What a container needs of its image.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    /// `sha256:<hex>`.
    pub id: String,
    /// The image config's `config` object.
    pub config: serde_json::Value,
}

/// The image store, shared with blocking tasks.
#[derive(Debug, Clone)]
pub struct Images {
    store: Arc<Store>,
    driver: Option<Driver>,
}

/// A blocking read over a byte stream arriving on a channel (request bodies).
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    buf: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.recv() {
                Ok(Ok(b)) => self.buf = b,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf = self.buf.slice(n..);
        Ok(n)
    }
}

/// Feeds an async byte stream to a blocking reader.
pub fn reader_of_stream(body: ByteStream) -> impl Read + Send {
    reader_of(body)
}

fn reader_of(mut body: ByteStream) -> ChannelReader {
    let (tx, rx) = std::sync::mpsc::sync_channel(16);
    tokio::spawn(async move {
        while let Some(chunk) = body.next().await {
            let stop = chunk.is_err();
            let tx2 = tx.clone();
            if tokio::task::spawn_blocking(move || tx2.send(chunk))
                .await
                .map(|r| r.is_err())
                .unwrap_or(true)
                || stop
            {
                return;
            }
        }
    });
    ChannelReader {
        rx,
        buf: Bytes::new(),
    }
}

/// A blocking writer whose bytes come out as an async byte stream (tar bodies).
struct ChannelWriter {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(data)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with a writer on a blocking thread; the bytes stream out. An error ends the
/// stream with an I/O error (the client sees a truncated body, as with Docker).
pub fn stream_from<F>(f: F) -> ByteStream
where
    F: FnOnce(&mut dyn std::io::Write) -> Result<(), Error> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(16);
    let tx2 = tx.clone();
    tokio::task::spawn_blocking(move || {
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, ChannelWriter { tx });
        let r = f(&mut w).and_then(|()| {
            std::io::Write::flush(&mut w).map_err(|e| Error::internal(e.to_string()))
        });
        if let Err(e) = r {
            let _ = tx2.blocking_send(Err(std::io::Error::other(e.message)));
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format!("image store task: {e}")))?
}

fn digest(id: &str) -> Result<Digest, Error> {
    Digest::parse(id).map_err(map_err)
}

impl Images {
    /// Opens the store at `root`; `driver` is `overlay2`/`overlay` or `vfs`.
    pub fn open(root: PathBuf, driver: Option<String>) -> Result<Images, Error> {
        let driver = match driver.as_deref() {
            None | Some("") => None,
            Some("overlay2") | Some("overlay") => Some(Driver::Overlay),
            Some("vfs") => Some(Driver::Copy),
            Some(other) => {
                return Err(Error::invalid(format!(
                    "unknown storage driver {other:?}: berth has overlay2 and vfs"
                )))
            }
        };
        let store = Store::open(root).map_err(map_err)?;
        Ok(Images {
            store: Arc::new(store),
            driver,
        })
    }

    /// The storage driver's Docker name.
    pub fn driver_name(&self) -> String {
        self.driver
            .unwrap_or(Driver::Overlay)
            .docker_name()
            .to_string()
    }

    /// The image a user string names.
    pub async fn resolve(&self, name: &str) -> Result<ImageInfo, Error> {
        let store = self.store.clone();
        let name = name.to_string();
        blocking(move || {
            let id = store.resolve(&name).map_err(map_name_err(&name))?;
            let img = store.image(&id).map_err(map_err)?;
            Ok(ImageInfo {
                id: id.to_string(),
                config: img.config.json().get("config").cloned().unwrap_or_default(),
            })
        })
        .await
    }

    /// Whether a user string names the image `id` (for `ancestor=` filters).
    pub fn is_same_image(&self, name: &str, id: &str) -> bool {
        self.store
            .resolve(name)
            .map(|d| d.to_string() == id)
            .unwrap_or(false)
    }

    /// Number of images.
    pub async fn count(&self) -> i64 {
        let store = self.store.clone();
        blocking(move || Ok(store.list().map(|l| l.len() as i64).unwrap_or(0)))
            .await
            .unwrap_or(0)
    }

    /// Creates a container's writable layer; returns the driver's Docker name.
    pub async fn prepare(&self, image: &str, dir: &Path) -> Result<String, Error> {
        let (store, driver, dir) = (self.store.clone(), self.driver, dir.to_path_buf());
        let id = digest(image)?;
        blocking(move || {
            let key = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let snap = store
                .create_snapshot(&key, Some(&id), &dir, driver)
                .map_err(map_err)?;
            Ok(snap.driver.docker_name().to_string())
        })
        .await
    }

    /// Mounts a container's root at `target` (a no-op if it is mounted already).
    pub async fn mount(&self, _image: &str, dir: &Path, target: &Path) -> Result<(), Error> {
        let (store, dir, target) = (self.store.clone(), dir.to_path_buf(), target.to_path_buf());
        blocking(move || {
            if is_mountpoint(&target) {
                return Ok(());
            }
            std::fs::create_dir_all(&target).map_err(crate::util::io_err(format!(
                "creating {}",
                target.display()
            )))?;
            let snap = Snapshot::open(&dir).map_err(map_err)?;
            store.mount(&snap, &target).map_err(map_err)
        })
        .await
    }

    /// Unmounts a container's root if mounted.
    pub async fn unmount(&self, target: &Path) -> Result<(), Error> {
        let target = target.to_path_buf();
        blocking(move || {
            if is_mountpoint(&target) {
                berth_image::snapshot::unmount(&target).map_err(map_err)?;
            }
            Ok(())
        })
        .await
    }

    /// Removes a container's writable layer (the directory itself is the caller's).
    pub async fn remove_snapshot(&self, dir: &Path) -> Result<(), Error> {
        let (store, dir) = (self.store.clone(), dir.to_path_buf());
        blocking(move || match Snapshot::open(&dir) {
            Ok(snap) => store.remove_snapshot(&snap).map_err(map_err),
            Err(_) => Ok(()),
        })
        .await
    }

    /// (`SizeRw`, `SizeRootFs`) of a container.
    pub async fn sizes(&self, image: &str, dir: &Path) -> (i64, i64) {
        let (store, dir) = (self.store.clone(), dir.to_path_buf());
        let image = image.to_string();
        blocking(move || {
            let rw = Snapshot::open(&dir)
                .and_then(|s| store.rw_size(&s))
                .unwrap_or(0) as i64;
            let base = Digest::parse(&image)
                .and_then(|d| store.image(&d))
                .map(|i| i.size as i64)
                .unwrap_or(0);
            Ok((rw, rw + base))
        })
        .await
        .unwrap_or((0, 0))
    }

    /// `GraphDriver` of inspect.
    pub async fn graph_driver(&self, _image: &str, dir: &Path, driver: &str) -> docker::DriverData {
        let mut data = HashMap::new();
        if let Ok(snap) = Snapshot::open(dir) {
            let lowers: Vec<String> = self
                .store
                .lower_dirs(&snap)
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            data.insert("LowerDir".to_string(), lowers.join(":"));
            data.insert(
                "UpperDir".to_string(),
                snap.upper_dir().display().to_string(),
            );
            data.insert("WorkDir".to_string(), snap.work_dir().display().to_string());
            data.insert(
                "MergedDir".to_string(),
                dir.join("rootfs").display().to_string(),
            );
        }
        docker::DriverData {
            name: if driver.is_empty() {
                self.driver_name()
            } else {
                driver.to_string()
            },
            data,
        }
    }

    /// The store, for blocking work elsewhere in the engine.
    pub fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// `docker image inspect`.
    pub async fn inspect(&self, name: &str) -> Result<docker::ImageInspect, Error> {
        let store = self.store.clone();
        let name = name.to_string();
        blocking(move || {
            let id = store
                .resolve(&name)
                .map_err(|_| Error::not_found(format!("No such image: {name}")))?;
            let img = store.image(&id).map_err(map_err)?;
            let cfg = img.config.json();
            let config: Option<docker::ImageConfig> = cfg
                .get("config")
                .and_then(|c| serde_json::from_value(c.clone()).ok());
            Ok(docker::ImageInspect {
                id: Some(img.id.to_string()),
                repo_tags: Some(img.repo_tags.clone()),
                repo_digests: Some(img.repo_digests.clone()),
                comment: Some(img.config.comment().unwrap_or_default().to_string()),
                created: img.config.created().map(str::to_string),
                author: Some(img.config.author().unwrap_or_default().to_string()),
                config,
                architecture: Some(img.config.architecture().unwrap_or("amd64").to_string()),
                variant: img.config.variant().map(str::to_string),
                os: Some(img.config.os().unwrap_or("linux").to_string()),
                size: Some(img.size as i64),
                graph_driver: Some(docker::DriverData {
                    name: "overlay2".into(),
                    data: HashMap::new(),
                }),
                root_fs: Some(docker::ImageInspectRootFs {
                    typ: "layers".into(),
                    layers: Some(img.diff_ids.iter().map(|d| d.to_string()).collect()),
                }),
                metadata: Some(docker::ImageInspectMetadata {
                    last_tag_time: Some("0001-01-01T00:00:00Z".into()),
                }),
                ..Default::default()
            })
        })
        .await
    }

    /// `docker history`.
    pub async fn history(
        &self,
        name: &str,
    ) -> Result<Vec<docker::ImageHistoryResponseItem>, Error> {
        let store = self.store.clone();
        let name = name.to_string();
        blocking(move || {
            let items = store.history(&name).map_err(map_name_err(&name))?;
            Ok(items
                .into_iter()
                .map(|h| docker::ImageHistoryResponseItem {
                    id: h
                        .id
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "<missing>".into()),
                    created: h.created,
                    created_by: h.created_by,
                    tags: h.tags,
                    size: h.size as i64,
                    comment: h.comment,
                })
                .collect())
        })
        .await
    }

    /// `docker save`.
    pub async fn save(&self, names: Vec<String>) -> Result<ByteStream, Error> {
        let store = self.store.clone();
        // Fail before any byte is sent when a name does not resolve.
        for n in &names {
            let (s, n2) = (store.clone(), n.clone());
            blocking(move || {
                s.resolve(&n2)
                    .map(|_| ())
                    .map_err(|_| Error::not_found(format!("No such image: {n2}")))
            })
            .await?;
        }
        Ok(stream_from(move |w| store.save(&names, w).map_err(map_err)))
    }

    /// `docker system df` images.
    pub async fn df_images(&self, used: &[String]) -> Result<Vec<serde_json::Value>, Error> {
        let store = self.store.clone();
        let used = used.to_vec();
        blocking(move || {
            let list = store.list().map_err(map_err)?;
            Ok(list
                .iter()
                .map(|i| {
                    let n = used.iter().filter(|u| **u == i.id.to_string()).count();
                    serde_json::json!({
                        "Id": i.id.to_string(), "ParentId": i.parent.as_ref().map(|p| p.to_string()).unwrap_or_default(),
                        "RepoTags": i.repo_tags, "RepoDigests": i.repo_digests, "Created": i.created,
                        "Size": i.size, "SharedSize": -1, "VirtualSize": i.size, "Labels": i.labels(), "Containers": n,
                    })
                })
                .collect())
        })
        .await
    }
}

fn is_mountpoint(p: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let target = p.display().to_string();
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(target.as_str()))
}

impl Engine {
    /// Docker's in-use check for image removal: a container (running or not) uses it.
    fn image_users(&self) -> HashMap<String, (String, bool)> {
        self.all_containers()
            .iter()
            .map(|c| c.snapshot())
            .map(|r| (r.image_id.clone(), (r.id.clone(), r.state.is_running())))
            .collect()
    }

    pub(crate) async fn images_list(
        &self,
        opts: ListImagesOptions,
    ) -> Result<Vec<docker::ImageSummary>, Error> {
        let store = self.images.store();
        let users = self.image_users();
        let counts: HashMap<String, i64> =
            self.all_containers()
                .iter()
                .fold(HashMap::new(), |mut m, c| {
                    *m.entry(c.lock().image_id.clone()).or_default() += 1;
                    m
                });
        let filters = opts.filters.clone();
        let _ = users;
        blocking(move || {
            let mut list = store.list().map_err(map_err)?;
            list.sort_by_key(|i| std::cmp::Reverse(i.created));
            let mut out = Vec::new();
            for i in list {
                let labels: HashMap<String, String> = i.labels().into_iter().collect();
                let ok = filters.iter().all(|(k, vals)| {
                    crate::util::match_values(k, vals, |v| match k.as_str() {
                        "dangling" => (v == "true" || v == "1") == i.dangling(),
                        "label" => match v.split_once('=') {
                            Some((lk, lv)) => labels.get(lk).is_some_and(|x| x == lv),
                            None => labels.contains_key(v.as_str()),
                        },
                        "reference" => i.repo_tags.iter().any(|t| reference_matches(v, t)),
                        "before" | "since" => true,
                        _ => false,
                    })
                });
                if !ok {
                    continue;
                }
                if !opts.all
                    && i.dangling()
                    && !store.children(&i.id).map(|c| c.is_empty()).unwrap_or(true)
                {
                    continue;
                }
                let id = i.id.to_string();
                out.push(docker::ImageSummary {
                    id: id.clone(),
                    parent_id: i.parent.as_ref().map(|p| p.to_string()).unwrap_or_default(),
                    repo_tags: i.repo_tags.clone(),
                    repo_digests: i.repo_digests.clone(),
                    created: i.created,
                    size: i.size as i64,
                    shared_size: -1,
                    labels,
                    containers: counts
                        .get(&id)
                        .copied()
                        .unwrap_or(-1)
                        .max(if counts.contains_key(&id) { 0 } else { -1 }),
                    manifests: None,
                    descriptor: None,
                });
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn image_tag_event(
        &self,
        name: &str,
        repo: &str,
        tag: Option<String>,
    ) -> Result<(), Error> {
        let store = self.images.store();
        let target = match tag.filter(|t| !t.is_empty()) {
            Some(t) => format!("{repo}:{t}"),
            None => repo.to_string(),
        };
        let (name2, target2) = (name.to_string(), target.clone());
        let id = blocking(move || {
            let id = store
                .resolve(&name2)
                .map_err(|_| Error::not_found(format!("No such image: {name2}")))?;
            store.tag(&name2, &target2).map_err(map_err)?;
            Ok(id)
        })
        .await?;
        let attrs = HashMap::from([("name".to_string(), target)]);
        self.events.publish(
            docker::EventMessageTypeEnum::IMAGE,
            "tag",
            &id.to_string(),
            attrs,
        );
        Ok(())
    }

    pub(crate) async fn images_remove(
        &self,
        name: &str,
        force: bool,
        noprune: bool,
    ) -> Result<Vec<docker::ImageDeleteResponseItem>, Error> {
        let store = self.images.store();
        let users = self.image_users();
        let name = name.to_string();
        let items = blocking(move || {
            let in_use = |d: &Digest| {
                users
                    .get(&d.to_string())
                    .map(|(c, running)| berth_image::Usage {
                        container: c.clone(),
                        running: *running,
                    })
            };
            store
                .remove(&name, force, noprune, &in_use)
                .map_err(map_name_err(&name))
        })
        .await?;
        Ok(items.into_iter().map(|i| self.delete_item(i)).collect())
    }

    fn delete_item(&self, i: berth_image::DeleteItem) -> docker::ImageDeleteResponseItem {
        match i {
            berth_image::DeleteItem::Untagged(r) => {
                self.events.publish(
                    docker::EventMessageTypeEnum::IMAGE,
                    "untag",
                    &r,
                    HashMap::new(),
                );
                docker::ImageDeleteResponseItem {
                    untagged: Some(r),
                    deleted: None,
                }
            }
            berth_image::DeleteItem::Deleted(d) => {
                self.events.publish(
                    docker::EventMessageTypeEnum::IMAGE,
                    "delete",
                    &d.to_string(),
                    HashMap::new(),
                );
                docker::ImageDeleteResponseItem {
                    untagged: None,
                    deleted: Some(d.to_string()),
                }
            }
        }
    }

    pub(crate) async fn images_prune(
        &self,
        filters: Filters,
    ) -> Result<docker::ImagePruneResponse, Error> {
        let dangling_only = filters
            .get("dangling")
            .is_none_or(|v| v.iter().any(|x| x == "true" || x == "1"));
        let store = self.images.store();
        let users = self.image_users();
        let (items, space) = blocking(move || {
            let in_use = |d: &Digest| {
                users
                    .get(&d.to_string())
                    .map(|(c, running)| berth_image::Usage {
                        container: c.clone(),
                        running: *running,
                    })
            };
            store.prune(dangling_only, &in_use).map_err(map_err)
        })
        .await?;
        Ok(docker::ImagePruneResponse {
            images_deleted: Some(items.into_iter().map(|i| self.delete_item(i)).collect()),
            space_reclaimed: Some(space as i64),
        })
    }

    pub(crate) async fn images_load(
        &self,
        body: ByteStream,
        quiet: bool,
    ) -> Result<BoxStream<JsonMessage>, Error> {
        let store = self.images.store();
        let (tx, rx) = mpsc::channel(64);
        let reader = reader_of(body);
        let me = self.arc();
        tokio::task::spawn_blocking(move || {
            let tx2 = tx.clone();
            let mut progress = |p: berth_image::LoadProgress| {
                if !quiet {
                    let _ = tx2.blocking_send(JsonMessage {
                        status: Some("Loading layer".into()),
                        id: Some(p.id.clone()),
                        progress_detail: Some(berth_model::ProgressDetail {
                            current: Some(p.current as i64),
                            total: Some(p.total as i64),
                        }),
                        ..Default::default()
                    });
                }
            };
            match store.load(reader, &mut progress) {
                Ok(loaded) => {
                    for m in &loaded.messages {
                        let _ = tx.blocking_send(JsonMessage::stream(format!("{m}\n")));
                    }
                    if let Some(me) = me {
                        for id in &loaded.images {
                            me.events.publish(
                                docker::EventMessageTypeEnum::IMAGE,
                                "load",
                                &id.to_string(),
                                HashMap::new(),
                            );
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(JsonMessage::error(e.to_string()));
                }
            }
        });
        Ok(Box::pin(ReceiverStream::new(rx)))
    }

    pub(crate) async fn images_import(
        &self,
        body: ByteStream,
        opts: ImportOptions,
    ) -> Result<BoxStream<JsonMessage>, Error> {
        let store = self.images.store();
        let reference = opts.repo.clone().filter(|r| !r.is_empty()).map(|r| {
            match opts.tag.clone().filter(|t| !t.is_empty()) {
                Some(t) => format!("{r}:{t}"),
                None => r,
            }
        });
        let options = berth_image::ImportOptions {
            reference,
            changes: opts.changes.clone(),
            message: opts.message.clone(),
            platform: opts.platform.clone(),
        };
        let reader = reader_of(body);
        let (tx, rx) = mpsc::channel(4);
        let me = self.arc();
        tokio::task::spawn_blocking(move || match store.import(reader, &options) {
            Ok(id) => {
                if let Some(me) = me {
                    me.events.publish(
                        docker::EventMessageTypeEnum::IMAGE,
                        "import",
                        &id.to_string(),
                        HashMap::new(),
                    );
                }
                let _ = tx.blocking_send(JsonMessage {
                    status: Some(id.to_string()),
                    ..Default::default()
                });
            }
            Err(e) => {
                let _ = tx.blocking_send(JsonMessage::error(e.to_string()));
            }
        });
        Ok(Box::pin(ReceiverStream::new(rx)))
    }

    pub(crate) async fn images_pull(
        &self,
        reference: &str,
        tag: Option<String>,
    ) -> Result<BoxStream<JsonMessage>, Error> {
        let name = match tag.filter(|t| !t.is_empty()) {
            Some(t) if !reference.contains('@') => format!("{reference}:{t}"),
            _ => reference.to_string(),
        };
        match self.images.resolve(&name).await {
            Ok(info) => {
                let msgs = vec![
                    JsonMessage { status: Some(format!("Image {name} is present locally ({})", info.id)), ..Default::default() },
                ];
                Ok(Box::pin(tokio_stream::iter(msgs)))
            }
            Err(_) => Err(Error::not_found(format!(
                "pull access denied for {name}: berth has no registry client yet; load the image with `docker load` or `docker import`"
            ))),
        }
    }
}

/// Docker's `reference=` filter: a glob on the familiar name, with or without the tag.
fn reference_matches(pattern: &str, tag: &str) -> bool {
    let (repo, _) = tag.rsplit_once(':').unwrap_or((tag, ""));
    glob(pattern, tag) || glob(pattern, repo)
}

fn glob(p: &str, s: &str) -> bool {
    match p.split_once('*') {
        None => p == s,
        Some((pre, rest)) => {
            if !s.starts_with(pre) {
                return false;
            }
            let s = &s[pre.len()..];
            (0..=s.len()).any(|i| s.is_char_boundary(i) && glob(rest, &s[i..]))
        }
    }
}
