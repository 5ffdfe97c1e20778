//! `volume create|ls|inspect|rm|prune` (inspect lives with the other inspects).

use hyper::Method;

use super::image::{confirm, filters_json};
use super::{need_args, parse};
use crate::args::{b, v};
use crate::client::{path_seg, with_query};
use crate::format::render_list;
use crate::human::human_size;
use crate::json::J;
use crate::{Ctx, StatusError};

/// `volume create`.
pub async fn create(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let flags = [
        v("driver", Some('d'), "Specify volume driver name"),
        v("label", None, "Set metadata for a volume"),
        v("name", None, "Specify volume name"),
        v("opt", Some('o'), "Set driver specific options"),
    ];
    let Some(p) = parse(ctx, &flags, rest, true)? else {
        return Ok(0);
    };
    let name = match (p.args.first(), p.get("name")) {
        (Some(a), Some(n)) if a != n => anyhow::bail!("conflicting options: cannot specify a volume-name through both --name and as a positional arg"),
        (Some(a), _) => a.clone(),
        (None, Some(n)) => n.to_string(),
        (None, None) => String::new(),
    };
    let mut body = J::obj([("Driver", J::s(p.get("driver").unwrap_or("local")))]);
    let kv = |items: &[String]| {
        let mut o = J::Obj(Vec::new());
        for it in items {
            let (k, val) = it.split_once('=').unwrap_or((it.as_str(), ""));
            o.set(k, J::s(val));
        }
        o
    };
    if !p.all("opt").is_empty() {
        body.set("DriverOpts", kv(p.all("opt")));
    }
    if !p.all("label").is_empty() {
        body.set("Labels", kv(p.all("label")));
    }
    if !name.is_empty() {
        body.set("Name", J::s(name));
    }
    let v = ctx
        .client
        .json(Method::POST, "/volumes/create", Some(&body))
        .await?;
    println!("{}", v.str_of("Name"));
    Ok(0)
}

/// `volume ls`.
pub async fn ls(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let flags = [
        v(
            "filter",
            Some('f'),
            "Provide filter values (e.g. \"dangling=true\")",
        ),
        v("format", None, "Format output using a custom template"),
        b("quiet", Some('q'), "Only display volume names"),
    ];
    let Some(p) = parse(ctx, &flags, rest, true)? else {
        return Ok(0);
    };
    let q = filters_json(p.all("filter"))?
        .map(|f| vec![("filters", f)])
        .unwrap_or_default();
    let r = ctx.client.get(&with_query("/volumes", &q)).await?;
    let mut vols: Vec<&J> = r
        .get("Volumes")
        .map(J::items)
        .unwrap_or(&[])
        .iter()
        .collect();
    vols.sort_by(|a, b| a.str_of("Name").cmp(b.str_of("Name")));
    let rows: Vec<J> = vols
        .iter()
        .map(|v| {
            let labels: Vec<String> = v
                .get("Labels")
                .map(J::pairs)
                .unwrap_or(&[])
                .iter()
                .map(|(k, x)| format!("{k}={}", x.as_str().unwrap_or("")))
                .collect();
            J::obj([
                ("Driver", J::s(v.str_of("Driver"))),
                ("Labels", J::s(labels.join(","))),
                ("Mountpoint", J::s(v.str_of("Mountpoint"))),
                ("Name", J::s(v.str_of("Name"))),
                ("Scope", J::s(v.str_of("Scope"))),
                (
                    crate::template::LABELS_KEY,
                    v.get("Labels").cloned().unwrap_or(J::Obj(Vec::new())),
                ),
            ])
        })
        .collect();
    let header = J::obj([
        ("Driver", J::s("DRIVER")),
        ("Labels", J::s("LABELS")),
        ("Mountpoint", J::s("MOUNTPOINT")),
        ("Name", J::s("VOLUME NAME")),
        ("Scope", J::s("SCOPE")),
    ]);
    let format = if p.on("quiet") {
        "{{.Name}}".to_string()
    } else {
        p.str("format").to_string()
    };
    print!(
        "{}",
        render_list(&format, "table {{.Driver}}\t{{.Name}}", &header, &rows)?
    );
    for w in r.get("Warnings").map(J::items).unwrap_or(&[]) {
        eprintln!("{}", w.as_str().unwrap_or(""));
    }
    Ok(0)
}

/// `volume rm`.
pub async fn rm(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(
        ctx,
        &[b(
            "force",
            Some('f'),
            "Force the removal of one or more volumes",
        )],
        rest,
        true,
    )?
    else {
        return Ok(0);
    };
    need_args(&p, 1, false)?;
    let q: Vec<(&str, String)> = if p.on("force") {
        vec![("force", "1".into())]
    } else {
        Vec::new()
    };
    let mut errors = Vec::new();
    for n in &p.args {
        match ctx
            .client
            .raw(
                Method::DELETE,
                &with_query(&format!("/volumes/{}", path_seg(n)), &q),
                None,
            )
            .await
        {
            Ok(_) => println!("{n}"),
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

/// Prunes volumes and prints them; returns bytes reclaimed. `all` also removes named
/// volumes (API 1.42+).
pub async fn prune_volumes(ctx: &Ctx, filters: &[String], all: bool) -> anyhow::Result<u64> {
    let mut f = filters.to_vec();
    if all {
        f.push("all=true".into());
    }
    let q = filters_json(&f)?
        .map(|f| vec![("filters", f)])
        .unwrap_or_default();
    let r = ctx
        .client
        .json(Method::POST, &with_query("/volumes/prune", &q), None)
        .await?;
    let deleted = r.get("VolumesDeleted").map(J::items).unwrap_or(&[]);
    if !deleted.is_empty() {
        println!("Deleted Volumes:");
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

/// `volume prune`.
pub async fn prune(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let flags = [
        b(
            "all",
            Some('a'),
            "Remove all unused volumes, not just anonymous ones",
        ),
        v(
            "filter",
            None,
            "Provide filter values (e.g. \"label=<label>\")",
        ),
        b("force", Some('f'), "Do not prompt for confirmation"),
    ];
    let Some(p) = parse(ctx, &flags, rest, true)? else {
        return Ok(0);
    };
    let warning = if p.on("all") {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    if !confirm(warning, p.on("force")) {
        return Ok(0);
    }
    let all = p.on("all") && !crate::client::version_lt(ctx.client.version(), "1.42");
    let n = prune_volumes(ctx, p.all("filter"), all).await?;
    println!("Total reclaimed space: {}", human_size(n as f64));
    Ok(0)
}
