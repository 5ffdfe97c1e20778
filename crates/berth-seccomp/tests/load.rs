//! Loading filters. A loaded filter stays on the thread for good, so every test re-runs
//! this test binary as a child (`BERTH_SECCOMP_CHILD` set, only that test selected) and
//! the child loads the filter and checks what its syscalls return; the parent asserts on
//! the child's exit status and shows its output on failure.

use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

use berth_seccomp::compile;
use berth_spec::Seccomp;
use rustix::fs::{Mode, CWD};
use rustix::io::Errno;

const CHILD_ENV: &str = "BERTH_SECCOMP_CHILD";

fn in_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

fn run_child(test: &str) -> anyhow::Result<Output> {
    let exe = std::env::current_exe()?;
    Ok(Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()?)
}

fn assert_child_passed(test: &str) -> anyhow::Result<()> {
    let out = run_child(test)?;
    assert!(
        out.status.success(),
        "child {test} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "child did not run {test}:\n{stdout}"
    );
    Ok(())
}

fn profile(json: serde_json::Value) -> anyhow::Result<Seccomp> {
    Ok(serde_json::from_value(json)?)
}

#[test]
fn errno_for_mkdir_while_getpid_works() -> anyhow::Result<()> {
    if !in_child() {
        return assert_child_passed("errno_for_mkdir_while_getpid_works");
    }
    let dir = tempfile::tempdir()?;
    let s = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["symlink", "symlinkat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
        ]
    }))?;
    let fd = compile(&s)?.load()?;
    assert!(fd.is_none());

    let err = std::fs::create_dir(dir.path().join("x")).err();
    assert_eq!(err.and_then(|e| e.raw_os_error()), Some(libc::EPERM));
    let err = std::os::unix::fs::symlink("/", dir.path().join("l")).err();
    assert_eq!(err.and_then(|e| e.raw_os_error()), Some(libc::ENOSYS));
    assert_eq!(
        rustix::process::getpid().as_raw_nonzero().get() as u32,
        std::process::id()
    );
    Ok(())
}

#[test]
fn a_program_read_back_from_the_cache_filters_the_same() -> anyhow::Result<()> {
    if !in_child() {
        return assert_child_passed("a_program_read_back_from_the_cache_filters_the_same");
    }
    let dir = tempfile::tempdir()?;
    let cache = dir.path().join("cache");
    let s = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
    }))?;
    berth_seccomp::compile_cached(&s, &cache)?;
    assert_eq!(
        std::fs::read_dir(&cache)?.count(),
        1,
        "the program was stored"
    );
    let fd = berth_seccomp::compile_cached(&s, &cache)?.load()?;
    assert!(fd.is_none());
    let err = std::fs::create_dir(dir.path().join("x")).err();
    assert_eq!(err.and_then(|e| e.raw_os_error()), Some(libc::EACCES));
    std::fs::write(dir.path().join("still-writable"), b"ok")?;
    Ok(())
}

#[test]
fn masked_eq_matches_bits_of_an_argument() -> anyhow::Result<()> {
    if !in_child() {
        return assert_child_passed("masked_eq_matches_bits_of_an_argument");
    }
    let dir = tempfile::tempdir()?;
    // mkdirat(dirfd, path, mode): refuse world-writable modes, (mode & 0o002) == 0o002.
    let s = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                      "args": [{"index": 2, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]}]
    }))?;
    compile(&s)?.load()?;
    rustix::fs::mkdirat(CWD, dir.path().join("a"), Mode::from_raw_mode(0o755))?;
    let err = rustix::fs::mkdirat(CWD, dir.path().join("b"), Mode::from_raw_mode(0o757)).err();
    assert_eq!(err, Some(Errno::ACCESS));
    let err = rustix::fs::mkdirat(CWD, dir.path().join("c"), Mode::from_raw_mode(0o777)).err();
    assert_eq!(err, Some(Errno::ACCESS));
    Ok(())
}

