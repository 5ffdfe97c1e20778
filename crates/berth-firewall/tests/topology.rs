//! Privileged tests: berth's table in a real kernel, checked by sending traffic as a user
//! would. Each test re-runs itself in a private mount and network namespace
//! (`berth_testutil::isolated`), mounts a tmpfs on /run there (so `ip netns` state stays
//! private too), and builds this topology inside, with `ip`:
//!
//! ```text
//!   remote (10.96.0.2) ── v-remote 10.96.0.1 ─┐
//!                                             │ test namespace = "the host"
//!   c1 10.98.0.2 ─┐                           │ (ip_forward=1 here only)
//!   c2 10.98.0.3 ─┴── br-fwa 10.98.0.1/24 ────┤  network A
//!   c3 10.97.0.2 ──── br-fwb 10.97.0.1/24 ────┘  network B (internal in some tests)
//! ```
//!
//! The remote host routes 10.96–10.98.0.0/16 through the test namespace, like a LAN
//! neighbour with a static route. Everything (namespaces, veths, the nft table) goes away
//! with the isolated child process, also when an assertion fails; the tests still undo the
//! table explicitly.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use berth_firewall::{ErrorKind, Firewall, Network, PortMapping, Proto};
use berth_testutil::{isolated, Cleanup};
use serde_json::Value;

const TABLE: &str = "berth";
const TIMEOUT: Duration = Duration::from_millis(800);

fn ip4(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

const HOST: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 1);
const REMOTE: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 2);
const GW_A: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 1);
const C1: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 2);
const C2: Ipv4Addr = Ipv4Addr::new(10, 98, 0, 3);
const C3: Ipv4Addr = Ipv4Addr::new(10, 97, 0, 2);

/// Runs a command of the test (ip, nft), panicking with its stderr on failure.
fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ip(args: &str) {
    let mut v = vec!["ip"];
    v.extend(args.split_whitespace());
    run(&v);
}

fn sysctl(path: &str, value: &str) {
    std::fs::write(format!("/proc/sys/{path}"), value)
        .unwrap_or_else(|e| panic!("cannot write {value} to {path}: {e}"));
}

/// Makes namespace `ns` send 127.0.0.1 through gateway `gw` instead of its own loopback (a
/// rule before the `local` table's, and route_localnet on its eth0): an attacker's setup.
fn route_loopback_via(ns: &'static str, gw: &str) {
    ip(&format!(
        "-n {ns} route add 127.0.0.1/32 via {gw} table 100"
    ));
    ip(&format!("-n {ns} rule add to 127.0.0.1 lookup 100 pref 10"));
    ip(&format!("-n {ns} rule del lookup local pref 0"));
    ip(&format!("-n {ns} rule add lookup local pref 20"));
    thread::spawn(move || {
        enter(Some(ns));
        sysctl("net/ipv4/conf/eth0/route_localnet", "1");
        sysctl("net/ipv4/conf/eth0/rp_filter", "0");
    })
    .join()
    .expect("sysctl thread");
}

/// Network A (`br-fwa`, 10.98.0.0/24) and B (`br-fwb`, 10.97.0.0/24).
fn net_a() -> Network {
    Network {
        id: "neta".into(),
        bridge: "br-fwa".into(),
        subnet: (GW_A, 24),
        internal: false,
    }
}

fn net_b(internal: bool) -> Network {
    Network {
        id: "netb".into(),
        bridge: "br-fwb".into(),
        subnet: (ip4(10, 97, 0, 1), 24),
        internal,
    }
}

