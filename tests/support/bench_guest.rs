//! The bench guests' host: the store data, the linker (WASI, the telemetry
//! imports and the bench-only `wasmtrace-bench:nop/nop`) and one
//! long-lived instance ([`Guest`]) that repeats a crossing N times per
//! call. Shared by the benches and the test that checks the bench guests.

use opentelemetry::Context;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{
    Component, Linker, Resource, ResourceTable, ResourceType, TypedFunc, WasmStr,
};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtrace::{Limits, PluginIdentity, WasmtraceCtx, WasmtraceView};

/// The export every bench guest is driven through (both use
/// `wasmtrace_sdk::plugin!`).
pub const HANDLER: &str = "wasmtrace:plugin/handler@0.2.0";

/// Store data of the bench guests: WASI, the resource table and the
/// tracing state, as `wasmtrace::PluginState` holds them.
pub struct BenchState {
    wasi: WasiCtx,
    table: ResourceTable,
    tracing: WasmtraceCtx,
}

impl BenchState {
    /// Sandboxed WASI (as the runtime's) around `tracing`.
    pub fn new(tracing: WasmtraceCtx) -> Self {
        let wasi = WasiCtxBuilder::new()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            tracing,
        }
    }
}

impl WasiView for BenchState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasmtraceView for BenchState {
    fn wasmtrace(&mut self) -> &mut WasmtraceCtx {
        &mut self.tracing
    }
}

/// The host type of `wasmtrace-bench:nop/nop.thing`: nothing behind it.
pub struct Thing;

/// The runtime's linker (WASI sync + `wasmtrace::add_to_linker`) plus the
/// bench-only imports, all defined with plain synchronous `func_wrap`.
pub fn linker(engine: &Engine) -> Linker<BenchState> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("linking WASI");
    wasmtrace::add_to_linker(&mut linker).expect("linking wasmtrace:tracing");
    wasmtrace::add_wasi_otel_to_linker(&mut linker).expect("linking wasi:otel");
    add_nop(&mut linker).expect("linking wasmtrace-bench:nop");
    linker
}

fn add_nop(linker: &mut Linker<BenchState>) -> wasmtime::Result<()> {
    let mut nop = linker.instance("wasmtrace-bench:nop/nop")?;
    nop.func_wrap("nop", |_, (): ()| Ok(()))?;
    nop.func_wrap("take-string", |_, (s,): (String,)| {
        std::hint::black_box(s);
        Ok(())
    })?;
    nop.func_wrap("take-str", |store, (s,): (WasmStr,)| {
        std::hint::black_box(s.to_str(&store)?.len());
        Ok(())
    })?;
    nop.resource("thing", ResourceType::host::<Thing>(), |_, _| Ok(()))?;
    nop.func_wrap("[constructor]thing", |_, (): ()| {
        Ok((Resource::<Thing>::new_own(0),))
    })?;
    Ok(())
}

/// Reads and compiles a bench guest component.
pub fn component(engine: &Engine, path: &str) -> (Component, PluginIdentity) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let component = Component::new(engine, &bytes).expect("compiling the bench guest");
    (
        component,
        PluginIdentity::from_component_bytes(&bytes, "bench"),
    )
}

/// One long-lived instance of a bench guest, its spans recorded under a
/// fixed parent: each [`Guest::run`] is one call that repeats a crossing.
pub struct Guest {
    store: Store<BenchState>,
    handle: TypedFunc<(String,), (Result<String, String>,)>,
    /// A fresh telemetry state for each call: as for an invocation, the
    /// call's spans are what the state holds.
    fresh: Box<dyn Fn() -> WasmtraceCtx + Send>,
}

impl Guest {
    /// Instantiates `component` with spans under `parent`, recorded by
    /// `provider`.
    pub fn new(
        linker: &Linker<BenchState>,
        (component, identity): &(Component, PluginIdentity),
        provider: &SdkTracerProvider,
        parent: Context,
    ) -> Self {
        // One store records millions of spans here: lift the per-invocation
        // span cap (10 000 by default), whose refusals would be a cheaper
        // path than recording.
        let limits = Limits {
            max_spans: i32::MAX as u32,
            max_recorded_bytes: u64::MAX,
            ..Limits::default()
        };
        let plugin = wasmtrace::PluginTelemetry::new(&provider.into(), identity);
        let limits = Arc::new(limits);
        let fresh = Box::new(move || {
            WasmtraceCtx::builder(&plugin)
                .with_limits(limits.clone())
                .with_parent(parent.clone())
                .build()
        });
        let mut store = Store::new(linker.engine(), BenchState::new(fresh()));
        let instance = linker
            .instantiate(&mut store, component)
            .expect("instantiating the bench guest");
        let handler = instance
            .get_export_index(&mut store, None, HANDLER)
            .expect("the bench guest exports the handler");
        let handle = instance
            .get_export_index(&mut store, Some(&handler), "handle")
            .expect("the handler has `handle`");
        let handle = instance
            .get_typed_func(&mut store, handle)
            .expect("`handle` has the handler's type");
        Self {
            store,
            handle,
            fresh,
        }
    }

    /// Calls the guest once to repeat `mode` `n` times, and returns how long
    /// the call took (the per-call overhead is amortized over `n`).
    pub fn run(&mut self, mode: &str, n: u64) -> Duration {
        let input = format!("{mode} {n}");
        // The previous call's spans go with its state (counted as it drops).
        self.store.data_mut().tracing = (self.fresh)();
        let start = Instant::now();
        let (output,) = self
            .handle
            .call(&mut self.store, (input,))
            .expect("the bench guest trapped");
        let elapsed = start.elapsed();
        assert_eq!(output, Ok(n.to_string()), "bench guest mode {mode}");
        let tracing = &mut self.store.data_mut().tracing;
        tracing.flush_stats();
        assert_eq!(
            tracing.stats().spans_dropped(),
            0,
            "the limits refused spans"
        );
        elapsed
    }
}
