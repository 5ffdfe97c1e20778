//! `version`, `info`, `system df`, `system prune`, `events`, laid out as docker 28 lays
//! them out.

use std::fmt::Write as _;

use hyper::Method;

use super::image::{confirm, filters_json, prune_images};
use super::lifecycle::prune_containers;
use super::parse;
use crate::args::{b, v, Flag};
use crate::client::{with_query, MAX_API_VERSION};
use crate::format::{render_list, render_one};
use crate::human::{bytes_size, human_size4, parse_rfc3339};
use crate::json::J;
use crate::Ctx;

/// Go's `time.ANSIC` ("Thu May  7 21:09:36 2026") of an RFC 3339 time, or the text as is.
pub fn ansic(rfc: &str) -> String {
    let Some(t) = parse_rfc3339(rfc) else {
        return rfc.to_string();
    };
    let t = t as i64;
    let days = t.div_euclid(86400);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let s = crate::human::go_time_string(t);
    // "2026-05-07 21:09:36 +0000 UTC"
    let (y, m, d) = (&s[0..4], &s[5..7], &s[8..10]);
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mi: usize = m.parse().unwrap_or(1);
    let day: u32 = d.parse().unwrap_or(1);
    format!(
        "{wd} {} {day:>2} {} {y}",
        months[mi.saturating_sub(1).min(11)],
        &s[11..19]
    )
}

