//! The `berth-runtime` binary as callers see it: exit status, stdout, stderr, the `--log`
//! file. Nothing here needs root or a working container runtime; assertions about library
//! errors check their shape, not the library's wording.

use std::path::Path;
use std::process::{Command, Output};

fn berth(args: &[&str]) -> Output {
    match Command::new(env!("CARGO_BIN_EXE_berth-runtime"))
        .args(args)
        .output()
    {
        Ok(o) => o,
        Err(e) => panic!("cannot run berth-runtime: {e}"),
    }
}

fn tempdir() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

/// A failure is exit 1 and exactly one `berth-runtime: error: …` line on stderr (contest
/// greps stderr for "error"), nothing on stdout; returns the message.
fn assert_one_error_line(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    let msg = stderr
        .trim_end()
        .strip_prefix("berth-runtime: error: ")
        .unwrap_or_default();
    assert!(!msg.is_empty(), "{stderr:?}");
    msg.to_string()
}

fn is_rfc3339_utc(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
}

#[test]
fn version() {
    let out = berth(&["--version"]);
    assert!(out.status.success());
    let v = text(&out.stdout);
    assert!(v.starts_with("berth-runtime version "), "{v}");
    assert!(v.lines().any(|l| l == "spec: 1.2.0"), "{v}");
    assert_eq!(text(&berth(&["-v"]).stdout), v);
}

#[test]
fn help_exits_zero() {
    for args in [
        &[][..],
        &["--help"],
        &["help"],
        &["exec", "--help"],
        &["help", "update"],
    ] {
        let out = berth(args);
        assert!(out.status.success(), "{args:?}");
        assert!(text(&out.stdout).contains("USAGE"), "{args:?}");
        assert!(out.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn spec_writes_a_valid_config_and_refuses_to_overwrite() {
    let dir = tempdir();
    let out = berth(&["spec", "--bundle", path(dir.path())]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    let config = dir.path().join("config.json");
    if let Err(e) = berth_spec::Spec::load(&config) {
        panic!("config.json does not load: {e}");
    }
    let before = std::fs::read(&config).unwrap_or_default();

    let out = berth(&["spec", "-b", path(dir.path())]);
    let msg = assert_one_error_line(&out);
    assert!(msg.contains("config.json exists"), "{msg}");
    assert_eq!(
        std::fs::read(&config).unwrap_or_default(),
        before,
        "left untouched"
    );

    // Without --bundle: the current directory.
    let cwd = tempdir();
    let out = Command::new(env!("CARGO_BIN_EXE_berth-runtime"))
        .args(["spec", "--rootless"])
        .current_dir(cwd.path())
        .output();
    assert!(out.is_ok_and(|o| o.status.success()));
    assert!(cwd.path().join("config.json").is_file());
}

#[test]
fn spec_into_a_missing_bundle_fails() {
    let dir = tempdir();
    let missing = dir.path().join("nope");
    assert_one_error_line(&berth(&["spec", "--bundle", path(&missing)]));
}

#[test]
fn features_prints_json() {
    let out = berth(&["features"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Result<serde_json::Value, _> = serde_json::from_slice(&out.stdout);
    assert!(v.is_ok_and(|v| v.is_object()), "{}", text(&out.stdout));
    assert!(out.stderr.is_empty());
}

#[test]
fn failure_goes_to_stderr_and_the_json_log() {
    let dir = tempdir();
    let root = dir.path().join("root");
    let log = dir.path().join("log.json");
    std::fs::write(
        &log,
        "{\"level\":\"info\",\"msg\":\"earlier\",\"time\":\"x\"}\n",
    )
    .unwrap_or_default();
    let out = berth(&[
        "--root",
        path(&root),
        "--log",
        path(&log),
        "--log-format",
        "json",
        "state",
        "nonexistent",
    ]);
    let msg = assert_one_error_line(&out);
    let content = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        content.starts_with("{\"level\":\"info\""),
        "appends: {content}"
    );
    let last = content.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(last).unwrap_or_default();
    assert_eq!(v["level"], "error", "{last}");
    assert_eq!(v["msg"], msg.as_str(), "{last}");
    assert!(
        is_rfc3339_utc(v["time"].as_str().unwrap_or_default()),
        "{last}"
    );
    assert!(last.starts_with("{\"level\":"), "logrus key order: {last}");
}

#[test]
fn failure_in_the_text_log() {
    let dir = tempdir();
    let log = dir.path().join("log.txt");
    let out = berth(&[
        "--root",
        path(dir.path()),
        "--log",
        path(&log),
        "kill",
        "nonexistent",
        "KILL",
    ]);
    let msg = assert_one_error_line(&out);
    let content = std::fs::read_to_string(&log).unwrap_or_default();
    let last = content.lines().last().unwrap_or_default();
    assert!(last.starts_with("time=\""), "{last}");
    assert!(last.contains(" level=error msg="), "{last}");
    assert!(
        last.contains(&msg) || last.contains(&format!("{msg:?}")),
        "{last}"
    );
}

#[test]
fn usage_errors_are_logged_too() {
    let dir = tempdir();
    let log = dir.path().join("log.json");
    let out = berth(&[
        "--log",
        path(&log),
        "--log-format=json",
        "kill",
        "c",
        "SIGNOPE",
    ]);
    let msg = assert_one_error_line(&out);
    assert_eq!(msg, "unknown signal \"SIGNOPE\"");
    let content = std::fs::read_to_string(&log).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(content.trim()).unwrap_or_default();
    assert_eq!(v["msg"], msg.as_str());

    assert_one_error_line(&berth(&["state"]));
    assert_one_error_line(&berth(&["state", "--bogus", "x"]));
    assert_one_error_line(&berth(&["--log-format", "xml", "state", "x"]));
    assert_one_error_line(&berth(&["nosuchcommand"]));
}

#[test]
fn unsupported_features_say_so() {
    let msg = assert_one_error_line(&berth(&["checkpoint", "--image-path", "/x", "c"]));
    assert!(msg.contains("not supported"), "{msg}");
    let msg = assert_one_error_line(&berth(&["restore", "c"]));
    assert!(msg.contains("not supported"), "{msg}");

    let dir = tempdir();
    let msg = assert_one_error_line(&berth(&[
        "--root",
        path(dir.path()),
        "--systemd-cgroup",
        "create",
        "--bundle",
        path(dir.path()),
        "c",
    ]));
    assert_eq!(msg, "systemd cgroup driver is not supported");
    let msg = assert_one_error_line(&berth(&["update", "--l3-cache-schema", "L3:0=f", "c"]));
    assert!(msg.contains("not supported"), "{msg}");
}
