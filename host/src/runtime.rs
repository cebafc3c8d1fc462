//! Loading plugins and invoking them inside an invocation span: what the CLI
//! runs, and the easy path for embedders.

use crate::capabilities::cache::{CacheConfig, CacheCtx, PluginCache};
use crate::ctx::{GuestFailure, WasmtraceCtx, WasmtraceView};
use crate::identity::PluginIdentity;
use crate::limits::{Limits, TracingStats};
use crate::propagation::Propagators;
use anyhow::{Context as _, bail};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use wasmtime::component::{Component, InstancePre, Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder, Trap, WasmBacktrace};
use wasmtime_wasi::p2::bindings::sync::CommandPre;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// How often the epoch ticks when a deadline is set.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Resource limits and I/O for each invocation.
#[derive(Clone, Debug, Default)]
pub struct RuntimeConfig {
    /// Fuel per invocation (roughly, wasm instructions); `None` is unlimited.
    pub fuel: Option<u64>,
    /// Wall-clock deadline per invocation, enforced by epoch interruption.
    pub deadline: Option<Duration>,
    /// Maximum linear memory per instance, in bytes.
    pub max_memory: Option<usize>,
    /// Let the guest write to this process's stdout and stderr.
    pub inherit_stdio: bool,
    /// What one invocation may record; plugins start with these and can
    /// be given their own with [`Plugin::set_limits`].
    pub limits: Limits,
    /// Bounds of each plugin's `cache` capability.
    pub cache: CacheConfig,
    /// Hosts plugins may send `wasi:http` requests to, `HOST` (default port
    /// of the scheme) or `HOST:PORT`, exact (see [`crate::AllowedHosts`]).
    /// Empty, the default: every request is denied (`HTTP-request-denied`).
    pub allowed_http_hosts: Vec<String>,
}

/// How deep plugins may call plugins (`a` calls `b` calls `c` is 2): a
/// plugin calling itself must end in an error, not a stack overflow.
pub const MAX_CALL_DEPTH: u32 = 8;

/// A wasmtime engine and linker set up for traced plugins: WASI (nothing
/// pre-opened, no network) plus the `wasmtrace:tracing` imports, and the
/// plugins registered for plugin-to-plugin calls.
pub struct Runtime {
    shared: Arc<Shared>,
}

/// What invocations share, including those a plugin starts by calling
/// another.
pub(crate) struct Shared {
    engine: Engine,
    linker: Linker<PluginState>,
    provider: SdkTracerProvider,
    pub(crate) host_tracer: SdkTracer,
    pub(crate) propagators: Arc<Propagators>,
    /// The `wasi:http` hooks every store starts from.
    http: crate::http::OutboundHttp,
    config: RuntimeConfig,
    ticker: Option<Arc<AtomicBool>>,
    /// Plugins other plugins may call, by identity name.
    registry: RwLock<HashMap<String, Plugin>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(stop) = &self.ticker {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

/// The store data of a plugin instance.
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    tracing: WasmtraceCtx,
    http: crate::http::PluginHttp,
    cache: Arc<PluginCache>,
    calls: Calls,
    limits: StoreLimits,
}

/// Where a store's plugin-to-plugin calls go, and how deep it already is.
struct Calls {
    runtime: Arc<Shared>,
    depth: u32,
}

impl std::fmt::Debug for PluginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginState")
            .field("tracing", &self.tracing)
            .finish_non_exhaustive()
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_http::WasiHttpView for PluginState {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        // Requests nest under the guest's current span.
        self.http
            .view(&mut self.table, self.tracing.current_context())
    }
}

impl WasmtraceView for PluginState {
    fn wasmtrace(&mut self) -> &mut WasmtraceCtx {
        &mut self.tracing
    }
}

/// Marker for `bindgen!`'s `HasData`: the cache imports see the store's
/// tracing state and its plugin's cache.
struct HasCache;

impl wasmtime::component::HasData for HasCache {
    type Data<'a> = CacheCtx<'a>;
}

/// Marker for `bindgen!`'s `HasData`: the plugins imports see the store's
/// tracing state (for the parent) and the runtime.
struct HasCalls;

impl wasmtime::component::HasData for HasCalls {
    type Data<'a> = CallsCtx<'a>;
}

struct CallsCtx<'a> {
    tracing: &'a mut WasmtraceCtx,
    calls: &'a Calls,
}

