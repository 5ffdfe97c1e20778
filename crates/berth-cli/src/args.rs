//! Docker's flag syntax (spf13/pflag): `-dit`, `-p80:80`, `-t=1`, `--name x`, `--name=x`,
//! `--rm=false`, repeated flags, `--` to end flags, and for `run`/`create`/`exec` parsing
//! stops at the first positional argument so the container's own flags pass through.

use std::collections::HashMap;

/// Whether a flag takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A switch: `--rm`, `--rm=false`.
    Bool,
    /// Takes a value: `--name x`, `--name=x`, `-e A=1`.
    Value,
}

/// One flag of a command.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// Long name without dashes.
    pub long: &'static str,
    /// Short letter, if any.
    pub short: Option<char>,
    /// Switch or value.
    pub kind: Kind,
    /// One line for `--help`.
    pub help: &'static str,
}

/// A switch flag.
pub const fn b(long: &'static str, short: Option<char>, help: &'static str) -> Flag {
    Flag {
        long,
        short,
        kind: Kind::Bool,
        help,
    }
}

/// A flag with a value.
pub const fn v(long: &'static str, short: Option<char>, help: &'static str) -> Flag {
    Flag {
        long,
        short,
        kind: Kind::Value,
        help,
    }
}

/// A command line that does not parse: docker prints it with a pointer to `--help` and
/// exits 125.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The parsed flags and positional arguments of one command.
#[derive(Debug, Default, Clone)]
pub struct Parsed {
    values: HashMap<&'static str, Vec<String>>,
    /// Positional arguments, in order (after the first one for non-interspersed commands,
    /// everything as given).
    pub args: Vec<String>,
    /// `--help` / `-h` (when `-h` is not a flag of the command) was given.
    pub help: bool,
}

impl Parsed {
    /// All values of a flag, in order.
    pub fn all(&self, long: &str) -> &[String] {
        self.values.get(long).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The last value of a flag.
    pub fn get(&self, long: &str) -> Option<&str> {
        self.all(long).last().map(String::as_str)
    }

    /// The last value or "".
    pub fn str(&self, long: &str) -> &str {
        self.get(long).unwrap_or("")
    }

    /// Whether a flag was given at all.
    pub fn has(&self, long: &str) -> bool {
        self.values.contains_key(long)
    }

    /// A switch's value (the last one wins; `--x=false` turns it off).
    pub fn on(&self, long: &str) -> bool {
        self.get(long).is_some_and(|v| v == "true")
    }
}

fn parse_bool(flag: &str, v: &str) -> Result<String, UsageError> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok("true".into()),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok("false".into()),
        _ => Err(UsageError(format!("invalid argument {v:?} for \"{flag}\" flag: strconv.ParseBool: parsing {v:?}: invalid syntax"))),
    }
}

