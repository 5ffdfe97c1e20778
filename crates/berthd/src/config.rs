//! dockerd's flags and `daemon.json`, merged as dockerd does: a setting given both as a
//! flag and in the file is an error, unknown file keys are an error, the rest falls back
//! to the defaults.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use berth_model::docker::ResourcesUlimits;
use clap::Parser;

/// Default API socket.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";
/// Default `--config-file`.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/berth/daemon.json";

/// Command line, with dockerd's flag names.
#[derive(Debug, Parser, Default)]
#[command(
    name = "berthd",
    about = "The berth container engine (Docker Engine API)"
)]
pub struct Flags {
    /// Daemon socket(s) to listen on: unix:///path or tcp://addr:port (repeatable).
    #[arg(short = 'H', long = "host", value_name = "ADDR")]
    pub hosts: Vec<String>,
    /// Root of persistent state.
    #[arg(long = "data-root", value_name = "DIR")]
    pub data_root: Option<PathBuf>,
    /// Root of runtime state (lost at reboot).
    #[arg(long = "exec-root", value_name = "DIR")]
    pub exec_root: Option<PathBuf>,
    /// Path of the pid file (default <exec-root>/berthd.pid).
    #[arg(short = 'p', long = "pidfile", value_name = "FILE")]
    pub pidfile: Option<PathBuf>,
    /// Logging level: debug, info, warn, error, fatal.
    #[arg(short = 'l', long = "log-level", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Registry reachable over plain HTTP or with an untrusted certificate (repeatable).
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
    /// Storage driver: overlay2 or vfs.
    #[arg(short = 's', long = "storage-driver", value_name = "DRIVER")]
    pub storage_driver: Option<String>,
    /// Attach containers to a network bridge: `none` leaves out the default `bridge`
    /// network (containers without a network get loopback only).
    #[arg(short = 'b', long = "bridge", value_name = "BRIDGE")]
    pub bridge: Option<String>,
    /// Default ulimit for containers, name=soft[:hard] (repeatable).
    #[arg(long = "default-ulimit", value_name = "ULIMIT")]
    pub default_ulimits: Vec<String>,
    /// Daemon configuration file.
    #[arg(long = "config-file", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// Serve TCP sockets over TLS; implied by --tlsverify (and by --tlscert/--tlskey).
    #[arg(long = "tls", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub tls: Option<bool>,
    /// Serve TCP sockets over TLS and require client certificates chaining to --tlscacert
    /// (default from DOCKER_TLS_VERIFY; --tlsverify=false: TLS without client certificates).
    #[arg(long = "tlsverify", value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub tlsverify: Option<bool>,
    /// CA certificate that client certificates must chain to (default
    /// $DOCKER_CERT_PATH/ca.pem, else ~/.docker/ca.pem).
    #[arg(long = "tlscacert", value_name = "FILE")]
    pub tlscacert: Option<PathBuf>,
    /// Server certificate, PEM, server first (default $DOCKER_CERT_PATH/cert.pem).
    #[arg(long = "tlscert", value_name = "FILE")]
    pub tlscert: Option<PathBuf>,
    /// Server key, PEM: PKCS#8, PKCS#1 RSA or SEC1 EC (default $DOCKER_CERT_PATH/key.pem).
    #[arg(long = "tlskey", value_name = "FILE")]
    pub tlskey: Option<PathBuf>,
    /// The OCI runtime binary (default: berth-runtime next to berthd).
    #[arg(long = "runtime-path", value_name = "FILE")]
    pub runtime_path: Option<PathBuf>,
    /// The shim binary (default: berth-shim next to berthd).
    #[arg(long = "shim-path", value_name = "FILE")]
    pub shim_path: Option<PathBuf>,
    /// The init binary for --init (default: berth-init next to berthd).
    #[arg(long = "init-path", value_name = "FILE")]
    pub init_path: Option<PathBuf>,
    /// What dockerd reads from its environment for TLS; [`load`] fills it in, so
    /// [`merge`] stays a pure function of its arguments.
    #[arg(skip)]
    pub tls_env: TlsEnv,
}

