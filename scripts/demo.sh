#!/usr/bin/env bash
# berth's main job today: build berth (scripts/setup.sh), make a busybox bundle from Debian's
# busybox-static, and run it with berth-runtime under a 64 MiB memory and 64 pids limit.
# The container prints what it sees: its hostname, its processes (it is PID 1), its user,
# and the limits read back from its own cgroup.
# Env: BERTH_RUNTIME=<path> runs another runc-compatible runtime instead (e.g. /usr/sbin/runc).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "demo.sh must run as root"
bash "$BERTH_REPO/scripts/setup.sh"
runtime="$(berth_runtime_path)"
[ -x "$runtime" ] || die "$runtime was not built"

work=$(mktemp -d /tmp/berth-demo.XXXXXX)
id="berth-demo-$$"
cleanup() {
    "$runtime" --root "$work/state" delete --force "$id" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

bash "$BERTH_REPO/scripts/make-bundle.sh" "$work/bundle" sh /show.sh
# Runs inside the container; both cgroup layouts are handled (v1 here, v2 elsewhere).
cat >"$work/bundle/rootfs/show.sh" <<'INSIDE'
echo "hostname:     $(hostname)"
echo "user:         $(id)"
echo "memory limit: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
echo "pids limit:   $(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"
echo "root fs:      $(grep " / " /proc/mounts | head -n1)"
echo "processes:"
ps
INSIDE
jq '.hostname = "berth-demo" | .linux.resources.memory = {"limit": 67108864} | .linux.resources.pids = {"limit": 64}' \
    "$work/bundle/config.json" >"$work/config.json"
mv "$work/config.json" "$work/bundle/config.json"

log "$runtime run --bundle $work/bundle $id"
echo "---- inside the container ----"
rc=0
"$runtime" --root "$work/state" run --bundle "$work/bundle" "$id" </dev/null || rc=$?
echo "---- container exited with status $rc ----"
exit "$rc"
