//! The propagators chosen with `OTEL_PROPAGATORS`, which read and write
//! carriers for the guests' `propagation` interface, the server and the
//! outbound client.
//!
//! The propagators are our own, written to the letter of the W3C specs:
//! [`w3c`] (Trace Context Level 2, `tracecontext`), [`baggage`] (W3C
//! Baggage, `baggage`) and [`x_trace_id`] (the guide's `x-trace-id`
//! compatibility header, opt-in as `xtraceid`).

mod baggage;
mod w3c;
mod x_trace_id;

pub use baggage::BaggagePropagator;
pub use w3c::TraceContextPropagator;
pub use x_trace_id::XTraceIdPropagator;

pub(crate) use baggage::with_entries as baggage_with_entries;
pub(crate) use w3c::{is_random, mark_new_trace, span_only, tracestate_header};

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;

/// The longest `tracestate` read from a guest (32 members of W3C's longest
/// keys and values fit with room to spare).
pub(crate) const MAX_TRACESTATE_LEN: u32 = 16_384;

/// `OTEL_PROPAGATORS`: which propagators carriers are read and written with.
pub const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";

/// The propagators used to inject into and extract from carriers: W3C Trace
/// Context and W3C Baggage by default, as OTel specifies; `xtraceid` (the
/// `x-trace-id` header) on request.
///
/// On extraction the propagators run in order and the first valid span
/// context wins: a later propagator never replaces it, except that a
/// context from `x-trace-id` (which has no parent span id) gives way to a
/// valid `traceparent` wherever `tracecontext` is listed.
pub struct Propagators {
    propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>>,
    names: Vec<&'static str>,
}

impl std::fmt::Debug for Propagators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Propagators").field(&self.names).finish()
    }
}

impl Default for Propagators {
    fn default() -> Self {
        Self::parse("tracecontext,baggage")
    }
}

impl Propagators {
    /// Reads `OTEL_PROPAGATORS` (default `tracecontext,baggage`).
    pub fn from_env() -> Self {
        match std::env::var(OTEL_PROPAGATORS) {
            Ok(v) if !v.trim().is_empty() => Self::parse(&v),
            _ => Self::default(),
        }
    }

    /// Parses a comma-separated list as `OTEL_PROPAGATORS` is written.
    /// `none` disables propagation; unknown names are skipped with a warning,
    /// as the spec allows, rather than failing start-up.
    pub fn parse(list: &str) -> Self {
        let mut propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>> = Vec::new();
        let mut names = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "tracecontext" if !names.contains(&"tracecontext") => {
                    propagators.push(Box::new(TraceContextPropagator::new()));
                    names.push("tracecontext");
                }
                "baggage" if !names.contains(&"baggage") => {
                    propagators.push(Box::new(BaggagePropagator::new()));
                    names.push("baggage");
                }
                "xtraceid" if !names.contains(&"xtraceid") => {
                    propagators.push(Box::new(XTraceIdPropagator::new()));
                    names.push("xtraceid");
                }
                "tracecontext" | "baggage" | "xtraceid" => {}
                "none" => {
                    return Self {
                        propagators: Vec::new(),
                        names: vec!["none"],
                    };
                }
                other => eprintln!(
                    "wasmtrace: ignoring unsupported propagator {other:?} in {OTEL_PROPAGATORS}"
                ),
            }
        }
        Self { propagators, names }
    }

    /// The names of the active propagators, in order.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// Writes `cx` into a fresh carrier.
    pub fn inject(&self, cx: &Context) -> Vec<(String, String)> {
        let mut carrier = Carrier(Vec::new());
        for p in &self.propagators {
            p.inject_context(cx, &mut carrier);
        }
        carrier.0
    }

    /// Reads a context from a carrier; malformed entries are ignored as the
    /// W3C specs say, never an error. The first valid span context wins (a
    /// later propagator does not replace it), but one from `x-trace-id`
    /// gives way to a valid `traceparent`.
    pub fn extract(&self, carrier: &[(String, String)]) -> Context {
        let carrier = CarrierRef(carrier);
        let mut cx = Context::new();
        // Whether `cx` holds a span context that nothing may replace.
        let mut settled = false;
        for (p, name) in self.propagators.iter().zip(&self.names) {
            let weak = *name == "xtraceid";
            let before = cx.span().span_context().clone();
            let next = p.extract_with_context(&cx, &carrier);
            let after = next.span().span_context().clone();
            cx = if after == before || !before.is_valid() {
                settled |= after.is_valid() && !weak;
                next
            } else if after.is_valid() && !settled && !weak {
                settled = true;
                next
            } else {
                // Keep the earlier span context (and whatever else `next`
                // added, e.g. baggage).
                next.with_remote_span_context(before)
            };
        }
        cx
    }
}

struct Carrier(Vec<(String, String)>);

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        self.0.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
        self.0.push((key.to_owned(), value));
    }
}

pub(crate) struct CarrierRef<'a>(pub(crate) &'a [(String, String)]);

