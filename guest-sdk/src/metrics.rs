//! Metrics, aggregated by the host.
//!
//! Instruments are created by name and live in the host, shared by every
//! instance of the plugin: a measurement is applied when it is recorded, so
//! a plugin that crashes loses none, and the host exports the aggregates
//! with the plugin's identity. The functions mirror OpenTelemetry's meter
//! API (`u64_counter`, `f64_histogram`, ...).
//!
//! ```ignore
//! use wasmtrace_sdk::{attrs, metrics};
//!
//! let requests = metrics::u64_counter("http.server.requests")
//!     .with_unit("{request}")
//!     .build();
//! requests.add(1, attrs! { "http.route" => "/users/{id}" });
//!
//! let latency = metrics::f64_histogram("http.server.duration")
//!     .with_unit("ms")
//!     .with_boundaries([5.0, 10.0, 50.0, 100.0])
//!     .build();
//! latency.record(12.5, attrs! {});
//! ```
//!
//! An instrument the host refuses (an invalid name, a name already used
//! with another kind or number type, or past the plugin's instrument limit)
//! records nothing; the host counts what it drops.

use std::borrow::Cow;
use std::marker::PhantomData;

use crate::value::{KeyValue, with_wit};
use crate::wit::wasmtrace::telemetry::metrics as wit;

/// The number types instruments take: `u64`, `i64` and `f64`.
pub trait Number: Copy + sealed::Sealed {
    /// Whether the instrument takes floating-point measurements.
    #[doc(hidden)]
    const FLOAT: bool;
    /// The measurement in its WIT form.
    #[doc(hidden)]
    fn to_wit(self) -> wit::Number;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for u64 {}
    impl Sealed for i64 {}
    impl Sealed for f64 {}
}

impl Number for u64 {
    const FLOAT: bool = false;
    fn to_wit(self) -> wit::Number {
        // Past i64::MAX the host would refuse it as negative anyway.
        wit::Number::S64(i64::try_from(self).unwrap_or(i64::MAX))
    }
}

impl Number for i64 {
    const FLOAT: bool = false;
    fn to_wit(self) -> wit::Number {
        wit::Number::S64(self)
    }
}

impl Number for f64 {
    const FLOAT: bool = true;
    fn to_wit(self) -> wit::Number {
        wit::Number::F64(self)
    }
}

/// What the host returns for a refused instrument.
const REFUSED: u32 = u32::MAX;

/// An instrument handle, typed by what it aggregates.
#[derive(Debug, Clone, Copy)]
struct Handle(u32);

impl Handle {
    fn record<T: Number>(self, value: T, attributes: impl IntoIterator<Item = KeyValue>) {
        if self.0 != REFUSED {
            with_wit(attributes, |attributes| {
                wit::record(self.0, value.to_wit(), attributes);
            });
        }
    }
}

/// A monotonic sum (OpenTelemetry's `Counter`).
#[derive(Debug, Clone, Copy)]
pub struct Counter<T>(Handle, PhantomData<T>);

impl<T: Number> Counter<T> {
    /// Adds `value` (not negative) to the series of `attributes`.
    pub fn add(&self, value: T, attributes: impl IntoIterator<Item = KeyValue>) {
        self.0.record(value, attributes);
    }
}

/// A sum that goes up and down (OpenTelemetry's `UpDownCounter`).
#[derive(Debug, Clone, Copy)]
pub struct UpDownCounter<T>(Handle, PhantomData<T>);

impl<T: Number> UpDownCounter<T> {
    /// Adds `value` (any sign) to the series of `attributes`.
    pub fn add(&self, value: T, attributes: impl IntoIterator<Item = KeyValue>) {
        self.0.record(value, attributes);
    }
}

/// A distribution of measurements (OpenTelemetry's `Histogram`).
#[derive(Debug, Clone, Copy)]
pub struct Histogram<T>(Handle, PhantomData<T>);

impl<T: Number> Histogram<T> {
    /// Records one measurement (not negative) in the series of `attributes`.
    pub fn record(&self, value: T, attributes: impl IntoIterator<Item = KeyValue>) {
        self.0.record(value, attributes);
    }
}

