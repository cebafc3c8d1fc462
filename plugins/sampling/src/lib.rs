//! The sampling plugin: the guide's "Sampling" pattern, done the
//! OpenTelemetry way. The plugin does not roll its own dice: the host's
//! sampler decides (`OTEL_TRACES_SAMPLER`, and the caller's `traceparent`
//! with the parent-based samplers), and the plugin asks its span
//! `is_recording()` before doing work that only feeds the trace.
//!
//! It summarises a text (word counts, always computed, since they are the
//! response) and, only when the span records, builds an expensive
//! `report.details` attribute (the full word-frequency table).
//!
//! Trace shape (under the host's invocation span) when sampled:
//!
//! ```text
//! handle_request      sampled=true, report.words, report.unique_words,
//!                     report.details (only when recording)
//!   • report.details_computed   details.bytes, compute_us (only when recording)
//! ```
//!
//! When the trace is not sampled (for example `OTEL_TRACES_SAMPLER=always_off`,
//! or `parentbased_traceidratio` with a `--traceparent` whose flags are `00`),
//! nothing is exported and the output says the details were skipped.
//!
//! The input is the text (default: a pangram).

use std::collections::BTreeMap;
use std::time::Instant;

use wasmtrace_sdk::{Span, attrs};

/// The text summarised when the input is empty.
const DEFAULT_TEXT: &str = "the quick brown fox jumps over the lazy dog and the dog sleeps";

fn handle(input: String) -> Result<String, String> {
    let text = if input.trim().is_empty() {
        DEFAULT_TEXT.to_owned()
    } else {
        input
    };

    let span = Span::builder("handle_request").start();
    let recording = span.is_recording();

    // The work itself: always done.
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for word in text.split_whitespace() {
        let word: String = word
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        if !word.is_empty() {
            *counts.entry(word).or_default() += 1;
        }
    }
    let words: i64 = counts.values().sum();
    let unique = i64::try_from(counts.len()).unwrap_or(i64::MAX);

    // Cheap attributes are set either way (a span that does not record
    // drops them).
    span.set_attributes(attrs! {
        "sampled" => recording,
        "report.words" => words,
        "report.unique_words" => unique,
    });

    let details = if recording {
        // Trace-only work: skipped entirely when nobody will see it.
        let started = Instant::now();
        let details = frequency_table(&counts);
        span.set_attribute("report.details", details.as_str());
        span.add_event(
            "report.details_computed",
            attrs! {
                "details.bytes" => i64::try_from(details.len()).unwrap_or(i64::MAX),
                "compute_us" => i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX),
            },
        );
        format!("sampled: yes, details attached ({} bytes)", details.len())
    } else {
        "sampled: no, skipped the expensive report details".to_owned()
    };

    Ok(format!("report: {words} words, {unique} unique; {details}"))
}

/// Every word with its count, most frequent first: `the=3 dog=2 and=1 ...`.
fn frequency_table(counts: &BTreeMap<String, i64>) -> String {
    let mut entries: Vec<(&String, &i64)> = counts.iter().collect();
    entries.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    entries
        .iter()
        .map(|(word, n)| format!("{word}={n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

wasmtrace_sdk::plugin!(handle);
