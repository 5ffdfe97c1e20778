//! The router against a fake engine: in-process requests (`oneshot`) for routing, errors and
//! decoding; a real unix socket for what depends on the connection (headers-first wait,
//! hijack); the stock docker CLI for wire compatibility.

mod fake;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use berth_api::{router, serve, Listener};
use fake::{Fake, ID};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tower::ServiceExt;

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn call(
    fake: &Arc<Fake>,
    method: &str,
    uri: &str,
    body: &str,
) -> Result<(StatusCode, axum::http::HeaderMap, Vec<u8>), Box<dyn std::error::Error>> {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))?;
    let resp = router(fake.clone()).oneshot(req).await?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await?.to_bytes().to_vec();
    Ok((status, headers, bytes))
}

fn message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("<not an error body: {}>", String::from_utf8_lossy(body)))
}

#[tokio::test]
async fn ping_and_version_negotiation() -> TestResult {
    let fake = Fake::new();
    let (status, h, body) = call(&fake, "HEAD", "/_ping", "").await?;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());
    assert_eq!(h["api-version"], "1.47");
    assert_eq!(h["ostype"], "linux");
    assert_eq!(h["docker-experimental"], "false");
    assert_eq!(h["cache-control"], "no-cache, no-store, must-revalidate");
    assert_eq!(h["pragma"], "no-cache");
    assert_eq!(h["builder-version"], "1");
    assert_eq!(h["server"], "Docker/28.0.0-fake (linux)");
    let (_, _, body) = call(&fake, "GET", "/v1.41/_ping", "").await?;
    assert_eq!(body, b"OK");

    let (status, h, body) = call(&fake, "GET", "/v1.50/version", "").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(
        message(&body),
        "client version 1.50 is too new. Maximum supported API version is 1.47"
    );
    let (status, _, body) = call(&fake, "GET", "/v1.12/version", "").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("too old"), "{}", message(&body));

    for uri in ["/v1.41/version", "/version", "/v1.47/version"] {
        let (status, h, body) = call(&fake, "GET", uri, "").await?;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(h["server"], "Docker/28.0.0-fake (linux)");
        let v: serde_json::Value = serde_json::from_slice(&body)?;
        assert_eq!(v["ApiVersion"], "1.47");
        assert_eq!(
            body.last(),
            Some(&b'\n'),
            "Go's encoder ends JSON with a newline"
        );
    }
    Ok(())
}

#[tokio::test]
async fn error_shapes_and_codes() -> TestResult {
    let fake = Fake::new();
    let (status, _, body) = call(&fake, "GET", "/v1.41/containers/nope/json", "").await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(message(&body), "No such container: nope");

    let (status, _, body) = call(&fake, "POST", "/containers/web/start", "").await?;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty(), "304 has no body");

    let (status, _, body) = call(&fake, "POST", "/containers/create?name=web", "{}").await?;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(message(&body), "name web in use");

    let (status, _, body) = call(&fake, "GET", "/system/df", "").await?;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(message(&body), "df failed on purpose");

    let (status, _, body) = call(&fake, "GET", "/v1.41/no/such/route", "").await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(message(&body), "page not found");
    let (status, _, body) = call(&fake, "PUT", "/containers/json", "").await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(message(&body), "page not found");

    let (status, _, body) = call(&fake, "POST", "/v1.41/build?t=x", "").await?;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert!(
        message(&body).contains("building images"),
        "{}",
        message(&body)
    );
    let (status, _, body) = call(&fake, "GET", "/swarm", "").await?;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert!(message(&body).contains("swarm"));

    let (status, _, body) = call(&fake, "GET", "/containers/json?all=maybe", "").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        message(&body),
        "invalid value for \"all\": \"maybe\" is not a boolean"
    );
    let (status, _, body) = call(&fake, "POST", "/containers/web/stop?t=soon", "").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("\"t\""), "{}", message(&body));

    let bad = r#"{"Image":"busybox","HostConfig":{"Memory":"lots"}}"#;
    let (status, _, body) = call(&fake, "POST", "/containers/create", bad).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message(&body).contains("HostConfig.Memory"),
        "names the field: {}",
        message(&body)
    );
    let (status, _, body) = call(&fake, "POST", "/containers/create", "{not json").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).starts_with("invalid JSON"));
    let (status, _, body) = call(&fake, "POST", "/containers/web/wait?condition=soon", "").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("condition"));
    Ok(())
}

/// The body docker CLI 28 sends for `docker run --rm busybox echo hi` (trace 05), with the
/// 1.44+ fields a 1.41 daemon does not know and `null`s where Go has nil slices.
const CREATE_BODY: &str = r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["echo","hi"],"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":true,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null,"KernelMemory":0},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}"#;

