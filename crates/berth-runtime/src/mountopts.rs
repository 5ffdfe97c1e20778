//! Parsing fstab-style mount options into `mount(2)` flags, propagation and data.
//!
//! Pure: the plan is unit-tested without root; `rootfs` applies it.

use crate::{Error, Result};

/// A mount option list, understood.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountOpts {
    /// `MS_*` flags for the mount itself.
    pub flags: u64,
    /// `MS_*` flags to clear (from options like `rw`, `suid`), relevant on remount.
    pub clear: u64,
    /// Propagation changes, applied after the mount in order.
    pub propagation: Vec<u64>,
    /// Filesystem-specific options, comma-joined (`mode=755,size=65536k`).
    pub data: String,
    /// A bind mount (`bind` or `rbind`).
    pub bind: bool,
    /// `MOUNT_ATTR_*` to set on the whole tree (`rro`, `rnosuid`, …), via mount_setattr.
    pub rec_set: u64,
    /// `MOUNT_ATTR_*` to clear on the whole tree (`rrw`, `rsuid`, …).
    pub rec_clr: u64,
}

/// `MOUNT_ATTR_*` values (linux/mount.h).
pub mod attr {
    /// Read-only.
    pub const RDONLY: u64 = 0x1;
    /// No setuid.
    pub const NOSUID: u64 = 0x2;
    /// No devices.
    pub const NODEV: u64 = 0x4;
    /// No exec.
    pub const NOEXEC: u64 = 0x8;
    /// The atime mode bits.
    pub const ATIME: u64 = 0x70;
    /// relatime (the zero value within ATIME).
    pub const RELATIME: u64 = 0x0;
    /// noatime.
    pub const NOATIME: u64 = 0x10;
    /// strictatime.
    pub const STRICTATIME: u64 = 0x20;
    /// nodiratime.
    pub const NODIRATIME: u64 = 0x80;
    /// nosymfollow.
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
}

impl MountOpts {
    /// Whether the mount needs a remount to apply flags a bind mount ignores.
    pub fn needs_remount(&self) -> bool {
        self.bind && (self.flags & !(libc::MS_BIND | libc::MS_REC)) != 0
    }
}

