//! Extracting a tar stream into a directory, fd-relative and race-free (see [`crate::fsx`]).
//!
//! Used for image layers (strict walk, `.wh.` whiteouts turned into overlayfs whiteouts:
//! a `0/0` character device, and `.wh..wh..opq` into `trusted.overlay.opaque=y` on the
//! directory; see <https://docs.kernel.org/filesystems/overlayfs.html#whiteouts-and-opaque-directories>)
//! and for `docker cp` into a container root (symlinks resolve inside the root).
//!
//! Every entry is checked before anything is written for it: an absolute name, a `..`
//! that leaves the destination, a parent that is a symlink (strict walk), or a hard link
//! whose target is outside the destination are refused with an error naming the entry.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Timespec, Timestamps};
use rustix::io::Errno;
use tar::EntryType;

use crate::error::{Error, ErrorKind, IoContext, Result};
use crate::fsx::{self, Walk};

/// Prefix of whiteout entries in layer tars.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// Name of the opaque-directory marker in layer tars.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// The xattr overlayfs reads to make a directory opaque.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Who owns what is extracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// The uid/gid recorded in the archive.
    Keep,
    /// This uid/gid for everything.
    Force(u32, u32),
}

/// How to extract.
#[derive(Debug, Clone)]
pub struct UnpackOptions {
    /// Symlink policy for lookups.
    pub walk: Walk,
    /// Turn `.wh.` entries into overlayfs whiteouts (image layers).
    pub whiteouts: bool,
    /// Ownership of extracted files.
    pub ownership: Ownership,
    /// Refuse replacing a directory by a non-directory or the reverse (`docker cp`).
    pub no_overwrite_dir_non_dir: bool,
}

/// What an extraction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Content size as Docker counts it (files and symlink targets).
    pub size: u64,
    /// Entries extracted.
    pub entries: u64,
}

struct Ctx<'a> {
    root: BorrowedFd<'a>,
    base: &'a [OsString],
    opts: &'a UnpackOptions,
    is_root: bool,
    cached: Option<(Vec<OsString>, OwnedFd)>,
    dir_times: Vec<(Vec<OsString>, i64)>,
}

/// Extracts the tar `reader` below `base` (components, already inside `root`) of the
/// directory `root`.
pub fn unpack(
    reader: impl Read,
    root: BorrowedFd<'_>,
    base: &[OsString],
    opts: &UnpackOptions,
) -> Result<UnpackStats> {
    let mut archive = tar::Archive::new(reader);
    let mut ctx = Ctx {
        root,
        base,
        opts,
        is_root: rustix::process::geteuid().is_root(),
        cached: None,
        dir_times: vec![],
    };
    let mut stats = UnpackStats::default();
    let entries = archive
        .entries()
        .map_err(|e| Error::bad_input("read tar archive", e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::bad_input("read tar archive", e))?;
        let name_bytes = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&name_bytes).into_owned();
        let comps = fsx::clean(&name_bytes, false)
            .map_err(|why| Error::invalid(format!("refusing tar entry {shown:?}: {why}")))?;
        stats.size += content_size(&entry);
        stats.entries += 1;
        ctx.entry(&mut entry, comps, &shown)
            .map_err(|e| match e.kind {
                ErrorKind::InvalidArgument if !e.message.starts_with("refusing tar entry") => {
                    Error::invalid(format!("refusing tar entry {shown:?}: {}", e.message))
                }
                _ => e,
            })?;
    }
    // Directory times last: creating entries inside a directory changes its mtime.
    for (comps, mtime) in std::mem::take(&mut ctx.dir_times).into_iter().rev() {
        let full: Vec<OsString> = base.iter().chain(comps.iter()).cloned().collect();
        if let Ok(fd) = fsx::open_dirs(root, &full, opts.walk, false) {
            let _ = rfs::futimens(&fd, &times(mtime));
        }
    }
    Ok(stats)
}

