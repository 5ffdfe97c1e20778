//! `state`, `list`, `ps`, `spec`, `features`: the read-only commands and their output
//! formats, byte-compatible with runc's where callers parse them.

use super::{absolute, print};
use crate::cli::Format;
use anyhow::{bail, Context, Result};
use berth_runtime::{ContainerInfo, Runtime};
use berth_spec::{State, OCI_VERSION};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::Path;

/// Go's zero `time.Time`: what a missing creation time must look like, because go-runc
/// decodes `created` into a `time.Time` and fails on anything else.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// runc's `cState` / `containerState`: the state plus rootfs, created and owner.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    /// Spec version of the container's config.
    pub oci_version: String,
    /// Container ID.
    pub id: String,
    /// Host PID of the init, 0 when stopped.
    pub pid: i32,
    /// Status name.
    pub status: String,
    /// Bundle directory.
    pub bundle: String,
    /// Absolute path of the root filesystem.
    pub rootfs: String,
    /// Creation time, RFC 3339.
    pub created: String,
    /// The config's annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Owner of the container.
    pub owner: String,
}

/// The config's spec version and absolute rootfs, best effort: the state is still worth
/// printing when the stored config cannot be read.
fn config_facts(rt: &Runtime, id: &str, bundle: &str) -> (String, String) {
    match rt.config(id) {
        Ok(spec) => {
            let rootfs = spec
                .root
                .map(|r| rootfs_path(bundle, &r.path))
                .unwrap_or_default();
            let version = if spec.oci_version.is_empty() {
                OCI_VERSION.to_string()
            } else {
                spec.oci_version
            };
            (version, rootfs)
        }
        Err(_) => (OCI_VERSION.to_string(), String::new()),
    }
}

/// `root.path` made absolute against the bundle.
pub fn rootfs_path(bundle: &str, root: &str) -> String {
    if root.starts_with('/') {
        root.to_string()
    } else {
        Path::new(bundle).join(root).display().to_string()
    }
}

/// The `state` document from the library's state and listing.
pub fn container_state(
    state: State,
    info: Option<&ContainerInfo>,
    oci_version: String,
    rootfs: String,
) -> ContainerState {
    ContainerState {
        oci_version,
        id: state.id,
        pid: state.pid,
        status: state.status.as_str().to_string(),
        bundle: state.bundle,
        rootfs,
        created: info
            .map(|i| i.created.clone())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| ZERO_TIME.to_string()),
        annotations: state.annotations,
        owner: info.map(|i| i.owner.clone()).unwrap_or_default(),
    }
}

/// `state <id>`: pretty JSON (two-space indent) as runc prints it.
pub fn state(rt: &Runtime, id: &str) -> Result<i32> {
    let state = rt.state(id)?;
    // The library's state has no creation time or owner; the container's info has both.
    let info = rt.info(id).ok();
    let info = info.as_ref();
    let (version, rootfs) = config_facts(rt, id, &state.bundle);
    let out = container_state(state, info, version, rootfs);
    let mut text = serde_json::to_string_pretty(&out).context("cannot encode the state")?;
    text.push('\n');
    print(&text)?;
    Ok(0)
}

/// `list`.
pub fn list(rt: &Runtime, format: Format, quiet: bool) -> Result<i32> {
    let infos = rt.list()?;
    if quiet {
        let text: String = infos.iter().map(|c| format!("{}\n", c.id)).collect();
        print(&text)?;
        return Ok(0);
    }
    match format {
        Format::Table => {
            let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                .map(str::to_string)
                .to_vec()];
            for c in &infos {
                rows.push(vec![
                    c.id.clone(),
                    c.pid.to_string(),
                    c.status.as_str().to_string(),
                    c.bundle.clone(),
                    c.created.clone(),
                    c.owner.clone(),
                ]);
            }
            print(&table(&rows))?;
        }
        Format::Json => {
            let states: Vec<ContainerState> = infos
                .into_iter()
                .map(|c| {
                    let (oci_version, rootfs) = config_facts(rt, &c.id, &c.bundle);
                    ContainerState {
                        oci_version,
                        id: c.id,
                        pid: c.pid,
                        status: c.status.as_str().to_string(),
                        bundle: c.bundle,
                        rootfs,
                        created: if c.created.is_empty() {
                            ZERO_TIME.to_string()
                        } else {
                            c.created
                        },
                        annotations: c.annotations,
                        owner: c.owner,
                    }
                })
                .collect();
            let mut text = serde_json::to_string(&states).context("cannot encode the list")?;
            text.push('\n');
            print(&text)?;
        }
    }
    Ok(0)
}

