//! Setup shared by the `boundary` and `crossings` benches: the trace
//! pipeline (batch processor over an exporter that discards), a wasmtime
//! engine and linker configured as `wasmtrace::Runtime` configures its own,
//! plus the bench-only `wasmtrace-bench:nop/nop` imports, and a loaded bench
//! guest that repeats one crossing N times per call.

// Each bench binary uses a different subset of these helpers.
#![allow(dead_code)]

/// System readings and the OTLP set-up of the `pipeline` and `memory` benches.
pub mod sys;

use criterion::Criterion;
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, Sampler, SdkTracerProvider, Span, SpanData, SpanExporter, SpanProcessor,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

#[allow(unused_imports)]
pub use wasmtrace_test_support::bench_guest::{BenchState, Guest, Thing, component, linker};

/// Criterion settings that keep each suite to a few minutes on two shared
/// cores; command-line flags (`--measurement-time`, ...) still override.
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args()
}

/// Drops every batch and counts its spans, so that a run can say how many of
/// the spans it produced the batch processor delivered.
#[derive(Debug, Clone, Default)]
pub struct DiscardExporter {
    exported: Arc<AtomicU64>,
}

impl SpanExporter for DiscardExporter {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        self.exported
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        std::future::ready(Ok(()))
    }
}

/// The pipeline's batch processor, registered with the provider and also
/// reachable directly, so that `crossings/span_data_direct` can hand it
/// finished spans without a tracer, as a host recording guest spans without
/// the SDK's per-span machinery would. (`set_resource` is not forwarded:
/// the discarding exporter has no use for the resource.)
#[derive(Debug)]
struct SharedProcessor(Arc<BatchSpanProcessor>);

impl SpanProcessor for SharedProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.0.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
}

/// A tracer provider with the SDK's default `BatchSpanProcessor` over a
/// [`DiscardExporter`], and counters of produced and exported spans.
#[derive(Debug)]
pub struct Pipeline {
    /// The provider guest and native spans are recorded with.
    pub provider: SdkTracerProvider,
    /// The provider's batch processor.
    pub processor: Arc<BatchSpanProcessor>,
    exported: Arc<AtomicU64>,
    produced: AtomicU64,
    reported_exported: AtomicU64,
    reported_produced: AtomicU64,
}

impl Pipeline {
    /// The default sampler of wasmtrace and of the SDK: parent-based,
    /// always on for roots.
    pub fn parent_based() -> Self {
        Self::with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
    }

    /// Tracing off, as `OTEL_SDK_DISABLED=true` sets it up in
    /// `wasmtrace::telemetry`: nothing is sampled.
    pub fn disabled() -> Self {
        Self::with_sampler(Sampler::AlwaysOff)
    }

    fn with_sampler(sampler: Sampler) -> Self {
        let exporter = DiscardExporter::default();
        let exported = exporter.exported.clone();
        let processor = Arc::new(BatchSpanProcessor::builder(exporter).build());
        // As the CLI's provider: `wasi:otel` spans keep the guest's ids.
        let provider = SdkTracerProvider::builder()
            .with_id_generator(wasmtrace::telemetry::GuestIdGenerator::default())
            .with_sampler(sampler)
            .with_span_processor(SharedProcessor(processor.clone()))
            .build();
        Self {
            provider,
            processor,
            exported,
            produced: AtomicU64::new(0),
            reported_exported: AtomicU64::new(0),
            reported_produced: AtomicU64::new(0),
        }
    }

    /// Counts `n` spans ended into the pipeline (sampled ones only).
    pub fn produced(&self, n: u64) {
        self.produced.fetch_add(n, Ordering::Relaxed);
    }

    /// Flushes and prints how many of the sampled spans produced since the
    /// last report reached the exporter. The batch processor drops spans
    /// when its queue (2048 by default) is full; a dropped span is freed on
    /// the producing thread instead of the exporter's, so a reader of the
    /// timings must know how many were.
    pub fn report(&self, label: &str) {
        let _ = self.provider.force_flush();
        let produced_total = self.produced.load(Ordering::Relaxed);
        let exported_total = self.exported.load(Ordering::Relaxed);
        let produced = produced_total
            - self
                .reported_produced
                .swap(produced_total, Ordering::Relaxed);
        let exported = exported_total
            - self
                .reported_exported
                .swap(exported_total, Ordering::Relaxed);
        if produced == 0 {
            return;
        }
        let pct = exported as f64 * 100.0 / produced as f64;
        println!(
            "{label}: {exported} of {produced} sampled spans exported ({pct:.1}%), the rest dropped (queue full)"
        );
    }
}

