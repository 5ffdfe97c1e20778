//! The store: content-addressed blobs, image records, the tags database.
//!
//! Layout under the root (every path relative, so the root can be moved or copied):
//!
//! | path | what |
//! |---|---|
//! | `blobs/sha256/<hex>` | image configs and uncompressed layer tars, by digest (layers by diff ID) |
//! | `images/<hex>.json` | [`ImageRecord`] of image `sha256:<hex>` (its config is the blob `<hex>`) |
//! | `repositories.json` | tags and digest references → image ID |
//! | `layers/<chain hex>/diff/` | a layer unpacked once, shared by every image that has it |
//! | `layers/<chain hex>/layer.json` | its diff ID, parent chain ID and size |
//! | `l/<short>` | short relative symlinks to `layers/*/diff` (see [`crate::snapshot`]) |
//! | `snapshots/<key>.json` | layers a container's snapshot uses (kept by garbage collection) |
//! | `tmp/` | blobs and layers being written (emptied at open) |
//!
//! Invariants: a blob is visible under its digest only after its content was hashed and
//! matched; records and the tags database are replaced atomically (temp + rename); an
//! unpacked layer directory appears complete (unpacked in `tmp/`, then renamed).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::{Deserialize, Serialize};

use crate::digest::{Digest, HashWriter};
use crate::error::{Error, IoContext, Result};
use crate::fsx;
use crate::reference::Reference;
use crate::spec::ImageConfig;
use crate::time;

/// What the store keeps about an image besides its config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The image this one was committed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Digest>,
    /// Size of each layer's content (sum of its regular files), aligned with the diff IDs.
    #[serde(default)]
    pub layer_sizes: Vec<u64>,
    /// When the image entered this store (RFC 3339).
    #[serde(default)]
    pub added: String,
}

/// An image as the engine sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// `sha256:<hex>` of the config.
    pub id: Digest,
    /// The config.
    pub config: ImageConfig,
    /// Size of the config blob.
    pub config_size: u64,
    /// Tags in familiar form (`busybox:latest`), sorted.
    pub repo_tags: Vec<String>,
    /// Digest references in familiar form (`busybox@sha256:…`), sorted.
    pub repo_digests: Vec<String>,
    /// The parent image (commit), if any.
    pub parent: Option<Digest>,
    /// Layers, bottom first.
    pub diff_ids: Vec<Digest>,
    /// Size of each layer's content, aligned with `diff_ids`.
    pub layer_sizes: Vec<u64>,
    /// Total size (sum of `layer_sizes`), what `docker images` shows.
    pub size: u64,
    /// `created` of the config as Unix seconds (0 when absent or unparseable).
    pub created: i64,
}

impl Image {
    /// No tags and no digest references (`<none>:<none>`).
    pub fn dangling(&self) -> bool {
        self.repo_tags.is_empty() && self.repo_digests.is_empty()
    }
    /// Labels of the config.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.config.config().labels.unwrap_or_default()
    }
}

/// The tags database: full reference (`docker.io/library/busybox:latest`) → image ID.
pub(crate) type Tags = BTreeMap<String, Digest>;

/// An image store rooted at a directory. Share one `Store` per root in a process
/// (`&Store` is `Sync`; [`Store::open`] empties `tmp/`, so two processes must not open
/// the same root).
///
/// Locking, always in this order: `ingest` is held shared by whatever adds content
/// (load, import, commit, snapshot creation) and exclusively by garbage collection, so
/// a blob or layer stored but not yet referenced is never collected; `lock` serializes
/// changes to records and tags.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    ingest: RwLock<()>,
    lock: Mutex<()>,
    /// Whether overlayfs takes an upper directory on a file system (by device number):
    /// probed once per file system, not for every container.
    pub(crate) overlay_ok: Mutex<std::collections::HashMap<u64, bool>>,
}

