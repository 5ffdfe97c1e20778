# shellcheck shell=bash disable=SC2034  # variables here are used by the scripts sourcing it
# Shared by tests/e2e/*.sh and bench/engine.sh: checks that print PASS/FAIL with what was
# expected and what was seen (pass/fail/summary come from tests/engines/common.sh), which
# daemon is behind a socket, and a private dockerd 20.10 to validate the suites against.

e2e_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib.sh
. "$e2e_here/../../scripts/lib.sh"
# shellcheck source=tests/engines/common.sh
. "$e2e_here/../engines/common.sh"

docker_cli=/usr/local/bin/docker
[ -x "$docker_cli" ] || docker_cli=$(command -v docker || echo docker)
export DK="$docker_cli"   # the CLI, for `sh -c` pipelines in the suites

# Output of the last check's command: stdout in $OUT, stderr in $ERR, status in $RC.
OUT='' ERR='' RC=0
# The caller removes $E2E_ERRFILE in its cleanup.
E2E_ERRFILE=$(mktemp "${TMPDIR:-/tmp}/berth-e2e-err.XXXXXX")
_e2e_err="$E2E_ERRFILE"
# _capture <cmd...>: runs the command with a 120 s limit, stdout → $OUT, stderr → $ERR.
_capture() {
    RC=0
    if declare -F "$1" >/dev/null; then
        OUT=$("$@" 2>"$_e2e_err") || RC=$?
    else
        OUT=$(timeout 120 "$@" 2>"$_e2e_err") || RC=$?
    fi
    ERR=$(cat "$_e2e_err")
    OUT=$(printf '%s' "$OUT" | tr -d '\r' | sed -e 's/[[:space:]]*$//')
}
_seen() { printf 'exit %s; stdout: %s; stderr: %s' "$RC" "${OUT:0:1500}" "${ERR:0:600}"; }

# ck_eq <name> <expected stdout> <cmd...>: exits 0 and prints exactly <expected>.
ck_eq() {
    local name="$1" want="$2"; shift 2
    _capture "$@"
    if [ "$RC" -eq 0 ] && [ "$OUT" = "$want" ]; then pass "$name"; else
        fail "$name" "want '$want'; $(_seen)"
    fi
}
# ck_has <name> <substring> <cmd...>: exits 0 and stdout contains <substring>.
ck_has() {
    local name="$1" want="$2"; shift 2
    _capture "$@"
    if [ "$RC" -eq 0 ] && [[ "$OUT" == *"$want"* ]]; then pass "$name"; else
        fail "$name" "want stdout containing '$want'; $(_seen)"
    fi
}
# ck_lacks <name> <substring> <cmd...>: exits 0 and stdout does not contain <substring>.
ck_lacks() {
    local name="$1" bad="$2"; shift 2
    _capture "$@"
    if [ "$RC" -eq 0 ] && [[ "$OUT" != *"$bad"* ]]; then pass "$name"; else
        fail "$name" "want stdout without '$bad'; $(_seen)"
    fi
}
# ck_re <name> <extended regex> <cmd...>: exits 0 and some stdout line matches.
ck_re() {
    local name="$1" re="$2"; shift 2
    _capture "$@"
    if [ "$RC" -eq 0 ] && grep -qE -- "$re" <<<"$OUT"; then pass "$name"; else
        fail "$name" "want a line matching /$re/; $(_seen)"
    fi
}
# ck_ok <name> <cmd...>: exits 0.
ck_ok() {
    local name="$1"; shift
    _capture "$@"
    if [ "$RC" -eq 0 ]; then pass "$name"; else fail "$name" "want exit 0; $(_seen)"; fi
}
# ck_rc <name> <status> <cmd...>: exits with exactly <status>.
ck_rc() {
    local name="$1" want="$2"; shift 2
    _capture "$@"
    if [ "$RC" -eq "$want" ]; then pass "$name"; else fail "$name" "want exit $want; $(_seen)"; fi
}
# ck_err <name> <substring> <cmd...>: fails (not a timeout) and stderr contains <substring>.
ck_err() {
    local name="$1" want="$2"; shift 2
    _capture "$@"
    if [ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] && [[ "$ERR" == *"$want"* ]]; then pass "$name"; else
        fail "$name" "want a failure with stderr containing '$want'; $(_seen)"
    fi
}
# ck_that <name> <what was expected> <seen> <test...>: the test command succeeds.
ck_that() {
    local name="$1" want="$2" seen="$3"; shift 3
    if "$@"; then pass "$name"; else fail "$name" "want $want; seen: $seen"; fi
}
# retry_until <seconds> <cmd...>: reruns the command every 0.2 s until it succeeds.
retry_until() {
    local limit="$1" end; shift
    end=$(($(date +%s) + limit))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -ge "$end" ] && return 1
        sleep 0.2
    done
}

