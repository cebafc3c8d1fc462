//! Guests written for the standard `wasi:otel@0.2.0-rc.2` (docs/DESIGN.md
//! §12): their spans, log records and metrics, checked by the host, as a
//! real OTLP receiver gets them from `wasmtrace run`; a trap inside an open
//! span; and what a guest claims that the host does not accept
//! (`tests/guests/wasi-otel`, raw wit-bindgen bindings).

use opentelemetry::Context;
use std::time::Duration;
use wasmtrace::testkit::{AttrValue, PluginTest, SpanTree, StatusCode};
use wasmtrace_test_artifacts::WASI_OTEL;
use wasmtrace_test_support::toolchains::{self, BuildError};
use wasmtrace_test_support::{
    OtlpReceiver, ReceivedLog, ReceivedMetricPoint, ReceivedSpan, Transport,
};

use crate::cli::{stderr, wasmtrace};

const WAIT: Duration = Duration::from_secs(20);

/// `wasmtrace run ARGS`, exporting over gRPC to a new receiver: it
/// succeeds; the receiver, and the `count` spans it got.
fn run_exporting(args: &[&str], count: usize) -> (OtlpReceiver, Vec<ReceivedSpan>) {
    let rx = OtlpReceiver::start().unwrap();
    let out = wasmtrace(args, &rx.exporter_env(Transport::Grpc));
    assert!(out.status.success(), "{}", stderr(&out));
    let spans = rx.wait_for_span_count(count, WAIT).unwrap();
    (rx, spans)
}

/// The log record with `body` that `rx` gets: it was recorded under `span`
/// of `trace`.
fn log_under(rx: &OtlpReceiver, body: &str, trace: &str, span: &ReceivedSpan) -> ReceivedLog {
    let logs = rx.wait_for_logs(|l| !l.is_empty(), WAIT).unwrap();
    let log = logs
        .iter()
        .find(|l| l.body == body)
        .unwrap_or_else(|| panic!("{logs:#?}"));
    assert_eq!(
        (log.trace_id.as_str(), log.span_id.as_str()),
        (trace, span.span_id.as_str())
    );
    log.clone()
}

/// The latest point of metric `name` that `rx` gets.
fn last_point(rx: &OtlpReceiver, name: &str) -> ReceivedMetricPoint {
    let metrics = rx
        .wait_for_metrics(|m| m.iter().any(|p| p.name == name), WAIT)
        .unwrap();
    metrics.into_iter().rfind(|p| p.name == name).unwrap()
}

/// The invocation span of `spans`.
fn invocation(spans: &[ReceivedSpan]) -> &ReceivedSpan {
    spans
        .iter()
        .find(|s| s.name.starts_with("invoke "))
        .unwrap_or_else(|| panic!("no invocation span in {spans:#?}"))
}

