#!/usr/bin/env bash
# Usage: tests/e2e/network.sh BERTHD_BINARY [IMAGES_DIR]      (root)
#
# Container networking through the docker CLI, as a user checks it. berthd runs in a
# network namespace of its own (unshare --net, loopback up), so its bridges, veths and
# nftables table never touch the host's; the checks reach into that namespace with
# nsenter (busybox wget as the HTTP client). Checked:
#   default bridge: an address on berth0's subnet, -p 8080:80 answers on 127.0.0.1:8080
#     and on the bridge gateway, `docker port`, -P picks a free port that answers
#   user networks: name, alias and short-id resolution through the embedded DNS; a
#     container on another network cannot reach it; --ip; network ls/inspect/rm/prune
#   --network container:web shares web's interfaces
#   kill -9 berthd, start it again in the same namespace: the published port still
#     answers and berth's table holds it once; a new port works
#   berth's own CLI (the `berth` binary next to berthd): network create/ls/inspect/rm/
#     prune/connect/disconnect print what docker prints, run -p/--network/--network-alias,
#     berth port
#   after removing every container and network: no veth left, no port in berth's table
# Each check prints PASS or FAIL; exit status non-zero if any failed. At exit, also on
# failure: containers removed, berthd stopped by PID, processes mentioning $T killed by
# PID, mounts under $T unmounted, $T removed (the namespace goes with its last process).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"

