//! `network create|ls|rm|prune|connect|disconnect` (inspect lives with the other
//! inspects), with docker CLI 28's requests, output and errors.

use std::net::IpAddr;

use anyhow::{anyhow, bail};
use hyper::Method;

use super::image::{confirm, filters_json};
use super::{need_args, parse};
use crate::args::{b, v};
use crate::client::{path_seg, with_query, DaemonError};
use crate::format::{natural_cmp, render_list, short_id};
use crate::human::{go_time_string, parse_rfc3339};
use crate::json::J;
use crate::{Ctx, StatusError};

fn kv(items: &[String]) -> J {
    let mut o = J::Obj(Vec::new());
    for it in items {
        let (k, val) = it.split_once('=').unwrap_or((it.as_str(), ""));
        o.set(k, J::s(val));
    }
    o
}

/// A CIDR ("10.1.0.0/24") as (network address, prefix length).
fn parse_cidr(s: &str) -> anyhow::Result<(IpAddr, u8)> {
    let bad = || anyhow!("invalid CIDR address: {s}");
    let (ip, len) = s.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len > max {
        return Err(bad());
    }
    Ok((ip, len))
}

fn ip_bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

/// Whether `ip` lies in the subnet `net/len` (same family only).
fn subnet_contains(net: (IpAddr, u8), ip: IpAddr) -> bool {
    let ((n, w), (a, w2)) = (ip_bits(net.0), ip_bits(ip));
    if w != w2 {
        return false;
    }
    let shift = u32::from(w - net.1);
    if shift >= 128 {
        return true;
    }
    (n >> shift) == (a >> shift)
}

/// Docker's `consolidateIpam`: each `--ip-range`/`--gateway` goes with the `--subnet`
/// that contains it; returns the `IPAM.Config` list.
pub fn ipam_config(
    subnets: &[String],
    ranges: &[String],
    gateways: &[String],
) -> anyhow::Result<Vec<J>> {
    if subnets.len() < ranges.len() || subnets.len() < gateways.len() {
        bail!("every ip-range or gateway must have a corresponding subnet");
    }
    let mut nets = Vec::new();
    for s in subnets {
        let n = parse_cidr(s)?;
        for (_, o) in &nets {
            if subnet_contains(*o, n.0) || subnet_contains(n, o.0) {
                bail!("multiple overlapping subnet configuration is not allowed");
            }
        }
        nets.push((s.clone(), n));
    }
    let mut range_of: Vec<Option<String>> = vec![None; nets.len()];
    let mut gw_of: Vec<Option<String>> = vec![None; nets.len()];
    for r in ranges {
        let rn = parse_cidr(r)?;
        let i = nets
            .iter()
            .position(|(_, n)| subnet_contains(*n, rn.0) && rn.1 >= n.1)
            .ok_or_else(|| anyhow!("no matching subnet for range {r}"))?;
        if let Some(prev) = &range_of[i] {
            bail!(
                "cannot configure multiple ranges ({prev}, {r}) on the same subnet ({})",
                nets[i].0
            );
        }
        range_of[i] = Some(r.clone());
    }
    for g in gateways {
        let ip: IpAddr = g
            .parse()
            .map_err(|_| anyhow!("invalid argument \"{g}\" for \"--gateway\" flag: invalid string being converted to IP address: {g}"))?;
        let i = nets
            .iter()
            .position(|(_, n)| subnet_contains(*n, ip))
            .ok_or_else(|| anyhow!("no matching subnet for gateway {g}"))?;
        if let Some(prev) = &gw_of[i] {
            bail!(
                "cannot configure multiple gateways ({g}, {prev}) for the same subnet ({})",
                nets[i].0
            );
        }
        gw_of[i] = Some(g.clone());
    }
    Ok(nets
        .iter()
        .enumerate()
        .map(|(i, (s, _))| {
            let mut c = J::obj([("Subnet", J::s(s.as_str()))]);
            if let Some(r) = &range_of[i] {
                c.set("IPRange", J::s(r.as_str()));
            }
            if let Some(g) = &gw_of[i] {
                c.set("Gateway", J::s(g.as_str()));
            }
            c
        })
        .collect())
}

