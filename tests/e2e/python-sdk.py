#!/usr/bin/env python3
"""The Python `docker` SDK (docker-py 7.1.0 from PyPI) against any Docker-API daemon.

Usage: python-sdk.py DOCKER_HOST      (run through tests/e2e/python-sdk.sh, which makes the
venv and loads busybox:latest)

Checks what a program using the SDK relies on: containers.run (attached: output bytes;
detached: a Container), logs (whole, stream, tail), exec_run (output and exit code, user,
workdir, environment, demux), stop/wait/remove, attrs of a container, images.list/get,
volumes (create, list, get, use, remove). Prints PASS/FAIL per check with what was expected
and seen; exits 1 if any failed. Everything it creates carries the label berth.e2e=<pid>
and is removed at the end, also on failure.
"""

import os
import sys
import time

import docker
from docker.errors import APIError, ContainerError, NotFound

passes = 0
failures = []


def check(name, want, seen):
    """Records a check: `want` equals `seen`."""
    global passes
    if want == seen:
        passes += 1
        print(f"PASS  {name}")
    else:
        failures.append(name)
        print(f"FAIL  {name}\n      | want {want!r}; seen {seen!r}")


def check_true(name, cond, seen):
    """Records a check whose condition is computed by the caller."""
    global passes
    if cond:
        passes += 1
        print(f"PASS  {name}")
    else:
        failures.append(name)
        print(f"FAIL  {name}\n      | seen {seen!r}")