fn times(mtime: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

impl Ctx<'_> {
    /// The directory `comps` (relative to the base), created if missing.
    fn parent(&mut self, comps: &[OsString]) -> Result<BorrowedFd<'_>> {
        // A cached directory removed since (replaced by a later entry) has no links left.
        let hit = self.cached.as_ref().is_some_and(|(p, fd)| {
            p.as_slice() == comps && rfs::fstat(fd).is_ok_and(|st| st.st_nlink > 0)
        });
        if !hit {
            let full: Vec<OsString> = self.base.iter().chain(comps.iter()).cloned().collect();
            let fd = fsx::open_dirs(self.root, &full, self.opts.walk, true)?;
            self.cached = Some((comps.to_vec(), fd));
        }
        match &self.cached {
            Some((_, fd)) => Ok(fd.as_fd()),
            None => Err(Error::internal("directory cache is empty")),
        }
    }

    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        comps: Vec<OsString>,
        shown: &str,
    ) -> Result<()> {
        let Some((name, parent_comps)) = comps.split_last() else {
            return Ok(()); // "." or "./": the destination itself.
        };
        let header = entry.header().clone();
        let kind = header.entry_type();
        let mtime = header.mtime().unwrap_or(0) as i64;
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let (uid, gid) = match self.opts.ownership {
            Ownership::Keep => (
                header.uid().unwrap_or(0) as u32,
                header.gid().unwrap_or(0) as u32,
            ),
            Ownership::Force(u, g) => (u, g),
        };
        let xattrs = pax_xattrs(entry);
        let refuse = |why: String| Error::invalid(format!("refusing tar entry {shown:?}: {why}"));
        let fail =
            |what: &str, e: Errno| Error::io(format!("{what} for tar entry {shown:?}"), e.into());
        let name_b = name.as_bytes();

        let is_root = self.is_root;
        if self.opts.whiteouts && name_b.starts_with(WHITEOUT_PREFIX.as_bytes()) {
            let parent = self.parent(parent_comps)?;
            if name_b == OPAQUE_MARKER.as_bytes() {
                rfs::fsetxattr(parent, OPAQUE_XATTR, b"y", rfs::XattrFlags::empty())
                    .map_err(|e| fail("mark directory opaque", e))?;
            } else if !name_b.starts_with(b".wh..wh.") {
                let target = OsStr::from_bytes(&name_b[WHITEOUT_PREFIX.len()..]);
                fsx::remove_all_at(parent, target).ctx(|| format!("replace {shown:?}"))?;
                rfs::mknodat(
                    parent,
                    target,
                    FileType::CharacterDevice,
                    Mode::empty(),
                    rfs::makedev(0, 0),
                )
                .map_err(|e| fail("create whiteout", e))?;
                if is_root {
                    rfs::chownat(
                        parent,
                        target,
                        Some(uid_of(uid)),
                        Some(gid_of(gid)),
                        AtFlags::SYMLINK_NOFOLLOW,
                    )
                    .map_err(|e| fail("chown whiteout", e))?;
                }
            }
            return Ok(());
        }

        // Resolve a hard link's target before touching anything.
        let link_src = if kind == EntryType::Link {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| refuse("hard link without a target".into()))?
                .into_owned();
            let tcomps = fsx::clean(&target, false).map_err(|why| {
                refuse(format!(
                    "hard link target {:?}: {why}",
                    String::from_utf8_lossy(&target)
                ))
            })?;
            let Some((tname, tparent)) = tcomps.split_last() else {
                return Err(refuse("hard link to the root directory".into()));
            };
            let full: Vec<OsString> = self.base.iter().chain(tparent.iter()).cloned().collect();
            let dir = fsx::open_dirs(self.root, &full, self.opts.walk, false).map_err(|e| {
                refuse(format!(
                    "hard link target {:?}: {}",
                    String::from_utf8_lossy(&target),
                    e.message
                ))
            })?;
            let st =
                rfs::statat(&dir, tname.as_os_str(), AtFlags::SYMLINK_NOFOLLOW).map_err(|_| {
                    refuse(format!(
                        "hard link target {:?} does not exist",
                        String::from_utf8_lossy(&target)
                    ))
                })?;
            if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                return Err(refuse("hard link to a directory".into()));
            }
            Some((dir, tname.clone()))
        } else {
            None
        };

        let no_overwrite = self.opts.no_overwrite_dir_non_dir;
        let parent = self.parent(parent_comps)?;
        let is_dir = kind == EntryType::Directory;
        // What is there already.
        match rfs::statat(parent, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => {
                let existing_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
                if no_overwrite && existing_dir && !is_dir {
                    return Err(Error::invalid(format!(
                        "cannot overwrite directory {shown:?} with non-directory"
                    )));
                }
                if no_overwrite && !existing_dir && is_dir {
                    return Err(Error::invalid(format!(
                        "cannot overwrite non-directory {shown:?} with directory"
                    )));
                }
                if !(existing_dir && is_dir) {
                    fsx::remove_all_at(parent, name).ctx(|| format!("replace {shown:?}"))?;
                }
            }
            Err(Errno::NOENT) => {}
            Err(e) => return Err(fail("stat", e)),
        }

        let owner = |r: rustix::io::Result<()>| match r {
            Err(e) if is_root => Err(fail("chown", e)),
            _ => Ok(()),
        };
        // For what cannot be opened to be changed (a symlink, a device node): by name, not
        // following a symlink. The times are best effort.
        let chown_entry = || {
            owner(rfs::chownat(
                parent,
                name.as_os_str(),
                Some(uid_of(uid)),
                Some(gid_of(gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            ))
        };
        let set_entry_times = || {
            let _ = rfs::utimensat(
                parent,
                name.as_os_str(),
                &times(mtime),
                AtFlags::SYMLINK_NOFOLLOW,
            );
        };
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let fd = rfs::openat(
                    parent,
                    name.as_os_str(),
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|e| fail("create file", e))?;
                let mut file = std::fs::File::from(fd);
                io::copy(entry, &mut file)
                    .map_err(|e| Error::bad_input(format!("extract {shown:?}"), e))?;
                owner(rfs::fchown(&file, Some(uid_of(uid)), Some(gid_of(gid))))?;
                rfs::fchmod(&file, Mode::from_raw_mode(mode)).map_err(|e| fail("chmod", e))?;
                set_xattrs(file.as_fd(), &xattrs, shown)?;
                rfs::futimens(&file, &times(mtime)).map_err(|e| fail("set times", e))?;
            }
            EntryType::Directory => {
                match rfs::mkdirat(parent, name.as_os_str(), Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(fail("create directory", e)),
                }
                let dir =
                    fsx::open_child_dir(parent, name).map_err(|e| fail("open directory", e))?;
                owner(rfs::fchown(&dir, Some(uid_of(uid)), Some(gid_of(gid))))?;
                rfs::fchmod(&dir, Mode::from_raw_mode(mode)).map_err(|e| fail("chmod", e))?;
                set_xattrs(dir.as_fd(), &xattrs, shown)?;
                self.dir_times.push((comps.clone(), mtime));
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| refuse("symlink without a target".into()))?
                    .into_owned();
                rfs::symlinkat(OsStr::from_bytes(&target), parent, name.as_os_str())
                    .map_err(|e| fail("create symlink", e))?;
                chown_entry()?;
                set_entry_times();
            }
            EntryType::Link => {
                let Some((dir, tname)) = link_src else {
                    return Err(Error::internal("hard link source missing"));
                };
                rfs::linkat(
                    &dir,
                    tname.as_os_str(),
                    parent,
                    name.as_os_str(),
                    AtFlags::empty(),
                )
                .map_err(|e| fail("create hard link", e))?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let ft = match kind {
                    EntryType::Char => FileType::CharacterDevice,
                    EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let dev = rfs::makedev(
                    header.device_major().ok().flatten().unwrap_or(0),
                    header.device_minor().ok().flatten().unwrap_or(0),
                );
                rfs::mknodat(parent, name.as_os_str(), ft, Mode::from_raw_mode(mode), dev)
                    .map_err(|e| fail("create device node", e))?;
                chown_entry()?;
                // No fchmod on an O_PATH fd: go through its /proc link, which names this inode.
                let node = rfs::openat(
                    parent,
                    name.as_os_str(),
                    OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| fail("open device node", e))?;
                let st = rfs::fstat(&node).map_err(|e| fail("stat device node", e))?;
                if FileType::from_raw_mode(st.st_mode) != ft {
                    return Err(Error::conflict(format!(
                        "tar entry {shown:?} was replaced while extracting"
                    )));
                }
                rfs::chmod(fsx::proc_fd_path(node.as_fd()), Mode::from_raw_mode(mode))
                    .map_err(|e| fail("chmod", e))?;
                set_entry_times();
            }
            // PAX/GNU meta entries are consumed by the tar reader; anything else is skipped.
            _ => {}
        }
        Ok(())
    }
}

