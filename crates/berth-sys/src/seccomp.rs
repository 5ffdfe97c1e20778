//! Seccomp support that libseccomp's Rust binding leaves unsafe: taking ownership of the
//! user-notification descriptor.
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
