//! Where a guest span's time goes (issue 3): a ladder of crossings of the
//! wasm boundary, instantiation with and without the pooling allocator, and
//! whole invocations through `wasmtrace::Runtime` (target 3).
//!
//! - `crossings`: per-crossing cost, each measured with one guest call that
//!   loops N times: a core-wasm host call, the empty loop, a component host
//!   call, a string lifted into a `String` or read in place, a resource
//!   new + drop, guest spans with and without attributes, native spans,
//!   and the host's own work for a guest span done natively.
//!   There is no `concurrency_support(true)` rung: the workspace builds
//!   wasmtime without `component-model-async`, so wasmtime cannot enable it
//!   (and its default is already off); enabling the feature would rebuild
//!   wasmtime for every `cargo test`.
//! - `instantiate`: a fresh store and instance of the `bench-plugin` guest
//!   from an `InstancePre`, dropped again; on-demand vs. pooling allocation
//!   (with wasmtime's defaults, and keeping reused memory resident).
//! - `invocation`: `Runtime::invoke` of `bench-plugin` recording K spans
//!   (K = 0, 1, 10), traced (parent-based always-on) vs. tracing disabled
//!   (always-off, as `OTEL_SDK_DISABLED=true`), both with `Runtime`'s
//!   default pooling allocator, and untraced on demand; then the ratios at
//!   K = 0 and 10 (traced/untraced, pooling/on demand) measured once more
//!   in alternating pairs (`paired ...` lines).
//!
//! Run with `cargo bench --bench crossings`.

mod common;

use common::{Allocation, BenchState, Guest, Pipeline};
use criterion::{BenchmarkId, Criterion};
use opentelemetry::trace::{
    SpanBuilder, SpanContext, SpanKind, Status, TraceContextExt, TraceFlags, Tracer,
    TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, Key, KeyValue};
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, IdGenerator, RandomIdGenerator, Sampler, SamplingDecision, SdkTracer,
    ShouldSample, SpanData, SpanEvents, SpanLinks, SpanProcessor,
};
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use wasmtime::Store;
use wasmtrace::{InstanceAllocation, Plugin, Runtime, RuntimeConfig, WasmtraceCtx};

/// A core module importing `host.nop: [] -> []` and exporting
/// `run: [i64] -> []`, which calls `nop` that many times. Hand-encoded so
/// that the tests package needs no `wat` feature (and no second wasmtime
/// build):
///
/// ```wat
/// (module
///   (import "host" "nop" (func $nop))
///   (func (export "run") (param i64)
///     (block (loop
///       (br_if 1 (i64.eqz (local.get 0)))
///       (call $nop)
///       (local.set 0 (i64.sub (local.get 0) (i64.const 1)))
///       (br 0)))))
/// ```
const CORE_NOP_LOOP: &[u8] = &[
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x08, 0x02, 0x60, 0x00, 0x00, 0x60, 0x01, 0x7e, 0x00, // types
    0x02, 0x0c, 0x01, 0x04, b'h', b'o', b's', b't', 0x03, b'n', b'o', b'p', 0x00,
    0x00, // import host.nop
    0x03, 0x02, 0x01, 0x01, // one function of type 1
    0x07, 0x07, 0x01, 0x03, b'r', b'u', b'n', 0x00, 0x01, // export run
    0x0a, 0x1a, 0x01, 0x18, 0x00, // code: one body, no locals
    0x02, 0x40, 0x03, 0x40, // block, loop
    0x20, 0x00, 0x50, 0x0d, 0x01, // br_if 1 (i64.eqz (local.get 0))
    0x10, 0x00, // call $nop
    0x20, 0x00, 0x42, 0x01, 0x7d, 0x21, 0x00, // local.set 0 (local.get 0 - 1)
    0x0c, 0x00, 0x0b, 0x0b, 0x0b, // br 0, end loop, end block, end func
];

