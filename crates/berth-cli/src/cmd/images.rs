//! `images` / `image ls`: docker's rows (one per repository:tag, `<none>` for dangling
//! images, digests on request) and columns.

use super::image::{filters_json, split_ref};
use super::parse;
use crate::args::{b, v, Flag};
use crate::client::with_query;
use crate::format::{render_list, short_id};
use crate::human::{ago, human_size};
use crate::json::J;
use crate::Ctx;

const IMAGES_FLAGS: &[Flag] = &[
    b(
        "all",
        Some('a'),
        "Show all images (default hides intermediate images)",
    ),
    b("digests", None, "Show digests"),
    v(
        "filter",
        Some('f'),
        "Filter output based on conditions provided",
    ),
    v("format", None, "Format output using a custom template"),
    b("no-trunc", None, "Don't truncate output"),
    b("quiet", Some('q'), "Only show image IDs"),
    b(
        "tree",
        None,
        "List multi-platform images as a tree (not supported)",
    ),
];

fn image_rows(images: &[J], trunc: bool, digests: bool) -> Vec<J> {
    let mut rows = Vec::new();
    for img in images {
        let tags: Vec<&str> = img
            .get("RepoTags")
            .map(J::items)
            .unwrap_or(&[])
            .iter()
            .filter_map(J::as_str)
            .filter(|t| *t != "<none>:<none>")
            .collect();
        let dgs: Vec<&str> = img
            .get("RepoDigests")
            .map(J::items)
            .unwrap_or(&[])
            .iter()
            .filter_map(J::as_str)
            .filter(|t| *t != "<none>@<none>")
            .collect();
        let mut entries: Vec<(String, String, String)> = Vec::new();
        if tags.is_empty() && dgs.is_empty() {
            entries.push(("<none>".into(), "<none>".into(), "<none>".into()));
        } else {
            let mut repo_tags: Vec<(String, Vec<String>)> = Vec::new();
            for t in &tags {
                let (r, tag) = split_ref(t);
                match repo_tags.iter_mut().find(|(x, _)| *x == r) {
                    Some(e) => e.1.push(tag),
                    None => repo_tags.push((r, vec![tag])),
                }
            }
            let mut repo_digests: Vec<(String, Vec<String>)> = Vec::new();
            for d in &dgs {
                let (r, dg) = d
                    .split_once('@')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .unwrap_or_default();
                match repo_digests.iter_mut().find(|(x, _)| *x == r) {
                    Some(e) => e.1.push(dg),
                    None => repo_digests.push((r, vec![dg])),
                }
            }
            for (repo, tags) in &repo_tags {
                let ds = repo_digests
                    .iter()
                    .position(|(r, _)| r == repo)
                    .map(|i| repo_digests.remove(i).1)
                    .unwrap_or_default();
                for t in tags {
                    if ds.is_empty() || !digests {
                        entries.push((repo.clone(), t.clone(), "<none>".into()));
                    } else {
                        for d in &ds {
                            entries.push((repo.clone(), t.clone(), d.clone()));
                        }
                    }
                }
            }
            for (repo, ds) in repo_digests {
                if digests {
                    for d in ds {
                        entries.push((repo.clone(), "<none>".into(), d));
                    }
                } else {
                    entries.push((
                        repo,
                        "<none>".into(),
                        ds.first().cloned().unwrap_or_default(),
                    ));
                }
            }
        }
        let id = img.str_of("Id");
        let size = img.i64_of("Size");
        let shared = img.get("SharedSize").and_then(J::as_i64).unwrap_or(-1);
        let containers = img.get("Containers").and_then(J::as_i64).unwrap_or(-1);
        let created = img.i64_of("Created");
        for (repo, tag, digest) in entries {
            rows.push(J::obj([
                (
                    "Containers",
                    J::s(if containers < 0 {
                        "N/A".to_string()
                    } else {
                        containers.to_string()
                    }),
                ),
                ("CreatedAt", J::s(crate::human::go_time_string(created))),
                ("CreatedSince", J::s(ago(created as f64))),
                ("Digest", J::s(digest)),
                (
                    "ID",
                    J::s(if trunc { short_id(id) } else { id.to_string() }),
                ),
                ("Repository", J::s(repo)),
                (
                    "SharedSize",
                    J::s(if shared < 0 {
                        "N/A".to_string()
                    } else {
                        human_size(shared as f64)
                    }),
                ),
                ("Size", J::s(human_size(size as f64))),
                ("Tag", J::s(tag)),
                (
                    "UniqueSize",
                    J::s(if shared < 0 || size < 0 {
                        "N/A".to_string()
                    } else {
                        human_size((size - shared) as f64)
                    }),
                ),
                ("VirtualSize", J::s(crate::human::human_size4(size as f64))),
            ]));
        }
    }
    rows
}

/// `images`.
pub async fn images(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, IMAGES_FLAGS, rest, true)? else {
        return Ok(0);
    };
    super::unsupported(&p, &["tree"])?;
    let mut filters = p.all("filter").to_vec();
    if let Some(r) = p.args.first() {
        filters.push(format!("reference={r}"));
    }
    let mut q = Vec::new();
    if p.on("all") {
        q.push(("all", "1".to_string()));
    }
    if let Some(f) = filters_json(&filters)? {
        q.push(("filters", f));
    }
    let list = ctx.client.get(&with_query("/images/json", &q)).await?;
    let digests = p.on("digests");
    let rows = image_rows(list.items(), !p.on("no-trunc"), digests);
    let default = if digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    let mut format = p.str("format").to_string();
    if p.on("quiet") {
        format = "{{.ID}}".into();
    }
    let header = J::obj([
        ("Containers", J::s("CONTAINERS")),
        ("CreatedAt", J::s("CREATED AT")),
        ("CreatedSince", J::s("CREATED")),
        ("Digest", J::s("DIGEST")),
        ("ID", J::s("IMAGE ID")),
        ("Repository", J::s("REPOSITORY")),
        ("SharedSize", J::s("SHARED SIZE")),
        ("Size", J::s("SIZE")),
        ("Tag", J::s("TAG")),
        ("UniqueSize", J::s("UNIQUE SIZE")),
        ("VirtualSize", J::s("SIZE")),
    ]);
    let mut out = render_list(&format, default, &header, &rows)?;
    if p.on("quiet") {
        // docker -q lists each image ID once.
        let mut seen = Vec::new();
        out = out
            .lines()
            .filter(|l| {
                if seen.contains(l) {
                    false
                } else {
                    seen.push(*l);
                    true
                }
            })
            .map(|l| format!("{l}\n"))
            .collect();
    }
    print!("{out}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_rows_like_docker() {
        let imgs = J::parse(br#"[{"Id":"sha256:4f2f2715727bc89e","RepoTags":["busybox:latest","bb:1"],"RepoDigests":[],"Created":0,"Size":1980000,"SharedSize":-1,"Containers":-1},{"Id":"sha256:aaaaaaaaaaaaaaaa","RepoTags":[],"RepoDigests":[],"Created":0,"Size":5,"SharedSize":-1,"Containers":-1}]"#).expect("json");
        let rows = image_rows(imgs.items(), true, false);
        let got: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {}",
                    r.str_of("Repository"),
                    r.str_of("Tag"),
                    r.str_of("ID"),
                    r.str_of("Size")
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                "busybox latest 4f2f2715727b 1.98MB",
                "bb 1 4f2f2715727b 1.98MB",
                "<none> <none> aaaaaaaaaaaa 5B"
            ]
        );
    }
}
