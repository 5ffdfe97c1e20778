#!/usr/bin/env python3
"""Measures OCI runtimes side by side on one bundle (driven by bench/runtime.sh).

usage: runtime_driver.py <spawn_rusage> <bundle> <workdir> <iterations> <name>=<path>[@hidden] ...

For each runtime and iteration it times:
  lifecycle: `create --pid-file` | `start` | wait until the container process is gone |
             `delete`, and separately `run` (all with stdin/stdout on /dev/null);
  CPU:       user+sys of every process of the iteration, from wait4(2) rusage. Each command
             runs under spawn_rusage (bench/spawn_rusage.c: a tiny static helper, so that
             the command's RSS is not inflated by a copy of Python's image), which reports
             the command's wall time and rusage. This process is a child subreaper
             (PR_SET_CHILD_SUBREAPER), so the container process and anything else a runtime
             detaches are reparented here when their parent exits and counted too;
  peak RSS:  the largest ru_maxrss of those processes (the kernel keeps the high-water mark
             across exec, so the container's /bin/true reports the runtime's init's peak).
Runtimes are interleaved per iteration, so load changes hit all of them alike.
`@hidden` runs that runtime in a private mount namespace where the cgroup v2 mount
/sys/fs/cgroup/unified is unmounted: crun 1.8 refuses hybrid hosts otherwise. The switch is
a setns(2) of this process between iterations, so it costs the measured commands nothing.
Prints a table of medians and the ratios of the first runtime to the others; the medians
(and any runtime's error) also go to <workdir>/results.json.
"""

import ctypes
import json
import os
import statistics
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
UNIFIED = b"/sys/fs/cgroup/unified"
WARMUP = 3
PHASE_TIMEOUT = 20.0

libc = ctypes.CDLL(None, use_errno=True)


def check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


class Failed(Exception):
    pass


class Iteration:
    """Accumulates the rusage of every process reaped during one measured iteration."""

    def __init__(self):
        self.cpu = 0.0
        self.rss_kib = 0

    def add(self, ru):
        self.add_raw(ru.ru_utime + ru.ru_stime, ru.ru_maxrss)

    def add_raw(self, cpu_s, rss_kib):
        self.cpu += cpu_s
        self.rss_kib = max(self.rss_kib, rss_kib)

    def drain(self):
        """Reaps whatever children have exited (orphans reparented to us)."""
        while True:
            try:
                pid, _, ru = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.add(ru)


SPAWN_RUSAGE = None


def timed(it, argv, log_fd):
    """Runs argv to completion under spawn_rusage; returns its wall time in seconds and adds
    its CPU and RSS to it; raises Failed on a non-zero exit."""
    r, w = os.pipe()
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (os.POSIX_SPAWN_DUP2, log_fd, 2),
        (os.POSIX_SPAWN_DUP2, w, 3),
    ]
    try:
        pid = os.posix_spawn(SPAWN_RUSAGE, [SPAWN_RUSAGE] + argv, os.environ,
                             file_actions=actions)
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as f:
        report = f.read().split()
    os.waitpid(pid, 0)
    if len(report) != 5:
        raise Failed(f"spawn_rusage gave no report for {' '.join(argv)}")
    wall_ns, user_us, sys_us, rss_kib, code = (int(x) for x in report)
    it.add_raw((user_us + sys_us) / 1e6, rss_kib)
    if code != 0:
        raise Failed(f"`{' '.join(argv[3:5])}` exited {code}")
    return wall_ns / 1e9


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state in (b"Z", b"X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True


def wait_exit(it, pid):
    """Waits until process pid has exited, reaping it (and other orphans) when ours."""
    t0 = time.perf_counter()
    while True:
        try:
            rpid, _, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            rpid = 0
        if rpid > 0:
            it.add(ru)
            if rpid == pid:
                break
            continue
        if gone(pid):
            break
        if time.perf_counter() - t0 > PHASE_TIMEOUT:
            raise Failed(f"container process {pid} still running after {PHASE_TIMEOUT}s")
        time.sleep(0.0001)
    return time.perf_counter() - t0


def lifecycle(rt, state, bundle, cid, pidfile, log_fd):
    it = Iteration()
    base = [rt, "--root", state]
    r = {}

    def phase(name, f):
        # Per-phase peak RSS: which process of the lifecycle is the largest.
        before, it.rss_kib = it.rss_kib, 0
        r[name] = f()
        r[name + "_rss"] = it.rss_kib
        it.rss_kib = max(before, it.rss_kib)

    phase("create", lambda: timed(
        it, base + ["create", "--bundle", bundle, "--pid-file", pidfile, cid], log_fd))
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError) as e:
        raise Failed(f"no pid file after create: {e}")
    phase("start", lambda: timed(it, base + ["start", cid], log_fd))
    phase("wait", lambda: wait_exit(it, pid))
    phase("delete", lambda: timed(it, base + ["delete", cid], log_fd))
    it.drain()
    r["lifecycle"] = r["create"] + r["start"] + r["wait"] + r["delete"]
    r["lifecycle_cpu"] = it.cpu
    r["lifecycle_rss"] = it.rss_kib
    return r


def run_once(rt, state, bundle, cid, log_fd):
    it = Iteration()
    wall = timed(it, [rt, "--root", state, "run", "--bundle", bundle, cid], log_fd)
    it.drain()
    return {"run": wall, "run_cpu": it.cpu, "run_rss": it.rss_kib}


def force_delete(rt, state, cid, log_fd):
    it = Iteration()
    try:
        timed(it, [rt, "--root", state, "delete", "--force", cid], log_fd)
    except Failed:
        pass
    it.drain()


