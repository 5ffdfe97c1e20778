#!/usr/bin/env bash
# Usage: tests/e2e/tls.sh BIN_DIR [IMAGES_DIR]      (root; BIN_DIR holds berthd, berth,
#                                                    berth-shim, berth-runtime)
#
# berthd's TCP listener with TLS, as dockerd serves it, checked with the stock docker CLI 28
# and with berth. Makes, with openssl as Docker's guide does, a CA, a server certificate
# for IP:127.0.0.1 with a PKCS#1 RSA key (`genrsa -traditional`), a client certificate
# with a SEC1 EC key, and a second CA with its own client; starts a private berthd with
# -H unix://$T/berth.sock -H tcp://127.0.0.1:<free port> --tlsverify and checks:
#   - docker --tlsverify --tlscacert/--tlscert/--tlskey: version, load (a large upload),
#     run --rm, exec, exec -i with piped stdin (half-close over TLS), attach with piped
#     stdin, exec -it on a tty (hijacked streams over TLS);
#   - the same through DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=<dir> DOCKER_HOST=tcp://…;
#   - docker --tls (no server verification: another CA given) with the client certificate;
#   - refused: no client certificate, a client certificate from the other CA, a server
#     checked against the other CA, plain HTTP (Go's 400 "Client sent an HTTP request to
#     an HTTPS server."); the daemon keeps serving after each;
#   - berth with the same flags and variables: version, run --rm, exec, exec -i; refused
#     without a client certificate;
#   - berthd given a certificate as its key stops at start, naming the file.
# Each check prints PASS or FAIL; the exit status is non-zero if any failed. At exit, also
# on failure: containers removed, berthd stopped by its PID, processes left mentioning $T
# killed by PID, mounts under $T unmounted, the /berth cgroup parent removed if this
# script made it, $T removed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"

