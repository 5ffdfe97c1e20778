//! `docker load`: a tar stream in either format `docker save` writes, in any entry order.
//!
//! - docker-archive: `manifest.json` (`Config`, `RepoTags`, `Layers`), configs and layer
//!   tars at the paths it names (`<id>/layer.tar`, possibly symlinks to another image's
//!   copy, or `blobs/sha256/<hex>` since Docker 25);
//! - OCI image layout: `oci-layout`, `index.json` (names in `io.containerd.image.name` /
//!   `org.opencontainers.image.ref.name`), manifests, nested indexes, compressed layers.
//!
//! The stream is read once; every file goes to a temp file in the store's `tmp/`, hashed
//! on the way (a `blobs/sha256/<hex>` whose content does not match its name is refused),
//! so nothing is held in memory but small JSON documents. A layer's diff ID must match
//! the config's `rootfs.diff_ids`.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;

use crate::digest::{Digest, HashWriter};
use crate::error::{Error, IoContext, Result};
use crate::fsx;
use crate::reference::Reference;
use crate::spec::{
    host_architecture, is_index_type, ArchiveManifestEntry, Descriptor, ImageConfig, Index,
    Manifest, ANNOTATION_CONTAINERD_NAME, ANNOTATION_OCI_REF_NAME,
};
use crate::store::{decompress, tar_content_size, Store};

/// Largest JSON document (manifest, index, config) read from an archive.
const MAX_JSON: u64 = 64 << 20;

/// Progress of one layer while loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadProgress {
    /// Short ID of the layer (12 hex digits of its diff ID).
    pub id: String,
    /// Bytes done.
    pub current: u64,
    /// Bytes in total.
    pub total: u64,
}

/// What a load did, for the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Images by ID, in archive order.
    pub images: Vec<Digest>,
    /// One line per outcome, Docker's wording: `Loaded image: busybox:latest`,
    /// `Loaded image ID: sha256:…`, and a note for each tag moved away from another image.
    pub messages: Vec<String>,
}

struct Staged {
    path: PathBuf,
    digest: Digest,
    size: u64,
}

enum Item {
    File(Staged),
    Link(Vec<std::ffi::OsString>),
}

struct Archive {
    items: HashMap<Vec<std::ffi::OsString>, Item>,
    dir: PathBuf,
}

impl Archive {
    fn get(&self, name: &str) -> Result<&Staged> {
        let mut comps = fsx::clean(name.as_bytes(), false)
            .map_err(|why| Error::invalid(format!("archive path {name:?}: {why}")))?;
        for _ in 0..16 {
            match self.items.get(&comps) {
                Some(Item::File(s)) => return Ok(s),
                Some(Item::Link(target)) => comps = target.clone(),
                None => break,
            }
        }
        Err(Error::invalid(format!(
            "invalid archive: {name:?} is missing"
        )))
    }

    fn has(&self, name: &str) -> bool {
        self.get(name).is_ok()
    }

    fn json(&self, name: &str) -> Result<Vec<u8>> {
        let s = self.get(name)?;
        if s.size > MAX_JSON {
            return Err(Error::invalid(format!(
                "invalid archive: {name:?} is too large ({} bytes)",
                s.size
            )));
        }
        std::fs::read(&s.path).ctx(|| format!("read {name}"))
    }

    fn blob(&self, d: &Digest) -> Result<&Staged> {
        self.get(&format!("blobs/sha256/{}", d.hex()))
    }
}

impl Store {
    /// Loads every image of the archive `reader` (optionally gzip/zstd-compressed), tags
    /// them as the archive says, and reports layer progress through `progress`.
    pub fn load(
        &self,
        reader: impl Read,
        progress: &mut dyn FnMut(LoadProgress),
    ) -> Result<Loaded> {
        let _i = self.ingesting();
        let dir = self.tmp_path("load");
        std::fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
        let result = self
            .stage(reader, &dir)
            .and_then(|archive| self.load_staged(&archive, progress));
        let _ = fsx::remove_tree(&dir);
        result
    }

