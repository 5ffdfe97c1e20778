# shellcheck shell=bash
# Helpers shared by berth's scripts: logging, locating cargo and the runtime binary.
# Source it; it defines functions and variables only and has no side effects.

BERTH_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# cargo from rustup lives in ~/.cargo/bin, which a non-login root shell (CI) may lack.
ensure_cargo() {
    if ! command -v cargo >/dev/null 2>&1 && [ -f "${HOME:-/root}/.cargo/env" ]; then
        # shellcheck disable=SC1091
        . "${HOME:-/root}/.cargo/env"
    fi
    command -v cargo >/dev/null 2>&1 ||
        die "cargo not found: install a Rust toolchain >= 1.85 (rustup) first"
}

# The berth-runtime binary to use: $BERTH_RUNTIME if set, else the release build.
berth_runtime_path() {
    if [ -n "${BERTH_RUNTIME:-}" ]; then
        printf '%s\n' "$BERTH_RUNTIME"
    else
        printf '%s\n' "$BERTH_REPO/target/release/berth-runtime"
    fi
}

# Installs the given Debian packages if any is missing; `apt-get update` only when needed
# (no package lists yet, or an install failed because the lists were stale).
apt_ensure() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    local lists=(/var/lib/apt/lists/*_Packages*)
    if [ ! -e "${lists[0]}" ]; then
        apt-get update -qq
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null; }
}

# berth_cgroup_parents: the /berth cgroup directories that exist now (berthd and
# berth-runtime put containers under /berth/<id>), one per line.
berth_cgroup_parents() {
    ls -d /sys/fs/cgroup/*/berth /sys/fs/cgroup/berth 2>/dev/null || true
}

# remove_new_berth_cgroup_parents <before>: removes the /berth parents that were not in
# <before> (what berth_cgroup_parents printed at the start); rmdir only, so a parent still
# holding a container stays.
remove_new_berth_cgroup_parents() {
    local d
    for d in /sys/fs/cgroup/*/berth /sys/fs/cgroup/berth; do
        [ -d "$d" ] || continue
        grep -qxF "$d" <<<"$1" && continue
        rmdir "$d" 2>/dev/null || true
    done
}
