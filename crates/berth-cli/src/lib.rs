//! `berth`: a docker-compatible command line over the Docker Engine API.
//!
//! It is an HTTP client only (no engine code): [`client::Client`] talks HTTP/1.1 over the
//! daemon's unix socket (default `unix:///run/berth/berth.sock`; `-H`, `BERTH_HOST`,
//! `DOCKER_HOST` override; `tcp://` works too, with TLS as docker's `--tls`/`--tlsverify`
//! flags and `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH` ask, see [`tls`]) and sends the same requests docker CLI 28
//! sends (see /work/shared/reference/docker-cli-traces), so `alias docker=berth` works for
//! everyday commands with the same output: tables aligned like Go's tabwriter
//! ([`table`]), `--format` Go templates ([`template`]), go-units humanising ([`human`]).
//!
//! Exit codes follow docker: 125 for usage errors and for `run`/`create` failures, 1 for
//! other daemon errors, the container's code for `run`, `start -a`, `exec` and `wait`-style
//! commands.

pub mod args;
pub mod client;
mod cmd;
pub mod createopts;
pub mod format;
pub mod human;
pub mod json;
pub mod progress;
pub mod specs;
pub mod stream;
pub mod table;
pub mod template;
pub mod tls;

use args::{b, v, Flag, UsageError};
use client::{resolve_host, Client, ConnectError, DaemonError};

/// Exit with this status after the message (if any) was printed.
#[derive(Debug, Clone)]
pub struct StatusError {
    /// Exit status.
    pub code: i32,
    /// Printed on stderr unless empty.
    pub message: String,
}

impl std::fmt::Display for StatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StatusError {}

const GLOBAL_FLAGS: &[Flag] = &[
    v("host", Some('H'), "Daemon socket to connect to"),
    b("debug", Some('D'), "Enable debug mode"),
    v("log-level", Some('l'), "Set the logging level"),
    v("config", None, "Location of client config files"),
    v("context", Some('c'), "Name of the context to use (ignored)"),
    b("version", Some('v'), "Print version information and quit"),
    b("tls", None, "Use TLS; implied by --tlsverify"),
    b("tlsverify", None, "Use TLS and verify the remote"),
    v("tlscacert", None, "Trust certs signed only by this CA"),
    v("tlscert", None, "Path to TLS certificate file"),
    v("tlskey", None, "Path to TLS key file"),
];

pub use cmd::usage;

/// Everything a command needs: the daemon client and the command path for messages.
pub struct Ctx {
    /// The connected, version-negotiated client.
    pub client: Client,
    /// "run", "container ls", ... for `--help` pointers.
    pub command: String,
}

const USAGE: &str = "
Usage:  berth [OPTIONS] COMMAND

A docker-compatible client for berthd (and any Docker Engine API daemon)

Common Commands:
  run         Create and run a new container from an image
  exec        Execute a command in a running container
  ps          List containers
  images      List images
  info        Display system-wide information
  version     Show the Docker version information

Management Commands:
  container   Manage containers
  image       Manage images
  network     Manage networks
  system      Manage berth
  volume      Manage volumes

Commands:
  attach      Attach local standard input, output, and error streams to a running container
  commit      Create a new image from a container's changes
  cp          Copy files/folders between a container and the local filesystem
  create      Create a new container
  diff        Inspect changes to files or directories on a container's filesystem
  events      Get real time events from the server
  export      Export a container's filesystem as a tar archive
  history     Show the history of an image
  import      Import the contents from a tarball to create a filesystem image
  inspect     Return low-level information on Docker objects
  kill        Kill one or more running containers
  load        Load an image from a tar archive or STDIN
  logs        Fetch the logs of a container
  pause       Pause all processes within one or more containers
  port        List port mappings or a specific mapping for the container
  rename      Rename a container
  restart     Restart one or more containers
  rm          Remove one or more containers
  rmi         Remove one or more images
  save        Save one or more images to a tar archive (streamed to STDOUT by default)
  start       Start one or more stopped containers
  stats       Display a live stream of container(s) resource usage statistics
  stop        Stop one or more running containers
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
  top         Display the running processes of a container
  unpause     Unpause all processes within one or more containers
  update      Update configuration of one or more containers
  wait        Block until one or more containers stop, then print their exit codes

