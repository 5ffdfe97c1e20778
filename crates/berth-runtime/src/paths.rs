//! Resolving paths inside a container root, which is hostile: a symlink in the rootfs
//! must never lead a mount, mkdir or write outside it.
//!
//! Every lookup goes through `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` relative
//! to an fd of the root (<https://man7.org/linux/man-pages/man2/openat2.2.html>), and the
//! object is then used through its fd (`/proc/self/fd/N` for mount targets), so a swap of
//! a path component between check and use cannot redirect us (the CVE-2024-45310 class).

use crate::{Error, Result};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// Opens a directory as an `O_PATH` root for the lookups below.
pub fn open_root(path: &Path) -> Result<OwnedFd> {
    rustix::fs::open(
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::sys(format!("opening root {}", path.display()), e))
}

/// The path relative to the root, with `.` and leading `/` removed; `..` is kept for the
/// kernel to clamp at the root.
pub fn relative(path: &str) -> PathBuf {
    Path::new(path)
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::CurDir))
        .collect()
}

/// Opens `path` inside `root` with `flags` (an `O_PATH` handle unless told otherwise).
pub fn open_in(root: impl AsFd, path: &str, flags: OFlags) -> std::io::Result<OwnedFd> {
    let rel = relative(path);
    let rel = if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    };
    Ok(rustix::fs::openat2(
        root,
        &rel,
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        RESOLVE,
    )?)
}

/// Opens the directory `path` inside `root`, creating missing components with `mode`.
pub fn mkdir_all(root: &OwnedFd, path: &str, mode: u32) -> Result<OwnedFd> {
    let rel = relative(path);
    let mut prefix = PathBuf::new();
    let mut dir = open_in(root, ".", OFlags::PATH | OFlags::DIRECTORY)
        .map_err(|e| Error::sys("opening container root", e))?;
    for comp in rel.components() {
        prefix.push(comp);
        let p = prefix.to_string_lossy().into_owned();
        dir = match open_in(root, &p, OFlags::PATH | OFlags::DIRECTORY) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let name = comp.as_os_str();
                match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(mode)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => {
                        return Err(Error::sys(format!("creating {path} in the container"), e))
                    }
                }
                open_in(root, &p, OFlags::PATH | OFlags::DIRECTORY)
                    .map_err(|e| Error::sys(format!("opening {path} in the container"), e))?
            }
            Err(e) => return Err(Error::sys(format!("opening {path} in the container"), e)),
        };
    }
    Ok(dir)
}

/// Opens `path` inside `root` as an `O_PATH` handle, creating it as an empty regular file
/// (and its parents) when missing: the target of a file bind mount.
pub fn mkfile(root: &OwnedFd, path: &str) -> Result<OwnedFd> {
    if let Ok(fd) = open_in(root, path, OFlags::PATH) {
        return Ok(fd);
    }
    let rel = relative(path);
    let parent = rel
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = rel
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("invalid path {path:?}")))?;
    let dir = mkdir_all(root, &parent, 0o755)?;
    match rustix::fs::openat(
        &dir,
        name,
        OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    ) {
        Ok(_) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(Error::sys(format!("creating {path} in the container"), e)),
    }
    open_in(root, path, OFlags::PATH)
        .map_err(|e| Error::sys(format!("opening {path} in the container"), e))
}

/// `/proc/self/fd/N` for an fd: the race-free name of the object for mount(2).
pub fn fd_path(fd: &OwnedFd) -> String {
    use std::os::fd::AsRawFd;
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_cannot_escape_the_root() {
        let t = tempfile::tempdir().expect("tempdir");
        let root = t.path().join("root");
        std::fs::create_dir(&root).expect("mkdir");
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).expect("mkdir");
        std::fs::create_dir(root.join("outside")).expect("mkdir");
        // On the host "../outside" leaves the root; inside it is clamped at the root.
        std::os::unix::fs::symlink("../outside", root.join("evil")).expect("symlink");
        let fd = open_root(&root).expect("root");
        mkdir_all(&fd, "/evil/sub", 0o755).expect("mkdir inside");
        assert!(
            root.join("outside/sub").is_dir(),
            "created under the root's own /outside"
        );
        assert!(
            !outside.join("sub").exists(),
            "nothing created outside the root"
        );
        mkfile(&fd, "/evil/file").expect("mkfile");
        assert!(!outside.join("file").exists());
    }

    #[test]
    fn dotdot_is_clamped() {
        let t = tempfile::tempdir().expect("tempdir");
        let fd = open_root(t.path()).expect("root");
        mkdir_all(&fd, "../../x/y", 0o755).expect("mkdir");
        assert!(t.path().join("x/y").is_dir());
    }
}
