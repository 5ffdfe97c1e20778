//! The command line of `berth-runtime`: global options, the subcommand table and the
//! typed arguments of each subcommand (runc 1.1's surface).
//!
//! [`parse`] turns `argv[1..]` into a [`Cli`]; it does no I/O, so relative paths stay as
//! given (commands make them absolute). Each [`CommandDef`] holds the option table that
//! both the parser and the help text use.

use crate::args::{check_count, parse as parse_opts, parse_bool, Matches, Opt, ParseError, Stop};
use crate::logging::LogFormat;
use crate::units::{parse_duration, parse_signal, parse_size};
use berth_spec::{BlockIo, Cpu, Memory, Pids, Resources};
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

/// A subcommand: its names, its options and where option parsing stops.
#[derive(Debug)]
pub struct CommandDef {
    /// Name.
    pub name: &'static str,
    /// Other names.
    pub aliases: &'static [&'static str],
    /// Positional arguments, for help.
    pub args: &'static str,
    /// One-line description.
    pub about: &'static str,
    /// Options.
    pub opts: &'static [Opt],
    /// Where option parsing stops.
    pub stop: Stop,
}

const fn opt(names: &'static [&'static str], value: &'static str, help: &'static str) -> Opt {
    Opt {
        names,
        value: Some(value),
        help,
    }
}

const fn switch(names: &'static [&'static str], help: &'static str) -> Opt {
    Opt {
        names,
        value: None,
        help,
    }
}

/// Options before the subcommand.
pub const GLOBAL_OPTS: &[Opt] = &[
    switch(&["debug"], "enable debug logging"),
    opt(
        &["log"],
        "file",
        "write log lines to this file (default: stderr)",
    ),
    opt(&["log-format"], "text|json", "log format (default: text)"),
    opt(
        &["root"],
        "dir",
        "state directory (default: /run/berth-runtime)",
    ),
    opt(
        &["criu"],
        "path",
        "accepted for compatibility; checkpointing is not supported",
    ),
    switch(
        &["systemd-cgroup"],
        "use systemd for cgroups (not supported)",
    ),
    opt(
        &["rootless"],
        "true|false|auto",
        "accepted for compatibility, ignored",
    ),
    switch(&["version", "v"], "print the version"),
];

const BUNDLE: Opt = opt(
    &["bundle", "b"],
    "dir",
    "bundle directory (default: current directory)",
);
const CONSOLE_SOCKET: Opt = opt(
    &["console-socket"],
    "path",
    "unix socket that receives the pty master when the process has a terminal",
);
const PID_FILE: Opt = opt(
    &["pid-file"],
    "file",
    "write the process's host PID to this file",
);
const NO_PIVOT: Opt = switch(
    &["no-pivot"],
    "use chroot instead of pivot_root (ramfs roots)",
);
const NO_NEW_KEYRING: Opt = switch(&["no-new-keyring"], "keep the caller's session keyring");
const PRESERVE_FDS: Opt = opt(
    &["preserve-fds"],
    "N",
    "pass N more file descriptors (from 3) to the process",
);
const DETACH: Opt = switch(&["detach", "d"], "return once the process started");
const FORMAT: Opt = opt(
    &["format", "f"],
    "table|json",
    "output format (default: table)",
);

const CREATE_OPTS: &[Opt] = &[
    BUNDLE,
    CONSOLE_SOCKET,
    PID_FILE,
    NO_PIVOT,
    NO_NEW_KEYRING,
    PRESERVE_FDS,
];

const RUN_OPTS: &[Opt] = &[
    BUNDLE,
    CONSOLE_SOCKET,
    PID_FILE,
    NO_PIVOT,
    NO_NEW_KEYRING,
    PRESERVE_FDS,
    DETACH,
    switch(&["keep"], "do not delete the container after it exits"),
    switch(&["no-subreaper"], "accepted for compatibility, ignored"),
];

