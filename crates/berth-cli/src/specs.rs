//! The value syntaxes of docker's container flags: sizes (`RAMInBytes`), env files, `-p`
//! port specs, `--mount`, `--device`, `--ulimit` and restart policies, each turned into
//! the Engine API's JSON shape with an error that names the bad part.

use anyhow::{anyhow, bail, Context as _};

use crate::json::J;

/// Docker's `RAMInBytes`: "512m", "1g", "1.5GiB", "1024" (binary multiples).
pub fn ram_in_bytes(s: &str) -> anyhow::Result<i64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| anyhow!("invalid size: '{s}'"))?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024f64.powi(4),
        "p" | "pb" | "pib" => 1024f64.powi(5),
        _ => bail!("invalid size: '{s}'"),
    };
    Ok((n * mult) as i64)
}

/// Reads `--env-file` files: `KEY=value` lines, `#` comments, bare `KEY` taken from our
/// environment (left out when unset).
pub fn read_env_file(path: &str) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("open {path}"))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let l = line.trim_start();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let (k, val) = match l.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (l.trim_end(), None),
        };
        if k.is_empty() || k.contains(char::is_whitespace) {
            bail!("{path}:{}: variable '{k}' contains whitespaces", n + 1);
        }
        match val {
            Some(v) => out.push(format!("{k}={v}")),
            None => {
                if let Ok(v) = std::env::var(k) {
                    out.push(format!("{k}={v}"));
                }
            }
        }
    }
    Ok(out)
}

fn port_range(s: &str, what: &str) -> anyhow::Result<(u16, u16)> {
    let bad = || anyhow!("invalid {what}: {s}");
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let (a, b) = (
        a.parse::<u16>().map_err(|_| bad())?,
        b.parse::<u16>().map_err(|_| bad())?,
    );
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// A `-p` spec "[ip:][hostPort:]containerPort[/proto]" (ports may be ranges, "8000-8001:80-81")
/// → one ("80/tcp", HostIp, HostPort) per container port, as docker's `nat.ParsePortSpec`.
pub fn parse_publish(spec: &str) -> anyhow::Result<Vec<(String, String, String)>> {
    let (main, proto) = spec.rsplit_once('/').unwrap_or((spec, "tcp"));
    let parts: Vec<&str> = if main.starts_with('[') {
        // [::1]:8080:80
        let close = main
            .find(']')
            .ok_or_else(|| anyhow!("invalid IP address in {spec:?}"))?;
        let ip = &main[1..close];
        let rest: Vec<&str> = main[close + 1..]
            .trim_start_matches(':')
            .split(':')
            .collect();
        let mut v = vec![ip];
        v.extend(rest);
        v
    } else {
        main.split(':').collect()
    };
    let (ip, host, container) = match parts.as_slice() {
        [c] => ("", "", *c),
        [h, c] => ("", *h, *c),
        [ip, h, c] => (*ip, *h, *c),
        _ => bail!(
            "invalid port format for -p {spec:?}: use [ip:][hostPort:]containerPort[/protocol]"
        ),
    };
    if !matches!(proto, "tcp" | "udp" | "sctp") {
        bail!("invalid proto: {proto}");
    }
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        bail!("invalid IP address: {ip}");
    }
    let (c0, c1) = port_range(container, "containerPort")?;
    let hosts = if host.is_empty() {
        None
    } else {
        Some(port_range(host, "hostPort")?)
    };
    if let Some((h0, h1)) = hosts {
        // A host range for one container port is the range the daemon picks from.
        if h1 - h0 != c1 - c0 && c0 != c1 {
            bail!("invalid ranges specified for container and host Ports: {container} and {host}");
        }
    }
    let mut out = Vec::new();
    for (i, c) in (c0..=c1).enumerate() {
        let hp = match hosts {
            None => String::new(),
            // One host range for several container ports: docker leaves the choice to the
            // daemon within the range.
            Some((h0, h1)) if h1 - h0 != c1 - c0 => format!("{h0}-{h1}"),
            Some((h0, _)) => (u32::from(h0) + i as u32).to_string(),
        };
        out.push((format!("{c}/{proto}"), ip.to_string(), hp));
    }
    Ok(out)
}

pub(crate) fn parse_mount(spec: &str) -> anyhow::Result<J> {
    let mut typ = "volume".to_string();
    let (mut src, mut dst) = (String::new(), String::new());
    let mut ro = false;
    let mut extra: Vec<(String, J)> = Vec::new();
    for field in spec.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k.to_ascii_lowercase().as_str() {
            "type" => typ = v.to_string(),
            "source" | "src" => src = v.to_string(),
            "target" | "destination" | "dst" => dst = v.to_string(),
            "readonly" | "ro" => ro = v.is_empty() || matches!(v, "1" | "true"),
            "bind-propagation" => {
                extra.push(("BindOptions".into(), J::obj([("Propagation", J::s(v))])))
            }
            "tmpfs-size" => extra.push((
                "TmpfsOptions".into(),
                J::obj([("SizeBytes", J::int(ram_in_bytes(v)?))]),
            )),
            "volume-nocopy" | "consistency" | "tmpfs-mode" | "volume-driver" | "volume-label"
            | "volume-opt" | "bind-recursive" => {}
            _ => bail!("invalid field '{k}' in --mount {spec:?}: unknown key"),
        }
    }
    if dst.is_empty() {
        bail!("invalid argument \"{spec}\" for \"--mount\" flag: target is required");
    }
    let mut m = J::obj([
        ("Type", J::s(typ)),
        ("Source", J::s(src)),
        ("Target", J::s(dst)),
    ]);
    if ro {
        m.set("ReadOnly", J::Bool(true));
    }
    for (k, v) in extra {
        m.set(&k, v);
    }
    Ok(m)
}

pub(crate) fn parse_device(spec: &str) -> anyhow::Result<J> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, cont, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, c] if c.chars().all(|x| "rwm".contains(x)) && !c.starts_with('/') => (*h, *h, *c),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => bail!("invalid device specification: {spec}"),
    };
    Ok(J::obj([
        ("PathOnHost", J::s(host)),
        ("PathInContainer", J::s(cont)),
        ("CgroupPermissions", J::s(perms)),
    ]))
}

pub(crate) fn parse_ulimit(spec: &str) -> anyhow::Result<J> {
    let (name, vals) = spec
        .split_once('=')
        .ok_or_else(|| anyhow!("invalid ulimit argument: {spec}"))?;
    let (soft, hard) = vals.split_once(':').unwrap_or((vals, vals));
    let n = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| anyhow!("invalid ulimit argument: {spec}: {s:?} is not a number"))
    };
    Ok(J::obj([
        ("Name", J::s(name)),
        ("Hard", J::int(n(hard)?)),
        ("Soft", J::int(n(soft)?)),
    ]))
}

pub(crate) fn restart_policy(spec: &str) -> anyhow::Result<J> {
    let (name, count) = spec.split_once(':').unwrap_or((spec, "0"));
    let name = if name.is_empty() { "no" } else { name };
    if !matches!(name, "no" | "always" | "unless-stopped" | "on-failure") {
        bail!("invalid restart policy '{name}': use no, always, unless-stopped or on-failure[:max-retries]");
    }
    let count: i64 = count.parse().map_err(|_| {
        anyhow!("invalid restart policy format: maximum retry count must be an integer")
    })?;
    Ok(J::obj([
        ("Name", J::s(name)),
        ("MaximumRetryCount", J::int(count)),
    ]))
}
