//! Two nested spans (attributes, an event), a log record in the inner one
//! and a counter, with the OpenTelemetry SDK exporting through `wasi:otel`.

use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_wasi::{
    TraceContextPropagator, WasiLogProcessor, WasiMetricExporter, WasiPropagator as _,
    WasiSpanProcessor,
};

fn main() {
    let tracers = SdkTracerProvider::builder()
        .with_span_processor(WasiSpanProcessor::new())
        .build();
    let loggers = SdkLoggerProvider::builder()
        .with_log_processor(WasiLogProcessor::new(None))
        .build();
    let exporter = WasiMetricExporter::default();
    let meters = SdkMeterProvider::builder()
        .with_reader(exporter.clone())
        .build();
    let tracer = tracers.tracer("peer-cli");
    // The host's invocation span, as the parent of this command's spans.
    let parent = TraceContextPropagator::new().extract(&Context::new());
    let outer = tracer
        .span_builder("peer-outer")
        .with_attributes([KeyValue::new("peer.kind", "cli")])
        .start_with_context(&tracer, &parent);
    let outer = parent.with_span(outer);
    let mut inner = tracer
        .span_builder("peer-inner")
        .with_attributes([KeyValue::new("peer.count", 2i64), KeyValue::new("peer.ok", true)])
        .start_with_context(&tracer, &outer);
    inner.add_event("peer.event", vec![KeyValue::new("step", 1i64)]);
    let sc = inner.span_context().clone();
    let logger = loggers.logger("peer-cli");
    let mut record = logger.create_log_record();
    record.set_body("peer log".into());
    record.set_severity_number(Severity::Info);
    record.set_severity_text("INFO");
    record.set_trace_context(sc.trace_id(), sc.span_id(), Some(sc.trace_flags()));
    logger.emit(record);
    meters
        .meter("peer-cli")
        .u64_counter("peer.runs")
        .build()
        .add(1, &[KeyValue::new("kind", "cli")]);
    inner.end();
    outer.span().end();
    exporter.export().expect("metrics export");
}
