//! Running lifecycle hooks (runtime-spec config.md "POSIX-platform Hooks").
//!
//! A hook gets the container state JSON on stdin; a non-zero exit or running past its
//! timeout is a failure, which aborts creation for the create-time hooks and is only
//! logged for poststart and poststop.

use crate::{Error, Result};
use berth_spec::Hook;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `hooks` in order; `kind` names them in errors (`createRuntime`).
pub fn run(hooks: &[Hook], kind: &str, state: &str) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run_one(h, state)
            .map_err(|e| Error::Container(format!("{kind} hook #{i} ({}): {e}", h.path)))?;
    }
    Ok(())
}

fn run_one(h: &Hook, state: &str) -> std::result::Result<(), String> {
    let mut cmd = Command::new(&h.path);
    if let Some((arg0, rest)) = h.args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    for kv in &h.env {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot start: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that exits without reading its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = h
        .timeout
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let mut sleep = Duration::from_micros(200);
    loop {
        match child.try_wait() {
            Ok(Some(st)) if st.success() => return Ok(()),
            Ok(Some(st)) => return Err(format!("exited with {st}")),
            Ok(None) => {}
            Err(e) => return Err(format!("waiting: {e}")),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "timed out after {}s",
                h.timeout.unwrap_or_default()
            ));
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_millis(20));
    }
}
