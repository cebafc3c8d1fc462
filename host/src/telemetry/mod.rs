//! Export: the tracer provider, configured from the standard `OTEL_*`
//! variables, with OTLP over gRPC or HTTP ([`otlp`]: TLS, compression,
//! headers, timeouts per signal), the embedded console default, the
//! OTLP/JSON file and the HTML page.

mod console;
mod console_metrics;
mod delivery;
mod dropped;
mod guest_ids;
mod html_file;
mod local;
mod metrics;
pub mod otlp;
mod otlp_json;
mod pending;
mod queue;

pub use console::ConsoleExporter;
pub use console_metrics::{ConsoleMetricExporter, render_metrics};
pub use delivery::DeliveryStats;
pub(crate) use dropped::{Dropped, while_ending};
pub use dropped::{DroppedCounts, apply_dropped_counts};
pub use guest_ids::GuestIdGenerator;
pub(crate) use guest_ids::with_pinned_ids;
pub use html_file::HtmlFileExporter;
pub use otlp::install_crypto_provider;
pub use otlp_json::OtlpJsonFileExporter;
pub use queue::QueueConfig;

use crate::plugin_telemetry::Providers;
use crate::sampling::PluginSampler;
use crate::view::TextFormat;
use local::{LocalSink, LocalSinks};
pub use metrics::PluginMetrics;
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{SdkMeterProvider, Temporality};
use queue::ExportQueue;

use anyhow::{Context as _, bail};
use opentelemetry::KeyValue;
use opentelemetry_otlp::Protocol;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanLimits};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// `OTEL_SDK_DISABLED`: `true` turns tracing into a no-op.
pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// `OTEL_TRACES_EXPORTER`: `otlp`, `console` or `none`.
pub const OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
/// `OTEL_EXPORTER_OTLP_ENDPOINT`: base URL for all signals.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: full URL for traces.
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_PROTOCOL`: `grpc`, `http/protobuf` or `http/json`.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`: the same, for traces only.
pub const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// `OTEL_SERVICE_NAME`: the resource's `service.name`.
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// `OTEL_RESOURCE_ATTRIBUTES`: extra resource attributes, `k=v,k2=v2`.
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";

/// Where finished spans go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TracesExporter {
    /// OTLP to a collector.
    Otlp(Protocol),
    /// The embedded default: each trace on standard error, as a waterfall
    /// or a tree ([`TelemetryBuilder::with_console_format`]).
    Console,
    /// Nowhere (spans are still created, so propagation works).
    None,
}

impl TracesExporter {
    /// Chooses as the OTel spec says: `OTEL_TRACES_EXPORTER` when set;
    /// otherwise OTLP when an OTLP endpoint variable is set, and the
    /// embedded console default when none is.
    pub fn from_env() -> anyhow::Result<Self> {
        let endpoint_set = [
            OTEL_EXPORTER_OTLP_ENDPOINT,
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
        ]
        .iter()
        .any(|v| env_value(v).is_some());
        match env_value(OTEL_TRACES_EXPORTER).as_deref() {
            Some("otlp") => Ok(Self::Otlp(protocol_from_env()?)),
            Some("console") => Ok(Self::Console),
            Some("none") => Ok(Self::None),
            Some(other) => bail!(
                "{OTEL_TRACES_EXPORTER}={other:?} is not supported (use otlp, console or none)"
            ),
            None if endpoint_set => Ok(Self::Otlp(protocol_from_env()?)),
            None => Ok(Self::Console),
        }
    }
}

pub(crate) fn env_value(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, then `OTEL_EXPORTER_OTLP_PROTOCOL`,
/// else gRPC (the protocol of the guide and of Jaeger's and Tempo's 4317).
pub fn protocol_from_env() -> anyhow::Result<Protocol> {
    let (var, value) = match env_value(OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) {
        Some(v) => (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, v),
        None => match env_value(OTEL_EXPORTER_OTLP_PROTOCOL) {
            Some(v) => (OTEL_EXPORTER_OTLP_PROTOCOL, v),
            None => return Ok(Protocol::Grpc),
        },
    };
    otlp::parse_protocol(var, &value)
}

/// `OTEL_METRICS_EXPORTER`: `otlp`, `console` or `none` (default: as
/// traces go).
pub const OTEL_METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
/// `OTEL_LOGS_EXPORTER`: `otlp`, `console` or `none` (default: as traces
/// go).
pub const OTEL_LOGS_EXPORTER: &str = "OTEL_LOGS_EXPORTER";
/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`: `cumulative` (the
/// default), `delta` or `lowmemory`.
pub const OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: &str =
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";

/// Where metrics or logs go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SignalExport {
    Otlp,
    Console,
    None,
}

/// A signal's exporter from `var`; unset, the signal goes where traces go
/// (OTLP, the embedded console, or nowhere).
fn signal_export(var: &str, traces: &TracesExporter) -> anyhow::Result<SignalExport> {
    match env_value(var).map(|v| v.to_ascii_lowercase()).as_deref() {
        Some("otlp") => Ok(SignalExport::Otlp),
        Some("console") => Ok(SignalExport::Console),
        Some("none") => Ok(SignalExport::None),
        Some(other) => bail!("{var}={other:?} is not supported (use otlp, console or none)"),
        None => Ok(match traces {
            TracesExporter::Otlp(_) => SignalExport::Otlp,
            TracesExporter::Console => SignalExport::Console,
            TracesExporter::None => SignalExport::None,
        }),
    }
}

/// The temporality OTLP metrics are exported with, per
/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`.
fn metrics_temporality() -> anyhow::Result<Temporality> {
    let var = OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE;
    match env_value(var).map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("cumulative") => Ok(Temporality::Cumulative),
        Some("delta") => Ok(Temporality::Delta),
        Some("lowmemory") => Ok(Temporality::LowMemory),
        Some(other) => {
            bail!("{var}={other:?} is not supported (use cumulative, delta or lowmemory)")
        }
    }
}