/// What an entry adds to a layer's size as Docker counts it (the `lstat` size of every
/// non-directory: file lengths and symlink target lengths; hard links count once).
pub(crate) fn content_size<R: Read>(entry: &tar::Entry<'_, R>) -> u64 {
    match entry.header().entry_type() {
        EntryType::Regular | EntryType::Continuous => entry.size(),
        EntryType::Symlink => entry.link_name_bytes().map_or(0, |l| l.len() as u64),
        _ => 0,
    }
}

fn uid_of(u: u32) -> rfs::Uid {
    rfs::Uid::from_raw(u)
}

fn gid_of(g: u32) -> rfs::Gid {
    rfs::Gid::from_raw(g)
}

/// `SCHILY.xattr.*` PAX records of an entry (overlayfs' own `trusted.overlay.*` excluded:
/// only whiteout entries may set those).
fn pax_xattrs<R: Read>(entry: &mut tar::Entry<'_, R>) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![];
    if let Ok(Some(exts)) = entry.pax_extensions() {
        for ext in exts.flatten() {
            if let Ok(key) = ext.key() {
                if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                    if !name.starts_with("trusted.overlay.") {
                        out.push((name.to_string(), ext.value_bytes().to_vec()));
                    }
                }
            }
        }
    }
    out
}

fn set_xattrs(fd: BorrowedFd<'_>, xattrs: &[(String, Vec<u8>)], shown: &str) -> Result<()> {
    for (k, v) in xattrs {
        match rfs::fsetxattr(fd, k.as_str(), v, rfs::XattrFlags::empty()) {
            Ok(()) | Err(Errno::NOTSUP) => {}
            Err(Errno::PERM) if !rustix::process::geteuid().is_root() => {}
            Err(e) => return Err(Error::io(format!("set xattr {k} on {shown:?}"), e.into())),
        }
    }
    Ok(())
}