/// A remote parent, as a request's `traceparent` would give: sampled or not.
pub fn remote_parent(sampled: bool) -> Context {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128),
        SpanId::from(0x00f0_67aa_0ba9_02b7_u64),
        flags,
        true,
        TraceState::default(),
    ))
}

/// How instances get their memories and tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocation {
    /// wasmtime's default (and `wasmtrace::Runtime`'s): mmap per instance.
    OnDemand,
    /// The pooling allocator: slots reserved once, reused per instance.
    Pooling,
    /// The pooling allocator, resetting the first 2 MiB of a memory (and
    /// 64 KiB of a table) with `memset` instead of `madvise`, so that a
    /// reused slot does not fault its pages in again.
    PoolingKeepResident,
}

/// An engine configured as `wasmtrace::Runtime::new` configures its own with
/// the default `RuntimeConfig` (no fuel, no deadline), optionally with the
/// pooling allocator for comparison.
pub fn engine(allocation: Allocation) -> Engine {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.concurrency_support(false);
    if allocation != Allocation::OnDemand {
        // Small pools: one instance is alive at a time in these benches.
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(8)
            .total_core_instances(64)
            .total_memories(16)
            .total_tables(16);
        if allocation == Allocation::PoolingKeepResident {
            pool.linear_memory_keep_resident(2 << 20)
                .table_keep_resident(64 << 10);
        }
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&config).expect("configuring wasmtime")
}

/// The span the native side records: the name and attributes of the bench
/// guest's, with the same tracer provider.
pub fn native_span(tracer: &opentelemetry_sdk::trace::SdkTracer, parent: &Context) {
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{Span as _, Tracer as _};
    let mut span = tracer
        .span_builder("bench")
        .with_attributes([
            KeyValue::new("http.route", "/users/{id}"),
            KeyValue::new("http.response.status_code", 200_i64),
        ])
        .start_with_context(tracer, parent);
    span.end();
}

/// Times `iters` native spans (for `iter_custom`, like the guest side).
pub fn native_spans(
    tracer: &opentelemetry_sdk::trace::SdkTracer,
    parent: &Context,
    iters: u64,
) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        native_span(tracer, parent);
    }
    start.elapsed()
}

/// Whether to run the paired measurements: when criterion measures
/// (`cargo bench` passes `--bench`; `cargo test --benches` does not), is not
/// profiling or listing, and has no filter, or one containing `paired`
/// (`cargo bench --bench boundary -- paired` runs only them).
pub fn run_paired() -> bool {
    // Criterion's options that take a value (`--flag value`).
    const WITH_VALUE: &[&str] = &[
        "-c",
        "--color",
        "-s",
        "--save-baseline",
        "-b",
        "--baseline",
        "--load-baseline",
        "--format",
        "--sample-size",
        "--warm-up-time",
        "--measurement-time",
        "--nresamples",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--plotting-backend",
        "--output-format",
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .any(|a| a == name || a.starts_with(&format!("{name}=")))
    };
    if !flag("--bench") || flag("--profile-time") || flag("--list") || flag("--test") {
        return false;
    }
    let mut filters = Vec::new();
    let mut value_next = false;
    for arg in &args {
        if std::mem::take(&mut value_next) {
            continue;
        }
        if arg.starts_with('-') {
            value_next = WITH_VALUE.contains(&arg.as_str());
        } else {
            filters.push(arg);
        }
    }
    filters.is_empty() || filters.iter().any(|f| f.contains("paired"))
}

/// Prints the ratio of `a` to `b` measured in pairs: `rounds` rounds, each
/// timing one block of `a` and one of `b` back to back (in alternating
/// order), and the median and quartiles of the per-round ratios. On a
/// machine whose load changes while the suite runs (a shared one), this is
/// steadier than dividing two criterion estimates taken seconds apart.
pub fn paired_ratio(
    label: &str,
    rounds: usize,
    mut a: impl FnMut() -> Duration,
    mut b: impl FnMut() -> Duration,
) {
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|round| {
            let (ta, tb) = if round % 2 == 0 {
                let ta = a();
                (ta, b())
            } else {
                let tb = b();
                (a(), tb)
            };
            ta.as_secs_f64() / tb.as_secs_f64()
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
    println!(
        "paired {label}: median {:.2} (quartiles {:.2}-{:.2}, {rounds} rounds)",
        at(0.5),
        at(0.25),
        at(0.75)
    );
}
