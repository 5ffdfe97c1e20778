//! The two host settings the firewall reads or writes: a bridge's `route_localnet`, and the
//! ephemeral port range that [`free_host_port`] picks from.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::model::{check_ifname, Proto};

/// The kernel's default `ip_local_port_range`, used when it cannot be read.
const DEFAULT_RANGE: (u16, u16) = (32768, 60999);

/// Sets `net.ipv4.conf.<bridge>.route_localnet=1`, so that the host's own connections to
/// `127.0.0.1:<published port>`, DNATed to a container, may leave through the bridge with
/// their loopback source (masqueraded right after) and their answers, addressed back to
/// 127.0.0.1 after un-NAT, are accepted (ip-sysctl: route_localnet,
/// <https://docs.kernel.org/networking/ip-sysctl.html>). The other direction, a container
/// sending to 127.0.0.0/8, is dropped by the `nets-raw` rule of the network.
/// The bridge must exist.
pub fn enable_route_localnet(bridge: &str) -> Result<()> {
    check_ifname(bridge)?;
    let path = PathBuf::from(format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet"));
    std::fs::write(&path, "1").map_err(|e| {
        Error::io(
            format!(
                "cannot enable route_localnet on bridge {bridge} ({})",
                path.display()
            ),
            e,
        )
    })
}

/// Parses `/proc/sys/net/ipv4/ip_local_port_range` ("32768\t60999\n").
fn parse_range(text: &str) -> Option<(u16, u16)> {
    let mut it = text.split_whitespace().map(str::parse::<u16>);
    let (lo, hi) = (it.next()?.ok()?, it.next()?.ok()?);
    (lo > 0 && lo <= hi).then_some((lo, hi))
}

/// The host's ephemeral port range (the kernel default when unreadable).
pub fn local_port_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| parse_range(&t))
        .unwrap_or(DEFAULT_RANGE)
}

/// A host port for `docker run -P`: one of the ephemeral range
/// (`net.ipv4.ip_local_port_range`, as Docker picks them), not in `taken` (the ports the
/// engine has already published for this protocol), that can be bound on every address
/// right now (a socket is bound and dropped, so a port some host process listens on is
/// skipped). The search starts at a varying place in the range, so a port just released
/// is not handed out again at once. `None` when every port is taken.
pub fn free_host_port(proto: Proto, taken: &HashSet<u16>) -> Option<u16> {
    let (lo, hi) = local_port_range();
    free_port_in(proto, taken, lo, hi, start_offset())
}

fn free_port_in(proto: Proto, taken: &HashSet<u16>, lo: u16, hi: u16, start: u32) -> Option<u16> {
    let size = u32::from(hi - lo) + 1;
    (0..size)
        .map(|i| lo + ((start + i) % size) as u16)
        .filter(|p| !taken.contains(p))
        .find(|&p| can_bind(proto, p))
}

fn can_bind(proto: Proto, port: u16) -> bool {
    let addr = (Ipv4Addr::UNSPECIFIED, port);
    match proto {
        Proto::Tcp => TcpListener::bind(addr).is_ok(),
        Proto::Udp => UdpSocket::bind(addr).is_ok(),
    }
}

fn start_offset() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_range_parses() {
        assert_eq!(parse_range("32768\t60999\n"), Some((32768, 60999)));
        assert_eq!(parse_range("1024 1024"), Some((1024, 1024)));
        assert_eq!(parse_range("60999 32768"), None);
        assert_eq!(parse_range("0 10"), None);
        assert_eq!(parse_range("garbage"), None);
        assert_eq!(parse_range("100"), None);
    }

    #[test]
    fn free_port_skips_taken_and_bound_ports() {
        let (lo, hi) = local_port_range();
        let mut taken = HashSet::new();
        let p = free_host_port(Proto::Tcp, &taken).expect("a free port");
        assert!((lo..=hi).contains(&p));
        // Hold a listener on p: in a range of one port, p cannot be picked.
        let _held = TcpListener::bind((Ipv4Addr::UNSPECIFIED, p)).expect("bind p");
        assert_eq!(free_port_in(Proto::Tcp, &taken, p, p, 0), None);
        // A taken port is never picked, whatever the start.
        let q = free_host_port(Proto::Udp, &taken).expect("a free udp port");
        taken.insert(q);
        for start in 0..4 {
            assert_ne!(
                free_port_in(Proto::Udp, &taken, q, q.saturating_add(1), start),
                Some(q)
            );
        }
    }
}
