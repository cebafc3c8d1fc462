//! The binary's own smoke test. Having an integration test also makes
//! `cargo test` build the `wasmtrace` binary with the workspace's features,
//! which the end-to-end tests in `tests/` then run.

use std::process::Command;

#[test]
fn version_and_help_name_the_otel_variables() {
    let bin = env!("CARGO_BIN_EXE_wasmtrace");
    let out = Command::new(bin).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("wasmtrace {}", env!("CARGO_PKG_VERSION"))
    );
    let out = Command::new(bin).args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in ["--traceparent", "--export-json", "--limit", "OTEL_"] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}

#[test]
fn usage_errors_exit_with_status_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_wasmtrace"))
        .args(["run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
