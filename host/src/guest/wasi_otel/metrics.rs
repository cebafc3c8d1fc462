//! `wasi:otel/metrics`: a guest's aggregated metrics re-recorded into the
//! plugin's host instruments (`guest/metrics.rs`), so that they carry the
//! plugin's identity (its meter scope), obey the instrument and series
//! limits, and leave with the host's temporality.
//!
//! The guest ships whole aggregates; the host records what changed:
//!
//! - **Sums**: a monotonic sum is a counter, another an up-down counter.
//!   A delta point is added as it is; a cumulative point adds what it grew
//!   by since the last export of that series from this store (all of it the
//!   first time; after a reset, a smaller value, the value itself).
//! - **Gauges** set the gauge.
//! - **Histograms** become a float histogram with the guest's bucket
//!   boundaries. The host's API takes measurements, not buckets, so each
//!   bucket's new count is replayed as that many measurements of a value
//!   inside the bucket (its upper bound; the overflow bucket's, the
//!   point's max): bucket counts and the total count are exact, the sum
//!   and min/max are the buckets' approximations. At most
//!   [`MAX_REPLAYED`] measurements per point; a bigger point is an error.
//! - **Exponential histograms** are not supported: an error, the rest of
//!   the export is still recorded.
//!
//! Bad input (an invalid name, a kind that clashes with an instrument of
//! the same name, a value the instrument cannot take) is dropped and
//! counted as for wasmtrace's own metrics; `export` returns an error
//! naming what it could not record, and never traps.

use super::super::args::Args;
use super::values::push_attributes;
use crate::bindings::otel::metrics::{
    Histogram, Metric, MetricData, MetricNumber, ResourceMetrics, Sum, Temporality,
};
use crate::bindings::otel::types::KeyValue as OtelKeyValue;
use crate::bindings::telemetry::metrics::{InstrumentKind, Number};
use crate::guest::SpanTable;
use crate::guest::metrics::{InstrumentRequest, MAX_BOUNDARIES};
use crate::guest::table::REFUSED;
use std::collections::HashMap;
use std::hash::BuildHasher;

/// Measurements one histogram point may be replayed as.
pub(crate) const MAX_REPLAYED: u64 = 100_000;

/// Series whose last cumulative value a store remembers; a new series past
/// it is recorded as if delta.
const MAX_LAST_SEEN: usize = 4_096;

/// The last cumulative value of each series, by instrument and attributes.
#[derive(Default)]
pub(crate) struct LastSeen {
    values: HashMap<u64, Last>,
}

enum Last {
    Number(f64),
    Buckets(Vec<u64>),
}

impl LastSeen {
    /// What a cumulative `value` of `series` grew by, and remembers it.
    fn grown(&mut self, series: u64, value: f64) -> f64 {
        let last = match self.values.get(&series) {
            Some(Last::Number(last)) if *last <= value => *last,
            _ => 0.0,
        };
        self.remember(series, Last::Number(value));
        value - last
    }

    /// What cumulative bucket `counts` of `series` grew by, and remembers
    /// them.
    fn grown_buckets(&mut self, series: u64, counts: &[u64]) -> Vec<u64> {
        let grown = match self.values.get(&series) {
            Some(Last::Buckets(last))
                if last.len() == counts.len() && last.iter().zip(counts).all(|(l, c)| l <= c) =>
            {
                counts.iter().zip(last).map(|(c, l)| c - l).collect()
            }
            _ => counts.to_vec(),
        };
        self.remember(series, Last::Buckets(counts.to_vec()));
        grown
    }

    fn remember(&mut self, series: u64, last: Last) {
        if self.values.len() < MAX_LAST_SEEN || self.values.contains_key(&series) {
            self.values.insert(series, last);
        }
    }
}

