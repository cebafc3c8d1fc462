//! The span table: the one owner of a store's telemetry state.
//!
//! Every handle a guest holds (its spans, its contexts, the two fixed
//! contexts), the host's current-context stack, the per-span limits and
//! the call tree's budgets live here, and every span recorded for a guest
//! goes through here: its own spans, and the host spans made on its behalf
//! (cache calls, outbound HTTP requests, the invocations of plugins it
//! calls). Lookups are O(1): a span handle indexes a `Vec`, a context
//! handle a slab slot checked by generation.
//!
//! Every operation is total: a guest can end twice, use a stale or made-up
//! handle, or end a parent before its children without trapping.

use super::args::{Args, Text};
use super::convert::{EVENT_COST, Keys, RANDOM, exception_attributes};
use super::metrics::StoreInstruments;
use crate::bindings::telemetry::tracing::SpanKind as WitSpanKind;
use crate::bindings::telemetry::types::SpanContext as WitSpanContext;
use crate::budget::Budget;
use crate::limits::Limits;
use crate::plugin_telemetry::PluginTelemetry;
use crate::propagation::Propagators;
use crate::stats::{CallTimer, Counts, TracingStats};
use crate::telemetry::Dropped;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{
    Span as _, SpanBuilder, SpanContext, SpanKind, Status, TraceContextExt, Tracer as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::logs::SdkLogger;
use opentelemetry_sdk::trace::{SdkTracer, Span as SdkSpan};
use slab::Slab;
use std::ops::Range;
use std::sync::Arc;

/// A handle as the guest holds it (WIT `context`).
pub(crate) type Handle = u32;

/// The invocation's context: the embedder's span and baggage.
pub(crate) const INVOCATION: Handle = 0;
/// The empty context: spans under it begin a new trace.
pub(crate) const EMPTY: Handle = 1;
/// What a refused span or context is: an unknown handle.
pub(crate) const REFUSED: Handle = u32::MAX;
/// The handle of the first span; span `i` is `FIRST_SPAN + i`.
const FIRST_SPAN: Handle = 2;
/// Set in context handles: `CONTEXT | generation << 16 | slot`. Bit 30,
/// not 31: every handle stays below 2^31, because componentize-js 0.23
/// lowers a `u32` argument through a signed 32-bit conversion that does not
/// keep 2^31 and above (such a handle reached the host as an unknown one,
/// so a JavaScript guest could not use extracted or baggage contexts).
const CONTEXT: Handle = 1 << 30;
/// The generation bits of a context handle (above the slot, below `CONTEXT`).
const GENERATION_MASK: u16 = 0x3fff;

/// The fixed host memory of one span, besides its name and what the byte
/// budget pays for: the SDK's span data and the table's entry.
pub(crate) const SPAN_FIXED_COST: u64 =
    (size_of::<opentelemetry_sdk::trace::SpanData>() + size_of::<SpanEntry>()) as u64;
/// The fixed host memory of one live context handle.
pub(crate) const CONTEXT_FIXED_COST: u64 = size_of::<ContextEntry>() as u64 + 64;

/// A span started in this store: open or ended, recorded or not.
struct SpanEntry {
    sc: SpanContext,
    /// The context the span was started in: its parent's, whose baggage
    /// and entries the span's own context carries on.
    parent_cx: Context,
    /// The span's own context, built the first time it is needed.
    cx: Option<Context>,
    depth: u32,
    /// Its slot in `open` while it is open and recording.
    open: Option<u32>,
    /// Whether it is on the current-context stack.
    activated: bool,
}

/// A recording span not yet ended.
struct OpenSpan {
    span: SdkSpan,
    /// Its index in `spans`: start order, for ending children first.
    index: u32,
    attributes: u32,
    events: u32,
    /// What the limits dropped from it, for its OTLP `dropped_*` counts.
    dropped: Dropped,
    /// OTel's status rules, applied here (the SDK orders two errors by
    /// their text): `ok` is final, `unset` changes nothing, a later error
    /// replaces an earlier one.
    status: Status,
}

/// A context handle from `extract` or `with-baggage`.
struct ContextEntry {
    cx: Context,
    depth: u32,
    generation: u16,
}

/// One entry of the current-context stack.
enum Current {
    /// An activated span, current until it ends.
    Span(u32),
    /// An attached context, current until detached. It keeps its own copy,
    /// so that releasing the handle does not change what is current.
    Attached {
        handle: Handle,
        cx: Context,
        depth: u32,
    },
}

/// A span the host records for the guest (a capability call): its parent
/// and depth, once the table admitted it.
pub(crate) struct HostSpanParent {
    pub(crate) cx: Context,
    pub(crate) depth: u32,
}

/// A vector in fixed-size chunks: it grows without moving what it holds
/// (a `Vec` of many spans would copy them all each time it doubles).
struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Chunked<T> {
    const CHUNK: usize = 256;

    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, value: T) {
        if self.len.is_multiple_of(Self::CHUNK) && self.len / Self::CHUNK == self.chunks.len() {
            self.chunks.push(Vec::with_capacity(Self::CHUNK));
        }
        self.chunks[self.len / Self::CHUNK].push(value);
        self.len += 1;
    }

    /// Empties it, keeping the first chunk's memory.
    fn clear(&mut self) {
        self.chunks.truncate(1);
        if let Some(first) = self.chunks.first_mut() {
            first.clear();
        }
        self.len = 0;
    }

    #[cfg(any(test, feature = "fuzzing"))]
    fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }
}

