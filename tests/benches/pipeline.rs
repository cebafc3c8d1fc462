//! Issue 3, target 4: the whole export pipeline under load. Guest spans and
//! native `opentelemetry_sdk` spans, produced as fast as several threads can,
//! through the real exporter `wasmtrace::telemetry::Telemetry` builds (the
//! SDK's batch span processor with its default configuration, OTLP over
//! gRPC) to an in-process OTLP receiver on loopback (`OtlpReceiver`).
//!
//! Group `pipeline`, criterion throughput in spans (elements) per second:
//!
//! - `guest/T`: T threads, each with its own store and instance of the bench
//!   guest (`tests/guests/bench`), each calling it in a loop; one call
//!   records K spans (two attributes each, as in `boundary`);
//! - `native/T`: T threads recording the same span natively, K per
//!   iteration, with the same provider (same sampler, processor, exporter).
//!
//! After each benchmark a line gives its spans/s over every sample, how many
//! of the spans produced were delivered (`DeliveryStats`: the rest were
//! dropped by the full queue), the per-call latency (p50, p99, p99.9 of one
//! guest call recording K spans; of K native spans) and the CPU time of the
//! export threads (batch processor + tonic runtime) and of the receiver.
//!
//! Then, outside criterion:
//!
//! - `saturated`: 2 threads flat out for 2 s on a fresh pipeline, guest then
//!   native, then `Telemetry::shutdown` (flush) and the receiver's span count
//!   against the spans produced;
//! - `sustainable`: one thread recording guest spans at a fixed rate for
//!   3 s per step on the default queue, raising the rate until spans are
//!   dropped, bisecting, then holding the highest clean rate for 10 s: the
//!   highest rate with zero drops; and the round trip of one batch.
//!
//! Those two run without a filter (or with one containing `paired`).
//!
//! Run with `cargo bench --bench pipeline`.

mod common;

use common::Guest;
use common::sys;
use criterion::{Criterion, Throughput};
use opentelemetry::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};
use wasmtrace::PluginIdentity;
use wasmtrace::telemetry::{DeliveryStats, Telemetry};
use wasmtrace_test_support::OtlpReceiver;

/// Spans per guest call (and per native iteration).
const K: u64 = 10;

/// Producer thread counts.
const THREADS: [usize; 2] = [2, 4];

/// What one benchmark's samples add up to.
#[derive(Default)]
struct Tally {
    spans: u64,
    busy: Duration,
    /// Per-call latencies (one guest call of K spans; K native spans).
    latencies: Vec<Duration>,
}

/// Counters at the start of a measurement window.
struct Window {
    ended: u64,
    delivered: u64,
    failed: u64,
    export_cpu: Duration,
    receiver_cpu: Duration,
    at: Instant,
}

impl Window {
    fn start(delivery: &DeliveryStats) -> Self {
        Self {
            ended: delivery.ended(),
            delivered: delivery.delivered(),
            failed: delivery.failed(),
            export_cpu: sys::thread_cpu(sys::EXPORT_THREADS),
            receiver_cpu: sys::thread_cpu(sys::RECEIVER_THREADS),
            at: Instant::now(),
        }
    }
}

