//! The per-store state behind the tracing imports, and how a store reaches
//! it (the view), in the style of wasmtime-wasi's `WasiView`.

use crate::convert::Keys;
use crate::identity::PluginIdentity;
use crate::limits::{Limits, TracingStats};
use crate::propagation::Propagators;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use slab::Slab;
use std::sync::Arc;
use wasmtime::component::{HasData, Linker};

/// Per-store tracing state: the guest's open spans, its context handles and
/// which context is current.
///
/// Create one per store with [`WasmtraceCtx::new`], set the invocation's
/// parent with [`WasmtraceCtx::set_parent`] before calling into the guest,
/// and call [`WasmtraceCtx::end_open_spans`] if the call traps.
pub struct WasmtraceCtx {
    pub(crate) tracer: SdkTracer,
    pub(crate) propagators: Arc<Propagators>,
    /// Plugin identity stamped on every guest span (content hash, instance).
    pub(crate) identity_attributes: Arc<[KeyValue]>,
    instance_id: String,
    /// The context guest spans nest under when nothing else is current.
    pub(crate) parent: Context,
    pub(crate) spans: Slab<OpenSpan>,
    pub(crate) contexts: Slab<Context>,
    /// Active spans and attached contexts, innermost last.
    pub(crate) active: Vec<Active>,
    pub(crate) limits: Arc<Limits>,
    /// Attribute keys this guest has used, shared across its spans.
    pub(crate) keys: Keys,
    pub(crate) stats: Arc<TracingStats>,
    /// Spans started in this store, and of those, still open.
    pub(crate) started: u32,
    pub(crate) open: u32,
    next_guard: u32,
    next_sequence: u64,
}

/// A guest span held by the host. The span lives inside `cx` so that
/// children can be parented on it and guests can attach it.
pub(crate) struct OpenSpan {
    pub(crate) cx: Context,
    pub(crate) ended: bool,
    /// Start order, so that a crash ends children before their parents.
    pub(crate) sequence: u64,
    /// Nesting depth among this guest's spans (1 for a child of the
    /// invocation).
    pub(crate) depth: u32,
}

/// The `rep` of handles the limits refused: an inert span, an empty context
/// or a guard that restores nothing. Never a slab index.
pub(crate) const REFUSED: u32 = u32::MAX;

/// One entry of the current-context stack.
pub(crate) struct Active {
    pub(crate) key: ActiveKey,
    pub(crate) cx: Context,
    pub(crate) depth: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ActiveKey {
    /// A span started with `activate`, current until it ends.
    Span(u32),
    /// A context attached by the guest, current until its guard drops.
    Guard(u32),
}

impl WasmtraceCtx {
    /// State for one store of one plugin instance. Guest spans are recorded
    /// with `provider`, under the plugin's instrumentation scope.
    pub fn new(provider: &SdkTracerProvider, identity: &PluginIdentity) -> Self {
        Self::with_propagators(provider, identity, Arc::new(Propagators::from_env()))
    }

    /// Like [`WasmtraceCtx::new`], with the propagators the guest uses for
    /// `inject` and `extract` given explicitly.
    pub fn with_propagators(
        provider: &SdkTracerProvider,
        identity: &PluginIdentity,
        propagators: Arc<Propagators>,
    ) -> Self {
        Self::from_tracer(identity.tracer(provider), identity, propagators)
    }

    /// State recording with a tracer already scoped to the plugin (see
    /// [`PluginIdentity::tracer`]), so that stores need not build one each.
    pub fn from_tracer(
        tracer: SdkTracer,
        identity: &PluginIdentity,
        propagators: Arc<Propagators>,
    ) -> Self {
        let instance_id = crate::identity::new_instance_id();
        // Calibrates the call clock now rather than in the guest's first call.
        crate::limits::CallStart::now();
        Self {
            tracer,
            propagators,
            identity_attributes: identity.span_attributes(&instance_id).into(),
            instance_id,
            parent: Context::new(),
            spans: Slab::new(),
            contexts: Slab::new(),
            active: Vec::new(),
            limits: Arc::new(Limits::default()),
            keys: Keys::default(),
            stats: Arc::new(TracingStats::default()),
            started: 0,
            open: 0,
            next_guard: 0,
            next_sequence: 0,
        }
    }

    /// Applies `limits` to what this store's guest records (default:
    /// [`Limits::default`]).
    pub fn with_limits(mut self, limits: Arc<Limits>) -> Self {
        self.limits = limits;
        self
    }

    /// Counts this store's spans into `stats`, typically shared by every
    /// instance of one plugin.
    pub fn with_stats(mut self, stats: Arc<TracingStats>) -> Self {
        self.stats = stats;
        self
    }

    /// The counters this store reports into.
    pub fn stats(&self) -> &Arc<TracingStats> {
        &self.stats
    }

    /// Sets the context that guest spans without another parent nest under:
    /// usually the embedder's span for this invocation.
    pub fn set_parent(&mut self, parent: Context) {
        self.parent = parent;
    }

    /// The id of this plugin instance, as on its spans' `wasmtrace.instance.id`.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// The context guest spans currently nest under.
    pub fn current_context(&self) -> &Context {
        self.active.last().map_or(&self.parent, |a| &a.cx)
    }

    /// How many guest spans are started and not yet ended.
    pub fn open_span_count(&self) -> usize {
        self.open as usize
    }

