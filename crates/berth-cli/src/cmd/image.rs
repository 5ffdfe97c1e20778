//! Image commands: `images`, `pull`, `load`, `save`, `tag`, `rmi`, `import`, `history`,
//! `commit`, `image prune`, and the JSON-message progress display they share.

use std::io::Write as _;

use anyhow::{anyhow, bail, Context as _};
use http_body_util::BodyExt as _;
use hyper::Method;
use tokio::io::AsyncWriteExt as _;

use super::{need_args, parse, unsupported};
use crate::args::{b, v, Flag};
use crate::client::{path_seg, reader_body, with_query};
use crate::format::{ellipsis, render_list, short_id};
use crate::human::{ago, human_size, rfc3339};
use crate::json::J;
use crate::stream;
use crate::{Ctx, StatusError};

/// Splits "repo[:tag][@digest]" into (repo, tag-or-digest); the tag defaults to "latest".
pub fn split_ref(r: &str) -> (String, String) {
    if let Some((repo, digest)) = r.split_once('@') {
        return (repo.to_string(), digest.to_string());
    }
    let slash = r.rfind('/').map_or(0, |i| i + 1);
    match r[slash..].rfind(':') {
        Some(i) => (r[..slash + i].to_string(), r[slash + i + 1..].to_string()),
        None => (r.to_string(), "latest".to_string()),
    }
}

/// The fully qualified repository name docker sends (`reference.ParseNormalizedNamed(..).Name()`):
/// "busybox" → "docker.io/library/busybox", "me/app" → "docker.io/me/app"; names whose
/// first part is a registry (has a `.` or `:`, or is `localhost`) stay as they are.
pub fn full_name(repo: &str) -> String {
    match repo.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            repo.to_string()
        }
        Some(_) => format!("docker.io/{repo}"),
        None => format!("docker.io/library/{repo}"),
    }
}

/// "busybox" → "busybox:latest" (docker's familiar form, as its messages show it).
pub fn normalize_ref(r: &str) -> String {
    if r.contains('@') {
        return r.to_string();
    }
    let (repo, tag) = split_ref(r);
    format!("{repo}:{tag}")
}

/// Docker's filter encoding: `{"key":{"value":true}}`.
pub fn filters_json(filters: &[String]) -> anyhow::Result<Option<String>> {
    if filters.is_empty() {
        return Ok(None);
    }
    let mut o = J::Obj(Vec::new());
    for f in filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| anyhow!("bad format of filter (expected name=value)"))?;
        let k = k.trim().to_ascii_lowercase();
        let mut m = o.get(&k).cloned().unwrap_or(J::Obj(Vec::new()));
        m.set(v.trim(), J::Bool(true));
        o.set(&k, m);
    }
    // Go marshals maps with their keys sorted.
    if let J::Obj(pairs) = &mut o {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, inner) in pairs.iter_mut() {
            if let J::Obj(vals) = inner {
                vals.sort_by(|a, b| a.0.cmp(&b.0));
            }
        }
    }
    Ok(Some(o.to_compact()))
}

/// Prints a JSON-message stream (pull, load, import, push): one line per message without a
/// terminal, in-place progress lines per layer on one. Returns the last `status`.
pub async fn show_messages(
    res: hyper::Response<hyper::body::Incoming>,
    quiet: bool,
    to_stderr: bool,
) -> anyhow::Result<String> {
    use std::io::IsTerminal as _;
    let tty = if to_stderr {
        std::io::stderr().is_terminal()
    } else {
        stream::stdout_is_tty()
    };
    let mut body = res.into_body();
    let mut buf: Vec<u8> = Vec::new();
    let mut display = crate::progress::Display::default();
    let width = stream::term_size().map_or(0, |(_, w)| w);
    let mut last = String::new();
    let mut out: Box<dyn std::io::Write> = if to_stderr {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        buf.extend_from_slice(data);
        while let Some(nl) = buf.iter().position(|&c| c == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let m = J::parse(text.as_bytes())
                .map_err(|e| anyhow!("the daemon sent a bad progress message: {e}"))?;
            if let Some(e) = m
                .get("errorDetail")
                .map(|e| e.str_of("message"))
                .filter(|s| !s.is_empty())
                .or_else(|| Some(m.str_of("error")).filter(|s| !s.is_empty()))
            {
                bail!("{e}");
            }
            if m.get("stream").is_none() {
                last = m.str_of("status").to_string();
            }
            if quiet {
                continue;
            }
            let _ = write!(out, "{}", display.render(&m, tty, width));
            let _ = out.flush();
        }
    }
    Ok(last)
}

