//! A hostile test guest: each mode abuses the telemetry API one way, through
//! the raw WIT bindings as an attacker outside this repository would. The
//! host must survive all of it without trapping (docs/DESIGN.md §7), under
//! `wasmtrace run` (the handler, `MODE [ARG]`) and under `wasmtrace serve`
//! (`wasi:http`, `GET /MODE?ARG`, answered 200 with the result, 500 with an
//! error).

use wasmtrace_sdk::wit::wasmtrace::telemetry::logs::{self, LogRecord};
use wasmtrace_sdk::wit::wasmtrace::telemetry::metrics::{
    self, InstrumentInfo, InstrumentKind, Number,
};
use wasmtrace_sdk::wit::wasmtrace::telemetry::propagation;
use wasmtrace_sdk::wit::wasmtrace::telemetry::tracing::{self, Link, SpanKind, Status};
use wasmtrace_sdk::wit::wasmtrace::telemetry::types::{
    KeyValue, SpanContextParam, TraceFlags, Value,
};

/// The invocation's context.
const INVOCATION: u32 = 0;

fn start(parent: u32, name: &str, attributes: &[KeyValue<'_>], activate: bool) -> u32 {
    tracing::start(parent, name, SpanKind::Internal, attributes, &[], activate)
}

fn kv<'a>(key: &'a str, value: Value<'a>) -> KeyValue<'a> {
    KeyValue { key, value }
}

/// A chain of `n` spans, each started with the previous one as its
/// explicit parent and ended before the next starts (so neither the
/// open-span limit nor the host's current-context stack sees the chain).
fn explicit_chain(parent: u32, n: usize) -> u32 {
    let mut parent = parent;
    for i in 0..n {
        let span = start(parent, &format!("link-{i}"), &[], false);
        tracing::end(span);
        if span != u32::MAX {
            parent = span;
        }
    }
    parent
}

/// A 4 KiB string (the default value-length limit).
fn four_kib() -> String {
    "v".repeat(4096)
}

/// A traceparent the host accepts, so that `extract` makes a context.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn run(mode: &str, arg: &str) -> Result<String, String> {
    match mode {
        // 100k spans, all ended: the total-span budget must cap them.
        "span-bomb" => {
            for i in 0..100_000 {
                tracing::end(start(INVOCATION, &format!("bomb-{i}"), &[], false));
            }
        }
        // 100k spans kept open: the open-span limit must cap them.
        "open-bomb" => {
            for _ in 0..100_000 {
                start(INVOCATION, "open", &[], false);
            }
        }
        // 10k attributes on one span, at start and later; 10k events.
        "attribute-bomb" => {
            let keys: Vec<String> = (0..10_000).map(|i| format!("k{i}")).collect();
            let attrs: Vec<KeyValue> = (0..)
                .zip(&keys)
                .map(|(i, key)| kv(key, Value::S64(i)))
                .collect();
            let span = start(INVOCATION, "attrs", &attrs, true);
            for i in 0..10_000 {
                tracing::set_attributes(span, &[kv(&format!("late{i}"), Value::Bool(true))]);
                tracing::add_event(span, &format!("event{i}"), &[]);
            }
            // Reserved keys must not override the host's.
            tracing::set_attributes(
                span,
                &[
                    kv("service.name", Value::String("evil")),
                    kv("wasmtrace.instance.id", Value::String("forged")),
                ],
            );
            tracing::end(span);
        }
        // Megabyte names, keys and values.
        "huge-strings" => {
            let huge = "x".repeat(1 << 20);
            let list = [huge.as_str(), huge.as_str()];
            let attrs = [
                kv(&huge, Value::String(&huge)),
                kv("list", Value::StringArray(&list)),
            ];
            let span = start(INVOCATION, &huge, &attrs, true);
            tracing::add_event(span, &huge, &[kv("v", Value::String(&huge))]);
            tracing::set_status(span, Status::Error(&huge));
            tracing::record_exception(span, &huge, &huge, Some(&huge));
            tracing::update_name(span, &huge);
            tracing::end(span);
        }
        // 10k nested active spans, ended parents first.
        "deep-nesting" => {
            let mut parent = INVOCATION;
            let mut spans = Vec::new();
            for i in 0..10_000 {
                let span = start(parent, &format!("d{i}"), &[], true);
                if span != u32::MAX {
                    parent = span;
                }
                spans.push(span);
            }
            for span in spans {
                tracing::end(span);
            }
        }
        // End twice, use after end, end a parent before its child.
        "double-end" => {
            let parent = start(INVOCATION, "parent", &[], true);
            let child = start(parent, "child", &[], true);
            tracing::end(parent);
            tracing::end(parent);
            tracing::set_attributes(parent, &[kv("after", Value::Bool(true))]);
            tracing::add_event(parent, "after", &[]);
            tracing::set_status(parent, Status::Ok);
            tracing::record_exception(parent, "t", "m", None);
            let still = tracing::is_recording(parent);
            tracing::end(child);
            tracing::end(child);
            // A new span after misuse nests under what is current: the
            // invocation, since both are ended.
            tracing::end(start(propagation::current(), "after-misuse", &[], false));
            // An ended span can still be named as a parent.
            tracing::end(start(parent, "child-of-ended", &[], false));
            return Ok(format!("recording after end: {still}"));
        }
        // Handles the host never gave: no-ops, and as parents the current
        // context.
        "forged-handles" => {
            let outer = start(INVOCATION, "outer", &[], true);
            for forged in [
                7_777,
                1 << 31,
                (1 << 31) | 0x0001_0003,
                u32::MAX - 1,
                u32::MAX,
            ] {
                tracing::end(forged);
                tracing::set_attributes(forged, &[kv("forged", Value::Bool(true))]);
                tracing::add_event(forged, "forged", &[]);
                tracing::set_status(forged, Status::Error("forged"));
                let _ = tracing::is_recording(forged);
                let _ = propagation::span_context_of(forged);
                let _ = propagation::inject(forged);
                let _ = propagation::baggage(forged);
                propagation::release(forged);
                propagation::detach(forged);
                tracing::end(start(forged, "under-forged", &[], false));
            }
            tracing::end(outer);
        }
        // Malformed carriers: ignored, never a failure.
        "garbage-carriers" => {
            let carriers: Vec<Vec<(String, String)>> = vec![
                vec![("traceparent".into(), "garbage".into())],
                vec![(
                    "traceparent".into(),
                    "00-00000000000000000000000000000000-0000000000000000-01".into(),
                )],
                vec![(
                    "traceparent".into(),
                    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
                )],
                vec![("traceparent".into(), "\u{0}\u{ffff}".repeat(10_000))],
                vec![("tracestate".into(), ",,,=,=,".repeat(10_000))],
                vec![("baggage".into(), "%%%;;;=,=".repeat(10_000))],
                (0..10_000)
                    .map(|i| (format!("k{i}"), "v".to_string()))
                    .collect(),
            ];
            for carrier in carriers {
                let pairs: Vec<(&str, &str)> = carrier
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let cx = propagation::extract(&pairs);
                let _ = propagation::inject(cx);
                let sc = propagation::span_context_of(cx);
                propagation::attach(cx);
                let attrs = [kv("remote", Value::Bool(sc.is_remote))];
                tracing::end(start(cx, "from-garbage", &attrs, false));
                propagation::detach(cx);
                propagation::release(cx);
            }
        }
        // Context handles and attachments without end.
        "context-bomb" => {
            let traceparent = [("traceparent", TRACEPARENT)];
            let contexts: Vec<u32> = (0..5_000)
                .map(|_| propagation::extract(&traceparent))
                .collect();
            for &cx in contexts.iter().take(2_000) {
                propagation::attach(cx);
            }
            // Attached contexts count towards the depth limit: once they are
            // detached, spans nest again.
            for &cx in contexts.iter().take(2_000).rev() {
                propagation::detach(cx);
            }
            tracing::end(start(
                propagation::current(),
                "after-context-bomb",
                &[],
                false,
            ));
        }
        // Finding 1: a 7,000-span chain through explicit parents.
        "explicit-chain" => {
            explicit_chain(INVOCATION, 7_000);
        }
        // Finding 1: nine nested self-calls, each a 2,000-span chain, the
        // next call made under the chain's last span.
        "self-call-chain" => {
            let level: u32 = arg.parse().unwrap_or(0);
            let last = explicit_chain(INVOCATION, 2_000);
            if level < 8 {
                let _ = wasmtrace_sdk::wit::wasmtrace::plugin::calls::call(
                    last,
                    "hostile",
                    &format!("self-call-chain {}", level + 1),
                );
            }
        }
        // Finding 2: 8 spans x 128 events x 128 attributes x 4 KiB values.
        "event-flood" => {
            let value = four_kib();
            let keys: Vec<String> = (0..128).map(|i| format!("k{i}")).collect();
            let attrs: Vec<KeyValue> = keys.iter().map(|k| kv(k, Value::String(&value))).collect();
            for s in 0..8 {
                let span = start(INVOCATION, &format!("events-{s}"), &[], false);
                for e in 0..128 {
                    tracing::add_event(span, &format!("e{e}"), &attrs);
                }
                tracing::end(span);
            }
        }
        // Finding 2: 8 spans x 128 links x 128 attributes x 4 KiB values.
        "link-flood" => {
            let value = four_kib();
            let keys: Vec<String> = (0..128).map(|i| format!("k{i}")).collect();
            let attrs: Vec<KeyValue> = keys.iter().map(|k| kv(k, Value::String(&value))).collect();
            let link = Link {
                span_context: SpanContextParam {
                    trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
                    span_id: "00f067aa0ba902b7",
                    trace_flags: TraceFlags::SAMPLED,
                    trace_state: "",
                    is_remote: true,
                },
                attributes: &attrs,
            };
            let links = vec![link; 128];
            for s in 0..8 {
                let span = tracing::start(
                    INVOCATION,
                    &format!("links-{s}"),
                    SpanKind::Internal,
                    &[],
                    &links,
                    false,
                );
                tracing::end(span);
            }
        }
        // Finding 2: a 30,000-element string array whose elements all point
        // at the same 4 KiB, on 8 spans.
        "array-flood" => {
            let value = four_kib();
            let elements = vec![value.as_str(); 30_000];
            let attrs = [kv("list", Value::StringArray(&elements))];
            for s in 0..8 {
                tracing::end(start(INVOCATION, &format!("array-{s}"), &attrs, false));
            }
        }
        // Finding 2: one span whose name, 128 event names and status message
        // are 8 MiB each.
        "name-flood" => {
            let huge = "n".repeat(8 << 20);
            let span = start(INVOCATION, &huge, &[], false);
            for _ in 0..128 {
                tracing::add_event(span, &huge, &[]);
            }
            tracing::set_status(span, Status::Error(&huge));
            tracing::end(span);
        }
        // Finding 2: a 100 MiB handler error.
        "huge-error" => return Err("e".repeat(100 << 20)),
        // Finding 3: 100 self-calls, each recording 10,000 spans.
        "call-fanout" => {
            for _ in 0..100 {
                let _ = wasmtrace_sdk::plugins::call("hostile", "span-flood");
            }
        }
        // Finding 4: 10,000 spans, the default `max_spans`.
        "span-flood" => {
            for i in 0..10_000 {
                tracing::end(start(INVOCATION, &format!("flood-{i}"), &[], false));
            }
        }
        // Finding 3: burn ~900 ms, then call itself, eight levels deep.
        "call-chain-burn" => {
            let level: u32 = arg.parse().unwrap_or(0);
            let started = std::time::Instant::now();
            let mut n: u64 = 0;
            while started.elapsed() < std::time::Duration::from_millis(900) {
                n = std::hint::black_box(n.wrapping_add(1));
            }
            if level < 8 {
                wasmtrace_sdk::plugins::call("hostile", &format!("call-chain-burn {}", level + 1))
                    .map_err(|e| e.to_string())?;
            }
        }
        // Finding 3: 20 calls that each spin until their fuel runs out.
        "call-fuel" => {
            for _ in 0..20 {
                let _ = wasmtrace_sdk::plugins::call("hostile", "spin");
            }
        }
        "spin" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        // Finding 5: status changes in every order.
        "status-order" => {
            for (name, first, second) in [
                ("error-then-ok", Status::Error("x"), Status::Ok),
                ("ok-then-error", Status::Ok, Status::Error("x")),
                ("error-then-error", Status::Error("b"), Status::Error("a")),
                ("error-then-unset", Status::Error("b"), Status::Unset),
            ] {
                let span = start(INVOCATION, name, &[], false);
                tracing::set_status(span, first);
                tracing::set_status(span, second);
                tracing::end(span);
            }
        }
        // A well-behaved request: what every hostile one is followed by.
        // 100k log records, each with a 4 KiB body and 128 attributes: the
        // log and byte budgets must cap them.
        "log-flood" => {
            let body = four_kib();
            let attributes: Vec<_> = (0..128).map(|_| kv("k", Value::S64(1))).collect();
            for _ in 0..100_000 {
                logs::emit(
                    INVOCATION,
                    LogRecord {
                        severity_number: 200,
                        severity_text: Some(&body),
                        body: Some(Value::String(&body)),
                        attributes: &attributes,
                        event_name: Some(&body),
                    },
                );
            }
        }
        // 10k instruments, then names the host must refuse, then a name
        // reused with another kind; returns how many were refused.
        "instrument-flood" => {
            fn info(name: &str, kind: InstrumentKind) -> InstrumentInfo<'_> {
                InstrumentInfo {
                    name,
                    kind,
                    float: false,
                    unit: "",
                    description: "",
                    boundaries: None,
                }
            }
            let refused = |handle: u32| u32::from(handle == u32::MAX);
            let mut n = 0;
            for i in 0..10_000 {
                let name = format!("flood.{i}");
                n += refused(metrics::create(info(&name, InstrumentKind::Counter)));
            }
            for bad in ["", "9lives", "has space", "\u{e9}t\u{e9}"] {
                n += refused(metrics::create(info(bad, InstrumentKind::Gauge)));
            }
            let bounds = [2.0, 1.0];
            let mut backwards = info("backwards", InstrumentKind::Histogram);
            backwards.boundaries = Some(&bounds);
            n += refused(metrics::create(backwards));
            n += refused(metrics::create(info("flood.0", InstrumentKind::Gauge)));
            return Ok(n.to_string());
        }
        // 100k series on one counter, and measurements it cannot take.
        "series-flood" => {
            let counter = metrics::create(InstrumentInfo {
                name: "series",
                kind: InstrumentKind::Counter,
                float: false,
                unit: "",
                description: "",
                boundaries: None,
            });
            for i in 0..100_000 {
                let id = i.to_string();
                metrics::record(counter, Number::S64(1), &[kv("id", Value::String(&id))]);
            }
            metrics::record(counter, Number::S64(-1), &[]);
            metrics::record(counter, Number::F64(f64::NAN), &[]);
            metrics::record(counter, Number::F64(0.5), &[]);
            metrics::record(u32::MAX, Number::S64(1), &[]);
            metrics::record(12345, Number::S64(1), &[]);
        }
        "ok" => return Ok("ok".to_owned()),
        other => return Err(format!("unknown mode {other:?}")),
    }
    Ok("survived".to_owned())
}

