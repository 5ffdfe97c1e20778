#!/usr/bin/env bash
# Usage: tests/cli/berth-vs-docker.sh DOCKER_HOST [BERTH_BINARY]
#
# Runs the same commands with the docker CLI and with `berth` against ONE daemon (dockerd
# today, berthd later) and compares what a user sees: stdout, stderr and the exit status.
# IDs (64 and 12 hex digits) are replaced by same-length placeholders, so the column
# layout of tables is still compared byte for byte.
#
# Read-only commands run with both CLIs on the same state, back to back (a mismatch is
# retried once, in case a "3 seconds ago" ticked over in between). Commands that change
# state run once per CLI on their own objects: in a command, `@` becomes `d` for docker and
# `b` for berth (`run -d --name cli-@-x ...`), and `cli-d-`/`cli-b-` are normalised away.
# Interactive commands (-it, attach, detach keys) run under `script` for a real pty.
#
# The daemon must have `busybox:latest` (tests/cli/with-dockerd.sh sets one up). Objects
# made here are named cli-d-* / cli-b-* and removed at the end. Prints PASS/FAIL per check;
# the exit status is non-zero if any failed.
set -uo pipefail
[ $# -ge 1 ] || { echo "usage: $0 DOCKER_HOST [BERTH_BINARY]" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
export DOCKER_HOST="$1"
BERTH="${2:-$here/../../target/debug/berth}"
DOCKER=/usr/local/bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker)
[ -x "$BERTH" ] || { echo "no berth binary at $BERTH (cargo build -p berth-cli)" >&2; exit 2; }
"$DOCKER" image inspect busybox:latest >/dev/null 2>&1 ||
    { echo "the daemon at $DOCKER_HOST has no busybox:latest image" >&2; exit 2; }

T=$(mktemp -d /tmp/berth-cli-test.XXXXXX)
passes=0
fails=0
failed=()

cleanup() {
    local ids
    ids=$("$DOCKER" ps -aq --filter name=cli- 2>/dev/null)
    [ -n "$ids" ] && "$DOCKER" rm -f $ids >/dev/null 2>&1
    for img in $("$DOCKER" images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep '^cli-'); do
        "$DOCKER" rmi -f "$img" >/dev/null 2>&1
    done
    for v in $("$DOCKER" volume ls -q 2>/dev/null | grep '^cli-'); do
        "$DOCKER" volume rm -f "$v" >/dev/null 2>&1
    done
    rm -rf "$T"
}
trap cleanup EXIT

norm() {
    sed -E -e 's/[0-9a-f]{64}/IIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIII/g' \
        -e 's/\b[0-9a-f]{12}\b/IIIIIIIIIIII/g' \
        -e 's/cli-[db]-/cli-X-/g' -e "s#$T/[db]-#TMP/X-#g" -e "s#$T#TMP#g" \
        -e 's/\bdocker\b/berth/g' \
        -e 's/\r$//' |
        if [ -n "${NORM_TIMES:-}" ]; then
            sed -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z/TIME/g' \
                -e 's/"Pid": [0-9]+/"Pid": N/'
        elif [ -n "${NORM_DURATIONS:-}" ]; then
            sed -E 's/(Less than a second|About a minute|[0-9]+ (second|minute)s?)/DURATION/g'
        else
            cat
        fi
}

# Go prints map keys in random order where docker ranges over a map (info's Runtimes).
sort_runtimes() { awk '/^ Runtimes:/ { n = split($0, w, " "); s = ""; for (i = 2; i <= n; i++) a[i] = w[i]; asort(a); for (i in a) s = s " " a[i]; print " Runtimes:" s; delete a; next } { print }'; }

report() { # name rc_ok diff_text
    if [ "$2" = ok ]; then
        passes=$((passes + 1)); printf 'PASS  %s\n' "$1"
    else
        fails=$((fails + 1)); failed+=("$1"); printf 'FAIL  %s\n' "$1"
        printf '%s\n' "$3" | head -40 | sed 's/^/      | /'
    fi
}