#[tokio::test]
async fn create_accepts_the_cli_body() -> TestResult {
    let fake = Fake::new();
    let (status, h, body) = call(&fake, "POST", "/v1.41/containers/create", CREATE_BODY).await?;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(h["content-type"], "application/json");
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    assert_eq!(v["Id"], ID);
    assert_eq!(v["Warnings"], serde_json::json!([]));
    Ok(())
}

#[tokio::test]
async fn filters_reach_the_engine_in_both_forms() -> TestResult {
    let fake = Fake::new();
    for raw in [
        r#"{"status":["exited"],"label":["a=b"]}"#,
        r#"{"status":{"exited":true},"label":{"a=b":true}}"#,
    ] {
        let uri = format!(
            "/containers/json?all=1&filters={}",
            raw.replace('"', "%22")
                .replace('{', "%7B")
                .replace('}', "%7D")
        );
        let (status, _, _) = call(&fake, "GET", &uri, "").await?;
        assert_eq!(status, StatusCode::OK);
        let seen = fake.last_filters.lock().map(|f| f.clone()).unwrap_or(None);
        let seen = seen.ok_or("no filters seen")?;
        assert_eq!(seen["status"], vec!["exited"]);
        assert_eq!(seen["label"], vec!["a=b"]);
    }
    let (status, _, body) = call(&fake, "GET", "/containers/json?filters=%7Bx", "").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        message(&body).starts_with("invalid filter"),
        "{}",
        message(&body)
    );
    Ok(())
}

#[tokio::test]
async fn logs_framing_timestamps_and_options() -> TestResult {
    let fake = Fake::new();
    let (status, h, body) = call(
        &fake,
        "GET",
        "/v1.41/containers/web/logs?stdout=1&stderr=1&tail=all",
        "",
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert!(h.get("content-type").is_none(), "no Content-Type at 1.41");
    assert_eq!(
        body,
        b"\x01\0\0\0\0\0\0\x05out1\n\x02\0\0\0\0\0\0\x05err1\n\x01\0\0\0\0\0\0\x05out2\n"
    );
    let (_, h, body) = call(
        &fake,
        "GET",
        "/containers/web/logs?stdout=1&timestamps=1&since=1714557600.5&until=1714557601&tail=2",
        "",
    )
    .await?;
    assert_eq!(
        h["content-type"],
        "application/vnd.docker.multiplexed-stream"
    );
    let first = b"\x01\0\0\0\0\0\0\x242024-05-01T10:00:00.000000001Z out1\n";
    assert_eq!(&body[..first.len()], first);
    let opts = fake.last_logs.lock().map(|o| o.clone()).unwrap_or(None);
    let opts = opts.ok_or("no logs call")?;
    assert_eq!(opts.since, Some(1714557600.5));
    assert_eq!(opts.until, Some(1714557601.0));
    assert_eq!(opts.tail, Some(2));
    assert!(opts.stdout && !opts.stderr && !opts.follow);

    let (status, _, body) = call(&fake, "GET", "/containers/web/logs", "").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("at least one stream"));
    let (status, _, _) = call(&fake, "GET", "/containers/web/logs?stdout=1&since=x", "").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    Ok(())
}

#[tokio::test]
async fn images_with_slashes_and_archive_stat() -> TestResult {
    let fake = Fake::new();
    let (status, _, body) = call(&fake, "GET", "/images/127.0.0.1:5000/a/b:1/json", "").await?;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&body)?;
    assert_eq!(v["Id"], "sha256:127.0.0.1:5000/a/b:1");
    let (status, _, body) = call(&fake, "DELETE", "/images/127.0.0.1:5000/a/b:1", "").await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body)?,
        serde_json::json!([{"Untagged": "127.0.0.1:5000/a/b:1"}])
    );
    let (status, _, _) = call(&fake, "POST", "/images/x/tag?repo=y&tag=z", "").await?;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, _) = call(&fake, "POST", "/images/x/push", "").await?;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);

    let (status, h, body) = call(
        &fake,
        "HEAD",
        "/containers/web/archive?path=%2Fetc%2Fpasswd",
        "",
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());
    assert_eq!(
        h["x-docker-container-path-stat"],
        "eyJuYW1lIjoicGFzc3dkIiwic2l6ZSI6MzAsIm1vZGUiOjQyMCwibXRpbWUiOiIyMDI2LTExLTI2VDE0OjA2OjEyWiIsImxpbmtUYXJnZXQiOiIifQ=="
    );
    let (status, h, body) =
        call(&fake, "GET", "/containers/web/archive?path=/etc/passwd", "").await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["content-type"], "application/x-tar");
    assert_eq!(body, b"tar-bytes");
    let (status, _, _) = call(
        &fake,
        "PUT",
        "/containers/web/archive?path=/tmp",
        "some tar",
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = call(&fake, "GET", "/containers/web/archive", "").await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("\"path\""));

    let (status, h, body) = call(
        &fake,
        "POST",
        "/images/create?fromImage=busybox&tag=latest",
        "",
    )
    .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["content-type"], "application/json");
    let text = String::from_utf8(body)?;
    assert_eq!(
        text,
        "{\"status\":\"Pulling from busybox\"}\r\n{\"error\":\"registry unreachable\",\"errorDetail\":{\"message\":\"registry unreachable\"}}\r\n"
    );
    Ok(())
}

