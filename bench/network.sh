#!/usr/bin/env bash
# Usage: bench/network.sh [seconds]      (root; default 5 s per throughput run)
#
# Host → container through a published port, beside a bare veth pair (the physical
# reference) and Docker's dockerd 20.10 (docker-proxy serves its loopback ports), all in
# one run, each inside a network namespace of its own so the host's network is untouched:
#   throughput   iperf3 -t <seconds>, one TCP stream, host side → container
#   latency      1-byte request/response round trips over one TCP connection (python),
#                mean µs and requests per second
#   setup        `run --rm busybox true` on the default bridge minus `--network none`:
#                what a container's network costs `run` (hyperfine medians)
# berth and Docker are reached on 127.0.0.1:<published port>; the veth pair directly.
# Servers run in busybox containers with the host's /usr mounted read-only (iperf3 and
# python3 come from there). Prints one table with ratios against the veth pair.
# Everything started here is stopped by PID at exit; namespaces go with their processes.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/e2e/lib.sh
. "$here/../tests/e2e/lib.sh"
[ "$(id -u)" -eq 0 ] || die "bench/network.sh must run as root"
secs="${1:-5}"
apt_ensure iperf3 hyperfine python3 nftables iproute2 docker.io busybox-static jq >/dev/null ||
    die "cannot install the tools"
