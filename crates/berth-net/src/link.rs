//! Links on the host and in container namespaces: the bridge of a network, the veth pair
//! of each endpoint, routes, and the sysctls the engine needs.
//!
//! Everything goes through rtnetlink (the private `nl` module). The container's side is
//! configured through a netlink socket opened *inside* its namespace by a short-lived
//! thread ([`crate::netns::run_in`]) and then used from the caller's thread: the socket
//! stays bound to that namespace, the caller's thread never enters it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::RouteNetlinkMessage;

use crate::error::{Error, IoContext, Result};
use crate::ipam::{network_of, Cidr};
use crate::netns;
use crate::nl::{is_no_such_device, Netlink};

/// Longest interface name the kernel accepts (`IFNAMSIZ` - 1).
pub const MAX_IFNAME: usize = 15;

/// A network's bridge, as [`ensure_bridge`] makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    /// Interface name (`berth0`, `br-<12 hex>`), at most 15 bytes.
    pub name: String,
    /// The bridge's own address: the network's gateway.
    pub address: Ipv4Addr,
    /// The subnet's prefix length.
    pub prefix: u8,
    /// MTU; `None` leaves the kernel's (1500 for a new bridge).
    pub mtu: Option<u32>,
}

/// Makes the bridge exist as described, whatever state it is in: creates it if missing
/// (with a fixed random MAC, so the bridge's MAC does not change as ports come and go),
/// replaces any other IPv4 address with `address/prefix`, sets the MTU, sets it up.
/// Idempotent: the engine calls it for every bridge network at every start.
///
/// A link of that name that is not a bridge is a Conflict (it is never touched).
pub fn ensure_bridge(bridge: &Bridge) -> Result<()> {
    check_ifname(&bridge.name)?;
    check_prefix(bridge.prefix)?;
    let name = &bridge.name;
    let mut nl = Netlink::open().ctx(|| "open a netlink socket")?;
    let link = match nl
        .link_by_name(name)
        .ctx(|| format!("look up bridge {name}"))?
    {
        Some(link) => link,
        None => {
            let mut msg = LinkMessage::default();
            msg.attributes.push(LinkAttribute::IfName(name.clone()));
            msg.attributes
                .push(LinkAttribute::Address(random_mac()?.to_vec()));
            if let Some(mtu) = bridge.mtu {
                msg.attributes.push(LinkAttribute::Mtu(mtu));
            }
            msg.attributes
                .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                    InfoKind::Bridge,
                )]));
            match nl.ack(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL) {
                Ok(()) => {}
                // Made by someone else meanwhile: check it below like any existing link.
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
                Err(e) => return Err(Error::io(format!("create bridge {name}"), e)),
            }
            nl.link_by_name(name)
                .ctx(|| format!("look up bridge {name}"))?
                .ok_or_else(|| Error::internal(format!("bridge {name} vanished after creation")))?
        }
    };
    if link_kind(&link) != Some(&InfoKind::Bridge) {
        return Err(Error::conflict(format!(
            "interface {name} exists and is not a bridge"
        )));
    }
    let index = link.header.index;
    if let Some(mtu) = bridge.mtu {
        if link_mtu(&link) != Some(mtu) {
            nl.set_link(index, vec![LinkAttribute::Mtu(mtu)])
                .ctx(|| format!("set MTU {mtu} on bridge {name}"))?;
        }
    }
    for (_, addr, prefix) in nl
        .ipv4_addresses(Some(index))
        .ctx(|| format!("list addresses of bridge {name}"))?
    {
        if addr == bridge.address && prefix == bridge.prefix {
            continue;
        }
        match nl.ipv4_address(false, index, addr, prefix) {
            Ok(()) => {}
            // Deleting a primary address also deletes its secondaries: already gone.
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {}
            Err(e) => {
                return Err(Error::io(
                    format!("remove address {addr}/{prefix} from bridge {name}"),
                    e,
                ))
            }
        }
    }
    // Listed again: deleting a primary address also deletes its secondaries, which may
    // have included the one we want.
    let present = nl
        .ipv4_addresses(Some(index))
        .ctx(|| format!("list addresses of bridge {name}"))?
        .iter()
        .any(|(_, addr, prefix)| *addr == bridge.address && *prefix == bridge.prefix);
    if !present {
        nl.ipv4_address(true, index, bridge.address, bridge.prefix)
            .ctx(|| {
                format!(
                    "add address {}/{} to bridge {name}",
                    bridge.address, bridge.prefix
                )
            })?;
    }
    if !link.header.flags.contains(LinkFlags::Up) {
        nl.set_up(index).ctx(|| format!("set bridge {name} up"))?;
    }
    Ok(())
}

