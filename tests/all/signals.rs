//! Logs and metrics from a wasmtrace-SDK plugin (`plugins/quickstart`):
//! log records under the span that was current, metrics aggregated per
//! plugin with its identity, and what a plugin gets wrong counted, never
//! trapping.

use opentelemetry::Context;
use opentelemetry::logs::AnyValue;
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use std::time::Duration;
use wasmtrace::{Providers, Runtime, RuntimeConfig};
use wasmtrace_test_artifacts::QUICKSTART;
use wasmtrace_test_support::{
    AttrValue, OtlpReceiver, ReceivedLog, ReceivedMetricPoint, ReceivedSpan, Rotel, Transport,
};

use crate::cli::{stderr, wasmtrace};
use crate::sdk_common::{
    assert_quickstart_logs, assert_quickstart_metrics, log_attr, run_quickstart,
};

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
    let (_runtime, plugin) = run_quickstart(&p, QUICKSTART.as_ref());
    for (log, span) in assert_quickstart_logs(&p, "quickstart") {
        let record = &log.record;
        assert_eq!(record.severity_text(), Some("INFO"));
        let trace = record.trace_context().expect("stamped with its span");
        assert_eq!(trace.trace_id, span.trace_id());
        assert!(record.timestamp().is_some() && record.observed_timestamp().is_some());
        assert!(log_attr(record, "wasmtrace.component.sha256").is_some());
        assert!(matches!(
            log_attr(record, "wasmtrace.instance.id"),
            Some(AnyValue::Int(_))
        ));
    }

    let metrics = p.metrics.get_finished_metrics().unwrap();
    let scope = assert_quickstart_metrics(&metrics, "quickstart");
    assert!(
        scope
            .scope()
            .attributes()
            .any(|kv| kv.key.as_str() == "wasmtrace.component.sha256"),
        "the meter scope names the component"
    );

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

/// Checks what a real receiver got of one quickstart run (`a b a`): the log
/// record under `process_business_logic` with its trace and span ids and
/// the plugin's identity, and the plugin's metrics under its own scope.
fn assert_quickstart_signals(
    spans: &[ReceivedSpan],
    logs: &[ReceivedLog],
    metrics: &[ReceivedMetricPoint],
) {
    let process = spans
        .iter()
        .find(|s| s.name == "process_business_logic")
        .expect("the span the record belongs to");
    let log = logs
        .iter()
        .find(|l| l.body == "counted the words")
        .unwrap_or_else(|| panic!("no `counted the words` record in {logs:#?}"));
    assert_eq!(log.trace_id, process.trace_id);
    assert_eq!(log.span_id, process.span_id);
    assert_eq!(
        (log.severity_number, log.severity_text.as_str()),
        (9, "INFO")
    );
    assert_eq!(log.attr("words"), Some(&AttrValue::Int(3)));
    assert_eq!(log.scope, ("quickstart".to_owned(), "0.1.0".to_owned()));
    assert!(log.attr("wasmtrace.component.sha256").is_some());
    assert!(log.times.0 > 0 && log.times.1 > 0);
    let words = metrics
        .iter()
        .rfind(|p| p.name == "quickstart.words")
        .unwrap_or_else(|| panic!("no quickstart.words in {metrics:#?}"));
    assert_eq!(
        (words.scope.as_str(), words.scope_version.as_str()),
        ("quickstart", "0.1.0")
    );
    assert!(
        words
            .scope_attributes
            .contains_key("wasmtrace.component.sha256")
    );
    assert!(words.monotonic && words.is_int);
    assert_eq!(words.value, 3.0);
    assert_eq!(words.unit, "{word}");
    assert_eq!(words.temporality, 2, "cumulative by default");
    let size = metrics
        .iter()
        .rfind(|p| p.name == "quickstart.request.size")
        .expect("the request size histogram");
    assert_eq!(size.histogram.as_ref().map(|h| h.0), Some(1));
    assert_eq!(size.value, 5.0);
}

/// Waits for a quickstart run's spans, log record and metrics.
fn received(
    rx: &OtlpReceiver,
) -> (
    Vec<ReceivedSpan>,
    Vec<ReceivedLog>,
    Vec<ReceivedMetricPoint>,
) {
    let wait = Duration::from_secs(20);
    let spans = rx.wait_for_span_count(5, wait).unwrap();
    let logs = rx.wait_for_logs(|l| !l.is_empty(), wait).unwrap();
    let metrics = rx
        .wait_for_metrics(|m| m.iter().any(|p| p.name == "quickstart.words"), wait)
        .unwrap();
    (spans, logs, metrics)
}

