//! The container's filesystem view: spec mounts in order, the pivoted root, masked and
//! read-only paths, sysctls. Runs inside the init, in its new mount namespace.
//!
//! Order (as the runtime-spec and runc do it): make `/` non-shared so nothing propagates
//! back to the host, bind the rootfs onto itself (pivot_root needs a mount point), apply
//! the spec's mounts, create devices, then pivot (or chroot with `--no-pivot`) and finish
//! with the paths that must be hidden or read-only, which may lie under mounts just made.

use crate::mountopts::{self, MountOpts};
use crate::paths::{fd_path, mkdir_all, mkfile, open_in, open_root};
use crate::{Error, Result};
use berth_spec::{Mount, Spec};
use berth_sys::ns::{mount, umount2};
use rustix::fs::OFlags;
use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// What the init knows when it builds the filesystem.
pub struct RootfsCtx<'a> {
    /// Host path of the rootfs.
    pub rootfs: &'a Path,
    /// Host path of the bundle (relative mount sources are relative to it).
    pub bundle: &'a Path,
    /// The container runs in a new user namespace.
    pub userns: bool,
    /// The container has a new cgroup namespace.
    pub cgroupns: bool,
    /// The container shares the runtime's mount namespace: mounts land in it (and are
    /// removed by `delete`), `/` is left alone and the root is entered with chroot.
    pub shared_mntns: bool,
    /// The container's cgroup hierarchies.
    pub hierarchies: &'a [berth_cgroups::Hierarchy],
}

fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Invalid(format!("path {s:?} contains a NUL byte")))
}

fn mnt(
    src: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: u64,
    data: &str,
) -> std::io::Result<()> {
    let c = |s: &str| {
        CString::new(s).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let src = src.map(c).transpose()?;
    let fstype = fstype.map(c).transpose()?;
    let data = if data.is_empty() {
        None
    } else {
        Some(c(data)?)
    };
    mount(
        src.as_deref(),
        &c(target)?,
        fstype.as_deref(),
        flags,
        data.as_deref(),
    )
}

/// Flags of the mount `fd` lives on that an unprivileged remount may not clear.
fn locked_flags(fd: &OwnedFd) -> u64 {
    let Ok(st) = rustix::fs::fstatvfs(fd) else {
        return 0;
    };
    let f = st.f_flag.bits();
    let mut out = 0;
    for (st_flag, ms) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if f & st_flag != 0 {
            out |= ms;
        }
    }
    out
}

/// Remounts the top mount at `path` (inside `root`) with `flags` added to a bind remount,
/// keeping what the kernel locks in a user namespace.
fn remount(root: &OwnedFd, path: &str, flags: u64, userns: bool) -> Result<()> {
    let fd = open_in(root, path, OFlags::PATH)
        .map_err(|e| Error::sys(format!("reopening {path}"), e))?;
    let mut keep = 0;
    let locked = locked_flags(&fd);
    if userns {
        keep |= locked & (libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC);
    }
    let atime = libc::MS_NOATIME | libc::MS_NODIRATIME | libc::MS_RELATIME | libc::MS_STRICTATIME;
    if flags & atime == 0 {
        keep |= locked & atime;
    }
    mnt(
        None,
        &fd_path(&fd),
        None,
        libc::MS_BIND | libc::MS_REMOUNT | flags | keep,
        "",
    )
    .map_err(|e| Error::sys(format!("remounting {path} with its options"), e))
}

/// Everything before pivot_root.
pub fn prepare(spec: &Spec, ctx: &RootfsCtx) -> Result<()> {
    let linux = spec.linux.clone().unwrap_or_default();
    let prop = match linux.rootfs_propagation.as_deref() {
        None | Some("") => libc::MS_SLAVE | libc::MS_REC,
        Some(p) => {
            let f = mountopts::propagation_flag(p).ok_or_else(|| {
                Error::Invalid(format!("linux.rootfsPropagation: unknown value {p:?}"))
            })?;
            // Until the pivot, / is a slave of the host (or private): shared would leak
            // our mounts to the host and unbindable would forbid the rootfs self-bind.
            // The configured propagation is applied to the new root in `finish`.
            if f & libc::MS_PRIVATE != 0 {
                libc::MS_PRIVATE | libc::MS_REC
            } else {
                libc::MS_SLAVE | libc::MS_REC
            }
        }
    };
    if !ctx.shared_mntns {
        mnt(None, "/", None, prop, "").map_err(|e| Error::sys("making / non-shared", e))?;
    }
    let rootfs = ctx.rootfs.to_string_lossy().into_owned();
    mnt(
        Some(&rootfs),
        &rootfs,
        None,
        libc::MS_BIND | libc::MS_REC,
        "",
    )
    .map_err(|e| Error::sys(format!("bind-mounting rootfs {rootfs}"), e))?;
    let root = open_root(ctx.rootfs)?;
    let mut dev_is_bind = false;
    for (i, m) in spec.mounts.iter().enumerate() {
        let opts = mountopts::parse(&m.options, m.typ.as_deref())
            .map_err(|e| Error::Invalid(format!("mounts[{i}] ({}): {e}", m.destination)))?;
        if m.destination == "/dev" && opts.bind {
            dev_is_bind = true;
        }
        mount_one(&root, m, &opts, ctx).map_err(|e| match e {
            Error::Sys { context, source } => Error::Sys {
                context: format!("mounts[{i}]: {context}"),
                source,
            },
            other => other,
        })?;
    }
    crate::devices::create(&root, &linux.devices, !dev_is_bind, ctx.userns)?;
    crate::devices::links(&root, spec)?;
    Ok(())
}

