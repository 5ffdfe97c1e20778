#!/usr/bin/env bash
# Usage: bench/engine.sh [runs]      (default 10 hyperfine runs per command; root)
#
# berthd beside Docker (Debian's dockerd 20.10 + containerd 1.6 + runc) and Podman 4.3
# (runc) in one run, each private to a temp dir (own data root, socket, storage), all on
# the busybox image of scripts/make-images.sh, driven by the same docker CLI 28 (berth,
# Docker) or podman's own CLI. Prints one table, medians, with ratios berth/docker and
# berth/podman:
#   run --rm --network none busybox true     hyperfine, 2 warmup runs
#   berth CLI: run / exec / create + rm      the same on berthd through berth's own CLI,
#                                            beside the docker CLI on dockerd
#   run --rm --network host busybox true     stands in for "the default network": Docker's
#                                            bridge and Podman's netavark would change the
#                                            host's network (not allowed here), and berth
#                                            has host and none only for now
#   exec C true                              in a running `sleep` container
#   create + rm                              one container, created then removed
#   idle daemon RSS                          sum of VmRSS: dockerd + containerd; berthd;
#                                            Podman has no daemon ("-")
#   RSS per running container                10 `sleep` containers: the mean VmRSS of
#                                            containerd-shim-runc-v2 / conmon / berth-shim
#   run --rm / ps with 0 and N running       N = BENCH_MANY (default 100) `sleep` containers
#                                            started, then the same timings again: no slowdown
#                                            expected
# berth: $BERTH_BIN_DIR/berthd (default target/release; berth-shim and berth-runtime beside
# it); when it is missing the peers still run and berth's column shows "-".
# Everything started here is stopped by PID at exit, also on failure: containers removed,
# daemons TERM then KILL, leftovers mentioning the temp dir (containerd, shims, conmon)
# killed by PID, mounts under it unmounted, the temp dir removed.
# Measured on this kind of machine (research/anchors-measured.md): Docker run --rm 0.41–0.54 s
# (--network none), exec 0.08–0.10 s, create+rm 0.10–0.13 s, idle ≈ 131 MB, shim 13.2 MB RSS;
# Podman 0.34–0.35 s, 0.20–0.27 s, 0.18–0.23 s, conmon 2.0 MB.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/e2e/lib.sh
. "$here/../tests/e2e/lib.sh"

[ "$(id -u)" -eq 0 ] || die "bench/engine.sh must run as root"
runs="${1:-10}"
many="${BENCH_MANY:-100}"
apt_ensure hyperfine podman docker.io runc busybox-static jq >/dev/null || die "cannot install the peers"
bin_dir="${BERTH_BIN_DIR:-$BERTH_REPO/target/release}"

# Short: unix socket paths under the exec roots must fit in 108 bytes.
W=$(mktemp -d /tmp/be.XXXXXX)
DOCKERD_PID='' berthd_pid=''
# Podman puts containers under /libpod_parent; removed at the end if this run made it.
libpod_cg_new=1
[ -d /sys/fs/cgroup/memory/libpod_parent ] && libpod_cg_new=
engines=()
declare -A CLI      # engine → CLI command (a string, word-split on use)
declare -A R        # "<engine>|<metric>" → value

P_ARGS="--root $W/podman/root --runroot $W/podman/runroot --tmpdir $W/podman/tmp --storage-driver overlay --cgroup-manager cgroupfs --runtime $(command -v runc)"
cleanup() {
    local e ids
    for e in "${engines[@]}"; do
        case "$e" in
            podman) # shellcheck disable=SC2086
                podman $P_ARGS rm --all --force --time 0 >/dev/null 2>&1
                # shellcheck disable=SC2086
                podman $P_ARGS system reset --force >/dev/null 2>&1 ;;
            *) ids=$(${CLI[$e]} ps -aq 2>/dev/null)
                # shellcheck disable=SC2086
                [ -n "$ids" ] && timeout 300 ${CLI[$e]} rm -f $ids >/dev/null 2>&1 ;;
        esac
    done
    for pid in "$berthd_pid" "$DOCKERD_PID"; do
        [ -n "$pid" ] || continue
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done
    kill_matching_pids "$W"
    sleep 0.2
    unmount_under "$W"
    kill_cgroup_procs "berth-e2e-$$"
    sleep 0.2
    remove_cgroup "berth-e2e-$$"
    [ -n "$libpod_cg_new" ] && remove_cgroup libpod_parent
    rm -rf "$W" "$E2E_ERRFILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bash "$BERTH_REPO/scripts/make-images.sh" "$W/images" 2>/dev/null || die "make-images.sh failed"