/// Deletes the host link `name` (a bridge, or a veth with its peer); a missing one is fine.
pub fn delete_link(name: &str) -> Result<()> {
    check_ifname(name)?;
    let mut nl = Netlink::open().ctx(|| "open a netlink socket")?;
    let Some(link) = nl
        .link_by_name(name)
        .ctx(|| format!("look up interface {name}"))?
    else {
        return Ok(());
    };
    match nl.delete_link(link.header.index) {
        Ok(()) => Ok(()),
        Err(e) if is_no_such_device(&e) => Ok(()),
        Err(e) => Err(Error::io(format!("delete interface {name}"), e)),
    }
}

/// One container's connection to one bridge network, as [`attach`] makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint<'a> {
    /// The container's network namespace (a [`netns::create`] path).
    pub netns: &'a Path,
    /// The network's bridge (already made by [`ensure_bridge`]).
    pub bridge: &'a str,
    /// Name of the host end (`vb` + 12 hex: see [`random_host_ifname`]); ≤ 15 bytes.
    pub host_ifname: String,
    /// Name inside the container: `eth0`, `eth1`, … in connection order.
    pub ifname: String,
    /// The container end's MAC; `None`: Docker's `02:42:<IPv4 bytes>` ([`docker_mac`]).
    pub mac: Option<[u8; 6]>,
    /// The container's address.
    pub address: Ipv4Addr,
    /// The subnet's prefix length.
    pub prefix: u8,
    /// Default route via this gateway, unless the namespace already has a default route
    /// (the first network connected keeps it). `None` for `--internal` networks.
    pub gateway: Option<Ipv4Addr>,
    /// MTU of both ends; `None`: the bridge's.
    pub mtu: Option<u32>,
    /// Hairpin mode on the bridge port, so traffic the container sends to its own
    /// published port on the host comes back to it (the userland-proxy-less setup).
    pub hairpin: bool,
}

/// What [`attach`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// The host end's name (what [`detach`] takes).
    pub host_ifname: String,
    /// The container end's MAC.
    pub mac: [u8; 6],
    /// The MTU both ends got.
    pub mtu: u32,
    /// Whether the default route via the gateway was added (false: none asked, or the
    /// namespace already had one).
    pub default_route: bool,
}

