//! Planning: the nft batch (text syntax, one `nft -f -` transaction) of every change,
//! computed as data without touching the kernel. The layout it writes is described in the
//! crate documentation; this module is its single source.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::model::{Network, PortMapping};

/// The family of berth's table: NAT of IPv4 (`ip`; IPv6 is not handled yet).
pub(crate) const FAMILY: &str = "ip";

/// Map of ports published on every local address: `proto . port : addr . port`.
pub(crate) const MAP_ANY: &str = "ports_any";
/// Map of ports published on one host address: `addr . proto . port : addr . port`.
pub(crate) const MAP_IP: &str = "ports_ip";

/// Regular chain holding the DNAT map lookups (jumped to from both nat base chains).
pub(crate) const CHAIN_PUBLISHED: &str = "published";
/// Regular chains holding the per-network rules, each tagged `comment "net:<id>"`.
pub(crate) const CHAIN_NETS_RAW: &str = "nets-raw";
pub(crate) const CHAIN_NETS_POSTROUTING: &str = "nets-postrouting";
pub(crate) const CHAIN_NETS_EGRESS: &str = "nets-egress";
pub(crate) const CHAIN_NETS_INGRESS: &str = "nets-ingress";

/// The base chains: name, type, hook, priority. Their rules are fixed (see [`Plan::skeleton`]).
const BASE_CHAINS: [(&str, &str, &str, i32); 5] = [
    // raw (-300): before conntrack and NAT, so it sees addresses as they arrived.
    ("raw-prerouting", "filter", "prerouting", -300),
    // dstnat (-100) for packets arriving and for the host's own connections.
    ("nat-prerouting", "nat", "prerouting", -100),
    ("nat-output", "nat", "output", -100),
    // srcnat (100).
    ("nat-postrouting", "nat", "postrouting", 100),
    // filter (0).
    ("filter-forward", "filter", "forward", 0),
];

/// The regular chains that hold per-network rules (never flushed by `ensure`).
const NET_CHAINS: [&str; 4] = [
    CHAIN_NETS_RAW,
    CHAIN_NETS_POSTROUTING,
    CHAIN_NETS_EGRESS,
    CHAIN_NETS_INGRESS,
];

/// The comment that marks every rule of network `id`.
pub(crate) fn net_comment(id: &str) -> String {
    format!("net:{id}")
}

/// The comment of a published port's map element: `<container> <bridge>`.
pub(crate) fn port_comment(m: &PortMapping) -> String {
    format!("{} {}", m.container, m.bridge)
}

/// The map and key of a mapping, in nft syntax.
pub(crate) fn port_key(m: &PortMapping) -> (&'static str, String) {
    match m.host_addr() {
        None => (MAP_ANY, format!("{} . {}", m.proto, m.host_port)),
        Some(ip) => (MAP_IP, format!("{ip} . {} . {}", m.proto, m.host_port)),
    }
}

fn port_value(m: &PortMapping) -> String {
    format!("{} . {}", m.container_ip, m.container_port)
}

/// A batch of nft commands for one table, built up statement by statement.
pub(crate) struct Plan<'a> {
    table: &'a str,
    text: String,
}

impl<'a> Plan<'a> {
    pub(crate) fn new(table: &'a str) -> Self {
        Plan {
            table,
            text: String::new(),
        }
    }