/// Parses a mount's options; `typ` is its type (`bind` implies a bind mount).
pub fn parse(options: &[String], typ: Option<&str>) -> Result<MountOpts> {
    let mut o = MountOpts {
        bind: typ == Some("bind") || typ == Some("rbind"),
        ..Default::default()
    };
    if typ == Some("rbind") {
        o.flags |= libc::MS_REC;
    }
    let mut data = Vec::new();
    for opt in options {
        let (set, clear): (u64, u64) = match opt.as_str() {
            "defaults" => (0, 0),
            "ro" => (libc::MS_RDONLY, 0),
            "rw" => (0, libc::MS_RDONLY),
            "nosuid" => (libc::MS_NOSUID, 0),
            "suid" => (0, libc::MS_NOSUID),
            "nodev" => (libc::MS_NODEV, 0),
            "dev" => (0, libc::MS_NODEV),
            "noexec" => (libc::MS_NOEXEC, 0),
            "exec" => (0, libc::MS_NOEXEC),
            "sync" => (libc::MS_SYNCHRONOUS, 0),
            "async" => (0, libc::MS_SYNCHRONOUS),
            "dirsync" => (libc::MS_DIRSYNC, 0),
            "remount" => (libc::MS_REMOUNT, 0),
            "mand" => (libc::MS_MANDLOCK, 0),
            "nomand" => (0, libc::MS_MANDLOCK),
            "atime" => (0, libc::MS_NOATIME),
            "noatime" => (libc::MS_NOATIME, 0),
            "diratime" => (0, libc::MS_NODIRATIME),
            "nodiratime" => (libc::MS_NODIRATIME, 0),
            "relatime" => (libc::MS_RELATIME, 0),
            "norelatime" => (0, libc::MS_RELATIME),
            "strictatime" => (libc::MS_STRICTATIME, 0),
            "nostrictatime" => (0, libc::MS_STRICTATIME),
            "lazytime" => (libc::MS_LAZYTIME, 0),
            "nolazytime" => (0, libc::MS_LAZYTIME),
            "silent" => (libc::MS_SILENT, 0),
            "loud" => (0, libc::MS_SILENT),
            "bind" => {
                o.bind = true;
                (libc::MS_BIND, 0)
            }
            "rbind" => {
                o.bind = true;
                (libc::MS_BIND | libc::MS_REC, 0)
            }
            "rro" | "rrw" | "rnosuid" | "rsuid" | "rnodev" | "rdev" | "rnoexec" | "rexec"
            | "rnodiratime" | "rdiratime" | "rnosymfollow" | "rsymfollow" => {
                let (bit, set) = match opt.as_str() {
                    "rro" => (attr::RDONLY, true),
                    "rrw" => (attr::RDONLY, false),
                    "rnosuid" => (attr::NOSUID, true),
                    "rsuid" => (attr::NOSUID, false),
                    "rnodev" => (attr::NODEV, true),
                    "rdev" => (attr::NODEV, false),
                    "rnoexec" => (attr::NOEXEC, true),
                    "rexec" => (attr::NOEXEC, false),
                    "rnodiratime" => (attr::NODIRATIME, true),
                    "rdiratime" => (attr::NODIRATIME, false),
                    "rnosymfollow" => (attr::NOSYMFOLLOW, true),
                    _ => (attr::NOSYMFOLLOW, false),
                };
                if set {
                    o.rec_set |= bit;
                    o.rec_clr &= !bit;
                } else {
                    o.rec_clr |= bit;
                    o.rec_set &= !bit;
                }
                (0, 0)
            }
            "rnoatime" | "ratime" | "rrelatime" | "rnorelatime" | "rstrictatime"
            | "rnostrictatime" => {
                // The atime mode is one field: clearing ATIME selects it, setting a value
                // within it picks the mode.
                o.rec_clr |= attr::ATIME;
                o.rec_set &= !attr::ATIME;
                o.rec_set |= match opt.as_str() {
                    "rnoatime" => attr::NOATIME,
                    "rstrictatime" => attr::STRICTATIME,
                    _ => attr::RELATIME,
                };
                (0, 0)
            }
            "nosymfollow" => (256, 0),
            "symfollow" => (0, 256),
            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
            | "runbindable" => {
                o.propagation.push(propagation_flag(opt).unwrap_or(0));
                (0, 0)
            }
            // Accepted and without effect here: copy-up of tmpfs content is an engine
            // concern; SELinux relabel options need SELinux, which this host class lacks.
            "tmpcopyup" | "z" | "Z" => (0, 0),
            "idmap" | "ridmap" => {
                return Err(Error::Unsupported(format!(
                    "mount option {opt:?} (ID-mapped mounts) is not supported"
                )))
            }
            other => {
                data.push(other.to_string());
                (0, 0)
            }
        };
        o.flags = (o.flags | set) & !clear;
        o.clear = (o.clear | clear) & !set;
    }
    if o.bind {
        o.flags |= libc::MS_BIND;
    }
    o.data = data.join(",");
    Ok(o)
}

/// The `MS_*` propagation flags of a propagation name (`rshared` → `MS_SHARED|MS_REC`).
pub fn propagation_flag(name: &str) -> Option<u64> {
    Some(match name {
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn tmpfs_options_split_into_flags_and_data() {
        let o = parse(
            &v(&["nosuid", "strictatime", "mode=755", "size=65536k"]),
            Some("tmpfs"),
        )
        .expect("ok");
        assert_eq!(o.flags, libc::MS_NOSUID | libc::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(!o.bind);
    }

    #[test]
    fn rbind_ro_needs_remount_and_propagation_is_kept() {
        let o = parse(&v(&["rbind", "ro", "rprivate"]), Some("none")).expect("ok");
        assert!(o.bind);
        assert_eq!(
            o.flags & (libc::MS_BIND | libc::MS_REC | libc::MS_RDONLY),
            libc::MS_BIND | libc::MS_REC | libc::MS_RDONLY
        );
        assert!(o.needs_remount());
        assert_eq!(o.propagation, vec![libc::MS_PRIVATE | libc::MS_REC]);
    }

    #[test]
    fn later_options_win() {
        let o = parse(&v(&["ro", "rw"]), Some("bind")).expect("ok");
        assert_eq!(o.flags & libc::MS_RDONLY, 0);
        assert!(!o.needs_remount());
    }
}
