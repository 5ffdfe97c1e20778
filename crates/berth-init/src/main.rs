//! berth-init: PID 1 for `docker run --init` (what tini is for Docker).
//!
//! `berth-init [--] COMMAND [ARG...]` runs the command as its only direct child in its own
//! process group (made the terminal's foreground group when stdin is a terminal), then:
//! - forwards every signal it receives to that child (SIGTERM, SIGINT, SIGHUP, SIGQUIT,
//!   SIGUSR1/2, SIGWINCH, …; SIGCHLD is its own; SIGKILL/SIGSTOP cannot be caught);
//! - reaps every process that ends under it: as PID 1 orphans are reparented to it, and
//!   elsewhere it is a child subreaper, so the same holds in tests;
//! - exits with the child's exit status, or 128 + signal when the child was killed.
//!
//! It is bind-mounted into containers that may have no libc, so it is built static (see
//! scripts/setup.sh). Signals are blocked (once the child runs) and read from a signalfd: a PID 1 drops signals
//! whose disposition is the default, but blocked ones stay pending and are read.
//!
//! Invariant: single-threaded, no allocation after start beyond std's spawn.

use std::os::unix::process::CommandExt;
use std::process::Command;

fn main() {
    std::process::exit(run());
}

fn usage() -> i32 {
    eprintln!("usage: berth-init [--] COMMAND [ARG...]");
    2
}

fn run() -> i32 {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == "--") {
        args.remove(0);
    }
    let Some((prog, rest)) = args.split_first() else {
        return usage();
    };
    if prog == "-h" || prog == "--help" {
        usage();
        return 0;
    }
    if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
        eprintln!("berth-init: cannot become a child subreaper: {e}");
    }
    // The child is started before signals are blocked here: std's spawn (posix_spawn
    // with a process group) keeps the parent's mask, and a child with every signal blocked
    // would never die of the signals forwarded to it.
    let child = match Command::new(prog).args(rest).process_group(0).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("berth-init: cannot run {}: {e}", prog.to_string_lossy());
            // Docker's conventions for "not found" and "cannot run".
            return if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
        }
    };
    let pid = child.id() as i32;
    let (_mask, sigfd) = match berth_sys::signals::block_all() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("berth-init: cannot block signals: {e}");
            return 1;
        }
    };
    // A child that ended before the mask was set sent its SIGCHLD to the default (ignored)
    // disposition: look for it once before waiting on the signalfd.
    if let Some(code) = reap(pid) {
        return code;
    }
    // The child reads the terminal as the foreground group (tini's isolate_child); SIGTTOU
    // is blocked here, so tcsetpgrp cannot stop us.
    let stdin = rustix::stdio::stdin();
    if rustix::termios::isatty(stdin) {
        if let Some(p) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::termios::tcsetpgrp(stdin, p);
        }
    }
    loop {
        let sig = match berth_sys::signals::read_signal(std::os::fd::AsFd::as_fd(&sigfd)) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("berth-init: reading signals: {e}");
                return 1;
            }
        };
        if sig != rustix::process::Signal::CHILD.as_raw() {
            // The child may have just exited; ESRCH is fine.
            let _ = berth_sys::proc::kill(pid, sig);
            continue;
        }
        if let Some(code) = reap(pid) {
            return code;
        }
    }
}

/// Reaps every ended child; returns the exit code once `child` is among them.
fn reap(child: i32) -> Option<i32> {
    let mut result = None;
    loop {
        match rustix::process::wait(rustix::process::WaitOptions::NOHANG) {
            Ok(Some((pid, status))) => {
                if pid.as_raw_nonzero().get() == child {
                    result = Some(match (status.exit_status(), status.terminating_signal()) {
                        (Some(c), _) => c,
                        (None, Some(s)) => 128 + s,
                        _ => 255,
                    });
                }
            }
            Ok(None) | Err(rustix::io::Errno::CHILD) => return result,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                eprintln!("berth-init: wait: {e}");
                return result;
            }
        }
    }
}
