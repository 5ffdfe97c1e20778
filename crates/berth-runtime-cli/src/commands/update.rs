//! `update`: new resources from a JSON file, stdin or individual flags.

use crate::cli::ResourcesSource;
use crate::logging::Logger;
use anyhow::{Context, Result};
use berth_runtime::Runtime;
use berth_spec::Resources;
use std::io::Read;

/// `update <id>`.
pub fn update(rt: &Runtime, id: &str, source: &ResourcesSource, log: &mut Logger) -> Result<i32> {
    let resources = match source {
        ResourcesSource::Flags(r) => (**r).clone(),
        ResourcesSource::File(path) => {
            let mut data = Vec::new();
            if path == "-" {
                std::io::stdin()
                    .read_to_end(&mut data)
                    .context("cannot read resources from stdin")?;
            } else {
                data = std::fs::read(path)
                    .with_context(|| format!("cannot read resources file {path}"))?;
            }
            parse_resources(&data, path)?
        }
    };
    if let Some(mem) = &resources.memory {
        if mem.kernel.is_some_and(|k| k != 0) || mem.kernel_tcp.is_some_and(|k| k != 0) {
            log.warn("kernel memory settings are ignored by recent kernels");
        }
    }
    rt.update(id, &resources)?;
    Ok(0)
}

/// Parses a `LinuxResources` document (`-` names stdin in errors).
pub fn parse_resources(data: &[u8], origin: &str) -> Result<Resources> {
    let origin = if origin == "-" { "<stdin>" } else { origin };
    serde_json::from_slice(data).with_context(|| format!("invalid resources in {origin}"))
}
