//! The plugin author's test kit (`wasmtrace::testkit`) on real plugins:
//! in-memory spans, the same typed view as over OTLP, redacted snapshots.

use opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
use wasmtrace::InvocationError;
use wasmtrace::testkit::{AttrValue, PluginTest, StatusCode, Transport};
use wasmtrace_test_artifacts::{CACHE, CRASHING, REQUEST_HANDLER};

#[test]
fn snapshot_of_the_request_handler_is_stable_across_runs() {
    let test = PluginTest::load(REQUEST_HANDLER).unwrap();
    let first = test.invoke("widget:2");
    assert_eq!(
        first.output.as_deref().ok(),
        Some("order of 1 line(s): widget x2 @ $2.50; total $5.00")
    );
    assert!(
        first
            .spans
            .iter()
            .all(|s| s.transport == Transport::InMemory)
    );
    let snapshot = first.snapshot(&["request_id"]);
    assert_eq!(snapshot, test.invoke("widget:2").snapshot(&["request_id"]));
    insta_like_assert(&snapshot, SNAPSHOT);
}

/// What `snapshot_of_the_request_handler_is_stable_across_runs` expects:
/// no ids, no times, per-instance values redacted.
const SNAPSHOT: &str = r#"invoke request-handler [Internal] wasmtrace.export="wasmtrace:plugin/handler.handle" wasmtrace.outcome="ok" wasmtrace.plugin.name="request-handler" wasmtrace.plugin.version="0.1.0"
  handle_request [Internal] request.defaulted=false request.size=8 request_id=<redacted>
    validate_request [Internal] validation.lines=1
    process_business_logic [Internal] items_processed=1 order.total_cents=500 order.units=2 processing_status="success"
    send_response [Internal] response.size=50
"#;

#[track_caller]
fn insta_like_assert(actual: &str, expected: &str) {
    assert_eq!(
        actual, expected,
        "snapshot changed; new snapshot:\n{actual}"
    );
}

#[test]
fn the_cache_outlives_an_invocation() {
    let test = PluginTest::load(CACHE).unwrap();
    let first = test.invoke("5");
    let tree = first.tree();
    assert_eq!(
        tree.find("cache.get").and_then(|s| s.attr("cache.hit")),
        Some(&AttrValue::Bool(false))
    );
    let second = test.invoke("5");
    let tree = second.tree();
    assert_eq!(
        tree.render_redacted(),
        "invoke cache\n  parse_ids\n  get_user\n    cache.get\n"
    );
    assert_eq!(
        tree.find("cache.get").and_then(|s| s.attr("cache.hit")),
        Some(&AttrValue::Bool(true))
    );
    assert_eq!(second.output.as_deref().ok(), first.output.as_deref().ok());
}

#[test]
fn a_crash_keeps_the_open_spans_in_the_test_kit_too() {
    let test = PluginTest::load(CRASHING).unwrap();
    let run = test.invoke("trap");
    assert!(
        matches!(run.output, Err(InvocationError::Crashed(_))),
        "{:?}",
        run.output
    );
    let tree = run.tree();
    tree.assert_single_trace();
    assert!(tree.spans().len() > 1, "{}", tree.render_redacted());
    for span in tree.spans() {
        assert_eq!(span.status_code, StatusCode::Error, "{}", span.name);
    }
}

#[test]
fn invocations_nest_under_the_tests_own_span() {
    let test = PluginTest::load(REQUEST_HANDLER).unwrap();
    let tracer = test.provider().tracer("my-test");
    let outer = tracer.start("http_request");
    let cx = opentelemetry::Context::new().with_span(outer);
    let run = test.invoke_with_parent("widget:1", &cx);
    cx.span().end();
    let outer_id = cx.span().span_context().span_id().to_string();
    let invoke = run.tree().find("invoke request-handler").cloned().unwrap();
    assert_eq!(invoke.parent_span_id.as_deref(), Some(outer_id.as_str()));
    let mine = test.take_spans();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].name, "http_request");
    assert_eq!(mine[0].span_id, outer_id);
}

/// The crate documentation's example (`host/src/lib.rs`), on a real plugin.
#[test]
fn the_crate_documentation_example_runs() -> anyhow::Result<()> {
    use opentelemetry::Context;
    use wasmtrace::{Runtime, RuntimeConfig, telemetry::Telemetry};

    let telemetry = Telemetry::builder("my-service", "1.0.0").build()?;
    let runtime = Runtime::new(telemetry.providers(), RuntimeConfig::default())?;
    let plugin = runtime.load_file(REQUEST_HANDLER.as_ref())?;
    let output = runtime.invoke(&plugin, "widget:2", &Context::current());
    assert_eq!(
        output.as_deref().ok(),
        Some("order of 1 line(s): widget x2 @ $2.50; total $5.00")
    );
    telemetry.shutdown(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// The test kit documentation's example (`host/src/testkit/mod.rs`).
#[test]
fn the_testkit_documentation_example_runs() -> anyhow::Result<()> {
    let test = PluginTest::load(REQUEST_HANDLER)?;
    let run = test.invoke("widget:2");
    assert!(run.output.is_ok());

    let tree = run.tree();
    tree.assert_single_trace();
    assert_eq!(
        tree.render_redacted(),
        "invoke request-handler\n  handle_request\n    validate_request\n    process_business_logic\n    send_response\n",
    );
    let logic = tree.find("process_business_logic").unwrap();
    assert_eq!(logic.attr("items_processed"), Some(&AttrValue::Int(1)));
    Ok(())
}