# ---- the three engines
if [ -x "$bin_dir/berthd" ]; then
    mkdir -p "$W/berth"
    "$bin_dir/berthd" -H "unix://$W/berth/berth.sock" --data-root "$W/berth/data" --bridge none \
        --exec-root "$W/berth/exec" --pidfile "$W/berth/berthd.pid" >"$W/berth/berthd.log" 2>&1 </dev/null &
    berthd_pid=$!
    CLI[berth]="$docker_cli -H unix://$W/berth/berth.sock"
    for _ in $(seq 150); do ${CLI[berth]} version >/dev/null 2>&1 && break; sleep 0.2; done
    if ${CLI[berth]} version >/dev/null 2>&1 && ${CLI[berth]} load -i "$W/images/busybox.tar" >/dev/null 2>&1; then
        engines+=(berth)
    else
        log "berthd did not start or load busybox: $(tail -n 5 "$W/berth/berthd.log")"
    fi
else
    log "no $bin_dir/berthd: measuring the peers only"
fi
if start_dockerd "$W/docker"; then
    CLI[docker]="$docker_cli -H $DOCKERD_SOCK"
    ${CLI[docker]} load -i "$W/images/busybox.tar" >/dev/null && engines+=(docker)
else
    log "dockerd did not start"
fi
mkdir -p "$W/podman"
export CONTAINERS_CONF="$W/podman/containers.conf"
# As tests/engines/podman.sh: podman asks for more nofile/nproc than this VM's bounding set
# (no CAP_SYS_RESOURCE) lets it raise.
nproc_hard=$(ulimit -Hu)
{ [ "$nproc_hard" = unlimited ] || [ "$nproc_hard" -gt 32768 ]; } && nproc_hard=32768
nofile_hard=$(ulimit -Hn)
{ [ "$nofile_hard" = unlimited ] || [ "$nofile_hard" -gt 1024 ]; } && nofile_hard=1024
cat >"$CONTAINERS_CONF" <<CONF
[containers]
default_ulimits = ["nofile=$nofile_hard:$nofile_hard", "nproc=$nproc_hard:$nproc_hard"]
[engine]
events_logger = "file"
CONF
CLI[podman]="podman $P_ARGS"
${CLI[podman]} load -q -i "$W/images/busybox.tar" >/dev/null 2>&1 && engines+=(podman)
[ ${#engines[@]} -gt 0 ] || die "no engine could be started"
echo "engines: ${engines[*]}; $runs runs per timing; $many containers for the load test"

# median <engine> <metric> <hyperfine args...>: records the median wall time in seconds.
median() {
    local e="$1" m="$2"; shift 2
    if hyperfine -N --style none --export-json "$W/h.json" "$@" >/dev/null 2>"$W/h.err"; then
        R[$e|$m]=$(jq -r '.results[0].median' "$W/h.json")
    else
        R[$e|$m]=fail
        log "$e $m: $(tail -n 3 "$W/h.err")"
    fi
}
# run_sleepers <engine> <count> <prefix>: starts `sleep 3600` containers, 4 at a time.
run_sleepers() {
    local e="$1" n="$2" p="$3"
    # shellcheck disable=SC2016,SC2086
    seq "$n" | xargs -P 4 -I{} sh -c '$0 run -d --network none --name "$1-{}" busybox sleep 3600 >/dev/null' "${CLI[$e]}" "$p"
}
# rss_of <pattern>: total VmRSS (KiB) and count of the processes mentioning $W whose
# program's name matches <pattern> (a glob).
rss_of() {
    local pat="$1" p sum=0 n=0 cmd
    for p in /proc/[0-9]*; do
        cmd=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
        [[ "$cmd" == *"$W"* ]] || continue
        # shellcheck disable=SC2053 # a glob on purpose
        [[ "$(basename "${cmd%% *}")" == $pat ]] || continue
        sum=$((sum + $(vmrss_kib "${p#/proc/}"))); n=$((n + 1))
    done
    echo "$sum $n"
}

for e in "${engines[@]}"; do
    c="${CLI[$e]}"
    log "$e: timings"
    median "$e" run_none --warmup 2 --runs "$runs" "$c run --rm --network none busybox true"
    median "$e" run_host --warmup 2 --runs "$runs" "$c run --rm --network host busybox true"
    $c run -d --network none --name bench-exec busybox sleep 3600 >/dev/null
    median "$e" exec --warmup 2 --runs "$runs" "$c exec bench-exec true"
    $c rm -f bench-exec >/dev/null 2>&1
    # create + rm: a shell pipeline (hyperfine subtracts the shell's own start-up).
    if hyperfine --style none --export-json "$W/h.json" --warmup 2 --runs "$runs" \
        "$c rm \$($c create --network none busybox true)" >/dev/null 2>"$W/h.err"; then
        R[$e|create_rm]=$(jq -r '.results[0].median' "$W/h.json")
    else
        R[$e|create_rm]=fail
    fi

    if [ "$e" = berth ] && [ -x "$bin_dir/berth" ]; then
        # The same daemon driven by berth's own CLI: what a user of `berth` waits for. The
        # docker CLI alone needs ~15 ms to start (`docker version`), which bounds any ratio
        # measured through it.
        bc="$bin_dir/berth -H unix://$W/berth/berth.sock"
        median berth run_none_cli --warmup 2 --runs "$runs" "$bc run --rm --network none busybox true"
        $bc run -d --network none --name bench-exec busybox sleep 3600 >/dev/null
        median berth exec_cli --warmup 2 --runs "$runs" "$bc exec bench-exec true"
        $bc rm -f bench-exec >/dev/null 2>&1
        if hyperfine --style none --export-json "$W/h.json" --warmup 2 --runs "$runs" \
            "$bc rm \$($bc create --network none busybox true)" >/dev/null 2>"$W/h.err"; then
            R[berth|create_rm_cli]=$(jq -r '.results[0].median' "$W/h.json")
        fi
        median berth version_cli --warmup 2 --runs "$runs" "$bc version"
        median berth version_docker_cli --warmup 2 --runs "$runs" "$c version"
    fi

    log "$e: memory"
    sleep 2
    case "$e" in
        docker) R[$e|idle_rss]=$(($(vmrss_kib "$DOCKERD_PID") + $(rss_of containerd | cut -d' ' -f1))) ;;
        berth) R[$e|idle_rss]=$(vmrss_kib "$berthd_pid") ;;
        podman) R[$e|idle_rss]="-" ;;
    esac
    run_sleepers "$e" 10 shimtest
    sleep 1
    case "$e" in
        docker) read -r kib n < <(rss_of 'containerd-shim*') ;;
        podman) read -r kib n < <(rss_of conmon) ;;
        berth) read -r kib n < <(rss_of 'berth-shim*') ;;
    esac
    R[$e|shim_rss]=$([ "$n" -gt 0 ] && echo $((kib / n)))
    R[$e|shim_n]=$n
    ids=$($c ps -aq)
    # shellcheck disable=SC2086
    [ -n "$ids" ] && $c rm -f $ids >/dev/null 2>&1

    log "$e: 0 vs $many running"
    median "$e" run_0 --warmup 1 --runs "$runs" "$c run --rm --network none busybox true"
    median "$e" ps_0 --warmup 1 --runs "$runs" "$c ps"
    run_sleepers "$e" "$many" many
    R[$e|many_up]=$($c ps -q | wc -l)
    median "$e" run_many --warmup 1 --runs "$runs" "$c run --rm --network none busybox true"
    median "$e" ps_many --warmup 1 --runs "$runs" "$c ps"
    ids=$($c ps -aq)
    # shellcheck disable=SC2086
    [ -n "$ids" ] && timeout 600 $c rm -f $ids >/dev/null 2>&1
