//! A hostile test guest: each input abuses the tracing API one way, through
//! the raw WIT bindings where the SDK would not allow the misuse. The host
//! must survive all of it without trapping (DESIGN.md §7).

use wasmtrace_sdk::wit::wasmtrace::tracing::propagation::Context;
use wasmtrace_sdk::wit::wasmtrace::tracing::tracing::{Parent, Span, StartOptions};
use wasmtrace_sdk::wit::wasmtrace::tracing::types::{KeyValue, SpanKind, Status, Value};

fn options<'a>(attributes: &'a [KeyValue<'a>], activate: bool) -> StartOptions<'a> {
    StartOptions {
        kind: SpanKind::Internal,
        attributes,
        links: &[],
        parent: Parent::Current,
        activate,
    }
}

fn kv<'a>(key: &'a str, value: Value<'a>) -> KeyValue<'a> {
    KeyValue { key, value }
}

fn handle(input: String) -> Result<String, String> {
    match input.as_str() {
        // 100k spans, all ended: the total-span limit must cap them.
        "span-bomb" => {
            for i in 0..100_000 {
                drop(Span::start(&format!("bomb-{i}"), options(&[], false)));
            }
        }
        // 100k spans kept open: the open-span limit must cap them.
        "open-bomb" => {
            let open: Vec<Span> = (0..100_000)
                .map(|_| Span::start("open", options(&[], false)))
                .collect();
            std::hint::black_box(&open);
        }
        // 10k attributes on one span, at start and later.
        "attribute-bomb" => {
            let keys: Vec<String> = (0..10_000).map(|i| format!("k{i}")).collect();
            let attrs: Vec<KeyValue> = (0..)
                .zip(&keys)
                .map(|(i, key)| kv(key, Value::S64(i)))
                .collect();
            let span = Span::start("attrs", options(&attrs, true));
            for i in 0..10_000 {
                span.set_attributes(&[kv(&format!("late{i}"), Value::Bool(true))]);
                span.add_event(&format!("event{i}"), &[]);
            }
            // Reserved keys must not override the host's.
            span.set_attributes(&[
                kv("service.name", Value::String("evil")),
                kv("wasmtrace.instance.id", Value::String("forged")),
            ]);
        }
        // Megabyte names, keys and values.
        "huge-strings" => {
            let huge = "x".repeat(1 << 20);
            let list = [huge.as_str(), huge.as_str()];
            let attrs = [
                kv(&huge, Value::String(&huge)),
                kv("list", Value::StringArray(&list)),
            ];
            let span = Span::start(&huge, options(&attrs, true));
            span.add_event(&huge, &[kv("v", Value::String(&huge))]);
            span.set_status(Status::Error(&huge));
            span.record_exception(&huge, &huge, Some(&huge));
        }
        // 10k nested active spans.
        "deep-nesting" => {
            let spans: Vec<Span> = (0..10_000)
                .map(|i| Span::start(&format!("d{i}"), options(&[], true)))
                .collect();
            drop(spans); // parents end before their children
        }
        // End twice, use after end, end a parent before its child.
        "double-end" | "use-after-end" => {
            let parent = Span::start("parent", options(&[], true));
            let child = Span::start("child", options(&[], true));
            parent.end();
            parent.end();
            parent.set_attributes(&[kv("after", Value::Bool(true))]);
            parent.add_event("after", &[]);
            parent.set_status(Status::Ok);
            parent.record_exception("t", "m", None);
            let still = parent.is_recording();
            child.end();
            child.end();
            // A new span after misuse still nests correctly (under the
            // invocation, since both are ended).
            drop(Span::start("after-misuse", options(&[], false)));
            drop(Span::start(
                "child-of-ended",
                StartOptions {
                    parent: Parent::Span(&parent),
                    ..options(&[], false)
                },
            ));
            return Ok(format!("recording after end: {still}"));
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
                let cx = Context::extract(&pairs);
                let _ = cx.inject();
                let sc = cx.span_context();
                let _guard = cx.attach();
                let attrs = [kv("remote", Value::Bool(sc.is_remote))];
                drop(Span::start(
                    "from-garbage",
                    StartOptions {
                        parent: Parent::Explicit(&cx),
                        ..options(&attrs, false)
                    },
                ));
            }
        }
        // Context handles and attachments without end.
        "context-bomb" => {
            // (Wasmtime bounds the guest's own handle table too; stay below it
            // so that what is tested here is the host's limit.)
            let contexts: Vec<Context> = (0..5_000).map(|_| Context::current()).collect();
            let guards: Vec<_> = contexts.iter().take(2_000).map(Context::attach).collect();
            // Attached contexts count towards the depth limit: once they are
            // released, spans nest again.
            drop(guards);
            drop(Span::start("after-context-bomb", options(&[], false)));
            std::hint::black_box(&contexts);
        }
        other => return Err(format!("unknown mode {other:?}")),
    }
    Ok("survived".to_owned())
}

wasmtrace_sdk::plugin!(handle);
