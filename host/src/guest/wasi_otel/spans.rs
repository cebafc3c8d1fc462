//! `wasi:otel/tracing`: a guest's spans, checked, become SDK spans.
//!
//! A `wasi:otel` guest runs its own SDK: it makes the ids, keeps the data,
//! and hands the host a whole span when it ends (`on-end`), after telling
//! it the span started (`on-start`). The host trusts none of it
//! (docs/DESIGN.md §12):
//!
//! - **Trace and parent.** A span joins the invocation's trace whatever
//!   trace it claims. Its parent is kept when it is the invocation span or
//!   a span this guest started or ended in this store; otherwise the span
//!   is re-parented under the invocation span and counted
//!   (`spans_reparented`). A guest cannot attach its spans to someone
//!   else's trace, nor to a span it made up.
//! - **Ids.** An id that is not hex (of at most 16 digits for a span, 32
//!   for a trace; shorter ones are zero-padded), is all zeros, is the
//!   invocation span's, or one already ended here is refused and counted
//!   (`spans_rejected`); a second `on-end` is a duplicate, refused alike.
//!   `on-end` without `on-start` is accepted (checked as above).
//! - **Limits and identity.** The span is built by the same converter as a
//!   wasmtrace span (`convert::Recorder`): the per-span limits, the byte and
//!   span budgets, reserved keys; the plugin's tracer (its scope) and
//!   identity attributes. The guest's own scope and resource are not used.
//! - **Crashes.** A span started and not ended when the guest traps is
//!   exported by the host as "unfinished wasi:otel span", status Error with
//!   the trap's exception event, like the table's own open spans.
//!
//! The SDK span gets the guest's ids from the provider's
//! [`crate::telemetry::GuestIdGenerator`], pinned while it is built.

use super::values::{push_attributes, push_text};
use crate::bindings::otel::tracing::{
    Link as OtelLink, SpanContext as OtelSpanContext, SpanData, SpanKind as OtelSpanKind,
    Status as OtelStatus, TraceFlags as OtelTraceFlags,
};
use crate::guest::SpanTable;
use crate::guest::convert::{EVENT_COST, LINK_COST};
use crate::telemetry::{Dropped, while_ending, with_pinned_ids};
use opentelemetry::trace::{
    Event, Link, Span as _, SpanBuilder, SpanContext, SpanId, SpanKind, Status, TraceContextExt,
    TraceFlags, TraceId, TraceState, Tracer as _,
};
use opentelemetry::{Context, KeyValue};
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasmtime_wasi::p2::bindings::clocks::wall_clock::Datetime;

/// The name of a span the guest started and never ended (the host knows
/// only its ids and when it started).
pub const UNFINISHED_SPAN: &str = "unfinished wasi:otel span";

/// What a store's `wasi:otel` guest told the host about its spans.
#[derive(Default)]
pub(crate) struct OtelState {
    /// Started and not yet ended: trace id and start time.
    open: HashMap<SpanId, (TraceId, SystemTime)>,
    /// Ended (recorded or not), with their trace: possible parents, and
    /// refused if ended again. Bounded by the span budget.
    ended: HashMap<SpanId, TraceId>,
    /// The last cumulative value of each series the guest exported
    /// (`metrics.rs`).
    pub(super) last: super::metrics::LastSeen,
}

/// A guest `datetime` as a time; one that does not fit is the present.
pub(super) fn time_of(dt: &Datetime) -> SystemTime {
    let since = Duration::from_secs(dt.seconds)
        .checked_add(Duration::from_nanos(u64::from(dt.nanoseconds)));
    since
        .and_then(|d| UNIX_EPOCH.checked_add(d))
        .unwrap_or_else(SystemTime::now)
}

/// A hexadecimal id of at most `digits` digits. The reference guest
/// library writes ids with `{:x}`, without leading zeros, so shorter ones
/// are taken as zero-padded.
fn hex_id(id: &str, digits: usize) -> Option<u128> {
    let hex = !id.is_empty() && id.len() <= digits && id.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then(|| u128::from_str_radix(id, 16).ok()).flatten()
}

