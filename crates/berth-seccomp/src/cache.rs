//! A cache of compiled filters, so that starting a container does not pay libseccomp's
//! compile time every time.
//!
//! libseccomp needs about 15 ms of CPU here to turn Docker's default profile (some 350
//! syscalls, several with argument conditions, three architectures) into BPF: more than
//! the rest of `create` and `start` together. Every container of an engine gets one of a
//! handful of profiles (the default one shaped by the capability set), so the runtime
//! keeps the finished program in a file named by the SHA-256 of everything that decides
//! it, and installs that program with `seccomp(2)` directly. crun keeps a similar cache.
//!
//! - **Key**: the profile as canonical JSON, the libseccomp version and the machine's
//!   architecture. Nothing else goes into the program; the flags are part of the profile.
//! - **Not cached**: profiles with a notify action or `WAIT_KILLABLE_RECV` (the kernel
//!   returns a listener fd that only libseccomp's load path hands out).
//! - **Trust**: the directory is the runtime's state root (root-owned, mode 0700, tmpfs
//!   under /run, so it starts empty after a reboot and a newer kernel). A file that is not
//!   a whole number of instructions, or longer than the kernel accepts, is ignored and
//!   rewritten; files are written to a temporary name and renamed, so a reader never sees
//!   half a program.
//! - **Best effort**: a cache that cannot be read or written only costs the compile.

use std::io::Write;
use std::path::Path;

use berth_spec::Seccomp;
use berth_sys::seccomp::Insn;
use sha2::{Digest, Sha256};

use crate::names::{self, Action, Flag};
use crate::{compile, validate, Filter, Result};

/// The kernel's limit on a classic BPF program (`BPF_MAXINSNS`).
const MAX_INSNS: usize = 4096;
/// Size of one `struct sock_filter`: u16 code, u8 jt, u8 jf, u32 k.
const INSN_BYTES: usize = 8;

/// Like [`compile`], but reuses a program compiled before for the same profile, from
/// `dir` (created when missing). The result loads with [`Filter::load`] as usual.
pub fn compile_cached(s: &Seccomp, dir: &Path) -> Result<Filter> {
    let Some(flags) = cacheable_flags(s) else {
        return compile(s);
    };
    validate(s)?;
    let path = dir.join(key(s));
    if let Some(insns) = std::fs::read(&path).ok().and_then(|b| decode(&b)) {
        return Ok(Filter::from_bpf(insns, flags));
    }
    let insns = compile(s)?.export_bpf()?;
    let _ = store(dir, &path, &insns);
    Ok(Filter::from_bpf(insns, flags))
}

/// The `SECCOMP_FILTER_FLAG_*` bits libseccomp would load `s` with, or None when `s`
/// must go through libseccomp's own loader.
fn cacheable_flags(s: &Seccomp) -> Option<u32> {
    let notify = |a: &str| names::action(a) == Some(Action::Notify);
    if notify(&s.default_action) || s.syscalls.iter().any(|r| notify(&r.action)) {
        return None;
    }
    let mut bits = 0;
    for name in &s.flags {
        match names::flag(name) {
            Some(Flag::Log) => bits |= libc::SECCOMP_FILTER_FLAG_LOG as u32,
            Some(Flag::SpecAllow) => bits |= libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW as u32,
            Some(Flag::WaitKillableRecv) => return None,
            Some(Flag::Tsync) | None => {}
        }
    }
    Some(bits)
}

fn key(s: &Seccomp) -> String {
    let mut h = Sha256::new();
    h.update(b"berth-seccomp-bpf-1\0");
    h.update(crate::libseccomp_version().as_bytes());
    h.update(b"\0");
    h.update(std::env::consts::ARCH.as_bytes());
    h.update(b"\0");
    h.update(serde_json::to_vec(s).unwrap_or_default());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Instructions from their in-memory bytes (native byte order, as libseccomp exports
/// them); None unless the bytes are 1 to [`MAX_INSNS`] whole instructions.
pub(crate) fn decode(bytes: &[u8]) -> Option<Vec<Insn>> {
    if bytes.is_empty()
        || !bytes.len().is_multiple_of(INSN_BYTES)
        || bytes.len() / INSN_BYTES > MAX_INSNS
    {
        return None;
    }
    Some(
        bytes
            .chunks_exact(INSN_BYTES)
            .map(|c| Insn {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect(),
    )
}

fn encode(insns: &[Insn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(insns.len() * INSN_BYTES);
    for i in insns {
        out.extend_from_slice(&i.code.to_ne_bytes());
        out.push(i.jt);
        out.push(i.jf);
        out.extend_from_slice(&i.k.to_ne_bytes());
    }
    out
}

fn store(dir: &Path, path: &Path, insns: &[Insn]) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = dir.join(format!(".tmp.{}", std::process::id()));
    let res = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&encode(insns))?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> Seccomp {
        serde_json::from_str(json).expect("test profile")
    }

    #[test]
    fn a_second_compile_reads_the_same_program_from_the_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
               "syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let fresh = compile(&s).and_then(|f| f.export_bpf()).expect("compile");
        let first = compile_cached(&s, dir.path()).expect("first");
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .expect("cache dir")
            .flatten()
            .collect();
        assert_eq!(files.len(), 1, "one cached program");
        let second = compile_cached(&s, dir.path()).expect("second");
        for f in [&first, &second] {
            let got = f.export_bpf().expect("bpf");
            assert_eq!(encode(&got), encode(&fresh));
        }
    }

    #[test]
    fn a_damaged_cache_file_is_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        let path = dir.path().join(key(&s));
        std::fs::write(&path, b"not bpf").expect("write");
        let f = compile_cached(&s, dir.path()).expect("compile");
        let bytes = std::fs::read(&path).expect("rewritten");
        assert_eq!(
            decode(&bytes).map(|i| encode(&i)),
            Some(encode(&f.export_bpf().expect("bpf")))
        );
    }

    #[test]
    fn different_profiles_get_different_keys_and_notify_is_not_cached() {
        let a = profile(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#);
        let b = profile(r#"{"defaultAction":"SCMP_ACT_LOG"}"#);
        assert_ne!(key(&a), key(&b));
        let n = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        assert_eq!(cacheable_flags(&n), None);
        let flagged = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_TSYNC"]}"#,
        );
        assert_eq!(
            cacheable_flags(&flagged),
            Some(libc::SECCOMP_FILTER_FLAG_LOG as u32)
        );
    }

    #[test]
    fn decode_refuses_partial_and_oversized_programs() {
        assert!(decode(&[]).is_none());
        assert!(decode(&[0; 12]).is_none());
        assert!(decode(&vec![0; (MAX_INSNS + 1) * INSN_BYTES]).is_none());
        assert_eq!(decode(&[0; 16]).map(|v| v.len()), Some(2));
    }
}
