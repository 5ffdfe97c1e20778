//! Read-only container commands: `ps`, `logs`, `inspect`, `top`, `diff`, `port`.

use anyhow::anyhow;
use hyper::Method;

use super::image::filters_json;
use super::{need_args, parse};
use crate::args::{b, v, Flag};
use crate::client::{path_seg, with_query, DaemonError};
use crate::format::{ellipsis, render_list, render_one, short_id};
use crate::human::{ago, go_time_string, human_size, parse_time_arg};
use crate::json::{indent, J};
use crate::stream::copy_output;
use crate::table::align_with;
use crate::template::{quote, LABELS_KEY};
use crate::{Ctx, StatusError};

const PS_FLAGS: &[Flag] = &[
    b(
        "all",
        Some('a'),
        "Show all containers (default shows just running)",
    ),
    v(
        "filter",
        Some('f'),
        "Filter output based on conditions provided",
    ),
    v("format", None, "Format output using a custom template"),
    v(
        "last",
        Some('n'),
        "Show n last created containers (includes all states)",
    ),
    b(
        "latest",
        Some('l'),
        "Show the latest created container (includes all states)",
    ),
    b("no-trunc", None, "Don't truncate output"),
    b("quiet", Some('q'), "Only display container IDs"),
    b("size", Some('s'), "Display total file sizes"),
];

/// Docker's `DisplayablePorts`, without range folding: "127.0.0.1:8080->80/tcp, 443/tcp".
pub fn display_ports(ports: &[J]) -> String {
    let mut out: Vec<String> = Vec::new();
    for p in ports {
        let private = p.i64_of("PrivatePort");
        let typ = p.str_of("Type");
        let ip = p.str_of("IP");
        let public = p.i64_of("PublicPort");
        let s = if ip.is_empty() && public == 0 {
            format!("{private}/{typ}")
        } else {
            let host = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip.to_string()
            };
            format!("{host}:{public}->{private}/{typ}")
        };
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out.sort();
    out.join(", ")
}

fn ps_row(c: &J, trunc: bool) -> J {
    let id = c.str_of("Id");
    let mut names: Vec<String> = c
        .get("Names")
        .map(J::items)
        .unwrap_or(&[])
        .iter()
        .filter_map(J::as_str)
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    if trunc {
        // Link names ("other/alias") are not the container's own names.
        names.retain(|n| !n.contains('/'));
    }
    let mut image = c.str_of("Image").to_string();
    if trunc && image.starts_with("sha256:") {
        image = short_id(&image);
    }
    let command = if trunc {
        ellipsis(c.str_of("Command"), 20)
    } else {
        c.str_of("Command").to_string()
    };
    let created = c.i64_of("Created");
    let size_rw = c.i64_of("SizeRw");
    let size_root = c.i64_of("SizeRootFs");
    let size = if size_root > 0 {
        format!(
            "{} (virtual {})",
            human_size(size_rw as f64),
            human_size(size_root as f64)
        )
    } else {
        human_size(size_rw as f64)
    };
    let labels = c.get("Labels").cloned().unwrap_or(J::Obj(Vec::new()));
    let label_str: Vec<String> = labels
        .pairs()
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    let mounts: Vec<String> = c
        .get("Mounts")
        .map(J::items)
        .unwrap_or(&[])
        .iter()
        .map(|m| {
            let n = if m.str_of("Name").is_empty() {
                m.str_of("Source")
            } else {
                m.str_of("Name")
            };
            if trunc {
                ellipsis(n, 15)
            } else {
                n.to_string()
            }
        })
        .collect();
    let local_volumes = c
        .get("Mounts")
        .map(J::items)
        .unwrap_or(&[])
        .iter()
        .filter(|m| m.str_of("Driver") == "local")
        .count();
    let mut networks: Vec<String> = c
        .path(&["NetworkSettings", "Networks"])
        .map(J::pairs)
        .unwrap_or(&[])
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    networks.sort();
    J::obj([
        ("Command", J::s(quote(&command))),
        ("CreatedAt", J::s(go_time_string(created))),
        (
            "ID",
            J::s(if trunc { short_id(id) } else { id.to_string() }),
        ),
        ("Image", J::s(image)),
        ("Labels", J::s(label_str.join(","))),
        ("LocalVolumes", J::s(local_volumes.to_string())),
        ("Mounts", J::s(mounts.join(","))),
        ("Names", J::s(names.join(","))),
        ("Networks", J::s(networks.join(","))),
        ("Platform", J::Null),
        (
            "Ports",
            J::s(display_ports(c.get("Ports").map(J::items).unwrap_or(&[]))),
        ),
        ("RunningFor", J::s(ago(created as f64))),
        ("Size", J::s(size)),
        ("State", J::s(c.str_of("State"))),
        ("Status", J::s(c.str_of("Status"))),
        (LABELS_KEY, labels),
    ])
}

