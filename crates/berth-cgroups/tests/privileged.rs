//! Privileged tests of berth-cgroups against the real kernel: run as root.
//!
//! They run on whatever layout the host has (v1/hybrid natively, v2 in the VM lane of
//! `tests/vm/`) and check what a user would see: the limit read back from the kernel's file,
//! a frozen process that stops making progress, a device that cannot be opened. On a hybrid
//! host, the `v2_view_*` tests additionally drive the host's cgroup2 mount on its own (as if
//! the host were pure v2) to exercise freezing, `cgroup.kill`, eBPF device filters and
//! hugetlb through v2 files.
//!
//! Every test works under a fresh `/berth-cgtest-<unique>/` parent, and a guard kills the
//! processes it started and removes the directories, even when an assertion fails.

use anyhow::{bail, ensure, Context, Result};
use berth_cgroups::{Cgroup, Layout};
use berth_spec::{Cpu, DeviceRule, HugepageLimit, Memory, Pids, Resources};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// A test cgroup plus the processes started for it; cleans both up on drop.
struct Fixture {
    cg: Cgroup,
    children: Vec<Child>,
}

impl Fixture {
    /// A cgroup `/berth-cgtest-<unique>/ctr` in the host's own layout.
    fn new(name: &str) -> Result<Fixture> {
        berth_testutil::require_root();
        let path = format!(
            "/{}/ctr",
            berth_testutil::unique_id(&format!("berth-cgtest-{name}"))
        );
        Ok(Fixture {
            cg: Cgroup::open(Some(&path), "ctr")?,
            children: Vec::new(),
        })
    }

    /// The same, but seeing only the host's cgroup2 mount (a pure-v2 view); `None` unless
    /// the host is hybrid.
    fn v2_view(name: &str) -> Result<Option<Fixture>> {
        berth_testutil::require_root();
        if Layout::detect()? != Layout::Hybrid {
            return Ok(None);
        }
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
        let only_v2: String = mountinfo
            .lines()
            .filter(|l| l.contains(" - cgroup2 "))
            .map(|l| format!("{l}\n"))
            .collect();
        let path = format!(
            "/{}/ctr",
            berth_testutil::unique_id(&format!("berth-cgtest-{name}"))
        );
        let cg = Cgroup::open_at(&only_v2, Some(&path), "ctr")?;
        ensure!(cg.layout() == Layout::V2);
        Ok(Some(Fixture {
            cg,
            children: Vec::new(),
        }))
    }

    /// The same, but seeing only the host's v1 hierarchies (a pure-v1 view, where SIGKILL
    /// goes through freeze, kill, thaw); `None` unless the host is hybrid.
    fn v1_view(name: &str) -> Result<Option<Fixture>> {
        berth_testutil::require_root();
        if Layout::detect()? != Layout::Hybrid {
            return Ok(None);
        }
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
        let only_v1: String = mountinfo
            .lines()
            .filter(|l| l.contains(" - cgroup "))
            .map(|l| format!("{l}\n"))
            .collect();
        let path = format!(
            "/{}/ctr",
            berth_testutil::unique_id(&format!("berth-cgtest-{name}"))
        );
        let cg = Cgroup::open_at(&only_v1, Some(&path), "ctr")?;
        ensure!(cg.layout() == Layout::V1);
        Ok(Some(Fixture {
            cg,
            children: Vec::new(),
        }))
    }

    /// Starts `sh -c script` with piped stdio, moved into the cgroup.
    fn spawn(&mut self, script: &str) -> Result<usize> {
        let child = Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawn sh")?;
        let pid = child.id() as i32;
        self.children.push(child);
        self.cg.add_process(pid)?;
        Ok(self.children.len() - 1)
    }

    fn pid(&self, i: usize) -> i32 {
        self.children[i].id() as i32
    }

    /// The directory of `controller` for this cgroup (v1 hierarchy, else the v2 one).
    fn dir(&self, controller: &str) -> Result<PathBuf> {
        let hs = self.cg.hierarchies();
        hs.iter()
            .find(|h| !h.v2 && h.controllers.split(',').any(|c| c == controller))
            .or_else(|| hs.iter().find(|h| h.v2))
            .map(|h| h.path.clone())
            .with_context(|| format!("no hierarchy for {controller}"))
    }

