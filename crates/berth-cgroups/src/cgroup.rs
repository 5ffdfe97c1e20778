//! [`Cgroup`]: one container's directories across the hierarchies, and the operations on
//! them. Which hierarchy serves a controller is decided here ([`Cgroup::target`]); the
//! file formats live in [`crate::v1`] and [`crate::v2`].

use crate::devices::DeviceRules;
use crate::fsutil::{procs_recursive, remove_tree, write};
use crate::mountinfo::{Layout, Mounts};
use crate::stats::{self, Stats};
use crate::{convert, devices_bpf, v1, v2, validate, Error, Result};
use berth_spec::{Cpu, Memory, Resources};
use std::path::{Path, PathBuf};

/// A mounted hierarchy and this cgroup's directory in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Directory name under `/sys/fs/cgroup`: the mountpoint's last component for v1
    /// (`cpu,cpuacct`, `memory`, `systemd`) and for the v2 mount of a hybrid host
    /// (`unified`); empty for the v2 mount of a pure v2 host, which is `/sys/fs/cgroup`
    /// itself.
    pub controllers: String,
    /// Where the hierarchy is mounted on the host.
    pub mountpoint: PathBuf,
    /// This cgroup's directory (absolute).
    pub path: PathBuf,
    /// True for the cgroup2 hierarchy.
    pub v2: bool,
    /// v1: the hierarchy's controllers as mount options (`["cpu", "cpuacct"]`,
    /// `["name=systemd"]`), i.e. what `mount -t cgroup -o <these joined by ,>` needs to mount
    /// it again inside a cgroup namespace. v2: empty.
    pub subsystems: Vec<String>,
}

#[derive(Debug, Clone)]
struct V1Dir {
    controllers: Vec<String>,
    hierarchy: Hierarchy,
}

#[derive(Debug, Clone)]
struct V2Dir {
    /// Controllers the v2 root offers (`cgroup.controllers`).
    controllers: Vec<String>,
    hierarchy: Hierarchy,
}

/// Where a controller's files are.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    V1(&'a Path),
    V2(&'a Path),
}

/// One container's cgroup in every hierarchy of the host. Cheap to clone; holds no
/// descriptors.
#[derive(Debug, Clone)]
pub struct Cgroup {
    layout: Layout,
    path: String,
    v1: Vec<V1Dir>,
    v2: Option<V2Dir>,
    hugepages_dir: PathBuf,
}

/// Normalises an OCI `cgroupsPath` into an absolute cgroup path (`/a/b`), rejecting `..`.
fn normalize(cgroups_path: Option<&str>, id: &str) -> Result<String> {
    let raw = match cgroups_path {
        Some(p) if !p.is_empty() => p.to_string(),
        _ => {
            if id.is_empty() || id.contains('/') || id == "." || id == ".." {
                return Err(Error::Other(format!(
                    "container id {id:?} cannot name a cgroup"
                )));
            }
            format!("/berth/{id}")
        }
    };
    if !raw.contains('/') && raw.split(':').count() == 3 {
        return Err(Error::Other(format!(
            "cgroupsPath {raw:?} is in systemd's slice:prefix:name form; berth drives cgroupfs \
             directly and needs a path such as /berth/{id}"
        )));
    }
    let mut parts = Vec::new();
    for comp in raw.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                return Err(Error::Other(format!(
                    "cgroupsPath {raw:?} must not contain \"..\""
                )))
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err(Error::Other(format!(
            "cgroupsPath {raw:?} names the root cgroup"
        )));
    }
    Ok(format!("/{}", parts.join("/")))
}

/// The directory of cgroup `path` in a hierarchy mounted at `mountpoint` whose mount root
/// is the cgroup `root` (not `/` in a cgroup namespace or under a bind mount).
fn dir_in(mountpoint: &Path, root: &str, path: &str) -> PathBuf {
    let rel = match path.strip_prefix(root) {
        Some(rest) if root != "/" && (rest.is_empty() || rest.starts_with('/')) => rest,
        _ => path,
    };
    mountpoint.join(rel.trim_start_matches('/'))
}

