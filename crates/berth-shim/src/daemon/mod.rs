//! The shim daemon: detach, create the container, report, serve.
//!
//! Invariants: single-threaded (it forks); every descriptor it opens is close-on-exec, so
//! only the stdio it hands to `berth-runtime` reaches the container; all signals are
//! blocked and read from a signalfd (SIGTERM/SIGINT/SIGHUP do not stop a shim: its
//! container must outlive whoever sent them), and children start with a clean mask
//! because `std::process::Command` resets it.

mod args;
mod conn;
mod fdio;
mod logfile;
mod ops;
mod procio;
mod runtime;
mod server;

use args::{Args, Parsed};
use berth_shim::protocol::{self, Ready};
use procio::ProcIo;
use runtime::{read_pid, Runtime, Stdio3};
use server::Shim;
use std::io::Write;
use std::os::unix::net::UnixListener;

/// Read size for every stream (Docker copies with 32 KiB buffers).
const BUF: usize = 32 * 1024;
const INIT_PID_FILE: &str = "init.pid";
const CONSOLE_SOCK: &str = "console.sock";
/// The shim's own diagnostics (stderr), in the state directory.
const SHIM_LOG: &str = "shim.log";

/// The program: returns the exit status.
pub fn main() -> i32 {
    let mut argv = Vec::new();
    for a in std::env::args_os().skip(1) {
        match a.into_string() {
            Ok(s) => argv.push(s),
            Err(a) => {
                report(&Ready::Err {
                    error: format!("argument {a:?} is not UTF-8"),
                });
                return 2;
            }
        }
    }
    let args = match args::parse(&argv) {
        Ok(Parsed::Run(a)) => a,
        Ok(Parsed::Help) => {
            println!("{}", args::USAGE);
            return 0;
        }
        Err(e) => {
            report(&Ready::Err {
                error: format!("{e}\n{}", args::USAGE),
            });
            return 2;
        }
    };
    match detach() {
        Ok(Some(code)) => return code,
        Ok(None) => {}
        Err(e) => {
            report(&Ready::Err {
                error: format!("cannot detach: {e}"),
            });
            return 1;
        }
    }
    match launch(*args) {
        Ok(shim) => {
            report(&Ready::Ok {
                pid: shim.init_pid,
                shim_pid: std::process::id() as i32,
            });
            // The launcher returns once it read the line; nothing else goes there.
            if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
                let _ = rustix::stdio::dup2_stdout(&null);
            }
            // Start-up code (argument parsing, cgroup discovery, spawning the runtime) is
            // not needed again: let its pages go, the loop faults back what it uses.
            let _ = berth_sys::proc::drop_text_pages();
            shim.run()
        }
        Err(error) => {
            eprintln!("berth-shim: {error}");
            report(&Ready::Err { error });
            1
        }
    }
}

/// Writes the launch report line on stdout.
fn report(r: &Ready) {
    let mut line = serde_json::to_vec(r).unwrap_or_else(|_| b"{\"error\":\"?\"}".to_vec());
    line.push(b'\n');
    let mut out = std::io::stdout().lock();
    // The launcher may be gone (killed); the container runs on regardless.
    let _ = out.write_all(&line).and_then(|()| out.flush());
}

/// Double fork with a new session in between: the launcher's child returns at once (it
/// exits with the intermediate's status), and the daemon, orphaned, is adopted by init
/// or the nearest subreaper, outside the launcher's session and process group. Returns
/// `Some(status)` in the launcher's child, `None` in the daemon.
fn detach() -> std::io::Result<Option<i32>> {
    if let Some(child) = berth_sys::ns::clone_fork(0)? {
        let pid = rustix::process::Pid::from_raw(child);
        let status = rustix::process::waitpid(pid, rustix::process::WaitOptions::empty())?;
        return Ok(Some(status.map(|(_, s)| server::exit_code(s)).unwrap_or(1)));
    }
    // In the child: a new session (it is not a group leader, so setsid cannot fail with
    // EPERM), then a second fork so the daemon is not a session leader and can never
    // acquire a controlling terminal.
    if let Err(e) = rustix::process::setsid() {
        report(&Ready::Err {
            error: format!("setsid: {e}"),
        });
        std::process::exit(1);
    }
    match berth_sys::ns::clone_fork(0) {
        Ok(Some(_)) => std::process::exit(0),
        Ok(None) => Ok(None),
        Err(e) => {
            report(&Ready::Err {
                error: format!("fork: {e}"),
            });
            std::process::exit(1);
        }
    }
}