/// `network create`.
pub async fn create(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let flags = [
        b("attachable", None, "Enable manual container attachment"),
        v("driver", Some('d'), "Driver to manage the Network"),
        v(
            "gateway",
            None,
            "IPv4 or IPv6 Gateway for the master subnet",
        ),
        b("internal", None, "Restrict external access to the network"),
        v("ip-range", None, "Allocate container ip from a sub-range"),
        v("ipam-driver", None, "IP Address Management Driver"),
        v("label", None, "Set metadata on a network"),
        v("opt", Some('o'), "Set driver specific options"),
        v(
            "subnet",
            None,
            "Subnet in CIDR format that represents a network segment",
        ),
    ];
    let Some(p) = parse(ctx, &flags, rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 1, true)?;
    let config = ipam_config(p.all("subnet"), p.all("ip-range"), p.all("gateway"))?;
    let mut body = J::obj([
        ("Driver", J::s(p.get("driver").unwrap_or("bridge"))),
        ("Scope", J::s("")),
        (
            "IPAM",
            J::obj([
                ("Driver", J::s(p.get("ipam-driver").unwrap_or("default"))),
                ("Options", J::Obj(Vec::new())),
                ("Config", J::Arr(config)),
            ]),
        ),
        ("Internal", J::Bool(p.on("internal"))),
        ("Attachable", J::Bool(p.on("attachable"))),
        ("Ingress", J::Bool(false)),
        ("ConfigOnly", J::Bool(false)),
        ("ConfigFrom", J::Null),
        ("Options", kv(p.all("opt"))),
        ("Labels", kv(p.all("label"))),
        ("Name", J::s(p.args[0].as_str())),
    ]);
    if crate::client::version_lt(ctx.client.version(), "1.44") {
        body.set("CheckDuplicate", J::Bool(true));
    }
    let r = ctx
        .client
        .json(Method::POST, "/networks/create", Some(&body))
        .await?;
    println!("{}", r.str_of("Id"));
    let w = r.str_of("Warning");
    if !w.is_empty() {
        eprintln!("{w}");
    }
    Ok(0)
}

/// Go's `time.Time.String()` of an RFC 3339 time, fractional seconds kept
/// ("2026-11-26 14:25:00.040075475 +0000 UTC"), as docker's network `CreatedAt`.
pub fn created_at(rfc: &str) -> String {
    let Some(secs) = parse_rfc3339(rfc) else {
        return String::new();
    };
    let base = go_time_string(secs.floor() as i64);
    let frac: String = rfc
        .get(19..)
        .and_then(|r| r.strip_prefix('.'))
        .map(|r| r.chars().take_while(char::is_ascii_digit).collect())
        .unwrap_or_default();
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        base
    } else {
        // "YYYY-MM-DD HH:MM:SS" is 19 characters.
        format!("{}.{frac}{}", &base[..19], &base[19..])
    }
}

/// One `network ls` row with docker's formatter fields.
pub fn ls_row(n: &J, trunc: bool) -> J {
    let id = n.str_of("Id");
    let labels_raw = n.get("Labels").cloned().unwrap_or(J::Obj(Vec::new()));
    let mut labels: Vec<String> = labels_raw
        .pairs()
        .iter()
        .map(|(k, x)| format!("{k}={}", x.as_str().unwrap_or("")))
        .collect();
    labels.sort();
    let flag = |k: &str| J::s(n.get(k).and_then(J::as_bool).unwrap_or(false).to_string());
    let ipv4 = n.get("EnableIPv4").and_then(J::as_bool).unwrap_or(true);
    J::obj([
        ("CreatedAt", J::s(created_at(n.str_of("Created")))),
        ("Driver", J::s(n.str_of("Driver"))),
        (
            "ID",
            J::s(if trunc { short_id(id) } else { id.to_string() }),
        ),
        ("IPv4", J::s(ipv4.to_string())),
        ("IPv6", flag("EnableIPv6")),
        ("Internal", flag("Internal")),
        ("Labels", J::s(labels.join(","))),
        ("Name", J::s(n.str_of("Name"))),
        ("Scope", J::s(n.str_of("Scope"))),
        (crate::template::LABELS_KEY, labels_raw),
    ])
}

