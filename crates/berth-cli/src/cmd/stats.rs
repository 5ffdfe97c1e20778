//! `stats`: the same columns and the same CPU% / MEM% arithmetic as docker
//! (`calculateCPUPercentUnix`, memory usage minus inactive file cache), one-shot with
//! `--no-stream`, otherwise redrawn every second from the daemon's streams.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http_body_util::BodyExt as _;
use hyper::Method;

use super::parse;
use crate::args::{b, v};
use crate::client::{empty, path_seg, with_query};
use crate::format::{render_list, short_id};
use crate::human::{bytes_size, human_size};
use crate::json::J;
use crate::Ctx;

/// CPU percentage from one stats sample (docker's `calculateCPUPercentUnix`).
pub fn cpu_percent(s: &J) -> f64 {
    let total = |k: &str| {
        s.path(&[k, "cpu_usage", "total_usage"])
            .and_then(J::as_f64)
            .unwrap_or(0.0)
    };
    let system = |k: &str| {
        s.path(&[k, "system_cpu_usage"])
            .and_then(J::as_f64)
            .unwrap_or(0.0)
    };
    let cpu_delta = total("cpu_stats") - total("precpu_stats");
    let sys_delta = system("cpu_stats") - system("precpu_stats");
    let mut online = s
        .path(&["cpu_stats", "online_cpus"])
        .and_then(J::as_f64)
        .unwrap_or(0.0);
    if online == 0.0 {
        online = s
            .path(&["cpu_stats", "cpu_usage", "percpu_usage"])
            .map(|p| p.items().len() as f64)
            .unwrap_or(0.0);
    }
    if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / sys_delta * online * 100.0
    } else {
        0.0
    }
}

/// Memory in use without the page cache (cgroup v1 `total_inactive_file`, v2
/// `inactive_file`), and the limit.
pub fn mem_usage(s: &J) -> (f64, f64) {
    let m = s.get("memory_stats").cloned().unwrap_or(J::Null);
    let usage = m.get("usage").and_then(J::as_f64).unwrap_or(0.0);
    let limit = m.get("limit").and_then(J::as_f64).unwrap_or(0.0);
    let stats = m.get("stats").cloned().unwrap_or(J::Null);
    let used = if let Some(v) = stats
        .get("total_inactive_file")
        .and_then(J::as_f64)
        .filter(|v| *v < usage)
    {
        usage - v
    } else if let Some(v) = stats
        .get("inactive_file")
        .and_then(J::as_f64)
        .filter(|v| *v < usage)
    {
        usage - v
    } else {
        usage
    };
    (used, limit)
}

/// One row of the stats table for a sample; `container` is what the user named it by.
pub fn stats_row(s: &J, container: &str) -> J {
    let (used, limit) = mem_usage(s);
    let mem_pct = if limit != 0.0 {
        used / limit * 100.0
    } else {
        0.0
    };
    let (mut rx, mut tx) = (0.0, 0.0);
    for (_, n) in s.get("networks").map(J::pairs).unwrap_or(&[]) {
        rx += n.get("rx_bytes").and_then(J::as_f64).unwrap_or(0.0);
        tx += n.get("tx_bytes").and_then(J::as_f64).unwrap_or(0.0);
    }
    let (mut rd, mut wr) = (0.0, 0.0);
    for e in s
        .path(&["blkio_stats", "io_service_bytes_recursive"])
        .map(J::items)
        .unwrap_or(&[])
    {
        let v = e.get("value").and_then(J::as_f64).unwrap_or(0.0);
        match e.str_of("op").to_ascii_lowercase().as_str() {
            "read" => rd += v,
            "write" => wr += v,
            _ => {}
        }
    }
    let id = s.str_of("id");
    J::obj([
        (
            "BlockIO",
            J::s(format!("{} / {}", human_size(rd), human_size(wr))),
        ),
        ("CPUPerc", J::s(format!("{:.2}%", cpu_percent(s)))),
        ("Container", J::s(container)),
        ("ID", J::s(short_id(id))),
        ("MemPerc", J::s(format!("{mem_pct:.2}%"))),
        (
            "MemUsage",
            J::s(format!("{} / {}", bytes_size(used), bytes_size(limit))),
        ),
        ("Name", J::s(s.str_of("name").trim_start_matches('/'))),
        (
            "NetIO",
            J::s(format!("{} / {}", human_size(rx), human_size(tx))),
        ),
        (
            "PIDs",
            J::s(
                s.path(&["pids_stats", "current"])
                    .and_then(J::as_i64)
                    .unwrap_or(0)
                    .to_string(),
            ),
        ),
    ])
}