/// Parses `argv` (the words after the command name) against `flags`. With
/// `interspersed == false`, the first positional argument and everything after it are
/// positional.
pub fn parse(flags: &[Flag], argv: &[String], interspersed: bool) -> Result<Parsed, UsageError> {
    let mut p = Parsed::default();
    let mut i = 0;
    let find_long = |n: &str| flags.iter().find(|f| f.long == n);
    let find_short = |c: char| flags.iter().find(|f| f.short == Some(c));
    while i < argv.len() {
        let a = &argv[i];
        i += 1;
        if a == "--" {
            p.args.extend(argv[i..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let Some(f) = find_long(name) else {
                if name == "help" {
                    p.help = true;
                    continue;
                }
                return Err(UsageError(format!("unknown flag: --{name}")));
            };
            let val = match (f.kind, inline) {
                (Kind::Bool, None) => "true".to_string(),
                (Kind::Bool, Some(v)) => parse_bool(&format!("--{name}"), &v)?,
                (Kind::Value, Some(v)) => v,
                (Kind::Value, None) => {
                    let Some(v) = argv.get(i) else {
                        return Err(UsageError(format!("flag needs an argument: --{name}")));
                    };
                    i += 1;
                    v.clone()
                }
            };
            p.values.entry(f.long).or_default().push(val);
            continue;
        }
        if a.len() > 1 && a.starts_with('-') {
            let shorts: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < shorts.len() {
                let c = shorts[j];
                j += 1;
                let Some(f) = find_short(c) else {
                    if c == 'h' {
                        p.help = true;
                        continue;
                    }
                    return Err(UsageError(format!("unknown shorthand flag: '{c}' in {a}")));
                };
                match f.kind {
                    Kind::Bool => {
                        let val = if shorts.get(j) == Some(&'=') {
                            let rest: String = shorts[j + 1..].iter().collect();
                            j = shorts.len();
                            parse_bool(&format!("-{c}"), &rest)?
                        } else {
                            "true".to_string()
                        };
                        p.values.entry(f.long).or_default().push(val);
                    }
                    Kind::Value => {
                        let rest: String = shorts[j..].iter().collect();
                        let val = if !rest.is_empty() {
                            rest.strip_prefix('=').map(str::to_string).unwrap_or(rest)
                        } else {
                            let Some(v) = argv.get(i) else {
                                return Err(UsageError(format!(
                                    "flag needs an argument: '{c}' in -{c}"
                                )));
                            };
                            i += 1;
                            v.clone()
                        };
                        j = shorts.len();
                        p.values.entry(f.long).or_default().push(val);
                    }
                }
            }
            continue;
        }
        p.args.push(a.clone());
        if !interspersed {
            p.args.extend(argv[i..].iter().cloned());
            break;
        }
    }
    Ok(p)
}

/// The `--help` text of a command.
pub fn help_text(usage: &str, about: &str, flags: &[Flag]) -> String {
    let mut out = format!("\nUsage:  berth {usage}\n");
    if !about.is_empty() {
        out.push_str(&format!("\n{about}\n"));
    }
    if !flags.is_empty() {
        out.push_str("\nOptions:\n");
        for f in flags {
            let short = f
                .short
                .map(|c| format!("-{c}, "))
                .unwrap_or_else(|| "    ".into());
            let val = if f.kind == Kind::Value { " value" } else { "" };
            let left = format!("  {short}--{}{val}", f.long);
            out.push_str(&format!("{left:<32} {}\n", f.help));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[Flag] = &[
        b("detach", Some('d'), ""),
        b("interactive", Some('i'), ""),
        b("tty", Some('t'), ""),
        v("env", Some('e'), ""),
        v("name", None, ""),
        b("rm", None, ""),
        v("publish", Some('p'), ""),
    ];

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn combined_shorts_values_and_stop_at_image() {
        let p = parse(
            FLAGS,
            &s(&[
                "-dit",
                "-eA=1",
                "-e",
                "B=2",
                "--name=x",
                "--rm=false",
                "-p80:80",
                "img",
                "sh",
                "-c",
                "--name",
            ]),
            false,
        )
        .expect("parse");
        assert!(p.on("detach") && p.on("interactive") && p.on("tty"));
        assert_eq!(p.all("env"), ["A=1", "B=2"]);
        assert_eq!(p.get("name"), Some("x"));
        assert!(!p.on("rm"));
        assert_eq!(p.get("publish"), Some("80:80"));
        assert_eq!(p.args, s(&["img", "sh", "-c", "--name"]));
    }

    #[test]
    fn interspersed_and_errors() {
        let p = parse(FLAGS, &s(&["a", "-d", "b", "--", "-t"]), true).expect("parse");
        assert_eq!(p.args, s(&["a", "b", "-t"]));
        assert!(p.on("detach"));
        assert_eq!(
            parse(FLAGS, &s(&["--nope"]), true).expect_err("bad").0,
            "unknown flag: --nope"
        );
        assert_eq!(
            parse(FLAGS, &s(&["-dz"]), true).expect_err("bad").0,
            "unknown shorthand flag: 'z' in -dz"
        );
        assert_eq!(
            parse(FLAGS, &s(&["--name"]), true).expect_err("bad").0,
            "flag needs an argument: --name"
        );
        assert!(parse(FLAGS, &s(&["--rm=maybe"]), true).is_err());
    }
}