impl<T> std::ops::Index<usize> for Chunked<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        &self.chunks[i / Self::CHUNK][i % Self::CHUNK]
    }
}

impl<T> std::ops::IndexMut<usize> for Chunked<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.chunks[i / Self::CHUNK][i % Self::CHUNK]
    }
}

/// How much a table holds (see [`SpanTable::sizes`]).
#[cfg(any(test, feature = "fuzzing"))]
#[derive(Debug)]
pub(crate) struct TableSizes {
    pub(crate) spans: usize,
    pub(crate) open: usize,
    pub(crate) contexts: usize,
    pub(crate) stack: usize,
    pub(crate) max_depth: u32,
}

/// The memory of a table's collections, kept between the stores of one
/// plugin: a new store's table starts with the buffers an earlier one
/// grew, emptied, instead of growing its own again (allocations, and the
/// page faults of touching fresh memory, on every invocation). Nothing of
/// what they held survives the emptying; the interned keys (`Keys`: shared
/// `&'static` strings, which a guest cannot observe) are kept as they are.
#[derive(Default)]
pub(crate) struct TableBuffers {
    spans: Chunked<SpanEntry>,
    open: Slab<OpenSpan>,
    contexts: Slab<ContextEntry>,
    stack: Vec<Current>,
    keys: Keys,
    args: Box<Args>,
}

impl TableBuffers {
    /// Buffers are kept up to this many entries (or bytes, for the
    /// arguments): a plugin that once recorded a flood does not keep its
    /// memory.
    const MAX_KEPT: usize = 256;
    const MAX_KEPT_ARG_BYTES: usize = 64 << 10;

    /// Empties every buffer (dropping what it held), and gives back the
    /// memory of any that grew past what is kept.
    fn clear(&mut self) {
        self.spans.clear();
        self.open.clear();
        if self.open.capacity() > Self::MAX_KEPT {
            self.open = Slab::new();
        }
        self.contexts.clear();
        if self.contexts.capacity() > Self::MAX_KEPT {
            self.contexts = Slab::new();
        }
        self.stack.clear();
        self.stack.shrink_to(Self::MAX_KEPT);
        self.args.clear();
        if self.args.capacity_bytes() > Self::MAX_KEPT_ARG_BYTES {
            *self.args = Args::default();
        }
    }
}

/// One plugin's spare [`TableBuffers`], shared by its stores.
#[derive(Default)]
pub(crate) struct TablePool(std::sync::Mutex<Vec<TableBuffers>>);

impl std::fmt::Debug for TablePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TablePool").finish_non_exhaustive()
    }
}

impl TablePool {
    /// Spare buffers kept: about as many as invocations run at once.
    const MAX: usize = 64;

    fn take(&self) -> TableBuffers {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default()
    }

    fn give(&self, mut buffers: TableBuffers) {
        buffers.clear();
        let mut pool = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < Self::MAX {
            pool.push(buffers);
        }
    }
}

/// See the [module documentation](self).
pub(crate) struct SpanTable {
    pub(super) tracer: SdkTracer,
    pub(crate) propagators: Arc<Propagators>,
    /// Plugin identity stamped on every guest span and log record (content
    /// hash, instance).
    pub(super) identity: Arc<[KeyValue]>,
    /// The plugin's logger, when logs are recorded.
    pub(super) logger: Option<SdkLogger>,
    /// The plugin's instruments, as this store uses them.
    pub(super) instruments: StoreInstruments,
    /// The invocation's context and its depth in the call tree.
    pub(super) base: Context,
    base_depth: u32,
    spans: Chunked<SpanEntry>,
    open: Slab<OpenSpan>,
    contexts: Slab<ContextEntry>,
    next_generation: u16,
    stack: Vec<Current>,
    pub(crate) limits: Arc<Limits>,
    pub(crate) budget: Budget,
    pub(super) keys: Keys,
    /// Which calls the tracing-time metric times.
    pub(super) timer: CallTimer,
    pub(super) counts: Counts,
    /// What the argument reader dropped for the call in progress.
    lifted: Counts,
    /// The call's arguments, read out of guest memory (reused; boxed, so
    /// that taking it for a call moves a pointer).
    pub(crate) args: Option<Box<Args>>,
    stats: Arc<TracingStats>,
    /// What `wasi:otel` calls told the host: the guest's spans by id.
    pub(super) otel: super::wasi_otel::OtelState,
    /// Where the buffers go back when the table is dropped.
    pool: Arc<TablePool>,
}

impl SpanTable {
    pub(crate) fn new(
        plugin: &PluginTelemetry,
        propagators: Arc<Propagators>,
        identity: Arc<[KeyValue]>,
        limits: Arc<Limits>,
        stats: Arc<TracingStats>,
    ) -> Self {
        let pool = plugin.table_pool().clone();
        let buffers = pool.take();
        Self {
            tracer: plugin.tracer().clone(),
            propagators,
            identity,
            logger: plugin.logger().cloned(),
            instruments: StoreInstruments::new(plugin.instruments().cloned()),
            base: Context::new(),
            base_depth: 0,
            spans: buffers.spans,
            open: buffers.open,
            contexts: buffers.contexts,
            next_generation: 0,
            stack: buffers.stack,
            budget: Budget::new(&limits, None),
            limits,
            keys: buffers.keys,
            timer: CallTimer::default(),
            counts: Counts::default(),
            lifted: Counts::default(),
            args: Some(buffers.args),
            stats,
            otel: Default::default(),
            pool,
        }
    }