def guarded(name, fn):
    """Runs fn(); an exception is a failed check named `name`."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - every error is a failed check, reported
        failures.append(name)
        print(f"FAIL  {name}\n      | {type(e).__name__}: {e}")


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python-sdk.py DOCKER_HOST", file=sys.stderr)
        return 2
    host = sys.argv[1]
    label = {"berth.e2e": str(os.getpid())}
    prefix = f"e2e{os.getpid()}"
    # version="auto": negotiate, so a daemon with API 1.41 (dockerd 20.10) works too.
    client = docker.DockerClient(base_url=host, version="auto", timeout=60)
    print(f"docker SDK {docker.__version__}, API {client.api.api_version} at {host}")
    run = dict(network_mode="none", labels=label)

    def images():
        tags = [t for i in client.images.list() for t in i.tags]
        check_true("images.list: busybox:latest", "busybox:latest" in tags, tags)
        img = client.images.get("busybox:latest")
        check_true("images.get: an id", img.id.startswith("sha256:"), img.id)
        check("images.get: Cmd", ["sh"], img.attrs["Config"]["Cmd"])
        by_filter = client.images.list(filters={"reference": "busybox"})
        check("images.list(filters=reference)", [img.id], [i.id for i in by_filter])

    def run_attached():
        out = client.containers.run("busybox", ["echo", "hello", "sdk"], remove=True, **run)
        check("containers.run (attached): output bytes", b"hello sdk\n", out)
        out = client.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2"],
                                    remove=True, stdout=True, stderr=True, **run)
        check_true("containers.run: stdout and stderr", b"out\n" in out and b"err\n" in out, out)
        try:
            client.containers.run("busybox", ["sh", "-c", "exit 3"], remove=True, **run)
            check_true("containers.run: a non-zero exit raises ContainerError", False, "no error")
        except ContainerError as e:
            check("containers.run: ContainerError.exit_status", 3, e.exit_status)

    def run_detached():
        c = client.containers.run("busybox", ["sh", "-c", "for i in 1 2 3; do echo n$i; done; sleep 600"],
                                  detach=True, name=f"{prefix}-det", environment={"FOO": "bar"}, **run)
        check_true("containers.run (detach): a Container", len(c.id) == 64, c.id)
        c.reload()
        check("Container.status", "running", c.status)
        check("Container.name", f"{prefix}-det", c.name)
        check("Container.labels", label, {k: v for k, v in c.labels.items() if k in label})
        check_true("attrs Config.Env", "FOO=bar" in c.attrs["Config"]["Env"], c.attrs["Config"]["Env"])
        listed = [x.name for x in client.containers.list(filters={"label": "berth.e2e=" + label["berth.e2e"]})]
        check("containers.list(filters=label)", [f"{prefix}-det"], listed)
        deadline = time.time() + 10
        while b"n3" not in c.logs() and time.time() < deadline:
            time.sleep(0.2)
        check("logs", b"n1\nn2\nn3\n", c.logs())
        check("logs(tail=1)", b"n3\n", c.logs(tail=1))
        stream = c.logs(stream=True, follow=True)
        first = next(stream)
        check_true("logs(stream=True, follow=True): yields lines", first.startswith(b"n1"), first)
        stream.close()
        r = c.exec_run(["echo", "from exec"])
        check("exec_run: output", b"from exec\n", r.output)
        check("exec_run: exit code 0", 0, r.exit_code)
        r = c.exec_run(["sh", "-c", "exit 7"])
        check("exec_run: exit code 7", 7, r.exit_code)
        r = c.exec_run(["id", "-u"], user="nobody")
        check("exec_run(user=nobody)", b"65534\n", r.output)
        r = c.exec_run(["pwd"], workdir="/tmp")
        check("exec_run(workdir=/tmp)", b"/tmp\n", r.output)
        r = c.exec_run(["sh", "-c", "echo $X $FOO"], environment={"X": "y"})
        check("exec_run(environment=): and the container's env", b"y bar\n", r.output)
        r = c.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
        check("exec_run(demux=True)", (b"o\n", b"e\n"), r.output)
        t0 = time.time()
        c.stop(timeout=1)
        c.reload()
        check("stop: exited", "exited", c.status)
        check_true("stop(timeout=1): took < 5 s", time.time() - t0 < 5, time.time() - t0)
        check("attrs State.ExitCode after SIGKILL", 137, c.attrs["State"]["ExitCode"])
        c.remove()
        try:
            client.containers.get(c.id)
            check_true("remove: gone", False, "still there")
        except NotFound:
            check_true("remove: gone (NotFound)", True, None)

    def wait_code():
        c = client.containers.run("busybox", ["sh", "-c", "sleep 0.5; exit 5"], detach=True, **run)
        try:
            check("wait: StatusCode", 5, c.wait(timeout=30)["StatusCode"])
        finally:
            c.remove(force=True)

    def volumes():
        name = f"{prefix}-vol"
        v = client.volumes.create(name=name, labels=label)
        check("volumes.create: name", name, v.name)
        names = [x.name for x in client.volumes.list(filters={"label": "berth.e2e=" + label["berth.e2e"]})]
        check("volumes.list(filters=label)", [name], names)
        check("volumes.get: driver", "local", client.volumes.get(name).attrs["Driver"])
        client.containers.run("busybox", ["sh", "-c", "echo kept >/v/f"], remove=True,
                              volumes={name: {"bind": "/v", "mode": "rw"}}, **run)
        out = client.containers.run("busybox", ["cat", "/v/f"], remove=True,
                                    volumes={name: {"bind": "/v", "mode": "ro"}}, **run)
        check("a volume keeps data across containers", b"kept\n", out)
        v.remove()
        try:
            client.volumes.get(name)
            check_true("volume remove: gone", False, "still there")
        except NotFound:
            check_true("volume remove: gone (NotFound)", True, None)

    def errors():
        try:
            client.containers.get(f"{prefix}-nosuch")
            check_true("containers.get(nosuch) raises NotFound", False, "no error")
        except NotFound as e:
            check_true("containers.get(nosuch) raises NotFound (404)", e.status_code == 404, e.status_code)
        c = client.containers.run("busybox", ["sleep", "600"], detach=True, name=f"{prefix}-dup", **run)
        try:
            client.containers.run("busybox", ["true"], detach=True, name=f"{prefix}-dup", **run)
            check_true("a name conflict raises APIError 409", False, "no error")
        except APIError as e:
            check("a name conflict raises APIError 409", 409, e.status_code)
        finally:
            c.remove(force=True)

    try:
        check_true("ping", client.ping(), None)
        for name, fn in [("images", images), ("containers.run attached", run_attached),
                         ("containers.run detached", run_detached), ("wait", wait_code),
                         ("volumes", volumes), ("errors", errors)]:
            guarded(name, fn)
    finally:
        flt = {"label": "berth.e2e=" + label["berth.e2e"]}
        for c in client.containers.list(all=True, filters=flt):
            try:
                c.remove(force=True, v=True)
            except APIError:
                pass
        for v in client.volumes.list(filters=flt):
            try:
                v.remove(force=True)
            except APIError:
                pass
    print()
    if failures:
        print(f"python docker SDK against {host}: {passes} passed, {len(failures)} FAILED:")
        for f in failures:
            print(f"  - {f}")
        return 1
    print(f"python docker SDK against {host}: all {passes} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