/// Aligns cells like Go's `tabwriter.NewWriter(w, 12, 1, 3, ' ', 0)` as runc's `list`
/// uses it: every column but the last is padded to max(12, widest cell + 3).
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns.saturating_sub(1))
        .map(|col| {
            let widest = rows
                .iter()
                .filter_map(|r| r.get(col))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0);
            (widest + 3).max(12)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        for (col, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if let Some(w) = widths.get(col).filter(|_| col + 1 < row.len()) {
                out.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}

/// `ps`: JSON array of host PIDs, or ps(1)'s output filtered to the container's PIDs.
pub fn ps(rt: &Runtime, id: &str, format: Format, ps_args: &[String]) -> Result<i32> {
    let pids = rt.ps(id)?;
    if format == Format::Json {
        let mut text = serde_json::to_string(&pids).context("cannot encode the PIDs")?;
        text.push('\n');
        print(&text)?;
        return Ok(0);
    }
    let default_args = ["-ef".to_string()];
    let args = if ps_args.is_empty() {
        &default_args[..]
    } else {
        ps_args
    };
    let out = std::process::Command::new("ps")
        .args(args)
        .output()
        .context("cannot run ps")?;
    let mut combined = String::from_utf8_lossy(&out.stdout).into_owned();
    combined.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("ps {}: {}: {}", args.join(" "), out.status, combined.trim());
    }
    print(&filter_ps(&String::from_utf8_lossy(&out.stdout), &pids)?)?;
    Ok(0)
}

/// ps(1)'s header plus the lines whose PID column holds one of `pids`.
pub fn filter_ps(output: &str, pids: &[i32]) -> Result<String> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or_default();
    let Some(pid_col) = header.split_whitespace().position(|f| f == "PID") else {
        bail!("couldn't find PID field in ps output");
    };
    let mut out = format!("{header}\n");
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let field = line.split_whitespace().nth(pid_col).unwrap_or_default();
        let pid: i32 = field
            .parse()
            .with_context(|| format!("unable to parse pid from ps line {line:?}"))?;
        if pids.contains(&pid) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

/// `spec`: writes `config.json` into the bundle, never over an existing one.
pub fn spec(bundle: &Path, rootless: bool) -> Result<i32> {
    let dir = absolute(bundle)?;
    if !dir.is_dir() {
        bail!("bundle {} is not a directory", dir.display());
    }
    let path = dir.join("config.json");
    let spec = berth_runtime::default_spec(rootless);
    let mut text = tab_indented(&spec).context("cannot encode the default spec")?;
    text.push('\n');
    let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            bail!("File {} exists. Remove it first", path.display())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    };
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(0)
}

/// runc writes `config.json` with a tab indent.
fn tab_indented<T: Serialize>(value: &T) -> serde_json::Result<String> {
    indented(value, b"\t")
}

fn indented<T: Serialize>(value: &T, indent: &[u8]) -> serde_json::Result<String> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    value.serialize(&mut ser)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// `features`: the features document, four-space indented like runc's.
pub fn features() -> Result<i32> {
    let mut text =
        indented(&berth_runtime::features(), b"    ").context("cannot encode the features")?;
    text.push('\n');
    print(&text)?;
    Ok(0)
}
