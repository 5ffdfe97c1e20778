//! Running `nft` (spawned directly, never through a shell) and reading its JSON listing.
//!
//! Changes go in as text batches on `nft -f -`: nft applies a whole file as one netlink
//! transaction, so a batch lands completely or not at all
//! (<https://wiki.nftables.org/wiki-nftables/index.php/Atomic_rule_replacement>).
//! Reads come from `nft -j list table`, whose JSON output is stable
//! (libnftables-json(5)).

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::{PortMapping, Proto};
use crate::plan::{FAMILY, MAP_ANY, MAP_IP};

/// Where `nft` is looked for, after the directories of `PATH` (a daemon started by an init
/// system may have a PATH without the sbin directories).
const NFT_FALLBACKS: [&str; 3] = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"];

/// Finds the `nft` binary.
pub(crate) fn locate() -> Result<PathBuf> {
    let from_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|dir| dir.join("nft"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    from_path
        .into_iter()
        .chain(NFT_FALLBACKS.iter().map(PathBuf::from))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::not_found(
                "nft not found in PATH or /usr/sbin, /sbin: install the nftables package",
            )
        })
}

/// One `nft` binary.
#[derive(Debug, Clone)]
pub(crate) struct Nft {
    bin: PathBuf,
}

impl Nft {
    pub(crate) fn new(bin: PathBuf) -> Self {
        Nft { bin }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.bin
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<Output> {
        let spawn_err = |e| Error::io(format!("cannot run {}", self.bin.display()), e);
        let mut child = Command::new(&self.bin)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // nft reads the whole file before it answers, so writing first cannot deadlock
            // on its output. A write error (nft died early) shows in its status and stderr.
            let _ = pipe.write_all(input.as_bytes());
        }
        child
            .wait_with_output()
            .map_err(|e| Error::io(format!("cannot wait for {}", self.bin.display()), e))
    }

    /// Applies `batch` as one transaction. `what` says what it does, for the error.
    /// A key already published to a different address (EEXIST) is a
    /// [`crate::ErrorKind::Conflict`]; any other failure is Internal, with nft's stderr.
    pub(crate) fn apply(&self, what: &str, batch: &str) -> Result<()> {
        let out = self.run(&["-f", "-"], Some(batch))?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let msg = format!(
            "nft -f - failed to {what} ({}): {}",
            out.status,
            stderr.trim_end()
        );
        if stderr.contains("File exists") {
            Err(Error::conflict(msg))
        } else {
            Err(Error::internal(msg))
        }
    }

    /// `nft -j list table ip <table>`: `None` when the table does not exist.
    pub(crate) fn list_table(&self, table: &str) -> Result<Option<Listing>> {
        let out = self.run(&["-j", "list", "table", FAMILY, table], None)?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if stderr.contains("No such file or directory") {
                return Ok(None);
            }
            return Err(Error::internal(format!(
                "nft -j list table {FAMILY} {table} failed ({}): {}",
                out.status,
                stderr.trim_end()
            )));
        }
        parse_listing(&String::from_utf8_lossy(&out.stdout))
            .map(Some)
            .map_err(|reason| {
                Error::internal(format!(
                    "cannot read `nft -j list table {FAMILY} {table}`: {reason}"
                ))
            })
    }
}

/// A rule of berth's table, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleRef {
    pub(crate) chain: String,
    pub(crate) handle: u64,
    pub(crate) comment: Option<String>,
}

/// What `nft -j list table` shows of berth's table: its rules and published ports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Listing {
    pub(crate) rules: Vec<RuleRef>,
    pub(crate) ports: Vec<PortMapping>,
}

type ParseResult<T> = std::result::Result<T, String>;

/// Parses nft's JSON listing of one table (libnftables-json(5)).
pub(crate) fn parse_listing(json: &str) -> ParseResult<Listing> {
    let doc: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let objects = doc
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or("no \"nftables\" array")?;
    let mut listing = Listing::default();
    for obj in objects {
        if let Some(rule) = obj.get("rule") {
            let field = |k: &str| rule.get(k).ok_or(format!("rule without {k:?}: {rule}"));
            listing.rules.push(RuleRef {
                chain: field("chain")?
                    .as_str()
                    .ok_or(format!("rule chain is not a string: {rule}"))?
                    .to_owned(),
                handle: field("handle")?
                    .as_u64()
                    .ok_or(format!("rule handle is not a number: {rule}"))?,
                comment: rule
                    .get("comment")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
        } else if let Some(map) = obj.get("map") {
            let name = map.get("name").and_then(Value::as_str).unwrap_or_default();
            if name != MAP_ANY && name != MAP_IP {
                continue;
            }
            let Some(elems) = map.get("elem").and_then(Value::as_array) else {
                continue;
            };
            for e in elems {
                listing
                    .ports
                    .push(parse_port(name == MAP_IP, e).map_err(|r| format!("{r}: {e}"))?);
            }
        }
    }
    Ok(listing)
}

/// One map element: `[key, value]`, where the key is `{"elem": {"val": K, "comment": C}}`
/// when it has a comment and `K` otherwise, and `K`, `value` are `{"concat": [...]}`.
fn parse_port(with_ip: bool, e: &Value) -> ParseResult<PortMapping> {
    let pair = e.as_array().filter(|a| a.len() == 2).ok_or("not a pair")?;
    let (mut key, value) = (&pair[0], &pair[1]);
    let mut comment = "";
    if let Some(elem) = key.get("elem") {
        comment = elem.get("comment").and_then(Value::as_str).unwrap_or("");
        key = elem.get("val").ok_or("elem without val")?;
    }
    let key = concat(key)?;
    let value = concat(value)?;
    let (host_ip, rest) = match (with_ip, key) {
        (true, [ip, rest @ ..]) => (Some(addr(ip)?), rest),
        (false, rest) => (None, rest),
        _ => return Err("empty key".into()),
    };
    let [proto, host_port] = rest else {
        return Err("key is not proto . port".into());
    };
    let [container_ip, container_port] = value else {
        return Err("value is not addr . port".into());
    };
    // Elements berth wrote carry "<container> <bridge>"; anything else has no owner.
    let (container, bridge) = comment.split_once(' ').unwrap_or(("", ""));
    Ok(PortMapping {
        container: container.to_owned(),
        proto: proto
            .as_str()
            .map(str::to_owned)
            .or_else(|| proto.as_u64().map(|n| n.to_string()))
            .ok_or("protocol is neither name nor number")?
            .parse::<Proto>()
            .map_err(|e| e.message)?,
        host_ip,
        host_port: port(host_port)?,
        container_ip: addr(container_ip)?,
        container_port: port(container_port)?,
        bridge: bridge.to_owned(),
    })
}

fn concat(v: &Value) -> ParseResult<&[Value]> {
    v.get("concat")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| "not a concatenation".to_owned())
}

fn addr(v: &Value) -> ParseResult<Ipv4Addr> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an IPv4 address: {v}"))
}