/// Flushes the provider and prints what the window produced, delivered
/// and cost; returns spans/s over the samples. `None`, printing nothing,
/// when the benchmark did not run (a filter left it out).
fn report(
    label: &str,
    window: Window,
    provider: &SdkTracerProvider,
    delivery: &DeliveryStats,
    tally: Tally,
) -> Option<f64> {
    if tally.spans == 0 {
        return None;
    }
    let _ = provider.force_flush();
    let wall = window.at.elapsed();
    let ended = delivery.ended() - window.ended;
    let delivered = delivery.delivered() - window.delivered;
    let failed = delivery.failed() - window.failed;
    let export_cpu = sys::thread_cpu(sys::EXPORT_THREADS).saturating_sub(window.export_cpu);
    let receiver_cpu = sys::thread_cpu(sys::RECEIVER_THREADS).saturating_sub(window.receiver_cpu);
    let mut lat = tally.latencies;
    lat.sort_unstable();
    let rate = tally.spans as f64 / tally.busy.as_secs_f64();
    let per_span = |cpu: Duration| cpu.as_nanos() as f64 / delivered.max(1) as f64;
    println!(
        "{label}: {rate:.0} spans/s produced over all samples ({} spans in {:.2} s); delivered {delivered} of {ended} ended ({:.1}%, {:.0} spans/s over the {:.1} s window), failed {failed}, dropped {}",
        tally.spans,
        tally.busy.as_secs_f64(),
        delivered as f64 * 100.0 / ended.max(1) as f64,
        delivered as f64 / wall.as_secs_f64(),
        wall.as_secs_f64(),
        ended.saturating_sub(delivered + failed),
    );
    println!(
        "{label}: call of {K} spans: p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us, max {:.1} us ({} calls)",
        us(sys::quantile(&lat, 0.5)),
        us(sys::quantile(&lat, 0.99)),
        us(sys::quantile(&lat, 0.999)),
        us(lat.last().copied().unwrap_or_default()),
        lat.len(),
    );
    println!(
        "{label}: export threads {:.2} s CPU ({:.0}% of a core over {:.1} s, {:.0} ns per delivered span); receiver {:.2} s CPU ({:.0} ns per span)",
        export_cpu.as_secs_f64(),
        export_cpu.as_secs_f64() * 100.0 / wall.as_secs_f64(),
        wall.as_secs_f64(),
        per_span(export_cpu),
        receiver_cpu.as_secs_f64(),
        per_span(receiver_cpu),
    );
    Some(rate)
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Runs `work` on every element of `items`, one thread each, all starting
/// together; returns the wall time from the first one's start to the last
/// one's end, as the threads read the clock (the spawning thread may not
/// get a CPU in time to).
fn on_threads<T: Send>(items: &mut [T], work: impl Fn(&mut T) + Sync) -> Duration {
    let go = Barrier::new(items.len());
    let (go, work) = (&go, &work);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .iter_mut()
            .map(|item| {
                s.spawn(move || {
                    go.wait();
                    let start = Instant::now();
                    work(item);
                    (start, Instant::now())
                })
            })
            .collect();
        let spans: Vec<(Instant, Instant)> = handles
            .into_iter()
            .map(|h| h.join().expect("a producer thread panicked"))
            .collect();
        let start = spans
            .iter()
            .map(|s| s.0)
            .min()
            .expect("at least one thread");
        let end = spans
            .iter()
            .map(|s| s.1)
            .max()
            .expect("at least one thread");
        end - start
    })
}

/// Runs `f` while a thread empties the receiver every 20 ms: it stores
/// every span it decodes, and a store that grows by a million spans (with
/// its reallocations, under the lock the server takes) would stall exports
/// and so measure the test receiver instead of the pipeline. Counts come
/// from `DeliveryStats`.
fn with_clearing<R>(receiver: &OtlpReceiver, f: impl FnOnce() -> R) -> R {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                receiver.clear();
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let result = f();
        stop.store(true, Ordering::Relaxed);
        result
    })
}

/// T guests calling `span K` `iters` times each; records per-call latencies.
fn run_guests(guests: &mut [Guest], iters: u64, tally: &Mutex<Tally>) -> Duration {
    let wall = on_threads(guests, |guest| {
        let lat: Vec<Duration> = (0..iters).map(|_| guest.run("span", K)).collect();
        tally.lock().unwrap().latencies.extend(lat);
    });
    let mut t = tally.lock().unwrap();
    t.spans += iters * K * guests.len() as u64;
    t.busy += wall;
    wall
}

