//! berth's default seccomp profile: an allowlist written from a principle, not copied.
//!
//! Policy: **everything an ordinary process needs, nothing that reconfigures the kernel,
//! reaches into other namespaces or processes, or sets the clock.** Concretely:
//! - the default action is `ERRNO(EPERM)`, so a syscall nobody listed fails the way a
//!   missing capability would and programs take their fallback paths;
//! - allowed: memory management of the caller's own address space, files and directories
//!   (the kernel's DAC and capability checks still apply), sockets, polling, pipes,
//!   signals, timers and *reading* clocks, SysV/POSIX IPC (namespaced), process and thread
//!   creation without namespace flags, identity changes (checked by the kernel against
//!   the container's capabilities), scheduling of the caller's own tasks, and
//!   self-sandboxing (`seccomp`, `landlock_*`, `prctl`);
//! - never allowed without a capability that already implies the power: mounting and
//!   namespace creation/joining (`CAP_SYS_ADMIN`), the clock (`CAP_SYS_TIME`), modules
//!   (`CAP_SYS_MODULE`), reboot/kexec (`CAP_SYS_BOOT`), port I/O (`CAP_SYS_RAWIO`),
//!   tracing and cross-process memory access (`CAP_SYS_PTRACE`), NUMA policy
//!   (`CAP_SYS_NICE`), BPF and perf (`CAP_SYS_ADMIN`/`CAP_BPF`/`CAP_PERFMON`), the kernel
//!   log (`CAP_SYSLOG`), accounting (`CAP_SYS_PACCT`), `vhangup` (`CAP_SYS_TTY_CONFIG`),
//!   `open_by_handle_at` (`CAP_DAC_READ_SEARCH`: it walks outside the container's root);
//! - never allowed at all: the kernel keyring (`keyctl`, `add_key`, `request_key`: not
//!   namespaced), `userfaultfd` (a kernel exploitation primitive), `io_uring_*` (a large
//!   attack surface that bypasses this filter's view of I/O), `modify_ldt`, `uselib`,
//!   `_sysctl`, `nfsservctl`, obsolete and tracing-only calls;
//! - `clone` is allowed only without namespace flags (an argument filter on the flags
//!   word) unless `CAP_SYS_ADMIN`; `clone3` passes its flags in memory a filter cannot
//!   read, so it returns `ENOSYS` (libc then falls back to `clone`) unless `CAP_SYS_ADMIN`;
//! - `personality` only with the values that change nothing security-relevant (Linux,
//!   32-bit Linux, `UNAME26`, and the query value `0xffffffff`);
//! - `ptrace` is stricter than Docker (which allows it on kernels ≥ 4.8): it needs
//!   `--cap-add SYS_PTRACE`, together with `process_vm_readv/writev`, `kcmp` and
//!   `pidfd_getfd`.
//!
//! The filter covers x86_64 with its i386 and x32 compatibility ABIs (a 32-bit binary
//! would otherwise reach syscalls by its own numbers); libseccomp resolves each name
//! per architecture, and names that do not exist on one are skipped by berth-seccomp.

use berth_spec::{Seccomp, SeccompArg, SeccompSyscall};

/// errno of denied syscalls.
const EPERM: u32 = 1;
/// errno for `clone3` without `CAP_SYS_ADMIN`, so libc falls back to `clone`.
const ENOSYS: u32 = 38;

/// Namespace flags of `clone`: NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET.
const CLONE_NAMESPACE_FLAGS: u64 =
    0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000;