const EXEC_OPTS: &[Opt] = &[
    CONSOLE_SOCKET,
    opt(&["cwd"], "dir", "working directory in the container"),
    opt(
        &["env", "e"],
        "KEY=value",
        "set an environment variable (repeatable)",
    ),
    switch(&["tty", "t"], "allocate a pseudo-terminal"),
    opt(&["user", "u"], "uid[:gid]", "user (and group) ID to run as"),
    opt(
        &["additional-gids", "g"],
        "gid",
        "additional group ID (repeatable)",
    ),
    opt(
        &["process", "p"],
        "file",
        "JSON process spec; replaces the command and process options",
    ),
    DETACH,
    PID_FILE,
    opt(&["process-label"], "label", "SELinux label of the process"),
    opt(&["apparmor"], "profile", "AppArmor profile of the process"),
    switch(&["no-new-privs"], "set no_new_privs for the process"),
    opt(&["cap", "c"], "CAP_NAME", "add a capability (repeatable)"),
    PRESERVE_FDS,
    opt(
        &["cgroup"],
        "[controllers:]path",
        "sub-cgroup to run the process in",
    ),
    switch(&["ignore-paused"], "exec even when the container is paused"),
];

const UPDATE_OPTS: &[Opt] = &[
    opt(
        &["resources", "r"],
        "file",
        "JSON resources file, '-' for stdin; other flags are ignored",
    ),
    opt(&["blkio-weight"], "N", "block IO weight, 10 to 1000"),
    opt(&["cpu-period"], "us", "CPU CFS period"),
    opt(
        &["cpu-quota"],
        "us",
        "CPU CFS quota per period, -1 for none",
    ),
    opt(
        &["cpu-share", "cpu-shares"],
        "N",
        "CPU shares (relative weight)",
    ),
    opt(&["cpu-rt-period"], "us", "CPU realtime period"),
    opt(&["cpu-rt-runtime"], "us", "CPU realtime runtime per period"),
    opt(&["cpuset-cpus"], "list", "CPUs to use, e.g. 0-1"),
    opt(&["cpuset-mems"], "list", "memory nodes to use"),
    opt(
        &["kernel-memory"],
        "size",
        "kernel memory limit (deprecated)",
    ),
    opt(
        &["kernel-memory-tcp"],
        "size",
        "kernel TCP buffer memory limit",
    ),
    opt(&["memory"], "size", "memory limit, e.g. 512m, -1 for none"),
    opt(&["memory-reservation"], "size", "memory soft limit"),
    opt(
        &["memory-swap"],
        "size",
        "memory plus swap limit, -1 for none",
    ),
    opt(&["pids-limit"], "N", "maximum number of tasks, -1 for none"),
    opt(
        &["l3-cache-schema"],
        "schema",
        "Intel RDT L3 cache schema (not supported)",
    ),
    opt(
        &["mem-bw-schema"],
        "schema",
        "Intel RDT memory bandwidth schema (not supported)",
    ),
];