/// Layer compression, detected from the first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar.
    None,
    /// gzip (`1f 8b`).
    Gzip,
    /// zstd (`28 b5 2f fd`).
    Zstd,
}

/// Wraps `r` in the decompressor its first bytes call for (plain tar, gzip or zstd);
/// bzip2 and xz are refused by name.
pub fn decompress<'a>(r: impl Read + 'a) -> Result<(Compression, Box<dyn Read + 'a>)> {
    let mut r = BufReader::with_capacity(64 * 1024, r);
    let head = r
        .fill_buf()
        .map_err(|e| Error::bad_input("read archive", e))?
        .to_vec();
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok((
            Compression::Gzip,
            Box::new(flate2::read::MultiGzDecoder::new(r)),
        ))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let z = zstd::stream::read::Decoder::with_buffer(r)
            .map_err(|e| Error::bad_input("start zstd decompression", e))?;
        Ok((Compression::Zstd, Box::new(z)))
    } else if head.starts_with(b"BZh") {
        Err(Error::invalid(
            "bzip2-compressed archives are not supported (use tar, gzip or zstd)",
        ))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Err(Error::invalid(
            "xz-compressed archives are not supported (use tar, gzip or zstd)",
        ))
    } else {
        Ok((Compression::None, Box::new(r)))
    }
}

impl Store {
    /// Opens (creating it if needed) the store at `root`; leftovers of interrupted writes
    /// in `tmp/` are removed.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let root = root.into();
        for d in ["blobs/sha256", "images", "layers", "snapshots"] {
            std::fs::create_dir_all(root.join(d))
                .ctx(|| format!("create {}", root.join(d).display()))?;
        }
        let tmp = root.join("tmp");
        fsx::remove_tree(&tmp).ctx(|| format!("clean {}", tmp.display()))?;
        std::fs::create_dir_all(&tmp).ctx(|| format!("create {}", tmp.display()))?;
        Ok(Store {
            root,
            ingest: RwLock::new(()),
            lock: Mutex::new(()),
            overlay_ok: Mutex::default(),
        })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn locked(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Held while adding content (see the type's documentation).
    pub(crate) fn ingesting(&self) -> RwLockReadGuard<'_, ()> {
        self.ingest.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Held while collecting garbage, before [`Store::locked`].
    pub(crate) fn collecting(&self) -> RwLockWriteGuard<'_, ()> {
        self.ingest.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn tmp_path(&self, what: &str) -> PathBuf {
        self.root
            .join("tmp")
            .join(format!("{what}-{}", fsx::unique()))
    }

    /// Path of blob `d` (whether or not it exists).
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(d.hex())
    }

    /// True when blob `d` is present.
    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    /// Reads a (small) blob into memory.
    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>> {
        std::fs::read(self.blob_path(d)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => {
                Error::not_found(format!("blob {d} is missing from the store"))
            }
            _ => Error::io(format!("read blob {d}"), e),
        })
    }

    /// Stores what `r` yields as a blob; with `expected`, the content must hash to it.
    pub fn put_blob(&self, r: impl Read, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let tmp = self.tmp_path("blob");
        let result = (|| {
            let f = File::create(&tmp).ctx(|| format!("create {}", tmp.display()))?;
            let mut w = HashWriter::new(f);
            let mut r = r;
            io::copy(&mut r, &mut w).map_err(|e| Error::bad_input("write blob", e))?;
            let (d, n, f) = w.finish();
            f.sync_all().ctx(|| "sync blob")?;
            self.commit_blob(&tmp, &d, expected)?;
            Ok((d, n))
        })();
        let _ = std::fs::remove_file(&tmp);
        result
    }

