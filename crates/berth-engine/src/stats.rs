//! Observing containers: `stats` from the container's cgroup (v1 or v2) in Docker's JSON,
//! `top` from the host's `ps` limited to the container's processes, and health checks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use berth_model::docker::{self, HealthStatusEnum};
use berth_model::{BoxStream, Error};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::container::Container;
use crate::{util, Engine};

/// The cgroup path every container gets (`linux.cgroupsPath`).
pub fn cgroup_path(id: &str) -> String {
    format!("/berth/{id}")
}

/// Host CPU time in nanoseconds (the `system_cpu_usage` Docker computes from /proc/stat).
fn system_cpu_ns() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0;
    };
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    let ticks: u64 = line
        .split_whitespace()
        .skip(1)
        .take(7)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    // USER_HZ is 100 on every Linux ABI Docker supports.
    ticks * 10_000_000
}

fn online_cpus() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
}

fn sample(id: &str, name: &str) -> docker::ContainerStatsResponse {
    let mut out = docker::ContainerStatsResponse {
        id: Some(id.to_string()),
        name: Some(format!("/{name}")),
        os_type: Some("linux".into()),
        read: Some(util::now_rfc3339()),
        ..Default::default()
    };
    let Ok(cg) = berth_cgroups::Cgroup::open(Some(&cgroup_path(id)), id) else {
        return out;
    };
    let Ok(s) = cg.stats() else { return out };
    out.cpu_stats = Some(docker::ContainerCpuStats {
        cpu_usage: Some(docker::ContainerCpuUsage {
            total_usage: Some(s.cpu.usage.total),
            percpu_usage: (!s.cpu.usage.percpu.is_empty()).then(|| s.cpu.usage.percpu.clone()),
            usage_in_kernelmode: Some(s.cpu.usage.kernel),
            usage_in_usermode: Some(s.cpu.usage.user),
        }),
        system_cpu_usage: Some(system_cpu_ns()),
        online_cpus: Some(online_cpus()),
        throttling_data: Some(docker::ContainerThrottlingData {
            periods: Some(s.cpu.throttling.periods),
            throttled_periods: Some(s.cpu.throttling.throttled_periods),
            throttled_time: Some(s.cpu.throttling.throttled_time),
        }),
    });
    let mut raw: HashMap<String, u64> = s.memory.raw.clone().into_iter().collect();
    raw.entry("cache".into()).or_insert(s.memory.cache);
    out.memory_stats = Some(docker::ContainerMemoryStats {
        usage: Some(s.memory.usage.usage),
        max_usage: (s.memory.usage.max > 0).then_some(s.memory.usage.max),
        stats: Some(raw),
        failcnt: Some(s.memory.usage.failcnt),
        limit: Some(match s.memory.usage.limit {
            0 => host_memory(),
            l if l > host_memory() => host_memory(),
            l => l,
        }),
        ..Default::default()
    });
    out.pids_stats = Some(docker::ContainerPidsStats {
        current: Some(s.pids.current),
        limit: (s.pids.limit > 0).then_some(s.pids.limit),
    });
    macro_rules! entries {
        ($v:expr) => {
            $v.iter()
                .map(|e| docker::ContainerBlkioStatEntry {
                    major: Some(e.major),
                    minor: Some(e.minor),
                    op: Some(e.op.clone()),
                    value: Some(e.value),
                })
                .collect::<Vec<_>>()
        };
    }
    out.blkio_stats = Some(docker::ContainerBlkioStats {
        io_service_bytes_recursive: Some(entries!(s.blkio.io_service_bytes_recursive)),
        io_serviced_recursive: Some(entries!(s.blkio.io_serviced_recursive)),
        ..Default::default()
    });
    out.num_procs = Some(0);
    out
}