fn crossings(c: &mut Criterion, pipeline: &Pipeline) {
    let provider = &pipeline.provider;
    let engine = common::engine(Allocation::OnDemand);
    let linker = common::linker(&engine);
    let bench = common::component(&engine, wasmtrace_test_artifacts::BENCH);
    let mut guest = Guest::new(&linker, &bench, provider, common::remote_parent(true));
    let module = wasmtime::Module::new(&engine, CORE_NOP_LOOP).expect("core module");
    let mut core_linker = wasmtime::Linker::<()>::new(&engine);
    core_linker
        .func_wrap("host", "nop", || {})
        .expect("linking host.nop");
    let mut core_store = Store::new(&engine, ());
    let core_run = core_linker
        .instantiate(&mut core_store, &module)
        .and_then(|i| i.get_typed_func::<i64, ()>(&mut core_store, "run"))
        .expect("instantiating the core module");

    let tracer = provider.tracer("native");
    let sampled_parent = common::remote_parent(true);
    let unsampled_parent = common::remote_parent(false);

    let mut group = c.benchmark_group("crossings");
    group.bench_function("core_nop", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            core_run
                .call(&mut core_store, iters as i64)
                .expect("core nop loop");
            start.elapsed()
        })
    });
    for (name, mode) in [
        ("empty_loop", "empty"),
        ("component_nop", "nop"),
        ("string_lifted", "string"),
        ("string_borrowed", "str"),
        ("resource_new_drop", "resource"),
        ("guest_span_bare", "span_bare"),
        ("guest_span", "span"),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                if mode.starts_with("span") {
                    pipeline.produced(iters);
                }
                guest.run(mode, iters)
            })
        });
        pipeline.report(&format!("crossings/{name}"));
    }
    group.bench_function("native_span", |b| {
        b.iter_custom(|iters| {
            pipeline.produced(iters);
            common::native_spans(&tracer, &sampled_parent, iters)
        })
    });
    pipeline.report("crossings/native_span");
    group.bench_function("native_span_unsampled", |b| {
        b.iter_custom(|iters| common::native_spans(&tracer, &unsampled_parent, iters))
    });
    let identity = &bench.1;
    let plugin_tracer = identity.tracer(provider);
    let identity_attributes = identity.span_attributes(0x00f0_67aa_0ba9_02b7);
    let keys = [BENCH_KEYS[0], BENCH_KEYS[1]].map(|k| Key::from(Arc::<str>::from(k)));
    group.bench_function("host_work_native", |b| {
        b.iter_custom(|iters| {
            pipeline.produced(iters);
            let start = Instant::now();
            for _ in 0..iters {
                host_work(&plugin_tracer, &keys, &identity_attributes, &sampled_parent);
            }
            start.elapsed()
        })
    });
    pipeline.report("crossings/host_work_native");
    let direct = Direct {
        processor: &pipeline.processor,
        sampler: Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        ids: RandomIdGenerator::default(),
        scope: InstrumentationScope::builder("bench").build(),
    };
    group.bench_function("span_data_direct", |b| {
        b.iter_custom(|iters| {
            pipeline.produced(iters);
            let start = Instant::now();
            for _ in 0..iters {
                direct.span(&keys, &identity_attributes, &sampled_parent);
            }
            start.elapsed()
        })
    });
    pipeline.report("crossings/span_data_direct");
    group.finish();
}

/// The guest span's attribute keys, as `tests/guests/bench` sets them.
const BENCH_KEYS: [&str; 2] = ["http.route", "http.response.status_code"];

/// The floor of a host that records guest spans without the SDK's per-span
/// machinery (BENCHMARKS.md, "What would reach the other targets"): the
/// sampler's decision, a span id, two timestamps, the attributes with
/// shared keys plus the identity attributes, then the finished `SpanData`
/// handed to the pipeline's batch processor. No `Context`, no SDK span.
struct Direct<'a> {
    processor: &'a BatchSpanProcessor,
    sampler: Sampler,
    ids: RandomIdGenerator,
    scope: InstrumentationScope,
}

impl Direct<'_> {
    fn span(&self, keys: &[Key; 2], identity: &[KeyValue], parent: &Context) {
        // What lifting hands the host: owned strings.
        let name = String::from("bench");
        let attributes = lifted_attributes(keys, identity);
        let parent_span = parent.span();
        let parent_cx = parent_span.span_context();
        let decision = self.sampler.should_sample(
            Some(parent),
            parent_cx.trace_id(),
            &name,
            &SpanKind::Internal,
            &attributes,
            &[],
        );
        if decision.decision != SamplingDecision::RecordAndSample {
            return;
        }
        let span_context = SpanContext::new(
            parent_cx.trace_id(),
            self.ids.new_span_id(),
            TraceFlags::SAMPLED,
            false,
            decision.trace_state,
        );
        let start_time = SystemTime::now();
        self.processor.on_end(SpanData {
            span_context,
            parent_span_id: parent_cx.span_id(),
            parent_span_is_remote: parent_cx.is_remote(),
            span_kind: SpanKind::Internal,
            name: name.into(),
            start_time,
            end_time: SystemTime::now(),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: self.scope.clone(),
        });
    }
}

/// The bench span's attributes as the host builds them from what lifting
/// hands it (owned key and value strings): keys found in the store's shared
/// set, one `Vec` sized for the identity attributes too.
fn lifted_attributes(keys: &[Key; 2], identity: &[KeyValue]) -> Vec<KeyValue> {
    drop(std::hint::black_box([
        String::from(BENCH_KEYS[0]),
        String::from(BENCH_KEYS[1]),
    ]));
    let mut attributes = Vec::with_capacity(2 + identity.len());
    attributes.push(KeyValue::new(keys[0].clone(), String::from("/users/{id}")));
    attributes.push(KeyValue::new(keys[1].clone(), 200_i64));
    attributes.extend_from_slice(identity);
    attributes
}

/// What the host does for one guest span (`WasmtraceCtx::start_span` and
/// `end_span`), done natively with no wasm: owned name and keys as lifted
/// from the guest (the keys then found in the store's shared set), the
/// attributes sized once with the two identity attributes, the span put in
/// a context of its own (so children and `attach` can use it), then ended.
/// `guest_span` minus this is the crossing itself (calls, lifting, guest
/// allocation, resource handles).
fn host_work(tracer: &SdkTracer, keys: &[Key; 2], identity: &[KeyValue], parent: &Context) {
    let attributes = lifted_attributes(keys, identity);
    let builder = SpanBuilder::from_name(String::from("bench"))
        .with_kind(SpanKind::Internal)
        .with_attributes(attributes)
        .with_links(Vec::new());
    let span = tracer.build_with_context(builder, parent);
    let cx = parent.with_span(span);
    let kept = cx.clone();
    kept.span().end();
    drop((cx, kept));
}

