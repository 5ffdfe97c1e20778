//! Image formats: OCI and Docker v2 manifests and indexes, the docker-archive
//! `manifest.json`, and the image config (kept as the full JSON, with typed accessors).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::digest::Digest;
use crate::error::{Error, Result};

/// Docker schema 2 manifest.
pub const MEDIA_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const MEDIA_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker image config.
pub const MEDIA_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker gzip layer.
pub const MEDIA_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// OCI manifest.
pub const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI index.
pub const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config.
pub const MEDIA_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI uncompressed layer.
pub const MEDIA_OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// Annotation containerd (and Docker 25+ `save`) put on index entries: the full reference.
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// OCI annotation: the tag (or full reference) of an index entry.
pub const ANNOTATION_OCI_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// A content descriptor (OCI `descriptor`, Docker's is the same shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// What the content is.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: i64,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// For index entries: the platform of the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// Platform of an index entry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Platform {
    /// `amd64`, `arm64`, …
    #[serde(default)]
    pub architecture: String,
    /// `linux`.
    #[serde(default)]
    pub os: String,
    /// `v8`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// OCI image manifest or Docker schema 2 manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`MEDIA_OCI_MANIFEST`] or [`MEDIA_DOCKER_MANIFEST`] (optional in OCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The image config.
    pub config: Descriptor,
    /// Layers, bottom first.
    pub layers: Vec<Descriptor>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// OCI image index or Docker manifest list (also `index.json` of an OCI layout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// [`MEDIA_OCI_INDEX`] or [`MEDIA_DOCKER_LIST`] (optional in OCI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests (or nested indexes).
    pub manifests: Vec<Descriptor>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// Parses a manifest, saying which document was bad.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Manifest> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid(format!("invalid image manifest {what}: {e}")))
    }
}

impl Index {
    /// Parses an index, saying which document was bad.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Index> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid(format!("invalid image index {what}: {e}")))
    }
}

/// True for the media types of an index / manifest list.
pub fn is_index_type(media_type: &str) -> bool {
    media_type == MEDIA_OCI_INDEX || media_type == MEDIA_DOCKER_LIST
}

/// One image of a docker-archive's `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveManifestEntry {
    /// Path of the config inside the archive.
    pub config: String,
    /// References to tag the image with (`busybox:latest`).
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    /// Paths of the uncompressed (or compressed, since Docker 25) layer tars, bottom first.
    pub layers: Vec<String>,
}

/// One `history` entry of an image config.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct History {
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The instruction that made this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Comment (`docker commit -m`, `import --message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when this step made no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// The health check of an image config (durations in nanoseconds, as Docker stores them).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `["NONE"]`, `["CMD", …]` or `["CMD-SHELL", "…"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    /// Between checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    /// Of one check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    /// Grace period after start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<i64>,
    /// Between checks during the start period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<i64>,
    /// Failures before unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
}

/// The `config` object of an image config: what a container of the image runs with.
/// Fields this type does not name are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `user[:group]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `"80/tcp": {}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    /// `KEY=value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// `"/data": {}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Signal that stops the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// ONBUILD triggers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    /// SHELL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    /// Windows-only escaping hint, kept for fidelity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    /// Everything else, kept as-is.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An image config: the full JSON (whose digest is the image ID) with typed accessors.
///
/// The bytes an image was loaded with are kept as they are (the ID is their digest);
/// [`ImageConfig::to_bytes`] is only used for configs made here (import, commit).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageConfig {
    json: Map<String, Value>,
}

