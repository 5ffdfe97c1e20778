#!/usr/bin/env bash
# Usage: scripts/make-images.sh OUTDIR
#
# Builds, with no registry and no network, two images as docker-archive tars (the format
# `docker save` of Docker 20.10 writes: manifest.json, repositories, <config-digest>.json,
# <layer-id>/{layer.tar,VERSION,json}) that `docker load` accepts:
#
#   OUTDIR/busybox.tar      busybox:latest, one layer: Debian's busybox-static /bin/busybox,
#                           a symlink per applet in /bin (/sbin, /usr/bin, /usr/sbin point
#                           there), /etc/passwd and /etc/group with root, nobody and
#                           `user` (uid/gid 1000), /tmp 1777, /etc/motd and
#                           /usr/share/berth/{lower-a,lower-b} (for the whiteouts above it).
#                           Cmd ["sh"].
#   OUTDIR/berth-test.tar   berth-test:latest = busybox's layer + a second layer:
#                             /usr/local/bin/entry.sh (the Entrypoint, see below)
#                             /data/seed.txt ("seeded by the image"; /data is a VOLUME)
#                             /srv/app/ (the WorkingDir) with app.txt
#                             /etc/.wh.motd            whiteout: /etc/motd is gone
#                             /usr/share/berth/.wh..wh..opq + upper.txt: opaque directory,
#                                                      only upper.txt is visible
#                           Config: Entrypoint ["/usr/local/bin/entry.sh"], Cmd ["serve"],
#                           Env PATH, BERTH_TEST=1, GREETING=hello from berth-test,
#                           WorkingDir /srv/app, ExposedPorts 8080/tcp, Volumes /data,
#                           Labels org.berth.test=true and org.berth.role=e2e,
#                           StopSignal SIGUSR1, Healthcheck CMD-SHELL `test -f /tmp/healthy`
#                           every 1 s (timeout 2 s, 3 retries).
#                           entry.sh: with "serve" (the default Cmd) it touches /tmp/healthy,
#                           prints "ready <GREETING>", and on SIGUSR1 prints "got SIGUSR1"
#                           and exits 42; with any other arguments it execs them.
#   OUTDIR/images.env       BUSYBOX_ID=sha256:…, BERTH_TEST_ID=sha256:… (the image IDs
#                           `docker images --no-trunc` shows after loading)
#
# Reproducible: for the same /bin/busybox the tars are byte-identical (sorted entries,
# mtime 0 in layers, fixed owner, fixed `created` timestamps), so image IDs are stable.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
out="$1"
for tool in tar sha256sum jq; do
    command -v "$tool" >/dev/null || die "$tool is missing (run scripts/setup.sh)"
done
busybox=/bin/busybox
[ -x "$busybox" ] || die "$busybox is missing (apt-get install busybox-static)"
if LC_ALL=C readelf -l "$busybox" 2>/dev/null | grep -q INTERP; then
    die "$busybox is dynamically linked; install busybox-static"
fi

mkdir -p "$out"
out="$(cd "$out" && pwd)"
work=$(mktemp -d "${TMPDIR:-/tmp}/berth-images.XXXXXX")
trap 'rm -rf "$work"' EXIT
umask 022

created="2024-01-01T00:00:00Z"
# Deterministic tar: sorted names, one mtime, numeric owners, GNU format (no pax
# atime/ctime headers that would change on every build). As root the files' own owners
# are kept (all root but /home/user); otherwise everything is recorded as root.
owner_opts=(--owner=0 --group=0)
[ "$(id -u)" -eq 0 ] && owner_opts=()
# Entry names carry no "./" prefix, as in `docker save` output.
det_tar() {
    local dir="$1" file="$2" names=()
    mapfile -t names < <(cd "$dir" && ls -A | LC_ALL=C sort)
    tar --sort=name --mtime=@0 "${owner_opts[@]}" --numeric-owner --format=gnu \
        -C "$dir" -cf "$file" -- "${names[@]}"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }

