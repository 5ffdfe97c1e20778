//! A container's state directory under the runtime root.
//!
//! `<root>/<id>/` holds `state.json` (the [`Saved`] record, written atomically) and, while
//! the container is created but not started, `start.sock`, on which the init waits.
//! Operations on one container are serialized by an exclusive `flock` on the directory.

use crate::util::{process_alive, write_atomic};
use crate::{Error, Result};
use berth_spec::{Spec, State, Status, OCI_VERSION};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::{Path, PathBuf};

/// What the runtime records about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    /// Container ID.
    pub id: String,
    /// Host PID of the init.
    pub pid: i32,
    /// Start time of the init (ticks since boot), to recognise PID reuse.
    pub pid_start: u64,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    /// uid that created the container.
    pub owner: u32,
    /// The config as created, with `update`s applied.
    pub config: Spec,
}

/// An open, locked container directory.
pub struct ContainerDir {
    /// `<root>/<id>`.
    pub path: PathBuf,
    _lock: File,
}

/// Checks a container ID: non-empty, no path separators, runc's character set.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "invalid container id {id:?}: use letters, digits, '_', '+', '-', '.'"
        )))
    }
}

fn lock(dir: &Path) -> Result<File> {
    let f = File::open(dir).map_err(|e| Error::sys(format!("opening {}", dir.display()), e))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| Error::sys(format!("locking {}", dir.display()), e))?;
    Ok(f)
}

impl ContainerDir {
    /// Creates and locks the directory of a new container.
    pub fn create(root: &Path, id: &str) -> Result<ContainerDir> {
        check_id(id)?;
        std::fs::create_dir_all(root)
            .map_err(|e| Error::sys(format!("creating {}", root.display()), e))?;
        let path = root.join(id);
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::AlreadyExists(id.to_string()))
            }
            Err(e) => return Err(Error::sys(format!("creating {}", path.display()), e)),
        }
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o711));
        let lock = lock(&path)?;
        Ok(ContainerDir { path, _lock: lock })
    }

    /// Opens and locks an existing container's directory.
    pub fn open(root: &Path, id: &str) -> Result<ContainerDir> {
        check_id(id)?;
        let path = root.join(id);
        let lock = match File::open(&path) {
            Ok(_) => lock(&path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(format!("container {id:?} does not exist")))
            }
            Err(e) => return Err(Error::sys(format!("opening {}", path.display()), e)),
        };
        // Deleted while we waited for the lock.
        if !path.join("state.json").exists() {
            return Err(Error::NotFound(format!("container {id:?} does not exist")));
        }
        Ok(ContainerDir { path, _lock: lock })
    }

    /// The lock's descriptor number, which a forked child must close (flock locks belong
    /// to the open file, so a child holding a copy would keep the container locked).
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self._lock.as_raw_fd()
    }

    /// Path of the socket the created init waits on.
    pub fn start_sock(&self) -> PathBuf {
        self.path.join("start.sock")
    }

    /// A short name for `start.sock` that `bind`/`connect` accept whatever the length of
    /// the state directory's path: through the directory's descriptor
    /// (`/proc/self/fd/N/start.sock`), since `sun_path` holds only 108 bytes and
    /// containerd's state paths (`/run/containerd/runc/<ns>/<64-hex id>/…`) are longer.
    pub fn start_sock_short(&self) -> PathBuf {
        use std::os::fd::AsRawFd;
        PathBuf::from(format!(
            "/proc/self/fd/{}/start.sock",
            self._lock.as_raw_fd()
        ))
    }

    /// Reads the saved record.
    pub fn load(&self) -> Result<Saved> {
        let p = self.path.join("state.json");
        let data =
            std::fs::read(&p).map_err(|e| Error::sys(format!("reading {}", p.display()), e))?;
        serde_json::from_slice(&data)
            .map_err(|e| Error::Invalid(format!("corrupt state {}: {e}", p.display())))
    }

    /// Writes the saved record atomically.
    pub fn save(&self, s: &Saved) -> Result<()> {
        let data = serde_json::to_vec(s).map_err(|e| Error::Invalid(e.to_string()))?;
        write_atomic(&self.path.join("state.json"), &data)
    }

    /// Removes the directory (the lock goes with it).
    pub fn remove(self) -> Result<()> {
        std::fs::remove_dir_all(&self.path)
            .map_err(|e| Error::sys(format!("removing {}", self.path.display()), e))
    }
}

impl Saved {
    /// The status, derived from the live system: is the init alive, is it still waiting
    /// for `start`, is its cgroup frozen.
    pub fn status(&self, dir: &Path, frozen: impl FnOnce() -> bool) -> Status {
        if !process_alive(self.pid, self.pid_start) {
            Status::Stopped
        } else if dir.join("start.sock").exists() {
            Status::Created
        } else if frozen() {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// The OCI state document.
    pub fn state(&self, status: Status) -> State {
        State {
            oci_version: OCI_VERSION.to_string(),
            id: self.id.clone(),
            status,
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            bundle: self.bundle.display().to_string(),
            annotations: self.config.annotations.clone(),
        }
    }
}

/// The state JSON for hooks and listeners.
pub fn state_json(state: &State) -> String {
    serde_json::to_string(state).unwrap_or_default()
}