impl crate::bindings::plugins::Host for CallsCtx<'_> {
    fn call(&mut self, name: String, input: String) -> Result<String, String> {
        let Calls { runtime, depth } = self.calls;
        if *depth >= MAX_CALL_DEPTH {
            return Err(format!(
                "cannot call plugin {name:?}: plugin calls are nested {MAX_CALL_DEPTH} deep already"
            ));
        }
        let plugin = runtime
            .registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&name)
            .cloned();
        let Some(plugin) = plugin else {
            return Err(format!(
                "no plugin named {name:?} is registered with the runtime"
            ));
        };
        let parent = self.tracing.current_context().clone();
        runtime
            .invoke(&plugin, &input, &parent, depth + 1)
            .map_err(|e| match e {
                InvocationError::Failed(message) => message,
                other => format!("plugin {name:?}: {other}"),
            })
    }
}

/// What a plugin exports.
#[derive(Clone)]
enum Entry {
    /// `wasmtrace:tracing/handler`: called with the input.
    Handler(crate::bindings::PluginPre<PluginState>),
    /// `wasi:cli/run`: a plain WASI command.
    Command(CommandPre<PluginState>),
    /// `wasi:http/incoming-handler` (the `wasi:http/proxy` world): served
    /// by [`crate::serve::HttpServer`], one instance per request.
    Proxy(wasmtime_wasi_http::p2::bindings::sync::ProxyPre<PluginState>),
}

/// A compiled plugin, ready to be instantiated for each invocation. Clones
/// share the compiled code, limits, counters and cache.
#[derive(Clone)]
pub struct Plugin {
    identity: PluginIdentity,
    tracer: SdkTracer,
    entry: Entry,
    limits: Arc<Limits>,
    stats: Arc<TracingStats>,
    cache: Arc<PluginCache>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// How an invocation ended when it did not succeed.
#[derive(Debug)]
pub enum InvocationError {
    /// The handler returned an error.
    Failed(String),
    /// A WASI command exited with a non-zero status.
    Exit(i32),
    /// The guest trapped, ran out of fuel, passed its deadline or hit its
    /// memory limit. Its open spans were ended with this failure.
    Crashed(GuestFailure),
}

impl std::fmt::Display for InvocationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Failed(msg) => write!(f, "plugin returned an error: {msg}"),
            Self::Exit(code) => write!(f, "plugin exited with status {code}"),
            Self::Crashed(failure) => {
                write!(f, "plugin crashed ({}): {}", failure.kind, failure.message)
            }
        }
    }
}

impl std::error::Error for InvocationError {}

impl Runtime {
    /// Creates a runtime recording with `provider`.
    pub fn new(provider: &SdkTracerProvider, config: RuntimeConfig) -> anyhow::Result<Self> {
        Ok(Self {
            shared: Arc::new(Shared::new(provider, config)?),
        })
    }

    /// The engine plugins are compiled with.
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// What its invocations share (for the HTTP server).
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The propagators used for carriers (`OTEL_PROPAGATORS`).
    pub fn propagators(&self) -> &Propagators {
        &self.shared.propagators
    }

    /// Loads and compiles a plugin from a file.
    pub fn load_file(&self, path: &Path) -> anyhow::Result<Plugin> {
        self.shared.load_file(path)
    }

    /// Loads and compiles a plugin from its bytes; `fallback_name` names it
    /// when the component carries no `wasmtrace-plugin` section.
    pub fn load(&self, bytes: &[u8], fallback_name: &str) -> anyhow::Result<Plugin> {
        self.shared.load(bytes, fallback_name)
    }

    /// Lets other plugins call `plugin` by its identity name
    /// (`wasmtrace_sdk::plugins::call`). A later registration under the
    /// same name replaces the earlier one.
    pub fn register(&self, plugin: &Plugin) {
        self.shared
            .registry
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(plugin.identity.name.clone(), plugin.clone());
    }

    /// Runs one invocation: a fresh instance of `plugin`, inside an
    /// invocation span that is a child of `parent`. Spans the guest left
    /// open when it crashed are ended with status Error before this returns.
    pub fn invoke(
        &self,
        plugin: &Plugin,
        input: &str,
        parent: &Context,
    ) -> Result<String, InvocationError> {
        self.shared.invoke(plugin, input, parent, 0)
    }
}

