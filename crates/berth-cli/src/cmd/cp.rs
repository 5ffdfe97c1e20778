//! `cp` (both ways, tar over `/containers/{id}/archive`, `-` for a tar on stdin/stdout) and
//! `export`. The rules for where things land are docker's: copying into an existing
//! directory puts the source inside it, otherwise the source is renamed to the target.

use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};
use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::Method;

use super::image::body_to_output;
use super::{need_args, parse, unsupported};
use crate::args::{b, v};
use crate::client::{empty, path_seg, reader_body, with_query, DaemonError};
use crate::json::J;
use crate::Ctx;

/// Decodes standard base64 (the `X-Docker-Container-Path-Stat` header).
pub fn b64decode(s: &str) -> Option<Vec<u8>> {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc: u32 = 0;
    let mut n = 0;
    for c in s.trim_end_matches('=').bytes() {
        let v = ALPHA.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((acc >> n) as u8);
        }
    }
    Some(out)
}

/// Splits "container:path"; `None` for a local path (absolute, relative with `./`, or no
/// colon).
pub fn split_container_path(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    let (c, p) = arg.split_once(':')?;
    if c.is_empty() || c.contains('/') {
        return None;
    }
    Some((c, p))
}

/// Where a tar entry of a copied-out source goes: `dst/<entry>` when `dst` is an existing
/// directory, otherwise the entry's first component is replaced by `dst`. `None` for
/// entries that would escape (absolute, `..`).
pub fn target_for(entry: &Path, dst: &Path, into_dir: bool) -> Option<PathBuf> {
    let comps: Vec<Component> = entry
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if comps.iter().any(|c| !matches!(c, Component::Normal(_))) || comps.is_empty() {
        return None;
    }
    if into_dir {
        return Some(dst.join(entry));
    }
    let mut t = dst.to_path_buf();
    for c in &comps[1..] {
        t.push(c);
    }
    Some(t)
}

fn extract(tar_bytes: Bytes, dst: &Path) -> anyhow::Result<()> {
    let into_dir = dst.is_dir();
    let mut ar = tar::Archive::new(std::io::Cursor::new(tar_bytes));
    ar.set_preserve_permissions(true);
    ar.set_overwrite(true);
    for entry in ar.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let Some(target) = target_for(&path, dst, into_dir) else {
            bail!(
                "refusing to extract {}: it would land outside {}",
                path.display(),
                dst.display()
            );
        };
        if let Some(parent) = target.parent() {
            if !parent.as_os_str().is_empty() && !parent.exists() {
                bail!("destination directory {} does not exist", parent.display());
            }
        }
        entry
            .unpack(&target)
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    Ok(())
}

fn make_tar(src: &Path, name: &str) -> anyhow::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    let meta = std::fs::symlink_metadata(src)
        .with_context(|| format!("could not find the file {} in the host", src.display()))?;
    if meta.is_dir() {
        b.append_dir_all(name, src)?;
    } else {
        b.append_path_with_name(src, name)?;
    }
    Ok(b.into_inner()?)
}

