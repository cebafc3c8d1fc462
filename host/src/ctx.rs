//! The per-store state behind the telemetry imports and how a store reaches
//! it (the view), in the style of wasmtime-wasi's `WasiView`.

use crate::guest::SpanTable;
use crate::limits::Limits;
use crate::plugin_telemetry::PluginTelemetry;
use crate::propagation::Propagators;
use crate::stats::TracingStats;
use opentelemetry::{Context, KeyValue};
use std::sync::Arc;
use wasmtime::component::Linker;
use wasmtime::{Trap, WasmBacktrace};

/// Per-store telemetry state: the guest's spans and contexts, the current
/// context, the limits and what is left of the budgets.
///
/// Build one per store with [`WasmtraceCtx::builder`]; before calling into
/// the guest, [`set_parent`](Self::set_parent) the context its spans belong
/// under; after a trap, [`end_open_spans`](Self::end_open_spans). Dropping
/// it ends the spans the guest left open and adds its counts to the
/// plugin's [`TracingStats`].
pub struct WasmtraceCtx {
    pub(crate) table: SpanTable,
    instance_id: i64,
    /// Outbound `wasi:http`, when this store may make requests.
    pub(crate) http: Option<crate::http::OutboundHttp>,
}

/// Builds a [`WasmtraceCtx`].
#[derive(Debug)]
pub struct WasmtraceCtxBuilder {
    plugin: PluginTelemetry,
    propagators: Option<Arc<Propagators>>,
    limits: Option<Arc<Limits>>,
    stats: Option<Arc<TracingStats>>,
    parent: Context,
    http: Option<crate::http::OutboundHttp>,
}

impl WasmtraceCtxBuilder {
    /// The propagators the guest injects and extracts with (default: from
    /// `OTEL_PROPAGATORS`).
    pub fn with_propagators(mut self, propagators: Arc<Propagators>) -> Self {
        self.propagators = Some(propagators);
        self
    }

    /// What the guest may record (default: [`Limits::default`]).
    pub fn with_limits(mut self, limits: Arc<Limits>) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Where this store's counts go, typically shared by every instance of
    /// one plugin (default: counters of its own).
    pub fn with_stats(mut self, stats: Arc<TracingStats>) -> Self {
        self.stats = Some(stats);
        self
    }

    /// The context guest spans nest under (the invocation's, handle `0`);
    /// also settable later with [`WasmtraceCtx::set_parent`].
    pub fn with_parent(mut self, parent: Context) -> Self {
        self.parent = parent;
        self
    }

    /// Traces this store's outbound `wasi:http` requests as client spans
    /// and sends them only where `http` allows (see
    /// [`crate::OutboundHttp`]); [`WasmtraceCtx`] is then the store's
    /// `WasiHttpHooks`.
    pub fn with_outbound_http(mut self, http: crate::http::OutboundHttp) -> Self {
        self.http = Some(http);
        self
    }

    /// The state.
    pub fn build(self) -> WasmtraceCtx {
        let instance_id = crate::identity::new_instance_id();
        let limits = self.limits.unwrap_or_default();
        let propagators = self
            .propagators
            .unwrap_or_else(|| Arc::new(Propagators::from_env()));
        let identity: Arc<[KeyValue]> = self.plugin.identity().span_attributes(instance_id).into();
        let mut table = SpanTable::new(
            &self.plugin,
            propagators,
            identity,
            limits,
            self.stats.unwrap_or_default(),
        );
        table.set_base(self.parent, 0);
        WasmtraceCtx {
            table,
            instance_id,
            http: self.http,
        }
    }
}

impl WasmtraceCtx {
    /// Starts building the state of one store of one instance of `plugin`,
    /// recording with its tracer, logger and instruments.
    pub fn builder(plugin: &PluginTelemetry) -> WasmtraceCtxBuilder {
        WasmtraceCtxBuilder {
            plugin: plugin.clone(),
            propagators: None,
            limits: None,
            stats: None,
            parent: Context::new(),
            http: None,
        }
    }

    /// Sets the context that guest spans without another parent nest under
    /// (the invocation's, handle `0`): usually the embedder's span for this
    /// call.
    pub fn set_parent(&mut self, parent: Context) {
        self.table.set_base(parent, 0);
    }

    pub(crate) fn set_parent_at_depth(&mut self, parent: Context, depth: u32) {
        self.table.set_base(parent, depth);
    }

    /// The id of this plugin instance, as on its spans' `wasmtrace.instance.id`.
    pub fn instance_id(&self) -> i64 {
        self.instance_id
    }