/// Pulls an image (`POST /images/create?fromImage=..&tag=..`), showing progress on stdout
/// (`pull`) or stderr (the implicit pull of `run`/`create`, as docker does).
pub async fn pull(ctx: &Ctx, image: &str, quiet: bool, to_stderr: bool) -> anyhow::Result<()> {
    let (repo, tag) = split_ref(image);
    let q = if tag.starts_with("sha256:") {
        vec![("fromImage", format!("{}@{tag}", full_name(&repo)))]
    } else {
        vec![("fromImage", full_name(&repo)), ("tag", tag.clone())]
    };
    let res = ctx
        .client
        .send(
            Method::POST,
            &with_query("/images/create", &q),
            crate::client::empty(),
            &[],
        )
        .await?;
    show_messages(res, quiet, to_stderr).await?;
    Ok(())
}

const PULL_FLAGS: &[Flag] = &[
    b("quiet", Some('q'), "Suppress verbose output"),
    v(
        "platform",
        None,
        "Set platform if server is multi-platform capable",
    ),
    b(
        "all-tags",
        Some('a'),
        "Download all tagged images in the repository",
    ),
];

/// `pull`.
pub async fn pull_cmd(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, PULL_FLAGS, rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 1, true)?;
    unsupported(&p, &["all-tags", "platform"])?;
    pull(ctx, &p.args[0], p.on("quiet"), false).await?;
    println!("{}", normalize_ref(&p.args[0]));
    Ok(0)
}

const LOAD_FLAGS: &[Flag] = &[
    v(
        "input",
        Some('i'),
        "Read from tar archive file, instead of STDIN",
    ),
    b("quiet", Some('q'), "Suppress the load output"),
    v("platform", None, "Load only the given platform"),
];

/// `load`.
pub async fn load(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, LOAD_FLAGS, rest, true)? else {
        return Ok(0);
    };
    unsupported(&p, &["platform"])?;
    let body = match p.get("input") {
        Some(f) => reader_body(
            tokio::fs::File::open(f)
                .await
                .with_context(|| format!("open {f}"))?,
        ),
        None => {
            if stream::stdin_is_tty() {
                bail!("requested load from stdin, but stdin is empty");
            }
            reader_body(tokio::io::stdin())
        }
    };
    let quiet = p.on("quiet") || !stream::stdout_is_tty();
    let path = format!("/images/load?quiet={}", if quiet { "1" } else { "0" });
    let res = ctx
        .client
        .send(
            Method::POST,
            &path,
            body,
            &[("Content-Type", "application/x-tar")],
        )
        .await?;
    let is_json = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if is_json {
        show_messages(res, false, false).await?;
    } else {
        let b = res.into_body().collect().await?.to_bytes();
        std::io::stdout().write_all(&b)?;
    }
    Ok(0)
}

/// Streams a response body to `-o FILE` (written to a temp file and renamed) or stdout.
pub async fn body_to_output(
    res: hyper::Response<hyper::body::Incoming>,
    output: Option<&str>,
    what: &str,
) -> anyhow::Result<()> {
    let mut body = res.into_body();
    match output {
        Some(path) => {
            let target = std::path::Path::new(path);
            let dir = target
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let tmp = dir.join(format!(
                ".{}.berth-tmp-{}",
                target.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
                std::process::id()
            ));
            let mut f = tokio::fs::File::create(&tmp).await.with_context(|| {
                format!("failed to save {what}: cannot create {}", tmp.display())
            })?;
            let r: anyhow::Result<()> = async {
                while let Some(frame) = body.frame().await {
                    if let Some(d) = frame?.data_ref() {
                        f.write_all(d).await?;
                    }
                }
                f.sync_all().await?;
                Ok(())
            }
            .await;
            if let Err(e) = r {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
            tokio::fs::rename(&tmp, target)
                .await
                .with_context(|| format!("failed to save {what} to {path}"))?;
        }
        None => {
            if stream::stdout_is_tty() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let mut out = tokio::io::stdout();
            while let Some(frame) = body.frame().await {
                if let Some(d) = frame?.data_ref() {
                    out.write_all(d).await?;
                }
            }
            out.flush().await?;
        }
    }
    Ok(())
}

const SAVE_FLAGS: &[Flag] = &[
    v("output", Some('o'), "Write to a file, instead of STDOUT"),
    v("platform", None, "Save only the given platform"),
];

/// `save`.
pub async fn save(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, SAVE_FLAGS, rest, true)? else {
        return Ok(0);
    };
    unsupported(&p, &["platform"])?;
    need_args(&p, 1, false)?;
    if p.get("output").is_none() && stream::stdout_is_tty() {
        bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    let q: Vec<(&str, String)> = p.args.iter().map(|n| ("names", n.clone())).collect();
    let res = ctx
        .client
        .send(
            Method::GET,
            &with_query("/images/get", &q),
            crate::client::empty(),
            &[],
        )
        .await?;
    body_to_output(res, p.get("output"), "the images").await?;
    Ok(0)
}

/// `tag`.
pub async fn tag(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, &[], rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 2, true)?;
    let (repo, tag) = split_ref(&p.args[1]);
    ctx.client
        .post(&with_query(
            &format!("/images/{}/tag", path_seg(&p.args[0])),
            &[("repo", full_name(&repo)), ("tag", tag)],
        ))
        .await?;
    Ok(0)
}