/// Syscalls every container may make.
const BASE: &[&str] = &[
    // memory of the calling process
    "brk",
    "mmap",
    "mmap2",
    "munmap",
    "mprotect",
    "mremap",
    "madvise",
    "mincore",
    "msync",
    "mlock",
    "mlock2",
    "munlock",
    "mlockall",
    "munlockall",
    "membarrier",
    "memfd_create",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "remap_file_pages",
    "cacheflush",
    "map_shadow_stack",
    // files and descriptors
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
    "open",
    "openat",
    "openat2",
    "creat",
    "close",
    "close_range",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "stat64",
    "fstat64",
    "lstat64",
    "fstatat64",
    "statfs64",
    "fstatfs64",
    "access",
    "faccessat",
    "faccessat2",
    "lseek",
    "_llseek",
    "ioctl",
    "fcntl",
    "fcntl64",
    "dup",
    "dup2",
    "dup3",
    "pipe",
    "pipe2",
    "flock",
    "fsync",
    "fdatasync",
    "sync",
    "syncfs",
    "sync_file_range",
    "sync_file_range2",
    "truncate",
    "ftruncate",
    "truncate64",
    "ftruncate64",
    "getdents",
    "getdents64",
    "readdir",
    "getcwd",
    "chdir",
    "fchdir",
    "rename",
    "renameat",
    "renameat2",
    "mkdir",
    "mkdirat",
    "rmdir",
    "link",
    "linkat",
    "unlink",
    "unlinkat",
    "symlink",
    "symlinkat",
    "readlink",
    "readlinkat",
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "chown32",
    "fchown32",
    "lchown32",
    "umask",
    "utime",
    "utimes",
    "futimesat",
    "utimensat",
    "utimensat_time64",
    "mknod",
    "mknodat",
    "fallocate",
    "fadvise64",
    "fadvise64_64",
    "arm_fadvise64_64",
    "readahead",
    "sendfile",
    "sendfile64",
    "splice",
    "tee",
    "vmsplice",
    "copy_file_range",
    "getxattr",
    "lgetxattr",
    "fgetxattr",
    "getxattrat",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "setxattrat",
    "listxattr",
    "llistxattr",
    "flistxattr",
    "listxattrat",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "removexattrat",
    "inotify_init",
    "inotify_init1",
    "inotify_add_watch",
    "inotify_rm_watch",
    "io_setup",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "io_submit",
    "io_cancel",
    "cachestat",
    // polling, events, pipes
    "poll",
    "ppoll",
    "ppoll_time64",
    "select",
    "_newselect",
    "pselect6",
    "pselect6_time64",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_wait",
    "epoll_wait_old",
    "epoll_pwait",
    "epoll_pwait2",
    "eventfd",
    "eventfd2",
    "signalfd",
    "signalfd4",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
    "timerfd_settime64",
    "timerfd_gettime64",
    // sockets
    "socket",
    "socketpair",
    "socketcall",
    "bind",
    "connect",
    "listen",
    "accept",
    "accept4",
    "getsockname",
    "getpeername",
    "send",
    "recv",
    "sendto",
    "recvfrom",
    "sendmsg",
    "recvmsg",
    "sendmmsg",
    "recvmmsg",
    "recvmmsg_time64",
    "shutdown",
    "setsockopt",
    "getsockopt",
    // time: reading clocks and sleeping
    "clock_gettime",
    "clock_gettime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "gettimeofday",
    "time",
    "nanosleep",
    "timer_create",
    "timer_delete",
    "timer_settime",
    "timer_settime64",
    "timer_gettime",
    "timer_gettime64",
    "timer_getoverrun",
    "alarm",
    "getitimer",
    "setitimer",
    "times",
    // signals
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigpending",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "sigaction",
    "sigprocmask",
    "sigreturn",
    "sigsuspend",
    "sigpending",
    "signal",
    "sigaltstack",
    "kill",
    "tkill",
    "tgkill",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    // processes and threads (clone, clone3 and personality are added with filters)
    "fork",
    "vfork",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "wait4",
    "waitid",
    "waitpid",
    "getpid",
    "getppid",
    "gettid",
    "getpgid",
    "setpgid",
    "getpgrp",
    "getsid",
    "setsid",
    "set_tid_address",
    "set_robust_list",
    "get_robust_list",
    "futex",
    "futex_time64",
    "futex_waitv",
    "futex_wake",
    "futex_wait",
    "futex_requeue",
    "rseq",
    "restart_syscall",
    "arch_prctl",
    "set_thread_area",
    "get_thread_area",
    "prctl",
    "seccomp",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
    "capget",
    "capset",
    "uname",
    "sysinfo",
    "getrandom",
    "getcpu",
    "ioprio_get",
    "ioprio_set",
    "lsm_get_self_attr",
    "lsm_list_modules",
    // identity (the kernel checks CAP_SETUID/CAP_SETGID)
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "getuid32",
    "geteuid32",
    "getgid32",
    "getegid32",
    "getresuid32",
    "getresgid32",
    "getgroups32",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setgroups",
    "setfsuid",
    "setfsgid",
    "setuid32",
    "setgid32",
    "setreuid32",
    "setregid32",
    "setresuid32",
    "setresgid32",
    "setgroups32",
    "setfsuid32",
    "setfsgid32",
    // scheduling and limits of the caller's own tasks (raising needs CAP_SYS_NICE /
    // CAP_SYS_RESOURCE, which the kernel checks)
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "sched_getparam",
    "sched_setparam",
    "sched_getscheduler",
    "sched_setscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_getattr",
    "sched_setattr",
    "getpriority",
    "setpriority",
    "nice",
    "getrlimit",
    "setrlimit",
    "ugetrlimit",
    "prlimit64",
    "getrusage",
    // IPC (namespaced)
    "shmget",
    "shmat",
    "shmdt",
    "shmctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "semctl",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "ipc",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_notify",
    "mq_getsetattr",
];

