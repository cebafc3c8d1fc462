//! The embedded default's metrics: each collection printed on standard
//! error as one block per instrumentation scope (a plugin's name and
//! version), one line per series. `wasmtrace run` prints the last
//! collection when it exits; `serve` also prints one each export interval
//! (`OTEL_METRIC_EXPORT_INTERVAL`, 60 s by default).

use crate::view::text::printable as escape;
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use std::fmt::{Display, Write as _};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The scope of the runtime's own metrics ([`super::PluginMetrics`]).
const RUNTIME_SCOPE: &str = "wasmtrace";

/// Prints each collection of guests' metrics.
pub struct ConsoleMetricExporter {
    out: Arc<Mutex<dyn Write + Send>>,
}

impl std::fmt::Debug for ConsoleMetricExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleMetricExporter")
            .finish_non_exhaustive()
    }
}

impl ConsoleMetricExporter {
    /// Prints to standard error.
    pub fn stderr() -> Self {
        Self::new(Arc::new(Mutex::new(std::io::stderr())))
    }

    /// Prints to any writer.
    pub fn new(out: Arc<Mutex<dyn Write + Send>>) -> Self {
        Self { out }
    }
}

impl PushMetricExporter for ConsoleMetricExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let text = render_metrics(metrics);
        if !text.is_empty()
            && let Ok(mut out) = self.out.lock()
        {
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        // Totals since the start: what a reader of the console expects.
        Temporality::Cumulative
    }
}

fn attributes<'a>(attributes: impl Iterator<Item = &'a KeyValue>) -> String {
    let mut attributes: Vec<_> = attributes
        .map(|kv| {
            format!(
                "{}={}",
                escape(kv.key.as_str()),
                escape(&kv.value.to_string())
            )
        })
        .collect();
    attributes.sort();
    if attributes.is_empty() {
        String::new()
    } else {
        format!(" {{{}}}", attributes.join(", "))
    }
}

/// One collection as text: nothing when it holds no data point.
pub fn render_metrics(metrics: &ResourceMetrics) -> String {
    let mut out = String::new();
    let mut scopes: Vec<_> = metrics
        .scope_metrics()
        // The runtime's own metrics are in the summary line already.
        .filter(|s| s.scope().name() != RUNTIME_SCOPE)
        .collect();
    scopes.sort_by_key(|s| {
        (
            s.scope().name().to_owned(),
            s.scope().version().map(str::to_owned),
        )
    });
    for scope in scopes {
        let mut block = String::new();
        for metric in scope.metrics() {
            let unit = if metric.unit().is_empty() {
                String::new()
            } else {
                format!(" [{}]", escape(metric.unit()))
            };
            let name = escape(metric.name());
            match metric.data() {
                AggregatedMetrics::F64(data) => series(&mut block, &name, &unit, data),
                AggregatedMetrics::U64(data) => series(&mut block, &name, &unit, data),
                AggregatedMetrics::I64(data) => series(&mut block, &name, &unit, data),
            }
        }
        if block.is_empty() {
            continue;
        }
        let s = scope.scope();
        let version = s
            .version()
            .map(|v| format!("@{}", escape(v)))
            .unwrap_or_default();
        let _ = writeln!(out, "metrics of {}{version}", escape(s.name()));
        out.push_str(&block);
    }
    out
}

fn series<T: Display + Copy>(out: &mut String, name: &str, unit: &str, data: &MetricData<T>) {
    match data {
        MetricData::Sum(sum) => {
            let kind = if sum.is_monotonic() {
                "counter"
            } else {
                "up-down counter"
            };
            for p in sum.data_points() {
                let attrs = attributes(p.attributes());
                let _ = writeln!(out, "  {name} ({kind}){unit}{attrs} = {}", p.value());
            }
        }
        MetricData::Gauge(gauge) => {
            for p in gauge.data_points() {
                let attrs = attributes(p.attributes());
                let _ = writeln!(out, "  {name} (gauge){unit}{attrs} = {}", p.value());
            }
        }
        MetricData::Histogram(histogram) => {
            for p in histogram.data_points() {
                let attrs = attributes(p.attributes());
                let range = match (p.min(), p.max()) {
                    (Some(min), Some(max)) => format!(", min {min}, max {max}"),
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "  {name} (histogram){unit}{attrs}: count {}, sum {}{range}",
                    p.count(),
                    p.sum()
                );
            }
        }
        MetricData::ExponentialHistogram(histogram) => {
            for p in histogram.data_points() {
                let attrs = attributes(p.attributes());
                let _ = writeln!(
                    out,
                    "  {name} (exponential histogram){unit}{attrs}: count {}, sum {}",
                    p.count(),
                    p.sum()
                );
            }
        }
    }
}
