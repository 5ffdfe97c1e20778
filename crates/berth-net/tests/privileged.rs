//! Privileged tests of berth-net against the real kernel, checked like a user would: with
//! `ip -j` and `busybox ping` run through `nsenter --net=<path>`, and TCP between two
//! namespaces.
//!
//! Each test re-runs itself in a private mount and network namespace (`isolated!`): the
//! bridges, veths and namespace mounts it makes live there and die with it, and every
//! address used is in 10.99.0.0/16, inside that namespace only (the host's eth0, routes and
//! sysctls are never touched). Cleanup guards remove what a test made even when an assertion
//! fails.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_net::ipam::{Ipam, Pool};
use berth_net::link::{self, Bridge, Endpoint};
use berth_net::{netns, ErrorKind};
use berth_testutil::{isolated, Cleanup};
use serde_json::Value;

/// Runs a command, panicking with its stderr when it fails; returns stdout.
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

/// `ip -j <args>` in namespace `ns` (or the test's own when `None`), parsed.
fn ip_json(ns: Option<&Path>, args: &[&str]) -> Value {
    let net;
    let mut cmd: Vec<&str> = Vec::new();
    if let Some(ns) = ns {
        net = format!("--net={}", ns.display());
        cmd.extend(["nsenter", net.as_str()]);
    }
    cmd.extend(["ip", "-j"]);
    cmd.extend(args);
    let out = run(&cmd);
    if out.trim().is_empty() {
        return Value::Array(Vec::new());
    }
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("ip {args:?}: bad JSON {e}: {out}"))
}

/// The one link `name` in `ns`, as `ip -j -d link show` prints it.
fn link_json(ns: Option<&Path>, name: &str) -> Value {
    let v = ip_json(ns, &["-d", "link", "show", "dev", name]);
    v.get(0)
        .cloned()
        .unwrap_or_else(|| panic!("no link {name}: {v}"))
}