/// Every subcommand.
pub const COMMANDS: &[CommandDef] = &[
    def("create", "<id>", "create a container", CREATE_OPTS),
    def(
        "start",
        "<id>",
        "start the process of a created container",
        &[],
    ),
    def("run", "<id>", "create and start a container", RUN_OPTS),
    def("state", "<id>", "print the state of a container", &[]),
    def(
        "kill",
        "<id> [signal]",
        "send a signal (default SIGTERM) to the container's init",
        &[switch(
            &["all", "a"],
            "send the signal to every process of the container",
        )],
    ),
    def(
        "delete",
        "<id>",
        "delete a container",
        &[switch(
            &["force", "f"],
            "kill the container first if it is running",
        )],
    ),
    CommandDef {
        name: "exec",
        aliases: &[],
        args: "<id> <command> [args...]",
        about: "run another process in a container",
        opts: EXEC_OPTS,
        stop: Stop::AfterPositionals(2),
    },
    CommandDef {
        name: "list",
        aliases: &["ls"],
        args: "",
        about: "list containers",
        opts: &[FORMAT, switch(&["quiet", "q"], "print only the IDs")],
        stop: Stop::Never,
    },
    CommandDef {
        name: "ps",
        aliases: &[],
        args: "<id> [ps options]",
        about: "list the processes of a container",
        opts: &[FORMAT],
        stop: Stop::AfterPositionals(1),
    },
    def("pause", "<id>", "freeze every process of a container", &[]),
    def("resume", "<id>", "thaw a paused container", &[]),
    def(
        "update",
        "<id>",
        "change the resources of a container",
        UPDATE_OPTS,
    ),
    def(
        "spec",
        "",
        "write a default config.json",
        &[
            BUNDLE,
            switch(&["rootless"], "a config for a rootless container"),
        ],
    ),
    def(
        "features",
        "",
        "print the features this runtime supports",
        &[],
    ),
    def(
        "events",
        "<id>",
        "print container statistics as JSON lines",
        &[
            opt(
                &["interval"],
                "duration",
                "interval between statistics (default: 5s)",
            ),
            switch(&["stats"], "print statistics once, then exit"),
        ],
    ),
    def("checkpoint", "<id>", "not supported", &[]),
    def("restore", "<id>", "not supported", &[]),
];

const fn def(
    name: &'static str,
    args: &'static str,
    about: &'static str,
    opts: &'static [Opt],
) -> CommandDef {
    CommandDef {
        name,
        aliases: &[],
        args,
        about,
        opts,
        stop: Stop::Never,
    }
}

/// The subcommand called `name` (or an alias of it).
pub fn find_command(name: &str) -> Option<&'static CommandDef> {
    COMMANDS
        .iter()
        .find(|c| c.name == name || c.aliases.contains(&name))
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

fn create_args(m: &Matches, id: String) -> Result<CreateArgs, ParseError> {
    Ok(CreateArgs {
        id,
        bundle: PathBuf::from(m.value("bundle").filter(|b| !b.is_empty()).unwrap_or(".")),
        console_socket: path_opt(m, "console-socket"),
        pid_file: path_opt(m, "pid-file"),
        no_pivot: m.flag("no-pivot"),
        no_new_keyring: m.flag("no-new-keyring"),
        preserve_fds: number(m, "preserve-fds")?.unwrap_or(0),
    })
}

fn exec_args(m: &Matches) -> Result<ExecArgs, ParseError> {
    let process = path_opt(m, "process");
    if m.positionals.is_empty() {
        return Err(ParseError::new("\"exec\" requires a container ID"));
    }
    if process.is_none() && m.positionals.len() < 2 {
        return Err(ParseError::new(
            "\"exec\" requires a command after the container ID (or --process)",
        ));
    }
    let user = match m.value("user") {
        None | Some("") => None,
        Some(u) => Some(parse_user(u)?),
    };
    let mut additional_gids = Vec::new();
    for v in m.values("additional-gids") {
        for g in v.split(',').filter(|g| !g.is_empty()) {
            additional_gids.push(parse_num::<u32>("additional-gids", g)?);
        }
    }
    Ok(ExecArgs {
        id: m.positionals[0].clone(),
        command: if process.is_some() {
            Vec::new()
        } else {
            m.positionals[1..].to_vec()
        },
        process,
        tty: m.switch("tty"),
        detach: m.flag("detach"),
        pid_file: path_opt(m, "pid-file"),
        console_socket: path_opt(m, "console-socket"),
        cwd: non_empty(m, "cwd"),
        env: m.values("env").into_iter().map(str::to_string).collect(),
        user,
        additional_gids,
        caps: m.values("cap").into_iter().map(str::to_string).collect(),
        no_new_privs: m.switch("no-new-privs"),
        apparmor: non_empty(m, "apparmor"),
        process_label: non_empty(m, "process-label"),
        preserve_fds: number(m, "preserve-fds")?.unwrap_or(0),
        cgroup: match m.values("cgroup").as_slice() {
            [] => None,
            [one] => Some((*one).to_string()),
            _ => return Err(ParseError::new("--cgroup may be given only once")),
        },
        ignore_paused: m.flag("ignore-paused"),
    })
}