    /// Sets the invocation's context (handle `0`) and how deep in a call
    /// tree it is.
    pub(crate) fn set_base(&mut self, cx: Context, depth: u32) {
        self.base = cx;
        self.base_depth = depth;
    }

    pub(crate) fn stats(&self) -> &Arc<TracingStats> {
        &self.stats
    }

    /// Adds this store's counts to the plugin's shared counters.
    pub(crate) fn flush_stats(&mut self) {
        if self.counts != Counts::default() {
            self.stats.add(&self.counts);
            self.counts = Counts::default();
        }
    }

    /// How much the table holds, for the fuzzer's invariants.
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn sizes(&self) -> TableSizes {
        TableSizes {
            spans: self.spans.len(),
            open: self.open.len(),
            contexts: self.contexts.len(),
            stack: self.stack.len(),
            max_depth: self.spans.iter().map(|s| s.depth).max().unwrap_or(0),
        }
    }

    /// Sets what the argument reader dropped for the call in progress: the
    /// call's operation charges it to its span.
    pub(crate) fn set_lifted(&mut self, counts: Counts) {
        self.lifted = counts;
    }

    /// Counts what the reader dropped, if the call's operation did not.
    pub(crate) fn settle_lifted(&mut self) {
        let lifted = std::mem::take(&mut self.lifted);
        self.counts.merge(&lifted);
    }

    /// Runs `op`, which counts drops into `self.counts`, and charges those
    /// drops (and the reader's) to the open span `slot` as well.
    fn on_span<R>(&mut self, slot: Option<usize>, op: impl FnOnce(&mut Self) -> R) -> R {
        let lifted = std::mem::take(&mut self.lifted);
        self.counts.merge(&lifted);
        let before = (
            self.counts.attributes_dropped,
            self.counts.events_dropped,
            self.counts.links_dropped,
        );
        let result = op(self);
        if let Some(open) = slot.and_then(|s| self.open.get_mut(s)) {
            let d = &mut open.dropped;
            let c = &self.counts;
            d.attributes += (lifted.attributes_dropped + c.attributes_dropped - before.0) as u32;
            d.events += (lifted.events_dropped + c.events_dropped - before.1) as u32;
            d.links += (lifted.links_dropped + c.links_dropped - before.2) as u32;
        }
        result
    }

    pub(crate) fn open_span_count(&self) -> usize {
        self.open.len()
    }

    // --- Resolving handles ----------------------------------------------

    fn span_index(&self, handle: Handle) -> Option<usize> {
        let index = handle.checked_sub(FIRST_SPAN)? as usize;
        (handle & CONTEXT == 0 && index < self.spans.len()).then_some(index)
    }

    fn context_slot(&self, handle: Handle) -> Option<usize> {
        if handle & CONTEXT == 0 || handle == REFUSED {
            return None;
        }
        let slot = (handle & 0xffff) as usize;
        let generation = (handle >> 16) as u16 & GENERATION_MASK;
        self.contexts
            .get(slot)
            .filter(|e| e.generation == generation)
            .map(|_| slot)
    }

    /// The span's own context (its parent's, with the span in it).
    fn span_cx(&mut self, index: usize) -> Context {
        let entry = &mut self.spans[index];
        entry
            .cx
            .get_or_insert_with(|| entry.parent_cx.with_remote_span_context(entry.sc.clone()))
            .clone()
    }

    /// The context `handle` names and its depth; an unknown handle names
    /// the current context.
    pub(super) fn resolve(&mut self, handle: Handle) -> (Context, u32) {
        match handle {
            INVOCATION => (self.base.clone(), self.base_depth),
            EMPTY => (Context::new(), self.base_depth),
            _ => {
                if let Some(index) = self.span_index(handle) {
                    (self.span_cx(index), self.spans[index].depth)
                } else if let Some(slot) = self.context_slot(handle) {
                    let entry = &self.contexts[slot];
                    (entry.cx.clone(), entry.depth)
                } else {
                    self.current_with_depth()
                }
            }
        }
    }

    /// The host's current context and its depth.
    fn current_with_depth(&mut self) -> (Context, u32) {
        match self.stack.last() {
            None => (self.base.clone(), self.base_depth),
            Some(Current::Span(index)) => {
                let index = *index as usize;
                (self.span_cx(index), self.spans[index].depth)
            }
            Some(Current::Attached { cx, depth, .. }) => (cx.clone(), *depth),
        }
    }

    /// The host's current context: what outbound requests nest under.
    pub(crate) fn current_context(&mut self) -> Context {
        self.current_with_depth().0
    }

    /// The handle of the host's current context.
    pub(crate) fn current(&self) -> Handle {
        match self.stack.last() {
            None => INVOCATION,
            Some(Current::Span(index)) => FIRST_SPAN + index,
            Some(Current::Attached { handle, .. }) => *handle,
        }
    }

    /// The open span of `handle`, if it is one.
    fn open_span(&mut self, handle: Handle) -> Option<&mut OpenSpan> {
        let slot = self.spans[self.span_index(handle)?].open?;
        self.open.get_mut(slot as usize)
    }

