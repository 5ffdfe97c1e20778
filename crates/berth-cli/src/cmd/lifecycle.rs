//! Container state changes on one or more containers: `stop`, `kill`, `rm`, `restart`,
//! `pause`, `unpause`, `wait`, `rename`, `update`, `container prune`. Like docker, each
//! name is handled even if an earlier one failed; failures are printed and the status is 1.

use hyper::Method;

use super::image::{confirm, filters_json};
use super::{need_args, parse};
use crate::args::{b, v, Flag, Parsed};
use crate::client::{path_seg, with_query, DaemonError};
use crate::createopts::ram_in_bytes;
use crate::human::human_size;
use crate::json::J;
use crate::{Ctx, StatusError};

/// Runs `op` for each name, printing the name on success and the error otherwise.
async fn each<F, Fut>(names: &[String], mut op: F) -> anyhow::Result<i32>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<String>>>,
{
    let mut errors = Vec::new();
    for n in names {
        match op(n.clone()).await {
            Ok(Some(line)) => println!("{line}"),
            Ok(None) => {}
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        Ok(0)
    } else {
        Err(StatusError {
            code: 1,
            message: errors.join("\n"),
        }
        .into())
    }
}

const STOP_FLAGS: &[Flag] = &[
    v("signal", Some('s'), "Signal to send to the container"),
    v(
        "time",
        Some('t'),
        "Seconds to wait before killing the container",
    ),
    v(
        "timeout",
        None,
        "Seconds to wait before killing the container",
    ),
];

fn stop_query(p: &Parsed) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut q = Vec::new();
    if let Some(s) = p.get("signal") {
        q.push(("signal", s.to_string()));
    }
    if let Some(t) = p.get("time").or(p.get("timeout")) {
        let n: i64 = t.parse().map_err(|_| {
            anyhow::anyhow!("invalid argument {t:?} for \"-t, --time\" flag: not an integer")
        })?;
        q.push(("t", n.to_string()));
    }
    Ok(q)
}

/// `stop`.
pub async fn stop(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, STOP_FLAGS, rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 1, false)?;
    let q = stop_query(&p)?;
    let c = &ctx.client;
    each(&p.args, |n| {
        let path = with_query(&format!("/containers/{}/stop", path_seg(&n)), &q);
        async move { c.post(&path).await.map(|_| Some(n)) }
    })
    .await
}

/// `restart`.
pub async fn restart(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, STOP_FLAGS, rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 1, false)?;
    let q = stop_query(&p)?;
    let c = &ctx.client;
    each(&p.args, |n| {
        let path = with_query(&format!("/containers/{}/restart", path_seg(&n)), &q);
        async move { c.post(&path).await.map(|_| Some(n)) }
    })
    .await
}

/// `kill`.
pub async fn kill(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(
        ctx,
        &[v("signal", Some('s'), "Signal to send to the container")],
        rest,
        true,
    )?
    else {
        return Ok(0);
    };
    need_args(&p, 1, false)?;
    let q: Vec<(&str, String)> = p
        .get("signal")
        .map(|s| vec![("signal", s.to_string())])
        .unwrap_or_default();
    let c = &ctx.client;
    each(&p.args, |n| {
        let path = with_query(&format!("/containers/{}/kill", path_seg(&n)), &q);
        async move { c.post(&path).await.map(|_| Some(n)) }
    })
    .await
}

const RM_FLAGS: &[Flag] = &[
    b(
        "force",
        Some('f'),
        "Force the removal of a running container (uses SIGKILL)",
    ),
    b("link", Some('l'), "Remove the specified link"),
    b(
        "volumes",
        Some('v'),
        "Remove anonymous volumes associated with the container",
    ),
];

/// `rm`.
pub async fn rm(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, RM_FLAGS, rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 1, false)?;
    let mut q = Vec::new();
    if p.on("force") {
        q.push(("force", "1".to_string()));
    }
    if p.on("link") {
        q.push(("link", "1".to_string()));
    }
    if p.on("volumes") {
        q.push(("v", "1".to_string()));
    }
    let c = &ctx.client;
    let force = p.on("force");
    each(&p.args, |n| {
        let path = with_query(
            &format!("/containers/{}", path_seg(n.trim_start_matches('/'))),
            &q,
        );
        async move {
            match c.raw(Method::DELETE, &path, None).await {
                Ok(_) => Ok(Some(n)),
                // docker: with --force a container that is already gone is not a failure,
                // though the daemon's message is still shown.
                Err(e)
                    if force
                        && e.downcast_ref::<DaemonError>()
                            .is_some_and(|d| d.status == 404) =>
                {
                    eprintln!("{e}");
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        }
    })
    .await
}

/// `pause` / `unpause`.
pub async fn simple(ctx: &mut Ctx, rest: &[String], op: &str) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, &[], rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 1, false)?;
    let c = &ctx.client;
    each(&p.args, |n| {
        let path = format!("/containers/{}/{op}", path_seg(&n));
        async move { c.post(&path).await.map(|_| Some(n)) }
    })
    .await
}