fn mount_one(root: &OwnedFd, m: &Mount, opts: &MountOpts, ctx: &RootfsCtx) -> Result<()> {
    let dest = m.destination.as_str();
    let typ = m.typ.as_deref().unwrap_or("");
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(root, dest, opts, ctx);
    }
    if opts.bind {
        let src = resolve_source(m.source.as_deref().unwrap_or(""), ctx.bundle);
        let meta = std::fs::metadata(&src)
            .map_err(|e| Error::sys(format!("bind source {} for {dest}", src.display()), e))?;
        let target = if meta.is_dir() {
            mkdir_all(root, dest, 0o755)?
        } else {
            mkfile(root, dest)?
        };
        let src_s = src.to_string_lossy().into_owned();
        mnt(
            Some(&src_s),
            &fd_path(&target),
            None,
            opts.flags & (libc::MS_BIND | libc::MS_REC),
            "",
        )
        .map_err(|e| Error::sys(format!("bind-mounting {src_s} on {dest}"), e))?;
        if opts.needs_remount() {
            remount(
                root,
                dest,
                opts.flags & !(libc::MS_BIND | libc::MS_REC),
                ctx.userns,
            )?;
        }
    } else {
        if typ == "proc" || typ == "sysfs" {
            // runc's rule: these must land on a real directory, never through a symlink
            // a malicious image planted.
            if let Ok(fd) = open_in(root, dest, OFlags::PATH | OFlags::NOFOLLOW) {
                let st =
                    rustix::fs::fstat(&fd).map_err(|e| Error::sys(format!("stat {dest}"), e))?;
                if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                    return Err(Error::Invalid(format!("{dest} must be mounted on ordinary directory (it is not one in the rootfs)")));
                }
            }
        }
        let target = mkdir_all(root, dest, 0o755)?;
        let src = m.source.as_deref().unwrap_or(typ);
        let res = mnt(
            Some(src),
            &fd_path(&target),
            Some(typ),
            opts.flags & !libc::MS_REMOUNT,
            &opts.data,
        );
        match res {
            Ok(()) => {}
            // Without its own network (sysfs) or IPC (mqueue) namespace, a user namespace
            // may not mount these; bind the host's instead, as runc does.
            Err(e)
                if e.raw_os_error() == Some(libc::EPERM) && (typ == "sysfs" || typ == "mqueue") =>
            {
                let host = if typ == "sysfs" {
                    "/sys"
                } else {
                    "/dev/mqueue"
                };
                mnt(
                    Some(host),
                    &fd_path(&target),
                    None,
                    libc::MS_BIND | libc::MS_REC,
                    "",
                )
                .map_err(|e| Error::sys(format!("bind-mounting {host} on {dest}"), e))?;
                if opts.flags & libc::MS_RDONLY != 0 {
                    remount(root, dest, opts.flags & !libc::MS_REMOUNT, ctx.userns)?;
                }
            }
            Err(e) => return Err(Error::sys(format!("mounting {typ} on {dest}"), e)),
        }
    }
    if opts.rec_set != 0 || opts.rec_clr != 0 {
        let fd = open_in(root, dest, OFlags::PATH)
            .map_err(|e| Error::sys(format!("reopening {dest}"), e))?;
        use std::os::fd::AsFd;
        berth_sys::ns::mount_setattr(fd.as_fd(), true, opts.rec_set, opts.rec_clr)
            .map_err(|e| Error::sys(format!("setting recursive mount attributes on {dest}"), e))?;
    }
    for p in &opts.propagation {
        let fd = open_in(root, dest, OFlags::PATH)
            .map_err(|e| Error::sys(format!("reopening {dest}"), e))?;
        mnt(None, &fd_path(&fd), None, *p, "")
            .map_err(|e| Error::sys(format!("setting propagation of {dest}"), e))?;
    }
    Ok(())
}

