//! Test support: layer tars built entry by entry, a busybox root file system, and image
//! archives in the formats `docker save` writes.
#![allow(dead_code)]

use std::io::Write;

use berth_image::Digest;
use serde_json::json;
use tar::{EntryType, Header};

/// Builds a tar, one entry at a time.
pub struct TarBuilder {
    b: tar::Builder<Vec<u8>>,
}

impl Default for TarBuilder {
    fn default() -> Self {
        Self::new()
    }
}

fn header(kind: EntryType, mode: u32, uid: u64, gid: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(uid);
    h.set_gid(gid);
    h.set_mtime(1_600_000_000);
    h.set_size(0);
    h
}

impl TarBuilder {
    pub fn new() -> Self {
        TarBuilder {
            b: tar::Builder::new(Vec::new()),
        }
    }
    pub fn dir(mut self, path: &str, mode: u32) -> Self {
        let mut h = header(EntryType::Directory, mode, 0, 0);
        self.b
            .append_data(&mut h, path, std::io::empty())
            .expect("dir");
        self
    }
    pub fn file(self, path: &str, data: &[u8]) -> Self {
        self.file_owned(path, data, 0o644, 0, 0)
    }
    pub fn file_owned(mut self, path: &str, data: &[u8], mode: u32, uid: u64, gid: u64) -> Self {
        let mut h = header(EntryType::Regular, mode, uid, gid);
        h.set_size(data.len() as u64);
        self.b.append_data(&mut h, path, data).expect("file");
        self
    }
    /// A file whose name is written raw into the header (for `../x` and `/abs`, which the
    /// tar crate's builder refuses to write).
    pub fn raw_file(mut self, path: &str, data: &[u8]) -> Self {
        let mut h = header(EntryType::Regular, 0o644, 0, 0);
        h.set_size(data.len() as u64);
        let name = &mut h.as_old_mut().name;
        name.fill(0);
        name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        self.b.append(&h, data).expect("raw file");
        self
    }
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = header(EntryType::Symlink, 0o777, 0, 0);
        self.b.append_link(&mut h, path, target).expect("symlink");
        self
    }
    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        let mut h = header(EntryType::Link, 0o644, 0, 0);
        self.b.append_link(&mut h, path, target).expect("hardlink");
        self
    }
    /// A hard link whose target is written raw (for `../x`).
    pub fn raw_hardlink(mut self, path: &str, target: &str) -> Self {
        let mut h = header(EntryType::Link, 0o644, 0, 0);
        h.set_path(path).expect("path");
        let l = &mut h.as_old_mut().linkname;
        l.fill(0);
        l[..target.len()].copy_from_slice(target.as_bytes());
        h.set_cksum();
        self.b.append(&h, std::io::empty()).expect("raw hardlink");
        self
    }
    pub fn chardev(mut self, path: &str, major: u32, minor: u32) -> Self {
        let mut h = header(EntryType::Char, 0o666, 0, 0);
        h.set_device_major(major).expect("major");
        h.set_device_minor(minor).expect("minor");
        self.b
            .append_data(&mut h, path, std::io::empty())
            .expect("chardev");
        self
    }
    pub fn fifo(mut self, path: &str) -> Self {
        let mut h = header(EntryType::Fifo, 0o600, 0, 0);
        self.b
            .append_data(&mut h, path, std::io::empty())
            .expect("fifo");
        self
    }
    /// A file carrying an extended attribute in a PAX header.
    pub fn file_with_xattr(mut self, path: &str, data: &[u8], key: &str, value: &str) -> Self {
        let rec = format!(" SCHILY.xattr.{key}={value}\n");
        let mut len = rec.len() + 1;
        while format!("{len}{rec}").len() != len {
            len += 1;
        }
        let pax = format!("{len}{rec}");
        let mut x = header(EntryType::XHeader, 0o644, 0, 0);
        x.set_size(pax.len() as u64);
        x.set_path("PaxHeaders/x").expect("pax path");
        x.set_cksum();
        self.b.append(&x, pax.as_bytes()).expect("pax");
        self.file(path, data)
    }
    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().expect("finish tar")
    }
}

