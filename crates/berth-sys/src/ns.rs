//! Namespaces and mounts: clone, unshare, setns, mount, umount.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// fork(2) with extra `CLONE_*` flags (e.g. `CLONE_NEWPID | CLONE_NEWUSER`).
///
/// Returns `Some(pid)` in the parent and `None` in the child. With no stack argument the
/// child runs on a copy of the parent's stack, exactly like `fork`.
///
/// The caller must be single-threaded: in the child only the calling thread exists, so
/// locks held by other threads (the allocator's, stdio's) would never be released.
pub fn clone_fork(flags: u64) -> io::Result<Option<i32>> {
    // SAFETY: SYS_clone with a NULL stack duplicates the calling thread like fork(2); no
    // pointers are passed (parent_tid, child_tid and tls are NULL, so the kernel writes
    // nothing). The single-threaded precondition documented above keeps the child's heap
    // and locks consistent.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD as u64) as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    let ret = check(ret)?;
    Ok(if ret == 0 { None } else { Some(ret as i32) })
}

/// unshare(2) with `CLONE_*` flags. Never pass `CLONE_FILES` or `CLONE_FS` in a
/// multi-threaded process.
pub fn unshare(flags: i32) -> io::Result<()> {
    // SAFETY: unshare takes no pointers; the namespaces it changes are those of the
    // calling (single) thread, which is what the callers intend.
    check(unsafe { libc::unshare(flags) } as libc::c_long).map(drop)
}

/// setns(2): join the namespace `fd` refers to (`nstype` 0 accepts any type).
pub fn setns(fd: BorrowedFd<'_>, nstype: i32) -> io::Result<()> {
    // SAFETY: the fd is borrowed, so it is open for the duration of the call.
    check(unsafe { libc::setns(fd.as_raw_fd(), nstype) } as libc::c_long).map(drop)
}

/// mount(2) with raw `MS_*` flags.
pub fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: u64,
    data: Option<&CStr>,
) -> io::Result<()> {
    let p = |s: Option<&CStr>| s.map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: every pointer is either NULL or a NUL-terminated string that outlives the
    // call; the kernel only reads them.
    let ret = unsafe {
        libc::mount(
            p(source),
            target.as_ptr(),
            p(fstype),
            flags as libc::c_ulong,
            p(data) as *const libc::c_void,
        )
    };
    check(ret as libc::c_long).map(drop)
}

/// umount2(2).
pub fn umount2(target: &CStr, flags: i32) -> io::Result<()> {
    // SAFETY: `target` is a valid NUL-terminated string for the duration of the call.
    check(unsafe { libc::umount2(target.as_ptr(), flags) } as libc::c_long).map(drop)
}

/// mount(2) of `/proc/self/fd/<fd>` style targets is racy-safe only through an fd; this
/// mounts onto the object `fd` refers to, via its magic link.
pub fn mount_on_fd(
    source: Option<&CStr>,
    target: BorrowedFd<'_>,
    fstype: Option<&CStr>,
    flags: u64,
    data: Option<&CStr>,
) -> io::Result<()> {
    let path = format!("/proc/self/fd/{}\0", target.as_raw_fd());
    let target = CStr::from_bytes_with_nul(path.as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    mount(source, target, fstype, flags, data)
}

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) on the mount `fd` refers to (`AT_EMPTY_PATH`), recursively when
/// `recursive`: how read-only and the other per-mount flags are applied to a whole tree at
/// once (kernel ≥ 5.12), which `MS_REMOUNT` cannot do.
pub fn mount_setattr(
    fd: BorrowedFd<'_>,
    recursive: bool,
    attr_set: u64,
    attr_clr: u64,
) -> io::Result<()> {
    let attr = MountAttr {
        attr_set,
        attr_clr,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= 0x8000; // AT_RECURSIVE
    }
    // SAFETY: the path is an empty NUL-terminated string, `attr` is a live, correctly laid
    // out `struct mount_attr` whose size is passed alongside, and the fd is borrowed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    check(ret).map(drop)
}

/// Sets the loopback interface of the calling thread's network namespace up, as a new
/// namespace starts with `lo` down (Docker's `none` network has it up).
pub fn loopback_up() -> io::Result<()> {
    let sock = rustix::net::socket(
        rustix::net::AddressFamily::INET,
        rustix::net::SocketType::DGRAM,
        None,
    )?;
    // SAFETY: ifreq is plain old data; all-zero is a valid value (empty name, no flags).
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    let fd = std::os::fd::AsRawFd::as_raw_fd(&sock);
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags member of the ifreq we own,
    // which lives across the call; fd is an open socket.
    if unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just filled ifru_flags, the member SIOCGIFFLAGS defines.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: as above; SIOCSIFFLAGS only reads the ifreq.
    if unsafe { libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
