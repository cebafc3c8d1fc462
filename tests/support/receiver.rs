//! An in-process OTLP receiver speaking real gRPC and real HTTP, in the
//! clear or over TLS (optionally requiring a client certificate): traces,
//! metrics (sums, gauges and histograms) and logs over both. Its HTTP answers can be
//! scripted (error statuses with `Retry-After`, partial successes) to test
//! an exporter's response handling.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prost::Message as _;
use tokio::sync::oneshot;
use tonic::codec::CompressionEncoding;

use crate::pki::TestPki;
use crate::span::ReceivedSpan;
use crate::tree::SpanTree;

/// How an export request reached the receiver (never `InMemory` here).
pub use wasmtrace::testkit::Transport;

/// Number of export requests received per transport.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportCounts {
    /// Requests over gRPC.
    pub grpc: usize,
    /// Requests over HTTP with protobuf bodies.
    pub http_protobuf: usize,
    /// Requests over HTTP with JSON bodies.
    pub http_json: usize,
}

impl TransportCounts {
    /// Requests over HTTP, either encoding.
    pub fn http(&self) -> usize {
        self.http_protobuf + self.http_json
    }

    /// All requests.
    pub fn total(&self) -> usize {
        self.grpc + self.http()
    }
}

/// One accepted export request.
#[derive(Clone, Debug)]
pub struct ReceivedRequest {
    /// How it arrived.
    pub transport: Transport,
    /// Request headers (gRPC metadata for gRPC), names lowercase; values that
    /// are not UTF-8 are left out.
    pub headers: BTreeMap<String, String>,
    /// Whether the body came gzip-compressed (HTTP: `Content-Encoding:
    /// gzip` and a body that starts with gzip's magic bytes and
    /// decompressed; gRPC: `grpc-encoding: gzip`, which tonic decompressed)
    /// and decoded.
    pub gzip: bool,
    /// Certificates the client presented over TLS (0 in the clear).
    pub client_certificates: usize,
    /// The decoded request.
    pub request: ExportTraceServiceRequest,
}

/// TLS for a receiver: the server certificate of `pki` on both ports, and,
/// with `require_client_cert`, only clients with a certificate `pki`'s CA
/// signed are let in.
#[derive(Clone, Debug)]
pub struct ReceiverTls {
    /// The certificates.
    pub pki: Arc<TestPki>,
    /// mTLS.
    pub require_client_cert: bool,
}

/// A scripted answer to the next OTLP/HTTP traces request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpReply {
    /// Answer `status` (with `Retry-After` when given) and drop the request.
    Status {
        /// The status code.
        status: u16,
        /// The `Retry-After` header.
        retry_after: Option<String>,
    },
    /// Take the request, and answer 200 with a partial success rejecting
    /// `rejected` items.
    PartialSuccess {
        /// `rejected_spans` (or data points).
        rejected: i64,
        /// `error_message`.
        message: String,
    },
}

/// One OTLP/HTTP request as it arrived, whatever the answer was.
#[derive(Clone, Debug)]
pub struct HttpAttempt {
    /// The path posted to.
    pub path: String,
    /// The status answered.
    pub status: u16,
    /// When it arrived.
    pub at: Instant,
}

/// One data point of a sum, gauge or histogram metric received over OTLP.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedMetricPoint {
    /// Metric name.
    pub name: String,
    /// Metric unit (UCUM).
    pub unit: String,
    /// Instrumentation scope name.
    pub scope: String,
    /// Instrumentation scope version.
    pub scope_version: String,
    /// Instrumentation scope attributes.
    pub scope_attributes: BTreeMap<String, crate::AttrValue>,
    /// The `service.name` of the resource.
    pub service_name: String,
    /// Whether the metric is a monotonic sum (a counter).
    pub monotonic: bool,
    /// The point's attributes.
    pub attributes: BTreeMap<String, crate::AttrValue>,
    /// The value, as a float whether it was sent as int or double; for a
    /// histogram, its sum.
    pub value: f64,
    /// For a histogram, its count (and its bucket counts).
    pub histogram: Option<(u64, Vec<u64>)>,
    /// OTLP's aggregation temporality (1 delta, 2 cumulative; 0 for a
    /// gauge).
    pub temporality: i32,
    /// Whether the value was sent as an int.
    pub is_int: bool,
    /// The point's time, unix nanoseconds.
    pub time_unix_nano: u64,
}