fn header() -> J {
    J::obj([
        ("BlockIO", J::s("BLOCK I/O")),
        ("CPUPerc", J::s("CPU %")),
        ("Container", J::s("CONTAINER")),
        ("ID", J::s("CONTAINER ID")),
        ("MemPerc", J::s("MEM %")),
        ("MemUsage", J::s("MEM USAGE / LIMIT")),
        ("Name", J::s("NAME")),
        ("NetIO", J::s("NET I/O")),
        ("PIDs", J::s("PIDS")),
    ])
}

const DEFAULT: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// `stats`.
pub async fn stats(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let flags = [
        b(
            "all",
            Some('a'),
            "Show all containers (default shows just running)",
        ),
        v("format", None, "Format output using a custom template"),
        b(
            "no-stream",
            None,
            "Disable streaming stats and only pull the first result",
        ),
        b("no-trunc", None, "Do not truncate output"),
    ];
    let Some(p) = parse(ctx, &flags, rest, true)? else {
        return Ok(0);
    };
    let names: Vec<String> = if p.args.is_empty() {
        let q: Vec<(&str, String)> = if p.on("all") {
            vec![("all", "1".into())]
        } else {
            Vec::new()
        };
        ctx.client
            .get(&with_query("/containers/json", &q))
            .await?
            .items()
            .iter()
            .map(|c| c.str_of("Id").chars().take(12).collect())
            .collect()
    } else {
        p.args.clone()
    };
    let format = p.str("format").to_string();
    if p.on("no-stream") {
        let mut rows = Vec::new();
        for n in &names {
            let s = ctx
                .client
                .json(
                    Method::GET,
                    &format!("/containers/{}/stats?stream=0", path_seg(n)),
                    None,
                )
                .await?;
            rows.push(stats_row(&s, n));
        }
        print!("{}", render_list(&format, DEFAULT, &header(), &rows)?);
        return Ok(0);
    }
    let latest: Arc<Mutex<HashMap<String, J>>> = Arc::new(Mutex::new(HashMap::new()));
    for n in &names {
        let res = ctx
            .client
            .send(
                Method::GET,
                &format!("/containers/{}/stats?stream=1", path_seg(n)),
                empty(),
                &[],
            )
            .await?;
        let latest = latest.clone();
        let n = n.clone();
        tokio::spawn(async move {
            let mut body = res.into_body();
            let mut buf = Vec::new();
            while let Some(Ok(frame)) = body.frame().await {
                let Some(d) = frame.data_ref() else { continue };
                buf.extend_from_slice(d);
                while let Some(nl) = buf.iter().position(|&c| c == b'\n') {
                    let line: Vec<u8> = buf.drain(..=nl).collect();
                    if let Ok(s) = J::parse(line.trim_ascii()) {
                        if let Ok(mut m) = latest.lock() {
                            m.insert(n.clone(), stats_row(&s, &n));
                        }
                    }
                }
            }
            if let Ok(mut m) = latest.lock() {
                m.remove(&n);
            }
        });
    }
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        let rows: Vec<J> = match latest.lock() {
            Ok(m) => names.iter().filter_map(|n| m.get(n).cloned()).collect(),
            Err(_) => Vec::new(),
        };
        print!(
            "\x1b[2J\x1b[H{}",
            render_list(&format, DEFAULT, &header(), &rows)?
        );
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_arithmetic() {
        let s = J::parse(br#"{"id":"e9c4f17fdc48d02b","name":"/tr-d","cpu_stats":{"cpu_usage":{"total_usage":2000},"system_cpu_usage":20000,"online_cpus":2},"precpu_stats":{"cpu_usage":{"total_usage":1000},"system_cpu_usage":10000},"memory_stats":{"usage":1048576,"limit":4194304,"stats":{"inactive_file":724992}},"networks":{"eth0":{"rx_bytes":876,"tx_bytes":0}},"blkio_stats":{"io_service_bytes_recursive":null},"pids_stats":{"current":1}}"#).expect("json");
        let r = stats_row(&s, "tr-d");
        assert_eq!(r.str_of("CPUPerc"), "20.00%");
        assert_eq!(r.str_of("MemUsage"), "316KiB / 4MiB");
        assert_eq!(r.str_of("MemPerc"), "7.71%");
        assert_eq!(r.str_of("NetIO"), "876B / 0B");
        assert_eq!(r.str_of("BlockIO"), "0B / 0B");
        assert_eq!(r.str_of("PIDs"), "1");
        assert_eq!(r.str_of("Name"), "tr-d");
    }
}
