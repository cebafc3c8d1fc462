//! `wasmtrace:telemetry/metrics`: a plugin's instruments, created by name
//! and aggregated in the host by the OpenTelemetry SDK, shared by all the
//! plugin's instances.
//!
//! A guest only names an instrument and sends measurements: it holds no
//! aggregate, so a trap loses nothing, and what it can make the host hold
//! is bounded by the instrument and series limits (a new attribute set past
//! an instrument's limit is dropped and counted, as is everything else a
//! guest gets wrong).

use super::args::Args;
use super::convert::Recorder;
use super::table::{REFUSED, SpanTable};
use crate::bindings::telemetry::metrics::{InstrumentKind, Number};
use crate::limits::Limits;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter, UpDownCounter};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::ops::Range;
use std::sync::{Arc, Mutex};

/// A plugin's instruments, by name and by handle (its index).
#[derive(Debug)]
pub(crate) struct Instruments {
    meter: Meter,
    state: Mutex<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    by_name: HashMap<String, u32>,
    list: Vec<Arc<Instrument>>,
}

/// One instrument, its kind and number type, and the series it has seen.
#[derive(Debug)]
pub(crate) struct Instrument {
    float: bool,
    sdk: Sdk,
    /// Hashes of the attribute sets measured so far (bounded).
    series: Mutex<HashSet<u64>>,
    /// The series limit, from the limits in force when it was created.
    max_series: usize,
}

#[derive(Debug)]
enum Sdk {
    Counter(Counter<u64>),
    FloatCounter(Counter<f64>),
    UpDown(UpDownCounter<i64>),
    FloatUpDown(UpDownCounter<f64>),
    Histogram(Histogram<u64>),
    FloatHistogram(Histogram<f64>),
    Gauge(Gauge<i64>),
    FloatGauge(Gauge<f64>),
}

/// What a guest asks for in `create`, read within the limits.
pub(crate) struct InstrumentRequest {
    pub(crate) name: String,
    pub(crate) kind: InstrumentKind,
    pub(crate) float: bool,
    pub(crate) unit: String,
    pub(crate) description: String,
    pub(crate) boundaries: Option<Vec<f64>>,
}

/// Whether `name` is a valid OpenTelemetry instrument name.
fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 255
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
}

/// Bucket boundaries a histogram may have (OpenTelemetry's default has 15).
pub(crate) const MAX_BOUNDARIES: usize = 64;

/// Whether `boundaries` can be a histogram's: finite, increasing, at most
/// [`MAX_BOUNDARIES`].
fn are_valid_boundaries(boundaries: &[f64]) -> bool {
    boundaries.len() <= MAX_BOUNDARIES
        && boundaries.iter().all(|b| b.is_finite())
        && boundaries.windows(2).all(|w| w[0] < w[1])
}

impl Instruments {
    pub(crate) fn new(meter: Meter) -> Self {
        Self {
            meter,
            state: Mutex::new(Registry::default()),
        }
    }

    /// The handle of the instrument `request` names, created if new; `None`
    /// for an invalid request, a name taken by another kind or number type,
    /// or one past the limit.
    fn create(&self, request: InstrumentRequest, limits: &Limits) -> Option<u32> {
        if !is_valid_name(&request.name)
            || request
                .boundaries
                .as_deref()
                .is_some_and(|b| !are_valid_boundaries(b))
        {
            return None;
        }
        let mut registry = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&handle) = registry.by_name.get(&request.name) {
            let existing = &registry.list[handle as usize];
            return (existing.float == request.float && existing.kind() == request.kind)
                .then_some(handle);
        }
        if registry.list.len() >= limits.max_instruments as usize {
            return None;
        }
        let sdk = self.build(&request);
        let handle = registry.list.len() as u32;
        registry.list.push(Arc::new(Instrument {
            float: request.float,
            sdk,
            series: Mutex::new(HashSet::new()),
            max_series: limits.max_series_per_instrument as usize,
        }));
        registry.by_name.insert(request.name, handle);
        Some(handle)
    }

    fn build(&self, r: &InstrumentRequest) -> Sdk {
        let m = &self.meter;
        let (name, unit, description) = (r.name.clone(), r.unit.clone(), r.description.clone());
        macro_rules! build {
            ($ctor:ident) => {
                m.$ctor(name).with_unit(unit).with_description(description)
            };
        }
        match (r.kind, r.float) {
            (InstrumentKind::Counter, false) => Sdk::Counter(build!(u64_counter).build()),
            (InstrumentKind::Counter, true) => Sdk::FloatCounter(build!(f64_counter).build()),
            (InstrumentKind::UpDownCounter, false) => {
                Sdk::UpDown(build!(i64_up_down_counter).build())
            }
            (InstrumentKind::UpDownCounter, true) => {
                Sdk::FloatUpDown(build!(f64_up_down_counter).build())
            }
            (InstrumentKind::Histogram, float) => {
                let boundaries = r.boundaries.clone();
                if float {
                    let b = build!(f64_histogram);
                    Sdk::FloatHistogram(match boundaries {
                        Some(bounds) => b.with_boundaries(bounds).build(),
                        None => b.build(),
                    })
                } else {
                    let b = build!(u64_histogram);
                    Sdk::Histogram(match boundaries {
                        Some(bounds) => b.with_boundaries(bounds).build(),
                        None => b.build(),
                    })
                }
            }
            (InstrumentKind::Gauge, false) => Sdk::Gauge(build!(i64_gauge).build()),
            (InstrumentKind::Gauge, true) => Sdk::FloatGauge(build!(f64_gauge).build()),
        }
    }

    fn get(&self, handle: u32) -> Option<Arc<Instrument>> {
        let registry = self.state.lock().unwrap_or_else(|e| e.into_inner());
        registry.list.get(handle as usize).cloned()
    }
}

