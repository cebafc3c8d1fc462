//! The long-operation plugin: the guide's "Recording Events" pattern. One
//! span covers a long job; events mark its checkpoints, each with a timestamp
//! and typed attributes.
//!
//! The job fetches a batch of simulated sensor readings (a deterministic
//! pseudo-random series) and summarises them (mean, standard deviation,
//! minimum, maximum, 95th percentile).
//!
//! Trace shape (under the host's invocation span):
//!
//! ```text
//! long_operation                    records.requested, records.source
//!   • started_processing            records.requested
//!   • data_fetched                  record_count, fetch_ms
//!   • processing_complete           duration_ms (float, wall time since
//!                                   started_processing), result.mean, result.p95
//!   attributes set at the end: result.mean, result.stddev, result.min,
//!   result.max, result.p95
//! ```
//!
//! The input is the number of readings (default 20000, at most 1000000).
//! Anything else is an error: `long_operation` gets status Error and an
//! `exception` event, and the CLI exits non-zero.

use std::fmt;
use std::time::Instant;

use wasmtrace_sdk::{Span, attrs};

/// The number of readings processed when the input is empty.
const DEFAULT_RECORDS: usize = 20_000;

/// The largest number of readings accepted.
const MAX_RECORDS: usize = 1_000_000;

/// An input that is not a record count.
#[derive(Debug)]
struct BadRecordCount(String);

impl fmt::Display for BadRecordCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a record count from 1 to {MAX_RECORDS}",
            self.0
        )
    }
}

impl std::error::Error for BadRecordCount {}

/// What the processing step computes.
struct Summary {
    mean: f64,
    stddev: f64,
    min: f64,
    max: f64,
    p95: f64,
}

fn handle(input: String) -> Result<String, String> {
    let input = input.trim();
    let span = Span::builder("long_operation")
        .attributes(attrs! { "records.source" => "simulated_sensor_feed" })
        .start();

    let requested = match parse_count(input) {
        Ok(n) => n,
        Err(err) => {
            span.record_error(&err);
            span.set_error(&err);
            return Err(err.to_string());
        }
    };
    span.set_attribute("records.requested", requested);

    let started = Instant::now();
    span.add_event(
        "started_processing",
        attrs! { "records.requested" => requested },
    );

    let data = fetch_data(requested);
    span.add_event(
        "data_fetched",
        attrs! {
            "record_count" => data.len(),
            "fetch_ms" => round3(started.elapsed().as_secs_f64() * 1e3),
        },
    );

    let summary = process_data(data);
    let duration_ms = round3(started.elapsed().as_secs_f64() * 1e3);
    span.add_event(
        "processing_complete",
        attrs! {
            "duration_ms" => duration_ms,
            "result.mean" => summary.mean,
            "result.p95" => summary.p95,
        },
    );
    span.set_attributes(attrs! {
        "result.mean" => summary.mean,
        "result.stddev" => summary.stddev,
        "result.min" => summary.min,
        "result.max" => summary.max,
        "result.p95" => summary.p95,
    });

    Ok(format!(
        "{requested} readings in {duration_ms:.2} ms: mean {:.2}, stddev {:.2}, min {:.2}, max {:.2}, p95 {:.2}",
        summary.mean, summary.stddev, summary.min, summary.max, summary.p95
    ))
}

fn parse_count(input: &str) -> Result<usize, BadRecordCount> {
    if input.is_empty() {
        return Ok(DEFAULT_RECORDS);
    }
    input
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_RECORDS).contains(n))
        .ok_or_else(|| BadRecordCount(input.to_owned()))
}

/// Simulated sensor readings in `[0, 100)`: a deterministic xorshift series
/// bent towards the middle (the sum of two uniform draws), so the summary is
/// the same on every run.
fn fetch_data(n: usize) -> Vec<f64> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        // The top 53 bits as a float in [0, 1).
        (state >> 11) as f64 / (1_u64 << 53) as f64
    };
    (0..n).map(|_| (next() + next()) * 50.0).collect()
}

fn process_data(mut data: Vec<f64>) -> Summary {
    let n = data.len() as f64;
    let mean = data.iter().sum::<f64>() / n;
    let variance = data.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    data.sort_by(f64::total_cmp);
    let p95_index = ((data.len() as f64 * 0.95).ceil() as usize).clamp(1, data.len()) - 1;
    Summary {
        mean: round3(mean),
        stddev: round3(variance.sqrt()),
        min: round3(data[0]),
        max: round3(data[data.len() - 1]),
        p95: round3(data[p95_index]),
    }
}

/// Rounds to three decimals (microseconds, for milliseconds), so that the
/// trace shows readable numbers.
fn round3(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

wasmtrace_sdk::plugin!(handle);
