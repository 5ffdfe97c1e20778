#!/usr/bin/env bash
# The cgroup v2 lane of scripts/test.sh: runs the test binaries of the crates that touch
# cgroups and namespaces (berth-cgroups, berth-runtime, berth-runtime-cli, berth-testutil)
# inside a VM booted with cgroup_no_v1=all (tests/vm/run.sh, see tests/vm/README.md).
# The debug CLI goes in at its host path, which tests using CARGO_BIN_EXE_berth-runtime
# have compiled in. Extra arguments go to tests/vm/run.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ensure_cargo
cd "$BERTH_REPO"

cargo build -p berth-runtime-cli
mapfile -t bins < <(cargo test -p berth-cgroups -p berth-runtime -p berth-runtime-cli \
    -p berth-testutil --no-run --message-format=json 2>/dev/null |
    jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null)
           | .executable')
[ ${#bins[@]} -gt 0 ] || die "no test binaries found (does the workspace build?)"
# Every real host has a user database; the bare initramfs does not, and user names (the
# `owner` of `state`, `ps` output) are looked up there.
etc=$(mktemp -d)
trap 'rm -rf "$etc"' EXIT
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
    >"$etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$etc/group"
bash tests/vm/run.sh "$@" \
    --add "$etc/passwd:/etc/passwd" --add "$etc/group:/etc/group" \
    --add "$PWD/target/debug/berth-runtime:$PWD/target/debug/berth-runtime" "${bins[@]}"
