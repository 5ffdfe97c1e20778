#!/usr/bin/env bash
# berth's main job today: build berth (scripts/setup.sh), start berthd with its own data
# root and socket, load a busybox image made from Debian's busybox-static, and drive it with
# the stock docker CLI 28 (and the `berth` CLI): a container under a 64 MiB memory limit
# prints what it sees, a detached one logs, exec runs in it, and everything is removed.
# berthd is stopped by its PID at the end, also on failure.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "demo.sh must run as root"
bash "$BERTH_REPO/scripts/setup.sh"
bin="$BERTH_REPO/target/release"
init="$BERTH_REPO/target/static/x86_64-unknown-linux-gnu/release/berth-init"
[ -x "$bin/berthd" ] || die "$bin/berthd was not built"

work=$(mktemp -d /tmp/berth-demo.XXXXXX)
sock="unix://$work/berth.sock"
berthd_pid=
# berthd puts containers under the cgroup /berth; the parent is ours to remove if this
# script made it (it is empty once every container is gone).
berth_cg_before=$(berth_cgroup_parents)
cleanup() {
    if [ -n "$berthd_pid" ]; then
        docker -H "$sock" rm -f demo-web >/dev/null 2>&1 || true
        kill -TERM "$berthd_pid" 2>/dev/null || true
        wait "$berthd_pid" 2>/dev/null || true
    fi
    # Container roots are overlay mounts under the data root.
    findmnt -rn -o TARGET | { grep "^$work/" || true; } | sort -r | while read -r m; do umount -l "$m"; done
    remove_new_berth_cgroup_parents "$berth_cg_before"
    rm -rf "$work"
}
trap cleanup EXIT

bash "$BERTH_REPO/scripts/make-images.sh" "$work/images" >/dev/null
init_args=()
[ -x "$init" ] && init_args=(--init-path "$init")
log "berthd -H $sock --data-root $work/data --exec-root $work/exec"
# --bridge none: the demo leaves the host's network stack alone (tests/e2e/network.sh
# shows the default bridge, published ports and user networks in a namespace of its own).
"$bin/berthd" -H "$sock" --data-root "$work/data" --exec-root "$work/exec" --bridge none \
    --pidfile "$work/berthd.pid" "${init_args[@]}" >"$work/berthd.log" 2>&1 </dev/null &
berthd_pid=$!
for _ in $(seq 100); do
    docker -H "$sock" version >/dev/null 2>&1 && break
    sleep 0.1
done
export DOCKER_HOST="$sock"
docker version --format 'docker CLI {{.Client.Version}} -> {{.Server.Platform.Name}} {{.Server.Version}} (API {{.Server.APIVersion}})'
docker load -i "$work/images/busybox.tar"

echo "---- docker run --rm -m 64m --hostname berth-demo busybox ----"
docker run --rm -m 64m --pids-limit 64 --hostname berth-demo busybox sh -c '
echo "hostname:     $(hostname)"
echo "user:         $(id)"
echo "memory limit: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
echo "pids limit:   $(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"
echo "capabilities: $(grep CapEff /proc/self/status)"
echo "processes:"; ps'

echo "---- docker run -d, ps, logs, exec (berth ps from the berth CLI) ----"
docker run -d --name demo-web busybox sh -c 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done' >/dev/null
sleep 1
"$bin/berth" -H "$sock" ps
docker logs --tail 3 demo-web
docker exec demo-web sh -c 'echo "exec sees PID 1 as: $(cat /proc/1/cmdline | tr "\0" " ")"'
docker rm -f demo-web >/dev/null
echo "---- done: berthd served every request above ----"