fn handle(input: String) -> Result<String, String> {
    let (mode, arg) = input.split_once(' ').unwrap_or((input.as_str(), ""));
    run(mode, arg)
}

wasmtrace_sdk::plugin!(handle);

/// The same modes over `wasi:http`, for `wasmtrace serve`.
struct Served;

wasi::http::proxy::export!(Served);

impl wasi::exports::http::incoming_handler::Guest for Served {
    fn handle(
        request: wasi::http::types::IncomingRequest,
        response_out: wasi::http::types::ResponseOutparam,
    ) {
        use wasi::http::types::{Fields, OutgoingBody, OutgoingResponse};
        let path = request.path_with_query().unwrap_or_default();
        let path = path.trim_start_matches('/');
        let (mode, arg) = path.split_once('?').unwrap_or((path, ""));
        let (status, body) = match run(mode, arg) {
            Ok(output) => (200, output),
            // The body says how long the error was, not all of it.
            Err(e) => (500, format!("error of {} bytes", e.len())),
        };
        let response = OutgoingResponse::new(Fields::new());
        let _ = response.set_status_code(status);
        let Ok(out) = response.body() else { return };
        wasi::http::types::ResponseOutparam::set(response_out, Ok(response));
        if let Ok(stream) = out.write() {
            let _ = stream.blocking_write_and_flush(body.as_bytes());
        }
        let _ = OutgoingBody::finish(out, None);
    }
}
