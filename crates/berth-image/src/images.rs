//! Image operations with Docker's semantics: resolve, tag, remove, prune, history, import,
//! garbage collection of blobs and unpacked layers.

use std::collections::BTreeSet;
use std::io::Read;

use crate::changes;
use crate::digest::{is_hex64, Digest};
use crate::error::{Error, Result};
use crate::reference::Reference;
use crate::spec::{History, ImageConfig};
use crate::store::Store;
use crate::time;

/// A container using an image (what the caller's [`InUse`] predicate reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// The container's ID.
    pub container: String,
    /// Whether it is running (a running container's image cannot be removed even forced).
    pub running: bool,
}

/// Asks the engine whether a container uses an image.
pub type InUse<'a> = &'a dyn Fn(&Digest) -> Option<Usage>;

/// One line of `docker rmi` / `docker image prune` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteItem {
    /// A reference was removed (familiar form).
    Untagged(String),
    /// An image was deleted (`sha256:…`).
    Deleted(Digest),
}

/// One line of `docker history`, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryItem {
    /// The image ID for the top entry, `None` (`<missing>`) for the others.
    pub id: Option<Digest>,
    /// Unix seconds.
    pub created: i64,
    /// The instruction.
    pub created_by: String,
    /// Layer size (0 for empty layers).
    pub size: u64,
    /// Comment.
    pub comment: String,
    /// Tags of the image (top entry only).
    pub tags: Vec<String>,
}

/// What [`Store::import`] needs besides the tar.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Reference to tag the result with (`repo[:tag]`), none for an untagged image.
    pub reference: Option<String>,
    /// Dockerfile instructions to apply to the config.
    pub changes: Vec<String>,
    /// History comment (default `Imported from -`).
    pub message: Option<String>,
    /// Architecture (`linux/arm64` or `arm64`); default the host's.
    pub platform: Option<String>,
}

fn short(id: &Digest) -> &str {
    id.short()
}

