//! Processes: signals by number, descriptor hygiene, exec of a sealed binary.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// kill(2) with any signal number, real-time signals included (rustix's `Signal` has no
/// safe constructor for those).
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill takes no pointers.
    check(unsafe { libc::kill(pid, sig) } as libc::c_long).map(drop)
}

/// pidfd_send_signal(2): signals the exact process `pidfd` refers to, so a recycled PID
/// can never receive it.
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: the info pointer is NULL (the kernel fills in a SI_USER siginfo) and the fd
    // is borrowed, hence open.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    check(ret).map(drop)
}

/// Marks every descriptor from `first` upwards close-on-exec, so that nothing of the
/// runtime leaks into the container process (the CVE-2024-21626 class).
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range takes no pointers; CLOSE_RANGE_CLOEXEC only sets flags, so no
    // descriptor owned by Rust code is closed behind its back.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if check(ret).is_ok() {
        return Ok(());
    }
    // Older kernels, or a seccomp profile that does not allow close_range: walk the
    // descriptor table instead.
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")?
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .filter(|fd| *fd >= first as i32)
        .collect();
    for fd in fds {
        // SAFETY: F_GETFD/F_SETFD only read and set the descriptor's flags; an fd that was
        // the directory iterator's own (closed by now) fails harmlessly with EBADF.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
    Ok(())
}

/// Restores default dispositions for every catchable signal and unblocks all signals, so
/// the container process starts with a clean signal state.
pub fn reset_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL is a valid disposition for every catchable signal; failures
        // (for numbers glibc reserves) are harmless and ignored.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: `set` is a properly initialised sigset that lives across the call.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// Blocks `sig` for the calling thread (so it can be waited for with a signalfd or left
/// pending), returning whether it was blocked before.
pub fn ignore_signal(sig: i32) {
    // SAFETY: SIG_IGN is a valid disposition for any catchable signal.
    unsafe { libc::signal(sig, libc::SIG_IGN) };
}

/// personality(2).
pub fn personality(persona: u64) -> io::Result<()> {
    // SAFETY: personality takes no pointers.
    check(unsafe { libc::personality(persona as libc::c_ulong) } as libc::c_long).map(drop)
}

/// ioprio_set(2) for the calling process.
pub fn ioprio_set_self(class: i32, prio: i32) -> io::Result<()> {
    let value = (class << 13) | prio;
    // SAFETY: ioprio_set takes no pointers; IOPRIO_WHO_PROCESS = 1, who = 0 is "self".
    check(unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, value) }).map(drop)
}

/// setgroups(2) with no groups, or the given list.
pub fn setgroups(groups: &[u32]) -> io::Result<()> {
    // SAFETY: the pointer and length describe a live slice of gid_t-sized values.
    check(unsafe { libc::setgroups(groups.len(), groups.as_ptr()) } as libc::c_long).map(drop)
}

/// Joins a new session keyring named `name` (keyctl JOIN_SESSION_KEYRING), so containers
/// do not share the runtime's keys.
pub fn join_session_keyring(name: &std::ffi::CStr) -> io::Result<()> {
    // SAFETY: KEYCTL_JOIN_SESSION_KEYRING = 1 reads one NUL-terminated string.
    check(unsafe { libc::syscall(libc::SYS_keyctl, 1, name.as_ptr()) }).map(drop)
}

/// Closes a descriptor number inherited across a fork whose owner lives on only in the
/// parent (a lock file the runtime holds, which the child must not keep locked).
///
/// The caller must not use any handle to `fd` in this process afterwards; the child
/// processes that call this never return to the code that owned it.
pub fn close_inherited(fd: std::os::fd::RawFd) {
    // SAFETY: closing an fd number has no memory-safety effect; the documented contract
    // guarantees no Rust owner in this process will use or close it again.
    unsafe { libc::close(fd) };
}

/// execveat(2) of the program `fd` refers to (`AT_EMPTY_PATH`), with `argv` and `envp`.
/// Returns only on failure.
pub fn execveat_fd(
    fd: BorrowedFd<'_>,
    argv: &[std::ffi::CString],
    envp: &[std::ffi::CString],
) -> io::Error {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(std::ptr::null());
    // SAFETY: `a` and `e` are NULL-terminated arrays of pointers to NUL-terminated strings
    // owned by `argv`/`envp`, which outlive the call; the path is an empty C string and
    // the fd is borrowed, hence open.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            a.as_ptr(),
            e.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    io::Error::last_os_error()
}

/// The parameters of sched_setattr(2), laid out as `struct sched_attr`
/// (SCHED_ATTR_SIZE_VER0, 48 bytes); `size` is filled in by [`sched_setattr_self`].
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SchedAttr {
    /// Set by [`sched_setattr_self`] whatever the caller puts here.
    pub size: u32,
    /// `SCHED_*` policy.
    pub policy: u32,
    /// `SCHED_FLAG_*` bits.
    pub flags: u64,
    /// Nice value (SCHED_OTHER, SCHED_BATCH).
    pub nice: i32,
    /// Static priority (SCHED_FIFO, SCHED_RR).
    pub priority: u32,
    /// SCHED_DEADLINE runtime, ns.
    pub runtime: u64,
    /// SCHED_DEADLINE deadline, ns.
    pub deadline: u64,
    /// SCHED_DEADLINE period, ns.
    pub period: u64,
}

/// sched_setattr(2) for the calling thread.
pub fn sched_setattr_self(mut attr: SchedAttr) -> io::Result<()> {
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: `attr` is a live, correctly laid out sched_attr whose `size` field says how
    // much the kernel may read; pid 0 is the calling thread.
    check(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) })
        .map(drop)
}

/// Drops this process's resident pages of executable file mappings (`r-xp`, program and
/// shared-library text) with `MADV_DONTNEED`; they fault back in from the page cache as
/// the code runs again. A long-lived process whose start-up ran much more code than its
/// steady state (the shim) thereby keeps only the text it keeps using; each page fault
/// maps its 64 KiB neighbourhood (fault-around), so start-up leaves most of the text
/// resident otherwise. Returns the number of bytes advised.
pub fn drop_text_pages() -> io::Result<usize> {
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    let mut total = 0;
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms), Some(_off), Some(_dev), Some(inode)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        // Only executable, private, file-backed mappings: their pages are never written,
        // so dropping them loses nothing (unlike .data or RELRO, which relocation wrote).
        if perms != "r-xp" || inode == "0" {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        // SAFETY: the range is an existing read-only executable file mapping of this
        // process (from /proc/self/maps); MADV_DONTNEED on it only unmaps clean pages that
        // the kernel faults back in unchanged from the file, so no memory Rust can see
        // changes.
        let ret =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        if ret == 0 {
            total += end - start;
        }
    }
    Ok(total)
}
