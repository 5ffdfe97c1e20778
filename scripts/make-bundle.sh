#!/usr/bin/env bash
# Usage: scripts/make-bundle.sh <dir> [args...]
#
# Makes an OCI bundle in <dir> whose root filesystem is Debian's busybox-static:
#   <dir>/rootfs/bin/busybox plus one symlink per applet, /etc/passwd and /etc/group,
#   empty mount points (proc, sys, dev, tmp), and
#   <dir>/config.json from `berth-runtime spec` (a built-in default while `spec` does not
#   work), with process.args = args (default: sh) and process.terminal = false.
# The bundle is host-independent: any OCI runtime (berth-runtime, runc, crun) can run it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 1 ] || die "usage: $0 <dir> [args...]"
dir="$1"; shift
[ $# -ge 1 ] || set -- sh
command -v jq >/dev/null || die "jq is missing (run scripts/setup.sh)"
busybox=/bin/busybox
[ -x "$busybox" ] || die "$busybox is missing (apt-get install busybox-static)"
# The busybox in the rootfs must not need the host's dynamic loader.
if file_out=$(LC_ALL=C readelf -l "$busybox" 2>/dev/null) && grep -q 'INTERP' <<<"$file_out"; then
    die "$busybox is dynamically linked; install busybox-static"
fi

rootfs="$dir/rootfs"
mkdir -p "$rootfs"/{bin,etc,proc,sys,dev,tmp,root,var/run}
chmod 1777 "$rootfs/tmp"
cp -f "$busybox" "$rootfs/bin/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
done
# Debian-like locations for scripts that hard-code /usr/bin or /sbin paths.
mkdir -p "$rootfs/usr"
ln -sfn ../bin "$rootfs/usr/bin"
ln -sfn bin "$rootfs/sbin"
cat >"$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$rootfs/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
nogroup:x:65534:
GROUP
echo "127.0.0.1 localhost" >"$rootfs/etc/hosts"
: >"$rootfs/etc/resolv.conf"

# A runc-compatible default spec (what `runc spec` writes), used until `berth-runtime spec` works.
default_spec() {
    cat <<'JSON'
{
  "ociVersion": "1.2.0",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": ["sh"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "berth",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
  ],
  "linux": {
    "resources": {"devices": [{"allow": false, "access": "rwm"}]},
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
                   {"type": "mount"}],
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
      "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}
JSON
}

runtime="$(berth_runtime_path)"
config="$dir/config.json"
rm -f "$config"
if [ -x "$runtime" ] && (cd "$dir" && "$runtime" spec) >/dev/null 2>&1 && jq -e .process "$config" >/dev/null 2>&1; then
    source_of_spec="$runtime spec"
else
    default_spec >"$config"
    source_of_spec="built-in default"
fi
# One --arg per element: jq 1.6 would parse "-c" in `--args "$@"` as its own option.
args_json='[]'
for a in "$@"; do args_json=$(jq -c --arg v "$a" '. + [$v]' <<<"$args_json"); done
tmp="$config.tmp"
jq --argjson args "$args_json" '.process.args = $args | .process.terminal = false' "$config" >"$tmp"
mv "$tmp" "$config"
log "bundle $dir (config from $source_of_spec): ${*}"
