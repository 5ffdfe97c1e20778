#!/usr/bin/env bash
# Prepares a Debian bookworm machine (as root) to build and test berth, then builds it.
# Idempotent: installs only missing packages, runs `apt-get update` only when needed.
#
# Packages, and why each is needed:
#   build-essential  C compiler and linker for Rust's build scripts and linking
#   pkg-config       lets the libseccomp crate find the library
#   libseccomp-dev   berth-seccomp compiles OCI seccomp profiles through libseccomp
#   busybox-static   the root filesystem of every test and demo bundle
#   jq               scripts edit config.json and read `state` output
#   time             GNU /usr/bin/time: peak RSS and CPU time in bench/runtime.sh
#   procps           ps(1), which `berth-runtime ps` runs for its table; kill(1) in tests
#   nftables         nft(8): berth-firewall applies NAT, published ports and isolation with it
# Engines (podman, docker.io) and peers (runc, crun, hyperfine) are installed by the
# scripts that use them, not here.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || die "setup.sh must run as root (it installs packages)"

apt_ensure build-essential pkg-config libseccomp-dev busybox-static jq time procps nftables
ensure_cargo

cd "$BERTH_REPO"
log "cargo build --release --workspace"
cargo build --release --workspace
log "built $(berth_runtime_path)"

# Static builds (glibc's libc.a from build-essential; no network needed), in their own
# target dir so the RUSTFLAGS do not invalidate the main build's cache:
# - berth-init (`docker run --init`) is bind-mounted into containers that may have no libc;
# - berth-shim runs once per container: static, it maps no ld.so/libc.so and stays at
#   ~0.8 MB RSS instead of ~1.1 MB (prefer this one over target/release/berth-shim).
# Results: target/static/x86_64-unknown-linux-gnu/release/{berth-init,berth-shim}.
log "cargo build --release -p berth-init -p berth-shim (static)"
RUSTFLAGS="-C target-feature=+crt-static" CARGO_PROFILE_RELEASE_STRIP=symbols \
    CARGO_TARGET_DIR="$BERTH_REPO/target/static" \
    cargo build --release -p berth-init -p berth-shim --target x86_64-unknown-linux-gnu
log "built $BERTH_REPO/target/static/x86_64-unknown-linux-gnu/release/{berth-init,berth-shim}"