# run_cli <d|b> <outfile-prefix> <args...>: runs one CLI, `@` in arguments replaced.
run_cli() {
    local who="$1" pre="$2" cli; shift 2
    if [ "$who" = d ]; then cli="$DOCKER"; else cli="$BERTH"; fi
    local args=() a
    for a in "$@"; do args+=("${a//@/$who}"); done
    if [ "${args[0]}" = sh ] && [ "${args[1]}" = -c ]; then
        # A shell snippet: the CLI is its $0.
        timeout 60 sh -c "${args[2]}" "$cli" >"$pre.out" 2>"$pre.err" <"${STDIN:-/dev/null}"
    else
        timeout 60 "$cli" "${args[@]}" >"$pre.out" 2>"$pre.err" <"${STDIN:-/dev/null}"
    fi
    echo $? >"$pre.rc"
}

compare() { # name: compares $T/d.* with $T/b.*; STDERR=0 skips stderr
    local what diffs=""
    for what in out rc ${STDERR_TOO:+err}; do
        if ! diff <(norm <"$T/d.$what") <(norm <"$T/b.$what") >"$T/diff" 2>&1; then
            diffs+="--- $what (< docker, > berth)"$'\n'"$(cat "$T/diff")"$'\n'
        fi
    done
    [ -z "$diffs" ] && return 0
    printf '%s' "$diffs" >"$T/lastdiff"
    return 1
}

# same <name> <args...>: read-only command, same arguments for both CLIs.
same() {
    local name="$1"; shift
    local try
    for try in 1 2 3 4; do
        run_cli d "$T/d" "$@"
        run_cli b "$T/b" "$@"
        compare && { report "$name" ok; return; }
        [ "$try" != 4 ] && sleep 0.3
    done
    # Tables of many containers show many clocks ("5 seconds ago", "Up 6 seconds"); when one
    # of them ticks between the two runs every time, compare with the durations masked and
    # the column padding squeezed (alignment itself is checked by the other tables).
    local f
    for f in d b; do
        norm <"$T/$f.out" | sed -E 's/(Less than a second|About a minute|[0-9]+ (second|minute)s?)/DUR/g; s/  +/  /g' >"$T/$f.sq"
    done
    if cmp -s "$T/d.sq" "$T/b.sq" && cmp -s "$T/d.rc" "$T/b.rc"; then
        report "$name (clock ticked: compared modulo durations)" ok
        return
    fi
    report "$name" fail "$(cat "$T/lastdiff")"
}

# pair <name> <args...>: state-changing command, `@` → d / b.
pair() {
    local name="$1"; shift
    run_cli d "$T/d" "$@"
    run_cli b "$T/b" "$@"
    if compare; then report "$name" ok; else report "$name" fail "$(cat "$T/lastdiff")"; fi
}

# tty_pair <name> <input script> <command line with @>: under a pty, with timed input.
tty_pair() {
    local name="$1" input="$2" cmdline="$3" who cli
    for who in d b; do
        if [ "$who" = d ]; then cli="$DOCKER"; else cli="$BERTH"; fi
        local line="stty rows 40 cols 120; ${cmdline//@/$who}"
        line="${line//CLI/$cli}"
        (eval "$input") | timeout 60 script -qfec "$line" /dev/null >"$T/$who.out" 2>"$T/$who.err"
        echo $? >"$T/$who.rc"
        : >"$T/$who.err"
        # Whether the shell redraws its prompt depends on when the resize lands.
        sed -i 's#\r\?/ \# \x1b\[J##g' "$T/$who.out"
    done
    if compare; then report "$name" ok; else report "$name" fail "$(cat "$T/lastdiff")"; fi
}

STDERR_TOO=1

echo "== docker $("$DOCKER" version -f '{{.Client.Version}}') vs berth $("$BERTH" --version) on $DOCKER_HOST"

# -- system
same "version -f server" version -f '{{.Server.Version}} {{.Server.APIVersion}}'
run_cli d "$T/d" version; run_cli b "$T/b" version
sed -n '/^Server/,$p' "$T/d.out" >"$T/d.srv"; sed -n '/^Server/,$p' "$T/b.out" >"$T/b.srv"
if diff "$T/d.srv" "$T/b.srv" >"$T/diff"; then report "version: Server section" ok; else report "version: Server section" fail "$(cat "$T/diff")"; fi
run_cli d "$T/d" info; run_cli b "$T/b" info
sed -n '/^Server:/,$p' "$T/d.out" | sort_runtimes >"$T/d.srv"; sed -n '/^Server:/,$p' "$T/b.out" | sort_runtimes >"$T/b.srv"
if diff "$T/d.srv" "$T/b.srv" >"$T/diff" && diff "$T/d.err" "$T/b.err" >>"$T/diff"; then report "info: Server section and warnings" ok; else report "info: Server section and warnings" fail "$(cat "$T/diff")"; fi
same "info -f" info -f '{{.Driver}} {{.NCPU}} {{.CgroupVersion}} {{json .SecurityOptions}}'
same "system info -f" system info --format '{{.OSType}}/{{.Architecture}}'

