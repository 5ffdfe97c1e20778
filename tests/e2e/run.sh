#!/usr/bin/env bash
# Usage: tests/e2e/run.sh BIN_DIR      (root; BIN_DIR holds berthd, berth-shim, berth-runtime)
#
# The e2e step of scripts/test.sh: real clients against berthd. Builds the images
# (scripts/make-images.sh) into a temp dir, starts BIN_DIR/berthd with its own --data-root,
# --exec-root, unix socket and --pidfile there, runs against it
#   tests/e2e/docker-cli.sh    the docker CLI 28
#   tests/e2e/compose.sh       docker-compose 1.29
#   tests/e2e/python-sdk.sh    the Python docker SDK
# stops it, then runs tests/e2e/daemon-restart.sh and tests/e2e/migrate.sh with
# BIN_DIR/berthd, tests/e2e/network.sh (bridges, ports, DNS, in a network namespace of
# its own), and tests/e2e/tls.sh BIN_DIR (TLS on a TCP listener, with docker and
# berth; each starts its own).
# Exits non-zero if any suite failed. At exit, also on failure: berthd stopped by its PID,
# processes mentioning the temp dir killed by PID, mounts under it unmounted, dir removed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
[ "$(id -u)" -eq 0 ] || die "run.sh must run as root"
[ $# -eq 1 ] || die "usage: $0 BIN_DIR"
bin_dir="$(readlink -f "$1")"
# The suites' expected differences from dockerd (docker-cli.sh's table) are berth's here.
export E2E_DAEMON="${E2E_DAEMON:-berth}"
[ -x "$bin_dir/berthd" ] || die "$bin_dir/berthd is missing"

# Short: unix socket paths under the exec root must fit in 108 bytes.
T=$(mktemp -d /tmp/e2e.XXXXXX)
berthd_pid=
stop_berthd() {
    [ -n "$berthd_pid" ] || return 0
    local ids
    ids=$(timeout 30 "$docker_cli" -H "unix://$T/berth.sock" ps -aq 2>/dev/null)
    # shellcheck disable=SC2086 # one argument per container
    [ -n "$ids" ] && timeout 60 "$docker_cli" -H "unix://$T/berth.sock" rm -fv $ids >/dev/null 2>&1
    kill -TERM "$berthd_pid" 2>/dev/null
    for _ in $(seq 150); do kill -0 "$berthd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$berthd_pid" 2>/dev/null
    berthd_pid=
}
# berthd puts containers under the cgroup /berth; the parent is ours to remove if this
# script made it (it is empty once every container is gone).
berth_cg_before=$(berth_cgroup_parents)
cleanup() {
    stop_berthd
    kill_matching_pids "$T"
    unmount_under "$T"
    remove_new_berth_cgroup_parents "$berth_cg_before"
    rm -rf "$T" "$E2E_ERRFILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash "$BERTH_REPO/scripts/make-images.sh" "$T/images" || die "make-images.sh failed"
# --init needs a static berth-init (busybox images have no libc); setup.sh builds one.
init_args=()
static_init="$BERTH_REPO/target/static/x86_64-unknown-linux-gnu/release/berth-init"
[ -x "$static_init" ] && init_args=(--init-path "$static_init")
"$bin_dir/berthd" -H "unix://$T/berth.sock" --data-root "$T/data" --exec-root "$T/exec" --bridge none \
    --pidfile "$T/berthd.pid" "${init_args[@]}" >"$T/berthd.log" 2>&1 </dev/null &
berthd_pid=$!
for _ in $(seq 150); do
    "$docker_cli" -H "unix://$T/berth.sock" version >/dev/null 2>&1 && break
    kill -0 "$berthd_pid" 2>/dev/null || break
    sleep 0.2
done
if ! "$docker_cli" -H "unix://$T/berth.sock" version >/dev/null 2>&1; then
    tail -n 30 "$T/berthd.log"
    die "berthd did not answer at unix://$T/berth.sock"
fi

results=()
failed=0
suite() {   # suite <name> <limit seconds> <cmd...>
    local name="$1" limit="$2" start rc=0; shift 2
    printf '\n===== e2e: %s =====\n' "$name"
    start=$(date +%s)
    timeout -k 10 "$limit" "$@" || rc=$?
    [ "$rc" -eq 0 ] || failed=1
    results+=("$(printf '%-14s %-14s %4ss' "$name" "$([ "$rc" -eq 0 ] && echo PASS || echo "FAIL ($rc)")" "$(($(date +%s) - start))")")
}
suite docker-cli 360 bash "$here/docker-cli.sh" "unix://$T/berth.sock" "$T/images"
suite compose 120 bash "$here/compose.sh" "unix://$T/berth.sock" "$T/images"
suite python-sdk 120 bash "$here/python-sdk.sh" "unix://$T/berth.sock" "$T/images"
stop_berthd
suite daemon-restart 180 bash "$here/daemon-restart.sh" "$bin_dir/berthd" "$T/images"
suite migrate 120 bash "$here/migrate.sh" "$bin_dir/berthd" "$T/images"
suite network 240 bash "$here/network.sh" "$bin_dir/berthd" "$T/images"
suite tls 180 bash "$here/tls.sh" "$bin_dir" "$T/images"
if [ "$failed" -ne 0 ]; then
    echo "berthd log (last 30 lines):"
    tail -n 30 "$T/berthd.log"
fi
printf '\n===== e2e summary =====\n'
printf '%s\n' "${results[@]}"
exit "$failed"
