//! Snapshots: a container's root file system over an image's layers.
//!
//! A snapshot lives in the container's directory: `rw/upper` (its writable layer),
//! `rw/work` (overlayfs' work directory) and `rw/snapshot.json` (driver, image, the chain
//! IDs of its layers; no absolute paths). The store records the layers it holds in
//! `snapshots/<key>.json` so garbage collection keeps them.
//!
//! Drivers:
//! - [`Driver::Overlay`]: [`Store::mount`] mounts overlayfs with the unpacked layers as
//!   `lowerdir` (top first) and `rw/upper`. Mount data is limited to one page, and layer
//!   paths are long, so each directory is opened and passed as `/proc/self/fd/<n>`
//!   (17 bytes per layer, about 200 layers per page; Docker allows 128): the kernel
//!   resolves those magic links at mount time to exactly the directories opened, and the
//!   fds are closed afterwards. `index=off,redirect_dir=off,metacopy=off` keep the upper
//!   directory a plain diff (whole copied-up files, no redirects) that [`Store::commit`]
//!   can tar as-is.
//! - [`Driver::Copy`] (Docker's `vfs`, and the fallback when overlayfs refuses the upper
//!   file system, e.g. an overlay inside an overlay): `rw/upper` is a full copy of the
//!   merged layers, bind-mounted at the target; changes are found by comparing it with
//!   the layers.

use std::collections::HashMap;
use std::ffi::{CString, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Stat, Timespec, Timestamps};
use rustix::io::Errno;
use rustix::mount::{self as mnt, MountFlags, UnmountFlags};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::fsx::{self, Walk};
use crate::layers::{Merged, SnapshotRef};
use crate::store::Store;
use crate::unpack::OPAQUE_XATTR;

/// How a snapshot presents the container's root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// overlayfs over the shared unpacked layers.
    Overlay,
    /// A full private copy (`vfs`).
    Copy,
}

impl Driver {
    /// Docker's name for it (`overlay2`, `vfs`), for `docker info` / inspect.
    pub fn docker_name(self) -> &'static str {
        match self {
            Driver::Overlay => "overlay2",
            Driver::Copy => "vfs",
        }
    }
}

/// A container's root file system: see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The container directory (not stored: the snapshot moves with it).
    #[serde(skip)]
    pub dir: PathBuf,
    /// The key the store knows it by (the container ID).
    pub key: String,
    /// Overlay or copy.
    pub driver: Driver,
    /// The image it was made from (none for an empty root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Digest>,
    /// Chain IDs of its layers, bottom first.
    pub layers: Vec<Digest>,
}

/// `docker diff` kinds, numbered as the API reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    /// `C` (0).
    Modified = 0,
    /// `A` (1).
    Added = 1,
    /// `D` (2).
    Deleted = 2,
}

/// One `docker diff` line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// Absolute path in the container (`/etc/passwd`).
    pub path: String,
    /// What happened to it.
    pub kind: ChangeKind,
}

/// What [`Store::commit`] makes of a container.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The new image's container config (default: the parent image's).
    pub config: Option<crate::spec::ContainerConfig>,
    /// `--change` instructions applied on top.
    pub changes: Vec<String>,
    /// `-m`.
    pub comment: Option<String>,
    /// `-a`.
    pub author: Option<String>,
    /// `repo[:tag]` to tag the result with.
    pub reference: Option<String>,
    /// The container's ID (recorded as `container` in the config).
    pub container_id: Option<String>,
    /// History `created_by` (Docker puts the container's command there).
    pub created_by: Option<String>,
}

impl Snapshot {
    /// Reads the snapshot of the container directory `dir`.
    pub fn open(dir: &Path) -> Result<Snapshot> {
        let p = dir.join("rw/snapshot.json");
        let data = std::fs::read(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => {
                Error::not_found(format!("no snapshot in {}", dir.display()))
            }
            _ => Error::io(format!("read {}", p.display()), e),
        })?;
        let mut s: Snapshot = serde_json::from_slice(&data)
            .map_err(|e| Error::internal(format!("corrupt {}: {e}", p.display())))?;
        s.dir = dir.to_path_buf();
        Ok(s)
    }
    /// `rw/upper`: the writable layer (overlay) or the whole root (copy).
    pub fn upper_dir(&self) -> PathBuf {
        self.dir.join("rw/upper")
    }
    /// `rw/work`.
    pub fn work_dir(&self) -> PathBuf {
        self.dir.join("rw/work")
    }
}

impl Store {
    /// The unpacked layer directories of a snapshot, top first (overlay's `lowerdir` order).
    pub fn lower_dirs(&self, snap: &Snapshot) -> Vec<PathBuf> {
        snap.layers
            .iter()
            .rev()
            .map(|c| self.layer_dir(c))
            .collect()
    }

