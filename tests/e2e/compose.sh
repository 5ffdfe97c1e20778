#!/usr/bin/env bash
# Usage: tests/e2e/compose.sh DOCKER_HOST [IMAGES_DIR]      (root)
#   tests/e2e/with-dockerd.sh tests/e2e/compose.sh     (the same checks on dockerd 20.10)
#
# Debian's docker-compose 1.29 (installed here when missing) against any Docker-API daemon:
# a two-service project on the host network — `web`, busybox httpd on a loopback port, and
# `client`, which fetches the page with wget every 0.3 s and prints it — brought up with
# `up -d`, inspected with `ps` and `logs`, scaled with `up -d --scale client=3`, and taken
# down with `down`. Each check prints PASS or FAIL with what was expected and seen; the
# exit status is non-zero if any failed. The project (name e2e<pid>) is taken down at exit,
# also on failure; busybox:latest is loaded from scripts/make-images.sh output when the
# daemon lacks it (and removed again at the end).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"

[ $# -ge 1 ] || die "usage: $0 DOCKER_HOST [IMAGES_DIR]"
[ "$(id -u)" -eq 0 ] || die "compose.sh must run as root (it installs docker-compose when missing)"
export DOCKER_HOST="$1"
images_dir="${2:-}"
apt_ensure docker-compose busybox-static jq >/dev/null || die "cannot install docker-compose"
"$docker_cli" version >/dev/null 2>&1 || die "no Docker API daemon answers at $DOCKER_HOST"

T=$(mktemp -d /tmp/berth-e2e-compose.XXXXXX)
project="e2e$$"
# A loopback port unlikely to be in use, different for concurrent runs.
port=$((20000 + $$ % 20000))
C=(docker-compose --ansi never -p "$project" -f "$T/docker-compose.yml")
loaded=

cleanup() {
    "${C[@]}" down -v --remove-orphans -t 1 >/dev/null 2>&1
    [ -n "$loaded" ] && "$docker_cli" rmi busybox:latest >/dev/null 2>&1
    rm -rf "$T" "$E2E_ERRFILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! "$docker_cli" image inspect busybox:latest >/dev/null 2>&1; then
    if [ -z "$images_dir" ]; then
        images_dir="$T/images"
        bash "$BERTH_REPO/scripts/make-images.sh" "$images_dir" 2>/dev/null || die "make-images.sh failed"
    fi
    "$docker_cli" load -i "$images_dir/busybox.tar" >/dev/null || die "cannot load busybox"
    loaded=1
fi
echo "$(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /') -> $("$docker_cli" version -f '{{.Server.Version}} (API {{.Server.APIVersion}})') at $DOCKER_HOST, port $port"

cat >"$T/docker-compose.yml" <<YAML
version: "3.7"
services:
  web:
    image: busybox:latest
    network_mode: host
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web-$project >/www/index.html && exec httpd -f -v -p 127.0.0.1:$port -h /www"]
    labels:
      org.berth.role: web
  client:
    image: busybox:latest
    network_mode: host
    depends_on: [web]
    command: ["sh", "-c", "me=\$\$RANDOM\$\$RANDOM; while :; do wget -q -O - http://127.0.0.1:$port/ && echo fetched-by-\$\$me; sleep 0.3; done"]
YAML

ck_ok "config: the file is valid" "${C[@]}" config -q
ck_ok "up -d" "${C[@]}" up -d
ck_eq "ps --services" "$(printf 'client\nweb')" sh -c '"$@" ps --services | sort' _ "${C[@]}"
ck_eq "ps -q: two containers" "2" sh -c '"$@" ps -q | wc -l' _ "${C[@]}"
ck_re "ps: web is Up" "^${project}_web_1 .* Up" "${C[@]}" ps
ck_re "ps: client is Up" "^${project}_client_1 .* Up" "${C[@]}" ps
ck_eq "docker ps: the compose labels" "$project web" "$docker_cli" inspect -f \
    '{{index .Config.Labels "com.docker.compose.project"}} {{index .Config.Labels "com.docker.compose.service"}}' "${project}_web_1"
ck_eq "the service's own label" "web" "$docker_cli" inspect -f '{{index .Config.Labels "org.berth.role"}}' "${project}_web_1"
ck_eq "network_mode: host" "host" "$docker_cli" inspect -f '{{.HostConfig.NetworkMode}}' "${project}_client_1"
# The host's view of the page (python3: busybox-static's wget crashes on the host's libc NSS).
fetch() { python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())' "$1"; }
logs_have() { "${C[@]}" logs --no-color "$1" 2>/dev/null | grep -qF -- "$2"; }
ck_that "the web page is served on the host's loopback" "hello-from-web-$project" \
    "$(fetch "http://127.0.0.1:$port/" 2>&1)" \
    retry_until 15 sh -c '[ "$("$@")" = "$0" ]' "hello-from-web-$project" python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())' "http://127.0.0.1:$port/"
ck_that "logs client: the client fetched the page" "a line 'hello-from-web-$project'" \
    "$("${C[@]}" logs --no-color --tail 5 client 2>&1)" retry_until 20 logs_have client "hello-from-web-$project"
ck_has "logs: lines prefixed with the container" "client_1  | hello-from-web-$project" \
    "${C[@]}" logs --no-color client
ck_that "logs web: httpd logged the requests" "a request answered with 200" "$("${C[@]}" logs --no-color --tail 5 web 2>&1)" \
    retry_until 10 logs_have web "response:200"
ck_ok "up -d --scale client=3" "${C[@]}" up -d --scale client=3
ck_eq "ps: three clients" "3" sh -c '"$@" ps -q client | wc -l' _ "${C[@]}"
ck_that "all three clients fetch" "fetched-by lines from 3 clients" \
    "$("${C[@]}" logs --no-color client 2>&1 | grep -o 'fetched-by-.*' | sort -u | tr '\n' ' ')" \
    retry_until 20 sh -c '[ "$("$@" logs --no-color client | grep -o "fetched-by-.*" | sort -u | wc -l)" -ge 3 ]' _ "${C[@]}"
ck_ok "scale client=1 (up --scale)" "${C[@]}" up -d --scale client=1
ck_eq "ps: one client left" "1" sh -c '"$@" ps -q client | wc -l' _ "${C[@]}"
ck_ok "stop web" "${C[@]}" stop -t 1 web
ck_re "ps: web exited" "^${project}_web_1 .* Exit" "${C[@]}" ps
ck_ok "start web" "${C[@]}" start web
ck_re "ps: web Up again" "^${project}_web_1 .* Up" "${C[@]}" ps
ck_ok "down" "${C[@]}" down -t 1
ck_eq "down: no container of the project left" "" \
    "$docker_cli" ps -aq --filter "label=com.docker.compose.project=$project"

summary "docker-compose against $DOCKER_HOST"
