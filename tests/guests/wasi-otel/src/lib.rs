//! Raw `wasi:otel` bindings: what an OpenTelemetry SDK in the guest would
//! send, written out by hand so that each test knows exactly what the host
//! was told.
//!
//! Inputs: anything else → two nested spans (attributes, an event, a link),
//! a log record in the inner one, a counter; `trap` → starts a span and
//! traps inside it; `foreign` → spans claiming someone else's trace and an
//! unknown parent, a zero id, and a span ended twice; `span N` → N spans
//! with two attributes (a string and an int), for the `boundary` bench.

wit_bindgen::generate!({
    inline: "
        package test:wasi-otel;
        world guest {
            import wasi:otel/tracing@0.2.0-rc.2;
            import wasi:otel/logs@0.2.0-rc.2;
            import wasi:otel/metrics@0.2.0-rc.2;
            export wasmtrace:plugin/handler@0.2.0;
        }
    ",
    path: "../../../wit",
    world: "test:wasi-otel/guest",
    generate_all,
});

use exports::wasmtrace::plugin::handler::Guest;
use wasi::clocks::wall_clock::{Datetime, now};
use wasi::otel::logs::{LogRecord, on_emit};
use wasi::otel::metrics::{
    Metric, MetricData, MetricNumber, ResourceMetrics, ScopeMetrics, Sum, SumDataPoint,
    Temporality, export,
};
use wasi::otel::tracing::{
    Event, Link, SpanContext, SpanData, SpanKind, Status, TraceFlags, on_end, on_start,
    outer_span_context,
};
use wasi::otel::types::{InstrumentationScope, KeyValue, Resource};

/// A trace id no invocation has: what a guest that ignores the host's
/// context would claim.
const FOREIGN_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

fn kv(key: &str, json: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: json.into(),
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "raw-wasi-otel".into(),
        version: Some("9.9.9".into()),
        schema_url: None,
        attributes: vec![],
    }
}

/// The `n`th span id of this invocation: unique within it, derived from
/// the trace id (the guest has no randomness it needs for a test).
fn span_id(trace_id: &str, n: u64) -> String {
    let low = u64::from_str_radix(&trace_id[16..], 16).unwrap_or(1);
    format!(
        "{:016x}",
        low.rotate_left(17) ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    )
}

fn context(trace_id: &str, span_id: String) -> SpanContext {
    SpanContext {
        trace_id: trace_id.into(),
        span_id,
        trace_flags: TraceFlags::SAMPLED,
        is_remote: false,
        trace_state: vec![],
    }
}

fn span(context: SpanContext, parent: &str, name: &str, start: Datetime) -> SpanData {
    SpanData {
        span_context: context,
        parent_span_id: parent.into(),
        span_kind: SpanKind::Internal,
        name: name.into(),
        start_time: start,
        end_time: now(),
        attributes: vec![],
        events: vec![],
        links: vec![],
        status: Status::Unset,
        instrumentation_scope: scope(),
        dropped_attributes: 0,
        dropped_events: 0,
        dropped_links: 0,
    }
}

struct Raw;

impl Guest for Raw {
    fn handle(input: String) -> Result<String, String> {
        let outer = outer_span_context();
        let trace = outer.trace_id.clone();
        if let Some(n) = input.strip_prefix("span ") {
            let n: u64 = n.parse().map_err(|_| format!("bad count {n:?}"))?;
            for i in 0..n {
                let context = context(&trace, span_id(&trace, 16 + i));
                on_start(&context);
                let start = now();
                let mut bench = span(context, &outer.span_id, "bench", start);
                bench.attributes = vec![
                    kv("http.route", "\"/users/{id}\""),
                    kv("http.response.status_code", "200"),
                ];
                on_end(&bench);
            }
            return Ok(n.to_string());
        }
        match input.as_str() {
            "trap" => {
                on_start(&context(&trace, span_id(&trace, 1)));
                panic!("the guest failed inside a wasi:otel span");
            }
            "foreign" => {
                // Someone else's trace, a parent nobody started.
                let claimed = context(FOREIGN_TRACE, span_id(&trace, 2));
                on_start(&claimed);
                on_end(&span(claimed.clone(), "b7ad6b7169203331", "foreign", now()));
                // Ended again: a duplicate.
                on_end(&span(claimed, "", "foreign-again", now()));
                // A zero id.
                on_end(&span(context(&trace, "0".repeat(16)), "", "zero", now()));
                Ok("foreign".into())
            }
            _ => {
                let outer_ctx = context(&trace, span_id(&trace, 3));
                on_start(&outer_ctx);
                let outer_start = now();
                let inner_ctx = context(&trace, span_id(&trace, 4));
                on_start(&inner_ctx);
                let inner_start = now();
                on_emit(&LogRecord {
                    timestamp: Some(now()),
                    observed_timestamp: None,
                    severity_text: Some("INFO".into()),
                    severity_number: Some(9),
                    body: Some("\"processing the request\"".into()),
                    attributes: Some(vec![kv("input.length", &input.len().to_string())]),
                    event_name: None,
                    resource: None,
                    instrumentation_scope: Some(scope()),
                    trace_id: Some(trace.clone()),
                    span_id: Some(inner_ctx.span_id.clone()),
                    trace_flags: Some(TraceFlags::SAMPLED),
                });
                let event_time = now();
                let mut inner = span(inner_ctx, &outer_ctx.span_id, "otel-inner", inner_start);
                inner.attributes = vec![
                    kv("http.route", "\"/items/{id}\""),
                    kv("item.count", "3"),
                    kv("wasmtrace.instance.id", "1"),
                ];
                inner.events = vec![Event {
                    name: "cache.miss".into(),
                    time: event_time,
                    attributes: vec![kv("cache.key", "\"item-7\"")],
                }];
                inner.links = vec![Link {
                    span_context: outer.clone(),
                    attributes: vec![kv("link.reason", "\"caller\"")],
                }];
                inner.status = Status::Error("item 7 is missing".into());
                on_end(&inner);
                let mut root = span(outer_ctx, &outer.span_id, "otel-outer", outer_start);
                root.span_kind = SpanKind::Server;
                root.attributes = vec![kv("plugin.input", &format!("{input:?}"))];
                on_end(&root);
                let start = now();
                export(&ResourceMetrics {
                    resource: Resource {
                        attributes: vec![kv("service.name", "\"guest-claims\"")],
                        schema_url: None,
                    },
                    scope_metrics: vec![ScopeMetrics {
                        scope: scope(),
                        metrics: vec![Metric {
                            name: "otel.requests".into(),
                            description: "Requests handled".into(),
                            unit: "{request}".into(),
                            data: MetricData::U64Sum(Sum {
                                data_points: vec![SumDataPoint {
                                    attributes: vec![kv("route", "\"/items/{id}\"")],
                                    value: MetricNumber::U64(1),
                                    exemplars: vec![],
                                }],
                                start_time: start,
                                time: now(),
                                temporality: Temporality::Cumulative,
                                is_monotonic: true,
                            }),
                        }],
                    }],
                })?;
                Ok(format!("otel:{input}"))
            }
        }
    }
}

export!(Raw);