fn client_json(ctx: &Ctx) -> J {
    J::obj([
        ("Platform", J::obj([("Name", J::s("berth"))])),
        ("Version", J::s(env!("CARGO_PKG_VERSION"))),
        ("ApiVersion", J::s(ctx.client.version())),
        ("DefaultAPIVersion", J::s(MAX_API_VERSION)),
        ("Os", J::s("linux")),
        ("Arch", J::s(std::env::consts::ARCH)),
        ("Context", J::s("default")),
    ])
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `version`.
pub async fn version(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(
        ctx,
        &[v(
            "format",
            Some('f'),
            "Format output using a custom template",
        )],
        rest,
        true,
    )?
    else {
        return Ok(0);
    };
    let server = ctx.client.get("/version").await;
    if let Some(f) = p.get("format") {
        let mut all = J::obj([("Client", client_json(ctx))]);
        all.set("Server", server.as_ref().cloned().unwrap_or(J::Null));
        print!("{}", render_one(f, &all)?);
        return server.map(|_| 0);
    }
    let mut out = String::new();
    let api = ctx.client.version();
    let downgraded = if api != MAX_API_VERSION {
        format!(" (downgraded from {MAX_API_VERSION})")
    } else {
        String::new()
    };
    let _ = writeln!(out, "Client:");
    let _ = writeln!(out, " Version:           {}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, " API version:       {api}{downgraded}");
    let _ = writeln!(out, " OS/Arch:           linux/{}", go_arch());
    let _ = writeln!(out, " Context:           default");
    print!("{out}");
    let s = server?;
    let mut out = String::new();
    let platform = s
        .path(&["Platform", "Name"])
        .and_then(J::as_str)
        .unwrap_or("");
    let _ = writeln!(
        out,
        "\nServer:{}",
        if platform.is_empty() {
            String::new()
        } else {
            format!(" {platform}")
        }
    );
    for c in s.get("Components").map(J::items).unwrap_or(&[]) {
        let name = c.str_of("Name");
        let d = c.get("Details").cloned().unwrap_or(J::Null);
        let _ = writeln!(out, " {name}:");
        if name == "Engine" {
            let _ = writeln!(out, "  Version:          {}", c.str_of("Version"));
            let _ = writeln!(
                out,
                "  API version:      {} (minimum version {})",
                d.str_of("ApiVersion"),
                d.str_of("MinAPIVersion")
            );
            let _ = writeln!(out, "  Go version:       {}", d.str_of("GoVersion"));
            let _ = writeln!(out, "  Git commit:       {}", d.str_of("GitCommit"));
            let _ = writeln!(out, "  Built:            {}", ansic(d.str_of("BuildTime")));
            let _ = writeln!(
                out,
                "  OS/Arch:          {}/{}",
                d.str_of("Os"),
                d.str_of("Arch")
            );
            let _ = writeln!(out, "  Experimental:     {}", d.str_of("Experimental"));
        } else {
            let _ = writeln!(out, "  Version:          {}", c.str_of("Version"));
            let mut keys: Vec<&(String, J)> = d.pairs().iter().collect();
            keys.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, val) in keys {
                let label = format!("{k}:");
                let _ = writeln!(out, "  {label:<18}{}", val.as_str().unwrap_or(""));
            }
        }
    }
    print!("{out}");
    Ok(0)
}

/// Decodes `"name=seccomp,profile=default"` security options.
fn security_options(opts: &[J]) -> Vec<(String, Vec<(String, String)>)> {
    opts.iter()
        .filter_map(J::as_str)
        .map(|o| {
            let mut name = String::new();
            let mut kv = Vec::new();
            for part in o.split(',') {
                let (k, val) = part.split_once('=').unwrap_or((part, ""));
                if k == "name" {
                    name = val.to_string();
                } else {
                    kv.push((k.to_string(), val.to_string()));
                }
            }
            if name.is_empty() {
                name = o.to_string();
            }
            (name, kv)
        })
        .collect()
}

/// Prefix length of a base64 network mask as Go's JSON gives a `net.IPMask`.
fn mask_bits(b64: &str) -> u32 {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits: u32 = 0;
    let mut acc: u32 = 0;
    let mut nacc = 0;
    for c in b64.bytes() {
        let Some(v) = ALPHA.iter().position(|&a| a == c) else {
            break;
        };
        acc = (acc << 6) | v as u32;
        nacc += 6;
        if nacc >= 8 {
            nacc -= 8;
            bits += ((acc >> nacc) & 0xff).count_ones();
        }
    }
    bits
}

/// Docker's `info` server section for an `/info` answer.
pub fn format_info(i: &J) -> String {
    let mut o = String::new();
    let n = |k: &str| {
        i.get(k)
            .map(crate::template::print_value)
            .unwrap_or_default()
    };
    let line = |o: &mut String, label: &str, val: String| {
        let _ = writeln!(o, "{label} {val}");
    };
    let nonempty = |o: &mut String, label: &str, val: String| {
        if !val.is_empty() {
            let _ = writeln!(o, "{label} {val}");
        }
    };
    line(&mut o, " Containers:", n("Containers"));
    line(&mut o, "  Running:", n("ContainersRunning"));
    line(&mut o, "  Paused:", n("ContainersPaused"));
    line(&mut o, "  Stopped:", n("ContainersStopped"));
    line(&mut o, " Images:", n("Images"));
    nonempty(
        &mut o,
        " Server Version:",
        i.str_of("ServerVersion").to_string(),
    );
    line(&mut o, " Storage Driver:", i.str_of("Driver").to_string());
    for pair in i.get("DriverStatus").map(J::items).unwrap_or(&[]) {
        let it = pair.items();
        if it.len() == 2 {
            let _ = writeln!(
                o,
                "  {}: {}",
                it[0].as_str().unwrap_or(""),
                it[1].as_str().unwrap_or("")
            );
        }
    }
    line(
        &mut o,
        " Logging Driver:",
        i.str_of("LoggingDriver").to_string(),
    );
    line(
        &mut o,
        " Cgroup Driver:",
        i.str_of("CgroupDriver").to_string(),
    );
    nonempty(
        &mut o,
        " Cgroup Version:",
        i.str_of("CgroupVersion").to_string(),
    );
    let plug = |k: &str| -> String {
        i.path(&["Plugins", k])
            .map(J::items)
            .unwrap_or(&[])
            .iter()
            .filter_map(J::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(o, " Plugins:");
    line(&mut o, "  Volume:", plug("Volume"));
    line(&mut o, "  Network:", plug("Network"));
    if !plug("Authorization").is_empty() {
        line(&mut o, "  Authorization:", plug("Authorization"));
    }
    line(&mut o, "  Log:", plug("Log"));
    let cdi: Vec<&str> = i
        .get("CDISpecDirs")
        .map(J::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(J::as_str)
        .collect();
    if !cdi.is_empty() {
        let _ = writeln!(o, " CDI spec directories:");
        for d in cdi {
            let _ = writeln!(o, "  {d}");
        }
    }
    line(
        &mut o,
        " Swarm:",
        i.path(&["Swarm", "LocalNodeState"])
            .and_then(J::as_str)
            .unwrap_or("inactive")
            .to_string(),
    );
    let mut runtimes: Vec<&str> = i
        .get("Runtimes")
        .map(J::pairs)
        .unwrap_or(&[])
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    if !runtimes.is_empty() {
        runtimes.sort();
        line(&mut o, " Runtimes:", runtimes.join(" "));
        line(
            &mut o,
            " Default Runtime:",
            i.str_of("DefaultRuntime").to_string(),
        );
    }
    if i.str_of("OSType") == "linux" {
        line(&mut o, " Init Binary:", i.str_of("InitBinary").to_string());
        for (name, key) in [
            ("containerd", "ContainerdCommit"),
            ("runc", "RuncCommit"),
            ("init", "InitCommit"),
        ] {
            let id = i.path(&[key, "ID"]).and_then(J::as_str).unwrap_or("");
            let _ = writeln!(o, " {name} version: {id}");
        }
        let sec = security_options(i.get("SecurityOptions").map(J::items).unwrap_or(&[]));
        if !sec.is_empty() {
            let _ = writeln!(o, " Security Options:");
            for (name, kv) in sec {
                let _ = writeln!(o, "  {name}");
                for (k, val) in kv {
                    if k == "profile" {
                        let _ = writeln!(o, "   Profile: {val}");
                    }
                }
            }
        }
    }
    nonempty(
        &mut o,
        " Kernel Version:",
        i.str_of("KernelVersion").to_string(),
    );
    nonempty(
        &mut o,
        " Operating System:",
        i.str_of("OperatingSystem").to_string(),
    );
    nonempty(&mut o, " OSType:", i.str_of("OSType").to_string());
    nonempty(
        &mut o,
        " Architecture:",
        i.str_of("Architecture").to_string(),
    );
    line(&mut o, " CPUs:", n("NCPU"));
    line(
        &mut o,
        " Total Memory:",
        bytes_size(i.i64_of("MemTotal") as f64),
    );
    nonempty(&mut o, " Name:", i.str_of("Name").to_string());
    nonempty(&mut o, " ID:", i.str_of("ID").to_string());
    line(
        &mut o,
        " Docker Root Dir:",
        i.str_of("DockerRootDir").to_string(),
    );
    line(&mut o, " Debug Mode:", n("Debug"));
    nonempty(&mut o, " HTTP Proxy:", i.str_of("HttpProxy").to_string());
    nonempty(&mut o, " HTTPS Proxy:", i.str_of("HttpsProxy").to_string());
    nonempty(&mut o, " No Proxy:", i.str_of("NoProxy").to_string());
    let labels: Vec<&str> = i
        .get("Labels")
        .map(J::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(J::as_str)
        .collect();
    if !labels.is_empty() {
        let _ = writeln!(o, " Labels:");
        for l in labels {
            let _ = writeln!(o, "  {l}");
        }
    }
    line(&mut o, " Experimental:", n("ExperimentalBuild"));
    if let Some(reg) = i.get("RegistryConfig").filter(|r| !matches!(r, J::Null)) {
        let cidrs = reg
            .get("InsecureRegistryCIDRs")
            .map(J::items)
            .unwrap_or(&[]);
        let insecure: Vec<&str> = reg
            .get("IndexConfigs")
            .map(J::pairs)
            .unwrap_or(&[])
            .iter()
            .filter(|(_, c)| c.get("Secure") == Some(&J::Bool(false)))
            .map(|(k, _)| k.as_str())
            .collect();
        if !cidrs.is_empty() || !insecure.is_empty() {
            let _ = writeln!(o, " Insecure Registries:");
            for r in insecure {
                let _ = writeln!(o, "  {r}");
            }
            for c in cidrs {
                match c {
                    J::Str(s) => {
                        let _ = writeln!(o, "  {s}");
                    }
                    other => {
                        let _ = writeln!(
                            o,
                            "  {}/{}",
                            other.str_of("IP"),
                            mask_bits(other.str_of("Mask"))
                        );
                    }
                }
            }
        }
        let mirrors: Vec<&str> = reg
            .get("Mirrors")
            .map(J::items)
            .unwrap_or(&[])
            .iter()
            .filter_map(J::as_str)
            .collect();
        if !mirrors.is_empty() {
            let _ = writeln!(o, " Registry Mirrors:");
            for m in mirrors {
                let _ = writeln!(o, "  {m}");
            }
        }
    }
    line(&mut o, " Live Restore Enabled:", n("LiveRestoreEnabled"));
    nonempty(
        &mut o,
        " Product License:",
        i.str_of("ProductLicense").to_string(),
    );
    let pools = i.get("DefaultAddressPools").map(J::items).unwrap_or(&[]);
    if !pools.is_empty() {
        let _ = writeln!(o, " Default Address Pools:");
        for p in pools {
            let _ = writeln!(
                o,
                "   Base: {}, Size: {}",
                p.str_of("Base"),
                p.i64_of("Size")
            );
        }
    }
    o.push('\n');
    o
}

/// `info` / `system info`.
pub async fn info(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(
        ctx,
        &[v(
            "format",
            Some('f'),
            "Format output using a custom template",
        )],
        rest,
        true,
    )?
    else {
        return Ok(0);
    };
    let i = ctx.client.get("/info").await?;
    if let Some(f) = p.get("format") {
        print!("{}", render_one(f, &i)?);
        return Ok(0);
    }
    print!(
        "Client:\n Version:    {}\n Context:    default\n Debug Mode: false\n\nServer:\n",
        env!("CARGO_PKG_VERSION")
    );
    print!("{}", format_info(&i));
    for w in i.get("Warnings").map(J::items).unwrap_or(&[]) {
        eprintln!("{}", w.as_str().unwrap_or(""));
    }
    Ok(0)
}

fn pct(part: i64, total: i64) -> String {
    if total > 0 {
        format!("{} ({}%)", human_size4(part as f64), part * 100 / total)
    } else {
        human_size4(part as f64)
    }
}

/// The rows of `system df` for a `/system/df` answer.
pub fn df_rows(d: &J) -> Vec<J> {
    let images = d.get("Images").map(J::items).unwrap_or(&[]);
    let layers = d.i64_of("LayersSize");
    let used: i64 = images
        .iter()
        .filter(|i| {
            i.i64_of("Containers") != 0 && i.i64_of("Size") != -1 && i.i64_of("SharedSize") != -1
        })
        .map(|i| i.i64_of("Size") - i.i64_of("SharedSize"))
        .sum();
    let active_images = images.iter().filter(|i| i.i64_of("Containers") > 0).count();
    let containers = d.get("Containers").map(J::items).unwrap_or(&[]);
    let active = |c: &J| matches!(c.str_of("State"), "running" | "paused" | "restarting");
    let c_size: i64 = containers.iter().map(|c| c.i64_of("SizeRw")).sum();
    let c_recl: i64 = containers
        .iter()
        .filter(|c| !active(c))
        .map(|c| c.i64_of("SizeRw"))
        .sum();
    let volumes = d.get("Volumes").map(J::items).unwrap_or(&[]);
    let vsize = |v: &J| {
        v.path(&["UsageData", "Size"])
            .and_then(J::as_i64)
            .unwrap_or(-1)
    };
    let vrefs = |v: &J| {
        v.path(&["UsageData", "RefCount"])
            .and_then(J::as_i64)
            .unwrap_or(0)
    };
    let v_size: i64 = volumes.iter().map(vsize).filter(|s| *s > 0).sum();
    let v_recl: i64 = volumes
        .iter()
        .filter(|v| vrefs(v) == 0)
        .map(vsize)
        .filter(|s| *s > 0)
        .sum();
    let cache = d.get("BuildCache").map(J::items).unwrap_or(&[]);
    let in_use = |b: &J| b.get("InUse").and_then(J::as_bool).unwrap_or(false);
    let b_size: i64 = cache
        .iter()
        .filter(|b| !b.get("Shared").and_then(J::as_bool).unwrap_or(false))
        .map(|b| b.i64_of("Size"))
        .sum();
    let b_recl: i64 = cache
        .iter()
        .filter(|b| !in_use(b) && !b.get("Shared").and_then(J::as_bool).unwrap_or(false))
        .map(|b| b.i64_of("Size"))
        .sum();
    let row = |t: &str, total: usize, act: usize, size: i64, recl: String| {
        J::obj([
            ("Type", J::s(t)),
            ("TotalCount", J::s(total.to_string())),
            ("Active", J::s(act.to_string())),
            ("Size", J::s(human_size4(size as f64))),
            ("Reclaimable", J::s(recl)),
        ])
    };
    vec![
        row(
            "Images",
            images.len(),
            active_images,
            layers,
            pct(layers - used, layers),
        ),
        row(
            "Containers",
            containers.len(),
            containers.iter().filter(|c| active(c)).count(),
            c_size,
            pct(c_recl, c_size),
        ),
        row(
            "Local Volumes",
            volumes.len(),
            volumes.iter().filter(|v| vrefs(v) > 0).count(),
            v_size,
            pct(v_recl, v_size),
        ),
        row(
            "Build Cache",
            cache.len(),
            cache.iter().filter(|b| in_use(b)).count(),
            b_size,
            human_size4(b_recl as f64),
        ),
    ]
}

/// `system df`.
pub async fn df(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(
        ctx,
        &[
            v("format", None, "Format output using a custom template"),
            b(
                "verbose",
                Some('v'),
                "Show detailed information on space usage",
            ),
        ],
        rest,
        true,
    )?
    else {
        return Ok(0);
    };
    super::unsupported(&p, &["verbose"])?;
    let d = ctx.client.get("/system/df").await?;
    let header = J::obj([
        ("Type", J::s("TYPE")),
        ("TotalCount", J::s("TOTAL")),
        ("Active", J::s("ACTIVE")),
        ("Size", J::s("SIZE")),
        ("Reclaimable", J::s("RECLAIMABLE")),
    ]);
    print!(
        "{}",
        render_list(
            p.str("format"),
            "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
            &header,
            &df_rows(&d)
        )?
    );
    Ok(0)
}

const SYS_PRUNE_FLAGS: &[Flag] = &[
    b(
        "all",
        Some('a'),
        "Remove all unused images not just dangling ones",
    ),
    v(
        "filter",
        None,
        "Provide filter values (e.g. \"label=<key>=<value>\")",
    ),
    b("force", Some('f'), "Do not prompt for confirmation"),
    b("volumes", None, "Prune anonymous volumes"),
];

/// `system prune`.
pub async fn prune(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, SYS_PRUNE_FLAGS, rest, true)? else {
        return Ok(0);
    };
    let mut warning = String::from("WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n");
    if p.on("volumes") {
        warning.push_str("  - all anonymous volumes not used by at least one container\n");
    }
    warning.push_str(if p.on("all") {
        "  - all images without at least one container associated to them\n"
    } else {
        "  - all dangling images\n"
    });
    warning.push_str("  - unused build cache\n");
    if !confirm(&warning, p.on("force")) {
        return Ok(0);
    }
    let filters = p.all("filter");
    let mut total = prune_containers(ctx, filters).await?;
    if p.on("volumes") {
        total += super::volume::prune_volumes(ctx, filters, false).await?;
    }
    let q = filters_json(filters)?
        .map(|f| vec![("filters", f)])
        .unwrap_or_default();
    let nets = ctx
        .client
        .json(Method::POST, &with_query("/networks/prune", &q), None)
        .await?;
    let deleted = nets.get("NetworksDeleted").map(J::items).unwrap_or(&[]);
    if !deleted.is_empty() {
        println!("Deleted Networks:");
        for n in deleted {
            println!("{}", n.as_str().unwrap_or(""));
        }
        println!();
    }
    total += prune_images(ctx, p.on("all"), filters).await?;
    // Build cache: daemons without a builder answer 404, which is nothing to prune.
    if let Ok(b) = ctx
        .client
        .json(Method::POST, &with_query("/build/prune", &q), None)
        .await
    {
        total += b
            .get("SpaceReclaimed")
            .and_then(J::as_i64)
            .unwrap_or(0)
            .max(0) as u64;
    }
    println!(
        "Total reclaimed space: {}",
        crate::human::human_size(total as f64)
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_layout() {
        let i = J::parse(br#"{"Containers":0,"ContainersRunning":0,"ContainersPaused":0,"ContainersStopped":0,"Images":43,"Driver":"overlay2","DriverStatus":[["Backing Filesystem","extfs"]],"Plugins":{"Volume":["local"],"Network":["bridge"],"Authorization":null,"Log":["json-file"]},"LoggingDriver":"json-file","CgroupDriver":"cgroupfs","CgroupVersion":"1","Swarm":{"LocalNodeState":"inactive"},"Runtimes":{"runc":{},"berth":{}},"DefaultRuntime":"runc","InitBinary":"docker-init","ContainerdCommit":{"ID":"1.6"},"RuncCommit":{"ID":"1.1"},"InitCommit":{"ID":""},"SecurityOptions":["name=seccomp,profile=default"],"OSType":"linux","NCPU":2,"MemTotal":25275392000,"DockerRootDir":"/d","Debug":false,"ExperimentalBuild":false,"RegistryConfig":{"InsecureRegistryCIDRs":[{"IP":"127.0.0.0","Mask":"/wAAAA=="}],"IndexConfigs":{"docker.io":{"Secure":true}}},"LiveRestoreEnabled":false}"#).expect("json");
        let s = format_info(&i);
        assert!(s.starts_with(" Containers: 0\n  Running: 0\n  Paused: 0\n  Stopped: 0\n Images: 43\n Storage Driver: overlay2\n  Backing Filesystem: extfs\n"), "{s}");
        assert!(s.contains(" Runtimes: berth runc\n Default Runtime: runc\n"));
        assert!(s.contains(" Security Options:\n  seccomp\n   Profile: default\n"));
        assert!(s.contains(" Total Memory: 23.54GiB\n"));
        assert!(
            s.contains(" Insecure Registries:\n  127.0.0.0/8\n Live Restore Enabled: false\n\n")
        );
    }

    #[test]
    fn ansic_time() {
        assert_eq!(
            ansic("2026-05-07T21:09:36.000000000+00:00"),
            "Thu May  7 21:09:36 2026"
        );
    }
}
