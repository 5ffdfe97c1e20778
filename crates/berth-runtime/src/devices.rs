//! Device nodes and the standard `/dev` links inside the container.

use crate::paths::{fd_path, mkdir_all, mkfile, open_in, relative};
use crate::{Error, Result};
use berth_spec::{Device, Spec};
use rustix::fs::{Mode, OFlags};
use std::os::fd::OwnedFd;

/// The devices every container gets (runtime-spec config-linux.md "Default Devices").
pub use berth_spec::defaults::DEFAULT_DEVICES;

/// Creates the spec's devices, plus the default ones when `/dev` is not the host's.
pub fn create(root: &OwnedFd, devices: &[Device], defaults: bool, userns: bool) -> Result<()> {
    let mut all: Vec<Device> = Vec::new();
    if defaults {
        for (path, major, minor) in DEFAULT_DEVICES {
            if !devices.iter().any(|d| d.path == path) {
                all.push(Device {
                    typ: "c".into(),
                    path: path.into(),
                    major,
                    minor,
                    file_mode: Some(0o666),
                    uid: Some(0),
                    gid: Some(0),
                });
            }
        }
    }
    all.extend(devices.iter().cloned());
    for d in &all {
        create_one(root, d, userns)
            .map_err(|e| Error::Invalid(format!("linux.devices {}: {e}", d.path)))?;
    }
    Ok(())
}

fn create_one(root: &OwnedFd, d: &Device, userns: bool) -> Result<()> {
    let rel = relative(&d.path);
    let parent = rel
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = rel
        .file_name()
        .ok_or_else(|| Error::Invalid("no file name".into()))?;
    if userns {
        // mknod is not allowed in a user namespace: bind the host's node instead.
        let target = mkfile(root, &d.path)?;
        let src = std::ffi::CString::new(d.path.as_str())
            .map_err(|_| Error::Invalid("NUL in path".into()))?;
        let tgt = std::ffi::CString::new(fd_path(&target))
            .map_err(|_| Error::Invalid("NUL in path".into()))?;
        return berth_sys::ns::mount(Some(&src), &tgt, None, libc::MS_BIND, None)
            .map_err(|e| Error::sys(format!("binding host {}", d.path), e));
    }
    let kind = match d.typ.as_str() {
        "c" | "u" => libc::S_IFCHR,
        "b" => libc::S_IFBLK,
        "p" => libc::S_IFIFO,
        t => return Err(Error::Invalid(format!("unknown device type {t:?}"))),
    };
    let dir = mkdir_all(root, &parent, 0o755)?;
    let _ = rustix::fs::unlinkat(&dir, name, rustix::fs::AtFlags::empty());
    let mode = d.file_mode.unwrap_or(0o666) & 0o7777;
    let dev = rustix::fs::makedev(d.major as u32, d.minor as u32);
    rustix::fs::mknodat(
        &dir,
        name,
        rustix::fs::FileType::from_raw_mode(kind),
        Mode::from_raw_mode(mode),
        dev,
    )
    .map_err(|e| Error::sys("mknod", e))?;
    rustix::fs::chmodat(
        &dir,
        name,
        Mode::from_raw_mode(mode),
        rustix::fs::AtFlags::empty(),
    )
    .map_err(|e| Error::sys("chmod", e))?;
    let uid = d.uid.map(rustix::fs::Uid::from_raw);
    let gid = d.gid.map(rustix::fs::Gid::from_raw);
    rustix::fs::chownat(&dir, name, uid, gid, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| Error::sys("chown", e))
}

/// `/dev/fd`, `/dev/std{in,out,err}`, `/dev/ptmx` → `pts/ptmx`, `/dev/core` → `/proc/kcore`.
pub fn links(root: &OwnedFd, spec: &Spec) -> Result<()> {
    let Ok(dev) = open_in(root, "/dev", OFlags::PATH | OFlags::DIRECTORY) else {
        return Ok(());
    };
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if std::path::Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    if spec.mounts.iter().any(|m| m.destination == "/dev/pts") {
        let _ = rustix::fs::unlinkat(&dev, "ptmx", rustix::fs::AtFlags::empty());
        links.push(("pts/ptmx", "ptmx"));
    }
    for (target, name) in links {
        match rustix::fs::symlinkat(target, &dev, name) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(Error::sys(format!("creating /dev/{name}"), e)),
        }
    }
    Ok(())
}
