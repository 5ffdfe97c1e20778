//! A small option parser that accepts what runc's urfave/cli (v1) command line accepts.
//!
//! Callers drive runc in several dialects: containerd writes `--flag value` and
//! `--flag=value` before the container ID, youki's contest puts the ID first, and the Go
//! `flag` package underneath urfave also takes single-dash long names (`-bundle x`). clap
//! cannot take single-dash long names, nor "options until the command, then everything
//! verbatim" as `exec` needs, so this parser is table-driven instead: each command lists
//! its [`Opt`]s once, and the same table produces the help text.
//!
//! Rules, in order, for each argument:
//! - once [`Stop::AfterPositionals`] positionals were seen, the rest is positional verbatim;
//! - `--` ends option parsing, the rest is positional;
//! - `-` alone, or anything not starting with `-`, is positional;
//! - `-name`, `--name`, `-name=value`, `--name=value` match any of an option's names;
//!   a value option without `=` takes the next argument whatever it looks like;
//!   a switch takes `=true`/`=false` (Go's `strconv.ParseBool` spellings);
//! - otherwise a single-dash cluster of one-letter names (`-dt`, `-tu1000`) is expanded.
//!
//! Invariant: parsing is pure (no I/O), so every form is unit-tested without root.

use std::fmt;

/// One option a command accepts.
#[derive(Debug)]
pub struct Opt {
    /// Names without dashes; the first is canonical (the key in [`Matches`]).
    pub names: &'static [&'static str],
    /// Placeholder of the value in help, `None` for a switch.
    pub value: Option<&'static str>,
    /// One-line description for help.
    pub help: &'static str,
}

/// `-h/--help`, accepted by every command.
pub const HELP_OPT: Opt = Opt {
    names: &["help", "h"],
    value: None,
    help: "show help",
};

/// Where option parsing ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Options may come anywhere (urfave moves them in front of the positionals).
    Never,
    /// Once this many positionals were seen, all further arguments are positional.
    AfterPositionals(usize),
}

/// A command-line mistake: unknown flag, missing value, wrong number of arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl ParseError {
    /// An error with this message.
    pub fn new(msg: impl Into<String>) -> ParseError {
        ParseError(msg.into())
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// A parsed option's value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    Switch(bool),
    Text(String),
}

/// The options (in order of appearance) and positionals of one command line.
#[derive(Debug, Default, Clone)]
pub struct Matches {
    opts: Vec<(&'static str, Val)>,
    /// Positional arguments in order.
    pub positionals: Vec<String>,
}

impl Matches {
    /// The last value given to switch `name`, false when absent.
    pub fn flag(&self, name: &str) -> bool {
        self.switch(name).unwrap_or(false)
    }

    /// The last value given to switch `name`, `None` when absent (runc's `IsSet`).
    pub fn switch(&self, name: &str) -> Option<bool> {
        self.opts.iter().rev().find_map(|(n, v)| match v {
            Val::Switch(b) if *n == name => Some(*b),
            _ => None,
        })
    }

    /// The last value given to option `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.opts.iter().rev().find_map(|(n, v)| match v {
            Val::Text(s) if *n == name => Some(s.as_str()),
            _ => None,
        })
    }

    /// Every value given to a repeatable option `name`, in order.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.opts
            .iter()
            .filter_map(|(n, v)| match v {
                Val::Text(s) if *n == name => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Whether option `name` appeared at all.
    pub fn is_set(&self, name: &str) -> bool {
        self.opts.iter().any(|(n, _)| *n == name)
    }
}

fn find<'a>(opts: &'a [Opt], name: &str) -> Option<&'a Opt> {
    if name == "help" || name == "h" {
        return Some(&HELP_OPT);
    }
    opts.iter().find(|o| o.names.contains(&name))
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Parses `args` (the arguments after the command name) against `opts`.
pub fn parse(opts: &[Opt], args: &[String], stop: Stop) -> Result<Matches, ParseError> {
    let mut m = Matches::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if let Stop::AfterPositionals(n) = stop {
            if m.positionals.len() >= n {
                m.positionals.push(arg.clone());
                continue;
            }
        }
        if arg == "--" {
            m.positionals.extend(args[i..].iter().cloned());
            break;
        }
        let body = match arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) {
            Some(body) if !body.is_empty() => body,
            _ => {
                m.positionals.push(arg.clone());
                continue;
            }
        };
        let single_dash = !arg.starts_with("--");
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        if let Some(opt) = find(opts, name) {
            let val = match (opt.value, inline) {
                (Some(_), Some(v)) => Val::Text(v.to_string()),
                (Some(_), None) => {
                    let v = args
                        .get(i)
                        .ok_or_else(|| ParseError::new(format!("flag needs an argument: {arg}")))?;
                    i += 1;
                    Val::Text(v.clone())
                }
                (None, Some(v)) => Val::Switch(parse_bool(v).ok_or_else(|| {
                    ParseError::new(format!("invalid boolean value {v:?} for {arg}"))
                })?),
                (None, None) => Val::Switch(true),
            };
            m.opts.push((opt.names[0], val));
            continue;
        }
        if single_dash && inline.is_none() {
            if let Some(consumed) = parse_cluster(opts, body, args.get(i), &mut m) {
                i += consumed;
                continue;
            }
        }
        return Err(ParseError::new(format!(
            "flag provided but not defined: -{name}"
        )));
    }
    Ok(m)
}

/// Expands `-dt` / `-tu1000` / `-u 1000`; returns how many following arguments it used,
/// or `None` (recording nothing) when `cluster` is not made of one-letter names.
fn parse_cluster(
    opts: &[Opt],
    cluster: &str,
    next: Option<&String>,
    m: &mut Matches,
) -> Option<usize> {
    let mut found = Vec::new();
    let mut consumed = 0;
    for (pos, c) in cluster.char_indices() {
        let mut buf = [0u8; 4];
        let opt = find(opts, c.encode_utf8(&mut buf))?;
        if opt.value.is_none() {
            found.push((opt.names[0], Val::Switch(true)));
            continue;
        }
        let rest = &cluster[pos + c.len_utf8()..];
        let value = if rest.is_empty() {
            consumed = 1;
            next?.clone()
        } else {
            rest.to_string()
        };
        found.push((opt.names[0], Val::Text(value)));
        break;
    }
    m.opts.extend(found);
    Some(consumed)
}

/// Checks the number of positionals the way runc's `checkArgs` words it.
pub fn check_count(
    cmd: &str,
    got: usize,
    min: usize,
    max: Option<usize>,
) -> Result<(), ParseError> {
    let msg = match max {
        Some(max) if min == max && got != min => {
            format!("{cmd:?} requires exactly {min} argument(s)")
        }
        _ if got < min => format!("{cmd:?} requires a minimum of {min} argument(s)"),
        Some(max) if got > max => format!("{cmd:?} requires a maximum of {max} argument(s)"),
        _ => return Ok(()),
    };
    Err(ParseError::new(msg))
}