    /// Creates the snapshot `key` of `image` (or an empty root) in `container_dir`
    /// (`rw/upper`, `rw/work`); `driver` None picks overlay when the kernel accepts it
    /// there, else copy.
    pub fn create_snapshot(
        &self,
        key: &str,
        image: Option<&Digest>,
        container_dir: &Path,
        driver: Option<Driver>,
    ) -> Result<Snapshot> {
        if key.is_empty()
            || key.starts_with('.')
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return Err(Error::invalid(format!("invalid snapshot key {key:?}")));
        }
        let _i = self.ingesting();
        let diff_ids = match image {
            Some(id) => self.image(id)?.diff_ids,
            None => vec![],
        };
        let layers = self.prepare_layers(&diff_ids)?;
        // Recorded before anything else so a concurrent gc keeps the layers.
        self.write_snapshot_ref(
            key,
            &SnapshotRef {
                layers: layers.clone(),
            },
        )?;
        let rw = container_dir.join("rw");
        let result = (|| {
            for d in ["upper", "work"] {
                std::fs::create_dir_all(rw.join(d))
                    .ctx(|| format!("create {}", rw.join(d).display()))?;
            }
            rfs::chmod(rw.join("upper"), Mode::from_raw_mode(0o755)).ctx(|| "chmod upper")?;
            let driver = match driver {
                Some(d) => d,
                None if self.overlay_works(&rw) => Driver::Overlay,
                None => Driver::Copy,
            };
            let snap = Snapshot {
                dir: container_dir.to_path_buf(),
                key: key.to_string(),
                driver,
                image: image.cloned(),
                layers: layers.clone(),
            };
            if driver == Driver::Copy {
                let merged = Merged::open(&self.lower_dirs(&snap))?;
                let dst = fsx::open_dir(&snap.upper_dir())?;
                copy_merged(&merged, &[], dst.as_fd(), dst.as_fd(), &mut HashMap::new())?;
            }
            let data = serde_json::to_vec_pretty(&snap).map_err(Error::internal)?;
            fsx::write_atomic(&rw.join("snapshot.json"), &data)?;
            Ok(snap)
        })();
        if result.is_err() {
            let _ = fsx::remove_tree(&rw);
            let _ = self.remove_snapshot_ref(key);
        }
        result
    }

    /// Removes the snapshot's `rw/` and releases its layers (unmount it first).
    pub fn remove_snapshot(&self, snap: &Snapshot) -> Result<()> {
        let rw = snap.dir.join("rw");
        fsx::remove_tree(&rw).ctx(|| format!("remove {}", rw.display()))?;
        self.remove_snapshot_ref(&snap.key)
    }

    /// Mounts the snapshot's root at `target` (an existing directory).
    pub fn mount(&self, snap: &Snapshot, target: &Path) -> Result<()> {
        match snap.driver {
            Driver::Copy => mnt::mount_bind(snap.upper_dir(), target).ctx(|| {
                format!(
                    "bind mount {} on {}",
                    snap.upper_dir().display(),
                    target.display()
                )
            }),
            Driver::Overlay => {
                let mut lowers = self.lower_dirs(snap);
                if lowers.is_empty() {
                    // overlayfs needs a lower directory; an empty one gives an empty root.
                    let empty = snap.dir.join("rw/empty");
                    std::fs::create_dir_all(&empty)
                        .ctx(|| format!("create {}", empty.display()))?;
                    lowers.push(empty);
                }
                mount_overlay(&lowers, &snap.upper_dir(), &snap.work_dir(), target)
            }
        }
    }

    /// Size of what the container wrote (`docker ps -s` SIZE, `system df`).
    pub fn rw_size(&self, snap: &Snapshot) -> Result<u64> {
        match snap.driver {
            Driver::Overlay => {
                let dir = fsx::open_dir(&snap.upper_dir())?;
                let mut seen = HashMap::new();
                tree_size(dir.as_fd(), &mut seen)
            }
            Driver::Copy => {
                let upper = fsx::open_dir(&snap.upper_dir())?;
                let mut size = 0;
                for c in self.changes(snap)? {
                    if c.kind == ChangeKind::Deleted {
                        continue;
                    }
                    let comps = fsx::clean(c.path.as_bytes(), true).unwrap_or_default();
                    let Some((name, parent)) = comps.split_last() else {
                        continue;
                    };
                    if let Ok(dir) = fsx::open_dirs(upper.as_fd(), parent, Walk::Strict, false) {
                        if let Ok(st) =
                            rfs::statat(&dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
                        {
                            if !matches!(
                                FileType::from_raw_mode(st.st_mode),
                                FileType::Directory | FileType::CharacterDevice
                            ) {
                                size += st.st_size as u64;
                            }
                        }
                    }
                }
                Ok(size)
            }
        }
    }
}