/// The ids and sampled flag of a guest span context; `None` unless both
/// ids are hex of at most their length, and not all zeros.
fn parse(sc: &OtelSpanContext) -> Option<SpanContext> {
    let trace_id = TraceId::from(hex_id(&sc.trace_id, 32)?);
    let span_id = SpanId::from(hex_id(&sc.span_id, 16)? as u64);
    let flags = if sc.trace_flags.contains(OtelTraceFlags::SAMPLED) {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::NOT_SAMPLED
    };
    let sc = SpanContext::new(
        trace_id,
        span_id,
        flags,
        sc.is_remote,
        TraceState::default(),
    );
    sc.is_valid().then_some(sc)
}

/// A span id as a guest writes it (see [`hex_id`]), not all zeros.
pub(super) fn parse_span_id(id: &str) -> Option<SpanId> {
    let id = SpanId::from(hex_id(id, 16)? as u64);
    (id != SpanId::INVALID).then_some(id)
}

/// A guest `trace-state`; invalid entries make it empty, as the WIT says.
fn trace_state(pairs: &[(String, String)]) -> TraceState {
    TraceState::from_key_value(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .unwrap_or_default()
}

/// An SDK span context as the guest sees it.
fn to_guest(sc: &SpanContext) -> OtelSpanContext {
    let mut trace_flags = OtelTraceFlags::empty();
    if sc.is_sampled() {
        trace_flags |= OtelTraceFlags::SAMPLED;
    }
    let header = sc.trace_state().header();
    OtelSpanContext {
        trace_id: sc.trace_id().to_string(),
        span_id: sc.span_id().to_string(),
        trace_flags,
        is_remote: sc.is_remote(),
        trace_state: header
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    }
}

impl From<OtelSpanKind> for SpanKind {
    fn from(kind: OtelSpanKind) -> Self {
        match kind {
            OtelSpanKind::Client => SpanKind::Client,
            OtelSpanKind::Server => SpanKind::Server,
            OtelSpanKind::Producer => SpanKind::Producer,
            OtelSpanKind::Consumer => SpanKind::Consumer,
            OtelSpanKind::Internal => SpanKind::Internal,
        }
    }
}

/// Where a guest span goes: its trace, its parent, the context the SDK
/// builds it in, and whether the host overrode the guest's claim.
struct Placement {
    trace_id: TraceId,
    parent: Context,
    reparented: bool,
}

impl SpanTable {
    /// The invocation span's context, valid or not.
    fn invocation_span(&self) -> SpanContext {
        self.base.span().span_context().clone()
    }

    /// `tracing.outer-span-context`: the invocation span, the parent of
    /// the guest's root spans.
    pub(crate) fn otel_outer_span_context(&mut self) -> OtelSpanContext {
        to_guest(&self.invocation_span())
    }

    /// The trace a span of this store with id `id` is in, if the host
    /// knows it: the invocation span, or a guest span started or ended.
    pub(super) fn otel_known(&self, id: SpanId) -> Option<TraceId> {
        let invocation = self.invocation_span();
        if invocation.is_valid() && invocation.span_id() == id {
            return Some(invocation.trace_id());
        }
        self.otel
            .open
            .get(&id)
            .map(|(trace, _)| *trace)
            .or_else(|| self.otel.ended.get(&id).copied())
    }

    /// Whether `id` may name a new guest span: not the invocation span's,
    /// not started or ended already.
    fn otel_id_free(&self, id: SpanId) -> bool {
        self.otel_known(id).is_none()
    }

    /// `tracing.on-start`: remembers the span, a possible parent and, if
    /// the guest traps before ending it, a span to end for it.
    pub(crate) fn otel_on_start(&mut self, context: OtelSpanContext) {
        let t = self.timer.start();
        self.otel_start(&context);
        self.counts.add_time_since(t);
    }

    fn otel_start(&mut self, context: &OtelSpanContext) {
        let Some(sc) = parse(context).filter(|sc| self.otel_id_free(sc.span_id())) else {
            self.counts.spans_rejected += 1;
            return;
        };
        if self.otel.open.len() + self.open_span_count() >= self.limits.max_open_spans as usize {
            // Not remembered (nor counted yet): its `on-end` is checked, and
            // counted, as that of a span never started.
            return;
        }
        self.counts.spans_started += 1;
        let invocation = self.invocation_span();
        let trace = if invocation.is_valid() {
            invocation.trace_id()
        } else {
            sc.trace_id()
        };
        self.otel
            .open
            .insert(sc.span_id(), (trace, SystemTime::now()));
    }

    /// Decides where a span claiming `claimed` (its own context) and
    /// `parent` goes (see the module documentation).
    fn otel_place(&self, claimed: &SpanContext, parent: &str, state: TraceState) -> Placement {
        let invocation = self.invocation_span();
        let parent_id = parse_span_id(parent);
        let known = parent_id.and_then(|id| Some((id, self.otel_known(id)?)));
        if invocation.is_valid() {
            let trace_id = invocation.trace_id();
            let reparented = claimed.trace_id() != trace_id || known.is_none();
            let parent = match known {
                Some((id, _)) if id != invocation.span_id() => {
                    let sc = SpanContext::new(trace_id, id, invocation.trace_flags(), false, state);
                    self.base.with_remote_span_context(sc)
                }
                _ => self.base.clone(),
            };
            return Placement {
                trace_id,
                parent,
                reparented,
            };
        }
        // No invocation span (an embedder's store without a parent): the
        // guest's trace stands, under a parent the host knows, or as a root.
        match known {
            Some((id, trace_id)) => {
                let flags = claimed.trace_flags() & TraceFlags::SAMPLED;
                let sc = SpanContext::new(trace_id, id, flags, false, state);
                Placement {
                    trace_id,
                    parent: Context::new().with_remote_span_context(sc),
                    reparented: trace_id != claimed.trace_id(),
                }
            }
            None => Placement {
                trace_id: claimed.trace_id(),
                parent: Context::new(),
                reparented: parent_id.is_some(),
            },
        }
    }

    /// `tracing.on-end`: checks the span and records it.
    pub(crate) fn otel_on_end(&mut self, span: SpanData) {
        let t = self.timer.start();
        let mut args = self.args.take().unwrap_or_default();
        args.clear();
        self.otel_end(&mut args, span);
        self.args = Some(args);
        self.counts.add_time_since(t);
    }

    fn otel_end(&mut self, args: &mut super::super::args::Args, span: SpanData) {
        let Some(sc) = parse(&span.span_context) else {
            self.counts.spans_rejected += 1;
            return;
        };
        let id = sc.span_id();
        let started = self.otel.open.remove(&id);
        if started.is_none() {
            if !self.otel_id_free(id) {
                // Ended twice, or the invocation span's id.
                self.counts.spans_rejected += 1;
                return;
            }
            self.counts.spans_started += 1;
        }
        let state = trace_state(&span.span_context.trace_state);
        let place = self.otel_place(&sc, &span.parent_span_id, state);
        // From now on a possible parent, and a duplicate if ended again.
        self.otel.ended.insert(id, place.trace_id);
        if self.budget.spans == 0 {
            self.counts.spans_dropped += 1;
            return;
        }
        self.budget.spans -= 1;
        if place.reparented {
            self.counts.spans_reparented += 1;
        }

        // Everything the guest sent, into the argument buffers within the
        // lengths; then the one converter applies counts and budgets.
        let limits = self.limits.clone();
        let before = (
            self.counts.attributes_dropped,
            self.counts.events_dropped,
            self.counts.links_dropped,
        );
        let name = push_text(args, &span.name, limits.max_name_length);
        let attributes = push_attributes(args, &span.attributes, &limits, &mut self.counts);
        let events: Vec<_> = span
            .events
            .iter()
            .take(limits.max_events_per_span as usize)
            .map(|e| {
                let name = push_text(args, &e.name, limits.max_name_length);
                let attributes = push_attributes(args, &e.attributes, &limits, &mut self.counts);
                (name, time_of(&e.time), attributes)
            })
            .collect();
        self.counts.events_dropped += span.events.len().saturating_sub(events.len()) as u64;
        let links: Vec<_> = span
            .links
            .iter()
            .take(limits.max_links_per_span as usize)
            .map(|l: &OtelLink| {
                let attributes = push_attributes(args, &l.attributes, &limits, &mut self.counts);
                (&l.span_context, attributes)
            })
            .collect();
        self.counts.links_dropped += span.links.len().saturating_sub(links.len()) as u64;

        let mut recorder = recorder!(self);
        let name = recorder.name(args.text(name));
        let mut kept = Vec::with_capacity(attributes.len() + self.identity.len());
        recorder.attributes(args, attributes, limits.max_attributes_per_span, &mut kept);
        let mut sdk_events = Vec::with_capacity(events.len());
        for (name, time, attributes) in events {
            if !recorder.charge(EVENT_COST) {
                recorder.counts.events_dropped += 1;
                continue;
            }
            let name = recorder.name(args.text(name));
            let mut event_attributes = Vec::new();
            recorder.attributes(
                args,
                attributes,
                limits.max_attributes_per_event,
                &mut event_attributes,
            );
            sdk_events.push(Event::new(name, time, event_attributes, 0));
        }
        let mut sdk_links = Vec::with_capacity(links.len());
        for (link, attributes) in links {
            let state = trace_state(&link.trace_state);
            let cost = LINK_COST + state.header().len() as u64;
            let Some(sc) = parse(link).filter(|_| recorder.charge(cost)) else {
                recorder.counts.links_dropped += 1;
                continue;
            };
            let sc = SpanContext::new(
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags(),
                sc.is_remote(),
                state,
            );
            let mut link_attributes = Vec::new();
            let per_link = limits.max_attributes_per_link;
            recorder.attributes(args, attributes, per_link, &mut link_attributes);
            sdk_links.push(Link::new(sc, link_attributes, 0));
        }
        let status = match &span.status {
            OtelStatus::Unset => Status::Unset,
            OtelStatus::Ok => Status::Ok,
            OtelStatus::Error(message) => Status::error(recorder.text(message)),
        };
        kept.extend_from_slice(&self.identity);

        // What the limits dropped here, and what the guest's SDK says it
        // dropped before: the OTLP `dropped_*` counts.
        let c = &self.counts;
        let dropped = Dropped {
            attributes: (c.attributes_dropped - before.0) as u32 + span.dropped_attributes,
            events: (c.events_dropped - before.1) as u32 + span.dropped_events,
            links: (c.links_dropped - before.2) as u32 + span.dropped_links,
        };
        let mut builder = SpanBuilder::from_name(name)
            .with_kind(span.span_kind.into())
            .with_start_time(time_of(&span.start_time))
            .with_attributes(kept);
        if !sdk_events.is_empty() {
            builder = builder.with_events(sdk_events);
        }
        if !sdk_links.is_empty() {
            builder = builder.with_links(sdk_links);
        }
        let tracer = &self.tracer;
        let mut sdk = with_pinned_ids((place.trace_id, id), || {
            tracer.build_with_context(builder, &place.parent)
        });
        if status != Status::Unset {
            sdk.set_status(status);
        }
        let end = time_of(&span.end_time);
        while_ending(id, dropped, || sdk.end_with_timestamp(end));
        self.counts.spans_ended += 1;
    }

    /// Ends, as [`UNFINISHED_SPAN`]s under the invocation span, the
    /// `wasi:otel` spans started and never ended, latest first; with
    /// `failure` each gets status Error and its `exception` event. Returns
    /// how many there were.
    pub(crate) fn end_otel_spans(&mut self, failure: Option<&crate::GuestFailure>) -> usize {
        let mut open: Vec<_> = self.otel.open.drain().collect();
        open.sort_unstable_by_key(|entry| std::cmp::Reverse(entry.1.1));
        for &(id, (trace_id, start)) in &open {
            self.otel.ended.insert(id, trace_id);
            if self.budget.spans == 0 {
                self.counts.spans_dropped += 1;
                continue;
            }
            self.budget.spans -= 1;
            let attributes: Vec<KeyValue> = self.identity.to_vec();
            let mut events = Vec::new();
            if let Some(failure) = failure {
                events.push(Event::new(
                    "exception",
                    SystemTime::now(),
                    failure.exception_attributes(),
                    0,
                ));
            }
            let mut builder = SpanBuilder::from_name(UNFINISHED_SPAN)
                .with_start_time(start)
                .with_attributes(attributes);
            if !events.is_empty() {
                builder = builder.with_events(events);
            }
            let parent = self.base.clone();
            let tracer = &self.tracer;
            let mut span = with_pinned_ids((trace_id, id), || {
                tracer.build_with_context(builder, &parent)
            });
            if let Some(failure) = failure {
                span.set_status(Status::error(failure.message.clone()));
            }
            while_ending(id, Dropped::default(), || span.end());
            self.counts.spans_ended += 1;
        }
        open.len()
    }
}

#[cfg(test)]
mod tests {
    //! The rules driven on a table directly, no wasm.
    use super::*;
    use crate::bindings::otel::tracing::InstrumentationScope;
    use crate::bindings::otel::types::KeyValue as OtelKeyValue;
    use crate::identity::PluginIdentity;
    use crate::limits::Limits;
    use crate::plugin_telemetry::PluginTelemetry;
    use crate::propagation::Propagators;
    use crate::telemetry::GuestIdGenerator;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use std::sync::Arc;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    struct Setup {
        table: SpanTable,
        exporter: InMemorySpanExporter,
        invocation: SpanContext,
        _provider: SdkTracerProvider,
    }

    fn setup(limits: Limits) -> Setup {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .with_id_generator(GuestIdGenerator::default())
            .build();
        let identity = PluginIdentity::from_component_bytes(b"\0asm\x0d\0\x01\0", "unit");
        let mut table = SpanTable::new(
            &PluginTelemetry::new(&(&provider).into(), &identity),
            Arc::new(Propagators::default()),
            identity.span_attributes(7).into(),
            Arc::new(limits),
            Arc::default(),
        );
        let remote = SpanContext::new(
            TraceId::from_hex(TRACE).unwrap(),
            SpanId::from(1),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "host");
        let parent = Context::new().with_remote_span_context(remote);
        let span = tracer.start_with_context("invoke unit", &parent);
        let invocation = span.span_context().clone();
        table.set_base(parent.with_span(span), 0);
        Setup {
            table,
            exporter,
            invocation,
            _provider: provider,
        }
    }

    fn context(trace: &str, id: &str) -> OtelSpanContext {
        OtelSpanContext {
            trace_id: trace.into(),
            span_id: id.into(),
            trace_flags: OtelTraceFlags::SAMPLED,
            is_remote: false,
            trace_state: vec![],
        }
    }

    fn data(context: OtelSpanContext, parent: &str, name: &str) -> SpanData {
        let at = Datetime {
            seconds: 1_700_000_000,
            nanoseconds: 5,
        };
        SpanData {
            span_context: context,
            parent_span_id: parent.into(),
            span_kind: OtelSpanKind::Internal,
            name: name.into(),
            start_time: at,
            end_time: Datetime {
                seconds: 1_700_000_001,
                nanoseconds: 0,
            },
            attributes: vec![],
            events: vec![],
            links: vec![],
            status: OtelStatus::Unset,
            instrumentation_scope: InstrumentationScope {
                name: "guest".into(),
                version: None,
                schema_url: None,
                attributes: vec![],
            },
            dropped_attributes: 0,
            dropped_events: 0,
            dropped_links: 0,
        }
    }

    #[test]
    fn guest_ids_times_and_nesting_are_kept_under_the_invocation() {
        let mut s = setup(Limits::default());
        let inv = s.invocation.span_id().to_string();
        s.table.otel_on_start(context(TRACE, "00000000000000aa"));
        s.table.otel_on_start(context(TRACE, "00000000000000bb"));
        let mut child = data(
            context(TRACE, "00000000000000bb"),
            "00000000000000aa",
            "child",
        );
        child.attributes = vec![
            OtelKeyValue {
                key: "wasmtrace.instance.id".into(),
                value: "1".into(),
            },
            OtelKeyValue {
                key: "n".into(),
                value: "2".into(),
            },
        ];
        s.table.otel_on_end(child);
        s.table
            .otel_on_end(data(context(TRACE, "00000000000000aa"), &inv, "parent"));
        let spans = s.exporter.get_finished_spans().unwrap();
        let find = |n: &str| spans.iter().find(|s| s.name == n).unwrap();
        let (parent, child) = (find("parent"), find("child"));
        assert_eq!(parent.span_context.span_id(), SpanId::from(0xaa));
        assert_eq!(parent.span_context.trace_id(), s.invocation.trace_id());
        assert_eq!(parent.parent_span_id, s.invocation.span_id());
        assert_eq!(child.parent_span_id, SpanId::from(0xaa));
        assert_eq!(
            child.start_time,
            UNIX_EPOCH + Duration::new(1_700_000_000, 5)
        );
        let keys: Vec<_> = child.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(
            keys,
            ["n", "wasmtrace.component.sha256", "wasmtrace.instance.id"]
        );
        assert!(
            child
                .attributes
                .contains(&KeyValue::new("wasmtrace.instance.id", 7i64))
        );
        assert_eq!(s.table.counts.attributes_dropped, 1);
        assert_eq!(s.table.counts.spans_reparented, 0);
        assert_eq!(
            (s.table.counts.spans_started, s.table.counts.spans_ended),
            (2, 2)
        );
    }

    #[test]
    fn foreign_claims_are_reparented_and_bad_ids_refused() {
        let mut s = setup(Limits::default());
        let foreign = "0af7651916cd43dd8448eb211c80319c";
        // Someone else's trace and parent; never started.
        s.table.otel_on_end(data(
            context(foreign, "00000000000000cc"),
            "b7ad6b7169203331",
            "f",
        ));
        // Twice; zero; not hex; the invocation span's own id.
        s.table
            .otel_on_end(data(context(TRACE, "00000000000000cc"), "", "again"));
        s.table
            .otel_on_end(data(context(TRACE, "0000000000000000"), "", "zero"));
        s.table.otel_on_start(context(TRACE, "not-hex-at-all!!"));
        let inv = s.invocation.span_id().to_string();
        s.table
            .otel_on_end(data(context(TRACE, &inv), "", "stolen"));
        let spans = s.exporter.get_finished_spans().unwrap();
        let names: Vec<_> = spans.iter().map(|s| s.name.as_ref()).collect();
        assert_eq!(names, ["f"]);
        assert_eq!(spans[0].span_context.trace_id(), s.invocation.trace_id());
        assert_eq!(spans[0].parent_span_id, s.invocation.span_id());
        assert_eq!(s.table.counts.spans_reparented, 1);
        assert_eq!(s.table.counts.spans_rejected, 4);
    }

    #[test]
    fn spans_left_open_by_a_trap_end_as_errors() {
        let mut s = setup(Limits::default());
        s.table.otel_on_start(context(TRACE, "00000000000000dd"));
        let failure = crate::GuestFailure {
            kind: "wasm.trap".into(),
            message: "unreachable".into(),
            backtrace: None,
        };
        assert_eq!(s.table.end_open_spans(Some(&failure)), 1);
        assert_eq!(s.table.end_open_spans(None), 0);
        // Ending it afterwards is a duplicate.
        s.table
            .otel_on_end(data(context(TRACE, "00000000000000dd"), "", "late"));
        let spans = s.exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 1);
        let span = &spans[0];
        assert_eq!(span.name, UNFINISHED_SPAN);
        assert_eq!(span.span_context.span_id(), SpanId::from(0xdd));
        assert_eq!(span.parent_span_id, s.invocation.span_id());
        assert_eq!(span.status, Status::error("unreachable"));
        assert_eq!(span.events.iter().next().unwrap().name, "exception");
        assert_eq!(s.table.counts.spans_rejected, 1);
    }

    #[test]
    fn the_span_budget_and_limits_apply() {
        let limits = Limits {
            max_spans: 1,
            max_attributes_per_span: 1,
            ..Limits::default()
        };
        let mut s = setup(limits);
        let mut first = data(context(TRACE, "0000000000000001"), "", "first");
        first.attributes = (0..3)
            .map(|i| OtelKeyValue {
                key: format!("k{i}"),
                value: "true".into(),
            })
            .collect();
        s.table.otel_on_end(first);
        s.table
            .otel_on_end(data(context(TRACE, "0000000000000002"), "", "second"));
        let spans = s.exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!(
            spans[0].attributes.len(),
            1 + 2,
            "one of the guest's, the identity"
        );
        assert_eq!(s.table.counts.attributes_dropped, 2);
        assert_eq!(s.table.counts.spans_dropped, 1);
    }
}