#[test]
fn cli_logs_and_metrics_arrive_over_otlp_grpc_and_http() {
    for transport in [Transport::Grpc, Transport::HttpProtobuf] {
        let rx = OtlpReceiver::start().unwrap();
        let out = wasmtrace(
            &["run", QUICKSTART, "--input", "a b a"],
            &rx.exporter_env(transport),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let (spans, logs, metrics) = received(&rx);
        assert_quickstart_signals(&spans, &logs, &metrics);
    }
}

#[test]
fn cli_logs_and_metrics_through_a_real_collector_rotel() {
    let rx = OtlpReceiver::start().unwrap();
    let rotel = Rotel::start_forwarding_to(&rx).unwrap();
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", rotel.grpc_endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
    ];
    let out = wasmtrace(&["run", QUICKSTART, "--input", "a b a"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let (spans, logs, metrics) = received(&rx);
    assert_quickstart_signals(&spans, &logs, &metrics);
}

#[test]
fn cli_signal_exporters_follow_their_variables() {
    let rx = OtlpReceiver::start().unwrap();
    let mut env = rx.exporter_env(Transport::Grpc);
    env.push(("OTEL_LOGS_EXPORTER", "none".to_owned()));
    env.push((
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "delta".to_owned(),
    ));
    let out = wasmtrace(&["run", QUICKSTART, "--input", "a b a"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let metrics = rx
        .wait_for_metrics(
            |m| m.iter().any(|p| p.name == "quickstart.words"),
            Duration::from_secs(20),
        )
        .unwrap();
    let words = metrics
        .iter()
        .find(|p| p.name == "quickstart.words")
        .unwrap();
    assert_eq!(words.temporality, 1, "delta, as asked");
    assert!(
        rx.logs().is_empty(),
        "OTEL_LOGS_EXPORTER=none: {:?}",
        rx.logs()
    );
    for (var, value) in [
        ("OTEL_LOGS_EXPORTER", "zipkin"),
        // Log records are drawn in their trace: not without the traces.
        ("OTEL_LOGS_EXPORTER", "console"),
        ("OTEL_METRICS_EXPORTER", "prometheus"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            "sometimes",
        ),
    ] {
        // Over OTLP, so that the temporality (an OTLP exporter setting) is read.
        let mut env = rx.exporter_env(Transport::Grpc);
        env.push((var, value.to_owned()));
        let out = wasmtrace(&["run", QUICKSTART], &env);
        assert!(!out.status.success(), "{var}={value} was accepted");
        let err = stderr(&out);
        assert!(err.contains(var) && err.contains(value), "{var}: {err}");
    }
}

#[test]
fn the_console_draws_log_records_under_their_span_and_prints_the_metrics() {
    let out = wasmtrace(
        &["run", "--console", "tree", QUICKSTART, "--input", "a b a"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    let process = lines
        .iter()
        .position(|l| l.contains("process_business_logic"))
        .expect("the span");
    let record = lines
        .iter()
        .position(|l| l.contains("▪ INFO \"counted the words\""))
        .unwrap_or_else(|| panic!("no log record in\n{err}"));
    let next_span = lines
        .iter()
        .position(|l| l.contains("send_response"))
        .expect("the next span");
    assert!(process < record && record < next_span, "{err}");
    assert!(lines[record].contains("words=3  unique=2"), "{err}");
    assert!(err.contains("metrics of quickstart@0.1.0"), "{err}");
    assert!(
        err.contains("quickstart.words (counter) [{word}] {processing_status=completed} = 3"),
        "{err}"
    );
    assert!(err.contains("1 log record; 2 measurements"), "{err}");
}

#[test]
fn export_json_holds_the_log_records_and_view_draws_them() {
    let dir = std::env::temp_dir().join(format!("wasmtrace-signals-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("run.json");
    let path = file.to_str().unwrap();
    let out = wasmtrace(
        &["run", "--export-json", path, QUICKSTART, "--input", "a b a"],
        &[("OTEL_TRACES_EXPORTER", "none".to_owned())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("{\"resourceLogs\"")),
        "{text}"
    );
    let view = wasmtrace(&["view", "--format", "tree", path], &[]);
    assert!(view.status.success(), "{}", stderr(&view));
    let drawn = String::from_utf8_lossy(&view.stdout);
    assert!(drawn.contains("▪ INFO \"counted the words\""), "{drawn}");
}
