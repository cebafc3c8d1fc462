//! Issue 3, target 5: resident memory. Not a criterion bench: it prints
//! resident set sizes (`VmRSS` of `/proc/self/status`) before and after
//! each step, since what is measured is a size, not a time.
//!
//! - `idle_plugin`: `Runtime::load` of the `bench-plugin` component N times
//!   (each load compiles it again and keeps its `InstancePre`): RSS delta / N.
//! - `instance`: N stores, each with an instance of the bench guest
//!   (`tests/guests/bench`) that has been called once, kept alive: RSS
//!   delta / N.
//! - `in_flight`: N threads, each inside a call into its own instance,
//!   blocked in a host function (the bench guest's `nop` import, here
//!   waiting on a barrier); the same N threads blocked without wasm give
//!   the threads' own share.
//! - `flood`: 10 million guest spans (then 10 million native ones) through
//!   the OTLP/gRPC exporter pointed at a closed port (collector down), RSS
//!   sampled every million: it stays flat, bounded by the batch queue, and
//!   `DeliveryStats` counts what was dropped.
//!
//! - `hostile`: issue 11's worst invocations (floods of events, links,
//!   arrays, names, spans, self-calls, a huge error, ...) at the default
//!   limits, each in a fresh child process of this bench (so that one
//!   mode's peak does not hide another's), exporting as `wasmtrace run`
//!   does: over OTLP/gRPC to a collector that is down (the export queue
//!   fills to its bound), or to the local JSON sink. Each child reports its
//!   peak RSS (`VmHWM`); the parent prints it next to the bound the limits
//!   document ([`wasmtrace::Limits::worst_case_bytes`] plus the export
//!   queue's byte bound, over a run of the well-behaved mode).
//!
//! Run with `cargo bench --bench memory` (about a minute). Without
//! `--bench` (`cargo test --benches`) it only says so and exits.

mod common;

use common::sys::{self, mib};
use common::{BenchState, Guest, Pipeline};
use opentelemetry::trace::TracerProvider as _;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use wasmtime::Engine;
use wasmtime::component::{Linker, Resource, ResourceType, WasmStr};

/// Spans per flood, and between RSS samples.
const FLOOD: u64 = 10_000_000;
const FLOOD_STEP: u64 = 1_000_000;
/// Stop a flood early past this (and say so).
const FLOOD_BUDGET: Duration = Duration::from_secs(120);

/// Lets the allocator and the kernel settle before a reading.
fn settle() -> u64 {
    std::thread::sleep(Duration::from_millis(200));
    sys::rss_bytes()
}

fn idle_plugins(provider: &opentelemetry_sdk::trace::SdkTracerProvider) {
    const N: usize = 20;
    let runtime = wasmtrace::Runtime::new(provider, wasmtrace::RuntimeConfig::default())
        .expect("creating the runtime");
    let bytes =
        std::fs::read(wasmtrace_test_artifacts::BENCH_PLUGIN).expect("reading bench-plugin");
    // The first load pays for one-time engine and linker state.
    let first = runtime
        .load(&bytes, "bench-plugin")
        .expect("loading bench-plugin");
    let before = settle();
    let plugins: Vec<_> = (0..N)
        .map(|_| {
            runtime
                .load(&bytes, "bench-plugin")
                .expect("loading bench-plugin")
        })
        .collect();
    let after = settle();
    println!(
        "idle_plugin: {N} loads of bench-plugin ({} KiB component): RSS {:.1} -> {:.1} MiB, {:.0} KiB per loaded plugin",
        bytes.len() / 1024,
        mib(before),
        mib(after),
        (after.saturating_sub(before)) as f64 / 1024.0 / N as f64
    );
    drop((plugins, first));
}