impl Extractor for CarrierRef<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// Every value of `key`, in order (names compared case-insensitively):
    /// W3C needs them to combine `tracestate` and `baggage` entries and to
    /// reject several `traceparent`s.
    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let all: Vec<&str> = self
            .0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .collect();
        (!all.is_empty()).then_some(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn extract_then_inject_round_trips_w3c_headers() {
        let props = Propagators::default();
        let cx = props.extract(&pairs(&[
            (
                "TraceParent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", "congo=t61rcWkgMzE"),
            ("baggage", "user=alice"),
        ]));
        let sc = cx.span().span_context().clone();
        assert!(sc.is_remote() && sc.is_sampled());
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let out = props.inject(&cx);
        assert!(out.contains(&(
            "traceparent".into(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()
        )));
        assert!(out.contains(&("tracestate".into(), "congo=t61rcWkgMzE".into())));
        assert!(out.contains(&("baggage".into(), "user=alice".into())));
    }

    #[test]
    fn malformed_traceparent_yields_an_empty_context() {
        let props = Propagators::default();
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "garbage",
        ] {
            let cx = props.extract(&pairs(&[("traceparent", bad)]));
            assert!(!cx.span().span_context().is_valid(), "{bad}");
        }
    }

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const TP_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const X_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

    fn trace_id_of(cx: &Context) -> String {
        cx.span().span_context().trace_id().to_string()
    }

    #[test]
    fn otel_propagators_xtraceid_is_opt_in() {
        assert_eq!(Propagators::default().names(), ["tracecontext", "baggage"]);
        let cx = Propagators::default().extract(&pairs(&[("x-trace-id", X_TRACE)]));
        assert!(!cx.span().span_context().is_valid());
        assert_eq!(
            Propagators::parse("tracecontext,baggage,xtraceid,xtraceid").names(),
            ["tracecontext", "baggage", "xtraceid"]
        );
        let cx = Propagators::parse("xtraceid").extract(&pairs(&[("x-trace-id", X_TRACE)]));
        assert_eq!(trace_id_of(&cx), X_TRACE);
    }

    #[test]
    fn traceparent_wins_over_x_trace_id_in_either_order() {
        let carrier = pairs(&[("traceparent", TP), ("x-trace-id", X_TRACE)]);
        for list in ["tracecontext,xtraceid", "xtraceid,tracecontext"] {
            let cx = Propagators::parse(list).extract(&carrier);
            let sc = cx.span().span_context().clone();
            assert_eq!(sc.trace_id().to_string(), TP_TRACE, "{list}");
            assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7", "{list}");
        }
    }

    #[test]
    fn x_trace_id_is_used_when_traceparent_is_invalid() {
        let carrier = pairs(&[
            (
                "traceparent",
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            ),
            ("x-trace-id", X_TRACE),
        ]);
        let cx = Propagators::parse("tracecontext,xtraceid").extract(&carrier);
        assert_eq!(trace_id_of(&cx), X_TRACE);
    }

    /// A propagator that always extracts a fixed span context.
    #[derive(Debug)]
    struct Fixed(opentelemetry::trace::SpanContext);

    impl TextMapPropagator for Fixed {
        fn inject_context(&self, _: &Context, _: &mut dyn Injector) {}
        fn extract_with_context(&self, cx: &Context, _: &dyn Extractor) -> Context {
            cx.with_remote_span_context(self.0.clone())
        }
        fn fields(&self) -> opentelemetry::propagation::text_map_propagator::FieldIter<'_> {
            opentelemetry::propagation::text_map_propagator::FieldIter::new(&[])
        }
    }

    #[test]
    fn later_propagators_do_not_clobber_an_earlier_valid_context() {
        use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
        let other = SpanContext::new(
            TraceId::from_hex(X_TRACE).unwrap(),
            SpanId::from_hex("1111111111111111").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        );
        let mut props = Propagators::parse("tracecontext,baggage");
        props.propagators.push(Box::new(Fixed(other)));
        props.names.push("fixed");
        let cx = props.extract(&pairs(&[("traceparent", TP), ("baggage", "k=v")]));
        assert_eq!(trace_id_of(&cx), TP_TRACE);
        use opentelemetry::baggage::BaggageExt;
        assert_eq!(cx.baggage().get("k").map(|v| v.as_str()), Some("v"));
        // Without a traceparent the later propagator's context is used.
        let cx = props.extract(&pairs(&[]));
        assert_eq!(trace_id_of(&cx), X_TRACE);
    }

    #[test]
    fn carrier_get_all_matches_names_case_insensitively_in_order() {
        let carrier = pairs(&[("TraceState", "a=1"), ("x", "y"), ("tracestate", "b=2")]);
        assert_eq!(
            CarrierRef(&carrier).get_all("tracestate"),
            Some(vec!["a=1", "b=2"])
        );
        assert_eq!(CarrierRef(&carrier).get_all("baggage"), None);
    }

    #[test]
    fn otel_propagators_none_and_unknown() {
        assert!(
            Propagators::parse("none")
                .inject(&Context::new())
                .is_empty()
        );
        assert_eq!(
            Propagators::parse("b3, tracecontext").names(),
            ["tracecontext"]
        );
    }
}
