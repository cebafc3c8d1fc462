//! The JavaScript SDK (`guest-sdk-js`): the quickstart example
//! (`plugins/quickstart-js`) records the Rust quickstart's trace, logs and
//! metrics through the test kit (the `Runtime` that `wasmtrace run` uses)
//! and serves it over HTTP under `wasmtrace serve`; the SDK's test guest
//! (`tests/guests-js/sdk`) covers attribute types, exceptions, concurrent
//! async tasks, propagation, baggage, the cache and plugin calls. Each is
//! built from source with `wasmtrace-componentize` once per test run; the
//! tests skip, saying so, without componentize-js (`npm ci --prefix
//! guest-sdk-js`).

use opentelemetry::logs::{AnyValue, Severity};
use wasmtrace_test_support::toolchains;

use crate::sdk_common::{self as common, Guests, Sdk, log_attr};

static JS: Sdk = Sdk {
    componentize: toolchains::js_component,
    quickstart: "quickstart-js",
    quickstart_source: "plugins/quickstart-js/app.js",
    quickstart_http_source: "plugins/quickstart-js/http.js",
    validation_type: "ValidationError",
    quickstart_frame: "app.js",
    sdk_guest: "sdk-js-test",
    sdk_guest_source: "tests/guests-js/sdk/app.js",
    exception_types: ["ValidationError", "TypeError"],
    sdk_frame: "app.js",
    step: "step 2",
    none: "undefined",
    truth: "true",
    guests: Guests::new(),
};

common::sdk_tests! {
    JS:
    js_quickstart_records_the_rust_quickstarts_trace => assert_quickstart,
    js_quickstart_logs_and_measures_through_the_host => assert_quickstart_signals,
    js_quickstart_serves_http_under_the_server_span => assert_quickstart_serves,
    js_sdk_records_each_attribute_type => assert_typed_attributes,
    js_sdk_records_exceptions_with_semantic_conventions => assert_exceptions,
    js_sdk_concurrent_async_tasks_make_separate_subtrees => assert_concurrent_subtrees,
    js_sdk_propagates_context_and_baggage_and_uses_the_cache => assert_propagation_cache_and_calls,
}

#[test]
fn js_logs_and_console_go_through_the_host_with_their_span() {
    let Some((logs, logging)) =
        JS.run_logs_scenario("js_logs_and_console_go_through_the_host_with_their_span")
    else {
        return;
    };
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
    let attr = |i: usize, key: &str| log_attr(&logs[i].record, key);
    for log in &logs {
        assert_eq!(log.record.trace_context().unwrap().span_id, logging);
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
