//! A container as the engine records it: Docker's config and host config, the resolved
//! image, mounts and run state, persisted as `containers/<id>/config.json` (atomic writes).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use berth_model::docker::{self, ContainerStateStatusEnum, ContainerSummaryStateEnum};
use berth_model::Error;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::util::{self, ZERO_TIME};

/// Run state, in Docker's terms.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RunState {
    /// created, running, paused, restarting, removing, exited, dead.
    pub status: String,
    /// The init's host PID while running, else 0.
    pub pid: i64,
    /// Last exit code.
    pub exit_code: i64,
    /// The last exit was an out-of-memory kill.
    pub oom_killed: bool,
    /// Why the last start failed, if it did.
    pub error: String,
    /// RFC 3339, [`ZERO_TIME`] if never.
    pub started_at: String,
    /// RFC 3339, [`ZERO_TIME`] if never.
    pub finished_at: String,
    /// Health check state, when the container has a health check.
    pub health: Option<docker::Health>,
}

impl Default for RunState {
    fn default() -> Self {
        RunState {
            status: "created".into(),
            pid: 0,
            exit_code: 0,
            oom_killed: false,
            error: String::new(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            health: None,
        }
    }
}

impl RunState {
    /// A process exists (running or paused).
    pub fn is_running(&self) -> bool {
        matches!(self.status.as_str(), "running" | "paused")
    }
}

/// Everything the engine keeps about one container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// 64 hex digits.
    pub id: String,
    /// Without the leading `/`.
    pub name: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// The image as the user named it (`Config.Image`).
    pub image_ref: String,
    /// `sha256:<hex>` of the image config.
    pub image_id: String,
    /// Merged config (image defaults + request).
    pub config: docker::ContainerConfig,
    /// Host config as requested (defaults filled).
    pub host_config: docker::HostConfig,
    /// Entry point and arguments actually run.
    pub path: String,
    /// See `path`.
    pub args: Vec<String>,
    /// Mounts as `inspect` shows them.
    #[serde(default)]
    pub mounts: Vec<docker::MountPoint>,
    /// Run state.
    #[serde(default)]
    pub state: RunState,
    /// Times the restart policy restarted it.
    #[serde(default)]
    pub restart_count: i64,
    /// Stopped by the user (`unless-stopped` does not restart it at daemon start).
    #[serde(default)]
    pub manually_stopped: bool,
    /// Ever started (Docker refuses some ops on never-started containers).
    #[serde(default)]
    pub has_been_started: bool,
    /// Storage driver that made its root (`overlay2` or `vfs`).
    #[serde(default)]
    pub driver: String,
    /// IDs of execs started in it (for inspect).
    #[serde(default)]
    pub exec_ids: Vec<String>,
    /// The bridge networks it is on (chosen at create) and, while it runs, what it got.
    #[serde(default)]
    pub endpoints: Vec<crate::network::Endpoint>,
    /// Its published ports while it runs.
    #[serde(default)]
    pub published: Vec<crate::network::Published>,
}

/// A container in memory: its record and a change counter waiters can watch.
#[derive(Debug)]
pub struct Container {
    record: Mutex<Record>,
    changed: watch::Sender<u64>,
    /// Serialises lifecycle operations (start, stop, remove…) on this container.
    pub op: tokio::sync::Mutex<()>,
    /// Where the record lives.
    pub dir: PathBuf,
    /// Attach requests made before the container started (`docker run`, `start -a`): the
    /// next start connects them before the process runs, so no output is missed.
    pub pending_attach: Mutex<Vec<PendingAttach>>,
    /// Operations (`cp`, `export`, …) using the root of a stopped container, which is
    /// mounted for them and unmounted when the last one ends.
    pub root_users: tokio::sync::Mutex<u32>,
}

/// An attach waiting for the container's next start.
#[derive(Debug)]
pub struct PendingAttach {
    /// What to ask the shim.
    pub request: berth_shim::protocol::AttachRequest,
    /// Where the connected stream goes.
    pub reply: tokio::sync::oneshot::Sender<tokio::net::UnixStream>,
}

impl Container {
    /// Wraps a record whose directory is `dir`.
    pub fn new(record: Record, dir: PathBuf) -> Arc<Container> {
        let (changed, _) = watch::channel(0);
        Arc::new(Container {
            record: Mutex::new(record),
            changed,
            op: tokio::sync::Mutex::new(()),
            dir,
            pending_attach: Mutex::new(Vec::new()),
            root_users: tokio::sync::Mutex::new(0),
        })
    }

    /// Loads `dir/config.json`.
    pub fn load(dir: &Path) -> Result<Arc<Container>, Error> {
        let path = dir.join("config.json");
        let data =
            std::fs::read(&path).map_err(util::io_err(format!("reading {}", path.display())))?;
        let record: Record = serde_json::from_slice(&data)
            .map_err(|e| Error::internal(format!("{}: {e}", path.display())))?;
        Ok(Container::new(record, dir.to_path_buf()))
    }

