//! End-to-end tests of `berth-runtime` as containerd, Podman or a user drive it: real
//! namespaces, mounts and cgroups, asserting what a user would check from inside the
//! container (its hostname, its limits, the files it can or cannot write).
//!
//! Each test re-runs itself in private mount and network namespaces (`isolated!`) and
//! deletes its container on drop, so nothing is left behind even when an assertion fails.

use berth_spec::{
    Capabilities, DeviceRule, Hook, IdMapping, Memory, Namespace, Pids, Resources, Rlimit, Seccomp,
    SeccompSyscall,
};
use berth_testutil::{busybox_bundle, isolated, unique_id, Bundle, Cleanup};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_berth-runtime");

struct Rt {
    root: tempfile::TempDir,
    /// Containers started by [`Rt::run_detached`], deleted on drop.
    started: std::cell::RefCell<Vec<String>>,
}

impl Drop for Rt {
    fn drop(&mut self) {
        for id in self.started.take() {
            let _ = self.out(&["delete", "--force", &id]);
        }
    }
}

impl Rt {
    fn new() -> Rt {
        Rt {
            root: tempfile::tempdir().expect("state root"),
            started: Default::default(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--root").arg(self.root.path()).args(args);
        c
    }

    fn out(&self, args: &[&str]) -> Output {
        self.cmd(args)
            .stdin(Stdio::null())
            .output()
            .expect("run berth-runtime")
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.out(args);
        assert!(
            o.status.success(),
            "berth-runtime {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `run` in the foreground: (exit code, stdout, stderr).
    fn run(&self, bundle: &Bundle, id: &str) -> (i32, String, String) {
        bundle.write();
        let o = self.out(&["run", "--bundle", &bundle.path().display().to_string(), id]);
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    /// `run --detach`/`create`: the container keeps the stdio it inherits (as with runc),
    /// so it gets a file, not a pipe that `output()` would wait on.
    fn detached(&self, args: &[&str]) {
        let log = self.root.path().join("detached.log");
        let f = std::fs::File::create(&log).expect("log");
        let st = self
            .cmd(args)
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup"))
            .stderr(f)
            .status()
            .expect("run berth-runtime");
        assert!(
            st.success(),
            "berth-runtime {args:?} failed: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn status(&self, id: &str) -> String {
        let v: serde_json::Value =
            serde_json::from_str(&self.ok(&["state", id])).expect("state JSON");
        v["status"].as_str().unwrap_or_default().to_string()
    }

    /// Writes the bundle and runs it detached under a fresh ID; the container is deleted
    /// when this `Rt` drops, also when the test fails.
    fn run_detached(&self, b: &Bundle, prefix: &str) -> String {
        b.write();
        let id = unique_id(prefix);
        self.started.borrow_mut().push(id.clone());
        self.detached(&[
            "run",
            "-d",
            "--bundle",
            &b.path().display().to_string(),
            &id,
        ]);
        id
    }

    fn guard<'a>(&'a self, id: &'a str) -> Cleanup<impl FnOnce() + 'a> {
        Cleanup::new(move || {
            let _ = self.out(&["delete", "--force", id]);
        })
    }
}

/// Whether a cgroup directory named `id` exists anywhere in the host's hierarchies.
fn cgroup_left(id: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![(PathBuf::from("/sys/fs/cgroup"), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                if e.file_name().to_string_lossy() == id {
                    found.push(p.clone());
                }
                if depth < 3 {
                    stack.push((p, depth + 1));
                }
            }
        }
    }
    found
}

/// A bundle whose container sees its own cgroup at /sys/fs/cgroup.
fn with_cgroup_mount(b: &mut Bundle) {
    b.spec.mounts.push(berth_spec::Mount {
        destination: "/sys/fs/cgroup".into(),
        typ: Some("cgroup".into()),
        source: Some("cgroup".into()),
        options: vec![
            "nosuid".into(),
            "noexec".into(),
            "nodev".into(),
            "ro".into(),
        ],
        ..Default::default()
    });
}

fn cgroup_file(v1: &str, v2: &str) -> String {
    // Inside the container /sys/fs/cgroup is the container's own cgroup: v1 has one
    // directory per controller, v2 a single tree.
    format!("cat /sys/fs/cgroup/{v1} 2>/dev/null || cat /sys/fs/cgroup/{v2}")
}

#[test]
fn hostname_pid1_and_exit_code() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let mut b = busybox_bundle(&["sh", "-c", "hostname; echo pid=$$; exit 3"]);
    b.spec.hostname = Some("boxname".into());
    let id = unique_id("host");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!(code, 3, "exit code passes through; stderr: {err}");
    assert_eq!(out, "boxname\npid=1\n");
    assert!(cgroup_left(&id).is_empty(), "cgroup removed after run");
    assert!(
        !rt.root.path().join(&id).exists(),
        "state removed after run"
    );
}

#[test]
fn lifecycle_create_start_kill_delete() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let b = busybox_bundle(&["sh", "-c", "trap 'echo got-usr1 > /tmp/sig; exit 0' USR1; echo up > /tmp/up; while true; do sleep 0.05; done"]);
    b.write();
    let id = unique_id("life");
    let _g = rt.guard(&id);
    let pidfile = rt.root.path().join("pid");
    rt.detached(&[
        "create",
        "--bundle",
        &b.path().display().to_string(),
        "--pid-file",
        &pidfile.display().to_string(),
        &id,
    ]);
    assert_eq!(rt.status(&id), "created");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert!(
        !b.rootfs().join("tmp/up").exists(),
        "process must not run before start"
    );
    rt.ok(&["start", &id]);
    assert_eq!(rt.status(&id), "running");
    let o = rt.out(&["start", &id]);
    assert!(!o.status.success(), "second start must fail");
    let list = rt.ok(&["list"]);
    assert!(list.contains(&id) && list.contains("running"), "{list}");
    // The rootfs is read-only in the default spec: wait for the trap to be set via /proc.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !rt.ok(&["exec", &id, "cat", "/tmp/up"]).contains("up") {
        assert!(
            std::time::Instant::now() < deadline,
            "container never came up"
        );
    }
    rt.ok(&["kill", &id, "USR1"]);
    while rt.status(&id) != "stopped" {
        assert!(
            std::time::Instant::now() < deadline + std::time::Duration::from_secs(5),
            "USR1 did not stop it"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = rt.out(&["kill", &id, "KILL"]);
    assert!(!o.status.success(), "kill of a stopped container fails");
    rt.ok(&["delete", &id]);
    let o = rt.out(&["state", &id]);
    assert!(!o.status.success());
    assert!(
        cgroup_left(&id).is_empty(),
        "cgroup removed: {:?}",
        cgroup_left(&id)
    );
}

#[test]
fn exec_joins_namespaces_and_cgroup() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let mut b = busybox_bundle(&["sleep", "30"]);
    b.spec.hostname = Some("execbox".into());
    let id = rt.run_detached(&b, "exec");
    let out = rt.ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "execbox");
    assert_eq!(lines[1].trim(), "sleep 30");
    assert_ne!(lines[2], "1");
    let o = rt.out(&["exec", &id, "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    let pids = rt.ok(&["ps", "--format", "json", &id]);
    let pids: Vec<i32> = serde_json::from_str(&pids).expect("ps json");
    assert_eq!(pids.len(), 1, "only the init is left: {pids:?}");
    let o = rt.out(&["exec", &id, "/no/such/binary"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("/no/such/binary"));
}

#[test]
fn memory_and_pids_limits_are_seen_inside_and_update_changes_them() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let script = format!(
        "{}; {}",
        cgroup_file("memory/memory.limit_in_bytes", "memory.max"),
        cgroup_file("pids/pids.max", "pids.max")
    );
    let mut b = busybox_bundle(&["sh", "-c", &script]);
    with_cgroup_mount(&mut b);
    b.linux_mut().resources = Some(Resources {
        memory: Some(Memory {
            limit: Some(64 << 20),
            ..Default::default()
        }),
        pids: Some(Pids { limit: 20 }),
        ..Default::default()
    });
    let id = unique_id("limits");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{}\n20\n", 64 << 20));

    let mut b = busybox_bundle(&["sleep", "30"]);
    with_cgroup_mount(&mut b);
    b.linux_mut().resources = Some(Resources {
        pids: Some(Pids { limit: 20 }),
        ..Default::default()
    });
    let id = rt.run_detached(&b, "update");
    rt.ok(&["update", "--pids-limit", "7", "--memory", "32m", &id]);
    let out = rt.ok(&["exec", &id, "sh", "-c", &script]);
    assert_eq!(out, format!("{}\n7\n", 32 << 20));
}

#[test]
fn pause_freezes_and_resume_thaws() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let b = busybox_bundle(&["sleep", "30"]);
    let id = rt.run_detached(&b, "pause");
    rt.ok(&["pause", &id]);
    assert_eq!(rt.status(&id), "paused");
    assert!(
        !rt.out(&["exec", &id, "true"]).status.success(),
        "exec into a paused container fails"
    );
    rt.ok(&["resume", &id]);
    assert_eq!(rt.status(&id), "running");
    rt.ok(&["delete", "--force", &id]);
    assert!(cgroup_left(&id).is_empty());
}

#[test]
fn readonly_root_masked_and_readonly_paths() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let script = "touch /x 2>/dev/null && echo root-rw || echo root-ro; \
                  echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo sys-rw || echo sys-ro; \
                  wc -c < /proc/timer_list; touch /tmp/ok && echo tmp-rw";
    let mut b = busybox_bundle(&["sh", "-c", script]);
    b.spec.root.as_mut().expect("root").readonly = true;
    b.spec.mounts.push(berth_spec::Mount {
        destination: "/tmp".into(),
        typ: Some("tmpfs".into()),
        source: Some("tmpfs".into()),
        options: vec!["nosuid".into()],
        ..Default::default()
    });
    let id = unique_id("ro");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "root-ro\nsys-ro\n0\ntmp-rw\n");
}

#[test]
fn capabilities_are_dropped() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let script =
        "grep -E 'CapEff|CapPrm' /proc/self/status; chown 1 /tmp && echo chown-ok || echo chown-denied";
    let mut b = busybox_bundle(&["sh", "-c", script]);
    b.spec.root.as_mut().expect("root").readonly = false;
    let none: Vec<String> = vec![];
    b.process_mut().capabilities = Some(Capabilities {
        bounding: Some(none.clone()),
        effective: Some(none.clone()),
        permitted: Some(none.clone()),
        inheritable: Some(none.clone()),
        ambient: Some(none),
    });
    let id = unique_id("caps");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
    assert!(out.contains("chown-denied"), "{out}");