/// Extra syscalls allowed when the container holds a capability.
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    (
        "CAP_SYS_ADMIN",
        &[
            "mount",
            "umount",
            "umount2",
            "unshare",
            "setns",
            "pivot_root",
            "fsopen",
            "fsconfig",
            "fsmount",
            "fspick",
            "move_mount",
            "open_tree",
            "mount_setattr",
            "sethostname",
            "setdomainname",
            "quotactl",
            "quotactl_fd",
            "lookup_dcookie",
            "fanotify_init",
            "fanotify_mark",
            "name_to_handle_at",
            "swapon",
            "swapoff",
            "bpf",
            "perf_event_open",
            "clone3",
        ],
    ),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_TIME",
        &[
            "settimeofday",
            "stime",
            "clock_settime",
            "clock_settime64",
            "adjtimex",
            "clock_adjtime",
            "clock_adjtime64",
        ],
    ),
    (
        "CAP_SYS_MODULE",
        &["init_module", "finit_module", "delete_module"],
    ),
    ("CAP_SYS_BOOT", &["reboot", "kexec_load", "kexec_file_load"]),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "CAP_SYS_PTRACE",
        &[
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
        ],
    ),
    (
        "CAP_SYS_NICE",
        &[
            "get_mempolicy",
            "set_mempolicy",
            "set_mempolicy_home_node",
            "mbind",
            "move_pages",
            "migrate_pages",
        ],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
];

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn allow(list: Vec<String>) -> SeccompSyscall {
    SeccompSyscall {
        names: list,
        action: "SCMP_ACT_ALLOW".into(),
        errno_ret: None,
        args: Vec::new(),
    }
}

fn allow_if(name: &str, arg: SeccompArg) -> SeccompSyscall {
    SeccompSyscall {
        names: vec![name.into()],
        action: "SCMP_ACT_ALLOW".into(),
        errno_ret: None,
        args: vec![arg],
    }
}

fn eq(index: u32, value: u64) -> SeccompArg {
    SeccompArg {
        index,
        value,
        value_two: None,
        op: "SCMP_CMP_EQ".into(),
    }
}

