//! Where guest spans become OpenTelemetry spans: the host side of the
//! `tracing` interface.
//!
//! Every call is total: a guest can end twice, use an ended span or end a
//! parent before its children without trapping (DESIGN.md §7).

use crate::bindings::tracing::{Host, HostSpan, Parent, StartOptions};
use crate::bindings::types::{KeyValue as WitKeyValue, SpanContext as WitSpanContext, Status};
use crate::convert::{guest_attributes, guest_links};
use crate::ctx::{Active, ActiveKey, OpenSpan, REFUSED, WasmtraceCtx};
use crate::limits::{CallStart, truncate};
use opentelemetry::trace::{SpanBuilder, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use wasmtime::component::Resource;

/// The host representation of a guest `span` handle. Its `rep` indexes the
/// store's open spans; the data lives in [`WasmtraceCtx`].
#[derive(Debug)]
pub struct GuestSpan;

impl WasmtraceCtx {
    fn span(&self, handle: &Resource<GuestSpan>) -> Option<&OpenSpan> {
        self.spans.get(handle.rep() as usize)
    }

    /// The span of `handle` if it is still open.
    fn open_span(&self, handle: &Resource<GuestSpan>) -> Option<&OpenSpan> {
        self.span(handle).filter(|s| !s.ended)
    }

    fn end_span(&mut self, rep: u32) {
        let Some(span) = self.spans.get_mut(rep as usize) else {
            return;
        };
        if span.ended {
            return;
        }
        span.ended = true;
        span.cx.span().end();
        self.stats.span_ended();
        self.open -= 1;
        self.deactivate(ActiveKey::Span(rep));
    }

    /// The current span's context, if it is one of this guest's open spans
    /// (the invocation span belongs to the host and is not the guest's to
    /// edit).
    fn current_guest_span(&self) -> Option<Context> {
        let active = self.active.last()?;
        let is_guest = match active.key {
            ActiveKey::Span(rep) => self.spans.get(rep as usize).is_some_and(|s| !s.ended),
            // An attached context may carry one of our spans (from
            // `context.current`); match it by id, a rare path.
            ActiveKey::Guard(_) => {
                let id = active.cx.span().span_context().span_id();
                self.spans
                    .iter()
                    .any(|(_, s)| !s.ended && s.cx.span().span_context().span_id() == id)
            }
        };
        is_guest.then(|| active.cx.clone())
    }

    pub(crate) fn start_span(&mut self, name: String, options: StartOptions) -> u32 {
        let (parent, parent_depth) = match &options.parent {
            Parent::Current => (self.current_context().clone(), self.current_depth()),
            Parent::Explicit(handle) => (
                self.contexts
                    .get(handle.rep() as usize)
                    .cloned()
                    .unwrap_or_default(),
                0,
            ),
            Parent::Span(handle) => match self.span(handle) {
                Some(s) => (s.cx.clone(), s.depth),
                None => (self.current_context().clone(), self.current_depth()),
            },
        };
        self.stats.span_started();
        self.started = self.started.saturating_add(1);
        let limits = &self.limits;
        // The current-context stack is bounded too: an explicit parent
        // restarts the depth count, so it alone would not bound the stack.
        let stack_full = options.activate && self.active.len() >= limits.max_depth as usize;
        if self.started > limits.max_spans
            || self.open >= limits.max_open_spans
            || parent_depth >= limits.max_depth
            || stack_full
        {
            // Refused: an inert handle; its would-be children nest under
            // `parent` instead.
            self.stats.span_dropped();
            return REFUSED;
        }
        let (attributes, _) = guest_attributes(
            options.attributes,
            limits,
            &mut self.keys,
            &self.identity_attributes,
        );
        let (links, _) = guest_links(options.links, limits, &mut self.keys);
        let builder = SpanBuilder::from_name(truncate(name, limits.max_name_length))
            .with_kind(options.kind.into())
            .with_attributes(attributes)
            .with_links(links);
        let span = self.tracer.build_with_context(builder, &parent);
        let cx = parent.with_span(span);
        let sequence = self.next_sequence();
        let depth = parent_depth + 1;
        let rep = self.spans.insert(OpenSpan {
            cx: cx.clone(),
            ended: false,
            sequence,
            depth,
        }) as u32;
        self.open += 1;
        if options.activate {
            self.active.push(Active {
                key: ActiveKey::Span(rep),
                cx,
                depth,
            });
        }
        rep
    }
}

impl WasmtraceCtx {
    fn otel_attributes(&mut self, attributes: Vec<WitKeyValue>) -> Vec<KeyValue> {
        guest_attributes(attributes, &self.limits, &mut self.keys, &[]).0
    }

    fn event_name(&self, name: String) -> String {
        truncate(name, self.limits.max_name_length)
    }

    /// The context of `handle`'s span if it is still open (a cheap clone,
    /// so that converting attributes may borrow `self`).
    fn open_span_cx(&self, handle: &Resource<GuestSpan>) -> Option<Context> {
        self.open_span(handle).map(|s| s.cx.clone())
    }
}

impl HostSpan for WasmtraceCtx {
    fn start(&mut self, name: String, options: StartOptions) -> Resource<GuestSpan> {
        let t = CallStart::now();
        let rep = self.start_span(name, options);
        self.stats.add_time_since(t);
        Resource::new_own(rep)
    }

    fn set_attributes(&mut self, span: Resource<GuestSpan>, attributes: Vec<WitKeyValue>) {
        let t = CallStart::now();
        if let Some(cx) = self.open_span_cx(&span) {
            cx.span().set_attributes(self.otel_attributes(attributes));
        }
        self.stats.add_time_since(t);
    }

    fn add_event(&mut self, span: Resource<GuestSpan>, name: String, attributes: Vec<WitKeyValue>) {
        let t = CallStart::now();
        if let Some(cx) = self.open_span_cx(&span) {
            let name = self.event_name(name);
            cx.span().add_event(name, self.otel_attributes(attributes));
        }
        self.stats.add_time_since(t);
    }

    fn set_status(&mut self, span: Resource<GuestSpan>, status: Status) {
        if let Some(s) = self.open_span(&span) {
            let status = match status {
                Status::Error(message) => {
                    Status::Error(truncate(message, self.limits.max_attribute_value_length))
                }
                other => other,
            };
            s.cx.span().set_status(status.into());
        }
    }

    fn record_exception(
        &mut self,
        span: Resource<GuestSpan>,
        type_: String,
        message: String,
        stacktrace: Option<String>,
    ) {
        if let Some(s) = self.open_span(&span) {
            let max = self.limits.max_attribute_value_length;
            let attrs = crate::convert::exception_attributes(
                truncate(type_, max),
                truncate(message, max),
                stacktrace.map(|st| truncate(st, max)),
            );
            s.cx.span().add_event("exception", attrs);
        }
    }

    fn span_context(&mut self, span: Resource<GuestSpan>) -> WitSpanContext {
        match self.span(&span) {
            Some(s) => s.cx.span().span_context().into(),
            None => (&opentelemetry::trace::SpanContext::empty_context()).into(),
        }
    }

    fn is_recording(&mut self, span: Resource<GuestSpan>) -> bool {
        self.open_span(&span)
            .is_some_and(|s| s.cx.span().is_recording())
    }

    fn end(&mut self, span: Resource<GuestSpan>) {
        let t = CallStart::now();
        self.end_span(span.rep());
        self.stats.add_time_since(t);
    }

    fn drop(&mut self, span: Resource<GuestSpan>) -> wasmtime::Result<()> {
        let t = CallStart::now();
        let rep = span.rep();
        self.end_span(rep);
        if self.spans.contains(rep as usize) {
            self.spans.remove(rep as usize);
        }
        self.stats.add_time_since(t);
        Ok(())
    }
}

impl Host for WasmtraceCtx {
    fn add_attributes(&mut self, attributes: Vec<WitKeyValue>) {
        let t = CallStart::now();
        if let Some(cx) = self.current_guest_span() {
            cx.span().set_attributes(self.otel_attributes(attributes));
        }
        self.stats.add_time_since(t);
    }

    fn record_event(&mut self, name: String, attributes: Vec<WitKeyValue>) {
        let t = CallStart::now();
        if let Some(cx) = self.current_guest_span() {
            let name = self.event_name(name);
            cx.span().add_event(name, self.otel_attributes(attributes));
        }
        self.stats.add_time_since(t);
    }

    fn current_span_context(&mut self) -> WitSpanContext {
        self.current_context().span().span_context().into()
    }
}

#[cfg(test)]
mod tests {
    //! The host traits called directly, no wasm: misuse is a no-op.
    use super::*;
    use crate::bindings::tracing::HostSpan;
    use crate::bindings::types::{SpanKind, Value};
    use crate::identity::PluginIdentity;
    use opentelemetry::trace::Status as OtelStatus;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

    fn setup() -> (WasmtraceCtx, InMemorySpanExporter, SdkTracerProvider) {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let identity = PluginIdentity::from_component_bytes(b"\0asm\x0d\0\x01\0", "unit");
        (WasmtraceCtx::new(&provider, &identity), exporter, provider)
    }

    fn options(attributes: Vec<WitKeyValue>) -> StartOptions {
        StartOptions {
            kind: SpanKind::Internal,
            attributes,
            links: Vec::new(),
            parent: Parent::Current,
            activate: true,
        }
    }

    fn handle(rep: u32) -> Resource<GuestSpan> {
        Resource::new_own(rep)
    }

    #[test]
    fn nesting_misuse_and_drop_never_fail() {
        let (mut cx, exporter, _provider) = setup();
        let parent = cx.start_span("parent".into(), options(vec![]));
        let child = cx.start_span(
            "child".into(),
            options(vec![WitKeyValue {
                key: "n".into(),
                value: Value::S64(7),
            }]),
        );
        // The parent ends before its child: both stay well-formed.
        HostSpan::end(&mut cx, handle(parent));
        HostSpan::end(&mut cx, handle(parent));
        HostSpan::set_attributes(&mut cx, handle(parent), vec![]);
        assert!(!HostSpan::is_recording(&mut cx, handle(parent)));
        // The child is still current: free functions reach it.
        Host::add_attributes(
            &mut cx,
            vec![WitKeyValue {
                key: "late".into(),
                value: Value::Bool(true),
            }],
        );
        HostSpan::set_status(&mut cx, handle(child), Status::Error("bad".into()));
        HostSpan::drop(&mut cx, handle(child)).unwrap();
        HostSpan::drop(&mut cx, handle(parent)).unwrap();
        assert_eq!(cx.open_span_count(), 0);
        // Nothing is current any more: the free functions are no-ops.
        Host::record_event(&mut cx, "ignored".into(), vec![]);

        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 2);
        let child = spans.iter().find(|s| s.name == "child").unwrap();
        let parent = spans.iter().find(|s| s.name == "parent").unwrap();
        assert_eq!(child.parent_span_id, parent.span_context.span_id());
        assert_eq!(child.status, OtelStatus::error("bad"));
        assert!(child.attributes.iter().any(|kv| kv.key.as_str() == "late"));
        assert!(
            child
                .attributes
                .iter()
                .any(|kv| kv.key.as_str() == crate::identity::ATTR_INSTANCE_ID)
        );
    }

    #[test]
    fn a_crash_ends_open_spans_innermost_first() {
        let (mut cx, exporter, _provider) = setup();
        let outer = cx.start_span("outer".into(), options(vec![]));
        let _inner = cx.start_span("inner".into(), options(vec![]));
        let failure = crate::GuestFailure {
            kind: "wasm.trap".into(),
            message: "unreachable".into(),
            backtrace: Some("0: guest::f".into()),
        };
        assert_eq!(cx.end_open_spans(&failure), 2);
        assert_eq!(cx.end_open_spans(&failure), 0);
        HostSpan::end(&mut cx, handle(outer));
        let spans = exporter.get_finished_spans().unwrap();
        let names: Vec<_> = spans.iter().map(|s| s.name.to_string()).collect();
        assert_eq!(names, ["inner", "outer"]);
        for span in &spans {
            assert_eq!(span.status, OtelStatus::error("unreachable"));
            let event = span.events.iter().next().unwrap();
            assert_eq!(event.name, "exception");
        }
    }
}