/// Builds the topology of the module doc inside the isolated child.
fn topology() {
    // A private /run: `ip netns add` mounts its namespaces under /run/netns.
    rustix::mount::mount(
        "tmpfs",
        "/run",
        "tmpfs",
        rustix::mount::MountFlags::empty(),
        None,
    )
    .expect("mount a tmpfs on /run in the test's mount namespace");
    ip("link set lo up");
    sysctl("net/ipv4/ip_forward", "1");
    for (br, addr) in [("br-fwa", "10.98.0.1/24"), ("br-fwb", "10.97.0.1/24")] {
        ip(&format!("link add {br} type bridge"));
        ip(&format!("addr add {addr} dev {br}"));
        ip(&format!("link set {br} up"));
    }
    for (ns, br, addr, gw) in [
        ("c1", "br-fwa", "10.98.0.2/24", "10.98.0.1"),
        ("c2", "br-fwa", "10.98.0.3/24", "10.98.0.1"),
        ("c3", "br-fwb", "10.97.0.2/24", "10.97.0.1"),
    ] {
        ip(&format!("netns add {ns}"));
        ip(&format!(
            "link add v-{ns} type veth peer name eth0 netns {ns}"
        ));
        ip(&format!("link set v-{ns} master {br} up"));
        // As berth-net sets its ports (and Docker without userland proxy): with
        // br_netfilter, a packet DNATed to the container it came from is bridged back out
        // of its own port, which a bridge does only in hairpin mode.
        ip(&format!("link set v-{ns} type bridge_slave hairpin on"));
        ip(&format!("-n {ns} link set lo up"));
        ip(&format!("-n {ns} addr add {addr} dev eth0"));
        ip(&format!("-n {ns} link set eth0 up"));
        ip(&format!("-n {ns} route add default via {gw}"));
    }
    ip("netns add remote");
    ip("link add v-remote type veth peer name eth0 netns remote");
    ip("addr add 10.96.0.1/24 dev v-remote");
    ip("link set v-remote up");
    ip("-n remote link set lo up");
    ip("-n remote addr add 10.96.0.2/24 dev eth0");
    ip("-n remote link set eth0 up");
    ip("-n remote route add 10.96.0.0/14 via 10.96.0.1");
}

/// Moves the calling thread into network namespace `ns` (`None`: stay in the test's).
fn enter(ns: Option<&str>) {
    if let Some(ns) = ns {
        let f = File::open(format!("/run/netns/{ns}")).expect("open netns");
        rustix::thread::move_into_link_name_space(
            f.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .expect("setns");
    }
}

/// A TCP listener in `ns` on `addr:port` that answers each connection with
/// "`tag` `peer address`" and closes it. Returns once it listens; it lives as long as the
/// test process.
fn serve_tcp(ns: Option<&'static str>, addr: Ipv4Addr, port: u16, tag: &'static str) {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        enter(ns);
        let l = TcpListener::bind((addr, port)).expect("bind tcp");
        tx.send(()).expect("ready");
        for s in l.incoming().flatten() {
            let mut s = s;
            let peer = s.peer_addr().map(|a| a.to_string()).unwrap_or_default();
            let _ = writeln!(s, "{tag} {peer}");
        }
    });
    rx.recv().expect("listener started");
}

/// A UDP responder in `ns`: each datagram is answered with "`tag` `peer address`".
fn serve_udp(ns: Option<&'static str>, port: u16, tag: &'static str) {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        enter(ns);
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).expect("bind udp");
        tx.send(()).expect("ready");
        let mut buf = [0u8; 64];
        while let Ok((_, peer)) = s.recv_from(&mut buf) {
            let _ = s.send_to(format!("{tag} {peer}").as_bytes(), peer);
        }
    });
    rx.recv().expect("responder started");
}

/// Connects from `ns` to `addr:port`, in a thread, and returns the listener's line, or
/// the error.
fn tcp_probe(
    ns: Option<&'static str>,
    addr: Ipv4Addr,
    port: u16,
) -> thread::JoinHandle<Result<String, String>> {
    thread::spawn(move || {
        enter(ns);
        let target = SocketAddrV4::new(addr, port).into();
        let mut s = TcpStream::connect_timeout(&target, TIMEOUT).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(TIMEOUT))
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        s.read_to_string(&mut line).map_err(|e| e.to_string())?;
        Ok(line.trim().to_owned())
    })
}

/// [`tcp_probe`], waited for.
fn tcp_get(ns: Option<&'static str>, addr: Ipv4Addr, port: u16) -> Result<String, String> {
    tcp_probe(ns, addr, port).join().expect("client thread")
}