/// One log record received over OTLP.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedLog {
    /// Trace id, lowercase hex (empty when none).
    pub trace_id: String,
    /// Span id, lowercase hex (empty when none).
    pub span_id: String,
    /// OTLP severity number (0: unspecified).
    pub severity_number: i32,
    /// Severity text.
    pub severity_text: String,
    /// The body, rendered (strings unquoted).
    pub body: String,
    /// The event name.
    pub event_name: String,
    /// Attributes.
    pub attributes: BTreeMap<String, crate::AttrValue>,
    /// Instrumentation scope name and version.
    pub scope: (String, String),
    /// The `service.name` of the resource.
    pub service_name: String,
    /// Time and observed time, unix nanoseconds.
    pub times: (u64, u64),
}

impl ReceivedLog {
    /// The attribute `key`, if present.
    pub fn attr(&self, key: &str) -> Option<&crate::AttrValue> {
        self.attributes.get(key)
    }
}

#[derive(Default)]
struct Store {
    requests: Vec<ReceivedRequest>,
    spans: Vec<ReceivedSpan>,
    metrics: Vec<ReceivedMetricPoint>,
    logs: Vec<ReceivedLog>,
    errors: Vec<String>,
    script: VecDeque<HttpReply>,
    attempts: Vec<HttpAttempt>,
}

#[derive(Default)]
struct Shared {
    store: Mutex<Store>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store inconsistent
        // (pushes only), so a poisoned lock is still usable.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits, woken on every arrival, until `done` holds or `timeout` passes;
    /// returns the store and whether `done` held.
    fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&Store) -> bool,
    ) -> (MutexGuard<'_, Store>, bool) {
        let deadline = Instant::now() + timeout;
        let mut store = self.lock();
        loop {
            if done(&store) {
                return (store, true);
            }
            let now = Instant::now();
            if now >= deadline {
                return (store, false);
            }
            store = self
                .changed
                .wait_timeout(store, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn record(&self, received: ReceivedRequest) {
        let spans = ReceivedSpan::flatten(&received.request, received.transport);
        let mut store = self.lock();
        store.spans.extend(spans);
        store.requests.push(received);
        drop(store);
        self.changed.notify_all();
    }

    fn record_metrics(&self, request: &ExportMetricsServiceRequest) {
        let mut points = Vec::new();
        for rm in &request.resource_metrics {
            let service_name = service_name(rm.resource.as_ref());
            for sm in &rm.scope_metrics {
                let (scope, scope_version, scope_attributes) = sm
                    .scope
                    .as_ref()
                    .map(|s| {
                        (
                            s.name.clone(),
                            s.version.clone(),
                            crate::span::attributes(&s.attributes),
                        )
                    })
                    .unwrap_or_default();
                for m in &sm.metrics {
                    let temporality = match &m.data {
                        Some(metric::Data::Sum(sum)) => sum.aggregation_temporality,
                        Some(metric::Data::Histogram(h)) => h.aggregation_temporality,
                        _ => 0,
                    };
                    let point = |monotonic, attributes, value, is_int, histogram, time| {
                        ReceivedMetricPoint {
                            name: m.name.clone(),
                            unit: m.unit.clone(),
                            scope: scope.clone(),
                            scope_version: scope_version.clone(),
                            scope_attributes: scope_attributes.clone(),
                            service_name: service_name.clone(),
                            monotonic,
                            attributes: crate::span::attributes(attributes),
                            value,
                            histogram,
                            temporality,
                            is_int,
                            time_unix_nano: time,
                        }
                    };
                    let (data_points, monotonic) = match &m.data {
                        Some(metric::Data::Sum(sum)) => (&sum.data_points, sum.is_monotonic),
                        Some(metric::Data::Gauge(g)) => (&g.data_points, false),
                        Some(metric::Data::Histogram(h)) => {
                            for p in &h.data_points {
                                points.push(point(
                                    false,
                                    &p.attributes,
                                    p.sum.unwrap_or_default(),
                                    false,
                                    Some((p.count, p.bucket_counts.clone())),
                                    p.time_unix_nano,
                                ));
                            }
                            continue;
                        }
                        _ => continue,
                    };
                    for p in data_points {
                        let (value, is_int) = match p.value {
                            Some(number_data_point::Value::AsInt(i)) => (i as f64, true),
                            Some(number_data_point::Value::AsDouble(d)) => (d, false),
                            None => continue,
                        };
                        points.push(point(
                            monotonic,
                            &p.attributes,
                            value,
                            is_int,
                            None,
                            p.time_unix_nano,
                        ));
                    }
                }
            }
        }
        self.lock().metrics.extend(points);
        self.changed.notify_all();
    }

    fn record_logs(&self, request: &ExportLogsServiceRequest) {
        let mut logs = Vec::new();
        for rl in &request.resource_logs {
            let service_name = service_name(rl.resource.as_ref());
            for sl in &rl.scope_logs {
                let scope = sl
                    .scope
                    .as_ref()
                    .map(|s| (s.name.clone(), s.version.clone()))
                    .unwrap_or_default();
                for l in &sl.log_records {
                    let body = match l.body.as_ref().and_then(|b| b.value.as_ref()) {
                        Some(
                            opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                                s,
                            ),
                        ) => s.clone(),
                        Some(other) => format!("{other:?}"),
                        None => String::new(),
                    };
                    logs.push(ReceivedLog {
                        trace_id: hex::encode(&l.trace_id),
                        span_id: hex::encode(&l.span_id),
                        severity_number: l.severity_number,
                        severity_text: l.severity_text.clone(),
                        body,
                        event_name: l.event_name.clone(),
                        attributes: crate::span::attributes(&l.attributes),
                        scope: scope.clone(),
                        service_name: service_name.clone(),
                        times: (l.time_unix_nano, l.observed_time_unix_nano),
                    });
                }
            }
        }
        self.lock().logs.extend(logs);
        self.changed.notify_all();
    }

    fn reject(&self, error: String) {
        self.lock().errors.push(error);
        self.changed.notify_all();
    }
}

/// An OTLP trace receiver on 127.0.0.1, serving OTLP/gRPC on one ephemeral
/// port and OTLP/HTTP (`POST /v1/traces`, protobuf or JSON, optionally gzip)
/// on another.
///
/// It runs on a tokio runtime in a thread of its own, so tests can be plain
/// synchronous `#[test]` functions. Every accepted request is stored; dropping
/// the receiver stops both servers and joins the thread.
pub struct OtlpReceiver {
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for OtlpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpReceiver")
            .field("grpc", &self.grpc_addr)
            .field("http", &self.http_addr)
            .finish_non_exhaustive()
    }
}