done

# ---- the table
fmt() {   # fmt <value> <unit: s|kib>
    case "$1" in ""|-|fail) printf '%s' "${1:--}" ;;
        *) if [ "$2" = s ]; then awk -v v="$1" 'BEGIN { printf "%.3f s", v }'
           else awk -v v="$1" 'BEGIN { printf "%.1f MiB", v / 1024 }'; fi ;;
    esac
}
ratio() {
    case "$1$2" in *-*|*fail*|"") printf -- '-' ;; *)
        [ -z "$1" ] || [ -z "$2" ] && { printf -- '-'; return; }
        awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }' ;;
    esac
}
row() {   # row <label> <metric> <unit>
    local b="${R[berth|$2]:-}" d="${R[docker|$2]:-}" p="${R[podman|$2]:-}"
    printf '| %-44s | %-11s | %-11s | %-11s | %-12s | %-12s |\n' "$1" "$(fmt "$b" "$3")" "$(fmt "$d" "$3")" \
        "$(fmt "$p" "$3")" "$(ratio "$b" "$d")" "$(ratio "$b" "$p")"
}
echo
printf '| %-44s | %-11s | %-11s | %-11s | %-12s | %-12s |\n' "median ($runs runs)" berth docker podman berth/docker berth/podman
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' $(seq 46))" "$(printf -- '-%.0s' $(seq 13))" \
    "$(printf -- '-%.0s' $(seq 13))" "$(printf -- '-%.0s' $(seq 13))" "$(printf -- '-%.0s' $(seq 14))" "$(printf -- '-%.0s' $(seq 14))"
