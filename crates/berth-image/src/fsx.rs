//! Race-free, fd-relative file system operations.
//!
//! Nothing here joins paths and lets the kernel follow them: every lookup starts at a
//! directory fd and goes one component at a time with `O_NOFOLLOW`
//! ([`Walk::Strict`], for layers: a symlink on the way is an error) or uses `openat2(2)`
//! with `RESOLVE_IN_ROOT` ([`Walk::InRoot`], for container roots: symlinks resolve as they
//! would inside the container, `..` stops at the root). Either way no lookup can leave the
//! directory it started from, whatever a concurrent writer does to the tree.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::error::{Error, IoContext, Result};

/// How lookups below a root treat symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// A symlink (or non-directory) in a parent position is refused.
    Strict,
    /// Symlinks resolve inside the root (`RESOLVE_IN_ROOT`).
    InRoot,
}

/// Opens a directory by absolute (trusted) path.
pub fn open_dir(path: &Path) -> Result<OwnedFd> {
    rfs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("open directory {}", path.display()))
}

/// Opens `name` (one component) in `dir` as a directory, without following a symlink.
pub fn open_child_dir(dir: BorrowedFd<'_>, name: &OsStr) -> rustix::io::Result<OwnedFd> {
    rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Splits an archive or user path into normal components: `.` and empty parts are
/// dropped, `..` pops (an error when it would go above the root), absolute paths are
/// refused when `allow_absolute` is false.
pub fn clean(path: &[u8], allow_absolute: bool) -> std::result::Result<Vec<OsString>, String> {
    if path.first() == Some(&b'/') && !allow_absolute {
        return Err("absolute path".into());
    }
    let mut out: Vec<OsString> = vec![];
    for c in path.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() && !allow_absolute {
                    return Err("path escapes the root through \"..\"".into());
                }
            }
            c => out.push(OsString::from_vec(c.to_vec())),
        }
    }
    Ok(out)
}

/// Opens (creating missing ones with mode 0755 when `create`) the directory `components`
/// below `root`.
pub fn open_dirs(
    root: BorrowedFd<'_>,
    components: &[OsString],
    walk: Walk,
    create: bool,
) -> Result<OwnedFd> {
    let shown = || display(components);
    match walk {
        Walk::InRoot => {
            let rel = join(components);
            let open = |p: &Path| {
                rfs::openat2(
                    root,
                    p,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
                )
            };
            match open(&rel) {
                Ok(fd) => Ok(fd),
                Err(Errno::NOENT) if create && !components.is_empty() => {
                    let (last, parents) = components.split_last().unwrap_or_else(|| unreachable!());
                    let parent = open_dirs(root, parents, walk, true)?;
                    match rfs::mkdirat(&parent, last.as_os_str(), Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => {
                            return Err(Error::io(
                                format!("create directory {}", shown()),
                                e.into(),
                            ))
                        }
                    }
                    rfs::openat2(
                        &parent,
                        last.as_os_str(),
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                        Mode::empty(),
                        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
                    )
                    .ctx(|| format!("open directory {}", shown()))
                }
                Err(Errno::NOENT) => {
                    Err(Error::not_found(format!("no such directory: {}", shown())))
                }
                Err(Errno::NOTDIR) => Err(Error::invalid(format!("not a directory: {}", shown()))),
                Err(e) => Err(Error::io(format!("open directory {}", shown()), e.into())),
            }
        }
        Walk::Strict => {
            let mut cur = rfs::openat(
                root,
                c".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .ctx(|| "open root directory")?;
            for (i, c) in components.iter().enumerate() {
                let here = || display(&components[..=i]);
                cur = match open_child_dir(cur.as_fd(), c) {
                    Ok(fd) => fd,
                    Err(Errno::NOENT) if create => {
                        match rfs::mkdirat(&cur, c.as_os_str(), Mode::from_raw_mode(0o755)) {
                            Ok(()) | Err(Errno::EXIST) => {}
                            Err(e) => {
                                return Err(Error::io(
                                    format!("create directory {}", here()),
                                    e.into(),
                                ))
                            }
                        }
                        open_child_dir(cur.as_fd(), c)
                            .ctx(|| format!("open directory {}", here()))?
                    }
                    Err(Errno::NOENT) => {
                        return Err(Error::not_found(format!("no such directory: {}", here())))
                    }
                    Err(Errno::LOOP) | Err(Errno::NOTDIR) => {
                        return Err(Error::invalid(format!(
                            "{} is a symlink or not a directory: refusing to go through it",
                            here()
                        )))
                    }
                    Err(e) => {
                        return Err(Error::io(format!("open directory {}", here()), e.into()))
                    }
                };
            }
            Ok(cur)
        }
    }
}

/// `a/b/c` from components.
pub fn join(components: &[OsString]) -> PathBuf {
    let mut p = PathBuf::new();
    for c in components {
        p.push(c);
    }
    if p.as_os_str().is_empty() {
        p.push(".");
    }
    p
}

/// `/a/b/c`, for messages.
pub fn display(components: &[OsString]) -> String {
    format!("/{}", join(components).display()).replace("/.", "/")
}

/// `/proc/self/fd/N`: the path through which the kernel reaches exactly the inode `fd`
/// refers to (for calls that have no fd form, e.g. on an `O_PATH` fd).
pub fn proc_fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Removes `name` in `dir`, recursively when it is a directory (never following symlinks).
pub fn remove_all_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    match rfs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => return Ok(()),
        Err(Errno::NOENT) => return Ok(()),
        Err(Errno::ISDIR) | Err(Errno::PERM) => {}
        Err(e) => return Err(e.into()),
    }
    let sub = match open_child_dir(dir, name) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    empty_dir(sub.as_fd())?;
    match rfs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Removes everything inside the directory `dir`.
