//! Drop guards, so privileged tests leave nothing behind even when they fail.

use std::io::ErrorKind;
use std::path::Path;
use std::time::{Duration, Instant};

/// Runs a closure when dropped (also while unwinding from a failed assertion).
///
/// ```
/// use berth_testutil::Cleanup;
/// let dir = std::env::temp_dir().join(berth_testutil::unique_id("doc"));
/// std::fs::create_dir(&dir).unwrap();
/// {
///     let d = dir.clone();
///     let _guard = Cleanup::new(move || { let _ = std::fs::remove_dir(&d); });
/// }
/// assert!(!dir.exists());
/// ```
#[must_use = "the closure runs when the guard drops; bind it to a named variable"]
pub struct Cleanup<F: FnOnce()> {
    run: Option<F>,
}

impl<F: FnOnce()> Cleanup<F> {
    /// A guard that runs `f` on drop.
    pub fn new(f: F) -> Self {
        Cleanup { run: Some(f) }
    }

    /// Drops the guard without running the closure.
    pub fn dismiss(mut self) {
        self.run = None;
    }
}

impl<F: FnOnce()> Drop for Cleanup<F> {
    fn drop(&mut self) {
        if let Some(f) = self.run.take() {
            f();
        }
    }
}

impl Cleanup<Box<dyn FnOnce()>> {
    /// A guard that SIGKILLs process `pid` on drop (errors ignored: it may be gone).
    pub fn kill_pid(pid: i32) -> Self {
        Cleanup::new(Box::new(move || {
            if pid > 0 {
                let _ = berth_sys::proc::kill(pid, libc::SIGKILL);
            }
        }))
    }

    /// A guard that removes cgroup directory `path` (and sub-cgroups) on drop; see
    /// [`remove_cgroup_dir`].
    pub fn cgroup_dir(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_path_buf();
        Cleanup::new(Box::new(move || {
            if let Err(e) = remove_cgroup_dir(&path, Duration::from_secs(5)) {
                eprintln!("cleanup: cannot remove cgroup {}: {e}", path.display());
            }
        }))
    }
}

/// Removes a cgroup directory tree, children first, retrying while it is busy.
///
/// cgroupfs directories are removed with rmdir(2) only (their control files cannot be
/// unlinked, so `remove_dir_all` fails), and rmdir returns EBUSY until the last task has
/// left: a process just killed may still be exiting, so this retries until `timeout`.
/// A missing directory is success.
pub fn remove_cgroup_dir(path: &Path, timeout: Duration) -> std::io::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        match remove_tree_once(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn remove_tree_once(path: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            remove_tree_once(&entry.path())?;
        }
    }
    std::fs::remove_dir(path)
}