/// `uid[:gid]`, numeric as in runc.
fn parse_user(u: &str) -> Result<(u32, Option<u32>), ParseError> {
    let (uid, gid) = match u.split_once(':') {
        Some((uid, gid)) => (uid, Some(gid)),
        None => (u, None),
    };
    let uid = parse_num::<u32>("user", uid)?;
    let gid = gid.map(|g| parse_num::<u32>("user", g)).transpose()?;
    Ok((uid, gid))
}

fn update_source(m: &Matches) -> Result<ResourcesSource, ParseError> {
    for rdt in ["l3-cache-schema", "mem-bw-schema"] {
        if m.value(rdt).is_some_and(|v| !v.is_empty()) {
            return Err(ParseError::new(format!(
                "--{rdt}: Intel RDT is not supported"
            )));
        }
    }
    if let Some(file) = m.value("resources").filter(|f| !f.is_empty()) {
        return Ok(ResourcesSource::File(file.to_string()));
    }
    let mut r = Resources::default();
    let mut mem = Memory::default();
    let size = |name: &str| -> Result<Option<i64>, ParseError> {
        match m.value(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => parse_size(v)
                .map(Some)
                .map_err(|e| ParseError::new(format!("invalid value for --{name}: {e}"))),
        }
    };
    mem.limit = size("memory")?;
    mem.reservation = size("memory-reservation")?;
    mem.swap = size("memory-swap")?;
    mem.kernel = size("kernel-memory")?;
    mem.kernel_tcp = size("kernel-memory-tcp")?;
    if mem.limit == Some(-1) && mem.swap.is_none() {
        // As runc: an unlimited memory limit lifts the swap limit too, else the kernel
        // rejects a memory+swap limit below the (now unlimited) memory limit.
        mem.swap = Some(-1);
    }
    if mem != Memory::default() {
        r.memory = Some(mem);
    }
    let cpu = Cpu {
        shares: number(m, "cpu-share")?,
        quota: number(m, "cpu-quota")?,
        period: number(m, "cpu-period")?,
        realtime_runtime: number(m, "cpu-rt-runtime")?,
        realtime_period: number(m, "cpu-rt-period")?,
        cpus: non_empty(m, "cpuset-cpus"),
        mems: non_empty(m, "cpuset-mems"),
        ..Cpu::default()
    };
    if cpu != Cpu::default() {
        r.cpu = Some(cpu);
    }
    // runc treats 0 as "leave unchanged" for these two.
    if let Some(limit) = number::<i64>(m, "pids-limit")?.filter(|l| *l != 0) {
        r.pids = Some(Pids { limit });
    }
    if let Some(weight) = number::<u16>(m, "blkio-weight")?.filter(|w| *w != 0) {
        r.block_io = Some(BlockIo {
            weight: Some(weight),
            ..BlockIo::default()
        });
    }
    Ok(ResourcesSource::Flags(Box::new(r)))
}

fn format(m: &Matches) -> Result<Format, ParseError> {
    match m.value("format").unwrap_or("table") {
        "table" => Ok(Format::Table),
        "json" => Ok(Format::Json),
        other => Err(ParseError::new(format!("invalid format option {other:?}"))),
    }
}

fn path_opt(m: &Matches, name: &str) -> Option<PathBuf> {
    m.value(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

fn non_empty(m: &Matches, name: &str) -> Option<String> {
    m.value(name).filter(|v| !v.is_empty()).map(str::to_string)
}

fn number<T: std::str::FromStr>(m: &Matches, name: &str) -> Result<Option<T>, ParseError> {
    m.value(name)
        .filter(|v| !v.is_empty())
        .map(|v| parse_num(name, v))
        .transpose()
}

fn parse_num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ParseError> {
    v.trim().parse().map_err(|_| {
        ParseError::new(format!(
            "invalid value {v:?} for --{name}: not a valid number"
        ))
    })
}