/// T threads recording K native spans `iters` times each.
fn run_native(
    tracers: &mut [SdkTracer],
    parent: &Context,
    iters: u64,
    tally: &Mutex<Tally>,
) -> Duration {
    let wall = on_threads(tracers, |tracer| {
        let lat: Vec<Duration> = (0..iters)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..K {
                    common::native_span(tracer, parent);
                }
                start.elapsed()
            })
            .collect();
        tally.lock().unwrap().latencies.extend(lat);
    });
    let mut t = tally.lock().unwrap();
    t.spans += iters * K * tracers.len() as u64;
    t.busy += wall;
    wall
}

struct Setup {
    linker: Linker<common::BenchState>,
    bench: (Component, PluginIdentity),
    parent: Context,
}

impl Setup {
    fn guests(&self, provider: &SdkTracerProvider, n: usize) -> Vec<Guest> {
        (0..n)
            .map(|_| Guest::new(&self.linker, &self.bench, provider, self.parent.clone()))
            .collect()
    }
}

fn pipeline(c: &mut Criterion, setup: &Setup, telemetry: &Telemetry, receiver: &OtlpReceiver) {
    let provider = telemetry.provider();
    let delivery = telemetry.delivery_handle();
    let mut rates = Vec::new();
    let mut group = c.benchmark_group("pipeline");
    for threads in THREADS {
        group.throughput(Throughput::Elements(K * threads as u64));

        let mut guests = setup.guests(provider, threads);
        let tally = Mutex::new(Tally::default());
        let window = Window::start(&delivery);
        group.bench_function(format!("guest/{threads}"), |b| {
            b.iter_custom(|iters| {
                let wall = run_guests(&mut guests, iters, &tally);
                // Bounds the receiver's memory; counts come from DeliveryStats.
                receiver.clear();
                wall
            })
        });
        let guest = report(
            &format!("pipeline/guest/{threads}"),
            window,
            provider,
            &delivery,
            tally.into_inner().unwrap(),
        );
        drop(guests);
        receiver.clear();

        let mut tracers: Vec<SdkTracer> = (0..threads).map(|_| provider.tracer("native")).collect();
        let tally = Mutex::new(Tally::default());
        let window = Window::start(&delivery);
        group.bench_function(format!("native/{threads}"), |b| {
            b.iter_custom(|iters| {
                let wall = run_native(&mut tracers, &setup.parent, iters, &tally);
                receiver.clear();
                wall
            })
        });
        let native = report(
            &format!("pipeline/native/{threads}"),
            window,
            provider,
            &delivery,
            tally.into_inner().unwrap(),
        );
        receiver.clear();
        rates.push((threads, guest, native));
    }
    group.finish();
    for (threads, guest, native) in rates {
        let (Some(guest), Some(native)) = (guest, native) else {
            continue;
        };
        println!(
            "pipeline ratio, {threads} threads: guest {guest:.0} / native {native:.0} spans/s = {:.3} (native is {:.1}x)",
            guest / native,
            native / guest
        );
    }
}