    /// The nesting depth of the current context (0: the invocation).
    pub(crate) fn current_depth(&self) -> u32 {
        self.active.last().map_or(0, |a| a.depth)
    }

    /// Ends every span the guest left open, innermost first, with status
    /// Error and an `exception` event describing `failure`. Call this after
    /// a trap; it is what keeps a crashing guest's spans (DESIGN.md §8).
    pub fn end_open_spans(&mut self, failure: &GuestFailure) -> usize {
        let mut open: Vec<(u64, usize)> = self
            .spans
            .iter()
            .filter(|(_, s)| !s.ended)
            .map(|(key, s)| (s.sequence, key))
            .collect();
        open.sort_unstable_by_key(|&(sequence, _)| std::cmp::Reverse(sequence));
        for &(_, key) in &open {
            let span = &mut self.spans[key];
            let span_ref = span.cx.span();
            span_ref.add_event("exception", failure.exception_attributes());
            span_ref.set_status(Status::error(failure.message.clone()));
            span_ref.end();
            span.ended = true;
        }
        self.open = 0;
        self.active.clear();
        self.stats.spans_ended_n(open.len() as u64);
        open.len()
    }

    /// Counts a span the host records on the guest's behalf (a traced
    /// capability call) against the invocation's span budget, and returns
    /// its parent: the guest's current context. `None` when over budget.
    pub(crate) fn admit_host_span(&mut self) -> Option<Context> {
        self.stats.span_started();
        self.started = self.started.saturating_add(1);
        if self.started > self.limits.max_spans || self.current_depth() >= self.limits.max_depth {
            self.stats.span_dropped();
            return None;
        }
        Some(self.current_context().clone())
    }

    pub(crate) fn next_sequence(&mut self) -> u64 {
        self.next_sequence += 1;
        self.next_sequence
    }

    pub(crate) fn next_guard(&mut self) -> u32 {
        // Skips REFUSED, which marks refused guards.
        self.next_guard = self.next_guard.wrapping_add(1) % REFUSED;
        self.next_guard
    }

    /// Removes an entry from the current stack, wherever it is: guards and
    /// spans may end out of order.
    pub(crate) fn deactivate(&mut self, key: ActiveKey) {
        if let Some(pos) = self.active.iter().rposition(|a| a.key == key) {
            self.active.remove(pos);
        }
    }
}

impl std::fmt::Debug for WasmtraceCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmtraceCtx")
            .field("open_spans", &self.open_span_count())
            .field("contexts", &self.contexts.len())
            .field("active", &self.active.len())
            .finish_non_exhaustive()
    }
}

/// Why a guest stopped abnormally, as recorded on the spans it left open.
#[derive(Clone, Debug)]
pub struct GuestFailure {
    /// `exception.type`: `wasm.trap`, `wasm.out_of_fuel`, ... .
    pub kind: String,
    /// `exception.message`: the trap or error message.
    pub message: String,
    /// `exception.stacktrace`: the wasm backtrace, when there is one.
    pub backtrace: Option<String>,
}

impl GuestFailure {
    /// The attributes of the OTel `exception` event for this failure.
    pub fn exception_attributes(&self) -> Vec<KeyValue> {
        crate::convert::exception_attributes(
            self.kind.clone(),
            self.message.clone(),
            self.backtrace.clone(),
        )
    }
}

/// Gives the tracing imports access to a store's [`WasmtraceCtx`].
pub trait WasmtraceView: Send {
    /// The tracing state of this store.
    fn wasmtrace(&mut self) -> &mut WasmtraceCtx;
}

impl WasmtraceView for WasmtraceCtx {
    fn wasmtrace(&mut self) -> &mut WasmtraceCtx {
        self
    }
}

/// Marker for `bindgen!`'s `HasData`: the tracing imports see the store's
/// [`WasmtraceCtx`].
pub(crate) struct HasWasmtrace;

impl HasData for HasWasmtrace {
    type Data<'a> = &'a mut WasmtraceCtx;
}

/// Adds the `wasmtrace:tracing` imports (types, propagation, tracing) to a
/// linker. The functions are synchronous and cheap, so they also work in
/// stores with async support.
///
/// ```
/// use wasmtime::component::Linker;
/// use wasmtime::Engine;
/// use wasmtrace::{WasmtraceCtx, WasmtraceView};
///
/// struct MyState {
///     tracing: WasmtraceCtx,
/// }
/// impl WasmtraceView for MyState {
///     fn wasmtrace(&mut self) -> &mut WasmtraceCtx {
///         &mut self.tracing
///     }
/// }
///
/// let engine = Engine::default();
/// let mut linker = Linker::<MyState>::new(&engine);
/// wasmtrace::add_to_linker(&mut linker)?;
/// # Ok::<(), anyhow::Error>(())
/// ```
pub fn add_to_linker<T: WasmtraceView + 'static>(linker: &mut Linker<T>) -> anyhow::Result<()> {
    use crate::bindings::{propagation, tracing, types};
    // The ? turns wasmtime::Error into anyhow::Error.
    types::add_to_linker::<T, HasWasmtrace>(linker, T::wasmtrace)?;
    propagation::add_to_linker::<T, HasWasmtrace>(linker, T::wasmtrace)?;
    tracing::add_to_linker::<T, HasWasmtrace>(linker, T::wasmtrace)?;
    Ok(())
}