fn ps_header() -> J {
    J::obj([
        ("Command", J::s("COMMAND")),
        ("CreatedAt", J::s("CREATED AT")),
        ("ID", J::s("CONTAINER ID")),
        ("Image", J::s("IMAGE")),
        ("Labels", J::s("LABELS")),
        ("LocalVolumes", J::s("LOCAL VOLUMES")),
        ("Mounts", J::s("MOUNTS")),
        ("Names", J::s("NAMES")),
        ("Networks", J::s("NETWORKS")),
        ("Platform", J::s("PLATFORM")),
        ("Ports", J::s("PORTS")),
        ("RunningFor", J::s("CREATED")),
        ("Size", J::s("SIZE")),
        ("State", J::s("STATE")),
        ("Status", J::s("STATUS")),
        (LABELS_KEY, J::Obj(Vec::new())),
    ])
}

/// `ps`.
pub async fn ps(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, PS_FLAGS, rest, true)? else {
        return Ok(0);
    };
    let mut q = Vec::new();
    let mut all = p.on("all");
    let mut limit: i64 = -1;
    if let Some(n) = p.get("last") {
        limit = n.parse().map_err(|_| {
            anyhow!("invalid argument {n:?} for \"-n, --last\" flag: not an integer")
        })?;
    }
    if p.on("latest") {
        limit = 1;
    }
    if limit > 0 {
        all = true;
        q.push(("limit", limit.to_string()));
    }
    if all {
        q.push(("all", "1".to_string()));
    }
    let format = if p.on("quiet") && !p.has("format") {
        "{{.ID}}".to_string()
    } else {
        p.str("format").to_string()
    };
    let json_all = format.trim() == "json" || format.replace(" ", "").contains("{{json.}}");
    if p.on("size") || format.contains(".Size") || json_all {
        q.push(("size", "1".to_string()));
    }
    if let Some(f) = filters_json(p.all("filter"))? {
        q.push(("filters", f));
    }
    let list = ctx.client.get(&with_query("/containers/json", &q)).await?;
    let trunc = !p.on("no-trunc");
    let rows: Vec<J> = list.items().iter().map(|c| ps_row(c, trunc)).collect();
    let mut default = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}".to_string();
    if p.on("size") {
        default.push_str("\t{{.Size}}");
    }
    print!("{}", render_list(&format, &default, &ps_header(), &rows)?);
    Ok(0)
}

const LOGS_FLAGS: &[Flag] = &[
    b("details", None, "Show extra details provided to logs"),
    b("follow", Some('f'), "Follow log output"),
    v("since", None, "Show logs since timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)"),
    v("tail", Some('n'), "Number of lines to show from the end of the logs"),
    b("timestamps", Some('t'), "Show timestamps"),
    v("until", None, "Show logs before a timestamp (e.g. \"2013-01-02T13:23:37Z\") or relative (e.g. \"42m\" for 42 minutes)"),
];

fn time_arg(flag: &str, v: &str) -> anyhow::Result<String> {
    parse_time_arg(v).ok_or_else(|| {
        anyhow!("invalid value for \"{flag}\": failed to parse value as time or duration: {v:?}")
    })
}

/// `logs`.
pub async fn logs(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, LOGS_FLAGS, rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 1, true)?;
    let c = ctx
        .client
        .get(&format!("/containers/{}/json", path_seg(&p.args[0])))
        .await?;
    let id = c.str_of("Id").to_string();
    let tty = c
        .path(&["Config", "Tty"])
        .and_then(J::as_bool)
        .unwrap_or(false);
    let mut q = vec![
        ("stdout", "1".to_string()),
        ("stderr", "1".to_string()),
        ("tail", p.get("tail").unwrap_or("all").to_string()),
    ];
    if p.on("follow") {
        q.push(("follow", "1".into()));
    }
    if p.on("timestamps") {
        q.push(("timestamps", "1".into()));
    }
    if p.on("details") {
        q.push(("details", "1".into()));
    }
    if let Some(s) = p.get("since") {
        q.push(("since", time_arg("since", s)?));
    }
    if let Some(u) = p.get("until") {
        q.push(("until", time_arg("until", u)?));
    }
    let res = ctx
        .client
        .send(
            Method::GET,
            &with_query(&format!("/containers/{id}/logs"), &q),
            crate::client::empty(),
            &[],
        )
        .await?;
    copy_output(body_reader(res), tty).await?;
    Ok(0)
}

