//! The JavaScript SDK (`guest-sdk-js`): the quickstart example
//! (`plugins/quickstart-js`) records the Rust quickstart's trace, logs and
//! metrics through the test kit (the `Runtime` that `wasmtrace run` uses)
//! and serves it over HTTP under `wasmtrace serve`; the SDK's test guest
//! (`tests/guests-js/sdk`) covers attribute types, exceptions, concurrent
//! async tasks, propagation, baggage, the cache and plugin calls. Each is
//! built from source with `wasmtrace-componentize` once per test run; the
//! tests skip, saying so, without componentize-js (`npm ci --prefix
//! guest-sdk-js`).

use std::path::PathBuf;

use opentelemetry::Context;
use opentelemetry::logs::{AnyValue, Severity};
use wasmtrace_test_support::toolchains::{self, BuildError};

use crate::sdk_common::{self as common, Guest, out};

static QUICKSTART: Guest = Guest::new();
static QUICKSTART_HTTP: Guest = Guest::new();
static SDK: Guest = Guest::new();

fn build_quickstart() -> Result<PathBuf, BuildError> {
    let source = toolchains::repo_root().join("plugins/quickstart-js/app.js");
    toolchains::js_component(&source, &[], &out("quickstart-js.wasm"))
}

fn build_quickstart_http() -> Result<PathBuf, BuildError> {
    let source = toolchains::repo_root().join("plugins/quickstart-js/http.js");
    toolchains::js_component(&source, &["--http"], &out("quickstart-js-http.wasm"))
}

fn build_sdk_guest() -> Result<PathBuf, BuildError> {
    let source = toolchains::repo_root().join("tests/guests-js/sdk/app.js");
    toolchains::js_component(&source, &[], &out("sdk-js-test.wasm"))
}

#[test]
fn js_quickstart_records_the_rust_quickstarts_trace() {
    let test = "js_quickstart_records_the_rust_quickstarts_trace";
    let Some(kit) = QUICKSTART.test_kit(test, build_quickstart) else {
        return;
    };
    common::assert_quickstart(&kit, "quickstart-js", "ValidationError", "app.js");
}

#[test]
fn js_quickstart_logs_and_measures_through_the_host() {
    let test = "js_quickstart_logs_and_measures_through_the_host";
    let Some(path) = QUICKSTART.path(test, build_quickstart) else {
        return;
    };
    common::assert_quickstart_signals(&path, "quickstart-js");
}

#[test]
fn js_quickstart_serves_http_under_the_server_span() {
    let test = "js_quickstart_serves_http_under_the_server_span";
    let Some(path) = QUICKSTART_HTTP.path(test, build_quickstart_http) else {
        return;
    };
    common::assert_quickstart_serves(&path, "quickstart-js");
}

#[test]
fn js_sdk_records_each_attribute_type() {
    let Some(kit) = SDK.test_kit("js_sdk_records_each_attribute_type", build_sdk_guest) else {
        return;
    };
    common::assert_typed_attributes(&kit, "sdk-js-test");
}

#[test]
fn js_sdk_records_exceptions_with_semantic_conventions() {
    let test = "js_sdk_records_exceptions_with_semantic_conventions";
    let Some(kit) = SDK.test_kit(test, build_sdk_guest) else {
        return;
    };
    common::assert_exceptions(
        &kit,
        "sdk-js-test",
        ["ValidationError", "TypeError"],
        "app.js",
    );
}

#[test]
fn js_sdk_concurrent_async_tasks_make_separate_subtrees() {
    let test = "js_sdk_concurrent_async_tasks_make_separate_subtrees";
    let Some(kit) = SDK.test_kit(test, build_sdk_guest) else {
        return;
    };
    common::assert_concurrent_subtrees(&kit, "sdk-js-test", "step 2");
}

#[test]
fn js_sdk_propagates_context_and_baggage_and_uses_the_cache() {
    let test = "js_sdk_propagates_context_and_baggage_and_uses_the_cache";
    let Some(kit) = SDK.test_kit(test, build_sdk_guest) else {
        return;
    };
    common::assert_propagation_cache_and_calls(&kit, "sdk-js-test");
}

#[test]
fn js_logs_and_console_go_through_the_host_with_their_span() {
    let test = "js_logs_and_console_go_through_the_host_with_their_span";
    let Some(path) = SDK.path(test, build_sdk_guest) else {
        return;
    };
    let p = crate::signals::Pipelines::new();
    let runtime =
        wasmtrace::Runtime::new(p.providers(), wasmtrace::RuntimeConfig::default()).unwrap();
    let plugin = runtime.load_file(&path).unwrap();
    assert_eq!(
        runtime.invoke(&plugin, "logs", &Context::new()).unwrap(),
        "logged"
    );
    let spans = p.spans.get_finished_spans().unwrap();
    let logging = spans.iter().find(|s| s.name == "logging").expect("span");
    let logs = p.logs.get_emitted_logs().unwrap();
    let bodies: Vec<_> = logs.iter().map(|l| l.record.body().cloned()).collect();
    assert_eq!(
        bodies,
        [
            Some(AnyValue::from("hello world")),
            Some(AnyValue::from("from console 7")),
            Some(AnyValue::from("it failed: RangeError: boom")),
            Some(AnyValue::from("direct")),
        ]
    );
    let severities: Vec<_> = logs.iter().map(|l| l.record.severity_number()).collect();
    assert_eq!(
        severities,
        [
            Some(Severity::Info),
            Some(Severity::Info),
            Some(Severity::Error),
            Some(Severity::Warn)
        ]
    );
    let attr = |i: usize, key: &str| {
        logs[i]
            .record
            .attributes_iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.clone())
    };
    for log in &logs {
        assert_eq!(
            log.record.trace_context().unwrap().span_id,
            logging.span_context.span_id()
        );
        assert_eq!(log.instrumentation.name(), "sdk-js-test");
    }
    assert_eq!(attr(0, "n"), Some(AnyValue::Int(3)));
    assert_eq!(attr(1, "log.source"), Some(AnyValue::from("console")));
    assert_eq!(
        attr(2, "exception.type"),
        Some(AnyValue::from("RangeError"))
    );
    assert_eq!(attr(3, "code"), Some(AnyValue::Int(7)));
}
