#!/usr/bin/env bash
# Usage: tests/cli/with-dockerd.sh [BERTH_BINARY]   (root)
#
# Starts a private dockerd 20.10 (own --data-root, --exec-root, unix socket, pidfile and
# cgroup parent under a temp dir; no bridge, no iptables), imports a busybox:latest made
# from Debian's busybox-static (scripts/make-bundle.sh, no registry needed), then runs
# tests/cli/berth-vs-docker.sh (what users see) and tests/cli/wire-compare.sh (what the
# daemon receives) against it. Everything it started is stopped by PID at exit, also on
# failure; mounts under the temp dir are unmounted and the cgroup removed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../../scripts/lib.sh"
. "$here/../engines/common.sh"
[ "$(id -u)" -eq 0 ] || die "with-dockerd.sh must run as root"
BERTH="${1:-$BERTH_REPO/target/debug/berth}"
[ -x "$BERTH" ] || die "no berth binary at $BERTH: build it with cargo build -p berth-cli"
apt_ensure docker.io busybox-static bsdutils python3
DOCKER=/usr/local/bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker)

T=$(mktemp -d /tmp/berth-cli-dockerd.XXXXXX)
cg="berth-cli-$$"
host="unix://$T/docker.sock"
dockerd_pid=
cleanup() {
    if [ -n "$dockerd_pid" ]; then
        local ids
        ids=$(DOCKER_HOST="$host" "$DOCKER" ps -aq 2>/dev/null)
        [ -n "$ids" ] && DOCKER_HOST="$host" "$DOCKER" rm -f $ids >/dev/null 2>&1
        kill -TERM "$dockerd_pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$dockerd_pid" 2>/dev/null
    fi
    kill_matching_pids "$T"
    unmount_under "$T"
    remove_cgroup "$cg"
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dockerd --data-root "$T/data" --exec-root "$T/exec" -H "$host" --pidfile "$T/docker.pid" \
    --cgroup-parent "/$cg" --bridge none --iptables=false --ip6tables=false --ip-masq=false \
    --ip-forward=false --userland-proxy=false --log-level warn >"$T/dockerd.log" 2>&1 </dev/null &
dockerd_pid=$!
for _ in $(seq 150); do
    DOCKER_HOST="$host" "$DOCKER" version >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.2
done
DOCKER_HOST="$host" "$DOCKER" version >/dev/null 2>&1 ||
    die "dockerd did not start: $(tail -n 20 "$T/dockerd.log")"
bash "$BERTH_REPO/scripts/make-bundle.sh" "$T/bundle" sh >/dev/null 2>&1 ||
    die "scripts/make-bundle.sh failed"
tar -C "$T/bundle/rootfs" -c . | DOCKER_HOST="$host" "$DOCKER" import - busybox:latest >/dev/null ||
    die "cannot import busybox:latest"

rc=0
"$here/berth-vs-docker.sh" "$host" "$BERTH" || rc=1
"$here/wire-compare.sh" "$host" "$BERTH" || rc=1
exit "$rc"
