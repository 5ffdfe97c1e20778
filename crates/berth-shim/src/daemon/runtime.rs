//! Running `berth-runtime` (runc's command line) as a child and waiting for it.
//!
//! Every call is synchronous: the shim's loop never runs while a runtime command is
//! outstanding, so its `waitpid(-1)` cannot reap a runtime process that `Child::wait` is
//! about to collect. The runtime prints one error line on stderr when it fails; that line
//! (without the `berth-runtime: error:` prefix) becomes the shim's error message.

use super::fdio;
use super::procio::ProcIo;
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The runtime binary and the container it manages.
pub struct Runtime {
    bin: PathBuf,
    root: PathBuf,
    /// The container ID.
    pub id: String,
}

/// Standard descriptors for a runtime command whose process keeps them (create, exec):
/// the container's pipes (or null), and where the runtime's own error line can be read.
pub struct Stdio3 {
    /// stdin of the command.
    pub stdin: Stdio,
    /// stdout of the command.
    pub stdout: Stdio,
    /// stderr of the command (may be the container's stderr pipe).
    pub stderr: Stdio,
    /// The read end that receives the command's stderr, for its error message.
    pub err_read: OwnedFd,
}

impl Stdio3 {
    /// Null stdio with a private pipe on stderr.
    pub fn quiet() -> std::io::Result<Stdio3> {
        let (r, w) = fdio::pipe()?;
        fdio::set_nonblocking(&r)?;
        Ok(Stdio3 {
            stdin: Stdio::null(),
            stdout: Stdio::null(),
            stderr: Stdio::from(w),
            err_read: r,
        })
    }

    /// Pipes for a process without a terminal (the init, or an attached exec): stdout
    /// and stderr, whose read ends go to `io` (non-blocking; stderr's is duplicated as
    /// `err_read`, since the runtime's error line arrives there too), and with `stdin` a
    /// stdin pipe whose write end goes to `io` (non-blocking); else stdin is null. On
    /// failure: what failed (`make a pipe`, `set O_NONBLOCK`, `dup`) and the error.
    pub fn pipes(stdin: bool, io: &mut ProcIo) -> Result<Stdio3, (&'static str, std::io::Error)> {
        let (out_r, out_w) = fdio::pipe().map_err(|e| ("make a pipe", e))?;
        let (err_r, err_w) = fdio::pipe().map_err(|e| ("make a pipe", e))?;
        let stdin = if stdin {
            let (r, w) = fdio::pipe().map_err(|e| ("make a pipe", e))?;
            fdio::set_nonblocking(&w).map_err(|e| ("set O_NONBLOCK", e))?;
            io.stdin = Some(w);
            Stdio::from(r)
        } else {
            Stdio::null()
        };
        for fd in [&out_r, &err_r] {
            fdio::set_nonblocking(fd).map_err(|e| ("set O_NONBLOCK", e))?;
        }
        let err_read = err_r.try_clone().map_err(|e| ("dup", e))?;
        io.stdout = Some(out_r);
        io.stderr = Some(err_r);
        Ok(Stdio3 {
            stdin,
            stdout: Stdio::from(out_w),
            stderr: Stdio::from(err_w),
            err_read,
        })
    }
}

impl Runtime {
    /// A runtime at `bin` with state under `root`, for container `id`.
    pub fn new(bin: &Path, root: &Path, id: &str) -> Runtime {
        Runtime {
            bin: bin.to_path_buf(),
            root: root.to_path_buf(),
            id: id.to_string(),
        }
    }

    fn run<S: AsRef<OsStr>>(&self, args: &[S], io: Stdio3) -> Result<(), String> {
        let name = args
            .first()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(io.stdin)
            .stdout(io.stdout)
            .stderr(io.stderr);
        let child = cmd.spawn();
        // The Command holds the parent's copies of the child's ends; drop them now so only
        // the child (and the container) keep them.
        drop(cmd);
        let status = child
            .and_then(|mut c| c.wait())
            .map_err(|e| format!("cannot run {} {name}: {e}", self.bin.display()));
        // Spawning touched code the poll loop does not need: let it go again (execs run
        // every few seconds for health checks; the footprint is a product target).
        let _ = berth_sys::proc::drop_text_pages();
        let status = status?;
        if status.success() {
            return Ok(());
        }
        let out = fdio::read_available(&io.err_read, 64 * 1024);
        let text = String::from_utf8_lossy(&out);
        let line = text.lines().rev().find(|l| !l.trim().is_empty()).map(|l| {
            l.split_once("error: ")
                .map(|(_, m)| m)
                .unwrap_or(l)
                .trim()
                .to_string()
        });
        Err(match line {
            Some(l) => l,
            None => format!("berth-runtime {name} {}: {status}", self.id),
        })
    }

    /// `create --bundle B --pid-file F [--console-socket S] ID`.
    pub fn create(
        &self,
        bundle: &Path,
        pid_file: &str,
        console: Option<&str>,
        io: Stdio3,
    ) -> Result<(), String> {
        let mut args: Vec<&OsStr> = vec![
            "create".as_ref(),
            "--bundle".as_ref(),
            bundle.as_os_str(),
            "--pid-file".as_ref(),
            pid_file.as_ref(),
        ];
        if let Some(c) = console {
            args.push(OsStr::new("--console-socket"));
            args.push(OsStr::new(c));
        }
        args.push(self.id.as_ref());
        self.run(&args, io)
    }

    /// `start ID`.
    pub fn start(&self) -> Result<(), String> {
        self.run(&["start", &self.id], quiet()?)
    }

    /// `delete --force ID`.
    pub fn delete(&self) -> Result<(), String> {
        self.run(&["delete", "--force", &self.id], quiet()?)
    }

    /// `kill [--all] ID SIG`.
    pub fn kill(&self, signal: i32, all: bool) -> Result<(), String> {
        let sig = signal.to_string();
        let mut args = vec!["kill"];
        if all {
            args.push("--all");
        }
        args.extend([self.id.as_str(), sig.as_str()]);
        self.run(&args, quiet()?)
    }

    /// `exec --process P --pid-file F -d [--console-socket S] ID`.
    pub fn exec(
        &self,
        process: &str,
        pid_file: &str,
        console: Option<&str>,
        io: Stdio3,
    ) -> Result<(), String> {
        let mut args = vec!["exec", "--process", process, "--pid-file", pid_file, "-d"];
        if let Some(c) = console {
            args.extend(["--console-socket", c]);
        }
        args.push(&self.id);
        self.run(&args, io)
    }
}

fn quiet() -> Result<Stdio3, String> {
    Stdio3::quiet().map_err(|e| format!("cannot make a pipe: {e}"))
}

/// Reads a PID file the runtime wrote.
pub fn read_pid(path: &str) -> Result<i32, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read pid file {path}: {e}"))?;
    text.trim()
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("pid file {path} holds {text:?}, not a PID"))
}