/// Connects a container's namespace to a bridge: one `RTM_NEWLINK` creates the veth pair
/// with the host end enslaved to the bridge and the peer already inside the namespace
/// (`IFLA_NET_NS_FD`) under its final name, MAC and MTU; then the host end gets hairpin mode
/// (if asked) and goes up, and the container end gets its address, goes up, and gets the
/// default route via the gateway when the namespace has none yet.
///
/// On any failure the veth pair is deleted (the peer goes with the host end), so nothing is
/// left behind.
pub fn attach(ep: &Endpoint<'_>) -> Result<Attached> {
    check_ifname(&ep.host_ifname)?;
    check_ifname(&ep.ifname)?;
    check_ifname(ep.bridge)?;
    check_prefix(ep.prefix)?;
    let mac = ep.mac.unwrap_or_else(|| docker_mac(ep.address));
    if mac[0] & 1 != 0 || mac == [0; 6] {
        return Err(Error::invalid(format!(
            "MAC address {} is not a unicast address",
            format_mac(mac)
        )));
    }
    let host_name = &ep.host_ifname;
    let ns_name = ep.netns.display();
    let mut host = Netlink::open().ctx(|| "open a netlink socket")?;
    let bridge = host
        .link_by_name(ep.bridge)
        .ctx(|| format!("look up bridge {}", ep.bridge))?
        .ok_or_else(|| Error::not_found(format!("bridge {} not found", ep.bridge)))?;
    let mtu = match ep.mtu {
        Some(mtu) => mtu,
        None => link_mtu(&bridge).unwrap_or(1500),
    };
    let mut inner = netns::run_in(ep.netns, || {
        Netlink::open().ctx(|| format!("open a netlink socket in {ns_name}"))
    })?;
    if host
        .link_by_name(host_name)
        .ctx(|| format!("look up interface {host_name}"))?
        .is_some()
    {
        return Err(Error::conflict(format!(
            "host interface {host_name} already exists"
        )));
    }
    if inner
        .link_by_name(&ep.ifname)
        .ctx(|| format!("look up interface {} in {ns_name}", ep.ifname))?
        .is_some()
    {
        return Err(Error::conflict(format!(
            "interface {} already exists in network namespace {ns_name}",
            ep.ifname
        )));
    }
    let ns_file = File::open(ep.netns).ctx(|| format!("open network namespace {ns_name}"))?;

    let mut peer = LinkMessage::default();
    peer.attributes
        .push(LinkAttribute::IfName(ep.ifname.clone()));
    peer.attributes.push(LinkAttribute::Address(mac.to_vec()));
    peer.attributes.push(LinkAttribute::Mtu(mtu));
    peer.attributes
        .push(LinkAttribute::NetNsFd(ns_file.as_raw_fd()));
    let mut msg = LinkMessage::default();
    msg.attributes
        .push(LinkAttribute::IfName(host_name.clone()));
    msg.attributes.push(LinkAttribute::Mtu(mtu));
    msg.attributes
        .push(LinkAttribute::Controller(bridge.header.index));
    msg.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
    ]));
    host.ack(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
        .ctx(|| {
            format!(
                "create veth pair {host_name} (on bridge {}) / {} (in {ns_name})",
                ep.bridge, ep.ifname
            )
        })?;
    drop(ns_file);

    let configured = configure(ep, &mut host, &mut inner);
    match configured {
        Ok(default_route) => Ok(Attached {
            host_ifname: host_name.clone(),
            mac,
            mtu,
            default_route,
        }),
        Err(e) => {
            let undo = host
                .link_by_name(host_name)
                .and_then(|l| l.map_or(Ok(()), |l| host.delete_link(l.header.index)));
            match undo {
                Ok(()) => Err(e),
                Err(u) => Err(Error {
                    message: format!("{} (and deleting {host_name} again failed: {u})", e.message),
                    ..e
                }),
            }
        }
    }
}

