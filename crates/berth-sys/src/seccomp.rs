//! Seccomp support that libseccomp's Rust binding leaves unsafe: taking ownership of the
//! user-notification descriptor, and installing a program compiled earlier.
//!
//! libseccomp keeps the listener fd it got from `seccomp(SECCOMP_SET_MODE_FILTER,
//! SECCOMP_FILTER_FLAG_NEW_LISTENER)` in its global state and hands out only the number
//! (`seccomp_notify_fd(3)`); it closes it itself on `seccomp_reset(NULL, …)`. Wrapping that
//! number in an `OwnedFd` would close it twice, so berth duplicates it instead.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Duplicates descriptor number `raw` (close-on-exec) into a descriptor the caller owns.
///
/// Sound for any `raw`: fcntl only reads the number and fails with EBADF when it is not
/// open; the result is a fresh descriptor no one else refers to.
pub fn dup_cloexec(raw: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC takes an integer argument, no pointers.
    let new = unsafe { libc::fcntl(raw, libc::F_DUPFD_CLOEXEC, 0) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` was just returned by fcntl, is open and owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// One classic-BPF instruction as the kernel reads it (`struct sock_filter`).
pub type Insn = libc::sock_filter;

/// Installs `program` as a seccomp filter on the calling thread with
/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, …)`: what libseccomp's `seccomp_load` ends
/// in, for a program compiled earlier. Needs no_new_privs or CAP_SYS_ADMIN, like any
/// filter. `flags` are `SECCOMP_FILTER_FLAG_*` bits without `NEW_LISTENER` (there is no
/// way to return the listener fd here).
pub fn set_mode_filter(program: &[Insn], flags: u32) -> io::Result<()> {
    const NEW_LISTENER: u32 = 1 << 3;
    if flags & NEW_LISTENER != 0 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let len =
        u16::try_from(program.len()).map_err(|_| io::Error::from_raw_os_error(libc::E2BIG))?;
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points at `len` initialised instructions that stay borrowed for the
    // call; the kernel copies the program and never writes through the pointer. No flag
    // that makes the kernel return or write a descriptor is allowed (checked above).
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
