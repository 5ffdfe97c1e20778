#!/usr/bin/env bash
# Usage: tests/e2e/docker-cli.sh DOCKER_HOST [IMAGES_DIR]      (root)
#   e.g. tests/e2e/docker-cli.sh unix:///tmp/t/berth.sock
#   tests/e2e/with-dockerd.sh tests/e2e/docker-cli.sh     (the same checks on dockerd 20.10)
#
# The stock docker CLI 28 (/usr/local/bin/docker) against any Docker-API daemon, checked as a
# user would check it: images (load/tag/inspect/history/save→load/rmi), run/ps/logs/exec/
# attach/-it, the lifecycle (stop/kill/restart/pause/rename/rm/wait/create/update), top,
# stats, cp, diff, export/import/commit, inspect fields, OOM, resource limits and security
# options seen from inside the container, restart policies, health checks, volumes and
# mounts, network modes host/none/container:, events, df/prune, error messages. Each
# check prints PASS or FAIL with what was expected and what was seen; the exit status is
# non-zero if any failed.
#
# Images: busybox:latest and berth-test:latest from scripts/make-images.sh (IMAGES_DIR, or
# built into a temp dir). Containers are started with --network none unless a check is
# about networking (dockerd here runs with --bridge=none; berth has host/none only).
# Everything the suite makes carries the label berth.e2e=<pid> or a name starting with
# e2e<pid>-, and is removed at exit, also on failure (prunes are filtered by that label,
# so other users of the daemon are untouched). The images it loaded are removed too unless
# they were there before.
#
# Which daemon: "berth" if its version mentions berth, else "dockerd" (E2E_DAEMON=berth|
# dockerd overrides). Differences that are expected, each asserted for both:
#
#   check                      | dockerd 20.10 on this VM                 | berth
#   ---------------------------+------------------------------------------+---------------------
#   --privileged               | fails: "unable to apply caps" (the VM's  | runs, CapEff = the
#                              | bounding set lacks CAP_SYS_RESOURCE)     | daemon's bounding set
#   default CapEff             | a80425fb (keeps CAP_NET_RAW)             | a80405fb (no NET_RAW)
#   --init: PID 1              | /sbin/docker-init                        | any init (not the command)
#   default network (no flag)  | none (daemon started with --bridge=none) | host/none only: not checked
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"

