#!/usr/bin/env bash
# Usage: tests/e2e/python-sdk.sh DOCKER_HOST [IMAGES_DIR]      (root)
#   tests/e2e/with-dockerd.sh tests/e2e/python-sdk.py     (the same checks on dockerd 20.10)
#
# Runs tests/e2e/python-sdk.py with the Python docker SDK 7.1.0 from PyPI, installed into a
# venv under target/e2e-venv (ignored by git; made once, reused; E2E_VENV overrides) with
# Debian's python3 (python3-venv). busybox:latest is loaded from scripts/make-images.sh
# output when the daemon lacks it, and removed again at the end.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
[ $# -ge 1 ] || die "usage: $0 DOCKER_HOST [IMAGES_DIR]"
export DOCKER_HOST="$1"
images_dir="${2:-}"
apt_ensure python3 python3-venv busybox-static jq >/dev/null || die "cannot install python3-venv"
venv="${E2E_VENV:-$BERTH_REPO/target/e2e-venv}"
sdk_version=7.1.0
if ! "$venv/bin/python" -c "import docker, sys; sys.exit(docker.__version__ != '$sdk_version')" 2>/dev/null; then
    log "installing docker==$sdk_version into $venv"
    /usr/bin/python3 -m venv "$venv" || die "cannot make the venv $venv"
    "$venv/bin/pip" install -q "docker==$sdk_version" || die "pip install docker==$sdk_version failed"
fi
"$docker_cli" version >/dev/null 2>&1 || die "no Docker API daemon answers at $DOCKER_HOST"
T=$(mktemp -d /tmp/berth-e2e-sdk.XXXXXX)
loaded=
cleanup() {
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
timeout 300 "$venv/bin/python" "$here/python-sdk.py" "$DOCKER_HOST"
