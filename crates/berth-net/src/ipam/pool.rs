//! IPv4 prefixes: parsing with Docker's messages, containment and overlap, a network's
//! [`Pool`], and the choice of a free subnet from Docker's default address pools.

use std::net::Ipv4Addr;

use crate::error::{Error, Result};

/// An IPv4 prefix: address and prefix length (`(172.20.0.0, 16)` is `172.20.0.0/16`).
pub type Cidr = (Ipv4Addr, u8);

/// The netmask of a prefix length (`16` → `0xffff0000`); lengths above 32 count as 32.
pub fn netmask(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

/// The first address of the prefix (host bits cleared).
pub fn network_of((addr, prefix): Cidr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(addr) & netmask(prefix))
}

/// The last address of the prefix (host bits set): its broadcast address.
pub fn broadcast_of((addr, prefix): Cidr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(addr) | !netmask(prefix))
}

/// Whether `ip` is inside `cidr`.
pub fn contains(cidr: Cidr, ip: Ipv4Addr) -> bool {
    let mask = netmask(cidr.1);
    u32::from(ip) & mask == u32::from(cidr.0) & mask
}

/// Whether two prefixes share an address (one contains the other's first address).
pub fn overlaps(a: Cidr, b: Cidr) -> bool {
    contains(a, network_of(b)) || contains(b, network_of(a))
}

/// `"172.20.0.0/16"` → `(172.20.0.0, 16)`, the address as written (host bits allowed: it is
/// also how an interface address with its prefix is written). Errors say
/// `invalid CIDR address: <input>`, as Go's `net.ParseCIDR` (and so Docker) does.
pub fn parse_cidr(s: &str) -> Result<Cidr> {
    let bad = || Error::invalid(format!("invalid CIDR address: {s}"));
    let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 2 {
        return Err(bad());
    }
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    if prefix > 32 {
        return Err(bad());
    }
    Ok((addr, prefix))
}

/// A subnet as given to `docker network create --subnet` / `--ip-range`: a CIDR whose host
/// bits are zero (`172.20.0.5/16` is refused, naming the subnet meant).
pub fn parse_subnet(s: &str) -> Result<Cidr> {
    let cidr = parse_cidr(s)?;
    let net = network_of(cidr);
    if net != cidr.0 {
        return Err(Error::invalid(format!(
            "invalid subnet {s}: it should be {net}/{}",
            cidr.1
        )));
    }
    Ok(cidr)
}

/// `"172.20.0.5"` → the address; errors say `invalid IPv4 address: <input>`.
pub fn parse_ipv4(s: &str) -> Result<Ipv4Addr> {
    s.parse()
        .map_err(|_| Error::invalid(format!("invalid IPv4 address: {s}")))
}

/// Formats a prefix as `a.b.c.d/n`.
pub fn format_cidr((addr, prefix): Cidr) -> String {
    format!("{addr}/{prefix}")
}

/// The addresses of one network that IPAM hands out from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// The network's subnet (host bits zero).
    pub subnet: Cidr,
    /// `--ip-range`: where addresses are picked when none is asked for (inside `subnet`).
    pub ip_range: Option<Cidr>,
    /// The bridge's own address: never handed out.
    pub gateway: Ipv4Addr,
}

impl Pool {
    /// Checks the pool is coherent: subnet without host bits, range inside the subnet,
    /// gateway inside the subnet.
    pub fn validate(&self) -> Result<()> {
        let (addr, prefix) = self.subnet;
        if prefix > 32 {
            return Err(Error::invalid(format!(
                "invalid CIDR address: {addr}/{prefix}"
            )));
        }
        if network_of(self.subnet) != addr {
            return Err(Error::invalid(format!(
                "invalid subnet {}: it should be {}/{prefix}",
                format_cidr(self.subnet),
                network_of(self.subnet)
            )));
        }
        if let Some(range) = self.ip_range {
            if range.1 > 32 || range.1 < prefix || !contains(self.subnet, range.0) {
                return Err(Error::invalid(format!(
                    "ip-range {} is not inside subnet {}",
                    format_cidr(range),
                    format_cidr(self.subnet)
                )));
            }
        }
        if !contains(self.subnet, self.gateway) {
            return Err(Error::invalid(format!(
                "gateway {} is not inside subnet {}",
                self.gateway,
                format_cidr(self.subnet)
            )));
        }
        Ok(())
    }

    /// Whether `ip` can never be handed out: the subnet's network and broadcast addresses
    /// (for prefixes up to /30; a /31 or /32 has none) and the gateway.
    pub fn is_reserved(&self, ip: Ipv4Addr) -> bool {
        ip == self.gateway
            || (self.subnet.1 <= 30
                && (ip == network_of(self.subnet) || ip == broadcast_of(self.subnet)))
    }

    /// First and last address (inclusive, as integers) that dynamic allocation scans: the
    /// ip-range when there is one, else the subnet.
    pub(crate) fn dynamic_span(&self) -> (u32, u32) {
        let cidr = self.ip_range.unwrap_or(self.subnet);
        (u32::from(network_of(cidr)), u32::from(broadcast_of(cidr)))
    }
}

/// Docker's default address pools, in the order it uses them: `172.17.0.0/16` …
/// `172.31.0.0/16`, then `192.168.0.0/16` cut into /20s.
pub fn default_pools() -> impl Iterator<Item = Cidr> {
    let big = (17u8..=31).map(|b| (Ipv4Addr::new(172, b, 0, 0), 16));
    let small = (0u8..16).map(|i| (Ipv4Addr::new(192, 168, i * 16, 0), 20));
    big.chain(small)
}