impl Instrument {
    fn kind(&self) -> InstrumentKind {
        match self.sdk {
            Sdk::Counter(_) | Sdk::FloatCounter(_) => InstrumentKind::Counter,
            Sdk::UpDown(_) | Sdk::FloatUpDown(_) => InstrumentKind::UpDownCounter,
            Sdk::Histogram(_) | Sdk::FloatHistogram(_) => InstrumentKind::Histogram,
            Sdk::Gauge(_) | Sdk::FloatGauge(_) => InstrumentKind::Gauge,
        }
    }

    /// Whether the series of `attributes` may be recorded: seen before, or
    /// new and within the limit.
    fn admits(&self, attributes: &[KeyValue]) -> bool {
        // Order-independent: the SDK aggregates an attribute set whatever
        // order its keys come in.
        let state = foldhash::fast::FixedState::default();
        let hash = attributes
            .iter()
            .map(|kv| {
                let mut h = state.build_hasher();
                kv.key.as_str().hash(&mut h);
                kv.value.as_str().hash(&mut h);
                h.finish()
            })
            .fold(0u64, |acc, h| acc ^ h.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        series.contains(&hash) || (series.len() < self.max_series && series.insert(hash))
    }

    /// Applies one measurement; false when it cannot be (a negative amount
    /// for a counter or integer histogram, a float that is not finite or
    /// not an integer for an integer instrument).
    fn apply(&self, value: Number, attributes: &[KeyValue]) -> bool {
        let int = match value {
            Number::S64(i) => Some(i),
            // Only floats that are exact integers convert.
            Number::F64(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
            Number::F64(_) => None,
        };
        let float = match value {
            Number::F64(f) if f.is_finite() => Some(f),
            Number::F64(_) => None,
            // Integers up to 2^53 are exact as floats.
            Number::S64(i) if i.unsigned_abs() <= 1 << 53 => Some(i as f64),
            Number::S64(_) => None,
        };
        let unsigned = int.and_then(|i| u64::try_from(i).ok());
        let non_negative = float.filter(|f| *f >= 0.0);
        match &self.sdk {
            Sdk::Counter(c) => unsigned.map(|v| c.add(v, attributes)).is_some(),
            Sdk::FloatCounter(c) => non_negative.map(|v| c.add(v, attributes)).is_some(),
            Sdk::UpDown(c) => int.map(|v| c.add(v, attributes)).is_some(),
            Sdk::FloatUpDown(c) => float.map(|v| c.add(v, attributes)).is_some(),
            Sdk::Histogram(h) => unsigned.map(|v| h.record(v, attributes)).is_some(),
            Sdk::FloatHistogram(h) => non_negative.map(|v| h.record(v, attributes)).is_some(),
            Sdk::Gauge(g) => int.map(|v| g.record(v, attributes)).is_some(),
            Sdk::FloatGauge(g) => float.map(|v| g.record(v, attributes)).is_some(),
        }
    }
}

/// A store's view of its plugin's instruments: those it used, by handle, so
/// that recording takes no lock on the plugin's registry.
#[derive(Debug, Default)]
pub(crate) struct StoreInstruments {
    shared: Option<Arc<Instruments>>,
    used: Vec<Option<Arc<Instrument>>>,
}

impl StoreInstruments {
    pub(crate) fn new(shared: Option<Arc<Instruments>>) -> Self {
        Self {
            shared,
            used: Vec::new(),
        }
    }

    fn get(&mut self, handle: u32) -> Option<Arc<Instrument>> {
        let i = handle as usize;
        if let Some(Some(found)) = self.used.get(i) {
            return Some(found.clone());
        }
        let found = self.shared.as_ref()?.get(handle)?;
        if self.used.len() <= i {
            self.used.resize(i + 1, None);
        }
        self.used[i] = Some(found.clone());
        Some(found)
    }
}

impl SpanTable {
    /// `metrics.create`.
    pub(crate) fn create_instrument(&mut self, request: InstrumentRequest) -> u32 {
        self.settle_lifted();
        let limits = self.limits.clone();
        let created = self
            .instruments
            .shared
            .as_ref()
            .and_then(|shared| shared.create(request, &limits));
        created.unwrap_or_else(|| {
            self.counts.instruments_refused += 1;
            REFUSED
        })
    }

    /// `metrics.record`.
    pub(crate) fn record_measurement(
        &mut self,
        handle: u32,
        args: &Args,
        value: Number,
        attributes: Range<u32>,
    ) {
        self.settle_lifted();
        let Some(instrument) = self.instruments.get(handle) else {
            self.counts.measurements_dropped += 1;
            return;
        };
        let mut kept = Vec::with_capacity((attributes.end - attributes.start) as usize);
        // Measurements are aggregated, not kept: they cost the byte budget
        // nothing (the series limit bounds what the host holds).
        let mut unlimited = u64::MAX;
        Recorder {
            limits: &self.limits,
            bytes: &mut unlimited,
            keys: &mut self.keys,
            counts: &mut self.counts,
        }
        .attributes(
            args,
            attributes,
            self.limits.max_attributes_per_measurement,
            &mut kept,
        );
        if instrument.admits(&kept) && instrument.apply(value, &kept) {
            self.counts.measurements += 1;
        } else {
            self.counts.measurements_dropped += 1;
        }
    }
}