row "run --rm --network none busybox true" run_none s
row "run --rm --network host busybox true" run_host s
row "exec C true" exec s
row "create + rm" create_rm s
# berth's own CLI against berthd, compared with the docker CLI against dockerd.
cli_row() {   # cli_row <label> <berth metric> <docker metric>
    local b="${R[berth|$2]:-}" d="${R[docker|$3]:-}" p="${R[podman|$3]:-}"
    printf '| %-44s | %-11s | %-11s | %-11s | %-12s | %-12s |\n' "$1" "$(fmt "$b" s)" "$(fmt "$d" s)" \
        "$(fmt "$p" s)" "$(ratio "$b" "$d")" "$(ratio "$b" "$p")"
}
cli_row "berth CLI: run --rm --network none" run_none_cli run_none
cli_row "berth CLI: exec C true" exec_cli exec
cli_row "berth CLI: create + rm" create_rm_cli create_rm
row "idle daemon RSS" idle_rss kib
row "RSS per running container (shim/conmon)" shim_rss kib
row "run --rm --network none, 0 running" run_0 s
row "run --rm --network none, $many running" run_many s
row "ps, 0 running" ps_0 s
row "ps, $many running" ps_many s
echo
[ -n "${R[berth|version_cli]:-}" ] && echo "client start-up against berthd (version): berth CLI $(fmt "${R[berth|version_cli]}" s), docker CLI $(fmt "${R[berth|version_docker_cli]:-}" s)"
for e in "${engines[@]}"; do
    echo "$e: shim processes measured: ${R[$e|shim_n]:-0} for 10 containers; running for the load test: ${R[$e|many_up]:-0} of $many"
done
