//! Entry points for `cargo fuzz` (feature `fuzzing`): the span API driven by
//! arbitrary call sequences, as a hostile guest could drive it, without
//! wasm. Not part of the stable API.

use crate::WasmtraceCtx;
use crate::bindings::telemetry::tracing::SpanKind;
use crate::bindings::telemetry::types::{KeyValue, Value};
use crate::guest::Args;
use crate::identity::PluginIdentity;
use crate::limits::Limits;
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::Arc;

/// Interprets `data` as a sequence of telemetry calls on one store, with
/// handles the "guest" holds and handles it makes up, and checks the
/// table's invariants after each: no panic, every limit held.
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
        max_array_length: 4,
        max_recorded_bytes: 4096,
        ..Limits::default()
    };
    let plugin = crate::PluginTelemetry::new(&(&provider).into(), &identity);
    let mut cx = WasmtraceCtx::builder(&plugin)
        .with_limits(Arc::new(limits))
        .build();
    // Handles the "guest" got back, and a few it makes up.
    let mut handles: Vec<u32> = vec![0, 1, u32::MAX, 2, 1 << 31];
    let mut bytes = data.iter().copied();
    let mut next = || bytes.next();
    let text = |b: u8| "ab\u{e9}".repeat(b as usize % 12);
    while let Some(op) = next() {
        let arg = next().unwrap_or(0);
        let pick = |v: &Vec<u32>| v[arg as usize % v.len()];
        let h = pick(&handles);
        match op % 12 {
            0 => {
                let attributes = vec![KeyValue {
                    key: text(arg),
                    value: Value::StringArray(vec![text(arg.wrapping_mul(7)); arg as usize % 7]),
                }];
                let mut args = Args::default();
                let range = args.push_wit(attributes);
                let name = args.push_text(&text(arg));
                let span =
                    cx.table
                        .start(h, &args, name, SpanKind::Internal, range, arg & 0x10 != 0);
                handles.push(span);
            }
            1 => cx.table.end(h),
            2 => {
                let mut args = Args::default();
                let range = args.push_wit(vec![KeyValue {
                    key: text(arg),
                    value: Value::S64(arg.into()),
                }]);
                cx.table.set_attributes(h, &args, range);
            }
            3 => {
                let mut args = Args::default();
                let name = args.push_text(&text(arg));
                cx.table.add_event(h, &args, name, 0..0);
                cx.table.set_status(h, Status::error(text(arg)));
                let t = text(arg);
                cx.table.record_exception(h, &t, &t, Some(&t));
                let _ = cx.table.is_recording(h);
                cx.table.update_name(h, &t);
            }
            4 => handles.push(cx.table.current()),
            5 => {
                let header = format!("00-{:032x}-{:016x}-0{}", arg, arg ^ 0x5a, arg % 3);
                let carrier = vec![
                    ("traceparent".to_owned(), header),
                    ("baggage".to_owned(), format!("k{arg}=v")),
                ];
                handles.push(cx.table.extract(&carrier));
            }
            6 => {
                cx.table.attach(h);
                let _ = cx.table.inject(h);
                let _ = cx.table.span_context(h);
            }
            7 => cx.table.detach(h),
            8 => cx.table.release(h),
            9 => handles.push(cx.table.with_baggage(h, vec![(text(arg), text(arg))])),
            10 => {
                let _ = cx.table.baggage(h);
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
        let sizes = cx.table.sizes();
        assert!(sizes.open <= 16, "open-span limit: {sizes:?}");
        assert!(sizes.spans <= 64, "total-span limit: {sizes:?}");
        assert!(sizes.contexts <= 8, "context limit: {sizes:?}");
        assert!(sizes.stack <= 8, "depth limit: {sizes:?}");
        assert!(sizes.max_depth <= 8, "depth limit: {sizes:?}");
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
        // What W3C propagation carries beyond the span context.
        assert_eq!(
            crate::propagation::tracestate_header(&extracted, &a),
            crate::propagation::tracestate_header(&again, &b)
        );
        assert_eq!(
            crate::propagation::is_random(&extracted, &a),
            crate::propagation::is_random(&again, &b)
        );
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
        super::carrier(b"traceparent:00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe\ntracestate:foo@@bar=1,foo@@bar=2");
        // Found by the fuzzer (in 0.1): explicit parents restarted the depth
        // count, so the current-context stack outgrew max_depth.
        super::span_api(include_bytes!(
            "../../fuzz/corpus/span_api/regression-active-stack"
        ));
    }
}