#[test]
fn wasi_otel_spans_logs_and_metrics_arrive_with_the_plugins_identity() {
    let (rx, spans) = run_exporting(&["run", WASI_OTEL, "--input", "x"], 3);
    let tree = SpanTree::new(&spans);
    let trace = tree.assert_single_trace();
    let invoke = invocation(&spans);
    let plugin = match invoke.attr("wasmtrace.plugin.name") {
        Some(AttrValue::String(name)) => name.clone(),
        other => panic!("plugin name: {other:?}"),
    };
    assert_eq!(
        tree.render_redacted(),
        format!("invoke {plugin}\n  otel-outer\n    otel-inner\n")
    );

    // The guest's own ids, times, kind, attributes, event, link and status.
    let outer = tree.find("otel-outer").unwrap();
    let inner = tree.find("otel-inner").unwrap();
    assert_eq!(
        outer.parent_span_id.as_deref(),
        Some(invoke.span_id.as_str())
    );
    assert_eq!(
        inner.parent_span_id.as_deref(),
        Some(outer.span_id.as_str())
    );
    assert_eq!(outer.kind, wasmtrace::testkit::SpanKind::Server);
    assert_eq!(outer.attr("plugin.input"), Some(&"x".into()));
    assert!(outer.start_time_unix_nano <= inner.start_time_unix_nano);
    assert!(inner.end_time_unix_nano <= outer.end_time_unix_nano);
    assert_eq!(inner.attr("http.route"), Some(&"/items/{id}".into()));
    assert_eq!(inner.attr("item.count"), Some(&AttrValue::Int(3)));
    assert_eq!(inner.status_code, StatusCode::Error);
    assert_eq!(inner.status_message, "item 7 is missing");
    let [event] = &inner.events[..] else {
        panic!("{:#?}", inner.events)
    };
    assert_eq!(event.name, "cache.miss");
    assert_eq!(event.attr("cache.key"), Some(&"item-7".into()));
    assert!(
        (inner.start_time_unix_nano..=inner.end_time_unix_nano).contains(&event.time_unix_nano),
        "the event keeps the guest's time"
    );
    let [link] = &inner.links[..] else {
        panic!("{:#?}", inner.links)
    };
    assert_eq!(
        (link.trace_id.as_str(), link.span_id.as_str()),
        (trace, invoke.span_id.as_str())
    );
    assert_eq!(link.attributes.get("link.reason"), Some(&"caller".into()));
    // Identity: the plugin's scope and attributes, not the guest's claims.
    for span in [outer, inner] {
        assert_eq!(span.scope.name, plugin);
        assert_eq!(
            span.attr("wasmtrace.instance.id"),
            invoke.attr("wasmtrace.instance.id")
        );
        assert_eq!(
            span.attr("wasmtrace.component.sha256"),
            invoke.attr("wasmtrace.component.sha256")
        );
    }
    assert_eq!(inner.dropped_attributes_count, 1, "the reserved key it set");

    let log = log_under(&rx, "processing the request", trace, inner);
    assert_eq!(
        (log.severity_number, log.severity_text.as_str()),
        (9, "INFO")
    );
    assert_eq!(log.attr("input.length"), Some(&AttrValue::Int(1)));
    assert_eq!(log.scope.0, plugin);
    assert!(log.attr("wasmtrace.component.sha256").is_some());

    let requests = last_point(&rx, "otel.requests");
    assert_eq!(requests.scope, plugin);
    assert!(
        requests
            .scope_attributes
            .contains_key("wasmtrace.component.sha256")
    );
    assert!(requests.monotonic && requests.is_int);
    assert_eq!(requests.value, 1.0);
    assert_eq!(requests.unit, "{request}");
    assert_eq!(
        requests.attributes.get("route"),
        Some(&"/items/{id}".into())
    );
    assert_ne!(
        requests.service_name, "guest-claims",
        "the guest's resource is not used"
    );
}

#[test]
fn a_trap_inside_a_wasi_otel_span_exports_it_ended_as_error() {
    let rx = OtlpReceiver::start().unwrap();
    let out = wasmtrace(
        &["run", WASI_OTEL, "--input", "trap"],
        &rx.exporter_env(Transport::Grpc),
    );
    assert!(!out.status.success(), "the guest trapped");
    let spans = rx.wait_for_span_count(2, WAIT).unwrap();
    let invoke = invocation(&spans);
    let unfinished = spans
        .iter()
        .find(|s| s.name == wasmtrace::UNFINISHED_SPAN)
        .unwrap_or_else(|| panic!("{spans:#?}"));
    assert_eq!(unfinished.trace_id, invoke.trace_id);
    assert_eq!(
        unfinished.parent_span_id.as_deref(),
        Some(invoke.span_id.as_str())
    );
    assert_eq!(unfinished.status_code, StatusCode::Error);
    assert_eq!(invoke.status_code, StatusCode::Error);
    let exception = unfinished
        .events
        .iter()
        .find(|e| e.name == "exception")
        .expect("the trap's exception event");
    assert_eq!(exception.attr("exception.type"), Some(&"wasm.trap".into()));
    assert!(unfinished.attr("wasmtrace.instance.id").is_some());
}

