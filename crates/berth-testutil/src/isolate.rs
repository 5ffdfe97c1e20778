//! Running a privileged test in its own mount and network namespace.
//!
//! The test binary re-runs itself for the one test (`<name> --exact --nocapture
//! --include-ignored`) in a child that has unshared a mount namespace (made recursively
//! private) and a network namespace, with [`ISOLATED_ENV`] set. Only that child runs the
//! test body; the parent forwards its output and fails if it did not pass. Re-running the
//! whole binary (rather than unsharing in the test's own thread) keeps the namespaces away
//! from libtest's other threads, and works the same under `cargo test` and nextest.

use std::process::Command;

/// Set in the child that runs the test body; [`isolated`] returns true when it is set.
pub const ISOLATED_ENV: &str = "BERTH_TEST_ISOLATED";

/// Returns true in the isolated child (run the test body); in the parent it re-runs the test
/// `test_name` there, forwards its output, panics unless exactly that test passed, and
/// returns false (the caller returns).
///
/// `test_name` is the path libtest prints for the test, without the crate name
/// (`tests::my_test`); [`crate::isolated!`] computes it. Panics unless root.
pub fn isolated(test_name: &str) -> bool {
    if std::env::var_os(ISOLATED_ENV).is_some() {
        return true;
    }
    crate::require_root();
    let exe = std::env::current_exe()
        .unwrap_or_else(|e| panic!("cannot find the running test binary: {e}"));
    let mut cmd = Command::new(&exe);
    cmd.args([
        test_name,
        "--exact",
        "--nocapture",
        "--include-ignored",
        "--test-threads=1",
    ])
    .env(ISOLATED_ENV, "1");
    berth_sys::testing::command_in_new_namespaces(&mut cmd, libc::CLONE_NEWNS | libc::CLONE_NEWNET);
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {} in new mount+network namespaces: {e}",
            exe.display()
        )
    });
    // Through print!/eprint!, so that libtest captures it like the test's own output.
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        panic!("isolated run of `{test_name}` failed: {}", out.status);
    }
    // A wrong name runs zero tests and "succeeds"; insist that the one test ran.
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.contains("test result: ok. 1 passed") {
        panic!(
            "isolated run of `{test_name}` did not run exactly that test (is the name the \
             libtest path without the crate name?)"
        );
    }
    false
}
