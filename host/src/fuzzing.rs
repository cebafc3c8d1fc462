//! Entry points for `cargo fuzz` (feature `fuzzing`): the span API driven by
//! arbitrary call sequences, as a hostile guest could drive it, without
//! wasm. Not part of the stable API.

use crate::WasmtraceCtx;
use crate::bindings::propagation::{HostContext, HostContextGuard};
use crate::bindings::tracing::{Host, HostSpan, Parent, StartOptions};
use crate::bindings::types::{KeyValue, SpanKind, Status, Value};
use crate::identity::PluginIdentity;
use crate::limits::Limits;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::Arc;
use wasmtime::component::Resource;

/// Interprets `data` as a sequence of tracing calls on one store and checks
/// the host's invariants after each: no panic, open-span accounting
/// consistent, limits held.
pub fn span_api(data: &[u8]) {
    let provider = SdkTracerProvider::builder().build();
    let identity = PluginIdentity::from_component_bytes(b"fuzz", "fuzz");
    let limits = Limits {
        max_spans: 64,
        max_open_spans: 16,
        max_depth: 8,
        max_contexts: 8,
        max_name_length: 16,
        max_attribute_value_length: 16,
        ..Limits::default()
    };
    let mut cx = WasmtraceCtx::new(&provider, &identity).with_limits(Arc::new(limits));
    // Handles the "guest" holds: reps as the component model would track them.
    let mut spans: Vec<u32> = Vec::new();
    let mut contexts: Vec<u32> = Vec::new();
    let mut guards: Vec<u32> = Vec::new();
    let mut bytes = data.iter().copied();
    let mut next = || bytes.next();
    let text = |b: u8| "ab\u{e9}".repeat(b as usize % 12);
    while let Some(op) = next() {
        let arg = next().unwrap_or(0);
        let pick = |v: &Vec<u32>| (!v.is_empty()).then(|| v[arg as usize % v.len()]);
        match op % 12 {
            0 => {
                let parent = match (arg % 3, pick(&contexts), pick(&spans)) {
                    (1, Some(c), _) => Parent::Explicit(Resource::new_borrow(c)),
                    (2, _, Some(s)) => Parent::Span(Resource::new_borrow(s)),
                    _ => Parent::Current,
                };
                let options = StartOptions {
                    kind: SpanKind::Internal,
                    attributes: vec![KeyValue {
                        key: text(arg),
                        value: Value::StringArray(vec![text(arg.wrapping_mul(7))]),
                    }],
                    links: Vec::new(),
                    parent,
                    activate: arg & 0x10 != 0,
                };
                spans.push(HostSpan::start(&mut cx, text(arg), options).rep());
            }
            1 => {
                if let Some(s) = pick(&spans) {
                    HostSpan::end(&mut cx, Resource::new_borrow(s));
                }
            }
            2 => {
                if !spans.is_empty() {
                    let s = spans.swap_remove(arg as usize % spans.len());
                    HostSpan::drop(&mut cx, Resource::new_own(s)).unwrap();
                }
            }
            3 => {
                if let Some(s) = pick(&spans) {
                    let attrs = vec![KeyValue {
                        key: text(arg),
                        value: Value::S64(arg.into()),
                    }];
                    HostSpan::set_attributes(&mut cx, Resource::new_borrow(s), attrs);
                }
            }
            4 => {
                if let Some(s) = pick(&spans) {
                    HostSpan::add_event(&mut cx, Resource::new_borrow(s), text(arg), Vec::new());
                    HostSpan::set_status(
                        &mut cx,
                        Resource::new_borrow(s),
                        Status::Error(text(arg)),
                    );
                    let _ = HostSpan::span_context(&mut cx, Resource::new_borrow(s));
                    let _ = HostSpan::is_recording(&mut cx, Resource::new_borrow(s));
                }
            }
            5 => contexts.push(HostContext::current(&mut cx).rep()),
            6 => {
                let header = format!("00-{:032x}-{:016x}-0{}", arg, arg ^ 0x5a, arg % 3);
                let carrier = vec![("traceparent".to_owned(), header)];
                contexts.push(HostContext::extract(&mut cx, carrier).rep());
            }
            7 => {
                if let Some(c) = pick(&contexts) {
                    guards.push(HostContext::attach(&mut cx, Resource::new_borrow(c)).rep());
                    let _ = HostContext::inject(&mut cx, Resource::new_borrow(c));
                }
            }
            8 => {
                if !guards.is_empty() {
                    let g = guards.swap_remove(arg as usize % guards.len());
                    HostContextGuard::drop(&mut cx, Resource::new_own(g)).unwrap();
                }
            }
            9 => {
                if !contexts.is_empty() {
                    let c = contexts.swap_remove(arg as usize % contexts.len());
                    HostContext::drop(&mut cx, Resource::new_own(c)).unwrap();
                }
            }
            10 => {
                Host::add_attributes(
                    &mut cx,
                    vec![KeyValue {
                        key: text(arg),
                        value: Value::Bool(true),
                    }],
                );
                Host::record_event(&mut cx, text(arg), Vec::new());
                let _ = Host::current_span_context(&mut cx);
            }
            _ => {
                if arg == 0xff {
                    let failure = crate::GuestFailure {
                        kind: "fuzz".into(),
                        message: text(arg),
                        backtrace: None,
                    };
                    cx.end_open_spans(&failure);
                }
            }
        }
        let open = cx.spans.iter().filter(|(_, s)| !s.ended).count();
        assert_eq!(open, cx.open_span_count(), "open-span accounting");
        assert!(open <= 16, "open-span limit");
        assert!(cx.spans.len() <= 64, "total-span limit");
        assert!(cx.contexts.len() <= 8, "context limit");
        assert!(cx.active.len() <= 8, "depth limit");
    }
}

/// Extracts a context from a carrier made of `data` (split into lines of
/// `key:value`) with W3C Trace Context and Baggage, re-injects it and checks
/// that a valid extracted `traceparent` survives the round trip.
pub fn carrier(data: &[u8]) {
    use opentelemetry::trace::TraceContextExt;
    let text = String::from_utf8_lossy(data);
    let carrier: Vec<(String, String)> = text
        .split('\n')
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let props = crate::Propagators::default();
    let extracted = props.extract(&carrier);
    let injected = props.inject(&extracted);
    let again = props.extract(&injected);
    let (a, b) = (
        extracted.span().span_context().clone(),
        again.span().span_context().clone(),
    );
    assert_eq!(a.is_valid(), b.is_valid());
    if a.is_valid() {
        assert_eq!(
            (a.trace_id(), a.span_id(), a.trace_flags()),
            (b.trace_id(), b.span_id(), b.trace_flags())
        );
        assert_eq!(a.trace_state().header(), b.trace_state().header());
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_few_sequences() {
        super::span_api(&[
            0, 0x10, 0, 0x11, 1, 0, 2, 1, 5, 0, 7, 0, 0, 1, 8, 0, 11, 0xff,
        ]);
        super::span_api(&(0..=255).collect::<Vec<u8>>());
        super::carrier(b"traceparent:00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\ntracestate:a=b\nbaggage:k=v");
        super::carrier(b"traceparent:garbage");
        // Found by the fuzzer: explicit parents restarted the depth count, so
        // the current-context stack outgrew max_depth.
        super::span_api(include_bytes!(
            "../../fuzz/corpus/span_api/regression-active-stack"
        ));
    }
}