/// The architectures the profile covers on this build's target.
pub fn native_architectures() -> Vec<String> {
    let v: &[&str] = if cfg!(target_arch = "x86_64") {
        &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    } else if cfg!(target_arch = "aarch64") {
        &["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    } else if cfg!(target_arch = "x86") {
        &["SCMP_ARCH_X86"]
    } else {
        &[]
    };
    names(v)
}

/// The default profile for a container holding `caps` (`CAP_*` names).
pub fn default_profile(caps: &[String]) -> Seccomp {
    let has = |c: &str| caps.iter().any(|x| x == c);
    let mut allowed = names(BASE);
    for (cap, extra) in BY_CAPABILITY {
        if has(cap) {
            for s in *extra {
                if !allowed.iter().any(|a| a == s) {
                    allowed.push(s.to_string());
                }
            }
        }
    }
    let mut syscalls = vec![allow(allowed)];
    if has("CAP_SYS_ADMIN") {
        syscalls.push(allow(names(&["clone"])));
    } else {
        // The flags word is clone's first argument on x86 and arm (s390 swaps the first
        // two, which this build does not target).
        syscalls.push(allow_if(
            "clone",
            SeccompArg {
                index: 0,
                value: CLONE_NAMESPACE_FLAGS,
                value_two: Some(0),
                op: "SCMP_CMP_MASKED_EQ".into(),
            },
        ));
        syscalls.push(SeccompSyscall {
            names: vec!["clone3".into()],
            action: "SCMP_ACT_ERRNO".into(),
            errno_ret: Some(ENOSYS),
            args: Vec::new(),
        });
    }
    // PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and the query 0xffffffff.
    for v in [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff] {
        syscalls.push(allow_if("personality", eq(0, v)));
    }
    Seccomp {
        default_action: "SCMP_ACT_ERRNO".into(),
        default_errno_ret: Some(EPERM),
        architectures: native_architectures(),
        flags: Vec::new(),
        listener_path: None,
        listener_metadata: None,
        syscalls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::DEFAULT_CAPABILITIES;

    fn allowed(s: &Seccomp, name: &str) -> bool {
        s.syscalls.iter().any(|r| {
            r.action == "SCMP_ACT_ALLOW" && r.args.is_empty() && r.names.iter().any(|n| n == name)
        })
    }

    fn defaults() -> Vec<String> {
        DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn allowlist_denies_by_default() {
        let p = default_profile(&defaults());
        assert_eq!(p.default_action, "SCMP_ACT_ERRNO");
        assert_eq!(p.default_errno_ret, Some(1));
        for ok in [
            "read",
            "execve",
            "socket",
            "chroot",
            "futex",
            "rseq",
            "getrandom",
        ] {
            assert!(allowed(&p, ok), "{ok} should be allowed");
        }
        for denied in [
            "mount",
            "unshare",
            "setns",
            "ptrace",
            "keyctl",
            "init_module",
            "reboot",
            "settimeofday",
            "clock_settime",
            "bpf",
            "userfaultfd",
            "io_uring_setup",
            "open_by_handle_at",
            "kexec_load",
            "clone",
        ] {
            assert!(
                !allowed(&p, denied),
                "{denied} should not be allowed unconditionally"
            );
        }
    }

    #[test]
    fn clone_filtered_and_clone3_enosys_without_sys_admin() {
        let p = default_profile(&defaults());
        let clone = p
            .syscalls
            .iter()
            .find(|r| r.names == ["clone"])
            .expect("clone rule");
        assert_eq!(clone.args[0].op, "SCMP_CMP_MASKED_EQ");
        assert_eq!(clone.args[0].value, 0x7E02_0000);
        let c3 = p
            .syscalls
            .iter()
            .find(|r| r.names == ["clone3"])
            .expect("clone3 rule");
        assert_eq!(c3.errno_ret, Some(38));
    }

    #[test]
    fn sys_admin_unlocks_mounts_and_namespaces() {
        let mut caps = defaults();
        caps.push("CAP_SYS_ADMIN".into());
        let p = default_profile(&caps);
        for ok in [
            "mount",
            "umount2",
            "unshare",
            "setns",
            "clone",
            "clone3",
            "sethostname",
        ] {
            assert!(allowed(&p, ok), "{ok}");
        }
        assert!(!allowed(&p, "ptrace"));
    }

    #[test]
    fn chroot_needs_its_capability() {
        let p = default_profile(&[]);
        assert!(!allowed(&p, "chroot"));
    }

    #[test]
    fn profile_validates_in_berth_seccomp_terms() {
        // No duplicated names inside the unconditional rule.
        let p = default_profile(&defaults());
        let mut names = p.syscalls[0].names.clone();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "duplicate names in the allow rule");
    }
}