/// Two threads flat out for `secs` on a fresh pipeline, then shutdown
/// (which flushes): spans produced against spans the receiver holds.
fn saturated(setup: &Setup, native: bool, secs: f64) {
    let receiver = OtlpReceiver::start().expect("starting the OTLP receiver");
    let telemetry = sys::otlp_grpc(&receiver.grpc_endpoint());
    let delivery = telemetry.delivery_handle();
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let produced = Mutex::new(0u64);
    let label = if native { "native" } else { "guest" };
    let wall = if native {
        let mut tracers: Vec<SdkTracer> = (0..2)
            .map(|_| telemetry.provider().tracer("native"))
            .collect();
        on_threads(&mut tracers, |tracer| {
            let mut n = 0;
            while Instant::now() < deadline {
                for _ in 0..K {
                    common::native_span(tracer, &setup.parent);
                }
                n += K;
            }
            *produced.lock().unwrap() += n;
        })
    } else {
        let mut guests = setup.guests(telemetry.provider(), 2);
        on_threads(&mut guests, |guest| {
            let mut n = 0;
            while Instant::now() < deadline {
                guest.run("span", K);
                n += K;
            }
            *produced.lock().unwrap() += n;
        })
    };
    let produced = produced.into_inner().unwrap();
    let shutdown = Instant::now();
    let result = telemetry.shutdown(Duration::from_secs(30));
    let shutdown = shutdown.elapsed();
    let received = receiver.spans().len() as u64;
    println!(
        "saturated/{label}/2: produced {produced} spans in {:.2} s ({:.0} spans/s); ended {}, delivered {} ({:.1}%), failed {}; receiver got {received} ({:.1}% of produced) after shutdown flush ({:.2} s, {})",
        wall.as_secs_f64(),
        produced as f64 / wall.as_secs_f64(),
        delivery.ended(),
        delivery.delivered(),
        delivery.delivered() as f64 * 100.0 / produced.max(1) as f64,
        delivery.failed(),
        received as f64 * 100.0 / produced.max(1) as f64,
        shutdown.as_secs_f64(),
        if result.is_ok() {
            "ok".to_string()
        } else {
            format!("{result:?}")
        },
    );
}

/// One guest producing at `rate` spans/s for `secs` (a call of K spans
/// every K/rate seconds); returns the rate achieved and the spans dropped
/// (ended − delivered − failed after a flush).
fn paced(
    guest: &mut Guest,
    provider: &SdkTracerProvider,
    delivery: &DeliveryStats,
    rate: f64,
    secs: f64,
) -> (f64, u64, u64) {
    let _ = provider.force_flush();
    let (ended0, delivered0, failed0) = (delivery.ended(), delivery.delivered(), delivery.failed());
    let (cpu0, wait0) = sys::thread_sched(sys::EXPORT_THREADS);
    let load = sys::load_average();
    let calls = (rate * secs / K as f64).ceil() as u64;
    let interval = Duration::from_secs_f64(K as f64 / rate);
    let start = Instant::now();
    for i in 0..calls {
        let due = start + interval * i as u32;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        guest.run("span", K);
    }
    let achieved = (calls * K) as f64 / start.elapsed().as_secs_f64();
    let _ = provider.force_flush();
    let ended = delivery.ended() - ended0;
    let delivered = delivery.delivered() - delivered0;
    let failed = delivery.failed() - failed0;
    let (cpu, wait) = sys::thread_sched(sys::EXPORT_THREADS);
    println!(
        "  export threads: {:.0} ms CPU, {:.0} ms waiting for a CPU (run queue); load average {load:.2}",
        (cpu - cpu0).as_secs_f64() * 1e3,
        (wait - wait0).as_secs_f64() * 1e3,
    );
    (achieved, ended, ended.saturating_sub(delivered + failed))
}