/// The steps of [`attach`] after the pair exists; returns whether the default route was
/// added.
fn configure(ep: &Endpoint<'_>, host: &mut Netlink, inner: &mut Netlink) -> Result<bool> {
    let host_name = &ep.host_ifname;
    let ns_name = ep.netns.display();
    let host_link = host
        .link_by_name(host_name)
        .ctx(|| format!("look up interface {host_name}"))?
        .ok_or_else(|| Error::internal(format!("{host_name} vanished after creation")))?;
    if ep.hairpin {
        // Bridge-port options travel as IFLA_INFO_SLAVE_DATA of an RTM_NEWLINK on the port.
        let mut msg = LinkMessage::default();
        msg.header.index = host_link.header.index;
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::PortKind(InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                true,
            )])),
        ]));
        host.ack(RouteNetlinkMessage::NewLink(msg), 0)
            .ctx(|| format!("set hairpin mode on bridge port {host_name}"))?;
    }
    host.set_up(host_link.header.index)
        .ctx(|| format!("set {host_name} up"))?;

    let peer = inner
        .link_by_name(&ep.ifname)
        .ctx(|| format!("look up interface {} in {ns_name}", ep.ifname))?
        .ok_or_else(|| {
            Error::internal(format!(
                "{} is not in network namespace {ns_name} after creation",
                ep.ifname
            ))
        })?;
    let index = peer.header.index;
    inner
        .ipv4_address(true, index, ep.address, ep.prefix)
        .ctx(|| {
            format!(
                "add address {}/{} to {} in {ns_name}",
                ep.address, ep.prefix, ep.ifname
            )
        })?;
    inner
        .set_up(index)
        .ctx(|| format!("set {} up in {ns_name}", ep.ifname))?;
    let Some(gateway) = ep.gateway else {
        return Ok(false);
    };
    let has_default = inner
        .ipv4_routes()
        .ctx(|| format!("list routes in {ns_name}"))?
        .iter()
        .any(|r| r.prefix == 0);
    if has_default {
        return Ok(false);
    }
    match inner.add_default_route(gateway, index) {
        Ok(()) => Ok(true),
        // Another network's attach got there first: its route stays.
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(false),
        Err(e) => Err(Error::io(
            format!(
                "add default route via {gateway} dev {} in {ns_name}",
                ep.ifname
            ),
            e,
        )),
    }
}

/// Deletes an endpoint's veth pair by its host end (the peer inside the container goes
/// with it); a missing one is fine (the namespace's removal already took it).
pub fn detach(host_ifname: &str) -> Result<()> {
    delete_link(host_ifname)
}

/// The host links whose name starts with `prefix`, sorted: after a crash, the engine
/// deletes those no container record mentions (`links_with_prefix("vb")`).
pub fn links_with_prefix(prefix: &str) -> Result<Vec<String>> {
    let mut nl = Netlink::open().ctx(|| "open a netlink socket")?;
    let mut out: Vec<String> = nl
        .links()
        .ctx(|| "list network interfaces")?
        .iter()
        .filter_map(link_name)
        .filter(|n| n.starts_with(prefix))
        .map(str::to_owned)
        .collect();
    out.sort();
    Ok(out)
}

