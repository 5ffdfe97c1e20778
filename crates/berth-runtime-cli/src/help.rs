//! Help and version text, rendered from the option tables in [`crate::cli`].

use crate::args::{Opt, HELP_OPT};
use crate::cli::{find_command, COMMANDS, GLOBAL_OPTS};
use crate::logging::PROG;
use std::fmt::Write;

/// `--version`: runc's layout, which `docker info` parses (`<name> version <v>`, `spec:`).
pub fn version() -> String {
    let mut s = format!("{PROG} version {}\n", env!("CARGO_PKG_VERSION"));
    if let Some(commit) = option_env!("BERTH_GIT_COMMIT") {
        let _ = writeln!(s, "commit: {commit}");
    }
    let _ = writeln!(s, "spec: {}", berth_spec::OCI_VERSION);
    s
}

/// Help for the whole program, or for one subcommand.
pub fn help(topic: Option<&str>) -> String {
    match topic.and_then(find_command) {
        Some(def) => {
            let mut s = format!(
                "{PROG} {} - {}\n\nUSAGE:\n   {PROG} {}",
                def.name, def.about, def.name
            );
            if !def.opts.is_empty() {
                s.push_str(" [options]");
            }
            if !def.args.is_empty() {
                let _ = write!(s, " {}", def.args);
            }
            s.push('\n');
            if !def.aliases.is_empty() {
                let _ = writeln!(s, "\nALIASES:\n   {}", def.aliases.join(", "));
            }
            s.push_str("\nOPTIONS:\n");
            options(&mut s, def.opts.iter().chain(std::iter::once(&HELP_OPT)));
            s
        }
        None => {
            let mut s = format!(
                "{PROG} - an OCI runtime (runtime-spec {}), command-line compatible with runc\n\n\
                 USAGE:\n   {PROG} [global options] <command> [options] [arguments...]\n\n\
                 COMMANDS:\n",
                berth_spec::OCI_VERSION
            );
            let width = COMMANDS.iter().map(|c| c.name.len()).max().unwrap_or(0);
            for c in COMMANDS {
                let _ = writeln!(s, "   {:width$}   {}", c.name, c.about);
            }
            let _ = writeln!(s, "   {:width$}   show help for a command", "help");
            s.push_str("\nGLOBAL OPTIONS:\n");
            options(&mut s, GLOBAL_OPTS.iter().chain(std::iter::once(&HELP_OPT)));
            s
        }
    }
}

fn options<'a>(s: &mut String, opts: impl Iterator<Item = &'a Opt> + Clone) {
    let spell = |o: &Opt| {
        let mut names: Vec<String> = o
            .names
            .iter()
            .map(|n| {
                if n.len() == 1 {
                    format!("-{n}")
                } else {
                    format!("--{n}")
                }
            })
            .collect();
        if let Some(v) = o.value {
            if let Some(first) = names.first_mut() {
                first.push(' ');
                first.push_str(v);
            }
        }
        names.join(", ")
    };
    let width = opts.clone().map(|o| spell(o).len()).max().unwrap_or(0);
    for o in opts {
        let _ = writeln!(s, "   {:width$}   {}", spell(o), o.help);
    }
}