/// Raises the rate until spans are dropped, bisects twice between the last
/// clean rate and the first dropping one, then holds the clean rate for
/// longer (stepping down by a fifth while that drops).
fn sustainable(setup: &Setup) {
    const SECS: f64 = 3.0;
    const CONFIRM_SECS: f64 = 10.0;
    let receiver = OtlpReceiver::start().expect("starting the OTLP receiver");
    with_clearing(&receiver, || {
        let telemetry = sys::otlp_grpc(&receiver.grpc_endpoint());
        let provider = telemetry.provider();
        let delivery = telemetry.delivery_handle();
        let mut guest = setup.guests(provider, 1).pop().unwrap();
        println!("sustainable: {}", sys::batch_config_line());
        let step = |guest: &mut Guest, rate: f64, secs: f64| {
            let (achieved, ended, dropped) = paced(guest, provider, &delivery, rate, secs);
            receiver.clear();
            println!(
                "sustainable/guest/1: target {rate:.0} spans/s for {secs} s, achieved {achieved:.0}, {ended} spans, dropped {dropped} ({:.2}%)",
                dropped as f64 * 100.0 / ended.max(1) as f64
            );
            (achieved, dropped)
        };
        let mut clean = 0.0;
        let mut dropping = None;
        for rate in [
            10e3, 20e3, 30e3, 40e3, 50e3, 75e3, 100e3, 150e3, 200e3, 300e3, 400e3,
        ] {
            let (achieved, dropped) = step(&mut guest, rate, SECS);
            if dropped > 0 {
                dropping = Some(rate);
                break;
            }
            clean = rate;
            if achieved < rate * 0.9 {
                println!(
                    "sustainable/guest/1: one producer cannot go faster; no drops up to {achieved:.0} spans/s"
                );
                break;
            }
        }
        if let Some(mut high) = dropping {
            for _ in 0..2 {
                let mid = (clean + high) / 2.0;
                if step(&mut guest, mid, SECS).1 == 0 {
                    clean = mid;
                } else {
                    high = mid;
                }
            }
            println!(
                "sustainable/guest/1: zero drops at {clean:.0} spans/s, drops at {high:.0} spans/s ({SECS} s per step)"
            );
        }
        let mut held = false;
        for _ in 0..3 {
            if clean < 1.0 {
                break;
            }
            if step(&mut guest, clean, CONFIRM_SECS).1 == 0 {
                held = true;
                break;
            }
            clean *= 0.8;
        }
        if held {
            println!(
                "sustainable/guest/1: result: {clean:.0} spans/s held for {CONFIRM_SECS} s without a drop ({})",
                sys::batch_config_line()
            );
        } else {
            println!(
                "sustainable/guest/1: result: no rate held for {CONFIRM_SECS} s without a drop"
            );
        }
        // What one batch costs end to end: 511 spans queued (one short of the
        // size that wakes the worker), then a flush: the worker exports them in
        // one request and waits for the answer.
        let mut flushes: Vec<Duration> = (0..20)
            .map(|_| {
                guest.run("span", 511);
                let start = Instant::now();
                let _ = provider.force_flush();
                start.elapsed()
            })
            .collect();
        receiver.clear();
        flushes.sort_unstable();
        println!(
            "sustainable: export round trip of one 511-span batch (force_flush, 20 times): min {:.2} ms, median {:.2} ms, max {:.2} ms",
            sys::quantile(&flushes, 0.0).as_secs_f64() * 1e3,
            sys::quantile(&flushes, 0.5).as_secs_f64() * 1e3,
            sys::quantile(&flushes, 1.0).as_secs_f64() * 1e3,
        );
        drop(guest);
        let _ = telemetry.shutdown(Duration::from_secs(10));
    });
}

fn main() {
    sys::quiet_metrics();
    println!("{}", sys::machine_line());
    println!("{}", sys::batch_config_line());
    let engine: Engine = common::engine(common::Allocation::OnDemand);
    let setup = Setup {
        linker: common::linker(&engine),
        bench: common::component(&engine, wasmtrace_test_artifacts::BENCH),
        parent: common::remote_parent(true),
    };

    let mut c = common::criterion();
    {
        let receiver = OtlpReceiver::start().expect("starting the OTLP receiver");
        let telemetry = sys::otlp_grpc(&receiver.grpc_endpoint());
        with_clearing(&receiver, || {
            pipeline(&mut c, &setup, &telemetry, &receiver)
        });
        let delivery = telemetry.delivery_handle();
        let _ = telemetry.shutdown(Duration::from_secs(30));
        println!(
            "pipeline total after shutdown flush: ended {}, delivered {} ({:.1}%), failed {}",
            delivery.ended(),
            delivery.delivered(),
            delivery.delivered() as f64 * 100.0 / delivery.ended().max(1) as f64,
            delivery.failed()
        );
    }
    c.final_summary();

    if common::run_paired() {
        saturated(&setup, false, 2.0);
        saturated(&setup, true, 2.0);
        sustainable(&setup);
    }
}