fn instances(engine: &Engine, provider: &opentelemetry_sdk::trace::SdkTracerProvider) {
    const N: usize = 200;
    let linker = common::linker(engine);
    let bench = common::component(engine, wasmtrace_test_artifacts::BENCH);
    let parent = common::remote_parent(true);
    // One first, so that lazily initialized engine state is not counted.
    let mut first = Guest::new(&linker, &bench, provider, parent.clone());
    first.run("span", 1);
    let before = settle();
    let guests: Vec<Guest> = (0..N)
        .map(|_| {
            let mut g = Guest::new(&linker, &bench, provider, parent.clone());
            g.run("span", 1);
            g
        })
        .collect();
    let after = settle();
    println!(
        "instance: {N} live stores+instances of the bench guest, each called once: RSS {:.1} -> {:.1} MiB, {:.0} KiB per instance",
        mib(before),
        mib(after),
        (after.saturating_sub(before)) as f64 / 1024.0 / N as f64
    );
    drop((guests, first));
}

/// The bench linker with a `nop` that blocks until released: the call is
/// in flight (guest frames and the host call on the thread's stack).
fn blocking_linker(
    engine: &Engine,
    arrived: Arc<Barrier>,
    release: Arc<Barrier>,
) -> Linker<BenchState> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("linking WASI");
    wasmtrace::add_to_linker(&mut linker).expect("linking wasmtrace:tracing");
    let mut nop = linker
        .instance("wasmtrace-bench:nop/nop")
        .expect("nop instance");
    nop.func_wrap("nop", move |_, (): ()| {
        arrived.wait();
        release.wait();
        Ok(())
    })
    .expect("nop");
    nop.func_wrap("take-string", |_, (_s,): (String,)| Ok(()))
        .expect("take-string");
    nop.func_wrap("take-str", |_, (_s,): (WasmStr,)| Ok(()))
        .expect("take-str");
    nop.resource(
        "thing",
        ResourceType::host::<common::Thing>(),
        |_, _| Ok(()),
    )
    .expect("thing");
    nop.func_wrap("[constructor]thing", |_, (): ()| {
        Ok((Resource::<common::Thing>::new_own(0),))
    })
    .expect("thing constructor");
    linker
}

fn in_flight(engine: &Engine, provider: &opentelemetry_sdk::trace::SdkTracerProvider) {
    const N: usize = 100;
    let bench = common::component(engine, wasmtrace_test_artifacts::BENCH);
    let parent = common::remote_parent(true);

    // N threads blocked without wasm: the threads' own share.
    let arrived = Arc::new(Barrier::new(N + 1));
    let release = Arc::new(Barrier::new(N + 1));
    let before = settle();
    let threads: Vec<_> = (0..N)
        .map(|_| {
            let (a, r) = (arrived.clone(), release.clone());
            std::thread::spawn(move || {
                a.wait();
                r.wait();
            })
        })
        .collect();
    arrived.wait();
    let after = settle();
    release.wait();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let per_thread = after.saturating_sub(before) as f64 / N as f64;

    // N threads, each blocked inside a call into its own instance.
    let linker = blocking_linker(engine, arrived.clone(), release.clone());
    let before = settle();
    std::thread::scope(|s| {
        for _ in 0..N {
            let (linker, bench, parent) = (&linker, &bench, parent.clone());
            s.spawn(move || {
                let mut guest = Guest::new(linker, bench, provider, parent);
                guest.run("nop", 1);
            });
        }
        arrived.wait();
        let after = settle();
        let per_call = after.saturating_sub(before) as f64 / N as f64;
        println!(
            "in_flight: {N} threads each blocked in a host call from its own instance: RSS {:.1} -> {:.1} MiB, {:.0} KiB per in-flight invocation ({:.0} KiB of it the blocked thread alone, measured the same way without wasm)",
            mib(before),
            mib(after),
            per_call / 1024.0,
            per_thread / 1024.0
        );
        release.wait();
    });
}

