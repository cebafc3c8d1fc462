//! The Python SDK (`guest-sdk-py`): the quickstart example
//! (`plugins/quickstart-py`) records the Rust quickstart's trace, logs
//! (through the standard `logging` module) and metrics through the test kit
//! (the `Runtime` that `wasmtrace run` uses) and serves it over HTTP under
//! `wasmtrace serve`; the SDK's test guest (`tests/guests-py/sdk`) covers
//! attribute types, exceptions, `@traced`, asyncio tasks, propagation,
//! baggage, the cache, plugin calls and the logging bridge. Each is built
//! from source with `python -m wasmtrace.build` once per test run; the
//! tests skip, saying so, without componentize-py.

use std::path::PathBuf;

use opentelemetry::Context;
use wasmtrace::testkit::AttrValue;
use wasmtrace_test_support::toolchains::{self, BuildError};

use crate::sdk_common::{self as common, Guest, only, out};

static QUICKSTART: Guest = Guest::new();
static QUICKSTART_HTTP: Guest = Guest::new();
static SDK: Guest = Guest::new();

fn build_quickstart() -> Result<PathBuf, BuildError> {
    let app = toolchains::repo_root().join("plugins/quickstart-py/app.py");
    toolchains::python_sdk_component(&app, &[], &out("quickstart-py.wasm"))
}

fn build_quickstart_http() -> Result<PathBuf, BuildError> {
    let app = toolchains::repo_root().join("plugins/quickstart-py/service.py");
    toolchains::python_sdk_component(&app, &["--http"], &out("quickstart-py-http.wasm"))
}

fn build_sdk_guest() -> Result<PathBuf, BuildError> {
    let app = toolchains::repo_root().join("tests/guests-py/sdk/app.py");
    toolchains::python_sdk_component(&app, &[], &out("sdk-py-test.wasm"))
}

#[test]
fn py_quickstart_records_the_rust_quickstarts_trace() {
    let test = "py_quickstart_records_the_rust_quickstarts_trace";
    let Some(kit) = QUICKSTART.test_kit(test, build_quickstart) else {
        return;
    };
    common::assert_quickstart(&kit, "quickstart-py", "words.ValidationError", "words.py");
}

#[test]
fn py_quickstart_logs_and_measures_through_the_host() {
    let test = "py_quickstart_logs_and_measures_through_the_host";
    let Some(path) = QUICKSTART.path(test, build_quickstart) else {
        return;
    };
    common::assert_quickstart_signals(&path, "quickstart-py");
}

#[test]
fn py_quickstart_serves_http_under_the_server_span() {
    let test = "py_quickstart_serves_http_under_the_server_span";
    let Some(path) = QUICKSTART_HTTP.path(test, build_quickstart_http) else {
        return;
    };
    common::assert_quickstart_serves(&path, "quickstart-py");
}

#[test]
fn py_sdk_records_each_attribute_type() {
    let Some(kit) = SDK.test_kit("py_sdk_records_each_attribute_type", build_sdk_guest) else {
        return;
    };
    common::assert_typed_attributes(&kit, "sdk-py-test");
}

#[test]
fn py_sdk_records_exceptions_with_semantic_conventions() {
    let test = "py_sdk_records_exceptions_with_semantic_conventions";
    let Some(kit) = SDK.test_kit(test, build_sdk_guest) else {
        return;
    };
    common::assert_exceptions(&kit, "sdk-py-test", ["app.ValidationError", "TypeError"], "app.py");
}

#[test]
fn py_sdk_asyncio_tasks_make_separate_subtrees() {
    let test = "py_sdk_asyncio_tasks_make_separate_subtrees";
    let Some(kit) = SDK.test_kit(test, build_sdk_guest) else {
        return;
    };
    // `step` is the `@traced` coroutine's span.
    common::assert_concurrent_subtrees(&kit, "sdk-py-test", "step");
}

#[test]
fn py_sdk_propagates_context_and_baggage_and_uses_the_cache() {
    let test = "py_sdk_propagates_context_and_baggage_and_uses_the_cache";
    let Some(kit) = SDK.test_kit(test, build_sdk_guest) else {
        return;
    };
    common::assert_propagation_cache_and_calls(&kit, "sdk-py-test");
}

#[test]
fn py_sdk_traced_decorator_records_arguments() {
    let Some(kit) = SDK.test_kit("py_sdk_traced_decorator_records_arguments", build_sdk_guest)
    else {
        return;
    };
    let run = kit.invoke_with_parent("decorated", &Context::new());
    assert_eq!(run.output.as_deref().ok(), Some("abab"));
    let tree = run.tree();
    assert_eq!(tree.render_redacted(), "invoke sdk-py-test\n  decorated\n");
    let span = only(&tree, "decorated");
    assert_eq!(
        span.attr("code.function.args.word"),
        Some(&AttrValue::String("ab".into()))
    );
    assert_eq!(
        span.attr("code.function.args.times"),
        Some(&AttrValue::Int(2))
    );
    // `add_attributes` inside the function acts on its span.
    assert_eq!(span.attr("inside"), Some(&AttrValue::Bool(true)));
}
