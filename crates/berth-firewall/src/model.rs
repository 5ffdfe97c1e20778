//! What the engine asks for: networks and published ports, and the checks that make their
//! names safe to put into nft's text syntax (everything is validated before it is quoted).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The longest network or container ID accepted: it goes into a rule or element comment,
/// which nft limits to 128 bytes (`"net:" + id`, `id + " " + bridge`).
pub const MAX_ID_LEN: usize = 100;

/// A transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// nft's (and Docker's) name: `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Proto {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "tcp" | "6" => Ok(Proto::Tcp),
            "udp" | "17" => Ok(Proto::Udp),
            _ => Err(Error::invalid(format!(
                "unknown protocol {s:?} (tcp or udp)"
            ))),
        }
    }
}

/// One container network: a Linux bridge with an IPv4 subnet (made by berth-net).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Network {
    /// The network's ID; it names the network's rules (comment `net:<id>`).
    pub id: String,
    /// The bridge interface, e.g. `berth0`.
    pub bridge: String,
    /// The subnet: address and prefix length (host bits are ignored).
    pub subnet: (Ipv4Addr, u8),
    /// An internal network has no path out of its bridge (and no NAT).
    pub internal: bool,
}

impl Network {
    /// Checks the names and returns the subnet with its host bits cleared.
    pub(crate) fn validate(&self) -> Result<(Ipv4Addr, u8)> {
        check_id("network id", &self.id)?;
        check_ifname(&self.bridge)?;
        let (addr, len) = self.subnet;
        if len == 0 || len > 32 {
            return Err(Error::invalid(format!(
                "network {}: prefix length /{len} of subnet {addr} is not in 1..=32",
                self.id
            )));
        }
        let mask = u32::MAX << (32 - u32::from(len));
        Ok((Ipv4Addr::from(u32::from(addr) & mask), len))
    }
}

/// One published port: `host_ip:host_port/proto` → `container_ip:container_port`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortMapping {
    /// The owner: the container's ID (all of its mappings go with [`crate::Firewall::remove_ports`]).
    pub container: String,
    /// TCP or UDP.
    pub proto: Proto,
    /// The host address the port is published on; `None` (or `0.0.0.0`) means every local
    /// address, `127.0.0.1` means the host's loopback only.
    pub host_ip: Option<Ipv4Addr>,
    /// The port on the host (not 0: the caller picks one, see [`crate::free_host_port`]).
    pub host_port: u16,
    /// The container's address on its network.
    pub container_ip: Ipv4Addr,
    /// The port inside the container.
    pub container_port: u16,
    /// The bridge of the container's network (recorded with the mapping, read back by
    /// [`crate::Firewall::published`]).
    pub bridge: String,
}

impl PortMapping {
    /// `host_ip` with `0.0.0.0` folded into `None`.
    pub(crate) fn host_addr(&self) -> Option<Ipv4Addr> {
        self.host_ip.filter(|ip| !ip.is_unspecified())
    }

    pub(crate) fn validate(&self) -> Result<()> {
        check_id("container id", &self.container)?;
        check_ifname(&self.bridge)?;
        if self.host_port == 0 || self.container_port == 0 {
            return Err(Error::invalid(format!(
                "container {}: port 0 in mapping {}",
                self.container, self
            )));
        }
        Ok(())
    }

    /// The map key, as published: (host address, proto, host port).
    pub(crate) fn key(&self) -> (Option<Ipv4Addr>, Proto, u16) {
        (self.host_addr(), self.proto, self.host_port)
    }
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_addr() {
            Some(ip) => write!(f, "{ip}:")?,
            None => f.write_str("0.0.0.0:")?,
        }
        write!(
            f,
            "{}/{} -> {}:{}",
            self.host_port, self.proto, self.container_ip, self.container_port
        )
    }
}