    // --- Spans ------------------------------------------------------------

    /// Starts a span: see the WIT's `tracing.start`. Its name and
    /// `attributes` are in `args`, and its links are `args.links`.
    pub(crate) fn start(
        &mut self,
        parent: Handle,
        args: &Args,
        name: Text,
        kind: WitSpanKind,
        attributes: Range<u32>,
        activate: bool,
    ) -> Handle {
        let t = self.timer.start();
        let handle = self.start_span(parent, args, name, kind.into(), attributes, activate);
        self.counts.add_time_since(t);
        handle
    }

    fn start_span(
        &mut self,
        parent: Handle,
        args: &Args,
        name: Text,
        kind: SpanKind,
        attributes: Range<u32>,
        activate: bool,
    ) -> Handle {
        let (parent_cx, parent_depth) = self.resolve(parent);
        let lifted = std::mem::take(&mut self.lifted);
        self.counts.merge(&lifted);
        let before = (self.counts.attributes_dropped, self.counts.links_dropped);
        self.counts.spans_started += 1;
        let limits = &self.limits;
        if self.budget.spans == 0
            || self.open.len() >= limits.max_open_spans as usize
            || parent_depth >= limits.max_depth
            || (activate && self.stack.len() >= limits.max_depth as usize)
        {
            self.counts.spans_dropped += 1;
            return REFUSED;
        }
        self.budget.spans -= 1;
        let (max_attributes, max_links) =
            (limits.max_attributes_per_span, limits.max_links_per_span);
        let mut recorder = recorder!(self);
        let name = recorder.name(args.text(name));
        // Sized once: the SDK keeps this `Vec` as the span's attributes.
        let wanted = (attributes.end - attributes.start).min(max_attributes) as usize;
        let mut kept = Vec::with_capacity(wanted + self.identity.len());
        recorder.attributes(args, attributes, max_attributes, &mut kept);
        let links = recorder.links(args, max_links);
        let guest_attributes = kept.len() as u32;
        kept.extend_from_slice(&self.identity);
        let mut builder = SpanBuilder::from_name(name)
            .with_kind(kind)
            .with_attributes(kept);
        if !links.is_empty() {
            builder = builder.with_links(links);
        }
        let span = self.tracer.build_with_context(builder, &parent_cx);
        let sc = span_context_with_random(span.span_context(), &parent_cx);
        let index = self.spans.len() as u32;
        let dropped = Dropped {
            attributes: (lifted.attributes_dropped + self.counts.attributes_dropped - before.0)
                as u32,
            events: 0,
            links: (lifted.links_dropped + self.counts.links_dropped - before.1) as u32,
        };
        let open = span.is_recording().then(|| {
            self.open.insert(OpenSpan {
                span,
                index,
                attributes: guest_attributes,
                events: 0,
                dropped,
                status: Status::Unset,
            }) as u32
        });
        self.spans.push(SpanEntry {
            sc,
            parent_cx,
            cx: None,
            depth: parent_depth + 1,
            open,
            activated: activate,
        });
        if activate {
            self.stack.push(Current::Span(index));
        }
        FIRST_SPAN + index
    }

    pub(crate) fn set_attributes(&mut self, span: Handle, args: &Args, attributes: Range<u32>) {
        let t = self.timer.start();
        let max = self.limits.max_attributes_per_span;
        let slot = self.open_slot(span);
        self.on_span(slot, |table| {
            if let Some(slot) = slot {
                let present = table.open[slot].attributes;
                let mut kept = Vec::with_capacity((attributes.end - attributes.start) as usize);
                // `attributes` counts toward `max` from what the span has.
                let room = max.saturating_sub(present);
                recorder!(table).attributes(args, attributes, room, &mut kept);
                let open = &mut table.open[slot];
                open.attributes += kept.len() as u32;
                open.span.set_attributes(kept);
            } else {
                table.counts.attributes_dropped += u64::from(attributes.end - attributes.start);
            }
        });
        self.counts.add_time_since(t);
    }

    pub(crate) fn add_event(
        &mut self,
        span: Handle,
        args: &Args,
        name: Text,
        attributes: Range<u32>,
    ) {
        let t = self.timer.start();
        let Some(slot) = self.open_slot(span) else {
            self.settle_lifted();
            return;
        };
        let (max_events, max_attributes) = (
            self.limits.max_events_per_span,
            self.limits.max_attributes_per_event,
        );
        // What is dropped of an event's attributes is not the span's.
        self.settle_lifted();
        let mut recorder = recorder!(self);
        if self.open[slot].events >= max_events || !recorder.charge(EVENT_COST) {
            self.counts.events_dropped += 1;
            self.open[slot].dropped.events += 1;
        } else {
            let name = recorder.name(args.text(name));
            let wanted = (attributes.end - attributes.start).min(max_attributes) as usize;
            let mut kept = Vec::with_capacity(wanted);
            recorder.attributes(args, attributes, max_attributes, &mut kept);
            let open = &mut self.open[slot];
            open.events += 1;
            open.span.add_event(name, kept);
        }
        self.counts.add_time_since(t);
    }

