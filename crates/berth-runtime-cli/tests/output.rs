//! Output formats callers parse: the `list` table, `ps` filtering, log lines, help/version.

use berth_runtime_cli::logging::{format_line, rfc3339, Level, LogFormat};
use berth_runtime_cli::{filter_ps, help, rootfs_path, table};
use std::time::{Duration, UNIX_EPOCH};

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

#[test]
fn list_table_aligns_like_go_tabwriter() {
    let rows = vec![
        row(&["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]),
        row(&[
            "web",
            "4242",
            "running",
            "/bundles/web-server",
            "2024-05-01T12:00:00Z",
            "root",
        ]),
    ];
    let want = "\
ID          PID         STATUS      BUNDLE                CREATED                OWNER
web         4242        running     /bundles/web-server   2024-05-01T12:00:00Z   root
";
    assert_eq!(table(&rows), want);
    assert_eq!(
        table(&[row(&["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"])]),
        "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n"
    );
}

#[test]
fn ps_keeps_the_header_and_the_container_lines() {
    let out = "\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
root         200       1  0 10:01 ?        00:00:00 sleep 100
root         201     200  0 10:01 ?        00:00:00 sh -c x
";
    let got = filter_ps(out, &[200, 201]).unwrap_or_default();
    assert_eq!(
        got,
        "\
UID          PID    PPID  C STIME TTY          TIME CMD
root         200       1  0 10:01 ?        00:00:00 sleep 100
root         201     200  0 10:01 ?        00:00:00 sh -c x
"
    );
    let err = filter_ps("USER COMMAND\nroot init\n", &[1])
        .err()
        .map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("couldn't find PID field in ps output"));
}

#[test]
fn rootfs_is_absolute_against_the_bundle() {
    assert_eq!(rootfs_path("/b", "rootfs"), "/b/rootfs");
    assert_eq!(rootfs_path("/b", "/abs/root"), "/abs/root");
}

#[test]
fn log_lines_are_logrus_shaped() {
    let line = format_line(
        LogFormat::Json,
        Level::Error,
        "container \"x\" does not exist",
        "T",
    );
    assert_eq!(
        line,
        "{\"level\":\"error\",\"msg\":\"container \\\"x\\\" does not exist\",\"time\":\"T\"}\n"
    );
    let line = format_line(
        LogFormat::Text,
        Level::Error,
        "no such file",
        "2024-05-01T12:00:00Z",
    );
    assert_eq!(
        line,
        "time=\"2024-05-01T12:00:00Z\" level=error msg=\"no such file\"\n"
    );
    let line = format_line(LogFormat::Text, Level::Warn, "ok", "t");
    assert_eq!(line, "time=t level=warning msg=ok\n");
}

#[test]
fn times_are_rfc3339_utc() {
    assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    assert_eq!(
        rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
        "2000-02-29T00:00:00Z"
    );
    assert_eq!(
        rfc3339(UNIX_EPOCH + Duration::from_secs(1_714_564_861)),
        "2024-05-01T12:01:01Z"
    );
}

#[test]
fn version_is_laid_out_like_runc() {
    let v = help::version();
    let mut lines = v.lines();
    assert_eq!(
        lines.next(),
        Some(format!("berth-runtime version {}", env!("CARGO_PKG_VERSION")).as_str())
    );
    assert_eq!(v.lines().last(), Some("spec: 1.2.0"));
}

#[test]
fn help_lists_every_command_and_flag() {
    let h = help::help(None);
    for c in berth_runtime_cli::cli::COMMANDS {
        assert!(h.contains(c.name), "{}", c.name);
    }
    let exec = help::help(Some("exec"));
    for flag in [
        "--process file, -p",
        "--tty, -t",
        "--cgroup",
        "--ignore-paused",
        "--help, -h",
    ] {
        assert!(exec.contains(flag), "{flag} in {exec}");
    }
}
