//! Keeping the runtime binary out of reach of the container (the CVE-2019-5736 class).
//!
//! A process of the container that can see a runtime process (an `exec` joining its PID
//! namespace, or an init in a PID namespace shared with others) could open
//! `/proc/<pid>/exe` for writing and replace the host's runtime binary. Before that can
//! happen, the runtime re-executes itself from a private, detached, read-only bind mount of
//! its own binary (`open_tree(OPEN_TREE_CLONE)` + `mount_setattr(MOUNT_ATTR_RDONLY)`):
//! `/proc/<pid>/exe` then refers to a file on a read-only mount nobody else can reach, and
//! writes through it fail with EROFS. Unlike runc's copy into a sealed memfd, nothing is
//! copied, so the cost is one execve.

use crate::{Error, Result};
use std::ffi::CString;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

const MARK: &str = "_BERTH_RUNTIME_SEALED";

/// Whether this process already runs from the read-only copy (and forgets the marker so
/// the container's processes never see it).
fn already_sealed() -> bool {
    let sealed = std::env::var_os(MARK).is_some();
    if sealed {
        std::env::remove_var(MARK);
    }
    sealed
}

/// Re-executes the current program from a read-only detached mount of itself, unless it
/// already runs from one. Returns `Ok(())` when sealed; otherwise does not return on
/// success.
pub fn ensure() -> Result<()> {
    if already_sealed() {
        return Ok(());
    }
    use rustix::mount::OpenTreeFlags;
    let exe = rustix::mount::open_tree(
        rustix::fs::CWD,
        "/proc/self/exe",
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )
    .map_err(|e| Error::sys("making a private copy of the runtime binary (open_tree)", e))?;
    berth_sys::ns::mount_setattr(exe.as_fd(), false, crate::mountopts::attr::RDONLY, 0)
        .map_err(|e| Error::sys("making the runtime binary read-only", e))?;
    let argv: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.as_bytes()).map_err(|_| Error::Invalid("NUL in argument".into())))
        .collect::<Result<_>>()?;
    let mut envp: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    envp.push(CString::new(format!("{MARK}=1")).map_err(|_| Error::Invalid("env".into()))?);
    let err = berth_sys::proc::execveat_fd(exe.as_fd(), &argv, &envp);
    Err(Error::sys(
        "re-executing the runtime from its read-only copy",
        err,
    ))
}

/// Whether a container with this config needs the sealed binary for `create`: only when
/// its init is visible to other processes, i.e. its PID namespace is not a new one.
pub fn needed_for(spec: &berth_spec::Spec) -> bool {
    !spec.linux.as_ref().is_some_and(|l| {
        l.namespaces
            .iter()
            .any(|n| n.typ == "pid" && n.path.as_deref().unwrap_or("").is_empty())
    })
}