// ---- over a real socket --------------------------------------------------------------

struct Server {
    _dir: tempfile::TempDir,
    sock: PathBuf,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn start(fake: Arc<Fake>) -> Result<Server, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let sock = dir.path().join("api.sock");
    let listener = tokio::net::UnixListener::bind(&sock)?;
    let task = tokio::spawn(serve(
        router(fake),
        vec![Listener::Unix(listener)],
        std::future::pending(),
    ));
    Ok(Server {
        _dir: dir,
        sock,
        task,
    })
}

/// Reads until `needle` has been seen (or fails after 5 s).
async fn read_until(
    s: &mut (impl AsyncReadExt + Unpin),
    buf: &mut Vec<u8>,
    needle: &[u8],
) -> TestResult {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !buf.windows(needle.len()).any(|w| w == needle) {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline, s.read(&mut chunk))
            .await
            .map_err(|_| {
                format!(
                    "timed out waiting for {:?}; got {:?}",
                    String::from_utf8_lossy(needle),
                    String::from_utf8_lossy(buf)
                )
            })??;
        if n == 0 {
            return Err(format!(
                "EOF before {:?}; got {:?}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(buf)
            )
            .into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

#[tokio::test]
async fn wait_sends_headers_before_the_exit() -> TestResult {
    let fake = Fake::new();
    let (release, gate) = tokio::sync::oneshot::channel();
    if let Ok(mut g) = fake.wait_gate.lock() {
        *g = Some(gate);
    }
    let server = start(fake)?;
    let mut s = UnixStream::connect(&server.sock).await?;
    s.write_all(b"POST /v1.41/containers/web/wait?condition=next-exit HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").await?;
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, b"\r\n\r\n").await?;
    let head = String::from_utf8_lossy(&buf).to_string();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
    assert!(
        head.contains("Api-Version: 1.47\r\n"),
        "title-case headers: {head}"
    );
    assert!(!head.contains("StatusCode"), "body before the exit: {head}");
    release.send(3).map_err(|_| "wait dropped")?;
    read_until(&mut s, &mut buf, b"0\r\n\r\n").await?;
    let text = String::from_utf8_lossy(&buf).to_string();
    assert!(
        text.to_ascii_lowercase()
            .ends_with("\r\n\r\n1e\r\n{\"error\":null,\"statuscode\":3}\n\r\n0\r\n\r\n"),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn attach_and_exec_hijack_round_trip() -> TestResult {
    let fake = Arc::new(Fake::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    if let Ok(mut h) = fake.hijacks.lock() {
        *h = Some(tx);
    }
    let server = start(fake)?;

    // attach, non-TTY at 1.41: raw-stream content type, 8-byte frames from the engine.
    let mut s = UnixStream::connect(&server.sock).await?;
    s.write_all(b"POST /v1.41/containers/web/attach?stderr=1&stdin=1&stdout=1&stream=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: Upgrade\r\nContent-Type: text/plain\r\nUpgrade: tcp\r\n\r\n").await?;
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, b"\r\n\r\n").await?;
    let head = String::from_utf8_lossy(&buf).to_string();
    assert!(head.starts_with("HTTP/1.1 101 UPGRADED\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: application/vnd.docker.raw-stream\r\n"),
        "{head}"
    );
    assert!(
        head.contains("Connection: Upgrade\r\n") && head.contains("Upgrade: tcp\r\n"),
        "{head}"
    );
    let mut process = rx.recv().await.ok_or("no hijack handed out")?;

    s.write_all(b"echo hi\n").await?;
    let mut stdin = [0u8; 8];
    process.read_exact(&mut stdin).await?;
    assert_eq!(&stdin, b"echo hi\n");
    process.write_all(b"\x01\0\0\0\0\0\0\x03hi\n").await?;
    let mut frame = [0u8; 11];
    s.read_exact(&mut frame).await?;
    assert_eq!(&frame, b"\x01\0\0\0\0\0\0\x03hi\n");

    // The client's half-close is the process's stdin EOF; output still flows after it.
    s.shutdown().await?;
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), process.read_to_end(&mut rest)).await??;
    assert!(rest.is_empty());
    process.write_all(b"\x02\0\0\0\0\0\0\x04bye\n").await?;
    drop(process);
    let mut tail = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut tail)).await??;
    assert_eq!(tail, b"\x02\0\0\0\0\0\0\x04bye\n", "output then close");

    // exec start with Tty in the body: raw stream at 1.47 too.
    let mut s = UnixStream::connect(&server.sock).await?;
    let body = r#"{"Detach":false,"Tty":true}"#;
    s.write_all(format!("POST /exec/e1/start HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: Upgrade\r\nContent-Type: application/json\r\nUpgrade: tcp\r\n\r\n{body}", body.len()).as_bytes()).await?;
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, b"\r\n\r\n").await?;
    let head = String::from_utf8_lossy(&buf).to_string();
    assert!(head.starts_with("HTTP/1.1 101 UPGRADED\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: application/vnd.docker.raw-stream\r\n"),
        "{head}"
    );
    let mut process = rx.recv().await.ok_or("no exec hijack")?;
    process.write_all(b"/ # ").await?;
    drop(process);
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await??;
    assert_eq!(
        out, b"/ # ",
        "the server closes when the process is done, stdin still open"
    );

    // Without Tty, at 1.47 the content type names the multiplexing.
    let mut s = UnixStream::connect(&server.sock).await?;
    let body = r#"{"Detach":false,"Tty":false}"#;
    s.write_all(format!("POST /v1.47/exec/e1/start HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n{body}", body.len()).as_bytes()).await?;
    let mut buf = Vec::new();
    read_until(&mut s, &mut buf, b"\r\n\r\n").await?;
    assert!(String::from_utf8_lossy(&buf).contains("application/vnd.docker.multiplexed-stream"));
    drop(rx.recv().await);
    Ok(())
}

