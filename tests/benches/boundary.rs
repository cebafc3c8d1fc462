//! Issue 3, targets 1 and 2: what a guest span costs next to a native
//! `opentelemetry_sdk` span, and what an unsampled guest span costs next to
//! an empty guest-to-host call.
//!
//! Group `span`, all four side by side in one run:
//!
//! - `guest`: a span started with two typed attributes (a string and an
//!   int) and dropped, in a real component (`tests/guests/bench`) through
//!   `wasmtrace::add_to_linker`, under a sampled remote parent;
//! - `native`: the same span through the SDK directly, same provider
//!   (parent-based always-on sampler, batch processor, discarding exporter)
//!   and parent;
//! - `guest_unsampled`: the guest span in an unsampled trace, under a local
//!   unsampled span as `wasmtrace::Runtime` gives it (the invocation span):
//!   the SDK knows the decision and skips the span without a host call;
//! - `guest_unsampled_remote`: the same span directly under an unsampled
//!   *remote* parent (an embedder that sets no span of its own): the SDK
//!   cannot trust a remote decision, so the host decides for each span;
//! - `nop_call`: an empty guest-to-host call through the same linker.
//!
//! Group `wasi_otel`: the same span (name, two attributes) recorded through
//! the standard `wasi:otel` by `tests/guests/wasi-otel` (`on-start` and
//! `on-end`, the span's data made by the guest; no guest SDK) against
//! `wasmtrace` (the `guest` span above), same host and parent.
//!
//! Guest figures come from one guest call looping N times (criterion's
//! `iter_custom`), so they are per span, with the call's own cost amortized.
//! After the group, the two ratios are measured once more in alternating
//! pairs (`paired ...` lines), which a changing machine load disturbs less.
//!
//! Run with `cargo bench --bench boundary`.

mod common;

use common::{Allocation, Guest, Pipeline};
use criterion::Criterion;
use opentelemetry::Context;
use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};

fn span(c: &mut Criterion, pipeline: &Pipeline) {
    let engine = common::engine(Allocation::OnDemand);
    let linker = common::linker(&engine);
    let bench = common::component(&engine, wasmtrace_test_artifacts::BENCH);
    let provider = &pipeline.provider;
    let mut sampled = Guest::new(&linker, &bench, provider, common::remote_parent(true));
    let tracer = provider.tracer("native");
    let mut unsampled = Guest::new(&linker, &bench, provider, local_unsampled(&tracer));
    let mut unsampled_remote = Guest::new(&linker, &bench, provider, common::remote_parent(false));
    let parent = common::remote_parent(true);

    let mut group = c.benchmark_group("span");
    group.bench_function("guest", |b| {
        b.iter_custom(|iters| {
            pipeline.produced(iters);
            sampled.run("span", iters)
        })
    });
    pipeline.report("span/guest");
    group.bench_function("native", |b| {
        b.iter_custom(|iters| {
            pipeline.produced(iters);
            common::native_spans(&tracer, &parent, iters)
        })
    });
    pipeline.report("span/native");
    group.bench_function("guest_unsampled", |b| {
        b.iter_custom(|iters| unsampled.run("span", iters))
    });
    group.bench_function("guest_unsampled_remote", |b| {
        b.iter_custom(|iters| unsampled_remote.run("span", iters))
    });
    group.bench_function("nop_call", |b| {
        b.iter_custom(|iters| sampled.run("nop", iters))
    });
    group.finish();

    if common::run_paired() {
        // The same ratios again, each pair timed back to back (see
        // `paired_ratio`): blocks of 20 000 spans or calls.
        const BLOCK: u64 = 20_000;
        common::paired_ratio(
            "span guest/native",
            40,
            || {
                pipeline.produced(BLOCK);
                sampled.run("span", BLOCK)
            },
            || {
                pipeline.produced(BLOCK);
                common::native_spans(&tracer, &parent, BLOCK)
            },
        );
        // Reported here, not in the next benchmark's figure.
        pipeline.report("paired span guest/native");
        common::paired_ratio(
            "span guest_unsampled/nop_call",
            40,
            || unsampled.run("span", BLOCK),
            || sampled.run("nop", BLOCK),
        );
    }
}

/// The context `Runtime::invoke` gives a plugin in an unsampled trace: its
/// invocation span, local and not recording, under the remote parent.
fn local_unsampled(tracer: &opentelemetry_sdk::trace::SdkTracer) -> Context {
    let parent = common::remote_parent(false);
    let invocation = tracer.start_with_context("invoke bench", &parent);
    assert!(!invocation.span_context().is_sampled());
    parent.with_span(invocation)
}

/// A span through `wasi:otel` against the same span through
/// `wasmtrace:telemetry`.
fn wasi_otel(c: &mut Criterion, pipeline: &Pipeline) {
    let engine = common::engine(Allocation::OnDemand);
    let linker = common::linker(&engine);
    let bench = common::component(&engine, wasmtrace_test_artifacts::BENCH);
    let otel = common::component(&engine, wasmtrace_test_artifacts::WASI_OTEL);
    let provider = &pipeline.provider;
    let mut wasmtrace = Guest::new(&linker, &bench, provider, common::remote_parent(true));
    let mut standard = Guest::new(&linker, &otel, provider, common::remote_parent(true));
    let mut group = c.benchmark_group("wasi_otel");
    group.bench_function("wasmtrace", |b| {
        b.iter_custom(|iters| {
            pipeline.produced(iters);
            wasmtrace.run("span", iters)
        })
    });
    pipeline.report("wasi_otel/wasmtrace");
    group.bench_function("wasi_otel", |b| {
        b.iter_custom(|iters| {
            pipeline.produced(iters);
            standard.run("span", iters)
        })
    });
    pipeline.report("wasi_otel/wasi_otel");
    group.finish();
}

fn main() {
    let mut c = common::criterion();
    let pipeline = Pipeline::parent_based();
    span(&mut c, &pipeline);
    wasi_otel(&mut c, &pipeline);
    c.final_summary();
}