    pub(crate) fn record_exception(
        &mut self,
        span: Handle,
        exception_type: &str,
        message: &str,
        stacktrace: Option<&str>,
    ) {
        let Some(slot) = self.open_slot(span) else {
            return;
        };
        let mut recorder = recorder!(self);
        if self.open[slot].events >= self.limits.max_events_per_span || !recorder.charge(EVENT_COST)
        {
            self.counts.events_dropped += 1;
            self.open[slot].dropped.events += 1;
            return;
        }
        let attributes = exception_attributes(
            recorder.text(exception_type),
            recorder.text(message),
            stacktrace.map(|s| recorder.text(s)),
        );
        let open = &mut self.open[slot];
        open.events += 1;
        open.span.add_event("exception", attributes);
    }

    pub(crate) fn set_status(&mut self, span: Handle, status: Status) {
        let Some(slot) = self.open_slot(span) else {
            return;
        };
        let status = match status {
            Status::Error { description } => Status::error(recorder!(self).text(&description)),
            other => other,
        };
        let open = &mut self.open[slot];
        match (&open.status, &status) {
            (Status::Ok, _) | (_, Status::Unset) => {}
            _ => open.status = status,
        }
    }

    pub(crate) fn update_name(&mut self, span: Handle, name: &str) {
        if let Some(slot) = self.open_slot(span) {
            let name = recorder!(self).name(name);
            self.open[slot].span.update_name(name);
        }
    }

    pub(crate) fn is_recording(&mut self, span: Handle) -> bool {
        self.open_span(span).is_some()
    }

    fn open_slot(&self, span: Handle) -> Option<usize> {
        self.spans[self.span_index(span)?].open.map(|s| s as usize)
    }

    /// Ends a span; a no-op for one that is ended or not a span.
    pub(crate) fn end(&mut self, span: Handle) {
        let t = self.timer.start();
        if let Some(index) = self.span_index(span) {
            self.end_index(index, None);
        }
        self.counts.add_time_since(t);
    }

    fn end_index(&mut self, index: usize, failure: Option<&crate::GuestFailure>) {
        let entry = &mut self.spans[index];
        if entry.activated {
            entry.activated = false;
            if let Some(pos) = self
                .stack
                .iter()
                .rposition(|c| matches!(c, Current::Span(i) if *i as usize == index))
            {
                self.stack.remove(pos);
            }
        }
        let Some(slot) = self.spans[index].open.take() else {
            return;
        };
        // Ended in place, then removed: the span's data moves once, to the
        // processors.
        let open = &mut self.open[slot as usize];
        if let Some(failure) = failure {
            open.span
                .add_event("exception", failure.exception_attributes());
            open.status = Status::error(failure.message.clone());
        }
        let status = std::mem::take(&mut open.status);
        if status != Status::Unset {
            open.span.set_status(status);
        }
        let id = open.span.span_context().span_id();
        let span = &mut open.span;
        crate::telemetry::while_ending(id, open.dropped, || span.end());
        self.open.remove(slot as usize);
        self.counts.spans_ended += 1;
    }

    /// Ends every span still open, innermost (latest started) first; with
    /// `failure`, each gets status Error and an `exception` event. Returns
    /// how many there were.
    pub(crate) fn end_open_spans(&mut self, failure: Option<&crate::GuestFailure>) -> usize {
        // `wasi:otel` spans started and never ended are the innermost.
        let unfinished = self.end_otel_spans(failure);
        let mut open: Vec<u32> = self.open.iter().map(|(_, o)| o.index).collect();
        open.sort_unstable_by(|a, b| b.cmp(a));
        for &index in &open {
            self.end_index(index as usize, failure);
        }
        self.stack.clear();
        unfinished + open.len()
    }

    /// Admits a span the host records for the guest under `parent` (the
    /// current context when `None`): counted against the span budget and
    /// the depth limit like the guest's own. `None` when refused.
    pub(crate) fn admit_host_span(&mut self, parent: Option<Handle>) -> Option<HostSpanParent> {
        let (cx, depth) = match parent {
            Some(handle) => self.resolve(handle),
            None => self.current_with_depth(),
        };
        self.admit(cx, depth)
    }

    /// Like [`Self::admit_host_span`], except under a local span of an
    /// unsampled trace: such a span is skipped as the SDK skips the guest's
    /// own there (not recorded, not counted in `spans_started`), `None`.
    pub(crate) fn admit_sampled_host_span(&mut self, parent: Handle) -> Option<HostSpanParent> {
        let (cx, depth) = self.resolve(parent);
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() && !sc.is_remote() && !sc.is_sampled() {
            return None;
        }
        self.admit(cx, depth)
    }

    /// Counts a host span under `cx` against the span budget and the depth
    /// limit.
    fn admit(&mut self, cx: Context, depth: u32) -> Option<HostSpanParent> {
        self.counts.spans_started += 1;
        if self.budget.spans == 0 || depth >= self.limits.max_depth {
            self.counts.spans_dropped += 1;
            return None;
        }
        self.budget.spans -= 1;
        Some(HostSpanParent { cx, depth })
    }

    /// Counts the end of a span admitted with [`Self::admit_host_span`].
    pub(crate) fn host_span_ended(&mut self) {
        self.counts.spans_ended += 1;
    }

    /// The plugin identity attributes, for host spans made for the guest.
    pub(crate) fn identity(&self) -> &[KeyValue] {
        &self.identity
    }

    // --- Contexts ---------------------------------------------------------