    fn is_v1(&self, controller: &str) -> bool {
        self.cg
            .hierarchies()
            .iter()
            .any(|h| !h.v2 && h.controllers.split(',').any(|c| c == controller))
    }

    fn read(&self, controller: &str, file: &str) -> Result<String> {
        let p = self.dir(controller)?.join(file);
        Ok(std::fs::read_to_string(&p)
            .with_context(|| format!("read {}", p.display()))?
            .trim()
            .to_string())
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.cg.thaw();
        let _ = self.cg.kill_all(libc::SIGKILL);
        if let Err(e) = self.cg.destroy() {
            eprintln!("cleanup: {e}");
        }
        for h in self.cg.hierarchies() {
            if let Some(parent) = h.path.parent() {
                if let Err(e) = berth_testutil::remove_cgroup_dir(parent, Duration::from_secs(5)) {
                    eprintln!("cleanup: {}: {e}", parent.display());
                }
            }
        }
    }
}

/// A shell that answers one line per line it reads, so a test can step it.
struct Stepper {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Stepper {
    fn of(child: &mut Child) -> Result<Stepper> {
        let stdin = child.stdin.take().context("stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("stdout")?);
        Ok(Stepper { stdin, stdout })
    }

    fn ask(&mut self) -> Result<String> {
        self.stdin.write_all(b"go\n")?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        Ok(line.trim().to_string())
    }
}

fn proc_state(pid: i32) -> Result<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("stat format")?;
    after.trim_start().chars().next().context("no state")
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f()? {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("timed out waiting for {what}")
}

#[test]
fn limits_are_written_and_updates_keep_the_rest() -> Result<()> {
    let f = Fixture::new("limits")?;
    f.cg.create()?;
    let mib = 1i64 << 20;
    let mut r = Resources {
        memory: Some(Memory {
            limit: Some(64 * mib),
            swap: Some(128 * mib),
            reservation: Some(32 * mib),
            swappiness: Some(10),
            disable_oom_killer: Some(true),
            ..Default::default()
        }),
        cpu: Some(Cpu {
            shares: Some(512),
            quota: Some(50_000),
            period: Some(100_000),
            cpus: Some("0".into()),
            mems: Some("0".into()),
            ..Default::default()
        }),
        pids: Some(Pids { limit: 20 }),
        ..Default::default()
    };
    let hugetlb = Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists();
    if hugetlb {
        r.hugepage_limits = vec![HugepageLimit {
            page_size: "2MB".into(),
            limit: 4 << 20,
        }];
    }
    f.cg.apply(&r)?;

    if f.is_v1("memory") {
        assert_eq!(
            f.read("memory", "memory.limit_in_bytes")?,
            (64 * mib).to_string()
        );
        assert_eq!(
            f.read("memory", "memory.memsw.limit_in_bytes")?,
            (128 * mib).to_string()
        );
        assert_eq!(
            f.read("memory", "memory.soft_limit_in_bytes")?,
            (32 * mib).to_string()
        );
        assert_eq!(f.read("memory", "memory.swappiness")?, "10");
        assert!(f
            .read("memory", "memory.oom_control")?
            .contains("oom_kill_disable 1"));
    } else {
        assert_eq!(f.read("memory", "memory.max")?, (64 * mib).to_string());
        assert_eq!(
            f.read("memory", "memory.swap.max")?,
            (64 * mib).to_string(),
            "v2 swap.max is the swap part only"
        );
        assert_eq!(f.read("memory", "memory.low")?, (32 * mib).to_string());
    }
    if f.is_v1("cpu") {
        assert_eq!(f.read("cpu", "cpu.shares")?, "512");
        assert_eq!(f.read("cpu", "cpu.cfs_quota_us")?, "50000");
        assert_eq!(f.read("cpu", "cpu.cfs_period_us")?, "100000");
    } else {
        assert_eq!(
            f.read("cpu", "cpu.weight")?,
            "59",
            "512 shares map to weight 59"
        );
        assert_eq!(f.read("cpu", "cpu.max")?, "50000 100000");
    }
    assert_eq!(f.read("cpuset", "cpuset.cpus")?, "0");
    assert_eq!(f.read("cpuset", "cpuset.mems")?, "0");
    assert_eq!(f.read("pids", "pids.max")?, "20");
    if hugetlb {
        let file = if f.is_v1("hugetlb") {
            "hugetlb.2MB.limit_in_bytes"
        } else {
            "hugetlb.2MB.max"
        };
        assert_eq!(f.read("hugetlb", file)?, (4u64 << 20).to_string());
    }

    // An update that sets only some fields leaves the others alone.
    f.cg.apply(&Resources {
        memory: Some(Memory {
            limit: Some(96 * mib),
            ..Default::default()
        }),
        cpu: Some(Cpu {
            quota: Some(25_000),
            ..Default::default()
        }),
        pids: Some(Pids { limit: -1 }),
        ..Default::default()
    })?;
    if f.is_v1("memory") {
        assert_eq!(
            f.read("memory", "memory.limit_in_bytes")?,
            (96 * mib).to_string()
        );
        assert_eq!(
            f.read("memory", "memory.memsw.limit_in_bytes")?,
            (128 * mib).to_string()
        );
    } else {
        assert_eq!(f.read("memory", "memory.max")?, (96 * mib).to_string());
        assert_eq!(f.read("memory", "memory.swap.max")?, (64 * mib).to_string());
    }
    if f.is_v1("cpu") {
        assert_eq!(f.read("cpu", "cpu.cfs_quota_us")?, "25000");
        assert_eq!(f.read("cpu", "cpu.cfs_period_us")?, "100000");
    } else {
        assert_eq!(f.read("cpu", "cpu.max")?, "25000 100000");
    }
    assert_eq!(f.read("pids", "pids.max")?, "max");

    // A memory limit below swap total that the kernel would refuse is caught up front.
    let bad = Resources {
        memory: Some(Memory {
            limit: Some(64 * mib),
            swap: Some(mib),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = f.cg.apply(&bad).expect_err("swap below limit");
    assert!(err.to_string().contains("memory.swap"), "{err}");
    f.cg.destroy()?;
    for h in f.cg.hierarchies() {
        assert!(!h.path.exists(), "{} left behind", h.path.display());
    }
    f.cg.destroy().context("destroy twice is fine")?;
    Ok(())
}

/// Runs the full life of one process: join, stats, freeze, thaw, kill, destroy.
fn lifecycle(f: &mut Fixture) -> Result<()> {
    f.cg.create()?;
    ensure!(f.cg.exists(), "exists after create");
    let out = tempfile::NamedTempFile::new()?;
    let script = format!(
        "while :; do echo x >> {}; sleep 0.02; done",
        out.path().display()
    );
    let i = f.spawn(&script)?;
    let pid = f.pid(i);
    ensure!(
        f.cg.procs()?.contains(&pid),
        "pid {pid} not in {:?}",
        f.cg.procs()?
    );
    let size = || -> Result<u64> { Ok(std::fs::metadata(out.path())?.len()) };
    wait_until("the loop to write", Duration::from_secs(10), || {
        Ok(size()? > 10)
    })?;

    f.cg.freeze()?;
    assert!(f.cg.is_frozen()?);
    let state = proc_state(pid)?;
    std::thread::sleep(Duration::from_millis(100));
    let frozen_size = size()?;
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        size()?,
        frozen_size,
        "a frozen process made progress (state {state})"
    );
    assert!(
        matches!(state, 'D' | 'S'),
        "frozen process in state {state}"
    );

    f.cg.thaw()?;
    assert!(!f.cg.is_frozen()?);
    wait_until("the loop to resume", Duration::from_secs(10), || {
        Ok(size()? > frozen_size)
    })?;

    let s = f.cg.stats()?;
    let json = serde_json::to_value(&s)?;
    eprintln!("stats: {}", serde_json::to_string(&json)?);
    let mem = f.dir("memory")?;
    if mem.join("memory.current").exists() || mem.join("memory.usage_in_bytes").exists() {
        assert!(s.memory.usage.usage > 0, "memory usage is zero");
    }
    assert!(s.cpu.usage.total > 0, "cpu usage is zero");
    if f.dir("pids")?.join("pids.current").exists() {
        assert!(s.pids.current >= 1, "pids.current {}", s.pids.current);
    }

    f.cg.kill_all(libc::SIGKILL)?;
    let status = f.children[i].wait()?;
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    wait_until("the cgroup to empty", Duration::from_secs(10), || {
        Ok(f.cg.procs()?.is_empty())
    })?;
    f.cg.destroy()?;
    ensure!(!f.cg.exists(), "gone after destroy");
    for h in f.cg.hierarchies() {
        assert!(!h.path.exists(), "{} left behind", h.path.display());
    }
    Ok(())
}

#[test]
fn process_lifecycle() -> Result<()> {
    lifecycle(&mut Fixture::new("life")?)
}

/// SIGKILL reaches the processes of a paused (frozen) cgroup.
fn kill_frozen(f: &mut Fixture) -> Result<()> {
    f.cg.create()?;
    let i = f.spawn("read x")?;
    f.cg.freeze()?;
    f.cg.kill_all(libc::SIGKILL)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = f.children[i].try_wait()? {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(libc::SIGKILL));
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "a frozen process survived SIGKILL"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!f.cg.is_frozen()?, "left frozen");
    Ok(())
}

#[test]
fn kill_reaches_a_frozen_cgroup() -> Result<()> {
    kill_frozen(&mut Fixture::new("killfrozen")?)
}

#[test]
fn v1_view_kill_reaches_a_frozen_cgroup() -> Result<()> {
    match Fixture::v1_view("v1killfrozen")? {
        Some(mut f) => kill_frozen(&mut f),
        None => Ok(()),
    }
}

#[test]
fn v2_view_kill_reaches_a_frozen_cgroup() -> Result<()> {
    match Fixture::v2_view("v2killfrozen")? {
        Some(mut f) => kill_frozen(&mut f),
        None => Ok(()),
    }
}

#[test]
fn v1_view_process_lifecycle() -> Result<()> {
    match Fixture::v1_view("v1life")? {
        Some(mut f) => lifecycle(&mut f),
        None => Ok(()),
    }
}

#[test]
fn v2_view_process_lifecycle() -> Result<()> {
    match Fixture::v2_view("v2life")? {
        Some(mut f) => lifecycle(&mut f),
        None => Ok(()),
    }
}

/// Denies /dev/null (1:3) while allowing /dev/zero (1:5), then allows both with an update.
fn devices(f: &mut Fixture) -> Result<()> {
    f.cg.create()?;
    let deny_null = Resources {
        devices: vec![
            DeviceRule::new(false, "a", None, None, "rwm"),
            DeviceRule::new(true, "c", Some(1), Some(5), "rwm"),
        ],
        ..Default::default()
    };
    f.cg.apply(&deny_null)?;
    let i = f.spawn(
        "while read x; do \
           if (exec 3</dev/null); then n=ok; else n=denied; fi; \
           if (exec 3</dev/zero); then z=ok; else z=denied; fi; \
           echo null=$n zero=$z; done",
    )?;
    let mut step = Stepper::of(&mut f.children[i])?;
    assert_eq!(step.ask()?, "null=denied zero=ok");
    if f.is_v1("devices") {
        let list = f.read("devices", "devices.list")?;
        assert_eq!(list, "c 1:5 rwm", "devices.list");
    }

    let mut both = deny_null.clone();
    both.devices
        .push(DeviceRule::new(true, "c", Some(1), Some(3), "rw"));
    f.cg.apply(&both)?;
    assert_eq!(step.ask()?, "null=ok zero=ok");
    if f.is_v1("devices") {
        let list = f.read("devices", "devices.list")?;
        assert_eq!(list, "c 1:5 rwm\nc 1:3 rw", "devices.list after the update");
    }
    if !f.is_v1("devices") {
        assert_eq!(
            f.cg.device_programs()?,
            1,
            "the update replaced the old program"
        );
    }
    Ok(())
}

#[test]
fn devices_deny_and_allow() -> Result<()> {
    devices(&mut Fixture::new("dev")?)
}

#[test]
fn v2_view_devices_by_ebpf() -> Result<()> {
    match Fixture::v2_view("v2dev")? {
        Some(mut f) => devices(&mut f),
        None => Ok(()),
    }
}

#[test]
fn pids_limit_stops_forks() -> Result<()> {
    let mut f = Fixture::new("pids")?;
    f.cg.create()?;
    f.cg.apply(&Resources {
        pids: Some(Pids { limit: 2 }),
        ..Default::default()
    })?;
    let i = f.spawn(
        "read x; for n in 1 2 3 4; do sleep 30 </dev/null >/dev/null 2>&1 & done; echo started",
    )?;
    let child = &mut f.children[i];
    child.stdin.take().context("stdin")?.write_all(b"go\n")?;
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().context("stderr")?, &mut err)?;
    child.wait()?;
    let n = f.cg.procs()?.len();
    assert!((1..=2).contains(&n), "{n} processes under pids.max=2");
    assert!(err.contains("fork"), "no fork failure reported: {err:?}");
    Ok(())
}

#[test]
fn oom_kill_is_reported() -> Result<()> {
    let mut f = Fixture::new("oom")?;
    f.cg.create()?;
    let limit = 16i64 << 20;
    f.cg.apply(&Resources {
        memory: Some(Memory {
            limit: Some(limit),
            swap: Some(limit),
            ..Default::default()
        }),
        ..Default::default()
    })?;
    assert!(!f.cg.oom_killed()?);
    let i = f.spawn("x=$(head -c 64000000 /dev/zero | tr '\\0' a); echo survived")?;
    let status = f.children[i].wait()?;
    assert!(
        !status.success(),
        "the shell survived a 64 MB string under a 16 MiB limit"
    );
    wait_until("oom_kill to be counted", Duration::from_secs(5), || {
        Ok(f.cg.oom_killed()?)
    })?;
    Ok(())
}

#[test]
fn unsupported_requests_name_the_field() -> Result<()> {
    let f = Fixture::new("unsup")?;
    f.cg.create()?;
    let r = Resources {
        hugepage_limits: vec![HugepageLimit {
            page_size: "4MB".into(),
            limit: 0,
        }],
        ..Default::default()
    };
    let err =
        f.cg.apply(&r)
            .expect_err("4MB pages do not exist on x86")
            .to_string();
    assert!(err.contains("hugepageLimits[0].pageSize"), "{err}");
    if f.cg.layout() != Layout::V2 {
        let r = Resources {
            network: Some(berth_spec::Network {
                class_id: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        };
        if !f
            .cg
            .hierarchies()
            .iter()
            .any(|h| h.controllers.contains("net_cls"))
        {
            let err = f.cg.apply(&r).expect_err("no net_cls here").to_string();
            assert!(err.contains("network.classID"), "{err}");
        }
    }
    Ok(())
}

/// A block device of this machine as (major, minor), if there is one.
fn some_block_device() -> Option<(i64, i64)> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names.iter().find_map(|n| {
        let dev = std::fs::read_to_string(format!("/sys/block/{n}/dev")).ok()?;
        let (a, b) = dev.trim().split_once(':')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    })
}

#[test]
fn block_io_throttles_and_weights() -> Result<()> {
    let f = Fixture::new("io")?;
    f.cg.create()?;
    let Some((major, minor)) = some_block_device() else {
        eprintln!("no block device: skipped");
        return Ok(());
    };
    eprintln!("block device {major}:{minor}");
    let throttle = |rate| berth_spec::ThrottleDevice { major, minor, rate };
    let r = Resources {
        block_io: Some(berth_spec::BlockIo {
            throttle_read_bps_device: vec![throttle(1 << 20)],
            throttle_write_iops_device: vec![throttle(100)],
            ..Default::default()
        }),
        ..Default::default()
    };
    f.cg.apply(&r)?;
    if f.is_v1("blkio") {
        assert_eq!(
            f.read("blkio", "blkio.throttle.read_bps_device")?,
            format!("{major}:{minor} 1048576")
        );
        assert_eq!(
            f.read("blkio", "blkio.throttle.write_iops_device")?,
            format!("{major}:{minor} 100")
        );
    } else {
        assert_eq!(
            f.read("io", "io.max")?,
            format!("{major}:{minor} rbps=1048576 wbps=max riops=max wiops=100")
        );
    }
    let weight = Resources {
        block_io: Some(berth_spec::BlockIo {
            weight: Some(500),
            ..Default::default()
        }),
        ..Default::default()
    };
    let dir = f.dir(if f.is_v1("blkio") { "blkio" } else { "io" })?;
    let file = [
        "blkio.bfq.weight",
        "blkio.weight",
        "io.bfq.weight",
        "io.weight",
    ]
    .into_iter()
    .find(|n| dir.join(n).exists());
    match file {
        Some(file) => {
            f.cg.apply(&weight)?;
            let got = std::fs::read_to_string(dir.join(file))?;
            let want = if file == "io.weight" {
                "default 4950"
            } else {
                "500"
            };
            assert!(got.contains(want), "{file}: {got:?}, want {want}");
        }
        None => {
            let err =
                f.cg.apply(&weight)
                    .expect_err("no weight file here")
                    .to_string();
            assert!(
                err.contains("blockIO.weight") && err.contains("not supported"),
                "{err}"
            );
        }
    }
    Ok(())
}

#[test]
fn unified_map_is_written_verbatim() -> Result<()> {
    let f = Fixture::new("unified")?;
    f.cg.create()?;
    let (key, value, want) = match f.cg.layout() {
        Layout::V2 => ("memory.high", "50M", "52428800"),
        Layout::Hybrid if Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() => {
            ("hugetlb.2MB.max", "2097152", "2097152")
        }
        _ => {
            let r = Resources {
                unified: [("memory.high".to_string(), "1".to_string())].into(),
                ..Default::default()
            };
            let err = f.cg.apply(&r).expect_err("no v2 hierarchy").to_string();
            assert!(err.contains("unified"), "{err}");
            return Ok(());
        }
    };
    f.cg.apply(&Resources {
        unified: [(key.to_string(), value.to_string())].into(),
        ..Default::default()
    })?;
    let v2 =
        f.cg.hierarchies()
            .into_iter()
            .find(|h| h.v2)
            .context("v2 hierarchy")?;
    assert_eq!(std::fs::read_to_string(v2.path.join(key))?.trim(), want);
    let r = Resources {
        unified: [("nosuch.file".to_string(), "1".to_string())].into(),
        ..Default::default()
    };
    let err = f.cg.apply(&r).expect_err("no such file").to_string();
    assert!(err.contains("unified[\"nosuch.file\"]"), "{err}");
    Ok(())
}

#[test]
fn sub_cgroups_are_listed_signalled_and_removed() -> Result<()> {
    let mut f = Fixture::new("sub")?;
    f.cg.create()?;
    let a = f.spawn("read x")?;
    let b = f.spawn("read x")?;
    let pid_b = f.pid(b);
    for h in f.cg.hierarchies() {
        let sub = h.path.join("sub");
        std::fs::create_dir(&sub)?;
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if !h.v2 && sub.join(file).exists() {
                std::fs::write(
                    sub.join(file),
                    std::fs::read_to_string(h.path.join(file))?.trim(),
                )?;
            }
        }
        std::fs::write(sub.join("cgroup.procs"), pid_b.to_string())?;
    }
    let procs = f.cg.procs()?;
    assert!(
        procs.contains(&f.pid(a)) && procs.contains(&pid_b),
        "{procs:?}"
    );
    f.cg.kill_all(libc::SIGTERM)?;
    use std::os::unix::process::ExitStatusExt;
    for i in [a, b] {
        assert_eq!(f.children[i].wait()?.signal(), Some(libc::SIGTERM));
    }
    f.cg.destroy()?;
    for h in f.cg.hierarchies() {
        assert!(!h.path.exists(), "{} left behind", h.path.display());
    }
    Ok(())
}
