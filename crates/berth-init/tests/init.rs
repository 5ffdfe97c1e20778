//! berth-init run as an ordinary process (it makes itself a child subreaper, so orphans
//! come to it as they would to a PID 1): exit codes, signal forwarding, zombie reaping.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_berth-init");

fn init(script: &str) -> Child {
    Command::new(BIN)
        .args(["--", "/bin/sh", "-c", script])
        .spawn()
        .expect("spawn berth-init")
}

fn code(mut c: Child) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(st) = c.try_wait().expect("wait") {
            return st.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = c.kill();
            panic!("berth-init did not exit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// (pid, state, comm) of every process whose parent is `ppid`.
fn children(ppid: u32) -> Vec<(u32, char, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let mut rest = stat[close + 2..].split(' ');
        let state = rest.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let parent: u32 = rest.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if parent == ppid {
            out.push((pid, state, comm));
        }
    }
    out
}

#[test]
fn exit_code_passes_through() {
    assert_eq!(code(init("exit 7")), 7);
    assert_eq!(code(init("true")), 0);
}

#[test]
fn killed_child_is_128_plus_signal() {
    assert_eq!(code(init("kill -KILL $$")), 137);
}

#[test]
fn missing_command_is_127() {
    let c = Command::new(BIN)
        .args(["--", "/nonexistent/cmd"])
        .spawn()
        .expect("spawn");
    assert_eq!(code(c), 127);
    let c = Command::new(BIN).spawn().expect("spawn");
    assert_eq!(code(c), 2, "no command is a usage error");
}

#[test]
fn sigterm_is_forwarded_to_the_child() {
    let dir = tempfile::tempdir().expect("tmp");
    let ready = dir.path().join("ready");
    let c = init(&format!(
        "trap 'exit 42' TERM; touch {}; while :; do sleep 0.05; done",
        ready.display()
    ));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "child never got ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&c),
        rustix::process::Signal::TERM,
    )
    .expect("kill");
    assert_eq!(code(c), 42, "the child's trap ran and its code came back");
}

#[test]
fn orphans_are_adopted_and_reaped() {
    // The inner shell starts a short sleep in the background and exits: the sleep is
    // orphaned, adopted by berth-init, and must not stay a zombie after it ends.
    let c = init("sh -c 'sleep 0.3 &'; sleep 1.2; exit 5");
    let init_pid = c.id();
    std::thread::sleep(Duration::from_millis(150));
    let kids = children(init_pid);
    assert!(
        kids.iter().any(|(_, _, comm)| comm == "sleep") && kids.len() >= 2,
        "the orphaned sleep was adopted by berth-init: {kids:?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let kids = children(init_pid);
    assert!(
        kids.iter().all(|(_, state, _)| *state != 'Z'),
        "no zombie left: {kids:?}"
    );
    assert_eq!(kids.len(), 1, "only the main child remains: {kids:?}");
    assert_eq!(code(c), 5);
}