# -- images
same "images" images
same "images -q" images -q
same "images --no-trunc" images --no-trunc
same "images --digests" images --digests
same "images -a" images -a
same "images REPO" images busybox
same "images --filter" images --filter reference=busybox
same "images --format plain" images --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'
same "images --format table" images --format 'table {{.ID}}\t{{.Repository}}\t{{.CreatedSince}}'
same "images --format json" images --format '{{json .}}'
same "image ls" image ls
same "image inspect" image inspect busybox
same "inspect image -f" inspect -f '{{.Os}} {{.Architecture}} {{json .RootFS.Layers}}' busybox
same "history" history busybox
same "history --no-trunc" history --no-trunc busybox
same "history -q" history -q busybox
same "history -H=false" history -H=false busybox
same "history --format" history --format '{{.ID}}|{{.CreatedBy}}|{{.Size}}' busybox

# -- run
pair "run --rm echo" run --rm busybox echo hi
pair "run: stdout, stderr, exit 3" run --rm busybox sh -c 'echo to-stdout; echo to-stderr >&2; exit 3'
pair "run -e -w -u -h" run --rm -e A=1 -e B -w /tmp -u 1:2 -h myhost busybox sh -c 'echo "$A/${B:-unset}"; pwd; id; hostname'
pair "run --entrypoint" run --rm --entrypoint echo busybox entry point
pair "run --env-file" sh -c "printf 'X=1\n# c\nY=two words\n' >$T/env-@; exec \"\$0\" run --rm --env-file $T/env-@ busybox sh -c 'echo \$X \$Y'"
STDIN=/etc/hostname pair "run -i (stdin piped, half-close)" run --rm -i busybox wc -c
pair "run --read-only" run --rm --read-only busybox touch /x
pair "run --tmpfs" run --rm --tmpfs /run:size=1m busybox sh -c 'grep " /run " /proc/mounts | cut -d" " -f1-3'
pair "run --cap-drop ALL" run --rm --cap-drop ALL busybox grep CapEff /proc/self/status
pair "run --cap-add" run --rm --cap-drop ALL --cap-add NET_RAW busybox grep CapEff /proc/self/status
pair "run --privileged" run --rm --privileged busybox grep CapEff /proc/self/status
pair "run --ulimit" run --rm --ulimit nofile=100:200 busybox sh -c 'ulimit -n; ulimit -Hn'
pair "run --sysctl" run --rm --sysctl kernel.shmmax=123456 busybox cat /proc/sys/kernel/shmmax
pair "run --group-add" run --rm --group-add 123 busybox id
pair "run --network none" run --rm --network none busybox ip -o link
pair "run --init" run --rm --init busybox ps -o comm
pair "run --oom-score-adj" run --rm --oom-score-adj 500 busybox cat /proc/self/oom_score_adj
pair "run --shm-size" run --rm --shm-size 8m busybox sh -c 'df -k /dev/shm | tail -1 | tr -s " " | cut -d" " -f2'
pair "run -m --pids-limit --cpus" run -d --name cli-@-res -m 64m --memory-swap 128m --pids-limit 20 --cpus 0.5 --cpuset-cpus 0 -c 512 busybox sleep 1000
same "inspect resources" inspect -f '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpusetCpus}} {{.HostConfig.CpuShares}}' cli-d-res cli-b-res
pair "run --restart --stop-signal --stop-timeout -l" run -d --name cli-@-cfg --restart on-failure:3 --stop-signal SIGUSR1 --stop-timeout 7 -l a=b --label c=d busybox sleep 1000
same "inspect config" inspect -f '{{json .HostConfig.RestartPolicy}} {{.Config.StopSignal}} {{.Config.StopTimeout}} {{index .Config.Labels "a"}} {{.Config.Labels}}' cli-d-cfg cli-b-cfg
pair "run --health-*" run -d --name cli-@-hc --health-cmd 'true' --health-interval 1s --health-retries 2 --health-timeout 3s --health-start-period 1s busybox sleep 1000
same "inspect healthcheck" inspect -f '{{json .Config.Healthcheck}}' cli-d-hc cli-b-hc
pair "run --no-healthcheck --security-opt" run -d --name cli-@-nhc --no-healthcheck --security-opt no-new-privileges busybox sleep 1000
same "inspect no-healthcheck" inspect -f '{{json .Config.Healthcheck}} {{.HostConfig.SecurityOpt}}' cli-d-nhc cli-b-nhc
pair "run -v --mount" sh -c "mkdir -p $T/vol-@ && echo data >$T/vol-@/f && exec \"\$0\" run --rm -v $T/vol-@:/v:ro --mount type=bind,source=$T/vol-@,target=/m busybox sh -c 'cat /v/f /m/f; touch /v/x'"
pair "run --device" run --rm --device /dev/null:/dev/mynull busybox sh -c 'ls -l /dev/mynull | cut -c1'
pair "run: command not found (127)" run --rm busybox nosuchcmd
pair "run: not executable (126)" run --rm busybox /etc
pair "run bad flag" run --nosuch busybox
pair "run bad memory" run -m lots busybox
pair "run missing image (never pull)" run --pull never --rm cli-nosuch-image:1
pair "run: no command" run