bin_dir="${BERTH_BIN_DIR:-$BERTH_REPO/target/release}"
W=$(mktemp -d /tmp/bn.XXXXXX)
pids=()
berth_cg_before=$(berth_cgroup_parents)
cleanup() {
    local p s ids
    for s in berth docker; do
        [ -S "$W/$s.sock" ] || continue
        ids=$(DOCKER_HOST="unix://$W/$s.sock" timeout 30 "$docker_cli" ps -aq 2>/dev/null)
        # shellcheck disable=SC2086 # one argument per container
        [ -n "$ids" ] && DOCKER_HOST="unix://$W/$s.sock" timeout 60 "$docker_cli" rm -f $ids >/dev/null 2>&1
    done
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 1
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    kill_matching_pids "$W"
    sleep 0.3
    unmount_under "$W"
    kill_cgroup_procs "berth-e2e-$$"
    remove_cgroup "berth-e2e-$$"
    remove_new_berth_cgroup_parents "$berth_cg_before"
    rm -rf "$W" "$E2E_ERRFILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bash "$BERTH_REPO/scripts/make-images.sh" "$W/images" >/dev/null 2>&1 || die "make-images.sh failed"

# A request/response client: N round trips of one byte, prints "<mean µs> <req/s>".
cat >"$W/rr.py" <<'PY'
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection((host, port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for _ in range(200): s.sendall(b"x"); s.recv(1)
t = time.perf_counter()
for _ in range(n): s.sendall(b"x"); s.recv(1)
d = time.perf_counter() - t
print(f"{d / n * 1e6:.1f} {n / d:.0f}")
PY
cat >"$W/echo.py" <<'PY'
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", int(sys.argv[1]))); l.listen(8)
while True:
    c, _ = l.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        b = c.recv(64)
        if not b: break
        c.sendall(b)
    c.close()
PY

declare -A R
ref='' peer='' bns='' dns_=''   # namespace holder PIDs, set by ns_holder
# ns_holder <var>: starts a process keeping a fresh network namespace (lo up) and sets
# <var> to its PID (not in a subshell, so the PID joins those stopped at exit).
ns_holder() {
    unshare --net sh -c "ip link set lo up; exec sleep 3600" </dev/null >/dev/null 2>&1 &
    pids+=("$!")
    printf -v "$1" '%s' "$!"
    sleep 0.3
}
measure() {   # measure <engine> <ns pid> <host> <iperf port> <echo port>
    local e="$1" in=(nsenter "--net=/proc/$2/ns/net") out
    out=$("${in[@]}" iperf3 -c "$3" -p "$4" -t "$secs" -J 2>/dev/null | jq -r '.end.sum_received.bits_per_second // empty')
    R[$e|tput]=${out:-fail}
    out=$("${in[@]}" python3 "$W/rr.py" "$3" "$5" 20000 2>/dev/null)
    R[$e|lat]=${out% *}; R[$e|rps]=${out#* }
    [ -n "$out" ] || { R[$e|lat]=fail; R[$e|rps]=fail; }
}
server_args=(-v /usr:/usr:ro -v /usr/lib64:/lib64:ro -v /usr/lib:/lib:ro -v "$W:$W:ro" busybox)

# ---- the bare veth pair: reference
ns_holder ref
ns_holder peer
ip link add refv0 netns "$ref" type veth peer name refv1 netns "$peer"
nsenter "--net=/proc/$ref/ns/net" sh -c 'ip addr add 10.96.50.1/24 dev refv0; ip link set refv0 up'
nsenter "--net=/proc/$peer/ns/net" sh -c 'ip addr add 10.96.50.2/24 dev refv1; ip link set refv1 up'
nsenter "--net=/proc/$peer/ns/net" iperf3 -s -p 5201 >/dev/null 2>&1 &
pids+=($!)
nsenter "--net=/proc/$peer/ns/net" python3 "$W/echo.py" 7001 >/dev/null 2>&1 &
pids+=($!)
sleep 0.5
log "veth pair"
measure veth "$ref" 10.96.50.2 5201 7001

# ---- berth: berthd in its own namespace, default bridge, published ports on 127.0.0.1
start_engine() {   # start_engine <name> <ns pid> <cmd...>: sets DOCKER_HOST
    local name="$1" ns="$2"; shift 2
    nsenter "--net=/proc/$ns/ns/net" "$@" >"$W/$name.log" 2>&1 </dev/null &
    pids+=($!)
    wait_api "$!"
}
if [ -x "$bin_dir/berthd" ]; then
    ns_holder bns
    export DOCKER_HOST="unix://$W/berth.sock"
    if start_engine berth "$bns" "$bin_dir/berthd" -H "$DOCKER_HOST" --data-root "$W/b/data" \
        --exec-root "$W/b/exec" --pidfile "$W/b/berthd.pid"; then
        "$docker_cli" load -i "$W/images/busybox.tar" >/dev/null
        "$docker_cli" run -d -p 15201:5201 "${server_args[@]}" /usr/bin/iperf3 -s -p 5201 >/dev/null
        "$docker_cli" run -d -p 17001:7001 "${server_args[@]}" /usr/bin/python3 "$W/echo.py" 7001 >/dev/null
        sleep 1
        log "berth"
        measure berth "$bns" 127.0.0.1 15201 17001
        hyperfine -N --style none --warmup 2 --runs 10 --export-json "$W/hb.json" \
            "$docker_cli run --rm --network none busybox true" "$docker_cli run --rm busybox true" >/dev/null 2>&1 &&
            R[berth|setup]=$(jq -r '(.results[1].median - .results[0].median) * 1000 | floor' "$W/hb.json")
    else
        log "berthd did not start: $(tail -n 5 "$W/berth.log")"
    fi
fi

# ---- Docker: dockerd in its own namespace with its default bridge and docker-proxy
ns_holder dns_
export DOCKER_HOST="unix://$W/docker.sock"
if start_engine docker "$dns_" dockerd --data-root "$W/d/data" --exec-root "$W/d/exec" -H "$DOCKER_HOST" \
    --pidfile "$W/d/dockerd.pid" --cgroup-parent "/berth-e2e-$$" --log-level warn; then
    "$docker_cli" load -i "$W/images/busybox.tar" >/dev/null
    "$docker_cli" run -d -p 15201:5201 "${server_args[@]}" /usr/bin/iperf3 -s -p 5201 >/dev/null
    "$docker_cli" run -d -p 17001:7001 "${server_args[@]}" /usr/bin/python3 "$W/echo.py" 7001 >/dev/null
    sleep 1
    log "docker"
    measure docker "$dns_" 127.0.0.1 15201 17001
    hyperfine -N --style none --warmup 2 --runs 10 --export-json "$W/hd.json" \
        "$docker_cli run --rm --network none busybox true" "$docker_cli run --rm busybox true" >/dev/null 2>&1 &&
        R[docker|setup]=$(jq -r '(.results[1].median - .results[0].median) * 1000 | floor' "$W/hd.json")
    ids=$("$docker_cli" ps -aq)
    # shellcheck disable=SC2086 # one argument per container
    [ -n "$ids" ] && "$docker_cli" rm -f $ids >/dev/null 2>&1
else
    log "dockerd did not start: $(tail -n 5 "$W/docker.log")"
fi
export DOCKER_HOST="unix://$W/berth.sock"
ids=$("$docker_cli" ps -aq 2>/dev/null)
# shellcheck disable=SC2086 # one argument per container
[ -n "$ids" ] && "$docker_cli" rm -f $ids >/dev/null 2>&1

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.2f", a / b; else printf "-" }'; }
gbit() { awk -v v="$1" 'BEGIN { if (v+0 > 0) printf "%.2f Gbit/s", v / 1e9; else printf "%s", v }'; }
echo
printf '| %-10s | %-14s | %-10s | %-10s | %-12s | %-12s | %-16s |\n' "" throughput "RTT µs" "req/s" "tput/veth" "RTT/veth" "network setup"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------------ ---------------- ------------ ------------ -------------- -------------- ------------------
for e in veth berth docker; do
    printf '| %-10s | %-14s | %-10s | %-10s | %-12s | %-12s | %-16s |\n' "$e" "$(gbit "${R[$e|tput]:--}")" \
        "${R[$e|lat]:--}" "${R[$e|rps]:--}" "$(ratio "${R[$e|tput]:-0}" "${R[veth|tput]:-0}")" \
        "$(ratio "${R[$e|lat]:-0}" "${R[veth|lat]:-0}")" "${R[$e|setup]:+${R[$e|setup]} ms}"
done
echo "targets: berth throughput ≥ 0.95× the veth pair's, RTT ≤ 1.05×, network setup ≤ 10 ms"