impl OtlpReceiver {
    /// Binds both ports and starts serving; returns once both listen.
    pub fn start() -> anyhow::Result<Self> {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self::start_on(any, any)
    }

    /// Like [`OtlpReceiver::start`] on given addresses: restarts a receiver
    /// where a stopped one was, for collector-restart tests.
    pub fn start_on(grpc_addr: SocketAddr, http_addr: SocketAddr) -> anyhow::Result<Self> {
        Self::start_with(grpc_addr, http_addr, None)
    }

    /// Like [`OtlpReceiver::start`], over TLS on both ports: its endpoints
    /// are `https://127.0.0.1:PORT`.
    pub fn start_tls(tls: ReceiverTls) -> anyhow::Result<Self> {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self::start_with(any, any, Some(tls))
    }

    fn start_with(
        grpc_addr: SocketAddr,
        http_addr: SocketAddr,
        tls: Option<ReceiverTls>,
    ) -> anyhow::Result<Self> {
        wasmtrace::telemetry::install_crypto_provider();
        let is_tls = tls.is_some();
        let grpc = std::net::TcpListener::bind(grpc_addr).context("binding the gRPC port")?;
        let http = std::net::TcpListener::bind(http_addr).context("binding the HTTP port")?;
        grpc.set_nonblocking(true)?;
        http.set_nonblocking(true)?;
        let grpc_addr = grpc.local_addr()?;
        let http_addr = http.local_addr()?;

        let shared = Arc::new(Shared::default());
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let (ready_tx, ready_rx) = mpsc::channel::<anyhow::Result<()>>();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow::Error::new(e).context("tokio runtime")));
                        return;
                    }
                };
                runtime.block_on(serve(thread_shared, grpc, http, tls, ready_tx, shutdown_rx));
                // Dropping the runtime cancels every connection task.
            })
            .context("spawning the receiver thread")?;

        let receiver = OtlpReceiver {
            grpc_addr,
            http_addr,
            tls: is_tls,
            shared,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        };
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(receiver),
            Ok(Err(e)) => Err(e.context("starting the OTLP receiver")),
            Err(_) => bail!("the OTLP receiver thread did not start"),
        }
    }

    fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    /// The gRPC endpoint, `http://127.0.0.1:PORT` (`https` over TLS).
    pub fn grpc_endpoint(&self) -> String {
        format!("{}://{}", self.scheme(), self.grpc_addr)
    }

    /// The HTTP base endpoint, `http://127.0.0.1:PORT` (`https` over TLS;
    /// traces are posted to `/v1/traces` under it, metrics to
    /// `/v1/metrics`).
    pub fn http_endpoint(&self) -> String {
        format!("{}://{}", self.scheme(), self.http_addr)
    }

    /// The full HTTP traces URL, `http://127.0.0.1:PORT/v1/traces`.
    pub fn http_traces_url(&self) -> String {
        format!("{}/v1/traces", self.http_endpoint())
    }

    /// Answers the next OTLP/HTTP traces requests with `replies`, in order;
    /// then as usual (200, everything taken).
    pub fn script_http(&self, replies: impl IntoIterator<Item = HttpReply>) {
        self.shared.lock().script.extend(replies);
    }

    /// Every OTLP/HTTP request so far, answered or refused, in arrival
    /// order.
    pub fn http_attempts(&self) -> Vec<HttpAttempt> {
        self.shared.lock().attempts.clone()
    }

    /// Address of the gRPC listener.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Address of the HTTP listener.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Standard `OTEL_EXPORTER_OTLP_*` variables pointing an exporter at this
    /// receiver with `protocol` (set them on a subprocess).
    pub fn exporter_env(&self, protocol: Transport) -> Vec<(&'static str, String)> {
        let (proto, endpoint) = match protocol {
            Transport::Grpc => ("grpc", self.grpc_endpoint()),
            Transport::HttpProtobuf => ("http/protobuf", self.http_endpoint()),
            Transport::HttpJson => ("http/json", self.http_endpoint()),
            Transport::InMemory => panic!("exporter_env needs an OTLP transport"),
        };
        vec![
            ("OTEL_EXPORTER_OTLP_PROTOCOL", proto.to_string()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ]
    }

    /// Every span received so far, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.shared.lock().spans.clone()
    }

    /// Every sum and gauge data point received so far (OTLP/gRPC metrics),
    /// in arrival order.
    pub fn metric_points(&self) -> Vec<ReceivedMetricPoint> {
        self.shared.lock().metrics.clone()
    }

    /// Waits until the metric points received so far satisfy `pred`.
    pub fn wait_for_metrics(
        &self,
        pred: impl Fn(&[ReceivedMetricPoint]) -> bool,
        timeout: Duration,
    ) -> anyhow::Result<Vec<ReceivedMetricPoint>> {
        let (store, done) = self
            .shared
            .wait_until(timeout, |store| pred(&store.metrics));
        if !done {
            let names: std::collections::BTreeSet<&str> =
                store.metrics.iter().map(|p| p.name.as_str()).collect();
            bail!("timed out after {timeout:?} waiting for metrics; received {names:?}");
        }
        Ok(store.metrics.clone())
    }

    /// Every log record received so far.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        self.shared.lock().logs.clone()
    }

    /// Waits until the log records received so far satisfy `pred`.
    pub fn wait_for_logs(
        &self,
        pred: impl Fn(&[ReceivedLog]) -> bool,
        timeout: Duration,
    ) -> anyhow::Result<Vec<ReceivedLog>> {
        let (store, done) = self.shared.wait_until(timeout, |store| pred(&store.logs));
        if !done {
            bail!(
                "timed out after {timeout:?} waiting for log records; received {:?}",
                store.logs
            );
        }
        Ok(store.logs.clone())
    }

    /// Every accepted request so far, in arrival order.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Accepted requests per transport.
    pub fn requests_by_transport(&self) -> TransportCounts {
        let store = self.shared.lock();
        let mut counts = TransportCounts::default();
        for r in &store.requests {
            match r.transport {
                Transport::Grpc => counts.grpc += 1,
                Transport::HttpProtobuf => counts.http_protobuf += 1,
                Transport::HttpJson => counts.http_json += 1,
                // Never recorded: this receiver only takes OTLP.
                Transport::InMemory => {}
            }
        }
        counts
    }

    /// Descriptions of requests that were refused (undecodable body, wrong
    /// content type, ...). A correct exporter produces none.
    pub fn errors(&self) -> Vec<String> {
        self.shared.lock().errors.clone()
    }

    /// Forgets every request, span and error received so far.
    pub fn clear(&self) {
        *self.shared.lock() = Store::default();
    }

    /// Waits until `pred` holds for the spans received so far (checked on
    /// every arrival) and returns them; fails after `timeout`, listing what
    /// did arrive.
    pub fn wait_for_spans(
        &self,
        pred: impl Fn(&[ReceivedSpan]) -> bool,
        timeout: Duration,
    ) -> anyhow::Result<Vec<ReceivedSpan>> {
        let (store, done) = self.shared.wait_until(timeout, |store| pred(&store.spans));
        if done {
            return Ok(store.spans.clone());
        }
        let tree = SpanTree::new(&store.spans).render_redacted();
        let mut msg = format!(
            "timed out after {timeout:?} waiting for spans; {} span(s) in {} request(s) received",
            store.spans.len(),
            store.requests.len()
        );
        if !tree.is_empty() {
            msg.push_str(":\n");
            msg.push_str(&tree);
        }
        if !store.errors.is_empty() {
            msg.push_str(&format!("\nrejected requests: {:#?}", store.errors));
        }
        bail!(msg)
    }

    /// Waits until at least `n` spans have arrived.
    pub fn wait_for_span_count(
        &self,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<ReceivedSpan>> {
        self.wait_for_spans(|s| s.len() >= n, timeout)
    }

    /// Waits for a span named `name` and returns the first one.
    pub fn wait_for_span_named(
        &self,
        name: &str,
        timeout: Duration,
    ) -> anyhow::Result<ReceivedSpan> {
        let spans = self.wait_for_spans(|s| s.iter().any(|s| s.name == name), timeout)?;
        spans
            .into_iter()
            .find(|s| s.name == name)
            .context("span vanished")
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    shared: Arc<Shared>,
    grpc: std::net::TcpListener,
    http: std::net::TcpListener,
    tls: Option<ReceiverTls>,
    ready: mpsc::Sender<anyhow::Result<()>>,
    shutdown: oneshot::Receiver<()>,
) {
    let listeners = (|| {
        Ok::<_, std::io::Error>((
            tokio::net::TcpListener::from_std(grpc)?,
            tokio::net::TcpListener::from_std(http)?,
        ))
    })();
    let (grpc, http) = match listeners {
        Ok(l) => l,
        Err(e) => {
            let _ = ready.send(Err(
                anyhow::Error::new(e).context("registering the listeners")
            ));
            return;
        }
    };

    let service = TraceServiceServer::new(GrpcService {
        shared: shared.clone(),
    })
    .accept_compressed(CompressionEncoding::Gzip)
    .max_decoding_message_size(64 << 20);
    let metrics = MetricsServiceServer::new(GrpcService {
        shared: shared.clone(),
    })
    .accept_compressed(CompressionEncoding::Gzip);
    let logs = LogsServiceServer::new(GrpcService {
        shared: shared.clone(),
    })
    .accept_compressed(CompressionEncoding::Gzip);
    let mut builder = tonic::transport::Server::builder();
    let mut acceptor = None;
    if let Some(tls) = &tls {
        use tonic::transport::{Certificate, Identity, ServerTlsConfig};
        let mut config = ServerTlsConfig::new().identity(Identity::from_pem(
            &tls.pki.server_cert_pem,
            &tls.pki.server_key_pem,
        ));
        if tls.require_client_cert {
            config = config.client_ca_root(Certificate::from_pem(&tls.pki.ca_pem));
        }
        let configured = builder
            .tls_config(config)
            .map_err(anyhow::Error::new)
            .and_then(|b| Ok((b, tls.pki.server_config(tls.require_client_cert)?)));
        match configured {
            Ok((b, server_config)) => {
                builder = b;
                acceptor = Some(tokio_rustls::TlsAcceptor::from(server_config));
            }
            Err(e) => {
                let _ = ready.send(Err(e.context("configuring TLS")));
                return;
            }
        }
    }
    let grpc_shared = shared.clone();
    let grpc_task = tokio::spawn(async move {
        let incoming = tonic::transport::server::TcpIncoming::from(grpc);
        if let Err(e) = builder
            .add_service(metrics)
            .add_service(logs)
            .add_service(service)
            .serve_with_incoming(incoming)
            .await
        {
            grpc_shared.reject(format!("gRPC server stopped: {e}"));
        }
    });
    let http_task = tokio::spawn(serve_http(shared, http, acceptor));
    let _ = ready.send(Ok(()));

    let _ = shutdown.await;
    grpc_task.abort();
    http_task.abort();
}

struct GrpcService {
    shared: Arc<Shared>,
}

#[tonic::async_trait]
impl TraceService for GrpcService {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let headers = header_map(request.metadata().clone().into_headers());
        let client_certificates = request.peer_certs().map_or(0, |c| c.len());
        let gzip = headers.get("grpc-encoding").map(String::as_str) == Some("gzip");
        self.shared.record(ReceivedRequest {
            transport: Transport::Grpc,
            headers,
            gzip,
            client_certificates,
            request: request.into_inner(),
        });
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for GrpcService {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.shared.record_metrics(request.get_ref());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for GrpcService {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.shared.record_logs(request.get_ref());
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

/// A resource's `service.name` (empty when it has none).
fn service_name(resource: Option<&opentelemetry_proto::tonic::resource::v1::Resource>) -> String {
    resource
        .and_then(|r| {
            crate::span::attributes(&r.attributes)
                .get("service.name")
                .map(|v| v.to_string().trim_matches('"').to_owned())
        })
        .unwrap_or_default()
}

fn header_map(headers: http::HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect()
}

async fn serve_http(
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                shared.reject(format!("HTTP accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_connection(shared, stream, 0).await,
                Some(acceptor) => {
                    // A refused handshake (no client certificate under
                    // mTLS, a client that distrusts us) ends here.
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let certs = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .map_or(0, |c| c.len());
                    serve_connection(shared, stream, certs).await;
                }
            }
        });
    }
}

async fn serve_connection<S>(shared: Arc<Shared>, stream: S, client_certificates: usize)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(handle_http(&shared, req, client_certificates).await) }
    });
    let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .await;
}

