//! The hostile suite (`cargo test hostile`): each test runs one abuse of the
//! tracing API against a live host, with a well-behaved plugin run before
//! and after it, and checks that the host survived, the limits held, the
//! neighbour's traces are intact and every exported span is well-formed.

use opentelemetry::Context;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::time::Duration;
use wasmtrace::{InvocationError, Limits, Runtime, RuntimeConfig};
use wasmtrace_test_artifacts::{CRASHING, HOSTILE, QUICKSTART};
use wasmtrace_test_support::{AttrValue, OtlpReceiver, ReceivedSpan, SpanTree, StatusCode};

/// What one hostile run left behind.
struct Outcome {
    result: Result<String, InvocationError>,
    /// The hostile plugin's spans (scope `hostile`/`crashing`, plus its
    /// invocation span).
    spans: Vec<ReceivedSpan>,
    spans_dropped: u64,
    contexts_dropped: u64,
}

fn limits() -> Limits {
    Limits {
        max_spans: 500,
        max_open_spans: 100,
        max_depth: 32,
        max_contexts: 64,
        max_name_length: 64,
        max_attribute_value_length: 256,
        ..Limits::default()
    }
}

fn batch_provider(rx: &OtlpReceiver) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_batch_exporter(crate::embedding::http_exporter(rx))
        .build()
}

fn run_hostile(plugin_path: &str, mode: &str, config: RuntimeConfig) -> Outcome {
    let rx = OtlpReceiver::start().unwrap();
    let provider = batch_provider(&rx);
    let runtime = Runtime::new(&provider, config).unwrap();
    let neighbour = runtime.load_file(QUICKSTART.as_ref()).unwrap();
    let mut hostile = runtime.load_file(plugin_path.as_ref()).unwrap();
    hostile.set_limits(limits());

    assert!(
        runtime
            .invoke(&neighbour, "before", &Context::new())
            .is_ok()
    );
    let result = runtime.invoke(&hostile, mode, &Context::new());
    assert!(runtime.invoke(&neighbour, "after", &Context::new()).is_ok());
    provider.shutdown().unwrap();

    let all = rx.spans();
    for span in &all {
        assert_well_formed(span);
    }
    // The neighbour's two traces are whole and untouched.
    let theirs: Vec<ReceivedSpan> = all
        .iter()
        .filter(|s| s.scope.name == "quickstart" || s.name == "invoke quickstart")
        .cloned()
        .collect();
    let tree = SpanTree::new(&theirs);
    assert_eq!(tree.trace_ids().len(), 2, "{}", tree.render_redacted());
    assert_eq!(theirs.len(), 10, "{}", tree.render_redacted());
    assert!(theirs.iter().all(|s| s.status_code == StatusCode::Unset));
    let name = hostile.identity().name.clone();
    let spans = all
        .into_iter()
        .filter(|s| s.scope.name == name || s.name == format!("invoke {name}"))
        .collect();
    Outcome {
        result,
        spans,
        spans_dropped: hostile.stats().spans_dropped(),
        contexts_dropped: hostile.stats().contexts_dropped(),
    }
}

fn assert_well_formed(span: &ReceivedSpan) {
    let hex = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_hexdigit());
    assert!(
        hex(&span.trace_id, 32) && span.trace_id != "0".repeat(32),
        "{span:?}"
    );
    assert!(
        hex(&span.span_id, 16) && span.span_id != "0".repeat(16),
        "{span:?}"
    );
    assert!(
        span.end_time_unix_nano >= span.start_time_unix_nano,
        "{}",
        span.name
    );
    assert!(span.end_time_unix_nano > 0, "{} never ended", span.name);
    assert!(
        span.attributes.len() <= 128,
        "{}: {}",
        span.name,
        span.attributes.len()
    );
    assert!(
        span.events.len() <= 128,
        "{}: {}",
        span.name,
        span.events.len()
    );
    if span.scope.name != "wasmtrace" && span.scope.name != "quickstart" {
        assert!(span.name.len() <= 64, "name of {} bytes", span.name.len());
        for (key, value) in &span.attributes {
            assert!(key.len() <= 64, "key of {} bytes", key.len());
            if let AttrValue::String(s) = value {
                assert!(s.len() <= 256 || key == "wasmtrace.component.sha256");
            }
        }
        // Identity cannot be forged.
        assert_ne!(
            span.attr("wasmtrace.instance.id")
                .and_then(AttrValue::as_str),
            Some("forged")
        );
        assert_ne!(
            span.resource_attr("service.name")
                .and_then(AttrValue::as_str),
            Some("evil")
        );
    }
}

