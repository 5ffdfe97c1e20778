//! How long one published-port change takes: `add_ports` (one `nft -f -` run) and
//! `remove_ports` (a listing plus one run), with an empty table and with 1,000 other
//! ports published. Not a test and not a benchmark suite: a figure for the docs.
//!
//! It changes nftables, so it refuses to run in the host's network namespace:
//!
//! ```sh
//! cargo build --release --example nft_timing -p berth-firewall
//! unshare --net target/release/examples/nft_timing
//! ```

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use berth_firewall::{Firewall, PortMapping, Proto};

fn main() -> anyhow::Result<()> {
    // Fail closed: run only in a namespace with nothing but loopback (a fresh
    // `unshare --net`); /proc/net/dev lists the interfaces of this process's namespace.
    let dev = std::fs::read_to_string("/proc/net/dev")?;
    let ifaces: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    if ifaces != ["lo"] {
        anyhow::bail!(
            "refusing to touch this namespace's nftables (interfaces {ifaces:?}): run me \
             under `unshare --net`"
        );
    }
    let fw = Firewall::new("berth_timing")?;
    fw.ensure()?;
    let rounds = 50;
    report("empty table", &fw, rounds)?;

    // 1,000 other containers with one port each.
    let t = Instant::now();
    for i in 0..1000u16 {
        let c = format!("other{i}");
        fw.add_ports(&c, &[mapping(&c, 20000 + i)])?;
    }
    println!(
        "publishing 1000 containers one by one: {:.1} ms each",
        ms(t.elapsed()) / 1000.0
    );
    report("1000 ports published", &fw, rounds)?;
    fw.remove_all()?;
    Ok(())
}

fn mapping(container: &str, host_port: u16) -> PortMapping {
    PortMapping {
        container: container.into(),
        proto: Proto::Tcp,
        host_ip: None,
        host_port,
        container_ip: Ipv4Addr::new(10, 98, 0, 2),
        container_port: 80,
        bridge: "berth0".into(),
    }
}

fn report(label: &str, fw: &Firewall, rounds: usize) -> anyhow::Result<()> {
    for n in [1u16, 10] {
        let ports: Vec<_> = (0..n).map(|i| mapping("timed", 8000 + i)).collect();
        let (mut add, mut remove) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t = Instant::now();
            fw.add_ports("timed", &ports)?;
            add.push(t.elapsed());
            let t = Instant::now();
            fw.remove_ports("timed")?;
            remove.push(t.elapsed());
        }
        println!(
            "{label}: add_ports({n} port{}) median {:.2} ms p90 {:.2} ms; remove_ports median {:.2} ms p90 {:.2} ms",
            if n == 1 { "" } else { "s" },
            ms(pct(&mut add, 50)),
            ms(pct(&mut add, 90)),
            ms(pct(&mut remove, 50)),
            ms(pct(&mut remove, 90)),
        );
    }
    Ok(())
}

fn pct(v: &mut [Duration], p: usize) -> Duration {
    v.sort();
    v[(v.len() - 1) * p / 100]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
