use super::*;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("ip")
}

fn pool(subnet: &str, gateway: &str) -> Pool {
    Pool {
        subnet: parse_subnet(subnet).expect("subnet"),
        ip_range: None,
        gateway: ip(gateway),
    }
}

fn ipam() -> (tempfile::TempDir, Ipam) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ipam = Ipam::open(dir.path().join("ipam")).expect("open");
    (dir, ipam)
}

#[test]
fn sequential_allocation_skips_the_gateway_and_continues_after_release() {
    let (_d, ipam) = ipam();
    let p = pool("172.18.0.0/16", "172.18.0.1");
    assert_eq!(
        ipam.allocate("n1", &p, "a", None).expect("a"),
        ip("172.18.0.2")
    );
    assert_eq!(
        ipam.allocate("n1", &p, "b", None).expect("b"),
        ip("172.18.0.3")
    );
    assert_eq!(
        ipam.release("n1", "a").expect("release"),
        Some(ip("172.18.0.2"))
    );
    // Docker's sequential behaviour: the freed .2 is not reused before wrapping around.
    assert_eq!(
        ipam.allocate("n1", &p, "c", None).expect("c"),
        ip("172.18.0.4")
    );
    assert_eq!(ipam.release("n1", "nobody").expect("release"), None);
    assert_eq!(ipam.release("unknown", "a").expect("release"), None);
}

#[test]
fn same_owner_gets_the_same_address() {
    let (_d, ipam) = ipam();
    let p = pool("10.99.1.0/24", "10.99.1.1");
    let a = ipam.allocate("n", &p, "a", None).expect("a");
    assert_eq!(ipam.allocate("n", &p, "a", None).expect("again"), a);
    assert_eq!(ipam.allocate("n", &p, "a", Some(a)).expect("same want"), a);
    let e = ipam
        .allocate("n", &p, "a", Some(ip("10.99.1.50")))
        .expect_err("other want");
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert_eq!(ipam.allocations("n").expect("list").len(), 1);
}

#[test]
fn wraps_around_and_never_gives_network_broadcast_or_gateway() {
    let (_d, ipam) = ipam();
    // /29: .0 network, .7 broadcast, .6 gateway → .1 .. .5 usable.
    let p = pool("10.99.2.0/29", "10.99.2.6");
    let mut got = Vec::new();
    for owner in ["a", "b", "c", "d", "e"] {
        got.push(ipam.allocate("n", &p, owner, None).expect(owner));
    }
    let want: Vec<Ipv4Addr> = (1..=5).map(|i| Ipv4Addr::new(10, 99, 2, i)).collect();
    assert_eq!(got, want);
    let e = ipam.allocate("n", &p, "f", None).expect_err("full");
    assert_eq!(e.kind, ErrorKind::Exhausted);
    assert!(
        e.message
            .starts_with("no available IPv4 addresses on this network's address pools"),
        "{}",
        e.message
    );
    // Free .3, then .1: the search goes on after .5, wraps, and finds .1 before .3.
    ipam.release("n", "c").expect("release");
    ipam.release("n", "a").expect("release");
    assert_eq!(
        ipam.allocate("n", &p, "f", None).expect("f"),
        ip("10.99.2.1")
    );
    assert_eq!(
        ipam.allocate("n", &p, "g", None).expect("g"),
        ip("10.99.2.3")
    );
}

#[test]
fn ip_range_limits_dynamic_allocation_only() {
    let (_d, ipam) = ipam();
    let mut p = pool("10.99.3.0/24", "10.99.3.1");
    p.ip_range = Some(parse_subnet("10.99.3.128/30").expect("range"));
    let got: Vec<Ipv4Addr> = ["a", "b", "c", "d"]
        .iter()
        .map(|o| ipam.allocate("n", &p, o, None).expect("alloc"))
        .collect();
    // The range's own first and last addresses are ordinary addresses of the subnet.
    assert_eq!(
        got,
        vec![
            ip("10.99.3.128"),
            ip("10.99.3.129"),
            ip("10.99.3.130"),
            ip("10.99.3.131")
        ]
    );
    assert_eq!(
        ipam.allocate("n", &p, "e", None)
            .expect_err("range full")
            .kind,
        ErrorKind::Exhausted
    );
    // An explicit address may be outside the range, as long as it is in the subnet.
    assert_eq!(
        ipam.allocate("n", &p, "e", Some(ip("10.99.3.9")))
            .expect("want"),
        ip("10.99.3.9")
    );
}

#[test]
fn wanted_addresses_are_checked() {
    let (_d, ipam) = ipam();
    let p = pool("10.99.4.0/24", "10.99.4.1");
    assert_eq!(
        ipam.allocate("n", &p, "a", Some(ip("10.99.4.20")))
            .expect("a"),
        ip("10.99.4.20")
    );
    for taken in ["10.99.4.20", "10.99.4.1", "10.99.4.0", "10.99.4.255"] {
        let e = ipam
            .allocate("n", &p, "b", Some(ip(taken)))
            .expect_err(taken);
        assert_eq!(e.message, "Address already in use", "{taken}");
        assert_eq!(e.kind, ErrorKind::Conflict);
    }
    let e = ipam
        .allocate("n", &p, "b", Some(ip("10.99.5.2")))
        .expect_err("outside");
    assert_eq!(
        e.message,
        "invalid address 10.99.5.2: It does not belong to any of this network's subnets"
    );
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    // A wanted address does not move the sequential cursor.
    assert_eq!(
        ipam.allocate("n", &p, "c", None).expect("c"),
        ip("10.99.4.2")
    );
}

