//! bpf(2) for cgroup-v2 device filters: load a `BPF_PROG_TYPE_CGROUP_DEVICE` program,
//! attach it to a cgroup directory, list and detach the programs already there.
//!
//! Main types: [`Insn`] (one eBPF instruction, kernel layout), [`BpfError`] (errno plus the
//! verifier's log on a failed load).
//!
//! Invariant: the `Attr*` structs mirror the prefixes of `union bpf_attr` in
//! `include/uapi/linux/bpf.h` that each command reads. The kernel accepts a shorter
//! `bpf_attr` than its own and zero-fills the rest (`bpf_check_uarg_tail_zero`), so
//! passing only the prefix we fill is forward compatible.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `BPF_PROG_TYPE_CGROUP_DEVICE`.
pub const PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_CGROUP_DEVICE` attach type.
pub const ATTACH_CGROUP_DEVICE: u32 = 6;
/// `BPF_F_ALLOW_MULTI`: several programs on one cgroup, all of which must allow.
pub const F_ALLOW_MULTI: u32 = 1 << 1;

const CMD_PROG_LOAD: libc::c_long = 5;
const CMD_PROG_ATTACH: libc::c_long = 8;
const CMD_PROG_DETACH: libc::c_long = 9;
const CMD_PROG_GET_FD_BY_ID: libc::c_long = 13;
const CMD_PROG_QUERY: libc::c_long = 16;

/// One eBPF instruction as the kernel reads it (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode: class | size/op | source.
    pub code: u8,
    /// Destination register in the low nibble, source register in the high nibble.
    pub regs: u8,
    /// Signed jump offset or memory offset.
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

/// A failed bpf(2) command.
#[derive(Debug, thiserror::Error)]
#[error("bpf {op}: {source}{}", if log.is_empty() { String::new() } else { format!("; verifier log: {log}") })]
pub struct BpfError {
    /// The command (`BPF_PROG_LOAD`, …).
    pub op: &'static str,
    /// The errno.
    pub source: io::Error,
    /// The verifier's log (loads only; empty otherwise).
    pub log: String,
}

impl BpfError {
    fn new(op: &'static str, source: io::Error) -> Self {
        BpfError {
            op,
            source,
            log: String::new(),
        }
    }
}

#[repr(C)]
#[derive(Default)]
struct AttrProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttrAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttrQuery {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttrGetFdById {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// Issues one bpf(2) command with `attr` as its argument block.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, exclusively borrowed repr(C) struct matching the prefix of
    // `union bpf_attr` the command reads; its exact size is passed, so the kernel reads and
    // writes only within it. Pointers stored inside it (instructions, license, log, id
    // array) are kept alive by the callers for the duration of this call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Takes ownership of a descriptor the kernel just returned.
fn owned(ret: libc::c_long) -> io::Result<OwnedFd> {
    let fd = i32::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: a successful PROG_LOAD / PROG_GET_FD_BY_ID returns a new descriptor that
    // nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Loads a `BPF_PROG_TYPE_CGROUP_DEVICE` program and returns its descriptor. On a verifier
/// rejection the load is retried with logging on, so the error carries the verifier's
/// explanation.
pub fn load_cgroup_device_prog(insns: &[Insn], license: &CStr) -> Result<OwnedFd, BpfError> {
    let insn_cnt = u32::try_from(insns.len())
        .map_err(|_| BpfError::new("BPF_PROG_LOAD", io::Error::from_raw_os_error(libc::E2BIG)))?;
    let mut attr = AttrProgLoad {
        prog_type: PROG_TYPE_CGROUP_DEVICE,
        insn_cnt,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    match bpf(CMD_PROG_LOAD, &mut attr) {
        Ok(fd) => owned(fd).map_err(|e| BpfError::new("BPF_PROG_LOAD", e)),
        Err(first) => {
            let mut log = vec![0u8; 64 * 1024];
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let retry = bpf(CMD_PROG_LOAD, &mut attr);
            let text_len = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..text_len]).trim().to_string();
            match retry {
                Ok(fd) => owned(fd).map_err(|e| BpfError::new("BPF_PROG_LOAD", e)),
                Err(_) => Err(BpfError {
                    op: "BPF_PROG_LOAD",
                    source: first,
                    log: text,
                }),
            }
        }
    }
}

fn fd_u32(fd: BorrowedFd<'_>) -> u32 {
    // Descriptors are non-negative, so this never changes the value.
    fd.as_raw_fd() as u32
}

/// Attaches `prog` to the cgroup directory `cgroup` for `attach_type` with `flags`.
pub fn prog_attach(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
) -> Result<(), BpfError> {
    let mut attr = AttrAttach {
        target_fd: fd_u32(cgroup),
        attach_bpf_fd: fd_u32(prog),
        attach_type,
        attach_flags: flags,
        replace_bpf_fd: 0,
    };
    bpf(CMD_PROG_ATTACH, &mut attr)
        .map(drop)
        .map_err(|e| BpfError::new("BPF_PROG_ATTACH", e))
}

/// Detaches `prog` from the cgroup directory `cgroup`.
pub fn prog_detach(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
) -> Result<(), BpfError> {
    let mut attr = AttrAttach {
        target_fd: fd_u32(cgroup),
        attach_bpf_fd: fd_u32(prog),
        attach_type,
        ..Default::default()
    };
    bpf(CMD_PROG_DETACH, &mut attr)
        .map(drop)
        .map_err(|e| BpfError::new("BPF_PROG_DETACH", e))
}

/// IDs of the programs attached directly to the cgroup directory `cgroup` (not inherited
/// ones) for `attach_type`.
pub fn prog_query(cgroup: BorrowedFd<'_>, attach_type: u32) -> Result<Vec<u32>, BpfError> {
    let mut ids = vec![0u32; 64];
    loop {
        let mut attr = AttrQuery {
            target_fd: fd_u32(cgroup),
            attach_type,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        match bpf(CMD_PROG_QUERY, &mut attr) {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // ENOSPC: more programs than slots; prog_cnt now says how many there are.
            Err(e)
                if e.raw_os_error() == Some(libc::ENOSPC) && attr.prog_cnt as usize > ids.len() =>
            {
                ids = vec![0u32; attr.prog_cnt as usize];
            }
            Err(e) => return Err(BpfError::new("BPF_PROG_QUERY", e)),
        }
    }
}

/// Opens the loaded program with ID `id`.
pub fn prog_fd_by_id(id: u32) -> Result<OwnedFd, BpfError> {
    let mut attr = AttrGetFdById {
        prog_id: id,
        ..Default::default()
    };
    bpf(CMD_PROG_GET_FD_BY_ID, &mut attr)
        .and_then(owned)
        .map_err(|e| BpfError::new("BPF_PROG_GET_FD_BY_ID", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_layouts_match_the_kernel_abi() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        assert_eq!(std::mem::offset_of!(AttrProgLoad, log_buf), 32);
        assert_eq!(std::mem::offset_of!(AttrProgLoad, prog_name), 48);
        assert_eq!(std::mem::offset_of!(AttrProgLoad, expected_attach_type), 68);
        assert_eq!(std::mem::offset_of!(AttrQuery, prog_ids), 16);
        assert_eq!(std::mem::offset_of!(AttrQuery, prog_cnt), 24);
        assert_eq!(std::mem::size_of::<AttrAttach>(), 20);
    }
}