fn plain(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(text)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    resp
}

async fn handle_http(
    shared: &Shared,
    req: Request<Incoming>,
    client_certificates: usize,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    // Scripts are for traces: a metrics flush must not eat them.
    let scripted = match path.as_str() {
        "/v1/traces" => shared.lock().script.pop_front(),
        _ => None,
    };
    let resp = match scripted {
        Some(HttpReply::Status {
            status,
            retry_after,
        }) => {
            let mut resp = plain(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                format!("scripted {status}"),
            );
            if let Some(after) = retry_after.and_then(|a| http::HeaderValue::from_str(&a).ok()) {
                resp.headers_mut().insert(http::header::RETRY_AFTER, after);
            }
            resp
        }
        partial => {
            let partial = match partial {
                Some(HttpReply::PartialSuccess { rejected, message }) => Some((rejected, message)),
                _ => None,
            };
            match handle_http_inner(shared, req, client_certificates, partial).await {
                Ok(resp) => resp,
                Err((status, msg)) => {
                    shared.reject(format!("HTTP {status}: {msg}"));
                    plain(status, msg)
                }
            }
        }
    };
    shared.lock().attempts.push(HttpAttempt {
        path,
        status: resp.status().as_u16(),
        at: Instant::now(),
    });
    shared.changed.notify_all();
    resp
}

