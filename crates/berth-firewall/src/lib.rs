//! berth-firewall: NAT, published ports and isolation of container networks, in nftables,
//! in berth's own table.
//!
//! berth-net puts each container in its own network namespace with a veth into one Linux
//! bridge per network; this crate owns every packet-filter rule those networks need. It
//! behaves like Docker's bridge driver for what users see (outbound NAT, `-p`, `-P`,
//! `--internal`, published ports reachable on 127.0.0.1 and from other containers) without
//! Docker's weak points: no `docker-proxy` process, no port open to hosts that route to the
//! container subnet, no published-on-127.0.0.1 port reachable from the LAN.
//!
//! # Main types
//!
//! - [`Firewall`]: the table `ip <name>` (usually `ip berth`); every change is one atomic
//!   `nft -f -` batch. [`PacketFilter`] is the trait the engine holds (its doc gives the
//!   lifecycle).
//! - [`Network`] (bridge, subnet, internal) and [`PortMapping`] (proto, host address and
//!   port → container address and port, with its owner container): what the engine asks for.
//! - [`free_host_port`] picks a port for `-P`; [`enable_route_localnet`] is the one sysctl
//!   the rules need.
//!
//! # Rule layout
//!
//! Everything lives in one table, `table ip berth`; other tables (iptables-nft's `ip nat`,
//! `ip filter`, firewalld's, …) are never read or changed. Netfilter runs every table's base
//! chains at a hook in priority order, and a packet must be accepted by all of them
//! (<https://wiki.nftables.org/wiki-nftables/index.php/Netfilter_hooks>;
//! an `accept` here does not override a `drop` of another table, so a host whose
//! `ip filter FORWARD` policy is drop still needs its own accept for container traffic).
//! The priorities are the standard ones, so berth's NAT composes with iptables-nft's:
//!
//! | chain | type, hook, priority | rules |
//! |---|---|---|
//! | `raw-prerouting` | filter, prerouting, -300 (raw) | `jump nets-raw` |
//! | `nat-prerouting` | nat, prerouting, -100 (dstnat) | `ip daddr 127.0.0.0/8 return`; `fib daddr type local jump published` |
//! | `nat-output` | nat, output, -100 (dstnat) | `fib daddr type local jump published` |
//! | `published` | regular | `dnat to ip daddr . meta l4proto . th dport map @ports_ip`; `dnat to meta l4proto . th dport map @ports_any` |
//! | `nat-postrouting` | nat, postrouting, 100 (srcnat) | `jump nets-postrouting` |
//! | `filter-forward` | filter, forward, 0 | `ct state established,related accept`; `jump nets-egress`; `jump nets-ingress` |
//! | `nets-*` | regular | the rules of each network, tagged `comment "net:<id>"` |
//!
//! **Published ports are map elements, not rules.** Two maps hold them:
//! `ports_any` (`inet_proto . inet_service : ipv4_addr . inet_service`, ports published on
//! every address) and `ports_ip` (`ipv4_addr . inet_proto . inet_service : …`, ports bound
//! to one host address), each element tagged `comment "<container> <bridge>"`. The two
//! `dnat … map` rules look the packet's (address,) protocol and port up and DNAT to the
//! container address and port they find; a miss ends the rule without a match (nft(8),
//! MAPS; concatenations:
//! <https://wiki.nftables.org/wiki-nftables/index.php/Concatenations>). So starting a
//! container adds elements and stopping it deletes them, whatever the number of ports, and
//! a packet costs one hash lookup however many ports are published. `fib daddr type local` limits DNAT to
//! packets addressed to the host itself, as Docker's `--dst-type LOCAL`. The same lookup
//! runs in `nat-output`, so the host's own connections, to `127.0.0.1:PORT` too, reach the
//! container with no proxy process.
//!
//! **Per network** (bridge `B`, subnet `S`), in the `nets-*` chains, each rule commented
//! `net:<id>` so that removal deletes exactly those (by handle, after a listing):
//!
//! - `nets-raw`: `iifname B ip daddr 127.0.0.0/8 drop`. `route_localnet=1` on `B` (below)
//!   would otherwise let a container reach the host's loopback-only services by sending to
//!   127.0.0.1 (CVE-2020-8558, <https://github.com/kubernetes/kubernetes/issues/92315>).
//!   At priority raw the rule sees the destination as sent, before conntrack un-NATs the
//!   answers of the host's 127.0.0.1 connections (whose destination becomes 127.0.0.1 only
//!   at the nat hook).
//! - `nets-postrouting` (not internal):
//!   `oifname B ip saddr 127.0.0.0/8 ct status dnat masquerade`: the host's connection to
//!   127.0.0.1:PORT, DNATed in `nat-output`, leaves through `B` with source 127.0.0.1; the
//!   kernel routes it only with `net.ipv4.conf.B.route_localnet=1` (set by this crate,
//!   ip-sysctl(7): <https://docs.kernel.org/networking/ip-sysctl.html>), and the container
//!   must see the bridge's address to answer;
//!   `oifname B ip saddr S ct status dnat masquerade`: hairpin, a container reaching a
//!   published port (its own or a neighbour's) through a host address, must get the
//!   answer back through the host. (With br_netfilter on, the kernel bridges a packet
//!   DNATed back into the bridge it came from instead of routing it, so a container
//!   reaching *its own* published port needs hairpin mode on its bridge port, which
//!   berth-net must set, as Docker does without its userland proxy.);
//!   `oifname != B ip saddr S masquerade`: outbound NAT.
//! - `nets-egress` (internal only): `iifname B oifname != B drop`: nothing leaves.
//! - `nets-ingress`: `oifname B iifname B accept` (containers of one network; such bridged
//!   traffic reaches the forward hook only when br_netfilter's `bridge-nf-call-iptables`
//!   is on); `oifname B ct status dnat accept` (not internal: published ports);
//!   `oifname B drop`: anything else into a container is dropped (other networks, and
//!   hosts that route to `S`, which Docker 20.10 let reach every port, moby#45610).
//!
//! An internal network gets no NAT and no `ct status dnat accept`: ports published for its
//! containers stay unreachable (Docker does not publish them either).
//!
//! Egress runs before ingress because an internal network's drop must win over another
//! network's accept of a DNATed packet; within each chain the rules of different networks
//! match different bridges, so their order does not matter.
//!
//! Loopback-addressed packets that *arrive* (`nat-prerouting`, first rule) are never
//! DNATed: Docker's rule DNATed them, so a LAN host sending to 127.0.0.1 through the host's
//! MAC reached ports published on 127.0.0.1 only (moby#41872).
//!
//! # Changes and transactions
//!
//! - [`Firewall::ensure`]: `add` of the table, maps and chains (no-ops when they exist),
//!   then flush and re-add of the fixed rules of the base chains and `published`, in one
//!   batch: idempotent, and running traffic never sees a half-written chain
//!   (<https://wiki.nftables.org/wiki-nftables/index.php/Atomic_rule_replacement>).
//! - [`Firewall::add_ports`]: `create element`, one batch, one `nft` run (4–7 ms here,
//!   constant with 1,000 ports published: `examples/nft_timing.rs`). `create` fails if a
//!   key exists at all; only then a listing decides: the identical mapping (a retry, or a
//!   container that died unseen) changes owner, another address is a conflict naming the
//!   owner.
//! - [`Firewall::remove_ports`]: `delete element` of the container's keys, one `nft` run
//!   (about 16 ms: a kernel commit that deletes anything waits ~9 ms here, for elements,
//!   rules and chains alike). The keys come from an owner index the firewall keeps, learned
//!   from one listing the first time (element comments name the owner), so the cost does
//!   not grow with the table.
//! - [`Firewall::add_network`] / [`Firewall::remove_network`]: rules, one batch, after a
//!   listing (to replace or delete the rules with that network's comment, by handle).
//! - [`Firewall::reconcile`]: `add table; delete table;` then the whole desired table, in
//!   one batch: atomically the old table is gone and the new one complete. Connections
//!   already NATed keep their conntrack bindings.
//!
//! # Why nft's text syntax, not the `nftables` crate's JSON
//!
//! The crate survey suggested the `nftables` crate (typed JSON through `nft -j -f -`, as
//! netavark does). Measured here with Debian bookworm's nft 1.0.6: its JSON *input* parser
//! cannot read this table back — it rejects a map whose data type is a concatenation
//! (`"map": "ipv4_addr . inet_service"`, exactly as `nft -j list` prints it: "Invalid map
//! type") and segfaults on the array form — while the text syntax handles maps with
//! concatenated data, `dnat to … map`, and element comments. So batches are generated as
//! text (small, reviewed by unit tests that compare the exact batch, readable in
//! `nft list table ip berth` in the same words), every name in them validated to
//! `[A-Za-z0-9_.-]` first so nothing can break out of a quoted string; reads use nft's JSON
//! *output* (`nft -j list table`), parsed with serde_json. `nft` is spawned directly with
//! arguments, the batch on its stdin; its stderr is in every error.
//!
//! # Not covered
//!
//! IPv6 (an `ip6` twin of the table), `net.ipv4.ip_forward` (the daemon's setting, not a
//! rule), and hosts whose own forward policy is drop (see above).
//!
//! # Invariants
//!
//! - Only table `ip <name>` is ever changed; every change is one nft transaction.
//! - Every rule outside the fixed skeleton carries `comment "net:<id>"`; every map element
//!   carries `comment "<container> <bridge>"`.
//! - Nothing from outside reaches `nft` unvalidated; `nft` never runs through a shell.

mod error;
mod firewall;
mod model;
mod nft;
mod plan;
mod sysctl;

pub use error::{Error, ErrorKind, Result};
pub use firewall::{Firewall, PacketFilter};
pub use model::{Network, PortMapping, Proto, MAX_ID_LEN};
pub use sysctl::{enable_route_localnet, free_host_port, local_port_range};
