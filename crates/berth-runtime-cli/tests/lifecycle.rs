//! Privileged: whole container lifecycles driven through the `berth-runtime` binary the way
//! containerd and the runtime-tools suite drive runc, checking what they read back
//! (state JSON, list rows, ps PIDs, exit statuses, the memory limit in the kernel).
//!
//! Each test runs in its own mount and network namespace (`isolated!`) with its own
//! `--root`, and deletes its containers on the way out even when an assertion fails.

use berth_testutil::{busybox_bundle, isolated, unique_id, Cleanup};
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary with stdout and stderr in files, not pipes: a container created by
/// `create` or `run -d` inherits them and would keep a pipe open until it exits.
fn berth(root: &Path, args: &[&str]) -> Out {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let (o, e) = (dir.path().join("out"), dir.path().join("err"));
    let file = |p: &Path| File::create(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let status = Command::new(env!("CARGO_BIN_EXE_berth-runtime"))
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file(&o))
        .stderr(file(&e))
        .status()
        .unwrap_or_else(|e| panic!("cannot run berth-runtime: {e}"));
    Out {
        code: status.code(),
        stdout: std::fs::read_to_string(&o).unwrap_or_default(),
        stderr: std::fs::read_to_string(&e).unwrap_or_default(),
    }
}

fn ok(root: &Path, args: &[&str]) -> String {
    let out = berth(root, args);
    assert_eq!(out.code, Some(0), "{args:?} failed: {}", out.stderr);
    assert!(
        out.stderr.is_empty(),
        "{args:?} wrote to stderr: {}",
        out.stderr
    );
    out.stdout
}

fn state(root: &Path, id: &str) -> serde_json::Value {
    let text = ok(root, &["state", id]);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("state is not JSON ({e}): {text}"))
}

fn wait_status(root: &Path, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = state(root, id)["status"].clone();
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{id} still {got}, wanted {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn delete_guard(root: &Path, id: &str) -> Cleanup<impl FnOnce()> {
    let (root, id) = (root.to_path_buf(), id.to_string());
    Cleanup::new(move || {
        let _ = berth(&root, &["delete", "--force", &id]);
    })
}

/// The memory limit of `pid`'s cgroup as the kernel reports it (v1 or v2).
fn memory_limit(pid: i64) -> String {
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next(), parts.next());
        let (Some(controllers), Some(path)) = (controllers, path) else {
            continue;
        };
        let file = if controllers.split(',').any(|c| c == "memory") {
            format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes")
        } else if controllers.is_empty() && !Path::new("/sys/fs/cgroup/memory").exists() {
            format!("/sys/fs/cgroup{path}/memory.max")
        } else {
            continue;
        };
        return std::fs::read_to_string(&file)
            .unwrap_or_default()
            .trim()
            .to_string();
    }
    panic!("no memory cgroup for {pid}: {cgroups}");
}

