//! The Python SDK (`guest-sdk-py`): the quickstart example
//! (`plugins/quickstart-py`) records the Rust quickstart's trace, logs
//! (through the standard `logging` module) and metrics through the test kit
//! (the `Runtime` that `wasmtrace run` uses) and serves it over HTTP under
//! `wasmtrace serve`; the SDK's test guest (`tests/guests-py/sdk`) covers
//! attribute types, exceptions, `@traced`, asyncio tasks, propagation,
//! baggage, the cache, plugin calls and the logging bridge. Each is built
//! from source with `python -m wasmtrace.build` once per test run; the
//! tests skip, saying so, without componentize-py.

use opentelemetry::logs::{AnyValue, Severity};
use wasmtrace::testkit::AttrValue;
use wasmtrace_test_support::toolchains;

use crate::sdk_common::{self as common, Guests, Sdk, log_attr, only};

static PY: Sdk = Sdk {
    componentize: toolchains::python_sdk_component,
    quickstart: "quickstart-py",
    quickstart_source: "plugins/quickstart-py/app.py",
    quickstart_http_source: "plugins/quickstart-py/service.py",
    validation_type: "words.ValidationError",
    quickstart_frame: "words.py",
    sdk_guest: "sdk-py-test",
    sdk_guest_source: "tests/guests-py/sdk/app.py",
    exception_types: ["app.ValidationError", "TypeError"],
    sdk_frame: "app.py",
    // The `@traced` coroutine's span.
    step: "step",
    none: "None",
    truth: "True",
    guests: Guests::new(),
};

common::sdk_tests! {
    PY:
    py_quickstart_records_the_rust_quickstarts_trace => assert_quickstart,
    py_quickstart_logs_and_measures_through_the_host => assert_quickstart_signals,
    py_quickstart_serves_http_under_the_server_span => assert_quickstart_serves,
    py_sdk_records_each_attribute_type => assert_typed_attributes,
    py_sdk_records_exceptions_with_semantic_conventions => assert_exceptions,
    py_sdk_asyncio_tasks_make_separate_subtrees => assert_concurrent_subtrees,
    py_sdk_propagates_context_and_baggage_and_uses_the_cache => assert_propagation_cache_and_calls,
}

#[test]
fn py_sdk_traced_decorator_records_arguments() {
    let Some(kit) = PY.sdk_kit("py_sdk_traced_decorator_records_arguments") else {
        return;
    };
    let run = common::returning(&kit, "decorated", "abab");
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
    let Some((logs, logging)) =
        PY.run_logs_scenario("py_logging_records_go_through_the_host_with_their_span")
    else {
        return;
    };
    let record = |body: &str| {
        logs.iter()
            .map(|l| &l.record)
            .find(|r| r.body() == Some(&AnyValue::from(body.to_owned())))
            .unwrap_or_else(|| panic!("no {body:?} record in {logs:#?}"))
    };
    // `logging` formats the message; `extra={"attributes": ...}` and the
    // source location become attributes.
    let hello = record("hello world");
    assert_eq!(hello.severity_number(), Some(Severity::Info));
    assert_eq!(hello.severity_text(), Some("INFO"));
    assert_eq!(hello.trace_context().unwrap().span_id, logging);
    assert_eq!(log_attr(hello, "n"), Some(AnyValue::Int(3)));
    assert_eq!(
        log_attr(hello, "logger.name"),
        Some(AnyValue::from("sdk-test"))
    );
    assert_eq!(
        log_attr(hello, "code.function.name"),
        Some(AnyValue::from("logs"))
    );
    assert!(matches!(log_attr(hello, "code.line.number"), Some(AnyValue::Int(n)) if n > 0));
    // `logger.exception` carries the exception as the conventions name it.
    let failed = record("it failed");
    assert_eq!(failed.severity_number(), Some(Severity::Error));
    assert_eq!(
        log_attr(failed, "exception.type"),
        Some(AnyValue::from("KeyError"))
    );
    assert!(
        matches!(log_attr(failed, "exception.stacktrace"), Some(AnyValue::String(s)) if s.as_str().contains("Traceback")),
        "{failed:?}"
    );
    // The SDK's own `log` API.
    let direct = record("direct");
    assert_eq!(direct.severity_number(), Some(Severity::Warn));
    assert_eq!(log_attr(direct, "code"), Some(AnyValue::Int(7)));
}