def main():
    global SPAWN_RUSAGE
    SPAWN_RUSAGE = sys.argv[1]
    bundle, work, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    runtimes = []
    for arg in sys.argv[5:]:
        name, path = arg.split("=", 1)
        hidden = path.endswith("@hidden")
        runtimes.append({"name": name, "path": path.removesuffix("@hidden"), "hidden": hidden})

    check(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)")
    host_ns = os.open("/proc/self/ns/mnt", os.O_RDONLY)
    check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    if os.path.ismount(UNIFIED):
        check(libc.umount2(UNIFIED, MNT_DETACH), "umount /sys/fs/cgroup/unified")
    hidden_ns = os.open("/proc/self/ns/mnt", os.O_RDONLY)
    check(libc.setns(host_ns, CLONE_NEWNS), "setns(host mount namespace)")

    results = {}
    for rt in runtimes:
        rt["state"] = os.path.join(work, "state-" + rt["name"].replace(" ", "_"))
        rt["log"] = os.open(os.path.join(work, rt["name"].replace(" ", "_") + ".log"),
                            os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        rt["samples"] = []
        rt["error"] = None
    for i in range(WARMUP + n):
        for rt in runtimes:
            if rt["error"]:
                continue
            check(libc.setns(hidden_ns if rt["hidden"] else host_ns, CLONE_NEWNS), "setns")
            tag = f"bench-{os.getpid()}-{rt['name'].split()[0]}-{i}"
            pidfile = os.path.join(work, tag + ".pid")
            try:
                s = lifecycle(rt["path"], rt["state"], bundle, tag + "-l", pidfile, rt["log"])
                s.update(run_once(rt["path"], rt["state"], bundle, tag + "-r", rt["log"]))
                if i >= WARMUP:
                    rt["samples"].append(s)
            except (Failed, OSError) as e:
                rt["error"] = str(e)
                force_delete(rt["path"], rt["state"], tag + "-l", rt["log"])
                force_delete(rt["path"], rt["state"], tag + "-r", rt["log"])
            finally:
                if os.path.exists(pidfile):
                    os.unlink(pidfile)
    check(libc.setns(host_ns, CLONE_NEWNS), "setns(host mount namespace)")

    for rt in runtimes:
        out = {"path": rt["path"], "v2_hidden": rt["hidden"], "n": len(rt["samples"])}
        if rt["error"]:
            out["error"] = rt["error"]
            log = os.path.join(work, rt["name"].replace(" ", "_") + ".log")
            with open(log, errors="replace") as f:
                tail = [l.strip() for l in f.read().splitlines() if l.strip()][-3:]
            out["stderr"] = tail
        if rt["samples"]:
            for key in rt["samples"][0]:
                out[key] = statistics.median(s[key] for s in rt["samples"])
        results[rt["name"]] = out
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print_table(results, n)


def print_table(results, n):
    cols = [("create", "create", 1e3), ("start", "start", 1e3), ("wait", "wait", 1e3),
            ("delete", "delete", 1e3), ("lifecycle", "lifecycle", 1e3),
            ("lifecycle_cpu", "lc CPU", 1e3), ("run", "run", 1e3), ("run_cpu", "run CPU", 1e3),
            ("peak_rss", "peak RSS", 1 / 1024)]
    for r in results.values():
        if "run_rss" in r:
            r["peak_rss"] = max(r["run_rss"], r["lifecycle_rss"])
    print(f"medians of {n} iterations; times in ms (wall unless CPU = user+sys), RSS in MiB")
    print(f"{'runtime':<20}" + "".join(f"{h:>10}" for _, h, _ in cols))
    for name, r in results.items():
        if "error" in r and not r.get("n"):
            print(f"{name:<20} FAILED: {r['error']}")
            for line in r.get("stderr", []):
                print(f"{'':<20}   {line}")
            continue
        print(f"{name:<20}" + "".join(f"{r[k] * scale:>10.2f}" for k, _, scale in cols))
        if "error" in r:
            print(f"{'':<20} (stopped after {r['n']} iterations: {r['error']})")
    print()
    print("peak RSS per process, MiB: create (its own children included), start, the container "
          "process (init until exec), delete")
    for name, r in results.items():
        if "create_rss" in r:
            print(f"{name:<20}" + "".join(
                f"{r[k + '_rss'] / 1024:>10.2f}" for k in ("create", "start", "wait", "delete")))
    names = list(results)
    base = results[names[0]]
    if "peak_rss" not in base:
        return
    keys = [("lifecycle", "lifecycle wall"), ("lifecycle_cpu", "lifecycle CPU"),
            ("run", "run wall"), ("run_cpu", "run CPU"), ("peak_rss", "peak RSS")]
    print()
    print(f"{'ratio ' + names[0] + ' / …':<24}" + "".join(f"{h:>16}" for _, h in keys))
    for other in names[1:]:
        o = results[other]
        if "peak_rss" not in o:
            continue
        print(f"{'/ ' + other:<24}" + "".join(
            f"{(base[k] / o[k] if o[k] else float('nan')):>16.2f}" for k, _ in keys))
    crun = next((results[k] for k in names if k.startswith("crun") and "peak_rss" in results[k]), None)
    if crun:
        met = (base["lifecycle_cpu"] < crun["lifecycle_cpu"] and base["run_cpu"] < crun["run_cpu"]
               and base["lifecycle"] < crun["lifecycle"] and base["run"] < crun["run"]
               and base["peak_rss"] <= crun["peak_rss"])
        print()
        print(f"target (faster than crun in CPU and wall, peak RSS <= crun's): "
              f"{'MET' if met else 'NOT MET'}")


if __name__ == "__main__":
    main()