/// The first of Docker's default pools ([`default_pools`]) that overlaps neither a subnet
/// already `taken` by a berth network nor any of the host's routes and addresses
/// (`host_routes`, from [`crate::link::host_routes`]; default routes `/0` are ignored, as
/// every subnet would overlap them). `None` when all are used.
pub fn pick_subnet(taken: &[Cidr], host_routes: &[Cidr]) -> Option<Cidr> {
    default_pools().find(|candidate| {
        !taken.iter().any(|t| overlaps(*t, *candidate))
            && !host_routes
                .iter()
                .filter(|r| r.1 > 0)
                .any(|r| overlaps(*r, *candidate))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().expect("ip")
    }

    #[test]
    fn parses_with_dockers_messages() {
        assert_eq!(
            parse_cidr("172.20.0.0/16").expect("ok"),
            (ip("172.20.0.0"), 16)
        );
        assert_eq!(parse_cidr("10.1.2.3/8").expect("ok"), (ip("10.1.2.3"), 8));
        for bad in [
            "x",
            "172.20.0.0",
            "172.20.0.0/",
            "172.20.0.0/33",
            "172.20.0.0/+1",
            "172.20.0/16",
            "fd00::/64",
            "172.20.0.0/016x",
        ] {
            let e = parse_cidr(bad).expect_err(bad);
            assert_eq!(e.message, format!("invalid CIDR address: {bad}"));
        }
        assert_eq!(
            parse_subnet("172.20.0.5/16")
                .expect_err("host bits")
                .message,
            "invalid subnet 172.20.0.5/16: it should be 172.20.0.0/16"
        );
        assert_eq!(parse_ipv4("172.20.0.5").expect("ok"), ip("172.20.0.5"));
        assert_eq!(
            parse_ipv4("172.20.0.300").expect_err("bad").message,
            "invalid IPv4 address: 172.20.0.300"
        );
    }

    #[test]
    fn prefix_math() {
        assert_eq!(netmask(0), 0);
        assert_eq!(netmask(32), u32::MAX);
        assert_eq!(netmask(24), 0xffff_ff00);
        assert_eq!(broadcast_of((ip("10.0.0.7"), 29)), ip("10.0.0.7"));
        assert_eq!(network_of((ip("10.0.0.7"), 29)), ip("10.0.0.0"));
        assert!(contains((ip("0.0.0.0"), 0), ip("8.8.8.8")));
        assert!(overlaps((ip("10.0.0.0"), 8), (ip("10.1.0.0"), 16)));
        assert!(overlaps((ip("10.1.0.0"), 16), (ip("10.0.0.0"), 8)));
        assert!(!overlaps((ip("10.1.0.0"), 16), (ip("10.2.0.0"), 16)));
    }

    #[test]
    fn pool_validation() {
        let ok = Pool {
            subnet: (ip("10.0.0.0"), 24),
            ip_range: Some((ip("10.0.0.128"), 25)),
            gateway: ip("10.0.0.1"),
        };
        ok.validate().expect("valid");
        let mut p = ok;
        p.gateway = ip("10.0.1.1");
        assert!(p.validate().is_err());
        let mut p = ok;
        p.ip_range = Some((ip("10.0.1.0"), 25));
        assert!(p.validate().is_err());
        let mut p = ok;
        p.ip_range = Some((ip("10.0.0.0"), 16));
        assert!(p.validate().is_err());
        let mut p = ok;
        p.subnet = (ip("10.0.0.1"), 24);
        assert!(p.validate().is_err());
    }

    #[test]
    fn pick_subnet_follows_dockers_order() {
        assert_eq!(pick_subnet(&[], &[]), Some((ip("172.17.0.0"), 16)));
        // The default route never blocks anything; the host's own routes do.
        let host = [
            (ip("0.0.0.0"), 0),
            (ip("192.0.2.0"), 24),
            (ip("172.17.5.0"), 24),
        ];
        assert_eq!(pick_subnet(&[], &host), Some((ip("172.18.0.0"), 16)));
        let taken = [(ip("172.18.0.0"), 16), (ip("172.19.0.0"), 16)];
        assert_eq!(pick_subnet(&taken, &host), Some((ip("172.20.0.0"), 16)));
        // A /12 route covering all of 172.16/12 pushes to 192.168.0.0/20, then the next /20.
        let wide = [(ip("172.16.0.0"), 12)];
        assert_eq!(pick_subnet(&[], &wide), Some((ip("192.168.0.0"), 20)));
        let taken = [(ip("192.168.0.0"), 20)];
        assert_eq!(pick_subnet(&taken, &wide), Some((ip("192.168.16.0"), 20)));
        // A host address inside a /20 (a /32 route) skips just that one.
        let mut host = wide.to_vec();
        host.push((ip("192.168.1.7"), 32));
        assert_eq!(pick_subnet(&[], &host), Some((ip("192.168.16.0"), 20)));
        // Everything taken.
        let all = [(ip("172.16.0.0"), 12), (ip("192.168.0.0"), 16)];
        assert_eq!(pick_subnet(&all, &[]), None);
        assert_eq!(default_pools().count(), 15 + 16);
    }
}