    let chown = vec!["CAP_CHOWN".to_string()];
    b.process_mut().capabilities = Some(Capabilities {
        bounding: Some(chown.clone()),
        effective: Some(chown.clone()),
        // Outside the bounding set: dropped, as execve would.
        permitted: Some(vec!["CAP_CHOWN".into(), "CAP_KILL".into()]),
        ..Default::default()
    });
    let (code, out, err) = rt.run(&b, &unique_id("caps"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("CapEff:\t0000000000000001"), "{out}");
    assert!(out.contains("CapPrm:\t0000000000000001"), "{out}");
    assert!(out.contains("chown-ok"), "{out}");
}

#[test]
fn seccomp_errno_and_rlimits_apply() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let mut b = busybox_bundle(&["sh", "-c", "ulimit -n; mkdir /tmp/d 2>&1; echo mkdir=$?"]);
    b.spec.root.as_mut().expect("root").readonly = false;
    b.process_mut().rlimits = vec![Rlimit {
        typ: "RLIMIT_NOFILE".into(),
        hard: 100,
        soft: 100,
    }];
    b.linux_mut().seccomp = Some(Seccomp {
        default_action: "SCMP_ACT_ALLOW".into(),
        architectures: vec!["SCMP_ARCH_X86_64".into()],
        syscalls: vec![SeccompSyscall {
            names: vec!["mkdir".into(), "mkdirat".into()],
            action: "SCMP_ACT_ERRNO".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    let (code, out, err) = rt.run(&b, &unique_id("seccomp"));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "100");
    assert!(lines[1].contains("Operation not permitted"), "{out}");
    assert_eq!(lines[2], "mkdir=1");
}

#[test]
fn user_namespace_maps_root() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let mut b = busybox_bundle(&[
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; ls -ln /bin/busybox | awk '{print $3}'",
    ]);
    let l = b.linux_mut();
    l.namespaces.push(Namespace {
        typ: "user".into(),
        path: None,
    });
    l.uid_mappings = vec![
        IdMapping {
            container_id: 0,
            host_id: 0,
            size: 1,
        },
        IdMapping {
            container_id: 1,
            host_id: 200000,
            size: 1000,
        },
    ];
    l.gid_mappings = vec![
        IdMapping {
            container_id: 0,
            host_id: 0,
            size: 1,
        },
        IdMapping {
            container_id: 1,
            host_id: 200000,
            size: 1000,
        },
    ];
    let (code, out, err) = rt.run(&b, &unique_id("userns"));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0");
    let first: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(first, ["0", "0", "1"]);
    let second: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(second, ["1", "200000", "1000"]);
}

#[test]
fn joins_another_containers_network_namespace() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let a = busybox_bundle(&["sleep", "30"]);
    a.write();
    let ida = unique_id("neta");
    let _g = rt.guard(&ida);
    let pidfile = rt.root.path().join("a.pid");
    rt.detached(&[
        "run",
        "-d",
        "--pid-file",
        &pidfile.display().to_string(),
        "--bundle",
        &a.path().display().to_string(),
        &ida,
    ]);
    let pid = std::fs::read_to_string(&pidfile)
        .expect("pid")
        .trim()
        .to_string();
    let want = std::fs::read_link(format!("/proc/{pid}/ns/net")).expect("ns link");
    let mut b = busybox_bundle(&["readlink", "/proc/self/ns/net"]);
    for ns in &mut b.linux_mut().namespaces {
        if ns.typ == "network" {
            ns.path = Some(format!("/proc/{pid}/ns/net"));
        }
    }
    let (code, out, err) = rt.run(&b, &unique_id("netb"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), want.to_string_lossy());
}

#[test]
fn devices_and_dev_links() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let b = busybox_bundle(&["sh", "-c", "stat -c '%t:%T %F' /dev/null /dev/zero /dev/tty; readlink /dev/fd; head -c 4 /dev/zero | wc -c"]);
    let (code, out, err) = rt.run(&b, &unique_id("dev"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "1:3 character special file\n1:5 character special file\n5:0 character special file\n/proc/self/fd\n4\n");

    let mut b = busybox_bundle(&[
        "sh",
        "-c",
        "head -c 1 /dev/full 2>&1 >/dev/null; echo rc=$?",
    ]);
    b.linux_mut().resources = Some(Resources {
        devices: vec![DeviceRule {
            allow: false,
            access: Some("rwm".into()),
            ..Default::default()
        }],
        ..Default::default()
    });
    // /dev/full is a default device and stays allowed even under deny-all.
    let (code, out, err) = rt.run(&b, &unique_id("dev"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "rc=0");
}

#[test]
fn hooks_get_state_and_run_in_order() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let log = tempfile::tempdir().expect("log dir");
    let hook = |name: &str| Hook {
        path: "/bin/sh".into(),
        args: vec![
            "sh".into(),
            "-c".into(),
            format!(
                "cat > {}/{name}.json; echo {name} >> {}/order",
                log.path().display(),
                log.path().display()
            ),
        ],
        ..Default::default()
    };
    let mut b = busybox_bundle(&["true"]);
    b.spec.hooks = Some(berth_spec::Hooks {
        prestart: vec![hook("prestart")],
        create_runtime: vec![hook("createRuntime")],
        poststart: vec![hook("poststart")],
        poststop: vec![hook("poststop")],
        ..Default::default()
    });
    let id = unique_id("hooks");
    let (code, _, err) = rt.run(&b, &id);
    assert_eq!(code, 0, "{err}");
    let order = std::fs::read_to_string(log.path().join("order")).expect("order");
    assert_eq!(order, "prestart\ncreateRuntime\npoststart\npoststop\n");
    let st: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(log.path().join("createRuntime.json")).expect("state"),
    )
    .expect("json");
    assert_eq!(st["id"], id.as_str());
    assert!(st["pid"].as_i64().unwrap_or(0) > 0);
    assert_eq!(st["bundle"], b.path().display().to_string().as_str());