fn resolve_source(src: &str, bundle: &Path) -> PathBuf {
    let p = Path::new(src);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        bundle.join(p)
    }
}

/// `/sys/fs/cgroup` inside the container: the real cgroup filesystems when the container
/// has its own cgroup namespace (their root is then the container's cgroup), otherwise
/// bind mounts of the container's own cgroup directories.
fn mount_cgroup(root: &OwnedFd, dest: &str, opts: &MountOpts, ctx: &RootfsCtx) -> Result<()> {
    let ro = opts.flags & libc::MS_RDONLY;
    let base = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    let pure_v2 = ctx.hierarchies.len() == 1 && ctx.hierarchies[0].v2;
    if pure_v2 {
        let h = &ctx.hierarchies[0];
        let target = mkdir_all(root, dest, 0o755)?;
        let r = if ctx.cgroupns {
            mnt(
                Some("cgroup2"),
                &fd_path(&target),
                Some("cgroup2"),
                base | opts.flags,
                "",
            )
        } else {
            Err(std::io::Error::from_raw_os_error(libc::EPERM))
        };
        if r.is_err() {
            mnt(
                Some(&h.path.to_string_lossy()),
                &fd_path(&target),
                None,
                libc::MS_BIND,
                "",
            )
            .map_err(|e| Error::sys(format!("bind-mounting {} on {dest}", h.path.display()), e))?;
            if ro != 0 {
                remount(root, dest, base | ro, ctx.userns)?;
            }
        }
        return Ok(());
    }
    let target = mkdir_all(root, dest, 0o755)?;
    mnt(
        Some("tmpfs"),
        &fd_path(&target),
        Some("tmpfs"),
        base,
        "mode=755",
    )
    .map_err(|e| Error::sys(format!("mounting tmpfs on {dest}"), e))?;
    for h in ctx.hierarchies {
        let sub = format!("{}/{}", dest.trim_end_matches('/'), h.controllers);
        let t = mkdir_all(root, &sub, 0o755)?;
        let mut done = false;
        if ctx.cgroupns {
            let (fstype, data) = if h.v2 {
                ("cgroup2", String::new())
            } else if h.controllers == "systemd" {
                ("cgroup", "none,name=systemd".to_string())
            } else {
                ("cgroup", h.controllers.clone())
            };
            done = mnt(Some("cgroup"), &fd_path(&t), Some(fstype), base | ro, &data).is_ok();
        }
        if !done {
            mnt(
                Some(&h.path.to_string_lossy()),
                &fd_path(&t),
                None,
                libc::MS_BIND,
                "",
            )
            .map_err(|e| Error::sys(format!("bind-mounting {} on {sub}", h.path.display()), e))?;
            if ro != 0 {
                remount(root, &sub, base | ro, ctx.userns)?;
            }
        }
        // Co-mounted controllers ("cpu,cpuacct") get one link per name, as on the host.
        if h.controllers.contains(',') {
            let dir = open_in(root, dest, OFlags::PATH | OFlags::DIRECTORY)
                .map_err(|e| Error::sys(format!("opening {dest}"), e))?;
            for name in h.controllers.split(',') {
                let _ = rustix::fs::symlinkat(h.controllers.as_str(), &dir, name);
            }
        }
    }
    if ro != 0 {
        let fd = open_in(root, dest, OFlags::PATH)
            .map_err(|e| Error::sys(format!("reopening {dest}"), e))?;
        mnt(
            None,
            &fd_path(&fd),
            None,
            libc::MS_REMOUNT | base | ro,
            "mode=755",
        )
        .map_err(|e| Error::sys(format!("remounting {dest} read-only"), e))?;
    }
    Ok(())
}

