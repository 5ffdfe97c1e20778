//! `run`, `create`, `start`, `attach`, `exec`: the commands that create processes and
//! attach to them. The order of requests is docker's (see the traces): create, attach
//! (hijacked), wait registered *before* start (`condition=next-exit`, or `removed` with
//! `--rm`), start, resize; the exit status is the container's.

use anyhow::{anyhow, Context as _};
use hyper::Method;

use super::{image, need_args, parse};
use crate::args::{b, v, Flag, UsageError};
use crate::client::{path_seg, with_query, Client, DaemonError};
use crate::createopts::{self, CreateRequest, CREATE_FLAGS};
use crate::json::J;
use crate::stream::{self, Ended, RawTerminal};
use crate::{Ctx, StatusError};

fn not_a_tty() -> anyhow::Error {
    StatusError {
        code: 1,
        message: "the input device is not a TTY".into(),
    }
    .into()
}

/// Creates the container, pulling the image first if the daemon does not have it (like
/// docker's `--pull missing`). Prints daemon warnings.
async fn create_container(
    ctx: &Ctx,
    req: &CreateRequest,
    pull_policy: &str,
    quiet: bool,
) -> anyhow::Result<String> {
    let path = with_query(
        "/containers/create",
        &req.query
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect::<Vec<_>>(),
    );
    if pull_policy == "always" {
        image::pull(ctx, &req.image, quiet, true).await?;
    }
    let res = match ctx.client.json(Method::POST, &path, Some(&req.body)).await {
        Err(e)
            if pull_policy != "never"
                && e.downcast_ref::<DaemonError>()
                    .is_some_and(|d| d.status == 404 && d.message.contains("image")) =>
        {
            eprintln!(
                "Unable to find image '{}' locally",
                image::normalize_ref(&req.image)
            );
            image::pull(ctx, &req.image, quiet, true).await?;
            ctx.client
                .json(Method::POST, &path, Some(&req.body))
                .await?
        }
        other => other?,
    };
    for w in res.get("Warnings").map(J::items).unwrap_or(&[]) {
        if let Some(w) = w.as_str() {
            eprintln!("WARNING: {w}");
        }
    }
    let id = res.str_of("Id").to_string();
    if id.is_empty() {
        anyhow::bail!("the daemon did not return a container ID");
    }
    Ok(id)
}

/// Starts a container for `run`/`start -a`; a process that cannot be executed exits 127
/// (not found) or 126 (not executable), as docker's `runStartContainerErr` decides.
async fn start_container(ctx: &Ctx, id: &str) -> anyhow::Result<()> {
    match ctx.client.post(&format!("/containers/{id}/start")).await {
        Ok(()) => Ok(()),
        Err(e) => {
            let text = e.to_string();
            let code = if text.contains("executable file not found")
                || text.contains("no such file or directory")
            {
                127
            } else if text.contains("permission denied") || text.contains("is a directory") {
                126
            } else {
                125
            };
            Err(StatusError {
                code,
                message: format!("berth: {text}\n\nRun 'berth run --help' for more information"),
            }
            .into())
        }
    }
}

/// `create`.
pub async fn create(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, CREATE_FLAGS, rest, false)? else {
        return Ok(0);
    };
    need_args(&p, 1, false)?;
    let console = if p.on("tty") {
        stream::term_size()
    } else {
        None
    };
    // docker create records the same attach flags run would use without -d.
    let req = createopts::build(&p, false, console).map_err(|e| UsageError(e.to_string()))?;
    let id = create_container(ctx, &req, p.get("pull").unwrap_or("missing"), p.on("quiet")).await?;
    if let Some(f) = p.get("cidfile") {
        write_cidfile(f, &id)?;
    }
    println!("{id}");
    Ok(0)
}

fn write_cidfile(path: &str, id: &str) -> anyhow::Result<()> {
    if std::path::Path::new(path).exists() {
        anyhow::bail!(
            "container ID file found, make sure the other container isn't running or delete {path}"
        );
    }
    std::fs::write(path, id)
        .with_context(|| format!("failed to create the container ID file {path}"))
}

/// Registers a wait before the container starts: returns once the daemon has answered
/// the request's headers (dockerd does so at once) or after a short grace period, with a
/// task that yields the exit status.
async fn register_wait(
    client: &Client,
    id: &str,
    condition: &str,
) -> tokio::task::JoinHandle<anyhow::Result<J>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let client = client.clone();
    let path = if condition.is_empty() {
        format!("/containers/{id}/wait")
    } else {
        format!("/containers/{id}/wait?condition={condition}")
    };
    let task = tokio::spawn(async move {
        let res = client
            .send(Method::POST, &path, crate::client::empty(), &[])
            .await;
        let _ = tx.send(());
        use http_body_util::BodyExt as _;
        let body = res?.into_body().collect().await?.to_bytes();
        J::parse(&body).map_err(|e| anyhow!("wait: {e}"))
    });
    let _ = tokio::time::timeout(std::time::Duration::from_millis(500), rx).await;
    task
}