fn guest_spans(outcome: &Outcome) -> Vec<&ReceivedSpan> {
    outcome
        .spans
        .iter()
        .filter(|s| s.scope.name != "wasmtrace")
        .collect()
}

#[test]
fn hostile_span_bomb_is_capped_and_counted() {
    let out = run_hostile(HOSTILE, "span-bomb", RuntimeConfig::default());
    assert_eq!(out.result.as_ref().unwrap(), "survived");
    assert_eq!(guest_spans(&out).len(), 500);
    assert_eq!(out.spans_dropped, 100_000 - 500);
}

#[test]
fn hostile_open_span_bomb_is_capped() {
    let out = run_hostile(HOSTILE, "open-bomb", RuntimeConfig::default());
    assert_eq!(out.result.as_ref().unwrap(), "survived");
    assert_eq!(guest_spans(&out).len(), 100);
    assert_eq!(out.spans_dropped, 100_000 - 100);
}

#[test]
fn hostile_attribute_bomb_drops_and_counts() {
    let out = run_hostile(HOSTILE, "attribute-bomb", RuntimeConfig::default());
    assert_eq!(out.result.as_ref().unwrap(), "survived");
    let spans = guest_spans(&out);
    assert_eq!(spans.len(), 1);
    let span = spans[0];
    assert_eq!(span.attributes.len(), 128);
    assert!(
        span.dropped_attributes_count > 10_000,
        "{}",
        span.dropped_attributes_count
    );
    assert_eq!(span.events.len(), 128);
    assert_eq!(span.dropped_events_count, 10_000 - 128);
}

#[test]
fn hostile_huge_strings_are_truncated() {
    let out = run_hostile(HOSTILE, "huge-strings", RuntimeConfig::default());
    assert_eq!(out.result.as_ref().unwrap(), "survived");
    let spans = guest_spans(&out);
    assert_eq!(spans.len(), 1);
    let span = spans[0];
    assert_eq!(span.name, "x".repeat(64));
    assert_eq!(span.status_code, StatusCode::Error);
    assert_eq!(span.status_message.len(), 256);
    let list = span.attr("list").and_then(AttrValue::as_array).unwrap();
    assert!(list.iter().all(|v| v.as_str().map(str::len) == Some(256)));
    let exception = span.event("exception").unwrap();
    assert_eq!(
        exception
            .attr("exception.stacktrace")
            .and_then(AttrValue::as_str)
            .map(str::len),
        Some(256)
    );
}

#[test]
fn hostile_deep_nesting_is_capped_at_the_depth_limit() {
    let out = run_hostile(HOSTILE, "deep-nesting", RuntimeConfig::default());
    assert_eq!(out.result.as_ref().unwrap(), "survived");
    let spans = guest_spans(&out);
    assert_eq!(spans.len(), 32);
    assert_eq!(out.spans_dropped, 10_000 - 32);
    // A chain: each span but the first is the child of the previous one.
    let tree = SpanTree::new(&out.spans);
    tree.assert_single_trace();
    let deepest = tree.find("d31").unwrap();
    let mut depth = 0;
    let mut cur = deepest;
    while let Some(parent) = tree.parent_of(cur) {
        depth += 1;
        cur = parent;
    }
    assert_eq!(depth, 32, "d31 -> ... -> d0 -> invocation");
}