/// dockerd's TLS environment: `DOCKER_TLS_VERIFY` (any non-empty value turns
/// verification on) and the directory of the default `ca.pem`, `cert.pem`, `key.pem`
/// (`DOCKER_CERT_PATH`, else `DOCKER_CONFIG`, else `~/.docker`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsEnv {
    /// `DOCKER_TLS_VERIFY` is set and not empty.
    pub verify: bool,
    /// Where the default certificate files are looked for; `None` means no defaults.
    pub cert_dir: Option<PathBuf>,
}

impl TlsEnv {
    /// Reads the process environment.
    pub fn from_env() -> TlsEnv {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let cert_dir = var("DOCKER_CERT_PATH")
            .or_else(|| var("DOCKER_CONFIG"))
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".docker")));
        TlsEnv {
            verify: var("DOCKER_TLS_VERIFY").is_some(),
            cert_dir,
        }
    }
}

/// `daemon.json`, with dockerd's keys.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    /// `"hosts"`.
    pub hosts: Option<Vec<String>>,
    /// `"data-root"`.
    pub data_root: Option<PathBuf>,
    /// `"exec-root"`.
    pub exec_root: Option<PathBuf>,
    /// `"pidfile"`.
    pub pidfile: Option<PathBuf>,
    /// `"log-level"`.
    pub log_level: Option<String>,
    /// `"insecure-registries"`.
    pub insecure_registries: Option<Vec<String>>,
    /// `"storage-driver"`.
    pub storage_driver: Option<String>,
    /// `"bridge"`.
    pub bridge: Option<String>,
    /// `"default-ulimits"`: `{"nofile":{"Name":"nofile","Soft":1024,"Hard":2048}}`.
    pub default_ulimits: Option<BTreeMap<String, FileUlimit>>,
    /// `"tls"`.
    pub tls: Option<bool>,
    /// `"tlsverify"`.
    pub tlsverify: Option<bool>,
    /// `"tlscacert"`.
    pub tlscacert: Option<PathBuf>,
    /// `"tlscert"`.
    pub tlscert: Option<PathBuf>,
    /// `"tlskey"`.
    pub tlskey: Option<PathBuf>,
}

/// One `default-ulimits` entry of `daemon.json` (Go's `units.Ulimit`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileUlimit {
    /// Resource name (may be omitted: the map key is used).
    #[serde(default)]
    pub name: Option<String>,
    /// Soft limit.
    pub soft: i64,
    /// Hard limit.
    pub hard: i64,
}

/// TLS settings of the TCP listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// CA client certificates must chain to; `None` (`--tls` without `--tlsverify`):
    /// clients are not asked for a certificate.
    pub ca: Option<PathBuf>,
    /// Server certificate.
    pub cert: PathBuf,
    /// Server key.
    pub key: PathBuf,
}

/// The daemon's settings once flags, file and defaults are merged.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen addresses, as given (`unix:///…`, `tcp://…`).
    pub hosts: Vec<String>,
    /// `--data-root`.
    pub data_root: PathBuf,
    /// `--exec-root`.
    pub exec_root: PathBuf,
    /// `--pidfile`.
    pub pidfile: PathBuf,
    /// `--log-level`, validated.
    pub log_level: tracing::Level,
    /// `--insecure-registry`.
    pub insecure_registries: Vec<String>,
    /// `--storage-driver`.
    pub storage_driver: Option<String>,
    /// The default `bridge` network exists (`--bridge none` turns it off).
    pub bridge: bool,
    /// `--default-ulimit`, parsed.
    pub default_ulimits: Vec<ResourcesUlimits>,
    /// TLS for TCP listeners (`--tls`, `--tlsverify`, or a certificate and key given).
    pub tls: Option<TlsSettings>,
    /// `berth-runtime`.
    pub runtime: PathBuf,
    /// `berth-shim`.
    pub shim: PathBuf,
    /// `berth-init`.
    pub init: PathBuf,
}