/// The exit status from a wait answer (an error message means 125, as docker does).
fn wait_status(w: &J) -> anyhow::Result<i32> {
    let msg = w.get("Error").map(|e| e.str_of("Message")).unwrap_or("");
    if !msg.is_empty() {
        return Err(StatusError {
            code: 125,
            message: format!("berth: {msg}"),
        }
        .into());
    }
    Ok(w.i64_of("StatusCode") as i32)
}

struct Attach {
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
    keys: Vec<u8>,
    sig_proxy: bool,
    detach_keys: Option<String>,
}

/// attach → wait → start → stream → exit status: `run` without `-d` and `start -a`.
async fn attach_and_start(ctx: &Ctx, id: &str, a: &Attach, condition: &str) -> anyhow::Result<i32> {
    let mut q = vec![("stream", "1".to_string())];
    if a.stdin {
        q.push(("stdin", "1".into()));
    }
    if a.stdout {
        q.push(("stdout", "1".into()));
    }
    if a.stderr {
        q.push(("stderr", "1".into()));
    }
    if let Some(k) = &a.detach_keys {
        q.push(("detachKeys", k.clone()));
    }
    let conn = ctx
        .client
        .hijack(&with_query(&format!("/containers/{id}/attach"), &q), None)
        .await?;
    let wait = register_wait(&ctx.client, id, condition).await;
    start_container(ctx, id).await?;
    let raw = (a.tty && a.stdin).then(RawTerminal::enable);
    let resizer = (a.tty && stream::stdout_is_tty())
        .then(|| stream::spawn_resizer(ctx.client.clone(), format!("/containers/{id}/resize")));
    let proxy = (!a.tty && a.sig_proxy)
        .then(|| stream::spawn_sig_proxy(ctx.client.clone(), id.to_string()));
    let ended = stream::session(conn, a.stdin, a.tty, &a.keys).await;
    drop(raw);
    if let Some(r) = resizer {
        r.abort();
    }
    if ended? == Ended::Detached {
        if let Some(p) = proxy {
            p.abort();
        }
        return Ok(0);
    }
    let status = wait.await.map_err(|e| anyhow!("wait: {e}"))??;
    if let Some(p) = proxy {
        p.abort();
    }
    wait_status(&status)
}

/// `run`.
pub async fn run(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, CREATE_FLAGS, rest, false)? else {
        return Ok(0);
    };
    need_args(&p, 1, false)?;
    let detach = p.on("detach");
    let tty = p.on("tty");
    if tty && p.on("interactive") && !detach && !stream::stdin_is_tty() {
        return Err(not_a_tty());
    }
    let keys = stream::detach_keys(p.get("detach-keys").unwrap_or("ctrl-p,ctrl-q"))?;
    let console = if tty { stream::term_size() } else { None };
    let req = createopts::build(&p, detach, console).map_err(|e| UsageError(e.to_string()))?;
    let id = create_container(ctx, &req, p.get("pull").unwrap_or("missing"), p.on("quiet")).await?;
    if let Some(f) = p.get("cidfile") {
        write_cidfile(f, &id)?;
    }
    let condition = if req.auto_remove {
        "removed"
    } else {
        "next-exit"
    };
    let (a_in, a_out, a_err) = req.attach;
    if detach || !(a_in || a_out || a_err) {
        let _wait = register_wait(&ctx.client, &id, condition).await;
        start_container(ctx, &id).await?;
        if detach {
            println!("{id}");
            return Ok(0);
        }
        return wait_status(&_wait.await.map_err(|e| anyhow!("wait: {e}"))??);
    }
    let a = Attach {
        stdin: a_in,
        stdout: a_out,
        stderr: a_err,
        tty,
        keys,
        sig_proxy: !p.has("sig-proxy") || p.on("sig-proxy"),
        detach_keys: p.get("detach-keys").map(str::to_string),
    };
    attach_and_start(ctx, &id, &a, condition).await
}

const START_FLAGS: &[Flag] = &[
    b(
        "attach",
        Some('a'),
        "Attach STDOUT/STDERR and forward signals",
    ),
    v(
        "detach-keys",
        None,
        "Override the key sequence for detaching a container",
    ),
    b("interactive", Some('i'), "Attach container's STDIN"),
];

