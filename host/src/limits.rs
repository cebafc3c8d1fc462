//! Where limits are enforced: how much one plugin invocation may record.
//!
//! A plugin is untrusted (DESIGN.md §7). What it records beyond these limits
//! is dropped and counted, never an error and never a trap: attributes,
//! events and links per span by the OTel SDK (which reports OTLP's
//! `dropped_*_count`), spans and context handles by the host (which counts
//! them per plugin in [`TracingStats`]).

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

/// Limits on what one invocation of a plugin may record. Defaults follow
/// OTel's span limits where OTel has one (128 attributes, events and links
/// per span); the rest bound memory against a hostile guest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Spans started and not yet ended, at once.
    pub max_open_spans: u32,
    /// Spans started in one invocation.
    pub max_spans: u32,
    /// Nesting depth of guest spans and attached contexts.
    pub max_depth: u32,
    /// Attributes per span (OTel `AttributeCountLimit`).
    pub max_attributes_per_span: u32,
    /// Events per span (OTel `EventCountLimit`).
    pub max_events_per_span: u32,
    /// Links per span (OTel `LinkCountLimit`).
    pub max_links_per_span: u32,
    /// Attributes per event (OTel `AttributePerEventCountLimit`).
    pub max_attributes_per_event: u32,
    /// Bytes of a string attribute value (OTel `AttributeValueLengthLimit`;
    /// longer values are truncated at a character boundary).
    pub max_attribute_value_length: u32,
    /// Bytes of a span or event name, or an attribute key (truncated).
    pub max_name_length: u32,
    /// Context handles alive at once.
    pub max_contexts: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_open_spans: 1_000,
            max_spans: 10_000,
            max_depth: 128,
            max_attributes_per_span: 128,
            max_events_per_span: 128,
            max_links_per_span: 128,
            max_attributes_per_event: 128,
            max_attribute_value_length: 4_096,
            max_name_length: 256,
            max_contexts: 1_000,
        }
    }
}

impl Limits {
    /// Reads limits from a JSON file; missing fields keep their defaults,
    /// unknown ones are an error (a typo should not silently do nothing).
    pub fn from_json_file(path: &std::path::Path) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read limits file {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("invalid limits file {}", path.display()))
    }

    /// The SDK span limits matching these limits, for the tracer provider.
    pub fn sdk_span_limits(&self) -> opentelemetry_sdk::trace::SpanLimits {
        opentelemetry_sdk::trace::SpanLimits {
            max_attributes_per_span: self.max_attributes_per_span,
            max_events_per_span: self.max_events_per_span,
            max_links_per_span: self.max_links_per_span,
            max_attributes_per_event: self.max_attributes_per_event,
            max_attributes_per_link: self.max_attributes_per_event,
        }
    }
}

/// Truncates `s` to at most `max` bytes, at a character boundary.
pub(crate) fn truncate(mut s: String, max: u32) -> String {
    let max = max as usize;
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// Per-plugin counters of what its guests recorded and what the limits
/// dropped. Shared by every instance of the plugin.
#[derive(Debug, Default)]
pub struct TracingStats {
    spans_started: AtomicU64,
    spans_ended: AtomicU64,
    spans_dropped: AtomicU64,
    contexts_dropped: AtomicU64,
    tracing_nanos: AtomicU64,
}

impl TracingStats {
    /// Guest spans started in the host (recorded or not). Spans the SDK
    /// skipped in an unsampled trace never reach the host and do not count.
    pub fn spans_started(&self) -> u64 {
        self.spans_started.load(Ordering::Relaxed)
    }

    /// Spans ended (by the guest, or by the host after a crash).
    pub fn spans_ended(&self) -> u64 {
        self.spans_ended.load(Ordering::Relaxed)
    }

    /// Time spent inside the tracing host calls (the guide's "monitor
    /// overhead"): what tracing costs this plugin, boundary excluded.
    pub fn tracing_time(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.tracing_nanos.load(Ordering::Relaxed))
    }

    /// Guest spans dropped because a limit was reached.
    pub fn spans_dropped(&self) -> u64 {
        self.spans_dropped.load(Ordering::Relaxed)
    }

    /// Context handles or attachments refused because a limit was reached.
    pub fn contexts_dropped(&self) -> u64 {
        self.contexts_dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn span_started(&self) {
        self.spans_started.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn span_ended(&self) {
        self.spans_ended.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn spans_ended_n(&self, n: u64) {
        self.spans_ended.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds the time since `start` to the time spent in tracing calls.
    pub(crate) fn add_time_since(&self, start: CallStart) {
        let clock = call_clock();
        let nanos = clock.delta_as_nanos(start.0, clock.raw());
        self.tracing_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub(crate) fn span_dropped(&self) {
        self.spans_dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn context_dropped(&self) {
        self.contexts_dropped.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_at_char_boundaries() {
        assert_eq!(truncate("héllo".into(), 2), "h");
        assert_eq!(truncate("héllo".into(), 3), "hé");
        assert_eq!(truncate("abc".into(), 10), "abc");
    }

    #[test]
    fn json_limits_keep_defaults_and_reject_typos() {
        let dir = std::env::temp_dir().join(format!("wasmtrace-limits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.json");
        std::fs::write(&good, r#"{"max_spans": 5}"#).unwrap();
        let limits = Limits::from_json_file(&good).unwrap();
        assert_eq!(limits.max_spans, 5);
        assert_eq!(limits.max_open_spans, Limits::default().max_open_spans);
        let bad = dir.join("bad.json");
        std::fs::write(&bad, r#"{"max_spanz": 5}"#).unwrap();
        let err = format!("{:#}", Limits::from_json_file(&bad).unwrap_err());
        assert!(err.contains("max_spanz"), "{err}");
    }
}

/// When a tracing call began, for [`TracingStats::add_time_since`].
#[derive(Clone, Copy)]
pub(crate) struct CallStart(u64);

impl CallStart {
    pub(crate) fn now() -> Self {
        Self(call_clock().raw())
    }
}

/// The clock of the tracing-time metric, read twice per tracing call: the
/// CPU's time-stamp counter where it is reliable (a few ns, against ~20 ns
/// for `Instant::now` in a VM), the OS monotonic clock otherwise. Raw
/// readings are scaled to nanoseconds only for the difference.
fn call_clock() -> &'static quanta::Clock {
    static CLOCK: std::sync::OnceLock<quanta::Clock> = std::sync::OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}