/// A busybox root file system: the host's static busybox, a few applets, passwd/group.
pub fn busybox_rootfs() -> Vec<u8> {
    let busybox =
        std::fs::read("/bin/busybox").expect("Debian's busybox-static provides /bin/busybox");
    let mut t = TarBuilder::new()
        .dir("bin", 0o755)
        .dir("etc", 0o755)
        .dir("tmp", 0o1777)
        .dir("root", 0o700)
        .file_owned("bin/busybox", &busybox, 0o755, 0, 0);
    for applet in [
        "sh", "ls", "cat", "echo", "rm", "mkdir", "touch", "id", "stat",
    ] {
        t = t.symlink(&format!("bin/{applet}"), "busybox");
    }
    t.file(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    .finish()
}

pub fn digest(data: &[u8]) -> Digest {
    Digest::of(data)
}

/// An image config for `layers` (uncompressed tars).
pub fn config_for(layers: &[&[u8]], cmd: &[&str]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| digest(l).to_string()).collect();
    let history: Vec<_> = layers
        .iter()
        .map(|_| json!({"created": "2024-01-02T03:04:05Z", "created_by": "ADD file in /"}))
        .chain(std::iter::once(
            json!({"created": "2024-01-02T03:04:06Z", "created_by": "CMD [\"sh\"]", "empty_layer": true}),
        ))
        .collect();
    serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-02T03:04:06Z",
        "config": {"Cmd": cmd, "Env": ["PATH=/bin"], "Labels": {"org.test": "yes"}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }))
    .expect("config json")
}

/// A legacy docker-archive (`docker save` before Docker 25) with entries in an unusual
/// order (manifest first, configs and layers after) and the last image's duplicate layers
/// as symlinks, as Docker writes them.
/// One image of an archive: layer tars, config, tags.
pub type ArchiveImage<'a> = (Vec<Vec<u8>>, Vec<u8>, Vec<&'a str>);

pub fn docker_archive(images: &[ArchiveImage<'_>]) -> Vec<u8> {
    let mut manifest = vec![];
    let mut files: Vec<(String, Vec<u8>)> = vec![];
    let mut links: Vec<(String, String)> = vec![];
    let mut seen = std::collections::HashMap::new();
    for (n, (layers, config, tags)) in images.iter().enumerate() {
        let cfg_name = format!("{}.json", digest(config).hex());
        files.push((cfg_name.clone(), config.clone()));
        let mut paths = vec![];
        for (i, l) in layers.iter().enumerate() {
            let id = digest(format!("v1-{n}-{i}-{}", digest(l)).as_bytes())
                .hex()
                .to_string();
            let path = format!("{id}/layer.tar");
            match seen.get(&digest(l)) {
                Some(first) => links.push((path.clone(), format!("../{first}"))),
                None => {
                    seen.insert(digest(l), path.clone());
                    files.push((path.clone(), l.clone()));
                    files.push((format!("{id}/VERSION"), b"1.0".to_vec()));
                }
            }
            paths.push(path);
        }
        manifest.push(json!({"Config": cfg_name, "RepoTags": if tags.is_empty() { serde_json::Value::Null } else { json!(tags) }, "Layers": paths}));
    }
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = header(EntryType::Regular, 0o644, 0, 0);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).expect("entry");
    };
    add(
        "manifest.json",
        &serde_json::to_vec(&manifest).expect("manifest"),
    );
    for (name, data) in files.iter().rev() {
        add(name, data);
    }
    for (name, target) in &links {
        let mut h = header(EntryType::Symlink, 0o777, 0, 0);
        b.append_link(&mut h, name, target).expect("link");
    }
    b.into_inner().expect("archive")
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// An OCI layout as Docker 25+/containerd write it: `index.json` → (platform index →)
/// manifest, gzip layers, the name in `io.containerd.image.name`.
pub fn oci_archive(layers: &[Vec<u8>], config: &[u8], name: Option<&str>, nested: bool) -> Vec<u8> {
    let mut blobs: Vec<Vec<u8>> = vec![config.to_vec()];
    let mut descs = vec![];
    for l in layers {
        let gz = gzip(l);
        descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(&gz).to_string(), "size": gz.len()}));
        blobs.push(gz);
    }
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config).to_string(), "size": config.len()},
        "layers": descs,
    }))
    .expect("manifest");
    blobs.push(manifest.clone());
    let mut top = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(&manifest).to_string(), "size": manifest.len()});
    if nested {
        // A platform index naming a second platform whose manifest is not in the archive.
        let idx = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(b"absent").to_string(), "size": 6, "platform": {"architecture": "arm64", "os": "linux"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(&manifest).to_string(), "size": manifest.len(), "platform": {"architecture": berth_image::spec::host_architecture(), "os": "linux"}},
            ],
        }))
        .expect("index");
        top = json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest(&idx).to_string(), "size": idx.len()});
        blobs.push(idx);
    }
    if let Some(n) = name {
        top["annotations"] = json!({"io.containerd.image.name": n, "org.opencontainers.image.ref.name": n.rsplit(':').next()});
    }
    let index = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [top]})).expect("index");
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = header(EntryType::Regular, 0o644, 0, 0);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).expect("entry");
    };
    add("index.json", &index);
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    for blob in &blobs {
        add(&format!("blobs/sha256/{}", digest(blob).hex()), blob);
    }
    b.into_inner().expect("archive")
}

/// No container uses anything.
pub fn unused(_: &Digest) -> Option<berth_image::Usage> {
    None
}