/// Whether `OTEL_SDK_DISABLED` is `true` (case-insensitive), as the spec
/// says; any other value leaves the SDK enabled.
pub fn sdk_disabled() -> bool {
    env_value(OTEL_SDK_DISABLED).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Builds a [`Telemetry`].
#[derive(Debug)]
pub struct TelemetryBuilder {
    service_name: String,
    service_version: String,
    exporter: Option<TracesExporter>,
    json_file: Option<PathBuf>,
    html_file: Option<PathBuf>,
    console_format: TextFormat,
    span_limits: Option<SpanLimits>,
    endpoint: Option<String>,
    queue_config: Option<QueueConfig>,
    sampler: Option<PluginSampler>,
}

/// The process's tracer provider and what it needs to keep running (a Tokio
/// runtime for gRPC when the caller has none). Call [`Telemetry::shutdown`]
/// before exiting so that every span is flushed.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
    exporter: TracesExporter,
    delivery: Arc<DeliveryStats>,
    sampler: PluginSampler,
    meter_provider: SdkMeterProvider,
    logger_provider: SdkLoggerProvider,
    /// What the metric exporter's HTTP client saw, for the flush's error.
    metric_notes: Arc<otlp::ExportNotes>,
    // Dropped after the provider is shut down: the gRPC channel lives here.
    _runtime: Option<tokio::runtime::Runtime>,
}

impl Telemetry {
    /// Starts configuring telemetry. `service_name` and `service_version`
    /// are used when `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` do not
    /// say otherwise.
    pub fn builder(service_name: &str, service_version: &str) -> TelemetryBuilder {
        TelemetryBuilder {
            service_name: service_name.to_owned(),
            service_version: service_version.to_owned(),
            exporter: None,
            json_file: None,
            html_file: None,
            console_format: TextFormat::default(),
            span_limits: None,
            endpoint: None,
            queue_config: None,
            sampler: None,
        }
    }

    /// The tracer provider guest and host spans are recorded with.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// Where spans are exported.
    pub fn exporter(&self) -> &TracesExporter {
        &self.exporter
    }

    /// What the OTLP exporter delivered, and what it could not (in all and
    /// per plugin); still readable after [`Telemetry::shutdown`]. Give it to
    /// [`crate::RuntimeConfig::delivery`] so that each plugin's
    /// [`crate::TracingStats::spans_lost`] counts its own.
    pub fn delivery_handle(&self) -> Arc<DeliveryStats> {
        self.delivery.clone()
    }

    /// The provider's sampler: give a plugin its own with
    /// [`PluginSampler::set`].
    pub fn plugin_sampler(&self) -> &PluginSampler {
        &self.sampler
    }