/// A current value (OpenTelemetry's `Gauge`).
#[derive(Debug, Clone, Copy)]
pub struct Gauge<T>(Handle, PhantomData<T>);

impl<T: Number> Gauge<T> {
    /// Sets the value of the series of `attributes`.
    pub fn record(&self, value: T, attributes: impl IntoIterator<Item = KeyValue>) {
        self.0.record(value, attributes);
    }
}

/// Describes an instrument; [`build`](Self::build) creates it in the host
/// (or finds the plugin's existing one of that name).
#[derive(Debug)]
#[must_use = "an instrument builder does nothing until `.build()` is called"]
pub struct InstrumentBuilder<I> {
    name: Cow<'static, str>,
    kind: wit::InstrumentKind,
    unit: Cow<'static, str>,
    description: Cow<'static, str>,
    boundaries: Option<Vec<f64>>,
    _instrument: PhantomData<I>,
}

impl<I> InstrumentBuilder<I> {
    fn new(name: impl Into<Cow<'static, str>>, kind: wit::InstrumentKind) -> Self {
        Self {
            name: name.into(),
            kind,
            unit: Cow::Borrowed(""),
            description: Cow::Borrowed(""),
            boundaries: None,
            _instrument: PhantomData,
        }
    }

    /// The unit, in UCUM (`ms`, `By`, `{request}`).
    pub fn with_unit(mut self, unit: impl Into<Cow<'static, str>>) -> Self {
        self.unit = unit.into();
        self
    }

    /// A description.
    pub fn with_description(mut self, description: impl Into<Cow<'static, str>>) -> Self {
        self.description = description.into();
        self
    }

    fn create(&self, float: bool) -> Handle {
        Handle(wit::create(wit::InstrumentInfo {
            name: &self.name,
            kind: self.kind,
            float,
            unit: &self.unit,
            description: &self.description,
            boundaries: self.boundaries.as_deref(),
        }))
    }
}

impl<T: Number> InstrumentBuilder<Histogram<T>> {
    /// Explicit bucket boundaries (increasing and finite), instead of
    /// OpenTelemetry's default ones.
    pub fn with_boundaries(mut self, boundaries: impl IntoIterator<Item = f64>) -> Self {
        self.boundaries = Some(boundaries.into_iter().collect());
        self
    }
}

macro_rules! builders {
    ($($(#[$doc:meta])* $fn:ident => $instrument:ident<$t:ty>, $kind:ident;)*) => {
        $(
            $(#[$doc])*
            pub fn $fn(name: impl Into<Cow<'static, str>>) -> InstrumentBuilder<$instrument<$t>> {
                InstrumentBuilder::new(name, wit::InstrumentKind::$kind)
            }
        )*
    };
}

builders! {
    /// A counter of `u64`s.
    u64_counter => Counter<u64>, Counter;
    /// A counter of `f64`s.
    f64_counter => Counter<f64>, Counter;
    /// An up-down counter of `i64`s.
    i64_up_down_counter => UpDownCounter<i64>, UpDownCounter;
    /// An up-down counter of `f64`s.
    f64_up_down_counter => UpDownCounter<f64>, UpDownCounter;
    /// A histogram of `u64`s.
    u64_histogram => Histogram<u64>, Histogram;
    /// A histogram of `f64`s.
    f64_histogram => Histogram<f64>, Histogram;
    /// A gauge of `i64`s.
    i64_gauge => Gauge<i64>, Gauge;
    /// A gauge of `f64`s.
    f64_gauge => Gauge<f64>, Gauge;
}

macro_rules! build {
    ($($instrument:ident),*) => {$(
        impl<T: Number> InstrumentBuilder<$instrument<T>> {
            /// Creates the instrument (or finds the plugin's of that name).
            pub fn build(self) -> $instrument<T> {
                $instrument(self.create(T::FLOAT), PhantomData)
            }
        }
    )*};
}

build!(Counter, UpDownCounter, Histogram, Gauge);
