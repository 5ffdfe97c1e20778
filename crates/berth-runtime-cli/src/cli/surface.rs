//! The command surface: every subcommand's option table, which drives both the parser
//! and the help text (runc 1.1's flags, plus the spellings callers are known to send).

use crate::args::{Opt, Stop};

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
    // go-runc's CreateOpts.Detach appends it; create returns at once anyway.
    switch(
        &["detach", "d"],
        "accepted for compatibility (create never waits)",
    ),
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
