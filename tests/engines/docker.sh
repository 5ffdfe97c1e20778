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
check_eq "run --rm --hostname box busybox hostname" "box" "${RUN[@]}" --rm --hostname box busybox hostname
check_ok "run --rm busybox true" "${RUN[@]}" --rm busybox true
check_fails "run --rm: non-zero exit status reaches the user" "${RUN[@]}" --rm busybox sh -c 'exit 3'
check_eq "run --rm: exit code preserved (3)" "3" \
    bash -c '"$@"; echo $?' _ "${RUN[@]}" --rm busybox sh -c 'exit 3'
check_eq "run --rm: output, PID 1 of its own pid namespace" "1" \
    "${RUN[@]}" --rm busybox sh -c 'echo $$'
check_eq "-m 64m: memory limit seen inside" "67108864" \
    "${RUN[@]}" --rm -m 64m busybox sh -c "$IN_MEM"
check_eq "--pids-limit 32: pids limit seen inside" "32" \
    "${RUN[@]}" --rm --pids-limit 32 busybox sh -c "$IN_PIDS"
check_eq "--cpus 0.5: CFS quota seen inside" "50000 100000" \
    "${RUN[@]}" --rm --cpus 0.5 busybox sh -c "$IN_CPU"
check_ok "chown works with the default capabilities" "${RUN[@]}" --rm busybox chown 1 /tmp
check_fails "--cap-drop CHOWN: chown fails" "${RUN[@]}" --rm --cap-drop CHOWN busybox chown 1 /tmp
check_contains "run --rm -it busybox sh: interactive shell on a tty" "ok-2 /dev/pts/0" \
    bash -c "printf 'echo ok-\$((1+1)) \$(tty)\nexit\n' | script -qec '${RUN[*]} --rm -it busybox sh' /dev/null"

name="berth-docker-$$"
if "${RUN[@]}" -d --name "$name" busybox sleep 600 >/dev/null 2>&1; then
    pass "run -d busybox sleep 600"
    check_eq "inspect: the runtime in use" "berth" "${D[@]}" inspect -f '{{.HostConfig.Runtime}}' "$name"
    check_eq "exec: a process in the running container" "hi" "${D[@]}" exec "$name" echo hi
    check_eq "exec: sees the container's processes" "sleep 600" \
        "${D[@]}" exec "$name" sh -c 'cat /proc/1/cmdline | tr "\0" " "'
    check_contains "exec -it: on a tty" "/dev/pts/" in_pty "${D[*]} exec -it $name tty"
    pid=$("${D[@]}" inspect -f '{{.State.Pid}}' "$name" 2>/dev/null)
    check_ok "pause" "${D[@]}" pause "$name"
    check_eq "pause: status paused" "paused" "${D[@]}" inspect -f '{{.State.Status}}' "$name"
    check_eq "pause: the kernel froze the container" "frozen" frozen "$pid"
    check_ok "unpause" "${D[@]}" unpause "$name"
    check_eq "unpause: status running" "running" "${D[@]}" inspect -f '{{.State.Status}}' "$name"
    check_eq "unpause: the container runs again" "thawed" "${D[@]}" exec "$name" echo thawed
    check_ok "stop -t 1" "${D[@]}" stop -t 1 "$name"
    check_ok "rm" "${D[@]}" rm "$name"
else
    fail "run -d busybox sleep 600" "$("${RUN[@]}" -d --name "$name-2" busybox sleep 600 2>&1)"
fi

summary "docker with $runtime"