    /// A new context handle for `cx`, or [`REFUSED`] past the limit.
    fn new_context(&mut self, cx: Context, depth: u32) -> Handle {
        if self.contexts.len() >= self.limits.max_contexts as usize {
            self.counts.contexts_dropped += 1;
            return REFUSED;
        }
        let generation = self.next_generation;
        self.next_generation = (self.next_generation + 1) & GENERATION_MASK;
        let slot = self.contexts.insert(ContextEntry {
            cx,
            depth,
            generation,
        });
        CONTEXT | u32::from(generation) << 16 | slot as u32
    }

    pub(crate) fn extract(&mut self, carrier: &[(String, String)]) -> Handle {
        let cx = self.propagators.extract(carrier);
        let sc = cx.span().span_context().clone();
        if !sc.is_valid() && cx.baggage().is_empty() {
            return EMPTY;
        }
        // Baggage is guest data: the byte budget pays for it.
        let cost: u64 = cx
            .baggage()
            .iter()
            .map(|(k, (v, _))| (k.as_str().len() + v.as_str().len()) as u64)
            .sum();
        let cx = if recorder!(self).charge(cost) {
            cx
        } else {
            self.counts.bytes_dropped += cost;
            crate::propagation::span_only(&cx)
        };
        self.new_context(cx, self.base_depth)
    }

    pub(crate) fn inject(&mut self, handle: Handle) -> Vec<(String, String)> {
        let (cx, _) = self.resolve_known(handle);
        self.propagators.inject(&cx)
    }

    /// Like `resolve`, but an unknown handle names nothing (the empty
    /// context) rather than the current one: reading an unknown handle
    /// must not leak what is current.
    fn resolve_known(&mut self, handle: Handle) -> (Context, u32) {
        if handle == INVOCATION
            || handle == EMPTY
            || self.span_index(handle).is_some()
            || self.context_slot(handle).is_some()
        {
            self.resolve(handle)
        } else {
            (Context::new(), self.base_depth)
        }
    }

    pub(crate) fn span_context(&mut self, handle: Handle) -> WitSpanContext {
        if let Some(index) = self.span_index(handle) {
            let entry = &self.spans[index];
            return guest_span_context(&entry.sc, &entry.parent_cx);
        }
        let (cx, _) = self.resolve_known(handle);
        let sc = span_context_with_random(cx.span().span_context(), &cx);
        guest_span_context(&sc, &cx)
    }

    pub(crate) fn baggage(&mut self, handle: Handle) -> Vec<(String, String)> {
        let (cx, _) = self.resolve_known(handle);
        cx.baggage()
            .iter()
            .map(|(k, (v, _))| (k.to_string(), v.to_string()))
            .collect()
    }

    pub(crate) fn with_baggage(
        &mut self,
        handle: Handle,
        entries: Vec<(String, String)>,
    ) -> Handle {
        let (cx, depth) = self.resolve_known(handle);
        let cost: u64 = entries
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum();
        if !recorder!(self).charge(cost) {
            self.counts.bytes_dropped += cost;
            self.counts.contexts_dropped += 1;
            return REFUSED;
        }
        // Names must be W3C tokens; entries past W3C's limits (64 entries,
        // 8192 bytes as encoded) are dropped.
        let baggage = crate::propagation::baggage_with_entries(cx.baggage(), entries);
        let cx = cx.with_baggage(baggage);
        self.new_context(cx, depth)
    }

    pub(crate) fn attach(&mut self, handle: Handle) {
        let (cx, depth) = self.resolve_known(handle);
        // Attached contexts count towards the nesting depth: a guest that
        // attaches in a loop must not grow the stack without bound.
        if depth >= self.limits.max_depth || self.stack.len() >= self.limits.max_depth as usize {
            self.counts.contexts_dropped += 1;
            return;
        }
        if let Some(index) = self.span_index(handle) {
            // A span attached is current as itself (and ends its turn when
            // detached, not when it ends).
            let cx = self.span_cx(index);
            self.stack.push(Current::Attached { handle, cx, depth });
        } else {
            self.stack.push(Current::Attached { handle, cx, depth });
        }
    }

    pub(crate) fn detach(&mut self, handle: Handle) {
        if let Some(pos) = self
            .stack
            .iter()
            .rposition(|c| matches!(c, Current::Attached { handle: h, .. } if *h == handle))
        {
            self.stack.remove(pos);
        }
    }

    pub(crate) fn release(&mut self, handle: Handle) {
        if let Some(slot) = self.context_slot(handle) {
            self.contexts.remove(slot);
        }
    }
}

impl Drop for SpanTable {
    fn drop(&mut self) {
        // Spans the guest never ended end with the store, as they were.
        self.end_open_spans(None);
        self.flush_stats();
        self.pool.give(TableBuffers {
            spans: std::mem::take(&mut self.spans),
            open: std::mem::take(&mut self.open),
            contexts: std::mem::take(&mut self.contexts),
            stack: std::mem::take(&mut self.stack),
            keys: std::mem::take(&mut self.keys),
            args: self.args.take().unwrap_or_default(),
        });
    }
}

/// The guest's view of `sc` in `cx`: with the `tracestate` its trace was
/// received with, which opentelemetry's `TraceState` may not hold in full.
fn guest_span_context(sc: &SpanContext, cx: &Context) -> WitSpanContext {
    let mut out = WitSpanContext::from(sc);
    out.trace_state = crate::propagation::tracestate_header(cx, sc);
    out
}