/// Sets up the daemon and creates (and starts) the container.
fn launch(args: Args) -> Result<Shim, String> {
    close_inherited_fds();
    let state = args.state_dir.clone();
    std::fs::create_dir_all(&state)
        .and_then(|()| std::env::set_current_dir(&state))
        .map_err(|e| format!("cannot use state directory {}: {e}", state.display()))?;
    // A restarted container reuses its state directory: the last run's exit is history.
    let _ = std::fs::remove_file(protocol::EXIT_FILE);
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("cannot open /dev/null: {e}"))?;
    let _ = rustix::stdio::dup2_stdin(&null);
    if let Ok(f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(SHIM_LOG)
    {
        let _ = rustix::stdio::dup2_stderr(&f);
    }
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(|e| format!("cannot become a child subreaper: {e}"))?;
    let (_mask, sig) =
        berth_sys::signals::block_all().map_err(|e| format!("cannot block signals: {e}"))?;
    fdio::set_nonblocking(&sig).map_err(|e| format!("signalfd: {e}"))?;

    let cgroup = match cgroups_path(&args.bundle) {
        Ok(path) => berth_cgroups::Cgroup::open(path.as_deref(), &args.id)
            .map_err(|e| eprintln!("berth-shim: cgroup of {}: {e} (no OOM report)", args.id))
            .ok(),
        Err(e) => return Err(e),
    };
    let log = logfile::JsonLog::open(&args.log_path, args.log_max_size, args.log_max_file)
        .map_err(|e| format!("cannot open log file {}: {e}", args.log_path.display()))?;
    let rt = Runtime::new(&args.runtime, &args.runtime_root, &args.id);

    let sys = |what: &str, e: std::io::Error| format!("cannot {what}: {e}");
    let mut io = ProcIo::default();
    let mut console = None;
    let stdio = if args.tty {
        let _ = std::fs::remove_file(CONSOLE_SOCK);
        console = Some(UnixListener::bind(CONSOLE_SOCK).map_err(|e| sys("bind console.sock", e))?);
        Stdio3::quiet().map_err(|e| sys("make a pipe", e))?
    } else {
        Stdio3::pipes(args.stdin, &mut io).map_err(|(what, e)| sys(what, e))?
    };
    let created = rt.create(
        &args.bundle,
        INIT_PID_FILE,
        console.as_ref().map(|_| CONSOLE_SOCK),
        stdio,
    );
    let pid = created.and_then(|()| read_pid(INIT_PID_FILE));
    let _ = std::fs::remove_file(INIT_PID_FILE);
    let pid = pid.inspect_err(|_| {
        let _ = std::fs::remove_file(CONSOLE_SOCK);
    })?;
    let undo = |e: String| {
        if let Err(d) = rt.delete() {
            eprintln!("berth-shim: delete {} after a failed start: {d}", args.id);
        }
        e
    };
    if let Some(l) = console {
        let pty = fdio::recv_pty(&l).map_err(|e| sys("receive the pty master", e));
        drop(l);
        let _ = std::fs::remove_file(CONSOLE_SOCK);
        io.pty = Some(pty.map_err(undo)?);
    }
    let mut started = false;
    if !args.wait_start {
        rt.start().map_err(undo)?;
        started = true;
    }
    fdio::write_atomic(
        std::path::Path::new(protocol::SHIM_PID),
        std::process::id().to_string().as_bytes(),
    )
    .map_err(|e| undo(sys("write shim.pid", e)))?;
    let _ = std::fs::remove_file(protocol::SHIM_SOCK);
    let listener = UnixListener::bind(protocol::SHIM_SOCK)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| undo(sys("bind shim.sock", e)))?;
    Ok(Shim {
        args,
        rt,
        sig,
        listener: Some(listener),
        init_pid: pid,
        started,
        io,
        log,
        cgroup,
        conns: Vec::new(),
        execs: Vec::new(),
        finished: Default::default(),
        unclaimed: Default::default(),
        reaped: None,
        exit: None,
        stdin_once_used: false,
        deadline: None,
        next_conn: 0,
        buf: vec![0; BUF],
    })
}

/// Closes every descriptor above stderr the launcher let us inherit: a daemon that keeps
/// the launcher's pipes open would make whoever reads them wait for the container's end.
fn close_inherited_fds() {
    let fds: Vec<i32> = match std::fs::read_dir("/proc/self/fd") {
        Ok(rd) => rd
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .filter(|fd| *fd > 2)
            .collect(),
        Err(_) => return,
    };
    // The directory's own descriptor is closed by now; closing its stale number fails
    // harmlessly with EBADF. Nothing in this process owns the others yet.
    for fd in fds {
        berth_sys::proc::close_inherited(fd);
    }
}

/// `linux.cgroupsPath` of the bundle's `config.json` (where the OOM counter lives).
fn cgroups_path(bundle: &std::path::Path) -> Result<Option<String>, String> {
    #[derive(serde::Deserialize)]
    struct Config {
        linux: Option<Linux>,
    }
    #[derive(serde::Deserialize)]
    struct Linux {
        #[serde(rename = "cgroupsPath")]
        cgroups_path: Option<String>,
    }
    let path = bundle.join("config.json");
    let text = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let cfg: Config =
        serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(cfg.linux.and_then(|l| l.cgroups_path))
}