    /// The meter provider guests' metrics and the runtime's own
    /// ([`PluginMetrics`]) are recorded with: per `OTEL_METRICS_EXPORTER`,
    /// by default where traces go (OTLP: the builder's endpoint and
    /// protocol, else `OTEL_EXPORTER_OTLP_METRICS_*`, else the generic
    /// `OTEL_EXPORTER_OTLP_*`; the console: printed on stderr each export
    /// interval and at shutdown); otherwise it records nothing.
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.meter_provider
    }

    /// The logger provider guests' log records go to: per
    /// `OTEL_LOGS_EXPORTER`, by default where traces go (OTLP, or drawn in
    /// the console's trace under their span), and to the JSON and HTML
    /// files when asked for.
    pub fn logger_provider(&self) -> &SdkLoggerProvider {
        &self.logger_provider
    }

    /// All three providers, for [`crate::Runtime::new`] or
    /// [`crate::PluginTelemetry::new`].
    pub fn providers(&self) -> Providers {
        Providers::new(&self.provider)
            .with_logger_provider(&self.logger_provider)
            .with_meter_provider(&self.meter_provider)
    }

    /// Flushes and stops every exporter, waiting at most `timeout`.
    pub fn shutdown(self, timeout: Duration) -> anyhow::Result<()> {
        // Logs first: the console draws them inside their trace.
        let logs = self.logger_provider.shutdown_with_timeout(timeout);
        let result = self.provider.shutdown_with_timeout(timeout);
        // Metrics last, so that they count every span the flush ended.
        let metrics = self.meter_provider.shutdown_with_timeout(timeout);
        drop(self._runtime);
        result.context("flushing spans at shutdown")?;
        match logs {
            Ok(()) | Err(OTelSdkError::AlreadyShutdown) => {}
            Err(e) => return Err(anyhow::Error::new(e).context("flushing log records at shutdown")),
        }
        match metrics {
            // Nothing to flush when metrics are not exported.
            Ok(()) | Err(OTelSdkError::AlreadyShutdown) => Ok(()),
            Err(e) => Err(match self.metric_notes.last_error() {
                Some(cause) => anyhow::anyhow!("{e} ({cause})"),
                None => anyhow::Error::new(e),
            }
            .context("flushing metrics at shutdown")),
        }
    }
}

impl TelemetryBuilder {
    /// Overrides the exporter chosen from the environment.
    pub fn with_exporter(mut self, exporter: TracesExporter) -> Self {
        self.exporter = Some(exporter);
        self
    }

    /// Per-span limits on attributes, events and links (the SDK drops and
    /// counts the excess in OTLP's `dropped_*_count`). Default: the SDK's,
    /// from `OTEL_SPAN_*_LIMIT` or 128.
    pub fn with_span_limits(mut self, limits: SpanLimits) -> Self {
        self.span_limits = Some(limits);
        self
    }

    /// The OTLP endpoint, overriding `OTEL_EXPORTER_OTLP_*ENDPOINT`: the
    /// base URL for gRPC, the full URL (`.../v1/traces`) for HTTP.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The export queue's bounds, batch size and delay, overriding
    /// `OTEL_BSP_*`.
    pub fn with_queue_config(mut self, config: QueueConfig) -> Self {
        self.queue_config = Some(config);
        self
    }