# -- detached containers, ps, logs, exec
pair "run -d --name" run -d --name cli-@-d busybox sleep 1000
pair "run -d logs source" run -d --name cli-@-logs busybox sh -c 'echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; echo out2'
pair "wait" wait cli-@-logs
pair "logs" logs cli-@-logs
pair "logs --tail 1" logs --tail 1 cli-@-logs
pair "logs -n 2 --since" logs -n 2 --since 10m cli-@-logs
pair "logs --until past" logs --until 2000-01-01T00:00:00Z cli-@-logs
pair "logs -f (exited)" logs -f cli-@-logs
pair "run -d -t logs" run -d -t --name cli-@-tlogs busybox sh -c 'echo tty-out; echo tty-err >&2'
pair "wait tty" wait cli-@-tlogs
pair "logs (tty)" logs cli-@-tlogs
same "ps" ps
same "ps -a" ps -a
same "ps -q" ps -q
same "ps -aq --no-trunc" ps -aq --no-trunc
same "ps -a --no-trunc" ps -a --no-trunc
same "ps -s" ps -s
same "ps -n 2" ps -n 2
same "ps -l" ps -l
same "ps --filter name" ps -a --filter name=cli-d-logs --filter name=cli-b-logs
same "ps --filter status" ps -a --filter status=exited
same "ps --format names" ps -a --format '{{.Names}} {{.Status}} {{.State}}'
same "ps --format table" ps -a --format 'table {{.ID}}\t{{.Names}}\t{{.Command}}'
NORM_DURATIONS=1 same "ps --format json" ps -a --format '{{json .}}'
same "ps --format label" ps -a --filter name=cfg --format '{{.Names}} {{.Label "a"}} {{.Labels}}'
same "container ls -a" container ls -a
pair "exec: exit 4 stdout stderr" exec cli-@-d sh -c 'echo out; echo err >&2; exit 4'
pair "exec -e -w -u" exec -e X=1 -w /tmp -u 1 cli-@-d sh -c 'echo $X; pwd; id -u'
STDIN=/etc/hostname pair "exec -i (stdin piped)" exec -i cli-@-d wc -c
pair "exec -d" exec -d cli-@-d touch /tmp/exec-d
pair "exec --privileged" exec --privileged cli-@-d grep CapEff /proc/self/status
pair "exec missing container" exec cli-@-nosuch true
pair "exec stopped container" exec cli-@-logs true
pair "top" sh -c "\"\$0\" top cli-@-d | sed -E 's/  [0-9]+ +[0-9]+ / PID PPID /; s/[0-9]{2}:[0-9]{2} /HH:MM /'"
pair "top ps_args" sh -c "\"\$0\" top cli-@-d -o comm"
pair "stats --no-stream --format" stats --no-stream --format '{{.Name}} {{.PIDs}} {{.NetIO}}' cli-@-d
pair "stats --no-stream header" sh -c "\"\$0\" stats --no-stream cli-@-d | head -1"
pair "pause" pause cli-@-d
pair "inspect paused" inspect -f '{{.State.Status}} {{.State.Paused}}' cli-@-d
pair "unpause" unpause cli-@-d
pair "exec touch, diff" sh -c "\"\$0\" exec cli-@-d sh -c 'mkdir -p /tmp/dd && touch /tmp/dd/f && rm -f /etc/hostname.bak'; \"\$0\" diff cli-@-d | sort"
pair "port (none)" port cli-@-d
pair "port missing" port cli-@-d 80
NORM_TIMES=1 pair "inspect container" inspect cli-@-d
pair "inspect -f" inspect -f '{{.State.Status}} {{.Config.Image}} {{json .Config.Cmd}} {{.Name}} {{range .Config.Env}}[{{.}}]{{end}}' cli-@-d
pair "inspect -s" inspect -s -f '{{.SizeRw}} {{.SizeRootFs}}' cli-@-d
pair "inspect --type container" inspect --type container -f '{{.State.Running}}' cli-@-d
pair "container inspect" container inspect -f '{{.HostConfig.NetworkMode}}' cli-@-d
pair "inspect missing" inspect cli-@-nosuch
pair "inspect --type image missing" inspect --type image cli-@-nosuch
same "inspect two" inspect -f '{{.Name}}' cli-d-d cli-b-d