fn host_memory() -> u64 {
    let Ok(m) = std::fs::read_to_string("/proc/meminfo") else {
        return 0;
    };
    m.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// The health state a container starts with.
pub fn initial_health(config: &docker::ContainerConfig) -> Option<docker::Health> {
    let test = config.healthcheck.as_ref()?.test.as_ref()?;
    if test.first().map(String::as_str) == Some("NONE") || test.is_empty() {
        return None;
    }
    Some(docker::Health {
        status: Some(HealthStatusEnum::STARTING),
        failing_streak: Some(0),
        log: Some(Vec::new()),
    })
}

impl Engine {
    pub(crate) async fn stats(
        &self,
        reference: &str,
        stream: bool,
    ) -> Result<BoxStream<docker::ContainerStatsResponse>, Error> {
        let c = self.container(reference)?;
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let mut prev: Option<docker::ContainerStatsResponse> = None;
            loop {
                let (id, name, running) = {
                    let r = c.lock();
                    (r.id.clone(), r.name.clone(), r.state.is_running())
                };
                let mut s = if running {
                    let (id, name) = (id.clone(), name.clone());
                    tokio::task::spawn_blocking(move || sample(&id, &name))
                        .await
                        .unwrap_or_default()
                } else {
                    docker::ContainerStatsResponse {
                        id: Some(id.clone()),
                        name: Some(format!("/{name}")),
                        read: Some(util::ZERO_TIME.into()),
                        ..Default::default()
                    }
                };
                match &prev {
                    Some(p) => {
                        s.precpu_stats = p.cpu_stats.clone();
                        s.preread = p.read.clone();
                    }
                    None if !stream => {
                        // One sample: measure the previous CPU figures a moment earlier,
                        // as Docker does, so `docker stats --no-stream` shows a real CPU %.
                        prev = Some(s);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                    None => {
                        s.precpu_stats = Some(docker::ContainerCpuStats::default());
                        s.preread = Some(util::ZERO_TIME.into());
                    }
                }
                if tx.send(s.clone()).await.is_err() || !stream {
                    return;
                }
                prev = Some(s);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(Box::pin(ReceiverStream::new(rx)))
    }

    pub(crate) async fn top(
        &self,
        reference: &str,
        ps_args: Option<String>,
    ) -> Result<docker::ContainerTopResponse, Error> {
        let c = self.container(reference)?;
        let rec = c.snapshot();
        if !rec.state.is_running() {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        let id = rec.id.clone();
        let pids: Vec<i32> = tokio::task::spawn_blocking(move || {
            berth_cgroups::Cgroup::open(Some(&cgroup_path(&id)), &id)
                .and_then(|cg| cg.procs())
                .unwrap_or_default()
        })
        .await
        .unwrap_or_default();
        let args = ps_args
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| "-ef".into());
        let out = tokio::process::Command::new("ps")
            .args(args.split_whitespace())
            .output()
            .await
            .map_err(|e| Error::internal(format!("running ps: {e}")))?;
        if !out.status.success() {
            return Err(Error::internal(format!(
                "ps: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        parse_ps(&String::from_utf8_lossy(&out.stdout), &pids)
    }

    /// Runs the container's health check on its interval while it runs.
    pub(crate) fn spawn_health(&self, c: Arc<Container>) {
        let Some(engine) = self.arc() else { return };
        let Some(hc) = c.lock().config.healthcheck.clone() else {
            return;
        };
        let Some(test) = hc.test.clone().filter(|t| !t.is_empty() && t[0] != "NONE") else {
            return;
        };
        let cmd: Vec<String> = match test[0].as_str() {
            "CMD" => test[1..].to_vec(),
            "CMD-SHELL" => vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")],
            _ => test.clone(),
        };
        let ns = |v: Option<i64>, d: u64| {
            Duration::from_nanos(v.filter(|n| *n > 0).map(|n| n as u64).unwrap_or(d))
        };
        let interval = ns(hc.interval, 30_000_000_000);
        let timeout = ns(hc.timeout, 30_000_000_000);
        let start_period = ns(hc.start_period, 0);
        let start_interval = ns(hc.start_interval, 5_000_000_000);
        let retries = hc.retries.filter(|r| *r > 0).unwrap_or(3);
        let started_at = c.lock().state.started_at.clone();
        tokio::spawn(async move {
            let begun = std::time::Instant::now();
            loop {
                let in_start = begun.elapsed() < start_period;
                tokio::time::sleep(if in_start {
                    start_interval.min(interval)
                } else {
                    interval
                })
                .await;
                let rec = c.snapshot();
                if rec.state.status != "running" || rec.state.started_at != started_at {
                    return;
                }
                let config = docker::ExecConfig {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(cmd.clone()),
                    ..Default::default()
                };
                let started = chrono::Utc::now();
                let result = tokio::time::timeout(timeout, engine.run_probe(&rec.id, config)).await;
                let (code, output) = match result {
                    Ok(Ok(v)) => v,
                    Ok(Err(e)) => (-1, e.message),
                    Err(_) => (-1, format!("Health check exceeded timeout ({timeout:?})")),
                };
                let ok = code == 0;
                let mut changed_to = None;
                let _ = c.update(|r| {
                    let h = r.state.health.get_or_insert_with(Default::default);
                    let log = h.log.get_or_insert_with(Vec::new);
                    log.push(docker::HealthcheckResult {
                        start: Some(started.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
                        end: Some(util::now_rfc3339()),
                        exit_code: Some(code),
                        output: Some(output.clone()),
                    });
                    if log.len() > 5 {
                        log.remove(0);
                    }
                    let before = h.status;
                    if ok {
                        h.failing_streak = Some(0);
                        h.status = Some(HealthStatusEnum::HEALTHY);
                    } else if !in_start {
                        let streak = h.failing_streak.unwrap_or(0) + 1;
                        h.failing_streak = Some(streak);
                        if streak >= retries {
                            h.status = Some(HealthStatusEnum::UNHEALTHY);
                        }
                    }
                    if h.status != before {
                        changed_to = h.status;
                    }
                });
                if let Some(s) = changed_to {
                    engine.container_event(&c.snapshot(), &format!("health_status: {s}"), &[]);
                }
            }
        });
    }
}

/// Keeps the rows of `ps` output whose PID column is one of `pids`.
fn parse_ps(out: &str, pids: &[i32]) -> Result<docker::ContainerTopResponse, Error> {
    let mut lines = out.lines();
    let header = lines.next().unwrap_or_default();
    let titles: Vec<String> = header.split_whitespace().map(str::to_string).collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| Error::invalid("Couldn't find PID field in ps output"))?;
    let mut processes = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < titles.len() {
            continue;
        }
        let Ok(pid) = fields[pid_col].parse::<i32>() else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        // The last column (the command) keeps its spaces.
        let mut row: Vec<String> = fields[..titles.len() - 1]
            .iter()
            .map(|s| s.to_string())
            .collect();
        row.push(fields[titles.len() - 1..].join(" "));
        processes.push(row);
    }
    Ok(docker::ContainerTopResponse {
        titles: Some(titles),
        processes: Some(processes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_rows_of_the_container_only() {
        let out = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\nroot 42 1 0 10:01 ? 00:00:00 sleep 1000 now\n";
        let top = parse_ps(out, &[42]).expect("parses");
        let rows = top.processes.unwrap_or_default();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][1], "42");
        assert_eq!(rows[0][7], "sleep 1000 now");
        assert!(parse_ps("A B\n1 2\n", &[1]).is_err());
    }
}
