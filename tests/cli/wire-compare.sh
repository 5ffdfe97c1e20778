#!/usr/bin/env bash
# Usage: tests/cli/wire-compare.sh DOCKER_HOST [BERTH_BINARY]   (DOCKER_HOST: unix:// only)
#
# Proves that berth sends the daemon what docker CLI sends: for each command, docker and
# berth run through a recording proxy (record-requests.py) in front of the same daemon, and
# the request lines and JSON bodies they sent are diffed (IDs normalised). This is the
# wire-level half of berth-vs-docker.sh, which compares what users see.
set -uo pipefail
[ $# -ge 1 ] || { echo "usage: $0 DOCKER_HOST [BERTH_BINARY]" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
upstream="${1#unix://}"
BERTH="${2:-$here/../../target/debug/berth}"
DOCKER=/usr/local/bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker)
T=$(mktemp -d /tmp/berth-wire.XXXXXX)
python3 "$here/record-requests.py" "$T/proxy.sock" "$upstream" "$T/log" &
proxy=$!
cleanup() {
    kill "$proxy" 2>/dev/null
    for n in $(DOCKER_HOST="unix://$upstream" "$DOCKER" ps -aq --filter name=wire-); do
        DOCKER_HOST="unix://$upstream" "$DOCKER" rm -f "$n" >/dev/null 2>&1
    done
    DOCKER_HOST="unix://$upstream" "$DOCKER" volume rm -f wire-d-vol wire-b-vol >/dev/null 2>&1
    DOCKER_HOST="unix://$upstream" "$DOCKER" rmi wire-d-tag:1 wire-b-tag:1 >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT
for _ in $(seq 50); do [ -S "$T/proxy.sock" ] && break; sleep 0.1; done
export DOCKER_HOST="unix://$T/proxy.sock"
passes=0 fails=0

norm() {
    sed -E -e 's/[0-9a-f]{64}/ID/g' -e 's/\b[0-9a-f]{12}\b/ID/g' -e 's/wire-[db]-/wire-X-/g' \
        -e "s#$T/[db]-#TMP/X-#g"
}

wire() { # name args... (@ → d / b)
    local name="$1" who cli a args; shift
    for who in d b; do
        if [ "$who" = d ]; then cli="$DOCKER"; else cli="$BERTH"; fi
        args=(); for a in "$@"; do args+=("${a//@/$who}"); done
        : >"$T/log"
        timeout 30 "$cli" "${args[@]}" >/dev/null 2>&1 </dev/null
        sleep 0.2
        norm <"$T/log" >"$T/$who.wire"
    done
    if diff "$T/d.wire" "$T/b.wire" >"$T/diff"; then
        passes=$((passes + 1)); echo "PASS  $name"
    else
        fails=$((fails + 1)); echo "FAIL  $name"; sed 's/^/      | /' "$T/diff" | cut -c1-400 | head -20
    fi
}

wire "version" version
wire "info" info
wire "images" images
wire "images -a --filter" images -a --filter dangling=false
wire "run --rm echo" run --rm busybox echo hi
wire "run -d --name -e -v -p -m" run -d --name wire-@-d -e A=1 -v /tmp:/h:ro -p 127.0.0.1:28099:80 -m 64m busybox sleep 1000
wire "run -p ranges, udp, ipv6" create --name wire-@-p -p 127.0.0.1:28100-28101:80-81/udp -p 28102:82 -p 83 busybox
wire "run -it (no tty: refused)" run -it --rm busybox true
wire "run --restart --label --health" run -d --name wire-@-h --restart always -l a=b --health-cmd true busybox sleep 1000
wire "ps" ps
wire "ps -a -s --filter" ps -a -s --filter name=wire
wire "exec" exec wire-@-d sh -c 'echo out; exit 4'
wire "exec -e -u -w" exec -e X=1 -u 1 -w /tmp wire-@-d true
wire "logs -f --tail" logs --tail 5 -t wire-@-d
wire "inspect" inspect wire-@-d
wire "top" top wire-@-d
wire "stats --no-stream" stats --no-stream wire-@-d
wire "pause" pause wire-@-d
wire "unpause" unpause wire-@-d
wire "port" port wire-@-d
echo hello >"$T/d-in"; cp "$T/d-in" "$T/b-in"
wire "cp to" cp "$T/@-in" wire-@-d:/tmp/
wire "cp from" cp wire-@-d:/etc/passwd "$T/@-out"
wire "restart -t" restart -t 1 wire-@-d
wire "kill -s" kill -s KILL wire-@-d
wire "wait" wait wire-@-d
wire "stop -t" stop -t 1 wire-@-h
wire "rm -f -v" rm -f -v wire-@-d
wire "tag" tag busybox wire-@-tag:1
wire "rmi" rmi wire-@-tag:1
wire "commit" commit -m msg -c 'ENV A=1' wire-@-h wire-@-tag:2
wire "rmi -f" rmi -f wire-@-tag:2
wire "pull (local registry, absent)" pull 127.0.0.1:5999/wire-@-x:1
wire "export -o" export -o "$T/@-exp.tar" wire-@-h
wire "import" import -m m "$T/@-exp.tar" wire-@-tag:3
wire "history" history wire-@-tag:3
wire "rmi" rmi wire-@-tag:3
wire "save -o" save -o "$T/@-s.tar" busybox
wire "load -i" load -i "$T/@-s.tar"
wire "rename" rename wire-@-h wire-@-h2
wire "update" update -m 32m --memory-swap 64m wire-@-h2
wire "diff" diff wire-@-h2
wire "events" events --since 1 --until 2 --filter type=container
wire "system df" system df
wire "container prune" container prune -f --filter label=nosuch
wire "image prune" image prune -f --filter label=nosuch
wire "volume prune" volume prune -f --filter label=nosuch
wire "create; start -a" create --name wire-@-c busybox echo
wire "start -a" start -a wire-@-c
wire "attach (stopped)" attach wire-@-c
wire "volume create" volume create wire-@-vol
wire "volume ls" volume ls
wire "volume rm" volume rm wire-@-vol
echo "wire: $passes same, $fails different"
[ "$fails" -eq 0 ]
