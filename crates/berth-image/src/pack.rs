//! Writing tar streams from directory trees, fd-relative (see [`crate::fsx`]): `docker
//! export`, `docker cp` out of a container, and new layers from an overlay upper directory
//! (overlayfs whiteouts and opaque directories turned back into `.wh.` entries).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, Stat};
use tar::{EntryType, Header};

use crate::error::{Error, IoContext, Result};
use crate::fsx;
use crate::unpack::{OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_PREFIX};

/// A tar writer that remembers hard links (so a second name of an inode becomes a link
/// entry, as `docker save`/`export` write them).
pub struct Packer<W: Write> {
    builder: tar::Builder<W>,
    links: HashMap<(u64, u64), String>,
    /// Convert overlayfs whiteouts and opaque markers back to `.wh.` entries.
    pub overlay_whiteouts: bool,
}

fn is_whiteout(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice && st.st_rdev == 0
}

impl<W: Write> Packer<W> {
    /// A packer writing to `w`.
    pub fn new(w: W) -> Self {
        let mut builder = tar::Builder::new(w);
        builder.follow_symlinks(false);
        Packer {
            builder,
            links: HashMap::new(),
            overlay_whiteouts: false,
        }
    }

    /// Ends the archive and returns the writer.
    pub fn finish(self) -> Result<W> {
        self.builder.into_inner().ctx(|| "finish tar archive")
    }

