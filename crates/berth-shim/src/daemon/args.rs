//! The command line, parsed by hand (no clap: the shim's size is a product target).

use std::path::PathBuf;

/// Usage text for `--help` and for errors.
pub const USAGE: &str = "usage: berth-shim --id ID --bundle DIR --state-dir DIR --runtime PATH \
--runtime-root DIR --log-path FILE [--log-max-size BYTES] [--log-max-file N] [--tty] [--stdin] \
[--stdin-once] [--wait-start]";

/// Everything the shim is told at launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// Container ID (the runtime's).
    pub id: String,
    /// OCI bundle directory (holds `config.json`).
    pub bundle: PathBuf,
    /// Where `shim.sock`, `shim.pid`, `exit.json` live; the shim's working directory.
    pub state_dir: PathBuf,
    /// The `berth-runtime` binary.
    pub runtime: PathBuf,
    /// `berth-runtime --root`.
    pub runtime_root: PathBuf,
    /// The json-file log.
    pub log_path: PathBuf,
    /// Rotate when the log reaches this many bytes; 0 never.
    pub log_max_size: u64,
    /// How many log files to keep, the current one included (at least 1).
    pub log_max_file: u32,
    /// The container's process has a terminal (`process.terminal` in the bundle).
    pub tty: bool,
    /// Keep a stdin pipe open for attachers.
    pub stdin: bool,
    /// Close the container's stdin when the first attacher with stdin hangs up.
    pub stdin_once: bool,
    /// Create the container but start it only on a `start` request.
    pub wait_start: bool,
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Run a shim.
    Run(Box<Args>),
    /// `--help`.
    Help,
}

/// Parses the arguments after `argv[0]`; `--flag value` and `--flag=value` are accepted.
pub fn parse(argv: &[String]) -> Result<Parsed, String> {
    let mut id = None;
    let mut bundle = None;
    let mut state_dir = None;
    let mut runtime = None;
    let mut runtime_root = None;
    let mut log_path = None;
    let mut log_max_size = 0u64;
    let mut log_max_file = 1u32;
    let (mut tty, mut stdin, mut stdin_once, mut wait_start) = (false, false, false, false);
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("{what} needs a value")),
            }
        };
        match name {
            "--help" | "-h" => return Ok(Parsed::Help),
            "--id" => id = Some(value(name)?),
            "--bundle" => bundle = Some(PathBuf::from(value(name)?)),
            "--state-dir" => state_dir = Some(PathBuf::from(value(name)?)),
            "--runtime" => runtime = Some(PathBuf::from(value(name)?)),
            "--runtime-root" => runtime_root = Some(PathBuf::from(value(name)?)),
            "--log-path" => log_path = Some(PathBuf::from(value(name)?)),
            "--log-max-size" => {
                let v = value(name)?;
                log_max_size = v
                    .parse()
                    .map_err(|_| format!("--log-max-size: {v:?} is not a number of bytes"))?;
            }
            "--log-max-file" => {
                let v = value(name)?;
                log_max_file = v
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| format!("--log-max-file: {v:?} is not a count >= 1"))?;
            }
            "--tty" | "--stdin" | "--stdin-once" | "--wait-start" if inline.is_none() => match name
            {
                "--tty" => tty = true,
                "--stdin" => stdin = true,
                "--stdin-once" => stdin_once = true,
                _ => wait_start = true,
            },
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    let need = |v: Option<PathBuf>, flag: &str| v.ok_or_else(|| format!("{flag} is required"));
    let id = id.ok_or("--id is required")?;
    if id.is_empty() || id.contains('/') {
        return Err(format!("--id {id:?} is not a container ID"));
    }
    let state_dir = need(state_dir, "--state-dir")?;
    let bundle = need(bundle, "--bundle")?;
    let runtime = need(runtime, "--runtime")?;
    let runtime_root = need(runtime_root, "--runtime-root")?;
    let log_path = need(log_path, "--log-path")?;
    // The shim works in its state directory; relative paths would change meaning.
    for (flag, p) in [
        ("--bundle", &bundle),
        ("--state-dir", &state_dir),
        ("--runtime", &runtime),
        ("--runtime-root", &runtime_root),
        ("--log-path", &log_path),
    ] {
        if !p.is_absolute() {
            return Err(format!("{flag} {} must be an absolute path", p.display()));
        }
    }
    Ok(Parsed::Run(Box::new(Args {
        id,
        bundle,
        state_dir,
        runtime,
        runtime_root,
        log_path,
        log_max_size,
        log_max_file,
        tty,
        stdin,
        // Docker's StdinOnce only means something with an open stdin.
        stdin_once: stdin_once && stdin,
        wait_start,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    const BASE: &str = "--id c1 --bundle /b --state-dir /s --runtime /r --runtime-root /rr \
                        --log-path /l/c1-json.log";

    #[test]
    fn parses_every_flag() {
        let Ok(Parsed::Run(a)) = parse(&argv(&format!(
            "{BASE} --log-max-size=1000 --log-max-file 3 --tty --stdin --stdin-once --wait-start"
        ))) else {
            panic!("should parse")
        };
        assert_eq!(a.id, "c1");
        assert_eq!(a.log_path, PathBuf::from("/l/c1-json.log"));
        assert_eq!((a.log_max_size, a.log_max_file), (1000, 3));
        assert!(a.tty && a.stdin && a.stdin_once && a.wait_start);
    }

    #[test]
    fn defaults_and_errors() {
        let Ok(Parsed::Run(a)) = parse(&argv(BASE)) else {
            panic!("should parse")
        };
        assert_eq!((a.log_max_size, a.log_max_file), (0, 1));
        assert!(!a.tty && !a.stdin && !a.stdin_once && !a.wait_start);
        assert_eq!(parse(&argv("--help")), Ok(Parsed::Help));
        assert_eq!(
            parse(&argv("--id c1")),
            Err("--state-dir is required".into())
        );
        assert!(parse(&argv(&format!("{BASE} --log-max-file 0")))
            .expect_err("must fail")
            .contains("--log-max-file"));
        assert!(parse(&argv(&format!("{BASE} --bogus")))
            .expect_err("must fail")
            .contains("--bogus"));
        assert!(parse(&argv(&format!("{BASE} --bundle rel")))
            .expect_err("must fail")
            .contains("absolute"));
        // --stdin-once without --stdin is meaningless and ignored.
        let Ok(Parsed::Run(a)) = parse(&argv(&format!("{BASE} --stdin-once"))) else {
            panic!("should parse")
        };
        assert!(!a.stdin_once);
    }
}
