//! A container's filesystem: `diff`, `export`, `cp` in both directions, `commit`, and
//! filling new volumes from the image on first use.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_image::Snapshot;
use berth_model::docker;
use berth_model::{ArchivePutOptions, ByteStream, CommitOptions, Error, PathStat};

use crate::container::{Container, Record};
use crate::images::{map_err, stream_from};
use crate::{util, Engine};

fn path_stat(s: berth_image::archive::PathStat) -> PathStat {
    PathStat {
        name: s.name,
        size: s.size,
        mode: s.mode,
        mtime: s.mtime,
        link_target: s.link_target,
    }
}

/// Keeps a stopped container's root mounted for the length of one operation; the last
/// user to finish unmounts it (unless the container started meanwhile).
struct RootGuard {
    engine: Arc<Engine>,
    container: Arc<Container>,
    rootfs: PathBuf,
}

impl Drop for RootGuard {
    fn drop(&mut self) {
        let (engine, c, rootfs) = (
            self.engine.clone(),
            self.container.clone(),
            self.rootfs.clone(),
        );
        tokio::spawn(async move {
            let mut users = c.root_users.lock().await;
            *users = users.saturating_sub(1);
            if *users == 0 && !c.lock().state.is_running() {
                let _ = engine.images.unmount(&rootfs).await;
            }
        });
    }
}

impl Engine {
    /// The directory to operate on: the running container's own view (`/proc/<pid>/root`,
    /// volumes included), or its root mounted for the occasion.
    async fn root_of(&self, c: &Arc<Container>) -> Result<(PathBuf, Option<RootGuard>), Error> {
        let r = c.snapshot();
        if r.state.is_running() && r.state.pid > 0 {
            return Ok((PathBuf::from(format!("/proc/{}/root", r.state.pid)), None));
        }
        let engine = self
            .arc()
            .ok_or_else(|| Error::internal("engine shutting down"))?;
        let rootfs = self.container_dir(&r.id).join("rootfs");
        let mut users = c.root_users.lock().await;
        self.images
            .mount(&r.image_id, &self.container_dir(&r.id), &rootfs)
            .await?;
        *users += 1;
        drop(users);
        Ok((
            rootfs.clone(),
            Some(RootGuard {
                engine,
                container: c.clone(),
                rootfs,
            }),
        ))
    }

    pub(crate) async fn changes(
        &self,
        reference: &str,
    ) -> Result<Vec<docker::FilesystemChange>, Error> {
        let c = self.container(reference)?;
        let dir = self.container_dir(&c.lock().id);
        let store = self.images.store();
        let changes = tokio::task::spawn_blocking(move || {
            let snap = Snapshot::open(&dir).map_err(map_err)?;
            store.changes(&snap).map_err(map_err)
        })
        .await
        .map_err(|e| Error::internal(e.to_string()))??;
        Ok(changes
            .into_iter()
            .map(|ch| docker::FilesystemChange {
                path: ch.path,
                kind: match ch.kind {
                    berth_image::ChangeKind::Modified => docker::ChangeType::_0,
                    berth_image::ChangeKind::Added => docker::ChangeType::_1,
                    berth_image::ChangeKind::Deleted => docker::ChangeType::_2,
                },
            })
            .collect())
    }

    pub(crate) async fn export(&self, reference: &str) -> Result<ByteStream, Error> {
        let c = self.container(reference)?;
        // The container's own root, not its view: Docker's export leaves volumes out.
        let r = c.snapshot();
        let rootfs = self.container_dir(&r.id).join("rootfs");
        let guard = if r.state.is_running() {
            None
        } else {
            self.root_of(&c).await?.1
        };
        Ok(stream_from(move |w| {
            let _keep = guard;
            berth_image::archive::export(&rootfs, w).map_err(map_err)
        }))
    }

    pub(crate) async fn archive_stat(
        &self,
        reference: &str,
        path: &str,
    ) -> Result<PathStat, Error> {
        let c = self.container(reference)?;
        let (root, guard) = self.root_of(&c).await?;
        let path = path.to_string();
        let r = tokio::task::spawn_blocking(move || {
            let _keep = guard;
            berth_image::archive::stat_path(&root, &path).map_err(map_err)
        })
        .await
        .map_err(|e| Error::internal(e.to_string()))??;
        Ok(path_stat(r))
    }

    pub(crate) async fn archive_get(
        &self,
        reference: &str,
        path: &str,
    ) -> Result<(PathStat, ByteStream), Error> {
        let c = self.container(reference)?;
        // One mount for the stat and the tar: a second mount could be undone by the first
        // one's guard while the tar is being written.
        let (root, guard) = self.root_of(&c).await?;
        let (root2, path2) = (root.clone(), path.to_string());
        let stat = tokio::task::spawn_blocking(move || {
            berth_image::archive::stat_path(&root2, &path2).map_err(map_err)
        })
        .await
        .map_err(|e| Error::internal(e.to_string()))??;
        let path = path.to_string();
        Ok((
            path_stat(stat),
            stream_from(move |w| {
                let _keep = guard;
                berth_image::archive::archive_path(&root, &path, w)
                    .map(|_| ())
                    .map_err(map_err)
            }),
        ))
    }