impl Shared {
    fn new(provider: &SdkTracerProvider, config: RuntimeConfig) -> anyhow::Result<Self> {
        let mut wasm = wasmtime::Config::new();
        wasm.wasm_component_model(true);
        // The tracing imports are synchronous; without async machinery a
        // component host call costs about half as much.
        wasm.concurrency_support(false);
        wasm.consume_fuel(config.fuel.is_some());
        wasm.epoch_interruption(config.deadline.is_some());
        let engine = Engine::new(&wasm)
            .map_err(anyhow::Error::from)
            .context("configuring wasmtime")?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking WASI")?;
        crate::add_to_linker(&mut linker).context("linking wasmtrace:tracing")?;
        crate::bindings::cache::add_to_linker::<PluginState, HasCache>(&mut linker, |s| CacheCtx {
            tracing: &mut s.tracing,
            cache: &s.cache,
        })
        .map_err(anyhow::Error::from)
        .context("linking wasmtrace:tracing/cache")?;
        crate::bindings::plugins::add_to_linker::<PluginState, HasCalls>(&mut linker, |s| {
            CallsCtx {
                tracing: &mut s.tracing,
                calls: &s.calls,
            }
        })
        .map_err(anyhow::Error::from)
        .context("linking wasmtrace:tracing/plugins")?;
        // wasi:http is always linked, so that plugins importing it load; the
        // allow list decides per request (empty: every request is denied).
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking wasi:http")?;
        let allowed_http = crate::http::AllowedHosts::parse(&config.allowed_http_hosts)?;

        let ticker = config.deadline.map(|_| {
            let stop = Arc::new(AtomicBool::new(false));
            let (engine, stop2) = (engine.clone(), stop.clone());
            std::thread::Builder::new()
                .name("wasmtrace-epoch".into())
                .spawn(move || {
                    while !stop2.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                })
                .map(|_| stop)
        });
        let ticker = ticker.transpose().context("starting the deadline timer")?;

        let host_tracer = provider.tracer_with_scope(
            InstrumentationScope::builder("wasmtrace")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        let propagators = Arc::new(Propagators::from_env());
        let http = crate::http::OutboundHttp::new(
            host_tracer.clone(),
            propagators.clone(),
            Arc::new(allowed_http),
        );
        Ok(Self {
            engine,
            linker,
            provider: provider.clone(),
            host_tracer,
            propagators,
            http,
            config,
            ticker,
            registry: RwLock::default(),
        })
    }

    fn load_file(&self, path: &Path) -> anyhow::Result<Plugin> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("plugin");
        self.load(&bytes, name)
            .with_context(|| format!("cannot load {}", path.display()))
    }

    fn load(&self, bytes: &[u8], fallback_name: &str) -> anyhow::Result<Plugin> {
        if wasmparser::Parser::is_core_wasm(bytes) {
            bail!(
                "this is a core WebAssembly module, not a component (build it for wasm32-wasip2, or wrap it with `wasm-tools component new`)"
            );
        }
        if !wasmparser::Parser::is_component(bytes) {
            bail!("not a WebAssembly component (bad magic number)");
        }
        let component = Component::new(&self.engine, bytes)
            .map_err(anyhow::Error::from)
            .context("invalid component")?;
        let identity = PluginIdentity::from_component_bytes(bytes, fallback_name);
        let pre: InstancePre<PluginState> = self
            .linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .context("the plugin imports something wasmtrace does not provide")?;
        let exports: Vec<String> = component
            .component_type()
            .exports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        let entry = if exports
            .iter()
            .any(|e| e.starts_with("wasmtrace:tracing/handler@"))
        {
            Entry::Handler(crate::bindings::PluginPre::new(pre)?)
        } else if exports.iter().any(|e| e.starts_with("wasi:cli/run@")) {
            Entry::Command(CommandPre::new(pre)?)
        } else if exports
            .iter()
            .any(|e| e.starts_with("wasi:http/incoming-handler@"))
        {
            Entry::Proxy(wasmtime_wasi_http::p2::bindings::sync::ProxyPre::new(pre)?)
        } else {
            bail!(
                "the component exports neither wasmtrace:tracing/handler nor wasi:cli/run nor wasi:http/incoming-handler (it exports: {})",
                if exports.is_empty() {
                    "nothing".to_owned()
                } else {
                    exports.join(", ")
                }
            );
        };
        Ok(Plugin {
            tracer: identity.tracer(&self.provider),
            identity,
            entry,
            limits: Arc::new(self.config.limits.clone()),
            stats: Arc::default(),
            cache: Arc::new(PluginCache::new(
                self.config.cache.clone(),
                self.host_tracer.clone(),
            )),
        })
    }