const ULIMIT_NAMES: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

fn ulimit(name: &str, soft: i64, hard: i64, origin: &str) -> Result<ResourcesUlimits> {
    if !ULIMIT_NAMES.contains(&name) {
        bail!(
            "{origin}: invalid ulimit type {name:?} (one of {})",
            ULIMIT_NAMES.join(", ")
        );
    }
    if soft > hard {
        bail!("{origin}: ulimit soft limit {soft} must be less than or equal to hard limit {hard}");
    }
    Ok(ResourcesUlimits {
        name: Some(name.to_string()),
        soft: Some(soft),
        hard: Some(hard),
    })
}

/// Parses `--default-ulimit name=soft[:hard]` (a missing hard limit equals the soft one).
pub fn parse_ulimit(raw: &str) -> Result<ResourcesUlimits> {
    let origin = format!("--default-ulimit {raw:?}");
    let Some((name, limits)) = raw.split_once('=') else {
        bail!("{origin}: expected name=soft[:hard]");
    };
    let num = |s: &str| -> Result<i64> {
        s.trim()
            .parse::<i64>()
            .with_context(|| format!("{origin}: {s:?} is not a number"))
    };
    let (soft, hard) = match limits.split_once(':') {
        Some((s, h)) => (num(s)?, num(h)?),
        None => {
            let v = num(limits)?;
            (v, v)
        }
    };
    ulimit(name.trim(), soft, hard, &origin)
}

fn log_level(raw: &str) -> Result<tracing::Level> {
    Ok(match raw.to_ascii_lowercase().as_str() {
        "debug" => tracing::Level::DEBUG,
        "info" => tracing::Level::INFO,
        "warn" | "warning" => tracing::Level::WARN,
        "error" | "fatal" | "panic" => tracing::Level::ERROR,
        _ => bail!("invalid log level {raw:?}: debug, info, warn, error or fatal"),
    })
}

/// Reads `daemon.json`. A missing file is fine only at the default path.
pub fn read_file(path: &Path, explicit: bool) -> Result<FileConfig> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            return Ok(FileConfig::default())
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if text.trim().is_empty() {
        return Ok(FileConfig::default());
    }
    serde_json::from_str(&text)
        .with_context(|| format!("unable to configure the daemon from {}", path.display()))
}