    /// Writes everything below directory `dir` (not `dir` itself), names prefixed by
    /// `prefix` (`""` or `"name/"`), in sorted order.
    pub fn add_tree(&mut self, dir: BorrowedFd<'_>, prefix: &str) -> Result<()> {
        let names = fsx::list_dir(dir).ctx(|| format!("list {prefix:?}"))?;
        for name in names {
            let st = match rfs::statat(dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(rustix::io::Errno::NOENT) => continue, // removed meanwhile
                Err(e) => {
                    return Err(Error::io(
                        format!("stat {prefix}{}", name.to_string_lossy()),
                        e.into(),
                    ))
                }
            };
            let arch_name = format!("{prefix}{}", name.to_string_lossy());
            self.add_entry(dir, &name, &st, &arch_name)?;
            if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                let sub = fsx::open_child_dir(dir, &name).ctx(|| format!("open {arch_name}"))?;
                self.add_tree(sub.as_fd(), &format!("{arch_name}/"))?;
            }
        }
        Ok(())
    }

    /// Writes one entry: `name` in directory `parent`, whose lstat is `st`, as `arch_name`
    /// (directories are not recursed into here).
    pub fn add_entry(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
        st: &Stat,
        arch_name: &str,
    ) -> Result<()> {
        let ft = FileType::from_raw_mode(st.st_mode);
        if self.overlay_whiteouts && is_whiteout(st) {
            return self.add_whiteout(arch_name);
        }
        let node = rfs::openat(
            parent,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ctx(|| format!("open {arch_name}"))?;
        let mut xattrs = fsx::xattrs(node.as_fd(), ft == FileType::Symlink);
        let opaque = self.overlay_whiteouts
            && ft == FileType::Directory
            && xattrs
                .iter()
                .any(|(k, v)| k == OPAQUE_XATTR && v.as_slice() == b"y");
        if self.overlay_whiteouts {
            xattrs.retain(|(k, _)| !k.starts_with("trusted.overlay."));
        }
        let mut h = base_header(st);
        if ft != FileType::Directory && st.st_nlink > 1 {
            let key = (st.st_dev, st.st_ino);
            if let Some(first) = self.links.get(&key).cloned() {
                h.set_entry_type(EntryType::Link);
                h.set_size(0);
                return self.put(h, arch_name, Some(first.as_bytes()), &xattrs, io::empty());
            }
            self.links.insert(key, arch_name.to_string());
        }
        match ft {
            FileType::RegularFile => {
                h.set_entry_type(EntryType::Regular);
                let fd = rfs::openat(
                    parent,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .ctx(|| format!("open {arch_name}"))?;
                let size = st.st_size as u64;
                h.set_size(size);
                // The file may change while it is read: send exactly `size` bytes.
                let data = std::fs::File::from(fd)
                    .take(size)
                    .chain(io::repeat(0))
                    .take(size);
                self.put(h, arch_name, None, &xattrs, data)?;
            }
            FileType::Directory => {
                h.set_entry_type(EntryType::Directory);
                h.set_size(0);
                let dir_name = if arch_name.ends_with('/') {
                    arch_name.to_string()
                } else {
                    format!("{arch_name}/")
                };
                self.put(h, &dir_name, None, &xattrs, io::empty())?;
                if opaque {
                    let mut m = base_header(st);
                    m.set_entry_type(EntryType::Regular);
                    m.set_mode(0o644);
                    m.set_size(0);
                    self.put(
                        m,
                        &format!("{dir_name}{OPAQUE_MARKER}"),
                        None,
                        &[],
                        io::empty(),
                    )?;
                }
            }
            FileType::Symlink => {
                let target =
                    fsx::read_link(parent, name).ctx(|| format!("read link {arch_name}"))?;
                h.set_entry_type(EntryType::Symlink);
                h.set_size(0);
                self.put(h, arch_name, Some(target.as_bytes()), &xattrs, io::empty())?;
            }
            FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo => {
                h.set_entry_type(match ft {
                    FileType::CharacterDevice => EntryType::Char,
                    FileType::BlockDevice => EntryType::Block,
                    _ => EntryType::Fifo,
                });
                h.set_size(0);
                if ft != FileType::Fifo {
                    let ctx = || format!("write {arch_name}");
                    h.set_device_major(rfs::major(st.st_rdev)).ctx(ctx)?;
                    h.set_device_minor(rfs::minor(st.st_rdev)).ctx(ctx)?;
                }
                self.put(h, arch_name, None, &xattrs, io::empty())?;
            }
            // Sockets and unknown types are not archivable (Docker skips sockets too).
            _ => {}
        }
        Ok(())
    }

    /// Writes a `.wh.` entry deleting `arch_name`.
    pub fn add_whiteout(&mut self, arch_name: &str) -> Result<()> {
        let wh = match arch_name.rsplit_once('/') {
            Some((d, n)) => format!("{d}/{WHITEOUT_PREFIX}{n}"),
            None => format!("{WHITEOUT_PREFIX}{arch_name}"),
        };
        self.put(
            plain_header(EntryType::Regular, 0o644, 0),
            &wh,
            None,
            &[],
            io::empty(),
        )
    }

    /// Writes a regular file entry from memory (docker-archive metadata, tests).
    pub fn add_bytes(&mut self, arch_name: &str, data: &[u8], mode: u32) -> Result<()> {
        let h = plain_header(EntryType::Regular, mode, data.len() as u64);
        self.put(h, arch_name, None, &[], data)
    }

    /// Writes a regular file entry of `size` bytes read from `data`.
    pub fn add_reader(&mut self, arch_name: &str, size: u64, data: impl Read) -> Result<()> {
        self.put(
            plain_header(EntryType::Regular, 0o644, size),
            arch_name,
            None,
            &[],
            data,
        )
    }

    /// Writes a directory entry (`name/`).
    pub fn add_dir(&mut self, arch_name: &str) -> Result<()> {
        let h = plain_header(EntryType::Directory, 0o755, 0);
        self.put(h, &format!("{arch_name}/"), None, &[], io::empty())
    }

    /// Writes a symlink entry.
    pub fn add_symlink(&mut self, arch_name: &str, target: &str) -> Result<()> {
        let h = plain_header(EntryType::Symlink, 0o777, 0);
        self.put(h, arch_name, Some(target.as_bytes()), &[], io::empty())
    }

    /// Writes `h` for `name` exactly as given (no normalization: `./x` stays `./x`, which
    /// `docker cp` relies on), preceded by a PAX header for xattrs and for a name or link
    /// target longer than the header's 100 bytes.
    fn put(
        &mut self,
        mut h: Header,
        name: &str,
        link: Option<&[u8]>,
        xattrs: &[(String, Vec<u8>)],
        data: impl Read,
    ) -> Result<()> {
        let ctx = || format!("write {name}");
        let mut records = vec![];
        for (k, v) in xattrs {
            records.extend(pax_record(&format!("SCHILY.xattr.{k}"), v));
        }
        if name.len() > 100 {
            records.extend(pax_record("path", name.as_bytes()));
        }
        if let Some(l) = link.filter(|l| l.len() > 100) {
            records.extend(pax_record("linkpath", l));
        }
        if !records.is_empty() {
            let mut x = plain_header(EntryType::XHeader, 0o644, records.len() as u64);
            set_raw(&mut x.as_old_mut().name, b"././@PaxHeader");
            x.set_cksum();
            self.builder.append(&x, records.as_slice()).ctx(ctx)?;
        }
        set_raw(&mut h.as_old_mut().name, name.as_bytes());
        if let Some(l) = link {
            set_raw(&mut h.as_old_mut().linkname, l);
        }
        h.set_cksum();
        self.builder.append(&h, data).ctx(ctx)
    }
}

/// Copies `value` into a fixed header field, truncated (the PAX record has the full value).
fn set_raw(field: &mut [u8], value: &[u8]) {
    field.fill(0);
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

fn plain_header(kind: EntryType, mode: u32, size: u64) -> Header {
    let mut h = Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h
}

/// One PAX record: `"<len> <key>=<value>\n"`, where len counts the whole record.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    let mut rec = format!("{len} {key}=").into_bytes();
    rec.extend_from_slice(value);
    rec.push(b'\n');
    rec
}

fn base_header(st: &Stat) -> Header {
    let mut h = Header::new_ustar();
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid as u64);
    h.set_gid(st.st_gid as u64);
    h.set_mtime(st.st_mtime.max(0) as u64);
    h
}

/// Name bytes to a `String` for archive names (lossy for non-UTF-8 names).
pub fn name_str(n: &OsStr) -> String {
    String::from_utf8_lossy(n.as_bytes()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        let r = pax_record("SCHILY.xattr.user.a", b"b");
        let s = String::from_utf8_lossy(&r);
        let (len, _) = s.split_once(' ').unwrap_or_default();
        assert_eq!(len.parse::<usize>().ok(), Some(r.len()));
        assert_eq!(String::from_utf8_lossy(&pax_record("k", b"12")), "7 k=12\n");
        // Body of 9 bytes: a 1-digit length would make 10, which needs 2 digits: 11.
        assert_eq!(
            String::from_utf8_lossy(&pax_record("kk", b"1234")),
            "11 kk=1234\n"
        );
    }
}
