//! Loading plugins and invoking them inside an invocation span: what the CLI
//! runs, and the easy path for embedders. Built on exactly the public
//! embedder API: a `WasmtraceCtx` per store and [`crate::add_to_linker`].

use crate::budget::Budget;
use crate::capabilities::cache::{CacheConfig, CacheCtx, PluginCache};
use crate::compile_cache::{self, CodeSource, CompileCache};
use crate::ctx::{GuestFailure, WasmtraceCtx, WasmtraceView};
use crate::guest::convert::truncate;
use crate::identity::PluginIdentity;
use crate::limits::Limits;
use crate::plugin_telemetry::{PluginTelemetry, Providers};
use crate::propagation::Propagators;
use crate::stats::TracingStats;
use anyhow::{Context as _, bail};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use wasmtime::component::{ComponentExportIndex, InstancePre, Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::bindings::sync::CommandPre;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::sync::ProxyPre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// How often the epoch ticks when a deadline is set.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The export of a request-handling plugin.
const HANDLER_EXPORT: &str = "wasmtrace:plugin/handler@0.2.0";

/// How instances get their memory, tables and stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstanceAllocation {
    /// wasmtime's pooling allocator, the default (as `wasmtime serve`'s):
    /// slots reserved once when the runtime starts and reused, each
    /// memory's copy-on-write image reset in place when its instance is
    /// dropped instead of mapped and unmapped per instance. Every
    /// invocation still gets a fresh instance with fresh memory. At most
    /// `max_instances` component instances are alive at once (each plugin
    /// call is one more); past that, an invocation fails to instantiate.
    /// Where the address space cannot be reserved (a `ulimit -v`, say),
    /// the runtime allocates on demand instead.
    Pooling {
        /// Component instances alive at once.
        max_instances: u32,
        /// Bytes at the start of each memory (and of each table) reset with
        /// a copy rather than returned to the kernel, so that the next
        /// instance does not fault them in again.
        keep_resident: usize,
    },
    /// Memory mapped when an instance is created and unmapped when it is
    /// dropped: no limit on concurrent instances, more time in the kernel.
    OnDemand,
}

impl Default for InstanceAllocation {
    /// The pooling allocator: 1 000 instances, 64 KiB of each memory and
    /// table kept resident (BENCHMARKS.md measures the choice).
    fn default() -> Self {
        Self::Pooling {
            max_instances: 1000,
            keep_resident: 64 << 10,
        }
    }
}

/// Resource limits and I/O for each invocation.
#[derive(Clone, Debug, Default)]
pub struct RuntimeConfig {
    /// Fuel per top-level invocation (roughly, wasm instructions), shared by
    /// the plugins it calls; `None` is unlimited.
    pub fuel: Option<u64>,
    /// Wall-clock deadline per top-level invocation, shared by the plugins
    /// it calls, enforced by epoch interruption (and on outbound requests).
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
    /// Where the export pipeline counts lost spans
    /// ([`crate::telemetry::Telemetry::delivery_handle`]), so that each
    /// plugin's [`TracingStats::spans_lost`] reports its own.
    pub delivery: Option<Arc<crate::telemetry::DeliveryStats>>,
    /// Where compiled components are kept between loads (default: nowhere;
    /// the CLI uses [`CompileCache::from_env`]).
    pub compile_cache: CompileCache,
    /// Whether `wasmtrace compile` artifacts may be loaded: their machine
    /// code runs as it is, so only load ones you built.
    pub allow_precompiled: bool,
    /// How instances are allocated (default: the pooling allocator).
    pub allocation: InstanceAllocation,
}

/// Why `bytes` are not a component, if they are not.
fn check_component(bytes: &[u8]) -> anyhow::Result<()> {
    if wasmparser::Parser::is_core_wasm(bytes) {
        bail!(
            "this is a core WebAssembly module, not a component (build it for wasm32-wasip2, or \
             wrap it with `wasm-tools component new`)"
        );
    }
    if !wasmparser::Parser::is_component(bytes) {
        bail!("not a WebAssembly component (bad magic number)");
    }
    Ok(())
}

