#!/usr/bin/env bash
# THE test command of berth (CI runs it through .ci/run, as root, CI=true, no stdin).
#
# Tiers, in order (each later tier needs root; every step runs even if an earlier one failed,
# except setup):
#   setup      scripts/setup.sh: packages + `cargo build --release --workspace`
#   fmt        cargo fmt --check
#   scripts    shellcheck -S warning on the project's shell scripts (installs shellcheck)
#   clippy     cargo clippy --workspace --all-targets -- -D warnings
#   tests      cargo nextest run --workspace (cargo test without nextest): unit tests, and
#              privileged tests, each in its own mount+network namespace (berth-testutil)
#   doctests   cargo test --doc --workspace (nextest does not run doc tests)
#   demo       scripts/demo.sh, the README's first command (busybox under berth-runtime)
#   engines    tests/engines/{podman,docker}.sh against target/release/berth-runtime
#              (skip with BERTH_SKIP_ENGINES=1)
#   e2e        tests/e2e/run.sh: images from scripts/make-images.sh, a private berthd from
#              target/release; the docker CLI, docker-compose and Python SDK suites against
#              it, then daemon-restart.sh (SKIP while berthd is not built; BERTH_SKIP_E2E=1)
#   vm         scripts/vm-lane.sh → tests/vm/run.sh: the cgroup and runtime test binaries in a
#              qemu VM with cgroup_no_v1=all, when present (skip: BERTH_SKIP_VM=1)
#   leftovers  no cgroup directory, mount or process of this checkout's binaries that was not
#              there before the tests (skip: BERTH_SKIP_LEFTOVERS=1)
# Ends with a summary table; exits non-zero if any step failed.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$BERTH_REPO" || exit 1
exec </dev/null
export RUST_BACKTRACE=1

[ "$(id -u)" -eq 0 ] || die "test.sh must run as root (privileged tests, packages)"

names=() results=() times=()
failed=0
# step <name> <timeout seconds> <command...>: runs the command, records PASS/FAIL and time.
step() {
    local name="$1" limit="$2"; shift 2
    local start end rc
    printf '\n==================== %s ====================\n' "$name"
    start=$(date +%s)
    if declare -F "$1" >/dev/null; then
        "$@"
    else
        timeout -k 30 "$limit" "$@"
    fi
    rc=$?
    end=$(date +%s)
    names+=("$name"); times+=("$((end - start))")
    if [ "$rc" -eq 0 ]; then
        results+=("PASS")
    else
        [ "$rc" -eq 124 ] && results+=("FAIL (timeout ${limit}s)") || results+=("FAIL (exit $rc)")
        failed=1
    fi
    return "$rc"
}
skip() {
    names+=("$1"); results+=("SKIP ($2)"); times+=("0")
}
summary() {
    local i total=0
    printf '\n==================== summary ====================\n'
    for i in "${!names[@]}"; do
        printf '%-10s %-28s %5ss\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"
        total=$((total + times[i]))
    done
    printf '%-10s %-28s %5ss\n' total "$([ $failed -eq 0 ] && echo PASS || echo FAIL)" "$total"
}

# What privileged tests must not leave behind: cgroup directories, mounts, and processes
# running a binary from this checkout. Compared before the tests and after the last tier.
snapshot() {
    local p c
    {
        find /sys/fs/cgroup -mindepth 1 -maxdepth 5 -type d 2>/dev/null | sed 's/^/cgroup /'
        findmnt -rn -o TARGET | sed 's/^/mount /'
        for p in /proc/[0-9]*; do
            c=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
            case "$c" in *"$BERTH_REPO/target/"*) echo "process ${p#/proc/}: $c" ;; esac
        done
    } | LC_ALL=C sort
}
# A new cgroup whose processes all run binaries from elsewhere belongs to someone else's
# work on a shared machine; an empty one or one running this checkout's binaries is ours.
others_cgroup() {
    local procs p mine=0
    procs=$(cat "$1/cgroup.procs" 2>/dev/null) || return 1
    [ -n "$procs" ] || return 1
    for p in $procs; do
        { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qF "$BERTH_REPO/" && mine=1
    done
    [ "$mine" -eq 0 ]
}
check_leftovers() {
    local left line
    left=$(LC_ALL=C comm -13 "$before" <(snapshot) | while read -r line; do
        case "$line" in "cgroup "*) others_cgroup "${line#cgroup }" && continue ;; esac
        printf '%s\n' "$line"
    done)
    if [ -n "$left" ]; then
        echo "left behind by the tests (on a shared machine, others' work may show up too):"
        printf '%s\n' "$left" | head -n 50
        return 1
    fi
    echo "nothing left behind"
}

if ! step setup 1800 bash scripts/setup.sh; then
    summary
    exit 1
fi
ensure_cargo

before=$(mktemp)
trap 'rm -f "$before"' EXIT
snapshot >"$before"

step fmt 120 cargo fmt --all --check
lint_scripts() {
    apt_ensure shellcheck || return 1
    shellcheck -x -S warning .ci/run scripts/*.sh bench/*.sh tests/*/*.sh
}
step scripts 300 lint_scripts
step clippy 1200 cargo clippy --workspace --all-targets -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
    step tests 1200 cargo nextest run --workspace --no-tests=warn --no-fail-fast
else
    step tests 1200 cargo test --workspace --no-fail-fast
fi
step doctests 600 cargo test --doc --workspace

step demo 300 bash scripts/demo.sh

runtime="$(berth_runtime_path)"
if [ -n "${BERTH_SKIP_ENGINES:-}" ]; then
    skip engines "BERTH_SKIP_ENGINES set"
else
    for engine in podman docker; do
        if [ -f "tests/engines/$engine.sh" ]; then
            step "$engine" 900 bash "tests/engines/$engine.sh" "$runtime"
        else
            skip "$engine" "tests/engines/$engine.sh missing"
        fi
    done
fi

if [ -n "${BERTH_SKIP_E2E:-}" ]; then
    skip e2e "BERTH_SKIP_E2E set"
elif [ -x target/release/berthd ]; then
    step e2e 600 bash tests/e2e/run.sh target/release
else
    skip e2e "target/release/berthd not built"
fi

if [ -n "${BERTH_SKIP_VM:-}" ]; then
    skip vm "BERTH_SKIP_VM set"
elif [ -f tests/vm/run.sh ]; then
    step vm 1200 bash scripts/vm-lane.sh
else
    skip vm "tests/vm/run.sh missing"
fi

if [ -n "${BERTH_SKIP_LEFTOVERS:-}" ]; then
    skip leftovers "BERTH_SKIP_LEFTOVERS set"
else
    step leftovers 120 check_leftovers
fi

summary
exit "$failed"