/// Characters allowed in IDs, bridge and table names: they end up inside nft's quoted
/// strings and identifiers, so nothing that could close a quote or start a new statement.
fn safe_chars(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

pub(crate) fn check_id(what: &str, id: &str) -> Result<()> {
    let first_ok = id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    if !first_ok || id.len() > MAX_ID_LEN || !safe_chars(id) {
        return Err(Error::invalid(format!(
            "invalid {what} {id:?}: 1 to {MAX_ID_LEN} characters of [A-Za-z0-9_.-], starting \
             with a letter or digit"
        )));
    }
    Ok(())
}

/// A Linux interface name as berth-net makes them: 1–15 bytes (IFNAMSIZ - 1) of
/// `[A-Za-z0-9_.-]`.
pub(crate) fn check_ifname(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 15 || !safe_chars(name) || name == "." || name == ".." {
        return Err(Error::invalid(format!(
            "invalid bridge name {name:?}: 1 to 15 characters of [A-Za-z0-9_.-]"
        )));
    }
    Ok(())
}

/// An nft table name: a letter, then up to 31 of `[A-Za-z0-9_-]`.
pub(crate) fn check_table(name: &str) -> Result<()> {
    let first_ok = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
    if !first_ok || name.len() > 32 || !safe_chars(name) || name.contains('.') {
        return Err(Error::invalid(format!(
            "invalid nftables table name {name:?}: a letter, then up to 31 of [A-Za-z0-9_-]"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(id: &str, bridge: &str, subnet: (Ipv4Addr, u8)) -> Network {
        Network {
            id: id.into(),
            bridge: bridge.into(),
            subnet,
            internal: false,
        }
    }

    #[test]
    fn subnet_host_bits_are_cleared() {
        let n = net("a", "br0", (Ipv4Addr::new(10, 98, 0, 1), 24));
        assert_eq!(n.validate().ok(), Some((Ipv4Addr::new(10, 98, 0, 0), 24)));
        let n = net("a", "br0", (Ipv4Addr::new(10, 98, 0, 1), 32));
        assert_eq!(n.validate().ok(), Some((Ipv4Addr::new(10, 98, 0, 1), 32)));
    }

    #[test]
    fn bad_input_is_rejected_before_it_reaches_nft() {
        let a = Ipv4Addr::new(10, 0, 0, 0);
        for bad in [
            net("a", "br0", (a, 0)),
            net("a", "br0", (a, 33)),
            net("", "br0", (a, 8)),
            net("a\" accept", "br0", (a, 8)),
            net("a", "br0\n", (a, 8)),
            net("a", "0123456789abcdef", (a, 8)),
            net("a", "", (a, 8)),
            net("-a", "br0", (a, 8)),
            net(&"x".repeat(MAX_ID_LEN + 1), "br0", (a, 8)),
        ] {
            let err = bad
                .validate()
                .expect_err(&format!("{bad:?} must be rejected"));
            assert_eq!(err.kind, crate::ErrorKind::InvalidArgument, "{bad:?}");
        }
        assert!(check_table("berth").is_ok());
        assert!(check_table("berth-test_1").is_ok());
        for bad in ["", "1x", "a b", "a;b", "a.b", &"t".repeat(33)] {
            assert!(check_table(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mappings_need_real_ports_and_names() {
        let m = PortMapping {
            container: "c1".into(),
            proto: Proto::Tcp,
            host_ip: Some(Ipv4Addr::UNSPECIFIED),
            host_port: 8080,
            container_ip: Ipv4Addr::new(10, 98, 0, 2),
            container_port: 80,
            bridge: "br0".into(),
        };
        assert!(m.validate().is_ok());
        assert_eq!(m.host_addr(), None, "0.0.0.0 means every address");
        assert_eq!(m.to_string(), "0.0.0.0:8080/tcp -> 10.98.0.2:80");
        for bad in [
            PortMapping {
                host_port: 0,
                ..m.clone()
            },
            PortMapping {
                container_port: 0,
                ..m.clone()
            },
            PortMapping {
                container: "c 1".into(),
                ..m.clone()
            },
            PortMapping {
                bridge: "br\"0".into(),
                ..m.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        assert_eq!("udp".parse::<Proto>().ok(), Some(Proto::Udp));
        assert!("sctp".parse::<Proto>().is_err());
    }
}
