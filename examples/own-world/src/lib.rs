//! An embedder with a WIT world of its own (`wit/app.wit`): it includes
//! `wasmtrace:telemetry/imports` next to its own `directory` interface, and
//! its plugins export its own `greeter` interface.
//!
//! What wasmtrace asks of it, as wasmtime-wasi asks of its embedders: a
//! [`WasmtraceCtx`] in the store data, [`WasmtraceView`] to reach it,
//! [`wasmtrace::add_to_linker`], and `with:` so that the generated bindings
//! use wasmtrace's types. Each call sets the plugin's parent to the
//! embedder's own span, so the plugin's spans (and the directory lookups
//! the embedder traces itself) land in the embedder's trace.

use anyhow::Context as _;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracerProvider;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtrace::{GuestFailure, PluginIdentity, PluginTelemetry, WasmtraceCtx, WasmtraceView};

mod bindings {
    wasmtime::component::bindgen!({
        path: ["../../wit/deps/telemetry", "wit"],
        world: "example:greeter/greeter-plugin",
        // The telemetry interfaces are wasmtrace's: reuse its types.
        with: { "wasmtrace:telemetry": ::wasmtrace::bindings::telemetry },
    });
}

use bindings::GreeterPlugin;
use bindings::example::greeter::directory;

/// The store data: the embedder's own state next to WASI and wasmtrace's.
struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    tracing: WasmtraceCtx,
    tracer: opentelemetry_sdk::trace::SdkTracer,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasmtraceView for State {
    fn wasmtrace(&mut self) -> &mut WasmtraceCtx {
        &mut self.tracing
    }
}

/// The embedder's own interface, traced by the embedder: a lookup is a
/// span under whatever the plugin has current.
impl directory::Host for State {
    fn lookup(&mut self, name: String) -> Option<String> {
        let parent = self.tracing.current_context();
        let mut span = self
            .tracer
            .span_builder("directory.lookup")
            .with_kind(SpanKind::Client)
            .with_attributes([KeyValue::new("directory.name", name.clone())])
            .start_with_context(&self.tracer, &parent);
        let title = match name.as_str() {
            "ada" => Some("Countess".to_owned()),
            "grace" => Some("Rear Admiral".to_owned()),
            _ => None,
        };
        opentelemetry::trace::Span::set_attribute(
            &mut span,
            KeyValue::new("directory.found", title.is_some()),
        );
        title
    }
}

/// A greeter plugin, compiled once, and the linker its instances use.
pub struct Greeters {
    engine: Engine,
    linker: Linker<State>,
    component: Component,
    plugin: PluginTelemetry,
    provider: SdkTracerProvider,
}

impl Greeters {
    /// Loads the greeter component at `path`, recording with `provider`.
    pub fn load(path: &str, provider: &SdkTracerProvider) -> anyhow::Result<Self> {
        let engine = Engine::default();
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        // wasmtrace's telemetry imports, then the embedder's own interface.
        wasmtrace::add_to_linker(&mut linker)?;
        directory::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)?;
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
        let component = Component::new(&engine, &bytes)?;
        Ok(Self {
            engine,
            linker,
            component,
            plugin: PluginTelemetry::new(
                &provider.into(),
                &PluginIdentity::from_component_bytes(&bytes, "greeter"),
            ),
            provider: provider.clone(),
        })
    }

    /// Greets `name` in a fresh instance, under the embedder's `parent`.
    pub fn greet(&self, name: &str, parent: &Context) -> anyhow::Result<String> {
        let tracing = WasmtraceCtx::builder(&self.plugin)
            .with_parent(parent.clone())
            .build();
        let state = State {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            tracing,
            tracer: self.provider.tracer("own-world"),
        };
        let mut store = Store::new(&self.engine, state);
        let result = GreeterPlugin::instantiate(&mut store, &self.component, &self.linker)
            .and_then(|plugin| {
                plugin
                    .example_greeter_greeter()
                    .call_greet(&mut store, name)
            });
        if let Err(err) = &result {
            // A trap: the plugin's open spans end as errors.
            store
                .data_mut()
                .tracing
                .end_open_spans(&GuestFailure::from_error(err));
        }
        Ok(result?)
    }
}

/// Handles each request in `names` inside the embedder's own `handle
/// request` span, greeting through the plugin.
pub fn serve(greeters: &Greeters, names: &[&str]) -> anyhow::Result<Vec<String>> {
    let tracer = greeters.provider.tracer("own-world");
    names
        .iter()
        .map(|name| {
            let span = tracer
                .span_builder("handle request")
                .with_kind(SpanKind::Server)
                .start(&tracer);
            let cx = Context::current_with_span(span);
            let greeting = greeters.greet(name, &cx);
            cx.span().end();
            greeting
        })
        .collect()
}
