#!/usr/bin/env python3
"""Runs a command on a fresh pseudo-terminal of a known size and drives it like a user.

Usage: pty_run.py [--rows R] [--cols C] [--timeout S] [STEP...] -- COMMAND [ARG...]

Steps, in order:
  expect:TEXT   wait until the output so far contains TEXT (fails after --timeout)
  send:TEXT     type TEXT; backslash escapes are decoded (\\n, \\r, \\x10 = ctrl-p, \\x11 = ctrl-q)
  sleep:SECS    pause
After the steps, waits for COMMAND to exit (at most --timeout seconds, then kills it).
Prints everything the terminal showed, then exits with COMMAND's exit status, 124 if it
had to be killed, or 125 if an `expect` step timed out.

Why not `script -qec`: script copies the size of the terminal it runs on (none in CI), and
cannot wait for a prompt before typing; docker's -it needs both to be tested honestly.
"""

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time


def main() -> int:
    argv = sys.argv[1:]
    rows, cols, timeout = 24, 80, 20.0
    steps = []
    while argv and argv[0] != "--":
        a = argv.pop(0)
        if a in ("--rows", "--cols", "--timeout"):
            if not argv:
                print(f"pty_run.py: {a} needs a value", file=sys.stderr)
                return 2
            v = argv.pop(0)
            if a == "--rows":
                rows = int(v)
            elif a == "--cols":
                cols = int(v)
            else:
                timeout = float(v)
        elif a.split(":", 1)[0] in ("expect", "send", "sleep") and ":" in a:
            kind, text = a.split(":", 1)
            steps.append((kind, text))
        else:
            print(f"pty_run.py: unknown argument {a!r}", file=sys.stderr)
            return 2
    if not argv or argv[0] != "--" or len(argv) < 2:
        print("usage: pty_run.py [options] [steps] -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    cmd = argv[1:]

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def child_setup() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave,
                            preexec_fn=child_setup, close_fds=True)
    os.close(slave)
    out = bytearray()

    def pump(wait: float) -> bool:
        """Reads what is available within `wait` seconds; False once the pty is closed."""
        r, _, _ = select.select([master], [], [], wait)
        if not r:
            return True
        try:
            data = os.read(master, 65536)
        except OSError:
            return False
        if not data:
            return False
        out.extend(data)
        return True

    status = 0
    open_ = True
    for kind, text in steps:
        if kind == "expect":
            deadline = time.monotonic() + timeout
            want = text.encode()
            while want not in out:
                if time.monotonic() > deadline or not open_:
                    status = 125
                    break
                open_ = pump(0.1)
            if status:
                break
        elif kind == "send":
            os.write(master, text.encode().decode("unicode_escape").encode("latin-1"))
        elif kind == "sleep":
            end = time.monotonic() + float(text)
            while time.monotonic() < end and open_:
                open_ = pump(0.05)
            if not open_:
                time.sleep(max(0.0, end - time.monotonic()))

    deadline = time.monotonic() + (0 if status else timeout)
    rc = None
    while time.monotonic() < deadline:
        rc = proc.poll()
        if rc is not None:
            break
        if open_:
            open_ = pump(0.1)
        else:
            time.sleep(0.05)
    if rc is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        rc = 124
    while open_:
        open_ = pump(0.05) and bool(select.select([master], [], [], 0)[0])
    os.close(master)
    sys.stdout.write(out.decode("utf-8", "replace"))
    sys.stdout.flush()
    if status:
        print(f"\n[pty_run: expected text not seen within {timeout}s]", file=sys.stderr)
        return status
    return rc if rc >= 0 else 128 - rc


if __name__ == "__main__":
    sys.exit(main())
