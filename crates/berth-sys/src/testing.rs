//! Test support that needs `unsafe`: starting a child command in new namespaces.
//!
//! Privileged tests run each test body in a fresh mount and network namespace so that what
//! a test mounts or configures cannot leak into the host or into the next test
//! (`berth_testutil::isolated` builds on this). `std::process::Command::pre_exec` is the
//! only way to run code between fork and exec of a `Command`, and it is `unsafe`; this module
//! wraps it for the one closure we need.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes `cmd`'s child call `unshare(flags)` (`libc::CLONE_NEW*` bits) before it execs.
///
/// When `flags` contains `CLONE_NEWNS`, the child also makes every mount in its new mount
/// namespace recursively private, so that mounts made by the child never propagate back to
/// the host's shared mounts (unshare(2) copies the propagation type, and systemd-style hosts
/// mount `/` shared: <https://man7.org/linux/man-pages/man7/mount_namespaces.7.html>).
/// The child also gets `PR_SET_PDEATHSIG(SIGKILL)`: if the test runner that spawned it is
/// killed (a timeout, Ctrl-C), the isolated test dies with it instead of running on
/// unobserved. (The signal follows the spawning *thread*, which waits for the child.)
/// A failing `prctl`, `unshare` or `mount` makes the spawn fail with that error.
pub fn command_in_new_namespaces(cmd: &mut Command, flags: i32) -> &mut Command {
    let hook = move || -> io::Result<()> {
        // SAFETY: prctl(PR_SET_PDEATHSIG) takes an integer signal number, no pointers.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: unshare takes no pointers; it only changes the calling (child) process.
        if unsafe { libc::unshare(flags) } != 0 {
            return Err(io::Error::last_os_error());
        }
        if flags & libc::CLONE_NEWNS != 0 {
            // SAFETY: the target is a static NUL-terminated string; source, fstype and data
            // may be NULL for a propagation change (mount(2)).
            let rc = unsafe {
                libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the hook runs in the forked child before exec. It calls only prctl(2),
    // unshare(2) and mount(2), which are async-signal-safe system calls, takes no locks and does not
    // allocate (io::Error::last_os_error stores the errno inline), as pre_exec requires.
    unsafe { cmd.pre_exec(hook) }
}
