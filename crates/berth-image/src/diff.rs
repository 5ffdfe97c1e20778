//! What a container changed: `docker diff` ([`Store::changes`]) and `docker commit`
//! ([`Store::commit`]), for both snapshot drivers.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::{self as rfs, AtFlags, FileType, Stat};

use crate::changes;
use crate::digest::{Digest, HashWriter};
use crate::error::{Error, IoContext, Result};
use crate::fsx::{self, Walk};
use crate::layers::{is_dir, is_opaque, is_whiteout, Merged};
use crate::pack::{name_str, Packer};
use crate::reference::Reference;
use crate::snapshot::{Change, ChangeKind, CommitOptions, Driver, Snapshot};
use crate::spec::{History, ImageConfig};
use crate::store::{tar_content_size, Store};
use crate::time;

fn path_of(comps: &[OsString]) -> String {
    let mut s = String::new();
    for c in comps {
        s.push('/');
        s.push_str(&name_str(c));
    }
    s
}

/// Docker's comparison of two stats (`ChangesDirs`): type, mode, owner, device, size
/// (not for directories) and mtime.
fn differs(a: &Stat, b: &Stat) -> bool {
    a.st_mode != b.st_mode
        || a.st_uid != b.st_uid
        || a.st_gid != b.st_gid
        || a.st_rdev != b.st_rdev
        || (!is_dir(a) && a.st_size != b.st_size)
        || a.st_mtime != b.st_mtime
        || a.st_mtime_nsec != b.st_mtime_nsec
}

impl Store {
    /// `docker diff`: what the container added, modified and deleted, sorted by path.
    pub fn changes(&self, snap: &Snapshot) -> Result<Vec<Change>> {
        let merged = Merged::open(&self.lower_dirs(snap))?;
        let upper = fsx::open_dir(&snap.upper_dir())?;
        let mut out = vec![];
        match snap.driver {
            Driver::Overlay => overlay_changes(&merged, upper.as_fd(), &mut vec![], &mut out)?,
            Driver::Copy => copy_changes(&merged, upper.as_fd(), &mut vec![], &mut out)?,
        }
        out.sort();
        Ok(out)
    }