/// The prefixes the host already uses, for [`crate::ipam::pick_subnet`]: the destinations
/// of the main table's IPv4 routes (default routes excluded) and the subnets of every IPv4
/// address, sorted and without duplicates. Read in the caller's network namespace.
pub fn host_routes() -> Result<Vec<Cidr>> {
    let mut nl = Netlink::open().ctx(|| "open a netlink socket")?;
    let mut out: Vec<Cidr> = nl
        .ipv4_routes()
        .ctx(|| "list IPv4 routes")?
        .into_iter()
        .filter(|r| r.prefix > 0)
        .map(|r| (network_of((r.destination, r.prefix)), r.prefix))
        .collect();
    for (_, addr, prefix) in nl.ipv4_addresses(None).ctx(|| "list IPv4 addresses")? {
        if prefix > 0 {
            out.push((network_of((addr, prefix)), prefix));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Writes a sysctl of the caller's network namespace (`net.ipv4.ip_forward`,
/// `net.ipv4.conf.br-x.route_localnet`) through `/proc/sys`. Dotted keys are turned into
/// paths; a key containing `/` is taken as a path already (for interface names with dots).
pub fn set_sysctl(key: &str, value: &str) -> Result<()> {
    let path = sysctl_path(key)?;
    let mut f = OpenOptions::new()
        .write(true)
        .open(&path)
        .ctx(|| format!("open sysctl {key} ({})", path.display()))?;
    f.write_all(value.as_bytes())
        .ctx(|| format!("set sysctl {key} to {value:?}"))
}

/// Reads a sysctl (see [`set_sysctl`] for keys), without the trailing newline.
pub fn get_sysctl(key: &str) -> Result<String> {
    let path = sysctl_path(key)?;
    let mut s = String::new();
    File::open(&path)
        .and_then(|mut f| f.read_to_string(&mut s))
        .ctx(|| format!("read sysctl {key} ({})", path.display()))?;
    Ok(s.trim_end_matches('\n').to_owned())
}

fn sysctl_path(key: &str) -> Result<PathBuf> {
    let rel = if key.contains('/') {
        key.to_owned()
    } else {
        key.replace('.', "/")
    };
    let ok = !rel.is_empty()
        && rel
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
        && !rel.bytes().any(|b| b == 0 || b.is_ascii_whitespace());
    if !ok {
        return Err(Error::invalid(format!("invalid sysctl key {key:?}")));
    }
    Ok(Path::new("/proc/sys").join(rel))
}

/// Docker's MAC for a container address: `02:42` followed by the four address bytes
/// (locally administered, unicast; unique as long as the addresses are).
pub fn docker_mac(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

/// `02:42:ac:11:00:02`.
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A fresh host-side veth name: `vb` + 12 random hex digits (15 bytes at most is the
/// kernel's limit; the common prefix lets [`links_with_prefix`] find leftovers).
pub fn random_host_ifname() -> Result<String> {
    let mut bytes = [0u8; 6];
    random_bytes(&mut bytes)?;
    Ok(format!(
        "vb{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// Checks an interface name as the kernel's `dev_valid_name` does (1–15 bytes, no `/`,
/// `:` or whitespace, not `.` or `..`), so that the error names the culprit.
pub fn check_ifname(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_IFNAME
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b == 0 || b.is_ascii_whitespace());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid interface name {name:?}: 1 to {MAX_IFNAME} bytes, without '/', ':' or spaces"
        )))
    }
}

fn check_prefix(prefix: u8) -> Result<()> {
    if prefix == 0 || prefix > 32 {
        return Err(Error::invalid(format!(
            "invalid IPv4 prefix length {prefix}"
        )));
    }
    Ok(())
}

fn link_kind(link: &LinkMessage) -> Option<&InfoKind> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
            LinkInfo::Kind(k) => Some(k),
            _ => None,
        }),
        _ => None,
    })
}

fn link_mtu(link: &LinkMessage) -> Option<u32> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::Mtu(m) => Some(*m),
        _ => None,
    })
}

fn link_name(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.as_str()),
        _ => None,
    })
}

/// A random locally administered unicast MAC.
fn random_mac() -> Result<[u8; 6]> {
    let mut mac = [0u8; 6];
    random_bytes(&mut mac)?;
    mac[0] = (mac[0] & 0xfe) | 0x02;
    Ok(mac)
}

fn random_bytes(buf: &mut [u8]) -> Result<()> {
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .ctx(|| "read /dev/urandom")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_mac_and_format() {
        let mac = docker_mac(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(format_mac(mac), "02:42:ac:11:00:02");
    }

    #[test]
    fn ifname_rules() {
        for ok in ["eth0", "vb0123456789ab", "br-0123456789ab", "a"] {
            check_ifname(ok).expect(ok);
        }
        for bad in ["", "0123456789abcdef", "a/b", "a b", "a:1", ".", ".."] {
            assert!(check_ifname(bad).is_err(), "{bad}");
        }
        let name = random_host_ifname().expect("random");
        assert_eq!(name.len(), 14);
        assert!(name.starts_with("vb"));
        check_ifname(&name).expect("valid");
        assert_ne!(name, random_host_ifname().expect("random"));
    }

    #[test]
    fn sysctl_keys_become_proc_paths() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward").expect("ok"),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            sysctl_path("net/ipv4/conf/eth0.100/forwarding").expect("ok"),
            PathBuf::from("/proc/sys/net/ipv4/conf/eth0.100/forwarding")
        );
        for bad in ["", "net..x", "net/../../etc", "/net/x", "a b"] {
            assert!(sysctl_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn random_macs_are_local_unicast() {
        for _ in 0..32 {
            let mac = random_mac().expect("mac");
            assert_eq!(mac[0] & 0x03, 0x02);
        }
    }
}
