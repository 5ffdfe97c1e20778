//! `berth` against a scripted daemon on a unix socket (no root, no dockerd): the order of
//! requests `run` sends (wait registered before start, attach hijacked with 101), stdout
//! and stderr demultiplexed, the container's exit status as ours, and daemon errors as
//! docker prints them.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

const ID: &str = "12780d7227cec9a037f5b809278fd42cb91a8607481f733f0a58bbf1d5c19143";

#[derive(Default)]
struct State {
    requests: Vec<String>,
    bodies: Vec<String>,
    started: bool,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

fn read_request(r: &mut BufReader<UnixStream>) -> Option<(String, Vec<String>, String)> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end().to_string();
        if h.is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        headers.push(h);
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some((
        line.trim_end().to_string(),
        headers,
        String::from_utf8_lossy(&body).into_owned(),
    ))
}

fn frame(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut f = vec![kind, 0, 0, 0];
    f.extend_from_slice(&(data.len() as u32).to_be_bytes());
    f.extend_from_slice(data);
    f
}

fn serve(conn: UnixStream, st: Shared, exit_code: i32) {
    let mut w = match conn.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut r = BufReader::new(conn);
    while let Some((line, headers, body)) = read_request(&mut r) {
        {
            let mut s = st.0.lock().expect("lock");
            s.requests.push(line.clone());
            if !body.is_empty() {
                s.bodies.push(body.clone());
            }
        }
        let path = line.split(' ').nth(1).unwrap_or("").to_string();
        let json = |w: &mut UnixStream, code: &str, b: &str| {
            let _ = write!(
                w,
                "HTTP/1.1 {code}\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            );
        };
        if line.starts_with("HEAD /_ping") {
            let _ = write!(
                w,
                "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 0\r\n\r\n"
            );
        } else if path.starts_with("/v1.41/containers/create") {
            json(
                &mut w,
                "201 Created",
                &format!("{{\"Id\":\"{ID}\",\"Warnings\":[]}}\n"),
            );
        } else if path.contains("/attach?") {
            assert!(headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case("Upgrade: tcp")));
            let _ = write!(w, "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
            // Output only once the container was started, as a real daemon does.
            let (lock, cv) = &*st;
            let mut s = lock.lock().expect("lock");
            while !s.started {
                s = cv.wait(s).expect("wait");
            }
            drop(s);
            let _ = w.write_all(&frame(1, b"hi\n"));
            let _ = w.write_all(&frame(2, b"to-stderr\n"));
            let _ = w.shutdown(std::net::Shutdown::Both);
            return;
        } else if path.contains("/wait") {
            let _ = write!(w, "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
            let _ = w.flush();
            let (lock, cv) = &*st;
            let mut s = lock.lock().expect("lock");
            while !s.started {
                s = cv.wait(s).expect("wait");
            }
            drop(s);
            thread::sleep(std::time::Duration::from_millis(100));
            let b = format!("{{\"Error\":null,\"StatusCode\":{exit_code}}}\n");
            let _ = write!(w, "{:x}\r\n{b}\r\n0\r\n\r\n", b.len());
        } else if path.ends_with("/start") {
            let _ = write!(w, "HTTP/1.1 204 No Content\r\nApi-Version: 1.41\r\n\r\n");
            let (lock, cv) = &*st;
            lock.lock().expect("lock").started = true;
            cv.notify_all();
        } else {
            json(
                &mut w,
                "404 Not Found",
                "{\"message\":\"No such container: nosuch\"}\n",
            );
        }
    }
}

fn daemon(exit_code: i32) -> (tempfile::TempDir, String, Shared) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sock = dir.path().join("d.sock");
    let listener = UnixListener::bind(&sock).expect("bind");
    let st: Shared = Arc::new((Mutex::new(State::default()), Condvar::new()));
    let st2 = st.clone();
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let st = st2.clone();
            thread::spawn(move || serve(conn, st, exit_code));
        }
    });
    (dir, format!("unix://{}", sock.display()), st)
}

fn berth(host: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("-H")
        .arg(host)
        .args(args)
        .env_remove("DOCKER_API_VERSION")
        .output()
        .expect("berth runs")
}

#[test]
fn run_rm_follows_docker_and_exits_with_the_container() {
    let (_dir, host, st) = daemon(3);
    let out = berth(&host, &["run", "--rm", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "to-stderr\n");
    assert_eq!(out.status.code(), Some(3));
    let s = st.0.lock().expect("lock");
    let reqs: Vec<&str> = s.requests.iter().map(String::as_str).collect();
    assert_eq!(
        reqs,
        [
            "HEAD /_ping HTTP/1.1",
            "POST /v1.41/containers/create HTTP/1.1",
            &format!("POST /v1.41/containers/{ID}/attach?stderr=1&stdout=1&stream=1 HTTP/1.1"),
            &format!("POST /v1.41/containers/{ID}/wait?condition=removed HTTP/1.1"),
            &format!("POST /v1.41/containers/{ID}/start HTTP/1.1"),
        ]
    );
    assert!(
        s.bodies[0].contains("\"AutoRemove\":true"),
        "{}",
        s.bodies[0]
    );
    assert!(s.bodies[0].ends_with("}\n"), "bodies end like Go's encoder");
}

#[test]
fn run_detached_prints_the_id() {
    let (_dir, host, st) = daemon(0);
    let out = berth(
        &host,
        &["run", "-d", "--name", "x", "busybox", "sleep", "1"],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{ID}\n"));
    assert_eq!(out.status.code(), Some(0));
    let s = st.0.lock().expect("lock");
    assert_eq!(
        s.requests[1],
        "POST /v1.41/containers/create?name=x HTTP/1.1"
    );
    assert_eq!(
        s.requests[2],
        format!("POST /v1.41/containers/{ID}/wait?condition=next-exit HTTP/1.1")
    );
    assert_eq!(
        s.requests[3],
        format!("POST /v1.41/containers/{ID}/start HTTP/1.1")
    );
}

#[test]
fn daemon_errors_and_usage_errors_exit_like_docker() {
    let (_dir, host, _st) = daemon(0);
    let out = berth(&host, &["rm", "nosuch"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error response from daemon: No such container: nosuch\n"
    );
    assert_eq!(out.status.code(), Some(1));
    let out = berth(&host, &["run", "--nosuch", "busybox"]);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with(
        "unknown flag: --nosuch\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]"
    ));
    assert_eq!(out.status.code(), Some(125));
    let dir = tempfile::tempdir().expect("tempdir");
    let out = berth(
        &format!("unix://{}/none.sock", dir.path().display()),
        &["ps"],
    );
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("Cannot connect to the berth daemon at unix://"));
    assert_eq!(out.status.code(), Some(1));
}