[ $# -ge 1 ] || die "usage: $0 DOCKER_HOST [IMAGES_DIR]"
[ "$(id -u)" -eq 0 ] || die "docker-cli.sh must run as root (it reads cgroups and /proc of containers)"
export DOCKER_HOST="$1"
images_dir="${2:-}"
apt_ensure jq busybox-static python3 >/dev/null

D=("$docker_cli")
export DK="$docker_cli"   # the CLI, for the `sh -c` pipelines below
"${D[@]}" version >/dev/null 2>&1 || die "no Docker API daemon answers at $DOCKER_HOST"
DAEMON_KIND=$(daemon_kind)
id=$$
P="e2e$id"            # name prefix
L="berth.e2e=$id"     # label
T=$(mktemp -d /tmp/berth-e2e-cli.XXXXXX)
# --pull never: nothing may reach a registry (no network here, and none wanted).
RUN=("${D[@]}" run --pull never --label "$L" --network none)
loaded_images=()

cleanup() {
    local ids names
    ids=$("${D[@]}" ps -aq --filter "label=$L" 2>/dev/null)
    names=$("${D[@]}" ps -a --format '{{.Names}}' 2>/dev/null | grep "^$P-")
    # shellcheck disable=SC2086 # one argument per container
    [ -n "$ids$names" ] && "${D[@]}" rm -fv $ids $names >/dev/null 2>&1
    names=$("${D[@]}" volume ls -q 2>/dev/null | grep "^$P-")
    # shellcheck disable=SC2086
    [ -n "$names" ] && "${D[@]}" volume rm -f $names >/dev/null 2>&1
    names=$("${D[@]}" volume ls -q --filter "label=$L" 2>/dev/null)
    # shellcheck disable=SC2086
    [ -n "$names" ] && "${D[@]}" volume rm -f $names >/dev/null 2>&1
    names=$("${D[@]}" images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep "^$P-")
    # shellcheck disable=SC2086
    [ -n "$names" ] && "${D[@]}" rmi -f $names >/dev/null 2>&1
    ids=$("${D[@]}" images -q --filter "label=$L" 2>/dev/null | sort -u)
    # shellcheck disable=SC2086
    [ -n "$ids" ] && "${D[@]}" rmi -f $ids >/dev/null 2>&1
    [ ${#loaded_images[@]} -gt 0 ] && "${D[@]}" rmi "${loaded_images[@]}" >/dev/null 2>&1
    rm -rf "$T" "$E2E_ERRFILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "docker CLI $("${D[@]}" version -f '{{.Client.Version}}') -> $DAEMON_KIND $("${D[@]}" version -f '{{.Server.Version}} (API {{.Server.APIVersion}})') at $DOCKER_HOST"

# Helpers reading the daemon's view.
state() { "${D[@]}" inspect -f "$2" "$1" 2>/dev/null; }
is_state() { [ "$(state "$1" "$2")" = "$3" ]; }
logs_have() { "${D[@]}" logs "$1" 2>&1 | grep -qF -- "$2"; }
nlines() { "${D[@]}" logs "$1" 2>/dev/null | wc -l; }
rmf() { "${D[@]}" rm -fv "$@" >/dev/null 2>&1; }
# IN_* (common.sh) print cgroup limits from inside for v1 and v2; the cpuset and shares too.
IN_CPUSET='cat /sys/fs/cgroup/cpuset/cpuset.cpus 2>/dev/null || cat /sys/fs/cgroup/cpuset.cpus'
IN_SHARES='cat /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || cat /sys/fs/cgroup/cpu.weight'

section() { printf '\n--- %s\n' "$1"; }

# ---------------------------------------------------------------- images
section images
if [ -z "$images_dir" ]; then
    images_dir="$T/images"
    bash "$BERTH_REPO/scripts/make-images.sh" "$images_dir" 2>/dev/null || die "make-images.sh failed"
fi
# shellcheck disable=SC1091
. "$images_dir/images.env"
for img in busybox berth-test; do
    "${D[@]}" image inspect "$img:latest" >/dev/null 2>&1 || loaded_images+=("$img:latest")
done
ck_eq "load busybox.tar" "Loaded image: busybox:latest" "${D[@]}" load -i "$images_dir/busybox.tar"
ck_eq "load berth-test.tar (stdin)" "Loaded image: berth-test:latest" \
    sh -c '"$@" < "$0"' "$images_dir/berth-test.tar" "${D[@]}" load
ck_eq "image ID = digest of the config (busybox)" "$BUSYBOX_ID" "${D[@]}" image inspect -f '{{.Id}}' busybox:latest
ck_eq "image ID = digest of the config (berth-test)" "$BERTH_TEST_ID" "${D[@]}" image inspect -f '{{.Id}}' berth-test
ck_has "images lists busybox:latest" "busybox:latest" "${D[@]}" images --format '{{.Repository}}:{{.Tag}}'
ck_eq "images -q --no-trunc berth-test" "$BERTH_TEST_ID" "${D[@]}" images -q --no-trunc berth-test
ck_ok "tag busybox $P-tag:v1" "${D[@]}" tag busybox "$P-tag:v1"
ck_eq "tag: same image ID" "$BUSYBOX_ID" "${D[@]}" image inspect -f '{{.Id}}' "$P-tag:v1"
ck_has "images shows the new tag" "$P-tag v1" "${D[@]}" images --format '{{.Repository}} {{.Tag}}'
ck_eq "inspect: Entrypoint, Cmd, WorkingDir" "[/usr/local/bin/entry.sh] [serve] /srv/app" \
    "${D[@]}" image inspect -f '{{.Config.Entrypoint}} {{.Config.Cmd}} {{.Config.WorkingDir}}' berth-test
ck_eq "inspect: ExposedPorts, Volumes, StopSignal" "map[8080/tcp:{}] map[/data:{}] SIGUSR1" \
    "${D[@]}" image inspect -f '{{.Config.ExposedPorts}} {{.Config.Volumes}} {{.Config.StopSignal}}' berth-test
ck_eq "inspect: Labels" "map[org.berth.role:e2e org.berth.test:true]" \
    "${D[@]}" image inspect -f '{{.Config.Labels}}' berth-test
ck_eq "inspect: Healthcheck" "[CMD-SHELL test -f /tmp/healthy] 1s" \
    "${D[@]}" image inspect -f '{{.Config.Healthcheck.Test}} {{.Config.Healthcheck.Interval}}' berth-test
ck_eq "inspect: two layers, Os, Architecture" "2 linux amd64" \
    "${D[@]}" image inspect -f '{{len .RootFS.Layers}} {{.Os}} {{.Architecture}}' berth-test
ck_eq "history: 4 steps, newest first" "4 ENTRYPOINT, CMD, ENV, WORKDIR, EXPOSE, VOLUME, LABEL, STOPSIGNAL, HEALTHCHECK" \
    sh -c '"$@" history --no-trunc --format "{{.CreatedBy}}" berth-test | awk "NR == 1 { first = \$0 } END { print NR, first }"' _ "${D[@]}"
ck_ok "save $P-tag:v1 -o" "${D[@]}" save -o "$T/saved.tar" "$P-tag:v1"
ck_has "save: a docker-archive (manifest.json with the tag)" "$P-tag:v1" \
    sh -c 'tar -xOf "$1" manifest.json' _ "$T/saved.tar"
ck_has "rmi $P-tag:v1" "Untagged: $P-tag:v1" "${D[@]}" rmi "$P-tag:v1"
ck_err "rmi: the tag is gone" "No such image" "${D[@]}" image inspect "$P-tag:v1"
ck_eq "save→load round trip" "Loaded image: $P-tag:v1" "${D[@]}" load -i "$T/saved.tar"
ck_eq "round trip: same image ID" "$BUSYBOX_ID" "${D[@]}" image inspect -f '{{.Id}}' "$P-tag:v1"
ck_eq "save | load through pipes" "Loaded image: berth-test:latest" \
    sh -c '"$@" save berth-test | "$@" load' _ "${D[@]}"

# ---------------------------------------------------------------- run
section run
ck_eq "run --rm busybox echo" "hello world" "${RUN[@]}" --rm busybox echo hello world
ck_rc "run --rm: the exit code reaches the user (3)" 3 "${RUN[@]}" --rm busybox sh -c 'exit 3'
ck_eq "run: the image's Entrypoint runs the given command" "hi" "${RUN[@]}" --rm berth-test echo hi
ck_eq "run: image Env and WorkingDir" "hello from berth-test 1 /srv/app" \
    "${RUN[@]}" --rm berth-test sh -c 'echo "$GREETING $BERTH_TEST $(pwd)"'
ck_eq "run: a whiteout hides the lower layer's /etc/motd" "gone" \
    "${RUN[@]}" --rm berth-test sh -c 'test -e /etc/motd && echo present || echo gone'
ck_eq "run: busybox still has /etc/motd" "busybox image built by berth scripts/make-images.sh" \
    "${RUN[@]}" --rm busybox cat /etc/motd
ck_eq "run: an opaque directory shows only the upper layer" "upper.txt" \
    "${RUN[@]}" --rm berth-test ls /usr/share/berth
ck_ok "run --rm --name" "${RUN[@]}" --rm --name "$P-gone" busybox true
ck_err "run --rm: the container is removed" "No such" "${D[@]}" inspect "$P-gone"
ck_eq "run, PID 1 is the command" "1" "${RUN[@]}" --rm busybox sh -c 'echo $$'
ck_eq "run --hostname" "box1" "${RUN[@]}" --rm --hostname box1 busybox hostname
printf 'FROM_FILE=yes\n# a comment\nSPACED=a b\n' >"$T/env.list"
ck_eq "run -e and --env-file" "x=1 yes a b" \
    "${RUN[@]}" --rm -e x=1 --env-file "$T/env.list" busybox sh -c 'echo "x=$x $FROM_FILE $SPACED"'
ck_eq "run -w (created when missing)" "/work/dir" "${RUN[@]}" --rm -w /work/dir busybox pwd
ck_eq "run -u nobody" "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)" "${RUN[@]}" --rm -u nobody busybox id
ck_eq "run -u 1000:1000" "uid=1000(user) gid=1000(user) groups=1000(user)" "${RUN[@]}" --rm -u 1000:1000 busybox id
ck_re "run --group-add 1000" '(^| )1000( |$)' "${RUN[@]}" --rm --group-add 1000 busybox id -G

# ---------------------------------------------------------------- ps
section "run -d, ps"
"${RUN[@]}" -d --name "$P-ps" --label role=ps busybox sleep 600 >/dev/null 2>&1
"${RUN[@]}" --name "$P-exited" busybox sh -c 'exit 4' >/dev/null 2>&1
full=$(state "$P-ps" '{{.Id}}')
ck_re "run -d: a 64-hex ID" '^[0-9a-f]{64}$' echo "$full"
ck_has "ps: the running container" "$P-ps" "${D[@]}" ps --format '{{.Names}}'
ck_lacks "ps: not the exited one" "$P-exited" "${D[@]}" ps --format '{{.Names}}'
ck_has "ps -a: the exited one too" "$P-exited" "${D[@]}" ps -a --format '{{.Names}}'
ck_has "ps -q: short ID" "${full:0:12}" "${D[@]}" ps -q
ck_eq "ps --filter name=" "$P-ps" "${D[@]}" ps --filter "name=$P-ps" --format '{{.Names}}'
ck_eq "ps --filter label=role=ps" "$P-ps" "${D[@]}" ps -a --filter label=role=ps --format '{{.Names}}'
ck_eq "ps -a --filter status=exited" "$P-exited" \
    sh -c '"$@" ps -a --filter status=exited --format "{{.Names}}" | grep "^$0-"' "$P" "${D[@]}"
ck_has "ps --filter status=running" "$P-ps" "${D[@]}" ps --filter status=running --format '{{.Names}}'
ck_lacks "ps --filter status=running: no exited" "$P-exited" "${D[@]}" ps -a --filter status=running --format '{{.Names}}'
ck_has "ps --filter ancestor=busybox" "$P-ps" "${D[@]}" ps --filter ancestor=busybox --format '{{.Names}}'
ck_lacks "ps --filter ancestor=berth-test: not a busybox one" "$P-ps" "${D[@]}" ps --filter ancestor=berth-test --format '{{.Names}}'
ck_eq "ps --format '{{json .}}': Names, Image, Command, State" "$P-ps busybox \"sleep 600\" running" \
    sh -c '"$@" ps --filter "name=$0" --format "{{json .}}" | jq -r "[.Names, .Image, .Command, .State] | join(\" \")"' \
    "$P-ps" "${D[@]}"
ck_re "ps: status text" '^Exited \(4\) ' "${D[@]}" ps -a --filter "name=$P-exited" --format '{{.Status}}'

# ---------------------------------------------------------------- logs
section logs
"${RUN[@]}" -d --name "$P-logs" busybox sh -c 'for i in 1 2 3 4 5; do echo line$i; done; echo to-stderr >&2; sleep 3; echo late; sleep 600' >/dev/null 2>&1
retry_until 10 logs_have "$P-logs" line5
ck_eq "logs: stdout lines in order" "line1 line2 line3 line4 line5" \
    sh -c '"$@" logs "$0" 2>/dev/null | head -n 5 | tr "\n" " " | sed "s/ $//"' "$P-logs" "${D[@]}"
ck_eq "logs: stderr on stderr" "to-stderr" sh -c '"$@" logs "$0" 2>&1 >/dev/null' "$P-logs" "${D[@]}"
ck_eq "logs --tail 3 (stdout and stderr count)" "line4 line5" sh -c '"$@" logs --tail 3 "$0" 2>/dev/null | tr "\n" " " | sed "s/ $//"' "$P-logs" "${D[@]}"
ck_re "logs -t: RFC 3339 timestamps" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z line1$' "${D[@]}" logs -t "$P-logs"
since=$(date +%s.%N)
retry_until 10 logs_have "$P-logs" late
ck_eq "logs --since <time>: only what came later" "late" "${D[@]}" logs --since "$since" "$P-logs"
ck_has "logs --since 1h: everything" "line1" "${D[@]}" logs --since 1h "$P-logs"
"${RUN[@]}" -d --name "$P-counter" busybox sh -c 'i=0; while :; do i=$((i+1)); echo n$i; sleep 0.1; done' >/dev/null 2>&1
_capture timeout 2 "${D[@]}" logs -f "$P-counter"
first=$(head -n1 <<<"$OUT"); last=$(tail -n1 <<<"$OUT"); n=$(wc -l <<<"$OUT")
ok=0; [ "$RC" -eq 124 ] && [ "$n" -ge 10 ] && ok=1
ck_that "logs -f: streams until stopped (still going after 2 s)" "exit 124 and ≥ 10 lines" \
    "exit $RC, $n lines ($first..$last)" [ "$ok" = 1 ]
ck_eq "logs -f: returns when the container exits" "a b" \
    sh -c '"$DK" run --pull never --label "$1" --network none -d --name "$0" busybox sh -c "echo a; sleep 1; echo b" >/dev/null && "$DK" logs -f "$0" 2>&1 | tr "\n" " " | sed "s/ $//"' \
    "$P-follow" "$L"

# ---------------------------------------------------------------- exec
section exec
ck_eq "exec: output" "hi" "${D[@]}" exec "$P-ps" echo hi
ck_rc "exec: exit code propagated (7)" 7 "${D[@]}" exec "$P-ps" sh -c 'exit 7'
ck_eq "exec -u nobody" "65534" "${D[@]}" exec -u nobody "$P-ps" id -u
ck_eq "exec -u 1000:1000" "uid=1000(user) gid=1000(user) groups=1000(user)" "${D[@]}" exec -u 1000:1000 "$P-ps" id
ck_eq "exec -w /tmp" "/tmp" "${D[@]}" exec -w /tmp "$P-ps" pwd
ck_eq "exec -e" "bar" "${D[@]}" exec -e FOO=bar "$P-ps" sh -c 'echo $FOO'
ck_eq "exec: sees the container's PID 1" "sleep 600" "${D[@]}" exec "$P-ps" sh -c 'tr "\0" " " </proc/1/cmdline | sed "s/ $//"'
ck_ok "exec -d" "${D[@]}" exec -d "$P-ps" sh -c 'sleep 0.5; echo done >/tmp/detached'
ck_that "exec -d: the process ran in the background" "/tmp/detached written" "not written within 10 s" \
    retry_until 10 "${D[@]}" exec "$P-ps" test -f /tmp/detached
ck_err "exec in a stopped container fails" "is not running" "${D[@]}" exec "$P-exited" true
PTY=(python3 "$here/pty_run.py" --rows 33 --cols 101 --timeout 20)
ck_has "exec -it: a tty of the client's size" "33 101 /dev/pts/0" \
    "${PTY[@]}" -- "${D[@]}" exec -it "$P-ps" sh -c 'sleep 0.5; echo $(stty size) $(tty)'
ck_has "run -it: interactive shell on a tty of the client's size" "33 101 /dev/pts/0 ok-2" \
    "${PTY[@]}" 'expect:# ' 'send:echo $(stty size) $(tty) ok-$((1+1))\n' 'expect:ok-2' 'send:exit\n' -- \
    "${RUN[@]}" --rm -it busybox sh
ck_has "run -it: ctrl-p ctrl-q detaches" "marker-9" \
    "${PTY[@]}" 'expect:# ' 'send:echo marker-$((3*3))\n' 'expect:marker-9' 'send:\x10\x11' -- \
    "${RUN[@]}" -it --name "$P-tty" busybox sh
ck_eq "run -it: still running after the detach" "true" state "$P-tty" '{{.State.Running}}'
# The CLI's own exit status after a detach varies (dockerd: 1); output and state are checked.
ck_has "attach: to the tty container, input and output" "attached-42" \
    sh -c '"$@"; exit 0' _ "${PTY[@]}" 'sleep:0.5' 'send:echo attached-$((6*7))\n' 'expect:attached-42' 'send:\x10\x11' -- \
    "${D[@]}" attach "$P-tty"
ck_eq "attach: still running after ctrl-p ctrl-q" "true" state "$P-tty" '{{.State.Running}}'
# SIGKILL: docker attach proxies SIGTERM to the container (--sig-proxy).
_capture timeout -s KILL 2 "${D[@]}" attach --no-stdin "$P-counter"
ck_that "attach --no-stdin: the running output streams" "new counter lines (n…) for 2 s" \
    "exit $RC, $(wc -l <<<"$OUT") lines" grep -q '^n[0-9]' <<<"$OUT"
ck_eq "start -a: output of a created container" "started-ok" \
    sh -c '"$DK" create --pull never --label "$1" --network none --name "$0" busybox echo started-ok >/dev/null && "$DK" start -a "$0"' \
    "$P-created" "$L"

# ---------------------------------------------------------------- lifecycle
section lifecycle
"${D[@]}" create --pull never --label "$L" --network none --name "$P-create" busybox sleep 600 >/dev/null 2>&1
ck_eq "create: status created" "created" state "$P-create" '{{.State.Status}}'
ck_ok "start" "${D[@]}" start "$P-create"
ck_eq "start: status running, a host PID" "running true" \
    sh -c 'p=$("$@" inspect -f "{{.State.Status}} {{.State.Pid}}" "$0"); s=${p% *}; echo "$s $(test -d /proc/${p#* } && echo true)"' \
    "$P-create" "${D[@]}"
"${RUN[@]}" -d --name "$P-stopsig" berth-test >/dev/null 2>&1
retry_until 10 logs_have "$P-stopsig" "ready hello from berth-test"
ck_ok "stop: an image with StopSignal SIGUSR1" "${D[@]}" stop -t 20 "$P-stopsig"
ck_eq "stop: the image's StopSignal was sent (exit 42)" "42" state "$P-stopsig" '{{.State.ExitCode}}'
ck_has "stop: the container saw SIGUSR1" "got SIGUSR1" "${D[@]}" logs "$P-stopsig"
"${RUN[@]}" -d --init --name "$P-term" busybox sleep 600 >/dev/null 2>&1
t0=$(date +%s)
ck_ok "stop (SIGTERM) with --init" "${D[@]}" stop "$P-term"
ck_eq "stop: died of SIGTERM: exit code 143" "143 exited" state "$P-term" '{{.State.ExitCode}} {{.State.Status}}'
ck_that "stop: SIGTERM was enough (well under the 10 s timeout)" "< 5 s" "$(($(date +%s) - t0)) s" \
    [ $(($(date +%s) - t0)) -lt 5 ]
"${RUN[@]}" -d --name "$P-ignore" busybox sleep 600 >/dev/null 2>&1
t0=$(date +%s)
ck_ok "stop -t 1: PID 1 ignores SIGTERM" "${D[@]}" stop -t 1 "$P-ignore"
ck_eq "stop -t 1: SIGKILL after the timeout (137)" "137" state "$P-ignore" '{{.State.ExitCode}}'
ck_that "stop -t 1: took about 1 s" "< 5 s" "$(($(date +%s) - t0)) s" [ $(($(date +%s) - t0)) -lt 5 ]
"${RUN[@]}" -d --name "$P-stopsignal" --stop-signal USR2 busybox sh -c 'trap "exit 5" USR2; while :; do sleep 0.1; done' >/dev/null 2>&1
ck_eq "--stop-signal: recorded" "USR2" state "$P-stopsignal" '{{.Config.StopSignal}}'
ck_ok "stop: --stop-signal USR2" "${D[@]}" stop -t 20 "$P-stopsignal"
ck_eq "stop: the trap for USR2 ran (exit 5)" "5" state "$P-stopsignal" '{{.State.ExitCode}}'
"${RUN[@]}" -d --name "$P-stoptimeout" --stop-timeout 1 busybox sleep 600 >/dev/null 2>&1
ck_eq "--stop-timeout: recorded" "1" state "$P-stoptimeout" '{{.Config.StopTimeout}}'
t0=$(date +%s)
ck_ok "stop without -t: uses --stop-timeout 1" "${D[@]}" stop "$P-stoptimeout"
ck_that "stop: --stop-timeout honoured" "< 5 s" "$(($(date +%s) - t0)) s" [ $(($(date +%s) - t0)) -lt 5 ]
"${RUN[@]}" -d --name "$P-kill" busybox sh -c 'trap "exit 11" USR1; while :; do sleep 0.1; done' >/dev/null 2>&1
ck_ok "kill -s USR1" "${D[@]}" kill -s USR1 "$P-kill"
ck_that "kill -s USR1: the trap ran (exit 11)" "exit code 11" "$(state "$P-kill" '{{.State.Status}} {{.State.ExitCode}}')" \
    retry_until 10 is_state "$P-kill" '{{.State.Status}} {{.State.ExitCode}}' "exited 11"
"${RUN[@]}" -d --name "$P-kill9" busybox sleep 600 >/dev/null 2>&1
ck_ok "kill (SIGKILL)" "${D[@]}" kill "$P-kill9"
ck_that "kill: exit code 137" "exited 137" "$(state "$P-kill9" '{{.State.Status}} {{.State.ExitCode}}')" \
    retry_until 10 is_state "$P-kill9" '{{.State.Status}} {{.State.ExitCode}}' "exited 137"
started=$(state "$P-create" '{{.State.StartedAt}}')
pid1=$(state "$P-create" '{{.State.Pid}}')
ck_ok "restart -t 0" "${D[@]}" restart -t 0 "$P-create"
ck_that "restart: running again, a new process and StartedAt" "running, PID != $pid1, StartedAt != $started" \
    "$(state "$P-create" '{{.State.Status}} {{.State.Pid}} {{.State.StartedAt}}')" \
    eval '[ "$(state "$P-create" "{{.State.Status}}")" = running ] && [ "$(state "$P-create" "{{.State.Pid}}")" != "$pid1" ] && [ "$(state "$P-create" "{{.State.StartedAt}}")" != "$started" ]'
ck_ok "pause" "${D[@]}" pause "$P-counter"
ck_eq "pause: status paused" "paused" state "$P-counter" '{{.State.Status}}'
sleep 0.5
n1=$(nlines "$P-counter"); sleep 1.5; n2=$(nlines "$P-counter")
ck_that "pause: the counter stops advancing" "same line count 1.5 s apart" "$n1 then $n2" [ "$n1" -eq "$n2" ]
ck_err "exec in a paused container fails" "paused" "${D[@]}" exec "$P-counter" true
ck_ok "unpause" "${D[@]}" unpause "$P-counter"
sleep 1
n3=$(nlines "$P-counter")
ck_that "unpause: the counter advances again" "more than $n2 lines" "$n3" [ "$n3" -gt "$n2" ]
ck_ok "rename" "${D[@]}" rename "$P-exited" "$P-renamed"
ck_eq "rename: inspect .Name" "/$P-renamed" state "$P-renamed" '{{.Name}}'
ck_err "rename: the old name is gone" "No such" "${D[@]}" inspect "$P-exited"
"${RUN[@]}" -d --name "$P-wait" busybox sh -c 'sleep 1; exit 9' >/dev/null 2>&1
ck_eq "wait: prints the exit code" "9" "${D[@]}" wait "$P-wait"
ck_ok "rm -f a running container" "${D[@]}" rm -f "$P-tty"
ck_err "rm -f: gone" "No such" "${D[@]}" inspect "$P-tty"
ck_err "rm a running container without -f fails" "Stop the container before" "${D[@]}" rm "$P-ps"

# ---------------------------------------------------------------- update, top, stats
section "update, top, stats"
"${RUN[@]}" -d --name "$P-update" -m 64m busybox sleep 600 >/dev/null 2>&1
ck_eq "-m 64m: seen inside" "67108864" "${D[@]}" exec "$P-update" sh -c "$IN_MEM"
ck_ok "update -m 128m --memory-swap 256m" "${D[@]}" update -m 128m --memory-swap 256m "$P-update"
ck_eq "update: the new limit is seen inside" "134217728" "${D[@]}" exec "$P-update" sh -c "$IN_MEM"
ck_eq "update: inspect .HostConfig.Memory" "134217728" state "$P-update" '{{.HostConfig.Memory}}'
ck_has "top: the container's process" "sleep 600" "${D[@]}" top "$P-update"
ck_re "stats --no-stream: name and memory usage / limit" "^$P-update [0-9.]+[KMG]i?B / 128MiB$" \
    "${D[@]}" stats --no-stream --format '{{.Name}} {{.MemUsage}}' "$P-update"

# ---------------------------------------------------------------- cp, diff, export, import, commit
section "cp, diff, export, import, commit"
printf 'to the container\n' >"$T/in.txt"; chmod 0750 "$T/in.txt"
ck_ok "cp host → container" "${D[@]}" cp "$T/in.txt" "$P-update:/tmp/in.txt"
ck_eq "cp in: content and mode" "to the container 750" "${D[@]}" exec "$P-update" sh -c 'echo "$(cat /tmp/in.txt) $(stat -c %a /tmp/in.txt)"'
"${D[@]}" exec "$P-update" sh -c 'echo from the container >/tmp/out.txt; chmod 640 /tmp/out.txt; mkdir -p /tmp/d/e; echo deep >/tmp/d/e/f' >/dev/null 2>&1
ck_ok "cp container → host" "${D[@]}" cp "$P-update:/tmp/out.txt" "$T/out.txt"
ck_eq "cp out: content and mode" "from the container 640" sh -c 'echo "$(cat "$0") $(stat -c %a "$0")"' "$T/out.txt"
ck_ok "cp a directory out" "${D[@]}" cp "$P-update:/tmp/d" "$T/d"
ck_eq "cp a directory: tree copied" "deep" cat "$T/d/e/f"
ck_eq "cp from a stopped container" "1" sh -c '"$@" cp "$0:/etc/hostname" - | tar -t | wc -l' "$P-renamed" "${D[@]}"
"${D[@]}" exec "$P-update" sh -c 'echo new >/tmp/new; rm /etc/motd' >/dev/null 2>&1
ck_has "diff: an added file" "A /tmp/new" "${D[@]}" diff "$P-update"
ck_has "diff: a deleted file" "D /etc/motd" "${D[@]}" diff "$P-update"
ck_has "diff: a changed directory" "C /etc" "${D[@]}" diff "$P-update"
ck_has "export | tar t: the container's files" "tmp/new" sh -c '"$@" export "$0" | tar -t' "$P-update" "${D[@]}"
ck_lacks "export: deleted files are absent" "etc/motd" sh -c '"$@" export "$0" | tar -t' "$P-update" "${D[@]}"
ck_re "import --change" '^sha256:[0-9a-f]{64}$' sh -c '"$DK" export "$0" | "$DK" import --change "CMD [\"sh\", \"-c\", \"echo imported \$IMPORTED; cat /tmp/new\"]" --change "ENV IMPORTED=yes" - "$1"' \
    "$P-update" "$P-imported:v1"
ck_eq "import: run the imported image" "imported yes new" sh -c '"$@" --rm "$0" | tr "\n" " " | sed "s/ $//"' "$P-imported:v1" "${RUN[@]}"
ck_re "commit --change" '^sha256:[0-9a-f]{64}$' "${D[@]}" commit --change 'ENV COMMITTED=yes' \
    --change 'CMD ["sh", "-c", "echo committed $COMMITTED; cat /tmp/in.txt"]' --change "LABEL $L" "$P-update" "$P-committed:v1"
ck_eq "commit: run the result (new layer + config)" "committed yes to the container" \
    sh -c '"$@" --rm "$0" | tr "\n" " " | sed "s/ $//"' "$P-committed:v1" "${RUN[@]}"
ck_eq "commit: history has one more step than busybox's 2" "3" \
    sh -c '"$@" history -q "$0" | wc -l' "$P-committed:v1" "${D[@]}"

# ---------------------------------------------------------------- inspect, OOM
section "inspect, OOM"
"${RUN[@]}" --name "$P-insp" -m 32m -e FOO=1 busybox sh -c 'exit 3' >/dev/null 2>&1
ck_eq "inspect .State.Status .State.ExitCode" "exited 3" state "$P-insp" '{{.State.Status}} {{.State.ExitCode}}'
ck_has "inspect .Config.Env" "FOO=1" state "$P-insp" '{{json .Config.Env}}'
ck_eq "inspect .HostConfig.Memory .Name .RestartCount .State.OOMKilled" "33554432 /$P-insp 0 false" \
    state "$P-insp" '{{.HostConfig.Memory}} {{.Name}} {{.RestartCount}} {{.State.OOMKilled}}'
ck_re "inspect .Created .State.FinishedAt: timestamps" '^20[0-9]{2}-.*T.* 20[0-9]{2}-.*T' state "$P-insp" '{{.Created}} {{.State.FinishedAt}}'
ck_rc "OOM: -m 8m and a 100 MB allocation is killed (137)" 137 \
    "${RUN[@]}" --name "$P-oom" -m 8m --memory-swap 8m busybox dd if=/dev/zero of=/dev/null bs=100M count=1
ck_eq "OOM: inspect .State.OOMKilled and exit code" "true 137" state "$P-oom" '{{.State.OOMKilled}} {{.State.ExitCode}}'

# ---------------------------------------------------------------- limits and security seen from inside
section "limits and security, seen from inside"
ck_eq "--cpus 0.5: CFS quota" "50000 100000" "${RUN[@]}" --rm --cpus 0.5 busybox sh -c "$IN_CPU"
ck_eq "--pids-limit 32" "32" "${RUN[@]}" --rm --pids-limit 32 busybox sh -c "$IN_PIDS"
ck_eq "--cpuset-cpus 0" "0" "${RUN[@]}" --rm --cpuset-cpus 0 busybox sh -c "$IN_CPUSET"
ck_re "-c 512: cpu.shares (v1) or the matching cpu.weight (v2)" '^(512|20)$' "${RUN[@]}" --rm -c 512 busybox sh -c "$IN_SHARES"
ck_err "--read-only: writing to / fails" "Read-only file system" "${RUN[@]}" --rm --read-only busybox touch /x
ck_eq "--tmpfs /run with --read-only: a writable tmpfs" "tmpfs ok" \
    "${RUN[@]}" --rm --read-only --tmpfs /run:rw,size=1m busybox sh -c 'echo $(awk "\$2 == \"/run\" { print \$3 }" /proc/mounts) $(touch /run/x && echo ok)'
ck_eq "--shm-size 32m: df /dev/shm" "32768" "${RUN[@]}" --rm --shm-size 32m busybox sh -c "df -k /dev/shm | awk 'NR == 2 { print \$2 }'"
ck_eq "--ulimit nofile=512:512" "512 512" "${RUN[@]}" --rm --ulimit nofile=512:512 busybox sh -c 'echo $(ulimit -n) $(ulimit -Hn)'
ck_eq "--cap-drop ALL --cap-add CHOWN: CapEff" "0000000000000001" \
    "${RUN[@]}" --rm --cap-drop ALL --cap-add CHOWN busybox sh -c "awk '/^CapEff/ { print \$2 }' /proc/self/status"
ck_err "--cap-drop CHOWN: chown fails" "Operation not permitted" "${RUN[@]}" --rm --cap-drop CHOWN busybox chown 1 /tmp
ck_ok "default capabilities: chown works" "${RUN[@]}" --rm busybox chown 1 /tmp
if [ "$DAEMON_KIND" = berth ]; then
    ck_eq "default CapEff: Docker's set without NET_RAW" "00000000a80405fb" \
        "${RUN[@]}" --rm busybox sh -c "awk '/^CapEff/ { print \$2 }' /proc/self/status"
    ck_eq "--privileged: every capability of the bounding set, all devices" \
        "$(awk '/^CapBnd/ { print $2 }' /proc/self/status) yes" \
        "${RUN[@]}" --rm --privileged busybox sh -c "echo \$(awk '/^CapEff/ { print \$2 }' /proc/self/status) \$(test -e /dev/$(basename "$(ls /dev/loop* 2>/dev/null | head -n1 || echo null)") && echo yes)"
else
    ck_eq "default CapEff [differs: dockerd keeps NET_RAW]" "00000000a80425fb" \
        "${RUN[@]}" --rm busybox sh -c "awk '/^CapEff/ { print \$2 }' /proc/self/status"
    ck_err "--privileged [differs: dockerd 20.10 fails on this VM, CAP_SYS_RESOURCE not in the bounding set]" \
        "apply caps" "${RUN[@]}" --rm --privileged busybox true
fi
ck_eq "--security-opt no-new-privileges: NoNewPrivs 1 (default 0)" "1 0" sh -c \
    'a=$("$@" --rm --security-opt no-new-privileges busybox grep NoNewPrivs /proc/self/status); b=$("$@" --rm busybox grep NoNewPrivs /proc/self/status); echo ${a##*:} ${b##*:}' \
    _ "${RUN[@]}"
ck_eq "--device /dev/fuse: a char device 10:229" "c 10:229" "${RUN[@]}" --rm --device /dev/fuse busybox sh -c 'echo $(stat -c %F /dev/fuse | cut -c1) $(stat -c %t:%T /dev/fuse | awk -F: "{ printf \"%d:%d\", \"0x\"\$1, \"0x\"\$2 }")'
ck_err "no --device: /dev/fuse absent" "No such file" "${RUN[@]}" --rm busybox stat /dev/fuse
ck_eq "--sysctl kernel.shm_rmid_forced=1 and net.ipv4.ip_forward=1" "1 1" \
    "${RUN[@]}" --rm --sysctl kernel.shm_rmid_forced=1 --sysctl net.ipv4.ip_forward=1 busybox sh -c 'echo $(cat /proc/sys/kernel/shm_rmid_forced) $(cat /proc/sys/net/ipv4/ip_forward)'
ck_eq "--oom-score-adj 500" "500" "${RUN[@]}" --rm --oom-score-adj 500 busybox cat /proc/self/oom_score_adj
ck_re "--init: PID 1 is an init, the command is not PID 1" 'init.* [0-9]+$' "${RUN[@]}" --rm --init busybox sh -c 'echo $(tr "\0" " " </proc/1/cmdline) $$'
ck_that "--init: the command is not PID 1" "a PID > 1" "$OUT" [ "${OUT##* }" != 1 ]
# Docker's masked paths; the first this kernel has (not every kernel has /proc/kcore).
masked=
for f in /proc/kcore /proc/timer_list /proc/sched_debug /proc/keys; do
    [ -e "$f" ] && { masked=$f; break; }
done
ck_eq "security default: ${masked:-/proc/kcore} masked (reads empty)" "0" "${RUN[@]}" --rm busybox sh -c "wc -c <${masked:-/proc/kcore}"
ck_err "security default: /proc/sys read-only" "Read-only file system" "${RUN[@]}" --rm busybox sh -c 'echo 1 >/proc/sys/kernel/shm_rmid_forced'
ck_eq "security default: seccomp filter (Seccomp: 2)" "2" "${RUN[@]}" --rm busybox sh -c "awk '/^Seccomp:/ { print \$2 }' /proc/self/status"
ck_eq "--security-opt seccomp=unconfined: Seccomp 0" "0" "${RUN[@]}" --rm --security-opt seccomp=unconfined busybox sh -c "awk '/^Seccomp:/ { print \$2 }' /proc/self/status"

# ---------------------------------------------------------------- restart policies, health
section "restart policies, health checks"
"${RUN[@]}" -d --name "$P-onfail" --restart on-failure:2 busybox sh -c 'sleep 0.3; exit 1' >/dev/null 2>&1
"${RUN[@]}" -d --name "$P-always" --restart always busybox sh -c 'sleep 0.5; exit 0' >/dev/null 2>&1
"${RUN[@]}" -d --name "$P-unless" --restart unless-stopped busybox sh -c 'sleep 0.5; exit 3' >/dev/null 2>&1
"${RUN[@]}" -d --name "$P-healthy" --health-cmd 'test -f /tmp/ok' --health-interval 1s --health-retries 2 busybox sh -c 'touch /tmp/ok; sleep 600' >/dev/null 2>&1
"${RUN[@]}" -d --name "$P-unhealthy" --health-cmd 'exit 1' --health-interval 1s --health-retries 1 busybox sleep 600 >/dev/null 2>&1
"${RUN[@]}" -d --name "$P-imghealth" berth-test >/dev/null 2>&1
ck_that "on-failure:2: RestartCount 2, then exited 1" "exited 1 2" "$(state "$P-onfail" '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}')" \
    retry_until 30 is_state "$P-onfail" '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}' "exited 1 2"
sleep 1
ck_eq "on-failure:2: no third restart" "exited 2" state "$P-onfail" '{{.State.Status}} {{.RestartCount}}'
ck_eq "on-failure:2: inspect .HostConfig.RestartPolicy" "on-failure 2" state "$P-onfail" '{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}'
ck_that "always: restarted after a clean exit" "RestartCount ≥ 2" "$(state "$P-always" '{{.RestartCount}}')" \
    retry_until 30 sh -c '[ "$("$@" inspect -f "{{.RestartCount}}" "$0")" -ge 2 ]' "$P-always" "${D[@]}"
ck_ok "always: stop" "${D[@]}" stop -t 1 "$P-always"
n1=$(state "$P-always" '{{.RestartCount}}'); sleep 2
ck_eq "always: stays stopped after docker stop" "exited $n1" state "$P-always" '{{.State.Status}} {{.RestartCount}}'
ck_that "unless-stopped: restarted after exit 3" "RestartCount ≥ 1" "$(state "$P-unless" '{{.RestartCount}}')" \
    retry_until 30 sh -c '[ "$("$@" inspect -f "{{.RestartCount}}" "$0")" -ge 1 ]' "$P-unless" "${D[@]}"
ck_ok "unless-stopped: stop" "${D[@]}" stop -t 1 "$P-unless"
sleep 2
ck_eq "unless-stopped: stays stopped" "exited" state "$P-unless" '{{.State.Status}}'
ck_that "--health-cmd: becomes healthy (inspect)" "healthy" "$(state "$P-healthy" '{{.State.Health.Status}}')" \
    retry_until 20 is_state "$P-healthy" '{{.State.Health.Status}}' healthy
ck_re "health: ps shows (healthy)" '\(healthy\)' "${D[@]}" ps --filter "name=$P-healthy" --format '{{.Status}}'
ck_eq "ps --filter health=healthy" "$P-healthy" "${D[@]}" ps --filter health=healthy --filter "name=$P-healthy" --format '{{.Names}}'
ck_re "health: the log of probes has exit codes" '^0$' state "$P-healthy" '{{range .State.Health.Log}}{{.ExitCode}}{{"\n"}}{{end}}'
ck_that "--health-cmd 'exit 1': becomes unhealthy" "unhealthy" "$(state "$P-unhealthy" '{{.State.Health.Status}}')" \
    retry_until 20 is_state "$P-unhealthy" '{{.State.Health.Status}}' unhealthy
ck_that "image HEALTHCHECK: becomes healthy" "healthy" "$(state "$P-imghealth" '{{.State.Health.Status}}')" \
    retry_until 20 is_state "$P-imghealth" '{{.State.Health.Status}}' healthy
rmf "$P-onfail" "$P-always" "$P-unless" "$P-healthy" "$P-unhealthy" "$P-imghealth"

# ---------------------------------------------------------------- volumes and mounts
section "volumes and mounts"
V="$P-vol"
ck_eq "volume create" "$V" "${D[@]}" volume create --label "$L" "$V"
ck_has "volume ls" "$V" "${D[@]}" volume ls -q
ck_eq "volume inspect: driver, name, label" "local $V $id" "${D[@]}" volume inspect -f "{{.Driver}} {{.Name}} {{index .Labels \"berth.e2e\"}}" "$V"
ck_re "volume inspect: a Mountpoint path" '^/.+' "${D[@]}" volume inspect -f '{{.Mountpoint}}' "$V"
ck_ok "named volume: write in one container" "${RUN[@]}" --rm -v "$V:/vol" busybox sh -c 'echo persisted >/vol/f'
ck_eq "named volume: read in another" "persisted" "${RUN[@]}" --rm -v "$V:/vol" busybox cat /vol/f
ck_eq "image VOLUME: data copied into a new named volume" "seeded by the image" \
    "${RUN[@]}" --rm -v "$P-seeded:/data" berth-test cat /data/seed.txt
"${RUN[@]}" --name "$P-anon2" berth-test true >/dev/null 2>&1
ck_eq "image VOLUME: an anonymous volume, seeded" "volume /data seeded by the image" \
    sh -c 'set -- $("$1" inspect -f "{{range .Mounts}}{{.Type}} {{.Destination}} {{.Name}}{{end}}" "$0") "$1"; echo "$1 $2 $(cat "$("$4" volume inspect -f "{{.Mountpoint}}" "$3")/seed.txt")"' \
    "$P-anon2" "$docker_cli"
"${RUN[@]}" -d --name "$P-volused" -v "$V:/vol" busybox sleep 600 >/dev/null 2>&1
ck_err "volume rm: a volume in use is refused" "in use" "${D[@]}" volume rm "$V"
rmf "$P-volused"
ck_eq "volume rm" "$V" "${D[@]}" volume rm "$V"
ck_err "volume rm: gone" "no such volume" "${D[@]}" volume inspect "$V"
"${D[@]}" volume create --label "$L" "$P-prune" >/dev/null 2>&1
prune=("${D[@]}" volume prune -f --filter "label=$L")
api_at_least 1.42 && prune+=(--all)
ck_has "volume prune --filter label=: removes the unused volume" "$P-prune" "${prune[@]}"
ck_err "volume prune: gone" "no such volume" "${D[@]}" volume inspect "$P-prune"
mkdir -p "$T/bind"; echo bound >"$T/bind/file"
ck_eq "-v bind: host file visible" "bound" "${RUN[@]}" --rm -v "$T/bind:/mnt" busybox cat /mnt/file
ck_ok "-v bind: writes reach the host" "${RUN[@]}" --rm -v "$T/bind:/mnt" busybox sh -c 'echo back >/mnt/back'
ck_eq "-v bind: written on the host" "back" cat "$T/bind/back"
ck_err "-v bind:ro: writes fail" "Read-only file system" "${RUN[@]}" --rm -v "$T/bind:/mnt:ro" busybox touch /mnt/x
ck_eq "--mount type=bind,readonly" "bound ro" "${RUN[@]}" --rm --mount "type=bind,src=$T/bind,dst=/b,readonly" busybox sh -c 'echo $(cat /b/file) $(touch /b/y 2>/dev/null && echo rw || echo ro)'
ck_eq "--mount type=volume" "persisted-2" sh -c '"$@" --rm --mount "type=volume,src=$0,dst=/v" busybox sh -c "echo persisted-2 >/v/f" && "$@" --rm --mount "type=volume,src=$0,dst=/w" busybox cat /w/f' "$P-mvol" "${RUN[@]}"
ck_eq "--mount type=tmpfs,tmpfs-size=1m" "tmpfs 1024" "${RUN[@]}" --rm --mount type=tmpfs,dst=/scratch,tmpfs-size=1m busybox sh -c 'echo $(awk "\$2 == \"/scratch\" { print \$3 }" /proc/mounts) $(df -k /scratch | awk "NR == 2 { print \$2 }")'

# ---------------------------------------------------------------- networks
section "network modes"
ck_eq "--network none: only lo" "lo" "${RUN[@]}" --rm busybox ls /sys/class/net
ck_eq "--network host: the host's network namespace" "$(readlink /proc/self/ns/net)" \
    "${D[@]}" run --pull never --label "$L" --rm --network host busybox readlink /proc/self/ns/net
ck_eq "--network host: the host's interfaces" "$(ls /sys/class/net | tr '\n' ' ' | sed 's/ $//')" \
    sh -c '"$@" run --pull never --label "$0" --rm --network host busybox ls /sys/class/net | tr "\n" " " | sed "s/ $//"' "$L" "${D[@]}"
netns=$("${D[@]}" exec "$P-ps" readlink /proc/self/ns/net 2>/dev/null)
ck_eq "--network container:<name>: shares its namespace" "$netns" \
    "${D[@]}" run --pull never --label "$L" --rm --network "container:$P-ps" busybox readlink /proc/self/ns/net
ok=0; [ -n "$netns" ] && [ "$netns" != "$(readlink /proc/self/ns/net)" ] && ok=1
ck_that "--network none: a namespace of its own" "not the host's" "$netns" [ "$ok" = 1 ]

# ---------------------------------------------------------------- events, df, prune
section "events, system df, prune"
t0=$(date +%s)
"${RUN[@]}" --name "$P-events" busybox true >/dev/null 2>&1
sleep 1
ck_eq "events --since --until --filter container=: create, start, die" "create start die" \
    sh -c '"$DK" events --since "$1" --until "$(date +%s)" --filter "container=$0" --format "{{.Action}}" | grep -E "^(create|start|die)$" | tr "\n" " " | sed "s/ $//"' \
    "$P-events" "$t0"
ck_eq "events --filter event=die: the exit code" "die 0" \
    sh -c '"$DK" events --since "$1" --until "$(date +%s)" --filter "container=$0" --filter event=die --format "{{.Action}} {{index .Actor.Attributes \"exitCode\"}}"' \
    "$P-events" "$t0"
ck_has "events --filter type=image: the tag event" "tag" \
    sh -c '"$DK" tag busybox "$0:ev" && sleep 1 && "$DK" events --since "$1" --until "$(date +%s)" --filter type=image --format "{{.Action}}"' \
    "$P-tag" "$t0"
ck_re "system df: Images, Containers, Local Volumes" '^Local Volumes' "${D[@]}" system df --format '{{.Type}}'
ck_re "system df: counts" '^Images [1-9]' "${D[@]}" system df --format '{{.Type}} {{.TotalCount}}'
"${RUN[@]}" --name "$P-prunable" busybox true >/dev/null 2>&1
ck_has "system prune -f --filter label=: removes stopped containers" "Total reclaimed space" \
    "${D[@]}" system prune -f --filter "label=$L"
ck_err "system prune: the stopped container is gone" "No such" "${D[@]}" inspect "$P-prunable"
ck_eq "system prune: running containers stay" "running" state "$P-ps" '{{.State.Status}}'
# Dangling images: the same tag committed three times leaves two untagged.
for i in 1 2 3; do
    "${D[@]}" commit --change "LABEL $L" --change "ENV N=$i" "$P-ps" "$P-dangle:v1" >/dev/null 2>&1
done
ck_eq "images -f dangling=true: two untagged" "2" sh -c '"$@" images -q -f dangling=true -f "label=$0" | sort -u | wc -l' "$L" "${D[@]}"
ck_ok "docker rmi \$(docker images -q -f dangling=true ...)" sh -c '"$@" rmi $("$@" images -q -f dangling=true -f "label=$0" | sort -u)' "$L" "${D[@]}"
ck_eq "rmi: no dangling image left" "0" sh -c '"$@" images -q -f dangling=true -f "label=$0" | wc -l' "$L" "${D[@]}"
"${D[@]}" commit --change "LABEL $L" --change "ENV N=4" "$P-ps" "$P-dangle:v1" >/dev/null 2>&1
ck_has "image prune -f --filter label=: removes dangling images" "Total reclaimed space" \
    "${D[@]}" image prune -f --filter "label=$L"
ck_eq "image prune: none left" "0" sh -c '"$@" images -q -f dangling=true -f "label=$0" | wc -l' "$L" "${D[@]}"
ck_eq "image prune: the tagged image stays" "$P-dangle:v1" "${D[@]}" images --format '{{.Repository}}:{{.Tag}}' "$P-dangle"

# ---------------------------------------------------------------- errors
section errors
ck_err "rm nosuch: message" "No such container: nosuch-$id" "${D[@]}" rm "nosuch-$id"
ck_rc "rm nosuch: exit code 1" 1 "${D[@]}" rm "nosuch-$id"
ck_err "inspect nosuch" "No such object: nosuch-$id" "${D[@]}" inspect "nosuch-$id"
ck_err "name conflict: message" "Conflict. The container name \"/$P-ps\" is already in use" \
    "${RUN[@]}" -d --name "$P-ps" busybox true
ck_rc "name conflict: exit code 125" 125 "${RUN[@]}" -d --name "$P-ps" busybox true
ck_rc "run: a command that does not exist: exit code 127" 127 "${RUN[@]}" --rm busybox /no/such/cmd
# A program that exists but cannot be executed (a dynamic binary without its loader in the
# image): the start fails after the container was created; --rm still ends and removes it.
dyn_bin=$(command -v env)
ck_rc "run --rm: a binary whose loader is missing: exit code 127" 127 \
    "${RUN[@]}" --rm --name "$P-noloader" -v "$dyn_bin:/x/env:ro" busybox /x/env
ck_err "run --rm: the failed container is gone" "No such container" "${D[@]}" inspect --type container "$P-noloader"
ck_err "start nosuch" "No such container" "${D[@]}" start "nosuch-$id"
"${D[@]}" create --pull never --label "$L" --network none --name "$P-user" "$P-committed:v1" >/dev/null 2>&1
ck_err "rmi: an image a container uses is refused" "must force" "${D[@]}" rmi "$P-committed:v1"

summary "docker CLI against $DAEMON_KIND ($DOCKER_HOST)"