/// Merges flags, file and defaults; `exe_dir` is where berthd's sibling binaries live.
pub fn merge(flags: Flags, file: FileConfig, exe_dir: &Path) -> Result<Settings> {
    let mut conflicts = Vec::new();
    fn pick<T: std::fmt::Debug>(
        name: &str,
        flag: Option<T>,
        file: Option<T>,
        conflicts: &mut Vec<String>,
    ) -> Option<T> {
        match (flag, file) {
            (Some(a), Some(b)) => {
                conflicts.push(format!("{name}: (from flag: {a:?}, from file: {b:?})"));
                Some(a)
            }
            (a, b) => a.or(b),
        }
    }
    let nonempty = |v: Vec<String>| (!v.is_empty()).then_some(v);
    let hosts = pick("hosts", nonempty(flags.hosts), file.hosts, &mut conflicts);
    let data_root = pick("data-root", flags.data_root, file.data_root, &mut conflicts);
    let exec_root = pick("exec-root", flags.exec_root, file.exec_root, &mut conflicts);
    let pidfile = pick("pidfile", flags.pidfile, file.pidfile, &mut conflicts);
    let level = pick("log-level", flags.log_level, file.log_level, &mut conflicts);
    let insecure = pick(
        "insecure-registries",
        nonempty(flags.insecure_registries),
        file.insecure_registries,
        &mut conflicts,
    );
    let storage_driver = pick(
        "storage-driver",
        flags.storage_driver,
        file.storage_driver,
        &mut conflicts,
    );
    let bridge = match pick("bridge", flags.bridge, file.bridge, &mut conflicts).as_deref() {
        None | Some("") => true,
        Some("none") => false,
        Some(other) => bail!(
            "--bridge {other:?}: berth makes its own default bridge (berth0); only \"none\" is accepted"
        ),
    };
    let flag_ulimits = nonempty(flags.default_ulimits);
    let file_ulimits = file.default_ulimits;
    if flag_ulimits.is_some() && file_ulimits.is_some() {
        conflicts.push(format!(
            "default-ulimits: (from flag: {flag_ulimits:?}, from file: {file_ulimits:?})"
        ));
    }
    let tls_flag = pick("tls", flags.tls, file.tls, &mut conflicts);
    let tlsverify = pick("tlsverify", flags.tlsverify, file.tlsverify, &mut conflicts);
    let tlscacert = pick("tlscacert", flags.tlscacert, file.tlscacert, &mut conflicts);
    let tlscert = pick("tlscert", flags.tlscert, file.tlscert, &mut conflicts);
    let tlskey = pick("tlskey", flags.tlskey, file.tlskey, &mut conflicts);
    if !conflicts.is_empty() {
        bail!(
            "the following directives are specified both as a flag and in the configuration file: {}",
            conflicts.join(", ")
        );
    }

    let default_ulimits = match (flag_ulimits, file_ulimits) {
        (Some(raw), _) => raw.iter().map(|r| parse_ulimit(r)).collect::<Result<_>>()?,
        (None, Some(map)) => map
            .iter()
            .map(|(key, u)| {
                let name = u.name.clone().unwrap_or_else(|| key.clone());
                ulimit(&name, u.soft, u.hard, &format!("default-ulimits {key:?}"))
            })
            .collect::<Result<_>>()?,
        (None, None) => Vec::new(),
    };
    let hosts = hosts.unwrap_or_else(|| vec![DEFAULT_HOST.to_string()]);
    for host in &hosts {
        crate::listen::Address::parse(host)?;
    }
    let exec_root = exec_root.unwrap_or_else(|| PathBuf::from("/run/berth"));
    let tls = tls_settings(
        &flags.tls_env,
        tls_flag,
        tlsverify,
        tlscacert,
        tlscert,
        tlskey,
    )?;
    Ok(Settings {
        hosts,
        data_root: data_root.unwrap_or_else(|| PathBuf::from("/var/lib/berth")),
        pidfile: pidfile.unwrap_or_else(|| exec_root.join("berthd.pid")),
        exec_root,
        log_level: log_level(level.as_deref().unwrap_or("info"))?,
        insecure_registries: insecure.unwrap_or_default(),
        storage_driver,
        bridge,
        default_ulimits,
        tls,
        runtime: flags
            .runtime_path
            .unwrap_or_else(|| exe_dir.join("berth-runtime")),
        shim: flags
            .shim_path
            .unwrap_or_else(|| exe_dir.join("berth-shim")),
        init: flags
            .init_path
            .unwrap_or_else(|| exe_dir.join("berth-init")),
    })
}

