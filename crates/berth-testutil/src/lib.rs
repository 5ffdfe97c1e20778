//! berth-testutil: support for berth's tests (a dev-dependency only).
//!
//! - [`require_root`]: privileged tests call it first; it panics with a clear message when
//!   not root (CI runs as root, so a privileged test never silently passes there).
//! - [`busybox_bundle`] → [`Bundle`]: an OCI bundle in a fresh temporary directory whose
//!   rootfs is the host's static `/bin/busybox` with one symlink per applet, and whose
//!   [`Bundle::spec`] is [`default_spec`] (runc's `spec` defaults). Edit the spec, then
//!   [`Bundle::write`] the `config.json`. The directory is removed when the bundle drops.
//! - [`unique_id`]: container IDs (and cgroup names) that cannot collide between tests
//!   running in parallel, or with leftovers of an earlier run.
//! - [`isolated`] / [`isolated!`]: runs the calling test again in a child process inside a
//!   new mount namespace (all mounts private) and a new network namespace, so nothing the
//!   test mounts or configures reaches the host or other tests.
//! - [`Cleanup`]: runs a closure on drop (remove a cgroup, kill a process), so privileged
//!   tests leave nothing behind even when an assertion fails.
//!
//! A privileged test looks like this:
//!
//! ```no_run
//! use berth_testutil::{busybox_bundle, isolated, unique_id, Cleanup};
//!
//! #[test]
//! fn hostname_is_set() {
//!     // In the parent: re-runs this test in new namespaces, checks it passed, returns false.
//!     // In that child: returns true and the body below runs.
//!     if !isolated!() {
//!         return;
//!     }
//!     let mut bundle = busybox_bundle(&["hostname"]);
//!     bundle.spec.hostname = Some("box".into());
//!     bundle.write();
//!     let id = unique_id("hostname");
//!     let _delete = Cleanup::new(|| { /* berth-runtime delete --force <id> */ });
//!     // run the container, assert on its output …
//! }
//! # fn main() {}
//! ```
//!
//! `isolated!()` is `isolated(test_name!())`; call [`isolated`] directly with the name libtest
//! knows the test by (`module::path::test_fn`, without the crate name) if the macro's
//! answer does not fit, e.g. inside a closure.
//!
//! Invariant: functions here panic (with what and where) instead of returning errors: they
//! run inside tests, where a panic is the report.

mod bundle;
mod cleanup;
mod isolate;

pub use bundle::{busybox_bundle, default_spec, Bundle, BUSYBOX};
pub use cleanup::{remove_cgroup_dir, Cleanup};
pub use isolate::{isolated, ISOLATED_ENV};

use std::sync::atomic::{AtomicU32, Ordering};

/// Panics unless the process runs as root (effective UID 0).
pub fn require_root() {
    if !rustix::process::geteuid().is_root() {
        panic!(
            "this test needs root (namespaces, mounts, cgroups): run it as root, e.g. \
             `sudo -E cargo nextest run` or `bash scripts/test.sh`"
        );
    }
}

/// A container ID unique to this process and call: `<prefix>-<pid>-<counter>-<nanos>`.
///
/// Only characters runc accepts in IDs are used (`[A-Za-z0-9_.-]`, when `prefix` is too).
pub fn unique_id(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}

/// The name libtest gives the test function this macro is expanded in:
/// `module::path::test_fn`, without the crate name (what `--exact` matches).
#[macro_export]
macro_rules! test_name {
    () => {{
        fn f() {}
        let full = ::std::any::type_name_of_val(&f);
        let full = full.strip_suffix("::f").unwrap_or(full);
        // The first segment is the crate; libtest names tests relative to it.
        full.split_once("::").map(|(_, rest)| rest).unwrap_or(full)
    }};
}

/// `isolated(test_name!())`: see [`isolated`].
#[macro_export]
macro_rules! isolated {
    () => {
        $crate::isolated($crate::test_name!())
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn test_name_is_the_libtest_path() {
        assert_eq!(crate::test_name!(), "tests::test_name_is_the_libtest_path");
    }

    #[test]
    fn unique_ids_differ() {
        let a = super::unique_id("x");
        let b = super::unique_id("x");
        assert_ne!(a, b);
        assert!(a.starts_with("x-"));
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'));
    }
}
