//! OTLP export as the OpenTelemetry exporter specification has it, for
//! every signal: each signal's settings ([`OtlpConfig`], from the builder's
//! overrides and the `OTEL_EXPORTER_OTLP_[<SIGNAL>_]*` variables) and the
//! constructors of its exporter, over gRPC or HTTP (protobuf or JSON),
//! with TLS (rustls and ring; system roots, a custom CA, mTLS), gzip,
//! headers and timeouts.
//!
//! Adding a signal is: a [`Signal`] (its variables and HTTP path are
//! derived from it), `OtlpConfig::from_env(signal, ..)`, and a constructor
//! like [`Exporters::span_exporter`] on its opentelemetry-otlp builder.

mod config;
mod http;
mod tls;

pub(crate) use config::parse_protocol;
pub use config::{DEFAULT_TIMEOUT, OtlpConfig, Overrides, Signal};
pub(crate) use http::{ExportNotes, ExportObserver};
pub use tls::{PemFile, TlsFiles, install_crypto_provider};

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;
use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
use opentelemetry_otlp::{
    LogExporter, MetricExporter, Protocol, SpanExporter, WithExportConfig as _,
    WithHttpConfig as _, WithTonicConfig as _,
};
use opentelemetry_sdk::metrics::Temporality;

/// Builds the exporters of a telemetry pipeline, and owns the Tokio runtime
/// gRPC needs when the caller has none.
#[derive(Debug, Default)]
pub(crate) struct Exporters {
    runtime: Option<tokio::runtime::Runtime>,
}

/// Applies the settings every opentelemetry-otlp builder shares, over gRPC
/// or HTTP. A macro: the span, metric (and log) builders are distinct types
/// with the same methods.
macro_rules! build_exporter {
    ($self:ident, $builder:expr, $config:expr, $observer:expr, $what:literal) => {{
        let config: &OtlpConfig = $config;
        let built = match config.protocol {
            Protocol::Grpc => {
                // tonic needs a Tokio reactor when the channel is built.
                let handle = $self.handle()?;
                let _guard = handle.enter();
                let mut b = $builder
                    .with_tonic()
                    .with_endpoint(config.endpoint.clone())
                    .with_timeout(config.timeout)
                    .with_metadata(metadata(&config.headers)?);
                if config.is_https() {
                    b = b.with_tls_config(tls::tonic_tls(&config.tls));
                }
                if let Some(c) = config.compression {
                    b = b.with_compression(c);
                }
                b.build()
            }
            protocol => {
                let client = tls::http_client(&config.tls, config.timeout, config.is_https())?;
                let client = http::ObservedClient::new(
                    client,
                    config.signal,
                    protocol == Protocol::HttpJson,
                    $observer,
                );
                let mut b = $builder
                    .with_http()
                    .with_protocol(protocol)
                    .with_endpoint(config.endpoint.clone())
                    .with_timeout(config.timeout)
                    .with_headers(config.headers.iter().cloned().collect::<HashMap<_, _>>())
                    .with_http_client(client);
                if let Some(c) = config.compression {
                    b = b.with_compression(c);
                }
                b.build()
            }
        };
        built.with_context(|| {
            format!(
                concat!("configuring the OTLP ", $what, " exporter for {}"),
                config.endpoint
            )
        })
    }};
}

impl Exporters {
    /// The span exporter `config` describes; over HTTP, partial successes
    /// and transport errors are reported to `observer`.
    pub(crate) fn span_exporter(
        &mut self,
        config: &OtlpConfig,
        observer: Arc<dyn ExportObserver>,
    ) -> anyhow::Result<SpanExporter> {
        build_exporter!(self, SpanExporter::builder(), config, observer, "span")
    }

    /// The metric exporter `config` describes, with `temporality`.
    pub(crate) fn metric_exporter(
        &mut self,
        config: &OtlpConfig,
        temporality: Temporality,
        observer: Arc<dyn ExportObserver>,
    ) -> anyhow::Result<MetricExporter> {
        build_exporter!(
            self,
            MetricExporter::builder().with_temporality(temporality),
            config,
            observer,
            "metric"
        )
    }

    /// The log exporter `config` describes.
    pub(crate) fn log_exporter(
        &mut self,
        config: &OtlpConfig,
        observer: Arc<dyn ExportObserver>,
    ) -> anyhow::Result<LogExporter> {
        build_exporter!(self, LogExporter::builder(), config, observer, "log")
    }

    /// The runtime started for gRPC, if one was: it must outlive the
    /// exporters.
    pub(crate) fn into_runtime(self) -> Option<tokio::runtime::Runtime> {
        self.runtime
    }

    /// The current Tokio runtime, else one of our own (started once).
    fn handle(&mut self) -> anyhow::Result<tokio::runtime::Handle> {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            return Ok(handle);
        }
        if self.runtime.is_none() {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("wasmtrace-otlp")
                .enable_all()
                .build()
                .context("starting the OTLP export runtime")?;
            self.runtime = Some(rt);
        }
        Ok(self
            .runtime
            .as_ref()
            .expect("started above")
            .handle()
            .clone())
    }
}

/// gRPC metadata from validated headers.
fn metadata(headers: &[(String, String)]) -> anyhow::Result<MetadataMap> {
    let mut map = ::http::HeaderMap::new();
    for (k, v) in headers {
        map.insert(
            ::http::HeaderName::from_bytes(k.as_bytes())?,
            ::http::HeaderValue::from_str(v)?,
        );
    }
    Ok(MetadataMap::from_headers(map))
}
