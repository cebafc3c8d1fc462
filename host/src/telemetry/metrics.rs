//! The guide's "monitor overhead", as OpenTelemetry metrics: per plugin,
//! spans started, ended and dropped, and the time spent in tracing calls.
//!
//! The counters already exist ([`TracingStats`], shared atomics); the
//! instruments here are observable, so they cost the plugins nothing: the
//! meter reads the counters when it collects.

use crate::Plugin;
use crate::stats::TracingStats;
use opentelemetry::KeyValue;
use opentelemetry::metrics::Meter;
use std::sync::{Arc, Mutex};

type Tracked = Arc<Mutex<Vec<(KeyValue, Arc<TracingStats>)>>>;

/// Reports the tracing counters of the plugins it tracks as OTel metrics:
///
/// | metric | unit | what |
/// |---|---|---|
/// | `wasmtrace.plugin.spans.started` | `{span}` | spans the plugin started in the host (recorded or not; the SDK skips spans of unsampled traces without a host call, and those do not count) |
/// | `wasmtrace.plugin.spans.ended` | `{span}` | spans ended, by the plugin or after a crash |
/// | `wasmtrace.plugin.spans.dropped` | `{span}` | spans refused by the limits |
/// | `wasmtrace.plugin.contexts.dropped` | `{context}` | context handles refused by the limits |
/// | `wasmtrace.plugin.tracing.duration` | `s` | time spent inside tracing host calls |
///
/// Each point carries `wasmtrace.plugin.name`. All are cumulative counters.
#[derive(Clone, Debug, Default)]
pub struct PluginMetrics {
    tracked: Tracked,
}

impl PluginMetrics {
    /// Registers the instruments with `meter`.
    pub fn new(meter: &Meter) -> Self {
        let metrics = Self::default();
        let counter = |name: &'static str,
                       unit: &'static str,
                       description: &'static str,
                       read: fn(&TracingStats) -> u64| {
            let tracked = metrics.tracked.clone();
            meter
                .u64_observable_counter(name)
                .with_unit(unit)
                .with_description(description)
                .with_callback(move |observer| {
                    for (plugin, stats) in tracked.lock().unwrap_or_else(|e| e.into_inner()).iter()
                    {
                        observer.observe(read(stats), std::slice::from_ref(plugin));
                    }
                })
                .build();
        };
        counter(
            "wasmtrace.plugin.spans.started",
            "{span}",
            "Spans a plugin started, recorded or not",
            TracingStats::spans_started,
        );
        counter(
            "wasmtrace.plugin.spans.ended",
            "{span}",
            "Spans of a plugin that ended",
            TracingStats::spans_ended,
        );
        counter(
            "wasmtrace.plugin.spans.dropped",
            "{span}",
            "Spans of a plugin refused by its limits",
            TracingStats::spans_dropped,
        );
        counter(
            "wasmtrace.plugin.contexts.dropped",
            "{context}",
            "Context handles of a plugin refused by its limits",
            TracingStats::contexts_dropped,
        );
        let tracked = metrics.tracked.clone();
        meter
            .f64_observable_counter("wasmtrace.plugin.tracing.duration")
            .with_unit("s")
            .with_description("Time a plugin spent inside tracing host calls")
            .with_callback(move |observer| {
                for (plugin, stats) in tracked.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                    observer.observe(
                        stats.tracing_time().as_secs_f64(),
                        std::slice::from_ref(plugin),
                    );
                }
            })
            .build();
        metrics
    }

    /// Reports `plugin`'s counters from now on (once per plugin name).
    pub fn track(&self, plugin: &Plugin) {
        let name = plugin.identity().name.clone();
        let mut tracked = self.tracked.lock().unwrap_or_else(|e| e.into_inner());
        if !tracked
            .iter()
            .any(|(k, _)| k.value.as_str() == name.as_str())
        {
            tracked.push((
                KeyValue::new(crate::sampling::ATTR_PLUGIN_NAME, name),
                plugin.stats_handle(),
            ));
        }
    }
}