/// `wait`.
pub async fn wait(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, &[], rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 1, false)?;
    let c = &ctx.client;
    each(&p.args, |n| {
        let path = format!("/containers/{}/wait", path_seg(&n));
        async move {
            let w = c.json(Method::POST, &path, None).await?;
            Ok(Some(w.i64_of("StatusCode").to_string()))
        }
    })
    .await
}

/// `rename`.
pub async fn rename(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, &[], rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 2, true)?;
    let new = p.args[1].trim_start_matches('/');
    if new.is_empty() {
        anyhow::bail!("Error: neither old nor new names may be empty");
    }
    ctx.client
        .post(&with_query(
            &format!("/containers/{}/rename", path_seg(&p.args[0])),
            &[("name", new.to_string())],
        ))
        .await?;
    Ok(0)
}

const UPDATE_FLAGS: &[Flag] = &[
    v(
        "blkio-weight",
        None,
        "Block IO (relative weight), between 10 and 1000, or 0 to disable",
    ),
    v(
        "cpu-period",
        None,
        "Limit CPU CFS (Completely Fair Scheduler) period",
    ),
    v(
        "cpu-quota",
        None,
        "Limit CPU CFS (Completely Fair Scheduler) quota",
    ),
    v("cpu-shares", Some('c'), "CPU shares (relative weight)"),
    v("cpus", None, "Number of CPUs"),
    v(
        "cpuset-cpus",
        None,
        "CPUs in which to allow execution (0-3, 0,1)",
    ),
    v(
        "cpuset-mems",
        None,
        "MEMs in which to allow execution (0-3, 0,1)",
    ),
    v("memory", Some('m'), "Memory limit"),
    v("memory-reservation", None, "Memory soft limit"),
    v(
        "memory-swap",
        None,
        "Swap limit equal to memory plus swap: -1 to enable unlimited swap",
    ),
    v(
        "pids-limit",
        None,
        "Tune container pids limit (set -1 for unlimited)",
    ),
    v(
        "restart",
        None,
        "Restart policy to apply when a container exits",
    ),
];