async fn handle_http_inner(
    shared: &Shared,
    req: Request<Incoming>,
    client_certificates: usize,
    partial: Option<(i64, String)>,
) -> Result<Response<Full<Bytes>>, (StatusCode, String)> {
    let path = req.uri().path().to_owned();
    let signal = match path.as_str() {
        "/v1/traces" => HttpSignal::Traces,
        "/v1/metrics" => HttpSignal::Metrics,
        "/v1/logs" => HttpSignal::Logs,
        _ => {
            return Err((
                StatusCode::NOT_FOUND,
                format!(
                    "no such path {path} (traces go to /v1/traces, metrics to /v1/metrics, \
                     logs to /v1/logs)"
                ),
            ));
        }
    };
    if req.method() != http::Method::POST {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} {path}: only POST is accepted", req.method()),
        ));
    }
    let header = |name: http::header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default()
    };
    let content_type = header(http::header::CONTENT_TYPE);
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    let transport = match mime {
        "application/x-protobuf" | "application/protobuf" => Transport::HttpProtobuf,
        "application/json" => Transport::HttpJson,
        other => {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported content type {other:?}"),
            ));
        }
    };
    let encoding = header(http::header::CONTENT_ENCODING);
    let headers = header_map(req.headers().clone());

    let body = req
        .into_body()
        .collect()
        .await
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("reading the body: {e}")))?
        .to_bytes();
    let (body, gzip): (Vec<u8>, bool) = match encoding.as_str() {
        "" | "identity" => (body.to_vec(), false),
        "gzip" => {
            if !body.starts_with(&[0x1f, 0x8b]) {
                return Err((
                    StatusCode::BAD_REQUEST,
                    "Content-Encoding: gzip, but the body is not gzip".to_owned(),
                ));
            }
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut out)
                .map_err(|e| (StatusCode::BAD_REQUEST, format!("bad gzip body: {e}")))?;
            (out, true)
        }
        other => {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported content encoding {other:?}"),
            ));
        }
    };
    let json = transport == Transport::HttpJson;
    let bad = |e: String| {
        let what = if json { "OTLP/JSON" } else { "protobuf" };
        (StatusCode::BAD_REQUEST, format!("bad {what} body: {e}"))
    };
    let (rejected, message) = partial.unwrap_or_default();
    let response_body = if signal == HttpSignal::Metrics {
        let request: ExportMetricsServiceRequest = if json {
            serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?
        } else {
            ExportMetricsServiceRequest::decode(&body[..]).map_err(|e| bad(e.to_string()))?
        };
        shared.record_metrics(&request);
        response(json, "rejectedDataPoints", rejected, &message)
    } else if signal == HttpSignal::Logs {
        let request: ExportLogsServiceRequest = if json {
            serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?
        } else {
            ExportLogsServiceRequest::decode(&body[..]).map_err(|e| bad(e.to_string()))?
        };
        shared.record_logs(&request);
        response(json, "rejectedLogRecords", rejected, &message)
    } else {
        let request: ExportTraceServiceRequest = if json {
            serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?
        } else {
            ExportTraceServiceRequest::decode(&body[..]).map_err(|e| bad(e.to_string()))?
        };
        shared.record(ReceivedRequest {
            transport,
            headers,
            gzip,
            client_certificates,
            request,
        });
        response(json, "rejectedSpans", rejected, &message)
    };
    let mut resp = Response::new(Full::new(Bytes::from(response_body)));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(if json {
            "application/json"
        } else {
            "application/x-protobuf"
        }),
    );
    Ok(resp)
}

/// The signal of an OTLP/HTTP path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HttpSignal {
    Traces,
    Metrics,
    Logs,
}

/// An export response body, with a partial success when `rejected` or
/// `message` say so. The traces, metrics and logs responses share one
/// protobuf layout, so the traces type encodes them all.
fn response(json: bool, field: &str, rejected: i64, message: &str) -> Vec<u8> {
    let partial = rejected != 0 || !message.is_empty();
    if json {
        let body = if partial {
            serde_json::json!({ "partialSuccess": { field: rejected, "errorMessage": message } })
        } else {
            serde_json::json!({})
        };
        return body.to_string().into_bytes();
    }
    ExportTraceServiceResponse {
        partial_success: partial.then(|| ExportTracePartialSuccess {
            rejected_spans: rejected,
            error_message: message.to_owned(),
        }),
    }
    .encode_to_vec()
}
