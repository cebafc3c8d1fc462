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
use opentelemetry::logs::{AnyValue, Severity};
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
    common::assert_exceptions(
        &kit,
        "sdk-py-test",
        ["app.ValidationError", "TypeError"],
        "app.py",
    );
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

#[test]
fn py_logging_records_go_through_the_host_with_their_span() {
    let test = "py_logging_records_go_through_the_host_with_their_span";
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
    let record = |body: &str| {
        logs.iter()
            .map(|l| &l.record)
            .find(|r| r.body() == Some(&AnyValue::from(body.to_owned())))
            .unwrap_or_else(|| panic!("no {body:?} record in {logs:#?}"))
    };
    let attr = |r: &opentelemetry_sdk::logs::SdkLogRecord, key: &str| {
        r.attributes_iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.clone())
    };
    // `logging` formats the message; `extra={"attributes": ...}` and the
    // source location become attributes.
    let hello = record("hello world");
    assert_eq!(hello.severity_number(), Some(Severity::Info));
    assert_eq!(hello.severity_text(), Some("INFO"));
    assert_eq!(
        hello.trace_context().unwrap().span_id,
        logging.span_context.span_id()
    );
    assert_eq!(attr(hello, "n"), Some(AnyValue::Int(3)));
    assert_eq!(attr(hello, "logger.name"), Some(AnyValue::from("sdk-test")));
    assert_eq!(
        attr(hello, "code.function.name"),
        Some(AnyValue::from("logs"))
    );
    assert!(matches!(attr(hello, "code.line.number"), Some(AnyValue::Int(n)) if n > 0));
    // `logger.exception` carries the exception as the conventions name it.
    let failed = record("it failed");
    assert_eq!(failed.severity_number(), Some(Severity::Error));
    assert_eq!(
        attr(failed, "exception.type"),
        Some(AnyValue::from("KeyError"))
    );
    assert!(
        matches!(attr(failed, "exception.stacktrace"), Some(AnyValue::String(s)) if s.as_str().contains("Traceback")),
        "{failed:?}"
    );
    // The SDK's own `log` API.
    let direct = record("direct");
    assert_eq!(direct.severity_number(), Some(Severity::Warn));
    assert_eq!(attr(direct, "code"), Some(AnyValue::Int(7)));
}