    fn new_store(self: &Arc<Self>, plugin: &Plugin, depth: u32) -> Store<PluginState> {
        let mut wasi = WasiCtxBuilder::new();
        // Sandbox: no pre-opened directories, no sockets, no name lookups.
        wasi.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        wasi.args(&[plugin.identity.name.as_str()]);
        if self.config.inherit_stdio {
            wasi.inherit_stdout().inherit_stderr();
        }
        // A failed memory.grow becomes a trap we can name, instead of a -1
        // the guest may turn into an unrelated panic.
        let mut limits = StoreLimitsBuilder::new().trap_on_grow_failure(true);
        if let Some(max) = self.config.max_memory {
            limits = limits.memory_size(max);
        }
        let tracing = WasmtraceCtx::from_tracer(
            plugin.tracer.clone(),
            &plugin.identity,
            self.propagators.clone(),
        )
        .with_limits(plugin.limits.clone())
        .with_stats(plugin.stats.clone());
        let mut store = Store::new(
            &self.engine,
            PluginState {
                wasi: wasi.build(),
                table: ResourceTable::new(),
                tracing,
                http: crate::http::PluginHttp::new(self.http.clone())
                    .with_deadline(self.config.deadline.map(|d| Instant::now() + d)),
                cache: plugin.cache.clone(),
                calls: Calls {
                    runtime: self.clone(),
                    depth,
                },
                limits: limits.build(),
            },
        );
        store.limiter(|s| &mut s.limits);
        if let Some(fuel) = self.config.fuel {
            // Cannot fail: fuel consumption is enabled whenever fuel is set.
            let _ = store.set_fuel(fuel);
        }
        if let Some(deadline) = self.config.deadline {
            let ticks = deadline.as_millis().div_ceil(EPOCH_TICK.as_millis()).max(1);
            store.set_epoch_deadline(ticks as u64);
        }
        store
    }

    /// [`Runtime::invoke`], `depth` plugin calls down.
    fn invoke(
        self: &Arc<Self>,
        plugin: &Plugin,
        input: &str,
        parent: &Context,
        depth: u32,
    ) -> Result<String, InvocationError> {
        let export = match plugin.entry {
            Entry::Handler(_) => "wasmtrace:tracing/handler.handle",
            Entry::Command(_) => "wasi:cli/run.run",
            Entry::Proxy(_) => {
                return Err(InvocationError::Failed(format!(
                    "plugin {:?} serves HTTP (it exports wasi:http/incoming-handler): run it with `wasmtrace serve`",
                    plugin.identity.name
                )));
            }
        };
        let (mut store, cx) = self.begin_invocation(plugin, parent, depth, export);
        let result = match &plugin.entry {
            Entry::Handler(pre) => pre
                .instantiate(&mut store)
                .and_then(|p| p.wasmtrace_tracing_handler().call_handle(&mut store, input)),
            Entry::Command(pre) => pre.instantiate(&mut store).and_then(|c| {
                c.wasi_cli_run()
                    .call_run(&mut store)
                    .map(|r| r.map(|()| String::new()).map_err(|()| String::new()))
            }),
            Entry::Proxy(_) => unreachable!("refused above"),
        };
        let command = matches!(plugin.entry, Entry::Command(_));
        self.finish_invocation(store, &cx, result, command)
    }

    /// A fresh store for `plugin` whose guest spans nest under a new
    /// invocation span (`invoke <plugin>`, a child of `parent`); returns the
    /// store and the invocation span's context. End it with
    /// [`Shared::finish_invocation`].
    pub(crate) fn begin_invocation(
        self: &Arc<Self>,
        plugin: &Plugin,
        parent: &Context,
        depth: u32,
        export: &'static str,
    ) -> (Store<PluginState>, Context) {
        let id = &plugin.identity;
        let mut attributes = vec![
            KeyValue::new(crate::sampling::ATTR_PLUGIN_NAME, id.name.clone()),
            KeyValue::new(crate::identity::ATTR_COMPONENT_SHA256, id.sha256.clone()),
        ];
        if let Some(v) = &id.version {
            attributes.push(KeyValue::new("wasmtrace.plugin.version", v.clone()));
        }
        if depth > 0 {
            attributes.push(KeyValue::new("wasmtrace.call.depth", i64::from(depth)));
        }
        let mut store = self.new_store(plugin, depth);
        attributes.push(KeyValue::new(
            crate::identity::ATTR_INSTANCE_ID,
            store.data().tracing.instance_id().to_owned(),
        ));
        attributes.push(KeyValue::new("wasmtrace.export", export));
        let span = self
            .host_tracer
            .span_builder(format!("invoke {}", id.name))
            .with_kind(SpanKind::Internal)
            .with_attributes(attributes)
            .start_with_context(&self.host_tracer, parent);
        let cx = parent.with_span(span);
        store.data_mut().tracing.set_parent(cx.clone());
        (store, cx)
    }