fn instantiate(c: &mut Criterion, pipeline: &Pipeline) {
    let mut group = c.benchmark_group("instantiate");
    for (name, allocation) in [
        ("on_demand", Allocation::OnDemand),
        ("pooling", Allocation::Pooling),
        ("pooling_keep_resident", Allocation::PoolingKeepResident),
    ] {
        let engine = common::engine(allocation);
        let linker = common::linker(&engine);
        let (component, identity) =
            common::component(&engine, wasmtrace_test_artifacts::BENCH_PLUGIN);
        let pre = linker
            .instantiate_pre(&component)
            .expect("pre-instantiating bench-plugin");
        // As the runtime does: one scoped tracer per plugin, not per store.
        let plugin = wasmtrace::PluginTelemetry::new(&(&pipeline.provider).into(), &identity);
        let propagators = std::sync::Arc::new(wasmtrace::Propagators::from_env());
        group.bench_function(name, |b| {
            b.iter(|| {
                let tracing = WasmtraceCtx::builder(&plugin)
                    .with_propagators(propagators.clone())
                    .build();
                let mut store = Store::new(&engine, BenchState::new(tracing));
                pre.instantiate(&mut store).expect("instantiating");
                // Tearing down is part of the cost.
                drop(store);
            })
        });
    }
    group.finish();
}

fn invocation(c: &mut Criterion, traced: &Pipeline, untraced: &Pipeline) {
    let bytes = std::fs::read(wasmtrace_test_artifacts::BENCH_PLUGIN).expect("bench-plugin");
    // `Runtime`'s default allocation (the pooling allocator), and on demand
    // (wasmtime's default, `Runtime`'s before issue 16) for comparison.
    let setups: Vec<_> = [
        ("traced", traced, InstanceAllocation::default()),
        ("untraced", untraced, InstanceAllocation::default()),
        ("untraced_on_demand", untraced, InstanceAllocation::OnDemand),
    ]
    .into_iter()
    .map(|(name, pipeline, allocation)| {
        let config = RuntimeConfig {
            allocation,
            ..RuntimeConfig::default()
        };
        let runtime = Runtime::new(&pipeline.provider, config).expect("runtime");
        let plugin = runtime
            .load(&bytes, "bench-plugin")
            .expect("loading bench-plugin");
        (name, pipeline, runtime, plugin)
    })
    .collect();
    let parent = Context::new();
    let mut group = c.benchmark_group("invocation");
    // Traced and untraced back to back for each K, so that a change in the
    // machine's load hurts the ratio as little as possible.
    for k in [0_u64, 1, 10] {
        let input = k.to_string();
        for (name, pipeline, runtime, plugin) in &setups {
            group.bench_with_input(BenchmarkId::new(*name, k), &input, |b, input| {
                b.iter_custom(|iters| {
                    if *name == "traced" {
                        // K guest spans plus the invocation span.
                        pipeline.produced(iters * (k + 1));
                    }
                    let start = Instant::now();
                    for _ in 0..iters {
                        let output = runtime.invoke(plugin, input, &parent);
                        // A failed invocation would be cheaper: never time one.
                        assert!(matches!(output.as_deref(), Ok(o) if o == input));
                    }
                    start.elapsed()
                })
            });
            pipeline.report(&format!("invocation/{name}/{k}"));
        }
    }
    group.finish();

    if common::run_paired() {
        // Traced/untraced again in alternating pairs of 100 invocations.
        let [
            (_, _, traced, traced_plugin),
            (_, _, untraced, untraced_plugin),
            (_, _, on_demand, on_demand_plugin),
        ] = &setups[..]
        else {
            unreachable!("three setups")
        };
        for k in [0_u64, 10] {
            let input = k.to_string();
            let block = |runtime: &Runtime, plugin: &Plugin| {
                let start = Instant::now();
                for _ in 0..100 {
                    let output = runtime.invoke(plugin, &input, &parent);
                    assert!(matches!(output.as_deref(), Ok(o) if o == input));
                }
                start.elapsed()
            };
            common::paired_ratio(
                &format!("invocation traced/untraced K={k}"),
                40,
                || block(traced, traced_plugin),
                || block(untraced, untraced_plugin),
            );
            common::paired_ratio(
                &format!("invocation untraced pooling/on_demand K={k}"),
                40,
                || block(untraced, untraced_plugin),
                || block(on_demand, on_demand_plugin),
            );
        }
    }
}

fn main() {
    let mut c = common::criterion();
    let pipeline = Pipeline::parent_based();
    crossings(&mut c, &pipeline);
    instantiate(&mut c, &pipeline);
    let untraced = Pipeline::disabled();
    invocation(&mut c, &pipeline, &untraced);
    c.final_summary();
}