/// `FLOOD` spans with the collector down, in steps of `FLOOD_STEP`; RSS and
/// `DeliveryStats` after each.
fn flood(engine: &Engine, native: bool) {
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("finding a free port")
        .port();
    let telemetry = sys::otlp_grpc(&format!("http://127.0.0.1:{port}"));
    let delivery = telemetry.delivery_handle();
    let provider = telemetry.provider();
    let label = if native { "native" } else { "guest" };
    let linker = common::linker(engine);
    let bench = common::component(engine, wasmtrace_test_artifacts::BENCH);
    let parent = common::remote_parent(true);
    let mut guest = Guest::new(&linker, &bench, provider, parent.clone());
    let tracer = provider.tracer("native");
    // One span, so that the instance and the batch processor are up; the
    // queue (2048 spans) is still empty at the baseline, so the growth
    // below includes filling it.
    guest.run("span", 1);
    let before = settle();
    println!(
        "flood/{label}: collector down (127.0.0.1:{port} closed), {}; RSS before {:.1} MiB",
        sys::batch_config_line(),
        mib(before)
    );
    let start = Instant::now();
    let mut produced = 0;
    let mut rss_max = before;
    while produced < FLOOD {
        if native {
            for _ in 0..FLOOD_STEP {
                common::native_span(&tracer, &parent);
            }
        } else {
            guest.run("span", FLOOD_STEP);
        }
        produced += FLOOD_STEP;
        let rss = sys::rss_bytes();
        rss_max = rss_max.max(rss);
        let (ended, delivered, failed) =
            (delivery.ended(), delivery.delivered(), delivery.failed());
        println!(
            "flood/{label}: {:>2}M spans, {:5.1} s: RSS {:.1} MiB ({:+.1}); ended {ended}, delivered {delivered}, in failed exports {failed}, dropped or still queued {}",
            produced / 1_000_000,
            start.elapsed().as_secs_f64(),
            mib(rss),
            mib(rss) - mib(before),
            ended.saturating_sub(delivered + failed),
        );
        if start.elapsed() > FLOOD_BUDGET {
            println!(
                "flood/{label}: stopped after {produced} spans: past the {FLOOD_BUDGET:?} budget"
            );
            break;
        }
    }
    let elapsed = start.elapsed();
    drop(guest);
    let shutdown = Instant::now();
    let result = telemetry.shutdown(Duration::from_secs(5));
    let (ended, delivered, failed) = (delivery.ended(), delivery.delivered(), delivery.failed());
    println!(
        "flood/{label}: {produced} spans in {:.1} s ({:.0} spans/s); RSS max {:+.1} MiB over the baseline; after shutdown ({:.1} s, {}): ended {ended}, delivered {delivered}, failed {failed}, dropped {} ({:.3}% of ended)",
        elapsed.as_secs_f64(),
        produced as f64 / elapsed.as_secs_f64(),
        mib(rss_max) - mib(before),
        shutdown.elapsed().as_secs_f64(),
        match result {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("{e:#}"),
        },
        ended.saturating_sub(delivered + failed),
        ended.saturating_sub(delivered + failed) as f64 * 100.0 / ended.max(1) as f64,
    );
}

/// The hostile modes measured, as `tests/guests/hostile` names them.
const HOSTILE_MODES: &[&str] = &[
    "event-flood",
    "link-flood",
    "array-flood",
    "name-flood",
    "huge-error",
    "huge-strings",
    "attribute-bomb",
    "span-flood",
    "open-bomb",
    "explicit-chain",
    "self-call-chain",
    "call-fanout",
    "context-bomb",
];

