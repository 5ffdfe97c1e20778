//! Named network namespaces: a namespace kept alive by a bind mount on a file, like
//! `ip netns add` does under `/run/netns`, but under a directory the engine chooses
//! (`/run/berth/netns/<container id>`), so that the container's runtime joins it by path
//! (`linux.namespaces[].path` in `config.json`) and the engine can configure it before the
//! container starts and clean it up after it is gone.
//!
//! Thread rule: a namespace is only ever entered by a short-lived `std::thread` that this
//! module spawns ([`run_in`], [`create`]); the thread exits when its work is done, so no
//! thread of the caller (a tokio blocking-pool thread that will run other work later) is
//! ever left in a container's namespace.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// Creates a new network namespace, with loopback up, pinned by a bind mount on `path`.
///
/// `path` must not exist; its parent directories are created (mode 0755). The namespace is
/// made by a thread that unshares `CLONE_NEWNET`, sets `lo` up, bind-mounts its own
/// `/proc/thread-self/ns/net` on a new empty file at `path`, and exits: from then on the
/// mount is what keeps the namespace alive. On any failure the file is removed and the
/// namespace (held by nothing) disappears with the thread, so nothing is left behind.
pub fn create(path: &Path) -> Result<()> {
    let target = c_path(path)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .ctx(|| format!("create directory {}", parent.display()))?;
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(path)
    {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(Error::conflict(format!(
                "network namespace {} already exists",
                path.display()
            )));
        }
        Err(e) => return Err(Error::io(format!("create {}", path.display()), e)),
    }
    let made = std::thread::Builder::new()
        .name("berth-netns-new".into())
        .spawn(move || -> Result<()> {
            berth_sys::ns::unshare(libc::CLONE_NEWNET).ctx(|| "unshare a network namespace")?;
            berth_sys::ns::loopback_up().ctx(|| "set lo up in the new network namespace")?;
            berth_sys::ns::mount(
                Some(c"/proc/thread-self/ns/net"),
                &target,
                None,
                libc::MS_BIND,
                None,
            )
            .ctx(|| "bind-mount the new network namespace")
        })
        .ctx(|| "spawn a thread to create a network namespace")
        .and_then(|t| {
            t.join()
                .map_err(|_| Error::internal("the network namespace thread panicked"))?
        });
    if let Err(e) = made {
        let _ = fs::remove_file(path);
        return Err(Error {
            message: format!("create network namespace {}: {}", path.display(), e.message),
            ..e
        });
    }
    Ok(())
}

/// Removes the namespace pinned at `path`: detaches the mount (`MNT_DETACH`, so a process
/// still inside keeps it until it exits) and unlinks the file. A missing file, or a file
/// that is no longer a mount point (after a reboot), is fine.
pub fn remove(path: &Path) -> Result<()> {
    let target = c_path(path)?;
    // The nsfs mount has its own device number: while the file's differs from its
    // directory's, something is still mounted on it (several times after a retried create).
    let dir_dev = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .symlink_metadata()
        .map(|m| m.dev())
        .ok();
    for _ in 0..16 {
        let meta = match path.symlink_metadata() {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(format!("stat {}", path.display()), e)),
        };
        if Some(meta.dev()) == dir_dev {
            break;
        }
        match berth_sys::ns::umount2(&target, libc::MNT_DETACH) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
            Err(e) => return Err(Error::io(format!("unmount {}", path.display()), e)),
        }
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("remove {}", path.display()), e)),
    }
}

/// The namespace files in `dir`, sorted (an absent directory has none).
///
/// For reconciling after a daemon crash: every file whose container is gone goes to
/// [`remove`]. Names starting with `.` are skipped (never created by [`create`]'s callers).
pub fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("read directory {}", dir.display()), e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.ctx(|| format!("read directory {}", dir.display()))?;
        if entry.file_name().as_bytes().starts_with(b".") {
            continue;
        }
        // d_type of the underlying dentry: the empty regular file under the mount.
        let ty = entry
            .file_type()
            .ctx(|| format!("stat {}", entry.path().display()))?;
        if ty.is_file() {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Runs `f` on a short-lived thread that has joined the network namespace at `path`, and
/// returns its result. Sockets `f` creates stay in that namespace after it returns (a
/// netlink or TCP socket is bound to the namespace it was created in), which is how the
/// crate configures a namespace from the caller's thread without entering it.
///
/// Only the network namespace is joined: paths `f` opens are resolved as the caller's.
/// (`/proc/sys/net` shows the namespace of the thread that opens it, so sysctls inside the
/// namespace are written from `f`.)
pub fn run_in<T, F>(path: &Path, f: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> Result<T> + Send,
{
    let ns = File::open(path).ctx(|| format!("open network namespace {}", path.display()))?;
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("berth-netns".into())
            .spawn_scoped(s, move || -> Result<T> {
                berth_sys::ns::setns(ns.as_fd(), libc::CLONE_NEWNET)
                    .ctx(|| format!("join network namespace {}", path.display()))?;
                drop(ns);
                f()
            })
            .ctx(|| "spawn a thread to enter a network namespace")?;
        worker.join().map_err(|_| {
            Error::internal(format!(
                "the thread working in network namespace {} panicked",
                path.display()
            ))
        })?
    })
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::invalid(format!("path {} contains a NUL byte", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_skips_dot_files_and_dirs_and_tolerates_absence() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(list(&dir.path().join("nope")).expect("list").is_empty());
        fs::write(dir.path().join("b"), "").expect("write");
        fs::write(dir.path().join("a"), "").expect("write");
        fs::write(dir.path().join(".tmp"), "").expect("write");
        fs::create_dir(dir.path().join("sub")).expect("mkdir");
        let names: Vec<_> = list(dir.path())
            .expect("list")
            .into_iter()
            .map(|p| p.file_name().map(|n| n.to_owned()))
            .collect();
        assert_eq!(names, vec![Some("a".into()), Some("b".into())]);
    }

    #[test]
    fn remove_of_a_plain_or_missing_file_is_ok() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("x");
        remove(&p).expect("missing is fine");
        fs::write(&p, "").expect("write");
        remove(&p).expect("unmounted file is fine");
        assert!(!p.exists());
    }
}