#[test]
fn foreign_traces_and_parents_are_reparented_and_bad_ids_refused() {
    let mut test = PluginTest::load(WASI_OTEL).unwrap();
    let run = test.invoke_with_parent("foreign", &Context::new());
    assert_eq!(
        run.output.as_deref().ok(),
        Some("foreign"),
        "{:?}",
        run.output
    );
    let tree = run.tree();
    tree.assert_single_trace();
    let invoke = invocation(&run.spans);
    // Only the first `foreign` span: the one ended twice and the zero id
    // are refused.
    assert_eq!(
        tree.render_redacted(),
        format!("{}\n  foreign\n", invoke.name)
    );
    let foreign = tree.find("foreign").unwrap();
    assert_eq!(
        foreign.trace_id, invoke.trace_id,
        "not the trace it claimed"
    );
    assert_eq!(
        foreign.parent_span_id.as_deref(),
        Some(invoke.span_id.as_str())
    );
    let stats = test.plugin_mut().stats();
    assert_eq!(stats.spans_reparented(), 1);
    assert_eq!(stats.spans_rejected(), 2);
    assert!(
        stats.summary().contains("2 wasi:otel spans"),
        "{}",
        stats.summary()
    );
}

/// Builds the peer-library guest `name` (`tests/guests-otel-peer`), or
/// `None` (the test is skipped) when the library is not beside the
/// repository.
fn peer_guest(name: &str, artifact: &str) -> Option<std::path::PathBuf> {
    let target = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("otel-peer");
    match toolchains::otel_peer_component(name, artifact, &target) {
        Ok(path) => Some(path),
        Err(BuildError::Missing(why)) => {
            println!("skipped: {why}");
            None
        }
        Err(BuildError::Failed(why)) => panic!("{why}"),
    }
}

#[test]
fn the_peer_librarys_command_traces_logs_and_counts_under_the_invocation() {
    let Some(cli) = peer_guest("cli", "otel-peer-cli.wasm") else {
        return;
    };
    let (rx, spans) = run_exporting(&["run", cli.to_str().unwrap()], 3);
    let tree = SpanTree::new(&spans);
    let trace = tree.assert_single_trace();
    let invoke = invocation(&spans);
    assert_eq!(
        tree.render_redacted(),
        format!("{}\n  peer-outer\n    peer-inner\n", invoke.name)
    );
    let inner = tree.find("peer-inner").unwrap();
    assert_eq!(inner.attr("peer.count"), Some(&AttrValue::Int(2)));
    assert_eq!(inner.attr("peer.ok"), Some(&AttrValue::Bool(true)));
    assert_eq!(
        inner.events.first().map(|e| e.name.as_str()),
        Some("peer.event")
    );
    assert_eq!(
        inner.attr("wasmtrace.instance.id"),
        invoke.attr("wasmtrace.instance.id")
    );
    log_under(&rx, "peer log", trace, inner);
    let runs = last_point(&rx, "peer.runs");
    assert_eq!(
        Some(&AttrValue::String(runs.scope.clone())),
        invoke.attr("wasmtrace.plugin.name")
    );
    assert_eq!(runs.value, 1.0);
}

#[test]
fn the_peer_librarys_http_handler_under_wasmtrace_serve() {
    let Some(http) = peer_guest("http", "otel_peer_http.wasm") else {
        return;
    };
    let rx = OtlpReceiver::start().unwrap();
    let mut served = crate::serve::Served::plugin(http.to_str().unwrap(), &[], &rx);
    let (status, body) = served.get("/peer?x=1");
    // The body is chunked as the guest streamed it.
    assert_eq!(status, 200, "{}", served.stderr());
    assert!(body.contains("peer ok"), "{body:?}");
    served.stop("INT");
    let spans = rx
        .wait_for_spans(|s| s.iter().any(|s| s.name == "peer-handle"), WAIT)
        .unwrap_or_else(|e| panic!("{e}\nstderr:\n{}", served.stderr()));
    let tree = SpanTree::new(&spans);
    tree.assert_single_trace();
    let invoke = invocation(&spans);
    let handle = tree.find("peer-handle").unwrap();
    assert_eq!(
        handle.parent_span_id.as_deref(),
        Some(invoke.span_id.as_str())
    );
    assert_eq!(handle.attr("url.path"), Some(&"/peer?x=1".into()));
    assert_eq!(
        tree.parent_of(invoke).map(|s| s.kind),
        Some(wasmtrace::testkit::SpanKind::Server)
    );
}
