//! The helpers do what their docs promise, checked the way a test author relies on them.

use berth_testutil::{busybox_bundle, default_spec, isolated, unique_id, Cleanup};
use std::path::{Path, PathBuf};
use std::process::Command;

fn ns_link(pid: &str, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn mounted(path: &Path) -> bool {
    let target = path.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(target.as_str()))
}

fn scratch(pid: u32) -> PathBuf {
    std::env::temp_dir().join(format!("berth-isolation-{pid}"))
}

#[test]
fn isolated_runs_the_body_in_private_namespaces() {
    if !isolated!() {
        // Parent: the child's mount did not reach us.
        let dir = scratch(std::process::id());
        let _rm = Cleanup::new(|| {
            let _ = std::fs::remove_dir(scratch(std::process::id()));
        });
        assert!(
            !mounted(&dir),
            "a mount made by the isolated test leaked to the host"
        );
        return;
    }
    assert_ne!(
        ns_link("self", "mnt"),
        ns_link("1", "mnt"),
        "mount namespace not new"
    );
    assert_ne!(
        ns_link("self", "net"),
        ns_link("1", "net"),
        "network namespace not new"
    );
    let dir = scratch(std::os::unix::process::parent_id());
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "isolated", &dir.display().to_string()])
        .status()
        .expect("run mount");
    assert!(st.success(), "mount tmpfs: {st}");
    assert!(mounted(&dir));
}

#[test]
#[should_panic(expected = "did not run exactly that test")]
fn isolated_rejects_a_wrong_test_name() {
    isolated("no_such_test");
}

#[test]
fn busybox_bundle_rootfs_runs_applets() {
    if !isolated!() {
        return;
    }
    let bundle = busybox_bundle(&["echo", "hi"]);
    let cfg = bundle.write();
    let spec = berth_spec::Spec::load(&cfg).expect("config.json parses");
    assert_eq!(spec.process.expect("process").args, vec!["echo", "hi"]);
    let out = Command::new("chroot")
        .arg(bundle.rootfs())
        .args([
            "sh",
            "-c",
            "id -un; ls /bin/busybox; cat /etc/group | head -n1",
        ])
        .output()
        .expect("run chroot");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chroot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "root\n/bin/busybox\nroot:x:0:\n");
    let dir = bundle.path().to_path_buf();
    drop(bundle);
    assert!(!dir.exists(), "bundle directory outlived the Bundle");
}

#[test]
fn default_spec_has_the_usual_namespaces_and_mounts() {
    let spec = default_spec();
    let linux = spec.linux.expect("linux");
    let ns: Vec<_> = linux.namespaces.iter().map(|n| n.typ.as_str()).collect();
    assert_eq!(ns, ["pid", "network", "ipc", "uts", "mount", "cgroup"]);
    let dests: Vec<_> = spec.mounts.iter().map(|m| m.destination.as_str()).collect();
    assert_eq!(
        dests,
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/dev/shm",
            "/dev/mqueue",
            "/sys"
        ]
    );
    assert!(!spec.process.expect("process").terminal);
}

#[test]
fn cleanup_kills_the_process_and_removes_the_cgroup() {
    if !isolated!() {
        return;
    }
    let base = Path::new("/sys/fs/cgroup/pids");
    let base = if base.is_dir() {
        base
    } else {
        Path::new("/sys/fs/cgroup")
    };
    let cg = base.join(unique_id("berth-testutil"));
    let mut child = Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("spawn sleep");
    let pid = child.id() as i32;
    {
        let _cg = Cleanup::cgroup_dir(&cg);
        let _kill = Cleanup::kill_pid(pid);
        std::fs::create_dir_all(cg.join("sub")).expect("create cgroup");
        std::fs::write(cg.join("sub/cgroup.procs"), pid.to_string()).expect("move sleep");
        // Guards drop in reverse order: the kill runs first, then the rmdir retries until
        // the killed process has left the cgroup.
    }
    let status = child.wait().expect("wait sleep");
    assert!(!status.success(), "sleep was not killed");
    assert!(!cg.exists(), "cgroup {} left behind", cg.display());
}