#[test]
fn repeated_index_means_any_distinct_indexes_mean_all() -> anyhow::Result<()> {
    if !in_child() {
        return assert_child_passed("repeated_index_means_any_distinct_indexes_mean_all");
    }
    let dir = tempfile::tempdir()?;
    let dirfd = rustix::fs::open(
        dir.path(),
        rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let raw = std::os::fd::AsRawFd::as_raw_fd(&dirfd) as u64;
    let s = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            // mode 0o700 OR mode 0o711 → EPERM
            {"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 2, "value": 0o700, "op": "SCMP_CMP_EQ"},
                      {"index": 2, "value": 0o711, "op": "SCMP_CMP_EQ"}]},
            // dirfd == ours AND mode == 0o750 → EROFS
            {"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 30,
             "args": [{"index": 0, "value": raw, "op": "SCMP_CMP_EQ"},
                      {"index": 2, "value": 0o750, "op": "SCMP_CMP_EQ"}]}
        ]
    }))?;
    compile(&s)?.load()?;
    let mk = |fd: rustix::fd::BorrowedFd<'_>, name: &str, mode: u32| {
        rustix::fs::mkdirat(fd, name, Mode::from_raw_mode(mode)).err()
    };
    assert_eq!(mk(dirfd.as_fd(), "a", 0o700), Some(Errno::PERM));
    assert_eq!(mk(dirfd.as_fd(), "b", 0o711), Some(Errno::PERM));
    assert_eq!(mk(dirfd.as_fd(), "c", 0o755), None);
    assert_eq!(mk(dirfd.as_fd(), "d", 0o750), Some(Errno::ROFS));
    let other = dir.path().join("e");
    let err = rustix::fs::mkdirat(CWD, &other, Mode::from_raw_mode(0o750)).err();
    assert_eq!(err, None, "the dirfd condition must hold too");
    Ok(())
}

#[test]
fn kill_process_ends_the_child_with_sigsys() -> anyhow::Result<()> {
    if in_child() {
        let s = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]
        }))?;
        compile(&s)?.load()?;
        let _ = rustix::process::getppid();
        // Not reached: the kernel kills the whole process at getppid.
        std::process::exit(0);
    }
    let out = run_child("kill_process_ends_the_child_with_sigsys")?;
    assert_eq!(out.status.signal(), Some(libc::SIGSYS), "{:?}", out);
    Ok(())
}

#[test]
fn notify_returns_an_fd_a_listener_can_answer() -> anyhow::Result<()> {
    if !in_child() {
        return assert_child_passed("notify_returns_an_fd_a_listener_can_answer");
    }
    use std::mem::MaybeUninit;
    use std::os::unix::net::UnixStream;

    use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

    let (runtime_end, agent_end) = UnixStream::pair()?;
    // The agent thread starts before the filter is loaded, so it is not filtered itself.
    let agent = std::thread::spawn(move || -> anyhow::Result<serde_json::Value> {
        let mut buf = vec![0u8; 4096];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let msg = rustix::net::recvmsg(
            &agent_end,
            &mut [std::io::IoSliceMut::new(&mut buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )?;
        let mut fds = Vec::new();
        for m in control.drain() {
            if let RecvAncillaryMessage::ScmRights(rights) = m {
                fds.extend(rights);
            }
        }
        let notify = fds.pop().ok_or_else(|| anyhow::anyhow!("no fd received"))?;
        let state: serde_json::Value = serde_json::from_slice(&buf[..msg.bytes])?;
        let raw = std::os::fd::AsRawFd::as_raw_fd(&notify);
        let req = ScmpNotifReq::receive(raw)?;
        ScmpNotifResp::new_val(req.id, 4242, ScmpNotifRespFlags::empty()).respond(raw)?;
        Ok(state)
    });

    let s = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/agent.sock",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]
    }))?;
    let filter = compile(&s)?;
    assert!(filter.needs_notify());
    let fd = filter
        .load()?
        .ok_or_else(|| anyhow::anyhow!("no notify fd"))?;
    let state = serde_json::json!({
        "ociVersion": "1.2.0",
        "fds": ["seccompFd"],
        "pid": std::process::id(),
        "metadata": "meta",
        "state": {"ociVersion": "1.2.0", "id": "c1", "status": "creating",
                  "pid": std::process::id(), "bundle": "/b"}
    });
    berth_seccomp::send_to_listener(&runtime_end, fd.as_fd(), &serde_json::to_vec(&state)?)?;
    drop(fd);

    // Answered by the agent, not the kernel.
    assert_eq!(
        rustix::process::getppid().map(|p| p.as_raw_nonzero().get()),
        Some(4242)
    );
    let got = agent
        .join()
        .map_err(|_| anyhow::anyhow!("agent thread panicked"))??;
    assert_eq!(got, state);
    Ok(())
}

