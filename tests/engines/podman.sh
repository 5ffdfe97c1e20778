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
# shellcheck disable=SC2034 # read by run_user_checks (common.sh)
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

# shellcheck disable=SC2034 # read by run_user_checks (common.sh)
CLI=("${P[@]}")
run_user_checks berth-podman '{{.OCIRuntime}}' "$runtime"

summary "podman with $runtime"
