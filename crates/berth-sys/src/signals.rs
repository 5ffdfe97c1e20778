//! Receiving signals synchronously: block them and read them from a signalfd, so the
//! foreground runtime can forward each one to the container process.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// A signal mask to restore later.
pub struct SigMask(libc::sigset_t);

/// Blocks every signal for the calling thread and returns the previous mask together with
/// a signalfd that reports them.
pub fn block_all() -> io::Result<(SigMask, OwnedFd)> {
    // SAFETY: both sigsets are initialised by sigfillset/sigprocmask before use; the
    // returned fd is checked and then owned exactly once.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        if libc::sigprocmask(libc::SIG_BLOCK, &all, &mut old) < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = libc::signalfd(-1, &all, libc::SFD_CLOEXEC);
        if fd < 0 {
            let e = io::Error::last_os_error();
            libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            return Err(e);
        }
        Ok((SigMask(old), OwnedFd::from_raw_fd(fd)))
    }
}

/// Restores a mask saved by [`block_all`].
pub fn restore(mask: &SigMask) {
    // SAFETY: `mask.0` is a valid sigset obtained from sigprocmask.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, &mask.0, std::ptr::null_mut()) };
}

/// Reads one pending signal number from a signalfd.
pub fn read_signal(fd: BorrowedFd<'_>) -> io::Result<i32> {
    // SAFETY: the buffer is a properly sized and aligned signalfd_siginfo that the kernel
    // fills; the fd is borrowed, hence open.
    unsafe {
        let mut info: libc::signalfd_siginfo = std::mem::zeroed();
        let n = libc::read(
            fd.as_raw_fd(),
            (&mut info as *mut libc::signalfd_siginfo).cast(),
            std::mem::size_of::<libc::signalfd_siginfo>(),
        );
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(info.ssi_signo as i32)
    }
}