[ "$(id -u)" -eq 0 ] || die "tls.sh must run as root"
[ $# -ge 1 ] || die "usage: $0 BIN_DIR [IMAGES_DIR]"
bin_dir="$(readlink -f "$1")"
images_dir="${2:-}"
for b in berthd berth berth-shim berth-runtime; do
    [ -x "$bin_dir/$b" ] || die "$bin_dir/$b is missing"
done
apt_ensure openssl busybox-static python3 >/dev/null

# The clients see only what each check gives them: no host, context, TLS variables or
# ~/.docker (whose ca.pem/cert.pem/key.pem would be TLS defaults) from the caller.
unset DOCKER_HOST BERTH_HOST DOCKER_CONTEXT DOCKER_TLS DOCKER_TLS_VERIFY DOCKER_CERT_PATH DOCKER_API_VERSION
# Short: unix socket paths under the exec root must fit in 108 bytes.
T=$(mktemp -d /tmp/tls.XXXXXX)
export DOCKER_CONFIG="$T/docker-config"
mkdir -p "$DOCKER_CONFIG"
C="$T/certs"        # ca.pem, cert.pem, key.pem: the names DOCKER_CERT_PATH expects
O="$T/other"        # a second CA and a client certificate it signed
SOCK="unix://$T/berth.sock"
daemon_pid=
berth_cg_before=$(ls -d /sys/fs/cgroup/*/berth /sys/fs/cgroup/berth 2>/dev/null || true)

cleanup() {
    local ids d
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        ids=$(timeout 30 "$docker_cli" -H "$SOCK" ps -aq 2>/dev/null)
        # shellcheck disable=SC2086 # one argument per container
        [ -n "$ids" ] && timeout 60 "$docker_cli" -H "$SOCK" rm -fv $ids >/dev/null 2>&1
        kill -TERM "$daemon_pid" 2>/dev/null
        for _ in $(seq 150); do
            kill -0 "$daemon_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$daemon_pid" 2>/dev/null
    fi
    kill_matching_pids "$T"
    sleep 0.2
    unmount_under "$T"
    for d in /sys/fs/cgroup/*/berth /sys/fs/cgroup/berth; do
        [ -d "$d" ] || continue
        grep -qxF "$d" <<<"$berth_cg_before" && continue
        rmdir "$d" 2>/dev/null || true
    done
    rm -rf "$T" "$E2E_ERRFILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- certificates
mkdir -p "$C" "$O"
ossl() { openssl "$@" >>"$T/openssl.log" 2>&1 || die "openssl $1 failed: $(tail -n 5 "$T/openssl.log")"; }
# CA (PKCS#8 RSA key, as OpenSSL 3's genrsa writes it).
ossl genrsa -out "$C/ca-key.pem" 2048
ossl req -new -x509 -days 2 -sha256 -key "$C/ca-key.pem" -subj "/CN=berth e2e CA" -out "$C/ca.pem"
# Server: PKCS#1 RSA key, as Docker's guide makes it with OpenSSL 1.1.
ossl genrsa -traditional -out "$C/server-key.pem" 2048
ossl req -new -sha256 -key "$C/server-key.pem" -subj "/CN=127.0.0.1" -out "$T/server.csr"
printf 'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n' >"$T/server.cnf"
ossl x509 -req -days 2 -sha256 -in "$T/server.csr" -CA "$C/ca.pem" -CAkey "$C/ca-key.pem" \
    -CAcreateserial -out "$C/server-cert.pem" -extfile "$T/server.cnf"
# Client: SEC1 EC key.
printf 'extendedKeyUsage = clientAuth\n' >"$T/client.cnf"
client_cert() {   # client_cert <dir>: key.pem + cert.pem signed by <dir>/ca.pem
    ossl ecparam -name prime256v1 -genkey -noout -out "$1/key.pem"
    ossl req -new -key "$1/key.pem" -subj "/CN=client" -out "$1/client.csr"
    ossl x509 -req -days 2 -sha256 -in "$1/client.csr" -CA "$1/ca.pem" -CAkey "$1/ca-key.pem" \
        -CAcreateserial -out "$1/cert.pem" -extfile "$T/client.cnf"
}
client_cert "$C"
ossl genrsa -out "$O/ca-key.pem" 2048
ossl req -new -x509 -days 2 -sha256 -key "$O/ca-key.pem" -subj "/CN=another CA" -out "$O/ca.pem"
client_cert "$O"
chmod 0400 "$C"/*key.pem "$O"/*key.pem
ck_has "server key is PKCS#1 (BEGIN RSA PRIVATE KEY)" "BEGIN RSA PRIVATE KEY" head -n 1 "$C/server-key.pem"
ck_has "client key is SEC1 (BEGIN EC PRIVATE KEY)" "BEGIN EC PRIVATE KEY" head -n 1 "$C/key.pem"

# ---------------------------------------------------------------- berthd
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TCP="tcp://127.0.0.1:$port"
"$bin_dir/berthd" -H "$SOCK" -H "$TCP" --tlsverify --tlscacert "$C/ca.pem" \
    --tlscert "$C/server-cert.pem" --tlskey "$C/server-key.pem" \
    --data-root "$T/data" --exec-root "$T/exec" --pidfile "$T/berthd.pid" --bridge none \
    >"$T/berthd.log" 2>&1 </dev/null &
daemon_pid=$!
if ! retry_until 30 "$docker_cli" -H "$SOCK" version; then
    fail "berthd starts with --tlsverify on $TCP" "$(tail -n 20 "$T/berthd.log")"
    summary "TLS ($bin_dir/berthd)"
    exit 1
fi
pass "berthd starts with --tlsverify on $TCP"

TLS=(--tlsverify --tlscacert "$C/ca.pem" --tlscert "$C/cert.pem" --tlskey "$C/key.pem" -H "$TCP")
D=("$docker_cli" "${TLS[@]}")
RUN=("${D[@]}" run --pull never --network none)
name="tls$$"

# ---------------------------------------------------------------- docker CLI
ck_eq "docker version over TLS: the server answers" "1.47" "${D[@]}" version -f '{{.Server.APIVersion}}'
if [ -z "$images_dir" ]; then
    images_dir="$T/images"
    bash "$BERTH_REPO/scripts/make-images.sh" "$images_dir" 2>/dev/null || die "make-images.sh failed"
fi
ck_eq "docker load over TLS (a large upload)" "Loaded image: busybox:latest" "${D[@]}" load -i "$images_dir/busybox.tar"
ck_eq "docker run --rm busybox echo hi (attach hijacked over TLS)" "hi" "${RUN[@]}" --rm busybox echo hi
ck_ok "docker run -d a sleeping container" "${RUN[@]}" -d --name "$name-sleep" busybox sleep 600
ck_eq "docker exec: hijacked over TLS" "ok" "${D[@]}" exec "$name-sleep" echo ok
ck_eq "docker exec -i: piped stdin, then EOF (close_notify as half-close)" "piped" \
    sh -c 'echo piped | "$@"' _ "${D[@]}" exec -i "$name-sleep" cat
ck_has "docker exec -it: a tty over TLS" "/dev/pts/" in_pty "${D[*]} exec -it $name-sleep tty"
ck_ok "docker run -di a container reading one line" \
    "${RUN[@]}" -di --name "$name-read" busybox sh -c 'read line; echo "got $line"'
ck_eq "docker attach: stdin in, output out, over TLS" "got hello" \
    sh -c 'echo hello | "$@"' _ "${D[@]}" attach "$name-read"

ENV=(env DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$C" DOCKER_HOST="$TCP")
ck_eq "DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH: docker version" "1.47" "${ENV[@]}" "$docker_cli" version -f '{{.Server.APIVersion}}'
ck_eq "DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH: docker run --rm" "hi" \
    "${ENV[@]}" "$docker_cli" run --pull never --network none --rm busybox echo hi
ck_eq "DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH: docker exec" "ok" "${ENV[@]}" "$docker_cli" exec "$name-sleep" echo ok
# docker 28 reads the CA file even with --tls (and ignores it): the other CA shows that.
ck_eq "docker --tls: the server is not verified (another CA given)" "1.47" \
    "$docker_cli" --tls --tlscacert "$O/ca.pem" --tlscert "$C/cert.pem" --tlskey "$C/key.pem" \
    -H "$TCP" version -f '{{.Server.APIVersion}}'

# Refusals: each one ends at the handshake (or Go's 400) and the daemon serves on.
ck_err "docker without a client certificate is refused" "tls:" \
    "$docker_cli" --tlsverify --tlscacert "$C/ca.pem" -H "$TCP" version -f '{{.Server.APIVersion}}'
ck_err "docker with a client certificate from another CA is refused" "tls:" \
    "$docker_cli" --tlsverify --tlscacert "$C/ca.pem" --tlscert "$O/cert.pem" --tlskey "$O/key.pem" \
    -H "$TCP" version -f '{{.Server.APIVersion}}'
ck_err "docker refuses the server when checking it against another CA" "certificate signed by unknown authority" \
    "$docker_cli" --tlsverify --tlscacert "$O/ca.pem" --tlscert "$C/cert.pem" --tlskey "$C/key.pem" \
    -H "$TCP" version -f '{{.Server.APIVersion}}'
ck_err "plain HTTP to the TLS port: Go's 400 answer" "Client sent an HTTP request to an HTTPS server" \
    "$docker_cli" -H "$TCP" version -f '{{.Server.APIVersion}}'
ck_err "curl over plain HTTP gets the same 400" "400" \
    curl -sS --fail -o /dev/null "http://127.0.0.1:$port/_ping"
ck_eq "the daemon still serves after the refusals" "ok" "${D[@]}" exec "$name-sleep" echo ok

# ---------------------------------------------------------------- berth CLI
B=("$bin_dir/berth" "${TLS[@]}")
ck_re "berth version over TLS" "API version: *1\.47" "${B[@]}" version
ck_eq "berth run --rm busybox echo hi over TLS" "hi" "${B[@]}" run --network none --rm busybox echo hi
ck_eq "berth exec over TLS" "ok" "${B[@]}" exec "$name-sleep" echo ok
ck_eq "berth exec -i: piped stdin, then EOF" "piped" \
    sh -c 'echo piped | "$@"' _ "${B[@]}" exec -i "$name-sleep" cat
ck_eq "DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH: berth run --rm" "hi" \
    "${ENV[@]}" "$bin_dir/berth" run --network none --rm busybox echo hi
ck_err "berth without a client certificate is refused" "TLS" \
    "$bin_dir/berth" --tlsverify --tlscacert "$C/ca.pem" -H "$TCP" version
ck_err "berth refuses the server when checking it against another CA" "UnknownIssuer" \
    "$bin_dir/berth" --tlsverify --tlscacert "$O/ca.pem" --tlscert "$C/cert.pem" --tlskey "$C/key.pem" \
    -H "$TCP" version
ck_eq "berth --tls: the server is not verified (another CA given)" "ok" \
    "$bin_dir/berth" --tls --tlscacert "$O/ca.pem" --tlscert "$C/cert.pem" --tlskey "$C/key.pem" \
    -H "$TCP" exec "$name-sleep" echo ok

# ---------------------------------------------------------------- bad files
ck_err "berthd with a certificate as --tlskey stops, naming the file" "$C/ca.pem" \
    timeout 20 "$bin_dir/berthd" -H "unix://$T/bad.sock" -H "tcp://127.0.0.1:0" --tlsverify \
    --tlscacert "$C/ca.pem" --tlscert "$C/server-cert.pem" --tlskey "$C/ca.pem" \
    --data-root "$T/bad-data" --exec-root "$T/bad-exec" --pidfile "$T/bad.pid" --bridge none
ck_that "berthd's refused start left no pid file" "no $T/bad.pid" "$(ls "$T/bad.pid" 2>&1)" \
    test ! -e "$T/bad.pid"
ck_that "handshake failures are logged at debug only" "no TLS error in the log at info" \
    "$(grep -i 'handshake' "$T/berthd.log" | head -n 3)" eval '! grep -qi "handshake" "$T/berthd.log"'

summary "TLS ($bin_dir/berthd)"