/// The stat docker puts in `X-Docker-Container-Path-Stat`.
async fn stat(ctx: &Ctx, container: &str, path: &str) -> anyhow::Result<Option<J>> {
    let p = with_query(
        &format!("/containers/{}/archive", path_seg(container)),
        &[("path", path.to_string())],
    );
    match ctx.client.send(Method::HEAD, &p, empty(), &[]).await {
        Ok(res) => {
            let h = res
                .headers()
                .get("x-docker-container-path-stat")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let raw =
                b64decode(h).ok_or_else(|| anyhow!("the daemon sent a bad path stat header"))?;
            Ok(Some(J::parse(&raw).map_err(|e| {
                anyhow!("the daemon sent a bad path stat: {e}")
            })?))
        }
        Err(e)
            if e.downcast_ref::<DaemonError>()
                .is_some_and(|d| d.status == 404) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// `cp`.
pub async fn cp(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let flags = [
        b(
            "archive",
            Some('a'),
            "Archive mode (copy all uid/gid information)",
        ),
        b(
            "follow-link",
            Some('L'),
            "Always follow symbol link in SRC_PATH",
        ),
        b("quiet", Some('q'), "Suppress progress output during copy"),
    ];
    let Some(p) = parse(ctx, &flags, rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 2, true)?;
    unsupported(&p, &["follow-link"])?;
    let archive = p.on("archive");
    let (src, dst) = (&p.args[0], &p.args[1]);
    match (split_container_path(src), split_container_path(dst)) {
        (Some((c, path)), None) => {
            let q = with_query(
                &format!("/containers/{}/archive", path_seg(c)),
                &[("path", path.to_string())],
            );
            let res = ctx.client.send(Method::GET, &q, empty(), &[]).await?;
            if dst == "-" {
                body_to_output(res, None, "the archive").await?;
                return Ok(0);
            }
            let bytes = res.into_body().collect().await?.to_bytes();
            let dst = PathBuf::from(dst);
            tokio::task::spawn_blocking(move || extract(bytes, &dst)).await??;
            Ok(0)
        }
        (None, Some((c, path))) => {
            let q = |dir: &str| {
                let mut q = vec![
                    ("noOverwriteDirNonDir", "true".to_string()),
                    ("path", dir.to_string()),
                ];
                if archive {
                    q.push(("copyUIDGID", "true".to_string()));
                }
                with_query(&format!("/containers/{}/archive", path_seg(c)), &q)
            };
            if src == "-" {
                ctx.client
                    .send(
                        Method::PUT,
                        &q(path),
                        reader_body(tokio::io::stdin()),
                        &[("Content-Type", "application/x-tar")],
                    )
                    .await?;
                return Ok(0);
            }
            let local = PathBuf::from(src);
            let base = local
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or(".")
                .to_string();
            let (dir, name) = match stat(ctx, c, path).await? {
                Some(st) if st.i64_of("mode") & (1 << 31) != 0 => (path.to_string(), base),
                Some(_) => {
                    if local.is_dir() {
                        bail!("cannot copy directory {src} onto the file {c}:{path}");
                    }
                    split_parent(path)
                }
                None => {
                    if path.ends_with('/') {
                        bail!("destination directory {c}:{path} does not exist");
                    }
                    split_parent(path)
                }
            };
            let data = tokio::task::spawn_blocking(move || make_tar(&local, &name)).await??;
            let body = http_body_util::Full::new(Bytes::from(data))
                .map_err(|never| match never {})
                .boxed_unsync();
            ctx.client
                .send(
                    Method::PUT,
                    &q(&dir),
                    body,
                    &[("Content-Type", "application/x-tar")],
                )
                .await?;
            Ok(0)
        }
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
    }
}

fn split_parent(path: &str) -> (String, String) {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some(("", name)) => ("/".to_string(), name.to_string()),
        Some((dir, name)) => (dir.to_string(), name.to_string()),
        None => (".".to_string(), trimmed.to_string()),
    }
}

/// `export`.
pub async fn export(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(
        ctx,
        &[v("output", Some('o'), "Write to a file, instead of STDOUT")],
        rest,
        true,
    )?
    else {
        return Ok(0);
    };
    need_args(&p, 1, true)?;
    let res = ctx
        .client
        .send(
            Method::GET,
            &format!("/containers/{}/export", path_seg(&p.args[0])),
            empty(),
            &[],
        )
        .await?;
    body_to_output(res, p.get("output"), "the container").await?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            split_container_path("tr-d:/etc/passwd"),
            Some(("tr-d", "/etc/passwd"))
        );
        assert_eq!(split_container_path("/tmp/x:y"), None);
        assert_eq!(split_container_path("./a:b"), None);
        assert_eq!(
            split_parent("/tmp/new.txt"),
            ("/tmp".into(), "new.txt".into())
        );
        assert_eq!(split_parent("/x"), ("/".into(), "x".into()));
        let d = Path::new("/out");
        assert_eq!(
            target_for(Path::new("passwd"), d, true),
            Some(PathBuf::from("/out/passwd"))
        );
        assert_eq!(
            target_for(Path::new("etc/passwd"), d, false),
            Some(PathBuf::from("/out/passwd"))
        );
        assert_eq!(target_for(Path::new("../x"), d, true), None);
        let st = b64decode("eyJuYW1lIjoicGFzc3dkIiwic2l6ZSI6MzAsIm1vZGUiOjQyMCwibXRpbWUiOiIyMDI2LTExLTI2VDE0OjA2OjEyWiIsImxpbmtUYXJnZXQiOiIifQ==").expect("b64");
        assert!(String::from_utf8_lossy(&st).starts_with(r#"{"name":"passwd","size":30"#));
    }
}