    /// Moves the file `tmp` (already hashed to `actual`) into the store.
    pub(crate) fn commit_blob(
        &self,
        tmp: &Path,
        actual: &Digest,
        expected: Option<&Digest>,
    ) -> Result<()> {
        if let Some(want) = expected {
            if want != actual {
                return Err(Error::invalid(format!(
                    "content digest mismatch: expected {want}, got {actual}"
                )));
            }
        }
        let dst = self.blob_path(actual);
        if dst.exists() {
            let _ = std::fs::remove_file(tmp);
            return Ok(());
        }
        std::fs::rename(tmp, &dst).ctx(|| format!("store blob {actual}"))
    }

    /// Stores a layer given as a tar (plain, gzip or zstd): kept uncompressed, under its
    /// diff ID. Returns the diff ID and the size of its content (sum of regular files).
    pub fn put_layer(&self, r: impl Read) -> Result<(Digest, u64)> {
        let (_, plain) = decompress(r)?;
        let tmp = self.tmp_path("layer");
        let result = (|| {
            let f = File::create(&tmp).ctx(|| format!("create {}", tmp.display()))?;
            let mut w = HashWriter::new(f);
            let mut plain = plain;
            io::copy(&mut plain, &mut w).map_err(|e| Error::bad_input("read layer", e))?;
            let (d, _, f) = w.finish();
            f.sync_all().ctx(|| "sync layer")?;
            let size = tar_content_size(&tmp)?;
            self.commit_blob(&tmp, &d, None)?;
            Ok((d, size))
        })();
        let _ = std::fs::remove_file(&tmp);
        result
    }

    // ---- records and tags --------------------------------------------------------------

    fn record_path(&self, id: &Digest) -> PathBuf {
        self.root.join("images").join(format!("{}.json", id.hex()))
    }

