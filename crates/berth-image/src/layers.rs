//! Unpacked layers (`layers/<chain hex>/diff`, one per chain ID, shared by every image and
//! container that has it) and the merged view of a layer stack that overlayfs would show,
//! computed in user space for `docker diff` and the copy driver.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs::File;
use std::io::BufReader;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use rustix::fs::{self as rfs, AtFlags, FileType, Stat};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::fsx::{self, Walk};
use crate::store::Store;
use crate::unpack::{self, Ownership, UnpackOptions, OPAQUE_XATTR};

/// `layers/<chain hex>/layer.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LayerInfo {
    pub diff_id: Digest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Digest>,
    pub size: u64,
}

/// `snapshots/<key>.json`: the layers a container's snapshot holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct SnapshotRef {
    pub layers: Vec<Digest>,
}

impl Store {
    /// Directory of the unpacked layer with chain ID `chain`.
    pub fn layer_dir(&self, chain: &Digest) -> PathBuf {
        self.root().join("layers").join(chain.hex()).join("diff")
    }

    /// Unpacks (once; later calls find it done) every layer of the stack `diff_ids`;
    /// returns their chain IDs, bottom first.
    pub fn prepare_layers(&self, diff_ids: &[Digest]) -> Result<Vec<Digest>> {
        let chains = Digest::chains(diff_ids);
        for (i, chain) in chains.iter().enumerate() {
            let dir = self.root().join("layers").join(chain.hex());
            if dir.join("layer.json").is_file() {
                continue;
            }
            let tmp = self.tmp_path("unpack");
            let result =
                self.unpack_layer(&tmp, &diff_ids[i], i.checked_sub(1).map(|p| &chains[p]));
            let result = result.and_then(|()| match std::fs::rename(&tmp, &dir) {
                Ok(()) => Ok(()),
                // Another thread finished it first: theirs is as good as ours.
                Err(_) if dir.join("layer.json").is_file() => Ok(()),
                Err(e) => Err(Error::io(format!("store unpacked layer {chain}"), e)),
            });
            let _ = fsx::remove_tree(&tmp);
            result?;
        }
        Ok(chains)
    }

    fn unpack_layer(
        &self,
        tmp: &std::path::Path,
        diff_id: &Digest,
        parent: Option<&Digest>,
    ) -> Result<()> {
        let diff = tmp.join("diff");
        std::fs::create_dir_all(&diff).ctx(|| format!("create {}", diff.display()))?;
        let blob = self.blob_path(diff_id);
        let f = File::open(&blob).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::not_found(format!("layer {diff_id} is missing from the store"))
            }
            _ => Error::io(format!("open layer {diff_id}"), e),
        })?;
        let root = fsx::open_dir(&diff)?;
        let opts = UnpackOptions {
            walk: Walk::Strict,
            whiteouts: true,
            ownership: Ownership::Keep,
            no_overwrite_dir_non_dir: false,
        };
        let stats = unpack::unpack(
            BufReader::with_capacity(256 * 1024, f),
            root.as_fd(),
            &[],
            &opts,
        )
        .map_err(|e| Error::new(e.kind, format!("unpack layer {diff_id}: {}", e.message)))?;
        rfs::chmod(&diff, rfs::Mode::from_raw_mode(0o755)).ctx(|| "chmod layer root")?;
        let info = LayerInfo {
            diff_id: diff_id.clone(),
            parent: parent.cloned(),
            size: stats.size,
        };
        let data = serde_json::to_vec_pretty(&info).map_err(Error::internal)?;
        fsx::write_atomic(&tmp.join("layer.json"), &data)
    }

    /// Size of the unpacked layer `chain` (sum of its regular files).
    pub fn layer_size(&self, chain: &Digest) -> Result<u64> {
        let p = self
            .root()
            .join("layers")
            .join(chain.hex())
            .join("layer.json");
        let data = std::fs::read(&p).ctx(|| format!("read {}", p.display()))?;
        let info: LayerInfo = serde_json::from_slice(&data)
            .map_err(|e| Error::internal(format!("corrupt {}: {e}", p.display())))?;
        Ok(info.size)
    }

    pub(crate) fn write_snapshot_ref(&self, key: &str, r: &SnapshotRef) -> Result<()> {
        let data = serde_json::to_vec_pretty(r).map_err(Error::internal)?;
        fsx::write_atomic(
            &self.root().join("snapshots").join(format!("{key}.json")),
            &data,
        )
    }

    pub(crate) fn remove_snapshot_ref(&self, key: &str) -> Result<()> {
        match std::fs::remove_file(self.root().join("snapshots").join(format!("{key}.json"))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io(format!("remove snapshot record {key}"), e))
            }
            _ => Ok(()),
        }
    }

    /// Chain IDs held by snapshots.
    pub(crate) fn snapshot_chains(&self) -> Result<Vec<Digest>> {
        let dir = self.root().join("snapshots");
        let mut out = vec![];
        for e in std::fs::read_dir(&dir)
            .ctx(|| format!("list {}", dir.display()))?
            .flatten()
        {
            if let Ok(data) = std::fs::read(e.path()) {
                if let Ok(r) = serde_json::from_slice::<SnapshotRef>(&data) {
                    out.extend(r.layers);
                }
            }
        }
        Ok(out)
    }

    /// Removes unpacked layers whose chain hex is not in `keep`.
    pub(crate) fn gc_layers(&self, keep: &BTreeSet<String>) -> Result<()> {
        let dir = self.root().join("layers");
        for e in std::fs::read_dir(&dir)
            .ctx(|| format!("list {}", dir.display()))?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if !keep.contains(&name) {
                fsx::remove_tree(&e.path()).ctx(|| format!("remove layer {name}"))?;
            }
        }
        Ok(())
    }
}

