//! `update`: new resources from a JSON file, stdin or individual flags.

use crate::cli::ResourcesSource;
use anyhow::{Context, Result};
use berth_runtime::Runtime;
use berth_spec::{BlockIo, Cpu, Memory, Resources};
use std::io::Read;

/// `update <id>`.
pub fn update(rt: &Runtime, id: &str, source: &ResourcesSource) -> Result<i32> {
    let resources = match source {
        ResourcesSource::Flags(r) => unchanged_as_none((**r).clone()),
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
            unchanged_as_none(parse_resources(&data, path)?)
        }
    };
    rt.update(id, &resources)?;
    Ok(0)
}

/// Parses a `LinuxResources` document (`-` names stdin in errors).
pub fn parse_resources(data: &[u8], origin: &str) -> Result<Resources> {
    let origin = if origin == "-" { "<stdin>" } else { origin };
    serde_json::from_slice(data).with_context(|| format!("invalid resources in {origin}"))
}

/// Applies runc's `update` reading of a resources document: a zero (or empty CPU list)
/// means "leave unchanged", not "set to zero". runc pre-fills the document with zeros and
/// libcontainer skips zero values, and callers rely on it: containerd and Podman send the
/// whole `LinuxResources` with zeros in the fields they do not change.
pub fn unchanged_as_none(mut r: Resources) -> Resources {
    fn nz<T: Default + PartialEq>(v: &mut Option<T>) {
        if v.as_ref().is_some_and(|x| *x == T::default()) {
            *v = None;
        }
    }
    if let Some(m) = r.memory.as_mut() {
        nz(&mut m.limit);
        nz(&mut m.reservation);
        nz(&mut m.swap);
        nz(&mut m.kernel);
        nz(&mut m.kernel_tcp);
    }
    if r.memory.as_ref().is_some_and(|m| *m == Memory::default()) {
        r.memory = None;
    }
    if let Some(c) = r.cpu.as_mut() {
        nz(&mut c.shares);
        nz(&mut c.quota);
        nz(&mut c.period);
        nz(&mut c.realtime_runtime);
        nz(&mut c.realtime_period);
        nz(&mut c.cpus);
        nz(&mut c.mems);
    }
    if r.cpu.as_ref().is_some_and(|c| *c == Cpu::default()) {
        r.cpu = None;
    }
    if let Some(b) = r.block_io.as_mut() {
        nz(&mut b.weight);
    }
    if r.block_io
        .as_ref()
        .is_some_and(|b| *b == BlockIo::default())
    {
        r.block_io = None;
    }
    if r.pids.as_ref().is_some_and(|p| p.limit == 0) {
        r.pids = None;
    }
    r
}
