//! berth-seccomp: OCI `linux.seccomp` profiles compiled to a filter and loaded, through
//! libseccomp (the system library, ≥ 2.5).
//!
//! Flow in the runtime: [`validate`] when the bundle is read (pure, names the offending
//! JSON entry); [`compile`] (or [`compile_cached`], which reuses the BPF program of an
//! earlier compile of the same profile) before the container init forks, into a [`Filter`]; [`Filter::load`]
//! as late as possible before exec, which returns the notify fd when a rule uses
//! `SCMP_ACT_NOTIFY`; [`send_to_listener`] passes that fd with the container process
//! state to the agent at `listenerPath`. The `supported_*` lists feed `features`.
//!
//! Invariants: a profile that passes [`validate`] only fails [`compile`] when this host's
//! libseccomp lacks something (an architecture or flag) or libseccomp rejects a rule
//! combination; loading affects only the calling thread and what it starts afterwards.
//! Decisions where runc and crun leave room are listed in the `filter` module doc
//! (unknown syscalls are ignored, repeated argument indexes become separate rules, clone3
//! gets ENOSYS under a denying default, TSYNC is accepted but not needed).

mod cache;
mod filter;
mod listener;
mod names;
mod validate;

pub use cache::compile_cached;
pub use filter::{compile, Filter};
pub use listener::send_to_listener;
pub use validate::validate;

/// Errors of the seccomp compiler and loader.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The profile is wrong; `path` is the JSON path of the entry (`linux.seccomp.…`).
    #[error("{path}: {msg}")]
    Invalid {
        /// JSON path of the offending entry.
        path: String,
        /// What is wrong with it.
        msg: String,
    },
    /// The profile asks for something this host's libseccomp or kernel cannot do.
    #[error("{what}: not supported by libseccomp {version} on this host: {detail}", version = libseccomp_version())]
    Unsupported {
        /// The entry that asked for it.
        what: String,
        /// libseccomp's reason.
        detail: String,
    },
    /// A libseccomp call failed.
    #[error("{what}: {source}")]
    Libseccomp {
        /// What berth was doing.
        what: String,
        /// libseccomp's error.
        #[source]
        source: libseccomp::error::SeccompError,
    },
    /// A system call around the filter failed (notify fd, listener socket).
    #[error("{what}: {source}")]
    Io {
        /// What berth was doing.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn libseccomp_version() -> String {
    match libseccomp::ScmpVersion::current() {
        Ok(v) => format!("{}.{}.{}", v.major, v.minor, v.micro),
        Err(_) => "(unknown version)".into(),
    }
}

/// `SCMP_ACT_*` names berth accepts (for `features`).
pub fn supported_actions() -> &'static [&'static str] {
    const LIST: [&str; names::ACTIONS.len()] = {
        let mut out = [""; names::ACTIONS.len()];
        let mut i = 0;
        while i < out.len() {
            out[i] = names::ACTIONS[i].0;
            i += 1;
        }
        out
    };
    &LIST
}

/// `SCMP_CMP_*` names berth accepts (for `features`).
pub fn supported_operators() -> &'static [&'static str] {
    const LIST: [&str; names::OPERATORS.len()] = {
        let mut out = [""; names::OPERATORS.len()];
        let mut i = 0;
        while i < out.len() {
            out[i] = names::OPERATORS[i].0;
            i += 1;
        }
        out
    };
    &LIST
}

/// `SCMP_ARCH_*` names this build can put in a filter with the system libseccomp
/// (for `features`); `SCMP_ARCH_NATIVE` is implied and not listed.
pub fn supported_archs() -> Vec<&'static str> {
    let modern = libseccomp_at_least(2, 6);
    names::ARCHS
        .iter()
        .filter(|(name, _, in_2_5)| *name != "SCMP_ARCH_NATIVE" && (*in_2_5 || modern))
        .map(|(name, _, _)| *name)
        .collect()
}

/// `SECCOMP_FILTER_FLAG_*` names berth knows (for `features`).
pub fn known_flags() -> &'static [&'static str] {
    const LIST: [&str; names::FLAGS.len()] = {
        let mut out = [""; names::FLAGS.len()];
        let mut i = 0;
        while i < out.len() {
            out[i] = names::FLAGS[i].0;
            i += 1;
        }
        out
    };
    &LIST
}

/// The known flags this host's libseccomp can set (`WAIT_KILLABLE_RECV` needs 2.6).
pub fn supported_flags() -> Vec<&'static str> {
    let modern = libseccomp_at_least(2, 6);
    names::FLAGS
        .iter()
        .filter(|(_, f)| *f != names::Flag::WaitKillableRecv || modern)
        .map(|(name, _)| *name)
        .collect()
}

fn libseccomp_at_least(major: u32, minor: u32) -> bool {
    libseccomp::ScmpVersion::current()
        .map(|v| (v.major, v.minor) >= (major, minor))
        .unwrap_or(false)
}
