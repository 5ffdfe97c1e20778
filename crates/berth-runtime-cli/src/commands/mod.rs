//! The subcommands: each maps one parsed [`Command`] onto [`berth_runtime::Runtime`] and
//! prints what runc prints.
//!
//! Every function returns the process exit status (`run` and `exec` pass on the
//! container process's status) or an error that [`crate::run`] reports once.

mod events;
mod exec;
pub(crate) mod info;
mod lifecycle;
mod update;

use crate::cli::{Command, GlobalOptions};
use crate::help;
use crate::logging::Logger;
use anyhow::{bail, Context, Result};
use berth_runtime::Runtime;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use exec::process_from_args as exec_process_from_args;
pub use update::{parse_resources, unchanged_as_none};

/// Runs `command` and returns the exit status.
pub fn dispatch(global: &GlobalOptions, command: Command, log: &mut Logger) -> Result<i32> {
    let rt = Runtime {
        root: absolute(&global.root)?,
        systemd_cgroup: global.systemd_cgroup,
    };
    match command {
        Command::Create(args) => lifecycle::create(&rt, &args),
        Command::Start(id) => lifecycle::start(&rt, &id),
        Command::Run {
            create,
            detach,
            keep,
        } => lifecycle::run(&rt, &create, detach, keep),
        Command::State(id) => info::state(&rt, &id),
        Command::Kill { id, signal, all } => lifecycle::kill(&rt, &id, signal, all),
        Command::Delete { id, force } => lifecycle::delete(&rt, &id, force),
        Command::Exec(args) => exec::exec(&rt, &args),
        Command::List { format, quiet } => info::list(&rt, format, quiet),
        Command::Ps {
            id,
            format,
            ps_args,
        } => info::ps(&rt, &id, format, &ps_args),
        Command::Pause(id) => lifecycle::pause(&rt, &id),
        Command::Resume(id) => lifecycle::resume(&rt, &id),
        Command::Update { id, source } => update::update(&rt, &id, &source),
        Command::Spec { bundle, rootless } => info::spec(&bundle, rootless),
        Command::Features => info::features(),
        Command::Events {
            id,
            stats_once,
            interval,
        } => events::events(&rt, &id, stats_once, interval, log),
        Command::Unsupported(name) => {
            bail!("{name} is not supported by berth-runtime (no CRIU support)")
        }
        Command::Help(topic) => {
            print(&help::help(topic))?;
            Ok(0)
        }
        Command::Version => {
            print(&help::version())?;
            Ok(0)
        }
    }
}

/// Writes `s` to stdout in one go.
fn print(s: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(s.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write to stdout")
}

/// `p` relative to the current directory, as runc's `filepath.Abs` (symlinks kept).
fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("cannot resolve path {}", p.display()))
}

fn absolute_opt(p: Option<&PathBuf>) -> Result<Option<PathBuf>> {
    p.map(|p| absolute(p)).transpose()
}
