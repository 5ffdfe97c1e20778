//! berth-runtime-cli: the `berth-runtime` command line, runc 1.1-compatible, over the
//! [`berth_runtime`] library.
//!
//! containerd (go-runc), Docker (`--add-runtime`), Podman/conmon and the OCI
//! runtime-tools suite drive it exactly as they drive runc: same global options, same
//! subcommands and flags, same output formats (`state` JSON, `list` table, `ps`), same
//! error reporting (one line on stderr plus a logrus-shaped line in the `--log` file).
//!
//! Layout: [`args`] is the urfave-compatible option parser, [`cli`] the command table and
//! typed arguments, [`units`] Go value syntaxes (signals, sizes, durations), [`logging`]
//! the `--log` writer, `commands` the subcommands. [`run`] is the whole program.
//!
//! Invariants: parsing does no I/O; the process stays single-threaded (the runtime forks);
//! stdout carries only the command's output and stderr stays empty on success, because
//! callers parse combined output as JSON.

pub mod args;
pub mod cli;
mod commands;
pub mod help;
pub mod logging;
pub mod units;

pub use commands::info::{filter_ps, rootfs_path, table};
pub use commands::{exec_process_from_args, parse_resources, unchanged_as_none};

use logging::Logger;

/// Runs the program on `args` (without `argv[0]`) and returns the exit status.
pub fn run(args: &[String]) -> i32 {
    let global = match cli::parse_global(args) {
        Ok(g) => g,
        Err(e) => {
            Logger::default().error(&e.to_string());
            return 1;
        }
    };
    let opts = &global.options;
    let mut log = match Logger::open(opts.log.as_deref(), opts.log_format, opts.debug) {
        Ok(l) => l,
        Err(e) => {
            let path = opts
                .log
                .as_deref()
                .unwrap_or(std::path::Path::new(""))
                .display();
            Logger::default().error(&format!("cannot open log file {path}: {e}"));
            return 1;
        }
    };
    let command = match global.command() {
        Ok(c) => c,
        Err(e) => {
            log.error(&e.to_string());
            return 1;
        }
    };
    log.debug(&format!("{} {}", logging::PROG, args.join(" ")));
    match commands::dispatch(opts, command, &mut log) {
        Ok(status) => status,
        Err(e) => {
            log.error(&message(&e));
            1
        }
    }
}

/// The error and its causes on one line, each cause once: library errors already print
/// their source in their own message, added context does not.
fn message(err: &anyhow::Error) -> String {
    let mut msg = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
    }
    msg
}