# daemon_kind: "berth" or "dockerd" for the daemon behind $DOCKER_HOST; E2E_DAEMON
# overrides. berthd is recognized by "berth" in its version's platform name, version or
# component names.
daemon_kind() {
    if [ -n "${E2E_DAEMON:-}" ]; then
        printf '%s\n' "$E2E_DAEMON"
        return
    fi
    local v
    v=$("$docker_cli" version -f '{{.Server.Platform.Name}} {{.Server.Version}} {{range .Server.Components}}{{.Name}} {{end}}' 2>/dev/null)
    case "${v,,}" in *berth*) echo berth ;; *) echo dockerd ;; esac
}

# api_at_least <x.y>: the API version in use (negotiated) is at least x.y.
api_at_least() {
    local have
    have=$("$docker_cli" version -f '{{.Client.APIVersion}}' 2>/dev/null) || return 1
    [ "$(printf '%s\n%s\n' "$1" "$have" | sort -V | head -n1)" = "$1" ]
}

# start_dockerd <dir>: starts Debian's dockerd 20.10 private to <dir> (data root, exec
# root, socket, pidfile; no bridge, no iptables: the host's network is untouched) and
# sets DOCKERD_PID and DOCKERD_SOCK. Its containers' cgroups go under /berth-e2e-<pid>
# (stop_daemon removes it), not Docker's default /docker. Returns non-zero (log tail on stderr) if it does not
# answer within 30 s.
start_dockerd() {
    local dir="$1"
    mkdir -p "$dir"
    DOCKERD_SOCK="unix://$dir/docker.sock"
    dockerd --data-root "$dir/data" --exec-root "$dir/exec" -H "$DOCKERD_SOCK" \
        --pidfile "$dir/docker.pid" --cgroup-parent "/berth-e2e-$$" --bridge none --iptables=false --ip6tables=false \
        --ip-masq=false --ip-forward=false --userland-proxy=false \
        --log-level warn >"$dir/dockerd.log" 2>&1 </dev/null &
    DOCKERD_PID=$!
    for _ in $(seq 150); do
        DOCKER_HOST="$DOCKERD_SOCK" "$docker_cli" version >/dev/null 2>&1 && return 0
        kill -0 "$DOCKERD_PID" 2>/dev/null || break
        sleep 0.2
    done
    tail -n 20 "$dir/dockerd.log" >&2
    return 1
}

# stop_daemon <pid> <dir>: removes the daemon's containers, stops it by PID (TERM, then
# KILL after 15 s), kills what is left mentioning <dir> (containerd, shims) by PID,
# unmounts what is left under <dir> and removes <dir>.
stop_daemon() {
    local pid="$1" dir="$2" sock="unix://$2/docker.sock" ids
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        ids=$(DOCKER_HOST="$sock" timeout 30 "$docker_cli" ps -aq 2>/dev/null)
        # shellcheck disable=SC2086 # one argument per ID
        [ -n "$ids" ] && DOCKER_HOST="$sock" timeout 60 "$docker_cli" rm -f $ids >/dev/null 2>&1
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 150); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
    fi
    kill_matching_pids "$dir"
    kill_cgroup_procs "berth-e2e-$$"
    sleep 0.2
    unmount_under "$dir"
    remove_cgroup "berth-e2e-$$"
    rm -rf "$dir"
}

# wait_api <pid>: waits (30 s at most) until the daemon at $DOCKER_HOST answers; fails
# early when <pid> is gone.
wait_api() {
    local pid="$1"
    for _ in $(seq 150); do
        "$docker_cli" version >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}
# end_daemon <pid> [remove]: with "remove", first removes every container of the daemon
# at $DOCKER_HOST (and their anonymous volumes); then TERM, 15 s, KILL, by PID.
end_daemon() {
    local pid="$1" ids
    [ -n "$pid" ] || return 0
    if [ "${2:-}" = remove ] && kill -0 "$pid" 2>/dev/null; then
        ids=$(timeout 30 "$docker_cli" ps -aq 2>/dev/null)
        # shellcheck disable=SC2086 # one argument per container
        [ -n "$ids" ] && timeout 60 "$docker_cli" rm -fv $ids >/dev/null 2>&1
    fi
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    return 0
}

# kill_cgroup_procs <name>: SIGKILLs, by PID, what is left in the cgroup /<name> that a
# daemon started here was given (a `runc init` caught by the daemon's death, say).
kill_cgroup_procs() {
    local f p
    for f in /sys/fs/cgroup/*/"$1"/cgroup.procs /sys/fs/cgroup/*/"$1"/*/cgroup.procs; do
        [ -f "$f" ] || continue
        for p in $(cat "$f" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    done
    return 0
}

# vmrss_kib <pid>: the process's resident set size in KiB (0 if it is gone).
vmrss_kib() {
    awk '/^VmRSS:/ { print $2; found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0
}
