//! The guide's "monitor overhead": the runtime's per-plugin tracing counters
//! as OTel metrics over OTLP, and as the embedded default's summary line.

use std::time::Duration;

use wasmtrace_test_artifacts::{CACHE, REQUEST_HANDLER};
use wasmtrace_test_support::{OtlpReceiver, ReceivedMetricPoint, Transport};

use crate::cli::wasmtrace;

/// The only point of `name` for the request-handler plugin.
#[track_caller]
fn point<'a>(points: &'a [ReceivedMetricPoint], name: &str) -> &'a ReceivedMetricPoint {
    let found: Vec<_> = points
        .iter()
        .filter(|p| p.name == name)
        .filter(|p| {
            p.attributes
                .get("wasmtrace.plugin.name")
                .and_then(|v| v.as_str())
                == Some("request-handler")
        })
        .collect();
    assert_eq!(found.len(), 1, "{name}: {points:#?}");
    found[0]
}

#[test]
fn tracing_overhead_is_exported_as_metrics_per_plugin() {
    let rx = OtlpReceiver::start().unwrap();
    let out = wasmtrace(&["run", REQUEST_HANDLER], &rx.exporter_env(Transport::Grpc));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let points = rx
        .wait_for_metrics(
            |p| {
                p.iter()
                    .any(|p| p.name == "wasmtrace.plugin.tracing.duration")
            },
            Duration::from_secs(20),
        )
        .unwrap();
    let spans = rx
        .wait_for_spans(|s| s.len() >= 5, Duration::from_secs(20))
        .unwrap();
    // Every guest span (all but the host's invocation span) is counted.
    let guest_spans = spans
        .iter()
        .filter(|s| s.scope.name == "request-handler")
        .count();
    assert_eq!(guest_spans, 4);

    let started = point(&points, "wasmtrace.plugin.spans.started");
    assert!(started.monotonic && started.is_int, "{started:?}");
    assert_eq!(started.unit, "{span}");
    assert_eq!(started.scope, "wasmtrace");
    assert_eq!(started.value, 4.0);
    assert_eq!(point(&points, "wasmtrace.plugin.spans.ended").value, 4.0);
    assert_eq!(point(&points, "wasmtrace.plugin.spans.dropped").value, 0.0);
    assert_eq!(
        point(&points, "wasmtrace.plugin.contexts.dropped").value,
        0.0
    );
    let time = point(&points, "wasmtrace.plugin.tracing.duration");
    assert_eq!(time.unit, "s");
    assert!(!time.is_int);
    // Four spans with attributes cost microseconds, not seconds.
    assert!(time.value > 0.0 && time.value < 0.5, "{time:?}");
}

#[test]
fn metrics_can_be_turned_off() {
    let rx = OtlpReceiver::start().unwrap();
    let mut env = rx.exporter_env(Transport::Grpc);
    env.push(("OTEL_METRICS_EXPORTER", "none".to_owned()));
    let out = wasmtrace(&["run", REQUEST_HANDLER], &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rx.wait_for_spans(|s| s.len() >= 5, Duration::from_secs(20))
        .unwrap();
    assert!(rx.metric_points().is_empty(), "{:?}", rx.metric_points());
}

/// The embedded default's summary line of `wasmtrace run ARGS` with `env`.
fn summary_line(args: &[&str], env: &[(&str, String)]) -> String {
    let out = wasmtrace(args, env);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("tracing: "))
        .unwrap_or_else(|| panic!("no summary in:\n{stderr}"));
    assert!(line.ends_with(" in tracing calls"), "{line}");
    line.to_owned()
}

#[test]
fn the_embedded_default_prints_the_overhead_summary() {
    let line = summary_line(&["run", REQUEST_HANDLER], &[]);
    assert!(
        line.starts_with("tracing: 4 spans started, 4 ended, 0 dropped; "),
        "{line}"
    );
}

#[test]
fn an_unsampled_trace_counts_no_skipped_span() {
    // Sampled, the cache plugin records 6 spans of its own and 5 cache
    // spans; unsampled, the SDK skips its spans and the host its cache
    // spans, and neither is counted.
    let sampled = summary_line(&["run", CACHE], &[]);
    assert!(
        sampled.starts_with("tracing: 11 spans started, 11 ended"),
        "{sampled}"
    );
    let off = [("OTEL_TRACES_SAMPLER", "always_off".to_owned())];
    let unsampled = summary_line(&["run", CACHE], &off);
    assert!(
        unsampled.starts_with("tracing: 0 spans started, 0 ended, 0 dropped; "),
        "{unsampled}"
    );
}
