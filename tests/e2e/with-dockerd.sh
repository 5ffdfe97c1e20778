#!/usr/bin/env bash
# Usage: tests/e2e/with-dockerd.sh SUITE [ARGS...]      (root)
#   e.g. tests/e2e/with-dockerd.sh tests/e2e/docker-cli.sh
#
# Runs an e2e suite against Debian's dockerd 20.10, started here private to a temp dir
# (its own --data-root, --exec-root, unix socket, --pidfile; --bridge=none, no iptables:
# the host's network is untouched). The suite gets the socket as its first argument
# (unix://…) followed by ARGS; python suites (.py) go through tests/e2e/python-sdk.sh.
# At exit, also on failure: the daemon's containers removed, dockerd stopped by its PID,
# containerd and shims under the temp dir killed by PID, mounts under it unmounted.
# This is how the suites' checks are proven on a reference daemon.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/e2e/lib.sh
. "$here/lib.sh"
[ "$(id -u)" -eq 0 ] || die "with-dockerd.sh must run as root"
[ $# -ge 1 ] || die "usage: $0 SUITE [ARGS...]"
apt_ensure docker.io >/dev/null
suite="$1"; shift
D_DIR=$(mktemp -d /tmp/berth-e2e-dockerd.XXXXXX)
DOCKERD_PID=
trap 'stop_daemon "$DOCKERD_PID" "$D_DIR"; rm -f "$E2E_ERRFILE"' EXIT
trap 'exit 130' INT TERM
start_dockerd "$D_DIR" || die "dockerd did not start"
case "$suite" in
    *.py) bash "$here/python-sdk.sh" "$DOCKERD_SOCK" "$@" ;;
    *) bash "$suite" "$DOCKERD_SOCK" "$@" ;;
esac
