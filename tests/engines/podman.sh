#!/usr/bin/env bash
# Usage: tests/engines/podman.sh [runtime]   (root; default runtime: target/release/berth-runtime)
#
# Podman 4.3 (Debian's package) drives the given OCI runtime the way a user would:
# `podman --runtime <path> run --rm -it busybox sh`, -m, --pids-limit, --cpus, --cap-drop,
# exec, pause/unpause. Each check prints PASS or FAIL; the exit status is non-zero if any
# failed. Works with runc too (tests/engines/podman.sh /usr/sbin/runc), which proves the
# checks themselves.
#
# Everything is private to this run and removed at exit, also on failure: podman's storage
# and run dirs under a temp dir, a busybox image imported from Debian's busybox-static, a
# cgroup parent of its own, no networking (--network none: nothing touches the host's).
# containers.conf sets default_ulimits because podman asks for more than this VM allows
# (its bounding set lacks CAP_SYS_RESOURCE, so nofile/nproc cannot be raised).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../../scripts/lib.sh"
. "$here/common.sh"

[ "$(id -u)" -eq 0 ] || die "podman.sh must run as root"
runtime="${1:-$(berth_runtime_path)}"
runtime="$(readlink -f "$runtime")"
[ -x "$runtime" ] || die "runtime $runtime is not executable"
apt_ensure podman busybox-static jq bsdutils

T=$(mktemp -d /tmp/berth-podman.XXXXXX)
cg="berth-podman-$$"
export CONTAINERS_CONF="$T/containers.conf"
# Podman lowers its own RLIMIT_NPROC to 32768; the container cannot ask for more.
nproc_hard=$(ulimit -Hu)
[ "$nproc_hard" = unlimited ] || [ "$nproc_hard" -gt 32768 ] && nproc_hard=32768
nofile_hard=$(ulimit -Hn)
[ "$nofile_hard" = unlimited ] || [ "$nofile_hard" -gt 1024 ] && nofile_hard=1024
cat >"$CONTAINERS_CONF" <<CONF
[containers]
default_ulimits = ["nofile=$nofile_hard:$nofile_hard", "nproc=$nproc_hard:$nproc_hard"]
[engine]
events_logger = "file"
CONF

P=(podman --root "$T/root" --runroot "$T/runroot" --tmpdir "$T/tmp" --storage-driver overlay
    --cgroup-manager cgroupfs --runtime "$runtime")
RUN=("${P[@]}" run --network none --cgroup-parent "/$cg")

cleanup() {
    "${P[@]}" rm --all --force --time 0 >/dev/null 2>&1
    "${P[@]}" system reset --force >/dev/null 2>&1
    kill_matching_pids "$T"
    unmount_under "$T"
    remove_cgroup "$cg"
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "podman $(podman --version | awk '{print $3}') with runtime $runtime"
bash "$BERTH_REPO/scripts/make-bundle.sh" "$T/bundle" sh 2>/dev/null
tar -C "$T/bundle/rootfs" -c . | "${P[@]}" import --quiet - localhost/busybox:latest >/dev/null ||
    die "cannot import the busybox image"

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

name="berth-podman-$$"
if "${RUN[@]}" -d --name "$name" busybox sleep 600 >/dev/null 2>&1; then
    pass "run -d busybox sleep 600"
    check_eq "inspect: the runtime in use" "$runtime" "${P[@]}" inspect -f '{{.OCIRuntime}}' "$name"
    check_eq "exec: a process in the running container" "hi" "${P[@]}" exec "$name" echo hi
    check_eq "exec: sees the container's processes" "sleep 600" \
        "${P[@]}" exec "$name" sh -c 'cat /proc/1/cmdline | tr "\0" " "'
    check_contains "exec -it: on a tty" "/dev/pts/" in_pty "${P[*]} exec -it $name tty"
    pid=$("${P[@]}" inspect -f '{{.State.Pid}}' "$name" 2>/dev/null)
    check_ok "pause" "${P[@]}" pause "$name"
    check_eq "pause: status paused" "paused" "${P[@]}" inspect -f '{{.State.Status}}' "$name"
    check_eq "pause: the kernel froze the container" "frozen" frozen "$pid"
    check_ok "unpause" "${P[@]}" unpause "$name"
    check_eq "unpause: status running" "running" "${P[@]}" inspect -f '{{.State.Status}}' "$name"
    check_eq "unpause: the container runs again" "thawed" "${P[@]}" exec "$name" echo thawed
    check_ok "stop --time 1" "${P[@]}" stop --time 1 "$name"
    check_ok "rm" "${P[@]}" rm "$name"
else
    fail "run -d busybox sleep 600" "$("${RUN[@]}" -d --name "$name-2" busybox sleep 600 2>&1)"
fi

summary "podman with $runtime"