/// An engine of `wasm` with `allocation`; on demand where the pool's
/// address space cannot be reserved.
fn engine_with(
    wasm: &mut wasmtime::Config,
    allocation: InstanceAllocation,
) -> anyhow::Result<Engine> {
    if let InstanceAllocation::Pooling {
        max_instances,
        keep_resident,
    } = allocation
    {
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(max_instances)
            // A component holds several core instances (its module, WASI
            // adapters, shims) and may have more than one memory or table.
            .total_core_instances(max_instances.saturating_mul(10))
            .total_memories(max_instances)
            .total_tables(max_instances.saturating_mul(2))
            .total_stacks(max_instances)
            // Interpreters compiled to wasm (componentize-py, -js) have
            // function tables larger than wasmtime's default of 20 000.
            .table_elements(200_000)
            .linear_memory_keep_resident(keep_resident)
            .table_keep_resident(keep_resident);
        wasm.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        if let Ok(engine) = Engine::new(wasm) {
            return Ok(engine);
        }
        wasm.allocation_strategy(wasmtime::InstanceAllocationStrategy::OnDemand);
    }
    Engine::new(wasm)
        .map_err(anyhow::Error::from)
        .context("configuring wasmtime")
}

/// How deep plugins may call plugins (`a` calls `b` calls `c` is 2): a
/// plugin calling itself must end in an error, not a stack overflow.
pub const MAX_CALL_DEPTH: u32 = 8;

/// A wasmtime engine and linker set up for traced plugins: WASI (nothing
/// pre-opened, no network), `wasi:http` behind an allow list, the
/// `wasmtrace:telemetry` imports and the `wasmtrace:plugin` capabilities,
/// and the plugins registered for plugin-to-plugin calls.
pub struct Runtime {
    shared: Arc<Shared>,
}

/// What invocations share, including those a plugin starts by calling
/// another.
pub(crate) struct Shared {
    engine: Engine,
    linker: Linker<PluginState>,
    providers: Providers,
    pub(crate) host_tracer: SdkTracer,
    pub(crate) propagators: Arc<Propagators>,
    http: crate::http::OutboundHttp,
    pub(crate) config: RuntimeConfig,
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
pub(crate) struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) tracing: WasmtraceCtx,
    http: WasiHttpCtx,
    cache: Arc<PluginCache>,
    pub(crate) calls: Calls,
    limits: StoreLimits,
}

/// Where a store's plugin calls go, and how deep it already is.
pub(crate) struct Calls {
    pub(crate) runtime: Arc<Shared>,
    pub(crate) depth: u32,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        // The store's telemetry state traces (and admits) each request.
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.tracing,
        }
    }
}

impl WasmtraceView for PluginState {
    fn wasmtrace(&mut self) -> &mut WasmtraceCtx {
        &mut self.tracing
    }
}

/// Marker for `bindgen!`'s `HasData`: the cache imports see the store's
/// telemetry state and its plugin's cache.
struct HasCache;

impl wasmtime::component::HasData for HasCache {
    type Data<'a> = CacheCtx<'a>;
}

/// What a plugin exports that the runtime can call.
#[derive(Clone)]
struct Exports {
    pre: InstancePre<PluginState>,
    /// `wasmtrace:plugin/handler.handle`: called with the input.
    handler: Option<ComponentExportIndex>,
    /// `wasi:cli/run`: a plain WASI command.
    command: Option<CommandPre<PluginState>>,
    /// `wasi:http/incoming-handler` (the `wasi:http/proxy` world): served
    /// by [`crate::http::HttpServer`], one instance per request.
    proxy: Option<ProxyPre<PluginState>>,
}