    /// Ends an invocation begun with [`Shared::begin_invocation`] given what
    /// the call into the guest returned: after a trap the guest's open
    /// spans end with status Error, and the invocation span records the
    /// outcome. `command`: an empty error is a WASI command's exit status 1.
    pub(crate) fn finish_invocation(
        &self,
        mut store: Store<PluginState>,
        cx: &Context,
        result: wasmtime::Result<Result<String, String>>,
        command: bool,
    ) -> Result<String, InvocationError> {
        let span = cx.span();
        let outcome = match result {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(message)) if command && message.is_empty() => Err(InvocationError::Exit(1)),
            Ok(Err(message)) => Err(InvocationError::Failed(message)),
            Err(err) => match err.downcast_ref::<I32Exit>() {
                Some(I32Exit(0)) => Ok(String::new()),
                Some(I32Exit(code)) => Err(InvocationError::Exit(*code)),
                None => {
                    let failure = classify_failure(&err);
                    let ended = store.data_mut().tracing.end_open_spans(&failure);
                    span.set_attribute(KeyValue::new("wasmtrace.open_spans_ended", ended as i64));
                    span.add_event("exception", failure.exception_attributes());
                    Err(InvocationError::Crashed(failure))
                }
            },
        };
        // Spans the guest never ended (a leaked handle) end with the store.
        match &outcome {
            Ok(_) => span.set_attribute(KeyValue::new("wasmtrace.outcome", "ok")),
            Err(e) => {
                let kind = match e {
                    InvocationError::Failed(_) | InvocationError::Exit(_) => "error",
                    InvocationError::Crashed(_) => "crash",
                };
                span.set_attribute(KeyValue::new("wasmtrace.outcome", kind));
                span.set_status(Status::error(e.to_string()));
            }
        }
        drop(store);
        span.end();
        outcome
    }
}

/// Describes why a call into the guest failed, for spans and the CLI.
fn classify_failure(err: &wasmtime::Error) -> GuestFailure {
    let backtrace = err
        .downcast_ref::<WasmBacktrace>()
        .map(|bt| bt.to_string())
        .filter(|bt| !bt.trim().is_empty());
    let (kind, message) = match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => ("wasm.out_of_fuel", "the plugin ran out of fuel".to_owned()),
        Some(Trap::Interrupt) => (
            "wasm.deadline_exceeded",
            "the plugin passed its deadline".to_owned(),
        ),
        Some(trap) => ("wasm.trap", trap.to_string()),
        None => {
            let text = format!("{err:#}");
            if text.contains("growing memory") {
                ("wasm.memory_limit", text)
            } else {
                ("wasm.error", text)
            }
        }
    };
    GuestFailure {
        kind: kind.to_owned(),
        message,
        backtrace,
    }
}

impl Plugin {
    /// Who this plugin is (name, version, content hash).
    pub fn identity(&self) -> &PluginIdentity {
        &self.identity
    }

    /// Its `wasi:http/incoming-handler` export, if it is an HTTP proxy.
    pub(crate) fn proxy_pre(
        &self,
    ) -> Option<&wasmtime_wasi_http::p2::bindings::sync::ProxyPre<PluginState>> {
        match &self.entry {
            Entry::Proxy(pre) => Some(pre),
            _ => None,
        }
    }

    /// Gives this plugin its own limits, for its next invocations.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = Arc::new(limits);
    }

    /// The limits its invocations run with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Its `cache` capability's store, shared by all its invocations.
    pub fn cache(&self) -> &PluginCache {
        &self.cache
    }

    /// Its counters, shared: for reporting them after the plugin is gone.
    pub fn stats_handle(&self) -> Arc<TracingStats> {
        self.stats.clone()
    }

    /// What its guests recorded, and what the limits dropped, so far.
    pub fn stats(&self) -> &TracingStats {
        &self.stats
    }
}