fn port(v: &Value) -> ParseResult<u16> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| format!("not a port: {v}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trimmed output of nft 1.0.6 (`nft -j list table ip berth`).
    const LISTING: &str = r#"{"nftables": [
      {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
      {"table": {"family": "ip", "name": "berth", "handle": 1}},
      {"map": {"family": "ip", "name": "ports_any", "table": "berth", "type": ["inet_proto", "inet_service"], "handle": 1, "map": "ipv4_addr . inet_service",
        "elem": [[{"elem": {"val": {"concat": ["tcp", 8080]}, "comment": "c1 br-a"}}, {"concat": ["10.98.0.2", 80]}],
                 [{"concat": ["udp", 53]}, {"concat": ["10.98.0.3", 5353]}]]}},
      {"map": {"family": "ip", "name": "ports_ip", "table": "berth", "type": ["ipv4_addr", "inet_proto", "inet_service"], "handle": 2, "map": "ipv4_addr . inet_service",
        "elem": [[{"elem": {"val": {"concat": ["127.0.0.1", "udp", 53]}, "comment": "c2 br-b"}}, {"concat": ["10.97.0.2", 53]}]]}},
      {"map": {"family": "ip", "name": "other", "table": "berth", "type": "ipv4_addr", "handle": 3, "map": "ipv4_addr"}},
      {"chain": {"family": "ip", "table": "berth", "name": "nets-forward", "handle": 7}},
      {"rule": {"family": "ip", "table": "berth", "chain": "nets-ingress", "handle": 16, "comment": "net:a", "expr": [{"accept": null}]}},
      {"rule": {"family": "ip", "table": "berth", "chain": "filter-forward", "handle": 9, "expr": [{"accept": null}]}}
    ]}"#;

    #[test]
    fn listing_is_parsed() {
        let l = parse_listing(LISTING).expect("parse");
        assert_eq!(
            l.rules,
            vec![
                RuleRef {
                    chain: "nets-ingress".into(),
                    handle: 16,
                    comment: Some("net:a".into())
                },
                RuleRef {
                    chain: "filter-forward".into(),
                    handle: 9,
                    comment: None
                },
            ]
        );
        let lo = Ipv4Addr::LOCALHOST;
        assert_eq!(
            l.ports,
            vec![
                PortMapping {
                    container: "c1".into(),
                    proto: Proto::Tcp,
                    host_ip: None,
                    host_port: 8080,
                    container_ip: Ipv4Addr::new(10, 98, 0, 2),
                    container_port: 80,
                    bridge: "br-a".into(),
                },
                PortMapping {
                    container: String::new(),
                    proto: Proto::Udp,
                    host_ip: None,
                    host_port: 53,
                    container_ip: Ipv4Addr::new(10, 98, 0, 3),
                    container_port: 5353,
                    bridge: String::new(),
                },
                PortMapping {
                    container: "c2".into(),
                    proto: Proto::Udp,
                    host_ip: Some(lo),
                    host_port: 53,
                    container_ip: Ipv4Addr::new(10, 97, 0, 2),
                    container_port: 53,
                    bridge: "br-b".into(),
                },
            ]
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            "",
            "[]",
            r#"{"nftables": 1}"#,
            r#"{"nftables": [{"rule": {"chain": "x"}}]}"#,
            r#"{"nftables": [{"map": {"name": "ports_any", "elem": [[1, 2]]}}]}"#,
            r#"{"nftables": [{"map": {"name": "ports_ip", "elem": [[{"concat": ["tcp", 1]}, {"concat": ["10.0.0.1", 2]}]]}}]}"#,
            r#"{"nftables": [{"map": {"name": "ports_any", "elem": [[{"concat": ["tcp", 70000]}, {"concat": ["10.0.0.1", 2]}]]}}]}"#,
        ] {
            assert!(parse_listing(bad).is_err(), "{bad}");
        }
    }
}
