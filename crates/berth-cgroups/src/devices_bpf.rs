//! cgroup v2 device control: an eBPF `BPF_PROG_TYPE_CGROUP_DEVICE` program generated from
//! [`DeviceRules`], and its attachment to the cgroup directory.
//!
//! The program sees `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`
//! where `access_type` is `(access << 16) | type` (type 1 = block, 2 = char; access bits
//! mknod 1, read 2, write 4), and returns 1 to allow, 0 to deny
//! (<https://docs.kernel.org/bpf/prog_cgroup_device.html> is thin; the ABI is in
//! `include/uapi/linux/bpf.h`). Matching follows the v1 kernel code: in a default-deny
//! state an exception allows an access only if it covers every requested bit; in a
//! default-allow state an exception denies an access if it covers any requested bit.
//!
//! Invariant: the program has exactly one block per exception, each ending in `exit`, and
//! ends with the default; jumps only go forward to the next block, so the verifier accepts
//! it without loops.

use crate::devices::{DeviceRules, DeviceType, ACC_ALL};
use crate::{Error, Result};
use berth_sys::bpf::{self, Insn};
use std::os::fd::AsFd;
use std::path::Path;

const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_MOV_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const ALU32_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const ALU32_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const JMP_JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JMP_JEQ_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2; // device type
const R3: u8 = 3; // requested access
const R4: u8 = 4; // major
const R5: u8 = 5; // minor

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

/// A conditional jump to the end of the current block; the offset is patched in later.
const NEXT: i16 = i16::MIN;

fn dev_type(t: DeviceType) -> i32 {
    match t {
        DeviceType::Block => 1,
        DeviceType::Char => 2,
    }
}