Global Options:
  -H, --host string     Daemon socket to connect to (default unix:///run/berth/berth.sock;
                        env BERTH_HOST or DOCKER_HOST)
      --tls             Use TLS; implied by --tlsverify (env DOCKER_TLS)
      --tlscacert string
                        Trust certs signed only by this CA (default ~/.docker/ca.pem;
                        env DOCKER_CERT_PATH names the directory)
      --tlscert string  Path to TLS certificate file (default ~/.docker/cert.pem)
      --tlskey string   Path to TLS key file (default ~/.docker/key.pem)
      --tlsverify       Use TLS and verify the remote (env DOCKER_TLS_VERIFY)
  -v, --version         Print version information and quit
";

/// Runs the command line (without the program name) and returns the exit status.
pub fn run(argv: &[String]) -> i32 {
    // Global flags stop at the first command word.
    let global = match args::parse(GLOBAL_FLAGS, argv, false) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{e}\nSee 'berth --help'.");
            return 125;
        }
    };
    if global.on("version") {
        println!("berth version {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    if global.help || global.args.is_empty() {
        print!("{USAGE}");
        return 0;
    }
    let tls = tls::options(&global, &tls::TlsEnv::from_env());
    let host = resolve_host(global.get("host"), tls.is_some());
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("berth: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let words = global.args.clone();
    let code = rt.block_on(async move {
        let (path, rest) = cmd::split_command(&words);
        let needs_daemon = cmd::needs_daemon(&path, &rest);
        let mut client = match Client::new(&host) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{e}");
                return 125;
            }
        };
        // The certificate files are read only when the daemon is going to be asked
        // something (so `--help` answers whatever their state).
        if let Some(opts) = tls.as_ref().filter(|_| needs_daemon) {
            client = match client.with_tls(opts) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e:#}");
                    return 1;
                }
            };
        }
        let is_run = matches!(
            path.as_str(),
            "run" | "create" | "container run" | "container create"
        );
        let fail_code = if is_run { 125 } else { 1 };
        let command = path.clone();
        let result = async {
            if needs_daemon {
                client.negotiate().await?;
            }
            let mut ctx = Ctx { client, command };
            cmd::dispatch(&mut ctx, &path, &rest).await
        }
        .await;
        match result {
            Ok(code) => code,
            Err(e) => report(&e, &path, fail_code),
        }
    });
    // Blocking stdin readers may still be parked in the runtime: do not wait for them.
    rt.shutdown_background();
    code
}

fn report(e: &anyhow::Error, path: &str, fail_code: i32) -> i32 {
    if let Some(s) = e.downcast_ref::<StatusError>() {
        if !s.message.is_empty() {
            eprintln!("{}", s.message);
        }
        return s.code;
    }
    let usage = cmd::usage(path);
    if let Some(u) = e.downcast_ref::<UsageError>() {
        eprintln!("{u}\n\nUsage:  berth {usage}\n\nRun 'berth {path} --help' for more information");
        return 125;
    }
    if let Some(a) = e.downcast_ref::<cmd::ArgCount>() {
        let next = if a.exact { "Run" } else { "See" };
        eprintln!("berth: 'berth {path}' {a}\n\nUsage:  berth {usage}\n\n{next} 'berth {path} --help' for more information");
        return 1;
    }
    let text = if e.downcast_ref::<DaemonError>().is_some()
        || e.downcast_ref::<ConnectError>().is_some()
    {
        e.to_string()
    } else {
        format!("Error: {e:#}")
    };
    if fail_code == 125 {
        // run/create: docker's "docker: <error>" with a pointer to the help.
        let text = text.strip_prefix("Error: ").unwrap_or(&text);
        eprintln!("berth: {text}\n\nRun 'berth {path} --help' for more information");
    } else {
        eprintln!("{text}");
    }
    fail_code
}