// ---- the stock docker CLI ------------------------------------------------------------

const DOCKER: &str = "/usr/local/bin/docker";

async fn docker(
    sock: &Path,
    args: &[&str],
) -> Result<(i32, String, String), Box<dyn std::error::Error>> {
    let out = tokio::process::Command::new(DOCKER)
        .arg("-H")
        .arg(format!("unix://{}", sock.display()))
        .args(args)
        .env("DOCKER_CONFIG", sock.parent().ok_or("no parent")?)
        .env_remove("DOCKER_API_VERSION")
        .env_remove("DOCKER_HOST")
        .output()
        .await?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[tokio::test]
async fn docker_cli_speaks_to_the_router() -> TestResult {
    if !Path::new(DOCKER).exists() {
        eprintln!("skipped: {DOCKER} is not installed");
        return Ok(());
    }
    let server = start(Fake::new())?;
    let sock = server.sock.clone();

    let (code, out, err) = docker(&sock, &["version"]).await?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("API version:       1.47 (downgraded from"),
        "{out}"
    );
    assert!(out.contains("28.0.0-fake"), "{out}");

    let (code, out, err) = docker(&sock, &["ps", "-a"]).await?;
    assert_eq!(code, 0, "{out}{err}");
    let line = out
        .lines()
        .nth(1)
        .ok_or(format!("no container row: {out}"))?;
    assert!(line.starts_with("abc123456789"), "{line}");
    assert!(
        line.contains("busybox") && line.contains("Exited (3)") && line.ends_with("web"),
        "{line}"
    );

    let (code, out, err) = docker(&sock, &["inspect", "web"]).await?;
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out)?;
    assert_eq!(v[0]["Id"], ID);
    assert_eq!(v[0]["State"]["ExitCode"], 3);

    let (code, out, err) = docker(&sock, &["logs", "web"]).await?;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "out1\nout2\n");
    assert_eq!(err, "err1\n");

    let (code, out, err) = docker(&sock, &["logs", "-t", "--tail", "1", "web"]).await?;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("2024-05-01T10:00:00.000000001Z out1"),
        "{out}"
    );

    let (code, out, err) = docker(&sock, &["inspect", "ghost"]).await?;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("No such object: ghost") || err.contains("ghost"),
        "{err}"
    );

    let (code, _, err) = docker(&sock, &["start", "nope"]).await?;
    assert_ne!(code, 0);
    assert!(err.contains("No such container: nope"), "{err}");
    Ok(())
}
