//! berth-specgen: Docker's container configuration turned into an OCI runtime spec.
//!
//! Pure and synchronous (it reads only the rootfs's user database, `/proc/self/status`
//! and device nodes' metadata); the engine calls it from `spawn_blocking`:
//! - at create: [`merge_image_config`] (image config under the request, Docker's rules),
//!   [`validate_create`] (Docker's checks and messages, kind `InvalidArgument`), and
//!   [`parse_mounts`] / [`referenced_containers`] to learn which volumes to create and
//!   which containers' namespaces to join;
//! - at each start: [`generate`] from a [`GenerateInput`] → [`berth_spec::Spec`].
//!
//! Security defaults, stricter than Docker's where Docker is weak:
//! - capabilities: Docker's default set without `CAP_NET_RAW` ([`DEFAULT_CAPABILITIES`]);
//!   `ping` keeps working through `net.ipv4.ping_group_range = "0 2147483647"`, set
//!   whenever the container has its own network namespace;
//! - devices: no `/dev/net/tun` by default ([`devices::default_device_rules`]);
//! - seccomp: an allowlist written for berth ([`default_profile`]; see its module doc);
//! - Docker's masked and read-only paths ([`MASKED_PATHS`], [`READONLY_PATHS`]).
//!
//! `--privileged` gets the daemon's own bounding set (read at generation time), every
//! host device, no seccomp, no masked paths, `/sys` and `/sys/fs/cgroup` read-write.
//!
//! Left to the engine: `VolumesFrom` (it copies the other container's mounts into
//! [`GenerateInput::mounts`]), networking inside a new namespace, `StopSignal` and
//! `StopTimeout`, restart policies, health checks, creating missing bind sources
//! ([`MountSource::Bind`] `create`), and `--dns`/`--add-host` (it writes the files
//! whose paths it passes as [`GenerateInput::hosts_path`] etc.).
//!
//! Ignored on purpose: `label=…` and `apparmor=…` security options (no SELinux or
//! AppArmor on berth's hosts; accepted so compose files written for such hosts work),
//! `ArgsEscaped` (Windows), the `z`/`Z` relabel and consistency bind options, and
//! `KernelMemory` (gone from the API and from cgroup v2).
//!
//! Invariant: every error is a [`berth_model::Error`]; a request's mistake is
//! `InvalidArgument` and names the flag and value, a host failure is `Internal`.

pub mod caps;
pub mod devices;
mod generate;
mod merge;
mod mounts;
mod names;
mod options;
mod seccomp;
mod seccomp_docker;
mod signal;
mod user;
mod validate;

pub use caps::{effective_capabilities, normalize_capability, DEFAULT_CAPABILITIES};
pub use generate::{
    generate, GenerateInput, DEFAULT_PATH, DEFAULT_SHM_SIZE, INIT_PATH_IN_CONTAINER, MASKED_PATHS,
    READONLY_PATHS,
};
pub use merge::{image_config_from_json, merge_image_config};
pub use mounts::{parse_bind, parse_mounts, tmpfs_options, MountSource, MountSpec};
pub use names::random_name;
pub use options::{
    check_sysctl, parse_security_opts, referenced_containers, IpcMode, NsMode, SeccompChoice,
    SecurityOptions,
};
pub use seccomp::{default_profile, native_architectures};
pub use seccomp_docker::docker_profile_to_oci;
pub use signal::parse_signal;
pub use user::{read_in_root, resolve_user, ResolvedUser};
pub use validate::{validate_create, HostLimits, MIN_MEMORY};

/// Whether this host mounts cgroup v2 at `/sys/fs/cgroup` (unified hierarchy).
pub fn host_cgroup_v2() -> bool {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    // f_type is i64 on x86_64 but narrower on some 32-bit targets.
    #[allow(clippy::unnecessary_cast)]
    rustix::fs::statfs("/sys/fs/cgroup").is_ok_and(|s| s.f_type as i64 == CGROUP2_SUPER_MAGIC)
}

/// The `SecurityOptions` of `docker info`: the default seccomp profile, and the private
/// cgroup namespace default on cgroup v2 (as dockerd reports them).
pub fn security_options_for_info() -> Vec<String> {
    let mut v = vec!["name=seccomp,profile=builtin".to_string()];
    if host_cgroup_v2() {
        v.push("name=cgroupns".into());
    }
    v
}