    fn stage(&self, reader: impl Read, dir: &std::path::Path) -> Result<Archive> {
        let (_, plain) = decompress(reader)?;
        let mut tar = tar::Archive::new(plain);
        let mut archive = Archive {
            items: HashMap::new(),
            dir: dir.to_path_buf(),
        };
        let entries = tar
            .entries()
            .map_err(|e| Error::bad_input("read archive", e))?;
        for (n, entry) in entries.enumerate() {
            let mut entry = entry.map_err(|e| Error::bad_input("read archive", e))?;
            let name = entry.path_bytes().into_owned();
            let shown = String::from_utf8_lossy(&name).into_owned();
            let comps = fsx::clean(&name, false)
                .map_err(|why| Error::invalid(format!("invalid archive entry {shown:?}: {why}")))?;
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let path = archive.dir.join(n.to_string());
                    let f = File::create(&path).ctx(|| format!("create {}", path.display()))?;
                    let mut w = HashWriter::new(io::BufWriter::new(f));
                    io::copy(&mut entry, &mut w).map_err(|e| {
                        Error::bad_input(format!("read archive entry {shown:?}"), e)
                    })?;
                    let (digest, size, f) = w.finish();
                    // Staged files may become blobs by rename: make them durable first.
                    f.into_inner()
                        .map_err(|e| {
                            Error::io(format!("write {}", path.display()), e.into_error())
                        })?
                        .sync_all()
                        .ctx(|| format!("sync {}", path.display()))?;
                    if let [b, s, hex] = comps.as_slice() {
                        if b == "blobs" && s == "sha256" && hex.to_str() != Some(digest.hex()) {
                            return Err(Error::invalid(format!(
                                "invalid archive: blob {shown:?} has content {digest}"
                            )));
                        }
                    }
                    archive
                        .items
                        .insert(comps, Item::File(Staged { path, digest, size }));
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| t.into_owned())
                        .unwrap_or_default();
                    let resolved = if entry.header().entry_type() == tar::EntryType::Link {
                        fsx::clean(&target, false)
                    } else {
                        let mut base: Vec<u8> = vec![];
                        for c in comps.iter().take(comps.len().saturating_sub(1)) {
                            base.extend_from_slice(c.as_encoded_bytes());
                            base.push(b'/');
                        }
                        base.extend_from_slice(&target);
                        fsx::clean(&base, false)
                    }
                    .map_err(|why| {
                        Error::invalid(format!("invalid archive entry {shown:?}: link {why}"))
                    })?;
                    archive.items.insert(comps, Item::Link(resolved));
                }
                _ => {}
            }
        }
        Ok(archive)
    }

    fn load_staged(
        &self,
        archive: &Archive,
        progress: &mut dyn FnMut(LoadProgress),
    ) -> Result<Loaded> {
        let mut loaded = Loaded::default();
        if archive.has("manifest.json") {
            let entries: Vec<ArchiveManifestEntry> =
                serde_json::from_slice(&archive.json("manifest.json")?)
                    .map_err(|e| Error::invalid(format!("invalid archive: manifest.json: {e}")))?;
            for e in entries {
                let config = archive.json(&e.config)?;
                let layers = e
                    .layers
                    .iter()
                    .map(|l| archive.get(l))
                    .collect::<Result<Vec<_>>>()?;
                let id = self.load_image(&config, &layers, progress)?;
                let tags = e.repo_tags.unwrap_or_default();
                self.tag_loaded(&id, tags.iter().map(String::as_str), &mut loaded)?;
            }
        } else if archive.has("index.json") {
            let index = Index::parse(&archive.json("index.json")?, "index.json")?;
            for desc in &index.manifests {
                let Some(manifest) = self.pick_manifest(archive, desc, 0)? else {
                    continue;
                };
                let config =
                    archive.json(&format!("blobs/sha256/{}", manifest.config.digest.hex()))?;
                let layers = manifest
                    .layers
                    .iter()
                    .map(|l| archive.blob(&l.digest))
                    .collect::<Result<Vec<_>>>()?;
                let id = self.load_image(&config, &layers, progress)?;
                let name = desc
                    .annotations
                    .get(ANNOTATION_CONTAINERD_NAME)
                    .or_else(|| {
                        desc.annotations
                            .get(ANNOTATION_OCI_REF_NAME)
                            .filter(|n| n.contains(['/', ':']))
                    });
                self.tag_loaded(&id, name.map(String::as_str), &mut loaded)?;
            }
        } else {
            return Err(Error::invalid(
                "invalid archive: neither manifest.json nor index.json found (is this a `docker save` archive?)",
            ));
        }
        if loaded.images.is_empty() {
            return Err(Error::invalid("invalid archive: it holds no image"));
        }
        Ok(loaded)
    }

    /// The manifest `desc` points at; for an index, the entry for this machine whose
    /// manifest is in the archive (an archive may hold one platform of several).
    fn pick_manifest(
        &self,
        archive: &Archive,
        desc: &Descriptor,
        depth: u32,
    ) -> Result<Option<Manifest>> {
        if depth > 4 {
            return Err(Error::invalid("invalid archive: indexes nested too deep"));
        }
        let what = format!("blobs/sha256/{}", desc.digest.hex());
        let bytes = archive.json(&what)?;
        let nested = is_index_type(&desc.media_type)
            || serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .is_some_and(|v| v.get("manifests").is_some());
        if !nested {
            return Manifest::parse(&bytes, &what).map(Some);
        }
        let index = Index::parse(&bytes, &what)?;
        let arch = host_architecture();
        let mut candidates: Vec<&Descriptor> = index
            .manifests
            .iter()
            .filter(|d| archive.blob(&d.digest).is_ok())
            .collect();
        candidates.sort_by_key(|d| {
            let p = d.platform.clone().unwrap_or_default();
            !(p.architecture == arch && p.os == "linux")
        });
        for d in candidates {
            if let Some(m) = self.pick_manifest(archive, d, depth + 1)? {
                return Ok(Some(m));
            }
        }
        Ok(None)
    }

    fn load_image(
        &self,
        config: &[u8],
        layers: &[&Staged],
        progress: &mut dyn FnMut(LoadProgress),
    ) -> Result<Digest> {
        let cfg = ImageConfig::parse(config)?;
        let diff_ids = cfg.diff_ids()?;
        if diff_ids.len() != layers.len() {
            return Err(Error::invalid(format!(
                "invalid archive: the config lists {} layers, the manifest {}",
                diff_ids.len(),
                layers.len()
            )));
        }
        let mut sizes = vec![];
        for (want, staged) in diff_ids.iter().zip(layers) {
            let report = |current| LoadProgress {
                id: want.short().to_string(),
                current,
                total: staged.size,
            };
            progress(report(0));
            if !self.has_blob(want) {
                if &staged.digest == want {
                    // Uncompressed and already hashed: the staged file itself moves in (a
                    // later use of the same layer finds the blob present).
                    self.commit_blob(&staged.path, want, Some(want))?;
                } else {
                    let f = File::open(&staged.path).ctx(|| "open staged layer")?;
                    let (got, _) = self.put_layer(BufReader::new(f))?;
                    if &got != want {
                        return Err(Error::invalid(format!(
                            "invalid archive: layer content {got} does not match the config's diff ID {want}"
                        )));
                    }
                }
            }
            sizes.push(tar_content_size(&self.blob_path(want))?);
            progress(report(staged.size));
        }
        self.add_image(config, sizes, None)
    }

    fn tag_loaded<'a>(
        &self,
        id: &Digest,
        tags: impl IntoIterator<Item = &'a str>,
        loaded: &mut Loaded,
    ) -> Result<()> {
        loaded.images.push(id.clone());
        let mut any = false;
        let current: BTreeMap<String, Digest> = self.tags()?;
        for t in tags {
            let r = Reference::parse(t)
                .map_err(|e| Error::invalid(format!("invalid archive: tag {t:?}: {}", e.message)))?
                .with_default_tag();
            if let Some(old) = current.get(&r.to_string()) {
                if old != id {
                    loaded.messages.push(format!(
                        "The image {} already exists, renaming the old one with ID {old} to empty string",
                        r.familiar()
                    ));
                }
            }
            self.set_reference(&r, id)?;
            loaded
                .messages
                .push(format!("Loaded image: {}", r.familiar()));
            any = true;
        }
        if !any {
            loaded.messages.push(format!("Loaded image ID: {id}"));
        }
        Ok(())
    }
}
