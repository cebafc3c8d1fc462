//! Logs and metrics from a wasmtrace-SDK plugin (`plugins/quickstart`):
//! log records under the span that was current, metrics aggregated per
//! plugin with its identity, and what a plugin gets wrong counted, never
//! trapping.

use opentelemetry::Context;
use opentelemetry::logs::{AnyValue, Severity};
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use wasmtrace::{Providers, Runtime, RuntimeConfig};
use wasmtrace_test_artifacts::QUICKSTART;

/// In-memory exporters of all three signals, and their providers.
pub(crate) struct Pipelines {
    pub(crate) spans: InMemorySpanExporter,
    pub(crate) logs: InMemoryLogExporter,
    pub(crate) metrics: InMemoryMetricExporter,
    pub(crate) tracer_provider: SdkTracerProvider,
    pub(crate) logger_provider: SdkLoggerProvider,
    pub(crate) meter_provider: SdkMeterProvider,
}

impl Pipelines {
    pub(crate) fn new() -> Self {
        let spans = InMemorySpanExporter::default();
        let logs = InMemoryLogExporter::default();
        let metrics = InMemoryMetricExporter::default();
        Self {
            tracer_provider: SdkTracerProvider::builder()
                .with_simple_exporter(spans.clone())
                .build(),
            logger_provider: SdkLoggerProvider::builder()
                .with_simple_exporter(logs.clone())
                .build(),
            meter_provider: SdkMeterProvider::builder()
                .with_reader(PeriodicReader::builder(metrics.clone()).build())
                .build(),
            spans,
            logs,
            metrics,
        }
    }

    pub(crate) fn providers(&self) -> Providers {
        Providers::new(&self.tracer_provider)
            .with_logger_provider(&self.logger_provider)
            .with_meter_provider(&self.meter_provider)
    }
}

#[test]
fn sdk_logs_carry_their_spans_ids_and_metrics_the_plugins_identity() {
    let p = Pipelines::new();
    let runtime = Runtime::new(p.providers(), RuntimeConfig::default()).unwrap();
    let plugin = runtime.load_file(QUICKSTART.as_ref()).unwrap();
    runtime
        .invoke(&plugin, "a b a", &Context::new())
        .expect("counting words");
    runtime
        .invoke(&plugin, "c d", &Context::new())
        .expect("counting words");
    runtime
        .invoke(&plugin, "fail", &Context::new())
        .expect_err("`fail` is rejected");
    p.meter_provider.force_flush().unwrap();

    let spans = p.spans.get_finished_spans().unwrap();
    let span_named = |name: &str| {
        spans
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.span_context.clone())
            .collect::<Vec<_>>()
    };
    let logs = p.logs.get_emitted_logs().unwrap();
    let counted: Vec<_> = logs
        .iter()
        .filter(|l| l.record.body() == Some(&AnyValue::from("counted the words")))
        .collect();
    assert_eq!(counted.len(), 2, "{logs:#?}");
    for (log, span) in counted.iter().zip(span_named("process_business_logic")) {
        let record = &log.record;
        assert_eq!(record.severity_number(), Some(Severity::Info));
        assert_eq!(record.severity_text(), Some("INFO"));
        let trace = record.trace_context().expect("stamped with its span");
        assert_eq!(trace.trace_id, span.trace_id());
        assert_eq!(trace.span_id, span.span_id());
        assert!(record.timestamp().is_some() && record.observed_timestamp().is_some());
        assert_eq!(log.instrumentation.name(), "quickstart");
        assert_eq!(log.instrumentation.version(), Some("0.1.0"));
        let attr = |key: &str| {
            record
                .attributes_iter()
                .find(|(k, _)| k.as_str() == key)
                .map(|(_, v)| v.clone())
        };
        assert!(attr("wasmtrace.component.sha256").is_some());
        assert!(matches!(attr("wasmtrace.instance.id"), Some(AnyValue::Int(_))));
    }
    let first = &counted[0].record;
    let attr = |key: &str| {
        first
            .attributes_iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(attr("words"), Some(AnyValue::Int(3)));
    assert_eq!(attr("unique"), Some(AnyValue::Int(2)));
    let rejected: Vec<_> = logs
        .iter()
        .filter(|l| l.record.severity_number() == Some(Severity::Warn))
        .collect();
    assert_eq!(rejected.len(), 1);
    let validate = span_named("validate_request");
    assert_eq!(
        rejected[0].record.trace_context().unwrap().span_id,
        validate.last().unwrap().span_id(),
        "the WARN record belongs to the failing validation"
    );

    let metrics = p.metrics.get_finished_metrics().unwrap();
    let last = metrics.last().expect("metrics were exported");
    let scope = last
        .scope_metrics()
        .find(|s| s.scope().name() == "quickstart")
        .expect("the plugin's own scope");
    assert_eq!(scope.scope().version(), Some("0.1.0"));
    assert!(
        scope
            .scope()
            .attributes()
            .any(|kv| kv.key.as_str() == "wasmtrace.component.sha256"),
        "the meter scope names the component"
    );
    let metric = |name: &str| {
        scope
            .metrics()
            .find(|m| m.name() == name)
            .unwrap_or_else(|| panic!("no metric {name}"))
    };
    let words = metric("quickstart.words");
    assert_eq!(words.unit(), "{word}");
    let AggregatedMetrics::U64(MetricData::Sum(sum)) = words.data() else {
        panic!("quickstart.words is a u64 sum: {:?}", words.data());
    };
    assert!(sum.is_monotonic());
    let points: Vec<_> = sum.data_points().collect();
    assert_eq!(points.len(), 1, "one series");
    // Aggregated across the plugin's instances: 3 words, then 2.
    assert_eq!(points[0].value(), 5);
    let size = metric("quickstart.request.size");
    let AggregatedMetrics::U64(MetricData::Histogram(histogram)) = size.data() else {
        panic!("quickstart.request.size is a u64 histogram: {:?}", size.data());
    };
    let point = histogram.data_points().next().unwrap();
    assert_eq!(point.count(), 3);
    assert_eq!(point.sum(), 5 + 3 + 4);
    assert_eq!(point.bounds().collect::<Vec<_>>(), [16.0, 64.0, 256.0, 1024.0]);

    let stats = plugin.stats();
    assert_eq!(stats.logs(), 3);
    assert_eq!(stats.measurements(), 5);
    assert_eq!(stats.logs_dropped() + stats.measurements_dropped(), 0);
}

#[test]
fn without_log_and_meter_providers_records_are_dropped_and_counted() {
    let p = Pipelines::new();
    let runtime = Runtime::new(&p.tracer_provider, RuntimeConfig::default()).unwrap();
    let plugin = runtime.load_file(QUICKSTART.as_ref()).unwrap();
    runtime.invoke(&plugin, "a b", &Context::new()).unwrap();
    let stats = plugin.stats();
    assert_eq!(stats.logs(), 0);
    assert_eq!(stats.logs_dropped(), 1);
    // No meter: `create` is refused, and the SDK then records nothing
    // (no host call for a refused instrument).
    assert_eq!(stats.instruments_refused(), 2);
    assert_eq!(stats.measurements(), 0);
    assert!(p.logs.get_emitted_logs().unwrap().is_empty());
}