# -- cp
echo "hello from the host" >"$T/in.txt"
pair "cp host -> container dir" cp "$T/in.txt" cli-@-d:/tmp/
pair "cp result" exec cli-@-d cat /tmp/in.txt
pair "cp host -> container new name" cp "$T/in.txt" cli-@-d:/tmp/renamed.txt
pair "cp result renamed" exec cli-@-d cat /tmp/renamed.txt
pair "cp container -> host file" sh -c "\"\$0\" cp cli-@-d:/etc/passwd $T/@-passwd && cat $T/@-passwd"
pair "cp container dir -> host" sh -c "mkdir $T/@-dir && \"\$0\" cp cli-@-d:/etc $T/@-dir/ && ls $T/@-dir/etc | head -3"
pair "cp container -> stdout tar" sh -c "\"\$0\" cp cli-@-d:/etc/passwd - | tar -t"
pair "cp stdin tar -> container" sh -c "tar -C $T -c in.txt | \"\$0\" cp - cli-@-d:/root && \"\$0\" exec cli-@-d cat /root/in.txt"
pair "cp missing source" cp cli-@-d:/nonexistent $T/x

# -- lifecycle
pair "rename" rename cli-@-d cli-@-r
pair "update" update --memory 64m --memory-swap 128m --pids-limit 50 cli-@-r
pair "inspect updated" inspect -f '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}' cli-@-r
pair "commit" commit -c 'ENV COMMITTED=1' -m msg -a me cli-@-r cli-@-img:v1
pair "history of commit" history --format '{{.Comment}} {{.Size}}' cli-@-img:v1
pair "inspect commit" inspect -f '{{.Comment}} {{.Author}} {{.Config.Env}}' cli-@-img:v1
pair "tag" tag busybox cli-@-tag:1
pair "rmi" rmi cli-@-tag:1
pair "rmi missing" rmi cli-@-nosuch:1
pair "save -o" save -o "$T/@-save.tar" busybox
pair "load -i" load -i "$T/@-save.tar"
STDIN="$T/d-save.tar" pair "load (stdin)" load
pair "load -q" load -q -i "$T/@-save.tar"
pair "save to stdout | tar" sh -c "\"\$0\" save busybox | tar -t | sort | head -3"
pair "export -o" sh -c "\"\$0\" export -o $T/@-exp.tar cli-@-r && tar -tf $T/@-exp.tar | grep -c bin/"
pair "import" import -c 'ENV IMP=1' -m imported "$T/@-exp.tar" cli-@-imp:1
pair "run imported" run --rm cli-@-imp:1 sh -c 'echo $IMP'
pair "stop -t" stop -t 1 cli-@-r
pair "restart -t" restart -t 1 cli-@-r
pair "kill" kill cli-@-r
pair "kill -s on stopped" kill -s USR1 cli-@-r
pair "wait killed" wait cli-@-r
pair "start" start cli-@-r
pair "stop -s" stop -s KILL cli-@-r
pair "create" create --name cli-@-c busybox sh -c 'echo created; exit 6'
pair "start -a" start -a cli-@-c
pair "rm" rm cli-@-c
pair "rm missing" rm cli-@-nosuch
pair "rm running" rm cli-@-r
pair "rm -f -v" rm -f -v cli-@-r

