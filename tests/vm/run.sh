#!/bin/bash
# The cgroup-v2 VM lane: boots Debian's kernel under QEMU with `cgroup_no_v1=all` and runs
# the given test binaries inside, as root, on a pure cgroup v2 host.
#
#   tests/vm/run.sh [options] TEST-BINARY...
#
# Options:
#   --add SRC[:DEST]    put a file or directory into the VM (default DEST: /SRC's basename
#                       under /opt). Executables get their shared libraries too. A DEST
#                       under /work lands on the VM's tmpfs (bundles: overlay and pivot_root
#                       need it; the initramfs root is ramfs).
#   --module NAME       load a kernel module (and what it depends on) before the tests,
#                       e.g. overlay, brd, veth. Repeatable.
#   --args "ARGS"       arguments passed to every test binary (e.g. "--test-threads=1").
#   --timeout SECONDS   give up on the VM after this long (default 900).
#   --keep              keep the work directory (initramfs, log) and print its path.
#
# Environment: BERTH_VM_KERNEL (a vmlinuz to boot instead of the newest in /boot),
# BERTH_VM_MEM (MiB, default 1024), BERTH_VM_SMP (default 1).
#
# Prints the VM's console, then one summary line per test binary:
#   BERTH-VM: PASS <name>      or      BERTH-VM: FAIL <name> (exit N)
# Exits 0 only if every binary passed and the VM finished before the timeout.
set -euo pipefail

die() { echo "tests/vm/run.sh: $*" >&2; exit 2; }

adds=() modules=() tests=() test_args="" timeout=900 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --add) adds+=("$2"); shift 2 ;;
    --module) modules+=("$2"); shift 2 ;;
    --args) test_args="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) tests+=("$1"); shift ;;
  esac
