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

/// A chain of `n` spans, each started with an explicit parent context
/// holding the previous span and ended before the next starts (so neither
/// the open-span limit nor the activation stack sees the chain).
fn explicit_chain(n: usize) {
    let mut parent = Context::current();
    for i in 0..n {
        let span = Span::start(
            &format!("link-{i}"),
            StartOptions {
                parent: Parent::Explicit(&parent),
                ..options(&[], true)
            },
        );
        let next = Context::current();
        drop(span);
        parent = next;
    }
}

/// `value` repeated into an 4 KiB string (the default value-length limit).
fn four_kib() -> String {
    "v".repeat(4096)
}

fn handle(input: String) -> Result<String, String> {
    let (mode, arg) = input.split_once(' ').unwrap_or((input.as_str(), ""));
    match mode {
        // Finding 1: a 7,000-span chain through explicit parents.
        "explicit-chain" => explicit_chain(7_000),
        // Finding 1: nine nested self-calls, each a 2,000-span chain, the
        // next call made inside the chain's last span.
        "self-call-chain" => {
            let level: u32 = arg.parse().unwrap_or(0);
            let span = Span::start("level", options(&[], true));
            explicit_chain(2_000);
            if level < 8 {
                let _ = wasmtrace_sdk::plugins::call(
                    "hostile",
                    &format!("self-call-chain {}", level + 1),
                );
            }
            drop(span);
        }
        // Finding 2: 8 spans x 128 events x 128 attributes x 4 KiB values.
        "event-flood" => {
            let value = four_kib();
            let keys: Vec<String> = (0..128).map(|i| format!("k{i}")).collect();
            let attrs: Vec<KeyValue> = keys.iter().map(|k| kv(k, Value::String(&value))).collect();
            for s in 0..8 {
                let span = Span::start(&format!("events-{s}"), options(&[], false));
                for e in 0..128 {
                    span.add_event(&format!("e{e}"), &attrs);
                }
            }
        }
        // Finding 2: 8 spans x 128 links x 128 attributes x 4 KiB values.
        "link-flood" => {
            use wasmtrace_sdk::wit::wasmtrace::tracing::types::{Link, SpanContextParam};
            let value = four_kib();
            let keys: Vec<String> = (0..128).map(|i| format!("k{i}")).collect();
            let attrs: Vec<KeyValue> = keys.iter().map(|k| kv(k, Value::String(&value))).collect();
            let link = Link {
                span_context: SpanContextParam {
                    trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
                    span_id: "00f067aa0ba902b7",
                    trace_flags: 1,
                    trace_state: "",
                    is_remote: true,
                },
                attributes: &attrs,
            };
            let links = vec![link; 128];
            for s in 0..8 {
                drop(Span::start(
                    &format!("links-{s}"),
                    StartOptions {
                        links: &links,
                        ..options(&[], false)
                    },
                ));
            }
        }
        // Finding 2: a 30,000-element string array whose elements all point
        // at the same 4 KiB, on 8 spans.
        "array-flood" => {
            let value = four_kib();
            let elements = vec![value.as_str(); 30_000];
            let attrs = [kv("list", Value::StringArray(&elements))];
            for s in 0..8 {
                drop(Span::start(&format!("array-{s}"), options(&attrs, false)));
            }
        }
        // Finding 2: one span whose name, 128 event names and status message
        // are 8 MiB each (truncated to 256 bytes, but not released).
        "name-flood" => {
            let huge = "n".repeat(8 << 20);
            let span = Span::start(&huge, options(&[], false));
            for _ in 0..128 {
                span.add_event(&huge, &[]);
            }
            span.set_status(Status::Error(&huge));
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
                drop(Span::start(&format!("flood-{i}"), options(&[], false)));
            }
        }
        // Finding 3: burn ~900 ms, then call itself, eight levels deep.
        "call-chain-burn" => {
            let level: u32 = arg.parse().unwrap_or(0);
            let start = std::time::Instant::now();
            let mut n: u64 = 0;
            while start.elapsed() < std::time::Duration::from_millis(900) {
                n = std::hint::black_box(n.wrapping_add(1));
            }
            if level < 8 {
                wasmtrace_sdk::plugins::call("hostile", &format!("call-chain-burn {}", level + 1))?;
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
                let span = Span::start(name, options(&[], false));
                span.set_status(first);
                span.set_status(second);
            }
        }
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
        "ok" => return Ok("ok".to_owned()),
        other => return Err(format!("unknown mode {other:?}")),
    }
    Ok("survived".to_owned())
}

wasmtrace_sdk::plugin!(handle);