/// `start`.
pub async fn start(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, START_FLAGS, rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 1, false)?;
    if p.on("attach") || p.on("interactive") {
        if p.args.len() > 1 {
            anyhow::bail!("you cannot start and attach multiple containers at once");
        }
        let c = ctx
            .client
            .get(&format!("/containers/{}/json", path_seg(&p.args[0])))
            .await?;
        let id = c.str_of("Id").to_string();
        let cfg = c.get("Config").cloned().unwrap_or(J::Null);
        let tty = cfg.get("Tty").and_then(J::as_bool).unwrap_or(false);
        let stdin =
            p.on("interactive") && cfg.get("OpenStdin").and_then(J::as_bool).unwrap_or(false);
        if tty && stdin && !stream::stdin_is_tty() {
            return Err(not_a_tty());
        }
        let auto_remove = c
            .path(&["HostConfig", "AutoRemove"])
            .and_then(J::as_bool)
            .unwrap_or(false);
        let a = Attach {
            stdin,
            stdout: true,
            stderr: true,
            tty,
            keys: stream::detach_keys(p.get("detach-keys").unwrap_or("ctrl-p,ctrl-q"))?,
            sig_proxy: true,
            detach_keys: p.get("detach-keys").map(str::to_string),
        };
        return attach_and_start(
            ctx,
            &id,
            &a,
            if auto_remove { "removed" } else { "next-exit" },
        )
        .await;
    }
    let mut failed = Vec::new();
    for name in &p.args {
        match ctx
            .client
            .post(&format!("/containers/{}/start", path_seg(name)))
            .await
        {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("{e}");
                failed.push(name.clone());
            }
        }
    }
    if failed.is_empty() {
        Ok(0)
    } else {
        Err(StatusError {
            code: 1,
            message: format!("Error: failed to start containers: {}", failed.join(", ")),
        }
        .into())
    }
}

const ATTACH_FLAGS: &[Flag] = &[
    v(
        "detach-keys",
        None,
        "Override the key sequence for detaching a container",
    ),
    b("no-stdin", None, "Do not attach STDIN"),
    b(
        "sig-proxy",
        None,
        "Proxy all received signals to the process (default true)",
    ),
];

/// `attach`.
pub async fn attach(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, ATTACH_FLAGS, rest, true)? else {
        return Ok(0);
    };
    need_args(&p, 1, true)?;
    // Like docker, the wait for the exit status is registered before anything else.
    let wait = register_wait(&ctx.client, &path_seg(&p.args[0]), "").await;
    let c = ctx
        .client
        .get(&format!("/containers/{}/json", path_seg(&p.args[0])))
        .await?;
    let id = c.str_of("Id").to_string();
    let state = c.get("State").cloned().unwrap_or(J::Null);
    if !state.get("Running").and_then(J::as_bool).unwrap_or(false) {
        return Err(StatusError {
            code: 1,
            message: "You cannot attach to a stopped container, start it first".into(),
        }
        .into());
    }
    if state.get("Paused").and_then(J::as_bool).unwrap_or(false) {
        return Err(StatusError {
            code: 1,
            message: "You cannot attach to a paused container, unpause it first".into(),
        }
        .into());
    }
    let tty = c
        .path(&["Config", "Tty"])
        .and_then(J::as_bool)
        .unwrap_or(false);
    let stdin = !p.on("no-stdin")
        && c.path(&["Config", "OpenStdin"])
            .and_then(J::as_bool)
            .unwrap_or(false);
    if tty && stdin && !stream::stdin_is_tty() {
        return Err(not_a_tty());
    }
    let keys = stream::detach_keys(p.get("detach-keys").unwrap_or("ctrl-p,ctrl-q"))?;
    let mut q = vec![
        ("stream", "1".to_string()),
        ("stdout", "1".into()),
        ("stderr", "1".into()),
    ];
    if stdin {
        q.push(("stdin", "1".into()));
    }
    if let Some(k) = p.get("detach-keys") {
        q.push(("detachKeys", k.to_string()));
    }
    let conn = ctx
        .client
        .hijack(&with_query(&format!("/containers/{id}/attach"), &q), None)
        .await?;
    let raw = (tty && stdin).then(RawTerminal::enable);
    if tty && stream::stdout_is_tty() {
        // Like docker: resize to a wrong size first so the shell redraws its prompt
        // when it gets the real one.
        if let Some((h, w)) = stream::term_size() {
            let path = format!("/containers/{id}/resize?h={}&w={}", h + 1, w + 1);
            let _ = ctx.client.post(&path).await;
        }
    }
    let resizer = (tty && stream::stdout_is_tty())
        .then(|| stream::spawn_resizer(ctx.client.clone(), format!("/containers/{id}/resize")));
    let sig_proxy = !p.has("sig-proxy") || p.on("sig-proxy");
    let proxy =
        (!tty && sig_proxy).then(|| stream::spawn_sig_proxy(ctx.client.clone(), id.clone()));
    let ended = stream::session(conn, stdin, tty, &keys).await;
    drop(raw);
    for t in [resizer, proxy].into_iter().flatten() {
        t.abort();
    }
    if ended? == Ended::Detached {
        return Ok(0);
    }
    let w = wait.await.map_err(|e| anyhow!("wait: {e}"))??;
    wait_status(&w)
}