/// A compiled plugin, ready to be instantiated for each invocation. Clones
/// share the compiled code, limits, counters and cache.
#[derive(Clone)]
pub struct Plugin {
    identity: PluginIdentity,
    code_source: CodeSource,
    telemetry: PluginTelemetry,
    exports: Exports,
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
    /// The handler returned an error (truncated to
    /// `max_attribute_value_length`).
    Failed(String),
    /// A WASI command exited with a non-zero status.
    Exit(i32),
    /// The guest trapped, ran out of fuel, passed its deadline or hit its
    /// memory limit (itself or in a plugin it called). Its open spans were
    /// ended with this failure.
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
    /// Creates a runtime recording with `providers`: a tracer provider
    /// alone (`&SdkTracerProvider`), or [`Providers`] with a logger and a
    /// meter provider too ([`crate::telemetry::Telemetry::providers`]).
    pub fn new(providers: impl Into<Providers>, config: RuntimeConfig) -> anyhow::Result<Self> {
        config.limits.validate()?;
        Ok(Self {
            shared: Arc::new(Shared::new(providers.into(), config)?),
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

    /// Compiles the component `bytes` ahead of time (`wasmtrace compile`):
    /// an artifact that a runtime of the same configuration (same wasmtrace,
    /// fuel and deadline settings) loads without compiling, when
    /// [`RuntimeConfig::allow_precompiled`] is set.
    pub fn precompile(&self, bytes: &[u8], fallback_name: &str) -> anyhow::Result<Vec<u8>> {
        self.shared.precompile(bytes, fallback_name)
    }

    /// Lets other plugins call `plugin` by its identity name
    /// (`wasmtrace:plugin/calls`). Registering the same component again
    /// changes nothing; another component of the same name is an error (a
    /// call by that name would be ambiguous, and so would their telemetry,
    /// which names the plugin): give one another name, e.g. with `wasmtrace
    /// stamp`.
    pub fn register(&self, plugin: &Plugin) -> anyhow::Result<()> {
        let mut registry = self
            .shared
            .registry
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let name = &plugin.identity.name;
        match registry.get(name) {
            Some(known) if known.identity.sha256 != plugin.identity.sha256 => bail!(
                "two plugins are named {name:?} (components {} and {}): their calls and \
                 their telemetry would be mixed up; rename one (`wasmtrace stamp --name`)",
                &known.identity.sha256[..12],
                &plugin.identity.sha256[..12],
            ),
            Some(_) => Ok(()),
            None => {
                registry.insert(name.clone(), plugin.clone());
                Ok(())
            }
        }
    }

    /// Runs one invocation: a fresh instance of `plugin`, inside an
    /// invocation span that is a child of `parent`, with fresh budgets
    /// (spans, bytes, calls, fuel, deadline) for it and the plugins it
    /// calls. Spans the guest left open when it crashed are ended with
    /// status Error before this returns.
    pub fn invoke(
        &self,
        plugin: &Plugin,
        input: &str,
        parent: &Context,
    ) -> Result<String, InvocationError> {
        let budget = Budget::new(&plugin.limits, self.shared.config.deadline);
        let invocation = Invocation {
            parent: Some(parent.clone()),
            call_depth: 0,
            span_depth: 0,
            budget,
            fuel: self.shared.config.fuel,
        };
        self.shared.invoke(plugin, input, invocation).outcome
    }
}

/// Where an invocation runs in its call tree, and on what.
pub(crate) struct Invocation {
    /// The invocation span's parent; `None`: no invocation span (a call
    /// past the span budget), its spans nest under nothing recorded.
    pub(crate) parent: Option<Context>,
    /// How many plugin calls deep it is (0: top level).
    pub(crate) call_depth: u32,
    /// The depth its guest spans start from: 0 at the top level (the host's
    /// own invocation span does not count), the depth of the callee's
    /// invocation span for a plugin call.
    pub(crate) span_depth: u32,
    pub(crate) budget: Budget,
    pub(crate) fuel: Option<u64>,
}

/// What an invocation did, and what it left of its budgets.
pub(crate) struct Finished {
    pub(crate) outcome: Result<String, InvocationError>,
    pub(crate) budget: Budget,
    pub(crate) fuel: Option<u64>,
}

impl Shared {
    fn new(providers: Providers, config: RuntimeConfig) -> anyhow::Result<Self> {
        let mut wasm = wasmtime::Config::new();
        wasm.wasm_component_model(true);
        // The telemetry imports are synchronous; without async machinery a
        // component host call costs about half as much.
        wasm.concurrency_support(false);
        wasm.consume_fuel(config.fuel.is_some());
        wasm.epoch_interruption(config.deadline.is_some());
        let engine = engine_with(&mut wasm, config.allocation)?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking WASI")?;
        crate::add_to_linker(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking wasmtrace:telemetry")?;
        crate::add_wasi_otel_to_linker(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking wasi:otel")?;
        crate::bindings::plugin::cache::add_to_linker::<PluginState, HasCache>(&mut linker, |s| {
            CacheCtx {
                tracing: &mut s.tracing,
                cache: &s.cache,
            }
        })
        .map_err(anyhow::Error::from)
        .context("linking wasmtrace:plugin/cache")?;
        crate::capabilities::calls::add_to_linker(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking wasmtrace:plugin/calls")?;
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

        let host_tracer = providers.tracer_provider().tracer_with_scope(
            InstrumentationScope::builder("wasmtrace")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        let propagators = Arc::new(Propagators::from_env());
        let http = crate::http::OutboundHttp::new(host_tracer.clone(), allowed_http);
        Ok(Self {
            engine,
            linker,
            providers,
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
        let (component, identity, code_source) = if compile_cache::is_precompiled(bytes) {
            if !self.config.allow_precompiled {
                bail!(
                    "this is a precompiled component (`wasmtrace compile`), which runs as \
                     machine code without being checked: allow it with --allow-precompiled"
                );
            }
            let (component, identity) = compile_cache::load_precompiled(&self.engine, bytes)?;
            (component, identity, CodeSource::Precompiled)
        } else {
            check_component(bytes)?;
            let identity = PluginIdentity::from_component_bytes(bytes, fallback_name);
            let (component, source) =
                self.config
                    .compile_cache
                    .load(&self.engine, bytes, &identity)?;
            (component, identity, source)
        };
        let pre: InstancePre<PluginState> = self
            .linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .context("the plugin imports something wasmtrace does not provide")?;
        let handler = component
            .get_export_index(None, HANDLER_EXPORT)
            .and_then(|interface| component.get_export_index(Some(&interface), "handle"));
        let command = CommandPre::new(pre.clone()).ok();
        let proxy = ProxyPre::new(pre.clone()).ok();
        if handler.is_none() && command.is_none() && proxy.is_none() {
            let exports: Vec<String> = component
                .component_type()
                .exports(&self.engine)
                .map(|(name, _)| name.to_owned())
                .collect();
            bail!(
                "the component exports neither {HANDLER_EXPORT} nor wasi:cli/run nor wasi:http/incoming-handler (it exports: {})",
                if exports.is_empty() {
                    "nothing".to_owned()
                } else {
                    exports.join(", ")
                }
            );
        }
        let stats = Arc::new(TracingStats::default());
        if let Some(delivery) = &self.config.delivery {
            stats.losses_from(delivery.clone(), &identity.name);
        }
        Ok(Plugin {
            telemetry: PluginTelemetry::new(&self.providers, &identity),
            identity,
            code_source,
            exports: Exports {
                pre,
                handler,
                command,
                proxy,
            },
            limits: Arc::new(self.config.limits.clone()),
            stats,
            cache: Arc::new(PluginCache::new(
                self.config.cache.clone(),
                self.host_tracer.clone(),
            )),
        })
    }

    /// `wasmtrace compile`: the component `bytes` compiled for this
    /// runtime's engine, with its identity.
    fn precompile(&self, bytes: &[u8], fallback_name: &str) -> anyhow::Result<Vec<u8>> {
        check_component(bytes)?;
        compile_cache::precompile(&self.engine, bytes, fallback_name)
    }

    /// A plugin registered under `name`.
    pub(crate) fn registered(&self, name: &str) -> Option<Plugin> {
        self.registry
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    fn new_store(self: &Arc<Self>, plugin: &Plugin, invocation: &Invocation) -> Store<PluginState> {
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
        let mut tracing = WasmtraceCtx::builder(&plugin.telemetry)
            .with_propagators(self.propagators.clone())
            .with_limits(plugin.limits.clone())
            .with_stats(plugin.stats.clone())
            .with_outbound_http(self.http.clone())
            .build();
        tracing.table.budget = invocation.budget.clone();
        let mut store = Store::new(
            &self.engine,
            PluginState {
                wasi: wasi.build(),
                table: ResourceTable::new(),
                tracing,
                http: WasiHttpCtx::new(),
                cache: plugin.cache.clone(),
                calls: Calls {
                    runtime: self.clone(),
                    depth: invocation.call_depth,
                },
                limits: limits.build(),
            },
        );
        store.limiter(|s| &mut s.limits);
        // What one host call may copy out of the guest (wasmtime's hostcall
        // fuel): a list of strings that all point at the same bytes is
        // counted in full, so it cannot make the host allocate without bound.
        store
            .set_hostcall_fuel(usize::try_from(plugin.limits.max_call_bytes).unwrap_or(usize::MAX));
        if let Some(fuel) = invocation.fuel {
            // Cannot fail: fuel consumption is enabled whenever fuel is set.
            let _ = store.set_fuel(fuel);
        }
        if let Some(left) = invocation.budget.time_left() {
            let ticks = left.as_millis().div_ceil(EPOCH_TICK.as_millis()).max(1);
            store.set_epoch_deadline(ticks as u64);
        }
        store
    }

    /// Runs `plugin`'s handler (or WASI command) for one invocation.
    pub(crate) fn invoke(
        self: &Arc<Self>,
        plugin: &Plugin,
        input: &str,
        invocation: Invocation,
    ) -> Finished {
        let export = if plugin.exports.handler.is_some() {
            "wasmtrace:plugin/handler.handle"
        } else if plugin.exports.command.is_some() {
            "wasi:cli/run.run"
        } else {
            return Finished {
                outcome: Err(InvocationError::Failed(format!(
                    "plugin {:?} serves HTTP (it exports wasi:http/incoming-handler): run it with `wasmtrace serve`",
                    plugin.identity.name
                ))),
                budget: invocation.budget,
                fuel: invocation.fuel,
            };
        };
        let (mut store, cx) = self.begin_invocation(plugin, invocation, export);
        let result = if let Some(index) = &plugin.exports.handler {
            call_handler(&plugin.exports.pre, index, &mut store, input)
        } else {
            let pre = plugin.exports.command.as_ref().expect("checked above");
            pre.instantiate(&mut store).and_then(|c| {
                c.wasi_cli_run()
                    .call_run(&mut store)
                    .map(|r| r.map(|()| String::new()).map_err(|()| String::new()))
            })
        };
        let command = plugin.exports.handler.is_none();
        self.finish_invocation(store, &cx, result, command)
    }

    /// A fresh store for `plugin` whose guest spans nest under a new
    /// invocation span (`invoke <plugin>`, a child of the invocation's
    /// parent); returns the store and the invocation span's context. End
    /// it with [`Shared::finish_invocation`].
    pub(crate) fn begin_invocation(
        self: &Arc<Self>,
        plugin: &Plugin,
        invocation: Invocation,
        export: &'static str,
    ) -> (Store<PluginState>, Context) {
        let mut store = self.new_store(plugin, &invocation);
        let Some(parent) = invocation.parent else {
            // Untraced (past the span budget): the guest's spans are
            // refused too, so nothing they record is lost.
            store
                .data_mut()
                .tracing
                .set_parent_at_depth(Context::new(), invocation.span_depth);
            return (store, Context::new());
        };
        let id = &plugin.identity;
        let mut attributes = vec![
            KeyValue::new(crate::sampling::ATTR_PLUGIN_NAME, id.name.clone()),
            KeyValue::new(crate::identity::ATTR_COMPONENT_SHA256, id.sha256.clone()),
        ];
        if let Some(v) = &id.version {
            attributes.push(KeyValue::new("wasmtrace.plugin.version", v.clone()));
        }
        if invocation.call_depth > 0 {
            attributes.push(KeyValue::new(
                "wasmtrace.call.depth",
                i64::from(invocation.call_depth),
            ));
        }
        attributes.push(KeyValue::new(
            crate::identity::ATTR_INSTANCE_ID,
            store.data().tracing.instance_id(),
        ));
        attributes.push(KeyValue::new("wasmtrace.export", export));
        let span = self
            .host_tracer
            .span_builder(format!("invoke {}", id.name))
            .with_kind(SpanKind::Internal)
            .with_attributes(attributes)
            .start_with_context(&self.host_tracer, &parent);
        let cx = crate::propagation::mark_new_trace(&parent, parent.with_span(span));
        store
            .data_mut()
            .tracing
            .set_parent_at_depth(cx.clone(), invocation.span_depth);
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
    ) -> Finished {
        let span = cx.span();
        let max_message = store.data().tracing.table.limits.max_attribute_value_length;
        let outcome = match result {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(message)) if command && message.is_empty() => Err(InvocationError::Exit(1)),
            Ok(Err(message)) => Err(InvocationError::Failed(truncate(message, max_message))),
            Err(err) => match err.downcast_ref::<I32Exit>() {
                Some(I32Exit(0)) => Ok(String::new()),
                Some(I32Exit(code)) => Err(InvocationError::Exit(*code)),
                None => {
                    let mut failure = GuestFailure::from_error(&err);
                    failure.message = truncate(failure.message, max_message);
                    let ended = store.data_mut().tracing.end_open_spans(&failure);
                    span.set_attribute(KeyValue::new("wasmtrace.open_spans_ended", ended as i64));
                    span.add_event("exception", failure.exception_attributes());
                    Err(InvocationError::Crashed(failure))
                }
            },
        };
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
        let fuel = store.get_fuel().ok();
        let state = store.data_mut();
        let budget = state.tracing.table.budget.clone();
        // Spans the guest never ended end with the store, before the
        // invocation span does.
        state.tracing.table.end_open_spans(None);
        state.tracing.table.flush_stats();
        drop(store);
        span.end();
        Finished {
            outcome,
            budget,
            fuel,
        }
    }
}

/// Instantiates the plugin and calls its `handle` export.
fn call_handler(
    pre: &InstancePre<PluginState>,
    index: &ComponentExportIndex,
    store: &mut Store<PluginState>,
    input: &str,
) -> wasmtime::Result<Result<String, String>> {
    let instance = pre.instantiate(&mut *store)?;
    let handle =
        instance.get_typed_func::<(&str,), (Result<String, String>,)>(&mut *store, index)?;
    let (result,) = handle.call(&mut *store, (input,))?;
    Ok(result)
}

impl Plugin {
    /// Who this plugin is (name, version, content hash).
    pub fn identity(&self) -> &PluginIdentity {
        &self.identity
    }

    /// Whether its code was compiled at load, taken from the compile cache
    /// or from a precompiled artifact.
    pub fn code_source(&self) -> CodeSource {
        self.code_source
    }

    /// Its `wasi:http/incoming-handler` export, if it is an HTTP proxy.
    pub(crate) fn proxy_pre(&self) -> Option<&ProxyPre<PluginState>> {
        self.exports.proxy.as_ref()
    }

    /// Gives this plugin its own limits, for its next invocations (every
    /// limit, per-span ones included).
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

    /// What its guests recorded, and what was dropped, so far (counted
    /// when each invocation ends).
    pub fn stats(&self) -> &TracingStats {
        &self.stats
    }
}