done
[ ${#tests[@]} -gt 0 ] || die "no test binary given (see --help)"
for t in "${tests[@]}"; do [ -x "$t" ] || die "$t is not an executable file"; done
[ "$(id -u)" = 0 ] || die "must run as root (installs packages, reads /boot/vmlinuz-*)"

# --- 1. packages --------------------------------------------------------------------------
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
ls /boot/vmlinuz-* >/dev/null 2>&1 || need+=(linux-image-amd64)
[ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v modprobe >/dev/null || need+=(kmod)
if [ ${#need[@]} -gt 0 ]; then
  echo "tests/vm/run.sh: installing ${need[*]}" >&2
  # INITRD=No makes the kernel's postinst hook (/etc/kernel/postinst.d/initramfs-tools)
  # skip update-initramfs; with --no-install-recommends no boot loader is pulled in, so no
  # grub hook runs either. The VM boots the kernel directly with our own initramfs.
  apt-get update -qq || true
  INITRD=No DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

kernel="${BERTH_VM_KERNEL:-$(ls -v /boot/vmlinuz-* | tail -n 1)}"
[ -r "$kernel" ] || die "no kernel at $kernel"
kver="${kernel##*/vmlinuz-}"

# --- 2. initramfs -------------------------------------------------------------------------
work="$(mktemp -d /tmp/berth-vm.XXXXXX)"
if [ $keep = 0 ]; then trap 'rm -rf "$work"' EXIT; fi
root="$work/root"
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,work,root,t,stage/work,lib/modules}

cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done

# Copies an executable's shared libraries (what ldd lists, the loader included).
copy_libs() {
  ldd "$1" 2>/dev/null | grep -o '/[^ )]*' | while read -r lib; do
    [ -e "$lib" ] && cp -L --parents -n "$lib" "$root/" 2>/dev/null || true
  done
}

names=()
for t in "${tests[@]}"; do
  name="$(basename "$t")"
  cp -L "$t" "$root/t/$name"
  copy_libs "$t"
  names+=("$name")
done

for a in "${adds[@]}"; do
  src="${a%%:*}"; dest="${a#*:}"
  [ "$dest" = "$a" ] && dest="/opt/$(basename "$src")"
  [ -e "$src" ] || die "--add: $src does not exist"
  # Under /work, /tmp and /run the VM mounts tmpfs at boot (covering what the initramfs
  # holds there): stage those and copy them in after the mounts. A clone under /tmp (CI)
  # has its test binaries' compiled-in CARGO_BIN_EXE paths there.
  case "$dest" in /work/*|/tmp/*|/run/*) target="$root/stage$dest" ;; *) target="$root$dest" ;; esac
  mkdir -p "$(dirname "$target")"
  cp -a "$src" "$target"
  if [ -f "$src" ] && [ -x "$src" ]; then copy_libs "$src"; fi
done

modlist=""
for m in "${modules[@]}"; do
  # modprobe prints the insmod commands in load order, dependencies first.
  deps="$(modprobe -S "$kver" --show-depends "$m" 2>/dev/null | awk '$1 == "insmod" {print $2}')" \
    || die "module $m not found for kernel $kver"
  [ -n "$deps" ] || echo "tests/vm/run.sh: $m is built into $kver (nothing to load)" >&2
  for ko in $deps; do
    base="$(basename "$ko")"
    case "$ko" in
      *.xz) xz -dc "$ko" > "$root/lib/modules/${base%.xz}"; base="${base%.xz}" ;;
      *.zst) zstd -qdc "$ko" > "$root/lib/modules/${base%.zst}"; base="${base%.zst}" ;;
      *) cp "$ko" "$root/lib/modules/$base" ;;
    esac
    case " $modlist " in *" $base "*) ;; *) modlist="$modlist $base" ;; esac
  done
done

cat > "$root/init" <<EOF
#!/bin/sh
export PATH=/bin:/sbin HOME=/root TMPDIR=/tmp RUST_BACKTRACE=1 TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /work
cp -a /stage/. / 2>/dev/null
ip link set lo up 2>/dev/null
hostname berth-vm
for m in $modlist; do insmod /lib/modules/\$m || echo "BERTH-VM: insmod \$m failed"; done
echo "BERTH-VM: kernel \$(uname -r), cgroup controllers: \$(cat /sys/fs/cgroup/cgroup.controllers)"
cd /work
for t in ${names[*]}; do
  echo "BERTH-VM: RUN \$t"
  start=\$(cut -d' ' -f1 /proc/uptime)
  /t/\$t $test_args </dev/null
  rc=\$?
  end=\$(cut -d' ' -f1 /proc/uptime)
  if [ \$rc = 0 ]; then echo "BERTH-VM: PASS \$t (\$start-\$end s)"; else echo "BERTH-VM: FAIL \$t (exit \$rc)"; fi
done
echo "BERTH-VM: DONE"
sync
poweroff -f
EOF
chmod +x "$root/init"

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) > "$work/initramfs.cpio"

# --- 3. boot ------------------------------------------------------------------------------
log="$work/console.log"
start=$(date +%s)
set +e
timeout --foreground "$timeout" qemu-system-x86_64 \
  -m "${BERTH_VM_MEM:-1024}" -smp "${BERTH_VM_SMP:-1}" \
  -nographic -no-reboot -nic none \
  -kernel "$kernel" -initrd "$work/initramfs.cpio" \
  -append "console=ttyS0 cgroup_no_v1=all panic=-1 quiet" \
  < /dev/null 2>&1 | tee "$log"
qemu_rc=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - start ))

# --- 4. verdict ---------------------------------------------------------------------------
echo
echo "=== tests/vm summary (kernel $kver, ${elapsed}s) ==="
status=0
for n in "${names[@]}"; do
  line="$(tr -d '\r' < "$log" | grep -E "^BERTH-VM: (PASS|FAIL) $n( |$)" | tail -n 1 || true)"
  if [ -z "$line" ]; then echo "BERTH-VM: FAIL $n (did not finish)"; status=1
  else echo "$line"; case "$line" in *FAIL*) status=1 ;; esac
  fi
done
if ! tr -d '\r' < "$log" | grep -q '^BERTH-VM: DONE'; then
  if [ "$qemu_rc" = 124 ]; then echo "VM timed out after ${timeout}s"; else echo "VM stopped early (qemu exit $qemu_rc)"; fi
  status=1
fi
[ $keep = 1 ] && echo "work directory kept: $work"
exit $status
