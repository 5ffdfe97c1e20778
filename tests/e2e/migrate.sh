#!/usr/bin/env bash
# Usage: tests/e2e/migrate.sh BERTHD_BINARY [IMAGES_DIR]      (root)
#
# The data root is self-contained (the seed's "environment migration"), and json-file
# logs rotate. Starts a berthd on $T/a (data root, exec root, socket), makes:
#   an image committed from a container, a tag, a named volume holding a file,
#   `keeper`       a container whose writable layer holds a file and whose log has lines
#   `vol-user`     a container that wrote into the volume
#   `rotator`      --log-opt max-size=2k max-file=3, printing 400 numbered lines
# checks the rotation (at most 3 files, none above the limit, `logs` ends with the last
# line, `logs --tail` works), stops berthd, copies the data root to another path
# ($T/b/data, with cp -a) and REMOVES the original, starts a berthd there with a fresh
# exec root and socket, and checks as a user would: images, tags and the committed image
# are listed and run; containers are listed with their names, states and exit codes; their
# logs read back; `start -a keeper` sees the file of its first run; the volume holds its
# file; new containers run; `rm` of a migrated container works.
# Each check prints PASS or FAIL; the exit status is non-zero if any failed. At exit, also
# on failure: berthd stopped by its PID, processes mentioning $T killed by PID, mounts
# under $T unmounted, $T removed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"

