//! Local volumes: `volumes/<name>/_data` under the data root, metadata in
//! `volumes/<name>/volume.json`. Which containers use a volume is derived from the container
//! records by the engine, so nothing here can go stale.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use berth_model::docker::{self, VolumeScopeEnum};
use berth_model::Error;
use serde::{Deserialize, Serialize};

use crate::util;

/// The label Docker puts on volumes it made for a container (`docker volume prune` removes
/// only these unless asked for all).
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    name: String,
    driver: String,
    created_at: String,
    #[serde(default)]
    labels: HashMap<String, String>,
    #[serde(default)]
    options: HashMap<String, String>,
}

/// The volume store.
#[derive(Debug)]
pub struct Volumes {
    root: PathBuf,
    lock: Mutex<()>,
}

/// Docker's rule for volume names.
fn valid_name(name: &str) -> bool {
    let mut c = name.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphanumeric())
        && name.len() >= 2
        && c.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl Volumes {
    /// Opens the store at `root` (creating it).
    pub fn open(root: PathBuf) -> Result<Volumes, Error> {
        std::fs::create_dir_all(&root)
            .map_err(util::io_err(format!("creating {}", root.display())))?;
        Ok(Volumes {
            root,
            lock: Mutex::new(()),
        })
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The host directory holding the volume's data.
    pub fn data_path(&self, name: &str) -> PathBuf {
        self.dir(name).join("_data")
    }

    /// Creates a volume, or returns the existing one of that name (Docker's behaviour).
    /// `name` None makes an anonymous volume with a random name.
    pub fn create(
        &self,
        name: Option<&str>,
        driver: Option<&str>,
        labels: HashMap<String, String>,
        options: HashMap<String, String>,
    ) -> Result<(docker::Volume, bool), Error> {
        let driver = driver.filter(|d| !d.is_empty()).unwrap_or("local");
        if driver != "local" {
            return Err(Error::not_found(format!(
                "error looking up volume plugin {driver}: plugin \"{driver}\" not found"
            )));
        }
        let mut labels = labels;
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                if !valid_name(n) {
                    return Err(Error::invalid(format!(
                        "create {n}: \"{n}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
                    )));
                }
                n.to_string()
            }
            None => {
                labels.insert(ANONYMOUS_LABEL.into(), String::new());
                util::new_id()?
            }
        };
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Ok(v) = self.inspect(&name) {
            return Ok((v, false));
        }
        let dir = self.dir(&name);
        let data = dir.join("_data");
        std::fs::create_dir_all(&data)
            .map_err(util::io_err(format!("creating {}", data.display())))?;
        let meta = Meta {
            name: name.clone(),
            driver: driver.into(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            labels,
            options,
        };
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| Error::internal(e.to_string()))?;
        util::write_atomic(&dir.join("volume.json"), &json)
            .map_err(util::io_err(format!("writing volume {name}")))?;
        Ok((self.view(meta), true))
    }

    fn view(&self, m: Meta) -> docker::Volume {
        docker::Volume {
            mountpoint: self.data_path(&m.name).display().to_string(),
            name: m.name,
            driver: m.driver,
            created_at: Some(m.created_at),
            status: None,
            labels: m.labels,
            scope: Some(VolumeScopeEnum::LOCAL),
            cluster_volume: None,
            options: m.options,
            usage_data: None,
        }
    }

    fn meta(&self, name: &str) -> Result<Meta, Error> {
        let path = self.dir(name).join("volume.json");
        let data = std::fs::read(&path)
            .map_err(|_| Error::not_found(format!("get {name}: no such volume")))?;
        serde_json::from_slice(&data)
            .map_err(|e| Error::internal(format!("{}: {e}", path.display())))
    }

    /// `volume inspect`.
    pub fn inspect(&self, name: &str) -> Result<docker::Volume, Error> {
        if !valid_name(name) {
            return Err(Error::not_found(format!("get {name}: no such volume")));
        }
        Ok(self.view(self.meta(name)?))
    }

    /// All volumes, by name.
    pub fn list(&self) -> Vec<docker::Volume> {
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir(&self.root) else {
            return out;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Ok(m) = self.meta(&name) {
                out.push(self.view(m));
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Removes a volume; `in_use` names the containers using it (refused unless `force`,
    /// and even then Docker refuses: a volume in use is never removed).
    pub fn remove(&self, name: &str, in_use: &[String]) -> Result<(), Error> {
        self.meta(name)?;
        if !in_use.is_empty() {
            return Err(Error::conflict(format!(
                "remove {name}: volume is in use - [{}]",
                in_use.join(", ")
            )));
        }
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let dir = self.dir(name);
        // Rename first so a crash never leaves a half-deleted volume that still lists.
        let trash = self
            .root
            .join(format!(".trash-{name}-{}", std::process::id()));
        std::fs::rename(&dir, &trash).map_err(util::io_err(format!("removing volume {name}")))?;
        std::fs::remove_dir_all(&trash).map_err(util::io_err(format!("removing volume {name}")))
    }

    /// Bytes used by a volume (for `system df -v` and `volume ls` sizes).
    pub fn size(&self, name: &str) -> i64 {
        dir_size(&self.data_path(name)) as i64
    }
}

/// Total size of regular files under `p` (not following symlinks).
pub fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.is_file() {
                total += m.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_is_idempotent_and_remove_refuses_in_use() {
        let dir = tempfile::tempdir().expect("tmp");
        let v = Volumes::open(dir.path().join("volumes")).expect("open");
        let (a, created) = v
            .create(Some("data"), None, HashMap::new(), HashMap::new())
            .expect("create");
        assert!(created);
        assert!(Path::new(&a.mountpoint).is_dir());
        let (_, again) = v
            .create(Some("data"), None, HashMap::new(), HashMap::new())
            .expect("again");
        assert!(!again);
        let (anon, _) = v
            .create(None, None, HashMap::new(), HashMap::new())
            .expect("anon");
        assert!(anon.labels.contains_key(ANONYMOUS_LABEL));
        assert_eq!(v.list().len(), 2);
        let err = v.remove("data", &["web".into()]).expect_err("in use");
        assert_eq!(err.kind, berth_model::ErrorKind::Conflict);
        v.remove("data", &[]).expect("remove");
        assert_eq!(
            v.inspect("data").expect_err("gone").message,
            "get data: no such volume"
        );
        assert!(v
            .create(Some("bad/name"), None, HashMap::new(), HashMap::new())
            .is_err());
        assert!(v
            .create(Some("x"), Some("nfs"), HashMap::new(), HashMap::new())
            .is_err());
    }
}