/// `sc` with the W3C random flag when its trace id was made at random: by
/// this host for a new trace (no valid parent in `parent_cx`), or upstream
/// when the parent said so (in its flags, or, for a span the SDK did not
/// sample or a trace the host started, in the context's W3C overlay). The
/// SDK never sets the flag itself.
fn span_context_with_random(sc: &SpanContext, parent_cx: &Context) -> SpanContext {
    let parent = parent_cx.span();
    let parent = parent.span_context();
    let random = if parent.is_valid() && parent.trace_id() == sc.trace_id() {
        // The flags first: the overlay is a map lookup.
        parent.trace_flags() & RANDOM == RANDOM || crate::propagation::is_random(parent_cx, parent)
    } else {
        sc.is_valid()
    };
    if !random || sc.trace_flags() & RANDOM == RANDOM {
        return sc.clone();
    }
    SpanContext::new(
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags() | RANDOM,
        sc.is_remote(),
        sc.trace_state().clone(),
    )
}

#[cfg(test)]
mod tests {
    //! The table driven directly, no wasm: misuse is a no-op.
    use super::*;
    use crate::bindings::telemetry::types::{KeyValue as WitKeyValue, Value};
    use crate::identity::PluginIdentity;
    use opentelemetry::trace::Status as OtelStatus;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

    fn setup(limits: Limits) -> (SpanTable, InMemorySpanExporter, SdkTracerProvider) {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let table = table_of(&plugin_of(&provider), limits);
        (table, exporter, provider)
    }

    fn plugin_of(provider: &SdkTracerProvider) -> PluginTelemetry {
        let identity = PluginIdentity::from_component_bytes(b"\0asm\x0d\0\x01\0", "unit");
        PluginTelemetry::new(&provider.into(), &identity)
    }

    /// A table of `plugin`, as a store of it makes one.
    fn table_of(plugin: &PluginTelemetry, limits: Limits) -> SpanTable {
        SpanTable::new(
            plugin,
            Arc::new(Propagators::default()),
            plugin.identity().span_attributes(7).into(),
            Arc::new(limits),
            Arc::default(),
        )
    }

    fn start(table: &mut SpanTable, parent: Handle, name: &str, activate: bool) -> Handle {
        let mut args = Args::default();
        let name = args.push_text(name);
        let none = args.attributes_len()..args.attributes_len();
        table.start(parent, &args, name, WitSpanKind::Internal, none, activate)
    }

    fn attributes(attributes: Vec<WitKeyValue>) -> (Args, Range<u32>) {
        let mut args = Args::default();
        let range = args.push_wit(attributes);
        (args, range)
    }

    /// A plugin's next store reuses the buffers of the last one's table,
    /// and nothing of what that table held is visible through them: its
    /// span and context handles are unknown, nothing is open, current or
    /// attached, and its unended span was exported when it was dropped.
    #[test]
    fn a_reused_table_holds_nothing_of_the_last_invocation() {
        let (unused, exporter, provider) = setup(Limits::default());
        drop(unused);
        let plugin = plugin_of(&provider);
        let mut first = table_of(&plugin, Limits::default());
        let span = start(&mut first, INVOCATION, "secret-span", true);
        let ended = start(&mut first, span, "ended", false);
        first.end(ended);
        let baggage = first.with_baggage(span, vec![("tenant".into(), "secret".into())]);
        first.attach(baggage);
        assert_eq!(first.baggage(baggage).len(), 1);
        let secret_trace = first.span_context(span).trace_id;
        drop(first);
        assert!(
            exporter
                .get_finished_spans()
                .unwrap()
                .iter()
                .any(|s| s.name == "secret-span"),
            "the span left open was not ended with its table"
        );

        let mut next = table_of(&plugin, Limits::default());
        assert_eq!(next.spans.chunks.len(), 1, "the span buffer was not reused");
        let sizes = next.sizes();
        assert_eq!(
            (sizes.spans, sizes.open, sizes.contexts, sizes.stack),
            (0, 0, 0, 0)
        );
        assert_eq!(next.current(), INVOCATION);
        for stale in [span, ended, baggage] {
            assert!(!next.is_recording(stale));
            assert!(next.baggage(stale).is_empty());
            assert_ne!(next.span_context(stale).trace_id, secret_trace);
        }
        // The first span of this table gets the first handle anew, and is
        // its own.
        let own = start(&mut next, INVOCATION, "own", false);
        assert_eq!(own, span);
        assert_ne!(next.span_context(own).trace_id, secret_trace);
    }