/// dockerd's rules for TLS: `--tlsverify` given at all (or `DOCKER_TLS_VERIFY`) turns TLS
/// on, with client verification unless it says `false`; `--tls` turns it on without.
/// Unlike dockerd, a certificate and key given without either also turn TLS on (dockerd
/// would serve plain TCP and ignore them). Files not given default to the environment's
/// certificate directory; whether they exist and parse is checked when the listeners are
/// made, so the error names the file.
fn tls_settings(
    env: &TlsEnv,
    tls: Option<bool>,
    verify: Option<bool>,
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
) -> Result<Option<TlsSettings>> {
    let on = verify.is_some()
        || env.verify
        || tls == Some(true)
        || (tls.is_none() && (cert.is_some() || key.is_some()));
    if !on {
        return Ok(None);
    }
    let verify = verify.unwrap_or(env.verify);
    let default = |name: &str| env.cert_dir.as_ref().map(|d| d.join(name));
    let Some(cert) = cert.or_else(|| default("cert.pem")) else {
        bail!("TLS needs a server certificate: give --tlscert (and --tlskey)");
    };
    let Some(key) = key.or_else(|| default("key.pem")) else {
        bail!("TLS needs the server certificate's key: give --tlskey");
    };
    let ca = if verify {
        let Some(ca) = ca.or_else(|| default("ca.pem")) else {
            bail!("--tlsverify needs --tlscacert: the CA client certificates must chain to");
        };
        Some(ca)
    } else {
        None
    };
    Ok(Some(TlsSettings { ca, cert, key }))
}