/// Generates the device filter for `rules`.
pub fn device_filter_program(rules: &DeviceRules) -> Vec<Insn> {
    let mut prog = vec![
        insn(LDX_MEM_W, R2, R1, 0, 0),
        insn(ALU32_MOV_X, R3, R2, 0, 0),
        insn(ALU32_RSH_K, R3, 0, 0, 16),
        insn(ALU32_AND_K, R2, 0, 0, 0xffff),
        insn(LDX_MEM_W, R4, R1, 4, 0),
        insn(LDX_MEM_W, R5, R1, 8, 0),
    ];
    let verdict = i32::from(!rules.default_allow);
    for e in &rules.exceptions {
        let mut block = vec![insn(JMP_JNE_K, R2, 0, NEXT, dev_type(e.typ))];
        if e.access != ACC_ALL {
            block.push(insn(ALU32_MOV_X, R1, R3, 0, 0));
            if rules.default_allow {
                // deny exception: skip it when it shares no bit with the request
                block.push(insn(ALU32_AND_K, R1, 0, 0, i32::from(e.access)));
                block.push(insn(JMP_JEQ_K, R1, 0, NEXT, 0));
            } else {
                // allow exception: skip it when the request has a bit it lacks
                block.push(insn(ALU32_AND_K, R1, 0, 0, i32::from(!e.access & ACC_ALL)));
                block.push(insn(JMP_JNE_K, R1, 0, NEXT, 0));
            }
        }
        if let Some(major) = e.major {
            // device numbers were checked to be <= i32::MAX when the rules were parsed
            block.push(insn(JMP_JNE_K, R4, 0, NEXT, major as i32));
        }
        if let Some(minor) = e.minor {
            block.push(insn(JMP_JNE_K, R5, 0, NEXT, minor as i32));
        }
        block.push(insn(ALU64_MOV_K, R0, 0, 0, verdict));
        block.push(insn(JMP_EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.off == NEXT {
                // blocks are a handful of instructions, far below i16::MAX
                ins.off = (len - i - 1) as i16;
            }
        }
        prog.extend(block);
    }
    prog.push(insn(ALU64_MOV_K, R0, 0, 0, i32::from(rules.default_allow)));
    prog.push(insn(JMP_EXIT, 0, 0, 0, 0));
    prog
}

/// Loads the filter for `rules`, attaches it to the cgroup directory `dir`, then detaches
/// the programs that were attached there before (so an update replaces the old filter; for
/// the moment both are attached, an access needs both to allow it, i.e. the stricter wins).
pub(crate) fn apply(dir: &Path, rules: &DeviceRules) -> Result<()> {
    let bpf_err = |source| Error::Bpf {
        path: dir.to_path_buf(),
        source,
    };
    let prog = device_filter_program(rules);
    let prog_fd = bpf::load_cgroup_device_prog(&prog, c"Apache").map_err(bpf_err)?;
    let dir_fd = std::fs::File::open(dir).map_err(|source| Error::Io {
        op: "open".into(),
        path: dir.to_path_buf(),
        source,
    })?;
    let old = bpf::prog_query(dir_fd.as_fd(), bpf::ATTACH_CGROUP_DEVICE).map_err(bpf_err)?;
    bpf::prog_attach(
        dir_fd.as_fd(),
        prog_fd.as_fd(),
        bpf::ATTACH_CGROUP_DEVICE,
        bpf::F_ALLOW_MULTI,
    )
    .map_err(bpf_err)?;
    for id in old {
        let old_fd = match bpf::prog_fd_by_id(id) {
            Ok(fd) => fd,
            // detached and freed in the meantime
            Err(e) if e.source.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(bpf_err(e)),
        };
        match bpf::prog_detach(dir_fd.as_fd(), old_fd.as_fd(), bpf::ATTACH_CGROUP_DEVICE) {
            Ok(()) => {}
            Err(e) if e.source.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(bpf_err(e)),
        }
    }
    Ok(())
}

/// How many device programs are attached directly to `dir` (for tests and diagnostics).
pub(crate) fn attached_count(dir: &Path) -> Result<usize> {
    let dir_fd = std::fs::File::open(dir).map_err(|source| Error::Io {
        op: "open".into(),
        path: dir.to_path_buf(),
        source,
    })?;
    bpf::prog_query(dir_fd.as_fd(), bpf::ATTACH_CGROUP_DEVICE)
        .map(|ids| ids.len())
        .map_err(|source| Error::Bpf {
            path: dir.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::{ACC_MKNOD, ACC_READ, ACC_WRITE};
    use berth_spec::DeviceRule;

    /// Runs the generated program on one access, interpreting the few opcodes it uses.
    fn run(prog: &[Insn], typ: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [access << 16 | typ, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            let imm = i64::from(i.imm) as u64;
            let mut next = pc + 1;
            match i.code {
                LDX_MEM_W => {
                    assert_eq!(src, 1, "loads only from the context");
                    r[dst] = u64::from(ctx[(i.off / 4) as usize]);
                }
                ALU32_MOV_X => r[dst] = r[src] & 0xffff_ffff,
                ALU32_RSH_K => r[dst] = (r[dst] & 0xffff_ffff) >> i.imm,
                ALU32_AND_K => r[dst] = (r[dst] & imm) & 0xffff_ffff,
                ALU64_MOV_K => r[dst] = imm,
                JMP_JNE_K if r[dst] != imm => next = pc + 1 + i.off as usize,
                JMP_JEQ_K if r[dst] == imm => next = pc + 1 + i.off as usize,
                JMP_JNE_K | JMP_JEQ_K => {}
                JMP_EXIT => return r[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
            pc = next;
        }
    }

    type Rule<'a> = (bool, &'a str, Option<i64>, Option<i64>, &'a str);

    fn rules(list: &[Rule<'_>]) -> DeviceRules {
        let rules: Vec<DeviceRule> = list
            .iter()
            .map(|&(allow, t, major, minor, access)| {
                DeviceRule::new(allow, t, major, minor, access)
            })
            .collect();
        DeviceRules::from_spec(&rules).expect("valid rules")
    }

    const CHAR: u32 = 2;
    const BLOCK: u32 = 1;
    const R: u32 = ACC_READ as u32;
    const W: u32 = ACC_WRITE as u32;
    const M: u32 = ACC_MKNOD as u32;

    #[test]
    fn whitelist_allows_only_listed_devices_and_access() {
        let p = device_filter_program(&rules(&[
            (false, "a", None, None, "rwm"),
            (true, "c", Some(1), Some(3), "rwm"),
            (true, "c", Some(136), None, "rw"),
            (true, "c", Some(5), Some(1), "r"),
        ]));
        assert_eq!(run(&p, CHAR, R | W, 1, 3), 1, "/dev/null rw");
        assert_eq!(run(&p, CHAR, M, 1, 3), 1, "/dev/null mknod");
        assert_eq!(run(&p, BLOCK, R, 1, 3), 0, "block 1:3 not listed");
        assert_eq!(run(&p, CHAR, R | W, 136, 7), 1, "pty rw");
        assert_eq!(run(&p, CHAR, M, 136, 7), 0, "pty mknod not granted");
        assert_eq!(run(&p, CHAR, R, 5, 1), 1, "console read");
        assert_eq!(run(&p, CHAR, R | W, 5, 1), 0, "console write not granted");
        assert_eq!(run(&p, CHAR, R, 1, 5), 0, "/dev/zero not listed");
    }

    #[test]
    fn blacklist_denies_any_overlapping_access() {
        let p = device_filter_program(&rules(&[
            (true, "a", None, None, "rwm"),
            (false, "b", Some(8), None, "w"),
        ]));
        assert_eq!(run(&p, BLOCK, R, 8, 1), 1);
        assert_eq!(run(&p, BLOCK, W, 8, 1), 0);
        assert_eq!(
            run(&p, BLOCK, R | W, 8, 1),
            0,
            "read+write overlaps the denied write"
        );
        assert_eq!(run(&p, CHAR, W, 8, 1), 1, "char 8:1 is another device");
    }

    #[test]
    fn empty_rule_sets() {
        let allow_all = device_filter_program(&rules(&[]));
        assert_eq!(allow_all.len(), 8);
        assert_eq!(run(&allow_all, CHAR, R, 1, 1), 1);
        let deny_all = device_filter_program(&rules(&[(false, "a", None, None, "")]));
        assert_eq!(run(&deny_all, BLOCK, R, 1, 1), 0);
    }
}