/// The `update` body, field for field as docker sends it: the whole `Resources` struct
/// (zeros and nulls mean "leave as is" to the daemon) plus the restart policy.
pub fn update_body(p: &Parsed) -> anyhow::Result<J> {
    let int = |name: &str| -> anyhow::Result<Option<i64>> {
        p.get(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    anyhow::anyhow!("invalid argument \"{v}\" for \"--{name}\" flag: strconv.ParseInt: parsing \"{v}\": invalid syntax")
                })
            })
            .transpose()
    };
    let size = |name: &str| -> anyhow::Result<i64> {
        p.get(name)
            .map(|v| {
                if v == "-1" && name == "memory-swap" {
                    Ok(-1)
                } else {
                    ram_in_bytes(v)
                }
            })
            .transpose()
            .map(|o| o.unwrap_or(0))
    };
    let nano_cpus = match p.get("cpus") {
        None => 0,
        Some(c) => {
            let f: f64 = c.parse().map_err(|_| {
                anyhow::anyhow!("invalid argument \"{c}\" for \"--cpus\" flag: failed to parse {c} as a rational number")
            })?;
            (f * 1e9).round() as i64
        }
    };
    let restart = match p.get("restart") {
        None => J::obj([("Name", J::s("")), ("MaximumRetryCount", J::int(0))]),
        Some(r) => {
            let (name, count) = r.split_once(':').unwrap_or((r, "0"));
            let count: i64 = count.parse().map_err(|_| {
                anyhow::anyhow!(
                    "invalid restart policy format: maximum retry count must be an integer"
                )
            })?;
            J::obj([("Name", J::s(name)), ("MaximumRetryCount", J::int(count))])
        }
    };
    Ok(J::obj([
        ("CpuShares", J::int(int("cpu-shares")?.unwrap_or(0))),
        ("Memory", J::int(size("memory")?)),
        ("NanoCpus", J::int(nano_cpus)),
        ("CgroupParent", J::s("")),
        ("BlkioWeight", J::int(int("blkio-weight")?.unwrap_or(0))),
        ("BlkioWeightDevice", J::Null),
        ("BlkioDeviceReadBps", J::Null),
        ("BlkioDeviceWriteBps", J::Null),
        ("BlkioDeviceReadIOps", J::Null),
        ("BlkioDeviceWriteIOps", J::Null),
        ("CpuPeriod", J::int(int("cpu-period")?.unwrap_or(0))),
        ("CpuQuota", J::int(int("cpu-quota")?.unwrap_or(0))),
        ("CpuRealtimePeriod", J::int(0)),
        ("CpuRealtimeRuntime", J::int(0)),
        ("CpusetCpus", J::s(p.str("cpuset-cpus"))),
        ("CpusetMems", J::s(p.str("cpuset-mems"))),
        ("Devices", J::Null),
        ("DeviceCgroupRules", J::Null),
        ("DeviceRequests", J::Null),
        ("MemoryReservation", J::int(size("memory-reservation")?)),
        ("MemorySwap", J::int(size("memory-swap")?)),
        ("MemorySwappiness", J::Null),
        ("OomKillDisable", J::Null),
        ("PidsLimit", int("pids-limit")?.map_or(J::Null, J::int)),
        ("Ulimits", J::Null),
        ("CpuCount", J::int(0)),
        ("CpuPercent", J::int(0)),
        ("IOMaximumIOps", J::int(0)),
        ("IOMaximumBandwidth", J::int(0)),
        ("RestartPolicy", restart),
    ]))
}

/// `update`.
pub async fn update(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, UPDATE_FLAGS, rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 1, false)?;
    let body = update_body(&p).map_err(|e| crate::args::UsageError(e.to_string()))?;
    let given = UPDATE_FLAGS.iter().any(|f| p.has(f.long));
    if !given {
        anyhow::bail!("you must provide one or more flags when using this command");
    }
    let c = &ctx.client;
    let body = &body;
    let warnings = std::cell::RefCell::new(Vec::new());
    let warnings_ref = &warnings;
    let code = each(&p.args, |n| {
        let path = format!("/containers/{}/update", path_seg(&n));
        async move {
            let r = c.json(Method::POST, &path, Some(body)).await?;
            for w in r.get("Warnings").map(J::items).unwrap_or(&[]) {
                warnings_ref
                    .borrow_mut()
                    .push(w.as_str().unwrap_or("").to_string());
            }
            Ok(Some(n))
        }
    })
    .await;
    // docker prints the daemon's warnings on stdout, after the names.
    let w = warnings.into_inner();
    if !w.is_empty() {
        println!("{}", w.join("\n"));
    }
    code
}

/// `container prune` (also used by `system prune`); returns bytes reclaimed.
pub async fn prune_containers(ctx: &Ctx, filters: &[String]) -> anyhow::Result<u64> {
    let q = filters_json(filters)?
        .map(|f| vec![("filters", f)])
        .unwrap_or_default();
    let r = ctx
        .client
        .json(Method::POST, &with_query("/containers/prune", &q), None)
        .await?;
    let deleted = r.get("ContainersDeleted").map(J::items).unwrap_or(&[]);
    if !deleted.is_empty() {
        println!("Deleted Containers:");
        for d in deleted {
            println!("{}", d.as_str().unwrap_or(""));
        }
        println!();
    }
    Ok(r.get("SpaceReclaimed")
        .and_then(J::as_i64)
        .unwrap_or(0)
        .max(0) as u64)
}

/// `container prune`.
pub async fn prune(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(
        ctx,
        &[
            v(
                "filter",
                None,
                "Provide filter values (e.g. \"until=<timestamp>\")",
            ),
            b("force", Some('f'), "Do not prompt for confirmation"),
        ],
        rest,
        true,
    )?
    else {
        return Ok(0);
    };
    if !confirm(
        "WARNING! This will remove all stopped containers.",
        p.on("force"),
    ) {
        return Ok(0);
    }
    let n = prune_containers(ctx, p.all("filter")).await?;
    println!("Total reclaimed space: {}", human_size(n as f64));
    Ok(0)
}