impl Store {
    /// Resolves what a user typed to an image ID, with Docker's rules: `sha256:<hex>` or
    /// 64 hex digits are IDs; a reference (`busybox`, `busybox:1`, `a/b@sha256:…`) is
    /// looked up in the tags; otherwise a hex string is a unique ID prefix.
    pub fn resolve(&self, input: &str) -> Result<Digest> {
        let not_found = || Error::not_found(format!("No such image: {input}"));
        let tags = self.tags()?;
        if let Some(hex) = input.strip_prefix("sha256:") {
            if is_hex64(hex) {
                let d = Digest::from_hex(hex)?;
                return self.record(&d).map(|_| d).map_err(|_| not_found());
            }
            return self.by_prefix(hex, input);
        }
        if is_hex64(input) {
            let d = Digest::from_hex(input)?;
            return self.record(&d).map(|_| d).map_err(|_| not_found());
        }
        if let Ok(r) = Reference::parse(input) {
            let full = r.clone().with_default_tag();
            if let Some(id) = tags.get(&full.to_string()) {
                return Ok(id.clone());
            }
            // `name@<image id>`: Docker accepts the ID as the digest when the repository has it.
            if let Some(d) = r.digest() {
                let name = r.name();
                if tags
                    .iter()
                    .any(|(k, v)| v == d && k.starts_with(&format!("{name}:")))
                {
                    return Ok(d.clone());
                }
            }
        }
        if !input.is_empty()
            && input
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return self.by_prefix(input, input);
        }
        match Reference::parse(input) {
            Ok(r) => Err(Error::not_found(format!(
                "No such image: {}",
                r.with_default_tag().familiar()
            ))),
            Err(e) => Err(e),
        }
    }

    fn by_prefix(&self, hex: &str, input: &str) -> Result<Digest> {
        if hex.is_empty() || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(Error::not_found(format!("No such image: {input}")));
        }
        let hits: Vec<Digest> = self
            .ids()?
            .into_iter()
            .filter(|d| d.hex().starts_with(hex))
            .collect();
        match hits.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(Error::not_found(format!("No such image: {input}"))),
            _ => Err(Error::not_found(format!(
                "No such image: {input} (ambiguous: {} images have this prefix)",
                hits.len()
            ))),
        }
    }

    /// `docker tag source target`: `target` (`repo[:tag]`, default tag `latest`) now
    /// points at the image `source` resolves to.
    pub fn tag(&self, source: &str, target: &str) -> Result<Reference> {
        let id = self.resolve(source)?;
        let r = Reference::parse(target)?;
        if r.digest().is_some() {
            return Err(Error::invalid(
                "refusing to create a tag with a digest reference",
            ));
        }
        let r = r.with_default_tag();
        self.set_reference(&r, &id)?;
        Ok(r)
    }

    /// `docker rmi`: removes a reference, or an image with everything pointing at it, with
    /// Docker's rules (`daemon/images/image_delete.go`):
    ///
    /// - by reference: the reference goes (refused when it is the image's only repository
    ///   and a container uses the image, unless `force`); the image goes with its last
    ///   reference, or stays dangling when something still needs it;
    /// - by ID: every reference goes when they all name one repository (else a conflict
    ///   unless `force`), then the image;
    /// - a running container or a child image always keeps the image; a stopped container
    ///   keeps it unless `force`;
    /// - untagged parents follow unless `noprune`.
    ///
    /// Items come in the order Docker reports them.
    pub fn remove(
        &self,
        input: &str,
        force: bool,
        noprune: bool,
        in_use: InUse<'_>,
    ) -> Result<Vec<DeleteItem>> {
        let id = self.resolve(input)?;
        let _c = self.collecting();
        let _g = self.locked();
        let mut tags = self.tags()?;
        let refs_of = |tags: &crate::store::Tags| -> Vec<String> {
            tags.iter()
                .filter(|(_, v)| **v == id)
                .map(|(k, _)| k.clone())
                .collect()
        };
        let single_repo = |refs: &[String]| {
            let names: BTreeSet<String> = refs
                .iter()
                .filter_map(|r| Reference::parse(r).ok())
                .map(|r| r.name())
                .collect();
            names.len() <= 1
        };
        let is_id = input.starts_with("sha256:")
            || (!input.is_empty()
                && input
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                && id.hex().starts_with(input));
        let key = Reference::parse(input).ok().map(|r| r.with_default_tag());
        let mut items = vec![];
        let mut removed_ref = false;
        match key.filter(|k| !is_id && tags.contains_key(&k.to_string())) {
            Some(r) => {
                if !force && single_repo(&refs_of(&tags)) {
                    if let Some(u) = in_use(&id) {
                        return Err(Error::conflict(format!(
                            "conflict: unable to remove repository reference \"{input}\" (must force) - container {} is using its referenced image {}",
                            short_ctr(&u.container),
                            short(&id)
                        )));
                    }
                }
                tags.remove(&r.to_string());
                items.push(DeleteItem::Untagged(r.familiar()));
                // With the repository's last tag go its digest references.
                if r.digest().is_none()
                    && !refs_of(&tags)
                        .iter()
                        .any(|k| k.starts_with(&format!("{}:", r.name())))
                {
                    let prefix = format!("{}@", r.name());
                    for k in refs_of(&tags)
                        .into_iter()
                        .filter(|k| k.starts_with(&prefix))
                    {
                        tags.remove(&k);
                        items.push(DeleteItem::Untagged(familiar(&k)));
                    }
                }
                if !refs_of(&tags).is_empty() {
                    self.write_tags(&tags)?;
                    return Ok(items);
                }
                removed_ref = true;
            }
            None => {
                let refs = refs_of(&tags);
                if single_repo(&refs) {
                    if let Some(conflict) =
                        self.delete_conflict(&id, &tags, true, !force, in_use)?
                    {
                        return Err(conflict);
                    }
                    for k in refs {
                        tags.remove(&k);
                        items.push(DeleteItem::Untagged(familiar(&k)));
                    }
                }
            }
        }
        if let Some(conflict) = self.delete_conflict(&id, &tags, true, !force, in_use)? {
            if removed_ref {
                // The reference is gone; the image stays (dangling) for what uses it.
                self.write_tags(&tags)?;
                return Ok(items);
            }
            return Err(conflict);
        }
        for k in refs_of(&tags) {
            tags.remove(&k);
            items.push(DeleteItem::Untagged(familiar(&k)));
        }
        self.write_tags(&tags)?;
        let parent = self.record(&id)?.parent;
        self.remove_record(&id)?;
        items.push(DeleteItem::Deleted(id.clone()));
        // Untagged parents nothing else needs follow (Docker's "prune parents").
        let mut next = parent;
        while let (false, Some(p)) = (noprune, next.clone()) {
            let Ok(rec) = self.record(&p) else { break };
            if tags.values().any(|v| *v == p)
                || self
                    .delete_conflict(&p, &tags, true, true, in_use)?
                    .is_some()
            {
                break;
            }
            self.remove_record(&p)?;
            items.push(DeleteItem::Deleted(p));
            next = rec.parent;
        }
        self.gc_locked()?;
        Ok(items)
    }

    /// Why image `id` cannot be deleted: `hard` conflicts (a running container, child
    /// images) and `soft` ones (a stopped container, references in several repositories).
    fn delete_conflict(
        &self,
        id: &Digest,
        tags: &crate::store::Tags,
        hard: bool,
        soft: bool,
        in_use: InUse<'_>,
    ) -> Result<Option<Error>> {
        let usage = in_use(id);
        if hard {
            if let Some(u) = usage.as_ref().filter(|u| u.running) {
                return Ok(Some(Error::conflict(format!(
                    "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                    short(id),
                    short_ctr(&u.container)
                ))));
            }
            if !self.children(id)?.is_empty() {
                return Ok(Some(Error::conflict(format!(
                    "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
                    short(id)
                ))));
            }
        }
        if soft {
            let refs: BTreeSet<String> = tags
                .iter()
                .filter(|(_, v)| *v == id)
                .filter_map(|(k, _)| Reference::parse(k).ok())
                .map(|r| r.name())
                .collect();
            if refs.len() > 1 {
                return Ok(Some(Error::conflict(format!(
                    "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    short(id)
                ))));
            }
            if let Some(u) = usage {
                return Ok(Some(Error::conflict(format!(
                    "conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
                    short(id),
                    short_ctr(&u.container)
                ))));
            }
        }
        Ok(None)
    }

    /// `docker image prune`: deletes dangling images (`dangling_only`) or every image no
    /// container uses, skipping images others are built on. Returns what was deleted and
    /// the bytes reclaimed.
    pub fn prune(&self, dangling_only: bool, in_use: InUse<'_>) -> Result<(Vec<DeleteItem>, u64)> {
        let _c = self.collecting();
        let mut items = vec![];
        let mut reclaimed = 0;
        loop {
            let mut progressed = false;
            for image in self.list()? {
                if (dangling_only && !image.dangling()) || in_use(&image.id).is_some() {
                    continue;
                }
                if !self.children(&image.id)?.is_empty() {
                    continue;
                }
                let _g = self.locked();
                let mut tags = self.tags()?;
                for t in image.repo_tags.iter().chain(image.repo_digests.iter()) {
                    if let Ok(r) = Reference::parse(t) {
                        tags.remove(&r.to_string());
                    }
                    items.push(DeleteItem::Untagged(t.clone()));
                }
                self.write_tags(&tags)?;
                self.remove_record(&image.id)?;
                items.push(DeleteItem::Deleted(image.id.clone()));
                reclaimed += image.size;
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        let _g = self.locked();
        self.gc_locked()?;
        Ok((items, reclaimed))
    }

    /// Removes blobs and unpacked layers that no image or snapshot references.
    pub fn gc(&self) -> Result<()> {
        let _c = self.collecting();
        let _g = self.locked();
        self.gc_locked()
    }

    fn gc_locked(&self) -> Result<()> {
        let mut blobs = BTreeSet::new();
        let mut chains = BTreeSet::new();
        for id in self.ids()? {
            blobs.insert(id.hex().to_string());
            let Ok(bytes) = self.read_blob(&id) else {
                continue;
            };
            let Ok(diff_ids) = ImageConfig::parse(&bytes).and_then(|c| c.diff_ids()) else {
                continue;
            };
            for d in &diff_ids {
                blobs.insert(d.hex().to_string());
            }
            for c in Digest::chains(&diff_ids) {
                chains.insert(c.hex().to_string());
            }
        }
        for c in self.snapshot_chains()? {
            chains.insert(c.hex().to_string());
        }
        let dir = self.root().join("blobs/sha256");
        for e in std::fs::read_dir(&dir)
            .map_err(|e| Error::io("list blobs", e))?
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if !blobs.contains(&name) {
                let _ = std::fs::remove_file(e.path());
            }
        }
        self.gc_layers(&chains)
    }

    /// `docker history`: newest first; the top entry carries the image ID and tags,
    /// older ones `<missing>`; sizes come from the layers of non-empty entries.
    pub fn history(&self, input: &str) -> Result<Vec<HistoryItem>> {
        let id = self.resolve(input)?;
        let image = self.image(&id)?;
        let mut sizes = image.layer_sizes.iter();
        let mut out = vec![];
        let history = image.config.history();
        if history.is_empty() {
            out.push(HistoryItem {
                id: None,
                created: image.created,
                created_by: String::new(),
                size: image.size,
                comment: String::new(),
                tags: vec![],
            });
        }
        for h in history {
            let size = if h.empty_layer {
                0
            } else {
                sizes.next().copied().unwrap_or(0)
            };
            out.push(HistoryItem {
                id: None,
                created: h
                    .created
                    .as_deref()
                    .and_then(time::parse_rfc3339)
                    .unwrap_or(0),
                created_by: h.created_by.unwrap_or_default(),
                size,
                comment: h.comment.unwrap_or_default(),
                tags: vec![],
            });
        }
        out.reverse();
        if let Some(top) = out.first_mut() {
            top.id = Some(id);
            top.tags = image.repo_tags;
        }
        Ok(out)
    }

    /// `docker import`: the root file system tar `reader` (plain, gzip or zstd) becomes a
    /// one-layer image; `changes` are applied to its config. Returns the new image's ID.
    pub fn import(&self, reader: impl Read, options: &ImportOptions) -> Result<Digest> {
        let reference = match &options.reference {
            Some(r) => Some(Reference::parse(r)?.with_default_tag()),
            None => None,
        };
        if reference.as_ref().is_some_and(|r| r.digest().is_some()) {
            return Err(Error::invalid("refusing to import with a digest reference"));
        }
        let now = time::now_rfc3339();
        let mut config = ImageConfig::new(&now);
        if let Some(p) = &options.platform {
            let arch = p.rsplit('/').next().unwrap_or(p);
            if !arch.is_empty() {
                config.set_str("architecture", arch);
            }
        }
        let mut cc = config.config();
        changes::apply_all(&mut cc, &options.changes)?;
        config.set_config(&cc);
        let _i = self.ingesting();
        let (diff_id, size) = self.put_layer(reader)?;
        config.push_layer(
            Some(&diff_id),
            History {
                created: Some(now),
                created_by: Some(String::new()),
                comment: Some(
                    options
                        .message
                        .clone()
                        .unwrap_or_else(|| "Imported from -".into()),
                ),
                ..Default::default()
            },
        );
        let id = self.add_image(&config.to_bytes(), vec![size], None)?;
        if let Some(r) = reference {
            self.set_reference(&r, &id)?;
        }
        Ok(id)
    }
}

fn familiar(full: &str) -> String {
    Reference::parse(full)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| full.to_string())
}

fn short_ctr(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