    /// The batch, one command per line.
    pub(crate) fn finish(self) -> String {
        self.text
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    fn cmd(&mut self, verb: &str, rest: std::fmt::Arguments<'_>) {
        // Writing to a String cannot fail.
        let _ = writeln!(self.text, "{verb} {FAMILY} {} {rest}", self.table);
    }

    fn rule(&mut self, chain: &str, body: &str) {
        self.cmd("add rule", format_args!("{chain} {body}"));
    }

    /// Makes the table absent, within this transaction: `add` (a no-op when it exists)
    /// then `delete` (nft 1.0.6 has no `destroy`).
    pub(crate) fn drop_table(&mut self) {
        let _ = writeln!(self.text, "add table {FAMILY} {}", self.table);
        let _ = writeln!(self.text, "delete table {FAMILY} {}", self.table);
    }

    /// The table, its maps and chains (`add` is a no-op for those that exist), and the base
    /// chains' fixed rules, flushed and written again so that running it twice leaves one
    /// copy. Per-network rules and map elements are left alone.
    pub(crate) fn skeleton(&mut self) {
        let t = self.table;
        let _ = writeln!(self.text, "add table {FAMILY} {t}");
        self.cmd(
            "add map",
            format_args!(
                "{MAP_ANY} {{ type inet_proto . inet_service : ipv4_addr . inet_service; }}"
            ),
        );
        self.cmd(
            "add map",
            format_args!(
                "{MAP_IP} {{ type ipv4_addr . inet_proto . inet_service : ipv4_addr . \
                 inet_service; }}"
            ),
        );
        for (name, kind, hook, prio) in BASE_CHAINS {
            self.cmd(
                "add chain",
                format_args!(
                    "{name} {{ type {kind} hook {hook} priority {prio}; policy accept; }}"
                ),
            );
        }
        for name in [CHAIN_PUBLISHED].into_iter().chain(NET_CHAINS) {
            self.cmd("add chain", format_args!("{name}"));
        }
        for (name, ..) in BASE_CHAINS {
            self.cmd("flush chain", format_args!("{name}"));
        }
        self.cmd("flush chain", format_args!("{CHAIN_PUBLISHED}"));

        self.rule("raw-prerouting", &format!("jump {CHAIN_NETS_RAW}"));
        // A packet that arrives (prerouting never sees the host's own loopback traffic
        // first) addressed to 127.0.0.0/8 is never published: Docker's DNAT of such packets
        // let LAN hosts reach ports published on 127.0.0.1 (moby#41872).
        self.rule("nat-prerouting", "ip daddr 127.0.0.0/8 return");
        self.rule(
            "nat-prerouting",
            &format!("fib daddr type local jump {CHAIN_PUBLISHED}"),
        );
        self.rule(
            "nat-output",
            &format!("fib daddr type local jump {CHAIN_PUBLISHED}"),
        );
        // A miss in a map lookup ends the rule (no match), so the first rule serves ports
        // bound to one address and the second those bound to all.
        self.rule(
            CHAIN_PUBLISHED,
            &format!("dnat to ip daddr . meta l4proto . th dport map @{MAP_IP}"),
        );
        self.rule(
            CHAIN_PUBLISHED,
            &format!("dnat to meta l4proto . th dport map @{MAP_ANY}"),
        );
        self.rule("nat-postrouting", &format!("jump {CHAIN_NETS_POSTROUTING}"));
        self.rule("filter-forward", "ct state established,related accept");
        self.rule("filter-forward", &format!("jump {CHAIN_NETS_EGRESS}"));
        self.rule("filter-forward", &format!("jump {CHAIN_NETS_INGRESS}"));
    }

    /// The rules of one network (validated: `subnet` has no host bits).
    pub(crate) fn network(&mut self, net: &Network, subnet: (Ipv4Addr, u8)) {
        let c = net_comment(&net.id);
        let br = &net.bridge;
        let (addr, len) = subnet;
        let mut add = |chain: &str, body: String| {
            self.rule(chain, &format!("{body} comment \"{c}\""));
        };
        // With route_localnet=1 on the bridge (needed for 127.0.0.1 → container), the host
        // would also route a container's packets to 127.0.0.0/8 to its own loopback
        // services (CVE-2020-8558); drop them before routing sees them. For every network:
        // route_localnet may be set host-wide by other software.
        add(
            CHAIN_NETS_RAW,
            format!("iifname \"{br}\" ip daddr 127.0.0.0/8 drop"),
        );
        if net.internal {
            // Nothing leaves an internal network's bridge, published or not.
            add(
                CHAIN_NETS_EGRESS,
                format!("iifname \"{br}\" oifname != \"{br}\" drop"),
            );
        } else {
            // The host's connections to 127.0.0.1:PORT, DNATed in nat-output, leave with
            // source 127.0.0.1: give them the bridge's address so the container can answer.
            add(
                CHAIN_NETS_POSTROUTING,
                format!("oifname \"{br}\" ip saddr 127.0.0.0/8 ct status dnat masquerade"),
            );
            // Hairpin: a container reaching a published port (its own or a neighbour's)
            // through a host address would otherwise get the answer straight from the
            // neighbour, with an address it never talked to.
            add(
                CHAIN_NETS_POSTROUTING,
                format!("oifname \"{br}\" ip saddr {addr}/{len} ct status dnat masquerade"),
            );
            // Outbound NAT: the subnet leaving through any other interface.
            add(
                CHAIN_NETS_POSTROUTING,
                format!("oifname != \"{br}\" ip saddr {addr}/{len} masquerade"),
            );
        }
        // Into the bridge: containers of the same bridge talk freely (seen here only with
        // br_netfilter's bridge-nf-call-iptables=1); published ports (DNATed in
        // nat-prerouting) are open on non-internal networks; replies were accepted in
        // filter-forward; everything else is dropped: other networks, and hosts that route
        // to the subnet (Docker 20.10 let those reach every port).
        add(
            CHAIN_NETS_INGRESS,
            format!("oifname \"{br}\" iifname \"{br}\" accept"),
        );
        if !net.internal {
            add(
                CHAIN_NETS_INGRESS,
                format!("oifname \"{br}\" ct status dnat accept"),
            );
        }
        add(CHAIN_NETS_INGRESS, format!("oifname \"{br}\" drop"));
    }

    /// Deletes one rule by handle.
    pub(crate) fn delete_rule(&mut self, chain: &str, handle: u64) {
        self.cmd("delete rule", format_args!("{chain} handle {handle}"));
    }

    /// Creates map elements: `create` fails the whole batch (EEXIST) if any key is
    /// already in the map, whatever its data, so nothing is overwritten silently.
    pub(crate) fn create_ports(&mut self, ports: &[&PortMapping]) {
        self.elements("create element", ports);
    }

    /// Adds map elements (a key already there with the same data is left as it is,
    /// comment included; with other data the batch fails).
    pub(crate) fn add_ports(&mut self, ports: &[&PortMapping]) {
        self.elements("add element", ports);
    }

    /// Rewrites existing elements (same key and data) with these mappings' comments, i.e.
    /// their owners: nft keeps an element's comment on a plain add, so delete, then add.
    pub(crate) fn replace_ports(&mut self, ports: &[&PortMapping]) {
        self.delete_ports(ports);
        self.add_ports(ports);
    }

    fn elements(&mut self, verb: &str, ports: &[&PortMapping]) {
        for map in [MAP_ANY, MAP_IP] {
            let elements = ports
                .iter()
                .filter(|m| port_key(m).0 == map)
                .map(|m| {
                    format!(
                        "{} comment \"{}\" : {}",
                        port_key(m).1,
                        port_comment(m),
                        port_value(m)
                    )
                })
                .collect::<Vec<_>>();
            if !elements.is_empty() {
                let elements = elements.join(", ");
                self.cmd(verb, format_args!("{map} {{ {elements} }}"));
            }
        }
    }

    /// Deletes the map elements of these mappings (by key).
    pub(crate) fn delete_ports(&mut self, ports: &[&PortMapping]) {
        for map in [MAP_ANY, MAP_IP] {
            let mine: Vec<&PortMapping> = ports
                .iter()
                .copied()
                .filter(|m| port_key(m).0 == map)
                .collect();
            if !mine.is_empty() {
                self.delete_ports_in(map, &mine);
            }
        }
    }

    fn delete_ports_in(&mut self, map: &str, ports: &[&PortMapping]) {
        let keys = ports
            .iter()
            .map(|m| port_key(m).1)
            .collect::<Vec<_>>()
            .join(", ");
        self.cmd("delete element", format_args!("{map} {{ {keys} }}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Proto;

    fn mapping(host_ip: Option<Ipv4Addr>, port: u16) -> PortMapping {
        PortMapping {
            container: "c1".into(),
            proto: Proto::Tcp,
            host_ip,
            host_port: port,
            container_ip: Ipv4Addr::new(10, 98, 0, 2),
            container_port: 80,
            bridge: "br-a".into(),
        }
    }

    #[test]
    fn skeleton_is_the_documented_layout() {
        let mut p = Plan::new("berth");
        p.skeleton();
        let text = p.finish();
        let expected = "\
add table ip berth
add map ip berth ports_any { type inet_proto . inet_service : ipv4_addr . inet_service; }
add map ip berth ports_ip { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }
add chain ip berth raw-prerouting { type filter hook prerouting priority -300; policy accept; }
add chain ip berth nat-prerouting { type nat hook prerouting priority -100; policy accept; }
add chain ip berth nat-output { type nat hook output priority -100; policy accept; }
add chain ip berth nat-postrouting { type nat hook postrouting priority 100; policy accept; }
add chain ip berth filter-forward { type filter hook forward priority 0; policy accept; }
add chain ip berth published
add chain ip berth nets-raw
add chain ip berth nets-postrouting
add chain ip berth nets-egress
add chain ip berth nets-ingress
flush chain ip berth raw-prerouting
flush chain ip berth nat-prerouting
flush chain ip berth nat-output
flush chain ip berth nat-postrouting
flush chain ip berth filter-forward
flush chain ip berth published
add rule ip berth raw-prerouting jump nets-raw
add rule ip berth nat-prerouting ip daddr 127.0.0.0/8 return
add rule ip berth nat-prerouting fib daddr type local jump published
add rule ip berth nat-output fib daddr type local jump published
add rule ip berth published dnat to ip daddr . meta l4proto . th dport map @ports_ip
add rule ip berth published dnat to meta l4proto . th dport map @ports_any
add rule ip berth nat-postrouting jump nets-postrouting
add rule ip berth filter-forward ct state established,related accept
add rule ip berth filter-forward jump nets-egress
add rule ip berth filter-forward jump nets-ingress
";
        assert_eq!(text, expected);
    }

    #[test]
    fn network_rules() {
        let net = Network {
            id: "n1".into(),
            bridge: "br-a".into(),
            subnet: (Ipv4Addr::new(10, 98, 0, 1), 24),
            internal: false,
        };
        let mut p = Plan::new("berth");
        p.network(&net, (Ipv4Addr::new(10, 98, 0, 0), 24));
        assert_eq!(
            p.finish(),
            "\
add rule ip berth nets-raw iifname \"br-a\" ip daddr 127.0.0.0/8 drop comment \"net:n1\"
add rule ip berth nets-postrouting oifname \"br-a\" ip saddr 127.0.0.0/8 ct status dnat masquerade comment \"net:n1\"
add rule ip berth nets-postrouting oifname \"br-a\" ip saddr 10.98.0.0/24 ct status dnat masquerade comment \"net:n1\"
add rule ip berth nets-postrouting oifname != \"br-a\" ip saddr 10.98.0.0/24 masquerade comment \"net:n1\"
add rule ip berth nets-ingress oifname \"br-a\" iifname \"br-a\" accept comment \"net:n1\"
add rule ip berth nets-ingress oifname \"br-a\" ct status dnat accept comment \"net:n1\"
add rule ip berth nets-ingress oifname \"br-a\" drop comment \"net:n1\"
"
        );
        let internal = Network {
            internal: true,
            ..net
        };
        let mut p = Plan::new("berth");
        p.network(&internal, (Ipv4Addr::new(10, 98, 0, 0), 24));
        assert_eq!(
            p.finish(),
            "\
add rule ip berth nets-raw iifname \"br-a\" ip daddr 127.0.0.0/8 drop comment \"net:n1\"
add rule ip berth nets-egress iifname \"br-a\" oifname != \"br-a\" drop comment \"net:n1\"
add rule ip berth nets-ingress oifname \"br-a\" iifname \"br-a\" accept comment \"net:n1\"
add rule ip berth nets-ingress oifname \"br-a\" drop comment \"net:n1\"
"
        );
    }

    #[test]
    fn ports_go_to_the_map_of_their_host_address() {
        let any = mapping(None, 8080);
        let lo = mapping(Some(Ipv4Addr::LOCALHOST), 8081);
        let mut p = Plan::new("berth");
        p.create_ports(&[&any, &lo]);
        p.replace_ports(&[&lo]);
        assert_eq!(
            p.finish(),
            "\
create element ip berth ports_any { tcp . 8080 comment \"c1 br-a\" : 10.98.0.2 . 80 }
create element ip berth ports_ip { 127.0.0.1 . tcp . 8081 comment \"c1 br-a\" : 10.98.0.2 . 80 }
delete element ip berth ports_ip { 127.0.0.1 . tcp . 8081 }
add element ip berth ports_ip { 127.0.0.1 . tcp . 8081 comment \"c1 br-a\" : 10.98.0.2 . 80 }
"
        );
        let mut p = Plan::new("berth");
        p.delete_ports(&[&any, &mapping(None, 9090)]);
        p.delete_rule("nets-ingress", 42);
        assert_eq!(
            p.finish(),
            "\
delete element ip berth ports_any { tcp . 8080, tcp . 9090 }
delete rule ip berth nets-ingress handle 42
"
        );
    }
}