    /// The context host work for the guest nests under now: its innermost
    /// activated span or attached context, else the invocation's.
    pub fn current_context(&mut self) -> Context {
        self.table.current_context()
    }

    /// How many guest spans are started and not yet ended.
    pub fn open_span_count(&self) -> usize {
        self.table.open_span_count()
    }

    /// The counters this store reports into: its counts are added when it
    /// is dropped, or on [`flush_stats`](Self::flush_stats).
    pub fn stats(&self) -> &Arc<TracingStats> {
        self.table.stats()
    }

    /// Adds this store's counts so far to its [`TracingStats`] (the
    /// recording path counts locally, without atomics).
    pub fn flush_stats(&mut self) {
        self.table.flush_stats();
    }

    /// Ends every span the guest left open, innermost first, with status
    /// Error and an `exception` event describing `failure`. Call this after
    /// a trap: it is what keeps a crashing guest's spans (docs/DESIGN.md §8).
    pub fn end_open_spans(&mut self, failure: &GuestFailure) -> usize {
        self.table.end_open_spans(Some(failure))
    }
}

impl std::fmt::Debug for WasmtraceCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmtraceCtx")
            .field("instance_id", &self.instance_id)
            .field("open_spans", &self.open_span_count())
            .finish_non_exhaustive()
    }
}

/// Why a guest stopped abnormally, as recorded on the spans it left open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestFailure {
    /// `exception.type`: `wasm.trap`, `wasm.out_of_fuel`,
    /// `wasm.deadline_exceeded`, `wasm.memory_limit` or `wasm.error`.
    pub kind: String,
    /// `exception.message`: the trap or error message.
    pub message: String,
    /// `exception.stacktrace`: the wasm backtrace, when there is one.
    pub backtrace: Option<String>,
}

impl GuestFailure {
    /// Describes what a call into the guest failed with.
    pub fn from_error(err: &wasmtime::Error) -> Self {
        let backtrace = err
            .downcast_ref::<WasmBacktrace>()
            .map(|bt| bt.to_string())
            .filter(|bt| !bt.trim().is_empty());
        if let Some(budget) = err.downcast_ref::<crate::capabilities::calls::CalleeExhausted>() {
            return Self {
                backtrace,
                ..budget.0.clone()
            };
        }
        let (kind, message) = match err.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => ("wasm.out_of_fuel", "the plugin ran out of fuel".to_owned()),
            Some(Trap::Interrupt) => (
                "wasm.deadline_exceeded",
                "the plugin passed its deadline".to_owned(),
            ),
            Some(trap) => ("wasm.trap", trap.to_string()),
            None => {
                let text = format!("{err:#}");
                if text.contains("growing memory") || text.contains("memory growth failure") {
                    ("wasm.memory_limit", text)
                } else {
                    ("wasm.error", text)
                }
            }
        };
        Self {
            kind: kind.to_owned(),
            message,
            backtrace,
        }
    }

    /// The attributes of the OTel `exception` event for this failure.
    pub fn exception_attributes(&self) -> Vec<KeyValue> {
        crate::guest::convert::exception_attributes(
            self.kind.clone(),
            self.message.clone(),
            self.backtrace.clone(),
        )
    }
}

/// Gives the telemetry imports access to a store's [`WasmtraceCtx`].
pub trait WasmtraceView: Send {
    /// The telemetry state of this store.
    fn wasmtrace(&mut self) -> &mut WasmtraceCtx;
}

impl WasmtraceView for WasmtraceCtx {
    fn wasmtrace(&mut self) -> &mut WasmtraceCtx {
        self
    }
}

/// Adds the `wasmtrace:telemetry` imports (types, propagation, tracing, logs,
/// metrics) to a linker; [`crate::add_tracing_to_linker`] and its siblings
/// add one interface each. The functions are synchronous and cheap, so they also
/// work in stores with async support. They read their arguments in place,
/// within the store's limits: a guest cannot make the host copy more than
/// the limits keep.
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
/// // Linking twice is an error: every import is defined once.
/// assert!(wasmtrace::add_to_linker(&mut linker).is_err());
/// # Ok::<(), wasmtime::Error>(())
/// ```
pub fn add_to_linker<T: WasmtraceView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    crate::guest::add_types_to_linker(linker)?;
    crate::guest::add_propagation_to_linker(linker)?;
    crate::guest::add_tracing_to_linker(linker)?;
    crate::guest::add_logs_to_linker(linker)?;
    crate::guest::add_metrics_to_linker(linker)?;
    Ok(())
}
