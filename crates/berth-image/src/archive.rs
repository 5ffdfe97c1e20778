//! Archives of a container's root (a mounted root file system path): `docker export`,
//! `docker cp` out of the container ([`archive_path`], [`stat_path`]) and into it
//! ([`extract_into`]).
//!
//! Paths are container paths: they resolve inside `root` with `openat2(RESOLVE_IN_ROOT)`
//! (symlinks as the container sees them, `..` stops at `/`), never outside, and the last
//! component is not followed unless the path ends in `/` or `/.` (Docker's rule).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::fsx::{self, Walk};
use crate::pack::{name_str, Packer};
use crate::store::decompress;
use crate::time::format_rfc3339;
use crate::unpack::{self, Ownership, UnpackOptions};

/// What `HEAD`/`GET /containers/{id}/archive` report about a path (Docker's
/// `X-Docker-Container-Path-Stat`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStat {
    /// Base name.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Go `os.FileMode` bits (directory = 1<<31, symlink = 1<<27, …) plus permissions.
    pub mode: u32,
    /// RFC 3339 modification time.
    pub mtime: String,
    /// For a symlink: its target as an absolute container path.
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Go's `os.FileMode` of a stat.
pub fn go_file_mode(st: &Stat) -> u32 {
    let mut m = st.st_mode & 0o777;
    m |= match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => 1 << 31,
        FileType::Symlink => 1 << 27,
        FileType::BlockDevice => 1 << 26,
        FileType::CharacterDevice => (1 << 26) | (1 << 21),
        FileType::Fifo => 1 << 25,
        FileType::Socket => 1 << 24,
        _ => 0,
    };
    if st.st_mode & 0o4000 != 0 {
        m |= 1 << 23;
    }
    if st.st_mode & 0o2000 != 0 {
        m |= 1 << 22;
    }
    if st.st_mode & 0o1000 != 0 {
        m |= 1 << 20;
    }
    m
}

/// A resolved container path: its parent directory and its name there.
struct Resolved {
    parent: OwnedFd,
    name: OsString,
    stat: Stat,
    /// The container path, cleaned (`/etc/passwd`).
    abs: String,
    /// Base name as Docker reports it (`.` for `dir/.`).
    base: String,
}

fn resolve(root: &Path, path: &str) -> Result<Resolved> {
    let root_fd = fsx::open_dir(root)?;
    let follow = path.ends_with('/') || path.ends_with("/.") || path == ".";
    let comps = fsx::clean(path.as_bytes(), true).map_err(Error::invalid)?;
    let abs = fsx::display(&comps);
    let base = if path.ends_with("/.") {
        ".".to_string()
    } else {
        comps
            .last()
            .map(|c| name_str(c))
            .unwrap_or_else(|| "/".into())
    };
    let not_found = || Error::not_found(format!("Could not find the file {path} in container"));
    let (parent, name) =
        if follow || comps.is_empty() {
            // The directory itself, final symlink followed: named `.` in itself.
            let dir = fsx::open_dirs(root_fd.as_fd(), &comps, Walk::InRoot, false).map_err(
                |e| match e.kind {
                    crate::ErrorKind::NotFound => not_found(),
                    _ => e,
                },
            )?;
            (dir, OsString::from("."))
        } else {
            let (name, parents) = comps.split_last().ok_or_else(not_found)?;
            let parent = fsx::open_dirs(root_fd.as_fd(), parents, Walk::InRoot, false).map_err(
                |e| match e.kind {
                    crate::ErrorKind::NotFound => not_found(),
                    _ => e,
                },
            )?;
            (parent, name.clone())
        };
    let stat =
        rfs::statat(&parent, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW).map_err(|e| match e {
            Errno::NOENT => not_found(),
            e => Error::io(format!("stat {path}"), e.into()),
        })?;
    Ok(Resolved {
        parent,
        name,
        stat,
        abs,
        base,
    })
}

/// `HEAD /containers/{id}/archive?path=`: what `path` is.
pub fn stat_path(root: &Path, path: &str) -> Result<PathStat> {
    let r = resolve(root, path)?;
    Ok(path_stat(&r))
}

fn path_stat(r: &Resolved) -> PathStat {
    let link_target = if FileType::from_raw_mode(r.stat.st_mode) == FileType::Symlink {
        let t = fsx::read_link(r.parent.as_fd(), &r.name).unwrap_or_default();
        let t = t.to_string_lossy().into_owned();
        if t.starts_with('/') {
            t
        } else {
            let dir = r.abs.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            let joined = format!("{dir}/{t}");
            fsx::display(&fsx::clean(joined.as_bytes(), true).unwrap_or_default())
        }
    } else {
        String::new()
    };
    PathStat {
        name: r.base.clone(),
        size: r.stat.st_size,
        mode: go_file_mode(&r.stat),
        mtime: format_rfc3339(r.stat.st_mtime, r.stat.st_mtime_nsec as u32),
        link_target,
    }
}

/// `GET /containers/{id}/archive?path=`: a tar of `path` (and, for a directory, what is
/// below it) named by its base name, and its stat.
pub fn archive_path(root: &Path, path: &str, w: impl Write) -> Result<PathStat> {
    let r = resolve(root, path)?;
    let stat = path_stat(&r);
    let mut p = Packer::new(w);
    let name = if r.base == "/" {
        ".".to_string()
    } else {
        r.base.clone()
    };
    p.add_entry(r.parent.as_fd(), &r.name, &r.stat, &name)?;
    if FileType::from_raw_mode(r.stat.st_mode) == FileType::Directory {
        let dir = if r.name == "." {
            rfs::openat(
                &r.parent,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .ctx(|| format!("open {path}"))?
        } else {
            fsx::open_child_dir(r.parent.as_fd(), &r.name).ctx(|| format!("open {path}"))?
        };
        p.add_tree(dir.as_fd(), &format!("{name}/"))?;
    }
    p.finish()?.flush().ctx(|| "flush archive")?;
    Ok(stat)
}

/// `docker export`: the whole tree under `root` as a tar.
pub fn export(root: &Path, w: impl Write) -> Result<()> {
    let dir = fsx::open_dir(root)?;
    let mut p = Packer::new(w);
    p.add_tree(dir.as_fd(), "")?;
    p.finish()?.flush().ctx(|| "flush archive")
}

/// `PUT /containers/{id}/archive?path=`: extracts the tar `reader` (plain, gzip or zstd)
/// into the existing directory `dir` of the container root `root`.
pub fn extract_into(
    root: &Path,
    dir: &str,
    reader: impl Read,
    no_overwrite_dir_non_dir: bool,
    ownership: Ownership,
) -> Result<()> {
    let root_fd = fsx::open_dir(root)?;
    let comps = fsx::clean(dir.as_bytes(), true).map_err(Error::invalid)?;
    // The destination must be a directory (symlinks followed inside the root).
    fsx::open_dirs(root_fd.as_fd(), &comps, Walk::InRoot, false).map_err(|e| match e.kind {
        crate::ErrorKind::NotFound => {
            Error::not_found(format!("Could not find the file {dir} in container"))
        }
        crate::ErrorKind::InvalidArgument => Error::invalid("extraction point is not a directory"),
        _ => e,
    })?;
    let (_, plain) = decompress(reader)?;
    let opts = UnpackOptions {
        walk: Walk::InRoot,
        whiteouts: false,
        ownership,
        no_overwrite_dir_non_dir,
    };
    unpack::unpack(plain, root_fd.as_fd(), &comps, &opts)?;
    Ok(())
}
