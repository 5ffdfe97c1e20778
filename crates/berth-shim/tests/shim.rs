//! End-to-end tests of `berth-shim` driving the real `berth-runtime` on busybox bundles,
//! through the engine's client: what a user of `docker run/attach/exec/logs/wait` sees.
//!
//! Needs root and the runtime binary next to the shim's (`cargo build -p
//! berth-runtime-cli` with the same target dir). Each test runs in its own mount+network
//! namespace (`isolated!`) and kills and deletes its container on drop.

use berth_shim::client::{launch, Error, LaunchOptions, Launched, ShimClient};
use berth_shim::protocol::{AttachRequest, ExecRequest};
use berth_testutil::{busybox_bundle, isolated, unique_id, Bundle};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

const SHIM: &str = env!("CARGO_BIN_EXE_berth-shim");

fn runtime_bin() -> PathBuf {
    let p = Path::new(SHIM).with_file_name("berth-runtime");
    assert!(
        p.exists(),
        "{} is missing: build it first with `cargo build -p berth-runtime-cli` (same CARGO_TARGET_DIR)",
        p.display()
    );
    p
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio")
}

/// One container under a shim, with its directories; killed and deleted on drop.
struct Env {
    dir: tempfile::TempDir,
    bundle: Bundle,
    id: String,
    opts: LaunchOptions,
}

impl Env {
    fn new(bundle: Bundle) -> Env {
        let dir = tempfile::tempdir().expect("tmp");
        let id = unique_id("shim");
        bundle.write();
        let opts = LaunchOptions {
            id: id.clone(),
            bundle: bundle.path().to_path_buf(),
            state_dir: dir.path().join("state"),
            runtime: runtime_bin(),
            runtime_root: dir.path().join("runtime"),
            log_path: dir.path().join("state").join("c-json.log"),
            ..Default::default()
        };
        Env {
            dir,
            bundle,
            id,
            opts,
        }
    }

    fn client(&self) -> ShimClient {
        ShimClient::new(&self.opts.state_dir)
    }

    async fn launch(&self) -> Launched {
        launch(Path::new(SHIM), &self.opts).await.expect("launch")
    }

    fn state(&self, f: &str) -> PathBuf {
        self.opts.state_dir.join(f)
    }

    /// (log, stream) of every json-file record, checking each record's shape.
    fn log(&self) -> Vec<(String, String)> {
        read_log(&self.opts.log_path)
    }

    fn runtime_knows(&self) -> bool {
        self.opts.runtime_root.join(&self.id).exists()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::process::Command::new(&self.opts.runtime)
            .arg("--root")
            .arg(&self.opts.runtime_root)
            .args(["delete", "--force", &self.id])
            .stderr(std::process::Stdio::null())
            .status();
        if let Ok(pid) = std::fs::read_to_string(self.state("shim.pid")) {
            if let Ok(pid) = pid.trim().parse::<i32>() {
                if !gone_within(pid, Duration::from_secs(3)) {
                    let _ = std::process::Command::new("kill")
                        .args(["-9", &pid.to_string()])
                        .status();
                }
            }
        }
        let _ = &self.dir;
        let _ = &self.bundle;
    }
}

fn read_log(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("record is JSON");
            let obj = v.as_object().expect("record is an object");
            assert_eq!(obj.len(), 3, "log, stream, time: {l}");
            let time = v["time"].as_str().expect("time");
            assert!(
                time.len() >= 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
                "RFC 3339 UTC time: {time}"
            );
            (
                v["log"].as_str().expect("log").to_string(),
                v["stream"].as_str().expect("stream").to_string(),
            )
        })
        .collect()
}

fn alive(pid: i32) -> bool {
    // A zombie still has a /proc entry; it is not alive for us.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z'))
        })
        .unwrap_or(false)
}

fn gone_within(pid: i32, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !alive(pid)
}

