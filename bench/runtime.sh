#!/usr/bin/env bash
# Usage: bench/runtime.sh [iterations]   (default 50; root)
#
# berth-runtime beside crun and runc, in one run, on one busybox bundle whose process is
# /bin/true: median wall time of each lifecycle phase (create, start, wait for the exit,
# delete) and of `run`, CPU time (user+sys of every process involved, the container's own
# setup included) and peak RSS, then the ratios berth/crun and berth/runc.
# Target (issue 2): berth faster than crun in CPU and wall time, peak RSS no higher than crun's.
#
# Rows:
#   berth              berth-runtime as is, on this hybrid host
#   crun (v2 hidden)   crun 1.8 refuses hybrid hosts ("cgroups in hybrid mode not supported"),
#   runc (v2 hidden)   so the peers run in a private mount namespace without the v2 mount
#                      /sys/fs/cgroup/unified, as the issue prescribes
#   berth (v2 hidden)  berth in that same namespace: the like-for-like comparison
# How: bench/runtime_driver.py (python3, stdlib only) runs each command through
# bench/spawn_rusage.c (static, tiny: reports wall ns and wait4(2) rusage without inflating
# RSS), as a child subreaper so processes a runtime detaches (the container itself) are
# reaped and counted too; runtimes are interleaved per iteration. hyperfine is not used: it
# cannot see the CPU or memory of the detached container process.
#
# Measured on this kind of machine before berth existed (research/anchors-measured.md):
#   runc 1.1.5: run 25-38 ms wall, 18-20 ms CPU, 9.2-10.1 MiB; crun 1.8.1: run 16-22 ms wall,
#   7 ms CPU, 3.2-3.4 MiB.
# Env: BERTH_RUNTIME=<path> (default target/release/berth-runtime).
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

[ "$(id -u)" -eq 0 ] || die "bench/runtime.sh must run as root"
n="${1:-50}"
apt_ensure runc crun python3 busybox-static jq build-essential
berth="$(berth_runtime_path)"
if [ ! -x "$berth" ]; then
    bash "$BERTH_REPO/scripts/setup.sh"
fi
[ -x "$berth" ] || die "$berth missing"

work=$(mktemp -d /tmp/berth-bench.XXXXXX)
# Containers left by an interrupted run: delete them (the peers from a namespace without the
# v2 mount, where they work) before removing the state.
cleanup() {
    local state rt id
    for state in "$work"/state-*; do
        [ -d "$state" ] || continue
        case "$state" in
            *crun*) rt=$(command -v crun) ;;
            *runc*) rt=$(command -v runc) ;;
            *) rt="$berth" ;;
        esac
        for id in "$state"/*; do
            [ -d "$id" ] || continue
            id=$(basename "$id")
            unshare -m sh -c "umount /sys/fs/cgroup/unified 2>/dev/null; '$rt' --root '$state' delete --force '$id'" >/dev/null 2>&1 || true
        done
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cc -O2 -static -o "$work/spawn_rusage" "$BERTH_REPO/bench/spawn_rusage.c" 2>/dev/null ||
    cc -O2 -o "$work/spawn_rusage" "$BERTH_REPO/bench/spawn_rusage.c"
bash "$BERTH_REPO/scripts/make-bundle.sh" "$work/bundle" /bin/true 2>/dev/null
# crun 1.8 rejects ociVersion 1.2.0 ("unknown version specified"); nothing in this bundle
# needs 1.2, so all three runtimes get the same config declaring 1.1.0.
jq '.ociVersion = "1.1.0"' "$work/bundle/config.json" >"$work/config.json"
mv "$work/config.json" "$work/bundle/config.json"
echo "bundle: busybox, process /bin/true; berth: $berth; $(crun --version | head -n1); $(runc --version | head -n1)"
python3 "$BERTH_REPO/bench/runtime_driver.py" "$work/spawn_rusage" "$work/bundle" "$work" "$n" \
    "berth=$berth" "crun (v2 hidden)=$(command -v crun)@hidden" \
    "runc (v2 hidden)=$(command -v runc)@hidden" "berth (v2 hidden)=$berth@hidden"
if [ -n "${BENCH_JSON:-}" ]; then cp "$work/results.json" "$BENCH_JSON"; fi