    /// The record of image `id`.
    pub(crate) fn record(&self, id: &Digest) -> Result<ImageRecord> {
        let data = std::fs::read(self.record_path(id)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::not_found(format!("No such image: {id}")),
            _ => Error::io(format!("read image record {id}"), e),
        })?;
        serde_json::from_slice(&data)
            .map_err(|e| Error::internal(format!("corrupt image record {id}: {e}")))
    }

    pub(crate) fn write_record(&self, id: &Digest, rec: &ImageRecord) -> Result<()> {
        let data = serde_json::to_vec_pretty(rec).map_err(Error::internal)?;
        fsx::write_atomic(&self.record_path(id), &data)
    }

    pub(crate) fn remove_record(&self, id: &Digest) -> Result<()> {
        match std::fs::remove_file(self.record_path(id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(Error::io(format!("remove image {id}"), e))
            }
            _ => Ok(()),
        }
    }

    /// IDs of every image in the store.
    pub fn ids(&self) -> Result<Vec<Digest>> {
        let dir = self.root.join("images");
        let mut ids = vec![];
        for e in std::fs::read_dir(&dir).ctx(|| format!("list {}", dir.display()))? {
            let e = e.ctx(|| format!("list {}", dir.display()))?;
            let name = e.file_name();
            if let Some(hex) = name.to_str().and_then(|n| n.strip_suffix(".json")) {
                if let Ok(d) = Digest::from_hex(hex) {
                    ids.push(d);
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    pub(crate) fn tags(&self) -> Result<Tags> {
        let path = self.root.join("repositories.json");
        match std::fs::read(&path) {
            Ok(data) => serde_json::from_slice(&data).map_err(|e| {
                Error::internal(format!("corrupt tags database {}: {e}", path.display()))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Tags::new()),
            Err(e) => Err(Error::io(format!("read {}", path.display()), e)),
        }
    }

    pub(crate) fn write_tags(&self, tags: &Tags) -> Result<()> {
        let data = serde_json::to_vec_pretty(tags).map_err(Error::internal)?;
        fsx::write_atomic(&self.root.join("repositories.json"), &data)
    }

    /// Adds an image whose config is `config_bytes` (the ID is their digest) and whose
    /// layer blobs are already stored. Idempotent: adding an existing image keeps it.
    pub fn add_image(
        &self,
        config_bytes: &[u8],
        layer_sizes: Vec<u64>,
        parent: Option<Digest>,
    ) -> Result<Digest> {
        let config = ImageConfig::parse(config_bytes)?;
        let diff_ids = config.diff_ids()?;
        for d in &diff_ids {
            if !self.has_blob(d) {
                return Err(Error::invalid(format!("layer {d} of the image is missing")));
            }
        }
        let sizes = if layer_sizes.len() == diff_ids.len() {
            layer_sizes
        } else {
            diff_ids
                .iter()
                .map(|d| tar_content_size(&self.blob_path(d)))
                .collect::<Result<_>>()?
        };
        let (id, _) = self.put_blob(config_bytes, None)?;
        let _g = self.locked();
        if self.record(&id).is_err() {
            let rec = ImageRecord {
                parent,
                layer_sizes: sizes,
                added: time::now_rfc3339(),
            };
            self.write_record(&id, &rec)?;
        }
        Ok(id)
    }

    /// Points `reference` (a tag, or a digest reference) at image `id`, replacing what it
    /// pointed at.
    pub fn set_reference(&self, reference: &Reference, id: &Digest) -> Result<()> {
        let _g = self.locked();
        self.record(id)?;
        let mut tags = self.tags()?;
        tags.insert(reference.to_string(), id.clone());
        self.write_tags(&tags)
    }

    /// Everything about image `id`.
    pub fn image(&self, id: &Digest) -> Result<Image> {
        let tags = self.tags()?;
        self.image_with(id, &tags)
    }

    pub(crate) fn image_with(&self, id: &Digest, tags: &Tags) -> Result<Image> {
        let rec = self.record(id)?;
        let bytes = self.read_blob(id)?;
        let config = ImageConfig::parse(&bytes)?;
        let diff_ids = config.diff_ids()?;
        let mut repo_tags = vec![];
        let mut repo_digests = vec![];
        for (r, target) in tags {
            if target != id {
                continue;
            }
            if let Ok(r) = Reference::parse(r) {
                if r.digest().is_some() {
                    repo_digests.push(r.familiar());
                } else {
                    repo_tags.push(r.familiar());
                }
            }
        }
        repo_tags.sort();
        repo_digests.sort();
        let created = config.created().and_then(time::parse_rfc3339).unwrap_or(0);
        Ok(Image {
            id: id.clone(),
            config_size: bytes.len() as u64,
            config,
            repo_tags,
            repo_digests,
            parent: rec.parent,
            size: rec.layer_sizes.iter().sum(),
            layer_sizes: rec.layer_sizes,
            diff_ids,
            created,
        })
    }

    /// Every image (for `docker images`), newest first.
    pub fn list(&self) -> Result<Vec<Image>> {
        let tags = self.tags()?;
        let mut out = vec![];
        for id in self.ids()? {
            match self.image_with(&id, &tags) {
                Ok(i) => out.push(i),
                Err(e) if e.kind == crate::ErrorKind::NotFound => {} // removed meanwhile
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// The images whose parent is `id`.
    pub fn children(&self, id: &Digest) -> Result<Vec<Digest>> {
        let mut out = vec![];
        for other in self.ids()? {
            if self.record(&other).ok().and_then(|r| r.parent).as_ref() == Some(id) {
                out.push(other);
            }
        }
        Ok(out)
    }
}

/// Content size of the layer tar at `path` as Docker counts it (files and symlink targets).
pub(crate) fn tar_content_size(path: &Path) -> Result<u64> {
    let f = File::open(path).ctx(|| format!("open {}", path.display()))?;
    let mut a = tar::Archive::new(BufReader::new(f));
    let mut size = 0;
    for e in a
        .entries()
        .map_err(|e| Error::bad_input("read layer tar", e))?
    {
        let e = e.map_err(|e| Error::bad_input("read layer tar", e))?;
        size += crate::unpack::content_size(&e);
    }
    Ok(size)
}