# -- interactive (pty)
tty_pair "run -it: size, tty" "sleep 2" "CLI run -it --rm busybox sh -c 'stty size; tty'"
tty_pair "run -it: typed input, exit code" "sleep 1; printf 'echo typed-\$((6*7))\\r'; sleep 0.5; printf 'exit 5\\r'; sleep 0.5" "CLI run -it --rm busybox sh"
tty_pair "run -t (no -i)" ":" "CLI run -t --rm busybox echo tty-only"
tty_pair "run -it detach keys" "sleep 1.5; printf '\\020\\021'; sleep 1" "CLI run -it --name cli-@-det busybox sh; echo rc=\$?"
pair "detached container still running" inspect -f '{{.State.Running}}' cli-@-det
pair "run -d -it" run -d -it --name cli-@-att busybox sh
tty_pair "attach: typed input, exit code" "sleep 1; printf 'echo attached\\r'; sleep 0.5; printf 'exit 7\\r'; sleep 0.5" "CLI attach cli-@-att"
tty_pair "exec -it" "sleep 1; printf 'echo in-exec\\r'; sleep 0.5; printf 'exit 9\\r'; sleep 0.5" "CLI exec -it cli-@-det sh"

# -- volumes
pair "volume create" volume create cli-@-vol
pair "volume create --label" volume create --label k=v cli-@-vol2
same "volume ls" volume ls
same "volume ls -q" volume ls -q
same "volume ls --format" volume ls --format '{{.Name}} {{.Driver}} {{.Label "k"}}'
NORM_TIMES=1 pair "volume inspect" volume inspect cli-@-vol
pair "run -v named volume" run --rm -v cli-@-vol:/data busybox sh -c 'echo kept >/data/f; cat /data/f'
pair "volume rm in use? no" volume rm cli-@-vol cli-@-vol2
pair "volume rm missing" volume rm cli-@-vol

# -- disk usage, events, prune
same "system df" system df
start=$(date +%s)
pair "events source" run --rm --name cli-@-ev busybox true
same "events --since --until --filter" events --since "$start" --until "$(($(date +%s) + 1))" --filter type=container --filter event=start --format '{{.Action}} {{.Actor.Attributes.name}}'
same "events default format" sh -c "\"\$0\" events --since $start --until $(($(date +%s) + 1)) --filter event=destroy | sed -E 's/^[^ ]+ //'"
for who in d b; do
    "$DOCKER" create --name "cli-$who-p1" busybox true >/dev/null
    if [ "$who" = d ]; then cli="$DOCKER"; else cli="$BERTH"; fi
    "$cli" container prune -f --filter label=nosuch=1 >"$T/$who.out" 2>"$T/$who.err"; echo $? >"$T/$who.rc"
done
if compare; then report "container prune (filter matching nothing)" ok; else report "container prune (filter matching nothing)" fail "$(cat "$T/lastdiff")"; fi
for who in d b; do
    "$DOCKER" run --name "cli-$who-p2" -l "cli-prune=$who" busybox true >/dev/null
    if [ "$who" = d ]; then cli="$DOCKER"; else cli="$BERTH"; fi
    "$cli" container prune -f --filter "label=cli-prune=$who" >"$T/$who.out" 2>"$T/$who.err"; echo $? >"$T/$who.rc"
done
if compare; then report "container prune -f --filter label" ok; else report "container prune -f --filter label" fail "$(cat "$T/lastdiff")"; fi
pair "image prune -f (nothing dangling)" image prune -f --filter label=nosuch
pair "volume prune -f" volume prune -f --filter label=nosuch

pair "system prune -f (filter matching nothing)" system prune -f --filter label=nosuch

# -- daemon errors and usage
pair "unknown command" nosuchcommand
pair "start missing" start cli-@-nosuch
pair "logs missing" logs cli-@-nosuch
pair "stop missing" stop cli-@-nosuch

echo
echo "berth vs docker: $passes passed, $fails failed"
[ "$fails" -eq 0 ] || { printf 'failed: %s\n' "${failed[@]}"; exit 1; }
