#!/usr/bin/env bash
# Usage: tests/engines/docker.sh [runtime]   (root; default runtime: target/release/berth-runtime)
#
# Debian's dockerd 20.10 (docker.io, with its containerd 1.6), started here with
# `--add-runtime berth=<runtime>`, driven by the docker CLI 28 (/usr/local/bin/docker when
# present; API 1.41) like a user would: `docker run --runtime berth` with --rm, -it, -m,
# --pids-limit, --cpus, --cap-drop, exec, pause/unpause. Each check prints PASS or FAIL; the
# exit status is non-zero if any failed. Works with runc too
# (tests/engines/docker.sh /usr/sbin/runc), which proves the checks themselves.
#
# The daemon is private to this run: its own --data-root, --exec-root, unix socket,
# --pidfile and cgroup parent under a temp dir, no bridge, no iptables (containers run with
# --network none), so the host's network and any other dockerd are untouched. The exec root
# ($T/exec) is longer than Docker's default /var/run/docker on purpose: containerd passes
# `--root <exec-root>/runtime-runc/moby` and 64-hex-digit IDs, so paths the runtime derives
# from them (unix sockets: 108 bytes at most) must work at least at the default length. At exit, also
# on failure: containers removed, dockerd stopped by its PID, any process left that
# mentions the temp dir (containerd, shims) killed by PID, mounts under it unmounted, the
# cgroup parent and the temp dir removed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../../scripts/lib.sh"
. "$here/common.sh"

[ "$(id -u)" -eq 0 ] || die "docker.sh must run as root"
runtime="${1:-$(berth_runtime_path)}"
runtime="$(readlink -f "$runtime")"
[ -x "$runtime" ] || die "runtime $runtime is not executable"
apt_ensure docker.io busybox-static jq bsdutils
docker_cli=/usr/local/bin/docker
[ -x "$docker_cli" ] || docker_cli=$(command -v docker)

T=$(mktemp -d /tmp/berth-docker.XXXXXX)
cg="berth-docker-$$"
export DOCKER_HOST="unix://$T/docker.sock"
export DOCKER_API_VERSION=1.41
D=("$docker_cli")
# shellcheck disable=SC2034 # read by run_user_checks (common.sh)
RUN=("${D[@]}" run --runtime berth --network none)
dockerd_pid=

cleanup() {
    local ids
    if [ -n "$dockerd_pid" ]; then
        ids=$("${D[@]}" ps -aq 2>/dev/null)
        [ -n "$ids" ] && "${D[@]}" rm -f $ids >/dev/null 2>&1
        kill -TERM "$dockerd_pid" 2>/dev/null
        for _ in $(seq 100); do
            kill -0 "$dockerd_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$dockerd_pid" 2>/dev/null
    fi
    kill_matching_pids "$T"
    unmount_under "$T"
    remove_cgroup "$cg"
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dockerd --data-root "$T/data" --exec-root "$T/exec" -H "$DOCKER_HOST" --pidfile "$T/docker.pid" \
    --add-runtime "berth=$runtime" --cgroup-parent "/$cg" --bridge none --iptables=false \
    --ip6tables=false --ip-masq=false --ip-forward=false --userland-proxy=false \
    --log-level warn >"$T/dockerd.log" 2>&1 </dev/null &
dockerd_pid=$!
for _ in $(seq 150); do
    "${D[@]}" version >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.2
done
if ! "${D[@]}" version >/dev/null 2>&1; then
    fail "dockerd starts" "$(tail -n 20 "$T/dockerd.log")"
    summary "docker with $runtime"
    exit 1
fi
echo "docker CLI $("${D[@]}" version -f '{{.Client.Version}}') -> dockerd $("${D[@]}" version -f '{{.Server.Version}}') with runtime berth=$runtime"

bash "$BERTH_REPO/scripts/make-bundle.sh" "$T/bundle" sh 2>/dev/null
tar -C "$T/bundle/rootfs" -c . | "${D[@]}" import - busybox:latest >/dev/null ||
    die "cannot import the busybox image"

check_contains "info: runtime berth registered" "berth" "${D[@]}" info -f '{{range $k, $v := .Runtimes}}{{$k}} {{end}}'
# shellcheck disable=SC2034 # read by run_user_checks (common.sh)
CLI=("${D[@]}")
run_user_checks berth-docker '{{.HostConfig.Runtime}}' berth

summary "docker with $runtime"