[ "$(id -u)" -eq 0 ] || die "network.sh must run as root"
[ $# -ge 1 ] || die "usage: $0 BERTHD_BINARY [IMAGES_DIR]"
bin="$(readlink -f "$1")"
[ -x "$bin" ] || die "$1 is not an executable"
images_dir="${2:-}"
apt_ensure busybox-static nftables iproute2 util-linux >/dev/null
busybox=$(command -v busybox)

T=$(mktemp -d /tmp/nw.XXXXXX)
export DOCKER_HOST="unix://$T/berth.sock"
D=("$docker_cli")
holder_pid='' daemon_pid=''
static_init="$BERTH_REPO/target/static/x86_64-unknown-linux-gnu/release/berth-init"
init_args=()
[ -x "$static_init" ] && init_args=(--init-path "$static_init")
cleanup() {
    end_daemon "$daemon_pid" remove
    [ -n "$holder_pid" ] && kill -KILL "$holder_pid" 2>/dev/null
    kill_matching_pids "$T"
    sleep 0.2
    unmount_under "$T"
    rm -rf "$T" "$E2E_ERRFILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A process holding the namespace, so berthd can be killed and started again inside it.
unshare --net sh -c "ip link set lo up; exec sleep 3600 # $T" &
holder_pid=$!
disown "$holder_pid"   # killed on purpose at the end: no job-control notice
sleep 0.3
NETNS="/proc/$holder_pid/ns/net"
IN=(nsenter "--net=$NETNS")
start_daemon() {
    "${IN[@]}" "$bin" -H "$DOCKER_HOST" --data-root "$T/data" --exec-root "$T/exec" \
        --pidfile "$T/berthd.pid" "${init_args[@]}" >>"$T/berthd.log" 2>&1 </dev/null &
    daemon_pid=$!
    disown "$daemon_pid"   # killed with -9 on purpose below
    wait_api "$daemon_pid"
}
if ! start_daemon; then
    fail "berthd starts in its own network namespace" "$(tail -n 20 "$T/berthd.log")"
    summary "networking"
    exit 1
fi
if [ -z "$images_dir" ]; then
    images_dir="$T/images"
    bash "$BERTH_REPO/scripts/make-images.sh" "$images_dir" 2>/dev/null || die "make-images.sh failed"
fi
"${D[@]}" load -i "$images_dir/busybox.tar" >/dev/null 2>&1 || die "cannot load busybox"
get() { timeout 5 "${IN[@]}" "$busybox" wget -qO- "$1"; }
RUN=("${D[@]}" run --pull never)
HTTPD=(busybox httpd -f -p 80 -h /etc)

# ---- default bridge, published ports
ck_re "network ls lists bridge, host and none" '^bridge bridge$' \
    "${D[@]}" network ls --format '{{.Name}} {{.Driver}}'
ck_ok "run -d -p 8080:80 httpd on the default bridge" "${RUN[@]}" -d --name web -p 8080:80 "${HTTPD[@]}"
web_ip=$("${D[@]}" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' web 2>/dev/null)
ck_that "the container has an address on the bridge's subnet" "172.17.x.x or another pool" "${web_ip:-none}" \
    test -n "$web_ip"
ck_eq "the container sees that address on eth0" "$web_ip" "${D[@]}" exec web sh -c \
    "ip -o -4 addr show eth0 | sed -e 's/.*inet //' -e 's@/.*@@'"
retry_until 5 get "http://127.0.0.1:8080/hostname"
ck_eq "the published port answers on 127.0.0.1 (no proxy process)" "$("${D[@]}" inspect -f '{{.Config.Hostname}}' web)" \
    get "http://127.0.0.1:8080/hostname"
gw=$("${D[@]}" network inspect -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' bridge)
ck_has "the published port answers on the host's bridge address" "$("${D[@]}" inspect -f '{{.Config.Hostname}}' web)" \
    get "http://$gw:8080/hostname"
ck_eq "docker port" "80/tcp -> 0.0.0.0:8080" "${D[@]}" port web
ck_err "a second container on host port 8080 is refused" "port is already allocated" \
    "${RUN[@]}" -d --name web2 -p 8080:80 "${HTTPD[@]}"
"${D[@]}" rm -f web2 >/dev/null 2>&1
ck_ok "run -P publishes the EXPOSEd port" "${RUN[@]}" -d --name webp --expose 80 -P "${HTTPD[@]}"
pport=$("${D[@]}" port webp 80/tcp 2>/dev/null | head -n 1 | sed 's/.*://')
ck_that "-P picked a host port" "a port number" "${pport:-none}" test -n "$pport"
ck_has "the -P port answers" "$("${D[@]}" inspect -f '{{.Config.Hostname}}' webp)" get "http://127.0.0.1:$pport/hostname"
ck_eq "--network container:web shares web's interfaces" "$web_ip" "${RUN[@]}" --rm --network container:web busybox \
    sh -c "ip -o -4 addr show eth0 | sed -e 's/.*inet //' -e 's@/.*@@'"

# ---- user-defined networks and DNS
ck_ok "network create appnet" "${D[@]}" network create --label team=a appnet
ck_ok "network create other --subnet 10.77.0.0/24" "${D[@]}" network create --subnet 10.77.0.0/24 other
ck_ok "app1 on appnet with an alias" "${RUN[@]}" -d --name app1 --network appnet --network-alias svc "${HTTPD[@]}"
ck_ok "far on the other network, with --ip" "${RUN[@]}" -d --name far --network other --ip 10.77.0.50 "${HTTPD[@]}"
ck_eq "--ip is the address the container got" "10.77.0.50" \
    "${D[@]}" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' far
app1_host=$("${D[@]}" inspect -f '{{.Config.Hostname}}' app1)
ck_eq "a container on appnet reaches app1 by name" "$app1_host" "${RUN[@]}" --rm --network appnet busybox \
    wget -qO- http://app1/hostname
ck_eq "… by alias" "$app1_host" "${RUN[@]}" --rm --network appnet busybox wget -qO- http://svc/hostname
ck_eq "… by short id" "$app1_host" "${RUN[@]}" --rm --network appnet busybox wget -qO- "http://${app1_host:0:12}/hostname"
ck_rc "a container on another network cannot reach app1's address" 1 "${RUN[@]}" --rm --network other busybox \
    sh -c "wget -T 2 -qO- http://$("${D[@]}" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' app1)/hostname >/dev/null 2>&1 || exit 1"
ck_has "network inspect lists app1 under Containers" "app1" "${D[@]}" network inspect -f '{{json .Containers}}' appnet
ck_eq "network ls --filter label" "appnet" "${D[@]}" network ls --filter label=team=a --format '{{.Name}}'
ck_eq "ps --filter network=appnet" "app1" "${D[@]}" ps --filter network=appnet --format '{{.Names}}'
ck_err "network rm of a network in use is refused" "has active endpoints" "${D[@]}" network rm appnet
ck_err "network create of an existing name" "already exists" "${D[@]}" network create appnet
ck_err "network create with an invalid name" "invalid network name" "${D[@]}" network create 'bad/name'
ck_err "network create with a /31 subnet" "too small" "${D[@]}" network create --subnet 10.66.0.0/31 tiny
ck_err "run on a network that does not exist" "network nosuchnet not found" "${RUN[@]}" --rm --network nosuchnet busybox true

# ---- resolv.conf and hosts options (files only: nothing is sent to these addresses)
ck_eq "--dns, --dns-search, --dns-option make resolv.conf" "nameserver 10.1.2.3
search example.test
options ndots:2" "${RUN[@]}" --rm --dns 10.1.2.3 --dns-search example.test --dns-option ndots:2 busybox \
    cat /etc/resolv.conf
ck_re "--add-host adds a hosts line" '^10\.9\.8\.7[[:space:]]+foo$' "${RUN[@]}" --rm --add-host foo:10.9.8.7 busybox \
    cat /etc/hosts
ck_re "on a user network the embedded DNS is the nameserver" "^nameserver $("${D[@]}" network inspect \
    -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' appnet | sed 's/\./\\./g')$" \
    "${RUN[@]}" --rm --network appnet busybox cat /etc/resolv.conf

# ---- network connect / disconnect of a running container
ck_ok "a container on the default bridge" "${RUN[@]}" -d --name roamer busybox sleep 600
ck_ok "network connect appnet roamer (running)" "${D[@]}" network connect --alias rover appnet roamer
ck_eq "after connect it has a second interface" "eth1" "${D[@]}" exec roamer sh -c \
    "ip -o -4 addr show eth1 | awk '{print \$2}'"
ck_eq "after connect it resolves app1" "$app1_host" "${D[@]}" exec roamer wget -qO- http://app1/hostname
roamer_ip=$("${D[@]}" inspect -f '{{(index .NetworkSettings.Networks "appnet").IPAddress}}' roamer 2>/dev/null)
ck_has "and is resolved by its alias on appnet" "Address: ${roamer_ip:-none}" \
    "${RUN[@]}" --rm --network appnet busybox nslookup rover
ck_err "connecting it twice is refused" "already exists in network appnet" "${D[@]}" network connect appnet roamer
ck_ok "network disconnect appnet roamer" "${D[@]}" network disconnect appnet roamer
ck_err "after disconnect eth1 is gone" "can't find device 'eth1'" "${D[@]}" exec roamer ip link show eth1

# ---- docker-compose without network_mode: the project's default network
if apt_ensure docker-compose >/dev/null 2>&1; then
    mkdir -p "$T/proj"
    cat >"$T/proj/docker-compose.yml" <<'YML'
version: "3"
services:
  web:
    image: busybox
    command: httpd -f -p 80 -h /etc
    ports:
      - "8090:80"
  client:
    image: busybox
    command: sh -c 'sleep 300'
YML
    C=(docker-compose --ansi never -p nwdemo -f "$T/proj/docker-compose.yml")
    ck_ok "compose up -d (default project network)" "${C[@]}" up -d
    ck_re "compose made the network nwdemo_default" '^nwdemo_default$' "${D[@]}" network ls --format '{{.Name}}'
    ck_eq "a service reaches another by its service name" \
        "$("${D[@]}" inspect -f '{{.Config.Hostname}}' nwdemo_web_1 2>/dev/null)" \
        "${C[@]}" exec -T client wget -qO- http://web/hostname
    retry_until 5 get "http://127.0.0.1:8090/hostname"
    ck_ok "the service's published port answers" get "http://127.0.0.1:8090/hostname"
    ck_ok "compose down" "${C[@]}" down
    ck_lacks "compose down removed its network" "nwdemo_default" "${D[@]}" network ls --format '{{.Name}}'
else
    fail "docker-compose available" "apt-get install docker-compose failed"
fi

# ---- the daemon crashes and comes back
kill -KILL "$daemon_pid"
for _ in $(seq 50); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
daemon_pid=''
if start_daemon; then pass "berthd starts again after kill -9"; else fail "berthd starts again after kill -9" "$(tail -n 20 "$T/berthd.log")"; fi
ck_has "after the restart the published port still answers" "$("${D[@]}" inspect -f '{{.Config.Hostname}}' web)" \
    get "http://127.0.0.1:8080/hostname"
count_8080() { "${IN[@]}" nft list table ip berth 2>/dev/null | grep -o ': 8080 \|tcp \. 8080 \|8080 :' | wc -l; }
ck_eq "berth's table holds port 8080 once" "1" count_8080
ck_eq "name resolution still works after the restart" "$app1_host" "${RUN[@]}" --rm --network appnet busybox \
    wget -qO- http://app1/hostname
ck_ok "a new published container after the restart" "${RUN[@]}" -d --name web3 -p 8083:80 "${HTTPD[@]}"
ck_has "… answers" "$("${D[@]}" inspect -f '{{.Config.Hostname}}' web3)" get "http://127.0.0.1:8083/hostname"

# ---- many containers with published ports: no leak
many="${NETWORK_MANY:-200}"
# shellcheck disable=SC2016 # expanded by the inner shell
seq "$many" | xargs -P 4 -I{} sh -c '"$DK" run -d --pull never --name many-{} -p $((20000 + {})):80 busybox sleep 600 >/dev/null 2>&1'
ck_eq "$many containers with a published port each are running" "$many" \
    sh -c "\"\$DK\" ps -q --filter name=many- | wc -l"
ck_eq "… and berth's table holds their $many ports" "$many" \
    sh -c "${IN[*]} nft list map ip berth ports_any | grep -o 'tcp \. 2[0-9]\{4\}' | wc -l"
# shellcheck disable=SC2016 # expanded by the inner shell
"${D[@]}" ps -aq --filter name=many- | xargs -P 4 -n 10 sh -c '"$DK" rm -f "$@" >/dev/null 2>&1' rm
ck_eq "after removing them: none of their ports is left" "0" \
    sh -c "${IN[*]} nft list map ip berth ports_any | grep -o 'tcp \. 2[0-9]\{4\}' | wc -l"
ck_eq "… no veth of theirs is left" "$("${D[@]}" ps -q | wc -l)" \
    sh -c "${IN[*]} ip -o link show | grep -c ' vb'"
ck_eq "… no network namespace of theirs is left" "$("${D[@]}" ps -q | wc -l)" \
    sh -c "ls '$T/exec/netns' | wc -l"

# ---- the same through berth's own CLI (the binary next to berthd)
berth_cli="$(dirname "$bin")/berth"
if [ -x "$berth_cli" ]; then
    B=("$berth_cli")   # DOCKER_HOST is exported: berth honours it
    BRUN=("${B[@]}" run --pull never)
    same_as_docker() {   # NAME ARGS...: berth and docker print the same bytes and exit alike
        local d b
        d=$("${D[@]}" "${@:2}" 2>&1; echo "rc=$?"; echo x)
        b=$("${B[@]}" "${@:2}" 2>&1; echo "rc=$?"; echo x)
        if [ "$d" = "$b" ]; then pass "$1"; else fail "$1" "docker: ${d:0:800} berth: ${b:0:800}"; fi
    }
    cnames() { "${B[@]}" network inspect -f '{{range .Containers}}{{.Name}} {{end}}' "$1" | tr ' ' '\n' | sort | xargs; }
    ck_ok "berth network create --subnet --gateway --label" "${B[@]}" network create --subnet 10.78.0.0/24 \
        --gateway 10.78.0.1 --label via=berth bnet
    same_as_docker "berth network ls = docker network ls, byte for byte" network ls
    same_as_docker "berth network ls --no-trunc -q = docker's" network ls --no-trunc -q
    same_as_docker "berth network ls --filter label --format = docker's" network ls --filter label=via=berth \
        --format '{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.Labels}}'
    # (custom networks only: berthd's host and none networks get a new Created each call)
    same_as_docker "berth network ls --format '{{json .}}' = docker's" network ls --filter type=custom \
        --format '{{json .}}'
    ck_ok "berth run -d -p 8095:80 --network bnet --network-alias x httpd" "${BRUN[@]}" -d --name bweb -p 8095:80 \
        --network bnet --network-alias x "${HTTPD[@]}"
    retry_until 5 get "http://127.0.0.1:8095/hostname"
    bweb_host=$("${B[@]}" inspect -f '{{.Config.Hostname}}' bweb 2>/dev/null)
    ck_eq "… it answers on 127.0.0.1:8095" "${bweb_host:-none}" get "http://127.0.0.1:8095/hostname"
    ck_eq "berth port" "80/tcp -> 0.0.0.0:8095" "${B[@]}" port bweb
    ck_eq "berth port bweb 80" "0.0.0.0:8095" "${B[@]}" port bweb 80
    same_as_docker "berth port = docker port (also for a port not published)" port bweb 81
    ck_eq "another container on bnet reaches it by the alias x" "${bweb_host:-none}" "${BRUN[@]}" --rm \
        --network bnet busybox wget -qO- http://x/hostname
    ck_ok "berth run -d broam on the default bridge" "${BRUN[@]}" -d --name broam busybox sleep 600
    ck_ok "berth network connect --alias brover --ip 10.78.0.77 bnet broam" "${B[@]}" network connect \
        --alias brover --ip 10.78.0.77 bnet broam
    ck_eq "… broam got that address" "10.78.0.77" \
        "${B[@]}" inspect -f '{{(index .NetworkSettings.Networks "bnet").IPAddress}}' broam
    ck_has "… and is resolved by its alias" "Address: 10.78.0.77" "${BRUN[@]}" --rm --network bnet busybox \
        nslookup brover
    ck_eq "berth network inspect -f lists both containers" "broam bweb" cnames bnet
    ck_ok "berth network disconnect bnet broam" "${B[@]}" network disconnect bnet broam
    ck_eq "… after it only bweb is on bnet" "bweb" cnames bnet
    ck_err "… and broam has no eth1" "can't find device 'eth1'" "${B[@]}" exec broam ip link show eth1
    same_as_docker "berth network inspect -f = docker's" network inspect \
        -f '{{.Name}} {{.Driver}} {{.Internal}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Labels}}' bnet
    same_as_docker "berth network inspect (JSON) = docker's" network inspect bnet
    same_as_docker "berth network rm of a network in use and of a missing one: docker's errors and status" \
        network rm bnet nosuchnet
    ck_ok "berth rm -f bweb broam" "${B[@]}" rm -f bweb broam
    ck_eq "berth network rm bnet" "bnet" "${B[@]}" network rm bnet
    ck_lacks "… bnet is gone" "bnet" "${B[@]}" network ls --format '{{.Name}}'
    ck_ok "two unused networks" sh -c "\"$berth_cli\" network create bempty1 >/dev/null && \"$berth_cli\" network create bempty2 >/dev/null"
    ck_has "berth network prune without -f asks docker's question" \
        "WARNING! This will remove all custom networks not used by at least one container." \
        sh -c "echo n | \"$berth_cli\" network prune"
    ck_has "… and answering n keeps them" "bempty1" "${B[@]}" network ls --format '{{.Name}}'
    ck_eq "berth network prune -f: Deleted Networks: and the two (appnet and other are in use)" \
        "Deleted Networks: bempty1 bempty2" sh -c "\"$berth_cli\" network prune -f | sort | xargs"
    ck_re "… appnet and other are still there" '^appnet other$' sh -c \
        "\"$berth_cli\" network ls --filter type=custom --format '{{.Name}}' | xargs"
else
    fail "the berth CLI next to berthd" "$berth_cli is missing: build it with cargo build --release -p berth-cli"
fi

# ---- everything removed: nothing left
ck_ok "rm -f every container" sh -c "\"\$DK\" rm -f \$(\"\$DK\" ps -aq) >/dev/null"
ck_ok "network rm appnet other" "${D[@]}" network rm appnet other
ck_eq "no veth is left" "" sh -c "${IN[*]} ip -o link show | grep -c ' vb' | grep -v '^0$' || true"
ck_eq "no published port is left in berth's table" "0" sh -c "${IN[*]} nft list table ip berth | grep -c ' : [0-9.]* \. [0-9]*' || true"
ck_lacks "the user networks' bridges are gone" "br-" "${IN[@]}" ip -o link show

summary "networking"