impl ImageConfig {
    /// Parses a config document.
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(json)) => Ok(ImageConfig { json }),
            Ok(_) => Err(Error::invalid("invalid image config: not a JSON object")),
            Err(e) => Err(Error::invalid(format!("invalid image config: {e}"))),
        }
    }
    /// A new config for `os`/`architecture` with no layers.
    pub fn new(created: &str) -> ImageConfig {
        let mut json = Map::new();
        json.insert("architecture".into(), Value::from(host_architecture()));
        json.insert("os".into(), Value::from("linux"));
        json.insert("created".into(), Value::from(created));
        json.insert("config".into(), Value::Object(Map::new()));
        json.insert(
            "rootfs".into(),
            serde_json::json!({"type": "layers", "diff_ids": []}),
        );
        json.insert("history".into(), Value::Array(vec![]));
        ImageConfig { json }
    }
    /// Serialized (compact, keys sorted).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.json).unwrap_or_default()
    }
    /// The full document.
    pub fn json(&self) -> &Map<String, Value> {
        &self.json
    }
    fn str_field(&self, key: &str) -> Option<&str> {
        self.json.get(key).and_then(Value::as_str)
    }
    /// `created` (RFC 3339).
    pub fn created(&self) -> Option<&str> {
        self.str_field("created")
    }
    /// `author`.
    pub fn author(&self) -> Option<&str> {
        self.str_field("author")
    }
    /// `architecture`.
    pub fn architecture(&self) -> Option<&str> {
        self.str_field("architecture")
    }
    /// `os`.
    pub fn os(&self) -> Option<&str> {
        self.str_field("os")
    }
    /// `variant`.
    pub fn variant(&self) -> Option<&str> {
        self.str_field("variant")
    }
    /// `docker_version`.
    pub fn docker_version(&self) -> Option<&str> {
        self.str_field("docker_version")
    }
    /// `comment`.
    pub fn comment(&self) -> Option<&str> {
        self.str_field("comment")
    }
    /// `rootfs.diff_ids`, bottom first.
    pub fn diff_ids(&self) -> Result<Vec<Digest>> {
        let Some(ids) = self.json.get("rootfs").and_then(|r| r.get("diff_ids")) else {
            return Ok(vec![]);
        };
        serde_json::from_value(ids.clone())
            .map_err(|e| Error::invalid(format!("invalid image config: rootfs.diff_ids: {e}")))
    }
    /// `history`, oldest first (unparseable entries are skipped).
    pub fn history(&self) -> Vec<History> {
        self.json
            .get("history")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|h| serde_json::from_value(h.clone()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
    /// The `config` object, typed (default when absent or malformed).
    pub fn config(&self) -> ContainerConfig {
        self.json
            .get("config")
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .unwrap_or_default()
    }
    /// Replaces the `config` object.
    pub fn set_config(&mut self, config: &ContainerConfig) {
        let v = serde_json::to_value(config).unwrap_or(Value::Object(Map::new()));
        self.json.insert("config".into(), v);
    }
    /// Sets a top-level string field (`created`, `author`, `comment`, …).
    pub fn set_str(&mut self, key: &str, value: &str) {
        self.json.insert(key.into(), Value::from(value));
    }
    /// Appends a layer to `rootfs.diff_ids` (and a history entry).
    pub fn push_layer(&mut self, diff_id: Option<&Digest>, history: History) {
        if let Some(d) = diff_id {
            let rootfs = self
                .json
                .entry("rootfs")
                .or_insert_with(|| serde_json::json!({"type": "layers", "diff_ids": []}));
            if let Some(obj) = rootfs.as_object_mut() {
                obj.insert("type".into(), Value::from("layers"));
                let ids = obj
                    .entry("diff_ids")
                    .or_insert_with(|| Value::Array(vec![]));
                if let Some(a) = ids.as_array_mut() {
                    a.push(Value::from(d.to_string()));
                }
            }
        }
        let h = serde_json::to_value(history).unwrap_or(Value::Null);
        match self.json.get_mut("history").and_then(Value::as_array_mut) {
            Some(a) => a.push(h),
            None => {
                self.json.insert("history".into(), Value::Array(vec![h]));
            }
        }
    }
    /// Removes `key` at the top level (`container`, `container_config` of a parent).
    pub fn remove(&mut self, key: &str) {
        self.json.remove(key);
    }
}

/// The GOARCH name of the machine this runs on.
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUSYBOX_CONFIG: &str = r#"{"architecture":"amd64","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"],"WorkingDir":"/","ExposedPorts":{"80/tcp":{}},"Labels":{"a":"b"},"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":30000000000},"OnBuild":null,"Shell":["/bin/sh","-c"],"ArgsEscaped":true,"Hostname":"x"},"created":"2024-09-26T21:31:42Z","history":[{"created":"2024-09-26T21:31:42Z","created_by":"ADD file:abc in / "},{"created":"2024-09-26T21:31:42Z","created_by":"CMD [\"sh\"]","empty_layer":true}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]}}"#;

    #[test]
    fn config_accessors() {
        let c = ImageConfig::parse(BUSYBOX_CONFIG.as_bytes()).expect("parse");
        assert_eq!(c.architecture(), Some("amd64"));
        assert_eq!(c.os(), Some("linux"));
        assert_eq!(c.created(), Some("2024-09-26T21:31:42Z"));
        assert_eq!(c.diff_ids().map(|d| d.len()).ok(), Some(1));
        let h = c.history();
        assert_eq!(h.len(), 2);
        assert!(h[1].empty_layer && !h[0].empty_layer);
        let cc = c.config();
        assert_eq!(cc.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(cc.working_dir.as_deref(), Some("/"));
        assert_eq!(cc.args_escaped, Some(true));
        assert_eq!(
            cc.healthcheck.and_then(|h| h.interval),
            Some(30_000_000_000)
        );
        assert!(cc.exposed_ports.is_some_and(|p| p.contains_key("80/tcp")));
        assert_eq!(cc.extra.get("Hostname"), Some(&Value::from("x")));
    }

    #[test]
    fn bad_config_says_why() {
        let e = ImageConfig::parse(b"[1]").err().map(|e| e.message);
        assert_eq!(
            e.as_deref(),
            Some("invalid image config: not a JSON object")
        );
        let c = ImageConfig::parse(br#"{"rootfs":{"diff_ids":["nope"]}}"#).expect("object");
        assert!(c.diff_ids().is_err());
    }

    #[test]
    fn manifests_and_indexes_parse() {
        let m = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":2},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":3}]}"#;
        let m = Manifest::parse(m.as_bytes(), "m").expect("manifest");
        assert_eq!(m.layers.len(), 1);
        assert_eq!(m.media_type.as_deref(), Some(MEDIA_DOCKER_MANIFEST));
        let i = r#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":1,"annotations":{"io.containerd.image.name":"docker.io/library/busybox:latest","org.opencontainers.image.ref.name":"latest"},"platform":{"architecture":"amd64","os":"linux"}}]}"#;
        let i = Index::parse(i.as_bytes(), "index.json").expect("index");
        assert_eq!(
            i.manifests[0]
                .annotations
                .get(ANNOTATION_CONTAINERD_NAME)
                .map(String::as_str),
            Some("docker.io/library/busybox:latest")
        );
        assert!(Manifest::parse(b"{}", "x")
            .is_err_and(|e| e.message.contains("invalid image manifest x")));
    }
}
