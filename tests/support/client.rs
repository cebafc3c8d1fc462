//! Minimal OTLP exporters for tests: send a ready-made
//! `ExportTraceServiceRequest` over gRPC or HTTP, plus helpers to build one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;

use crate::span::AttrValue;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `request` over OTLP/gRPC to `endpoint` (`http://host:port`).
///
/// Must not be called from inside a tokio runtime (it runs its own).
pub fn export_grpc(
    endpoint: &str,
    request: ExportTraceServiceRequest,
) -> anyhow::Result<ExportTraceServiceResponse> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut client =
            tokio::time::timeout(TIMEOUT, TraceServiceClient::connect(endpoint.to_string()))
                .await
                .with_context(|| format!("connecting to {endpoint} timed out"))?
                .with_context(|| format!("connecting to {endpoint}"))?;
        let response = tokio::time::timeout(TIMEOUT, client.export(request))
            .await
            .with_context(|| format!("gRPC export to {endpoint} timed out"))?
            .with_context(|| format!("gRPC export to {endpoint}"))?;
        Ok(response.into_inner())
    })
}

fn http_client() -> anyhow::Result<reqwest::blocking::Client> {
    // reqwest is built without a crypto provider of its own (see host/Cargo.toml).
    wasmtrace::telemetry::install_crypto_provider();
    Ok(reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(TIMEOUT)
        .build()?)
}

fn traces_url(endpoint: &str) -> String {
    format!("{}/v1/traces", endpoint.trim_end_matches('/'))
}

/// POSTs an OTLP/HTTP body to `{endpoint}/v1/traces`; fails unless the
/// status is 200, and returns the response body.
fn post_traces(endpoint: &str, content_type: &str, body: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    let url = traces_url(endpoint);
    let response = http_client()?
        .post(&url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .with_context(|| format!("POST {url}"))?;
    let status = response.status();
    let body = response.bytes()?;
    if status != reqwest::StatusCode::OK {
        bail!("POST {url}: {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(body.to_vec())
}

/// Sends `request` as OTLP/HTTP protobuf to `{endpoint}/v1/traces` and
/// decodes the response; fails unless the status is 200.
pub fn export_http_protobuf(
    endpoint: &str,
    request: &ExportTraceServiceRequest,
) -> anyhow::Result<ExportTraceServiceResponse> {
    let body = post_traces(endpoint, "application/x-protobuf", request.encode_to_vec())?;
    ExportTraceServiceResponse::decode(&body[..]).context("decoding the export response")
}

/// Sends `request` as OTLP/HTTP JSON to `{endpoint}/v1/traces`; fails unless
/// the status is 200.
pub fn export_http_json(
    endpoint: &str,
    request: &ExportTraceServiceRequest,
) -> anyhow::Result<ExportTraceServiceResponse> {
    let body = post_traces(endpoint, "application/json", serde_json::to_vec(request)?)?;
    serde_json::from_slice(&body).context("decoding the export response")
}

/// An OTLP `KeyValue`: `kv("http.status_code", 200)`.
pub fn kv(key: &str, value: impl Into<AttrValue>) -> KeyValue {
    kv_pair(key, value.into())
}

fn kv_pair(key: &str, value: AttrValue) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(value.to_any_value()),
        ..Default::default()
    }
}

/// Current time in unix nanoseconds.
pub fn now_unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A span named `name` with the given ids, lasting one millisecond from now,
/// sampled, with no attributes. Fill in the rest with struct update syntax.
pub fn span(name: &str, trace_id: [u8; 16], span_id: [u8; 8], parent: Option<[u8; 8]>) -> Span {
    let start = now_unix_nanos();
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        parent_span_id: parent.map(|p| p.to_vec()).unwrap_or_default(),
        flags: 1,
        name: name.to_string(),
        kind: 1,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_000_000,
        ..Default::default()
    }
}

/// An export request carrying `spans` under one resource (with
/// `service.name = service_name`) and one scope named `scope_name`.
pub fn request(
    service_name: &str,
    scope_name: &str,
    spans: Vec<Span>,
) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service_name)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: scope_name.to_string(),
                    version: "0.0.0-test".to_string(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}