const RMI_FLAGS: &[Flag] = &[
    b("force", Some('f'), "Force removal of the image"),
    b("no-prune", None, "Do not delete untagged parents"),
];

/// `rmi`.
pub async fn rmi(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, RMI_FLAGS, rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 1, false)?;
    let mut q = Vec::new();
    if p.on("force") {
        q.push(("force", "1".to_string()));
    }
    if p.on("no-prune") {
        q.push(("noprune", "1".to_string()));
    }
    let mut errors = Vec::new();
    for name in &p.args {
        match ctx
            .client
            .json(
                Method::DELETE,
                &with_query(&format!("/images/{}", path_seg(name)), &q),
                None,
            )
            .await
        {
            Ok(list) => {
                for item in list.items() {
                    if let Some(u) = item.get("Untagged").and_then(J::as_str) {
                        println!("Untagged: {u}");
                    }
                    if let Some(d) = item.get("Deleted").and_then(J::as_str) {
                        println!("Deleted: {d}");
                    }
                }
            }
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

const IMPORT_FLAGS: &[Flag] = &[
    v(
        "change",
        Some('c'),
        "Apply Dockerfile instruction to the created image",
    ),
    v(
        "message",
        Some('m'),
        "Set commit message for imported image",
    ),
    v(
        "platform",
        None,
        "Set platform if server is multi-platform capable",
    ),
];

/// `import`.
pub async fn import(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, IMPORT_FLAGS, rest, true)? else {
        return Ok(0);
    };
    unsupported(&p, &["platform"])?;
    need_args(&p, 1, false)?;
    let src = &p.args[0];
    let mut q: Vec<(&str, String)> = Vec::new();
    let body = if src == "-" {
        q.push(("fromSrc", "-".into()));
        reader_body(tokio::io::stdin())
    } else if src.starts_with("http://") || src.starts_with("https://") {
        q.push(("fromSrc", src.clone()));
        crate::client::empty()
    } else {
        q.push(("fromSrc", "-".into()));
        reader_body(
            tokio::fs::File::open(src)
                .await
                .with_context(|| format!("open {src}"))?,
        )
    };
    if let Some(r) = p.args.get(1) {
        q.push(("repo", r.clone()));
    }
    if let Some(m) = p.get("message") {
        q.push(("message", m.to_string()));
    }
    for c in p.all("change") {
        q.push(("changes", c.clone()));
    }
    let res = ctx
        .client
        .send(
            Method::POST,
            &with_query("/images/create", &q),
            body,
            &[("Content-Type", "application/x-tar")],
        )
        .await?;
    show_messages(res, false, false).await?;
    Ok(0)
}

const HISTORY_FLAGS: &[Flag] = &[
    v("format", None, "Format output using a custom template"),
    b(
        "human",
        Some('H'),
        "Print sizes and dates in human readable format (default true)",
    ),
    b("no-trunc", None, "Don't truncate output"),
    b("quiet", Some('q'), "Only show image IDs"),
    v("platform", None, "Show history for the given platform"),
];

/// `history`.
pub async fn history(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, HISTORY_FLAGS, rest, true)? else {
        return Ok(0);
    };
    unsupported(&p, &["platform"])?;
    need_args(&p, 1, true)?;
    let list = ctx
        .client
        .get(&format!("/images/{}/history", path_seg(&p.args[0])))
        .await?;
    let trunc = !p.on("no-trunc");
    let human = !p.has("human") || p.on("human");
    let rows: Vec<J> = list
        .items()
        .iter()
        .map(|h| {
            let id = h.str_of("Id");
            let created = h.i64_of("Created");
            let by = h.str_of("CreatedBy").replace('\t', " ");
            let size = h.i64_of("Size");
            J::obj([
                ("Comment", J::s(h.str_of("Comment"))),
                ("CreatedAt", J::s(rfc3339(created))),
                (
                    "CreatedBy",
                    J::s(if trunc { ellipsis(&by, 45) } else { by }),
                ),
                (
                    "CreatedSince",
                    J::s(if human {
                        ago(created as f64)
                    } else {
                        rfc3339(created)
                    }),
                ),
                (
                    "ID",
                    J::s(if id == "<missing>" {
                        id.to_string()
                    } else if trunc {
                        short_id(id)
                    } else {
                        id.to_string()
                    }),
                ),
                (
                    "Size",
                    J::s(if human {
                        human_size(size as f64)
                    } else {
                        size.to_string()
                    }),
                ),
            ])
        })
        .collect();
    let header = J::obj([
        ("Comment", J::s("COMMENT")),
        ("CreatedAt", J::s("CREATED AT")),
        ("CreatedBy", J::s("CREATED BY")),
        (
            "CreatedSince",
            J::s(if human { "CREATED" } else { "CREATED AT" }),
        ),
        ("ID", J::s("IMAGE")),
        ("Size", J::s("SIZE")),
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
            "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
            &header,
            &rows
        )?
    );
    Ok(0)
}