const EXEC_FLAGS: &[Flag] = &[
    b(
        "detach",
        Some('d'),
        "Detached mode: run command in the background",
    ),
    v(
        "detach-keys",
        None,
        "Override the key sequence for detaching a container",
    ),
    v("env", Some('e'), "Set environment variables"),
    v("env-file", None, "Read in a file of environment variables"),
    b(
        "interactive",
        Some('i'),
        "Keep STDIN open even if not attached",
    ),
    b(
        "privileged",
        None,
        "Give extended privileges to the command",
    ),
    b("tty", Some('t'), "Allocate a pseudo-TTY"),
    v(
        "user",
        Some('u'),
        "Username or UID (format: \"<name|uid>[:<group|gid>]\")",
    ),
    v(
        "workdir",
        Some('w'),
        "Working directory inside the container",
    ),
];

/// `exec`.
pub async fn exec(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, EXEC_FLAGS, rest, false)? else {
        return Ok(0);
    };
    need_args(&p, 2, false)?;
    let name = &p.args[0];
    let cmd = p.args[1..].to_vec();
    let tty = p.on("tty");
    let detach = p.on("detach");
    let interactive = p.on("interactive") && !detach;
    if tty && interactive && !stream::stdin_is_tty() {
        return Err(not_a_tty());
    }
    ctx.client
        .get(&format!("/containers/{}/json", path_seg(name)))
        .await?;
    let mut env = Vec::new();
    for f in p.all("env-file") {
        env.extend(createopts::read_env_file(f)?);
    }
    for e in p.all("env") {
        if e.contains('=') {
            env.push(e.clone());
        } else if let Ok(val) = std::env::var(e) {
            env.push(format!("{e}={val}"));
        }
    }
    let body = J::obj([
        ("User", J::s(p.str("user"))),
        ("Privileged", J::Bool(p.on("privileged"))),
        ("Tty", J::Bool(tty)),
        ("AttachStdin", J::Bool(interactive)),
        ("AttachStderr", J::Bool(!detach)),
        ("AttachStdout", J::Bool(!detach)),
        ("Detach", J::Bool(detach)),
        ("DetachKeys", J::s(p.str("detach-keys"))),
        ("Env", J::str_list_or_null(&env)),
        ("WorkingDir", J::s(p.str("workdir"))),
        ("Cmd", J::str_list(&cmd)),
    ]);
    let created = ctx
        .client
        .json(
            Method::POST,
            &format!("/containers/{}/exec", path_seg(name)),
            Some(&body),
        )
        .await?;
    let exec_id = created.str_of("Id").to_string();
    let start_body = J::obj([("Detach", J::Bool(detach)), ("Tty", J::Bool(tty))]);
    if detach {
        ctx.client
            .json(
                Method::POST,
                &format!("/exec/{exec_id}/start"),
                Some(&start_body),
            )
            .await?;
        return Ok(0);
    }
    let keys = stream::detach_keys(p.get("detach-keys").unwrap_or("ctrl-p,ctrl-q"))?;
    let conn = ctx
        .client
        .hijack(&format!("/exec/{exec_id}/start"), Some(&start_body))
        .await?;
    let raw = (tty && interactive).then(RawTerminal::enable);
    let resizer = (tty && stream::stdout_is_tty())
        .then(|| stream::spawn_resizer(ctx.client.clone(), format!("/exec/{exec_id}/resize")));
    let ended = stream::session(conn, interactive, tty, &keys).await;
    drop(raw);
    if let Some(r) = resizer {
        r.abort();
    }
    if ended? == Ended::Detached {
        return Ok(0);
    }
    let info = ctx.client.get(&format!("/exec/{exec_id}/json")).await?;
    Ok(info.i64_of("ExitCode") as i32)
}
