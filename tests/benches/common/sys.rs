//! What the `pipeline` and `memory` benches read from the system and the
//! pipeline: resident memory, CPU time of named threads, latency
//! percentiles, an OTLP/gRPC `Telemetry` pointed at an endpoint.

use std::time::Duration;
use wasmtrace::telemetry::{Telemetry, TracesExporter};

/// Resident set size of this process in bytes (`VmRSS` of
/// `/proc/self/status`).
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}

/// Bytes as MiB, for printing.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// CPU time (user + system) of this process's threads whose name
/// (`/proc/self/task/*/comm`, at most 15 bytes) starts with one of
/// `prefixes`, read from `schedstat` (nanoseconds). Threads that have
/// exited are not counted; the pipeline's threads live as long as its
/// `Telemetry`.
pub fn thread_cpu(prefixes: &[&str]) -> Duration {
    thread_sched(prefixes).0
}

/// CPU time and run-queue wait (time runnable but not running) of the
/// threads [`thread_cpu`] selects, from `schedstat`.
pub fn thread_sched(prefixes: &[&str]) -> (Duration, Duration) {
    let (mut cpu, mut wait) = (0u64, 0u64);
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (Duration::ZERO, Duration::ZERO);
    };
    for task in tasks.flatten() {
        let path = task.path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        let comm = comm.trim_end();
        if !prefixes.iter().any(|p| comm.starts_with(p)) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(path.join("schedstat")) else {
            continue;
        };
        let mut fields = stat
            .split_whitespace()
            .map(|f| f.parse::<u64>().unwrap_or(0));
        cpu += fields.next().unwrap_or(0);
        wait += fields.next().unwrap_or(0);
    }
    (Duration::from_nanos(cpu), Duration::from_nanos(wait))
}

/// The 1-minute load average (`/proc/loadavg`).
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Name prefixes of the export path's threads: the SDK's batch processor
/// (`OpenTelemetry.Traces.BatchProcessor`, cut to 15 bytes by the kernel)
/// and the Tokio runtime `Telemetry` starts for tonic (`wasmtrace-otlp`).
pub const EXPORT_THREADS: &[&str] = &["OpenTelemetry.T", "wasmtrace-otlp"];

/// Name of the in-process receiver's thread (`OtlpReceiver`).
pub const RECEIVER_THREADS: &[&str] = &["otlp-receiver"];

/// `q`-quantile (0..=1) of sorted durations; zero when empty.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// This process's peak resident set size (`VmHWM`), in bytes.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// Telemetry exporting over OTLP/gRPC to `endpoint` with the batch
/// processor's defaults (`OTEL_BSP_*`, else queue 2048, batches of 512,
/// 5 s delay), as `wasmtrace run` sets it up. Metrics export is turned off
/// by the benches (`OTEL_METRICS_EXPORTER=none`, see [`quiet_metrics`]).
pub fn otlp_grpc(endpoint: &str) -> Telemetry {
    Telemetry::builder("wasmtrace-bench", env!("CARGO_PKG_VERSION"))
        .with_exporter(TracesExporter::Otlp(opentelemetry_otlp::Protocol::Grpc))
        .with_endpoint(endpoint)
        .build()
        .expect("building the OTLP telemetry")
}

/// Turns off the runtime's own metrics export, so that only spans travel
/// to the receiver. Call first thing in `main`, before any thread starts.
pub fn quiet_metrics() {
    // SAFETY: called at the start of `main`, before any other thread
    // exists that could read the environment.
    unsafe { std::env::set_var("OTEL_METRICS_EXPORTER", "none") };
}

/// The export queue's configuration as wasmtrace reads it from the
/// environment (its defaults when no `OTEL_BSP_*` is set), for printing.
pub fn batch_config_line() -> String {
    let config = wasmtrace::telemetry::QueueConfig::from_env().unwrap_or_default();
    format!(
        "export queue: {} plugin spans + {} host spans, {:.0} MiB, batches of {}, delay {} ms (OTEL_BSP_* or the defaults)",
        config.max_queue_size,
        config.host_reserve,
        mib(config.max_queue_bytes),
        config.max_export_batch_size,
        config.scheduled_delay.as_millis(),
    )
}

/// The machine, for the report: `nproc` and the CPU model.
pub fn machine_line() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, m)| m.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "machine: {cpus} CPUs, {model}, load average {}",
        load.join(" ")
    )
}
