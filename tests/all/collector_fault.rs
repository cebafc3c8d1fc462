//! A collector that goes down mid-run and comes back: guests keep their
//! latency, what was queued arrives after the restart (up to the queue
//! bound), and the rest is counted as undelivered.

use opentelemetry::Context;
use opentelemetry_otlp::Protocol;
use std::time::{Duration, Instant};
use wasmtrace::telemetry::{QueueConfig, Telemetry, TracesExporter};
use wasmtrace::{Runtime, RuntimeConfig};
use wasmtrace_test_artifacts::QUICKSTART;
use wasmtrace_test_support::OtlpReceiver;

const QUEUE: usize = 512;
/// Host spans (the invocation spans) have room of their own.
const HOST_RESERVE: usize = QUEUE / 4;
const BATCH: usize = 64;
const SPANS_PER_CALL: usize = 5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
fn collector_restart_keeps_guest_latency_and_delivers_the_queue() {
    let rx = OtlpReceiver::start().unwrap();
    let (grpc_addr, http_addr) = (rx.grpc_addr(), rx.http_addr());
    let telemetry = Telemetry::builder("fault-test", "0")
        .with_exporter(TracesExporter::Otlp(Protocol::HttpBinary))
        .with_endpoint(rx.http_traces_url())
        .with_queue_config(QueueConfig {
            max_queue_size: QUEUE,
            host_reserve: HOST_RESERVE,
            max_export_batch_size: BATCH,
            scheduled_delay: Duration::from_millis(20),
            ..QueueConfig::default()
        })
        .build()
        .unwrap();
    let delivery = telemetry.delivery_handle();
    let config = RuntimeConfig {
        delivery: Some(delivery.clone()),
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(telemetry.provider(), config).unwrap();
    let plugin = runtime.load_file(QUICKSTART.as_ref()).unwrap();
    let call = |n: usize| -> Vec<Duration> {
        (0..n)
            .map(|_| {
                let start = Instant::now();
                runtime.invoke(&plugin, "a b c", &Context::new()).unwrap();
                start.elapsed()
            })
            .collect()
    };

    // Up: everything arrives.
    let up = call(40);
    rx.wait_for_span_count(40 * SPANS_PER_CALL, Duration::from_secs(10))
        .unwrap();
    // The exporter counts a batch once its response is back, a moment after
    // the receiver stored it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while delivery.delivered() < (40 * SPANS_PER_CALL) as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(delivery.delivered(), (40 * SPANS_PER_CALL) as u64);

    // Down: far more spans than the queue holds.
    drop(rx);
    let down_calls = 400;
    let down = call(down_calls);
    std::thread::sleep(Duration::from_millis(300));

    // Back: the exporter's retries and the queue deliver what was kept.
    let rx = OtlpReceiver::start_on(grpc_addr, http_addr).unwrap();
    telemetry.shutdown(Duration::from_secs(20)).unwrap();
    let arrived = rx.spans().len();

    let produced = down_calls * SPANS_PER_CALL;
    assert_eq!(delivery.ended(), (40 * SPANS_PER_CALL + produced) as u64);
    assert!(
        arrived > 0,
        "nothing queued while down arrived after the restart"
    );
    assert!(
        arrived <= QUEUE + HOST_RESERVE + BATCH,
        "{arrived} arrived, more than the queue could hold"
    );
    assert_eq!(delivery.delivered(), (40 * SPANS_PER_CALL + arrived) as u64);
    assert_eq!(
        delivery.undelivered(),
        (produced - arrived) as u64,
        "the rest is counted"
    );
    // ... and charged to the plugin whose spans they were (its invocation
    // spans are the host's, counted under its name too).
    assert_eq!(
        plugin.stats().spans_lost(),
        (produced - arrived) as u64,
        "per plugin"
    );
    // Guests did not wait for the collector: the median call while it was
    // down is within a small factor of the median call while it was up
    // (generous bounds: this is a property, not a benchmark).
    let (up, down) = (median(up), median(down));
    assert!(
        down < up * 4 + Duration::from_millis(2),
        "median call {up:?} up, {down:?} down"
    );
}
