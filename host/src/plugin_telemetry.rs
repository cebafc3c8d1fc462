//! The providers a runtime records with, and what one plugin records with:
//! its tracer, logger and meter, each scoped to the plugin's identity and
//! shared by all its instances.

use crate::guest::{Instruments, TablePool};
use crate::identity::PluginIdentity;
use opentelemetry::logs::LoggerProvider as _;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use std::sync::Arc;

/// The OpenTelemetry providers guests record with: traces always; logs and
/// metrics when given (without them, a guest's log records and measurements
/// are dropped and counted).
///
/// [`crate::telemetry::Telemetry::providers`] gives all three, configured
/// from the `OTEL_*` variables; an embedder with providers of its own
/// builds one with [`Providers::new`].
#[derive(Clone, Debug)]
pub struct Providers {
    tracer: SdkTracerProvider,
    logger: Option<SdkLoggerProvider>,
    meter: Option<SdkMeterProvider>,
}

impl Providers {
    /// Traces only.
    pub fn new(tracer: &SdkTracerProvider) -> Self {
        Self {
            tracer: tracer.clone(),
            logger: None,
            meter: None,
        }
    }

    /// Guests' log records go to `logger`.
    pub fn with_logger_provider(mut self, logger: &SdkLoggerProvider) -> Self {
        self.logger = Some(logger.clone());
        self
    }

    /// Guests' measurements go to `meter`.
    pub fn with_meter_provider(mut self, meter: &SdkMeterProvider) -> Self {
        self.meter = Some(meter.clone());
        self
    }

    /// The tracer provider.
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.tracer
    }

    /// The logger provider, if logs are recorded.
    pub fn logger_provider(&self) -> Option<&SdkLoggerProvider> {
        self.logger.as_ref()
    }

    /// The meter provider, if metrics are recorded.
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.meter.as_ref()
    }
}

impl From<&SdkTracerProvider> for Providers {
    fn from(tracer: &SdkTracerProvider) -> Self {
        Self::new(tracer)
    }
}

impl From<&Providers> for Providers {
    fn from(providers: &Providers) -> Self {
        providers.clone()
    }
}

/// What one plugin records with, shared by every instance of it (cheap to
/// clone): a tracer and a logger whose instrumentation scope is the
/// plugin's name and version, and its instruments, aggregated across its
/// instances, under a meter whose scope also carries the component's hash.
///
/// Give it to [`crate::WasmtraceCtx::builder`] for each store of the
/// plugin.
#[derive(Clone, Debug)]
pub struct PluginTelemetry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    identity: PluginIdentity,
    tracer: SdkTracer,
    logger: Option<SdkLogger>,
    instruments: Option<Arc<Instruments>>,
    /// Span-table buffers its stores reuse.
    tables: Arc<TablePool>,
}

impl PluginTelemetry {
    /// The tracer, logger and meter of the plugin `identity`, from
    /// `providers`.
    pub fn new(providers: &Providers, identity: &PluginIdentity) -> Self {
        let logger = providers
            .logger
            .as_ref()
            .map(|p| p.logger_with_scope(identity.scope()));
        let instruments = providers
            .meter
            .as_ref()
            .map(|p| Arc::new(Instruments::new(p.meter_with_scope(identity.meter_scope()))));
        Self {
            inner: Arc::new(Inner {
                identity: identity.clone(),
                tracer: identity.tracer(&providers.tracer),
                logger,
                instruments,
                tables: Arc::default(),
            }),
        }
    }

    /// The plugin's identity.
    pub fn identity(&self) -> &PluginIdentity {
        &self.inner.identity
    }

    /// The plugin's tracer.
    pub fn tracer(&self) -> &SdkTracer {
        &self.inner.tracer
    }

    pub(crate) fn logger(&self) -> Option<&SdkLogger> {
        self.inner.logger.as_ref()
    }

    pub(crate) fn instruments(&self) -> Option<&Arc<Instruments>> {
        self.inner.instruments.as_ref()
    }

    pub(crate) fn table_pool(&self) -> &Arc<TablePool> {
        &self.inner.tables
    }
}
