//! The default spec, run for real by berth-runtime: a busybox container checks from inside
//! what the generator promised (capabilities without NET_RAW, masked and read-only
//! `/proc` paths, seccomp in filter mode, no `/dev/net/tun`, ping without raw sockets,
//! namespace and mount syscalls refused).
//!
//! Needs root and the `berth-runtime` binary next to this test's directory
//! (`cargo build -p berth-runtime-cli` with the same target dir).

use berth_model::docker::{ContainerConfig, HostConfig};
use berth_specgen::{generate, GenerateInput, MountSource, MountSpec, DEFAULT_CAPABILITIES};
use berth_testutil::{busybox_bundle, isolated, unique_id, Cleanup};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn runtime() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("berth-runtime"))
        .expect("target directory");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p berth-runtime-cli` with this target dir",
        bin.display()
    );
    bin
}

/// Run with the host's Python (its /usr bind-mounted read-only): ping 127.0.0.1 through an
/// ICMP datagram socket (what iputils' ping does without CAP_NET_RAW), check that a raw
/// socket is refused, and start a thread (glibc tries clone3 first, which the profile
/// answers with ENOSYS so it falls back to the filtered clone).
const PY: &str = r#"
import socket, struct, threading
try:
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    print("raw=allowed")
except PermissionError:
    print("raw=EPERM")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
s.settimeout(3)
s.sendto(struct.pack("!BBHHH", 8, 0, 0, 0, 1) + b"berth", ("127.0.0.1", 0))
data, _ = s.recvfrom(1024)
print("icmp_reply_type=%d" % data[0])
t = threading.Thread(target=lambda: print("thread=ok"))
t.start()
t.join()
"#;

const SCRIPT: &str = r#"
grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status
if [ -e /proc/kcore ]; then echo kcore=$(wc -c < /proc/kcore); else echo kcore=absent; fi
echo timer_list=$(wc -c < /proc/timer_list)
awk '$5=="/proc/sys"{print "procsys=" substr($6,1,2)}' /proc/self/mountinfo
if [ -e /dev/net/tun ]; then echo tun=present; else echo tun=absent; fi
echo pgr=$(cat /proc/sys/net/ipv4/ping_group_range)
/usr/bin/python3 -S -c "$PY"; echo python=$?
/bin/unshare -U true 2>&1; echo unshare=$?
/bin/mount -t tmpfs t /tmp 2>&1; echo mount=$?
ps -o pid,comm | awk '$1=="1"{print "pid1=" $2}'
echo hostname=$(hostname)
echo done
"#;

#[test]
fn default_spec_confines_a_busybox_container() {
    if !isolated!() {
        return;
    }
    let bin = runtime();
    // The container joins this test's private network namespace, whose loopback we bring
    // up: the runtime leaves interfaces alone, and ping needs a route to 127.0.0.1.
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("run ip");
    assert!(up.success(), "ip link set lo up failed");

    let mut bundle = busybox_bundle(&["sh", "-c", SCRIPT]);
    // Merged-/usr layout, so the host's dynamic Python finds its loader and libraries.
    for (link, target) in [("lib", "usr/lib"), ("lib64", "usr/lib64")] {
        std::os::unix::fs::symlink(target, bundle.rootfs().join(link)).expect("symlink");
    }
    std::fs::create_dir_all(bundle.rootfs().join("usr")).expect("usr");
    let id = unique_id("specgen");
    let etc = bundle.path().join("etc-files");
    std::fs::create_dir_all(&etc).expect("etc-files");
    for (f, content) in [
        ("hostname", "specgen-box\n"),
        ("hosts", "127.0.0.1 localhost\n"),
        ("resolv.conf", "nameserver 127.0.0.1\n"),
    ] {
        std::fs::write(etc.join(f), content).expect("write etc file");
    }
    let file = |f: &str| Some(etc.join(f).display().to_string());
    let input = GenerateInput {
        id: format!("{id}-0123456789abcdef"),
        config: ContainerConfig {
            cmd: Some(vec!["sh".into(), "-c".into(), SCRIPT.into()]),
            hostname: Some("specgen-box".into()),
            env: Some(vec![format!("PY={PY}")]),
            ..Default::default()
        },
        host: HostConfig::default(),
        rootfs: bundle.rootfs(),
        hostname_path: file("hostname"),
        hosts_path: file("hosts"),
        resolv_conf_path: file("resolv.conf"),
        mounts: vec![MountSpec {
            destination: "/usr".into(),
            source: MountSource::Bind {
                path: "/usr".into(),
                create: false,
            },
            read_only: true,
            propagation: "rprivate".into(),
            recursive: true,
        }],
        network_ns_path: Some(format!("/proc/{}/ns/net", std::process::id())),
        cgroups_path: format!("/{id}"),
        cgroup_v2: berth_specgen::host_cgroup_v2(),
        ..Default::default()
    };
    bundle.spec = generate(&input).expect("generate");
    bundle.write();

    let root = tempfile::tempdir().expect("state root");
    let _delete = Cleanup::new(|| {
        let _ = Command::new(&bin)
            .arg("--root")
            .arg(root.path())
            .args(["delete", "--force", &id])
            .stdin(Stdio::null())
            .output();
        // The runtime removes the cgroup on delete; this catches a failed run's leftovers
        // in the v2 tree or any v1 hierarchy.
        let mut dirs = vec![PathBuf::from("/sys/fs/cgroup").join(&id)];
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            dirs.extend(rd.flatten().map(|e| e.path().join(&id)));
        }
        for d in dirs {
            let _ = berth_testutil::remove_cgroup_dir(&d, Duration::from_secs(5));
        }
    });
    let out = Command::new(&bin)
        .arg("--root")
        .arg(root.path())
        .args(["run", "--bundle"])
        .arg(bundle.path())
        .arg(&id)
        .stdin(Stdio::null())
        .output()
        .expect("run berth-runtime");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "container failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let field = |k: &str| -> String {
        stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!("{k}="))
                    .or_else(|| l.strip_prefix(&format!("{k}:")))
            })
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {k} in output:\n{stdout}\n{stderr}"))
    };
    assert!(stdout.contains("done"), "{stdout}\n{stderr}");

    let want: u64 = DEFAULT_CAPABILITIES
        .iter()
        .map(|c| {
            let i = berth_specgen::caps::ALL_CAPABILITIES
                .iter()
                .position(|a| a == c)
                .expect("known cap");
            1u64 << i
        })
        .sum();
    let cap_eff = u64::from_str_radix(&field("CapEff"), 16).expect("CapEff hex");
    assert_eq!(cap_eff, want, "CapEff {cap_eff:#x}, want {want:#x}");
    assert_eq!(cap_eff & (1 << 13), 0, "no CAP_NET_RAW");
    assert_eq!(field("Seccomp"), "2", "seccomp filter mode");
    assert_eq!(field("NoNewPrivs"), "0");
    // This kernel may lack /proc/kcore; where it exists it must read as empty.
    assert!(
        ["0", "absent"].contains(&field("kcore").as_str()),
        "/proc/kcore masked"
    );
    let host_timers = std::fs::read_to_string("/proc/timer_list").unwrap_or_default();
    assert!(
        !host_timers.is_empty(),
        "the host's /proc/timer_list has content"
    );
    assert_eq!(field("timer_list"), "0", "/proc/timer_list masked");
    assert_eq!(field("procsys"), "ro", "/proc/sys read-only");
    assert_eq!(field("tun"), "absent");
    assert_eq!(
        field("pgr").split_whitespace().collect::<Vec<_>>(),
        ["0", "2147483647"]
    );
    assert_eq!(field("python"), "0", "python ran:\n{stdout}\n{stderr}");
    assert_eq!(field("raw"), "EPERM", "no raw sockets without CAP_NET_RAW");
    assert_eq!(
        field("icmp_reply_type"),
        "0",
        "echo reply through an ICMP datagram socket"
    );
    assert_eq!(field("thread"), "ok");
    assert_ne!(field("unshare"), "0", "unshare -U must fail");
    // Creating a user namespace needs no capability, so this EPERM is seccomp's.
    assert!(
        stdout.contains("unshare(0x10000000): Operation not permitted"),
        "unshare refused with EPERM:\n{stdout}"
    );
    assert_ne!(field("mount"), "0", "mount must fail");
    assert!(
        stdout.contains("permission denied"),
        "mount refused with EPERM:\n{stdout}"
    );
    assert_eq!(field("pid1"), "sh", "ps works and sh is PID 1");
    assert_eq!(field("hostname"), "specgen-box");
}