#[test]
fn state_survives_reopen_and_torn_temp_files_are_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("ipam");
    let p = pool("10.99.6.0/24", "10.99.6.1");
    {
        let ipam = Ipam::open(&root).expect("open");
        ipam.allocate("net1", &p, "a", None).expect("a");
        ipam.allocate("net1", &p, "b", None).expect("b");
        ipam.release("net1", "a").expect("release");
    }
    // A crash in the middle of the next write leaves a torn temp file behind.
    let torn = root.join(".net1.json.tmp");
    fs::write(&torn, b"{\"version\":1,\"subnet\":\"10.99.6.0/2").expect("write torn");
    let ipam = Ipam::open(&root).expect("reopen");
    assert!(!torn.exists(), "the torn temp file is removed");
    let allocs = ipam.allocations("net1").expect("allocations");
    assert_eq!(allocs.len(), 1);
    assert_eq!(allocs.get("b"), Some(&ip("10.99.6.3")));
    // The cursor survived too: the next address is .4, not the freed .2.
    assert_eq!(
        ipam.allocate("net1", &p, "c", None).expect("c"),
        ip("10.99.6.4")
    );
    assert_eq!(ipam.networks().expect("networks"), vec!["net1".to_string()]);
    // The file is plain JSON with the documented fields.
    let raw: serde_json::Value =
        serde_json::from_slice(&fs::read(root.join("net1.json")).expect("read")).expect("json");
    assert_eq!(raw["version"], 1);
    assert_eq!(raw["subnet"], "10.99.6.0/24");
    assert_eq!(raw["last"], "10.99.6.4");
    assert_eq!(raw["allocations"]["c"], "10.99.6.4");
}

#[test]
fn corrupt_state_is_an_error_naming_the_file() {
    let (_d, ipam) = ipam();
    fs::write(ipam.dir().join("bad.json"), b"not json").expect("write");
    let e = ipam.allocations("bad").expect_err("corrupt");
    assert!(e.message.contains("bad.json"), "{}", e.message);
    assert!(e.message.contains("corrupt"), "{}", e.message);
}

#[test]
fn retain_drops_dead_owners() {
    let (_d, ipam) = ipam();
    let p = pool("10.99.7.0/24", "10.99.7.1");
    for o in ["a", "b", "c"] {
        ipam.allocate("n", &p, o, None).expect(o);
    }
    let live: HashSet<String> = ["b".to_string()].into_iter().collect();
    let dropped = ipam.retain("n", &live).expect("retain");
    assert_eq!(
        dropped,
        vec![
            ("a".to_string(), ip("10.99.7.2")),
            ("c".to_string(), ip("10.99.7.4"))
        ]
    );
    let left = ipam.allocations("n").expect("allocations");
    assert_eq!(left.keys().collect::<Vec<_>>(), vec!["b"]);
    // Persisted: a fresh Ipam sees the same.
    let again = Ipam::open(ipam.dir()).expect("reopen");
    assert_eq!(again.allocations("n").expect("allocations"), left);
    assert!(ipam.retain("unknown", &live).expect("unknown").is_empty());
}

#[test]
fn remove_network_forgets_everything() {
    let (_d, ipam) = ipam();
    let p = pool("10.99.8.0/24", "10.99.8.1");
    ipam.allocate("n", &p, "a", None).expect("a");
    ipam.remove_network("n").expect("remove");
    ipam.remove_network("n").expect("twice");
    assert!(ipam.allocations("n").expect("allocations").is_empty());
    assert!(!ipam.dir().join("n.json").exists());
    assert_eq!(
        ipam.allocate("n", &p, "b", None).expect("b"),
        ip("10.99.8.2")
    );
}

#[test]
fn bad_ids_and_mismatched_pools_are_refused() {
    let (_d, ipam) = ipam();
    let p = pool("10.99.9.0/24", "10.99.9.1");
    for bad in ["", "../x", ".hidden", "a/b"] {
        assert_eq!(
            ipam.allocate(bad, &p, "a", None).expect_err(bad).kind,
            ErrorKind::InvalidArgument
        );
    }
    ipam.allocate("n", &p, "a", None).expect("a");
    let other = pool("10.99.10.0/24", "10.99.10.1");
    assert_eq!(
        ipam.allocate("n", &other, "b", None)
            .expect_err("subnet")
            .kind,
        ErrorKind::Conflict
    );
}

#[test]
fn concurrent_allocations_are_distinct() {
    let (_d, ipam) = ipam();
    let p = pool("10.99.11.0/24", "10.99.11.1");
    let got: Vec<Ipv4Addr> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let ipam = &ipam;
                s.spawn(move || {
                    (0..10)
                        .map(|i| {
                            ipam.allocate("n", &p, &format!("o{t}-{i}"), None)
                                .expect("alloc")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    let unique: HashSet<_> = got.iter().collect();
    assert_eq!(unique.len(), 80);
    assert_eq!(
        Ipam::open(ipam.dir())
            .expect("reopen")
            .allocations("n")
            .expect("n")
            .len(),
        80
    );
}