fn link_exists(ns: Option<&Path>, name: &str) -> bool {
    let mut cmd = Vec::new();
    let net;
    if let Some(ns) = ns {
        net = format!("--net={}", ns.display());
        cmd.extend(["nsenter".to_string(), net]);
    }
    cmd.extend(["ip", "link", "show", "dev", name].map(String::from));
    Command::new(&cmd[0])
        .args(&cmd[1..])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// IPv4 addresses of `dev` in `ns` as `a.b.c.d/n`.
fn addrs(ns: Option<&Path>, dev: &str) -> Vec<String> {
    let v = ip_json(ns, &["-4", "addr", "show", "dev", dev]);
    v.get(0)
        .and_then(|l| l["addr_info"].as_array())
        .map(|a| {
            a.iter()
                .map(|i| format!("{}/{}", i["local"].as_str().unwrap_or("?"), i["prefixlen"]))
                .collect()
        })
        .unwrap_or_default()
}

/// Default routes of `ns` as (gateway, dev).
fn default_routes(ns: &Path) -> Vec<(String, String)> {
    let v = ip_json(Some(ns), &["-4", "route", "show", "default"]);
    v.as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    (
                        r["gateway"].as_str().unwrap_or("").to_string(),
                        r["dev"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `path` is a mount point in this mount namespace.
fn is_mounted(path: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let want = path.to_string_lossy().replace(' ', "\\040");
    info.lines()
        .any(|l| l.split(' ').nth(4).is_some_and(|mp| mp == want))
}

/// The network namespace inode of the calling thread.
fn my_netns() -> u64 {
    std::fs::metadata("/proc/thread-self/ns/net")
        .expect("stat own netns")
        .ino()
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("ip")
}

/// Namespaces made by a test, removed on drop.
struct Namespaces {
    dir: tempfile::TempDir,
    made: Vec<PathBuf>,
}

impl Namespaces {
    fn new() -> Namespaces {
        Namespaces {
            dir: tempfile::tempdir().expect("tempdir"),
            made: Vec::new(),
        }
    }

    fn create(&mut self, name: &str) -> PathBuf {
        let path = self.dir.path().join("netns").join(name);
        netns::create(&path).unwrap_or_else(|e| panic!("netns::create {name}: {e}"));
        self.made.push(path.clone());
        path
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for p in &self.made {
            if let Err(e) = netns::remove(p) {
                eprintln!("cleanup: netns::remove {}: {e}", p.display());
            }
        }
    }
}

/// Host links deleted on drop.
fn delete_links_on_drop(names: Vec<String>) -> Cleanup<impl FnOnce()> {
    Cleanup::new(move || {
        for n in names {
            if let Err(e) = link::delete_link(&n) {
                eprintln!("cleanup: delete {n}: {e}");
            }
        }
    })
}

#[test]
fn netns_create_list_remove() {
    if !isolated!() {
        return;
    }
    let mut nss = Namespaces::new();
    let before = my_netns();
    let a = nss.create("a");
    assert_eq!(
        my_netns(),
        before,
        "the calling thread stayed in its namespace"
    );
    assert!(is_mounted(&a), "{} is a mount point", a.display());
    let ino = std::fs::metadata(&a).expect("stat").ino();
    assert_ne!(ino, before, "a new namespace, not ours");
    // Loopback is up inside, with its address.
    let lo = link_json(Some(&a), "lo");
    let flags: Vec<&str> = lo["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    assert!(flags.contains(&"UP"), "lo flags {flags:?}");
    assert_eq!(addrs(Some(&a), "lo"), vec!["127.0.0.1/8".to_string()]);

    // Creating it again is a Conflict and leaves the first one alone.
    let e = netns::create(&a).expect_err("exists");
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert!(is_mounted(&a));

    // A path that cannot be made leaves nothing behind.
    let blocker = nss.dir.path().join("file");
    std::fs::write(&blocker, "").expect("write");
    assert!(netns::create(&blocker.join("x")).is_err());

    let b = nss.create("b");
    assert_eq!(
        netns::list(&nss.dir.path().join("netns")).expect("list"),
        vec![a.clone(), b.clone()]
    );

    // run_in: work inside, on another thread; the answer comes back.
    let inside = netns::run_in(&b, || Ok(my_netns())).expect("run_in");
    assert_eq!(inside, std::fs::metadata(&b).expect("stat").ino());
    assert_eq!(my_netns(), before);

    netns::remove(&a).expect("remove");
    assert!(!is_mounted(&a), "no mount left");
    assert!(!a.exists(), "file removed");
    netns::remove(&a).expect("removing again is fine");
    netns::remove(&b).expect("remove b");
    assert!(netns::list(&nss.dir.path().join("netns"))
        .expect("list")
        .is_empty());
}

#[test]
fn bridge_is_converged_idempotently() {
    if !isolated!() {
        return;
    }
    let _links = delete_links_on_drop(vec!["bt0".into(), "nb0".into()]);
    let mut br = Bridge {
        name: "bt0".into(),
        address: ip("10.99.0.1"),
        prefix: 24,
        mtu: None,
    };
    link::ensure_bridge(&br).expect("create");
    link::ensure_bridge(&br).expect("again");
    let l = link_json(None, "bt0");
    assert_eq!(l["linkinfo"]["info_kind"], "bridge", "{l}");
    assert_eq!(l["mtu"], 1500);
    assert!(l["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .any(|f| f == "UP"));
    assert_eq!(addrs(None, "bt0"), vec!["10.99.0.1/24".to_string()]);
    let mac = l["address"].as_str().expect("mac").to_string();

    // Someone changed it: a stray address, another MTU. ensure_bridge puts it back.
    run(&["ip", "addr", "add", "10.99.7.1/24", "dev", "bt0"]);
    run(&["ip", "link", "set", "bt0", "down"]);
    br.mtu = Some(1400);
    link::ensure_bridge(&br).expect("converge");
    let l = link_json(None, "bt0");
    assert_eq!(l["mtu"], 1400);
    assert!(l["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .any(|f| f == "UP"));
    assert_eq!(addrs(None, "bt0"), vec!["10.99.0.1/24".to_string()]);
    assert_eq!(l["address"].as_str(), Some(mac.as_str()), "MAC kept");

    // A wrong prefix on the right address is replaced too.
    br.prefix = 16;
    link::ensure_bridge(&br).expect("new prefix");
    assert_eq!(addrs(None, "bt0"), vec!["10.99.0.1/16".to_string()]);
    // The right address as a secondary of a wrong primary: deleting the primary takes the
    // secondary with it, and the bridge must still end up with its address.
    run(&["ip", "addr", "flush", "dev", "bt0"]);
    run(&["ip", "addr", "add", "10.99.0.5/16", "dev", "bt0"]);
    run(&["ip", "addr", "add", "10.99.0.1/16", "dev", "bt0"]);
    link::ensure_bridge(&br).expect("secondary");
    assert_eq!(addrs(None, "bt0"), vec!["10.99.0.1/16".to_string()]);

    // The host's routes now include the bridge's subnet; pick_subnet avoids it.
    let routes = link::host_routes().expect("host_routes");
    assert!(routes.contains(&(ip("10.99.0.0"), 16)), "{routes:?}");
    br.address = ip("172.17.0.1");
    link::ensure_bridge(&br).expect("docker0-like address");
    let routes = link::host_routes().expect("host_routes");
    assert!(routes.contains(&(ip("172.17.0.0"), 16)), "{routes:?}");
    assert_eq!(
        berth_net::ipam::pick_subnet(&[], &routes),
        Some((ip("172.18.0.0"), 16))
    );

    // A link of that name that is not a bridge is never touched.
    run(&[
        "ip", "link", "add", "nb0", "type", "veth", "peer", "name", "nb1",
    ]);
    let e = link::ensure_bridge(&Bridge {
        name: "nb0".into(),
        address: ip("10.99.9.1"),
        prefix: 24,
        mtu: None,
    })
    .expect_err("not a bridge");
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert!(addrs(None, "nb0").is_empty());

    assert_eq!(
        link::links_with_prefix("bt").expect("links"),
        vec!["bt0".to_string()]
    );
    link::delete_link("bt0").expect("delete");
    link::delete_link("bt0").expect("missing is fine");
    assert!(!link_exists(None, "bt0"));

    // Sysctls of this (private) namespace.
    link::set_sysctl("net.ipv4.ip_forward", "1").expect("set");
    assert_eq!(link::get_sysctl("net.ipv4.ip_forward").expect("get"), "1");
    let e = link::set_sysctl("net.ipv4.conf.nope0.route_localnet", "1").expect_err("missing");
    assert!(e.message.contains("nope0"), "{e}");
}

#[test]
fn containers_on_a_bridge_reach_each_other() {
    if !isolated!() {
        return;
    }
    // lo of the test's own namespace, so that its gateway address answers pings too.
    run(&["ip", "link", "set", "lo", "up"]);
    let mut nss = Namespaces::new();
    let ipam = Ipam::open(nss.dir.path().join("ipam")).expect("ipam");
    let pool = Pool {
        subnet: (ip("10.99.0.0"), 24),
        ip_range: None,
        gateway: ip("10.99.0.1"),
    };
    let _links = delete_links_on_drop(vec![
        "bt0".into(),
        "bt1".into(),
        "vbtesta0".into(),
        "vbtestb0".into(),
        "vbtesta1".into(),
        "vbtestc0".into(),
        "vbtestbad".into(),
    ]);
    link::ensure_bridge(&Bridge {
        name: "bt0".into(),
        address: pool.gateway,
        prefix: 24,
        mtu: None,
    })
    .expect("bridge");
    let a = nss.create("a");
    let b = nss.create("b");
    let addr_a = ipam.allocate("net0", &pool, "a", None).expect("ip a");
    let addr_b = ipam.allocate("net0", &pool, "b", None).expect("ip b");
    assert_eq!((addr_a, addr_b), (ip("10.99.0.2"), ip("10.99.0.3")));

    let before = my_netns();
    let att_a = link::attach(&Endpoint {
        netns: &a,
        bridge: "bt0",
        host_ifname: "vbtesta0".into(),
        ifname: "eth0".into(),
        mac: None,
        address: addr_a,
        prefix: 24,
        gateway: Some(pool.gateway),
        mtu: None,
        hairpin: true,
    })
    .expect("attach a");
    let mac_b = [0x02, 0x42, 0xbe, 0xef, 0x00, 0x03];
    let att_b = link::attach(&Endpoint {
        netns: &b,
        bridge: "bt0",
        host_ifname: "vbtestb0".into(),
        ifname: "eth0".into(),
        mac: Some(mac_b),
        address: addr_b,
        prefix: 24,
        gateway: Some(pool.gateway),
        mtu: Some(1400),
        hairpin: false,
    })
    .expect("attach b");
    assert_eq!(
        my_netns(),
        before,
        "the calling thread never left its namespace"
    );
    assert_eq!(att_a.host_ifname, "vbtesta0");
    assert_eq!(link::format_mac(att_a.mac), "02:42:0a:63:00:02");
    assert_eq!((att_a.mtu, att_b.mtu), (1500, 1400));
    assert!(att_a.default_route && att_b.default_route);

    // What a user sees inside: name, MAC, MTU, state, address, default route.
    let eth_a = link_json(Some(&a), "eth0");
    assert_eq!(eth_a["address"], "02:42:0a:63:00:02");
    assert_eq!(eth_a["mtu"], 1500);
    assert_eq!(eth_a["operstate"], "UP", "{eth_a}");
    let eth_b = link_json(Some(&b), "eth0");
    assert_eq!(eth_b["address"], "02:42:be:ef:00:03");
    assert_eq!(eth_b["mtu"], 1400);
    assert_eq!(addrs(Some(&a), "eth0"), vec!["10.99.0.2/24".to_string()]);
    assert_eq!(addrs(Some(&b), "eth0"), vec!["10.99.0.3/24".to_string()]);
    assert_eq!(
        default_routes(&a),
        vec![("10.99.0.1".to_string(), "eth0".to_string())]
    );
    // The host ends: enslaved to the bridge, up, hairpin only where asked.
    let host_a = link_json(None, "vbtesta0");
    assert_eq!(host_a["master"], "bt0", "{host_a}");
    assert_eq!(host_a["mtu"], 1500);
    assert_eq!(
        host_a["linkinfo"]["info_slave_data"]["hairpin"], true,
        "{host_a}"
    );
    let host_b = link_json(None, "vbtestb0");
    assert_eq!(host_b["linkinfo"]["info_slave_data"]["hairpin"], false);
    assert_eq!(host_b["mtu"], 1400);
    assert!(host_b["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .any(|f| f == "UP"));

    // a pings b and its gateway; TCP from a to b.
    let net_a = format!("--net={}", a.display());
    run(&[
        "nsenter",
        &net_a,
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "3",
        "10.99.0.3",
    ]);
    run(&[
        "nsenter",
        &net_a,
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "3",
        "10.99.0.1",
    ]);
    let listener = netns::run_in(&b, || {
        TcpListener::bind((addr_b, 0)).map_err(|e| berth_net::Error::io("bind in b", e))
    })
    .expect("listen in b");
    let port = listener.local_addr().expect("addr").port();
    let mut client = netns::run_in(&a, || {
        TcpStream::connect_timeout(&SocketAddr::from((addr_b, port)), Duration::from_secs(5))
            .map_err(|e| berth_net::Error::io("connect from a", e))
    })
    .expect("connect from a to b");
    let (mut server, peer) = listener.accept().expect("accept");
    assert_eq!(peer.ip(), std::net::IpAddr::V4(addr_a), "the client is a");
    client.write_all(b"ping").expect("write");
    let mut buf = [0u8; 4];
    server.read_exact(&mut buf).expect("read");
    assert_eq!(&buf, b"ping");
    drop((client, server, listener));

    // A second network for a: eth1 with its own gateway, but the first default route stays.
    let pool1 = Pool {
        subnet: (ip("10.99.1.0"), 24),
        ip_range: None,
        gateway: ip("10.99.1.1"),
    };
    link::ensure_bridge(&Bridge {
        name: "bt1".into(),
        address: pool1.gateway,
        prefix: 24,
        mtu: None,
    })
    .expect("bridge 1");
    let addr_a1 = ipam.allocate("net1", &pool1, "a", None).expect("ip a1");
    let att = link::attach(&Endpoint {
        netns: &a,
        bridge: "bt1",
        host_ifname: "vbtesta1".into(),
        ifname: "eth1".into(),
        mac: None,
        address: addr_a1,
        prefix: 24,
        gateway: Some(pool1.gateway),
        mtu: None,
        hairpin: false,
    })
    .expect("attach a to net1");
    assert!(!att.default_route);
    assert_eq!(
        default_routes(&a),
        vec![("10.99.0.1".to_string(), "eth0".to_string())]
    );
    run(&[
        "nsenter",
        &net_a,
        "busybox",
        "ping",
        "-c",
        "1",
        "-W",
        "3",
        "10.99.1.1",
    ]);

    // Failures clean up: a name taken inside, a gateway outside the subnet.
    let e = link::attach(&Endpoint {
        netns: &a,
        bridge: "bt1",
        host_ifname: "vbtestbad".into(),
        ifname: "eth1".into(),
        mac: None,
        address: ip("10.99.1.9"),
        prefix: 24,
        gateway: None,
        mtu: None,
        hairpin: false,
    })
    .expect_err("eth1 is taken");
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert!(!link_exists(None, "vbtestbad"));
    let c = nss.create("c");
    let e = link::attach(&Endpoint {
        netns: &c,
        bridge: "bt1",
        host_ifname: "vbtestbad".into(),
        ifname: "eth0".into(),
        mac: None,
        address: ip("10.99.1.9"),
        prefix: 24,
        gateway: Some(ip("10.99.200.1")),
        mtu: None,
        hairpin: false,
    })
    .expect_err("unreachable gateway");
    assert!(e.message.contains("default route"), "{e}");
    assert!(!link_exists(None, "vbtestbad"), "host end deleted");
    assert!(!link_exists(Some(&c), "eth0"), "container end gone too");
    let e = link::attach(&Endpoint {
        netns: &c,
        bridge: "nosuchbr",
        host_ifname: "vbtestbad".into(),
        ifname: "eth0".into(),
        mac: None,
        address: ip("10.99.1.9"),
        prefix: 24,
        gateway: None,
        mtu: None,
        hairpin: false,
    })
    .expect_err("no bridge");
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");

    // --internal: no gateway, no default route.
    link::attach(&Endpoint {
        netns: &c,
        bridge: "bt1",
        host_ifname: "vbtestc0".into(),
        ifname: "eth0".into(),
        mac: None,
        address: ip("10.99.1.10"),
        prefix: 24,
        gateway: None,
        mtu: None,
        hairpin: false,
    })
    .expect("attach c");
    assert!(default_routes(&c).is_empty());

    // Reconcile helpers see our host ends.
    let found: HashSet<String> = link::links_with_prefix("vbtest")
        .expect("links")
        .into_iter()
        .collect();
    let expected: HashSet<String> = ["vbtesta0", "vbtestb0", "vbtesta1", "vbtestc0"]
        .map(String::from)
        .into_iter()
        .collect();
    assert_eq!(found, expected);

    // detach takes both ends away; twice is fine.
    link::detach("vbtesta0").expect("detach");
    assert!(!link_exists(None, "vbtesta0"));
    assert!(!link_exists(Some(&a), "eth0"));
    link::detach("vbtesta0").expect("detach again");

    // Removing a namespace takes its mount and its veth ends with it.
    netns::remove(&b).expect("remove b");
    assert!(!is_mounted(&b));
    assert!(!b.exists());
    // The kernel dismantles a namespace asynchronously once its last user is gone.
    for _ in 0..250 {
        if !link_exists(None, "vbtestb0") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !link_exists(None, "vbtestb0"),
        "the namespace's veth went with it"
    );
}