#[test]
fn hostile_double_end_and_use_after_end_are_no_ops() {
    let out = run_hostile(HOSTILE, "double-end", RuntimeConfig::default());
    assert_eq!(out.result.as_ref().unwrap(), "recording after end: false");
    let tree = SpanTree::new(&out.spans);
    let parent = tree.find("parent").unwrap();
    assert!(parent.attr("after").is_none() && parent.events.is_empty());
    assert_eq!(parent.status_code, StatusCode::Unset);
    let child = tree.find("child").unwrap();
    assert_eq!(
        child.parent_span_id.as_deref(),
        Some(parent.span_id.as_str())
    );
    let invoke = tree.find("invoke hostile").unwrap();
    let after = tree.find("after-misuse").unwrap();
    assert_eq!(
        after.parent_span_id.as_deref(),
        Some(invoke.span_id.as_str())
    );
    // An ended span can still be named as a parent: it is the parent.
    let orphan = tree.find("child-of-ended").unwrap();
    assert_eq!(
        orphan.parent_span_id.as_deref(),
        Some(parent.span_id.as_str())
    );
}

#[test]
fn hostile_garbage_carriers_start_new_traces_and_never_fail() {
    let out = run_hostile(HOSTILE, "garbage-carriers", RuntimeConfig::default());
    assert_eq!(out.result.as_ref().unwrap(), "survived");
    let from_garbage: Vec<_> = out
        .spans
        .iter()
        .filter(|s| s.name == "from-garbage")
        .collect();
    assert_eq!(from_garbage.len(), 7);
    for span in from_garbage {
        assert_eq!(
            span.parent_span_id, None,
            "garbage must not become a parent"
        );
        assert_eq!(span.attr("remote"), Some(&AttrValue::Bool(false)));
    }
}

#[test]
fn hostile_context_bomb_is_capped() {
    let out = run_hostile(HOSTILE, "context-bomb", RuntimeConfig::default());
    assert_eq!(out.result.as_ref().unwrap(), "survived");
    assert_eq!(out.contexts_dropped, (5_000 - 64) + (2_000 - 32));
    let tree = SpanTree::new(&out.spans);
    let invoke = tree.find("invoke hostile").unwrap();
    assert_eq!(
        tree.find("after-context-bomb")
            .unwrap()
            .parent_span_id
            .as_deref(),
        Some(invoke.span_id.as_str())
    );
}

#[test]
fn hostile_trap_with_open_spans_ends_them() {
    let out = run_hostile(CRASHING, "trap", RuntimeConfig::default());
    assert!(matches!(out.result, Err(InvocationError::Crashed(ref f)) if f.kind == "wasm.trap"));
    let guest = guest_spans(&out);
    assert_eq!(guest.len(), 3);
    assert!(
        guest
            .iter()
            .all(|s| s.status_code == StatusCode::Error && s.event("exception").is_some())
    );
}

#[test]
fn hostile_infinite_loop_stops_at_the_deadline() {
    let config = RuntimeConfig {
        deadline: Some(Duration::from_millis(100)),
        ..RuntimeConfig::default()
    };
    let out = run_hostile(CRASHING, "loop", config);
    assert!(
        matches!(out.result, Err(InvocationError::Crashed(ref f)) if f.kind == "wasm.deadline_exceeded"),
        "{:?}",
        out.result
    );
    assert!(
        guest_spans(&out)
            .iter()
            .all(|s| s.status_code == StatusCode::Error)
    );
}

#[test]
fn hostile_memory_grow_stops_at_the_limit() {
    let config = RuntimeConfig {
        max_memory: Some(32 << 20),
        ..RuntimeConfig::default()
    };
    let out = run_hostile(CRASHING, "grow", config);
    assert!(
        matches!(out.result, Err(InvocationError::Crashed(ref f)) if f.kind == "wasm.memory_limit"),
        "{:?}",
        out.result
    );
    assert_eq!(guest_spans(&out).len(), 3);
}