/// Mounts overlayfs (see the module documentation for the `/proc/self/fd` paths).
pub fn mount_overlay(lowers: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> Result<()> {
    let mut fds: Vec<OwnedFd> = vec![];
    let mut open = |p: &Path| -> Result<String> {
        let fd = rfs::open(
            p,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ctx(|| format!("open {}", p.display()))?;
        let s = fsx::proc_fd_path(fd.as_fd()).to_string_lossy().into_owned();
        fds.push(fd);
        Ok(s)
    };
    let lower = lowers
        .iter()
        .map(|p| open(p))
        .collect::<Result<Vec<_>>>()?
        .join(":");
    let upper = open(upper)?;
    let work = open(work)?;
    let base = format!("lowerdir={lower},upperdir={upper},workdir={work}");
    let mut last = Errno::INVAL;
    // Kernels before 4.19 lack `metacopy`, before 4.13 `index`: retry with less.
    for extra in [
        ",index=off,redirect_dir=off,metacopy=off",
        ",index=off,redirect_dir=off",
        "",
    ] {
        let data = CString::new(format!("{base}{extra}"))
            .map_err(|_| Error::internal("NUL in overlay options"))?;
        if data.as_bytes().len() >= 4096 {
            return Err(Error::internal(format!(
                "too many layers for one overlay mount ({})",
                lowers.len()
            )));
        }
        match mnt::mount(
            "overlay",
            target,
            "overlay",
            MountFlags::empty(),
            data.as_c_str(),
        ) {
            Ok(()) => return Ok(()),
            Err(e @ Errno::INVAL) => last = e,
            Err(e) => {
                last = e;
                break;
            }
        }
    }
    Err(Error::io(
        format!("mount overlay on {}", target.display()),
        last.into(),
    ))
}

/// Unmounts a snapshot's root (lazily when busy: the mount goes once unused).
pub fn unmount(target: &Path) -> Result<()> {
    match mnt::unmount(target, UnmountFlags::empty()) {
        Ok(()) => Ok(()),
        Err(Errno::BUSY) => mnt::unmount(target, UnmountFlags::DETACH)
            .ctx(|| format!("unmount {}", target.display())),
        Err(Errno::INVAL) => Err(Error::not_found(format!(
            "{} is not mounted",
            target.display()
        ))),
        Err(e) => Err(Error::io(format!("unmount {}", target.display()), e.into())),
    }
}

impl Store {
    /// Does overlayfs accept an upper directory on `rw`'s file system? Asked of the
    /// kernel once per file system (see [`probe_overlay`]).
    fn overlay_works(&self, rw: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Ok(dev) = std::fs::metadata(rw).map(|m| m.dev()) else {
            return probe_overlay(rw);
        };
        let mut known = self.overlay_ok.lock().unwrap_or_else(|p| p.into_inner());
        *known.entry(dev).or_insert_with(|| probe_overlay(rw))
    }
}

/// Mounts a one-layer overlay under `rw/.probe` and unmounts it: does overlayfs accept
/// an upper directory on this file system?
fn probe_overlay(rw: &Path) -> bool {
    let probe = rw.join(".probe");
    let dirs = ["lower", "upper", "work", "merged"].map(|d| probe.join(d));
    let ok = dirs.iter().all(|d| std::fs::create_dir_all(d).is_ok())
        && mount_overlay(&[dirs[0].clone()], &dirs[1], &dirs[2], &dirs[3]).is_ok();
    if ok {
        let _ = mnt::unmount(&dirs[3], UnmountFlags::DETACH);
    }
    let _ = fsx::remove_tree(&probe);
    ok
}

fn tree_size(dir: BorrowedFd<'_>, seen: &mut HashMap<(u64, u64), ()>) -> Result<u64> {
    let mut size = 0;
    for n in fsx::list_dir(dir).ctx(|| "list upper directory")? {
        let Ok(st) = rfs::statat(dir, n.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) else {
            continue;
        };
        match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile
                if st.st_nlink <= 1 || seen.insert((st.st_dev, st.st_ino), ()).is_none() =>
            {
                size += st.st_size as u64;
            }
            FileType::Symlink => size += st.st_size as u64,
            FileType::Directory => {
                if let Ok(sub) = fsx::open_child_dir(dir, &n) {
                    size += tree_size(sub.as_fd(), seen)?;
                }
            }
            _ => {}
        }
    }
    Ok(size)
}

fn times_of(st: &Stat) -> Timestamps {
    Timestamps {
        last_access: Timespec {
            tv_sec: st.st_atime,
            tv_nsec: st.st_atime_nsec as _,
        },
        last_modification: Timespec {
            tv_sec: st.st_mtime,
            tv_nsec: st.st_mtime_nsec as _,
        },
    }
}

/// Copies the merged view's directory `comps` into `dst` (the same directory of the copy).
/// `root` is the copy's root; `links` maps a source inode with several names to the
/// first copy made of it, so the others become hard links again.
fn copy_merged(
    merged: &Merged,
    comps: &[OsString],
    root: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    links: &mut HashMap<(u64, u64), Vec<OsString>>,
) -> Result<()> {
    for (name, found) in merged.children(comps) {
        let mut child: Vec<OsString> = comps.to_vec();
        child.push(name.clone());
        let shown = || fsx::display(&child);
        let Some(src_dir) = merged.dir_in(found.layer, comps) else {
            continue;
        };
        let st = found.stat;
        let ft = FileType::from_raw_mode(st.st_mode);
        let created = match ft {
            FileType::Directory => {
                rfs::mkdirat(dst, name.as_os_str(), Mode::from_raw_mode(0o700))
                    .ctx(|| format!("copy {}", shown()))?;
                true
            }
            FileType::RegularFile => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some((first, first_dir)) = links.get(&key).and_then(|f| f.split_last()) {
                        let dir = fsx::open_dirs(root, first_dir, Walk::Strict, false)?;
                        rfs::linkat(
                            &dir,
                            first.as_os_str(),
                            dst,
                            name.as_os_str(),
                            AtFlags::empty(),
                        )
                        .ctx(|| format!("link {}", shown()))?;
                        continue;
                    }
                    links.insert(key, child.clone());
                }
                let src = rfs::openat(
                    &src_dir,
                    name.as_os_str(),
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .ctx(|| format!("open {}", shown()))?;
                let out = rfs::openat(
                    dst,
                    name.as_os_str(),
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .ctx(|| format!("create {}", shown()))?;
                let (mut src, mut out) = (File::from(src), File::from(out));
                io::copy(&mut src, &mut out).ctx(|| format!("copy {}", shown()))?;
                true
            }
            FileType::Symlink => {
                let target = fsx::read_link(src_dir.as_fd(), &name)
                    .ctx(|| format!("read link {}", shown()))?;
                rfs::symlinkat(target.as_os_str(), dst, name.as_os_str())
                    .ctx(|| format!("copy {}", shown()))?;
                true
            }
            FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo => {
                rfs::mknodat(
                    dst,
                    name.as_os_str(),
                    ft,
                    Mode::from_raw_mode(st.st_mode & 0o7777),
                    st.st_rdev,
                )
                .ctx(|| format!("copy {}", shown()))?;
                true
            }
            _ => false,
        };
        if !created {
            continue;
        }
        copy_meta(&src_dir, dst, &name, &st, ft)
            .map_err(|e| Error::io(format!("copy attributes of {}", shown()), e))?;
        if ft == FileType::Directory {
            let sub = fsx::open_child_dir(dst, &name).ctx(|| format!("open {}", shown()))?;
            copy_merged(merged, &child, root, sub.as_fd(), links)?;
            let _ = rfs::futimens(&sub, &times_of(&st));
        }
    }
    Ok(())
}

/// Ownership, mode, xattrs (not overlayfs' own) and times of `name` from `src_dir` to `dst`.
fn copy_meta(
    src_dir: &OwnedFd,
    dst: BorrowedFd<'_>,
    name: &OsString,
    st: &Stat,
    ft: FileType,
) -> io::Result<()> {
    rfs::chownat(
        dst,
        name.as_os_str(),
        Some(rfs::Uid::from_raw(st.st_uid)),
        Some(rfs::Gid::from_raw(st.st_gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )?;
    if ft == FileType::Symlink {
        return Ok(rfs::utimensat(
            dst,
            name.as_os_str(),
            &times_of(st),
            AtFlags::SYMLINK_NOFOLLOW,
        )?);
    }
    let node = rfs::openat(
        dst,
        name.as_os_str(),
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let path = fsx::proc_fd_path(node.as_fd());
    rfs::chmod(&path, Mode::from_raw_mode(st.st_mode & 0o7777))?;
    let src = rfs::openat(
        src_dir,
        name.as_os_str(),
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    for (k, v) in fsx::xattrs(src.as_fd(), false) {
        if k.starts_with("trusted.overlay.") || k == OPAQUE_XATTR {
            continue;
        }
        match rfs::setxattr(&path, k.as_str(), &v, rfs::XattrFlags::empty()) {
            Ok(()) | Err(Errno::NOTSUP) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if ft != FileType::Directory {
        rfs::utimensat(
            dst,
            name.as_os_str(),
            &times_of(st),
            AtFlags::SYMLINK_NOFOLLOW,
        )?;
    }
    Ok(())
}