[ "$(id -u)" -eq 0 ] || die "migrate.sh must run as root"
[ $# -ge 1 ] || die "usage: $0 BERTHD_BINARY [IMAGES_DIR]"
bin="$(readlink -f "$1")"
[ -x "$bin" ] || die "$1 is not an executable"
images_dir="${2:-}"
apt_ensure busybox-static jq >/dev/null

# Short on purpose: unix socket paths under the exec root must fit in 108 bytes.
T=$(mktemp -d /tmp/mg.XXXXXX)
D=("$docker_cli")
daemon_pid=
start_daemon() {   # start_daemon <dir>: data root <dir>/data, exec root <dir>/exec
    export DOCKER_HOST="unix://$1/berth.sock"
    "$bin" -H "$DOCKER_HOST" --data-root "$1/data" --exec-root "$1/exec" --bridge none \
        --pidfile "$1/berthd.pid" >>"$1/berthd.log" 2>&1 </dev/null &
    daemon_pid=$!
    wait_api "$daemon_pid"
}
stop_daemon_pid() {
    end_daemon "$daemon_pid"
    daemon_pid=
}
cleanup() {
    end_daemon "$daemon_pid" remove
    kill_matching_pids "$T"
    sleep 0.2
    unmount_under "$T"
    rm -rf "$T" "$E2E_ERRFILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$T/a" "$T/b"
if ! start_daemon "$T/a"; then
    fail "daemon starts on $T/a" "$(tail -n 20 "$T/a/berthd.log")"
    summary "migration and log rotation"
    exit 1
fi
if [ -z "$images_dir" ]; then
    images_dir="$T/images"
    bash "$BERTH_REPO/scripts/make-images.sh" "$images_dir" 2>/dev/null || die "make-images.sh failed"
fi
"${D[@]}" load -i "$images_dir/busybox.tar" >/dev/null 2>&1 || die "cannot load busybox"
RUN=("${D[@]}" run --pull never --network none)

# ---- before: objects of every kind
ck_ok "tag busybox as mig/base:1" "${D[@]}" tag busybox mig/base:1
ck_ok "volume create migvol" "${D[@]}" volume create migvol
ck_ok "vol-user writes into the volume" "${RUN[@]}" --name vol-user -v migvol:/v busybox \
    sh -c 'echo kept-in-volume > /v/file'
# shellcheck disable=SC2016 # expanded by the container's shell
ck_eq "keeper: first run writes its layer and logs" "run 1" "${RUN[@]}" --name keeper busybox \
    sh -c 'n=$(($(cat /runs 2>/dev/null || echo 0) + 1)); echo $n > /runs; echo "run $n"'
ck_ok "a container to commit" "${RUN[@]}" --name tocommit busybox sh -c 'echo baked > /baked'
ck_ok "commit it as mig/committed:v1" "${D[@]}" commit -c 'CMD ["cat", "/baked"]' tocommit mig/committed:v1
ck_rc "a container exiting 7" 7 "${RUN[@]}" --name seven busybox sh -c 'exit 7'

# ---- log rotation (json-file max-size / max-file)
# shellcheck disable=SC2016 # expanded by the container's shell
ck_ok "rotator prints 400 lines with max-size=2k max-file=3" "${RUN[@]}" --name rotator \
    --log-opt max-size=2k --log-opt max-file=3 busybox \
    sh -c 'i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo "line $i"; done'
logpath=$("${D[@]}" inspect -f '{{.LogPath}}' rotator 2>/dev/null)
files=()
[ -n "$logpath" ] && mapfile -t files < <(ls "$logpath" "$logpath".* 2>/dev/null)
two_or_three() { [ "$1" -ge 2 ] && [ "$1" -le 3 ]; }
ck_that "rotation keeps at most 3 log files" "2 or 3 files" "${#files[@]}: ${files[*]:-none}" \
    two_or_three "${#files[@]}"
big=0
for f in "${files[@]}"; do [ "$(stat -c %s "$f")" -le 2300 ] || big=1; done
ck_that "no log file grows much past max-size (2k + one line)" "every file ≤ 2300 bytes" \
    "$(for f in "${files[@]}"; do stat -c '%n %s' "$f"; done | tr '\n' ' ')" [ "$big" -eq 0 ]
ck_re "logs after rotation end with the last line" '^line 400$' sh -c "\"\$DK\" logs rotator | tail -n 1"
first=$("${D[@]}" logs rotator 2>/dev/null | head -n 1)
not_first_line() { [ -n "$1" ] && [ "$1" != "line 1" ]; }
ck_that "the oldest lines were rotated away" "a first line after 'line 1'" "${first:-nothing}" \
    not_first_line "$first"
ck_eq "logs --tail 2 after rotation" "line 399
line 400" "${D[@]}" logs --tail 2 rotator

# ---- move the data root to another path; the original is gone
ids_before=$("${D[@]}" ps -aq --no-trunc | sort)
images_before=$("${D[@]}" images --format '{{.Repository}}:{{.Tag}} {{.ID}}' | sort)
stop_daemon_pid
ck_ok "copy the data root to another path (cp -a)" cp -a "$T/a/data" "$T/b/data"
unmount_under "$T/a"
ck_ok "remove the original data root and exec root" rm -rf "$T/a"
if ! start_daemon "$T/b"; then
    fail "daemon starts on the copied data root" "$(tail -n 20 "$T/b/berthd.log")"
    summary "migration and log rotation"
    exit 1
fi
pass "daemon starts on the copied data root"

# ---- after
ck_eq "the same containers (full IDs)" "$ids_before" sh -c "\"\$DK\" ps -aq --no-trunc | sort"
ck_eq "the same images and tags" "$images_before" \
    sh -c "\"\$DK\" images --format '{{.Repository}}:{{.Tag}} {{.ID}}' | sort"
ck_eq "the committed image runs" "baked" "${RUN[@]}" --rm mig/committed:v1
ck_eq "the tag runs" "ok" "${RUN[@]}" --rm mig/base:1 echo ok
ck_eq "exit code of a migrated container" "exited 7" "${D[@]}" inspect -f '{{.State.Status}} {{.State.ExitCode}}' seven
ck_eq "logs of a migrated container" "run 1" "${D[@]}" logs keeper
ck_eq "start -a keeper counts on from its layer's first run" "run 2" "${D[@]}" start -a keeper
ck_eq "keeper's log holds both runs" "run 1
run 2" "${D[@]}" logs keeper
ck_eq "the volume kept its file" "kept-in-volume" "${RUN[@]}" --rm -v migvol:/v busybox cat /v/file
ck_has "volume inspect names the new data root" "$T/b/data" "${D[@]}" volume inspect -f '{{.Mountpoint}}' migvol
ck_has "LogPath is under the new data root" "$T/b/data" "${D[@]}" inspect -f '{{.LogPath}}' keeper
ck_eq "logs of the rotated container still end with the last line" "line 400" \
    sh -c "\"\$DK\" logs rotator | tail -n 1"
ck_ok "rm of a migrated container" "${D[@]}" rm vol-user tocommit seven
ck_ok "volume rm after its user is gone" "${D[@]}" volume rm migvol
ck_ok "rmi of the committed image" "${D[@]}" rmi mig/committed:v1

summary "migration and log rotation"