/// Adapts a stream of byte chunks into an `AsyncRead`.
fn tokio_util_reader<S>(s: S) -> impl tokio::io::AsyncRead + Unpin
where
    S: futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin,
{
    StreamReader {
        s,
        buf: bytes::Bytes::new(),
    }
}

struct StreamReader<S> {
    s: S,
    buf: bytes::Bytes,
}

impl<S> tokio::io::AsyncRead for StreamReader<S>
where
    S: futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin,
{
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        out: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        loop {
            if !self.buf.is_empty() {
                let n = self.buf.len().min(out.remaining());
                let chunk = self.buf.split_to(n);
                out.put_slice(&chunk);
                return Poll::Ready(Ok(()));
            }
            match std::pin::Pin::new(&mut self.s).poll_next(cx) {
                Poll::Ready(Some(Ok(b))) => self.buf = b,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Reads an HTTP body as an `AsyncRead`.
pub fn body_reader(
    res: hyper::Response<hyper::body::Incoming>,
) -> impl tokio::io::AsyncRead + Unpin {
    use futures_util::TryStreamExt as _;
    let body = http_body_util::BodyStream::new(res.into_body());
    tokio_util_reader(
        body.map_ok(|f| f.into_data().unwrap_or_default())
            .map_err(std::io::Error::other),
    )
}

const INSPECT_FLAGS: &[Flag] = &[
    v("format", Some('f'), "Format output using a custom template"),
    b(
        "size",
        Some('s'),
        "Display total file sizes if the type is container",
    ),
    v("type", None, "Only inspect objects of the given type"),
];

/// `inspect`, `container inspect`, `image inspect`, `volume inspect`.
pub async fn inspect(ctx: &mut Ctx, rest: &[String], kind: Option<&str>) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, INSPECT_FLAGS, rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 1, false)?;
    let kind = kind.or(p.get("type"));
    if let Some(k) = kind {
        if !matches!(k, "container" | "image" | "volume" | "network") {
            anyhow::bail!("\"{k}\" is not a valid value for --type");
        }
    }
    let size = if p.on("size") { "?size=1" } else { "" };
    let mut raws: Vec<bytes::Bytes> = Vec::new();
    let mut errors = Vec::new();
    for name in &p.args {
        let n = path_seg(name);
        let candidates: Vec<(&str, String)> = [
            ("container", format!("/containers/{n}/json{size}")),
            ("image", format!("/images/{n}/json")),
            ("volume", format!("/volumes/{n}")),
            ("network", format!("/networks/{n}")),
        ]
        .into_iter()
        .filter(|(k, _)| kind.is_none_or(|want| want == *k))
        .collect();
        let mut found = None;
        let mut last_err = None;
        for (_, path) in &candidates {
            match ctx.client.raw(Method::GET, path, None).await {
                Ok(b) => {
                    found = Some(b);
                    break;
                }
                Err(e)
                    if e.downcast_ref::<DaemonError>()
                        .is_some_and(|d| d.status == 404) =>
                {
                    last_err = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        match found {
            Some(b) => raws.push(b),
            None => errors.push(match (kind, last_err) {
                (None, _) => format!("Error: No such object: {name}"),
                (Some(_), Some(e)) => e.to_string(),
                (Some(k), None) => format!("Error: No such {k}: {name}"),
            }),
        }
    }
    match p.get("format") {
        Some(f) => {
            for r in &raws {
                let j = J::parse(r).map_err(|e| anyhow!("the daemon sent {e}"))?;
                print!(
                    "{}",
                    render_one(f, &j).map_err(|e| StatusError {
                        code: 1,
                        message: format!("{e}")
                    })?
                );
            }
        }
        None => {
            let mut all = Vec::from(&b"["[..]);
            for (i, r) in raws.iter().enumerate() {
                if i > 0 {
                    all.push(b',');
                }
                all.extend_from_slice(r.trim_ascii());
            }
            all.push(b']');
            println!("{}", indent(&all, "    "));
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

/// `top`.
pub async fn top(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, &[], rest, false)? else {
        return Ok(0);
    };
    need_args(&p, 1, false)?;
    let mut path = format!("/containers/{}/top", path_seg(&p.args[0]));
    if p.args.len() > 1 {
        path = with_query(&path, &[("ps_args", p.args[1..].join(" "))]);
    }
    let t = ctx.client.get(&path).await?;
    let mut text = String::new();
    let titles: Vec<String> = t
        .get("Titles")
        .map(J::items)
        .unwrap_or(&[])
        .iter()
        .map(|x| x.as_str().unwrap_or("").to_string())
        .collect();
    text.push_str(&titles.join("\t"));
    text.push('\n');
    for proc_ in t.get("Processes").map(J::items).unwrap_or(&[]) {
        let cells: Vec<&str> = proc_
            .items()
            .iter()
            .map(|x| x.as_str().unwrap_or(""))
            .collect();
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    print!("{}", align_with(&text, 20, 3));
    Ok(0)
}

/// `diff`.
pub async fn diff(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, &[], rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 1, true)?;
    let changes = ctx
        .client
        .get(&format!("/containers/{}/changes", path_seg(&p.args[0])))
        .await?;
    for c in changes.items() {
        let k = match c.i64_of("Kind") {
            0 => "C",
            1 => "A",
            2 => "D",
            _ => "?",
        };
        println!("{k} {}", c.str_of("Path"));
    }
    Ok(0)
}

/// `port`.
pub async fn port(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, &[], rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 1, false)?;
    let c = ctx
        .client
        .get(&format!("/containers/{}/json", path_seg(&p.args[0])))
        .await?;
    let ports = c
        .path(&["NetworkSettings", "Ports"])
        .cloned()
        .unwrap_or(J::Null);
    let fmt_binding = |b: &J| {
        let ip = b.str_of("HostIp");
        let ip = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        format!("{ip}:{}", b.str_of("HostPort"))
    };
    let mut lines = Vec::new();
    if let Some(want) = p.args.get(1) {
        let (port, proto) = want.split_once('/').unwrap_or((want.as_str(), "tcp"));
        let proto = if proto.is_empty() { "tcp" } else { proto };
        if port.parse::<u16>().is_err() {
            let why = if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) {
                "value out of range"
            } else {
                "invalid syntax"
            };
            return Err(StatusError {
                code: 1,
                message: format!(
                    "Error: invalid port ({port}): strconv.ParseUint: parsing \"{port}\": {why}"
                ),
            }
            .into());
        }
        let bindings = ports
            .get(&format!("{port}/{proto}"))
            .map(J::items)
            .unwrap_or(&[]);
        if bindings.is_empty() {
            return Err(StatusError {
                code: 1,
                message: format!("Error: No public port '{want}' published for {}", p.args[0]),
            }
            .into());
        }
        for b in bindings {
            lines.push(fmt_binding(b));
        }
    } else {
        for (k, bs) in ports.pairs() {
            for b in bs.items() {
                lines.push(format!("{k} -> {}", fmt_binding(b)));
            }
        }
    }
    lines.sort_by(|a, b| crate::format::natural_cmp(a, b));
    for l in lines {
        println!("{l}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_row_like_docker() {
        let c = J::parse(br#"{"Id":"e9c4f17fdc48d02b7b4d33fe9aea736035a756e053c1af86398453e6943d26ea","Names":["/tr-d"],"Image":"busybox","Command":"sleep 100000","Created":0,"Ports":[{"IP":"127.0.0.1","PrivatePort":80,"PublicPort":28090,"Type":"tcp"},{"PrivatePort":443,"Type":"tcp"}],"Labels":{"a":"1"},"State":"running","Status":"Up 3 seconds","SizeRw":0,"SizeRootFs":0}"#).expect("json");
        let r = ps_row(&c, true);
        assert_eq!(r.str_of("ID"), "e9c4f17fdc48");
        assert_eq!(r.str_of("Command"), "\"sleep 100000\"");
        assert_eq!(r.str_of("Names"), "tr-d");
        assert_eq!(r.str_of("Ports"), "127.0.0.1:28090->80/tcp, 443/tcp");
        assert_eq!(r.str_of("Labels"), "a=1");
        let out =
            render_list(r#"{{.Names}} {{.Label "a"}}"#, "", &ps_header(), &[r]).expect("renders");
        assert_eq!(out, "tr-d 1\n");
    }
}