/// Sends a datagram from `ns` to `addr:port` and returns the answer, or the error.
fn udp_get(ns: Option<&'static str>, addr: Ipv4Addr, port: u16) -> Result<String, String> {
    thread::spawn(move || {
        enter(ns);
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(TIMEOUT))
            .map_err(|e| e.to_string())?;
        s.send_to(b"ping", (addr, port))
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 128];
        let (n, _) = s.recv_from(&mut buf).map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    })
    .join()
    .expect("client thread")
}

/// Asserts that a probe reached listener `tag` and that it saw a peer address starting
/// with `peer` (e.g. "10.98.0.1:" for a masqueraded connection).
#[track_caller]
fn assert_reaches(what: &str, got: Result<String, String>, tag: &str, peer: Ipv4Addr) {
    let want = format!("{tag} {peer}:");
    match got {
        Ok(line) if line.starts_with(&want) => {}
        Ok(line) => panic!("{what}: expected an answer from {want}…, got {line:?}"),
        Err(e) => panic!("{what}: expected an answer from {want}…, got error {e}"),
    }
}

#[track_caller]
fn assert_blocked(what: &str, got: Result<String, String>) {
    if let Ok(line) = got {
        panic!("{what}: must not get through, but {line:?} answered");
    }
}

/// Like [`assert_blocked`] for several TCP probes `(what, from, to, port)`, run at the same
/// time (a blocked probe waits for its timeout).
#[track_caller]
fn assert_all_blocked(probes: &[(&str, Option<&'static str>, Ipv4Addr, u16)]) {
    let running: Vec<_> = probes
        .iter()
        .map(|&(what, ns, addr, port)| (what, tcp_probe(ns, addr, port)))
        .collect();
    for (what, probe) in running {
        assert_blocked(what, probe.join().expect("client thread"));
    }
}

fn mapping(
    container: &str,
    proto: Proto,
    host_ip: Option<Ipv4Addr>,
    host_port: u16,
    container_ip: Ipv4Addr,
    container_port: u16,
    bridge: &str,
) -> PortMapping {
    PortMapping {
        container: container.into(),
        proto,
        host_ip,
        host_port,
        container_ip,
        container_port,
        bridge: bridge.into(),
    }
}

/// `nft -j list table ip <table>` without handles and nft's metainfo: what two equal
/// rulesets have in common.
fn table_json(table: &str) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("handle");
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: Value =
        serde_json::from_str(&run(&["nft", "-j", "list", "table", "ip", table])).expect("json");
    if let Some(a) = v.get_mut("nftables").and_then(Value::as_array_mut) {
        a.retain(|o| o.get("metainfo").is_none());
    }
    strip(&mut v);
    v
}

/// Whether iptables (Debian's is iptables-nft) is installed. It is not in setup.sh's list;
/// without it the tests write the same tables with nft, as iptables-nft would.
fn have_iptables() -> bool {
    Command::new("iptables")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Another program's rules: a forward drop in `ip filter` and a DNAT of port 7777 to c2 in
/// `ip nat`.
fn install_foreign_rules() {
    if have_iptables() {
        run(&["iptables", "-A", "FORWARD", "-s", "10.96.0.9", "-j", "DROP"]);
        let dnat = "-t nat -A PREROUTING -p tcp --dport 7777 -j DNAT --to-destination 10.98.0.3:80";
        let mut args = vec!["iptables"];
        args.extend(dnat.split(' '));
        run(&args);
        return;
    }
    eprintln!("iptables is not installed: writing its tables with nft instead");
    let tables = "table ip filter {
  chain FORWARD { type filter hook forward priority filter; policy accept; ip saddr 10.96.0.9 drop; }
}
table ip nat {
  chain PREROUTING { type nat hook prerouting priority dstnat; policy accept; tcp dport 7777 dnat to 10.98.0.3:80; }
}
";
    let mut nft = Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("nft");
    nft.stdin
        .take()
        .expect("stdin")
        .write_all(tables.as_bytes())
        .expect("write");
    assert!(nft.wait().expect("nft").success(), "foreign tables");
}

/// The other program's rules, as text to compare (`iptables-save` without its timestamped
/// comments, or nft's listing of the two tables).
fn foreign_rules() -> String {
    if have_iptables() {
        return run(&["iptables-save"])
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
    }
    run(&["nft", "list", "table", "ip", "filter"]) + &run(&["nft", "list", "table", "ip", "nat"])
}

/// How many rules of the table carry each comment (rules without one: key "").
fn rule_comments(table: &str) -> std::collections::BTreeMap<String, usize> {
    let v = table_json(table);
    let mut counts = std::collections::BTreeMap::new();
    for o in v["nftables"].as_array().expect("array") {
        if let Some(r) = o.get("rule") {
            let c = r.get("comment").and_then(Value::as_str).unwrap_or("");
            *counts.entry(c.to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

fn firewall() -> (Firewall, Cleanup<impl FnOnce()>) {
    let fw = Firewall::new(TABLE).expect("nft is installed");
    let guard = Cleanup::new(|| {
        // Leave nothing even when an assertion failed (the namespace goes too, but the
        // test should not rely on that).
        if let Ok(fw) = Firewall::new(TABLE) {
            let _ = fw.remove_all();
        }
    });
    (fw, guard)
}

/// Everything a user would check about published ports, NAT and isolation.
#[test]
fn traffic_follows_the_rules() {
    if !isolated!() {
        return;
    }
    topology();
    let (fw, _cleanup) = firewall();
    fw.ensure().expect("ensure");
    fw.add_network(&net_a()).expect("add network A");
    fw.add_network(&net_b(true))
        .expect("add internal network B");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/conf/br-fwa/route_localnet")
            .expect("sysctl")
            .trim(),
        "1"
    );

    serve_tcp(Some("c1"), Ipv4Addr::UNSPECIFIED, 80, "c1");
    serve_tcp(Some("c1"), Ipv4Addr::UNSPECIFIED, 81, "c1-unpublished");
    serve_udp(Some("c1"), 53, "c1-udp");
    serve_tcp(Some("c2"), Ipv4Addr::UNSPECIFIED, 80, "c2");
    serve_tcp(Some("c3"), Ipv4Addr::UNSPECIFIED, 80, "c3");
    serve_tcp(Some("remote"), Ipv4Addr::UNSPECIFIED, 9000, "remote");
    // A loopback-only service of the host, which containers must not reach.
    serve_tcp(None, Ipv4Addr::LOCALHOST, 9999, "host-loopback");

    let c1_ports = [
        mapping("c1", Proto::Tcp, None, 8080, C1, 80, "br-fwa"),
        mapping("c1", Proto::Udp, None, 8053, C1, 53, "br-fwa"),
    ];
    let c2_ports = [mapping(
        "c2",
        Proto::Tcp,
        Some(Ipv4Addr::LOCALHOST),
        8081,
        C2,
        80,
        "br-fwa",
    )];
    fw.add_ports("c1", &c1_ports).expect("publish c1");
    fw.add_ports("c2", &c2_ports).expect("publish c2");
    let mut all: Vec<PortMapping> = c1_ports.iter().chain(&c2_ports).cloned().collect();
    all.sort();
    assert_eq!(fw.published().expect("published"), all);

    // The host reaches the published port on 127.0.0.1 (DNAT in output, no proxy) and on
    // its own address; on loopback the container sees the bridge's address.
    assert_reaches(
        "host → 127.0.0.1:8080",
        tcp_get(None, Ipv4Addr::LOCALHOST, 8080),
        "c1",
        GW_A,
    );
    assert_reaches(
        "host → 10.96.0.1:8080",
        tcp_get(None, HOST, 8080),
        "c1",
        HOST,
    );
    assert_reaches(
        "host → udp 127.0.0.1:8053",
        udp_get(None, Ipv4Addr::LOCALHOST, 8053),
        "c1-udp",
        GW_A,
    );
    // A remote host reaches the published port with its own address preserved…
    assert_reaches(
        "remote → host:8080",
        tcp_get(Some("remote"), HOST, 8080),
        "c1",
        REMOTE,
    );
    assert_reaches(
        "remote → udp host:8053",
        udp_get(Some("remote"), HOST, 8053),
        "c1-udp",
        REMOTE,
    );
    // …but no unpublished port, neither through the host address nor by routing straight
    // to the container (Docker 20.10 let this through), not even the published
    // container port itself.
    assert_all_blocked(&[
        ("remote → host:81", Some("remote"), HOST, 81),
        ("remote → c1:81", Some("remote"), C1, 81),
        ("remote → c1:80", Some("remote"), C1, 80),
    ]);
    // A port published on 127.0.0.1 only: the host reaches it on loopback, nobody on
    // another address.
    assert_reaches(
        "host → 127.0.0.1:8081",
        tcp_get(None, Ipv4Addr::LOCALHOST, 8081),
        "c2",
        GW_A,
    );
    assert_all_blocked(&[
        ("host → 10.96.0.1:8081", None, HOST, 8081),
        ("remote → host:8081", Some("remote"), HOST, 8081),
    ]);

    // Containers of one network talk directly, with their own addresses.
    assert_reaches("c2 → c1:80", tcp_get(Some("c2"), C1, 80), "c1", C2);
    // Hairpin: a container reaches its own and its neighbour's published port through a
    // host address, and the answer comes back through the host.
    assert_reaches(
        "c1 → host:8080 (own port)",
        tcp_get(Some("c1"), HOST, 8080),
        "c1",
        GW_A,
    );
    assert_reaches(
        "c2 → 10.98.0.1:8080",
        tcp_get(Some("c2"), GW_A, 8080),
        "c1",
        GW_A,
    );
    // Outbound NAT: the remote host sees the host's address.
    assert_reaches(
        "c1 → remote:9000",
        tcp_get(Some("c1"), REMOTE, 9000),
        "remote",
        HOST,
    );

    // Networks are isolated from each other, both ways. The internal network has no way
    // out: not to the remote host, not through another network's published port; and the
    // remote host cannot reach it either.
    assert_all_blocked(&[
        ("c1 → c3:80 (A → B)", Some("c1"), C3, 80),
        ("c3 → c1:80 (B → A)", Some("c3"), C1, 80),
        ("c3 → remote:9000 (internal)", Some("c3"), REMOTE, 9000),
        (
            "c3 → host:8080 (internal → published)",
            Some("c3"),
            HOST,
            8080,
        ),
        ("remote → c3:80", Some("remote"), C3, 80),
    ]);

    // CVE-2020-8558: with route_localnet=1 on the bridge, a container that sends to
    // 127.0.0.1 through the host must not reach the host's loopback services, nor ports
    // published on 127.0.0.1 only.
    route_loopback_via("c1", "10.98.0.1");
    assert_all_blocked(&[
        (
            "c1 → 127.0.0.1:9999 via the host",
            Some("c1"),
            Ipv4Addr::LOCALHOST,
            9999,
        ),
        (
            "c1 → 127.0.0.1:8081 via the host",
            Some("c1"),
            Ipv4Addr::LOCALHOST,
            8081,
        ),
    ]);
    // Control: without network A's raw rule the same probe gets through (so the probe is
    // real); add_network puts the rules back.
    run(&["nft", "flush", "chain", "ip", TABLE, "nets-raw"]);
    assert_reaches(
        "control: c1 → 127.0.0.1:9999 without nets-raw",
        tcp_get(Some("c1"), Ipv4Addr::LOCALHOST, 9999),
        "host-loopback",
        C1,
    );
    fw.add_network(&net_a()).expect("re-add network A");
    fw.add_network(&net_b(true)).expect("re-add network B");
    assert_blocked(
        "c1 → 127.0.0.1:9999 again",
        tcp_get(Some("c1"), Ipv4Addr::LOCALHOST, 9999),
    );

    // moby#41872: a LAN neighbour sending to 127.0.0.1 through the host must not reach a
    // port published on 127.0.0.1.
    route_loopback_via("remote", "10.96.0.1");
    assert_blocked(
        "remote → 127.0.0.1:8081 via the host",
        tcp_get(Some("remote"), Ipv4Addr::LOCALHOST, 8081),
    );
    // Control: with Docker's rule (DNAT whatever is addressed to a local address) it would.
    run(&["nft", "flush", "chain", "ip", TABLE, "nat-prerouting"]);
    run(&[
        "nft",
        "add",
        "rule",
        "ip",
        TABLE,
        "nat-prerouting",
        "fib",
        "daddr",
        "type",
        "local",
        "jump",
        "published",
    ]);
    assert_reaches(
        "control: remote → 127.0.0.1:8081 with Docker's rule",
        tcp_get(Some("remote"), Ipv4Addr::LOCALHOST, 8081),
        "c2",
        REMOTE,
    );
    fw.ensure().expect("ensure restores the fixed rules");
    assert_blocked(
        "remote → 127.0.0.1:8081 after ensure",
        tcp_get(Some("remote"), Ipv4Addr::LOCALHOST, 8081),
    );
    // The host's own loopback service is, of course, still there for the host.
    assert_reaches(
        "host → 127.0.0.1:9999",
        tcp_get(None, Ipv4Addr::LOCALHOST, 9999),
        "host-loopback",
        Ipv4Addr::LOCALHOST,
    );

    // Unpublishing: c1's ports stop answering, c2's stays.
    fw.remove_ports("c1").expect("unpublish c1");
    assert_all_blocked(&[
        (
            "host → 127.0.0.1:8080 after remove_ports",
            None,
            Ipv4Addr::LOCALHOST,
            8080,
        ),
        (
            "remote → host:8080 after remove_ports",
            Some("remote"),
            HOST,
            8080,
        ),
    ]);
    assert_reaches(
        "host → 127.0.0.1:8081 after c1's removal",
        tcp_get(None, Ipv4Addr::LOCALHOST, 8081),
        "c2",
        GW_A,
    );
    assert_eq!(fw.published().expect("published"), c2_ports.to_vec());
    fw.remove_ports("c1").expect("unpublishing twice is fine");

    // Removing network A's rules: its containers lose NAT (the remote host, which routes
    // to the subnet, now sees c1's own address) and their isolation.
    fw.remove_network("neta").expect("remove network A");
    assert_eq!(
        fw.networks()
            .expect("networks")
            .into_iter()
            .collect::<Vec<_>>(),
        vec!["netb".to_owned()]
    );
    assert_reaches(
        "c1 → remote without network A's NAT",
        tcp_get(Some("c1"), REMOTE, 9000),
        "remote",
        C1,
    );
    assert_reaches(
        "remote → c1:81 without network A's rules",
        tcp_get(Some("remote"), C1, 81),
        "c1-unpublished",
        REMOTE,
    );
}

/// The reconcile contract: one copy of everything, stale state gone, other tables
/// untouched; ensure is idempotent; remove_all leaves no trace.
#[test]
fn reconcile_rebuilds_exactly_and_remove_all_leaves_nothing() {
    if !isolated!() {
        return;
    }
    topology();
    // Another program's rules (tables ip filter and ip nat, at the same hooks as berth's):
    // they must survive everything, and both NATs must work.
    install_foreign_rules();
    let foreign_before = foreign_rules();
    assert!(
        foreign_before.contains("7777") && foreign_before.contains("10.96.0.9"),
        "{foreign_before}"
    );
    serve_tcp(Some("c1"), Ipv4Addr::UNSPECIFIED, 80, "c1");
    serve_tcp(Some("c2"), Ipv4Addr::UNSPECIFIED, 80, "c2");
    serve_tcp(Some("remote"), Ipv4Addr::UNSPECIFIED, 9000, "remote");

    let (fw, _cleanup) = firewall();
    fw.ensure().expect("ensure");
    let empty = table_json(TABLE);
    fw.ensure().expect("ensure again");
    assert_eq!(table_json(TABLE), empty, "ensure twice is ensure once");

    // The state before a "crash": two networks, a live and a dead container's ports.
    fw.add_network(&net_a()).expect("net A");
    fw.add_network(&net_b(false)).expect("net B");
    fw.add_network(&net_a())
        .expect("net A again replaces, not duplicates");
    let live = mapping("c1", Proto::Tcp, None, 8080, C1, 80, "br-fwa");
    let dead = mapping("dead", Proto::Tcp, None, 8090, C2, 80, "br-fwa");
    fw.add_ports("c1", std::slice::from_ref(&live)).expect("c1");
    fw.add_ports("dead", std::slice::from_ref(&dead))
        .expect("dead");
    let before = rule_comments(TABLE);
    assert_eq!(before.get("net:neta"), Some(&7), "{before:?}");

    // ensure() on a populated table keeps everything.
    fw.ensure().expect("ensure on a populated table");
    assert_eq!(rule_comments(TABLE), before);
    assert_eq!(fw.published().expect("published").len(), 2);
    // berth's DNAT and iptables' DNAT side by side; a container of another (non-internal)
    // network reaches a published port through a host address, as with Docker.
    assert_reaches(
        "remote → host:8080 (berth)",
        tcp_get(Some("remote"), HOST, 8080),
        "c1",
        REMOTE,
    );
    assert_reaches(
        "remote → host:7777 (iptables)",
        tcp_get(Some("remote"), HOST, 7777),
        "c2",
        REMOTE,
    );
    assert_reaches(
        "c3 → host:8080 (B → A's published port)",
        tcp_get(Some("c3"), HOST, 8080),
        "c1",
        GW_A,
    );

    // The engine's state after the restart: network A, B (now internal), container c1 and
    // a new one; duplicates in the input are merged.
    let c2 = mapping("c2", Proto::Udp, Some(HOST), 5353, C2, 53, "br-fwa");
    let desired_nets = [net_a(), net_b(true), net_a()];
    let desired_ports = [live.clone(), c2.clone(), live.clone()];
    fw.reconcile(&desired_nets, &desired_ports)
        .expect("reconcile");
    let once = table_json(TABLE);
    fw.reconcile(&desired_nets, &desired_ports)
        .expect("reconcile again");
    assert_eq!(table_json(TABLE), once, "reconcile twice is reconcile once");

    let counts = rule_comments(TABLE);
    assert_eq!(counts.get("net:neta"), Some(&7), "{counts:?}");
    assert_eq!(
        counts.get("net:netb"),
        Some(&4),
        "internal network B: {counts:?}"
    );
    assert_eq!(
        counts.get(""),
        Some(&10),
        "the fixed rules, once: {counts:?}"
    );
    assert_eq!(counts.len(), 3, "{counts:?}");
    let mut want = vec![live.clone(), c2];
    want.sort();
    assert_eq!(
        fw.published().expect("published"),
        want,
        "the dead container's port is gone"
    );

    // The rebuilt table works: the live container's port answers, B is internal now.
    assert_reaches(
        "host → 127.0.0.1:8080 after reconcile",
        tcp_get(None, Ipv4Addr::LOCALHOST, 8080),
        "c1",
        GW_A,
    );
    assert_all_blocked(&[
        (
            "c3 → host:8080 (B internal after reconcile)",
            Some("c3"),
            HOST,
            8080,
        ),
        (
            "c3 → remote (B internal after reconcile)",
            Some("c3"),
            REMOTE,
            9000,
        ),
    ]);

    // Reconcile to nothing: an empty skeleton.
    fw.reconcile(&[], &[]).expect("reconcile to empty");
    assert_eq!(table_json(TABLE), empty);

    assert_eq!(foreign_rules(), foreign_before);
    fw.remove_all().expect("remove_all");
    fw.remove_all().expect("remove_all twice");
    let ruleset = run(&["nft", "list", "ruleset"]);
    assert!(
        !ruleset.contains(&format!("table ip {TABLE} ")),
        "{ruleset}"
    );
    assert_eq!(foreign_rules(), foreign_before);
    assert!(fw.published().expect("published of no table").is_empty());
    assert!(fw.remove_ports("c1").is_ok() && fw.remove_network("neta").is_ok());
}

/// Errors say what went wrong; a failed batch changes nothing.
#[test]
fn conflicts_and_missing_things_are_clear_errors() {
    if !isolated!() {
        return;
    }
    rustix::mount::mount(
        "tmpfs",
        "/run",
        "tmpfs",
        rustix::mount::MountFlags::empty(),
        None,
    )
    .expect("tmpfs on /run");
    ip("link add br-fwa type bridge");
    let (fw, _cleanup) = firewall();

    // Before ensure(): no table.
    let err = fw.add_network(&net_a()).expect_err("no table yet");
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("ensure"), "{err}");
    let err = fw
        .add_ports(
            "c1",
            &[mapping("c1", Proto::Tcp, None, 8080, C1, 80, "br-fwa")],
        )
        .expect_err("no table yet");
    assert!(
        err.message.contains("No such file or directory"),
        "nft's stderr: {err}"
    );

    fw.ensure().expect("ensure");
    // A bridge that does not exist: the rules go in, the sysctl cannot be set.
    let err = fw
        .add_network(&Network {
            id: "ghost".into(),
            bridge: "br-ghost".into(),
            subnet: (ip4(10, 97, 9, 0), 24),
            internal: false,
        })
        .expect_err("no such bridge");
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(err.message.contains("br-ghost/route_localnet"), "{err}");
    fw.remove_network("ghost").expect("remove ghost");

    let p8080 = mapping("c1", Proto::Tcp, None, 8080, C1, 80, "br-fwa");
    fw.add_ports("c1", std::slice::from_ref(&p8080))
        .expect("c1");
    fw.add_ports("c1", std::slice::from_ref(&p8080))
        .expect("the same again is fine");
    // Another container, same host port, another address: a conflict, and its other port
    // is not published either (one transaction).
    let clash = [
        mapping("c2", Proto::Tcp, None, 9090, C2, 80, "br-fwa"),
        mapping("c2", Proto::Tcp, None, 8080, C2, 80, "br-fwa"),
    ];
    let err = fw.add_ports("c2", &clash).expect_err("8080 is taken");
    assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
    assert!(
        err.message.contains("c2")
            && err
                .message
                .contains("8080/tcp is published to 10.98.0.2:80 by container \"c1\""),
        "{err}"
    );
    assert_eq!(fw.published().expect("published"), vec![p8080.clone()]);
    // The same port on a specific address is a different key (the engine's conflict check
    // decides whether to allow it); on UDP too.
    let udp = mapping("c2", Proto::Udp, None, 8080, C2, 80, "br-fwa");
    fw.add_ports("c2", std::slice::from_ref(&udp))
        .expect("udp/8080 is free");
    // A mapping identical to another container's changes owner (the newest start wins).
    let same = PortMapping {
        container: "c3".into(),
        ..p8080.clone()
    };
    fw.add_ports("c3", std::slice::from_ref(&same))
        .expect("identical mapping");
    fw.remove_ports("c1").expect("c1 owns nothing now");
    let mut want = vec![same, udp];
    want.sort();
    assert_eq!(fw.published().expect("published"), want);

    // A second Firewall (a restarted daemon) learns the owners from the kernel.
    let restarted = Firewall::new(TABLE).expect("firewall");
    restarted
        .remove_ports("c3")
        .expect("c3's port, seen by a new instance");
    assert_eq!(
        fw.published().expect("published"),
        vec![mapping("c2", Proto::Udp, None, 8080, C2, 80, "br-fwa")]
    );
    // An element deleted behind the firewall's back: remove_ports still removes the rest.
    let c4 = [
        mapping("c4", Proto::Tcp, None, 7001, C2, 81, "br-fwa"),
        mapping("c4", Proto::Tcp, Some(HOST), 7002, C2, 82, "br-fwa"),
    ];
    restarted.add_ports("c4", &c4).expect("c4");
    run(&[
        "nft",
        "delete",
        "element",
        "ip",
        TABLE,
        "ports_any",
        "{ tcp . 7001 }",
    ]);
    restarted.remove_ports("c4").expect("c4's remaining port");
    assert_eq!(fw.published().expect("published").len(), 1);

    // A broken nft binary: the error names it.
    let bad = Firewall::with_nft(TABLE, "/bin/false").expect("firewall");
    let err = bad.ensure().expect_err("false fails");
    assert!(err.message.contains("nft -f - failed"), "{err}");
}