/// The capabilities Docker and Podman give a container by default; the profile's
/// `includes.caps`/`excludes.caps` are resolved against them.
const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Turns a containers-common/Docker profile (`archMap`, `includes`, `excludes`) into the
/// OCI section an engine would write for an amd64 container with [`DEFAULT_CAPS`].
fn oci_from_engine_profile(p: &serde_json::Value) -> serde_json::Value {
    let strs = |v: &serde_json::Value, key: &str| -> Vec<String> {
        v.get(key)
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let empty = serde_json::json!({});
    let mut rules = Vec::new();
    for rule in p["syscalls"].as_array().into_iter().flatten() {
        let inc = rule.get("includes").unwrap_or(&empty);
        let exc = rule.get("excludes").unwrap_or(&empty);
        let has = |c: &String| DEFAULT_CAPS.contains(&c.as_str());
        let arch_ok = |arches: Vec<String>| arches.iter().any(|a| a == "amd64");
        let included = strs(inc, "caps").iter().all(has)
            && (strs(inc, "arches").is_empty() || arch_ok(strs(inc, "arches")))
            && !strs(exc, "caps").iter().any(has)
            && !arch_ok(strs(exc, "arches"));
        if included {
            let mut r = serde_json::json!({"names": rule["names"], "action": rule["action"]});
            if let Some(args) = rule.get("args").filter(|a| !a.is_null()) {
                r["args"] = args.clone();
            }
            if let Some(e) = rule.get("errnoRet") {
                r["errnoRet"] = e.clone();
            }
            rules.push(r);
        }
    }
    let mut out = serde_json::json!({
        "defaultAction": p["defaultAction"],
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules,
    });
    if let Some(e) = p.get("defaultErrnoRet") {
        out["defaultErrnoRet"] = e.clone();
    }
    out
}

/// The default profile of Podman (containers-common), as installed on the host, loads
/// and behaves: ordinary syscalls and thread creation work, `personality` is allowed
/// only for the listed personas, anything else gets the default errno (ENOSYS there).
#[test]
fn containers_default_profile() -> anyhow::Result<()> {
    const PATH: &str = "/usr/share/containers/seccomp.json";
    if !cfg!(target_arch = "x86_64") || !std::path::Path::new(PATH).exists() {
        eprintln!("skipped: needs {PATH} on x86_64");
        return Ok(());
    }
    if !in_child() {
        return assert_child_passed("containers_default_profile");
    }
    let engine: serde_json::Value = serde_json::from_slice(&std::fs::read(PATH)?)?;
    let s: Seccomp = serde_json::from_value(oci_from_engine_profile(&engine))?;
    berth_seccomp::validate(&s)?;
    let dir = tempfile::tempdir()?;
    let filter = compile(&s)?;
    assert!(!filter.needs_notify());
    filter.load()?;

    std::fs::create_dir(dir.path().join("ok"))?;
    std::fs::remove_dir(dir.path().join("ok"))?;
    let t = std::thread::spawn(|| 7);
    assert_eq!(t.join().ok(), Some(7));
    assert!(berth_sys::proc::personality(0xffff_ffff).is_ok());
    let err = berth_sys::proc::personality(0x0040000).err();
    let want = engine["defaultErrnoRet"].as_i64().unwrap_or(1) as i32;
    assert_eq!(err.and_then(|e| e.raw_os_error()), Some(want));
    Ok(())
}
