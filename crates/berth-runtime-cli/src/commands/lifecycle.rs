//! `create`, `start`, `run`, `kill`, `delete`, `pause`, `resume`.

use super::{absolute, absolute_opt};
use crate::cli::CreateArgs;
use anyhow::{bail, Result};
use berth_runtime::{CreateOptions, ErrorKind, Runtime};
use berth_spec::Status;

fn create_options(args: &CreateArgs) -> Result<CreateOptions> {
    Ok(CreateOptions {
        bundle: absolute(&args.bundle)?,
        pid_file: absolute_opt(args.pid_file.as_ref())?,
        console_socket: absolute_opt(args.console_socket.as_ref())?,
        preserve_fds: args.preserve_fds,
        no_pivot: args.no_pivot,
        no_new_keyring: args.no_new_keyring,
        keep: false,
    })
}

/// Containers are refused up front with `--systemd-cgroup`: berth drives cgroupfs itself,
/// and silently ignoring the flag would put the container where systemd does not expect.
fn check_cgroup_driver(rt: &Runtime) -> Result<()> {
    if rt.systemd_cgroup {
        bail!("systemd cgroup driver is not supported");
    }
    Ok(())
}

/// `create`.
pub fn create(rt: &Runtime, args: &CreateArgs) -> Result<i32> {
    check_cgroup_driver(rt)?;
    rt.create(&args.id, &create_options(args)?)?;
    Ok(0)
}

/// `start`.
pub fn start(rt: &Runtime, id: &str) -> Result<i32> {
    rt.start(id)?;
    Ok(0)
}

/// `run`: the exit status of the container process unless detached.
pub fn run(rt: &Runtime, args: &CreateArgs, detach: bool, keep: bool) -> Result<i32> {
    check_cgroup_driver(rt)?;
    let mut opts = create_options(args)?;
    opts.keep = keep;
    let status = rt.run(&args.id, &opts, detach)?;
    Ok(if detach { 0 } else { status })
}

/// `kill`. A container that is not running is reported with runc's exact words:
/// containerd's shim (`checkKillError`) matches "container not running" in the output to
/// treat the kill as done rather than failed.
pub fn kill(rt: &Runtime, id: &str, signal: i32, all: bool) -> Result<i32> {
    match rt.kill(id, signal, all) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == ErrorKind::Conflict => {
            let msg = e.to_string();
            if msg.contains("container not running") {
                bail!("{msg}")
            }
            bail!("container not running: {msg}")
        }
        Err(e) => Err(e.into()),
    }
}

/// `delete`, with runc's two exceptions to "only stopped containers": with `--force`, a
/// container that does not exist is not an error, and a `created` container is deleted
/// without `--force` (its process never ran the user's program).
pub fn delete(rt: &Runtime, id: &str, force: bool) -> Result<i32> {
    match rt.delete(id, force) {
        Ok(()) => Ok(0),
        Err(e) if force && e.kind() == ErrorKind::NotFound => Ok(0),
        Err(e) if !force && e.kind() == ErrorKind::Conflict => {
            if rt.state(id).is_ok_and(|s| s.status == Status::Created) {
                rt.delete(id, true)?;
                return Ok(0);
            }
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// `pause`.
pub fn pause(rt: &Runtime, id: &str) -> Result<i32> {
    rt.pause(id)?;
    Ok(0)
}

/// `resume`.
pub fn resume(rt: &Runtime, id: &str) -> Result<i32> {
    rt.resume(id)?;
    Ok(0)
}
