#!/usr/bin/env python3
"""Resident memory of one berth-shim, alone (no berthd), through a container's life.

Usage (root; run inside `unshare -m --propagation private` so mounts stay private):
    unshare -m --propagation private python3 bench/shim_rss.py [SHIM] [RUNTIME]
defaults: target/release/berth-shim and target/release/berth-runtime.

Prints VmRSS/VmHWM (and the anonymous/file split) from /proc/<shim>/status:
  idle           a container printing a line every 0.1 s, nobody attached
  2 attachers    two attach streams open
  after exec     an exec that streamed 20 MB to its client
  after logging  a container that wrote 2 million lines to the json-file log
The product target is <= 1.5 MB per running container (containerd's shim: ~13 MB).
"""
import json, os, socket, subprocess, sys, tempfile, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIM = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else f"{REPO}/target/release/berth-shim"
RUNTIME = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else f"{REPO}/target/release/berth-runtime"
TMP = tempfile.mkdtemp(prefix="berth-shim-rss-")


def mem(pid):
    keep = ("VmRSS", "VmHWM", "RssAnon", "RssFile")
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in keep:
                out[k] = v.strip()
    return " ".join(f"{k}={out[k]}" for k in keep)


def launch(name, args, extra=()):
    bundle, state = f"{TMP}/{name}", f"{TMP}/{name}-state"
    subprocess.run(["bash", f"{REPO}/scripts/make-bundle.sh", bundle, *args],
                   capture_output=True, check=True)
    out = subprocess.run([SHIM, "--id", f"rss-{os.getpid()}-{name}", "--bundle", bundle,
                          "--state-dir", state, "--runtime", RUNTIME,
                          "--runtime-root", f"{TMP}/runtime",
                          "--log-path", f"{state}/c-json.log", *extra],
                         capture_output=True, text=True).stdout
    ready = json.loads(out)
    if "error" in ready:
        sys.exit(f"launch failed: {ready['error']}")
    return ready["shim_pid"], state


def request(state, obj):
    s = socket.socket(socket.AF_UNIX)
    s.connect(f"{state}/shim.sock")
    s.sendall((json.dumps(obj) + "\n").encode())
    line = b""
    while not line.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            break
        line += b
    return s, json.loads(line)


def main():
    pid, st = launch("tick", ["sh", "-c", "while :; do echo tick; sleep 0.1; done"], ["--stdin"])
    time.sleep(1)
    print(f"idle           {mem(pid)}")
    attachers = [request(st, {"op": "attach", "stdin": True, "stdout": True, "stderr": True})[0]
                 for _ in range(2)]
    time.sleep(1)
    print(f"2 attachers    {mem(pid)}")
    proc = {"args": ["sh", "-c", "yes | head -c 20000000"], "cwd": "/", "env": ["PATH=/bin"],
            "user": {"uid": 0, "gid": 0}}
    conn, _ = request(st, {"op": "exec", "exec_id": "big", "process": proc})
    while conn.recv(65536):
        pass
    print(f"after exec     {mem(pid)}")
    for a in attachers:
        a.close()
    request(st, {"op": "kill", "signal": 9})
    request(st, {"op": "wait"})

    pid, st = launch("log", ["sh", "-c", "yes hello | head -n 2000000; sleep 3"])
    time.sleep(2.5)
    print(f"after logging  {mem(pid)}")
    request(st, {"op": "wait"})


if __name__ == "__main__":
    try:
        main()
    finally:
        subprocess.run(["rm", "-rf", TMP])
