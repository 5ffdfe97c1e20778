//! `exec`: builds the process from `--process` or from the container's own process plus
//! the command-line overrides, exactly as runc's `getProcess` does.

use super::absolute_opt;
use crate::cli::ExecArgs;
use anyhow::{bail, Context, Result};
use berth_runtime::{ExecOptions, Runtime};
use berth_spec::{Capabilities, Process, Status};
use std::path::Path;

/// `exec`: the exit status of the process unless detached.
pub fn exec(rt: &Runtime, args: &ExecArgs) -> Result<i32> {
    let state = rt.state(&args.id)?;
    match state.status {
        Status::Stopped => bail!("cannot exec in a stopped container"),
        Status::Paused if !args.ignore_paused => {
            bail!("cannot exec in a paused container (use --ignore-paused to override)")
        }
        _ => {}
    }
    let process = match &args.process {
        Some(path) => load_process(path)?,
        None => {
            let base = rt.config(&args.id)?.process.unwrap_or_default();
            process_from_args(base, args)
        }
    };
    validate(&process)?;
    let opts = ExecOptions {
        process,
        detach: args.detach,
        pid_file: absolute_opt(args.pid_file.as_ref())?,
        console_socket: absolute_opt(args.console_socket.as_ref())?,
        preserve_fds: args.preserve_fds,
        cgroup: args.cgroup.clone(),
        ignore_paused: args.ignore_paused,
    };
    let status = rt.exec(&args.id, &opts)?;
    Ok(if args.detach { 0 } else { status })
}

fn load_process(path: &Path) -> Result<Process> {
    let data = std::fs::read(path)
        .with_context(|| format!("cannot read process file {}", path.display()))?;
    serde_json::from_slice(&data)
        .with_context(|| format!("invalid process file {}", path.display()))
}

/// The container's process with the command and the overrides of the command line.
pub fn process_from_args(mut p: Process, args: &ExecArgs) -> Process {
    p.args = args.command.clone();
    if let Some(cwd) = &args.cwd {
        p.cwd = cwd.clone();
    }
    if let Some(profile) = &args.apparmor {
        p.apparmor_profile = Some(profile.clone());
    }
    if let Some(label) = &args.process_label {
        p.selinux_label = Some(label.clone());
    }
    if !args.caps.is_empty() {
        let caps = p.capabilities.get_or_insert_with(Capabilities::default);
        // As runc (after CVE-2022-29162): --cap never touches inheritable or ambient.
        for set in [&mut caps.bounding, &mut caps.effective, &mut caps.permitted] {
            let set = set.get_or_insert_with(Vec::new);
            for cap in &args.caps {
                if !set.contains(cap) {
                    set.push(cap.clone());
                }
            }
        }
    }
    for kv in &args.env {
        let key = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
        p.env
            .retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
        p.env.push(kv.clone());
    }
    // As runc: an exec'd process has no terminal unless --tty asks for one.
    p.terminal = args.tty.unwrap_or(false);
    if let Some(nnp) = args.no_new_privs {
        p.no_new_privileges = nnp;
    }
    if let Some((uid, gid)) = args.user {
        p.user.uid = uid;
        if let Some(gid) = gid {
            p.user.gid = gid;
        }
    }
    p.user
        .additional_gids
        .extend(args.additional_gids.iter().copied());
    p
}

/// runc's `validateProcessSpec`, so mistakes are reported before any work is done.
fn validate(p: &Process) -> Result<()> {
    if p.cwd.is_empty() {
        bail!("cwd property must not be empty");
    }
    if !p.cwd.starts_with('/') {
        bail!("cwd must be an absolute path");
    }
    if p.args.is_empty() {
        bail!("args must not be empty");
    }
    Ok(())
}
