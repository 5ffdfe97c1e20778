//! Finding the cgroup hierarchies in `/proc/self/mountinfo` and classifying the layout.
//!
//! Main types: [`Layout`] (public), [`Mounts`] (the v1 hierarchies and the v2 mount).
//!
//! Invariant: each v1 hierarchy appears once (the first mount of it wins; later bind mounts
//! of the same hierarchy are ignored), and so does the v2 mount.

use crate::{Error, Result};
use std::path::PathBuf;

/// Which cgroup filesystems the host uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Only cgroup v1 hierarchies.
    V1,
    /// Only the cgroup v2 unified hierarchy (possibly with a v1 `name=` hierarchy beside it).
    V2,
    /// v1 controllers plus a v2 mount (systemd's "hybrid", e.g. `/sys/fs/cgroup/unified`).
    Hybrid,
}

impl Layout {
    /// Detects the layout of this process's mount namespace.
    pub fn detect() -> Result<Layout> {
        Mounts::from_proc()?.layout()
    }
}

/// A mounted v1 hierarchy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct V1Mount {
    /// Controllers from the super options, e.g. `["cpu", "cpuacct"]` or `["name=systemd"]`.
    pub controllers: Vec<String>,
    /// Where it is mounted.
    pub mountpoint: PathBuf,
    /// The cgroup that is the root of this mount (`/` unless bind-mounted or namespaced).
    pub root: String,
}

/// The mounted v2 hierarchy.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct V2Mount {
    /// Where it is mounted.
    pub mountpoint: PathBuf,
    /// The cgroup that is the root of this mount.
    pub root: String,
}

/// All cgroup mounts of a mount namespace.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Mounts {
    pub v1: Vec<V1Mount>,
    pub v2: Option<V2Mount>,
}

/// Undoes the octal escapes (`\040` for a space …) the kernel puts in mountinfo paths.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This process's `/proc/self/mountinfo`.
pub(crate) fn read_proc() -> Result<String> {
    let path = "/proc/self/mountinfo";
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        op: "read".into(),
        path: path.into(),
        source,
    })
}

impl Mounts {
    /// Reads `/proc/self/mountinfo`.
    pub fn from_proc() -> Result<Mounts> {
        Mounts::parse(&read_proc()?)
    }

    /// Parses mountinfo text (see proc(5)): `id parent maj:min root mountpoint options
    /// [optional fields…] - fstype source superoptions`.
    pub fn parse(text: &str) -> Result<Mounts> {
        let mut mounts = Mounts::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let fields: Vec<&str> = line.split(' ').collect();
            let Some(dash) = fields.iter().position(|f| *f == "-") else {
                return Err(Error::Parse {
                    what: "a mountinfo line",
                    path: "/proc/self/mountinfo".into(),
                    text: line.into(),
                });
            };
            if dash < 6 || fields.len() < dash + 4 {
                return Err(Error::Parse {
                    what: "a mountinfo line",
                    path: "/proc/self/mountinfo".into(),
                    text: line.into(),
                });
            }
            let root = unescape(fields[3]);
            let mountpoint = PathBuf::from(unescape(fields[4]));
            match fields[dash + 1] {
                "cgroup2" if mounts.v2.is_none() => {
                    mounts.v2 = Some(V2Mount { mountpoint, root });
                }
                "cgroup" => {
                    let controllers: Vec<String> = fields[dash + 3]
                        .split(',')
                        .filter(|o| is_controller_option(o))
                        .map(str::to_string)
                        .collect();
                    if controllers.is_empty()
                        || mounts.v1.iter().any(|m| m.controllers == controllers)
                    {
                        continue;
                    }
                    mounts.v1.push(V1Mount {
                        controllers,
                        mountpoint,
                        root,
                    });
                }
                _ => {}
            }
        }
        Ok(mounts)
    }

    /// Classifies the mounts.
    pub fn layout(&self) -> Result<Layout> {
        let v1_controllers = self
            .v1
            .iter()
            .any(|m| m.controllers.iter().any(|c| !c.starts_with("name=")));
        match (v1_controllers, self.v2.is_some()) {
            (true, true) => Ok(Layout::Hybrid),
            (true, false) => Ok(Layout::V1),
            (false, true) => Ok(Layout::V2),
            (false, false) => Err(Error::Other(
                "no cgroup filesystem is mounted (no cgroup or cgroup2 entry in /proc/self/mountinfo)"
                    .into(),
            )),
        }
    }
}

/// Super options of a v1 cgroup mount that are not controllers.
fn is_controller_option(opt: &str) -> bool {
    !matches!(
        opt,
        "rw" | "ro" | "noprefix" | "clone_children" | "xattr" | "cpuset_v2_mode" | "favordynmods"
    ) && !opt.starts_with("release_agent=")
        && !opt.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_host_is_hybrid() {
        let m = Mounts::parse(HYBRID).expect("parse");
        assert_eq!(m.layout().expect("layout"), Layout::Hybrid);
        assert_eq!(m.v1.len(), 4);
        assert_eq!(m.v1[3].controllers, vec!["name=systemd".to_string()]);
        assert_eq!(
            m.v2.as_ref().map(|v| v.mountpoint.clone()),
            Some("/sys/fs/cgroup/unified".into())
        );
    }

    #[test]
    fn combined_controllers_and_optional_fields() {
        let text = "25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 master:2 - cgroup cgroup rw,cpu,cpuacct\n\
                    26 24 0:22 / /mnt/again rw shared:9 - cgroup cgroup rw,cpu,cpuacct\n";
        let m = Mounts::parse(text).expect("parse");
        assert_eq!(m.layout().expect("layout"), Layout::V1);
        assert_eq!(
            m.v1.len(),
            1,
            "a second mount of the same hierarchy is ignored"
        );
        assert_eq!(
            m.v1[0].controllers,
            vec!["cpu".to_string(), "cpuacct".to_string()]
        );
        assert_eq!(
            m.v1[0].mountpoint,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
    }

    #[test]
    fn pure_v2_and_escapes() {
        let text = "30 23 0:26 /ctr /sys/fs/cgroup\\040x rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let m = Mounts::parse(text).expect("parse");
        assert_eq!(m.layout().expect("layout"), Layout::V2);
        let v2 = m.v2.expect("v2");
        assert_eq!(v2.mountpoint, PathBuf::from("/sys/fs/cgroup x"));
        assert_eq!(v2.root, "/ctr");
    }

    #[test]
    fn nothing_mounted_is_an_error() {
        let m = Mounts::parse("1 0 0:1 / / rw - ext4 /dev/vda rw\n").expect("parse");
        assert!(m.layout().is_err());
    }

    #[test]
    fn detect_works_on_this_host() {
        assert!(Layout::detect().is_ok());
    }
}
