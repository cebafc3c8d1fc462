//! Loading without compiling: the compile cache (a component's second load
//! comes from it; a corrupt entry is compiled again), `wasmtrace compile`
//! artifacts (refused unless allowed), `wasmtrace stamp`, and two
//! different plugins of one name refused.

use std::path::{Path, PathBuf};
use std::time::Instant;

use opentelemetry_sdk::trace::SdkTracerProvider;
use wasmtrace::{CodeSource, CompileCache, Runtime, RuntimeConfig};
use wasmtrace_test_artifacts::QUICKSTART;
use wasmtrace_test_support::toolchains::{self, BuildError};

use crate::cli::wasmtrace;

/// A fresh directory under the test target's scratch space.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn runtime(cache: &Path) -> Runtime {
    let config = RuntimeConfig {
        compile_cache: CompileCache::at(cache),
        ..RuntimeConfig::default()
    };
    Runtime::new(&SdkTracerProvider::builder().build(), config).unwrap()
}

/// Loads `path` in two runtimes sharing `cache` (as two runs of the CLI
/// would): compiled the first time, from the cache the second, and the
/// cached code runs.
fn assert_second_load_is_cached(path: &Path, cache: &Path) {
    let bytes = std::fs::read(path).unwrap();
    let started = Instant::now();
    let first = runtime(cache).load(&bytes, "app").unwrap();
    let compiled = started.elapsed();
    assert_eq!(first.code_source(), CodeSource::Compiled);
    let started = Instant::now();
    let second = runtime(cache).load(&bytes, "app").unwrap();
    let cached = started.elapsed();
    assert_eq!(second.code_source(), CodeSource::Cache);
    eprintln!(
        "{}: {} bytes, compiled in {compiled:?}, from the cache in {cached:?}",
        path.display(),
        bytes.len()
    );
}

#[test]
fn the_second_load_comes_from_the_cache_and_runs() {
    let cache = scratch("cache-rust");
    assert_second_load_is_cached(QUICKSTART.as_ref(), &cache);
    let rt = runtime(&cache);
    let plugin = rt.load_file(QUICKSTART.as_ref()).unwrap();
    assert_eq!(plugin.code_source(), CodeSource::Cache);
    let out = rt
        .invoke(&plugin, "one two", &opentelemetry::Context::new())
        .unwrap();
    assert!(out.starts_with("2 words, 2 unique"), "{out}");
}

#[test]
fn the_second_load_of_a_python_component_skips_its_compilation() {
    let dir = toolchains::repo_root().join("tests/guests-py/raw");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("raw-py-cached.wasm");
    let built = toolchains::python_component(&dir, "app", "wasmtrace:plugin/plugin", &[], &out);
    let Some(path) = BuildError::or_skip(
        built,
        "the_second_load_of_a_python_component_skips_its_compilation",
    ) else {
        return;
    };
    assert_second_load_is_cached(&path, &scratch("cache-python"));
}

#[test]
fn a_corrupt_cache_entry_is_compiled_again() {
    let cache = scratch("cache-corrupt");
    let bytes = std::fs::read(QUICKSTART).unwrap();
    runtime(&cache).load(&bytes, "q").unwrap();
    let entries: Vec<_> = walk(&cache);
    assert_eq!(entries.len(), 1, "{entries:?}");
    let mut entry = std::fs::read(&entries[0]).unwrap();
    let middle = entry.len() / 2;
    entry[middle] ^= 0xff;
    std::fs::write(&entries[0], &entry).unwrap();
    let again = runtime(&cache).load(&bytes, "q").unwrap();
    assert_eq!(again.code_source(), CodeSource::Compiled);
    let third = runtime(&cache).load(&bytes, "q").unwrap();
    assert_eq!(third.code_source(), CodeSource::Cache, "rewritten");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_precompiled_artifact_runs_only_when_allowed() {
    let dir = scratch("precompiled");
    let artifact = dir.join("quickstart.cwasm");
    let artifact = artifact.to_str().unwrap();
    let out = wasmtrace(&["compile", QUICKSTART, "-o", artifact], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let refused = wasmtrace(&["run", artifact, "--input", "a b"], &[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("--allow-precompiled"), "{stderr}");

    let ran = wasmtrace(
        &["run", artifact, "--allow-precompiled", "--input", "a b"],
        &[],
    );
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert!(ran.status.success(), "{stderr}");
    assert!(stderr.contains("invoke quickstart"), "{stderr}");

    // Compiled for other settings: refused with a reason, never run.
    let fuel = wasmtrace(
        &["run", artifact, "--allow-precompiled", "--fuel", "1000000"],
        &[],
    );
    assert!(!fuel.status.success());
    assert!(!String::from_utf8_lossy(&fuel.stderr).contains("panicked"));
}

#[test]
fn stamp_renames_a_plugin_and_two_plugins_of_one_name_are_refused() {
    let dir = scratch("stamp");
    let renamed = dir.join("renamed.wasm");
    let renamed = renamed.to_str().unwrap();
    let out = wasmtrace(
        &[
            "stamp",
            QUICKSTART,
            "--name",
            "billing",
            "--plugin-version",
            "2.1.0",
            "-o",
            renamed,
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ran = wasmtrace(&["run", renamed, "--input", "a"], &[]);
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert!(ran.status.success(), "{stderr}");
    assert!(stderr.contains("invoke billing"), "{stderr}");

    // Another component under the name `quickstart`: loading both is an
    // error naming the plugin.
    let impostor = dir.join("impostor.wasm");
    let impostor = impostor.to_str().unwrap();
    let out = wasmtrace(
        &[
            "stamp",
            renamed,
            "--name",
            "quickstart",
            "--plugin-version",
            "9",
            "-o",
            impostor,
        ],
        &[],
    );
    assert!(out.status.success());
    let both = wasmtrace(&["run", QUICKSTART, "--plugin", impostor], &[]);
    let stderr = String::from_utf8_lossy(&both.stderr);
    assert!(!both.status.success(), "{stderr}");
    assert!(stderr.contains("quickstart"), "{stderr}");

    let not_wasm = dir.join("not.wasm");
    std::fs::write(&not_wasm, b"hello").unwrap();
    let bad = wasmtrace(
        &[
            "stamp",
            not_wasm.to_str().unwrap(),
            "--name",
            "x",
            "--plugin-version",
            "1",
        ],
        &[],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a WebAssembly component"));
    assert_eq!(
        std::fs::read(&not_wasm).unwrap(),
        b"hello",
        "left as it was"
    );
}