/// `network ls`.
pub async fn ls(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let flags = [
        v(
            "filter",
            Some('f'),
            "Provide filter values (e.g. \"driver=bridge\")",
        ),
        v("format", None, "Format output using a custom template"),
        b("no-trunc", None, "Do not truncate the output"),
        b("quiet", Some('q'), "Only display network IDs"),
    ];
    let Some(p) = parse(ctx, &flags, rest, true)? else {
        return Ok(0);
    };
    let q = filters_json(p.all("filter"))?
        .map(|f| vec![("filters", f)])
        .unwrap_or_default();
    let r = ctx.client.get(&with_query("/networks", &q)).await?;
    let mut nets: Vec<&J> = r.items().iter().collect();
    nets.sort_by(|a, b| natural_cmp(a.str_of("Name"), b.str_of("Name")));
    let trunc = !p.on("no-trunc");
    let rows: Vec<J> = nets.iter().map(|n| ls_row(n, trunc)).collect();
    let header = J::obj([
        ("CreatedAt", J::s("CREATED AT")),
        ("Driver", J::s("DRIVER")),
        ("ID", J::s("NETWORK ID")),
        ("IPv4", J::s("IPV4")),
        ("IPv6", J::s("IPV6")),
        ("Internal", J::s("INTERNAL")),
        ("Labels", J::s("LABELS")),
        ("Name", J::s("NAME")),
        ("Scope", J::s("SCOPE")),
    ]);
    let format = if p.on("quiet") {
        "{{.ID}}".to_string()
    } else {
        p.str("format").to_string()
    };
    print!(
        "{}",
        render_list(
            &format,
            "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
            &header,
            &rows
        )?
    );
    Ok(0)
}

/// `network rm`: each failure printed as it happens, then "exit status 1" and status 1
/// at the end, as docker 28 does.
pub async fn rm(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let flags = [b(
        "force",
        Some('f'),
        "Do not error if the network does not exist",
    )];
    let Some(p) = parse(ctx, &flags, rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 1, false)?;
    let mut status = 0;
    for n in &p.args {
        let path = format!("/networks/{}", path_seg(n));
        // docker looks the network up first (to confirm removing an ingress network).
        let _ = ctx.client.raw(Method::GET, &path, None).await;
        match ctx.client.raw(Method::DELETE, &path, None).await {
            Ok(_) => println!("{n}"),
            Err(e)
                if p.on("force")
                    && e.downcast_ref::<DaemonError>()
                        .is_some_and(|d| d.status == 404) => {}
            Err(e) => {
                eprintln!("{e}");
                status = 1;
            }
        }
    }
    if status == 0 {
        Ok(0)
    } else {
        // docker 28 ends with its bare StatusError's text.
        Err(StatusError {
            code: status,
            message: format!("exit status {status}"),
        }
        .into())
    }
}

/// `network prune`.
pub async fn prune(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let flags = [
        v(
            "filter",
            None,
            "Provide filter values (e.g. \"until=<timestamp>\")",
        ),
        b("force", Some('f'), "Do not prompt for confirmation"),
    ];
    let Some(p) = parse(ctx, &flags, rest, true)? else {
        return Ok(0);
    };
    if !confirm(
        "WARNING! This will remove all custom networks not used by at least one container.",
        p.on("force"),
    ) {
        return Ok(0);
    }
    let q = filters_json(p.all("filter"))?
        .map(|f| vec![("filters", f)])
        .unwrap_or_default();
    let r = ctx
        .client
        .json(Method::POST, &with_query("/networks/prune", &q), None)
        .await?;
    let deleted = r.get("NetworksDeleted").map(J::items).unwrap_or(&[]);
    if !deleted.is_empty() {
        println!("Deleted Networks:");
        for d in deleted {
            println!("{}", d.as_str().unwrap_or(""));
        }
        println!();
    }
    Ok(0)
}

/// The `POST /networks/{id}/connect` body docker 28 sends.
pub fn connect_body(container: &str, ip: Option<&str>, aliases: &[String]) -> J {
    let mut ipam = J::Obj(Vec::new());
    if let Some(ip) = ip.filter(|s| !s.is_empty()) {
        ipam.set("IPv4Address", J::s(ip));
    }
    J::obj([
        ("Container", J::s(container)),
        (
            "EndpointConfig",
            J::obj([
                ("IPAMConfig", ipam),
                ("Links", J::Null),
                ("Aliases", J::str_list_or_null(aliases)),
                ("MacAddress", J::s("")),
                ("DriverOpts", J::Null),
                ("GwPriority", J::int(0)),
                ("NetworkID", J::s("")),
                ("EndpointID", J::s("")),
                ("Gateway", J::s("")),
                ("IPAddress", J::s("")),
                ("IPPrefixLen", J::int(0)),
                ("IPv6Gateway", J::s("")),
                ("GlobalIPv6Address", J::s("")),
                ("GlobalIPv6PrefixLen", J::int(0)),
                ("DNSNames", J::Null),
            ]),
        ),
    ])
}