    #[test]
    fn nesting_misuse_and_stale_handles_never_fail() {
        let (mut t, exporter, _provider) = setup(Limits::default());
        let parent = start(&mut t, INVOCATION, "parent", true);
        let current = t.current();
        let child = start(&mut t, current, "child", true);
        assert_eq!(t.current(), child);
        // The parent ends before its child: both stay well-formed.
        t.end(parent);
        t.end(parent);
        let (none, empty) = attributes(vec![]);
        t.set_attributes(parent, &none, empty);
        assert!(!t.is_recording(parent));
        assert_eq!(t.current(), child);
        let (late, range) = attributes(vec![WitKeyValue {
            key: "late".into(),
            value: Value::Bool(true),
        }]);
        t.set_attributes(child, &late, range);
        t.set_status(child, OtelStatus::error("bad"));
        t.end(child);
        assert_eq!(t.current(), INVOCATION);
        // Made-up handles: no-ops, and as a parent the current context.
        for bogus in [REFUSED, 7_000, CONTEXT | 5, 12] {
            t.end(bogus);
            t.set_attributes(bogus, &none, 0..0);
            t.release(bogus);
            t.detach(bogus);
            assert!(!t.is_recording(bogus));
        }
        // An ended span is still a parent.
        let late = start(&mut t, parent, "child-of-ended", false);
        t.end(late);
        assert_eq!(t.open_span_count(), 0);

        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 3);
        let find = |n: &str| spans.iter().find(|s| s.name == n).unwrap();
        let p = find("parent").span_context.span_id();
        assert_eq!(find("child").parent_span_id, p);
        assert_eq!(find("child-of-ended").parent_span_id, p);
        assert_eq!(find("child").status, OtelStatus::error("bad"));
        assert!(
            find("child")
                .attributes
                .iter()
                .any(|kv| kv.key.as_str() == "late")
        );
    }

    #[test]
    fn status_follows_otel_rules() {
        let (mut t, exporter, _provider) = setup(Limits::default());
        for (name, first, second) in [
            ("error-then-ok", OtelStatus::error("x"), OtelStatus::Ok),
            ("ok-then-error", OtelStatus::Ok, OtelStatus::error("x")),
            (
                "error-then-error",
                OtelStatus::error("b"),
                OtelStatus::error("a"),
            ),
            (
                "error-then-unset",
                OtelStatus::error("b"),
                OtelStatus::Unset,
            ),
        ] {
            let s = start(&mut t, INVOCATION, name, false);
            t.set_status(s, first);
            t.set_status(s, second);
            t.end(s);
        }
        let spans = exporter.get_finished_spans().unwrap();
        let status = |n: &str| spans.iter().find(|s| s.name == n).unwrap().status.clone();
        assert_eq!(status("error-then-ok"), OtelStatus::Ok);
        assert_eq!(status("ok-then-error"), OtelStatus::Ok);
        assert_eq!(status("error-then-error"), OtelStatus::error("a"));
        assert_eq!(status("error-then-unset"), OtelStatus::error("b"));
    }

    #[test]
    fn a_crash_ends_open_spans_innermost_first() {
        let (mut t, exporter, _provider) = setup(Limits::default());
        let outer = start(&mut t, INVOCATION, "outer", true);
        let _inner = start(&mut t, outer, "inner", true);
        let failure = crate::GuestFailure {
            kind: "wasm.trap".into(),
            message: "unreachable".into(),
            backtrace: Some("0: guest::f".into()),
        };
        assert_eq!(t.end_open_spans(Some(&failure)), 2);
        assert_eq!(t.end_open_spans(Some(&failure)), 0);
        t.end(outer);
        let spans = exporter.get_finished_spans().unwrap();
        let names: Vec<_> = spans.iter().map(|s| s.name.to_string()).collect();
        assert_eq!(names, ["inner", "outer"]);
        for span in &spans {
            assert_eq!(span.status, OtelStatus::error("unreachable"));
            assert_eq!(span.events.iter().next().unwrap().name, "exception");
        }
    }

    #[test]
    fn depth_counts_through_explicit_parents_and_contexts() {
        let limits = Limits {
            max_depth: 4,
            ..Limits::default()
        };
        let (mut t, exporter, _provider) = setup(limits);
        let mut parent = INVOCATION;
        for i in 0..10 {
            let s = start(&mut t, parent, &format!("s{i}"), false);
            t.end(s);
            if s != REFUSED {
                parent = s;
            }
        }
        assert_eq!(exporter.get_finished_spans().unwrap().len(), 4);
        // Attaching counts too: the deepest span cannot be attached.
        t.attach(parent);
        assert_eq!(t.current(), INVOCATION);
        assert_eq!(t.counts.contexts_dropped, 1);
    }

    #[test]
    fn context_handles_are_checked_by_generation_and_bounded() {
        let limits = Limits {
            max_contexts: 2,
            ..Limits::default()
        };
        let (mut t, _exporter, _provider) = setup(limits);
        let carrier = vec![(
            "traceparent".to_owned(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
        )];
        let a = t.extract(&carrier);
        let b = t.extract(&carrier);
        // What componentize-js guests can pass back (see `CONTEXT`).
        assert!(a < 1 << 31 && b < 1 << 31, "{a:#x} {b:#x}");
        assert_eq!(t.extract(&carrier), REFUSED);
        assert_eq!(
            t.span_context(a).trace_id,
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        t.release(a);
        let c = t.extract(&carrier);
        assert_ne!(a, c, "a reused slot gets a new generation");
        // The stale handle names nothing now.
        assert_eq!(t.span_context(a).trace_id, "0".repeat(32));
        assert!(t.span_context(b).is_remote);
        assert_eq!(t.extract(&[]), EMPTY);
    }

    #[test]
    fn new_traces_carry_the_random_flag() {
        let (mut t, exporter, _provider) = setup(Limits::default());
        let s = start(&mut t, EMPTY, "root", false);
        let flags = t.span_context(s).trace_flags;
        assert!(flags.contains(crate::bindings::telemetry::types::TraceFlags::RANDOM));
        t.end(s);
        drop(exporter);
    }
}
