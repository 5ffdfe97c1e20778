//! The command line of `berth-runtime`: global options, the subcommand table and the
//! typed arguments of each subcommand (runc 1.1's surface).
//!
//! [`parse`] turns `argv[1..]` into a [`Cli`]; it does no I/O, so relative paths stay as
//! given (commands make them absolute). Each [`CommandDef`] holds the option table that
//! both the parser and the help text use.

mod build;
mod surface;

pub use surface::{find_command, CommandDef, COMMANDS, GLOBAL_OPTS};

use crate::args::{check_count, parse as parse_opts, parse_bool, Matches, ParseError, Stop};
use crate::logging::LogFormat;
use crate::units::{parse_duration, parse_signal};
use berth_spec::Resources;
use build::{create_args, exec_args, format, path_opt, update_source};
use std::path::PathBuf;
use std::time::Duration;

/// The default state directory (runc's is `/run/runc`).
pub const DEFAULT_ROOT: &str = "/run/berth-runtime";

/// Options given before the subcommand.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalOptions {
    /// `--root`: state directory.
    pub root: PathBuf,
    /// `--log`: file that receives log lines.
    pub log: Option<PathBuf>,
    /// `--log-format`.
    pub log_format: LogFormat,
    /// `--debug`.
    pub debug: bool,
    /// `--systemd-cgroup` (rejected when creating a container).
    pub systemd_cgroup: bool,
    /// `--criu` (accepted; checkpointing is not supported).
    pub criu: Option<String>,
    /// `--rootless` (`true`, `false` or `auto`; accepted and ignored).
    pub rootless: Option<String>,
}

impl Default for GlobalOptions {
    fn default() -> GlobalOptions {
        GlobalOptions {
            root: PathBuf::from(DEFAULT_ROOT),
            log: None,
            log_format: LogFormat::Text,
            debug: false,
            systemd_cgroup: false,
            criu: None,
            rootless: None,
        }
    }
}

/// Output format of `list` and `ps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// JSON.
    Json,
}

