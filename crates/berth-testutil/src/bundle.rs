//! Busybox bundles for tests: a rootfs made of the host's static busybox and a default spec.

use berth_spec::{Linux, Process, Spec};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian's `busybox-static` installs the binary copied into every test rootfs.
pub const BUSYBOX: &str = "/bin/busybox";

/// An OCI bundle in a temporary directory, removed on drop.
///
/// The rootfs is `dir/rootfs`; `config.json` is written by [`Bundle::write`] from
/// [`Bundle::spec`], so a test edits the spec first and then writes it.
#[derive(Debug)]
pub struct Bundle {
    /// The bundle directory (holds `rootfs/` and, after [`Bundle::write`], `config.json`).
    pub dir: tempfile::TempDir,
    /// The configuration that [`Bundle::write`] serializes.
    pub spec: Spec,
}

impl Bundle {
    /// The bundle directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The root filesystem directory.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// The path of `config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }

    /// Mutable access to the process (always present in a bundle made here).
    pub fn process_mut(&mut self) -> &mut Process {
        self.spec.process.get_or_insert_with(Process::default)
    }

    /// Mutable access to the `linux` section (always present in a bundle made here).
    pub fn linux_mut(&mut self) -> &mut Linux {
        self.spec.linux.get_or_insert_with(Linux::default)
    }

    /// Writes [`Bundle::spec`] to `config.json`; returns its path.
    pub fn write(&self) -> PathBuf {
        let path = self.config_path();
        let json = serde_json::to_vec_pretty(&self.spec)
            .unwrap_or_else(|e| panic!("cannot serialize the spec: {e}"));
        std::fs::write(&path, json)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }
}

/// Makes a bundle whose process runs `args` (e.g. `&["sh", "-c", "echo hi"]`).
///
/// The directory is created under `$BERTH_TEST_TMPDIR` if set, else the system temporary
/// directory (`$TMPDIR`, `/tmp`). Inside the cgroup v2 VM, point either at a tmpfs: the
/// initramfs root is ramfs, which `pivot_root` cannot leave. `config.json` is not written
/// yet: call [`Bundle::write`] after adjusting [`Bundle::spec`].
pub fn busybox_bundle(args: &[&str]) -> Bundle {
    let base = std::env::var_os("BERTH_TEST_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("berth-bundle-")
        .tempdir_in(&base)
        .unwrap_or_else(|e| {
            panic!(
                "cannot create a bundle directory in {}: {e}",
                base.display()
            )
        });
    let rootfs = dir.path().join("rootfs");
    make_rootfs(&rootfs);
    let mut spec = default_spec();
    if let Some(p) = spec.process.as_mut() {
        p.args = args.iter().map(|a| a.to_string()).collect();
    }
    Bundle { dir, spec }
}

fn make_rootfs(rootfs: &Path) {
    let fail = |what: &str, path: &Path, e: std::io::Error| -> ! {
        panic!("cannot {what} {}: {e}", path.display())
    };
    for sub in ["bin", "etc", "proc", "sys", "dev", "tmp", "root"] {
        let p = rootfs.join(sub);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| fail("create", &p, e));
    }
    let tmp = rootfs.join("tmp");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777))
        .unwrap_or_else(|e| fail("chmod", &tmp, e));

    let host = Path::new(BUSYBOX);
    check_static(host);
    // A copy, not a hard link: a container that writes to its /bin/busybox must not be able
    // to change the host's.
    let bb = rootfs.join("bin/busybox");
    std::fs::copy(host, &bb).unwrap_or_else(|e| fail("copy busybox to", &bb, e));
    let list = Command::new(host)
        .arg("--list")
        .output()
        .unwrap_or_else(|e| fail("run", host, e));
    if !list.status.success() {
        panic!("{BUSYBOX} --list failed: {}", list.status);
    }
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet == "busybox" || applet.contains('/') {
            continue;
        }
        let link = rootfs.join("bin").join(applet);
        symlink("busybox", &link).unwrap_or_else(|e| fail("symlink", &link, e));
    }
    for (name, body) in [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
        ("etc/hosts", "127.0.0.1 localhost\n"),
    ] {
        let p = rootfs.join(name);
        std::fs::write(&p, body).unwrap_or_else(|e| fail("write", &p, e));
    }
}

/// A dynamically linked busybox (Debian's `busybox` rather than `busybox-static`) fails in
/// the container with a confusing ENOENT for its missing loader; say so up front.
fn check_static(path: &Path) {
    use std::io::Read;
    let mut head = Vec::with_capacity(8192);
    std::fs::File::open(path)
        .and_then(|f| f.take(8192).read_to_end(&mut head))
        .unwrap_or_else(|e| {
            panic!(
                "cannot read {} ({e}): apt-get install busybox-static",
                path.display()
            )
        });
    if head
        .windows(8)
        .any(|w| w == b"/lib64/l" || w == b"/lib/ld-")
    {
        panic!(
            "{} is dynamically linked: apt-get install busybox-static",
            path.display()
        );
    }
}

/// The default spec of a test bundle: what `runc spec` writes, except the root is writable
/// (tests check files the container wrote) and there is no cgroup mount (add one where a
/// test reads its limits from inside).
///
/// See [`berth_spec::defaults::default_spec`]; besides, the terminal is off and the
/// hostname is `berth-test`.
pub fn default_spec() -> Spec {
    let mut spec = berth_spec::defaults::default_spec(None);
    if let Some(root) = spec.root.as_mut() {
        root.readonly = false;
    }
    spec.mounts.retain(|m| m.destination != "/sys/fs/cgroup");
    if let Some(p) = spec.process.as_mut() {
        p.terminal = false;
    }
    spec.hostname = Some("berth-test".into());
    spec
}
