//! `events`: container statistics as JSON lines, runc's `{"type":"stats","id":…,"data":…}`.

use super::print;
use crate::logging::Logger;
use anyhow::{bail, Context, Result};
use berth_runtime::{ErrorKind, Runtime};
use berth_spec::Status;
use serde::Serialize;
use std::time::Duration;

/// One event line.
#[derive(Debug, Serialize)]
pub struct Event<'a, T: Serialize> {
    /// Always `stats` here (runc also emits `oom`).
    #[serde(rename = "type")]
    pub kind: &'a str,
    /// Container ID.
    pub id: &'a str,
    /// The statistics.
    pub data: T,
}

fn emit(id: &str, data: berth_cgroups::Stats) -> Result<()> {
    let mut line = serde_json::to_string(&Event {
        kind: "stats",
        id,
        data,
    })
    .context("cannot encode the statistics")?;
    line.push('\n');
    print(&line)
}

/// Whether the container still exists and has not stopped.
fn alive(rt: &Runtime, id: &str) -> Result<bool> {
    match rt.state(id) {
        Ok(s) => Ok(s.status != Status::Stopped),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `events <id>`: once with `--stats`, else every `interval` until the container stops.
pub fn events(
    rt: &Runtime,
    id: &str,
    stats_once: bool,
    interval: Duration,
    log: &mut Logger,
) -> Result<i32> {
    if rt.state(id)?.status == Status::Stopped {
        bail!("container with id {id} is not running");
    }
    if stats_once {
        emit(id, rt.stats(id)?)?;
        return Ok(0);
    }
    loop {
        std::thread::sleep(interval);
        if !alive(rt, id)? {
            return Ok(0);
        }
        // A failed sample is logged and the stream goes on, as runc does.
        match rt.stats(id) {
            Ok(data) => emit(id, data)?,
            Err(e) => log.error(&e.to_string()),
        }
    }
}