/// `network connect`.
pub async fn connect(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let flags = [
        v("alias", None, "Add network-scoped alias for the container"),
        v("ip", None, "IPv4 address (e.g., \"172.30.100.104\")"),
    ];
    let Some(p) = parse(ctx, &flags, rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 2, true)?;
    if let Some(ip) = p.get("ip") {
        if ip.parse::<IpAddr>().is_err() {
            bail!("invalid argument \"{ip}\" for \"--ip\" flag: failed to parse IP: \"{ip}\"");
        }
    }
    let body = connect_body(&p.args[1], p.get("ip"), p.all("alias"));
    ctx.client
        .raw(
            Method::POST,
            &format!("/networks/{}/connect", path_seg(&p.args[0])),
            Some(&body),
        )
        .await?;
    Ok(0)
}

/// `network disconnect`.
pub async fn disconnect(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let flags = [b(
        "force",
        Some('f'),
        "Force the container to disconnect from a network",
    )];
    let Some(p) = parse(ctx, &flags, rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 2, true)?;
    let body = J::obj([
        ("Container", J::s(p.args[1].as_str())),
        ("Force", J::Bool(p.on("force"))),
    ]);
    ctx.client
        .raw(
            Method::POST,
            &format!("/networks/{}/disconnect", path_seg(&p.args[0])),
            Some(&body),
        )
        .await?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipam_pairs_ranges_and_gateways_with_subnets() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let c = ipam_config(
            &s(&["10.1.0.0/16", "10.2.0.0/24"]),
            &s(&["10.2.0.128/25"]),
            &s(&["10.1.0.254", "10.2.0.1"]),
        )
        .expect("valid");
        assert_eq!(
            J::Arr(c).to_compact(),
            r#"[{"Subnet":"10.1.0.0/16","Gateway":"10.1.0.254"},{"Subnet":"10.2.0.0/24","IPRange":"10.2.0.128/25","Gateway":"10.2.0.1"}]"#
        );
        assert_eq!(
            ipam_config(&[], &[], &s(&["10.0.0.1"]))
                .expect_err("no subnet")
                .to_string(),
            "every ip-range or gateway must have a corresponding subnet"
        );
        assert_eq!(
            ipam_config(&s(&["10.1.0.0/24"]), &[], &s(&["10.9.0.1"]))
                .expect_err("outside")
                .to_string(),
            "no matching subnet for gateway 10.9.0.1"
        );
        assert_eq!(
            ipam_config(&s(&["10.1.0.0/16", "10.1.2.0/24"]), &[], &[])
                .expect_err("overlap")
                .to_string(),
            "multiple overlapping subnet configuration is not allowed"
        );
        assert!(ipam_config(&s(&["10.1.0.0/33"]), &[], &[]).is_err());
    }

    #[test]
    fn ls_row_like_docker() {
        let n = J::parse(br#"{"Name":"tr-net","Id":"8461ca1e7e95091493a139b648497aece49667529fc9375a958d2eefba057d75","Created":"2026-11-26T14:25:00.040075400Z","Scope":"local","Driver":"bridge","EnableIPv6":false,"Internal":true,"Labels":{"b":"2","a":"1"}}"#).expect("json");
        let r = ls_row(&n, true);
        assert_eq!(
            render_list("json", "", &J::Obj(Vec::new()), std::slice::from_ref(&r)).expect("renders"),
            "{\"CreatedAt\":\"2026-11-26 14:25:00.0400754 +0000 UTC\",\"Driver\":\"bridge\",\"ID\":\"8461ca1e7e95\",\"IPv4\":\"true\",\"IPv6\":\"false\",\"Internal\":\"true\",\"Labels\":\"a=1,b=2\",\"Name\":\"tr-net\",\"Scope\":\"local\"}\n"
        );
        assert_eq!(
            render_list("{{.Label \"b\"}}", "", &J::Obj(Vec::new()), &[r]).expect("renders"),
            "2\n"
        );
        assert_eq!(
            created_at("2026-11-26T14:06:20Z"),
            "2026-11-26 14:06:20 +0000 UTC"
        );
    }

    #[test]
    fn connect_body_carries_ip_and_aliases() {
        let b = connect_body("c1", Some("10.1.0.9"), &["x".to_string()]);
        let ep = b.get("EndpointConfig").expect("endpoint");
        assert_eq!(
            ep.get("IPAMConfig").map(J::to_compact).as_deref(),
            Some(r#"{"IPv4Address":"10.1.0.9"}"#)
        );
        assert_eq!(
            ep.get("Aliases").map(J::to_compact).as_deref(),
            Some(r#"["x"]"#)
        );
        let b = connect_body("c1", None, &[]);
        assert_eq!(
            b.path(&["EndpointConfig", "IPAMConfig"])
                .map(J::to_compact)
                .as_deref(),
            Some("{}")
        );
    }
}