#[test]
fn lifecycle_through_the_cli() {
    if !isolated!() {
        return;
    }
    let mut bundle = busybox_bundle(&["sleep", "1000"]);
    bundle.process_mut().env.push("FROM_SPEC=1".into());
    bundle.write();
    let root = bundle.path().join("state");
    let pid_file = bundle.path().join("init.pid");
    let id = unique_id("cli-life");
    let _delete = delete_guard(&root, &id);
    let b = bundle.path().to_str().unwrap_or_default();

    // containerd's order: global flags, then options, then the ID.
    ok(
        &root,
        &[
            "create",
            "--bundle",
            b,
            "--pid-file",
            pid_file.to_str().unwrap_or_default(),
            &id,
        ],
    );
    let pid: i64 = std::fs::read_to_string(&pid_file)
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(pid > 0);

    let s = state(&root, &id);
    assert_eq!(s["status"], "created");
    assert_eq!(s["id"], id.as_str());
    assert_eq!(s["pid"], pid);
    assert_eq!(s["bundle"], b);
    assert_eq!(s["rootfs"], bundle.rootfs().to_str().unwrap_or_default());
    assert_eq!(s["ociVersion"], "1.2.0");
    // runc's owner: the user name of uid 0, or the number where /etc/passwd has no entry
    // (the cgroup v2 VM).
    let owner = s["owner"].as_str().unwrap_or_default();
    assert!(owner == "root" || owner == "0", "owner {owner:?}");
    assert!(
        s["created"]
            .as_str()
            .is_some_and(|c| c.len() >= 20 && c.ends_with('Z')),
        "{s}"
    );

    let table = ok(&root, &["list"]);
    let mut lines = table.lines();
    assert!(
        lines
            .next()
            .is_some_and(|h| h.starts_with("ID ") && h.ends_with("OWNER")),
        "{table}"
    );
    let row: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        row[..4],
        [id.as_str(), &pid.to_string(), "created", b],
        "{table}"
    );
    assert_eq!(ok(&root, &["list", "-q"]), format!("{id}\n"));

    ok(&root, &["start", &id]);
    wait_status(&root, &id, "running");
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&root, &["list", "--format=json"])).unwrap_or_default();
    assert_eq!(listed[0]["status"], "running", "{listed}");

    let pids: Vec<i64> =
        serde_json::from_str(&ok(&root, &["ps", "--format", "json", &id])).unwrap_or_default();
    assert!(pids.contains(&pid), "{pids:?}");
    let table = ok(&root, &["ps", &id]);
    assert!(
        table.lines().next().is_some_and(|h| h.contains("PID")),
        "{table}"
    );
    assert!(
        table.lines().skip(1).any(|l| l.contains("sleep 1000")),
        "{table}"
    );

    // exec: ID first then options (contest), the command's own dashes untouched.
    let out = berth(
        &root,
        &[
            "exec",
            &id,
            "-e",
            "X=y",
            "sh",
            "-c",
            "echo $X $FROM_SPEC; exit 7",
        ],
    );
    assert_eq!(out.code, Some(7), "{}", out.stderr);
    assert_eq!(out.stdout, "y 1\n");
    let out = berth(&root, &["exec", "--user", "1000:1000", &id, "id", "-u"]);
    assert_eq!(
        (out.code, out.stdout.trim()),
        (Some(0), "1000"),
        "{}",
        out.stderr
    );

    ok(&root, &["pause", &id]);
    assert_eq!(state(&root, &id)["status"], "paused");
    let out = berth(&root, &["exec", &id, "true"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("paused"), "{}", out.stderr);
    ok(&root, &["resume", &id]);
    assert_eq!(state(&root, &id)["status"], "running");

    ok(&root, &["update", "--memory", "64m", &id]);
    assert_eq!(memory_limit(pid), (64 << 20).to_string());

    let event: serde_json::Value =
        serde_json::from_str(&ok(&root, &["events", "--stats", &id])).unwrap_or_default();
    assert_eq!(
        (event["type"].as_str(), event["id"].as_str()),
        (Some("stats"), Some(id.as_str()))
    );
    assert!(event["data"].is_object(), "{event}");

    ok(&root, &["kill", &id, "KILL"]);
    wait_status(&root, &id, "stopped");
    assert_eq!(state(&root, &id)["pid"], 0);
    let out = berth(&root, &["kill", &id]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("container not running"),
        "containerd matches this: {}",
        out.stderr
    );

    ok(&root, &["delete", &id]);
    let out = berth(&root, &["state", &id]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);
    ok(&root, &["delete", "--force", &id]);
}

#[test]
fn run_returns_the_exit_status() {
    if !isolated!() {
        return;
    }
    let bundle = busybox_bundle(&["sh", "-c", "echo ran; exit 3"]);
    bundle.write();
    let root = bundle.path().join("state");
    let id = unique_id("cli-run");
    let _delete = delete_guard(&root, &id);

    let out = berth(
        &root,
        &["run", "-b", bundle.path().to_str().unwrap_or_default(), &id],
    );
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert_eq!(out.stdout, "ran\n");
    assert_eq!(ok(&root, &["list", "-q"]), "", "run deletes the container");

    let bundle = busybox_bundle(&["sleep", "1000"]);
    bundle.write();
    ok(
        &root,
        &[
            "run",
            "--detach",
            "--bundle",
            bundle.path().to_str().unwrap_or_default(),
            &id,
        ],
    );
    assert_eq!(state(&root, &id)["status"], "running");
    ok(&root, &["delete", "-f", &id]);
    assert_eq!(ok(&root, &["list", "-q"]), "");
}

#[test]
fn delete_follows_runc() {
    if !isolated!() {
        return;
    }
    let bundle = busybox_bundle(&["sleep", "1000"]);
    bundle.write();
    let root = bundle.path().join("state");
    let id = unique_id("cli-del");
    let _delete = delete_guard(&root, &id);
    let b = bundle.path().to_str().unwrap_or_default();

    // A created container goes without --force (runc kills its waiting init).
    ok(&root, &["create", "--bundle", b, &id]);
    ok(&root, &["delete", &id]);
    assert_eq!(ok(&root, &["list", "-q"]), "");

    // A running one needs --force; without, it stays and the error says why.
    ok(&root, &["run", "-d", "--bundle", b, &id]);
    let out = berth(&root, &["delete", &id]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.starts_with("berth-runtime: error: "),
        "{}",
        out.stderr
    );
    assert_eq!(state(&root, &id)["status"], "running");
    ok(&root, &["delete", "--force", &id]);

    // --force on a container that does not exist succeeds; without, it fails.
    ok(&root, &["delete", "--force", &id]);
    let out = berth(&root, &["delete", &id]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);
}
