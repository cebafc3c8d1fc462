//! The limits: how much one plugin invocation, and the call tree it starts,
//! may record and use. Definitions only; they are enforced by the span
//! table (`guest/table.rs`) and the invocation budgets (`budget.rs`).
//!
//! A plugin is untrusted (docs/DESIGN.md §7). What it records beyond these
//! limits is dropped and counted ([`crate::TracingStats`]), never an error
//! and never a trap.

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

/// Limits on what one invocation of a plugin may record. Defaults follow
/// OpenTelemetry's span limits where it has one (128 attributes, events
/// and links per span); the rest bound the host memory a hostile guest can
/// make it hold (see [`Limits::worst_case_bytes`]).
///
/// `max_spans`, `max_log_records`, `max_recorded_bytes` and
/// `max_plugin_calls` are budgets of the whole call tree: a plugin called by another runs on what its caller
/// has left, as do fuel and the deadline ([`crate::RuntimeConfig`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Spans started in one call tree (host spans for the plugin's cache
    /// and HTTP calls and its callees' invocations included).
    pub max_spans: u32,
    /// Bytes of names, keys, values, array elements, events, links and
    /// messages one call tree may record.
    pub max_recorded_bytes: u64,
    /// Plugin calls one call tree may make.
    pub max_plugin_calls: u32,
    /// Spans open at once, per instance.
    pub max_open_spans: u32,
    /// Nesting depth of spans and attached contexts, counted through
    /// explicit parents and across plugin calls.
    pub max_depth: u32,
    /// Attributes per span (OTel `AttributeCountLimit`).
    pub max_attributes_per_span: u32,
    /// Events per span (OTel `EventCountLimit`).
    pub max_events_per_span: u32,
    /// Links per span (OTel `LinkCountLimit`).
    pub max_links_per_span: u32,
    /// Attributes per event (OTel `AttributePerEventCountLimit`).
    pub max_attributes_per_event: u32,
    /// Attributes per link (OTel `AttributePerLinkCountLimit`).
    pub max_attributes_per_link: u32,
    /// Bytes of a string value (OTel `AttributeValueLengthLimit`), of each
    /// string of an array, and of a status or exception message; longer
    /// ones are truncated at a character boundary.
    pub max_attribute_value_length: u32,
    /// Elements of an array value; the rest are dropped.
    pub max_array_length: u32,
    /// Bytes of a span or event name, or an attribute key (truncated).
    pub max_name_length: u32,
    /// Context handles alive at once, per instance (at most 65 534).
    pub max_contexts: u32,
    /// Bytes one host call may copy out of the guest (wasmtime's hostcall
    /// fuel): a call passing more traps.
    pub max_call_bytes: u64,
    /// Log records emitted in one call tree.
    pub max_log_records: u32,
    /// Attributes per log record.
    pub max_attributes_per_log: u32,
    /// Instruments a plugin may create, over its life (all instances).
    pub max_instruments: u32,
    /// Attribute sets (series) one instrument may record, over the
    /// plugin's life; a measurement of a new set past it is dropped.
    pub max_series_per_instrument: u32,
    /// Attributes per measurement.
    pub max_attributes_per_measurement: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_spans: 10_000,
            max_recorded_bytes: 8 << 20,
            max_plugin_calls: 64,
            max_open_spans: 1_000,
            max_depth: 128,
            max_attributes_per_span: 128,
            max_events_per_span: 128,
            max_links_per_span: 128,
            max_attributes_per_event: 128,
            max_attributes_per_link: 128,
            max_attribute_value_length: 4_096,
            max_array_length: 128,
            max_name_length: 256,
            max_contexts: 1_000,
            max_call_bytes: 64 << 20,
            max_log_records: 10_000,
            max_attributes_per_log: 128,
            max_instruments: 128,
            max_series_per_instrument: 1_000,
            max_attributes_per_measurement: 16,
        }
    }
}

/// The largest `max_contexts` (context handles carry a 16-bit slot).
pub(crate) const MAX_CONTEXTS: u32 = 65_534;

impl Limits {
    /// Reads limits from a JSON file; missing fields keep their defaults,
    /// unknown ones are an error (a typo should not silently do nothing).
    pub fn from_json_file(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read limits file {}", path.display()))?;
        let limits: Self = serde_json::from_str(&text)
            .with_context(|| format!("invalid limits file {}", path.display()))?;
        limits
            .validate()
            .with_context(|| format!("invalid limits file {}", path.display()))?;
        Ok(limits)
    }

    /// Checks values the host cannot honour.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.max_contexts > MAX_CONTEXTS {
            bail!(
                "max_contexts is {}, at most {MAX_CONTEXTS} is supported",
                self.max_contexts
            );
        }
        if self.max_spans > i32::MAX as u32 {
            bail!(
                "max_spans is {}, at most {} is supported",
                self.max_spans,
                i32::MAX
            );
        }
        Ok(())
    }

    /// The SDK span limits matching these limits, for the tracer provider
    /// (a backstop: the span table enforces the per-span limits itself).
    pub fn sdk_span_limits(&self) -> opentelemetry_sdk::trace::SpanLimits {
        opentelemetry_sdk::trace::SpanLimits {
            max_attributes_per_span: self.max_attributes_per_span,
            max_events_per_span: self.max_events_per_span,
            max_links_per_span: self.max_links_per_span,
            max_attributes_per_event: self.max_attributes_per_event,
            max_attributes_per_link: self.max_attributes_per_link,
        }
    }

    /// The most host memory one call tree's telemetry can hold under these
    /// limits, in bytes: the recorded-bytes budget, plus each span's fixed
    /// part (the SDK's span data and the table's entry) and its name, plus
    /// each live context's fixed part, plus one host call's copy of guest
    /// data. (Baggage is charged to the byte budget.)
    pub fn worst_case_bytes(&self) -> u64 {
        let per_span = crate::guest::SPAN_FIXED_COST + u64::from(self.max_name_length);
        self.max_recorded_bytes
            + u64::from(self.max_spans) * per_span
            + u64::from(self.max_contexts) * crate::guest::CONTEXT_FIXED_COST
            + self.max_call_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_limits_keep_defaults_and_reject_typos_and_impossible_values() {
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
        std::fs::write(&bad, r#"{"max_contexts": 100000}"#).unwrap();
        let err = format!("{:#}", Limits::from_json_file(&bad).unwrap_err());
        assert!(err.contains("at most 65534"), "{err}");
    }

    #[test]
    fn the_worst_case_is_dominated_by_the_byte_budget_at_defaults() {
        let bytes = Limits::default().worst_case_bytes();
        assert!(bytes > Limits::default().max_recorded_bytes);
        assert!(bytes < 128 << 20, "{bytes}");
    }
}