/// Arguments of `create` (and the creation part of `run`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateArgs {
    /// Container ID.
    pub id: String,
    /// `--bundle`, default `.`.
    pub bundle: PathBuf,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--no-new-keyring`.
    pub no_new_keyring: bool,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
}

/// Arguments of `exec`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExecArgs {
    /// Container ID.
    pub id: String,
    /// The command and its arguments, verbatim (empty with `--process`).
    pub command: Vec<String>,
    /// `--process`: a JSON `Process` that replaces all the process options below.
    pub process: Option<PathBuf>,
    /// `--tty` when given (runc turns the terminal off unless it is).
    pub tty: Option<bool>,
    /// `--detach`.
    pub detach: bool,
    /// `--pid-file`.
    pub pid_file: Option<PathBuf>,
    /// `--console-socket`.
    pub console_socket: Option<PathBuf>,
    /// `--cwd`.
    pub cwd: Option<String>,
    /// `--env`, `KEY=value`, in order.
    pub env: Vec<String>,
    /// `--user uid[:gid]`.
    pub user: Option<(u32, Option<u32>)>,
    /// `--additional-gids`.
    pub additional_gids: Vec<u32>,
    /// `--cap`, added to every capability set.
    pub caps: Vec<String>,
    /// `--no-new-privs` when given.
    pub no_new_privs: Option<bool>,
    /// `--apparmor`.
    pub apparmor: Option<String>,
    /// `--process-label`.
    pub process_label: Option<String>,
    /// `--preserve-fds`.
    pub preserve_fds: u32,
    /// `--cgroup [controllers:]path`.
    pub cgroup: Option<String>,
    /// `--ignore-paused`.
    pub ignore_paused: bool,
}

/// Where `update` takes the new resources from.
#[derive(Debug, Clone, PartialEq)]
pub enum ResourcesSource {
    /// `--resources <file>`, `-` for stdin: a JSON `LinuxResources`.
    File(String),
    /// The individual flags (only those given are set).
    Flags(Box<Resources>),
}

/// One parsed subcommand.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `create`.
    Create(CreateArgs),
    /// `start <id>`.
    Start(String),
    /// `run`.
    Run {
        /// Creation arguments.
        create: CreateArgs,
        /// `--detach`.
        detach: bool,
        /// `--keep`: do not delete the container after it exits.
        keep: bool,
    },
    /// `state <id>`.
    State(String),
    /// `kill <id> [signal]`.
    Kill {
        /// Container ID.
        id: String,
        /// Signal number.
        signal: i32,
        /// `--all`.
        all: bool,
    },
    /// `delete <id>`.
    Delete {
        /// Container ID.
        id: String,
        /// `--force`.
        force: bool,
    },
    /// `exec`.
    Exec(Box<ExecArgs>),
    /// `list`.
    List {
        /// `--format`.
        format: Format,
        /// `--quiet`.
        quiet: bool,
    },
    /// `ps <id> [ps options]`.
    Ps {
        /// Container ID.
        id: String,
        /// `--format`.
        format: Format,
        /// Arguments for ps(1).
        ps_args: Vec<String>,
    },
    /// `pause <id>`.
    Pause(String),
    /// `resume <id>`.
    Resume(String),
    /// `update <id>`.
    Update {
        /// Container ID.
        id: String,
        /// New resources.
        source: ResourcesSource,
    },
    /// `spec`.
    Spec {
        /// `--bundle`.
        bundle: PathBuf,
        /// `--rootless`.
        rootless: bool,
    },
    /// `features`.
    Features,
    /// `events <id>`.
    Events {
        /// Container ID.
        id: String,
        /// `--stats`: once, then exit.
        stats_once: bool,
        /// `--interval`.
        interval: Duration,
    },
    /// `checkpoint` / `restore`: parsed no further, always an error.
    Unsupported(&'static str),
    /// `--help`, `help [command]`.
    Help(Option<&'static str>),
    /// `--version`.
    Version,
}

/// A whole command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Cli {
    /// Global options.
    pub global: GlobalOptions,
    /// The subcommand.
    pub command: Command,
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Cli, ParseError> {
    let g = parse_global(args)?;
    let command = g.command()?;
    Ok(Cli {
        global: g.options,
        command,
    })
}

/// The global part of a command line, before the subcommand is parsed (so that a
/// subcommand's parse error can already go to the `--log` file).
#[derive(Debug)]
pub struct GlobalParse<'a> {
    /// Global options.
    pub options: GlobalOptions,
    version: bool,
    help: bool,
    /// The subcommand name and its arguments, verbatim.
    rest: &'a [String],
}

/// Parses the global options in front of the subcommand.
pub fn parse_global(args: &[String]) -> Result<GlobalParse<'_>, ParseError> {
    let m = parse_opts(GLOBAL_OPTS, args, Stop::AfterPositionals(1))?;
    Ok(GlobalParse {
        options: global_options(&m)?,
        version: m.flag("version"),
        help: m.flag("help"),
        rest: &args[args.len() - m.positionals.len()..],
    })
}

impl GlobalParse<'_> {
    /// Parses the subcommand.
    pub fn command(&self) -> Result<Command, ParseError> {
        if self.version {
            return Ok(Command::Version);
        }
        if self.help {
            let topic = self
                .rest
                .first()
                .and_then(|c| find_command(c))
                .map(|d| d.name);
            return Ok(Command::Help(topic));
        }
        match self.rest.split_first() {
            None => Ok(Command::Help(None)),
            Some((name, cmd_args)) => parse_command(name, cmd_args),
        }
    }
}

fn global_options(m: &Matches) -> Result<GlobalOptions, ParseError> {
    let mut g = GlobalOptions::default();
    if let Some(root) = m.value("root").filter(|r| !r.is_empty()) {
        g.root = PathBuf::from(root);
    }
    g.log = path_opt(m, "log");
    if let Some(f) = m.value("log-format") {
        g.log_format = LogFormat::parse(f)
            .ok_or_else(|| ParseError::new(format!("unknown log-format {f:?}")))?;
    }
    g.debug = m.flag("debug");
    g.systemd_cgroup = m.flag("systemd-cgroup");
    g.criu = m.value("criu").map(str::to_string);
    if let Some(r) = m.value("rootless") {
        if r != "auto" && parse_bool(r).is_none() {
            return Err(ParseError::new(format!("invalid --rootless value {r:?}")));
        }
        g.rootless = Some(r.to_string());
    }
    Ok(g)
}

/// Parses one subcommand and its arguments.
pub fn parse_command(name: &str, args: &[String]) -> Result<Command, ParseError> {
    if name == "help" {
        return match args.first() {
            None => Ok(Command::Help(None)),
            Some(c) => find_command(c)
                .map(|d| Command::Help(Some(d.name)))
                .ok_or_else(|| ParseError::new(format!("no help topic for {c:?}"))),
        };
    }
    let def =
        find_command(name).ok_or_else(|| ParseError::new(format!("unknown command {name:?}")))?;
    if matches!(def.name, "checkpoint" | "restore") {
        return Ok(Command::Unsupported(def.name));
    }
    let m = parse_opts(def.opts, args, def.stop)?;
    if m.flag("help") {
        return Ok(Command::Help(Some(def.name)));
    }
    let n = m.positionals.len();
    let exactly = |count| check_count(def.name, n, count, Some(count));
    let id = || m.positionals.first().cloned().unwrap_or_default();
    Ok(match def.name {
        "create" => {
            exactly(1)?;
            Command::Create(create_args(&m, id())?)
        }
        "run" => {
            exactly(1)?;
            Command::Run {
                create: create_args(&m, id())?,
                detach: m.flag("detach"),
                keep: m.flag("keep"),
            }
        }
        "start" => exactly(1).map(|_| Command::Start(id()))?,
        "state" => exactly(1).map(|_| Command::State(id()))?,
        "pause" => exactly(1).map(|_| Command::Pause(id()))?,
        "resume" => exactly(1).map(|_| Command::Resume(id()))?,
        "kill" => {
            check_count(def.name, n, 1, Some(2))?;
            let signal = parse_signal(m.positionals.get(1).map_or("SIGTERM", String::as_str))?;
            Command::Kill {
                id: id(),
                signal,
                all: m.flag("all"),
            }
        }
        "delete" => {
            exactly(1)?;
            Command::Delete {
                id: id(),
                force: m.flag("force"),
            }
        }
        "exec" => Command::Exec(Box::new(exec_args(&m)?)),
        "list" => {
            exactly(0)?;
            Command::List {
                format: format(&m)?,
                quiet: m.flag("quiet"),
            }
        }
        "ps" => {
            check_count(def.name, n, 1, None)?;
            let mut ps_args: Vec<String> = m.positionals[1..].to_vec();
            if ps_args.first().is_some_and(|a| a == "--") {
                ps_args.remove(0);
            }
            Command::Ps {
                id: id(),
                format: format(&m)?,
                ps_args,
            }
        }
        "update" => {
            exactly(1)?;
            Command::Update {
                id: id(),
                source: update_source(&m)?,
            }
        }
        "spec" => {
            exactly(0)?;
            Command::Spec {
                bundle: PathBuf::from(m.value("bundle").unwrap_or(".")),
                rootless: m.flag("rootless"),
            }
        }
        "features" => exactly(0).map(|_| Command::Features)?,
        "events" => {
            exactly(1)?;
            let interval = parse_duration(m.value("interval").unwrap_or("5s"))?;
            if interval.is_zero() {
                return Err(ParseError::new("duration interval must be greater than 0"));
            }
            Command::Events {
                id: id(),
                stats_once: m.flag("stats"),
                interval,
            }
        }
        other => return Err(ParseError::new(format!("unknown command {other:?}"))),
    })
}