/// pivot_root into the rootfs and detach the old root; or, with `no_pivot`, move the rootfs
/// onto `/` and chroot (for roots on ramfs, where pivot_root is impossible).
pub fn pivot(rootfs: &Path, no_pivot: bool, shared_mntns: bool) -> Result<()> {
    if shared_mntns {
        // Moving or pivoting would change the root of everyone in this namespace.
        rustix::process::chdir(rootfs).map_err(|e| Error::sys("entering rootfs", e))?;
        rustix::process::chroot(".").map_err(|e| Error::sys("chroot into rootfs", e))?;
        return rustix::process::chdir("/").map_err(|e| Error::sys("chdir /", e));
    }
    let new_root = rustix::fs::open(
        rootfs,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| Error::sys(format!("opening rootfs {}", rootfs.display()), e))?;
    rustix::process::fchdir(&new_root).map_err(|e| Error::sys("entering rootfs", e))?;
    // pivot_root cannot leave the initial ramfs (EINVAL): there, as with --no-pivot, the
    // rootfs is moved onto / and entered with chroot (pivot_root(2), "EINVAL").
    let pivoted = !no_pivot
        && match rustix::process::pivot_root(".", ".") {
            Ok(()) => true,
            Err(rustix::io::Errno::INVAL) => false,
            Err(e) => return Err(Error::sys("pivot_root", e)),
        };
    if pivoted {
        // pivot_root(".", ".") stacks the old root on top of the new one; making it a
        // slave before the lazy unmount keeps the unmount from propagating to the host
        // (pivot_root(2), "NOTES").
        mnt(None, ".", None, libc::MS_SLAVE | libc::MS_REC, "")
            .map_err(|e| Error::sys("making old root a slave", e))?;
        umount2(&cstr(".")?, libc::MNT_DETACH).map_err(|e| Error::sys("detaching old root", e))?;
    } else {
        mnt(Some("."), "/", None, libc::MS_MOVE, "")
            .map_err(|e| Error::sys("moving rootfs onto /", e))?;
        rustix::process::chroot(".").map_err(|e| Error::sys("chroot into rootfs", e))?;
    }
    rustix::process::chdir("/").map_err(|e| Error::sys("chdir /", e))
}

/// Everything after the pivot: sysctls, masked and read-only paths, a read-only root and
/// the root's final propagation.
pub fn finish(spec: &Spec, userns: bool, shared_mntns: bool) -> Result<()> {
    let linux = spec.linux.clone().unwrap_or_default();
    let root = open_root(Path::new("/"))?;
    for (key, value) in &linux.sysctl {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        std::fs::write(&path, value)
            .map_err(|e| Error::sys(format!("linux.sysctl {key:?}: writing {path}"), e))?;
    }
    for p in &linux.masked_paths {
        mask(&root, p)?;
    }
    for p in &linux.readonly_paths {
        let fd = match open_in(&root, p, OFlags::PATH) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(Error::sys(format!("linux.readonlyPaths {p}"), e)),
        };
        mnt(
            Some(&fd_path(&fd)),
            &fd_path(&fd),
            None,
            libc::MS_BIND | libc::MS_REC,
            "",
        )
        .map_err(|e| Error::sys(format!("linux.readonlyPaths {p}: bind"), e))?;
        remount(
            &root,
            p,
            libc::MS_RDONLY | libc::MS_REC | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            userns,
        )
        .or_else(|_| remount(&root, p, libc::MS_RDONLY | libc::MS_REC, userns))?;
    }
    if spec.root.as_ref().is_some_and(|r| r.readonly) {
        remount(&root, "/", libc::MS_RDONLY, userns)?;
    }
    if let Some(p) = linux
        .rootfs_propagation
        .as_deref()
        .filter(|p| !p.is_empty() && !shared_mntns)
    {
        if let Some(f) = mountopts::propagation_flag(p) {
            mnt(None, "/", None, f, "")
                .map_err(|e| Error::sys(format!("setting / propagation to {p}"), e))?;
        }
    }
    Ok(())
}

fn mask(root: &OwnedFd, p: &str) -> Result<()> {
    let fd = match open_in(root, p, OFlags::PATH) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(Error::sys(format!("linux.maskedPaths {p}"), e)),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::sys(format!("linux.maskedPaths {p}"), e))?;
    let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
    let r = if is_dir {
        mnt(
            Some("tmpfs"),
            &fd_path(&fd),
            Some("tmpfs"),
            libc::MS_RDONLY,
            "size=0k",
        )
    } else {
        mnt(Some("/dev/null"), &fd_path(&fd), None, libc::MS_BIND, "")
    };
    r.map_err(|e| Error::sys(format!("linux.maskedPaths: masking {p}"), e))
}

/// Unmounts everything mounted at or below `rootfs` in the caller's mount namespace,
/// deepest first: what a container without its own mount namespace left there.
pub fn unmount_under(rootfs: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let root = rootfs.to_string_lossy().into_owned();
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| {
            p.replace("\\040", " ")
                .replace("\\011", "\t")
                .replace("\\012", "\n")
                .replace("\\134", "\\")
        })
        .filter(|p| p == &root || p.starts_with(&format!("{root}/")))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        if let Ok(c) = CString::new(p) {
            let _ = umount2(&c, libc::MNT_DETACH);
        }
    }
}