    pub(crate) async fn archive_put(
        &self,
        reference: &str,
        path: &str,
        opts: ArchivePutOptions,
        body: ByteStream,
    ) -> Result<(), Error> {
        let c = self.container(reference)?;
        let rec = c.snapshot();
        if rec.host_config.readonly_rootfs.unwrap_or(false) {
            return Err(Error::conflict("container rootfs is marked read-only"));
        }
        let (root, guard) = self.root_of(&c).await?;
        let ownership = if opts.copy_uid_gid {
            let user = rec.config.user.clone().unwrap_or_default();
            let root2 = root.clone();
            let u = tokio::task::spawn_blocking(move || {
                berth_specgen::resolve_user(&root2, &user, &[])
            })
            .await
            .map_err(|e| Error::internal(e.to_string()))??;
            berth_image::Ownership::Force(u.uid, u.gid)
        } else {
            berth_image::Ownership::Keep
        };
        let reader = crate::images::reader_of_stream(body);
        let path = path.to_string();
        tokio::task::spawn_blocking(move || {
            let _keep = guard;
            berth_image::archive::extract_into(
                &root,
                &path,
                reader,
                opts.no_overwrite_dir_non_dir,
                ownership,
            )
            .map_err(map_err)
        })
        .await
        .map_err(|e| Error::internal(e.to_string()))?
    }

    pub(crate) async fn commit(&self, opts: CommitOptions) -> Result<docker::IdResponse, Error> {
        let c = self.container(&opts.container)?;
        let rec = c.snapshot();
        let pause = opts.pause && rec.state.status == "running";
        if pause {
            self.runtime(&["pause", &rec.id]).await?;
        }
        let mut config = rec.config.clone();
        if let Some(over) = opts.config.clone() {
            merge_commit_config(&mut config, over);
        }
        config.hostname = None;
        config.image = None;
        let config: Option<berth_image::ContainerConfig> = serde_json::to_value(&config)
            .ok()
            .and_then(|v| serde_json::from_value(v).ok());
        let reference = opts.repo.clone().filter(|r| !r.is_empty()).map(|r| {
            match opts.tag.clone().filter(|t| !t.is_empty()) {
                Some(t) => format!("{r}:{t}"),
                None => r,
            }
        });
        let copts = berth_image::CommitOptions {
            config,
            changes: opts.changes.clone(),
            comment: opts.comment.clone(),
            author: opts.author.clone(),
            reference,
            container_id: Some(rec.id.clone()),
            created_by: Some(crate::container::command_line(&rec)),
        };
        let dir = self.container_dir(&rec.id);
        let store = self.images.store();
        let result = tokio::task::spawn_blocking(move || {
            let snap = Snapshot::open(&dir).map_err(map_err)?;
            store.commit(&snap, &copts).map_err(map_err)
        })
        .await
        .map_err(|e| Error::internal(e.to_string()));
        if pause {
            let _ = self.runtime(&["resume", &rec.id]).await;
        }
        let id = result??;
        self.container_event(&rec, "commit", &[]);
        Ok(docker::IdResponse { id: id.to_string() })
    }

    /// Copies what the image has at a volume's destination into the volume when the
    /// volume is still empty (Docker's copy-up on first use).
    pub(crate) async fn populate_volumes(&self, rec: &Record, rootfs: &Path) -> Result<(), Error> {
        for m in &rec.mounts {
            let (Some(name), Some(dst)) = (m.name.as_deref(), m.destination.as_deref()) else {
                continue;
            };
            let data = self.volumes.data_path(name);
            let empty = std::fs::read_dir(&data)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if !empty {
                continue;
            }
            let src = rootfs.join(dst.trim_start_matches('/'));
            // The image's tree may hold symlinks: only copy what resolves inside the root.
            let Ok(real) = std::fs::canonicalize(&src) else {
                continue;
            };
            let Ok(real_root) = std::fs::canonicalize(rootfs) else {
                continue;
            };
            if !real.starts_with(&real_root) || !real.is_dir() {
                continue;
            }
            let out = tokio::process::Command::new("cp")
                .arg("-a")
                .arg(format!("{}/.", real.display()))
                .arg(&data)
                .output()
                .await
                .map_err(util::io_err("running cp"))?;
            if !out.status.success() {
                return Err(Error::internal(format!(
                    "copying image content into volume {name}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
        }
        Ok(())
    }
}

/// `docker commit` config overrides: set fields replace the container's.
fn merge_commit_config(base: &mut docker::ContainerConfig, over: docker::ContainerConfig) {
    macro_rules! take {
        ($($f:ident),*) => { $( if over.$f.is_some() { base.$f = over.$f.clone(); } )* };
    }
    take!(
        user,
        exposed_ports,
        env,
        cmd,
        healthcheck,
        volumes,
        working_dir,
        entrypoint,
        labels,
        stop_signal,
        on_build,
        shell
    );
}
