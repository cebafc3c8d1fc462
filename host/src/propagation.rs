//! Contexts and carriers: the host side of the `propagation` interface, and
//! the propagators chosen with `OTEL_PROPAGATORS`.

use crate::bindings::propagation::{Host, HostContext, HostContextGuard};
use crate::bindings::types::SpanContext as WitSpanContext;
use crate::ctx::{Active, ActiveKey, REFUSED, WasmtraceCtx};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use wasmtime::component::Resource;

/// `OTEL_PROPAGATORS`: which propagators carriers are read and written with.
pub const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";

/// The host representation of a guest `context` handle.
#[derive(Debug)]
pub struct GuestContext;

/// The host representation of a guest `context-guard` handle.
#[derive(Debug)]
pub struct GuestContextGuard;

/// The propagators used to inject into and extract from carriers: W3C Trace
/// Context and W3C Baggage by default, as OTel specifies.
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
                "tracecontext" | "baggage" => {}
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
    /// W3C specs say, never an error.
    pub fn extract(&self, carrier: &[(String, String)]) -> Context {
        let carrier = CarrierRef(carrier);
        self.propagators.iter().fold(Context::new(), |cx, p| {
            p.extract_with_context(&cx, &carrier)
        })
    }
}

struct Carrier(Vec<(String, String)>);

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        self.0.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
        self.0.push((key.to_owned(), value));
    }
}

struct CarrierRef<'a>(&'a [(String, String)]);

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
}

impl WasmtraceCtx {
    /// A new context handle, or an empty one past the limit.
    fn new_context(&mut self, cx: Context) -> Resource<GuestContext> {
        if self.contexts.len() >= self.limits.max_contexts as usize {
            self.stats.context_dropped();
            return Resource::new_own(REFUSED);
        }
        Resource::new_own(self.contexts.insert(cx) as u32)
    }

    fn context(&self, handle: &Resource<GuestContext>) -> Context {
        self.contexts
            .get(handle.rep() as usize)
            .cloned()
            .unwrap_or_default()
    }
}

impl HostContext for WasmtraceCtx {
    fn current(&mut self) -> Resource<GuestContext> {
        let cx = self.current_context().clone();
        self.new_context(cx)
    }

    fn extract(&mut self, carrier: Vec<(String, String)>) -> Resource<GuestContext> {
        let cx = self.propagators.extract(&carrier);
        self.new_context(cx)
    }

    fn inject(&mut self, handle: Resource<GuestContext>) -> Vec<(String, String)> {
        self.propagators.inject(&self.context(&handle))
    }

    fn span_context(&mut self, handle: Resource<GuestContext>) -> WitSpanContext {
        self.context(&handle).span().span_context().into()
    }

    fn attach(&mut self, handle: Resource<GuestContext>) -> Resource<GuestContextGuard> {
        // Attached contexts count towards the nesting depth: a guest that
        // attaches in a loop must not grow the stack without bound.
        let depth = self.current_depth() + 1;
        if depth > self.limits.max_depth || self.active.len() >= self.limits.max_depth as usize {
            self.stats.context_dropped();
            return Resource::new_own(REFUSED);
        }
        let cx = self.context(&handle);
        let id = self.next_guard();
        self.active.push(Active {
            key: ActiveKey::Guard(id),
            cx,
            depth,
        });
        Resource::new_own(id)
    }

    fn baggage(&mut self, handle: Resource<GuestContext>) -> Vec<(String, String)> {
        use opentelemetry::baggage::BaggageExt;
        self.context(&handle)
            .baggage()
            .iter()
            .map(|(k, (v, _))| (k.to_string(), v.to_string()))
            .collect()
    }

    fn with_baggage(
        &mut self,
        handle: Resource<GuestContext>,
        entries: Vec<(String, String)>,
    ) -> Resource<GuestContext> {
        use opentelemetry::baggage::BaggageExt;
        let cx = self.context(&handle);
        let mut baggage = opentelemetry::baggage::Baggage::new();
        for (k, (v, meta)) in cx.baggage() {
            baggage.insert_with_metadata(k.clone(), v.clone(), meta.clone());
        }
        for (k, v) in entries {
            // Baggage::insert enforces W3C's entry-count and size limits.
            baggage.insert(k, v);
        }
        let cx = cx.with_baggage(baggage);
        self.new_context(cx)
    }

    fn drop(&mut self, handle: Resource<GuestContext>) -> wasmtime::Result<()> {
        let rep = handle.rep() as usize;
        if self.contexts.contains(rep) {
            self.contexts.remove(rep);
        }
        Ok(())
    }
}

impl HostContextGuard for WasmtraceCtx {
    fn drop(&mut self, handle: Resource<GuestContextGuard>) -> wasmtime::Result<()> {
        self.deactivate(ActiveKey::Guard(handle.rep()));
        Ok(())
    }
}

impl Host for WasmtraceCtx {}

impl crate::bindings::types::Host for WasmtraceCtx {}

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