/// Reads a stream until EOF (bounded).
async fn read_all(conn: &mut UnixStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), conn.read_to_end(&mut out))
        .await
        .expect("stream ended in time")
        .expect("read stream");
    out
}

/// Reads until `needle` appeared (bounded); returns everything read.
async fn read_until(conn: &mut UnixStream, needle: &str) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&out).contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, conn.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{needle:?} never came; got {:?}",
                    String::from_utf8_lossy(&out)
                )
            })
            .expect("read");
        assert!(
            n > 0,
            "EOF before {needle:?}: {:?}",
            String::from_utf8_lossy(&out)
        );
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `wait`, bounded so that a container that does not end fails the test.
async fn wait_exit(c: &ShimClient) -> berth_shim::protocol::ExitInfo {
    tokio::time::timeout(Duration::from_secs(20), c.wait())
        .await
        .expect("the container exited in time")
        .expect("wait")
}

/// Docker's multiplexed stream → (stdout, stderr).
fn demux(mut b: &[u8]) -> (String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    while !b.is_empty() {
        assert!(b.len() >= 8, "truncated frame header: {b:?}");
        assert_eq!(&b[1..4], &[0, 0, 0], "frame header padding");
        let n = u32::from_be_bytes([b[4], b[5], b[6], b[7]]) as usize;
        let payload = &b[8..8 + n];
        match b[0] {
            1 => out.extend_from_slice(payload),
            2 => err.extend_from_slice(payload),
            s => panic!("unknown stream {s}"),
        }
        b = &b[8 + n..];
    }
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

/// After the container exited: the shim is gone, and so are its socket, its PID file and
/// the runtime's state.
fn assert_cleaned_up(env: &Env, shim_pid: i32) {
    assert!(
        gone_within(shim_pid, Duration::from_secs(5)),
        "the shim exits after its container"
    );
    assert!(!env.state("shim.sock").exists(), "shim.sock removed");
    assert!(!env.state("shim.pid").exists(), "shim.pid removed");
    assert!(!env.runtime_knows(), "berth-runtime delete ran");
    // The runtime's default cgroup is /berth/<id> in every hierarchy.
    let cgroups: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .expect("/sys/fs/cgroup")
        .flatten()
        .map(|h| h.path().join("berth").join(&env.id))
        .chain([Path::new("/sys/fs/cgroup/berth").join(&env.id)])
        .filter(|p| p.exists())
        .collect();
    assert!(cgroups.is_empty(), "cgroup removed: {cgroups:?}");
    let left: Vec<_> = std::fs::read_dir(&env.opts.state_dir)
        .expect("state dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "exit.json" && n != "shim.log" && !n.starts_with("c-json.log"))
        .collect();
    assert!(
        left.is_empty(),
        "nothing else left in the state dir: {left:?}"
    );
}

#[test]
fn logs_exit_code_and_cleanup() {
    if !isolated!() {
        return;
    }
    let env = Env::new(busybox_bundle(&[
        "sh",
        "-c",
        "echo out; echo err >&2; printf 'no newline'; exit 3",
    ]));
    rt().block_on(async {
        let l = env.launch().await;
        assert!(l.pid > 0 && l.shim_pid > 0);
        let exit = wait_exit(&env.client()).await;
        assert_eq!(exit.exit_code, 3);
        assert!(!exit.oom_killed);
        let file: berth_shim::protocol::ExitInfo =
            serde_json::from_slice(&std::fs::read(env.state("exit.json")).expect("exit.json"))
                .expect("exit.json parses");
        assert_eq!(file, exit);
        let log = env.log();
        let mut out: Vec<_> = log.iter().filter(|(_, s)| s == "stdout").collect();
        out.sort();
        assert_eq!(
            out,
            [
                &("no newline".to_string(), "stdout".to_string()),
                &("out\n".to_string(), "stdout".to_string())
            ]
        );
        assert!(log.contains(&("err\n".into(), "stderr".into())));
        assert_cleaned_up(&env, l.shim_pid);
    });
}

#[test]
fn attach_before_start_gets_framed_output_and_feeds_stdin() {
    if !isolated!() {
        return;
    }
    let mut env = Env::new(busybox_bundle(&["sh", "-c", "cat; echo done >&2; exit 0"]));
    env.opts.stdin = true;
    env.opts.stdin_once = true;
    env.opts.wait_start = true;
    // What a previous run of the same container left.
    std::fs::create_dir_all(&env.opts.state_dir).expect("state dir");
    std::fs::write(
        env.state("exit.json"),
        r#"{"exit_code":9,"oom_killed":false,"finished_at":"x"}"#,
    )
    .expect("old exit.json");
    rt().block_on(async {
        let l = env.launch().await;
        let c = env.client();
        assert!(
            !env.state("exit.json").exists(),
            "the last run's exit is removed"
        );
        let st = c.state().await.expect("state");
        assert!(!st.started && !st.running);
        let mut stream = c
            .attach(AttachRequest {
                stdin: true,
                stdout: true,
                stderr: true,
                detach_keys: None,
            })
            .await
            .expect("attach");
        // A second attacher sees the same output.
        let mut watcher = c
            .attach(AttachRequest {
                stdin: false,
                stdout: true,
                stderr: false,
                detach_keys: None,
            })
            .await
            .expect("attach 2");
        c.start().await.expect("start");
        assert!(c.state().await.expect("state").running);
        stream.write_all(b"hello\nworld\n").await.expect("write");
        // Half-close: with --stdin-once the container's stdin closes and cat ends.
        stream.shutdown().await.expect("shutdown");
        let (out, err) = demux(&read_all(&mut stream).await);
        assert_eq!(out, "hello\nworld\n");
        assert_eq!(err, "done\n");
        let (out2, err2) = demux(&read_all(&mut watcher).await);
        assert_eq!((out2.as_str(), err2.as_str()), ("hello\nworld\n", ""));
        assert_eq!(wait_exit(&c).await.exit_code, 0);
        assert_eq!(
            env.log(),
            [
                ("hello\n".to_string(), "stdout".to_string()),
                ("world\n".to_string(), "stdout".to_string()),
                ("done\n".to_string(), "stderr".to_string())
            ]
        );
        assert_cleaned_up(&env, l.shim_pid);
    });
}

#[test]
fn stdin_stays_open_across_attaches_without_stdin_once() {
    if !isolated!() {
        return;
    }
    let mut env = Env::new(busybox_bundle(&[
        "sh",
        "-c",
        "read a; echo got-$a; read b; echo got-$b",
    ]));
    env.opts.stdin = true;
    rt().block_on(async {
        let l = env.launch().await;
        let c = env.client();
        let attach = || {
            c.attach(AttachRequest {
                stdin: true,
                stdout: true,
                stderr: true,
                detach_keys: None,
            })
        };
        let mut first = attach().await.expect("attach");
        first.write_all(b"one\n").await.expect("write");
        read_until(&mut first, "got-one").await;
        // Hanging up entirely: without --stdin-once the container's stdin stays open.
        drop(first);
        let mut second = attach().await.expect("attach again");
        second.write_all(b"two\n").await.expect("write");
        let (out, _) = demux(&read_all(&mut second).await);
        assert_eq!(out, "got-two\n");
        assert_eq!(wait_exit(&c).await.exit_code, 0);
        assert_cleaned_up(&env, l.shim_pid);
    });
}

/// A state directory under a long data root: `shim.sock`'s path does not fit in
/// `sun_path` (108 bytes), and the client still reaches it, through the directory's
/// descriptor, for every request.
#[test]
fn a_socket_path_longer_than_sun_path_is_reached() {
    if !isolated!() {
        return;
    }
    let mut env = Env::new(busybox_bundle(&["sh", "-c", "read x; echo got $x; exit 4"]));
    let long = env.dir.path().join("d".repeat(60)).join("e".repeat(60));
    env.opts.state_dir = long.join("state");
    env.opts.log_path = long.join("state").join("c-json.log");
    env.opts.stdin = true;
    env.opts.stdin_once = true;
    env.opts.wait_start = true;
    let c = env.client();
    assert!(
        c.socket().as_os_str().len() > 108,
        "{}",
        c.socket().display()
    );
    rt().block_on(async {
        let l = env.launch().await;
        c.connect().await.expect("connect");
        assert!(!c.state().await.expect("state").started);
        let mut stream = c
            .attach(AttachRequest {
                stdin: true,
                stdout: true,
                stderr: true,
                detach_keys: None,
            })
            .await
            .expect("attach");
        c.start().await.expect("start");
        stream.write_all(b"hi\n").await.expect("write");
        stream.shutdown().await.expect("shutdown");
        let (out, _) = demux(&read_all(&mut stream).await);
        assert_eq!(out, "got hi\n");
        assert_eq!(wait_exit(&c).await.exit_code, 4);
        assert_cleaned_up(&env, l.shim_pid);
    });
}

#[test]
fn tty_attach_resize_and_detach_keys() {
    if !isolated!() {
        return;
    }
    let mut b = busybox_bundle(&[
        "sh",
        "-c",
        "stty size; read x; stty size; echo got=$x; read y; echo bye",
    ]);
    b.process_mut().terminal = true;
    let mut env = Env::new(b);
    env.opts.tty = true;
    env.opts.stdin = true;
    env.opts.wait_start = true;
    rt().block_on(async {
        let l = env.launch().await;
        let c = env.client();
        let mut stream = c
            .attach(AttachRequest {
                stdin: true,
                stdout: true,
                stderr: true,
                detach_keys: Some("ctrl-x,y".into()),
            })
            .await
            .expect("attach");
        c.resize(30, 100, None).await.expect("resize");
        c.start().await.expect("start");
        read_until(&mut stream, "30 100").await;
        c.resize(40, 120, None).await.expect("resize");
        stream.write_all(b"abc\n").await.expect("write");
        let seen = read_until(&mut stream, "got=abc").await;
        assert!(seen.contains("40 120"), "stty saw the new size: {seen:?}");
        assert!(!seen.contains('\u{1}'), "raw output, no frame headers");
        // The detach keys end this stream only; the container keeps running.
        stream.write_all(b"\x18y").await.expect("write");
        let _ = read_all(&mut stream).await;
        assert!(c.state().await.expect("state").running);
        let mut again = c
            .attach(AttachRequest {
                stdin: true,
                stdout: true,
                stderr: true,
                detach_keys: None,
            })
            .await
            .expect("attach again");
        again.write_all(b"\n").await.expect("write");
        read_until(&mut again, "bye").await;
        assert_eq!(wait_exit(&c).await.exit_code, 0);
        let log: String = env.log().into_iter().map(|(l, _)| l).collect();
        assert!(log.contains("got=abc\r\n"), "tty output is logged: {log:?}");
        assert_cleaned_up(&env, l.shim_pid);
    });
}

fn exec_req(id: &str, args: &[&str]) -> ExecRequest {
    ExecRequest {
        exec_id: id.into(),
        process: serde_json::json!({
            "args": args,
            "cwd": "/",
            "env": ["PATH=/bin"],
            "user": {"uid": 0, "gid": 0},
        }),
        tty: false,
        stdin: false,
        detach: false,
        detach_keys: None,
    }
}

#[test]
fn exec_streams_output_and_exit_codes() {
    if !isolated!() {
        return;
    }
    let env = Env::new(busybox_bundle(&[
        "sh",
        "-c",
        "echo main; while :; do sleep 0.05; done",
    ]));
    rt().block_on(async {
        let l = env.launch().await;
        let c = env.client();
        let (started, stream) = c
            .exec(exec_req(
                "e1",
                &["sh", "-c", "echo exec-out; echo exec-err >&2; exit 5"],
            ))
            .await
            .expect("exec");
        assert!(started.pid > 0);
        let (out, err) = demux(&read_all(&mut stream.expect("stream")).await);
        assert_eq!((out.as_str(), err.as_str()), ("exec-out\n", "exec-err\n"));
        let x = c.exec_wait("e1").await.expect("exec_wait");
        assert_eq!((x.exit_code, x.pid, x.running), (5, started.pid, false));

        // Two at once; the slow one started first still gets only its own output.
        let (_, slow) = c
            .exec(exec_req("slow", &["sh", "-c", "sleep 0.3; echo slow"]))
            .await
            .expect("exec slow");
        let (_, fast) = c
            .exec(exec_req("fast", &["echo", "fast"]))
            .await
            .expect("exec fast");
        let (fast_out, _) = demux(&read_all(&mut fast.expect("stream")).await);
        let (slow_out, _) = demux(&read_all(&mut slow.expect("stream")).await);
        assert_eq!((fast_out.as_str(), slow_out.as_str()), ("fast\n", "slow\n"));

        // stdin reaches the exec, and its half-close ends it.
        let mut req = exec_req("cat", &["cat"]);
        req.stdin = true;
        let (_, s) = c.exec(req).await.expect("exec cat");
        let mut s = s.expect("stream");
        s.write_all(b"ping\n").await.expect("write");
        s.shutdown().await.expect("shutdown");
        assert_eq!(demux(&read_all(&mut s).await).0, "ping\n");
        assert_eq!(c.exec_wait("cat").await.expect("wait").exit_code, 0);

        // A tty exec: raw output from a terminal.
        let mut req = exec_req("tty", &["sh", "-c", "tty; exit 2"]);
        req.tty = true;
        let (_, s) = c.exec(req).await.expect("exec tty");
        let raw = String::from_utf8_lossy(&read_all(&mut s.expect("stream")).await).into_owned();
        assert!(raw.starts_with("/dev/pts/"), "tty output: {raw:?}");
        assert_eq!(c.exec_wait("tty").await.expect("wait").exit_code, 2);

        // Resizing an exec's pty.
        let mut req = exec_req("ttyr", &["sh", "-c", "read x; stty size"]);
        req.tty = true;
        req.stdin = true;
        let (_, s) = c.exec(req).await.expect("exec tty");
        let mut s = s.expect("stream");
        c.resize(12, 34, Some("ttyr")).await.expect("resize exec");
        s.write_all(b"\n").await.expect("write");
        read_until(&mut s, "12 34").await;
        assert!(c.resize(1, 1, Some("nope")).await.is_err());

        // Detached: no stream, the exit code is still recorded.
        let mut req = exec_req("bg", &["sh", "-c", "exit 4"]);
        req.detach = true;
        let (_, none) = c.exec(req).await.expect("exec -d");
        assert!(none.is_none());
        assert_eq!(c.exec_wait("bg").await.expect("wait").exit_code, 4);

        // Errors are the runtime's, one line.
        let e = c
            .exec(exec_req("bad", &["/no/such/binary"]))
            .await
            .expect_err("missing binary");
        assert!(matches!(e, Error::Shim(_)), "{e}");
        assert!(
            c.exec(exec_req("../x", &["true"])).await.is_err(),
            "exec IDs are checked"
        );
        assert!(c.exec_wait("nope").await.is_err());

        // Exec output never goes to the container's log.
        let log: String = env.log().into_iter().map(|(l, _)| l).collect();
        assert_eq!(log, "main\n");

        c.kill(9, false).await.expect("kill");
        let exit = wait_exit(&c).await;
        assert_eq!(exit.exit_code, 137, "SIGKILL is 128+9");
        assert_cleaned_up(&env, l.shim_pid);
    });
}

#[test]
fn container_survives_its_launcher_being_killed() {
    if !isolated!() {
        return;
    }
    let mut env = Env::new(busybox_bundle(&[
        "sh",
        "-c",
        "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.05; done",
    ]));
    env.opts.log_max_size = Some(400);
    env.opts.log_max_file = Some(2);
    // The launcher: a shell that runs the shim, then lingers like a daemon would.
    let mut launcher = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg("\"$0\" \"$@\"; sleep 100")
        .arg(SHIM)
        .args(env.opts.args())
        .stdout(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("launcher");
    let mut line = String::new();
    {
        use std::io::BufRead;
        let out = launcher.stdout.take().expect("stdout");
        std::io::BufReader::new(out)
            .read_line(&mut line)
            .expect("report");
    }
    let ready: berth_shim::protocol::Ready = serde_json::from_str(&line).expect("report");
    let berth_shim::protocol::Ready::Ok { shim_pid, pid } = ready else {
        panic!("launch failed: {line}")
    };
    // SIGKILL to the launcher's whole process group: the shim left it (new session).
    std::process::Command::new("kill")
        .args(["-9", "--", &format!("-{}", launcher.id())])
        .status()
        .expect("kill");
    let _ = launcher.wait();
    let rotated = PathBuf::from(format!("{}.1", env.opts.log_path.display()));
    let last_tick = || {
        read_log(&rotated)
            .into_iter()
            .chain(env.log())
            .filter_map(|(l, _)| l.trim().strip_prefix("tick ")?.parse::<u32>().ok())
            .max()
            .unwrap_or(0)
    };
    let before = last_tick();
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        alive(shim_pid) && alive(pid),
        "shim and container outlive the launcher"
    );
    assert!(
        last_tick() > before + 3,
        "still logging with nobody connected"
    );
    // Rotation kept two files of about 400 bytes.
    assert!(rotated.exists(), "rotated to .1");
    assert!(!PathBuf::from(format!("{}.2", env.opts.log_path.display())).exists());
    assert!(read_log(&rotated)
        .iter()
        .all(|(l, s)| l.starts_with("tick ") && s == "stdout"));
    rt().block_on(async {
        let c = env.client();
        // A shell as PID 1 ignores SIGTERM (no handler); SIGKILL it is.
        c.kill(9, false).await.expect("kill");
        assert_eq!(wait_exit(&c).await.exit_code, 137);
    });
    assert_cleaned_up(&env, shim_pid);
}

#[test]
fn launch_errors_are_reported_and_nothing_is_left() {
    if !isolated!() {
        return;
    }
    let env = Env::new(busybox_bundle(&["/no/such/binary"]));
    rt().block_on(async {
        let e = launch(Path::new(SHIM), &env.opts)
            .await
            .expect_err("cannot start a missing binary");
        let Error::Shim(msg) = e else {
            panic!("expected the shim's message, got {e}")
        };
        assert!(msg.contains("/no/such/binary"), "{msg}");
        assert!(!env.runtime_knows(), "the failed container was deleted");
        assert!(!env.state("shim.sock").exists());
        let mut bad = env.opts.clone();
        bad.bundle = PathBuf::from("/nonexistent-bundle");
        let e = launch(Path::new(SHIM), &bad).await.expect_err("no bundle");
        assert!(e.to_string().contains("nonexistent-bundle"), "{e}");
    });
}

#[test]
fn oom_kill_is_reported() {
    if !isolated!() {
        return;
    }
    let mut b = busybox_bundle(&["sh", "-c", "x=aaaaaaaa; while :; do x=$x$x; done"]);
    b.linux_mut().resources = Some(berth_spec::Resources {
        memory: Some(berth_spec::Memory {
            limit: Some(32 << 20),
            ..Default::default()
        }),
        ..Default::default()
    });
    let env = Env::new(b);
    rt().block_on(async {
        let l = env.launch().await;
        let exit = wait_exit(&env.client()).await;
        assert!(exit.oom_killed, "{exit:?}");
        assert_eq!(exit.exit_code, 137);
        assert_cleaned_up(&env, l.shim_pid);
    });
}
