# shellcheck shell=bash disable=SC2034  # variables here are used by the scripts sourcing it
# Shared by tests/engines/*.sh: checks that print PASS/FAIL, what a container sees of its
# cgroup (v1 or v2), and cleanup helpers that act only on what the calling script started.

passes=0
fails=0
failed_names=()

pass() { passes=$((passes + 1)); printf 'PASS  %s\n' "$1"; }
fail() {
    fails=$((fails + 1)); failed_names+=("$1")
    printf 'FAIL  %s\n' "$1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/      | /'
    return 0
}

# run_limited <cmd...>: runs a command (or shell function) with a 120 s limit.
run_limited() {
    if declare -F "$1" >/dev/null; then
        "$@"
    else
        timeout 120 "$@"
    fi
}

# check_ok <name> <cmd...>: the command exits 0 (its output is shown only on failure).
check_ok() {
    local name="$1" out rc=0; shift
    out=$(run_limited "$@" 2>&1) || rc=$?
    if [ "$rc" -eq 0 ]; then pass "$name"; else fail "$name" "exit $rc: $out"; fi
}

# check_eq <name> <expected> <cmd...>: the command exits 0 and prints exactly <expected>
# (surrounding whitespace and CRs from a pty ignored).
check_eq() {
    local name="$1" want="$2" out rc=0; shift 2
    out=$(run_limited "$@" 2>&1) || rc=$?
    out=$(printf '%s' "$out" | tr -d '\r' | sed -e 's/[[:space:]]*$//' -e '/^$/d')
    if [ "$rc" -eq 0 ] && [ "$out" = "$want" ]; then
        pass "$name"
    else
        fail "$name" "exit $rc, want '$want', got: $out"
    fi
}

# check_contains <name> <substring> <cmd...>: exits 0 and the output contains <substring>.
check_contains() {
    local name="$1" want="$2" out rc=0; shift 2
    out=$(run_limited "$@" 2>&1) || rc=$?
    out=$(printf '%s' "$out" | tr -d '\r')
    if [ "$rc" -eq 0 ] && [[ "$out" == *"$want"* ]]; then
        pass "$name"
    else
        fail "$name" "exit $rc, want output containing '$want', got: $out"
    fi
}

# check_fails <name> <cmd...>: the command exits non-zero (and does not time out).
check_fails() {
    local name="$1" out rc=0; shift
    out=$(run_limited "$@" 2>&1) || rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
        pass "$name"
    else
        fail "$name" "exit $rc (expected a failure), output: $out"
    fi
}

# Shell snippets run inside a busybox container: print the limit as the kernel reports it,
# normalized so v1 and v2 read the same ("67108864", "32", "50000 100000").
IN_MEM='cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'
IN_PIDS='cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max'
IN_CPU='if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us); else cat /sys/fs/cgroup/cpu.max; fi'

# frozen <host pid>: prints "frozen" if the kernel has frozen that process's cgroup.
frozen() {
    local pid="$1" path
    path=$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$pid/cgroup" 2>/dev/null)
    if [ -n "$path" ]; then
        [ "$(cat "/sys/fs/cgroup/freezer$path/freezer.state" 2>/dev/null)" = FROZEN ] && echo frozen
    else
        path=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup" 2>/dev/null)
        grep -qx 'frozen 1' "/sys/fs/cgroup$path/cgroup.events" 2>/dev/null && echo frozen
    fi
    return 0
}

# kill_matching_pids <dir>: SIGKILLs processes whose command line mentions <dir> (a
# directory unique to this run, so only processes this script started match), by PID.
kill_matching_pids() {
    local dir="$1" p
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = "$$" ] && continue
        if { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qF -- "$dir"; then
            kill -9 "$p" 2>/dev/null || true
        fi
    done
}

# unmount_under <dir>: lazily unmounts every mount at or below <dir>, deepest first.
unmount_under() {
    local dir="$1"
    findmnt -rn -o TARGET | grep -F -- "$dir" | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
}

# remove_cgroup <name>: removes /sys/fs/cgroup/*/<name> (v1) or /sys/fs/cgroup/<name>,
# children first, if no process is left in it.
remove_cgroup() {
    local name="$1" base
    for base in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/"$name"; do
        [ -d "$base" ] || continue
        find "$base" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
}

# podman/docker -t needs a terminal; `script` gives the command a pty even without one.
in_pty() {
    script -qec "$*" /dev/null
}

# The checks a user would make, the same for every engine: run_user_checks PREFIX
# RUNTIME_FORMAT WANT_RUNTIME, with CLI (the engine's command) and RUN (its `run` with the
# runtime selected) set by the caller. RUNTIME_FORMAT is the engine's inspect template for
# the runtime in use, WANT_RUNTIME what it must print. (`stop -t` is both engines' flag.)
run_user_checks() {
    local prefix="$1" runtime_format="$2" want_runtime="$3" name pid
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

    name="$prefix-$$"
    if "${RUN[@]}" -d --name "$name" busybox sleep 600 >/dev/null 2>&1; then
        pass "run -d busybox sleep 600"
        check_eq "inspect: the runtime in use" "$want_runtime" "${CLI[@]}" inspect -f "$runtime_format" "$name"
        check_eq "exec: a process in the running container" "hi" "${CLI[@]}" exec "$name" echo hi
        check_eq "exec: sees the container's processes" "sleep 600" \
            "${CLI[@]}" exec "$name" sh -c 'cat /proc/1/cmdline | tr "\0" " "'
        check_contains "exec -it: on a tty" "/dev/pts/" in_pty "${CLI[*]} exec -it $name tty"
        pid=$("${CLI[@]}" inspect -f '{{.State.Pid}}' "$name" 2>/dev/null)
        check_ok "pause" "${CLI[@]}" pause "$name"
        check_eq "pause: status paused" "paused" "${CLI[@]}" inspect -f '{{.State.Status}}' "$name"
        check_eq "pause: the kernel froze the container" "frozen" frozen "$pid"
        check_ok "unpause" "${CLI[@]}" unpause "$name"
        check_eq "unpause: status running" "running" "${CLI[@]}" inspect -f '{{.State.Status}}' "$name"
        check_eq "unpause: the container runs again" "thawed" "${CLI[@]}" exec "$name" echo thawed
        check_ok "stop -t 1" "${CLI[@]}" stop -t 1 "$name"
        check_ok "rm" "${CLI[@]}" rm "$name"
    else
        fail "run -d busybox sleep 600" "$("${RUN[@]}" -d --name "$name-2" busybox sleep 600 2>&1)"
    fi
}

summary() {
    local what="$1"
    echo
    if [ "$fails" -eq 0 ]; then
        printf '%s: all %d checks passed\n' "$what" "$passes"
    else
        printf '%s: %d passed, %d FAILED:\n' "$what" "$passes" "$fails"
        printf '  - %s\n' "${failed_names[@]}"
    fi
    [ "$fails" -eq 0 ]
}
