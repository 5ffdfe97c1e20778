//! The engine's side of a container's `berth-shim` is `berth_shim::client` (launch, then
//! a `ShimClient` per state directory); this adds only what the engine wants on top: its
//! errors as the engine's, the PID of a launch, a missing or unreadable exit record as
//! none.

use std::path::Path;

use berth_model::Error;
use berth_shim::client::{self, LaunchOptions};
use berth_shim::protocol::{read_exit_file, ExitInfo};

/// A shim client error as the engine's: internal, with the shim's message (for a refused
/// op, the runtime's error line) or the failing step and the OS error.
pub fn err(e: client::Error) -> Error {
    Error::internal(e.to_string())
}

/// Starts a shim for a container and returns the init's host PID once it runs (or, with
/// `wait_start`, once it is created).
pub async fn launch(shim: &Path, opts: &LaunchOptions) -> Result<i32, Error> {
    client::launch(shim, opts).await.map(|l| l.pid).map_err(err)
}

/// The exit record a shim left, if any (none when unreadable).
pub fn exit_file(dir: &Path) -> Option<ExitInfo> {
    read_exit_file(dir).ok().flatten()
}