    // A failing createRuntime hook aborts creation and leaves nothing behind.
    let mut b = busybox_bundle(&["true"]);
    b.spec.hooks = Some(berth_spec::Hooks {
        create_runtime: vec![Hook {
            path: "/bin/false".into(),
            ..Default::default()
        }],
        ..Default::default()
    });
    let id = unique_id("hookfail");
    let (code, _, err) = rt.run(&b, &id);
    assert_ne!(code, 0);
    assert!(err.contains("createRuntime"), "{err}");
    assert!(!rt.root.path().join(&id).exists());
    assert!(cgroup_left(&id).is_empty());
}

#[test]
fn bad_input_fails_clearly_and_leaves_nothing() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let b = busybox_bundle(&["true"]);
    b.write();
    std::fs::write(
        b.config_path(),
        "{\n  \"ociVersion\": \"1.2.0\",\n  \"process\": {\"args\": 5}\n}",
    )
    .expect("write");
    let id = unique_id("bad");
    let o = rt.out(&["create", "--bundle", &b.path().display().to_string(), &id]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("config.json") && err.contains("line 3"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    type Edit = Box<dyn Fn(&mut Bundle)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "unknown namespace",
            Box::new(|b: &mut Bundle| {
                b.linux_mut().namespaces.push(Namespace {
                    typ: "bogus".into(),
                    path: None,
                })
            }),
        ),
        (
            "CAP_BOGUS",
            Box::new(|b: &mut Bundle| {
                b.process_mut().capabilities = Some(Capabilities {
                    bounding: Some(vec!["CAP_BOGUS".into()]),
                    ..Default::default()
                })
            }),
        ),
        (
            "Operation not permitted",
            Box::new(|b: &mut Bundle| {
                b.process_mut().capabilities = Some(Capabilities {
                    inheritable: Some(vec!["CAP_SYS_ADMIN".into()]),
                    ..Default::default()
                })
            }),
        ),
        (
            "must be device numbers",
            Box::new(|b: &mut Bundle| {
                b.linux_mut().devices = vec![berth_spec::Device {
                    typ: "c".into(),
                    path: "/dev/bad".into(),
                    major: -1,
                    minor: 3,
                    ..Default::default()
                }]
            }),
        ),
        (
            "ociVersion",
            Box::new(|b: &mut Bundle| b.spec.oci_version = "invalid".into()),
        ),
        (
            "RLIMIT_NOFILE",
            Box::new(|b: &mut Bundle| {
                b.process_mut().rlimits = vec![Rlimit {
                    typ: "RLIMIT_NOFILE".into(),
                    hard: u64::MAX,
                    soft: u64::MAX,
                }]
            }),
        ),
        (
            "rootfs",
            Box::new(|b: &mut Bundle| b.spec.root.as_mut().expect("root").path = "missing".into()),
        ),
        (
            "memory",
            Box::new(|b: &mut Bundle| {
                b.linux_mut().resources = Some(Resources {
                    memory: Some(Memory {
                        limit: Some(64 << 20),
                        swap: Some(32 << 20),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
            }),
        ),
        (
            "not found",
            Box::new(|b: &mut Bundle| b.process_mut().args = vec!["no-such-program".into()]),
        ),
    ];
    for (want, edit) in cases {
        let mut b = busybox_bundle(&["true"]);
        edit(&mut b);
        b.write();
        let id = unique_id("bad");
        let o = rt.out(&["create", "--bundle", &b.path().display().to_string(), &id]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{want}: create must fail");
        assert!(err.contains(want), "{want}: {err}");
        assert!(!rt.root.path().join(&id).exists(), "{want}: no state left");
        assert!(cgroup_left(&id).is_empty(), "{want}: no cgroup left");
    }
}

#[test]
fn recursive_read_only_bind_covers_submounts() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let src = tempfile::tempdir().expect("src");
    std::fs::create_dir(src.path().join("sub")).expect("sub");
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(src.path().join("sub"))
        .status()
        .expect("mount");
    assert!(st.success());
    let script = "touch /mnt/a 2>/dev/null && echo top-rw || echo top-ro; \
                  touch /mnt/sub/b 2>/dev/null && echo sub-rw || echo sub-ro";
    let mut b = busybox_bundle(&["sh", "-c", script]);
    let mount = |opts: &[&str]| berth_spec::Mount {
        destination: "/mnt".into(),
        typ: Some("bind".into()),
        source: Some(src.path().display().to_string()),
        options: opts.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    b.spec.mounts.push(mount(&["rbind", "ro"]));
    let (code, out, err) = rt.run(&b, &unique_id("ro"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out, "top-ro\nsub-rw\n",
        "plain ro leaves submounts writable"
    );
    b.spec.mounts.pop();
    b.spec.mounts.push(mount(&["rbind", "rro"]));
    let (code, out, err) = rt.run(&b, &unique_id("rro"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "top-ro\nsub-ro\n");
    let _ = Command::new("umount").arg(src.path().join("sub")).status();
}

#[test]
fn time_namespace_offsets_with_and_without_userns() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    for userns in [false, true] {
        let mut b = busybox_bundle(&["cut", "-d.", "-f1", "/proc/uptime"]);
        let l = b.linux_mut();
        l.namespaces.push(Namespace {
            typ: "time".into(),
            path: None,
        });
        l.time_offsets.insert(
            "boottime".into(),
            berth_spec::TimeOffset {
                secs: 1_000_000_000,
                nanosecs: 0,
            },
        );
        if userns {
            l.namespaces.push(Namespace {
                typ: "user".into(),
                path: None,
            });
            l.uid_mappings = vec![IdMapping {
                container_id: 0,
                host_id: 300000,
                size: 65536,
            }];
            l.gid_mappings = vec![IdMapping {
                container_id: 0,
                host_id: 300000,
                size: 65536,
            }];
        }
        let (code, out, err) = rt.run(&b, &unique_id("timens"));
        assert_eq!(code, 0, "userns={userns}: {err}");
        let up: u64 = out.trim().parse().expect("uptime");
        assert!(
            up >= 1_000_000_000,
            "userns={userns}: uptime {up} shows the offset"
        );
    }
}

/// With a shared PID namespace the created init (still runtime code) is visible to
/// others: its executable must be a read-only private copy, never the host binary.
#[test]
fn runtime_binary_is_out_of_reach_when_pid_namespace_is_shared() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let mut b = busybox_bundle(&["true"]);
    b.linux_mut().namespaces.retain(|n| n.typ != "pid");
    b.write();
    let id = unique_id("seal");
    let _g = rt.guard(&id);
    let pidfile = rt.root.path().join("pid");
    rt.detached(&[
        "create",
        "--pid-file",
        &pidfile.display().to_string(),
        "--bundle",
        &b.path().display().to_string(),
        &id,
    ]);
    let pid = std::fs::read_to_string(&pidfile)
        .expect("pid")
        .trim()
        .to_string();
    let exe = format!("/proc/{pid}/exe");
    let vfs = rustix::fs::statvfs(exe.as_str()).expect("statvfs of the init's exe");
    assert!(
        vfs.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY),
        "init runs from a read-only mount"
    );
    let err = std::fs::OpenOptions::new()
        .write(true)
        .open(&exe)
        .expect_err("must not be writable");
    assert!(
        matches!(err.raw_os_error(), Some(libc::EROFS) | Some(libc::ETXTBSY)),
        "{err}"
    );
    let host = std::fs::metadata(BIN).expect("binary");
    let seen = std::fs::metadata(&exe).expect("exe");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        host.ino(),
        seen.ino(),
        "same file, reached only through the private read-only mount"
    );
}

/// A config without a mount namespace shares the caller's: the container still gets its
/// root and mounts, and `delete` leaves no mount behind in the shared namespace.
#[test]
fn without_mount_namespace_mounts_are_cleaned_up() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let mut b = busybox_bundle(&[
        "sh",
        "-c",
        "readlink /proc/self/ns/mnt; ls /proc/self >/dev/null && echo proc-ok",
    ]);
    b.linux_mut().namespaces.retain(|n| n.typ != "mount");
    // Written the way runtime-tools does ("."-style): the cleanup must still find it.
    b.spec.root.as_mut().expect("root").path = "rootfs/.".into();
    let id = unique_id("nomnt");
    let (code, out, err) = rt.run(&b, &id);
    assert_eq!(code, 0, "{err}");
    let mine = std::fs::read_link("/proc/self/ns/mnt").expect("ns");
    assert_eq!(out, format!("{}\nproc-ok\n", mine.display()));
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let root = b.rootfs().display().to_string();
    assert!(
        !info.contains(&root),
        "mounts under {root} left behind:\n{info}"
    );
}

/// containerd's state paths (`/run/containerd/runc/<namespace>/<64-hex id>`) are longer
/// than a unix socket path may be; create and start must not care.
#[test]
fn long_state_paths_and_ids_work() {
    if !isolated!() {
        return;
    }
    let id = format!("{:0>64}", unique_id("long").replace(['-', '_'], ""));
    let b = busybox_bundle(&["true"]);
    b.write();
    let rt = Rt::new();
    let long_root = rt
        .root
        .path()
        .join("run-containerd-runc-namespace-with-a-long-name-for-the-test");
    let root = long_root.display().to_string();
    let _g = Cleanup::new(|| {
        let _ = Command::new(BIN)
            .args(["--root", &root, "delete", "--force", &id])
            .stdin(Stdio::null())
            .output();
    });
    // The created init keeps the stdio it inherits: give it a file, not a pipe.
    let log = rt.root.path().join("log");
    let run = |args: &[&str]| {
        let f = std::fs::File::create(&log).expect("log");
        let st = Command::new(BIN)
            .args(["--root", &root])
            .args(args)
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup"))
            .stderr(f)
            .status()
            .expect("run");
        assert!(
            st.success(),
            "{args:?}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    };
    run(&["create", "--bundle", &b.path().display().to_string(), &id]);
    run(&["start", &id]);
    run(&["delete", "--force", &id]);
}

/// `run` in the foreground with `process.terminal` and no console socket gives the
/// container a pty of its own, proxied to the caller's terminal (here `script`'s).
#[test]
fn foreground_run_proxies_a_terminal() {
    if !isolated!() {
        return;
    }
    // util-linux's script(1) gives the runtime a terminal; the cgroup v2 VM has only
    // busybox, without it.
    if !Path::new("/usr/bin/script").exists() {
        eprintln!("skipped: no /usr/bin/script here");
        return;
    }
    let rt = Rt::new();
    let mut b = busybox_bundle(&["sh", "-c", "tty; stty size; exit 4"]);
    b.process_mut().terminal = true;
    b.write();
    let id = unique_id("tty");
    let cmd = format!(
        "stty cols 91 rows 27; {BIN} --root {} run --bundle {} {id}",
        rt.root.path().display(),
        b.path().display()
    );
    let o = Command::new("/usr/bin/script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(4), "{out}");
    assert!(
        out.contains("/dev/pts/0"),
        "the container has its own pty: {out}"
    );
    assert!(out.contains("27 91"), "window size passed on: {out}");
}

/// Signals sent to a foreground `exec` reach the process in the container.
#[test]
fn foreground_exec_forwards_signals() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let b = busybox_bundle(&["sleep", "30"]);
    let id = rt.run_detached(&b, "sig");
    let mut child = rt
        .cmd(&[
            "exec",
            &id,
            "sh",
            "-c",
            "trap 'echo got-term; exit 9' TERM; echo ready; sleep 10 >/dev/null & wait",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("exec");
    let pid = child.id() as i32;
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 6];
    use std::io::Read;
    stdout.read_exact(&mut first).expect("ready line");
    assert_eq!(&first, b"ready\n");
    let pid = rustix::process::Pid::from_raw(pid).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("kill");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("rest");
    assert_eq!(rest, "got-term\n");
    assert_eq!(
        child.wait().expect("wait").code(),
        Some(9),
        "the exit status comes back"
    );
    let st = rt.cmd(&["state", &id]).output().expect("state");
    assert!(st.status.success());
}

/// `exec --ignore-paused` joins a frozen container; the process runs once it is resumed.
#[test]
fn exec_ignore_paused_runs_after_resume() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let b = busybox_bundle(&["sleep", "30"]);
    let id = rt.run_detached(&b, "ignpause");
    rt.ok(&["pause", &id]);
    let child = rt
        .cmd(&["exec", "--ignore-paused", &id, "echo", "ran"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("exec");
    std::thread::sleep(std::time::Duration::from_millis(300));
    rt.ok(&["resume", &id]);
    let out = child.wait_with_output().expect("exec output");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
}

/// A startContainer hook runs in the container, with the process's env when it has none.
#[test]
fn start_container_hook_sees_the_process_env() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let mut b = busybox_bundle(&["true"]);
    b.process_mut().env.push("FOO=bar".into());
    b.spec.hooks = Some(berth_spec::Hooks {
        start_container: vec![Hook {
            path: "/bin/sh".into(),
            args: vec![
                "sh".into(),
                "-c".into(),
                "test \"$FOO\" = bar && test -x /bin/busybox".into(),
            ],
            ..Default::default()
        }],
        ..Default::default()
    });
    let (code, _, err) = rt.run(&b, &unique_id("starthook"));
    assert_eq!(code, 0, "{err}");
}

/// `process.scheduler` reaches the kernel: the container's policy and nice value.
#[test]
fn scheduler_policy_is_applied() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    // Field 19 of /proc/self/stat is the nice value, field 41 the policy (3 = SCHED_BATCH).
    let mut b = busybox_bundle(&["sh", "-c", "cut -d' ' -f19,41 /proc/self/stat"]);
    b.process_mut().scheduler = Some(berth_spec::Scheduler {
        policy: "SCHED_BATCH".into(),
        nice: Some(5),
        ..Default::default()
    });
    let (code, out, err) = rt.run(&b, &unique_id("sched"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "5 3");
    b.process_mut().scheduler = None;
    b.process_mut().scheduler = Some(berth_spec::Scheduler {
        policy: "SCHED_BOGUS".into(),
        ..Default::default()
    });
    let (code, _, err) = rt.run(&b, &unique_id("sched"));
    assert_ne!(code, 0);
    assert!(err.contains("process.scheduler.policy"), "{err}");
}

/// A create that fails must not touch a cgroup another container already uses.
#[test]
fn failed_create_leaves_a_shared_cgroup_alone() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let path = format!("/{}", unique_id("berth-shared"));
    let mut a = busybox_bundle(&["sleep", "30"]);
    a.linux_mut().cgroups_path = Some(path.clone());
    let ida = rt.run_detached(&a, "owner");
    let mut b = busybox_bundle(&["no-such-program"]);
    b.linux_mut().cgroups_path = Some(path);
    b.write();
    let o = rt.out(&[
        "create",
        "--bundle",
        &b.path().display().to_string(),
        &unique_id("intruder"),
    ]);
    assert!(!o.status.success());
    assert_eq!(rt.status(&ida), "running", "the other container survives");
}

/// `linux.personality` LINUX32 holds for the init and for exec'd processes.
#[test]
fn personality_linux32_for_init_and_exec() {
    if !isolated!() {
        return;
    }
    let rt = Rt::new();
    let mut b = busybox_bundle(&["sh", "-c", "uname -m; sleep 30"]);
    b.linux_mut().personality = Some(berth_spec::Personality {
        domain: "LINUX32".into(),
        flags: vec![],
    });
    let id = rt.run_detached(&b, "pers");
    assert_eq!(rt.ok(&["exec", &id, "uname", "-m"]).trim(), "i686");
}