/// Identifies one series of one instrument: its handle and its
/// attributes, whatever their order.
fn series_key(handle: u32, attributes: &[OtelKeyValue]) -> u64 {
    let state = foldhash::fast::FixedState::default();
    let attributes = attributes
        .iter()
        .map(|kv| state.hash_one((&kv.key, &kv.value)))
        .fold(0u64, |acc, h| acc ^ h.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    state.hash_one((handle, attributes))
}

fn as_f64(n: MetricNumber) -> f64 {
    match n {
        MetricNumber::F64(f) => f,
        MetricNumber::S64(i) => i as f64,
        MetricNumber::U64(u) => u as f64,
    }
}

/// A host measurement of `value`: integers stay integers (the instrument
/// converts or refuses), big unsigned ones become floats.
fn number(value: MetricNumber) -> Number {
    match value {
        MetricNumber::F64(f) => Number::F64(f),
        MetricNumber::S64(i) => Number::S64(i),
        MetricNumber::U64(u) => i64::try_from(u).map_or(Number::F64(u as f64), Number::S64),
    }
}

/// A value inside bucket `i` of `bounds` (upper bounds, inclusive, plus the
/// overflow bucket).
fn bucket_value(bounds: &[f64], i: usize, max: Option<f64>) -> f64 {
    match bounds.get(i) {
        Some(&upper) => upper,
        None => {
            let last = bounds.last().copied().unwrap_or(0.0);
            match max {
                Some(max) if max > last => max,
                _ => last + last.abs().max(1.0),
            }
        }
    }
}

impl SpanTable {
    /// `metrics.export`.
    pub(crate) fn otel_export(&mut self, metrics: ResourceMetrics) -> Result<(), String> {
        let t = self.timer.start();
        let mut args = self.args.take().unwrap_or_default();
        let mut errors = Vec::new();
        for scope in &metrics.scope_metrics {
            for metric in &scope.metrics {
                if let Err(e) = self.otel_metric(&mut args, metric) {
                    errors.push(format!("{}: {e}", metric.name));
                }
            }
        }
        self.args = Some(args);
        self.counts.add_time_since(t);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// The host instrument for `metric`, created if new.
    fn otel_instrument(
        &mut self,
        metric: &Metric,
        kind: InstrumentKind,
        float: bool,
        boundaries: Option<Vec<f64>>,
    ) -> Result<u32, String> {
        let handle = self.create_instrument(InstrumentRequest {
            name: metric.name.clone(),
            kind,
            float,
            unit: metric.unit.clone(),
            description: metric.description.clone(),
            boundaries,
        });
        if handle == REFUSED {
            return Err("instrument refused (invalid name or boundaries, a name taken by another kind, or past the instrument limit)".into());
        }
        Ok(handle)
    }

    /// Records one measurement of `value` in the series `attributes`.
    fn otel_record(
        &mut self,
        args: &mut Args,
        handle: u32,
        value: Number,
        attributes: &[OtelKeyValue],
    ) {
        args.clear();
        let limits = self.limits.clone();
        let range = push_attributes(args, attributes, &limits, &mut self.counts);
        self.record_measurement(handle, args, value, range);
    }

    fn otel_metric(&mut self, args: &mut Args, metric: &Metric) -> Result<(), String> {
        use MetricData::*;
        match &metric.data {
            F64Gauge(g) | U64Gauge(g) | S64Gauge(g) => {
                let float = matches!(metric.data, F64Gauge(_));
                let handle = self.otel_instrument(metric, InstrumentKind::Gauge, float, None)?;
                for point in &g.data_points {
                    self.otel_record(args, handle, number(point.value), &point.attributes);
                }
                Ok(())
            }
            F64Sum(s) | U64Sum(s) | S64Sum(s) => {
                let float = matches!(metric.data, F64Sum(_));
                self.otel_sum(args, metric, s, float)
            }
            F64Histogram(h) | U64Histogram(h) | S64Histogram(h) => {
                self.otel_histogram(args, metric, h)
            }
            F64ExponentialHistogram(_)
            | U64ExponentialHistogram(_)
            | S64ExponentialHistogram(_) => {
                self.counts.measurements_dropped += 1;
                Err("exponential histograms are not supported".into())
            }
        }
    }

    fn otel_sum(
        &mut self,
        args: &mut Args,
        metric: &Metric,
        sum: &Sum,
        float: bool,
    ) -> Result<(), String> {
        let kind = if sum.is_monotonic {
            InstrumentKind::Counter
        } else {
            InstrumentKind::UpDownCounter
        };
        let handle = self.otel_instrument(metric, kind, float, None)?;
        for point in &sum.data_points {
            let value = match sum.temporality {
                Temporality::Cumulative => {
                    let series = series_key(handle, &point.attributes);
                    let grown = self.otel.last.grown(series, as_f64(point.value));
                    match point.value {
                        // Integers exactly, as integers.
                        MetricNumber::F64(_) => Number::F64(grown),
                        _ => Number::S64(grown as i64),
                    }
                }
                Temporality::Delta | Temporality::LowMemory => number(point.value),
            };
            self.otel_record(args, handle, value, &point.attributes);
        }
        Ok(())
    }

    fn otel_histogram(
        &mut self,
        args: &mut Args,
        metric: &Metric,
        histogram: &Histogram,
    ) -> Result<(), String> {
        let Some(first) = histogram.data_points.first() else {
            return Ok(());
        };
        let bounds = first.bounds.clone();
        if bounds.len() > MAX_BOUNDARIES {
            return Err(format!("more than {MAX_BOUNDARIES} bucket boundaries"));
        }
        let handle = self.otel_instrument(
            metric,
            InstrumentKind::Histogram,
            true,
            Some(bounds.clone()),
        )?;
        let mut errors = 0;
        for point in &histogram.data_points {
            if point.bounds != bounds || point.bucket_counts.len() != bounds.len() + 1 {
                self.counts.measurements_dropped += 1;
                errors += 1;
                continue;
            }
            let counts = match histogram.temporality {
                Temporality::Cumulative => {
                    let series = series_key(handle, &point.attributes);
                    self.otel.last.grown_buckets(series, &point.bucket_counts)
                }
                Temporality::Delta | Temporality::LowMemory => point.bucket_counts.clone(),
            };
            let total = counts.iter().fold(0u64, |a, c| a.saturating_add(*c));
            if total > MAX_REPLAYED {
                self.counts.measurements_dropped += 1;
                errors += 1;
                continue;
            }
            let max = point.max.map(as_f64);
            for (i, &n) in counts.iter().enumerate() {
                let value = Number::F64(bucket_value(&bounds, i, max));
                for _ in 0..n {
                    self.otel_record(args, handle, value, &point.attributes);
                }
            }
        }
        if errors > 0 {
            return Err(format!(
                "{errors} data points not recorded (boundaries other than the first point's, bucket counts that do not match them, or more than {MAX_REPLAYED} measurements)"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cumulative_values_become_what_they_grew_by() {
        let mut last = LastSeen::default();
        assert_eq!(last.grown(1, 5.0), 5.0);
        assert_eq!(last.grown(1, 8.0), 3.0);
        // A reset: the new value is all new.
        assert_eq!(last.grown(1, 2.0), 2.0);
        assert_eq!(last.grown(2, 1.0), 1.0);
        assert_eq!(last.grown_buckets(3, &[1, 2]), [1, 2]);
        assert_eq!(last.grown_buckets(3, &[1, 5]), [0, 3]);
    }

    #[test]
    fn bucket_values_fall_in_their_buckets() {
        let bounds = [1.0, 10.0];
        assert_eq!(bucket_value(&bounds, 0, None), 1.0);
        assert_eq!(bucket_value(&bounds, 1, None), 10.0);
        assert_eq!(bucket_value(&bounds, 2, Some(42.0)), 42.0);
        assert!(bucket_value(&bounds, 2, None) > 10.0);
        assert!(bucket_value(&[], 0, None) > 0.0);
    }
}