fn base_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Cgroup {
    /// Resolves the cgroup's directories from this process's `/proc/self/mountinfo`. No
    /// filesystem change. `cgroups_path` is the OCI `linux.cgroupsPath`: absolute or
    /// relative, both taken from each hierarchy's root (as runc does); `None` means
    /// `/berth/<id>`.
    pub fn open(cgroups_path: Option<&str>, id: &str) -> Result<Cgroup> {
        Cgroup::open_at(&crate::mountinfo::read_proc()?, cgroups_path, id)
    }

    /// Like [`Cgroup::open`], with the mountinfo text given: tests point it at fixture
    /// directories.
    pub fn open_at(mountinfo: &str, cgroups_path: Option<&str>, id: &str) -> Result<Cgroup> {
        let mounts = Mounts::parse(mountinfo)?;
        let layout = mounts.layout()?;
        let path = normalize(cgroups_path, id)?;
        let v1 = mounts
            .v1
            .iter()
            .map(|m| V1Dir {
                controllers: m.controllers.clone(),
                hierarchy: Hierarchy {
                    controllers: base_name(&m.mountpoint),
                    mountpoint: m.mountpoint.clone(),
                    path: dir_in(&m.mountpoint, &m.root, &path),
                    v2: false,
                    subsystems: m.controllers.clone(),
                },
            })
            .collect();
        let v2 = mounts.v2.as_ref().map(|m| {
            let available = std::fs::read_to_string(m.mountpoint.join("cgroup.controllers"))
                .unwrap_or_default();
            V2Dir {
                controllers: available.split_whitespace().map(str::to_string).collect(),
                hierarchy: Hierarchy {
                    controllers: if layout == Layout::V2 {
                        String::new()
                    } else {
                        base_name(&m.mountpoint)
                    },
                    mountpoint: m.mountpoint.clone(),
                    path: dir_in(&m.mountpoint, &m.root, &path),
                    v2: true,
                    subsystems: Vec::new(),
                },
            }
        });
        Ok(Cgroup {
            layout,
            path,
            v1,
            v2,
            hugepages_dir: "/sys/kernel/mm/hugepages".into(),
        })
    }

    /// Uses `dir` instead of `/sys/kernel/mm/hugepages` to learn the huge page sizes.
    pub fn with_hugepages_dir(mut self, dir: impl Into<PathBuf>) -> Cgroup {
        self.hugepages_dir = dir.into();
        self
    }

    /// The layout of the host.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The cgroup path (`/berth/<id>`), the same in every hierarchy.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Checks resource values before anything is created; the error names the field.
    pub fn validate(resources: &Resources) -> Result<()> {
        validate::validate(resources)
    }

    /// The hierarchy serving `controller`: its v1 hierarchy if mounted, else the v2 one if
    /// it offers the controller (`v2_name`; `None` for core v2 features every cgroup has,
    /// like freezing and device filters).
    pub(crate) fn target(&self, controller: &str, v2_name: Option<&str>) -> Option<Target<'_>> {
        if let Some(d) = self
            .v1
            .iter()
            .find(|d| d.controllers.iter().any(|c| c == controller))
        {
            return Some(Target::V1(&d.hierarchy.path));
        }
        let v2 = self.v2.as_ref()?;
        match v2_name {
            None => Some(Target::V2(&v2.hierarchy.path)),
            Some(_) if self.layout == Layout::V2 => Some(Target::V2(&v2.hierarchy.path)),
            Some(n) if v2.controllers.iter().any(|c| c == n) => {
                Some(Target::V2(&v2.hierarchy.path))
            }
            Some(_) => None,
        }
    }

    fn dirs(&self) -> impl Iterator<Item = &Hierarchy> {
        self.v1
            .iter()
            .map(|d| &d.hierarchy)
            .chain(self.v2.iter().map(|d| &d.hierarchy))
    }

    /// True when the cgroup's directory exists in at least one hierarchy (it was created
    /// and not yet destroyed).
    pub fn exists(&self) -> bool {
        self.dirs().any(|h| h.path.is_dir())
    }

    /// Every hierarchy with this cgroup's directory in it (for mounting `/sys/fs/cgroup`
    /// inside the container).
    pub fn hierarchies(&self) -> Vec<Hierarchy> {
        self.dirs().cloned().collect()
    }

    /// Creates the directory (and missing parents) in every hierarchy. v1 cpuset
    /// directories get `cpus`/`mems` from their parent; under v2 every parent enables the
    /// controllers it has for its children.
    pub fn create(&self) -> Result<()> {
        for h in self.dirs() {
            std::fs::create_dir_all(&h.path).map_err(|source| Error::Io {
                op: "mkdir".into(),
                path: h.path.clone(),
                source,
            })?;
        }
        for d in &self.v1 {
            if d.controllers.iter().any(|c| c == "cpuset") {
                v1::cpuset_inherit(&d.hierarchy.mountpoint, &d.hierarchy.path)?;
            }
        }
        if let Some(d) = &self.v2 {
            v2::enable_controllers(&d.hierarchy.mountpoint, &d.hierarchy.path)?;
        }
        Ok(())
    }

    /// Applies `r`, writing only what it sets. Used at create and by `update`.
    pub fn apply(&self, r: &Resources) -> Result<()> {
        validate::validate(r)?;
        let none = |field: &str, controller: &str| Error::Unsupported {
            field: field.into(),
            reason: format!("no hierarchy on this host has the {controller} controller"),
        };
        if let Some(m) = r.memory.as_ref().filter(|m| **m != Memory::default()) {
            match self.target("memory", Some("memory")) {
                Some(Target::V1(d)) => v1::memory(d, m)?,
                Some(Target::V2(d)) => v2::memory(d, m)?,
                None => return Err(none("memory", "memory")),
            }
        }
        if let Some(c) = &r.cpu {
            let sched = Cpu {
                cpus: None,
                mems: None,
                ..c.clone()
            };
            if sched != Cpu::default() {
                match self.target("cpu", Some("cpu")) {
                    Some(Target::V1(d)) => v1::cpu(d, &sched)?,
                    Some(Target::V2(d)) => v2::cpu(d, &sched)?,
                    None => return Err(none("cpu", "cpu")),
                }
            }
            if c.cpus.is_some() || c.mems.is_some() {
                match self.target("cpuset", Some("cpuset")) {
                    Some(Target::V1(d)) => v1::cpuset(d, c)?,
                    Some(Target::V2(d)) => v2::cpuset(d, c)?,
                    None => return Err(none("cpu.cpus", "cpuset")),
                }
            }
        }
        if let Some(p) = &r.pids {
            match self.target("pids", Some("pids")) {
                Some(Target::V1(d)) => v1::pids(d, p)?,
                Some(Target::V2(d)) => v2::pids(d, p)?,
                None => return Err(none("pids", "pids")),
            }
        }
        if let Some(b) = r.block_io.as_ref().filter(|b| **b != Default::default()) {
            match self.target("blkio", Some("io")) {
                Some(Target::V1(d)) => v1::blkio(d, b)?,
                Some(Target::V2(d)) => v2::io(d, b)?,
                None => return Err(none("blockIO", "blkio/io")),
            }
        }
        self.apply_hugetlb(r)?;
        if let Some(n) = &r.network {
            if n.class_id.is_some() {
                match self.target("net_cls", None) {
                    Some(Target::V1(d)) => v1::net_cls(d, n)?,
                    _ => return Err(none("network.classID", "net_cls (v1 only)")),
                }
            }
            if !n.priorities.is_empty() {
                match self.target("net_prio", None) {
                    Some(Target::V1(d)) => v1::net_prio(d, n)?,
                    _ => return Err(none("network.priorities", "net_prio (v1 only)")),
                }
            }
        }
        if !r.rdma.is_empty() {
            match self.target("rdma", Some("rdma")) {
                Some(Target::V1(d) | Target::V2(d)) => v1::rdma(d, &r.rdma)?,
                None => return Err(none("rdma", "rdma")),
            }
        }
        if !r.devices.is_empty() {
            let rules = DeviceRules::from_spec(&r.devices)?;
            match self.target("devices", None) {
                Some(Target::V1(d)) => v1::devices(d, &rules)?,
                Some(Target::V2(d)) => devices_bpf::apply(d, &rules)?,
                None => return Err(none("devices", "devices")),
            }
        }
        if !r.unified.is_empty() {
            match &self.v2 {
                Some(d) => v2::unified(&d.hierarchy.path, &r.unified)?,
                None => {
                    return Err(Error::Unsupported {
                        field: "unified".into(),
                        reason: "this host has no cgroup v2 hierarchy".into(),
                    })
                }
            }
        }
        Ok(())
    }

    /// Huge page sizes the CPU and kernel support, as cgroup file names spell them.
    fn hugepage_sizes(&self) -> Vec<String> {
        let mut sizes: Vec<(u64, String)> = std::fs::read_dir(&self.hugepages_dir)
            .map(|rd| {
                rd.filter_map(|e| {
                    let name = e.ok()?.file_name().to_string_lossy().into_owned();
                    let kb: u64 = name
                        .strip_prefix("hugepages-")?
                        .strip_suffix("kB")?
                        .parse()
                        .ok()?;
                    Some((kb, convert::page_size_name(kb)))
                })
                .collect()
            })
            .unwrap_or_default();
        sizes.sort();
        sizes.into_iter().map(|(_, n)| n).collect()
    }

    fn apply_hugetlb(&self, r: &Resources) -> Result<()> {
        if r.hugepage_limits.is_empty() {
            return Ok(());
        }
        let sizes = self.hugepage_sizes();
        for (i, h) in r.hugepage_limits.iter().enumerate() {
            let field = format!("hugepageLimits[{i}]");
            let name = convert::parse_page_size(&h.page_size)
                .map(|b| convert::page_size_name(b >> 10))
                .filter(|n| sizes.contains(n))
                .ok_or_else(|| Error::Unsupported {
                    field: format!("{field}.pageSize"),
                    reason: format!(
                        "huge page size {} is not one of this host's: {}",
                        h.page_size,
                        sizes.join(", ")
                    ),
                })?;
            match self.target("hugetlb", Some("hugetlb")) {
                Some(Target::V1(d)) => v1::hugetlb(d, &name, h.limit, &field)?,
                Some(Target::V2(d)) => v2::hugetlb(d, &name, h.limit, &field)?,
                None => {
                    return Err(Error::Unsupported {
                        field,
                        reason: "no hierarchy on this host has the hugetlb controller".into(),
                    })
                }
            }
        }
        Ok(())
    }

    /// Moves process `pid` into this cgroup in every hierarchy.
    pub fn add_process(&self, pid: i32) -> Result<()> {
        for h in self.dirs() {
            write(&h.path, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    /// Every PID in this cgroup and its sub-cgroups, in any hierarchy, sorted, no
    /// duplicates.
    pub fn procs(&self) -> Result<Vec<i32>> {
        let mut pids = Vec::new();
        for h in self.dirs() {
            procs_recursive(&h.path, &mut pids)?;
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    fn freezer(&self) -> Result<Target<'_>> {
        self.target("freezer", None)
            .ok_or_else(|| Error::Unsupported {
                field: "freezer".into(),
                reason: "no freezer hierarchy and no cgroup v2 hierarchy on this host".into(),
            })
    }

    /// Freezes every process and returns once they are all frozen.
    pub fn freeze(&self) -> Result<()> {
        match self.freezer()? {
            Target::V1(d) => v1::freeze(d, true),
            Target::V2(d) => v2::freeze(d, true),
        }
    }

    /// Thaws the cgroup and returns once it is running again.
    pub fn thaw(&self) -> Result<()> {
        match self.freezer()? {
            Target::V1(d) => v1::freeze(d, false),
            Target::V2(d) => v2::freeze(d, false),
        }
    }

    /// True when the cgroup is frozen.
    pub fn is_frozen(&self) -> Result<bool> {
        match self.freezer()? {
            Target::V1(d) => v1::is_frozen(d),
            Target::V2(d) => v2::is_frozen(d),
        }
    }

    /// True when the kernel's OOM killer killed a process of this cgroup.
    pub fn oom_killed(&self) -> Result<bool> {
        match self.target("memory", Some("memory")) {
            Some(Target::V1(d)) => v1::oom_killed(d),
            Some(Target::V2(d)) => v2::oom_killed(d),
            None => Ok(false),
        }
    }

    /// Sends `signal` to every process of the cgroup. SIGKILL uses `cgroup.kill` where the
    /// kernel has it; otherwise the cgroup is frozen while the signals go out, so a process
    /// cannot fork a child that escapes them, then thawed so the killed processes can die.
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        let send = |pids: Vec<i32>| -> Result<()> {
            for pid in pids {
                match berth_sys::proc::kill(pid, signal) {
                    Ok(()) => {}
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                    Err(source) => {
                        return Err(Error::Io {
                            op: format!("send signal {signal} to pid {pid} of"),
                            path: self.path.clone().into(),
                            source,
                        })
                    }
                }
            }
            Ok(())
        };
        if signal != libc::SIGKILL {
            return send(self.procs()?);
        }
        let killed_by_kernel = match &self.v2 {
            Some(d) => v2::kill(&d.hierarchy.path)?,
            None => false,
        };
        let sent = if killed_by_kernel {
            // Processes in a v1 hierarchy only (hybrid hosts) get the signal too.
            self.procs().and_then(send)
        } else {
            let _ = self.freeze();
            self.procs().and_then(send)
        };
        // A task frozen by the v1 freezer cannot act on SIGKILL until thawed (the v2
        // freezer lets fatal signals through), so a paused container is thawed to die.
        // Thawed unconditionally: while the killed tasks exit, the observed state can
        // still read "thawed" and then turn "frozen" once the cgroup is empty (an empty
        // cgroup with cgroup.freeze=1 reports frozen), which would leave it frozen.
        self.thaw()?;
        sent
    }

    /// Removes this cgroup's directory (with any sub-cgroups) in every hierarchy; parents
    /// it created stay, as in runc. Succeeds when already gone.
    pub fn destroy(&self) -> Result<()> {
        let mut first_err = None;
        for h in self.dirs() {
            if let Err(e) = remove_tree(&h.path) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Current usage.
    pub fn stats(&self) -> Result<Stats> {
        let mut s = Stats::default();
        let cpuacct = self.target("cpuacct", None).and_then(|t| match t {
            Target::V1(d) => Some(d),
            Target::V2(_) => None,
        });
        match self.target("cpu", Some("cpu")) {
            Some(Target::V1(d)) => stats::cpu_v1(cpuacct, Some(d), &mut s)?,
            Some(Target::V2(d)) => stats::cpu_v2(d, &mut s)?,
            None => stats::cpu_v1(cpuacct, None, &mut s)?,
        }
        match self.target("memory", Some("memory")) {
            Some(Target::V1(d)) => stats::memory_v1(d, &mut s)?,
            Some(Target::V2(d)) => stats::memory_v2(d, &mut s)?,
            None => {}
        }
        if let Some(Target::V1(d) | Target::V2(d)) = self.target("pids", Some("pids")) {
            stats::pids(d, &mut s)?;
        }
        match self.target("blkio", Some("io")) {
            Some(Target::V1(d)) => stats::blkio_v1(d, &mut s)?,
            Some(Target::V2(d)) => stats::io_v2(d, &mut s)?,
            None => {}
        }
        match self.target("hugetlb", Some("hugetlb")) {
            Some(Target::V1(d)) => stats::hugetlb(d, false, &self.hugepage_sizes(), &mut s)?,
            Some(Target::V2(d)) => stats::hugetlb(d, true, &self.hugepage_sizes(), &mut s)?,
            None => {}
        }
        Ok(s)
    }

    /// Number of device filter programs attached to the v2 directory (0 without v2).
    pub fn device_programs(&self) -> Result<usize> {
        match &self.v2 {
            Some(d) if d.hierarchy.path.exists() => devices_bpf::attached_count(&d.hierarchy.path),
            _ => Ok(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalise_like_runc() {
        assert_eq!(normalize(None, "abc").expect("ok"), "/berth/abc");
        assert_eq!(normalize(Some("/a//b/./c"), "x").expect("ok"), "/a/b/c");
        assert_eq!(normalize(Some("a/b"), "x").expect("ok"), "/a/b");
        assert!(normalize(Some("/a/../b"), "x").is_err());
        assert!(normalize(Some("/"), "x").is_err());
        assert!(normalize(None, "a/b").is_err());
        assert!(normalize(Some("system.slice:berth:abc"), "abc").is_err());
    }

    #[test]
    fn dirs_respect_the_mount_root() {
        let mp = Path::new("/sys/fs/cgroup/memory");
        assert_eq!(
            dir_in(mp, "/", "/berth/x"),
            PathBuf::from("/sys/fs/cgroup/memory/berth/x")
        );
        assert_eq!(
            dir_in(mp, "/pod", "/pod/berth/x"),
            PathBuf::from("/sys/fs/cgroup/memory/berth/x")
        );
        assert_eq!(
            dir_in(mp, "/pod", "/podx/y"),
            PathBuf::from("/sys/fs/cgroup/memory/podx/y")
        );
    }
}