/// Runs one hostile mode in this process (a child of [`hostile`]) and
/// prints its peak RSS.
fn hostile_child(mode: &str, sink: &str) {
    let mut builder = wasmtrace::telemetry::Telemetry::builder("wasmtrace-bench", "0");
    let file = std::env::temp_dir().join(format!("wasmtrace-memory-{}.json", std::process::id()));
    builder = match sink {
        "otlp-down" => {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("finding a free port")
                .port();
            builder
                .with_exporter(wasmtrace::telemetry::TracesExporter::Otlp(
                    opentelemetry_otlp::Protocol::Grpc,
                ))
                .with_endpoint(format!("http://127.0.0.1:{port}"))
        }
        _ => builder
            .with_exporter(wasmtrace::telemetry::TracesExporter::None)
            .with_json_file(&file),
    };
    let telemetry = builder.build().expect("telemetry");
    let config = wasmtrace::RuntimeConfig {
        delivery: Some(telemetry.delivery_handle()),
        ..wasmtrace::RuntimeConfig::default()
    };
    let runtime = wasmtrace::Runtime::new(telemetry.provider(), config).expect("runtime");
    let plugin = runtime
        .load_file(wasmtrace_test_artifacts::HOSTILE.as_ref())
        .expect("loading the hostile guest");
    runtime.register(&plugin);
    let result = runtime.invoke(&plugin, mode, &opentelemetry::Context::new());
    let _ = telemetry.shutdown(Duration::from_secs(1));
    let _ = std::fs::remove_file(&file);
    let outcome = match result {
        Ok(_) => "ok".to_owned(),
        Err(e) => e.to_string().chars().take(60).collect(),
    };
    println!("peak {} {outcome}", sys::peak_rss_bytes());
}

fn hostile() {
    let exe = std::env::current_exe().expect("this bench's path");
    let measure = |mode: &str, sink: &str| -> (u64, String) {
        let out = std::process::Command::new(&exe)
            .args(["--bench", "--hostile-child", mode, sink])
            .stderr(std::process::Stdio::null())
            .output()
            .expect("running a hostile child");
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("peak "))
            .unwrap_or_else(|| panic!("{mode}/{sink}: no reading in {text:?}"));
        let (peak, outcome) = line.split_once(' ').unwrap_or((line, ""));
        (peak.parse().expect("a byte count"), outcome.to_owned())
    };
    let limits = wasmtrace::Limits::default();
    let queue = wasmtrace::telemetry::QueueConfig::default().max_queue_bytes;
    for sink in ["otlp-down", "json-file"] {
        let (baseline, _) = measure("ok", sink);
        let bound =
            baseline + limits.worst_case_bytes() + if sink == "otlp-down" { queue } else { 0 };
        println!(
            "hostile/{sink}: baseline (mode ok) {:.1} MiB; bound {:.1} MiB = baseline + worst case of one invocation at default limits ({:.1} MiB){}",
            mib(baseline),
            mib(bound),
            mib(limits.worst_case_bytes()),
            if sink == "otlp-down" {
                format!(" + export queue ({:.0} MiB)", mib(queue))
            } else {
                String::new()
            }
        );
        for mode in HOSTILE_MODES {
            let (peak, outcome) = measure(mode, sink);
            println!(
                "hostile/{sink}/{mode}: peak RSS {:.1} MiB ({:+.1} over the baseline): {} [{outcome}]",
                mib(peak),
                mib(peak) - mib(baseline),
                if peak <= bound {
                    "within the bound"
                } else {
                    "EXCEEDS THE BOUND"
                }
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--hostile-child") {
        sys::quiet_metrics();
        return hostile_child(&args[at + 1], &args[at + 2]);
    }
    if !std::env::args().any(|a| a == "--bench") {
        println!("memory: measures only under `cargo bench --bench memory`");
        return;
    }
    sys::quiet_metrics();
    println!("{}", sys::machine_line());
    let engine = common::engine(common::Allocation::OnDemand);
    // A pipeline that discards, for the loading and instance steps.
    let pipeline = Pipeline::parent_based();
    println!("start: RSS {:.1} MiB", mib(settle()));
    idle_plugins(&pipeline.provider);
    instances(&engine, &pipeline.provider);
    in_flight(&engine, &pipeline.provider);
    flood(&engine, false);
    flood(&engine, true);
    hostile();
}