pub fn empty_dir(dir: BorrowedFd<'_>) -> io::Result<()> {
    for name in list_dir(dir)? {
        remove_all_at(dir, &name)?;
    }
    Ok(())
}

/// The names in directory `dir` (without `.` and `..`), sorted.
pub fn list_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    let mut d = rfs::Dir::read_from(dir)?;
    let mut names = vec![];
    while let Some(e) = d.read() {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsString::from_vec(n.to_vec()));
        }
    }
    names.sort();
    Ok(names)
}

/// Removes a directory tree by absolute (trusted) path, without following symlinks in it.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot remove /",
        ));
    };
    let dir = match rfs::open(
        parent,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(d) => d,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    remove_all_at(dir.as_fd(), name)
}

/// Writes `data` to `path` atomically: a temp file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        unique()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.ctx(|| format!("write {}", path.display()))
}

/// A string unique in this process and run (`<pid>-<counter>-<nanos>`), for temp names.
pub fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{nanos:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The extended attributes of the object `fd` refers to (an `O_PATH` fd works, through
/// its `/proc/self/fd` link), as (name, value) pairs.
pub fn xattrs(fd: BorrowedFd<'_>, symlink: bool) -> Vec<(String, Vec<u8>)> {
    if symlink {
        // Symlink xattrs (only trusted.* / security.* exist there) are not carried.
        return vec![];
    }
    let path = proc_fd_path(fd);
    let mut buf = vec![0u8; 4096];
    let n = match rfs::listxattr(&path, &mut buf[..]) {
        Ok(n) => n,
        Err(_) => return vec![],
    };
    let mut out = vec![];
    for name in buf[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        let mut val = vec![0u8; 65536];
        if let Ok(len) = rfs::getxattr(&path, name, &mut val[..]) {
            val.truncate(len);
            out.push((name.to_string(), val));
        }
    }
    out
}

/// Reads the symlink `name` in `dir`.
pub fn read_link(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OsString> {
    let t = rfs::readlinkat(dir, name, Vec::new())?;
    Ok(OsStr::from_bytes(t.as_bytes()).to_os_string())
}