    /// The record (a short-lived lock; never held across an await).
    pub fn lock(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the record.
    pub fn snapshot(&self) -> Record {
        self.lock().clone()
    }

    /// Changes the record, persists it and wakes waiters.
    pub fn update<T>(&self, f: impl FnOnce(&mut Record) -> T) -> Result<T, Error> {
        let (out, data) = {
            let mut r = self.lock();
            let out = f(&mut r);
            let data = serde_json::to_vec_pretty(&*r)
                .map_err(|e| Error::internal(format!("encoding container record: {e}")))?;
            (out, data)
        };
        util::write_atomic(&self.dir.join("config.json"), &data)
            .map_err(util::io_err(format!("writing {}", self.dir.display())))?;
        self.changed.send_modify(|n| *n += 1);
        Ok(out)
    }

    /// Persists the record as it is.
    pub fn save(&self) -> Result<(), Error> {
        self.update(|_| ())
    }

    /// A receiver woken on every [`Container::update`].
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Wakes waiters without a change (used at removal).
    pub fn notify(&self) {
        self.changed.send_modify(|n| *n += 1);
    }
}

/// Docker's `State` object of inspect.
pub fn inspect_state(s: &RunState) -> docker::ContainerState {
    let status = match s.status.as_str() {
        "running" => ContainerStateStatusEnum::RUNNING,
        "paused" => ContainerStateStatusEnum::PAUSED,
        "restarting" => ContainerStateStatusEnum::RESTARTING,
        "removing" => ContainerStateStatusEnum::REMOVING,
        "exited" => ContainerStateStatusEnum::EXITED,
        "dead" => ContainerStateStatusEnum::DEAD,
        _ => ContainerStateStatusEnum::CREATED,
    };
    docker::ContainerState {
        status: Some(status),
        running: Some(s.is_running()),
        paused: Some(s.status == "paused"),
        restarting: Some(s.status == "restarting"),
        oom_killed: Some(s.oom_killed),
        dead: Some(s.status == "dead"),
        pid: Some(s.pid),
        exit_code: Some(s.exit_code),
        error: Some(s.error.clone()),
        started_at: Some(s.started_at.clone()),
        finished_at: Some(s.finished_at.clone()),
        health: s.health.clone(),
    }
}

/// The `State` word of `docker ps`.
pub fn summary_state(s: &RunState) -> ContainerSummaryStateEnum {
    match s.status.as_str() {
        "running" => ContainerSummaryStateEnum::RUNNING,
        "paused" => ContainerSummaryStateEnum::PAUSED,
        "restarting" => ContainerSummaryStateEnum::RESTARTING,
        "removing" => ContainerSummaryStateEnum::REMOVING,
        "exited" => ContainerSummaryStateEnum::EXITED,
        "dead" => ContainerSummaryStateEnum::DEAD,
        _ => ContainerSummaryStateEnum::CREATED,
    }
}

/// The `Status` text of `docker ps` ("Up 3 minutes (healthy)", "Exited (0) 5 seconds ago").
pub fn status_text(s: &RunState, now: f64) -> String {
    let ago = |t: &str| util::parse_rfc3339(t).map(|t| human_duration(now - t));
    match s.status.as_str() {
        "running" | "paused" => {
            let mut out = format!(
                "Up {}",
                ago(&s.started_at).unwrap_or_else(|| "Less than a second".into())
            );
            if s.status == "paused" {
                out.push_str(" (Paused)");
            }
            if let Some(h) = s.health.as_ref().and_then(|h| h.status) {
                let word = h.to_string();
                if word == "starting" {
                    out.push_str(" (health: starting)");
                } else if !word.is_empty() && word != "none" {
                    out.push_str(&format!(" ({word})"));
                }
            }
            out
        }
        "restarting" => format!(
            "Restarting ({}) {} ago",
            s.exit_code,
            ago(&s.finished_at).unwrap_or_else(|| "Less than a second".into())
        ),
        "exited" => format!(
            "Exited ({}) {} ago",
            s.exit_code,
            ago(&s.finished_at).unwrap_or_else(|| "Less than a second".into())
        ),
        "removing" => "Removal In Progress".into(),
        "dead" => "Dead".into(),
        _ => "Created".into(),
    }
}

/// Docker's `units.HumanDuration`.
pub fn human_duration(secs: f64) -> String {
    let s = secs.max(0.0) as i64;
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{s} seconds"),
        60..=119 => "About a minute".into(),
        _ if s < 3600 => format!("{} minutes", s / 60),
        _ if s < 2 * 3600 => "About an hour".into(),
        _ if s < 48 * 3600 => format!("{} hours", s / 3600),
        _ if s < 7 * 24 * 3600 * 2 => format!("{} days", s / 86400),
        _ if s < 30 * 24 * 3600 * 2 => format!("{} weeks", s / (7 * 86400)),
        _ if s < 365 * 24 * 3600 * 2 => format!("{} months", s / (30 * 86400)),
        _ => format!("{} years", s / (365 * 86400)),
    }
}

/// The `Command` column of `docker ps`: path and args joined.
pub fn command_line(r: &Record) -> String {
    std::iter::once(r.path.as_str())
        .chain(r.args.iter().map(String::as_str))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Labels of the container (never None, as clients index it).
pub fn labels(r: &Record) -> HashMap<String, String> {
    r.config.labels.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_texts_read_like_dockers() {
        let now = 1_000_000.0;
        let mut s = RunState {
            status: "exited".into(),
            exit_code: 3,
            finished_at: util::rfc3339(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(999_995),
            ),
            ..Default::default()
        };
        assert_eq!(status_text(&s, now), "Exited (3) 5 seconds ago");
        s.status = "running".into();
        s.started_at =
            util::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(999_820));
        assert_eq!(status_text(&s, now), "Up 3 minutes");
        s.status = "created".into();
        assert_eq!(status_text(&s, now), "Created");
        assert_eq!(human_duration(90.0), "About a minute");
        assert_eq!(human_duration(7200.0), "2 hours");
    }
}