    /// `docker commit`: a new image made of the snapshot's image plus one layer holding
    /// what the container changed. Returns the new image's ID.
    pub fn commit(&self, snap: &Snapshot, opts: &CommitOptions) -> Result<Digest> {
        let reference = match &opts.reference {
            Some(r) => {
                let r = Reference::parse(r)?;
                if r.digest().is_some() {
                    return Err(Error::invalid(
                        "refusing to create a tag with a digest reference",
                    ));
                }
                Some(r.with_default_tag())
            }
            None => None,
        };
        let parent = match &snap.image {
            Some(id) => Some(self.image(id)?),
            None => None,
        };
        let now = time::now_rfc3339();
        let mut config = match &parent {
            Some(p) => p.config.clone(),
            None => ImageConfig::new(&now),
        };
        let mut cc = opts.config.clone().unwrap_or_else(|| config.config());
        changes::apply_all(&mut cc, &opts.changes)?;

        // The layer: a tar of the changes, hashed while written (uncompressed, so its
        // digest is the diff ID).
        let _i = self.ingesting();
        let tmp = self.tmp_path("commit");
        let result = (|| {
            let f = File::create(&tmp).ctx(|| format!("create {}", tmp.display()))?;
            let mut p = Packer::new(HashWriter::new(f));
            let upper = fsx::open_dir(&snap.upper_dir())?;
            match snap.driver {
                Driver::Overlay => {
                    p.overlay_whiteouts = true;
                    p.add_tree(upper.as_fd(), "")?;
                }
                Driver::Copy => {
                    for c in self.changes(snap)? {
                        let rel = c.path.trim_start_matches('/');
                        if c.kind == ChangeKind::Deleted {
                            p.add_whiteout(rel)?;
                            continue;
                        }
                        let comps = fsx::clean(rel.as_bytes(), false).map_err(Error::internal)?;
                        let Some((name, parents)) = comps.split_last() else {
                            continue;
                        };
                        let dir = fsx::open_dirs(upper.as_fd(), parents, Walk::Strict, false)?;
                        let Ok(st) = rfs::statat(&dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
                        else {
                            continue;
                        };
                        p.add_entry(dir.as_fd(), name, &st, rel)?;
                    }
                }
            }
            let (diff_id, _, f) = p.finish()?.finish();
            f.sync_all().ctx(|| "sync layer")?;
            let size = tar_content_size(&tmp)?;
            self.commit_blob(&tmp, &diff_id, None)?;
            Ok((diff_id, size))
        })();
        let _ = std::fs::remove_file(&tmp);
        let (diff_id, size) = result?;

        for k in ["container_config", "id", "parent", "Size"] {
            config.remove(k);
        }
        config.set_config(&cc);
        config.set_str("created", &now);
        match &opts.author {
            Some(a) => config.set_str("author", a),
            None => config.remove("author"),
        }
        match &opts.comment {
            Some(c) => config.set_str("comment", c),
            None => config.remove("comment"),
        }
        match &opts.container_id {
            Some(c) => config.set_str("container", c),
            None => config.remove("container"),
        }
        config.push_layer(
            Some(&diff_id),
            History {
                created: Some(now),
                created_by: opts.created_by.clone(),
                author: opts.author.clone(),
                comment: opts.comment.clone(),
                empty_layer: false,
            },
        );
        let mut sizes = parent
            .as_ref()
            .map(|p| p.layer_sizes.clone())
            .unwrap_or_default();
        sizes.push(size);
        let id = self.add_image(&config.to_bytes(), sizes, parent.map(|p| p.id))?;
        if let Some(r) = reference {
            self.set_reference(&r, &id)?;
        }
        Ok(id)
    }
}

/// Overlay: the upper directory is the diff; a whiteout is a deletion, an opaque directory
/// deletes what the layers had in it, anything else is added or (if the layers have it)
/// modified. Directories whose stat equals the layers' are parents of changes only.
fn overlay_changes(
    merged: &Merged,
    dir: BorrowedFd<'_>,
    comps: &mut Vec<OsString>,
    out: &mut Vec<Change>,
) -> Result<()> {
    for name in fsx::list_dir(dir).ctx(|| format!("list {}", path_of(comps)))? {
        let Ok(st) = rfs::statat(dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) else {
            continue;
        };
        comps.push(name.clone());
        let path = path_of(comps);
        if is_whiteout(&st) {
            if merged.lookup(comps).is_some() {
                out.push(Change {
                    path,
                    kind: ChangeKind::Deleted,
                });
            }
        } else {
            let lower = merged.lookup(comps);
            match &lower {
                None => out.push(Change {
                    path,
                    kind: ChangeKind::Added,
                }),
                Some(l) if is_dir(&l.stat) && is_dir(&st) && !differs(&l.stat, &st) => {}
                Some(_) => out.push(Change {
                    path,
                    kind: ChangeKind::Modified,
                }),
            }
            if is_dir(&st) {
                let sub =
                    fsx::open_child_dir(dir, &name).ctx(|| format!("open {}", path_of(comps)))?;
                if is_opaque(sub.as_fd()) && lower.as_ref().is_some_and(|l| is_dir(&l.stat)) {
                    let present = fsx::list_dir(sub.as_fd()).unwrap_or_default();
                    for (child, _) in merged.children(comps) {
                        if !present.contains(&child) {
                            out.push(Change {
                                path: format!("{}/{}", path_of(comps), name_str(&child)),
                                kind: ChangeKind::Deleted,
                            });
                        }
                    }
                }
                overlay_changes(merged, sub.as_fd(), comps, out)?;
            }
        }
        comps.pop();
    }
    Ok(())
}

/// Copy: compare the full tree with the merged layers.
fn copy_changes(
    merged: &Merged,
    dir: BorrowedFd<'_>,
    comps: &mut Vec<OsString>,
    out: &mut Vec<Change>,
) -> Result<()> {
    let names = fsx::list_dir(dir).ctx(|| format!("list {}", path_of(comps)))?;
    for (child, _) in merged.children(comps) {
        if !names.contains(&child) {
            comps.push(child);
            out.push(Change {
                path: path_of(comps),
                kind: ChangeKind::Deleted,
            });
            comps.pop();
        }
    }
    for name in names {
        let Ok(st) = rfs::statat(dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) else {
            continue;
        };
        comps.push(name.clone());
        let path = path_of(comps);
        let lower = merged.lookup(comps);
        match &lower {
            None => out.push(Change {
                path,
                kind: ChangeKind::Added,
            }),
            Some(l)
                if FileType::from_raw_mode(l.stat.st_mode)
                    != FileType::from_raw_mode(st.st_mode)
                    || differs(&l.stat, &st) =>
            {
                out.push(Change {
                    path,
                    kind: ChangeKind::Modified,
                })
            }
            Some(_) => {}
        }
        if is_dir(&st) {
            let sub = fsx::open_child_dir(dir, &name).ctx(|| format!("open {}", path_of(comps)))?;
            if lower.as_ref().is_some_and(|l| is_dir(&l.stat)) {
                copy_changes(merged, sub.as_fd(), comps, out)?;
            } else {
                added_tree(sub.as_fd(), comps, out)?;
            }
        }
        comps.pop();
    }
    Ok(())
}

fn added_tree(dir: BorrowedFd<'_>, comps: &mut Vec<OsString>, out: &mut Vec<Change>) -> Result<()> {
    for name in fsx::list_dir(dir).ctx(|| format!("list {}", path_of(comps)))? {
        comps.push(name.clone());
        out.push(Change {
            path: path_of(comps),
            kind: ChangeKind::Added,
        });
        if let Ok(sub) = fsx::open_child_dir(dir, &name) {
            added_tree(sub.as_fd(), comps, out)?;
        }
        comps.pop();
    }
    Ok(())
}