/// Where a path of the merged view comes from.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    /// Index into [`Merged::layers`] (0 = top).
    pub layer: usize,
    pub stat: Stat,
}

pub(crate) fn is_whiteout(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice && st.st_rdev == 0
}

pub(crate) fn is_dir(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Directory
}

pub(crate) fn is_opaque(dir: BorrowedFd<'_>) -> bool {
    let mut v = [0u8; 4];
    matches!(rfs::fgetxattr(dir, OPAQUE_XATTR, &mut v[..]), Ok(1) if v[0] == b'y')
}

/// The union of layer directories, top first, as overlayfs merges them.
pub(crate) struct Merged {
    pub layers: Vec<OwnedFd>,
}

impl Merged {
    /// Opens the layer directories (given top first).
    pub fn open(dirs: &[PathBuf]) -> Result<Merged> {
        Ok(Merged {
            layers: dirs
                .iter()
                .map(|d| fsx::open_dir(d))
                .collect::<Result<_>>()?,
        })
    }

    /// The directory `comps` inside layer `layer` (None when absent there).
    pub fn dir_in(&self, layer: usize, comps: &[OsString]) -> Option<OwnedFd> {
        fsx::open_dirs(self.layers[layer].as_fd(), comps, Walk::Strict, false).ok()
    }

    /// The entry `comps` of the merged view, if visible.
    pub fn lookup(&self, comps: &[OsString]) -> Option<Found> {
        let (name, parents) = comps.split_last()?;
        'layers: for (li, layer) in self.layers.iter().enumerate() {
            let mut cur: Option<OwnedFd> = None;
            // An opaque ancestor in this layer hides every layer below it.
            let mut opaque = false;
            for c in parents {
                let dir = cur.as_ref().map_or(layer.as_fd(), |f| f.as_fd());
                match rfs::statat(dir, c.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
                    Err(_) if opaque => return None,
                    Err(_) => continue 'layers,
                    Ok(st) if is_whiteout(&st) || !is_dir(&st) => return None,
                    Ok(_) => {}
                }
                let next = fsx::open_child_dir(dir, c).ok()?;
                opaque |= is_opaque(next.as_fd());
                cur = Some(next);
            }
            let dir = cur.as_ref().map_or(layer.as_fd(), |f| f.as_fd());
            match rfs::statat(dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if is_whiteout(&st) => return None,
                Ok(stat) => return Some(Found { layer: li, stat }),
                Err(_) if opaque => return None,
                Err(_) => continue,
            }
        }
        None
    }

    /// The visible children of directory `comps` of the merged view, by name.
    pub fn children(&self, comps: &[OsString]) -> BTreeMap<OsString, Found> {
        let mut out: BTreeMap<OsString, Found> = BTreeMap::new();
        let mut hidden: BTreeSet<OsString> = BTreeSet::new();
        // The directory must be visible, and a directory, in each layer that contributes.
        for li in 0..self.layers.len() {
            if !comps.is_empty() {
                match self.lookup_in_layer_chain(li, comps) {
                    Visibility::Dir => {}
                    Visibility::Stop => break,
                    Visibility::Absent => continue,
                }
            }
            let Some(dir) = self.dir_in(li, comps) else {
                continue;
            };
            let Ok(names) = fsx::list_dir(dir.as_fd()) else {
                continue;
            };
            for n in names {
                if out.contains_key(&n) || hidden.contains(&n) {
                    continue;
                }
                let Ok(stat) = rfs::statat(&dir, n.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) else {
                    continue;
                };
                if is_whiteout(&stat) {
                    hidden.insert(n);
                } else {
                    out.insert(n, Found { layer: li, stat });
                }
            }
            if is_opaque(dir.as_fd()) {
                break;
            }
            // A non-directory child hides the same name below; a directory merges.
        }
        out
    }

    /// Whether layer `li` contributes to directory `comps` given the layers above it.
    fn lookup_in_layer_chain(&self, li: usize, comps: &[OsString]) -> Visibility {
        // Above `li`: a whiteout / non-directory at comps or an ancestor stops lower layers;
        // an opaque directory at comps or an ancestor too (after that layer).
        for upper in 0..li {
            let mut cur: Option<OwnedFd> = None;
            for c in comps {
                let dir = cur
                    .as_ref()
                    .map_or(self.layers[upper].as_fd(), |f| f.as_fd());
                match rfs::statat(dir, c.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
                    Err(_) => break,
                    Ok(st) if is_whiteout(&st) || !is_dir(&st) => return Visibility::Stop,
                    Ok(_) => {}
                }
                let Ok(next) = fsx::open_child_dir(dir, c) else {
                    break;
                };
                if is_opaque(next.as_fd()) {
                    return Visibility::Stop;
                }
                cur = Some(next);
            }
        }
        let mut cur: Option<OwnedFd> = None;
        for c in comps {
            let dir = cur.as_ref().map_or(self.layers[li].as_fd(), |f| f.as_fd());
            match rfs::statat(dir, c.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Err(_) => return Visibility::Absent,
                Ok(st) if is_whiteout(&st) || !is_dir(&st) => return Visibility::Absent,
                Ok(_) => {}
            }
            match fsx::open_child_dir(dir, c) {
                Ok(next) => cur = Some(next),
                Err(_) => return Visibility::Absent,
            }
        }
        Visibility::Dir
    }
}

enum Visibility {
    Dir,
    Absent,
    Stop,
}