const COMMIT_FLAGS: &[Flag] = &[
    v(
        "author",
        Some('a'),
        "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")",
    ),
    v(
        "change",
        Some('c'),
        "Apply Dockerfile instruction to the created image",
    ),
    v("message", Some('m'), "Commit message"),
    b(
        "pause",
        Some('p'),
        "Pause container during commit (default true)",
    ),
];

/// `commit`.
pub async fn commit(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, COMMIT_FLAGS, rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 1, false)?;
    let mut q: Vec<(&str, String)> = vec![("container", p.args[0].clone())];
    let (repo, tag) = match p.args.get(1) {
        Some(r) => {
            let (repo, tag) = split_ref(r);
            (full_name(&repo), tag)
        }
        None => (String::new(), String::new()),
    };
    q.push(("repo", repo));
    q.push(("tag", tag));
    q.push(("comment", p.str("message").to_string()));
    q.push(("author", p.str("author").to_string()));
    let pause = !p.has("pause") || p.on("pause");
    if !pause {
        q.push(("pause", "0".into()));
    }
    for c in p.all("change") {
        q.push(("changes", c.clone()));
    }
    let res = ctx
        .client
        .json(Method::POST, &with_query("/commit", &q), None)
        .await?;
    println!("{}", res.str_of("Id"));
    Ok(0)
}

const PRUNE_FLAGS: &[Flag] = &[
    b(
        "all",
        Some('a'),
        "Remove all unused images, not just dangling ones",
    ),
    v(
        "filter",
        None,
        "Provide filter values (e.g. \"until=<timestamp>\")",
    ),
    b("force", Some('f'), "Do not prompt for confirmation"),
];

/// Asks "Are you sure you want to continue? [y/N]" unless forced.
pub fn confirm(warning: &str, force: bool) -> bool {
    if force {
        return true;
    }
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim(), "y" | "Y" | "yes" | "Yes")
}

/// Runs `POST /images/prune` with `filters` and prints what went; returns bytes reclaimed.
pub async fn prune_images(ctx: &Ctx, all: bool, extra: &[String]) -> anyhow::Result<u64> {
    let mut f = extra.to_vec();
    f.push(format!("dangling={}", if all { "false" } else { "true" }));
    let q = filters_json(&f)?
        .map(|f| vec![("filters", f)])
        .unwrap_or_default();
    let r = ctx
        .client
        .json(Method::POST, &with_query("/images/prune", &q), None)
        .await?;
    let deleted = r.get("ImagesDeleted").map(J::items).unwrap_or(&[]);
    if !deleted.is_empty() {
        println!("Deleted Images:");
        for d in deleted {
            if let Some(u) = d.get("Untagged").and_then(J::as_str) {
                println!("untagged: {u}");
            }
            if let Some(x) = d.get("Deleted").and_then(J::as_str) {
                println!("deleted: {x}");
            }
        }
        println!();
    }
    Ok(r.get("SpaceReclaimed")
        .and_then(J::as_i64)
        .unwrap_or(0)
        .max(0) as u64)
}

/// `image prune`.
pub async fn prune(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, PRUNE_FLAGS, rest, true)? else {
        return Ok(0);
    };
    let warning = if p.on("all") {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !confirm(warning, p.on("force")) {
        return Ok(0);
    }
    let n = prune_images(ctx, p.on("all"), p.all("filter")).await?;
    println!("Total reclaimed space: {}", human_size(n as f64));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs() {
        assert_eq!(split_ref("busybox"), ("busybox".into(), "latest".into()));
        assert_eq!(
            split_ref("127.0.0.1:5000/bb:1.0"),
            ("127.0.0.1:5000/bb".into(), "1.0".into())
        );
        assert_eq!(
            split_ref("127.0.0.1:5000/bb"),
            ("127.0.0.1:5000/bb".into(), "latest".into())
        );
        assert_eq!(normalize_ref("busybox"), "busybox:latest");
        assert_eq!(
            filters_json(&["dangling=true".into()])
                .ok()
                .flatten()
                .as_deref(),
            Some(r#"{"dangling":{"true":true}}"#)
        );
        assert!(filters_json(&["nonsense".into()]).is_err());
    }
}
