//! Command dispatch: docker's top-level shortcuts (`ps`, `rmi`, ...) and management
//! commands (`container ls`, `image rm`, `system df`, `volume ...`) map to the same code.

mod container;
mod cp;
mod events;
mod image;
mod images;
mod lifecycle;
mod network;
mod run;
mod stats;
mod system;
mod volume;

use crate::args::{self, Flag, Parsed};
use crate::Ctx;

/// Splits the command words into the canonical command path and its arguments.
pub fn split_command(words: &[String]) -> (String, Vec<String>) {
    let first = words.first().map(String::as_str).unwrap_or("");
    let second = words.get(1).map(String::as_str).unwrap_or("");
    match first {
        "container" | "image" | "volume" | "network" | "system"
            if !second.is_empty() && !second.starts_with('-') =>
        {
            (format!("{first} {second}"), words[2..].to_vec())
        }
        _ => (
            first.to_string(),
            words.get(1..).map(<[String]>::to_vec).unwrap_or_default(),
        ),
    }
}

const TOP: &[&str] = &[
    "run", "create", "start", "attach", "exec", "ps", "logs", "stop", "kill", "rm", "restart",
    "pause", "unpause", "wait", "rename", "update", "inspect", "top", "diff", "port", "stats",
    "cp", "export", "commit", "images", "load", "save", "tag", "rmi", "import", "history", "pull",
    "version", "info", "events",
];
const CONTAINER: &[&str] = &[
    "run", "create", "start", "attach", "exec", "ls", "list", "ps", "logs", "stop", "kill", "rm",
    "remove", "restart", "pause", "unpause", "wait", "rename", "update", "prune", "inspect", "top",
    "diff", "port", "stats", "cp", "export", "commit",
];
const IMAGE: &[&str] = &[
    "ls", "list", "load", "save", "tag", "rm", "remove", "import", "history", "pull", "prune",
    "inspect",
];
const VOLUME: &[&str] = &["create", "ls", "list", "rm", "remove", "prune", "inspect"];
const NETWORK: &[&str] = &[
    "create",
    "ls",
    "list",
    "rm",
    "remove",
    "prune",
    "inspect",
    "connect",
    "disconnect",
];
const SYSTEM: &[&str] = &["info", "df", "prune", "events"];

/// Whether the command exists and talks to the daemon (help output and unknown commands
/// do not, so they answer without one).
pub fn needs_daemon(path: &str, rest: &[String]) -> bool {
    if rest.iter().any(|a| a == "--help") {
        return false;
    }
    match path.split_once(' ') {
        None => TOP.contains(&path),
        Some(("container", c)) => CONTAINER.contains(&c),
        Some(("image", c)) => IMAGE.contains(&c),
        Some(("volume", c)) => VOLUME.contains(&c),
        Some(("system", c)) => SYSTEM.contains(&c),
        Some(("network", c)) => NETWORK.contains(&c),
        Some(_) => false,
    }
}

/// Parses a command's flags, answering `--help` with the usage text.
pub fn parse(
    ctx: &Ctx,
    flags: &[Flag],
    rest: &[String],
    interspersed: bool,
) -> anyhow::Result<Option<Parsed>> {
    let p = args::parse(flags, rest, interspersed)?;
    if p.help {
        print!("{}", args::help_text(&usage(&ctx.command), "", flags));
        return Ok(None);
    }
    Ok(Some(p))
}

/// A command got the wrong number of arguments; docker exits 1 for this (not 125).
#[derive(Debug, Clone, PartialEq)]
pub struct ArgCount {
    /// How many are needed.
    pub n: usize,
    /// Exactly `n` (else at least `n`).
    pub exact: bool,
}

impl std::fmt::Display for ArgCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = if self.n == 1 { "" } else { "s" };
        let least = if self.exact { "" } else { "at least " };
        write!(f, "requires {least}{} argument{plural}", self.n)
    }
}

impl std::error::Error for ArgCount {}

/// Requires `n` positional arguments (at least `n` unless `exact`).
pub fn need_args(p: &Parsed, n: usize, exact: bool) -> anyhow::Result<()> {
    if p.args.len() < n || (exact && p.args.len() != n) {
        return Err(ArgCount { n, exact }.into());
    }
    Ok(())
}