/// Parses the command line and the configuration file it names.
pub fn load(
    args: impl IntoIterator<Item = std::ffi::OsString>,
    exe_dir: &Path,
) -> Result<Settings> {
    let mut flags = Flags::try_parse_from(args)?;
    flags.tls_env = TlsEnv::from_env();
    let (path, explicit) = match &flags.config_file {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
    };
    let file = read_file(&path, explicit)?;
    merge(flags, file, exe_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> Flags {
        Flags::try_parse_from(std::iter::once("berthd").chain(args.iter().copied()))
            .unwrap_or_default()
    }

    #[test]
    fn defaults() -> Result<()> {
        let s = merge(
            Flags::default(),
            FileConfig::default(),
            Path::new("/opt/berth/bin"),
        )?;
        assert_eq!(s.hosts, vec![DEFAULT_HOST]);
        assert_eq!(s.data_root, Path::new("/var/lib/berth"));
        assert_eq!(s.pidfile, Path::new("/run/berth/berthd.pid"));
        assert_eq!(s.runtime, Path::new("/opt/berth/bin/berth-runtime"));
        assert_eq!(s.shim, Path::new("/opt/berth/bin/berth-shim"));
        assert_eq!(s.init, Path::new("/opt/berth/bin/berth-init"));
        assert_eq!(s.log_level, tracing::Level::INFO);
        Ok(())
    }

    #[test]
    fn flags_and_file() -> Result<()> {
        let file: FileConfig = serde_json::from_str(
            r#"{"data-root":"/d","default-ulimits":{"nofile":{"Name":"nofile","Soft":1024,"Hard":2048}},
                "insecure-registries":["r:5000"],"log-level":"debug"}"#,
        )?;
        let s = merge(
            flags(&[
                "-H",
                "unix:///tmp/a.sock",
                "-H",
                "tcp://127.0.0.1:2375",
                "--exec-root",
                "/e",
            ]),
            file,
            Path::new("/x"),
        )?;
        assert_eq!(s.hosts.len(), 2);
        assert_eq!(s.data_root, Path::new("/d"));
        assert_eq!(s.pidfile, Path::new("/e/berthd.pid"));
        assert_eq!(s.insecure_registries, vec!["r:5000"]);
        assert_eq!(s.log_level, tracing::Level::DEBUG);
        assert_eq!(s.default_ulimits[0].soft, Some(1024));
        assert_eq!(s.default_ulimits[0].hard, Some(2048));
        Ok(())
    }

    #[test]
    fn conflicts_and_bad_values() -> Result<()> {
        let file: FileConfig = serde_json::from_str(r#"{"data-root":"/d","hosts":["unix:///a"]}"#)?;
        let err = merge(flags(&["--data-root", "/f"]), file, Path::new("/x"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("both as a flag and in the configuration file"),
            "{err}"
        );
        assert!(err.contains("data-root") && !err.contains("hosts"), "{err}");

        assert!(serde_json::from_str::<FileConfig>(r#"{"log-driver":"x"}"#).is_err());
        let bad_host = merge(
            flags(&["-H", "http://x"]),
            FileConfig::default(),
            Path::new("/"),
        );
        assert!(bad_host.is_err());
        assert!(parse_ulimit("nofile=10:5").is_err());
        assert!(parse_ulimit("nofiles=10").is_err());
        assert_eq!(parse_ulimit("nproc=64")?.hard, Some(64));
        let bad_level = merge(
            flags(&["--log-level", "loud"]),
            FileConfig::default(),
            Path::new("/"),
        );
        assert!(bad_level.is_err());
        let tls = merge(
            flags(&["--tlsverify", "--tlscert", "c", "--tlskey", "k"]),
            FileConfig::default(),
            Path::new("/"),
        );
        assert!(tls.is_err(), "tlsverify without a CA");
        Ok(())
    }

    fn tls_of(args: &[&str], file: &str, env: TlsEnv) -> Result<Option<TlsSettings>> {
        let mut f = flags(args);
        f.tls_env = env;
        let file: FileConfig = serde_json::from_str(file)?;
        Ok(merge(f, file, Path::new("/x"))?.tls)
    }

    fn tls(ca: Option<&str>, cert: &str, key: &str) -> Option<TlsSettings> {
        Some(TlsSettings {
            ca: ca.map(PathBuf::from),
            cert: cert.into(),
            key: key.into(),
        })
    }

    #[test]
    fn tls_like_dockerd() -> Result<()> {
        let none = TlsEnv::default;
        assert_eq!(tls_of(&[], "{}", none())?, None);
        assert_eq!(
            tls_of(
                &[
                    "--tlsverify",
                    "--tlscacert",
                    "ca",
                    "--tlscert",
                    "c",
                    "--tlskey",
                    "k"
                ],
                "{}",
                none()
            )?,
            tls(Some("ca"), "c", "k")
        );
        assert_eq!(
            tls_of(
                &[
                    "--tls",
                    "--tlscacert",
                    "ca",
                    "--tlscert",
                    "c",
                    "--tlskey",
                    "k"
                ],
                "{}",
                none()
            )?,
            tls(None, "c", "k"),
            "--tls: no client verification, the CA is not used"
        );
        assert_eq!(
            tls_of(&["--tlscert", "c", "--tlskey", "k"], "{}", none())?,
            tls(None, "c", "k"),
            "a certificate and key alone turn TLS on"
        );
        assert_eq!(
            tls_of(
                &["--tlsverify=false", "--tlscert", "c", "--tlskey", "k"],
                "{}",
                none()
            )?,
            tls(None, "c", "k")
        );
        assert_eq!(
            tls_of(
                &["--tls=false", "--tlscert", "c", "--tlskey", "k"],
                "{}",
                none()
            )?,
            None
        );
        assert!(
            tls_of(&["--tls", "--tlscert", "c"], "{}", none()).is_err(),
            "no key"
        );
        assert_eq!(
            tls_of(
                &[],
                r#"{"tlsverify":true,"tlscacert":"ca","tlscert":"c","tlskey":"k"}"#,
                none()
            )?,
            tls(Some("ca"), "c", "k"),
            "daemon.json"
        );
        assert!(
            tls_of(&["--tlsverify"], r#"{"tlsverify":true}"#, none()).is_err(),
            "flag and file both"
        );
        // DOCKER_TLS_VERIFY and the default files of DOCKER_CERT_PATH.
        let env = TlsEnv {
            verify: true,
            cert_dir: Some(PathBuf::from("/certs")),
        };
        assert_eq!(
            tls_of(&[], "{}", env.clone())?,
            tls(Some("/certs/ca.pem"), "/certs/cert.pem", "/certs/key.pem")
        );
        assert_eq!(
            tls_of(&["--tlsverify=false", "--tlskey", "/k"], "{}", env.clone())?,
            tls(None, "/certs/cert.pem", "/k"),
            "flags win over the environment"
        );
        Ok(())
    }
}
