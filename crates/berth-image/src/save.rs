//! `docker save`: a docker-archive that is also an OCI image layout, as Docker 25+ writes
//! it: `blobs/sha256/<hex>` (configs, uncompressed layers, OCI manifests), `index.json`,
//! `oci-layout`, `manifest.json` (what `docker load` of every version reads) and the legacy
//! `repositories`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;

use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::pack::Packer;
use crate::reference::Reference;
use crate::spec::{
    ArchiveManifestEntry, Descriptor, Index, Manifest, ANNOTATION_CONTAINERD_NAME,
    ANNOTATION_OCI_REF_NAME, MEDIA_OCI_CONFIG, MEDIA_OCI_INDEX, MEDIA_OCI_LAYER,
    MEDIA_OCI_MANIFEST,
};
use crate::store::Store;

impl Store {
    /// Writes the images `refs` (names, `name:tag`, IDs; a name without tag means all
    /// its tags, as Docker does) as one archive to `w`.
    pub fn save(&self, refs: &[String], w: impl Write) -> Result<()> {
        // image ID → tags to record, in first-seen order.
        let mut order: Vec<Digest> = vec![];
        let mut wanted: BTreeMap<Digest, Vec<Reference>> = BTreeMap::new();
        let tags = self.tags()?;
        for input in refs {
            let mut found: Vec<(Digest, Option<Reference>)> = vec![];
            let parsed = Reference::parse(input).ok();
            // A repository name without tag (`docker save busybox`) means all its tags.
            if let Some(r) = parsed
                .as_ref()
                .filter(|r| r.tag().is_none() && r.digest().is_none())
            {
                for (k, id) in &tags {
                    if let Ok(t) = Reference::parse(k) {
                        if t.name() == r.name() && t.tag().is_some() {
                            found.push((id.clone(), Some(t)));
                        }
                    }
                }
            }
            if found.is_empty() {
                let id = self.resolve(input)?;
                let tag = parsed
                    .filter(|r| r.digest().is_none())
                    .map(Reference::with_default_tag)
                    .filter(|r| tags.get(&r.to_string()) == Some(&id));
                found.push((id, tag));
            }
            if found.is_empty() {
                return Err(Error::not_found(format!("No such image: {input}")));
            }
            for (id, tag) in found {
                if !wanted.contains_key(&id) {
                    order.push(id.clone());
                }
                let list = wanted.entry(id).or_default();
                if let Some(t) = tag {
                    if !list.contains(&t) {
                        list.push(t);
                    }
                }
            }
        }

        let mut p = Packer::new(w);
        p.add_dir("blobs")?;
        p.add_dir("blobs/sha256")?;
        let mut written: BTreeSet<Digest> = BTreeSet::new();
        let mut index = Index {
            schema_version: 2,
            media_type: Some(MEDIA_OCI_INDEX.into()),
            manifests: vec![],
            annotations: Default::default(),
        };
        let mut entries = vec![];
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for id in &order {
            let image = self.image(id)?;
            let config = self.read_blob(id)?;
            let mut blob = |p: &mut Packer<_>, d: &Digest| -> Result<u64> {
                let path = self.blob_path(d);
                let f = File::open(&path).ctx(|| format!("open blob {d}"))?;
                let size = f.metadata().ctx(|| format!("stat blob {d}"))?.len();
                if written.insert(d.clone()) {
                    p.add_reader(&format!("blobs/sha256/{}", d.hex()), size, f)?;
                }
                Ok(size)
            };
            blob(&mut p, id)?;
            let mut layers = vec![];
            for d in &image.diff_ids {
                let size = blob(&mut p, d)?;
                layers.push(Descriptor {
                    media_type: MEDIA_OCI_LAYER.into(),
                    digest: d.clone(),
                    size: size as i64,
                    annotations: Default::default(),
                    platform: None,
                });
            }
            let manifest = Manifest {
                schema_version: 2,
                media_type: Some(MEDIA_OCI_MANIFEST.into()),
                config: Descriptor {
                    media_type: MEDIA_OCI_CONFIG.into(),
                    digest: id.clone(),
                    size: config.len() as i64,
                    annotations: Default::default(),
                    platform: None,
                },
                layers,
                annotations: Default::default(),
            };
            let mbytes = serde_json::to_vec(&manifest).map_err(Error::internal)?;
            let mdigest = Digest::of(&mbytes);
            if written.insert(mdigest.clone()) {
                p.add_bytes(&format!("blobs/sha256/{}", mdigest.hex()), &mbytes, 0o644)?;
            }
            let refs = &wanted[id];
            let descriptor = |annotations| Descriptor {
                media_type: MEDIA_OCI_MANIFEST.into(),
                digest: mdigest.clone(),
                size: mbytes.len() as i64,
                annotations,
                platform: None,
            };
            if refs.is_empty() {
                index.manifests.push(descriptor(Default::default()));
            }
            for r in refs {
                let mut a = BTreeMap::new();
                a.insert(ANNOTATION_CONTAINERD_NAME.to_string(), r.to_string());
                a.insert(
                    ANNOTATION_OCI_REF_NAME.to_string(),
                    r.tag().unwrap_or("latest").to_string(),
                );
                index.manifests.push(descriptor(a));
                if let Some(top) = image.diff_ids.last() {
                    repositories.entry(r.familiar_name()).or_default().insert(
                        r.tag().unwrap_or("latest").to_string(),
                        top.hex().to_string(),
                    );
                }
            }
            entries.push(ArchiveManifestEntry {
                config: format!("blobs/sha256/{}", id.hex()),
                repo_tags: if refs.is_empty() {
                    None
                } else {
                    Some(refs.iter().map(Reference::familiar).collect())
                },
                layers: image
                    .diff_ids
                    .iter()
                    .map(|d| format!("blobs/sha256/{}", d.hex()))
                    .collect(),
            });
        }
        let json = |v: &dyn erased::Json| v.bytes();
        p.add_bytes("index.json", &json(&index), 0o644)?;
        p.add_bytes("manifest.json", &json(&entries), 0o644)?;
        p.add_bytes("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#, 0o644)?;
        if !repositories.is_empty() {
            p.add_bytes("repositories", &json(&repositories), 0o644)?;
        }
        p.finish()?.flush().ctx(|| "flush archive")
    }
}

mod erased {
    /// Serializes anything serde can, for the few JSON files of an archive.
    pub trait Json {
        fn bytes(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Json for T {
        fn bytes(&self) -> Vec<u8> {
            let mut v = serde_json::to_vec(self).unwrap_or_default();
            v.push(b'\n');
            v
        }
    }
}