const USAGES: &[(&str, &str)] = &[
    ("run", "[OPTIONS] IMAGE [COMMAND] [ARG...]"),
    ("create", "[OPTIONS] IMAGE [COMMAND] [ARG...]"),
    ("start", "[OPTIONS] CONTAINER [CONTAINER...]"),
    ("attach", "[OPTIONS] CONTAINER"),
    ("exec", "[OPTIONS] CONTAINER COMMAND [ARG...]"),
    ("ps", "[OPTIONS]"),
    ("ls", "[OPTIONS]"),
    ("logs", "[OPTIONS] CONTAINER"),
    ("stop", "[OPTIONS] CONTAINER [CONTAINER...]"),
    ("kill", "[OPTIONS] CONTAINER [CONTAINER...]"),
    ("rm", "[OPTIONS] CONTAINER [CONTAINER...]"),
    ("restart", "[OPTIONS] CONTAINER [CONTAINER...]"),
    ("pause", "CONTAINER [CONTAINER...]"),
    ("unpause", "CONTAINER [CONTAINER...]"),
    ("wait", "CONTAINER [CONTAINER...]"),
    ("rename", "CONTAINER NEW_NAME"),
    ("update", "[OPTIONS] CONTAINER [CONTAINER...]"),
    ("inspect", "[OPTIONS] NAME|ID [NAME|ID...]"),
    ("top", "CONTAINER [ps OPTIONS]"),
    ("diff", "CONTAINER"),
    ("port", "CONTAINER [PRIVATE_PORT[/PROTO]]"),
    ("stats", "[OPTIONS] [CONTAINER...]"),
    ("cp", "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-"),
    ("export", "[OPTIONS] CONTAINER"),
    ("commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]"),
    ("images", "[OPTIONS] [REPOSITORY[:TAG]]"),
    ("load", "[OPTIONS]"),
    ("save", "[OPTIONS] IMAGE [IMAGE...]"),
    ("tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]"),
    ("rmi", "[OPTIONS] IMAGE [IMAGE...]"),
    ("import", "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]"),
    ("history", "[OPTIONS] IMAGE"),
    ("pull", "[OPTIONS] NAME[:TAG|@DIGEST]"),
    ("version", "[OPTIONS]"),
    ("info", "[OPTIONS]"),
    ("events", "[OPTIONS]"),
    ("prune", "[OPTIONS]"),
    ("df", "[OPTIONS]"),
];

/// Docker's usage line for a command path ("run [OPTIONS] IMAGE [COMMAND] [ARG...]").
pub fn usage(path: &str) -> String {
    let name = path.rsplit(' ').next().unwrap_or(path);
    let group = path.split_once(' ').map(|(g, _)| g);
    let args = match (group, name) {
        (Some("volume"), "create") => "[OPTIONS] [VOLUME]",
        (Some("volume"), "rm" | "remove" | "inspect") => "[OPTIONS] VOLUME [VOLUME...]",
        (Some("volume"), "ls" | "list") => "[OPTIONS]",
        (Some("image"), "inspect") => "[OPTIONS] IMAGE [IMAGE...]",
        (Some("network"), "create") => "[OPTIONS] NETWORK",
        (Some("network"), "rm" | "remove") => "[OPTIONS] NETWORK [NETWORK...]",
        (Some("network"), "inspect") => "[OPTIONS] NETWORK [NETWORK...]",
        (Some("network"), "ls" | "list" | "prune") => "[OPTIONS]",
        (Some("network"), "connect") => "[OPTIONS] NETWORK CONTAINER",
        (Some("network"), "disconnect") => "[OPTIONS] NETWORK CONTAINER",
        (Some("image"), "rm" | "remove") => "[OPTIONS] IMAGE [IMAGE...]",
        (Some("image"), "ls" | "list") => "[OPTIONS] [REPOSITORY[:TAG]]",
        (Some("container"), "inspect") => "[OPTIONS] CONTAINER [CONTAINER...]",
        _ => USAGES
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("[OPTIONS]", |(_, u)| u),
    };
    format!("{path} {args}")
}

/// Refuses flags berth accepts for docker's sake but does not implement yet, instead of
/// silently ignoring them.
pub fn unsupported(p: &Parsed, flags: &[&str]) -> anyhow::Result<()> {
    for f in flags {
        if p.has(f) {
            anyhow::bail!("--{f} is not supported by berth yet");
        }
    }
    Ok(())
}

