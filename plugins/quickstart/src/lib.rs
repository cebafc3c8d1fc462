//! The quickstart plugin: counts the words of its input, tracing each step,
//! logging what it found and counting the words it saw.
//!
//! Trace shape (under the host's invocation span):
//!
//! ```text
//! handle_request            request.size, request.defaulted, request.source
//! ├── validate_request      (input `fail`: status Error + `exception` event,
//! │                          and a WARN log record)
//! ├── process_business_logic
//! │     attributes added mid-span: items_processed, processing_status,
//! │     processing.avg_word_length, processing.top_words, processing.word_lengths
//! │     event `data_fetched` { record_count }
//! │     INFO log record `counted the words` { words, unique }
//! └── send_response         response.size
//! ```
//!
//! Metrics: `quickstart.words` (counter, `{word}`), and
//! `quickstart.request.size` (histogram, `By`).
//!
//! Input `fail` makes validation fail: the handler returns
//! `Err("validation failed: ...")` and the CLI exits non-zero. Empty input is
//! treated as `hello world`.

use std::collections::BTreeMap;
use std::fmt;

use wasmtrace_sdk::log;
use wasmtrace_sdk::metrics;
use wasmtrace_sdk::{
    Span, SpanKind, add_attributes, attrs, record_event, try_with_span, with_span,
};

/// The input used when the plugin is invoked with an empty one.
const DEFAULT_INPUT: &str = "hello world";

/// Why a request was rejected.
#[derive(Debug)]
struct ValidationError(String);

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValidationError {}

/// What `process_business_logic` computes.
struct WordStats {
    words: usize,
    unique: usize,
    top: Vec<(String, usize)>,
}

fn handle(input: String) -> Result<String, String> {
    let defaulted = input.trim().is_empty();
    let input = if defaulted {
        DEFAULT_INPUT.to_owned()
    } else {
        input
    };

    let request = Span::builder("handle_request")
        .kind(SpanKind::Internal)
        .attributes(attrs! {
            "request.size" => input.len(),
            "request.defaulted" => defaulted,
            "request.source" => "stdin",
        })
        .start();

    metrics::u64_histogram("quickstart.request.size")
        .with_unit("By")
        .with_description("Size of the quickstart plugin's input")
        .with_boundaries([16.0, 64.0, 256.0, 1024.0])
        .build()
        .record(input.len() as u64, attrs! {});

    let result = serve(&input, &request);
    if let Err(message) = &result {
        // The failing step recorded the exception; mark the request failed too.
        request.set_error(message);
    }
    result
}

/// The steps of a request, each in its own child span of `handle_request`.
fn serve(input: &str, request: &Span) -> Result<String, String> {
    try_with_span(
        "validate_request",
        attrs! { "validation.rules" => ["non_empty", "not_fail"] },
        || validate(input),
    )
    .map_err(|e| format!("validation failed: {e}"))?;

    let stats = with_span("process_business_logic", attrs! {}, || process(input));

    let response = format!(
        "{} words, {} unique; most frequent: {}",
        stats.words,
        stats.unique,
        stats
            .top
            .iter()
            .map(|(word, n)| format!("{word} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let send = wasmtrace_sdk::span::start(
        "send_response",
        attrs! { "response.size" => response.len() },
    );
    send.end();

    request.set_attribute("response.words", stats.words);
    Ok(response)
}

fn validate(input: &str) -> Result<(), ValidationError> {
    if input.trim() == "fail" {
        log::warn!(rule = "not_fail"; "rejecting the input");
        return Err(ValidationError(
            "input `fail` is rejected by the quickstart plugin".to_owned(),
        ));
    }
    Ok(())
}

fn process(input: &str) -> WordStats {
    let words: Vec<&str> = input.split_whitespace().collect();
    record_event("data_fetched", attrs! { "record_count" => words.len() });

    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for word in &words {
        *counts.entry(word.to_lowercase()).or_default() += 1;
    }
    let mut top: Vec<(String, usize)> = counts.iter().map(|(w, n)| (w.clone(), *n)).collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    top.truncate(3);

    let total_len: usize = words.iter().map(|w| w.chars().count()).sum();
    let avg_word_length = if words.is_empty() {
        0.0
    } else {
        total_len as f64 / words.len() as f64
    };

    log::info!(words = words.len(), unique = counts.len(); "counted the words");
    metrics::u64_counter("quickstart.words")
        .with_unit("{word}")
        .with_description("Words the quickstart plugin counted")
        .build()
        .add(
            words.len() as u64,
            attrs! { "processing_status" => "completed" },
        );

    add_attributes(attrs! {
        "items_processed" => words.len(),
        "processing_status" => "completed",
        "processing.avg_word_length" => avg_word_length,
        "processing.top_words" => top.iter().map(|(w, _)| w.clone()).collect::<Vec<_>>(),
        "processing.word_lengths" => words.iter().map(|w| w.chars().count()).collect::<Vec<_>>(),
    });

    WordStats {
        words: words.len(),
        unique: counts.len(),
        top,
    }
}

wasmtrace_sdk::plugin!(handle);