    /// The sampler, overriding `OTEL_TRACES_SAMPLER`; per-plugin samplers
    /// can be set on it before or after building.
    pub fn with_sampler(mut self, sampler: PluginSampler) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// Also writes every span to `path` as OTLP/JSON.
    pub fn with_json_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.json_file = Some(path.into());
        self
    }

    /// Also writes every trace to `path` as a self-contained HTML page.
    pub fn with_html_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.html_file = Some(path.into());
        self
    }

    /// How the embedded console prints each trace (default: the waterfall).
    pub fn with_console_format(mut self, format: TextFormat) -> Self {
        self.console_format = format;
        self
    }

    /// Builds the provider. Errors name the variable or file at fault.
    pub fn build(self) -> anyhow::Result<Telemetry> {
        // Before any TLS client is built (ours, and wasmtime-wasi-http's).
        otlp::install_crypto_provider();
        let disabled = sdk_disabled();
        let resource = self.resource();
        let explicit_exporter = self.exporter.is_some();
        let exporter = match self.exporter {
            Some(e) => e,
            None if disabled => TracesExporter::None,
            None => TracesExporter::from_env()?,
        };
        // `wasi:otel` guests choose their spans' ids (guest_ids.rs).
        let mut builder = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_id_generator(GuestIdGenerator::default());
        if let Some(limits) = self.span_limits {
            builder = builder.with_span_limits(limits);
        }
        let delivery = Arc::new(DeliveryStats::default());
        let sampler = self.sampler.unwrap_or_else(PluginSampler::from_env);
        if disabled {
            // A no-op SDK: nothing is sampled, contexts still propagate.
            return Ok(Telemetry {
                provider: builder.with_sampler(Sampler::AlwaysOff).build(),
                exporter: TracesExporter::None,
                delivery,
                sampler,
                meter_provider: SdkMeterProvider::default(),
                logger_provider: SdkLoggerProvider::builder().build(),
                metric_notes: Arc::default(),
                _runtime: None,
            });
        }
        let metrics_to = signal_export(OTEL_METRICS_EXPORTER, &exporter)?;
        let logs_to = signal_export(OTEL_LOGS_EXPORTER, &exporter)?;
        // The console draws log records inside their trace: without the
        // traces there, they would be counted and shown nowhere.
        if logs_to == SignalExport::Console && !matches!(exporter, TracesExporter::Console) {
            bail!(
                "{OTEL_LOGS_EXPORTER}=console needs the traces on the console too \
                 (OTEL_TRACES_EXPORTER=console): log records are drawn in their trace"
            );
        }
        let mut logger_provider = SdkLoggerProvider::builder().with_resource(resource.clone());
        let mut local_logs = false;
        let mut sinks = Vec::new();
        let mut meter_provider = SdkMeterProvider::builder().with_resource(resource.clone());
        let metric_notes = Arc::new(otlp::ExportNotes::default());
        let mut exporters = otlp::Exporters::default();
        // A protocol given to the builder is every signal's; otherwise each
        // signal reads its own variables.
        let overrides = otlp::Overrides {
            protocol: match &exporter {
                TracesExporter::Otlp(protocol) if explicit_exporter => Some(*protocol),
                _ => None,
            },
            endpoint: self.endpoint.clone(),
        };
        match metrics_to {
            SignalExport::Otlp => {
                let config = otlp::OtlpConfig::from_env(otlp::Signal::Metrics, &overrides)?;
                let m = exporters.metric_exporter(
                    &config,
                    metrics_temporality()?,
                    metric_notes.clone(),
                )?;
                meter_provider = meter_provider.with_periodic_exporter(m);
            }
            SignalExport::Console => {
                meter_provider =
                    meter_provider.with_periodic_exporter(ConsoleMetricExporter::stderr());
            }
            SignalExport::None => {}
        }
        match logs_to {
            SignalExport::Otlp => {
                let config = otlp::OtlpConfig::from_env(otlp::Signal::Logs, &overrides)?;
                let e = exporters.log_exporter(&config, Arc::new(otlp::ExportNotes::default()))?;
                logger_provider = logger_provider.with_batch_exporter(e);
            }
            SignalExport::Console => local_logs = true,
            SignalExport::None => {}
        }
        match &exporter {
            TracesExporter::Otlp(protocol) => {
                let overrides = otlp::Overrides {
                    protocol: Some(*protocol),
                    ..overrides.clone()
                };
                let traces = otlp::OtlpConfig::from_env(otlp::Signal::Traces, &overrides)?;
                let span_exporter = exporters.span_exporter(&traces, delivery.clone())?;
                let queue_config = match self.queue_config {
                    Some(config) => config,
                    None => QueueConfig::from_env()?,
                };
                let queue =
                    ExportQueue::new(span_exporter, &resource, queue_config, delivery.clone())
                        .context("starting the export queue")?;
                builder = builder.with_span_processor(queue);
            }
            TracesExporter::Console => {
                sinks.push(LocalSink::Console(ConsoleExporter::stderr(
                    self.console_format,
                )));
            }
            TracesExporter::None => {}
        }
        let runtime = exporters.into_runtime();
        // The files hold every signal they can show.
        local_logs |= self.json_file.is_some() || self.html_file.is_some();
        if let Some(path) = &self.json_file {
            let file = OtlpJsonFileExporter::create(path)
                .with_context(|| format!("cannot write spans to {}", path.display()))?;
            sinks.push(LocalSink::Json(file));
        }
        if let Some(path) = &self.html_file {
            let page = HtmlFileExporter::create(path)
                .with_context(|| format!("cannot write the HTML page {}", path.display()))?;
            sinks.push(LocalSink::Html(page));
        }
        if !sinks.is_empty() {
            let local = LocalSinks::new(sinks, &resource).context("starting the span writer")?;
            if local_logs {
                logger_provider = logger_provider.with_log_processor(local.logs());
            }
            builder = builder.with_span_processor(local);
        }
        Ok(Telemetry {
            provider: builder.with_sampler(sampler.clone()).build(),
            exporter,
            delivery,
            sampler,
            meter_provider: meter_provider.build(),
            logger_provider: logger_provider.build(),
            metric_notes,
            _runtime: runtime,
        })
    }

    fn resource(&self) -> Resource {
        let from_env = env_value(OTEL_RESOURCE_ATTRIBUTES).unwrap_or_default();
        let env_has = |key: &str| {
            from_env
                .split(',')
                .any(|kv| kv.split_once('=').is_some_and(|(k, _)| k.trim() == key))
        };
        // Resource::builder() reads OTEL_SERVICE_NAME and
        // OTEL_RESOURCE_ATTRIBUTES; our defaults only fill what they leave.
        let mut builder = Resource::builder();
        if env_value(OTEL_SERVICE_NAME).is_none() && !env_has("service.name") {
            builder = builder.with_service_name(self.service_name.clone());
        }
        if !env_has("service.version") {
            builder = builder.with_attribute(KeyValue::new(
                "service.version",
                self.service_version.clone(),
            ));
        }
        builder.build()
    }
}