# ---- layer 1: busybox ----
l1="$work/l1"
mkdir -p "$l1"/{bin,etc,proc,sys,dev,tmp,root,home/user,var/run,usr/share/berth}
chmod 1777 "$l1/tmp"
chmod 700 "$l1/root"
cp "$busybox" "$l1/bin/busybox"
chmod 755 "$l1/bin/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$l1/bin/$applet"
done
ln -s bin "$l1/sbin"
ln -s ../bin "$l1/usr/bin"
ln -s ../bin "$l1/usr/sbin"
cat >"$l1/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$l1/etc/group" <<'EOF'
root:x:0:
user:x:1000:
nogroup:x:65534:
EOF
echo "busybox image built by berth scripts/make-images.sh" >"$l1/etc/motd"
echo lower-a >"$l1/usr/share/berth/lower-a"
echo lower-b >"$l1/usr/share/berth/lower-b"
chmod 644 "$l1"/etc/* "$l1"/usr/share/berth/*
if [ "$(id -u)" -eq 0 ]; then
    chown -R 0:0 "$l1"
    chown -R 1000:1000 "$l1/home/user"
fi

# ---- layer 2: berth-test ----
l2="$work/l2"
mkdir -p "$l2"/{etc,data,srv/app,usr/local/bin,usr/share/berth}
cat >"$l2/usr/local/bin/entry.sh" <<'EOF'
#!/bin/sh
# berth-test's entrypoint: "serve" waits for the image's StopSignal (SIGUSR1) and exits 42;
# anything else is exec'd.
if [ "$#" -eq 0 ] || [ "$1" = serve ]; then
    trap 'echo "got SIGUSR1"; exit 42' USR1
    touch /tmp/healthy
    echo "ready $GREETING"
    while :; do sleep 1 & wait $!; done
fi
exec "$@"
EOF
chmod 755 "$l2/usr/local/bin/entry.sh"
echo "seeded by the image" >"$l2/data/seed.txt"
echo "app file" >"$l2/srv/app/app.txt"
: >"$l2/etc/.wh.motd"
: >"$l2/usr/share/berth/.wh..wh..opq"
echo upper >"$l2/usr/share/berth/upper.txt"
chmod 644 "$l2/data/seed.txt" "$l2/srv/app/app.txt" "$l2/etc/.wh.motd" \
    "$l2/usr/share/berth/.wh..wh..opq" "$l2/usr/share/berth/upper.txt"
[ "$(id -u)" -eq 0 ] && chown -R 0:0 "$l2"

det_tar "$l1" "$work/layer1.tar"
det_tar "$l2" "$work/layer2.tar"
diff1="sha256:$(sha "$work/layer1.tar")"
diff2="sha256:$(sha "$work/layer2.tar")"

# ---- image configs (the image ID is the digest of this JSON) ----
path_env="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
jq -cn --arg created "$created" --arg diff1 "$diff1" --arg path "$path_env" '{
    architecture: "amd64", os: "linux", created: $created,
    config: {Env: [$path], Cmd: ["sh"]},
    rootfs: {type: "layers", diff_ids: [$diff1]},
    history: [
        {created: $created, created_by: "scripts/make-images.sh: busybox-static rootfs"},
        {created: $created, created_by: "CMD [\"sh\"]", empty_layer: true}
    ]
}' >"$work/busybox.json"

jq -cn --arg created "$created" --arg diff1 "$diff1" --arg diff2 "$diff2" --arg path "$path_env" '{
    architecture: "amd64", os: "linux", created: $created,
    config: {
        Env: [$path, "BERTH_TEST=1", "GREETING=hello from berth-test"],
        Entrypoint: ["/usr/local/bin/entry.sh"],
        Cmd: ["serve"],
        WorkingDir: "/srv/app",
        ExposedPorts: {"8080/tcp": {}},
        Volumes: {"/data": {}},
        Labels: {"org.berth.test": "true", "org.berth.role": "e2e"},
        StopSignal: "SIGUSR1",
        Healthcheck: {Test: ["CMD-SHELL", "test -f /tmp/healthy"],
                      Interval: 1000000000, Timeout: 2000000000, Retries: 3}
    },
    rootfs: {type: "layers", diff_ids: [$diff1, $diff2]},
    history: [
        {created: $created, created_by: "scripts/make-images.sh: busybox-static rootfs"},
        {created: $created, created_by: "CMD [\"sh\"]", empty_layer: true},
        {created: $created, created_by: "scripts/make-images.sh: entry.sh, /data, /srv/app, whiteouts"},
        {created: $created, created_by: "ENTRYPOINT, CMD, ENV, WORKDIR, EXPOSE, VOLUME, LABEL, STOPSIGNAL, HEALTHCHECK", empty_layer: true}
    ]
}' >"$work/berth-test.json"

# v1 layer directory names as Docker 20.10 derives them: a digest over the layer's chain.
v1id1=$(printf '%s' "$diff1" | sha256sum | cut -d' ' -f1)
v1id2=$(printf '%s %s' "$v1id1" "$diff2" | sha256sum | cut -d' ' -f1)

# archive <name> <repo> <config json> <v1 ids...>: writes OUTDIR/<name>.tar
archive() {
    local name="$1" repo="$2" config="$3"; shift 3
    local dir="$work/archive-$name" id parent="" layers=() i=1 v
    mkdir -p "$dir"
    id=$(sha "$config")
    cp "$config" "$dir/$id.json"
    for v in "$@"; do
        mkdir -p "$dir/$v"
        cp "$work/layer$i.tar" "$dir/$v/layer.tar"
        printf '1.0' >"$dir/$v/VERSION"
        jq -cn --arg id "$v" --arg parent "$parent" --arg created "$created" \
            '{id: $id, created: $created} + (if $parent == "" then {} else {parent: $parent} end)' \
            >"$dir/$v/json"
        layers+=("$v/layer.tar")
        parent="$v"
        i=$((i + 1))
    done
    jq -cn --arg cfg "$id.json" --arg tag "$repo:latest" \
        '[{Config: $cfg, RepoTags: [$tag], Layers: $ARGS.positional}]' \
        --args "${layers[@]}" >"$dir/manifest.json"
    jq -cn --arg repo "$repo" --arg id "$parent" '{($repo): {latest: $id}}' >"$dir/repositories"
    chmod -R u=rwX,go=rX "$dir"
    [ "$(id -u)" -eq 0 ] && chown -R 0:0 "$dir"
    det_tar "$dir" "$work/$name.tar"
    mv "$work/$name.tar" "$out/$name.tar"
    printf 'sha256:%s\n' "$id"
}

busybox_id=$(archive busybox busybox "$work/busybox.json" "$v1id1")
test_id=$(archive berth-test berth-test "$work/berth-test.json" "$v1id1" "$v1id2")
printf 'BUSYBOX_ID=%s\nBERTH_TEST_ID=%s\n' "$busybox_id" "$test_id" >"$out/images.env.tmp"
mv "$out/images.env.tmp" "$out/images.env"
log "busybox:latest $busybox_id -> $out/busybox.tar"
log "berth-test:latest $test_id -> $out/berth-test.tar"