/// Runs one command.
pub async fn dispatch(ctx: &mut Ctx, path: &str, rest: &[String]) -> anyhow::Result<i32> {
    let name = path.rsplit(' ').next().unwrap_or(path);
    let group = path.split_once(' ').map(|(g, _)| g);
    match (group, name) {
        (None | Some("container"), "run") => run::run(ctx, rest).await,
        (None | Some("container"), "create") => run::create(ctx, rest).await,
        (None | Some("container"), "start") => run::start(ctx, rest).await,
        (None | Some("container"), "attach") => run::attach(ctx, rest).await,
        (None | Some("container"), "exec") => run::exec(ctx, rest).await,
        (None, "ps") | (Some("container"), "ls" | "list" | "ps") => container::ps(ctx, rest).await,
        (None | Some("container"), "logs") => container::logs(ctx, rest).await,
        (None | Some("container"), "stop") => lifecycle::stop(ctx, rest).await,
        (None | Some("container"), "kill") => lifecycle::kill(ctx, rest).await,
        (None, "rm") | (Some("container"), "rm" | "remove") => lifecycle::rm(ctx, rest).await,
        (None | Some("container"), "restart") => lifecycle::restart(ctx, rest).await,
        (None | Some("container"), "pause") => lifecycle::simple(ctx, rest, "pause").await,
        (None | Some("container"), "unpause") => lifecycle::simple(ctx, rest, "unpause").await,
        (None | Some("container"), "wait") => lifecycle::wait(ctx, rest).await,
        (None | Some("container"), "rename") => lifecycle::rename(ctx, rest).await,
        (None | Some("container"), "update") => lifecycle::update(ctx, rest).await,
        (Some("container"), "prune") => lifecycle::prune(ctx, rest).await,
        (None, "inspect") => container::inspect(ctx, rest, None).await,
        (Some("container"), "inspect") => container::inspect(ctx, rest, Some("container")).await,
        (Some("image"), "inspect") => container::inspect(ctx, rest, Some("image")).await,
        (Some("volume"), "inspect") => container::inspect(ctx, rest, Some("volume")).await,
        (Some("network"), "inspect") => container::inspect(ctx, rest, Some("network")).await,
        (None | Some("container"), "top") => container::top(ctx, rest).await,
        (None | Some("container"), "diff") => container::diff(ctx, rest).await,
        (None | Some("container"), "port") => container::port(ctx, rest).await,
        (None | Some("container"), "stats") => stats::stats(ctx, rest).await,
        (None | Some("container"), "cp") => cp::cp(ctx, rest).await,
        (None | Some("container"), "export") => cp::export(ctx, rest).await,
        (None | Some("container"), "commit") => image::commit(ctx, rest).await,
        (None, "images") | (Some("image"), "ls" | "list") => images::images(ctx, rest).await,
        (None | Some("image"), "load") => image::load(ctx, rest).await,
        (None | Some("image"), "save") => image::save(ctx, rest).await,
        (None | Some("image"), "tag") => image::tag(ctx, rest).await,
        (None, "rmi") | (Some("image"), "rm" | "remove") => image::rmi(ctx, rest).await,
        (None | Some("image"), "import") => image::import(ctx, rest).await,
        (None | Some("image"), "history") => image::history(ctx, rest).await,
        (None | Some("image"), "pull") => image::pull_cmd(ctx, rest).await,
        (Some("image"), "prune") => image::prune(ctx, rest).await,
        (None, "version") => system::version(ctx, rest).await,
        (None, "info") | (Some("system"), "info") => system::info(ctx, rest).await,
        (Some("system"), "df") => system::df(ctx, rest).await,
        (Some("system"), "prune") => system::prune(ctx, rest).await,
        (None | Some("system"), "events") => events::events(ctx, rest).await,
        (Some("volume"), "create") => volume::create(ctx, rest).await,
        (Some("volume"), "ls" | "list") => volume::ls(ctx, rest).await,
        (Some("volume"), "rm" | "remove") => volume::rm(ctx, rest).await,
        (Some("volume"), "prune") => volume::prune(ctx, rest).await,
        (Some("network"), "create") => network::create(ctx, rest).await,
        (Some("network"), "ls" | "list") => network::ls(ctx, rest).await,
        (Some("network"), "rm" | "remove") => network::rm(ctx, rest).await,
        (Some("network"), "prune") => network::prune(ctx, rest).await,
        (Some("network"), "connect") => network::connect(ctx, rest).await,
        (Some("network"), "disconnect") => network::disconnect(ctx, rest).await,
        (None, "container" | "image" | "volume" | "network" | "system") => {
            println!("\nUsage:  berth {name} COMMAND\n\nRun 'berth {name} COMMAND --help' for more information on a command.");
            Ok(0)
        }
        _ => Err(crate::StatusError {
            code: 1,
            message: format!(
                "berth: unknown command: berth {path}\n\nRun 'berth --help' for more information"
            ),
        }
        .into()),
    }
}
