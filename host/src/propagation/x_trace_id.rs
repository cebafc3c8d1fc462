//! The `x-trace-id` compatibility header of the Foundation tracing guide
//! (`[{"x-trace-id", trace_id}]`, `DISTRIBUTED_TRACING_GUIDE.md`), opt-in as
//! `xtraceid` in `OTEL_PROPAGATORS`.
//!
//! - Inject: `x-trace-id: <32 lowercase hex trace id>` when the context has
//!   a valid span context.
//! - Extract: a 32-digit hex trace id (either case, normalised to
//!   lowercase; surrounding whitespace tolerated), not all zero. The header
//!   carries no parent span id, so the extracted remote span context gets a
//!   **random non-zero span id**: spans started from it are in the caller's
//!   trace, with a parent span id that no exported span has. It is marked
//!   sampled (the header carries no flags; the caller traced the request).
//!   Invalid values, several `x-trace-id` entries, or a context that already
//!   holds a valid span context (e.g. from `traceparent`) leave the context
//!   unchanged.

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};

use super::w3c::{all_values, trim_ows};

/// The `x-trace-id` header.
pub(crate) const X_TRACE_ID: &str = "x-trace-id";

/// Propagator for the `x-trace-id` header (`xtraceid` in `OTEL_PROPAGATORS`);
/// see the module documentation for what it extracts.
///
/// ```
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use std::collections::HashMap;
/// use wasmtrace::XTraceIdPropagator;
///
/// let headers = HashMap::from([("x-trace-id".to_owned(), "4BF92F3577B34DA6A3CE929D0E0E4736".to_owned())]);
/// let cx = XTraceIdPropagator::new().extract(&headers);
/// let sc = cx.span().span_context().clone();
/// assert_eq!(sc.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!(sc.is_remote() && sc.is_sampled());
/// ```
#[derive(Debug)]
pub struct XTraceIdPropagator {
    fields: [String; 1],
    ids: RandomIdGenerator,
}

impl Default for XTraceIdPropagator {
    fn default() -> Self {
        Self::new()
    }
}

impl XTraceIdPropagator {
    /// A new propagator.
    pub fn new() -> Self {
        Self {
            fields: [X_TRACE_ID.to_owned()],
            ids: RandomIdGenerator::default(),
        }
    }

    fn random_span_id(&self) -> SpanId {
        loop {
            let id = self.ids.new_span_id();
            if id != SpanId::INVALID {
                return id;
            }
        }
    }
}

/// Parses an `x-trace-id` value; `None` when invalid.
pub(crate) fn parse_x_trace_id(value: &str) -> Option<TraceId> {
    let value = trim_ows(value);
    if value.len() != 32 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let id = TraceId::from_hex(&value.to_ascii_lowercase()).ok()?;
    (id != TraceId::INVALID).then_some(id)
}

impl TextMapPropagator for XTraceIdPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            injector.set(X_TRACE_ID, sc.trace_id().to_string());
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        if cx.span().span_context().is_valid() {
            return cx.clone();
        }
        let [value] = all_values(extractor, X_TRACE_ID)[..] else {
            return cx.clone();
        };
        let Some(trace_id) = parse_x_trace_id(value) else {
            return cx.clone();
        };
        cx.with_remote_span_context(SpanContext::new(
            trace_id,
            self.random_span_id(),
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        ))
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::CarrierRef;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    fn extract(pairs: &[(&str, &str)]) -> SpanContext {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let cx = XTraceIdPropagator::new().extract(&CarrierRef(&pairs));
        cx.span().span_context().clone()
    }

    #[test]
    fn x_trace_id_is_extracted_as_a_sampled_remote_context() {
        let sc = extract(&[("x-trace-id", TRACE)]);
        assert!(sc.is_valid() && sc.is_remote() && sc.is_sampled());
        assert_eq!(sc.trace_id().to_string(), TRACE);
    }

    #[test]
    fn x_trace_id_gets_a_random_non_zero_span_id() {
        let a = extract(&[("x-trace-id", TRACE)]).span_id();
        let b = extract(&[("x-trace-id", TRACE)]).span_id();
        assert_ne!(a, SpanId::INVALID);
        assert_ne!(a, b);
    }

    #[test]
    fn x_trace_id_uppercase_is_normalised_to_lowercase() {
        let sc = extract(&[("x-trace-id", &TRACE.to_ascii_uppercase())]);
        assert_eq!(sc.trace_id().to_string(), TRACE);
    }

    #[test]
    fn x_trace_id_header_name_is_case_insensitive() {
        assert!(extract(&[("X-Trace-Id", TRACE)]).is_valid());
    }

    #[test]
    fn x_trace_id_surrounding_whitespace_is_tolerated() {
        assert!(extract(&[("x-trace-id", &format!(" \t{TRACE}\t "))]).is_valid());
    }

    #[test]
    fn x_trace_id_all_zero_is_ignored() {
        assert!(!extract(&[("x-trace-id", &"0".repeat(32))]).is_valid());
    }

    #[test]
    fn x_trace_id_wrong_length_is_ignored() {
        assert!(!extract(&[("x-trace-id", &TRACE[1..])]).is_valid());
        assert!(!extract(&[("x-trace-id", &format!("{TRACE}0"))]).is_valid());
        assert!(!extract(&[("x-trace-id", "")]).is_valid());
    }

    #[test]
    fn x_trace_id_non_hex_is_ignored() {
        assert!(!extract(&[("x-trace-id", &format!("{}g", &TRACE[1..]))]).is_valid());
        assert!(!extract(&[("x-trace-id", &format!("{}-", &TRACE[1..]))]).is_valid());
    }

    #[test]
    fn x_trace_id_duplicated_header_is_ignored() {
        assert!(!extract(&[("x-trace-id", TRACE), ("X-Trace-Id", TRACE)]).is_valid());
    }

    #[test]
    fn x_trace_id_does_not_replace_a_valid_context() {
        let (t, s, f) = super::super::w3c::parse_traceparent(
            "00-12345678901234567890123456789012-1234567890123456-01",
        )
        .unwrap();
        let cx = Context::new().with_remote_span_context(SpanContext::new(
            t,
            s,
            f,
            true,
            TraceState::NONE,
        ));
        let carrier = vec![("x-trace-id".to_owned(), TRACE.to_owned())];
        let cx = XTraceIdPropagator::new().extract_with_context(&cx, &CarrierRef(&carrier));
        assert_eq!(cx.span().span_context().trace_id(), t);
    }

    #[test]
    fn x_trace_id_inject_writes_the_lowercase_trace_id() {
        let sc = extract(&[("x-trace-id", &TRACE.to_ascii_uppercase())]);
        let mut out = std::collections::HashMap::new();
        XTraceIdPropagator::new()
            .inject_context(&Context::new().with_remote_span_context(sc), &mut out);
        assert_eq!(
            out.into_iter().collect::<Vec<_>>(),
            [("x-trace-id".to_owned(), TRACE.to_owned())]
        );
    }

    #[test]
    fn x_trace_id_inject_writes_nothing_without_a_span() {
        let mut out = std::collections::HashMap::new();
        XTraceIdPropagator::new().inject_context(&Context::new(), &mut out);
        assert!(out.is_empty());
    }
}
