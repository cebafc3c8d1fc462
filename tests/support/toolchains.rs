//! Building guests in other languages for the tests: Python with
//! componentize-py (PyPI; SDK guests through `python -m wasmtrace.build`
//! of `guest-sdk-py`), JavaScript with componentize-js (npm, through
//! `guest-sdk-js/build.mjs`). Where a toolchain is not installed the
//! builders say how to install it, and the tests skip with that message;
//! `.ci/run` installs both.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
        .to_path_buf()
}

/// Why a guest could not be built: a missing toolchain (skip the test) or
/// a failed build (fail it).
#[derive(Debug, Clone)]
pub enum BuildError {
    /// The toolchain is not installed; the message says how to install it.
    Missing(String),
    /// The build ran and failed.
    Failed(String),
}

impl BuildError {
    /// The component, or skip the test (printing why) when the toolchain is
    /// missing; panics on a failed build.
    pub fn or_skip(result: Result<PathBuf, BuildError>, test: &str) -> Option<PathBuf> {
        match result {
            Ok(path) => Some(path),
            Err(BuildError::Missing(how)) => {
                eprintln!("SKIPPED {test}: {how}");
                None
            }
            Err(BuildError::Failed(why)) => panic!("{test}: {why}"),
        }
    }
}

fn run(mut cmd: Command, what: &str) -> Result<(), BuildError> {
    let out = cmd
        .output()
        .map_err(|e| BuildError::Failed(format!("running {what}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BuildError::Failed(format!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// Builds the Python app module `module` in `dir` into `out` for `world`
/// (of the repository's `wit/`), with `extra` directories on the Python
/// path.
pub fn python_component(
    dir: &Path,
    module: &str,
    world: &str,
    extra: &[&Path],
    out: &Path,
) -> Result<PathBuf, BuildError> {
    let found = Command::new("componentize-py").arg("--version").output();
    if !found.is_ok_and(|o| o.status.success()) {
        return Err(BuildError::Missing(
            "componentize-py is not installed (python3 -m pip install componentize-py==0.25.1)"
                .into(),
        ));
    }
    let mut cmd = Command::new("componentize-py");
    cmd.arg("-d")
        .arg(repo_root().join("wit"))
        .args(["-w", world, "componentize", module, "-p"])
        .arg(dir);
    for path in extra {
        cmd.arg("-p").arg(path);
    }
    cmd.arg("-o").arg(out);
    run(cmd, "componentize-py")?;
    Ok(out.to_path_buf())
}

/// Builds the Python SDK app `app` (a `.py` file) into `out` with the SDK's
/// build helper (`python3 -m wasmtrace.build`, which runs componentize-py
/// and stamps the identity from the app's `pyproject.toml`), passing `args`
/// on (`--http`, ...).
pub fn python_sdk_component(app: &Path, args: &[&str], out: &Path) -> Result<PathBuf, BuildError> {
    let found = Command::new("componentize-py").arg("--version").output();
    if !found.is_ok_and(|o| o.status.success()) {
        return Err(BuildError::Missing(
            "componentize-py is not installed (python3 -m pip install componentize-py==0.25.1)"
                .into(),
        ));
    }
    let sdk = repo_root().join("guest-sdk-py");
    let python_path = match std::env::var_os("PYTHONPATH") {
        Some(old) if !old.is_empty() => {
            let mut paths = vec![sdk];
            paths.extend(std::env::split_paths(&old));
            std::env::join_paths(paths).expect("PYTHONPATH entries")
        }
        _ => sdk.into_os_string(),
    };
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "wasmtrace.build"])
        .arg(app)
        .arg("-o")
        .arg(out)
        .arg("--wit")
        .arg(repo_root().join("wit"))
        .args(args)
        .env("PYTHONPATH", python_path);
    run(cmd, "python3 -m wasmtrace.build")?;
    Ok(out.to_path_buf())
}

/// Builds the JavaScript module `source` into `out` with the JS SDK's
/// builder (componentize-js), passing `args` on (`--world`, `--enable`, ...).
pub fn js_component(source: &Path, args: &[&str], out: &Path) -> Result<PathBuf, BuildError> {
    let sdk = repo_root().join("guest-sdk-js");
    if !sdk
        .join("node_modules/@bytecodealliance/componentize-js")
        .is_dir()
    {
        return Err(BuildError::Missing(format!(
            "componentize-js is not installed (npm ci --prefix {})",
            sdk.display()
        )));
    }
    let mut cmd = Command::new("node");
    cmd.arg(sdk.join("build.mjs"))
        .arg(source)
        .arg("-o")
        .arg(out)
        .arg("--wit")
        .arg(repo_root().join("wit"))
        .args(args);
    run(cmd, "componentize-js")?;
    Ok(out.to_path_buf())
}

/// Where the `opentelemetry-wasi` library (the `wasi:otel` peer) is kept:
/// beside the repository, in `../shared/peers/opentelemetry-wasi`.
pub fn otel_peer_dir() -> PathBuf {
    repo_root().join("../shared/peers/opentelemetry-wasi")
}

/// Builds the guest crate `tests/guests-otel-peer/<name>` (which depends on
/// the `opentelemetry-wasi` library by path) for `wasm32-wasip2` into the
/// target directory `target`; returns the component (`artifact`, its
/// file name). Missing when the library is not there.
pub fn otel_peer_component(
    name: &str,
    artifact: &str,
    target: &Path,
) -> Result<PathBuf, BuildError> {
    if !otel_peer_dir().join("rust/Cargo.toml").is_file() {
        return Err(BuildError::Missing(
            "../shared/peers/opentelemetry-wasi not found".into(),
        ));
    }
    let manifest = repo_root()
        .join("tests/guests-otel-peer")
        .join(name)
        .join("Cargo.toml");
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args([
        "build",
        "--quiet",
        "--target",
        "wasm32-wasip2",
        "--manifest-path",
    ])
    .arg(&manifest)
    .arg("--target-dir")
    .arg(target);
    // The outer build's settings are not the guest's.
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_LLVM_COV",
        "LLVM_PROFILE_FILE",
    ] {
        cmd.env_remove(var);
    }
    run(
        cmd,
        &format!("cargo build of tests/guests-otel-peer/{name}"),
    )?;
    Ok(target.join("wasm32-wasip2/debug").join(artifact))
}
